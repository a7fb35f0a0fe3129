//! The routes of reports, their submissions and the dashboard.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(super::web::dashboard_page))
        .route("/reports", web::get().to(super::web::index))
        .route("/reports/submissions", web::get().to(super::web::overview_page))
        .route("/reports/submissions/{id}", web::get().to(super::web::submission_page))
        .route("/reports/submissions/{id}/decide", web::post().to(super::web::decide_page))
        .route("/reports/{name}/submit", web::post().to(super::web::submit_page))
        .route("/reports/{name}", web::get().to(super::web::page))
        .route("/reports/{name}/drill", web::get().to(super::web::drill_page));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("reports");
    r.get("/todo", super::web::api_todo, "待办事项：待我办理、等待他人、期限（与首页同一份清单）");
    r.get("/dashboard", super::web::api_dashboard, "驾驶舱背后的数字 (?org=)：受益学生、补助、供餐与疑点概况");
    r.get(
        "/report-submissions",
        super::web::api_overview,
        "报送情况 (?report=&period=)：应报单位、最新版本、状态、是否逾期",
    );
    r.get("/report-submissions/{id}", super::web::api_submission, "某次报送及其冻结的报表内容");
    r.post(
        "/report-submissions/{id}/decision",
        super::web::api_decide,
        "上级审核 {decision: approve|approve_with_reservations|reject, note}",
    );
    r.post(
        "/reports/{name}/submissions",
        super::web::api_submit,
        "报送本单位报表（冻结快照、哈希、与上一版的差异）{org, period, date?}",
    );
    r.get(
        "/reports/{name}",
        super::web::api_get,
        "统计报表 (name: school-regular|county-regular; ?org=&period=&date=&format=json|xlsx|pdf)",
    );
    r.get(
        "/reports/{name}/drill",
        super::web::api_drill,
        "报表某数字所统计的明细 (?org=&period=&date=&school=&column=)",
    );
}
