//! Pages and API for reconciliation: a county's (or a school's) month with its flags, the
//! 资金拨付审批表 as PDF and xlsx, and the imports of expenditures and meals served.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::api::parse_month;
use super::import::{self, MealsReport};
use super::reconcile::{self, Reconciliation};
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::calendar::Span;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::exchange::disbursement;
use crate::web::api_doc::{Body, Done, FileReply, Reply};
use crate::web::{AppState, FormErrors, Layout, PageResult, html_page, see_other, upload};

#[derive(Deserialize, schemars::JsonSchema)]
pub struct Query {
    #[serde(default)]
    org: String,
    #[serde(default, rename = "period", alias = "month")]
    month: String,
    #[serde(default)]
    fund: String,
    /// "1": the page lists only the schools with a flag (the totals stay the county's).
    #[serde(default)]
    flagged: String,
}

use super::web::last_month;
use crate::domain::ledger::Fund;
use crate::web::strict::{ApiJson, ApiQuery};

/// 膳食补助 unless 一补 is asked for.
fn fund_or_meal(s: &str) -> AppResult<Fund> {
    if s.trim().is_empty() {
        return Ok(Fund::Meal);
    }
    Fund::parse(s).map_err(|m| AppError::field("fund", ErrorCode::LedgerFund, m))
}

/// A month, a term or a school year (the `period` parameter); when empty last month (the meal
/// fund) or this term (一补).
fn period_for(s: &str, fund: Fund, today: NaiveDate) -> AppResult<Span> {
    if s.trim().is_empty() && fund == Fund::Yibu {
        return Ok(Span::of_term(crate::domain::term::Term::of_day(today)));
    }
    period_or_last("period", s, today)
}

/// A month, a term or a school year read from `field`; last month when empty.
fn period_or_last(field: &str, s: &str, today: NaiveDate) -> AppResult<Span> {
    if s.trim().is_empty() {
        return Ok(Span::of_month(last_month(today)));
    }
    Span::parse(s).map_err(|m| AppError::field(field, ErrorCode::PeriodFormat, m))
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger/reconcile.html")]
pub struct Page {
    layout: Layout,
    org: String,
    r: Reconciliation,
    can_import: bool,
    errors: FormErrors,
    /// Only the flagged schools are listed.
    flagged_only: bool,
}

impl Page {
    fn flagged_count(&self) -> usize {
        self.r.rows.iter().filter(|s| !s.flags.is_empty()).count()
    }
}

async fn page_of(
    st: &AppState,
    caller: Caller,
    org: String,
    m: Span,
    fund: Fund,
    errors: FormErrors,
) -> PageResult<Page> {
    let org = if org.is_empty() { caller.org_code.clone() } else { org };
    let (c, o) = (caller.clone(), org.clone());
    let r = st.read(move |conn| reconcile::county_period(conn, &c, &o, &m, fund)).await?;
    Ok(Page {
        layout: Layout::new(&caller, st, format!("资金对账 {}", r.month)),
        org,
        r,
        can_import: caller.may(Permission::PostLedger),
        errors,
        flagged_only: false,
    })
}

/// Above a county: the counties to choose from, each linking to its reconciliation.
#[derive(Template, WebTemplate)]
#[template(path = "ledger/reconcile_counties.html")]
pub struct CountiesPage {
    layout: Layout,
    org: crate::org::model::Org,
    counties: Vec<crate::org::model::Org>,
    month: String,
    fund: &'static str,
}

pub async fn page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<Query>,
) -> PageResult<actix_web::Either<Page, CountiesPage>> {
    let q = q.into_inner();
    let fund = fund_or_meal(&q.fund)?;
    let period = period_for(&q.month, fund, caller.today())?;
    let asked = if q.org.is_empty() { caller.org_code.clone() } else { q.org.clone() };
    let c = caller.clone();
    if let Some((org, counties)) = st.run(move |conn| reconcile::counties_to_choose(conn, &c, &asked)).await? {
        return Ok(actix_web::Either::Right(CountiesPage {
            layout: Layout::new(&caller, st.get_ref(), format!("资金对账 {}", org.name)),
            org,
            counties,
            month: period.to_string(),
            fund: fund.as_str(),
        }));
    }
    let mut page = page_of(&st, caller, q.org, period, fund, FormErrors::none()).await?;
    page.flagged_only = q.flagged == "1";
    Ok(actix_web::Either::Left(page))
}

/// `disbursement.pdf` or `disbursement.xlsx` of a county's period, audited.
fn form_file(
    conn: &mut crate::db::DbConn,
    caller: &Caller,
    org: &str,
    m: &Span,
    fund: Fund,
    file: &str,
) -> AppResult<(Vec<u8>, &'static str, String)> {
    let ext = match file {
        "disbursement.pdf" => "pdf",
        "disbursement.xlsx" => "xlsx",
        _ => return Err(AppError::not_found()),
    };
    let r = reconcile::county_period(conn, caller, org, m, fund)?;
    disbursement::export(conn, caller, &r, ext)
}

/// The approval form under its Chinese name (RFC 6266 `filename*`, as every download).
fn download((bytes, mime, name): (Vec<u8>, &'static str, String)) -> HttpResponse {
    crate::web::download(bytes, &name, mime)
}

pub async fn page_file(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<(String, String, String)>,
    q: web::Query<Query>,
) -> PageResult<HttpResponse> {
    let (org, month, file) = path.into_inner();
    let (m, fund) = (period_or_last("period", &month, caller.today())?, fund_or_meal(&q.fund)?);
    Ok(download(st.run(move |conn| form_file(conn, &caller, &org, &m, fund, &file)).await?))
}

pub async fn page_import(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let form = upload::read_page_form(&st, &caller, &req, form, import::MAX_UPLOAD).await?;
    let (org, m) = (form.text("org").to_owned(), period_or_last("month", form.text("month"), caller.today())?);
    let fund = fund_or_meal(form.text("fund"))?;
    let what = form.text("what").to_owned();
    let Some(file) = form.file("file") else {
        let e = AppError::field("file", ErrorCode::LedgerNoFile, "请选择要导入的文件");
        return html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            page_of(&st, caller, org, m, fund, FormErrors::from_error(&e)).await?,
        );
    };
    let (bytes, name) = (file.bytes.clone(), file.filename.clone());
    let c = caller.clone();
    let result = st
        .run(move |conn| match what.as_str() {
            "meals" => import::meals(conn, &c, &bytes, &name).map(|_| ()),
            _ => import::expenditures(conn, &c, &bytes, &name).map(|_| ()),
        })
        .await;
    match result {
        Ok(()) => Ok(see_other(&format!("/reconciliation?org={org}&month={m}&fund={}", fund.as_str()))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            page_of(&st, caller, org, m, fund, FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

/// `?org=&month=`: the reconciliation as JSON (money as decimal strings).
pub async fn api_get(st: web::Data<AppState>, ApiUser(c): ApiUser, q: ApiQuery<Query>) -> AppResult<Reply<impl Body>> {
    let q = q.into_inner();
    let fund = fund_or_meal(&q.fund)?;
    let m = period_for(&q.month, fund, c.today())?;
    let org = if q.org.is_empty() { c.org_code.clone() } else { q.org };
    Ok(Reply(st.read(move |conn| reconcile::county_period(conn, &c, &org, &m, fund)).await?))
}

pub async fn api_file(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<(String, String, String)>,
    q: ApiQuery<FundQuery>,
) -> AppResult<FileReply> {
    let (org, month, file) = path.into_inner();
    let (m, fund) = (period_or_last("period", &month, c.today())?, fund_or_meal(&q.fund)?);
    Ok(FileReply(download(st.run(move |conn| form_file(conn, &c, &org, &m, fund, &file)).await?)))
}

/// A form's fund; the org and the period are in its path.
#[derive(Deserialize, schemars::JsonSchema)]
pub struct FundQuery {
    #[serde(default)]
    fund: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct FileQuery {
    #[serde(default)]
    filename: String,
}

/// The workbook as the request body; `?filename=` tells its format.
pub async fn api_import_expenditures(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<FileQuery>,
    upload::ApiBody(body): upload::ApiBody<{ import::MAX_UPLOAD }>,
) -> AppResult<Reply<impl Body>> {
    let name = if q.filename.is_empty() { "expenditures.xlsx".to_owned() } else { q.filename.clone() };
    Ok(Reply(st.run(move |conn| import::expenditures(conn, &c, &body, &name)).await?))
}

pub async fn api_import_meals(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<FileQuery>,
    upload::ApiBody(body): upload::ApiBody<{ import::MAX_UPLOAD }>,
) -> AppResult<Reply<impl Body>> {
    let name = if q.filename.is_empty() { "meals.xlsx".to_owned() } else { q.filename.clone() };
    let n = st.run(move |conn| import::meals(conn, &c, &body, &name)).await?;
    Ok(Reply(MealsImported { schools: n }))
}

/// How many schools' months the import recorded.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct MealsImported {
    schools: usize,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct MealsBody {
    days_served: i32,
    meals: i32,
}

pub async fn api_put_meals(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<(String, String)>,
    body: ApiJson<MealsBody>,
) -> AppResult<Reply<impl Body>> {
    let (school, month) = path.into_inner();
    let m = parse_month(&month)?;
    if body.days_served < 0 || body.meals < 0 {
        return Err(AppError::field("meals", ErrorCode::MealsCount, "供餐天数和就餐人次不能为负数"));
    }
    let report = MealsReport { school, month: m, days_served: body.days_served, meals: body.meals };
    st.run(move |conn| import::record_meals(conn, &c, &[report])).await?;
    Ok(Reply(Done::OK))
}
