//! `/api/v1` for entitlements: the same services, scopes and audit as the pages.

use actix_web::web;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::entitlement;
use crate::auth::extract::ApiUser;
use crate::domain::calendar::Month;
use crate::domain::entitlement::Rule;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::web::AppState;
use crate::web::api_doc::{Body, Created, Done, Reply};

pub fn parse_month(s: &str) -> AppResult<Month> {
    Month::parse(s).map_err(|m| AppError::field("month", ErrorCode::MonthFormat, m))
}

pub fn parse_rule(s: &str) -> AppResult<Rule> {
    Rule::parse(s)
        .ok_or_else(|| AppError::field("rule", ErrorCode::EntitlementRule, "计算规则应为 day（按日）或 month（按月）"))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct MonthQuery {
    #[serde(default, rename = "period", alias = "month")]
    month: String,
}

/// `?month=YYYY-MM`: the computed months of the schools in scope.
pub async fn list(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<MonthQuery>,
) -> AppResult<Reply<impl Body>> {
    let m = parse_month(&q.month)?;
    Ok(Reply(st.run(move |conn| entitlement::periods(conn, &c, m)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ComputeBody {
    /// A school, or a county (every programme school under it).
    org: String,
    #[serde(rename = "period", alias = "month")]
    month: String,
    #[serde(default)]
    close: bool,
}

pub async fn compute(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<ComputeBody>,
) -> AppResult<Reply<impl Body>> {
    let b = body.into_inner();
    let m = parse_month(&b.month)?;
    let v = st
        .run(move |conn| {
            let periods = entitlement::compute_all(conn, &c, &b.org, m)?;
            if b.close {
                return periods.iter().map(|p| entitlement::close(conn, &c, &p.school, m)).collect();
            }
            Ok(periods)
        })
        .await?;
    Ok(Reply(v))
}

pub async fn detail(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<(String, String)>,
) -> AppResult<Reply<impl Body>> {
    let (code, month) = path.into_inner();
    let m = parse_month(&month)?;
    let (period, lines) = st.run(move |conn| entitlement::get(conn, &c, &code, m)).await?;
    Ok(Reply(EntitlementDetail { period, lines }))
}

/// A school's month and the line of each child in it.
#[derive(Serialize, JsonSchema)]
pub struct EntitlementDetail {
    period: entitlement::Period,
    lines: Vec<entitlement::LineView>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RuleBody {
    rule: String,
}

pub async fn set_rule(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<RuleBody>,
) -> AppResult<Reply<impl Body>> {
    let r = parse_rule(&body.rule)?;
    st.run(move |conn| entitlement::set_rule(conn, &c, r)).await?;
    Ok(Reply(Done::OK))
}

// ---- The fund ledger ----

use super::fund::{self, PostingForm};

/// Accounts in scope with balances.
pub async fn accounts(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(st.run(move |conn| fund::accounts(conn, &c)).await?))
}

/// One account's entries with the running balance.
pub async fn account_entries(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    let (account, entries) = st.run(move |conn| fund::entries(conn, &c, &code)).await?;
    Ok(Reply(AccountEntries { account, entries }))
}

/// An account and its entries, each with the running balance and its link in the hash chain.
#[derive(Serialize, JsonSchema)]
pub struct AccountEntries {
    account: fund::Account,
    entries: Vec<fund::EntryView>,
}

/// The ledger's requests, newest first, 200 a page: narrowed by state, kind, account (code or
/// holder's name) and value dates, as the web page's filters.
pub async fn requests(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<fund::RequestFilter>,
) -> AppResult<Reply<impl Body>> {
    let f = q.into_inner();
    Ok(Reply(st.run(move |conn| fund::list_requests(conn, &c, &f, API_PAGE)).await?.0))
}

/// Requests per page of the API's list.
const API_PAGE: i64 = 200;

/// The `Idempotency-Key` header, when the body carries no key.
fn key_of(req: &actix_web::HttpRequest, body_key: String) -> String {
    if !body_key.trim().is_empty() {
        return body_key;
    }
    req.headers().get("Idempotency-Key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// 201 with the request; 200 when it repeats an earlier submission of the same key.
pub async fn post(
    req: actix_web::HttpRequest,
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<PostingForm>,
) -> AppResult<Created<impl Body>> {
    let mut form = body.into_inner();
    form.key = key_of(&req, form.key);
    let r = st.run(move |conn| fund::post(conn, &c, &form)).await?;
    Ok(Created::repeated_if(r.replayed, r))
}

pub async fn approve(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| fund::approve(conn, &c, id)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ReasonBody {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    key: String,
}

pub async fn reject(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ReasonBody>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let reason = body.into_inner().reason;
    Ok(Reply(st.run(move |conn| fund::reject(conn, &c, id, &reason)).await?))
}

pub async fn reverse(
    req: actix_web::HttpRequest,
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ReasonBody>,
) -> AppResult<Created<impl Body>> {
    let id = path.into_inner();
    let b = body.into_inner();
    let key = key_of(&req, b.key);
    let r = st.run(move |conn| fund::reverse(conn, &c, id, &b.reason, &key)).await?;
    Ok(Created::repeated_if(r.replayed, r))
}

/// The chains of every account in scope; `ok` false names the broken entries.
pub async fn verify(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    let settings = st.settings.clone();
    let v = st.run(move |conn| fund::verify_anchored(conn, &c, &settings)).await?;
    Ok(Reply(Verified { ok: v.broken.is_empty(), verification: v }))
}

/// Whether every chain in scope is whole, and what was checked.
#[derive(Serialize, JsonSchema)]
pub struct Verified {
    ok: bool,
    verification: fund::Verification,
}

pub async fn close(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<MonthQuery>,
) -> AppResult<Reply<impl Body>> {
    let m = parse_month(&body.month)?;
    st.run(move |conn| fund::close_month(conn, &c, m)).await?;
    Ok(Reply(Closed { closed: m.to_string() }))
}

/// The month now closed (YYYY-MM).
#[derive(Serialize, JsonSchema)]
pub struct Closed {
    closed: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct AmountBody {
    amount: String,
}

pub async fn set_threshold(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<AmountBody>,
) -> AppResult<Reply<impl Body>> {
    let amount = body.into_inner().amount;
    let fen = st.run(move |conn| fund::set_threshold(conn, &c, &amount)).await?;
    Ok(Reply(Threshold { threshold: fen }))
}

/// The amount from which a posting waits for a second person.
#[derive(Serialize, JsonSchema)]
pub struct Threshold {
    threshold: crate::domain::money::Fen,
}

// ---- 一补 ----

use super::yibu;
use crate::domain::term::Term;
use crate::web::strict::{ApiJson, ApiQuery};

fn parse_term(s: &str) -> AppResult<Term> {
    Term::parse(s).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct YibuBody {
    /// A school, or a county (every school under it).
    org: String,
    term: String,
    #[serde(default)]
    close: bool,
}

pub async fn yibu_compute(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<YibuBody>,
) -> AppResult<Reply<impl Body>> {
    let b = body.into_inner();
    let t = parse_term(&b.term)?;
    let v = st
        .run(move |conn| {
            let periods = yibu::compute_all(conn, &c, &b.org, t)?;
            if b.close {
                return periods.iter().map(|p| yibu::close(conn, &c, &p.school, t)).collect();
            }
            Ok(periods)
        })
        .await?;
    Ok(Reply(v))
}

pub async fn yibu_detail(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<(String, String)>,
) -> AppResult<Reply<impl Body>> {
    let (code, term) = path.into_inner();
    let t = parse_term(&term)?;
    let (period, lines) = st.run(move |conn| yibu::get(conn, &c, &code, t)).await?;
    Ok(Reply(YibuDetail { period, lines }))
}

/// A school's term of 一补 and the line of each boarding child in it.
#[derive(Serialize, JsonSchema)]
pub struct YibuDetail {
    period: yibu::Period,
    lines: Vec<yibu::LineView>,
}
