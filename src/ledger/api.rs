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
    #[serde(default)]
    month: String,
}

/// `?month=YYYY-MM`: the computed months of the schools in scope.
pub async fn list(st: web::Data<AppState>, ApiUser(c): ApiUser, q: web::Query<MonthQuery>) -> Json {
    let m = parse_month(&q.month)?;
    Ok(HttpResponse::Ok().json(st.run(move |conn| entitlement::periods(conn, &c, m)).await?))
}

#[derive(Deserialize)]
pub struct ComputeBody {
    /// A school, or a county (every programme school under it).
    org: String,
    month: String,
    #[serde(default)]
    close: bool,
}

pub async fn compute(st: web::Data<AppState>, ApiUser(c): ApiUser, body: web::Json<ComputeBody>) -> Json {
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

pub async fn set_rule(st: web::Data<AppState>, ApiUser(c): ApiUser, body: web::Json<RuleBody>) -> Json {
    let r = parse_rule(&body.rule)?;
    st.run(move |conn| entitlement::set_rule(conn, &c, r)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}
