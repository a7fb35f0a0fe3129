//! The actix application: state, the one route table, security headers, the page shell.

pub mod filters;
pub mod layout;
pub mod openapi;
pub mod strict;
pub mod upload;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

use crate::config::{Keys, Settings};
use crate::db::{DbConn, Pool};
use crate::error::{AppError, AppResult, ErrorKind};

pub use layout::{Flash, FormErrors, Layout};

/// What every handler shares.
pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
    pub keys: Keys,
    pub jobs: crate::exchange::jobs::Jobs,
}

impl AppState {
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
    code: &'a str,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        let e = &self.0;
        if e.kind == ErrorKind::Unauthenticated {
            let to = if e.code == "auth.must_change_password" { "/password" } else { "/login?expired=1" };
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

/// A file download with a Chinese name (RFC 6266 `filename*`).
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

const APP_CSS: &str = include_str!("../../templates/static/app.css");

async fn app_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(APP_CSS)
}

async fn not_found() -> PageResult<HttpResponse> {
    Err(PageError(AppError::new(ErrorKind::NotFound, "not_found", "页面不存在")))
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

/// The one route table: pages, then `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::{audit, auth, exchange, ledger, org, programme, registry};
    cfg.route("/static/app.css", web::get().to(app_css))
        .route("/login", web::get().to(auth::web::login_page))
        .route("/login", web::post().to(auth::web::login_submit))
        .route("/logout", web::post().to(auth::web::logout))
        .route("/password", web::get().to(auth::web::password_page))
        .route("/password", web::post().to(auth::web::password_submit))
        .route("/", web::get().to(org::web::dashboard))
        .route("/orgs", web::get().to(org::web::tree))
        .route("/orgs/{code}", web::get().to(org::web::tree_at))
        .route("/orgs/{code}/townships", web::post().to(org::web::township_create))
        .route("/schools", web::get().to(org::web::schools))
        .route("/schools", web::post().to(org::web::school_create))
        .route("/schools/new", web::get().to(org::web::school_new))
        .route("/schools/{code}", web::get().to(org::web::school))
        .route("/schools/{code}/edit", web::get().to(org::web::school_edit))
        .route("/schools/{code}/edit", web::post().to(org::web::school_update))
        .route("/schools/{code}/campuses", web::post().to(org::web::campus_create))
        .route("/schools/{code}/classes/new", web::get().to(org::web::class_new))
        .route("/schools/{code}/classes", web::post().to(org::web::class_create))
        .route("/schools/{code}/teachers/new", web::get().to(org::web::teacher_new))
        .route("/schools/{code}/teachers", web::post().to(org::web::teacher_create))
        .route("/classes/{id}", web::get().to(org::web::class))
        .route("/classes/{id}/edit", web::get().to(org::web::class_edit))
        .route("/classes/{id}/edit", web::post().to(org::web::class_update))
        .route("/classes/{id}/delete", web::post().to(org::web::class_delete))
        .route("/teachers/{id}/edit", web::get().to(org::web::teacher_edit))
        .route("/teachers/{id}/edit", web::post().to(org::web::teacher_update))
        .route("/teachers/{id}/delete", web::post().to(org::web::teacher_delete))
        .route("/students", web::get().to(registry::web::list))
        .route("/students/search", web::post().to(registry::web::search))
        .route("/students/confirm", web::post().to(registry::web::confirm))
        .route("/students/{id}", web::get().to(registry::web::detail))
        .route("/students/{id}/unmask", web::post().to(registry::web::unmask))
        .route("/students/{id}/edit", web::get().to(registry::web::edit_form))
        .route("/students/{id}/edit", web::post().to(registry::web::update))
        .route("/students/{id}/confirm", web::post().to(registry::web::confirm_one))
        .route("/students/{id}/resolve", web::post().to(registry::web::resolve))
        .route("/students/{id}/change-request", web::get().to(registry::change_web::new_request))
        .route("/students/{id}/change-request", web::post().to(registry::change_web::submit_request))
        .route("/change-requests", web::get().to(registry::change_web::list))
        .route("/change-requests/{id}", web::get().to(registry::change_web::detail))
        .route("/change-requests/{id}/decide", web::post().to(registry::change_web::decide))
        .route("/change-requests/{id}/evidence", web::get().to(registry::change_web::evidence))
        .route("/students/{id}/photo.jpg", web::get().to(registry::photo_web::photo))
        .route("/students/{id}/photo", web::post().to(registry::photo_web::upload_one))
        .route("/photos", web::get().to(registry::photo_web::page))
        .route("/photos", web::post().to(registry::photo_web::upload_zip))
        .route("/students/{id}/status-changes/new", web::get().to(registry::status_web::new_request))
        .route("/students/{id}/status-changes", web::post().to(registry::status_web::submit_request))
        .route("/transfers/new", web::get().to(registry::status_web::new_transfer))
        .route("/transfers", web::post().to(registry::status_web::submit_transfer))
        .route("/status-changes", web::get().to(registry::status_web::list))
        .route("/status-changes/{id}", web::get().to(registry::status_web::detail))
        .route("/status-changes/{id}/decide", web::post().to(registry::status_web::decide))
        .route("/status-changes/{id}/evidence", web::get().to(registry::status_web::evidence))
        .route("/terms", web::get().to(registry::status_web::terms_get))
        .route("/terms", web::post().to(registry::status_web::term_set))
        .route("/terms/close", web::post().to(registry::status_web::term_close))
        .route("/transfer-restrictions", web::post().to(registry::status_web::restriction_add))
        .route("/transfer-restrictions/{id}/delete", web::post().to(registry::status_web::restriction_remove))
        .route("/promotions", web::get().to(registry::status_web::promotions))
        .route("/promotions", web::post().to(registry::status_web::promote))
        .route("/promotions/{id}", web::post().to(registry::status_web::promotion_action))
        .route("/key-locks", web::get().to(registry::change_web::locks))
        .route("/key-locks", web::post().to(registry::change_web::set_lock))
        .route("/schools/{code}/students/new", web::get().to(registry::web::new_form))
        .route("/schools/{code}/template.xlsx", web::get().to(exchange::web::template))
        .route("/schools/{code}/students.xlsx", web::get().to(exchange::web::export))
        .route("/classes/{id}/student-forms.pdf", web::get().to(exchange::web::student_forms))
        .route("/import", web::get().to(exchange::web::import_page))
        .route("/import", web::post().to(exchange::web::import_submit))
        .route("/jobs/{id}", web::get().to(exchange::web::job_page))
        .route("/jobs/{id}/errors.xlsx", web::get().to(exchange::web::job_errors))
        .route("/jobs/{id}/file", web::get().to(exchange::web::job_file))
        .route("/jobs/{id}/restart", web::post().to(exchange::web::job_restart))
        .route("/programme", web::get().to(programme::web::settings))
        .route("/programme/plan", web::post().to(programme::web::plan_set))
        .route("/programme/schools", web::post().to(programme::web::join))
        .route("/programme/schools/{id}/leave", web::post().to(programme::web::leave))
        .route("/programme/schools/{code}", web::get().to(programme::web::school))
        .route("/programme/schools/{code}/models", web::post().to(programme::web::model_add))
        .route("/programme/standards", web::post().to(programme::web::standard_add))
        .route("/programme/standards/{id}/end", web::post().to(programme::web::standard_end))
        .route("/programme/suppliers", web::post().to(programme::web::supplier_add))
        .route("/calendars/{code}", web::get().to(programme::web::calendar))
        .route("/calendars/{code}", web::post().to(programme::web::calendar_set))
        .route("/calendars/{code}/import", web::post().to(programme::web::calendar_import))
        .route("/rosters", web::get().to(programme::web::rosters))
        .route("/rosters", web::post().to(programme::web::build))
        .route("/rosters/print-all", web::post().to(programme::web::print_all))
        .route("/rosters/{id}", web::get().to(programme::web::detail))
        .route("/rosters/{id}/step", web::post().to(programme::web::step))
        .route("/rosters/{id}/discard", web::post().to(programme::web::discard))
        .route("/rosters/{id}/scan", web::post().to(programme::scan_web::upload_page))
        .route("/rosters/{id}/scan", web::get().to(programme::scan_web::review))
        .route("/rosters/{id}/scan/{file}", web::get().to(programme::scan_web::file))
        .route("/rosters/{id}/{file}", web::get().to(programme::web::file))
        .route("/entitlements", web::get().to(ledger::web::list))
        .route("/entitlements", web::post().to(ledger::web::act))
        .route("/entitlements/{code}/{month}", web::get().to(ledger::web::detail))
        .route("/yibu", web::get().to(ledger::web::yibu_list))
        .route("/yibu", web::post().to(ledger::web::yibu_act))
        .route("/yibu/{code}/{term}", web::get().to(ledger::web::yibu_detail))
        .route("/ledger", web::get().to(ledger::fund_web::page))
        .route("/ledger", web::post().to(ledger::fund_web::act))
        .route("/ledger/accounts/{code}", web::get().to(ledger::fund_web::account))
        .route("/ledger/verify", web::get().to(ledger::fund_web::verify))
        .route("/dashboard", web::get().to(crate::reports::web::dashboard_page))
        .route("/reports", web::get().to(crate::reports::web::index))
        .route("/reports/submissions", web::get().to(crate::reports::web::overview_page))
        .route("/reports/submissions/{id}", web::get().to(crate::reports::web::submission_page))
        .route("/reports/submissions/{id}/decide", web::post().to(crate::reports::web::decide_page))
        .route("/reports/{name}/submit", web::post().to(crate::reports::web::submit_page))
        .route("/reports/{name}", web::get().to(crate::reports::web::page))
        .route("/reports/{name}/drill", web::get().to(crate::reports::web::drill_page))
        .route("/reconciliation", web::get().to(ledger::reconcile_web::page))
        .route("/inspections", web::get().to(crate::inspection::web::flags_page))
        .route("/inspections/scan", web::get().to(crate::inspection::web::scan_page))
        .route("/inspections/refresh", web::post().to(crate::inspection::web::refresh_form))
        .route("/inspections/flags/{id}", web::get().to(crate::inspection::web::flag))
        .route("/inspections/flags/{id}", web::post().to(crate::inspection::web::act_form))
        .route("/inspections/rules", web::get().to(crate::inspection::web::rules))
        .route("/inspections/rules", web::post().to(crate::inspection::web::rules_set))
        .route("/inspections/risk", web::get().to(crate::inspection::web::risk_page))
        .route("/inspections/audit", web::get().to(crate::inspection::web::trail_page))
        .route("/meals", web::get().to(crate::meals::web::day))
        .route("/meals", web::post().to(crate::meals::web::record))
        .route("/meals/board", web::get().to(crate::meals::web::board))
        .route("/meals/deadline", web::post().to(crate::meals::web::set_deadline))
        .route("/meals/import", web::post().to(crate::meals::web::import_page))
        .route("/meals/canteen", web::get().to(crate::meals::canteen_web::week))
        .route("/meals/menu", web::post().to(crate::meals::canteen_web::set_menu))
        .route("/meals/accompany", web::post().to(crate::meals::canteen_web::accompany))
        .route("/meals/corrections", web::get().to(crate::meals::web::corrections))
        .route("/meals/stock", web::get().to(crate::meals::stock_web::view))
        .route("/meals/stock/use", web::post().to(crate::meals::stock_web::record_use))
        .route("/meals/stock/compare", web::get().to(crate::meals::stock_web::compare))
        .route("/meals/stock/entries/{id}/correct", web::post().to(crate::meals::stock_web::correct))
        .route("/purchases", web::get().to(crate::ledger::purchase_web::list))
        .route("/notice/track", web::get().to(crate::meals::notice_web::track))
        .route("/notice/{code}", web::get().to(crate::meals::notice_web::page))
        .route("/notice/{code}/complaints", web::post().to(crate::meals::notice_web::complain))
        .route("/notice/{code}/poster.pdf", web::get().to(crate::meals::notice_web::poster))
        .route("/complaints", web::get().to(crate::meals::complaints_web::list))
        .route("/complaints", web::post().to(crate::meals::complaints_web::enter))
        .route("/complaints/hotline", web::post().to(crate::meals::complaints_web::set_hotline))
        .route("/complaints/{id}", web::get().to(crate::meals::complaints_web::detail))
        .route("/complaints/{id}/answer", web::post().to(crate::meals::complaints_web::answer))
        .route("/purchases", web::post().to(crate::ledger::purchase_web::record))
        .route("/purchases/{id}", web::get().to(crate::ledger::purchase_web::detail))
        .route("/purchases/{id}/documents/{att}", web::get().to(crate::ledger::purchase_web::document))
        .route("/meals/corrections/{id}", web::post().to(crate::meals::web::decide))
        .route("/inspections/visits/{id}", web::post().to(crate::inspection::web::visit_record))
        .route("/inspections/findings", web::get().to(crate::inspection::web::findings_list))
        .route("/inspections/findings", web::post().to(crate::inspection::web::finding_record))
        .route("/inspections/findings/{id}", web::get().to(crate::inspection::web::finding))
        .route("/inspections/findings/{id}/step", web::post().to(crate::inspection::web::finding_step))
        .route("/inspections/findings/{id}/link", web::post().to(crate::inspection::web::finding_link))
        .route("/inspections/findings/{id}/recover", web::post().to(crate::inspection::web::finding_recover))
        .route("/inspections/findings/{id}/correct", web::get().to(crate::inspection::web::finding_correct))
        .route("/inspections/findings/{id}/evidence/{att}", web::get().to(crate::inspection::web::finding_evidence))
        .route("/inspections/plans", web::get().to(crate::inspection::web::plans))
        .route("/inspections/plans", web::post().to(crate::inspection::web::plan_draw))
        .route("/inspections/plans/{id}", web::get().to(crate::inspection::web::plan))
        .route("/inspections/plans/{id}/visits/{visit}/sheet.pdf", web::get().to(crate::inspection::web::visit_sheet))
        .route("/inspections/plans/{id}/visits/{visit}/report.pdf", web::get().to(crate::inspection::web::visit_report))
        .route("/reconciliation/import", web::post().to(ledger::reconcile_web::page_import))
        .route("/reconciliation/{org}/{month}/{file}", web::get().to(ledger::reconcile_web::page_file))
        .route("/schools/{code}/students", web::post().to(registry::web::create))
        .route("/users", web::get().to(auth::web::users))
        .route("/users", web::post().to(auth::web::user_create))
        .route("/users/new", web::get().to(auth::web::user_new))
        .route("/users/{id}/action", web::post().to(auth::web::user_action))
        .route("/audit", web::get().to(audit::web::list))
        .service(
            web::scope("/api/v1")
                .route("/openapi.json", web::get().to(openapi::document))
                .route("/auth/token", web::post().to(auth::web::api_token))
                .route("/auth/logout", web::post().to(auth::web::api_logout))
                .route("/me", web::get().to(auth::web::api_me))
                .route("/orgs/{code}", web::get().to(org::api::org))
                .route("/schools", web::get().to(org::api::schools))
                .route("/schools", web::post().to(org::api::school_create))
                .route("/schools/{code}", web::get().to(org::api::school))
                .route("/schools/{code}", web::put().to(org::api::school_update))
                .route("/schools/{code}/campuses", web::get().to(org::api::campuses))
                .route("/schools/{code}/campuses", web::post().to(org::api::campus_create))
                .route("/schools/{code}/classes", web::get().to(org::api::classes))
                .route("/schools/{code}/classes", web::post().to(org::api::class_create))
                .route("/schools/{code}/teachers", web::get().to(org::api::teachers))
                .route("/schools/{code}/teachers", web::post().to(org::api::teacher_create))
                .route("/classes/{id}", web::get().to(org::api::class))
                .route("/classes/{id}", web::put().to(org::api::class_update))
                .route("/classes/{id}", web::delete().to(org::api::class_delete))
                .route("/teachers/{id}", web::get().to(org::api::teacher))
                .route("/teachers/{id}", web::put().to(org::api::teacher_update))
                .route("/teachers/{id}", web::delete().to(org::api::teacher_delete))
                .route("/students", web::get().to(registry::api::list))
                .route("/students/search", web::post().to(registry::api::search))
                .route("/students/confirm", web::post().to(registry::api::confirm))
                .route("/students/import", web::post().to(exchange::web::api_import))
                .route("/jobs/{id}", web::get().to(exchange::web::api_job))
                .route("/classes/{id}/student-forms.pdf", web::get().to(exchange::web::api_student_forms))
                .route("/schools/{code}/template.xlsx", web::get().to(exchange::web::api_template))
                .route("/schools/{code}/students.xlsx", web::get().to(exchange::web::api_export))
                .route("/students/{id}", web::get().to(registry::api::get))
                .route("/students/{id}", web::put().to(registry::api::update))
                .route("/students/{id}/history", web::get().to(registry::api::history))
                .route("/students/{id}/change-requests", web::post().to(registry::api::submit_change))
                .route("/change-requests", web::get().to(registry::api::change_requests))
                .route("/change-requests/{id}", web::get().to(registry::api::change_request))
                .route("/change-requests/{id}/decision", web::post().to(registry::api::decide_change))
                .route("/change-requests/{id}/evidence", web::get().to(registry::api::change_evidence))
                .route("/students/{id}/photo", web::get().to(registry::photo_web::api_get))
                .route("/students/{id}/photo", web::put().to(registry::photo_web::api_put))
                .route("/photos", web::post().to(registry::photo_web::api_zip))
                .route("/key-locks", web::get().to(registry::api::key_locks))
                .route("/programme", web::get().to(programme::api::overview))
                .route("/programme/plans", web::put().to(programme::api::set_plan))
                .route("/programme/schools", web::post().to(programme::api::join))
                .route("/programme/schools/{id}/leave", web::post().to(programme::api::leave))
                .route("/programme/standards", web::post().to(programme::api::add_standard))
                .route("/programme/standards/{id}/end", web::post().to(programme::api::end_standard))
                .route("/programme/suppliers", web::post().to(programme::api::add_supplier))
                .route("/schools/{code}/meal-models", web::get().to(programme::api::models))
                .route("/schools/{code}/meal-models", web::post().to(programme::api::add_model))
                .route("/calendars/{code}", web::get().to(programme::api::calendar_get))
                .route("/calendars/{code}/import", web::post().to(programme::api::calendar_import))
                .route("/calendars/{code}/{month}", web::put().to(programme::api::calendar_put))
                .route("/rosters", web::get().to(programme::api::list))
                .route("/rosters", web::post().to(programme::api::build))
                .route("/rosters/{id}", web::get().to(programme::api::get))
                .route("/rosters/{id}", web::delete().to(programme::api::discard))
                .route("/rosters/{id}/step", web::post().to(programme::api::step))
                .route("/rosters/{id}/scan", web::post().to(programme::scan_web::api_upload))
                .route("/rosters/{id}/scan", web::get().to(programme::scan_web::api_get))
                .route("/rosters/{id}/scan/{file}", web::get().to(programme::scan_web::api_file))
                .route("/rosters/{id}/{file}", web::get().to(programme::api::file))
                .route("/entitlements", web::get().to(ledger::api::list))
                .route("/entitlements/compute", web::post().to(ledger::api::compute))
                .route("/entitlements/rule", web::put().to(ledger::api::set_rule))
                .route("/schools/{code}/entitlements/{month}", web::get().to(ledger::api::detail))
                .route("/yibu/compute", web::post().to(ledger::api::yibu_compute))
                .route("/schools/{code}/yibu/{term}", web::get().to(ledger::api::yibu_detail))
                .route("/ledger/accounts", web::get().to(ledger::api::accounts))
                .route("/ledger/accounts/{code}/entries", web::get().to(ledger::api::account_entries))
                .route("/ledger/requests", web::get().to(ledger::api::requests))
                .route("/ledger/requests", web::post().to(ledger::api::post))
                .route("/ledger/requests/{id}/approve", web::post().to(ledger::api::approve))
                .route("/ledger/requests/{id}/reject", web::post().to(ledger::api::reject))
                .route("/ledger/requests/{id}/reverse", web::post().to(ledger::api::reverse))
                .route("/ledger/verify", web::get().to(ledger::api::verify))
                .route("/ledger/close", web::post().to(ledger::api::close))
                .route("/ledger/threshold", web::put().to(ledger::api::set_threshold))
                .route("/ledger/import", web::post().to(ledger::reconcile_web::api_import_expenditures))
                .route("/meals/import", web::post().to(ledger::reconcile_web::api_import_meals))
                .route("/schools/{code}/meals/{month}", web::put().to(ledger::reconcile_web::api_put_meals))
                .route("/dashboard", web::get().to(crate::reports::web::api_dashboard))
                .route("/report-submissions", web::get().to(crate::reports::web::api_overview))
                .route("/report-submissions/{id}", web::get().to(crate::reports::web::api_submission))
                .route("/report-submissions/{id}/decision", web::post().to(crate::reports::web::api_decide))
                .route("/reports/{name}/submissions", web::post().to(crate::reports::web::api_submit))
                .route("/reports/{name}", web::get().to(crate::reports::web::api_get))
                .route("/reports/{name}/drill", web::get().to(crate::reports::web::api_drill))
                .route("/reconciliation", web::get().to(ledger::reconcile_web::api_get))
                .route("/anomalies", web::get().to(crate::inspection::web::api))
                .route("/anomaly-flags", web::get().to(crate::inspection::web::flags_api))
                .route("/anomaly-flags/refresh", web::post().to(crate::inspection::web::refresh_api))
                .route("/anomaly-flags/{id}", web::get().to(crate::inspection::web::flag_api))
                .route("/anomaly-flags/{id}", web::post().to(crate::inspection::web::act_api))
                .route("/anomaly-rules", web::get().to(crate::inspection::web::rules_api))
                .route("/anomaly-rules", web::post().to(crate::inspection::web::rules_set_api))
                .route("/risk", web::get().to(crate::inspection::web::risk_api))
                .route("/inspection-visits/{id}", web::post().to(crate::inspection::web::visit_record_api))
                .route("/findings", web::get().to(crate::inspection::web::findings_api))
                .route("/findings", web::post().to(crate::inspection::web::finding_record_api))
                .route("/findings/{id}", web::get().to(crate::inspection::web::finding_api))
                .route("/findings/{id}/step", web::post().to(crate::inspection::web::finding_step_api))
                .route("/findings/{id}/link", web::post().to(crate::inspection::web::finding_link_api))
                .route("/findings/{id}/recover", web::post().to(crate::inspection::web::finding_recover_api))
                .route("/inspection-sample", web::get().to(crate::inspection::web::sample_api))
                .route("/inspection-plans", web::post().to(crate::inspection::web::plan_draw_api))
                .route("/inspection-plans/{id}", web::get().to(crate::inspection::web::plan_api))
                .route("/audit-trail", web::get().to(crate::inspection::web::trail_api))
                .route("/schools/{code}/meal-days/{day}", web::get().to(crate::meals::web::day_api))
                .route("/schools/{code}/meal-days/{day}", web::post().to(crate::meals::web::record_api))
                .route("/meal-days", web::get().to(crate::meals::web::board_api))
                .route("/meal-settings", web::put().to(crate::meals::web::deadline_api))
                .route("/meal-days/import", web::post().to(crate::meals::web::import_api))
                .route("/schools/{code}/canteen/{day}", web::get().to(crate::meals::canteen_web::week_api))
                .route("/schools/{code}/menus/{day}", web::put().to(crate::meals::canteen_web::menu_api))
                .route("/schools/{code}/accompany", web::post().to(crate::meals::canteen_web::accompany_api))
                .route("/schools/{code}/stock", web::get().to(crate::meals::stock_web::api_view))
                .route("/schools/{code}/stock/use", web::post().to(crate::meals::stock_web::api_use))
                .route("/stock-entries/{id}/correct", web::post().to(crate::meals::stock_web::api_correct))
                .route("/stock-comparison", web::get().to(crate::meals::stock_web::api_compare))
                .route("/purchases", web::get().to(crate::ledger::purchase_web::api_list))
                .route("/public/schools/{code}/notice", web::get().to(crate::meals::notice_web::api_notice))
                .route("/public/schools/{code}/complaints", web::post().to(crate::meals::notice_web::api_complain))
                .route("/public/complaints/{code}", web::get().to(crate::meals::notice_web::api_track))
                .route("/complaints", web::get().to(crate::meals::complaints_web::api_list))
                .route("/complaints", web::post().to(crate::meals::complaints_web::api_enter))
                .route("/complaints/{id}", web::get().to(crate::meals::complaints_web::api_get))
                .route("/complaints/{id}/answer", web::post().to(crate::meals::complaints_web::api_answer))
                .route("/notice-settings", web::put().to(crate::meals::complaints_web::api_hotline))
                .route("/purchases", web::post().to(crate::ledger::purchase_web::api_record))
                .route("/purchases/{id}", web::get().to(crate::ledger::purchase_web::api_get))
                .route("/purchases/{id}/documents/{att}", web::get().to(crate::ledger::purchase_web::api_document))
                .route("/meal-corrections", web::get().to(crate::meals::web::corrections_api))
                .route("/meal-corrections/{id}", web::post().to(crate::meals::web::decide_api))
                .route(
                    "/inspection-plans/{id}/visits/{visit}/report.pdf",
                    web::get().to(crate::inspection::web::visit_report_api),
                )
                .route("/reconciliation/{org}/{month}/{file}", web::get().to(ledger::reconcile_web::api_file))
                .route("/key-locks", web::put().to(registry::api::set_key_lock))
                .route("/students/{id}/resolve", web::post().to(registry::api::resolve))
                .route("/students/{id}/duplicate", web::get().to(registry::api::duplicate))
                .route("/students/{id}/merges", web::get().to(registry::api::merges))
                .route("/students/{id}/confirm-preview", web::get().to(registry::api::confirm_preview))
                .route("/students/{id}/unmask", web::post().to(registry::api::unmask))
                .route("/schools/{code}/students", web::post().to(registry::api::create))
                .route("/students/{id}/status-changes", web::post().to(registry::status_api::request))
                .route("/students/{id}/timeline", web::get().to(registry::status_api::student_timeline))
                .route("/transfers", web::post().to(registry::status_api::transfer))
                .route("/status-changes", web::get().to(registry::status_api::list))
                .route("/status-changes/{id}", web::get().to(registry::status_api::get))
                .route("/status-changes/{id}/decision", web::post().to(registry::status_api::decide))
                .route("/status-changes/{id}/evidence", web::get().to(registry::status_api::evidence))
                .route("/workflows", web::get().to(registry::status_api::workflows))
                .route("/schools/{code}/eligible", web::get().to(registry::status_api::eligible))
                .route("/terms", web::get().to(registry::status_api::terms_list))
                .route("/terms", web::put().to(registry::status_api::term_set))
                .route("/terms/close", web::post().to(registry::status_api::term_close))
                .route("/transfer-restrictions", web::post().to(registry::status_api::restriction_add))
                .route("/transfer-restrictions/{id}", web::delete().to(registry::status_api::restriction_remove))
                .route("/promotions", web::get().to(registry::status_api::promotions))
                .route("/promotions", web::post().to(registry::status_api::promote))
                .route("/promotions/{id}", web::post().to(registry::status_api::promotion_action))
                .route("/users", web::get().to(auth::web::api_users))
                .route("/users", web::post().to(auth::web::api_user_create))
                .route("/users/{id}", web::get().to(auth::web::api_user))
                .route("/users/{id}/action", web::post().to(auth::web::api_user_action))
                .route("/account-requests", web::get().to(auth::web::api_account_requests))
                .route("/audit", web::get().to(audit::web::api_list))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(AppError::new(ErrorKind::NotFound, "not_found", "接口不存在"))
                })),
        )
        .default_service(web::to(not_found));
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
    state: web::Data<AppState>,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // Malformed JSON or form bodies answer in Chinese with a stable code instead of actix's text.
    let json_cfg = web::JsonConfig::default().limit(1024 * 1024).error_handler(|err, _| {
        AppError::invalid("input.malformed_json", format!("请求内容不是有效的JSON或字段类型不符：{err}")).into()
    });
    // A bad path or query answers as the rest of its side does: JSON under /api, a page elsewhere
    // (`/students/new` is not a student number: a Chinese page, not raw JSON).
    fn answer(e: AppError, req: &actix_web::HttpRequest) -> actix_web::Error {
        if req.path().starts_with("/api/") { e.into() } else { PageError(e).into() }
    }
    let path_cfg = web::PathConfig::default()
        .error_handler(|_, req| answer(AppError::new(ErrorKind::NotFound, "not_found", "记录不存在"), req));
    let query_cfg = web::QueryConfig::default().error_handler(|err, req| {
        answer(AppError::invalid("input.malformed_query", format!("查询参数有误：{err}")), req)
    });
    actix_web::App::new()
        .app_data(state)
        .app_data(json_cfg)
        .app_data(path_cfg)
        .app_data(query_cfg)
        .wrap(security_headers())
        .wrap(tracing_actix_web::TracingLogger::<PathOnlySpan>::new())
        .configure(routes)
}
