//! The routes of workbooks, printed forms, imports and jobs.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/schools/{code}/template.xlsx", web::get().to(super::web::template))
        .route("/schools/{code}/students.xlsx", web::get().to(super::web::export))
        .route("/classes/{id}/student-forms.pdf", web::get().to(super::web::student_forms))
        .route("/import", web::get().to(super::web::import_page))
        .route("/import", web::post().to(super::web::import_submit))
        .route("/jobs/{id}", web::get().to(super::web::job_page))
        .route("/jobs/{id}/errors.xlsx", web::get().to(super::web::job_errors))
        .route("/jobs/{id}/file", web::get().to(super::web::job_file))
        .route("/jobs/{id}/restart", web::post().to(super::web::job_restart));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("registry");
    r.post(
        "/students/import",
        super::web::api_import,
        "导入学籍模板（请求体为文件内容；?school=&dry_run=&partial=&filename=）",
    );
    r.get(
        "/jobs/{id}",
        super::web::api_job,
        "后台任务（导入、打印、补助计算、疑点扫描）的状态、进度与结果（仅发起人可见）",
    );
    r.get(
        "/classes/{id}/student-forms.pdf",
        super::web::api_student_forms,
        "打印本班学生基本信息核对表（PDF，每生一页，监护人签字）",
    );
    r.get("/schools/{code}/template.xlsx", super::web::api_template, "下载空白学籍模板");
    r.get("/schools/{code}/students.xlsx", super::web::api_export, "按模板格式导出本校（?class_id=）学生");
}
