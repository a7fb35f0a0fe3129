//! The signed roster's scan: the school's upload on the roster page, the reviewer's page with
//! each scanned page beside the names the printer put on it, the files, and the same in the API.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::roster::{self, RosterHead};
use super::roster_scan::{self, MAX_SCAN, ScanView};
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::roster::RosterLine;
use crate::error::{AppResult, ErrorCode, ErrorKind};
use crate::exchange::document::Upload;
use crate::exchange::roster_print::{self, Kind};
use crate::web::api_doc::{Body, Created, FileReply, Reply};
use crate::web::upload::{self, UploadForm};
use crate::web::{AppState, FormErrors, Layout, PageResult, html_page, see_other};

fn scans_of(form: &UploadForm) -> Vec<Upload> {
    form.files
        .iter()
        .filter(|f| f.field == "scan" && !f.bytes.is_empty())
        .map(|f| Upload { filename: f.filename.clone(), bytes: f.bytes.clone() })
        .collect()
}

/// Reads the files (a PDF in the parse worker, away from the database) and stores the scan.
async fn store(st: &AppState, caller: Caller, id: i64, files: Vec<Upload>) -> AppResult<ScanView> {
    let checked = web::block(move || roster_scan::check_files(&files)).await??;
    st.run(move |conn| roster_scan::upload(conn, &caller, id, &checked)).await
}

/// The roster page's upload form (multipart: csrf, scan × n).
pub async fn upload_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    path: web::Path<i64>,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let form = upload::read_page_form(&st, &caller, &req, form, MAX_SCAN + 64 * 1024).await?;
    match store(&st, caller.clone(), id, scans_of(&form)).await {
        Ok(_) => Ok(see_other(&format!("/rosters/{id}?ok=scanned"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) || e.code == ErrorCode::RosterNotYours => {
            html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                super::web::roster_page(&st, caller, id, String::new(), FormErrors::from_error(&e)).await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// One printed page beside its scan.
pub struct PagePair {
    pub page_no: usize,
    /// The first 序号 on the page.
    pub first: usize,
    pub lines: Vec<RosterLine>,
    /// The printed page holds only the totals and the signature blocks.
    pub closing: bool,
    pub scan: Option<roster_scan::ScanPage>,
}

#[derive(Template, WebTemplate)]
#[template(path = "programme/roster_scan.html")]
pub struct ReviewPage {
    layout: Layout,
    head: RosterHead,
    scan: Option<ScanView>,
    pairs: Vec<PagePair>,
    /// Scanned pages beyond the printed ones.
    extra: Vec<roster_scan::ScanPage>,
}

impl ReviewPage {
    fn file_name(&self, id: &i64) -> &str {
        self.scan.as_ref().and_then(|s| s.files.iter().find(|f| f.id == *id)).map_or("", |f| f.filename.as_str())
    }
}

/// Pairs each printed page with the scanned page of the same number.
fn pairs(lines: &[RosterLine], scan: Option<&ScanView>, printed: usize) -> (Vec<PagePair>, Vec<roster_scan::ScanPage>) {
    let per_page = roster_print::table_pages(lines, Kind::Signed, true);
    let scanned = |n: usize| scan.and_then(|s| s.page_list.iter().find(|p| p.page_no as usize == n)).cloned();
    let mut out = Vec::new();
    for n in 1..=printed {
        let page = per_page.get(n - 1);
        out.push(PagePair {
            page_no: n,
            first: page.map_or(1, |p| p.first_seq),
            closing: n > per_page.len(),
            lines: page.map(|p| p.lines.to_vec()).unwrap_or_default(),
            scan: scanned(n),
        });
    }
    let extra = scan.map(|s| s.page_list.iter().filter(|p| p.page_no as usize > printed).cloned().collect());
    (out, extra.unwrap_or_default())
}

pub async fn review(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<ReviewPage> {
    let id = path.into_inner();
    let c = caller.clone();
    let ((head, lines), scan) = st
        .run(move |conn| {
            let roster = roster::shown(roster::get(conn, &c, id)?);
            Ok((roster, roster_scan::of(conn, &c, id)?))
        })
        .await?;
    let printed = usize::try_from(roster_scan::printed_pages(&lines)).unwrap_or(0);
    let (pairs, extra) = pairs(&lines, scan.as_ref(), printed);
    Ok(ReviewPage {
        layout: Layout::new(&caller, &st, format!("{} 花名册 第{}版 签字扫描件核对", head.school_name, head.version)),
        head,
        scan,
        pairs,
        extra,
    })
}

pub async fn file(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<(i64, i64)>,
) -> PageResult<HttpResponse> {
    let (id, att) = path.into_inner();
    let (name, kind, bytes) = st.run(move |conn| roster_scan::file(conn, &caller, id, att)).await?;
    Ok(crate::web::document(bytes, &name, &kind))
}

// ---------------------------------------------------------------- API

/// `POST /api/v1/rosters/{id}/scan`, multipart with one or more `scan` files.
pub async fn api_upload(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    form: Multipart,
) -> AppResult<Created<impl Body>> {
    let id = path.into_inner();
    let form = upload::read(form, MAX_SCAN + 64 * 1024).await?;
    let scan = store(&st, caller, id, scans_of(&form)).await?;
    Ok(Created::new(scan))
}

/// `GET /api/v1/rosters/{id}/scan`: the newest scan, or `{"scan": null}`.
pub async fn api_get(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let scan = st.run(move |conn| roster_scan::of(conn, &caller, id)).await?;
    Ok(Reply(Scan { scan }))
}

/// A roster's newest scan, if any.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "RosterScan")]
pub struct Scan {
    scan: Option<roster_scan::ScanView>,
}

pub async fn api_file(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<(i64, i64)>,
) -> AppResult<FileReply> {
    let (id, att) = path.into_inner();
    let (name, kind, bytes) = st.run(move |conn| roster_scan::file(conn, &caller, id, att)).await?;
    Ok(FileReply(crate::web::document(bytes, &name, &kind)))
}
