//! The routes of the org tree, schools, campuses, classes and teachers.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(super::web::dashboard))
        .route("/orgs", web::get().to(super::web::tree))
        .route("/orgs/{code}", web::get().to(super::web::tree_at))
        .route("/orgs/{code}/townships", web::post().to(super::web::township_create))
        .route("/schools", web::get().to(super::web::schools))
        .route("/schools", web::post().to(super::web::school_create))
        .route("/schools/new", web::get().to(super::web::school_new))
        .route("/schools/{code}", web::get().to(super::web::school))
        .route("/schools/{code}/edit", web::get().to(super::web::school_edit))
        .route("/schools/{code}/edit", web::post().to(super::web::school_update))
        .route("/schools/{code}/campuses", web::post().to(super::web::campus_create))
        .route("/schools/{code}/classes/new", web::get().to(super::web::class_new))
        .route("/schools/{code}/classes", web::post().to(super::web::class_create))
        .route("/schools/{code}/teachers/new", web::get().to(super::web::teacher_new))
        .route("/schools/{code}/teachers", web::post().to(super::web::teacher_create))
        .route("/classes/{id}", web::get().to(super::web::class))
        .route("/classes/{id}/edit", web::get().to(super::web::class_edit))
        .route("/classes/{id}/edit", web::post().to(super::web::class_update))
        .route("/classes/{id}/delete", web::post().to(super::web::class_delete))
        .route("/teachers/{id}/edit", web::get().to(super::web::teacher_edit))
        .route("/teachers/{id}/edit", web::post().to(super::web::teacher_update))
        .route("/teachers/{id}/delete", web::post().to(super::web::teacher_delete));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("org");
    r.get("/orgs/{code}", super::api::org, "机构及其下级");
    r.get("/schools", super::api::schools, "学校列表 (?q=&under=&page=)");
    r.post("/schools", super::api::school_create, "新建学校");
    r.get("/schools/{code}", super::api::school, "学校详情");
    r.put("/schools/{code}", super::api::school_update, "修改学校");
    r.get("/schools/{code}/campuses", super::api::campuses, "校区列表");
    r.post("/schools/{code}/campuses", super::api::campus_create, "新增校区");
    r.get("/schools/{code}/classes", super::api::classes, "班级列表");
    r.post("/schools/{code}/classes", super::api::class_create, "新建班级");
    r.get("/schools/{code}/teachers", super::api::teachers, "教师列表");
    r.post("/schools/{code}/teachers", super::api::teacher_create, "新增教师");
    r.get("/classes/{id}", super::api::class, "班级详情");
    r.put("/classes/{id}", super::api::class_update, "修改班级");
    r.delete("/classes/{id}", super::api::class_delete, "删除班级");
    r.get("/teachers/{id}", super::api::teacher, "教师详情");
    r.put("/teachers/{id}", super::api::teacher_update, "修改教师");
    r.delete("/teachers/{id}", super::api::teacher_delete, "删除教师");
}
