//! `/api/v1` for the programme's configuration, calendars and rosters: the same services, scopes
//! and audit as the pages.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::input::{self, BuildBody, EndBody, JoinBody, ModelBody, PlanBody, StandardBody, SupplierBody};
use super::{calendar, config, roster};
use crate::auth::extract::ApiUser;
use crate::domain::roster::Step;
use crate::error::{AppError, AppResult};
use crate::exchange::roster_print::{self, FileFormat, Kind};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::{AppState, PDF, XLSX, download, upload};

type Json = AppResult<HttpResponse>;

fn ok() -> Json {
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}

/// Everything configured that bears on the caller.
pub async fn overview(st: web::Data<AppState>, ApiUser(c): ApiUser) -> Json {
    let v = st
        .run(move |conn| {
            Ok(serde_json::json!({
                "plans": config::plans(conn, &c)?,
                "schools": config::members(conn, &c)?,
                "standards": config::standards(conn, &c)?,
                "central_shares": config::central_shares(conn)?,
                "suppliers": config::suppliers(conn, &c)?,
            }))
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

pub async fn set_plan(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<PlanBody>) -> Json {
    let b = body.into_inner();
    let (year, plan) = b.parse()?;
    st.run(move |conn| config::set_plan(conn, &c, &b.county, year, plan)).await?;
    ok()
}

pub async fn join(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<JoinBody>) -> Json {
    let b = body.into_inner();
    let (period, seat) = b.parse()?;
    st.run(move |conn| config::join(conn, &c, &b.school, period, seat, &b.note)).await?;
    ok()
}

pub async fn leave(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>, body: ApiJson<EndBody>) -> Json {
    let (id, day) = (path.into_inner(), body.parse()?);
    st.run(move |conn| config::leave(conn, &c, id, day)).await?;
    ok()
}

pub async fn add_standard(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<StandardBody>) -> Json {
    let input = body.parse()?;
    let id = st.run(move |conn| config::add_standard(conn, &c, input)).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id })))
}

pub async fn end_standard(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<EndBody>,
) -> Json {
    let (id, day) = (path.into_inner(), body.parse()?);
    st.run(move |conn| config::end_standard(conn, &c, id, day)).await?;
    ok()
}

pub async fn add_supplier(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<SupplierBody>) -> Json {
    let b = body.into_inner();
    let id = st.run(move |conn| config::add_supplier(conn, &c, &b.name, &b.credit_code, &b.contact, &b.phone)).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id })))
}

pub async fn models(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<String>) -> Json {
    let code = path.into_inner();
    Ok(HttpResponse::Ok().json(st.run(move |conn| config::models(conn, &c, &code)).await?))
}

pub async fn add_model(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    body: ApiJson<ModelBody>,
) -> Json {
    let (code, input) = (path.into_inner(), body.parse()?);
    let id = st.run(move |conn| config::add_model(conn, &c, &code, input)).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id })))
}

#[derive(Deserialize)]
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
) -> Json {
    let (code, t) = (path.into_inner(), input::term(&q.term)?);
    let (_, dates, months) = st.run(move |conn| calendar::term_view(conn, &c, &code, t)).await?;
    Ok(HttpResponse::Ok().json(
        serde_json::json!({ "term": t.to_string(), "term_dates": dates.map(|d| (d.start, d.end)), "months": months }),
    ))
}

#[derive(Deserialize)]
pub struct DaysBody {
    days: String,
}

pub async fn calendar_put(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<(String, String)>,
    body: ApiJson<DaysBody>,
) -> Json {
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
) -> Json {
    let code = path.into_inner();
    let name = if q.filename.is_empty() { "calendar.xlsx".to_owned() } else { q.filename.clone() };
    let n = st.run(move |conn| calendar::import(conn, &c, &code, &body, &name)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "months": n })))
}

pub async fn build(st: web::Data<AppState>, ApiUser(c): ApiUser, body: ApiJson<BuildBody>) -> Json {
    let b = body.into_inner();
    let (t, day) = b.parse()?;
    let mut built = st.run(move |conn| roster::build(conn, &c, &b.school, t, day, b.after_archive())).await?;
    built.roster = built.roster.shown();
    Ok(if built.created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(built))
}

/// `?term=` with `school=`: that school's versions; without: the overview of programme schools.
pub async fn list(st: web::Data<AppState>, ApiUser(c): ApiUser, q: ApiQuery<TermQuery>) -> Json {
    let t = input::term(&q.term)?;
    let school = q.school.clone();
    let v = st
        .run(move |conn| {
            Ok(if school.is_empty() {
                serde_json::to_value(roster::overview(conn, &c, t)?)
            } else {
                serde_json::to_value(roster::versions(conn, &c, &school, t)?)
            })
        })
        .await?
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(v))
}

pub async fn get(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> Json {
    let id = path.into_inner();
    let (head, lines) = roster::shown(st.run(move |conn| roster::get(conn, &c, id)).await?);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "roster": head, "lines": lines })))
}

#[derive(Deserialize)]
pub struct StepBody {
    step: String,
    #[serde(default)]
    note: String,
}

pub fn parse_step(s: &str) -> AppResult<Step> {
    Step::parse(s).ok_or_else(|| AppError::field("step", "roster.step", "step 应为 sign、review、archive 或 return"))
}

pub async fn step(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>, body: ApiJson<StepBody>) -> Json {
    let (id, s) = (path.into_inner(), parse_step(&body.step)?);
    let note = body.note.clone();
    Ok(HttpResponse::Ok().json(st.run(move |conn| roster::step(conn, &c, id, s, &note)).await?))
}

pub async fn discard(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> Json {
    let id = path.into_inner();
    st.run(move |conn| roster::discard(conn, &c, id)).await?;
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

pub async fn file(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<(i64, String)>) -> Json {
    let (id, name) = path.into_inner();
    let (kind, format) = parse_file(&name)?;
    let (filename, bytes) = st.run(move |conn| roster_print::render(conn, &c, id, kind, format)).await?;
    Ok(file_response(&filename, bytes, format))
}
