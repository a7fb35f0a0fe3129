//! The anomaly page (`/inspections`) and `GET /api/v1/anomalies`: an org's flags for a period,
//! each with its rule, school, child (学籍号 masked), month, money at stake and reason.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::scan::{self, Scan};
use crate::auth::Caller;
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

impl Query {
    /// The org (the caller's own when empty), the period (this term when empty) and the rules.
    fn parse(&self, caller: &Caller) -> AppResult<(String, Span, Vec<Rule>)> {
        let org = if self.org.trim().is_empty() { caller.org_code.clone() } else { self.org.trim().to_owned() };
        let p = self.period.trim();
        let p = if p.is_empty() { Term::of_day(crate::clock::today()).to_string() } else { p.to_owned() };
        let span = Span::parse(&p).map_err(|m| AppError::field("period", "period.format", m))?;
        Ok((org, span, scan::rules_from(&self.rules)?))
    }
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
    let (org, span, rules) = q.parse(&caller)?;
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
    let (org, span, rules) = q.parse(&caller)?;
    let scan = st.run(move |conn| scan::scan(conn, &caller, &org, &span, &rules)).await?.shown();
    Ok(HttpResponse::Ok().json(scan))
}
