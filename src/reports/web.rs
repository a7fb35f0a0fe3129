//! Pages and API for the statutory reports: a chooser, a drawn report with every figure linking
//! to what it counts, downloads as xlsx/PDF, and the JSON of SPEC §12.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::render::{self, OutputFormat};
use super::service::{self, Drill, Report, Request};
use super::submission::{self, Decision};
use crate::auth::Caller;
use crate::auth::extract::CsrfForm;
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::calendar::{Month, Span};
use crate::domain::report::{Definition, Value};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::submission::SubmissionStatus;
use crate::error::ErrorKind;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::web::api_doc::{Body, Created, Reply, ReplyOrFile};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::{AppState, FormErrors, Layout, PageResult, confirm, html_page, see_other};

#[derive(Deserialize, Default, schemars::JsonSchema)]
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
            Span::of_month(Month::of(caller.today()).prev())
        } else {
            Span::parse(&self.period).map_err(|m| AppError::field("period", ErrorCode::PeriodFormat, m))?
        };
        let date = match self.date.trim() {
            "" => None,
            d => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                AppError::field("date", ErrorCode::ReportDate, format!("报表日“{d}”应写作 YYYY-MM-DD"))
            })?),
        };
        let org = if self.org.trim().is_empty() { caller.org_code.clone() } else { self.org.trim().to_owned() };
        Ok(Request { name: name.to_owned(), org, period, date })
    }
}

/// A report's workbook or PDF under its Chinese name (RFC 6266 `filename*`, as every download).
fn download(f: OutputFormat, (bytes, name): (Vec<u8>, String)) -> HttpResponse {
    crate::web::download(bytes, &name, f.mime())
}

fn format_of(s: &str) -> AppResult<OutputFormat> {
    OutputFormat::parse(s).map_err(|m| AppError::field("format", ErrorCode::ReportFormat, m))
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/index.html")]
pub struct IndexPage {
    layout: Layout,
    reports: Vec<(String, String, &'static str)>,
    org: String,
    /// A school reports on itself only: its org is fixed, not typed.
    own_only: bool,
    period: String,
    /// The caller's own org's report for this term and the last, with where it stands.
    due: Vec<submission::Due>,
}

pub async fn index(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<IndexPage> {
    let reports = Definition::names()
        .into_iter()
        .filter_map(|n| Definition::named(n).ok())
        .filter(|d| d.level.open_to(caller.org_kind))
        .map(|d| {
            let level = match d.level {
                crate::domain::report::Level::School => "学校",
                crate::domain::report::Level::County => "县及以上",
                crate::domain::report::Level::Any => "学校或县及以上",
            };
            (d.name, d.title, level)
        })
        .collect();
    let term = crate::domain::term::Term::of_day(caller.today());
    let c = caller.clone();
    let due = st.run(move |conn| submission::due(conn, &c, term)).await?;
    Ok(IndexPage {
        layout: Layout::new(&caller, &st, "统计报表"),
        reports,
        org: caller.org_code.clone(),
        own_only: caller.org_kind == OrgKind::School,
        // What is owed is the term's report: the list starts there.
        period: term.to_string(),
        due,
    })
}

/// A figure as the page shows it.
struct CellView {
    text: String,
    key: String,
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
    can_submit: bool,
}

fn cells(r: &Report, row: Option<usize>, values: &[Value]) -> Vec<CellView> {
    values
        .iter()
        .enumerate()
        .map(|(j, v)| CellView {
            text: v.text(),
            key: r.columns.get(j).map_or(String::new(), |c| c.key.clone()),
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
    let r = st.read(move |conn| service::run(conn, &c, &req)).await?;
    let rows = r.rows.iter().enumerate().map(|(i, v)| cells(&r, Some(i), v)).collect();
    let totals = cells(&r, None, &r.totals);
    let can_submit = submission::may_submit(&caller, &r.org).is_ok();
    let layout = Layout::new(&caller, &st, format!("{} {}", r.org_name, r.title));
    let page = ReportPage { layout, r, rows, totals, can_submit };
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
    let d = st.read(move |conn| service::drill(conn, &c, &req, &school, &column)).await?;
    Ok(DrillPage { layout: Layout::new(&caller, &st, format!("{} {}", d.school_name, d.column)), d, back })
}

/// `GET /api/v1/reports/{name}?org=&period=&date=&format=json|xlsx|pdf` (JSON by default).
pub async fn api_get(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    name: web::Path<String>,
    q: ApiQuery<Query>,
) -> AppResult<ReplyOrFile<impl Body>> {
    let req = q.request(&name, &c)?;
    let f = if q.format.trim().is_empty() { OutputFormat::Json } else { format_of(&q.format)? };
    match f {
        OutputFormat::Xlsx | OutputFormat::Pdf => {
            Ok(ReplyOrFile::File(download(f, st.run(move |conn| render::export(conn, &c, &req, f)).await?)))
        }
        _ => Ok(ReplyOrFile::Reply(st.read(move |conn| service::run(conn, &c, &req)).await?)),
    }
}

pub async fn api_drill(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    name: web::Path<String>,
    q: ApiQuery<Query>,
) -> AppResult<Reply<impl Body>> {
    let req = q.request(&name, &c)?;
    let (school, column) = (q.school.clone(), q.column.clone());
    Ok(Reply(st.read(move |conn| service::drill(conn, &c, &req, &school, &column)).await?))
}

// ---- Submissions: frozen snapshots, sign-off, lateness ----

#[derive(Deserialize)]
pub struct SubmitForm {
    #[serde(default)]
    org: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    date: String,
    /// "1" once the confirmation step was answered (`web::confirm`).
    #[serde(default)]
    confirmed: String,
}

impl SubmitForm {
    fn request(&self, name: &str, caller: &Caller) -> AppResult<Request> {
        Query { org: self.org.clone(), period: self.period.clone(), date: self.date.clone(), ..Query::default() }
            .request(name, caller)
    }
}

/// The report page's 报送 button: freezes the report as the org's next version.
pub async fn submit_page(
    st: web::Data<AppState>,
    name: web::Path<String>,
    f: CsrfForm<SubmitForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let req = form.request(&name, &user)?;
    if !confirm::confirmed(&form.confirmed) {
        let title = Definition::named(&name).map(|d| d.title).unwrap_or_default();
        let period = crate::domain::term::Term::parse(&req.period.to_string())
            .map_or_else(|_| req.period.to_string(), crate::domain::term::Term::label);
        let what = format!("报送{}{period}的《{title}》", user.org_name);
        let (action, back) =
            (format!("/reports/{name}/submit"), format!("/reports/{name}?org={}&period={}", form.org, form.period));
        let ask = confirm::Ask {
            what: &what,
            consequence: "报送后本版冻结为不可更改的一版（保存内容与哈希），由上级审核；如需更正，只能再报送新的一版，原版留档。",
            action: &action,
            fields: &[("org", &form.org), ("period", &form.period), ("date", &form.date)],
            button: "确认报送",
            back: &back,
        };
        return confirm::page(Layout::new(&user, &st, "确认报送"), &ask);
    }
    let done = st.run(move |conn| submission::submit(conn, &user, &req)).await?;
    Ok(see_other(&format!("/reports/submissions/{}", done.submission.id)))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct OverviewQuery {
    #[serde(default)]
    report: String,
    #[serde(default)]
    period: String,
}

impl OverviewQuery {
    fn parts(&self, today: NaiveDate) -> AppResult<(String, Span)> {
        let report =
            if self.report.trim().is_empty() { "school-regular".to_owned() } else { self.report.trim().to_owned() };
        let period = if self.period.trim().is_empty() {
            Ok(Span::of_term(crate::domain::term::Term::of_day(today)))
        } else {
            Span::parse(&self.period)
        }
        .map_err(|m| AppError::field("period", ErrorCode::PeriodFormat, m))?;
        Ok((report, period))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/submissions.html")]
pub struct OverviewPage {
    layout: Layout,
    report: String,
    title: String,
    period: String,
    owed: Vec<submission::Owed>,
    /// The reports the caller's level deals with as (name, title), for the chooser.
    names: Vec<(String, String)>,
    /// The caller's own org, whose row of the list can be submitted from it.
    own_org: String,
    may_submit: bool,
}

impl OverviewPage {
    /// The caller's own row, not yet submitted or sent back: 报送 right from the list.
    fn may_submit_row(&self, o: &submission::Owed) -> bool {
        self.may_submit
            && o.org == self.own_org
            && o.latest.as_ref().is_none_or(|s| s.status == SubmissionStatus::Rejected)
    }
}

pub async fn overview_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<OverviewQuery>,
) -> PageResult<OverviewPage> {
    let (report, period) = q.parts(caller.today())?;
    let title = Definition::named(&report).map(|d| d.title).unwrap_or_default();
    let (c, r, p) = (caller.clone(), report.clone(), period.clone());
    let owed = st.run(move |conn| submission::overview(conn, &c, &r, &p)).await?;
    Ok(OverviewPage {
        layout: Layout::new(&caller, &st, "报表报送情况"),
        report,
        title,
        period: period.to_string(),
        owed,
        names: Definition::names()
            .into_iter()
            .filter_map(|n| Definition::named(n).ok())
            .filter(|d| d.level.open_to(caller.org_kind))
            .map(|d| (d.name, d.title))
            .collect(),
        own_org: caller.org_code.clone(),
        may_submit: caller.may(Permission::SubmitReports),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/submission.html")]
pub struct SubmissionPage {
    layout: Layout,
    s: submission::Submission,
    r: Report,
    history: Vec<submission::Submission>,
    can_decide: bool,
    errors: FormErrors,
}

async fn submission_page_of(st: &AppState, caller: Caller, id: i64, errors: FormErrors) -> PageResult<SubmissionPage> {
    let c = caller.clone();
    let (s, r, history) = st
        .run(move |conn| {
            let (s, r) = submission::get(conn, &c, id)?;
            let history = submission::history(conn, &c, id)?;
            Ok((s, r, history))
        })
        .await?;
    let can_decide = submission::may_decide(&caller, &s).is_ok();
    Ok(SubmissionPage {
        layout: Layout::new(&caller, st, format!("{} 第{}版", s.org_name, s.version)),
        s,
        r,
        history,
        can_decide,
        errors,
    })
}

pub async fn submission_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    id: web::Path<i64>,
) -> PageResult<SubmissionPage> {
    submission_page_of(&st, caller, id.into_inner(), FormErrors::none()).await
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

pub async fn decide_page(
    st: web::Data<AppState>,
    id: web::Path<i64>,
    f: CsrfForm<DecideForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = id.into_inner();
    let c = user.clone();
    let result = st
        .run(move |conn| {
            let d = Decision::parse(&form.decision)
                .map_err(|m| AppError::field("decision", ErrorCode::ReportDecision, m))?;
            submission::decide(conn, &c, id, d, &form.note)
        })
        .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/reports/submissions/{id}"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => html_page(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            submission_page_of(&st, user, id, FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SubmitBody {
    org: String,
    period: String,
    #[serde(default)]
    date: String,
}

/// `POST /api/v1/reports/{name}/submissions {org, period, date?}`.
pub async fn api_submit(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    name: web::Path<String>,
    body: ApiJson<SubmitBody>,
) -> AppResult<Created<impl Body>> {
    let b = body.into_inner();
    let req = SubmitForm { org: b.org, period: b.period, date: b.date, confirmed: String::new() }.request(&name, &c)?;
    let done = st.run(move |conn| submission::submit(conn, &c, &req)).await?;
    Ok(Created::repeated_if(!done.created, done))
}

/// `GET /api/v1/report-submissions?report=&period=`: who owes what, late first.
pub async fn api_overview(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<OverviewQuery>,
) -> AppResult<Reply<impl Body>> {
    let (report, period) = q.parts(c.today())?;
    Ok(Reply(st.run(move |conn| submission::overview(conn, &c, &report, &period)).await?))
}

/// `GET /api/v1/report-submissions/{id}`: the submission and its frozen report.
pub async fn api_submission(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    id: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = id.into_inner();
    let (s, r) = st.run(move |conn| submission::get(conn, &c, id)).await?;
    Ok(Reply(SubmissionDetail { submission: s, report: r }))
}

/// A submission and the report as it was frozen when submitted.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct SubmissionDetail {
    submission: submission::Submission,
    report: service::Report,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DecisionBody {
    decision: String,
    #[serde(default)]
    note: String,
}

/// `POST /api/v1/report-submissions/{id}/decision {decision: approve|approve_with_reservations|reject, note}`.
pub async fn api_decide(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    id: web::Path<i64>,
    body: ApiJson<DecisionBody>,
) -> AppResult<Reply<impl Body>> {
    let (id, b) = (id.into_inner(), body.into_inner());
    let d = Decision::parse(&b.decision).map_err(|m| AppError::field("decision", ErrorCode::ReportDecision, m))?;
    Ok(Reply(st.run(move |conn| submission::decide(conn, &c, id, d, &b.note)).await?))
}

// ---- Dashboard ----

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DashboardQuery {
    #[serde(default)]
    org: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/dashboard.html")]
pub struct DashboardPage {
    layout: Layout,
    d: super::dashboard::Dashboard,
    report_period: String,
    is_school: bool,
}

/// `/dashboard?org=`: the org's charts (the caller's own org by default).
pub async fn dashboard_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<DashboardQuery>,
) -> PageResult<DashboardPage> {
    let (c, org) = (caller.clone(), q.org.clone());
    let d = st.read(move |conn| super::dashboard::build(conn, &c, &org)).await?;
    let is_school = d.is_school;
    Ok(DashboardPage {
        layout: Layout::new(&caller, &st, format!("{} 数据看板", d.org_name)),
        report_period: d.term.clone(),
        is_school,
        d,
    })
}

/// `GET /api/v1/todo`: what waits for the caller, as the home page lists it.
pub async fn api_todo(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(st.run(move |conn| super::todo::for_caller(conn, &c)).await?))
}

/// `GET /api/v1/dashboard?org=`: the figures behind the charts.
pub async fn api_dashboard(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<DashboardQuery>,
) -> AppResult<Reply<impl Body>> {
    let org = q.org.clone();
    Ok(Reply(st.read(move |conn| super::dashboard::build(conn, &c, &org)).await?))
}
