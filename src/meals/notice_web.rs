//! The public notice (no login): the page a phone opens from the poster's QR code, the poster
//! itself, a complaint sent from the page and its tracking; and the same in the public API.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::complaints::{self, ComplaintForm, Tracked};
use super::notice::{self, Notice};
use crate::auth::csrf;
use crate::auth::extract::{client_ip, same_origin};
use crate::domain::complaint::Category;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::web::api_doc::{Body, Created, Reply};
use crate::web::strict::ApiJson;
use crate::web::{AppState, FormErrors, PageError, PageResult, html_page};

/// The double-submit cookie of the public complaint form (there is no session to bind to).
const COOKIE: &str = "mealroll_notice_csrf";

/// Where the page is on the web, as the poster's QR code gives it: the configured public
/// address, else the address this request came to.
fn page_url(st: &AppState, req: &HttpRequest, code: &str) -> String {
    let base = match st.settings.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    };
    format!("{base}/notice/{code}")
}

fn qr_svg(url: &str) -> String {
    qrcode::QrCode::new(url.as_bytes())
        .map(|c| c.render::<qrcode::render::svg::Color>().min_dimensions(180, 180).quiet_zone(true).build())
        .unwrap_or_default()
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/notice.html")]
pub struct NoticePage {
    n: Notice,
    url: String,
    /// The QR code as SVG (modules only: no text of anyone's).
    qr: String,
    csrf: String,
    typed: ComplaintForm,
    categories: [Category; 5],
    errors: FormErrors,
    /// After a complaint: its tracking code.
    tracking: String,
}

impl NoticePage {
    fn days(&self) -> [(&'static str, &'static str); 5] {
        super::canteen::DAYS
    }
}

fn notice_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, token.to_owned())
        .path("/notice")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

async fn render(
    st: &AppState,
    req: &HttpRequest,
    code: String,
    typed: ComplaintForm,
    errors: FormErrors,
    tracking: String,
    status: StatusCode,
) -> PageResult<HttpResponse> {
    let c = code.clone();
    let n = st.run(move |conn| notice::of(conn, &c)).await?;
    let url = page_url(st, req, &n.school_code);
    let token = csrf::new_login_token();
    let page = NoticePage {
        qr: qr_svg(&url),
        url,
        n,
        csrf: token.clone(),
        typed,
        categories: Category::ALL,
        errors,
        tracking,
    };
    let body = page.render().map_err(AppError::from)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .cookie(notice_cookie(&token, st.settings.session.cookie_secure))
        .body(body))
}

pub async fn page(st: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> PageResult<HttpResponse> {
    render(&st, &req, path.into_inner(), ComplaintForm::default(), FormErrors::none(), String::new(), StatusCode::OK)
        .await
}

#[derive(Debug, Default, Deserialize)]
pub struct PublicComplaint {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    typed: super::complaints_web::TypedComplaint,
    /// Left empty by people; a form-filling robot fills it.
    #[serde(default)]
    website: String,
}

pub async fn complain(
    st: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<PublicComplaint>,
) -> PageResult<HttpResponse> {
    let code = path.into_inner();
    let PublicComplaint { csrf: token, typed, website } = form.into_inner();
    // The page's own school, whatever the form says.
    let typed = ComplaintForm { school: code.clone(), ..typed.form(&code) };
    let cookie = req.cookie(COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    if cookie.is_empty() || !csrf::same(&cookie, &token) || !same_origin(&req) {
        let e = AppError::invalid(ErrorCode::AuthCsrf, "页面已过期，请重新填写后提交");
        return render(&st, &req, code, typed, FormErrors::from_error(&e), String::new(), StatusCode::FORBIDDEN).await;
    }
    if !website.is_empty() {
        return Err(PageError(AppError::invalid(ErrorCode::ComplaintRobot, "提交未被接受")));
    }
    let (key, ip, body, c) = (st.keys.csrf.clone(), client_ip(&req), typed.clone(), code.clone());
    match st.run(move |conn| complaints::submit_public(conn, &key, &c, &body, &ip)).await {
        Ok(tracking) => {
            render(&st, &req, code, ComplaintForm::default(), FormErrors::none(), tracking, StatusCode::OK).await
        }
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Locked) => {
            let status = e.kind.status();
            render(&st, &req, code, typed, FormErrors::from_error(&e), String::new(), status).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/track.html")]
pub struct TrackPage {
    code: String,
    found: Option<Tracked>,
    error: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct TrackQuery {
    #[serde(default)]
    code: String,
}

pub async fn track(st: web::Data<AppState>, q: web::Query<TrackQuery>) -> PageResult<HttpResponse> {
    let code = q.code.trim().to_owned();
    if code.is_empty() {
        return html_page(StatusCode::OK, TrackPage { code, found: None, error: String::new() });
    }
    let c = code.clone();
    match st.run(move |conn| complaints::track(conn, &c)).await {
        Ok(t) => html_page(StatusCode::OK, TrackPage { code, found: Some(t), error: String::new() }),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::NotFound) => {
            html_page(e.kind.status(), TrackPage { code, found: None, error: e.message })
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn poster(st: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> PageResult<HttpResponse> {
    let code = path.into_inner();
    let n = st.run(move |conn| notice::of(conn, &code)).await?;
    let url = page_url(&st, &req, &n.school_code);
    let name = format!("{}-公示.pdf", n.school_name);
    let bytes =
        web::block(move || crate::exchange::notice_poster::poster(&n, &url)).await.map_err(AppError::from)??;
    Ok(crate::web::download(bytes, &name, crate::web::PDF))
}

// ---------------------------------------------------------------- public API

/// `GET /api/v1/public/schools/{code}/notice`.
pub async fn api_notice(st: web::Data<AppState>, path: web::Path<String>) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    Ok(Reply(st.run(move |conn| notice::of(conn, &code)).await?))
}

/// `POST /api/v1/public/schools/{code}/complaints` with `{category, content, anonymous, name,
/// contact}`: 201 with the tracking code.
pub async fn api_complain(
    st: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: ApiJson<ComplaintForm>,
) -> AppResult<Created<impl Body>> {
    let (code, body) = (path.into_inner(), body.into_inner());
    let (key, ip) = (st.keys.csrf.clone(), client_ip(&req));
    let tracking = st.run(move |conn| complaints::submit_public(conn, &key, &code, &body, &ip)).await?;
    Ok(Created::new(Tracking { tracking_code: tracking }))
}

/// The code a member of the public follows their complaint with.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Tracking {
    tracking_code: String,
}

/// `GET /api/v1/public/complaints/{tracking_code}`.
pub async fn api_track(st: web::Data<AppState>, path: web::Path<String>) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    Ok(Reply(st.run(move |conn| complaints::track(conn, &code)).await?))
}
