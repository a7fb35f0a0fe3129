//! `/api/v1` for status changes, transfers, the timeline, eligibility, terms and promotion: the
//! same services, scopes and audit as the pages.

use actix_web::web;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::api::{DecisionBody, EvidenceBody};
use super::status::{self, ChangeInput, Show, TransferInput};
use super::{promotion, terms, timeline};
use crate::auth::extract::ApiUser;
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::inspection::findings::{self, Link};
use crate::web::AppState;
use crate::web::api_doc::{Body, Created, Done, FileReply, Reply};
use crate::web::strict::{ApiJson, ApiQuery};

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ListQuery {
    #[serde(default)]
    show: String,
}

/// `?show=mine|open|in_transit|overdue|all` (default open).
pub async fn list(st: web::Data<AppState>, ApiUser(c): ApiUser, q: ApiQuery<ListQuery>) -> AppResult<Reply<impl Body>> {
    let show = Show::parse(&q.show)
        .ok_or_else(|| AppError::invalid(ErrorCode::ChangeShow, "show 应为 mine、open、in_transit、overdue 或 all"))?;
    Ok(Reply(st.run(move |conn| status::list(conn, &c, show)).await?))
}

pub async fn get(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| status::get(conn, &c, id)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ChangeBody {
    #[serde(flatten)]
    input: ChangeInput,
    evidence: Option<EvidenceBody>,
    /// The inspection finding this change puts right (linked back).
    #[serde(default)]
    finding: Option<i64>,
}

pub async fn request(
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
            let request = |conn: &mut _| status::request(conn, &c, id, &b.input, evidence.as_ref());
            findings::opened_from(conn, &c, b.finding, Link::Status, request, |v| v.id)
        })
        .await?;
    Ok(Created::new(v))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct TransferBody {
    #[serde(flatten)]
    input: TransferInput,
    evidence: Option<EvidenceBody>,
}

pub async fn transfer(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<TransferBody>,
) -> AppResult<Created<impl Body>> {
    let b = body.into_inner();
    let evidence = b.evidence.map(EvidenceBody::decode).transpose()?;
    let v = st.run(move |conn| status::request_transfer(conn, &c, &b.input, evidence.as_ref())).await?;
    Ok(Created::new(v))
}

pub async fn decide(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<DecisionBody>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let b = body.into_inner();
    Ok(Reply(st.run(move |conn| status::decide(conn, &c, id, b.approve, &b.note)).await?))
}

pub async fn evidence(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<FileReply> {
    let id = path.into_inner();
    let (name, content_type, bytes) = st.run(move |conn| status::evidence(conn, &c, id)).await?;
    Ok(FileReply(crate::web::download(bytes, &name, &content_type)))
}

pub async fn workflows(st: web::Data<AppState>, ApiUser(_c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(st.run(status::chains).await?))
}

pub async fn student_timeline(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let body = st
        .run(move |conn| {
            Ok(Timeline { spells: timeline::view(conn, &c, id)?, changes: status::of_student(conn, &c, id)? })
        })
        .await?;
    Ok(Reply(body))
}

/// A student's spells at schools and the status changes that made them.
#[derive(Serialize, JsonSchema)]
pub struct Timeline {
    spells: Vec<timeline::SpellView>,
    changes: Vec<status::ChangeView>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DateQuery {
    date: String,
}

/// The students eligible at a school on a day.
pub async fn eligible(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    q: ApiQuery<DateQuery>,
) -> AppResult<Reply<impl Body>> {
    let school = path.into_inner();
    let day = status::parse_day("date", &q.date)?;
    let s = school.clone();
    let students = st.run(move |conn| timeline::eligible_list(conn, &c, &s, day)).await?;
    Ok(Reply(Eligible { school, date: day, count: students.len(), students }))
}

/// The students a school may claim for on a day.
#[derive(Serialize, JsonSchema)]
pub struct Eligible {
    school: String,
    date: NaiveDate,
    count: usize,
    students: Vec<timeline::EligibleStudent>,
}

pub async fn terms_list(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    let (terms, restrictions) = st.run(move |conn| terms::list(conn, &c)).await?;
    Ok(Reply(Terms { terms, transfer_restrictions: restrictions }))
}

/// The terms set, and the grades and terms in which transfers are restricted.
#[derive(Serialize, JsonSchema)]
pub struct Terms {
    terms: Vec<terms::TermRow>,
    transfer_restrictions: Vec<terms::RestrictionRow>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct TermBody {
    term: String,
    start_date: NaiveDate,
    end_date: NaiveDate,
}

pub fn parse_term(s: &str) -> AppResult<Term> {
    Term::parse(s).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))
}

pub async fn term_set(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<TermBody>,
) -> AppResult<Reply<impl Body>> {
    let b = body.into_inner();
    let t = parse_term(&b.term)?;
    st.run(move |conn| terms::set_term(conn, &c, t, b.start_date, b.end_date)).await?;
    Ok(Reply(Done::OK))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct CloseBody {
    term: String,
}

pub async fn term_close(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<CloseBody>,
) -> AppResult<Reply<impl Body>> {
    let t = parse_term(&body.term)?;
    st.run(move |conn| terms::close_term(conn, &c, t)).await?;
    Ok(Reply(Done::OK))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RestrictionBody {
    grade: i32,
    #[serde(default)]
    term: Option<u8>,
    #[serde(default)]
    note: String,
}

pub async fn restriction_add(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<RestrictionBody>,
) -> AppResult<Created<impl Body>> {
    let b = body.into_inner();
    st.run(move |conn| terms::add_restriction(conn, &c, b.grade, b.term, &b.note)).await?;
    Ok(Created::new(Done::OK))
}

pub async fn restriction_remove(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    st.run(move |conn| terms::remove_restriction(conn, &c, id)).await?;
    Ok(Reply(Done::OK))
}

// ---------------------------------------------------------------- promotion

pub async fn promotions(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(st.run(move |conn| promotion::list(conn, &c)).await?))
}

/// `{"org": CODE, "school_year": 2025, "graduation_date": "2026-07-10"?, "repeaters": [{"student_no", "class_no"}], "dry_run": bool}`
pub async fn promote(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<promotion::PromoteInput>,
) -> AppResult<Reply<impl Body>> {
    let b = body.into_inner();
    let plan = st.run(move |conn| promotion::promote(conn, &c, &b)).await?;
    Ok(Reply(plan))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct PromotionAction {
    action: String,
}

/// `{"action": "confirm" | "undo"}`.
pub async fn promotion_action(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<PromotionAction>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let action = body.into_inner().action;
    let v = st
        .run(move |conn| match action.as_str() {
            "confirm" => promotion::confirm(conn, &c, id),
            "undo" => promotion::undo(conn, &c, id),
            _ => Err(AppError::invalid(ErrorCode::PromotionAction, "action 应为 confirm 或 undo")),
        })
        .await?;
    Ok(Reply(v))
}
