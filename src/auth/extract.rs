//! Request extractors: the page user (session cookie), the API user (bearer token), and the
//! CSRF-checked form. Handlers take these and never see a request without a caller.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::audit::{self, Entry};
use crate::auth::{Caller, csrf, session};
use crate::error::{AppError, ErrorCode, ErrorKind};
use crate::web::api_doc::{ApiInput, OperationDoc, Schemas};
use crate::web::{AppState, PageError, returning_to};

pub const SESSION_COOKIE: &str = "mealroll_session";

/// The peer address; forwarded headers are not trusted.
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))
}

async fn resolve(req: &HttpRequest, token: Option<String>) -> Result<Caller, AppError> {
    let st = state(req)?;
    let token = token.ok_or_else(AppError::unauthenticated)?;
    // A caller resolved once per request is reused by the other extractors.
    if let Some(c) = req.extensions().get::<Caller>() {
        return Ok(c.clone());
    }
    let ip = client_ip(req);
    let st2 = st.clone();
    let caller = st
        .run(move |conn| session::authenticate(conn, &st2.keys, &st2.settings, &token, &ip, crate::clock::now()))
        .await?;
    req.extensions_mut().insert(caller.clone());
    Ok(caller)
}

/// A logged-in user of the web pages (session cookie).
pub struct PageUser(pub Caller);

impl FromRequest for PageUser {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
            let caller = resolve(&req, token).await.map_err(|e| {
                // A page opened by its address comes back after signing in; a form's post does not.
                let asked = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
                PageError(if req.method() == actix_web::http::Method::GET { returning_to(e, asked) } else { e })
            })?;
            // A password set by somebody else is replaced before anything else is done.
            let path = req.path();
            if caller.must_change_password && path != "/password" && path != "/logout" {
                return Err(PageError(AppError::new(
                    ErrorKind::Unauthenticated,
                    ErrorCode::AuthMustChangePassword,
                    "请先修改初始密码",
                )));
            }
            if req.method() == actix_web::http::Method::GET
                && let Ok(st) = state(&req)
            {
                crate::web::menu::refresh(&st, &caller).await;
            }
            Ok(PageUser(caller))
        })
    }
}

/// A caller of `/api/v1` (bearer token; cookies are not accepted there, so no CSRF applies).
pub struct ApiUser(pub Caller);

impl ApiInput for ApiUser {
    fn describe(_: &mut Schemas, doc: &mut OperationDoc) {
        doc.authenticated = true;
    }
}

impl FromRequest for ApiUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| t.trim().to_owned());
            let caller = resolve(&req, token).await?;
            if caller.must_change_password {
                return Err(AppError::new(
                    ErrorKind::Forbidden,
                    ErrorCode::AuthMustChangePassword,
                    "请先在网页端修改初始密码",
                ));
            }
            Ok(ApiUser(caller))
        })
    }
}

/// A urlencoded form from a logged-in user whose `csrf` field matches the session and whose
/// Origin (when sent) is this site.
pub struct CsrfForm<T> {
    pub user: Caller,
    pub form: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

const FORM_LIMIT: usize = 256 * 1024;

fn csrf_refused() -> AppError {
    AppError::new(ErrorKind::Forbidden, ErrorCode::AuthCsrf, "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")
}

/// Whether the Origin header, when present, names this host.
pub fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = req.connection_info().host().to_owned();
    origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/') == host).unwrap_or(false)
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let PageUser(user) = PageUser::from_request(&req, &mut Payload::None).await?;
            let body = Bytes::from_request(&req, &mut payload)
                .await
                .map_err(|_| PageError(AppError::invalid(ErrorCode::FormTooLarge, "提交的内容过大")))?;
            if body.len() > FORM_LIMIT {
                return Err(PageError(AppError::invalid(ErrorCode::FormTooLarge, "提交的内容过大")));
            }
            let token = serde_urlencoded::from_bytes::<CsrfField>(&body).map(|f| f.csrf).unwrap_or_default();
            let st = state(&req).map_err(PageError)?;
            let sid = user.session_id.clone().unwrap_or_default();
            if !same_origin(&req) || !csrf::matches(&st.keys.csrf, &sid, &token) {
                let actor = user.actor();
                let path = req.path().to_owned();
                st.run(move |conn| {
                    audit::record_alone(conn, &actor, Entry::new("csrf.rejected", "request", path).result("denied"))
                })
                .await
                .map_err(PageError)?;
                return Err(PageError(csrf_refused()));
            }
            // Whatever the person does may change what waits for them.
            crate::web::menu::forget(&sid);
            let form = serde_urlencoded::from_bytes::<T>(&body).map_err(|e| {
                PageError(AppError::invalid(ErrorCode::FormMalformed, format!("表单内容无法识别：{e}")))
            })?;
            Ok(CsrfForm { user, form })
        })
    }
}
