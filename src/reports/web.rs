//! Pages and API for the statutory reports: a chooser, a drawn report with every figure linking
//! to what it counts, downloads as xlsx/PDF, and the JSON of SPEC §12.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::render::{self, OutputFormat};
use super::service::{self, Drill, Report, Request};
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::calendar::{Month, Span};
use crate::domain::report::{Definition, Value};
use crate::error::{AppError, AppResult};
use crate::registry::service::today;
use crate::web::{AppState, Layout, PageResult, html_page};

#[derive(Deserialize, Default)]
pub struct Query {
    #[serde(default)]
    org: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    school: String,
    #[serde(default)]
    column: String,
}

impl Query {
    /// The request it asks for: the caller's own org and last month when left out.
    fn request(&self, name: &str, caller: &Caller) -> AppResult<Request> {
        let period = if self.period.trim().is_empty() {
            Span::of_month(Month::of(today()).prev())
        } else {
            Span::parse(&self.period).map_err(|m| AppError::field("period", "period.format", m))?
        };
        let date = match self.date.trim() {
            "" => None,
            d => Some(
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| AppError::field("date", "report.date", format!("报表日“{d}”应写作 YYYY-MM-DD")))?,
            ),
        };
        let org = if self.org.trim().is_empty() { caller.org_code.clone() } else { self.org.trim().to_owned() };
        Ok(Request { name: name.to_owned(), org, period, date })
    }
}

fn download(f: OutputFormat, (bytes, name): (Vec<u8>, String)) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(f.mime())
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .body(bytes)
}

fn format_of(s: &str) -> AppResult<OutputFormat> {
    OutputFormat::parse(s).map_err(|m| AppError::field("format", "report.format", m))
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/index.html")]
pub struct IndexPage {
    layout: Layout,
    reports: Vec<(String, String, &'static str)>,
    org: String,
    period: String,
}

pub async fn index(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<IndexPage> {
    let reports = Definition::names()
        .into_iter()
        .filter_map(|n| Definition::named(n).ok())
        .map(|d| {
            let level = match d.level {
                crate::domain::report::Level::School => "学校",
                crate::domain::report::Level::County => "县及以上",
            };
            (d.name, d.title, level)
        })
        .collect();
    Ok(IndexPage {
        layout: Layout::new(&caller, &st, "统计报表"),
        reports,
        org: caller.org_code.clone(),
        period: Month::of(today()).prev().to_string(),
    })
}

/// A figure as the page shows it.
struct CellView {
    text: String,
    key: &'static str,
    numeric: bool,
    link: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/report.html")]
pub struct ReportPage {
    layout: Layout,
    r: Report,
    rows: Vec<Vec<CellView>>,
    totals: Vec<CellView>,
}

fn cells(r: &Report, row: Option<usize>, values: &[Value]) -> Vec<CellView> {
    values
        .iter()
        .enumerate()
        .map(|(j, v)| CellView {
            text: v.text(),
            key: r.columns.get(j).map_or("", |c| c.key),
            numeric: !matches!(v, Value::Text(_)),
            link: row.and_then(|i| r.drill(i, j)),
        })
        .collect()
}

/// `/reports/{name}?org=&period=&date=`: the page; `&format=xlsx|pdf` downloads the same figures.
pub async fn page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    name: web::Path<String>,
    q: web::Query<Query>,
) -> PageResult<HttpResponse> {
    let req = q.request(&name, &caller)?;
    let f = format_of(&q.format)?;
    if matches!(f, OutputFormat::Xlsx | OutputFormat::Pdf) {
        return Ok(download(f, st.run(move |conn| render::export(conn, &caller, &req, f)).await?));
    }
    let c = caller.clone();
    let r = st.run(move |conn| service::run(conn, &c, &req)).await?;
    let rows = r.rows.iter().enumerate().map(|(i, v)| cells(&r, Some(i), v)).collect();
    let totals = cells(&r, None, &r.totals);
    let page = ReportPage { layout: Layout::new(&caller, &st, format!("{} {}", r.org_name, r.title)), r, rows, totals };
    html_page(actix_web::http::StatusCode::OK, page)
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/drill.html")]
pub struct DrillPage {
    layout: Layout,
    d: Drill,
    back: String,
}

pub async fn drill_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    name: web::Path<String>,
    q: web::Query<Query>,
) -> PageResult<DrillPage> {
    let req = q.request(&name, &caller)?;
    let back = format!("/reports/{}?org={}&period={}&date={}", req.name, req.org, req.period, q.date);
    let (c, school, column) = (caller.clone(), q.school.clone(), q.column.clone());
    let d = st.run(move |conn| service::drill(conn, &c, &req, &school, &column)).await?;
    Ok(DrillPage { layout: Layout::new(&caller, &st, format!("{} {}", d.school_name, d.column)), d, back })
}

/// `GET /api/v1/reports/{name}?org=&period=&date=&format=json|xlsx|pdf` (JSON by default).
pub async fn api_get(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    name: web::Path<String>,
    q: web::Query<Query>,
) -> AppResult<HttpResponse> {
    let req = q.request(&name, &c)?;
    let f = if q.format.trim().is_empty() { OutputFormat::Json } else { format_of(&q.format)? };
    match f {
        OutputFormat::Xlsx | OutputFormat::Pdf => {
            Ok(download(f, st.run(move |conn| render::export(conn, &c, &req, f)).await?))
        }
        _ => Ok(HttpResponse::Ok().json(st.run(move |conn| service::run(conn, &c, &req)).await?)),
    }
}

pub async fn api_drill(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    name: web::Path<String>,
    q: web::Query<Query>,
) -> AppResult<HttpResponse> {
    let req = q.request(&name, &c)?;
    let (school, column) = (q.school.clone(), q.column.clone());
    Ok(HttpResponse::Ok().json(st.run(move |conn| service::drill(conn, &c, &req, &school, &column)).await?))
}
