//! Multipart forms (file uploads) for pages and the API: one reader with a size cap, and for
//! pages the same CSRF and Origin check that `CsrfForm` gives url-encoded forms.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header};
use futures_util::TryStreamExt;
use futures_util::future::LocalBoxFuture;

use crate::auth::extract::same_origin;
use crate::auth::{Caller, csrf};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::web::AppState;

/// One file field as sent.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    pub field: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct UploadForm {
    pub fields: BTreeMap<String, String>,
    pub files: Vec<UploadedFile>,
}

impl UploadForm {
    pub fn text(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }

    /// The first non-empty file of a field.
    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files.iter().find(|f| f.field == name && !f.bytes.is_empty())
    }
}

fn too_large(max_bytes: usize) -> AppError {
    let limit = if max_bytes >= 1024 * 1024 {
        format!("{}MB", max_bytes / (1024 * 1024))
    } else {
        format!("{}KB", max_bytes / 1024)
    };
    AppError::invalid(ErrorCode::FileTooLarge, format!("上传内容超过{limit}，请拆分后分别上传"))
}

/// An API upload whose body is the file itself, read up to `LIMIT` bytes: the same limit as
/// the page's form for the same file, and past it a refusal in JSON and Chinese (actix's own
/// body extractor stops at 256 KiB with a plain-text 413).
pub struct ApiBody<const LIMIT: usize>(pub Vec<u8>);

impl<const LIMIT: usize> FromRequest for ApiBody<LIMIT> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > LIMIT as u64) {
                return Err(too_large(LIMIT));
            }
            let capacity = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0).min(LIMIT);
            let mut buf = Vec::with_capacity(capacity);
            while let Some(chunk) = futures_util::StreamExt::next(&mut payload).await {
                let chunk = chunk.map_err(|_| AppError::invalid(ErrorCode::FormMalformed, "上传内容不完整，请重试"))?;
                if buf.len() + chunk.len() > LIMIT {
                    return Err(too_large(LIMIT));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(ApiBody(buf))
        })
    }
}

/// Reads every part; refuses a body over `max_bytes` in total before holding more of it.
pub async fn read(mut form: Multipart, max_bytes: usize) -> AppResult<UploadForm> {
    let malformed = |_| AppError::invalid(ErrorCode::FormMalformed, "上传表单无法识别，请重试");
    let mut out = UploadForm::default();
    let mut total = 0usize;
    while let Some(mut field) = form.try_next().await.map_err(malformed)? {
        let name = field.name().unwrap_or("").to_owned();
        let filename = field.content_disposition().and_then(|d| d.get_filename()).map(str::to_owned);
        let mut buf = Vec::new();
        while let Some(chunk) = field.try_next().await.map_err(malformed)? {
            total += chunk.len();
            if total > max_bytes {
                return Err(too_large(max_bytes));
            }
            buf.extend_from_slice(&chunk);
        }
        match filename {
            Some(filename) => out.files.push(UploadedFile { field: name, filename, bytes: buf }),
            None => {
                out.fields.insert(name, String::from_utf8_lossy(&buf).into_owned());
            }
        }
    }
    Ok(out)
}

/// A page upload: read, then the CSRF token (field `csrf`) and the Origin checked; a refusal is
/// audited like any other CSRF failure.
pub async fn read_page_form(
    st: &AppState,
    caller: &Caller,
    req: &actix_web::HttpRequest,
    form: Multipart,
    max_bytes: usize,
) -> AppResult<UploadForm> {
    let form = read(form, max_bytes).await?;
    if !same_origin(req) || !csrf::matches(&st.keys.csrf, caller.session_id.as_deref().unwrap_or(""), form.text("csrf"))
    {
        let (actor, path) = (caller.actor(), req.path().to_owned());
        st.run(move |conn| {
            crate::audit::record_alone(
                conn,
                &actor,
                crate::audit::Entry::new("csrf.rejected", "request", path).result("denied"),
            )
        })
        .await?;
        return Err(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::AuthCsrf,
            "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试",
        ));
    }
    Ok(form)
}
