//! Registering, editing, finding and confirming students. Every query is bounded by the caller's
//! scope; every change is audited and leaves field history.

use crate::clock::{now, today};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::*;
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::at_rest::{self, SealedStudent};
use crate::db::schema::{classes, orgs, student_history, student_no_counters, student_spells, students};
use crate::db::{DbConn, write_tx};
use crate::domain::codes;
use crate::domain::enrolment::{self, Start};
use crate::domain::field_seal::KeyRing;
use crate::domain::id_card::IdCardNo;
use crate::domain::mask;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::status::ON_ROLL_STATUSES;
use crate::domain::student::{Issue, Review, StudentRecord};
use crate::domain::student_no::StudentNo;
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::org::model::Org;

/// Record issues as field errors of the one error type.
pub fn issues_to_error(issues: Vec<Issue>) -> AppError {
    AppError::fields(
        issues
            .into_iter()
            .map(|i| FieldError { field: i.field.to_owned(), code: i.code, message: i.message })
            .collect(),
    )
}

/// The county-level code a school's students are numbered under: the last six-digit code on its
/// path (a county, or a prefecture without counties such as 东莞).
pub fn county_of(path: &str) -> String {
    path.trim_matches('/').split('/').rfind(|c| c.len() == 6 && *c != "000000").unwrap_or("000000").to_owned()
}

/// A copy of the record for the audit log, with ID and phone numbers masked.
pub(super) fn audit_copy(r: &StudentRecord) -> BTreeMap<String, String> {
    r.masked().values().clone()
}

fn school_in_scope(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    let org = crate::org::service::org_in_scope(conn, caller.scope(), code)?;
    if org.kind != OrgKind::School {
        return Err(AppError::not_found());
    }
    Ok(org)
}

fn class_by_no(conn: &mut DbConn, school_id: i64, class_no: &str) -> AppResult<(i64, String)> {
    classes::table
        .filter(classes::school_id.eq(school_id))
        .filter(classes::class_no.eq(class_no))
        .select((classes::id, classes::name))
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::field(
                "class_no",
                ErrorCode::StudentUnknownClass,
                format!("班号“{class_no}”在本校不存在，请先建立该班级"),
            )
        })
}

// ---------------------------------------------------------------- duplicate check (查重)

/// A duplicate rule that fired: the enrolled student it points at and the text for the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub of: i64,
    pub problem: String,
}

impl std::fmt::Display for Duplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problem)
    }
}

impl Duplicate {
    /// D1: the same ID number is held by an enrolled student.
    fn same_id(of: i64, school: &str, name: &str) -> Self {
        Self { of, problem: format!("D1 同一身份证件号已在“{school}”的在校学生“{name}”名下") }
    }

    /// D3: no ID of their own, but the same name, birth date and guardian ID (suspected).
    fn suspected(of: i64, school: &str) -> Self {
        Self {
            of, problem: format!("D3 疑似重复：“{school}”已有同名、同出生日期、同监护人身份证号的学生")
        }
    }
}

/// The first duplicate rule a record fires, as the problem for the county's queue. `except` is
/// the record's own row when it is already stored.
pub fn duplicate_problem(
    conn: &mut DbConn,
    record: &StudentRecord,
    except: Option<i64>,
) -> AppResult<Option<Duplicate>> {
    Ok(Holders::load(conn, &[record], except)?.find(record))
}

// ---------------------------------------------------------------- reading

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct StudentFilter {
    /// Name (part), ID number or 学籍号.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub school: String,
    #[serde(default)]
    pub class_id: Option<i64>,
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_one_of")]
    pub review: Option<Review>,
    #[serde(default)]
    pub page: Option<i64>,
}

pub const PAGE_SIZE: i64 = 50;

impl StudentFilter {
    /// The review filter as the list's links and hidden fields carry it ("" for all).
    pub fn review_key(&self) -> &'static str {
        self.review.map(Review::as_str).unwrap_or("")
    }

    /// A search for an ID number or 学籍号 (six digits or more in a row) travels in a POST body,
    /// never in an address that proxies and logs keep: refused when it came in a query string.
    pub fn refuse_identifier_in_query(&self) -> AppResult<()> {
        let mut run = 0;
        for c in crate::domain::id_card::normalise(&self.q).chars() {
            run = if c.is_ascii_digit() { run + 1 } else { 0 };
            if run >= 6 {
                return Err(AppError::field(
                    "q",
                    ErrorCode::StudentSearchByPost,
                    "按身份证件号或学籍号查询须通过查询表单（POST）提交，号码不得出现在网址中",
                ));
            }
        }
        Ok(())
    }
}

pub fn list(conn: &mut DbConn, caller: &Caller, f: &StudentFilter) -> AppResult<(Vec<StudentListItem>, i64)> {
    caller.require(conn, Permission::ViewStudents, "list_students")?;
    let base = if f.school.trim().is_empty() {
        caller.scope().like_pattern()
    } else {
        format!("{}%", school_in_scope(conn, caller, &f.school)?.path)
    };
    let term = f.q.trim().to_owned();
    let normalised = crate::domain::id_card::normalise(&term);
    let id_hash = at_rest::id_hash(&normalised)?;
    let no_hash = at_rest::student_no_hash(&normalised)?;
    let filtered = || {
        let mut q = students::table.inner_join(orgs::table).filter(orgs::path.like(base.clone())).into_boxed();
        if let Some(c) = f.class_id {
            q = q.filter(students::class_id.eq(c));
        }
        if let Some(review) = f.review {
            q = q.filter(students::review.eq(review.as_str()));
        }
        if !term.is_empty() {
            let pat = format!("%{}%", crate::audit::service::escape_like(&term));
            q = q.filter(
                students::name
                    .like(pat)
                    .or(students::id_no_hash.eq(id_hash.clone()))
                    .or(students::student_no_hash.eq(no_hash.clone())),
            );
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let page = f.page.unwrap_or(1).max(1);
    let rows: Vec<(StudentRow, String, String)> = filtered()
        .select((StudentRow::as_select(), orgs::code, orgs::name))
        .order((orgs::code.asc(), students::class_id.asc(), students::name.asc(), students::id.asc()))
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
        .load(conn)?;
    let class_ids: Vec<i64> = rows.iter().filter_map(|(r, _, _)| r.class_id).collect();
    let names: BTreeMap<i64, String> = classes::table
        .filter(classes::id.eq_any(&class_ids))
        .select((classes::id, classes::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let ids: Vec<i64> = rows.iter().map(|(r, _, _)| r.id).collect();
    let firsts = first_days(conn, &ids)?;
    Ok((
        rows.into_iter()
            .map(|(r, code, school)| {
                let class = r.class_id.and_then(|c| names.get(&c).cloned());
                let entered = crate::clock::local(r.created_at).date();
                let mut item =
                    StudentListItem::new(&r, code, school, class).starting(firsts.get(&r.id).copied(), entered);
                item.confirmable = may_confirm(caller, &r.name, r.review, r.problem.as_deref()).is_ok();
                item
            })
            .collect(),
        total,
    ))
}

/// What confirming a student adds (确认入库), for the county before it confirms: the first day,
/// the back-dating, and the money month by month (empty once confirmed).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ConfirmPreview {
    pub student_id: i64,
    pub review: Review,
    pub enrolled_on: Option<NaiveDate>,
    pub backdated_days: Option<i64>,
    pub months: Vec<crate::ledger::entitlement::AddedMonth>,
    pub total: crate::domain::money::Fen,
}

pub fn confirm_preview(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<ConfirmPreview> {
    caller.require(conn, Permission::ViewStudents, "confirm_preview")?;
    let (row, _) = student_in_scope(conn, caller, id)?;
    let first = first_days(conn, &[id])?.get(&id).copied();
    let item = StudentListItem::new(&row, String::new(), String::new(), None)
        .starting(first, crate::clock::local(row.created_at).date());
    let months = if row.review == Review::Pending {
        crate::ledger::entitlement::added_by_confirming(conn, &[id])?.remove(&id).unwrap_or_default()
    } else {
        Vec::new()
    };
    let total = crate::domain::money::Fen::new(months.iter().map(|m| m.amount.fen()).sum());
    Ok(ConfirmPreview {
        student_id: id,
        review: row.review,
        enrolled_on: item.enrolled_on,
        backdated_days: item.backdated_days,
        months,
        total,
    })
}

/// Each student's first day at school (the first spell of its timeline).
pub fn first_days(conn: &mut DbConn, ids: &[i64]) -> AppResult<BTreeMap<i64, NaiveDate>> {
    let mut out: BTreeMap<i64, NaiveDate> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, NaiveDate)> = student_spells::table
            .filter(student_spells::student_id.eq_any(chunk))
            .select((student_spells::student_id, student_spells::from_date))
            .load(conn)?;
        for (id, from) in rows {
            let e = out.entry(id).or_insert(from);
            *e = (*e).min(from);
        }
    }
    Ok(out)
}

/// A student in the caller's scope with its school; not found otherwise.
pub(super) fn student_in_scope(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(StudentRow, Org)> {
    students::table
        .inner_join(orgs::table)
        .filter(students::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((StudentRow::as_select(), Org::as_select()))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// A stored record as pages and the API show it: ID and phone numbers masked, for every
/// role. Seeing them in full is [`unmask`]: a permission, a reason and an audit row.
pub(super) fn visible_record(row: &StudentRow) -> StudentRecord {
    row.record().masked()
}

/// One student. ID and phone numbers are masked unless the caller may edit students.
pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<StudentView> {
    caller.require(conn, Permission::ViewStudents, "get_student")?;
    let (row, school) = student_in_scope(conn, caller, id)?;
    view_of(conn, caller, row, school, false)
}

/// The student with its ID numbers, 学籍号 and phones in full, for a caller who may see them
/// and says why; the audit row keeps who, when, which student and the reason.
pub fn unmask(conn: &mut DbConn, caller: &Caller, id: i64, reason: &str) -> AppResult<StudentView> {
    caller.require(conn, Permission::ViewStudents, "get_student")?;
    caller.require(conn, Permission::Unmask, "unmask_student")?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", ErrorCode::StudentUnmaskReason, "查看完整证件号码和电话须填写事由"));
    }
    if reason.chars().count() > 200 {
        return Err(AppError::field("reason", ErrorCode::StudentUnmaskReason, "事由不超过200字"));
    }
    let (row, school) = student_in_scope(conn, caller, id)?;
    audit::record_alone(
        conn,
        &caller.actor(),
        Entry::new("student.unmask", "student", row.id)
            .after(&serde_json::json!({"reason": reason, "student_no": mask::student_no(&row.student_no)})),
    )?;
    view_of(conn, caller, row, school, true)
}

fn view_of(conn: &mut DbConn, caller: &Caller, row: StudentRow, school: Org, full: bool) -> AppResult<StudentView> {
    let class_name = match row.class_id {
        Some(c) => classes::table.find(c).select(classes::name).first(conn).optional()?.unwrap_or_default(),
        None => String::new(),
    };
    let record = if full { row.record() } else { visible_record(&row) };
    let record =
        if caller.may(Permission::ViewSpecialCategories) { record } else { record.without_special_categories() };
    Ok(StudentView {
        id: row.id,
        student_no: if full { row.student_no } else { mask::student_no(&row.student_no) },
        unmasked: full,
        school_code: school.code,
        school_name: school.name,
        class_id: row.class_id,
        class_name,
        status: row.status,
        review_label: row.review.label(),
        review: row.review,
        problem: row.problem,
        version: row.version,
        record,
        updated_at: row.updated_at,
    })
}

pub fn history(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Vec<HistoryRow>> {
    let view = get(conn, caller, id)?;
    let rows: Vec<HistoryRow> = student_history::table
        .filter(student_history::student_id.eq(view.id))
        .select(HistoryRow::as_select())
        .order(student_history::id.desc())
        .load(conn)?;
    let special = caller.may(Permission::ViewSpecialCategories);
    Ok(rows.into_iter().map(|r| r.shown(special)).collect())
}

// ---------------------------------------------------------------- writing

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

    /// The keyed hash of the ID number the student is found by (none without one).
    pub fn id_no_hash(&self) -> Option<&str> {
        self.sealed.id_no_hash.as_deref()
    }
}

pub(super) fn add_history(
    conn: &mut DbConn,
    id: i64,
    field: &str,
    old: Option<&str>,
    new: Option<&str>,
    reason: &str,
    actor: &str,
) -> AppResult<()> {
    diesel::insert_into(student_history::table)
        .values((
            student_history::student_id.eq(id),
            student_history::field.eq(field),
            student_history::old_value.eq(at_rest::history_value(field, old)?),
            student_history::new_value.eq(at_rest::history_value(field, new)?),
            student_history::reason.eq(reason),
            student_history::actor.eq(actor),
            student_history::at.eq(now()),
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
    let record = StudentRecord::parse(raw, today()).map_err(issues_to_error)?;
    let start = start_of(raw, &record)?;
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
pub fn start_of(raw: &BTreeMap<String, String>, record: &StudentRecord) -> AppResult<Start> {
    let text = |k: &str| raw.get(k).map(|s| s.trim()).unwrap_or("");
    let given = match text("enrolled_on") {
        "" => None,
        s => Some(super::status::parse_day("enrolled_on", s)?),
    };
    start_on(given, record, text("backdate_reason"))
}

/// [`start_of`] for a day already read (an import row, a file's default).
pub fn start_on(given: Option<NaiveDate>, record: &StudentRecord, reason: &str) -> AppResult<Start> {
    let first = enrolment::entry_month_first(record.get("entry_ym"));
    enrolment::start(given, first, today(), crate::config::registry_rules().backdate_days, reason)
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
            now(),
        )?)
        .execute(conn)?;
    add_history(conn, id, "student_no", None, Some(no.as_str()), reason, &caller.username)?;
    super::timeline::enrol(conn, &[(id, school.id, Some(class_id), start.on)])?;
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

const CHUNK: usize = 400;

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

/// The duplicate check (查重) for one record or a batch: a query per chunk of records rather
/// than one per record.
/// Numbers are compared by their keyed hashes (the numbers themselves are sealed).
struct Holders {
    ring: std::sync::Arc<KeyRing>,
    by_id: HashMap<String, Duplicate>,
    by_guardian: HashMap<(String, NaiveDate, String), Duplicate>,
}

impl Holders {
    fn load(conn: &mut DbConn, records: &[&StudentRecord], except: Option<i64>) -> AppResult<Self> {
        let ring = at_rest::ring()?;
        let mut h = Self { ring: ring.clone(), by_id: HashMap::new(), by_guardian: HashMap::new() };
        let ids: Vec<String> =
            records.iter().filter_map(|r| r.own_id_no()).map(|c| at_rest::id_index(&ring, &c)).collect();
        for chunk in ids.chunks(CHUNK) {
            let hits: Vec<(i64, Option<String>, String, String)> = students::table
                .inner_join(orgs::table)
                .filter(students::id_no_hash.eq_any(chunk))
                .filter(students::status.eq_any(ON_ROLL_STATUSES))
                .filter(students::id.ne(except.unwrap_or(0))) // ids start at 1: 0 excludes nothing
                .select((students::id, students::id_no_hash, orgs::name, students::name))
                .load(conn)?;
            for (of, id_no, school, name) in hits {
                if let Some(id_no) = id_no {
                    h.by_id.entry(id_no).or_insert_with(|| Duplicate::same_id(of, &school, &name));
                }
            }
        }
        let guardians: Vec<String> = records
            .iter()
            .filter(|r| r.own_id_no().is_none())
            .filter_map(|r| r.guardian().1)
            .map(|g| at_rest::id_index(&ring, g))
            .collect();
        for chunk in guardians.chunks(CHUNK) {
            let hits: Vec<(i64, Option<String>, String, String, NaiveDate)> = students::table
                .inner_join(orgs::table)
                .filter(students::guardian_id_no_hash.eq_any(chunk))
                .filter(students::status.eq_any(ON_ROLL_STATUSES))
                .filter(students::id.ne(except.unwrap_or(0)))
                .select((students::id, students::guardian_id_no_hash, orgs::name, students::name, students::birth_date))
                .load(conn)?;
            for (of, gid, school, name, birth) in hits {
                if let Some(gid) = gid {
                    h.by_guardian.entry((name, birth, gid)).or_insert_with(|| Duplicate::suspected(of, &school));
                }
            }
        }
        Ok(h)
    }

    fn find(&self, r: &StudentRecord) -> Option<Duplicate> {
        match r.own_id_no() {
            Some(id) => self.by_id.get(&at_rest::id_index(&self.ring, &id)).cloned(),
            None => {
                let gid = at_rest::id_index(&self.ring, r.guardian().1?);
                self.by_guardian.get(&(r.name().to_owned(), r.birth_date(), gid)).cloned()
            }
        }
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
    let records: Vec<&StudentRecord> = rows.iter().map(|a| &a.record).collect();
    let holders = Holders::load(conn, &records, None)?;
    let ids = reserve_student_ids(conn, rows.len())?;
    let t = now();
    // Grown as they fill, not sized from the batch: its length comes from an uploaded file.
    let (mut batch, mut spells, mut history) = (Vec::new(), Vec::new(), Vec::new());
    for (a, id) in rows.into_iter().zip(ids) {
        let school = &schools[a.school];
        let county = county_of(&school.path);
        let no = counters.next(conn, &county, a.record.birth_date())?;
        let duplicate = holders.find(&a.record);
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
    super::timeline::enrol(conn, &spells)?;
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
    let record = StudentRecord::parse(&raw, today()).map_err(issues_to_error)?;
    let school_path: String = orgs::table.find(row.school_id).select(orgs::path).first(conn)?;
    super::changes::ensure_unlocked(conn, &row, &school_path, &record)?;
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
            add_history(conn, row.id, k, old.map(String::as_str), new.map(String::as_str), reason, &caller.username)?;
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
            students::updated_at.eq(now()),
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
        let spells = super::timeline::load(conn, row.id)?;
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
pub(super) fn place_student(
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
            students::updated_at.eq(now()),
        ))
        .execute(conn)?;
    add_history(conn, row.id, "class_no", Some(&old), Some(&class_no), why, &caller.username)
}

/// Confirming into the database: the county that confirms students, for a pending record (a
/// problem record is resolved first). The student's page and the list offer it on this rule.
pub fn may_confirm(caller: &Caller, name: &str, review: Review, problem: Option<&str>) -> AppResult<()> {
    if !caller.may(Permission::ConfirmStudents) {
        return Err(AppError::forbidden());
    }
    match review {
        Review::Pending => Ok(()),
        Review::Problem => Err(AppError::conflict(
            ErrorCode::StudentProblemUnresolved,
            format!("“{name}”在问题学籍中（{}），须先处理", problem.unwrap_or_default()),
        )),
        Review::Confirmed => Err(AppError::conflict(ErrorCode::StudentConfirmed, format!("“{name}”已确认入库"))),
    }
}

/// What a caller may do with a student, from its page: each by the rule its service refuses on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StudentActions {
    /// 修改信息.
    pub edit: bool,
    /// 办理学籍异动: some kind of change is open to the caller.
    pub status_change: bool,
    /// 申请变更关键信息.
    pub change_request: bool,
    /// 确认入库.
    pub confirm: bool,
    /// 处理问题学籍.
    pub resolve: bool,
}

pub fn actions(
    conn: &mut DbConn,
    caller: &Caller,
    view: &StudentView,
    lock: Option<&crate::domain::key_lock::KeyLock>,
) -> AppResult<StudentActions> {
    let name = view.record.name();
    Ok(StudentActions {
        edit: caller.may(Permission::EditStudents),
        status_change: !super::status::kinds_open(conn, caller, view.id)?.is_empty(),
        change_request: super::changes::may_submit(caller, lock).is_ok(),
        confirm: may_confirm(caller, name, view.review, view.problem.as_deref()).is_ok(),
        resolve: super::problems::may_resolve(caller, view.review).is_ok(),
    })
}

/// County confirmation into the database (确认入库): pending students in scope become confirmed
/// and get their formal number (G + ID, or J without one). Problems must be resolved first.
pub fn confirm(conn: &mut DbConn, caller: &Caller, ids: &[i64]) -> AppResult<usize> {
    caller.require(conn, Permission::ConfirmStudents, "confirm_students")?;
    let rows: Vec<StudentRow> = students::table
        .inner_join(orgs::table)
        .filter(students::id.eq_any(ids))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select(StudentRow::as_select())
        .load(conn)?;
    if rows.len() != ids.len() {
        return Err(AppError::not_found());
    }
    // Confirmed ones are passed over; a problem one stops the batch.
    if let Some(p) = rows.iter().find(|r| r.review == Review::Problem) {
        may_confirm(caller, &p.name, p.review, p.problem.as_deref())?;
    }
    write_tx(conn, |conn| {
        let mut n = 0;
        for r in rows.iter().filter(|r| r.review == Review::Pending) {
            let formal = match (r.id_type.as_str(), r.id_no.as_deref().map(IdCardNo::parse)) {
                ("1", Some(Ok(id))) => StudentNo::formal(&id),
                _ => {
                    let seq = u16::try_from(r.id % 1000).unwrap_or(0);
                    StudentNo::formal_without_id(&r.county_code, r.birth_date, seq)
                }
            };
            let (sealed, hash) = at_rest::sealed_student_no(formal.as_str())?;
            let taken: i64 = students::table
                .filter(students::student_no_hash.eq(&hash))
                .filter(students::id.ne(r.id))
                .count()
                .get_result(conn)?;
            if taken > 0 {
                return Err(AppError::conflict(
                    ErrorCode::StudentNumberTaken,
                    format!(
                        "“{}”的正式学籍号{}已被占用，请在问题学籍中核查",
                        r.name,
                        mask::student_no(formal.as_str())
                    ),
                ));
            }
            diesel::update(students::table.find(r.id))
                .set((
                    students::review.eq(Review::Confirmed.as_str()),
                    students::student_no_sealed.eq(sealed),
                    students::student_no_hash.eq(hash),
                    students::updated_at.eq(now()),
                ))
                .execute(conn)?;
            add_history(
                conn,
                r.id,
                "student_no",
                Some(&r.student_no),
                Some(formal.as_str()),
                "县级确认入库",
                &caller.username,
            )?;
            audit::record(
                conn,
                &caller.actor(),
                Entry::new("student.confirm", "student", r.id)
                    .before(&serde_json::json!({"review": r.review, "student_no": mask::student_no(&r.student_no)}))
                    .after(
                        &serde_json::json!({"review": "confirmed", "student_no": mask::student_no(formal.as_str())}),
                    ),
            )?;
            n += 1;
        }
        // Confirmed children count from their first day: the computed months from then on are
        // computed again with them, in this transaction.
        let confirmed: Vec<i64> = rows.iter().filter(|r| r.review == Review::Pending).map(|r| r.id).collect();
        let spells: Vec<(i64, NaiveDate)> = student_spells::table
            .filter(student_spells::student_id.eq_any(&confirmed))
            .select((student_spells::school_id, student_spells::from_date))
            .load(conn)?;
        let mut earliest: BTreeMap<i64, NaiveDate> = BTreeMap::new();
        for (school, from) in spells {
            let e = earliest.entry(school).or_insert(from);
            *e = (*e).min(from);
        }
        for (school, from) in earliest {
            crate::ledger::entitlement::recompute_from(conn, caller, &[school], from, "student.confirm")?;
        }
        Ok(n)
    })
}

/// Counts by review state in scope, for dashboards.
pub fn review_counts(conn: &mut DbConn, caller: &Caller) -> AppResult<BTreeMap<String, i64>> {
    if !caller.may(Permission::ViewStudents) {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(String, i64)> = students::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .group_by(students::review)
        .select((students::review, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// The labels of a code field for dropdowns.
pub fn choices(table: &str) -> Vec<(String, String)> {
    codes::table(table).entries.iter().map(|e| (e.code.clone(), e.label.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn county_is_the_last_six_digit_code_on_the_path() {
        assert_eq!(county_of("/000000/520000/522300/522326/522326001/2152326001/"), "522326");
        assert_eq!(county_of("/000000/440000/441900/2144000001/"), "441900");
        assert_eq!(county_of("/000000/110000/110105/2111000001/"), "110105");
    }
}
