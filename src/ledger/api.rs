//! `/api/v1` for entitlements: the same services, scopes and audit as the pages.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::entitlement;
use crate::auth::extract::ApiUser;
use crate::domain::calendar::Month;
use crate::domain::entitlement::Rule;
use crate::error::{AppError, AppResult};
use crate::web::AppState;

type Json = AppResult<HttpResponse>;

pub fn parse_month(s: &str) -> AppResult<Month> {
    Month::parse(s).map_err(|m| AppError::field("month", "month.format", m))
}

pub fn parse_rule(s: &str) -> AppResult<Rule> {
    Rule::parse(s)
        .ok_or_else(|| AppError::field("rule", "entitlement.rule", "计算规则应为 day（按日）或 month（按月）"))
}

#[derive(Deserialize)]
pub struct MonthQuery {
    #[serde(default, alias = "period")]
    month: String,
}

/// `?month=YYYY-MM`: the computed months of the schools in scope.
pub async fn list(st: web::Data<AppState>, ApiUser(c): ApiUser, q: ApiQuery<MonthQuery>) -> Json {
    let m = parse_month(&q.month)?;
    Ok(HttpResponse::Ok().json(st.run(move |conn| entitlement::periods(conn, &c, m)).await?))
}

#[derive(Deserialize)]
pub struct ComputeBody {
    /// A school, or a county (every programme school under it).
    org: String,
    #[serde(alias = "period")]
    month: String,
    #[serde(default)]
    close: bool,
}

pub async fn compute(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<ComputeBody>) -> Json {
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
    Ok(HttpResponse::Ok().json(v))
}

pub async fn detail(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<(String, String)>) -> Json {
    let (code, month) = path.into_inner();
    let m = parse_month(&month)?;
    let (period, lines) = st.run(move |conn| entitlement::get(conn, &c, &code, m)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "period": period, "lines": lines })))
}

#[derive(Deserialize)]
pub struct RuleBody {
    rule: String,
}

pub async fn set_rule(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<RuleBody>) -> Json {
    let r = parse_rule(&body.rule)?;
    st.run(move |conn| entitlement::set_rule(conn, &c, r)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}

// ---- The fund ledger ----

use super::fund::{self, PostingForm};
use crate::domain::ledger::RequestStatus;

/// Accounts in scope with balances.
pub async fn accounts(st: web::Data<AppState>, ApiUser(c): ApiUser) -> Json {
    Ok(HttpResponse::Ok().json(st.run(move |conn| fund::accounts(conn, &c)).await?))
}

/// One account's entries with the running balance.
pub async fn account_entries(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<String>) -> Json {
    let code = path.into_inner();
    let (account, entries) = st.run(move |conn| fund::entries(conn, &c, &code)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "account": account, "entries": entries })))
}

#[derive(Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    status: String,
}

pub async fn requests(st: web::Data<AppState>, ApiUser(c): ApiUser, q: ApiQuery<StatusQuery>) -> Json {
    // A misspelt status is named, never taken for "none of them".
    let status = match q.into_inner().status.trim() {
        "" => None,
        s => Some(s.parse::<RequestStatus>().map_err(|_| {
            AppError::field("status", "ledger.status", format!("状态“{s}”无效，应为 pending、posted 或 rejected"))
        })?),
    };
    Ok(HttpResponse::Ok().json(st.run(move |conn| fund::requests(conn, &c, status)).await?))
}

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
) -> Json {
    let mut form = body.into_inner();
    form.key = key_of(&req, form.key);
    let r = st.run(move |conn| fund::post(conn, &c, &form)).await?;
    let mut resp = if r.replayed { HttpResponse::Ok() } else { HttpResponse::Created() };
    Ok(resp.json(r))
}

pub async fn approve(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> Json {
    let id = path.into_inner();
    Ok(HttpResponse::Ok().json(st.run(move |conn| fund::approve(conn, &c, id)).await?))
}

#[derive(Deserialize)]
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
) -> Json {
    let id = path.into_inner();
    let reason = body.into_inner().reason;
    Ok(HttpResponse::Ok().json(st.run(move |conn| fund::reject(conn, &c, id, &reason)).await?))
}

pub async fn reverse(
    req: actix_web::HttpRequest,
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ReasonBody>,
) -> Json {
    let id = path.into_inner();
    let b = body.into_inner();
    let key = key_of(&req, b.key);
    let r = st.run(move |conn| fund::reverse(conn, &c, id, &b.reason, &key)).await?;
    let mut resp = if r.replayed { HttpResponse::Ok() } else { HttpResponse::Created() };
    Ok(resp.json(r))
}

/// The chains of every account in scope; `ok` false names the broken entries.
pub async fn verify(st: web::Data<AppState>, ApiUser(c): ApiUser) -> Json {
    let settings = st.settings.clone();
    let v = st.run(move |conn| fund::verify_anchored(conn, &c, &settings)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": v.broken.is_empty(), "verification": v })))
}

pub async fn close(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<MonthQuery>) -> Json {
    let m = parse_month(&body.month)?;
    st.run(move |conn| fund::close_month(conn, &c, m)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "closed": m.to_string() })))
}

#[derive(Deserialize)]
pub struct AmountBody {
    amount: String,
}

pub async fn set_threshold(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<AmountBody>) -> Json {
    let amount = body.into_inner().amount;
    let fen = st.run(move |conn| fund::set_threshold(conn, &c, &amount)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "threshold": fen })))
}

// ---- 一补 ----

use super::yibu;
use crate::domain::term::Term;
use crate::web::strict::{ApiJson, ApiQuery};

fn parse_term(s: &str) -> AppResult<Term> {
    Term::parse(s).map_err(|m| AppError::field("term", "term.format", m))
}

#[derive(Deserialize)]
pub struct YibuBody {
    /// A school, or a county (every school under it).
    org: String,
    term: String,
    #[serde(default)]
    close: bool,
}

pub async fn yibu_compute(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<YibuBody>) -> Json {
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
    Ok(HttpResponse::Ok().json(v))
}

pub async fn yibu_detail(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<(String, String)>) -> Json {
    let (code, term) = path.into_inner();
    let t = parse_term(&term)?;
    let (period, lines) = st.run(move |conn| yibu::get(conn, &c, &code, t)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "period": period, "lines": lines })))
}
