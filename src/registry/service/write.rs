//! Registering and editing students: one record or a whole import's, each change audited with
//! its field history, student numbers drawn from per-school counters.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::at_rest::{self, SealedStudent};
use crate::db::schema::{classes, orgs, student_history, student_no_counters, student_spells, students};
use crate::db::{DbConn, write_tx};
use crate::domain::enrolment::{self, Start};
use crate::domain::mask;
use crate::domain::role::Permission;
use crate::domain::student::{Review, StudentRecord};
use crate::domain::student_no::StudentNo;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::registry::model::*;

use super::{
    Duplicate, HolderKey, Holders, audit_copy, class_by_no, county_of, duplicate_problem, get, issues_to_error,
    school_in_scope, student_in_scope,
};

/// A record as the `students` table stores it: the plain columns, and the sealed ones with the
/// hashes beside them. Sealing needs no database, so the importer makes these on a thread of its
/// own while the rows before them are written.
pub struct StoredRecord {
    name: String,
    sex: String,
    birth_date: NaiveDate,
    id_type: String,
    attendance: String,
    yibu: bool,
    left_behind: String,
    migrant: bool,
    /// The ID numbers, the guardian's phone and the whole record, sealed, with their hashes.
    sealed: SealedStudent,
}

impl StoredRecord {
    pub fn of(r: &StudentRecord) -> AppResult<Self> {
        let (gp, gid) = r.guardian();
        let json = serde_json::to_string(r.values()).unwrap_or_default();
        Ok(Self {
            name: r.name().to_owned(),
            sex: r.get("sex").to_owned(),
            birth_date: r.birth_date(),
            id_type: r.get("id_type").to_owned(),
            attendance: r.get("attendance").to_owned(),
            yibu: r.is("yibu"),
            left_behind: r.get("left_behind").to_owned(),
            migrant: r.is("migrant"),
            sealed: SealedStudent::new(r.stored_id_no().as_deref(), gid, gp, &json)?,
        })
    }

    /// The record's duplicate-check key from the hashes made when it was sealed (its `id_no` is
    /// the own number where there is one, and the guardian's number is as given).
    pub(in crate::registry) fn holder_key(&self, r: &StudentRecord) -> Option<HolderKey> {
        HolderKey::new(r, |_| self.sealed.id_no_hash.clone(), |_| self.sealed.guardian_id_no_hash.clone())
    }

    /// The keyed hash of the ID number the student is found by (none without one).
    pub fn id_no_hash(&self) -> Option<&str> {
        self.sealed.id_no_hash.as_deref()
    }
}

pub(in crate::registry) fn add_history(
    conn: &mut DbConn,
    id: i64,
    field: &str,
    old: Option<&str>,
    new: Option<&str>,
    reason: &str,
    caller: &Caller,
) -> AppResult<()> {
    diesel::insert_into(student_history::table)
        .values((
            student_history::student_id.eq(id),
            student_history::field.eq(field),
            student_history::old_value.eq(at_rest::history_value(field, old)?),
            student_history::new_value.eq(at_rest::history_value(field, new)?),
            student_history::reason.eq(reason),
            student_history::actor.eq(&caller.username),
            student_history::at.eq(caller.now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Registers a student at a school (新生注册). Pending until the county confirms; a duplicate goes
/// to the county's problem queue with the rule that fired.
pub fn create(
    conn: &mut DbConn,
    caller: &Caller,
    school_code: &str,
    raw: &BTreeMap<String, String>,
) -> AppResult<StudentView> {
    let school = school_in_scope(conn, caller, school_code)?;
    caller.require(conn, Permission::EditStudents, "create_student")?;
    // The same form sent twice (back, then submit again) registers the child once.
    let key = raw.get("form_key").map(|k| k.trim()).filter(|k| !k.is_empty() && k.len() <= 64);
    let by_key = |conn: &mut DbConn, key: &str| -> AppResult<Option<i64>> {
        Ok(students::table.filter(students::form_key.eq(key)).select(students::id).first(conn).optional()?)
    };
    if let Some(k) = key
        && let Some(id) = by_key(conn, k)?
    {
        return get(conn, caller, id);
    }
    let record = StudentRecord::parse(raw, caller.today()).map_err(issues_to_error)?;
    let start = start_of(raw, &record, caller.today())?;
    let created = write_tx(conn, |conn| {
        let id = insert(conn, caller, &school, &record, &start, "新生注册")?;
        if let Some(k) = key {
            diesel::update(students::table.find(id)).set(students::form_key.eq(k)).execute(conn)?;
        }
        Ok(id)
    });
    let id = match (created, key) {
        // Two submissions racing: the first one won; answer with it.
        (Err(e), Some(k)) if e.code == ErrorCode::DbDuplicate => by_key(conn, k)?.ok_or(e)?,
        (r, _) => r?,
    };
    get(conn, caller, id)
}

/// The first day at school a registration asks for (`enrolled_on` and `backdate_reason`
/// beside the record's own fields; default the day of entry), by the rule of
/// `domain::enrolment`.
pub fn start_of(raw: &BTreeMap<String, String>, record: &StudentRecord, today: NaiveDate) -> AppResult<Start> {
    let text = |k: &str| raw.get(k).map(|s| s.trim()).unwrap_or("");
    let given = match text("enrolled_on") {
        "" => None,
        s => Some(crate::registry::status::parse_day("enrolled_on", s)?),
    };
    start_on(given, record, text("backdate_reason"), today)
}

/// [`start_of`] for a day already read (an import row, a file's default).
pub fn start_on(given: Option<NaiveDate>, record: &StudentRecord, reason: &str, today: NaiveDate) -> AppResult<Start> {
    let first = enrolment::entry_month_first(record.get("entry_ym"));
    enrolment::start(given, first, today, crate::config::registry_rules().backdate_days, reason)
        .map_err(|r| AppError::field(r.field, r.code, r.message))
}

/// What the audit keeps of a start: the day, and the back-dating with its reason.
fn start_audit(start: &Start) -> serde_json::Value {
    serde_json::json!({
        "enrolled_on": start.on,
        "backdated_days": start.backdated.as_ref().map(|b| b.days),
        "backdate_reason": start.backdated.as_ref().map(|b| b.reason.as_str()),
    })
}

/// Inserts a validated record (used by the form, the API and the importer). Call inside a transaction.
pub fn insert(
    conn: &mut DbConn,
    caller: &Caller,
    school: &Org,
    record: &StudentRecord,
    start: &Start,
    reason: &str,
) -> AppResult<i64> {
    let (class_id, _) = class_by_no(conn, school.id, record.get("class_no"))?;
    let county = county_of(&school.path);
    let problem = duplicate_problem(conn, record, None)?;
    let mut counters = NumberCounters::default();
    let no = counters.next(conn, &county, record.birth_date())?;
    counters.save(conn)?;
    let id = reserve_student_ids(conn, 1)?[0];
    diesel::insert_into(students::table)
        .values(NewStudent::new(
            id,
            school.id,
            Some(class_id),
            county,
            no.as_str(),
            StoredRecord::of(record)?,
            problem.clone(),
            caller.now(),
        )?)
        .execute(conn)?;
    add_history(conn, id, "student_no", None, Some(no.as_str()), reason, caller)?;
    crate::registry::timeline::enrol(conn, &[(id, school.id, Some(class_id), start.on)])?;
    audit::record(
        conn,
        &caller.actor(),
        Entry::new("student.create", "student", id).after(&serde_json::json!({
            "school": school.code, "student_no": mask::student_no(no.as_str()), "record": audit_copy(record),
            "problem": problem.as_ref().map(|d| &d.problem), "start": start_audit(start),
        })),
    )?;
    Ok(id)
}

// None is NULL, never DEFAULT: every row is then the same statement, which SQLite prepares once
// for a whole batch, and PostgreSQL can take the batch by COPY.
#[derive(Insertable)]
#[diesel(table_name = students, treat_none_as_default_value = false)]
struct NewStudent {
    id: i64,
    school_id: i64,
    class_id: Option<i64>,
    county_code: String,
    student_no_sealed: String,
    student_no_hash: String,
    name: String,
    sex: String,
    birth_date: NaiveDate,
    id_type: String,
    id_no_sealed: Option<String>,
    id_no_hash: Option<String>,
    attendance: String,
    yibu: bool,
    left_behind: String,
    migrant: bool,
    guardian_phone_sealed: Option<String>,
    guardian_phone_hash: Option<String>,
    guardian_id_no_sealed: Option<String>,
    guardian_id_no_hash: Option<String>,
    status: &'static str,
    review: &'static str,
    problem: Option<String>,
    record_sealed: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    duplicate_of: Option<i64>,
}

impl NewStudent {
    /// A new, enrolled student awaiting county confirmation (or in the problem queue).
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: i64,
        school_id: i64,
        class_id: Option<i64>,
        county_code: String,
        student_no: &str,
        c: StoredRecord,
        duplicate: Option<Duplicate>,
        t: NaiveDateTime,
    ) -> AppResult<Self> {
        let (student_no_sealed, hash) = at_rest::sealed_student_no(student_no)?;
        Ok(Self {
            id,
            school_id,
            class_id,
            county_code,
            student_no_sealed,
            student_no_hash: hash,
            name: c.name,
            sex: c.sex,
            birth_date: c.birth_date,
            id_type: c.id_type,
            id_no_sealed: c.sealed.id_no,
            id_no_hash: c.sealed.id_no_hash,
            attendance: c.attendance,
            yibu: c.yibu,
            left_behind: c.left_behind,
            migrant: c.migrant,
            guardian_phone_sealed: c.sealed.guardian_phone,
            guardian_phone_hash: c.sealed.guardian_phone_hash,
            guardian_id_no_sealed: c.sealed.guardian_id_no,
            guardian_id_no_hash: c.sealed.guardian_id_no_hash,
            status: "enrolled",
            review: if duplicate.is_some() { Review::Problem } else { Review::Pending }.as_str(),
            duplicate_of: duplicate.as_ref().map(|d| d.of),
            problem: duplicate.map(|d| d.problem),
            record_sealed: c.sealed.record,
            version: 1,
            created_at: t,
            updated_at: t,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = student_history, treat_none_as_default_value = false)]
struct NewHistory<'a> {
    student_id: i64,
    field: &'static str,
    old_value: Option<String>,
    new_value: Option<String>,
    reason: &'a str,
    actor: &'a str,
    at: NaiveDateTime,
}

/// The next free temporary number (L + county + birth date + 4 digits) per county and birth
/// date. The highest number handed out per prefix is kept in `student_no_counters` (the numbers
/// themselves are sealed, so they cannot be compared): each prefix is read once, by its key, and
/// counted on in memory, so an import asks the database once per birth date and a single
/// registration once. Highest-plus-one, not a count: confirming a student turns L numbers into
/// G numbers and leaves gaps that a count would hand out twice. [`NumberCounters::save`] writes
/// what was handed out, in the transaction that stores the numbers.
#[derive(Debug, Default)]
pub struct NumberCounters {
    next: HashMap<String, u16>,
    handed_out: BTreeSet<String>,
}

impl NumberCounters {
    pub fn next(&mut self, conn: &mut DbConn, county: &str, birth: NaiveDate) -> AppResult<StudentNo> {
        let prefix = StudentNo::temporary(county, birth, 1).as_str()[..15].to_owned();
        if !self.next.contains_key(&prefix) {
            let used: Option<i32> =
                student_no_counters::table.find(&prefix).select(student_no_counters::highest).first(conn).optional()?;
            let next = used.map_or(1, |u| u16::try_from(u).unwrap_or(u16::MAX).saturating_add(1));
            self.next.insert(prefix.clone(), next);
        }
        let n = self.next.entry(prefix.clone()).or_insert(1);
        let no = StudentNo::temporary(county, birth, *n);
        *n = n.wrapping_add(1);
        self.handed_out.insert(prefix);
        Ok(no)
    }

    /// Records the highest number handed out per prefix since the last save (never lowering
    /// what another writer recorded), a few hundred prefixes to a statement. Call in the
    /// transaction that stores the numbers.
    pub fn save(&mut self, conn: &mut DbConn) -> AppResult<()> {
        use crate::per_backend;
        use diesel::sql_types::{Integer, Text};
        let handed_out: Vec<String> = std::mem::take(&mut self.handed_out).into_iter().collect();
        for chunk in handed_out.chunks(500) {
            let rows: Vec<String> = (0..chunk.len()).map(|k| format!("(${}, ${})", 2 * k + 1, 2 * k + 2)).collect();
            let sql = format!(
                "INSERT INTO student_no_counters (prefix, highest) VALUES {} \
                 ON CONFLICT (prefix) DO UPDATE SET highest = excluded.highest \
                 WHERE excluded.highest > student_no_counters.highest",
                rows.join(", ")
            );
            per_backend!(&mut *conn, |c| {
                let mut q = diesel::sql_query(&sql).into_boxed();
                for prefix in chunk {
                    let highest = i32::from(self.next.get(prefix).copied().unwrap_or(1).wrapping_sub(1));
                    q = q.bind::<Text, _>(prefix.clone()).bind::<Integer, _>(highest);
                }
                q.execute(c)
            })?;
        }
        Ok(())
    }
}

/// One new student for [`insert_many`]: the school (by index in its `schools`), the record, the
/// first day, and the record as stored (sealed by the caller, off the database's thread).
pub struct Arrival {
    pub school: usize,
    pub record: StudentRecord,
    pub start: Start,
    pub stored: StoredRecord,
}

/// Inserts many validated records at once (the importer's path): batched inserts, the duplicate
/// check against other schools in bulk, temporary numbers from one counter per prefix. The caller
/// writes one audit row for the whole batch, and saves `counters` once after its last batch, in
/// the same transaction (each save rewrites every prefix it handed out; per batch, PostgreSQL
/// piled up a row version per prefix and batch). Call inside a transaction. Returns rows inserted.
pub fn insert_many(
    conn: &mut DbConn,
    caller: &Caller,
    schools: &[Org],
    rows: Vec<Arrival>,
    reason: &str,
    counters: &mut NumberCounters,
) -> AppResult<usize> {
    let mut class_ids: BTreeMap<(usize, String), i64> = BTreeMap::new();
    for i in rows.iter().map(|a| a.school).collect::<std::collections::BTreeSet<_>>() {
        let list: Vec<(i64, String)> = classes::table
            .filter(classes::school_id.eq(schools[i].id))
            .select((classes::id, classes::class_no))
            .load(conn)?;
        for (id, no) in list {
            class_ids.insert((i, no), id);
        }
    }
    // The keys come from the hashes made when each record was sealed, off this thread.
    let keys: Vec<Option<HolderKey>> = rows.iter().map(|a| a.stored.holder_key(&a.record)).collect();
    let holders = Holders::load(conn, &keys, None)?;
    let ids = reserve_student_ids(conn, rows.len())?;
    let t = caller.now();
    // Grown as they fill, not sized from the batch: its length comes from an uploaded file.
    let (mut batch, mut spells, mut history) = (Vec::new(), Vec::new(), Vec::new());
    for ((a, id), key) in rows.into_iter().zip(ids).zip(&keys) {
        let school = &schools[a.school];
        let county = county_of(&school.path);
        let no = counters.next(conn, &county, a.record.birth_date())?;
        let duplicate = holders.find(key.as_ref());
        let class_id = class_ids.get(&(a.school, a.record.get("class_no").to_owned())).copied();
        batch.push(NewStudent::new(id, school.id, class_id, county, no.as_str(), a.stored, duplicate, t)?);
        spells.push((id, school.id, class_id, a.start.on));
        history.push(NewHistory {
            student_id: id,
            field: "student_no",
            old_value: None,
            new_value: at_rest::history_value("student_no", Some(no.as_str()))?,
            reason,
            actor: &caller.username,
            at: t,
        });
    }
    crate::insert_bulk!(&mut *conn, students::table, &batch)?;
    crate::registry::timeline::enrol(conn, &spells)?;
    crate::insert_bulk!(&mut *conn, student_history::table, &history)?;
    Ok(batch.len())
}

/// Ids for `n` new students, taken before they are written (COPY returns none). PostgreSQL:
/// the identity's sequence. SQLite, inside the write transaction that holds its one write lock:
/// past both the highest id and AUTOINCREMENT's high-water mark, so the id of a student once
/// deleted is never handed out again.
fn reserve_student_ids(conn: &mut DbConn, n: usize) -> AppResult<Vec<i64>> {
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    match conn {
        #[cfg(feature = "postgres")]
        DbConn::Pg(c) => {
            let mut ids: Vec<i64> = diesel::sql_query(
                "SELECT nextval(pg_get_serial_sequence('students', 'id')) AS id FROM generate_series(1, $1)",
            )
            .bind::<BigInt, _>(n)
            .load::<Id>(c)?
            .into_iter()
            .map(|r| r.id)
            .collect();
            ids.sort_unstable();
            Ok(ids)
        }
        DbConn::Sqlite(c) => {
            let high: Id = diesel::sql_query(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'students'), 0), \
                 COALESCE((SELECT MAX(id) FROM students), 0)) AS id",
            )
            .get_result(c)?;
            Ok((1..=n).map(|k| high.id.saturating_add(k)).collect())
        }
    }
}

/// Changes a student's fields; each changed field gets a history row with the reason.
/// `expected_version` guards against two clerks overwriting each other.
pub fn update(
    conn: &mut DbConn,
    caller: &Caller,
    id: i64,
    raw: &BTreeMap<String, String>,
    reason: &str,
    expected_version: Option<i32>,
) -> AppResult<StudentView> {
    let (row, _) = student_in_scope(conn, caller, id)?;
    caller.require(conn, Permission::EditStudents, "update_student")?;
    // The form (and a GET-then-PUT client) shows masked numbers: sent back as shown, unchanged.
    let raw = StudentRecord::unmasked_from(&row.record(), raw);
    let record = StudentRecord::parse(&raw, caller.today()).map_err(issues_to_error)?;
    let school_path: String = orgs::table.find(row.school_id).select(orgs::path).first(conn)?;
    crate::registry::changes::ensure_unlocked(conn, &row, &school_path, &record, caller.today())?;
    write_tx(conn, |conn| apply_update(conn, caller, &row, &record, reason, expected_version))?;
    get(conn, caller, id)
}

/// Writes a validated record over a stored one. Returns whether anything changed. In a transaction.
pub fn apply_update(
    conn: &mut DbConn,
    caller: &Caller,
    row: &StudentRow,
    record: &StudentRecord,
    reason: &str,
    expected_version: Option<i32>,
) -> AppResult<bool> {
    if expected_version.is_some_and(|v| v != row.version) {
        return Err(AppError::conflict(ErrorCode::StudentStale, "该学生信息已被他人修改，请刷新后重新编辑"));
    }
    let before = row.record();
    if &before == record {
        return Ok(false);
    }
    let (class_id, _) = class_by_no(conn, row.school_id, record.get("class_no"))?;
    let duplicate = duplicate_problem(conn, record, Some(row.id))?;
    let review = match (&duplicate, row.review) {
        (Some(_), _) => Review::Problem,
        (None, Review::Problem) => Review::Pending,
        (None, other) => other,
    };
    let c = StoredRecord::of(record)?;
    let keys: std::collections::BTreeSet<&String> = before.values().keys().chain(record.values().keys()).collect();
    for k in keys {
        let (old, new) = (before.values().get(k), record.values().get(k));
        if old != new {
            add_history(conn, row.id, k, old.map(String::as_str), new.map(String::as_str), reason, caller)?;
        }
    }
    diesel::update(students::table.find(row.id))
        .set((
            students::class_id.eq(class_id),
            students::name.eq(&c.name),
            students::sex.eq(&c.sex),
            students::birth_date.eq(c.birth_date),
            students::id_type.eq(&c.id_type),
            students::id_no_sealed.eq(&c.sealed.id_no),
            students::id_no_hash.eq(&c.sealed.id_no_hash),
            students::attendance.eq(&c.attendance),
            students::yibu.eq(c.yibu),
            students::left_behind.eq(&c.left_behind),
            students::migrant.eq(c.migrant),
            students::guardian_phone_sealed.eq(&c.sealed.guardian_phone),
            students::guardian_phone_hash.eq(&c.sealed.guardian_phone_hash),
            students::guardian_id_no_sealed.eq(&c.sealed.guardian_id_no),
            students::guardian_id_no_hash.eq(&c.sealed.guardian_id_no_hash),
            students::review.eq(review.as_str()),
            students::problem.eq(duplicate.as_ref().map(|d| &d.problem)),
            students::duplicate_of.eq(duplicate.as_ref().map(|d| d.of)),
            students::record_sealed.eq(&c.sealed.record),
            students::version.eq(row.version + 1),
            students::updated_at.eq(caller.now()),
        ))
        .execute(conn)?;
    if row.class_id != Some(class_id) {
        // A correction of the class, not a change on a date: the current spell follows it.
        diesel::update(
            student_spells::table
                .filter(student_spells::student_id.eq(row.id))
                .filter(student_spells::to_date.is_null())
                .filter(student_spells::school_id.eq(row.school_id)),
        )
        .set(student_spells::class_id.eq(class_id))
        .execute(conn)?;
    }
    // What the child is paid depends on the class (its grade) and on being confirmed: a
    // correction of either moves the computed months, from the current spell (the class) or
    // the first day (the review).
    let counted = |review: Review| review == Review::Confirmed;
    if row.class_id != Some(class_id) || counted(row.review) != counted(review) {
        let spells = crate::registry::timeline::load(conn, row.id)?;
        let from = if counted(row.review) != counted(review) { spells.first() } else { spells.last() };
        if let Some(from) = from.map(|s| s.from_date) {
            crate::ledger::entitlement::recompute_from(conn, caller, &[row.school_id], from, "student.update")?;
        }
    }
    audit::record(
        conn,
        &caller.actor(),
        Entry::new("student.update", "student", row.id)
            .before(&audit_copy(&before))
            .after(&serde_json::json!({"record": audit_copy(record), "reason": reason,
                "problem": duplicate.as_ref().map(|d| &d.problem)})),
    )?;
    Ok(true)
}

/// Puts a student at a school and in a class: the columns, the record's class number, its version,
/// and field history for the class. `school` is (school id, county code). The timeline is the
/// caller's (it knows from which day).
pub(in crate::registry) fn place_student(
    conn: &mut DbConn,
    caller: &Caller,
    row: &StudentRow,
    school: (i64, &str),
    class_id: Option<i64>,
    why: &str,
) -> AppResult<()> {
    let class_no: String = match class_id {
        Some(c) => classes::table.find(c).select(classes::class_no).first(conn)?,
        None => String::new(),
    };
    let mut values = row.record().values().clone();
    let old = values.insert("class_no".into(), class_no.clone()).unwrap_or_default();
    diesel::update(students::table.find(row.id))
        .set((
            students::school_id.eq(school.0),
            students::county_code.eq(school.1),
            students::class_id.eq(class_id),
            students::record_sealed
                .eq(at_rest::seal::<at_rest::Record>(&serde_json::to_string(&values).unwrap_or_default())?),
            students::version.eq(row.version + 1),
            students::updated_at.eq(caller.now()),
        ))
        .execute(conn)?;
    add_history(conn, row.id, "class_no", Some(&old), Some(&class_no), why, caller)
}

/// Writes a collection point's field history for a child as it happened there (who, when, why),
/// each row's actor named with the point, so the network's history shows the work done offline.
pub fn add_point_history(
    conn: &mut DbConn,
    id: i64,
    point: &str,
    changes: &[crate::domain::collect::FieldChange],
) -> AppResult<()> {
    for c in changes {
        let at = chrono::DateTime::parse_from_rfc3339(&c.at).map(|t| t.naive_utc()).unwrap_or_default();
        diesel::insert_into(student_history::table)
            .values((
                student_history::student_id.eq(id),
                student_history::field.eq(&c.field),
                student_history::old_value.eq(at_rest::history_value(&c.field, c.old.as_deref())?),
                student_history::new_value.eq(at_rest::history_value(&c.field, c.new.as_deref())?),
                student_history::reason.eq(format!("【采集点{point}】{}", c.reason)),
                student_history::actor.eq(format!("{point}/{}", c.actor)),
                student_history::at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}
