//! The application: every area's routes mounted, the security headers, the request log, and
//! the answers for what no route matches. Areas register their own pages and API
//! (`<area>::routes`); the HTTP kit they share (`crate::web`) knows no area, and only this
//! module knows them all.

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, Responder, web};

use crate::error::{AppError, ErrorCode, ErrorKind};
use crate::exchange::jobs::Jobs;
use crate::web::api_doc::{ApiOutput, OperationDoc, Schemas};
use crate::web::api_routes::{ApiRoutes, Operation};
use crate::web::{AppState, PageError, PageResult, openapi};
use crate::{audit, auth, central, collect, exchange, inspection, ledger, meals, org, programme, registry, reports};

/// What the app is built from: the kit's state every handler shares, and the job queue, which
/// only the handlers that start or show jobs ask for.
#[derive(Clone)]
pub struct Shared {
    pub state: web::Data<AppState>,
    pub jobs: web::Data<Jobs>,
}

/// Each area's pages and its part of `/api/v1`, in mounting order.
type Area = (fn(&mut web::ServiceConfig), fn(&mut ApiRoutes));
const AREAS: &[Area] = &[
    (auth::routes::pages, auth::routes::api),
    (org::routes::pages, org::routes::api),
    (registry::routes::pages, registry::routes::api),
    (exchange::routes::pages, exchange::routes::api),
    (programme::routes::pages, programme::routes::api),
    (ledger::routes::pages, ledger::routes::api),
    (reports::routes::pages, reports::routes::api),
    (inspection::routes::pages, inspection::routes::api),
    (meals::routes::pages, meals::routes::api),
    (audit::routes::pages, audit::routes::api),
    (central::routes::pages, central::routes::api),
    (collect::routes::pages, collect::routes::api),
];

const APP_CSS: &str = include_str!("../templates/static/app.css");

async fn app_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(APP_CSS)
}

async fn not_found() -> PageResult<HttpResponse> {
    Err(PageError(AppError::new(ErrorKind::NotFound, ErrorCode::NotFound, "页面不存在")))
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            ),
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .add((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // Not `no-referrer`: with it browsers send `Origin: null` on form posts, which the
        // CSRF origin check must refuse.
        .add((header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .add((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .add(("Permissions-Policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()")))
}

/// Every area's pages, then `/api/v1`; what matches nothing is 404 in the side's own form.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/app.css", web::get().to(app_css));
    for (pages, _) in AREAS {
        cfg.configure(*pages);
    }
    let api = web::scope("/api/v1").configure(|cfg| declare(&mut ApiRoutes::mount(cfg)));
    cfg.service(api.default_service(web::to(|| async {
        Err::<HttpResponse, _>(AppError::new(ErrorKind::NotFound, ErrorCode::NotFound, "接口不存在"))
    })))
    .default_service(web::to(not_found));
}

/// The whole `/api/v1`: the document itself, then each area's part.
fn declare(r: &mut ApiRoutes) {
    r.tag("meta").get("/openapi.json", openapi_document, "本接口文档（OpenAPI 3.1），由各模块声明的路由生成");
    for (_, api) in AREAS {
        api(r);
    }
}

/// Every `/api/v1` operation, as mounted.
pub fn operations() -> Vec<Operation> {
    let mut r = ApiRoutes::listing();
    declare(&mut r);
    r.operations()
}

/// The document is the same for the life of the process: built once, on first request.
async fn openapi_document() -> OpenApi {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    OpenApi(DOCUMENT.get_or_init(|| openapi::build(&operations())))
}

/// The document itself, described by the OpenAPI 3.1 schema.
struct OpenApi(&'static serde_json::Value);

impl Responder for OpenApi {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _: &actix_web::HttpRequest) -> HttpResponse {
        HttpResponse::Ok().json(self.0)
    }
}

impl ApiOutput for OpenApi {
    fn describe(_: &mut Schemas, doc: &mut OperationDoc) {
        let schema = serde_json::json!({ "$ref": "https://spec.openapis.org/oas/3.1/schema/2022-10-07" });
        doc.respond_json(200, "OpenAPI 3.1 文档", schema);
    }
}

/// The request span without the query string: a query can hold a name or an ID number that
/// has no place in a log (ID searches travel in POST bodies; a stray one still is not logged).
pub struct PathOnlySpan;

impl tracing_actix_web::RootSpanBuilder for PathOnlySpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %request.match_pattern().unwrap_or_else(|| "default".into()),
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Builds the app (used by `serve` and by the tests).
pub fn app(
    shared: Shared,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // The menu's count is the to-do's: the kit is told how to make it.
    crate::web::menu::install(|conn, caller| Ok(crate::reports::todo::for_caller(conn, caller)?.decide));
    // Malformed JSON or form bodies answer in Chinese with a stable code instead of actix's text.
    let json_cfg = web::JsonConfig::default().limit(1024 * 1024).error_handler(|err, _| {
        AppError::invalid(ErrorCode::InputMalformedJson, format!("请求内容不是有效的JSON或字段类型不符：{err}")).into()
    });
    // A bad path or query answers as the rest of its side does: JSON under /api, a page elsewhere
    // (`/students/new` is not a student number: a Chinese page, not raw JSON).
    fn answer(e: AppError, req: &actix_web::HttpRequest) -> actix_web::Error {
        if req.path().starts_with("/api/") { e.into() } else { PageError(e).into() }
    }
    let path_cfg = web::PathConfig::default()
        .error_handler(|_, req| answer(AppError::new(ErrorKind::NotFound, ErrorCode::NotFound, "记录不存在"), req));
    let query_cfg = web::QueryConfig::default().error_handler(|err, req| {
        answer(AppError::invalid(ErrorCode::InputMalformedQuery, format!("查询参数有误：{err}")), req)
    });
    actix_web::App::new()
        .app_data(shared.state)
        .app_data(shared.jobs)
        .app_data(json_cfg)
        .app_data(path_cfg)
        .app_data(query_cfg)
        .wrap(security_headers())
        .wrap(tracing_actix_web::TracingLogger::<PathOnlySpan>::new())
        .configure(routes)
}
