//! The collection points' page and API: at the county, the points, their packages taken, and the
//! items waiting for a decision; at a point, its pairing and the packages it made.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::{Deserialize, Serialize};

use super::county::{self, Decision, Imported, Item, Point, Registered};
use super::point::{self, Counts, Made, Pairing};
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, CsrfForm, PageUser};
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::web::api_doc::{Body, FileReply, Reply};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, html_page, see_other, upload};

/// The largest package taken over the web (photos travel in it: a point's term of new children
/// is tens of MB at most; larger ones go through `mealroll collect import`).
pub const MAX_PACKAGE: usize = 256 * 1024 * 1024;

/// What the page shows the county.
pub struct CountyView {
    pub points: Vec<Point>,
    pub items: Vec<Item>,
    pub may_register: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "collect/index.html")]
pub struct Page {
    layout: Layout,
    county: Option<CountyView>,
    pairing: Option<Pairing>,
    made: Vec<Made>,
    may_pair: bool,
    /// A pairing code just issued (shown once).
    issued: Option<Registered>,
    errors: FormErrors,
    flash: String,
}

async fn page_of(
    st: &AppState,
    caller: Caller,
    issued: Option<Registered>,
    errors: FormErrors,
    flash: String,
) -> PageResult<Page> {
    let c = caller.clone();
    let (county, pairing, made) = st
        .run(move |conn| {
            let pairing = point::pairing(conn)?;
            // A paired point is not the county's network: it sends, it does not take.
            let county = if pairing.is_none() && c.org_kind == OrgKind::County && c.may(Permission::ViewStudents) {
                Some(CountyView {
                    points: county::points(conn, &c)?,
                    items: county::items(conn, &c, false)?,
                    may_register: c.may(Permission::ConfigureRegistry),
                })
            } else {
                None
            };
            let made =
                if pairing.is_some() && c.may(Permission::EditStudents) { point::made(conn, &c)? } else { vec![] };
            Ok((county, pairing, made))
        })
        .await?;
    // Pairing is for a stand-alone instance: not one that has points of its own.
    let may_pair = caller.may_at_county(Permission::ConfigureRegistry).is_ok()
        && county.as_ref().is_none_or(|c| c.points.is_empty());
    if county.is_none() && pairing.is_none() && !may_pair {
        return Err(AppError::forbidden().into());
    }
    Ok(Page {
        layout: Layout::new(&caller, st, "采集点（单机版）"),
        county,
        pairing,
        made,
        may_pair,
        issued,
        errors,
        flash,
    })
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    ok: Option<String>,
    #[serde(default)]
    n: Option<u32>,
}

pub async fn page(st: web::Data<AppState>, PageUser(caller): PageUser, q: web::Query<PageQuery>) -> PageResult<Page> {
    let q = q.into_inner();
    let flash = Flash { ok: q.ok, n: q.n }.message();
    page_of(&st, caller, None, FormErrors::none(), flash).await
}

/// A refusal the person can act on is shown on the page; anything else is the error page.
async fn answer(st: &AppState, caller: Caller, r: AppResult<String>) -> PageResult<HttpResponse> {
    match r {
        Ok(to) => Ok(see_other(&to)),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict | ErrorKind::NotFound) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            page_of(st, caller, None, FormErrors::from_error(&e), String::new()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RegisterForm {
    /// The point's name, unique in the county.
    #[serde(default)]
    name: String,
    /// School codes, separated by commas, spaces or new lines.
    #[serde(default)]
    schools: String,
}

fn school_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c == '，' || c.is_whitespace()).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Registers a point; the page shows its pairing code once (never in a URL).
pub async fn register_form(st: web::Data<AppState>, f: CsrfForm<RegisterForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let c = user.clone();
    let r = st.run(move |conn| county::register(conn, &c, &form.name, &school_list(&form.schools))).await;
    match r {
        Ok(reg) => html_page(StatusCode::OK, page_of(&st, user, Some(reg), FormErrors::none(), String::new()).await?),
        Err(e) => answer(&st, user, Err(e)).await,
    }
}

/// A package file from a page's upload (field `file`).
async fn uploaded(st: &AppState, caller: &Caller, req: &actix_web::HttpRequest, form: Multipart) -> AppResult<Vec<u8>> {
    let form = upload::read_page_form(st, caller, req, form, MAX_PACKAGE).await?;
    form.file("file")
        .map(|f| f.bytes.clone())
        .ok_or_else(|| AppError::field("file", ErrorCode::CollectMalformed, "请选择采集包文件（.json）"))
}

pub async fn import_form(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let r = async {
        let bytes = uploaded(&st, &caller, &req, form).await?;
        let c = caller.clone();
        let r = st.run(move |conn| county::import(conn, &c, &bytes)).await?;
        Ok(if r.again {
            "/collect?ok=collect_again".to_owned()
        } else {
            format!("/collect?ok=collect_imported&n={}", r.summary.items)
        })
    };
    let r = r.await;
    answer(&st, caller, r).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DecideForm {
    /// `take` (the point's value), `keep` (the network's) or `done` (handled by hand).
    decision: Decision,
    #[serde(default)]
    note: String,
}

pub async fn decide_form(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<DecideForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let (c, id) = (user.clone(), path.into_inner());
    let r = st
        .run(move |conn| county::decide(conn, &c, id, form.decision, &form.note))
        .await
        .map(|_| "/collect?ok=collect_decided".to_owned());
    answer(&st, user, r).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct PairForm {
    /// The pairing code the county gave (one line, `mealroll-pair:…`).
    #[serde(default)]
    code: String,
}

pub async fn pair_form(st: web::Data<AppState>, f: CsrfForm<PairForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let c = user.clone();
    let r = st.run(move |conn| point::pair(conn, &c, &form.code)).await.map(|_| "/collect?ok=collect_paired".into());
    answer(&st, user, r).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct Nothing {}

pub async fn export_form(st: web::Data<AppState>, f: CsrfForm<Nothing>) -> PageResult<HttpResponse> {
    let CsrfForm { user, .. } = f;
    let c = user.clone();
    let r = st
        .run(move |conn| point::export(conn, &c))
        .await
        .map(|(made, ..)| format!("/collect?ok=collect_made&n={}", made.seq));
    answer(&st, user, r).await
}

pub async fn made_file(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let (bytes, name) = st.run(move |conn| point::made_file(conn, &caller, id)).await?;
    Ok(crate::web::download(bytes, &name, "application/json"))
}

// The API: the same services.

#[derive(Serialize, schemars::JsonSchema)]
pub struct PointList {
    points: Vec<Point>,
}

pub async fn points_api(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(PointList { points: st.run(move |conn| county::points(conn, &c)).await? }))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RegisterBody {
    name: String,
    schools: Vec<String>,
}

pub async fn register_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<RegisterBody>,
) -> AppResult<Reply<impl Body>> {
    let b = body.into_inner();
    Ok(Reply(st.run(move |conn| county::register(conn, &c, &b.name, &b.schools)).await?))
}

pub async fn import_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    upload::ApiBody(body): upload::ApiBody<MAX_PACKAGE>,
) -> AppResult<Reply<impl Body>> {
    let r: Imported = st.run(move |conn| county::import(conn, &c, &body)).await?;
    Ok(Reply(r))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ItemsQuery {
    /// `open` for the items still waiting (default: all, open first).
    #[serde(default)]
    state: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct ItemList {
    items: Vec<Item>,
}

pub async fn items_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<ItemsQuery>,
) -> AppResult<Reply<impl Body>> {
    let open = q.into_inner().state == "open";
    Ok(Reply(ItemList { items: st.run(move |conn| county::items(conn, &c, open)).await? }))
}

pub async fn decide_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<DecideForm>,
) -> AppResult<Reply<impl Body>> {
    let (id, b) = (path.into_inner(), body.into_inner());
    Ok(Reply(st.run(move |conn| county::decide(conn, &c, id, b.decision, &b.note)).await?))
}

pub async fn pairing_api(st: web::Data<AppState>, ApiUser(_c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(PairingReply { pairing: st.run(point::pairing).await? }))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct PairingReply {
    /// None until this instance is paired as a collection point.
    pairing: Option<Pairing>,
}

pub async fn pair_api(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<PairForm>,
) -> AppResult<Reply<impl Body>> {
    let code = body.into_inner().code;
    Ok(Reply(st.run(move |conn| point::pair(conn, &c, &code)).await?))
}

/// A package made, with what it holds, and the sealed file itself.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "CollectExportReply")]
pub struct ExportReply {
    #[serde(flatten)]
    made: Made,
    counts: Counts,
    package: crate::domain::collect::Sealed,
}

pub async fn export_api(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    let (made, counts, bytes) = st.run(move |conn| point::export(conn, &c)).await?;
    let package = serde_json::from_slice(&bytes).map_err(AppError::internal)?;
    Ok(Reply(ExportReply { made, counts, package }))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct MadeList {
    packages: Vec<Made>,
}

pub async fn made_api(st: web::Data<AppState>, ApiUser(c): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(MadeList { packages: st.run(move |conn| point::made(conn, &c)).await? }))
}

pub async fn made_file_api(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<FileReply> {
    let id = path.into_inner();
    let (bytes, name) = st.run(move |conn| point::made_file(conn, &c, id)).await?;
    Ok(FileReply(crate::web::download(bytes, &name, "application/json")))
}
