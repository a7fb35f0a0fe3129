//! The exchange's page and API: a province's office makes its package and takes back what the
//! centre found; the centre's office registers provinces, takes their packages, reads the
//! double claims and the national roll-up, and makes each province's package back.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::{Deserialize, Serialize};

use super::centre::{self, Claim, Imported, Province, ReturnMade, RollupRow};
use super::province::{self, Exported, MatchRow, Received, Sent};
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, CsrfForm, PageUser};
use crate::domain::calendar::{Month, Span};
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::web::api_doc::{Body, FileReply, Reply};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, html_page, see_other, upload};

/// The largest package taken over the web (a province's package for a term is tens of MB at
/// most per million children; larger ones go through `mealroll central import`).
pub const MAX_PACKAGE: usize = 256 * 1024 * 1024;

fn period_or_last(s: &str, caller: &Caller) -> AppResult<Span> {
    if s.trim().is_empty() {
        return Ok(Span::of_month(Month::of(caller.today()).prev()));
    }
    Span::parse(s).map_err(|m| AppError::field("period", ErrorCode::PeriodFormat, m))
}

/// What the page shows a province's office.
pub struct ProvinceView {
    pub code: String,
    pub public_key: String,
    pub sent: Vec<Sent>,
    pub matches: Vec<MatchRow>,
}

/// What the page shows the centre's office.
pub struct CentreView {
    pub public_key: String,
    pub provinces: Vec<Province>,
    pub choices: Vec<(String, String)>,
    pub claims: Vec<Claim>,
    pub rollup: Vec<RollupRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "central/index.html")]
pub struct Page {
    layout: Layout,
    period: String,
    province: Option<ProvinceView>,
    centre: Option<CentreView>,
    errors: FormErrors,
    flash: String,
}

async fn page_of(st: &AppState, caller: Caller, period: &str, errors: FormErrors, flash: String) -> PageResult<Page> {
    if !caller.may(Permission::ExchangeCentral) || !matches!(caller.org_kind, OrgKind::Province | OrgKind::Ministry) {
        return Err(AppError::forbidden().into());
    }
    let span = period_or_last(period, &caller).or_else(|_| period_or_last("", &caller))?;
    let label = span.to_string();
    let keys = st.keys.clone();
    let c = caller.clone();
    let (province, centre) = st
        .run(move |conn| {
            if c.org_kind == OrgKind::Province {
                let view = ProvinceView {
                    code: c.org_code.clone(),
                    public_key: centre::province_public_key(&keys, &c.org_code),
                    sent: province::sent(conn, &c)?,
                    matches: province::matches(conn, &c)?,
                };
                return Ok((Some(view), None));
            }
            let view = CentreView {
                public_key: centre::centre_public_key(&keys),
                provinces: centre::provinces(conn, &c)?,
                choices: centre::province_choices(conn)?,
                claims: centre::claims(conn, &c, None)?,
                rollup: centre::rollup(conn, &c, &span)?,
            };
            Ok((None, Some(view)))
        })
        .await?;
    Ok(Page {
        layout: Layout::new(&caller, st, "全国比对（交换包）"), period: label, province, centre, errors, flash
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct PeriodQuery {
    #[serde(default)]
    period: String,
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    ok: Option<String>,
    #[serde(default)]
    n: Option<u32>,
}

pub async fn page(st: web::Data<AppState>, PageUser(caller): PageUser, q: web::Query<PageQuery>) -> PageResult<Page> {
    let q = q.into_inner();
    let flash = Flash { ok: q.ok, n: q.n }.message();
    page_of(&st, caller, &q.period, FormErrors::none(), flash).await
}

/// A refusal the person can act on is shown on the page; anything else is the error page.
async fn answer(st: &AppState, caller: Caller, r: AppResult<String>) -> PageResult<HttpResponse> {
    match r {
        Ok(to) => Ok(see_other(&to)),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict | ErrorKind::NotFound) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            page_of(st, caller, "", FormErrors::from_error(&e), String::new()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ExportForm {
    #[serde(default)]
    period: String,
}

pub async fn export_form(st: web::Data<AppState>, f: CsrfForm<ExportForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let r = export_for(&st, user.clone(), &form.period)
        .await
        .map(|(made, _)| format!("/central?ok=central_exported&n={}", made.seq));
    answer(&st, user, r).await
}

async fn export_for(st: &AppState, caller: Caller, period: &str) -> AppResult<(Exported, Vec<u8>)> {
    let national = super::national_key(&st.settings)?;
    let span = Span::parse(period).map_err(|m| AppError::field("period", ErrorCode::PeriodFormat, m))?;
    let keys = st.keys.clone();
    st.run(move |conn| {
        let province = caller.org_code.clone();
        province::export(conn, &caller, &keys, &national, &province, &span)
    })
    .await
}

pub async fn sent_file(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let (bytes, name) = st.run(move |conn| province::sent_file(conn, &caller, id)).await?;
    Ok(crate::web::download(bytes, &name, "application/json"))
}

/// A package file from a page's upload (field `file`).
async fn uploaded(st: &AppState, caller: &Caller, req: &actix_web::HttpRequest, form: Multipart) -> AppResult<Vec<u8>> {
    let form = upload::read_page_form(st, caller, req, form, MAX_PACKAGE).await?;
    form.file("file")
        .map(|f| f.bytes.clone())
        .ok_or_else(|| AppError::field("file", ErrorCode::CentralMalformed, "请选择交换包文件（.json）"))
}

/// Where a package taken sends the page: its notice, or that it had been taken before.
fn taken(again: bool, ok: &str, n: usize) -> String {
    if again { "/central?ok=central_again".to_owned() } else { format!("/central?ok={ok}&n={n}") }
}

pub async fn receive_form(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let r = async {
        let r = receive_bytes(&st, caller.clone(), uploaded(&st, &caller, &req, form).await?).await?;
        Ok(taken(r.again, "central_received", r.matches))
    };
    let r = r.await;
    answer(&st, caller, r).await
}

async fn receive_bytes(st: &AppState, caller: Caller, bytes: Vec<u8>) -> AppResult<Received> {
    let national = super::national_key(&st.settings)?;
    let centre_key = st.settings.centre_key.clone();
    st.run(move |conn| province::receive(conn, &caller, centre_key.as_deref(), &national, &bytes)).await
}

pub async fn import_form(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let r = async {
        let r = import_bytes(&st, caller.clone(), uploaded(&st, &caller, &req, form).await?).await?;
        Ok(taken(r.again, "central_imported", r.claims))
    };
    let r = r.await;
    answer(&st, caller, r).await
}

async fn import_bytes(st: &AppState, caller: Caller, bytes: Vec<u8>) -> AppResult<Imported> {
    let national = super::national_key(&st.settings)?;
    st.run(move |conn| centre::import(conn, &caller, &national, &bytes)).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RegisterForm {
    #[serde(default)]
    province: String,
    #[serde(default)]
    key: String,
}

pub async fn register_form(st: web::Data<AppState>, f: CsrfForm<RegisterForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let c = user.clone();
    let r = st
        .run(move |conn| centre::register(conn, &c, &form.province, &form.key))
        .await
        .map(|_| "/central?ok=central_registered".to_owned());
    answer(&st, user, r).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ReturnForm {
    #[serde(default)]
    province: String,
}

/// Makes the province's package back and hands it over as a download.
pub async fn return_form(st: web::Data<AppState>, f: CsrfForm<ReturnForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    match return_for(&st, user.clone(), form.province).await {
        Ok((made, bytes)) => Ok(crate::web::download(bytes, &made.file_name, "application/json")),
        Err(e) => answer(&st, user, Err(e)).await,
    }
}

async fn return_for(st: &AppState, caller: Caller, province: String) -> AppResult<(ReturnMade, Vec<u8>)> {
    let national = super::national_key(&st.settings)?;
    let keys = st.keys.clone();
    st.run(move |conn| centre::make_return(conn, &caller, &keys, &national, &province)).await
}

// The API: the same services, packages as the request or response body.

/// A package made, with the package itself.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ExportReply {
    #[serde(flatten)]
    made: Exported,
    /// The signed package, as the file carries it.
    package: crate::domain::central::Package,
}

pub async fn export_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<ExportForm>,
) -> AppResult<Reply<impl Body>> {
    let (made, bytes) = export_for(&st, c, &body.period).await?;
    let package = serde_json::from_slice(&bytes).map_err(AppError::internal)?;
    Ok(Reply(ExportReply { made, package }))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct SentList {
    packages: Vec<Sent>,
}

pub async fn sent_api(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(SentList { packages: st.run(move |conn| province::sent(conn, &c)).await? }))
}

pub async fn sent_file_api(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<FileReply> {
    let id = path.into_inner();
    let (bytes, name) = st.run(move |conn| province::sent_file(conn, &c, id)).await?;
    Ok(FileReply(crate::web::download(bytes, &name, "application/json")))
}

pub async fn receive_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    upload::ApiBody(body): upload::ApiBody<MAX_PACKAGE>,
) -> AppResult<Reply<impl Body>> {
    Ok(Reply(receive_bytes(&st, c, body).await?))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct MatchList {
    matches: Vec<MatchRow>,
}

pub async fn matches_api(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(MatchList { matches: st.run(move |conn| province::matches(conn, &c)).await? }))
}

pub async fn import_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    upload::ApiBody(body): upload::ApiBody<MAX_PACKAGE>,
) -> AppResult<Reply<impl Body>> {
    Ok(Reply(import_bytes(&st, c, body).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RegisterBody {
    province: String,
    key: String,
}

pub async fn register_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<RegisterBody>,
) -> AppResult<Reply<impl Body>> {
    let b = body.into_inner();
    Ok(Reply(st.run(move |conn| centre::register(conn, &c, &b.province, &b.key)).await?))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct ProvinceList {
    /// The centre's public key, for the provinces' MEALROLL_CENTRE_KEY.
    centre_key: String,
    provinces: Vec<Province>,
}

pub async fn provinces_api(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    let centre_key = centre::centre_public_key(&st.keys);
    Ok(Reply(ProvinceList { centre_key, provinces: st.run(move |conn| centre::provinces(conn, &c)).await? }))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ClaimsQuery {
    #[serde(default)]
    province: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct ClaimList {
    claims: Vec<Claim>,
}

pub async fn claims_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<ClaimsQuery>,
) -> AppResult<Reply<impl Body>> {
    let p = q.into_inner().province;
    Ok(Reply(ClaimList { claims: st.run(move |conn| centre::claims(conn, &c, Some(&p))).await? }))
}

pub async fn return_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<ReturnForm>,
) -> AppResult<FileReply> {
    let (made, bytes) = return_for(&st, c, body.into_inner().province).await?;
    Ok(FileReply(crate::web::download(bytes, &made.file_name, "application/json")))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Rollup {
    period: String,
    rows: Vec<RollupRow>,
}

pub async fn rollup_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<PeriodQuery>,
) -> AppResult<Reply<impl Body>> {
    let span = period_or_last(&q.into_inner().period, &c)?;
    let period = span.to_string();
    Ok(Reply(Rollup { period, rows: st.run(move |conn| centre::rollup(conn, &c, &span)).await? }))
}
