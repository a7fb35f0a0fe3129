//! Students: the duplicate check, finding and reading them, and confirming them into the
//! database; registering and editing are in `write`. Every query is bounded by the caller's
//! scope; every change is audited and leaves field history.

mod write;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::*;
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::at_rest::{self};
use crate::db::schema::{classes, orgs, student_history, student_spells, students};
use crate::db::{DbConn, write_tx};
use crate::domain::codes;
use crate::domain::field_seal::KeyRing;
use crate::domain::id_card::IdCardNo;
use crate::domain::mask;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::status::{ON_ROLL_STATUSES, State};
use crate::domain::student::{Issue, Review, StudentRecord};
use crate::domain::student_no::StudentNo;
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::org::model::Org;

pub use write::{
    Arrival, NumberCounters, StoredRecord, add_point_history, apply_update, create, insert, insert_many, start_of,
    start_on, update,
};
pub(super) use write::{add_history, place_student};

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
    let key = HolderKey::of(&*at_rest::ring()?, record);
    Ok(Holders::load(conn, std::slice::from_ref(&key), except)?.find(key.as_ref()))
}

/// Records per duplicate-check query.
const CHUNK: usize = 400;

/// What a record is checked for duplicates by: the keyed hash of its own ID number (D1), or,
/// without one, its name and birth date with the keyed hash of the guardian's ID number (D3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(in crate::registry) enum HolderKey {
    Id(String),
    Guardian(String, NaiveDate, String),
}

impl HolderKey {
    /// The rule, given how to have the keyed hash of the record's own number and of its
    /// guardian's (made here, or already made when the record was sealed).
    pub(in crate::registry) fn new(
        r: &StudentRecord,
        id_hash: impl FnOnce(&str) -> Option<String>,
        guardian_hash: impl FnOnce(&str) -> Option<String>,
    ) -> Option<Self> {
        match r.own_id_no() {
            Some(id) => id_hash(&id).map(Self::Id),
            None => guardian_hash(r.guardian().1?).map(|g| Self::Guardian(r.name().to_owned(), r.birth_date(), g)),
        }
    }

    fn of(ring: &KeyRing, r: &StudentRecord) -> Option<Self> {
        let hash = |n: &str| Some(at_rest::id_index(ring, n));
        Self::new(r, hash, hash)
    }
}

/// The duplicate check (查重) for one record or a batch: a query per chunk of records rather
/// than one per record.
/// Numbers are compared by their keyed hashes (the numbers themselves are sealed).
pub(in crate::registry) struct Holders(HashMap<HolderKey, Duplicate>);

impl Holders {
    pub(in crate::registry) fn load(
        conn: &mut DbConn,
        keys: &[Option<HolderKey>],
        except: Option<i64>,
    ) -> AppResult<Self> {
        let mut found = HashMap::new();
        let ids: Vec<&str> = keys
            .iter()
            .filter_map(|k| match k {
                Some(HolderKey::Id(h)) => Some(h.as_str()),
                _ => None,
            })
            .collect();
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
                    found.entry(HolderKey::Id(id_no)).or_insert_with(|| Duplicate::same_id(of, &school, &name));
                }
            }
        }
        let guardians: Vec<&str> = keys
            .iter()
            .filter_map(|k| match k {
                Some(HolderKey::Guardian(_, _, g)) => Some(g.as_str()),
                _ => None,
            })
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
                    found
                        .entry(HolderKey::Guardian(name, birth, gid))
                        .or_insert_with(|| Duplicate::suspected(of, &school));
                }
            }
        }
        Ok(Self(found))
    }

    pub(in crate::registry) fn find(&self, key: Option<&HolderKey>) -> Option<Duplicate> {
        self.0.get(key?).cloned()
    }
}

// ---------------------------------------------------------------- reading

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct StudentFilter {
    /// Name (part), ID number or 学籍号.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub school: String,
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_number")]
    pub class_id: Option<i64>,
    /// 年级 1–9 (the class's grade).
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_number")]
    pub grade: Option<i32>,
    /// Where the student stands: at_school, suspended, in_transit, left, deceased, graduated.
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_one_of")]
    #[schemars(with = "Option<String>")]
    pub state: Option<State>,
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_one_of")]
    pub review: Option<Review>,
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_number")]
    pub page: Option<i64>,
}

pub const PAGE_SIZE: i64 = 50;

impl StudentFilter {
    /// The review filter as the list's links and hidden fields carry it ("" for all).
    pub fn review_key(&self) -> &'static str {
        self.review.map(Review::as_str).unwrap_or("")
    }

    pub fn state_key(&self) -> &'static str {
        self.state.map(State::as_str).unwrap_or("")
    }

    /// Whether the search term may travel in an address (a name; never an ID number or 学籍号).
    pub fn may_be_addressed(&self) -> bool {
        self.refuse_identifier_in_query().is_ok()
    }

    /// The filters as an address carries them (without the page), blanks left out.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let (class, grade) = (self.class_id.map(|c| c.to_string()), self.grade.map(|g| g.to_string()));
        crate::web::filled([
            ("q", self.q.as_str()),
            ("school", &self.school),
            ("class_id", class.as_deref().unwrap_or("")),
            ("grade", grade.as_deref().unwrap_or("")),
            ("state", self.state_key()),
            ("review", self.review_key()),
        ])
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

/// How many students in the caller's scope stand at `review` (the to-do's counts: one query,
/// no page of rows to open).
pub fn review_count(conn: &mut DbConn, caller: &Caller, review: Review) -> AppResult<i64> {
    caller.require(conn, Permission::ViewStudents, "count_students")?;
    Ok(students::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .filter(students::review.eq(review.as_str()))
        .count()
        .get_result(conn)?)
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
        if let Some(grade) = f.grade {
            q = q.filter(
                students::class_id
                    .eq_any(classes::table.filter(classes::grade.eq(grade)).select(classes::id).nullable()),
            );
        }
        if let Some(state) = f.state {
            q = q.filter(students::status.eq(state.student_status()));
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
        crate::ledger::entitlement::added_by_confirming(conn, &[id], caller.today())?.remove(&id).unwrap_or_default()
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
                    students::updated_at.eq(caller.now()),
                ))
                .execute(conn)?;
            add_history(conn, r.id, "student_no", Some(&r.student_no), Some(formal.as_str()), "县级确认入库", caller)?;
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
