//! The key-information lock and the change requests that go through it (SPEC §4): the lock date
//! per school year, a request with reason and evidence, school review, county approval with the
//! duplicate check, and the change applied (with field history) only at the end of the chain.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::model::StudentRow;
use super::service::{self as registry, duplicate_problem, issues_to_error, student_in_scope};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{change_requests, key_locks, orgs, students};
use crate::db::{DbConn, write_tx};
use crate::domain::document::DocKind;
use crate::domain::key_lock::{self, KeyLock, LockSetting, RequestStatus};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::student::{self, Review, StudentRecord};
use crate::domain::text;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::exchange::document;
use crate::org::model::{Org, ancestor_paths};

/// Evidence larger than this is refused (a phone photo of a household register fits easily).
pub const MAX_EVIDENCE: usize = 5 * 1024 * 1024;

// ---------------------------------------------------------------- the lock

/// Extra locked fields as stored: keys joined by commas.
fn stored_fields(text: &str) -> Vec<String> {
    text.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The lock that holds for a school (by its org path) in the school year of `day`.
pub fn lock_for(conn: &mut DbConn, school_path: &str, day: NaiveDate) -> AppResult<Option<KeyLock>> {
    let rows: Vec<(NaiveDate, String)> = key_locks::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(school_path)))
        .filter(key_locks::school_year.eq(key_lock::school_year_of(day)))
        .select((key_locks::lock_date, key_locks::extra_fields))
        .load(conn)?;
    let settings: Vec<LockSetting> = rows
        .into_iter()
        .map(|(lock_date, extra)| LockSetting { lock_date, extra_fields: stored_fields(&extra) })
        .collect();
    Ok(KeyLock::combine(&settings))
}

/// The lock in force today for a stored student: only confirmed students lock; records still
/// pending or in the problem queue are corrected directly before confirmation.
pub fn lock_in_force(
    conn: &mut DbConn,
    row: &StudentRow,
    school_path: &str,
    day: NaiveDate,
) -> AppResult<Option<KeyLock>> {
    if row.review != Review::Confirmed {
        return Ok(None);
    }
    Ok(lock_for(conn, school_path, day)?.filter(|l| l.is_locked(day)))
}

/// The lock in force for a student in the caller's scope (for pages that offer the request).
pub fn lock_of_student(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Option<KeyLock>> {
    let (row, school) = student_in_scope(conn, caller, id)?;
    lock_in_force(conn, &row, &school.path, caller.today())
}

/// Refuses an edit that touches locked fields, naming them and the way through.
pub fn ensure_unlocked(
    conn: &mut DbConn,
    row: &StudentRow,
    school_path: &str,
    record: &StudentRecord,
    today: NaiveDate,
) -> AppResult<()> {
    let Some(lock) = lock_in_force(conn, row, school_path, today)? else { return Ok(()) };
    let changed = lock.changed(&row.record(), record);
    if changed.is_empty() {
        return Ok(());
    }
    Err(locked_error(&lock, &changed))
}

pub fn locked_error(lock: &KeyLock, changed: &[&str]) -> AppError {
    let names: Vec<&str> = changed.iter().filter_map(|k| student::field(k)).map(|f| f.header).collect();
    AppError::conflict(
        ErrorCode::StudentKeyLocked,
        format!(
            "关键信息已于{}锁定，“{}”不能直接修改；请提交关键信息变更申请（附证明材料），经学校审核、县级审批后生效",
            lock.lock_date.format("%Y年%m月%d日"),
            names.join("、")
        ),
    )
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LockView {
    pub org_code: String,
    pub org_name: String,
    pub school_year: i32,
    pub lock_date: NaiveDate,
    pub extra_fields: Vec<String>,
    pub extra_labels: String,
    pub set_by: String,
    pub set_at: NaiveDateTime,
}

/// Settings that bear on the caller: those of its own org, its ancestors and its subtree.
pub fn list_locks(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<LockView>> {
    caller.require(conn, Permission::ViewStudents, "list_key_locks")?;
    let own = caller.scope().path().to_owned();
    let rows: Vec<(String, String, i32, NaiveDate, String, String, NaiveDateTime)> = key_locks::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()).or(orgs::path.eq_any(ancestor_paths(&own))))
        .select((
            orgs::code,
            orgs::name,
            key_locks::school_year,
            key_locks::lock_date,
            key_locks::extra_fields,
            key_locks::set_by,
            key_locks::set_at,
        ))
        .order((key_locks::school_year.desc(), orgs::path.asc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(org_code, org_name, school_year, lock_date, extra, set_by, set_at)| {
            let extra_fields = stored_fields(&extra);
            let extra_labels =
                extra_fields.iter().filter_map(|k| student::field(k)).map(|f| f.header).collect::<Vec<_>>().join("、");
            LockView { org_code, org_name, school_year, lock_date, extra_fields, extra_labels, set_by, set_at }
        })
        .collect())
}

/// Sets (or moves) the caller's own org's lock date for a school year. County level and above.
pub fn set_lock(
    conn: &mut DbConn,
    caller: &Caller,
    school_year: i32,
    lock_date: NaiveDate,
    extra_fields: &str,
) -> AppResult<()> {
    caller.require_at_county(conn, Permission::SetKeyLock, "set_key_lock")?;
    if !(2000..=2100).contains(&school_year) {
        return Err(AppError::field(
            "school_year",
            ErrorCode::KeyLockYear,
            "学年应为四位年份，如2026（2026—2027学年）",
        ));
    }
    if key_lock::school_year_of(lock_date) != school_year {
        return Err(AppError::field(
            "lock_date",
            ErrorCode::KeyLockDateOutsideYear,
            format!("锁定日期应在{school_year}年9月1日至{}年8月31日之间", school_year + 1),
        ));
    }
    let extra = key_lock::parse_extra_fields(extra_fields)
        .map_err(|m| AppError::field("extra_fields", ErrorCode::KeyLockUnknownField, m))?
        .join(",");
    let org = crate::org::service::org_in_scope(conn, caller.scope(), &caller.org_code)?;
    write_tx(conn, |conn| {
        let before: Option<(NaiveDate, String)> = key_locks::table
            .filter(key_locks::org_id.eq(org.id))
            .filter(key_locks::school_year.eq(school_year))
            .select((key_locks::lock_date, key_locks::extra_fields))
            .first(conn)
            .optional()?;
        diesel::delete(
            key_locks::table.filter(key_locks::org_id.eq(org.id)).filter(key_locks::school_year.eq(school_year)),
        )
        .execute(conn)?;
        diesel::insert_into(key_locks::table)
            .values((
                key_locks::org_id.eq(org.id),
                key_locks::school_year.eq(school_year),
                key_locks::lock_date.eq(lock_date),
                key_locks::extra_fields.eq(&extra),
                key_locks::set_by.eq(&caller.username),
                key_locks::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("key_lock.set", "org", &org.code)
                .before(&before.map(|(d, e)| serde_json::json!({"lock_date": d, "extra_fields": e})))
                .after(&serde_json::json!({"school_year": school_year, "lock_date": lock_date, "extra_fields": extra})),
        )
    })
}

// ---------------------------------------------------------------- evidence

pub use crate::exchange::document::Upload;

/// Stores a file as evidence: a JPEG, PNG or PDF by its bytes, whatever its name says.
pub fn store_evidence(conn: &mut DbConn, caller: &Caller, upload: &Upload) -> AppResult<i64> {
    let kind = DocKind::sniff(&upload.bytes).ok_or_else(|| {
        AppError::field(
            "evidence",
            ErrorCode::ChangeEvidenceType,
            "证明材料须为JPG、PNG图片或PDF文件（按文件内容判断）",
        )
    })?;
    document::store(conn, caller, &document::clean_name(&upload.filename, "证明材料"), kind, &upload.bytes)
}

// ---------------------------------------------------------------- requests

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = change_requests)]
struct RequestRow {
    id: i64,
    student_id: i64,
    changes: String,
    reason: String,
    evidence_id: i64,
    #[diesel(deserialize_as = String)]
    status: RequestStatus,
    requested_by: String,
    requested_at: NaiveDateTime,
    school_by: Option<String>,
    school_at: Option<NaiveDateTime>,
    school_note: Option<String>,
    county_by: Option<String>,
    county_at: Option<NaiveDateTime>,
    county_note: Option<String>,
}

/// One changed field: its header, the value before and the value asked for (as people read them).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FieldChange {
    pub field: String,
    pub header: &'static str,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RequestView {
    pub id: i64,
    pub student_id: i64,
    pub student_name: String,
    pub student_no: String,
    pub school_code: String,
    pub school_name: String,
    pub changes: Vec<FieldChange>,
    pub reason: String,
    pub evidence_url: String,
    pub status: RequestStatus,
    pub status_label: &'static str,
    pub requested_by: String,
    pub requested_at: NaiveDateTime,
    pub school_by: Option<String>,
    pub school_at: Option<NaiveDateTime>,
    pub school_note: Option<String>,
    pub county_by: Option<String>,
    pub county_at: Option<NaiveDateTime>,
    pub county_note: Option<String>,
    /// What the caller may do with it now.
    pub actions: ChangeActions,
}

/// What a caller may do with a change request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ChangeActions {
    /// Decide the step it waits at (同意 or 驳回).
    pub decide: bool,
}

fn view(caller: &Caller, r: RequestRow, student: &StudentRow, school: &Org) -> RequestView {
    let actions = ChangeActions { decide: may_decide(caller, &r).is_ok() };
    let stored: BTreeMap<String, (String, String)> = serde_json::from_str(&r.changes).unwrap_or_default();
    // ID numbers and phones, old and new, shown masked like everywhere else.
    let display = |key: &str, v: &str| -> String {
        match student::field(key).map(|f| f.kind) {
            Some(student::Kind::Code(t)) => crate::domain::codes::table(t).label(v).unwrap_or(v).to_owned(),
            _ => student::masked_value(key, v),
        }
    };
    let changes = stored
        .iter()
        .map(|(k, (old, new))| FieldChange {
            field: k.clone(),
            header: student::field(k).map(|f| f.header).unwrap_or(""),
            old: display(k, old),
            new: display(k, new),
        })
        .collect();
    let status = r.status;
    RequestView {
        id: r.id,
        student_id: r.student_id,
        student_name: student.name.clone(),
        student_no: crate::domain::mask::student_no(&student.student_no),
        school_code: school.code.clone(),
        school_name: school.name.clone(),
        changes,
        reason: r.reason,
        evidence_url: format!("/change-requests/{}/evidence", r.id),
        status,
        status_label: status.label(),
        requested_by: r.requested_by,
        requested_at: r.requested_at,
        school_by: r.school_by,
        school_at: r.school_at,
        school_note: r.school_note,
        county_by: r.county_by,
        county_at: r.county_at,
        county_note: r.county_note,
        actions,
    }
}

/// Asking for a change of key fields: someone who edits students, once the fields are locked
/// (before, they are corrected directly). Gives the lock in force; the student's page offers the
/// request on this rule.
pub fn may_submit<'a>(caller: &Caller, lock: Option<&'a KeyLock>) -> AppResult<&'a KeyLock> {
    if !caller.may(Permission::EditStudents) {
        return Err(AppError::forbidden());
    }
    lock.ok_or_else(|| {
        AppError::conflict(ErrorCode::ChangeNotLocked, "该学生的关键信息尚未锁定，可直接在“修改信息”中更正")
    })
}

/// Submits a change of locked fields. `new_values` holds only the fields to change (key → value
/// as typed); each must be a locked field whose value really changes.
pub fn submit(
    conn: &mut DbConn,
    caller: &Caller,
    student_id: i64,
    new_values: &BTreeMap<String, String>,
    reason: &str,
    evidence: Option<&Upload>,
) -> AppResult<RequestView> {
    caller.require(conn, Permission::EditStudents, "submit_change_request")?;
    let (row, school) = student_in_scope(conn, caller, student_id)?;
    let lock = lock_in_force(conn, &row, &school.path, caller.today())?;
    let lock = may_submit(caller, lock.as_ref())?;
    let reason =
        text::required("变更原因", reason, 300).map_err(|m| AppError::field("reason", ErrorCode::ChangeReason, m))?;
    let evidence = evidence.filter(|e| !e.bytes.is_empty()).ok_or_else(|| {
        AppError::field(
            "evidence",
            ErrorCode::ChangeEvidenceMissing,
            "请上传证明材料（户口簿、身份证或公安机关证明的照片或扫描件）",
        )
    })?;
    if evidence.bytes.len() > MAX_EVIDENCE {
        return Err(AppError::field("evidence", ErrorCode::ChangeEvidenceTooLarge, "证明材料不能超过5MB"));
    }
    if let Some(k) = new_values.keys().find(|k| !lock.fields.contains(&k.as_str())) {
        let header = student::field(k).map(|f| f.header).unwrap_or(k);
        return Err(AppError::field(k, ErrorCode::ChangeNotKeyField, format!("“{header}”不是锁定字段，请直接修改")));
    }
    let before = row.record();
    let mut raw = before.values().clone();
    for (k, v) in new_values {
        raw.insert(k.clone(), v.clone());
    }
    let after = StudentRecord::parse(&raw, caller.today()).map_err(issues_to_error)?;
    let changed = lock.changed(&before, &after);
    if changed.is_empty() {
        return Err(AppError::invalid(ErrorCode::ChangeNothing, "申请的值与现有信息相同，没有需要变更的内容"));
    }
    if let Some(problem) = duplicate_problem(conn, &after, Some(row.id))? {
        return Err(AppError::conflict(ErrorCode::ChangeDuplicate, format!("变更后的信息未通过查重：{problem}")));
    }
    let open: i64 = change_requests::table
        .filter(change_requests::student_id.eq(row.id))
        .filter(
            change_requests::status.eq_any([RequestStatus::Submitted.as_str(), RequestStatus::SchoolApproved.as_str()]),
        )
        .count()
        .get_result(conn)?;
    if open > 0 {
        return Err(AppError::conflict(ErrorCode::ChangeAlreadyOpen, "该学生已有一份未办结的变更申请，请等待审批结果"));
    }
    let changes: BTreeMap<&str, (&str, &str)> = changed.iter().map(|k| (*k, (before.get(k), after.get(k)))).collect();
    let changes_json = serde_json::to_string(&changes).map_err(AppError::internal)?;
    let id = write_tx(conn, |conn| {
        let evidence_id = store_evidence(conn, caller, evidence)?;
        let id: i64 = diesel::insert_into(change_requests::table)
            .values((
                change_requests::student_id.eq(row.id),
                change_requests::school_id.eq(school.id),
                change_requests::changes.eq(&changes_json),
                change_requests::reason.eq(&reason),
                change_requests::evidence_id.eq(evidence_id),
                change_requests::status.eq(RequestStatus::Submitted.as_str()),
                change_requests::requested_by.eq(&caller.username),
                change_requests::requested_at.eq(caller.now()),
            ))
            .returning(change_requests::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("change.submit", "change_request", id).after(&serde_json::json!({
                "student_id": row.id, "reason": reason,
                "changes": changes.iter().map(|(k, (old, new))| {
                    (*k, (student::masked_value(k, old), student::masked_value(k, new)))
                }).collect::<BTreeMap<_, _>>(),
            })),
        )?;
        Ok(id)
    })?;
    get(conn, caller, id)
}

fn request_in_scope(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(RequestRow, StudentRow, Org)> {
    change_requests::table
        .inner_join(students::table.inner_join(orgs::table))
        .filter(change_requests::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((RequestRow::as_select(), StudentRow::as_select(), Org::as_select()))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<RequestView> {
    caller.require(conn, Permission::ViewStudents, "view_change_request")?;
    let (r, s, o) = request_in_scope(conn, caller, id)?;
    Ok(view(caller, r, &s, &o))
}

/// Requests in the caller's scope, newest first; `status` narrows to one state.
pub fn list(conn: &mut DbConn, caller: &Caller, status: Option<RequestStatus>) -> AppResult<Vec<RequestView>> {
    listed(conn, caller, status.as_slice())
}

/// The requests still on their way (submitted, or approved by the school): what the to-do counts.
pub fn open(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<RequestView>> {
    listed(conn, caller, &[RequestStatus::Submitted, RequestStatus::SchoolApproved])
}

/// The newest 500 requests in scope in any of `statuses` (all when empty).
fn listed(conn: &mut DbConn, caller: &Caller, statuses: &[RequestStatus]) -> AppResult<Vec<RequestView>> {
    caller.require(conn, Permission::ViewStudents, "list_change_requests")?;
    let mut q = change_requests::table
        .inner_join(students::table.inner_join(orgs::table))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((RequestRow::as_select(), StudentRow::as_select(), Org::as_select()))
        .order(change_requests::id.desc())
        .limit(500)
        .into_boxed();
    if !statuses.is_empty() {
        q = q.filter(change_requests::status.eq_any(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    }
    Ok(q.load::<(RequestRow, StudentRow, Org)>(conn)?.into_iter().map(|(r, s, o)| view(caller, r, &s, &o)).collect())
}

/// The evidence file of a request in scope: (filename, content type, bytes).
pub fn evidence(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(String, String, Vec<u8>)> {
    caller.require(conn, Permission::ViewStudents, "view_change_evidence")?;
    let (r, _, _) = request_in_scope(conn, caller, id)?;
    document::load(conn, r.evidence_id)
}

/// Whether the caller may decide the step a request waits at: the school's principal reviews,
/// the county approves, and nobody decides their own request. Decided here only: the service
/// refuses what this refuses, and the request's view carries the answer.
fn may_decide(caller: &Caller, r: &RequestRow) -> AppResult<()> {
    let status = r.status;
    let (permission, level) = match status {
        RequestStatus::Submitted => (Permission::ReviewKeyChange, caller.org_kind == OrgKind::School),
        RequestStatus::SchoolApproved => (Permission::ConfirmStudents, caller.org_kind.is_county_or_above()),
        RequestStatus::Approved | RequestStatus::Rejected => {
            return Err(AppError::conflict(ErrorCode::ChangeClosed, "该申请已办结"));
        }
    };
    if !caller.may(permission) {
        return Err(AppError::forbidden());
    }
    if !level {
        return Err(AppError::conflict(
            ErrorCode::ChangeWrongStep,
            format!("该申请处于“{}”环节，不由您所在单位办理", status.label()),
        ));
    }
    if r.requested_by == caller.username {
        return Err(AppError::conflict(ErrorCode::ChangeOwnRequest, "不能审核本人提交的申请"));
    }
    Ok(())
}

/// Decides the current step. The county's approval re-runs the duplicate check and applies the
/// change, with field history, in the same transaction.
pub fn decide(conn: &mut DbConn, caller: &Caller, id: i64, approve: bool, note: &str) -> AppResult<RequestView> {
    let (r, student, school) = request_in_scope(conn, caller, id)?;
    let status = r.status;
    let next = status.after(approve).ok_or_else(|| AppError::conflict(ErrorCode::ChangeClosed, "该申请已办结"))?;
    match status {
        RequestStatus::Submitted => caller.require(conn, Permission::ReviewKeyChange, "review_change_request")?,
        _ => caller.require(conn, Permission::ConfirmStudents, "approve_change_request")?,
    }
    may_decide(caller, &r)?;
    let note = text::optional("审核意见", note, 300).map_err(|m| AppError::field("note", ErrorCode::ChangeNote, m))?;
    if !approve && note.is_empty() {
        return Err(AppError::field("note", ErrorCode::ChangeNoteRequired, "驳回时请填写审核意见，说明原因"));
    }
    write_tx(conn, |conn| {
        if next == RequestStatus::Approved {
            apply(conn, caller, &r, &student, &school)?;
        }
        let t = caller.now();
        let note = Some(note.clone()).filter(|n| !n.is_empty());
        let by = Some(caller.username.clone());
        if status == RequestStatus::Submitted {
            diesel::update(change_requests::table.find(r.id))
                .set((
                    change_requests::status.eq(next.as_str()),
                    change_requests::school_by.eq(by),
                    change_requests::school_at.eq(Some(t)),
                    change_requests::school_note.eq(note.clone()),
                ))
                .execute(conn)?;
        } else {
            diesel::update(change_requests::table.find(r.id))
                .set((
                    change_requests::status.eq(next.as_str()),
                    change_requests::county_by.eq(by),
                    change_requests::county_at.eq(Some(t)),
                    change_requests::county_note.eq(note.clone()),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new(if approve { "change.approve" } else { "change.reject" }, "change_request", r.id)
                .before(&serde_json::json!({"status": status.as_str()}))
                .after(&serde_json::json!({"status": next.as_str(), "note": note})),
        )
    })?;
    get(conn, caller, id)
}

/// Writes the requested values over the stored ones. Refused when the stored values moved since
/// the request (the reviewers saw other values) or the result would duplicate another student.
fn apply(conn: &mut DbConn, caller: &Caller, r: &RequestRow, student: &StudentRow, school: &Org) -> AppResult<()> {
    let changes: BTreeMap<String, (String, String)> = serde_json::from_str(&r.changes).map_err(AppError::internal)?;
    let before = student.record();
    if changes.iter().any(|(k, (old, _))| before.get(k) != old) {
        return Err(AppError::conflict(
            ErrorCode::ChangeStale,
            "申请提交后该学生的信息已有变动，请驳回本申请并由学校重新提交",
        ));
    }
    let mut raw = before.values().clone();
    for (k, (_, new)) in &changes {
        if new.is_empty() {
            raw.remove(k);
        } else {
            raw.insert(k.clone(), new.clone());
        }
    }
    let after = StudentRecord::parse(&raw, caller.today()).map_err(issues_to_error)?;
    if let Some(problem) = duplicate_problem(conn, &after, Some(student.id))? {
        return Err(AppError::conflict(ErrorCode::ChangeDuplicate, format!("变更后的信息未通过查重：{problem}")));
    }
    let why = format!("关键信息变更申请#{}：{}（{}）", r.id, r.reason, school.name);
    registry::apply_update(conn, caller, student, &after, &why, None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_of_a_school_path() {
        assert_eq!(
            ancestor_paths("/000000/520000/522300/522326/2152326001/"),
            vec![
                "/000000/",
                "/000000/520000/",
                "/000000/520000/522300/",
                "/000000/520000/522300/522326/",
                "/000000/520000/522300/522326/2152326001/"
            ]
        );
    }
}
