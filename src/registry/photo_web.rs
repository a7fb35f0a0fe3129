//! Photo pages and API: one student's photo, a ZIP of many with a per-file result list.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::photos::{self, MAX_ZIP, PhotoReport};
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::web::api_doc::{Body, FileReply, Reply};
use crate::web::{AppState, Layout, PageResult, see_other, upload};

fn jpeg(bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type("image/jpeg").insert_header(("Cache-Control", "private, no-store")).body(bytes)
}

pub async fn photo(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    Ok(jpeg(st.run(move |conn| photos::get(conn, &caller, id)).await?))
}

/// The single upload from the student page (multipart: csrf, photo).
pub async fn upload_one(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    path: web::Path<i64>,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let form = upload::read_page_form(&st, &caller, &req, form, photos::MAX_UPLOAD).await?;
    let bytes = form
        .file("photo")
        .map(|f| f.bytes.clone())
        .ok_or_else(|| AppError::field("photo", ErrorCode::PhotoMissing, "请选择照片文件"))?;
    st.run(move |conn| photos::upload(conn, &caller, id, &bytes)).await?;
    Ok(see_other(&format!("/students/{id}?ok=photo_saved")))
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/photos.html")]
pub struct PhotosPage {
    layout: Layout,
    report: Option<PhotoReport>,
}

pub async fn page(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<PhotosPage> {
    let c = caller.clone();
    st.run(move |conn| c.require(conn, Permission::EditStudents, "photos_page")).await?;
    Ok(PhotosPage { layout: Layout::new(&caller, &st, "批量上传照片"), report: None })
}

pub async fn upload_zip(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> PageResult<PhotosPage> {
    let form = upload::read_page_form(&st, &caller, &req, form, MAX_ZIP + 64 * 1024).await?;
    let bytes = form
        .file("zip")
        .map(|f| f.bytes.clone())
        .ok_or_else(|| AppError::field("zip", ErrorCode::PhotoMissing, "请选择照片压缩包（.zip）"))?;
    let c = caller.clone();
    let report = st.run(move |conn| photos::upload_zip(conn, &c, &bytes)).await?;
    Ok(PhotosPage { layout: Layout::new(&caller, &st, "批量上传照片"), report: Some(report) })
}

// ---------------------------------------------------------------- API

pub async fn api_get(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<FileReply> {
    let id = path.into_inner();
    Ok(FileReply(jpeg(st.run(move |conn| photos::get(conn, &c, id)).await?)))
}

/// Body: the JPEG itself.
pub async fn api_put(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    upload::ApiBody(body): upload::ApiBody<{ photos::MAX_UPLOAD }>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| photos::upload(conn, &c, id, &body)).await?))
}

/// Body: the ZIP. Answers with every file and what became of it.
pub async fn api_zip(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    upload::ApiBody(body): upload::ApiBody<{ MAX_ZIP + 64 * 1024 }>,
) -> AppResult<Reply<impl Body>> {
    Ok(Reply(st.run(move |conn| photos::upload_zip(conn, &c, &body)).await?))
}
