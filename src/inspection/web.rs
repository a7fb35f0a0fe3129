//! The anomaly page (`/inspections`) and `GET /api/v1/anomalies`: an org's flags for a period,
//! each with its rule, school, child (学籍号 masked), month, money at stake and reason.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::scan::{self, Scan};
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::anomaly::{Rule, RuleInfo};
use crate::domain::calendar::Span;
use crate::domain::term::Term;
use crate::error::{AppError, AppResult};
use crate::web::{AppState, Layout, PageResult};

#[derive(Deserialize)]
pub struct Query {
    #[serde(default)]
    org: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    rules: String,
}

/// The period asked for; this term when empty.
fn period(s: &str) -> AppResult<Span> {
    let s = s.trim();
    let s = if s.is_empty() { Term::of_day(crate::clock::today()).to_string() } else { s.to_owned() };
    Span::parse(&s).map_err(|m| AppError::field("period", "period.format", m))
}

#[derive(Template, WebTemplate)]
#[template(path = "inspection/flags.html")]
pub struct Page {
    layout: Layout,
    scan: Scan,
    rules: String,
    catalogue: Vec<RuleInfo>,
}

pub async fn page(st: web::Data<AppState>, PageUser(caller): PageUser, q: web::Query<Query>) -> PageResult<Page> {
    let q = q.into_inner();
    let span = period(&q.period)?;
    let rules = scan::rules_from(&q.rules)?;
    let org = if q.org.trim().is_empty() { caller.org_code.clone() } else { q.org.trim().to_owned() };
    let c = caller.clone();
    let scan = st.run(move |conn| scan::scan(conn, &c, &org, &span, &rules)).await?.shown();
    Ok(Page {
        layout: Layout::new(&caller, &st, format!("督查预警 {}", scan.period)),
        scan,
        rules: q.rules,
        catalogue: Rule::ALL.iter().map(|r| r.info()).collect(),
    })
}

pub async fn api(st: web::Data<AppState>, ApiUser(caller): ApiUser, q: web::Query<Query>) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let span = period(&q.period)?;
    let rules = scan::rules_from(&q.rules)?;
    let org = if q.org.trim().is_empty() { caller.org_code.clone() } else { q.org.trim().to_owned() };
    let scan = st.run(move |conn| scan::scan(conn, &caller, &org, &span, &rules)).await?.shown();
    Ok(HttpResponse::Ok().json(scan))
}
