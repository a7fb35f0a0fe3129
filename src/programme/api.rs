//! `/api/v1` for the programme's configuration, calendars and rosters: the same services, scopes
//! and audit as the pages.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::input::{self, BuildBody, EndBody, JoinBody, ModelBody, PlanBody, StandardBody, SupplierBody};
use super::{calendar, config, roster};
use crate::auth::extract::ApiUser;
use crate::domain::roster::Step;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::exchange::roster_print::{self, FileFormat, Kind};
use crate::web::api_doc::{Body, Created, Done, FileReply, NewId, Reply};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::{AppState, PDF, XLSX, download, upload};

fn ok() -> AppResult<Reply<Done>> {
    Ok(Reply(Done::OK))
}

/// Everything configured that bears on the caller.
pub async fn overview(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    let v = st
        .run(move |conn| {
            Ok(Overview {
                plans: config::plans(conn, &c)?,
                schools: config::members(conn, &c)?,
                standards: config::standards(conn, &c)?,
                central_shares: config::central_shares(conn)?,
                suppliers: config::suppliers(conn, &c)?,
            })
        })
        .await?;
    Ok(Reply(v))
}

/// The programme's configuration as it bears on the caller.
#[derive(Serialize, JsonSchema)]
pub struct Overview {
    plans: Vec<config::PlanRow>,
    schools: Vec<config::MemberRow>,
    standards: Vec<config::StandardRow>,
    central_shares: Vec<config::ShareRow>,
    suppliers: Vec<config::SupplierRow>,
}

pub async fn set_plan(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<PlanBody>) -> AppResult<Reply<Done>> {
    let b = body.into_inner();
    let (year, plan) = b.parse()?;
    st.run(move |conn| config::set_plan(conn, &c, &b.county, year, plan)).await?;
    ok()
}

pub async fn join(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<JoinBody>) -> AppResult<Reply<Done>> {
    let b = body.into_inner();
    let (period, seat) = b.parse()?;
    st.run(move |conn| config::join(conn, &c, &b.school, period, seat, &b.note)).await?;
    ok()
}

pub async fn leave(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<EndBody>,
) -> AppResult<Reply<Done>> {
    let (id, day) = (path.into_inner(), body.parse()?);
    st.run(move |conn| config::leave(conn, &c, id, day)).await?;
    ok()
}

pub async fn add_standard(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<StandardBody>,
) -> AppResult<Created<impl Body>> {
    let input = body.parse()?;
    let id = st.run(move |conn| config::add_standard(conn, &c, input)).await?;
    Ok(Created::new(NewId { id }))
}

pub async fn end_standard(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<EndBody>,
) -> AppResult<Reply<Done>> {
    let (id, day) = (path.into_inner(), body.parse()?);
    st.run(move |conn| config::end_standard(conn, &c, id, day)).await?;
    ok()
}

pub async fn add_supplier(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<SupplierBody>,
) -> AppResult<Created<impl Body>> {
    let b = body.into_inner();
    let id = st.run(move |conn| config::add_supplier(conn, &c, &b.name, &b.credit_code, &b.contact, &b.phone)).await?;
    Ok(Created::new(NewId { id }))
}

pub async fn models(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    Ok(Reply(st.run(move |conn| config::models(conn, &c, &code)).await?))
}

pub async fn add_model(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    body: ApiJson<ModelBody>,
) -> AppResult<Created<impl Body>> {
    let (code, input) = (path.into_inner(), body.parse()?);
    let id = st.run(move |conn| config::add_model(conn, &c, &code, input)).await?;
    Ok(Created::new(NewId { id }))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct TermQuery {
    #[serde(default)]
    term: String,
    #[serde(default)]
    school: String,
    #[serde(default)]
    filename: String,
}

pub async fn calendar_get(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    q: ApiQuery<TermQuery>,
) -> AppResult<Reply<impl Body>> {
    let (code, t) = (path.into_inner(), input::term(&q.term)?);
    let (_, dates, months) = st.run(move |conn| calendar::term_view(conn, &c, &code, t)).await?;
    Ok(Reply(TermCalendar { term: t.to_string(), term_dates: dates.map(|d| (d.start, d.end)), months }))
}

/// A school's term: its first and last day, and each month's school days.
#[derive(Serialize, JsonSchema)]
pub struct TermCalendar {
    term: String,
    term_dates: Option<(NaiveDate, NaiveDate)>,
    months: Vec<calendar::MonthView>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DaysBody {
    days: String,
}

pub async fn calendar_put(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<(String, String)>,
    body: ApiJson<DaysBody>,
) -> AppResult<Reply<Done>> {
    let (code, month) = path.into_inner();
    let cal = input::month_days(&month, &body.days)?;
    st.run(move |conn| calendar::set_month(conn, &c, &code, &cal)).await?;
    ok()
}

/// The body is the file (.xlsx/.xls/CSV); `?filename=` names its type.
pub async fn calendar_import(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    q: ApiQuery<TermQuery>,
    upload::ApiBody(body): upload::ApiBody<{ calendar::MAX_UPLOAD }>,
) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    let name = if q.filename.is_empty() { "calendar.xlsx".to_owned() } else { q.filename.clone() };
    let n = st.run(move |conn| calendar::import(conn, &c, &code, &body, &name)).await?;
    Ok(Reply(Imported { months: n }))
}

/// How many months the calendar import set.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CalendarImported")]
pub struct Imported {
    months: usize,
}

pub async fn build(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<BuildBody>,
) -> AppResult<Created<impl Body>> {
    let b = body.into_inner();
    let (t, day) = b.parse()?;
    let mut built = st.run(move |conn| roster::build(conn, &c, &b.school, t, day, b.after_archive())).await?;
    built.roster = built.roster.shown();
    Ok(Created::repeated_if(!built.created, built))
}

/// `?term=` with `school=`: that school's versions; without: the overview of programme schools.
pub async fn list(st: web::Data<AppState>, ApiUser(c): ApiUser, q: ApiQuery<TermQuery>) -> AppResult<Reply<impl Body>> {
    let t = input::term(&q.term)?;
    let school = q.school.clone();
    let v = st
        .run(move |conn| {
            Ok(if school.is_empty() {
                Rosters::Overview(roster::overview(conn, &c, t)?)
            } else {
                Rosters::Versions(roster::versions(conn, &c, &school, t)?)
            })
        })
        .await?;
    Ok(Reply(v))
}

/// The overview of programme schools, or one school's versions.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Rosters {
    Overview(Vec<roster::OverviewRow>),
    Versions(Vec<roster::RosterHead>),
}

pub async fn get(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let (head, lines) = roster::shown(st.run(move |conn| roster::get(conn, &c, id)).await?);
    Ok(Reply(RosterDetail { roster: head, lines }))
}

/// A roster version and its lines.
#[derive(Serialize, JsonSchema)]
pub struct RosterDetail {
    roster: roster::RosterHead,
    lines: Vec<crate::domain::roster::RosterLine>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct StepBody {
    step: String,
    #[serde(default)]
    note: String,
}

pub fn parse_step(s: &str) -> AppResult<Step> {
    Step::parse(s)
        .ok_or_else(|| AppError::field("step", ErrorCode::RosterStep, "step 应为 sign、review、archive 或 return"))
}

pub async fn step(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<StepBody>,
) -> AppResult<Reply<impl Body>> {
    let (id, s) = (path.into_inner(), parse_step(&body.step)?);
    let note = body.note.clone();
    Ok(Reply(st.run(move |conn| roster::step(conn, &c, id, s, &note)).await?))
}

pub async fn discard(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<Reply<Done>> {
    let id = path.into_inner();
    st.run(move |conn| roster::discard(conn, &c, id)).await?;
    ok()
}

/// The county's roster review rule.
#[derive(Deserialize, JsonSchema)]
pub struct ReviewRuleBody {
    /// 审核 and 备案 by two different people.
    pub two_person: bool,
}

pub async fn review_rule(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<ReviewRuleBody>,
) -> AppResult<Reply<Done>> {
    let on = body.into_inner().two_person;
    st.run(move |conn| super::roster_review::set_two_person(conn, &c, on)).await?;
    ok()
}

/// `roster.pdf`, `roster.xlsx`, `public.pdf` or `public.xlsx`.
pub fn parse_file(name: &str) -> AppResult<(Kind, FileFormat)> {
    let (kind, ext) = name.split_once('.').ok_or_else(AppError::not_found)?;
    let kind = match kind {
        "roster" => Kind::Signed,
        "public" => Kind::Public,
        _ => return Err(AppError::not_found()),
    };
    Ok((kind, FileFormat::of(ext).ok_or_else(AppError::not_found)?))
}

pub fn file_response(name: &str, bytes: Vec<u8>, format: FileFormat) -> HttpResponse {
    download(bytes, name, if format == FileFormat::Pdf { PDF } else { XLSX })
}

/// How a roster prints: by class (the default: each class from a new page, with its total) or
/// with `by_class=0` the lines running on.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PrintQuery {
    #[serde(default)]
    by_class: String,
}

impl PrintQuery {
    pub fn by_class(&self) -> bool {
        !matches!(self.by_class.trim(), "0" | "false")
    }
}

pub async fn file(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<(i64, String)>,
    q: ApiQuery<PrintQuery>,
) -> AppResult<FileReply> {
    let (id, name) = path.into_inner();
    let (kind, format) = parse_file(&name)?;
    let by_class = q.into_inner().by_class();
    let (filename, bytes) = st.run(move |conn| roster_print::render(conn, &c, id, kind, format, by_class)).await?;
    Ok(FileReply(file_response(&filename, bytes, format)))
}
