//! The HTTP kit every area's handlers share: the state, page errors, downloads and redirects,
//! the page shell (`layout`), strict query and body extractors, uploads. It knows no area: the
//! areas register their own routes and the app (`src/app.rs`) mounts them.

pub mod api_doc;
pub mod api_routes;
pub mod confirm;
pub mod filters;
pub mod layout;
pub mod menu;
pub mod openapi;
pub mod strict;
pub mod upload;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

use crate::config::{Keys, Settings};
use crate::db::{DbConn, Pool};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};

pub use layout::{Flash, FormErrors, Layout, Pager, filled};

/// The field of a sign-in refusal that carries the page to come back to (`returning_to`).
const RETURN_TO: &str = "next";

/// A page of this site, and nothing else: a path, never `//host` or `/\host` (which browsers read
/// as another site), no scheme, no control characters. What a login may send the browser on to.
pub fn local_path(s: &str) -> bool {
    s.starts_with('/')
        && !s.starts_with("//")
        && !s.contains('\\')
        && s.len() <= 2000
        && !s.chars().any(char::is_control)
}

/// A sign-in refusal that remembers the page asked for, so the login sends the user back to it.
pub fn returning_to(mut e: AppError, path: &str) -> AppError {
    if e.kind != ErrorKind::Unauthenticated || !local_path(path) {
        return e;
    }
    e.fields.push(crate::error::FieldError { field: RETURN_TO.into(), code: e.code, message: path.to_owned() });
    e
}

/// What every handler shares.
pub struct AppState {
    pub pool: Pool,
    /// A streaming replica for reads (lists, reports, scans), when `read_database_url` names one.
    pub replica: Option<Pool>,
    pub settings: Settings,
    pub keys: Keys,
}

impl AppState {
    /// The state of a server on `pool`, with a pool on the replica the settings name.
    pub fn new(pool: Pool, settings: Settings, keys: Keys) -> AppResult<Self> {
        let replica = match settings.read_database_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Some(url) => Some(crate::db::connect_replica(url, settings.pool_size)?),
            None => None,
        };
        Ok(Self { pool, replica, settings, keys })
    }

    /// Runs reading work on the replica when there is one. What fails there (a refusal, which
    /// writes its audit row; a replica down or behind) is asked of the primary instead, which
    /// answers as it always does.
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        F: Fn(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let Some(replica) = self.replica.clone() else { return self.run(f).await };
        let pool = self.pool.clone();
        web::block(move || {
            if let Ok(v) = replica.get().map_err(AppError::from).and_then(|mut conn| f(&mut conn)) {
                return Ok(v);
            }
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Runs blocking database work off the async executor, with a pooled connection.
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }
}

/// Blocking work that needs no pooled connection of its own (the job queue keeps its pool), off
/// the async executor.
pub async fn blocking<T, F>(f: F) -> AppResult<T>
where
    F: FnOnce() -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await?
}

/// An error on a page: the login page for an expired session, otherwise a page in Chinese.
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl std::fmt::Debug for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    code: ErrorCode,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        let e = &self.0;
        if e.kind == ErrorKind::Unauthenticated {
            let to = match (e.code, e.fields.iter().find(|f| f.field == RETURN_TO).map(|f| f.message.as_str())) {
                (ErrorCode::AuthMustChangePassword, _) => "/password".to_owned(),
                // The page asked for comes back after signing in.
                (_, Some(next)) if local_path(next) => {
                    format!("/login?expired=1&{}", serde_urlencoded::to_string([("next", next)]).unwrap_or_default())
                }
                _ => "/login?expired=1".to_owned(),
            };
            return HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish();
        }
        if e.kind == ErrorKind::Internal {
            tracing::error!(error = ?e, "page failed");
        }
        let page = ErrorPage { status: e.status().as_u16(), code: e.code, message: &e.message };
        let body = page.render().unwrap_or_else(|_| e.message.clone());
        let mut r = HttpResponse::build(e.status());
        if e.kind == ErrorKind::Unavailable {
            r.insert_header((header::RETRY_AFTER, "10"));
        }
        r.content_type("text/html; charset=utf-8").body(body)
    }
}

pub type PageResult<T> = Result<T, PageError>;

/// An uploaded document served back: an image shown where a page puts it, anything else (a
/// PDF) downloaded. The content type is the one stored when the bytes were judged on upload.
pub fn document(bytes: Vec<u8>, filename: &str, content_type: &str) -> HttpResponse {
    match crate::domain::document::DocKind::of_content_type(content_type) {
        Some(k) if k.is_image() => HttpResponse::Ok()
            .content_type(k.content_type())
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(bytes),
        _ => download(bytes, filename, content_type),
    }
}

/// A file download with a Chinese name (RFC 6266 `filename*`).
pub fn download(bytes: Vec<u8>, filename: &str, content_type: &str) -> HttpResponse {
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    // An ASCII fallback keeps the extension for clients that ignore filename*.
    let ext = filename.rsplit_once('.').map(|(_, e)| e).filter(|e| e.bytes().all(|b| b.is_ascii_alphanumeric()));
    let fallback = ext.map(|e| format!("download.{e}")).unwrap_or_else(|| "download".into());
    HttpResponse::Ok()
        .content_type(content_type.to_owned())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"),
        ))
        .body(bytes)
}

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// A rendered page with a status other than 200 (a form shown again with its errors).
pub fn html_page<T: Template>(status: StatusCode, page: T) -> Result<HttpResponse, PageError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render().map_err(AppError::from)?))
}

pub const PDF: &str = "application/pdf";

/// 303 to another page after a successful POST.
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_owned())).finish()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_a_path_of_this_site_is_a_place_to_go_on_to() {
        for ok in ["/", "/students?review=pending", "/rosters/12#scan"] {
            assert!(local_path(ok), "{ok}");
        }
        for bad in ["", "students", "//evil.example", "/\\evil.example", "https://evil.example", "/a\nb", "/\t"] {
            assert!(!local_path(bad), "{bad:?}");
        }
    }
}
