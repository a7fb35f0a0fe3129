//! `/api/v1` for students: the same services, scopes and audit as the pages.

use std::collections::BTreeMap;

use actix_web::web;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::service::{self, StudentFilter};
use super::{changes, problems};
use crate::auth::extract::ApiUser;
use crate::domain::key_lock::RequestStatus;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::inspection::findings::{self, Link};
use crate::web::AppState;
use crate::web::api_doc::{Body, Created, Done, FileReply, NoStore, Page, Reply};
use crate::web::strict::{ApiJson, ApiQuery};

/// `GET ?q=&school=&class_id=&review=&page=`; a search by ID number or 学籍号 is `POST /search`.
pub async fn list(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<StudentFilter>,
) -> AppResult<Reply<impl Body>> {
    let f = q.into_inner();
    f.refuse_identifier_in_query()?;
    let (items, total) = st.read(move |conn| service::list(conn, &c, &f)).await?;
    Ok(Reply(Page { total, items }))
}

/// The same list with the filter in the body (`{"q", "school", "class_id", "review", "page"}`),
/// so an ID number searched for stays out of addresses and logs.
pub async fn search(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<StudentFilter>,
) -> AppResult<Reply<impl Body>> {
    let f = body.into_inner();
    let (items, total) = st.read(move |conn| service::list(conn, &c, &f)).await?;
    Ok(Reply(Page { total, items }))
}

pub async fn get(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| service::get(conn, &c, id)).await?))
}

/// `{"reason"}`: the student with ID numbers, 学籍号 and phones in full (audited with the reason).
pub async fn unmask(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ReasonBody>,
) -> AppResult<NoStore<impl Body>> {
    let (id, reason) = (path.into_inner(), body.into_inner().reason);
    Ok(NoStore(st.run(move |conn| service::unmask(conn, &c, id, &reason)).await?))
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct ReasonBody {
    #[serde(default)]
    reason: String,
}

/// What confirming a pending student adds, month by month (the county reads it before 确认入库).
pub async fn confirm_preview(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| service::confirm_preview(conn, &c, id)).await?))
}

pub async fn history(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| service::history(conn, &c, id)).await?))
}

/// Body: the record as `{field_key: value}` (codes or labels).
pub async fn create(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    body: ApiJson<BTreeMap<String, String>>,
) -> AppResult<Created<impl Body>> {
    let (school, raw) = (path.into_inner(), body.into_inner());
    Ok(Created::new(st.run(move |conn| service::create(conn, &c, &school, &raw)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct UpdateBody {
    record: BTreeMap<String, String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    version: Option<i32>,
}

pub async fn update(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<UpdateBody>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let b = body.into_inner();
    let reason = if b.reason.trim().is_empty() { "信息更正".to_owned() } else { b.reason };
    Ok(Reply(st.run(move |conn| service::update(conn, &c, id, &b.record, &reason, b.version)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ConfirmBody {
    ids: Vec<i64>,
}

pub async fn confirm(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<ConfirmBody>,
) -> AppResult<Reply<impl Body>> {
    let ids = body.into_inner().ids;
    let n = st.run(move |conn| service::confirm(conn, &c, &ids)).await?;
    Ok(Reply(Confirmed { confirmed: n }))
}

/// How many of the students asked for were confirmed.
#[derive(Serialize, JsonSchema)]
pub struct Confirmed {
    confirmed: usize,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ResolveBody {
    decision: problems::Resolution,
    #[serde(default)]
    note: String,
}

pub async fn resolve(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ResolveBody>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let b = body.into_inner();
    let next = st.run(move |conn| problems::resolve(conn, &c, id, b.decision, &b.note)).await?;
    Ok(Reply(Resolved { student: next }))
}

/// The student a problem record was resolved into (none when it was discarded).
#[derive(Serialize, JsonSchema)]
pub struct Resolved {
    student: Option<i64>,
}

/// The enrolled student a problem record duplicates, field by field (null when none).
pub async fn duplicate(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| problems::compare(conn, &c, id)).await?))
}

/// Records merged into a student, with the stored provenance for those who may edit students.
pub async fn merges(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let body = st
        .run(move |conn| {
            let merges = problems::merges_of(conn, &c, id)?;
            let provenance =
                if c.may(Permission::EditStudents) { Some(problems::provenance(conn, &c, id)?) } else { None };
            Ok(Merges { merges, provenance })
        })
        .await?;
    Ok(Reply(body))
}

/// The records merged into a student, and what each field's stored value came from.
#[derive(Serialize, JsonSchema)]
pub struct Merges {
    merges: Vec<problems::MergeView>,
    /// Each merged record as it was sealed (identifiers masked): its fields, its history.
    #[schemars(with = "Option<Vec<BTreeMap<String, Sealed>>>")]
    provenance: Option<Vec<BTreeMap<String, serde_json::Value>>>,
}

/// A part of a sealed record: the record's field values, or its change history.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Sealed {
    Record(BTreeMap<String, String>),
    History(Vec<crate::registry::model::HistoryRow>),
    Other(String),
}

// ---------------------------------------------------------------- key lock and change requests

pub async fn key_locks(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(st.run(move |conn| changes::list_locks(conn, &c)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct LockBody {
    school_year: i32,
    lock_date: chrono::NaiveDate,
    #[serde(default)]
    extra_fields: String,
}

pub async fn set_key_lock(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<LockBody>,
) -> AppResult<Reply<impl Body>> {
    let b = body.into_inner();
    st.run(move |conn| changes::set_lock(conn, &c, b.school_year, b.lock_date, &b.extra_fields)).await?;
    Ok(Reply(Done::OK))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct EvidenceBody {
    #[serde(default)]
    filename: String,
    /// The file, base64 (standard alphabet).
    content_base64: String,
}

impl EvidenceBody {
    pub fn decode(self) -> AppResult<changes::Upload> {
        use base64::Engine;
        Ok(changes::Upload {
            filename: self.filename,
            bytes: base64::engine::general_purpose::STANDARD.decode(self.content_base64.trim()).map_err(|_| {
                AppError::field("evidence", ErrorCode::ChangeEvidenceEncoding, "证明材料须为base64编码的文件内容")
            })?,
        })
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ChangeBody {
    /// Only the fields to change: `{field_key: new value}`.
    changes: BTreeMap<String, String>,
    #[serde(default)]
    reason: String,
    evidence: Option<EvidenceBody>,
    /// The inspection finding this request puts right (linked back).
    #[serde(default)]
    finding: Option<i64>,
}

pub async fn submit_change(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ChangeBody>,
) -> AppResult<Created<impl Body>> {
    let id = path.into_inner();
    let b = body.into_inner();
    let evidence = b.evidence.map(EvidenceBody::decode).transpose()?;
    let v = st
        .run(move |conn| {
            let submit = |conn: &mut _| changes::submit(conn, &c, id, &b.changes, &b.reason, evidence.as_ref());
            findings::opened_from(conn, &c, b.finding, Link::Change, submit, |v| v.id)
        })
        .await?;
    Ok(Created::new(v))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ChangeQuery {
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_one_of")]
    status: Option<RequestStatus>,
}

pub async fn change_requests(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<ChangeQuery>,
) -> AppResult<Reply<impl Body>> {
    let status = q.into_inner().status;
    Ok(Reply(st.run(move |conn| changes::list(conn, &c, status)).await?))
}

pub async fn change_request(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| changes::get(conn, &c, id)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DecisionBody {
    pub approve: bool,
    #[serde(default)]
    pub note: String,
}

pub async fn decide_change(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<DecisionBody>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let b = body.into_inner();
    Ok(Reply(st.run(move |conn| changes::decide(conn, &c, id, b.approve, &b.note)).await?))
}

pub async fn change_evidence(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<FileReply> {
    let id = path.into_inner();
    let (name, content_type, bytes) = st.run(move |conn| changes::evidence(conn, &c, id)).await?;
    Ok(FileReply(crate::web::download(bytes, &name, &content_type)))
}
