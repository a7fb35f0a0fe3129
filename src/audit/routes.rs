//! The routes of the audit log.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(super::web::list));
    cfg.route("/audit.xlsx", web::get().to(super::web::export));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("audit");
    r.get("/audit", super::web::api_list, "审计日志 (?action=&label=&actor=&object_type=&object_id=&from=&to=&page=)");
}
