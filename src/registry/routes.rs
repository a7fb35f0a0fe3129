//! The routes of students, change requests, photos, status changes, terms and promotions.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/students", web::get().to(super::web::list))
        .route("/students/search", web::post().to(super::web::search))
        .route("/students/confirm", web::post().to(super::web::confirm))
        .route("/students/{id}", web::get().to(super::web::detail))
        .route("/students/{id}/unmask", web::post().to(super::web::unmask))
        .route("/students/{id}/edit", web::get().to(super::web::edit_form))
        .route("/students/{id}/edit", web::post().to(super::web::update))
        .route("/students/{id}/confirm", web::post().to(super::web::confirm_one))
        .route("/students/{id}/resolve", web::post().to(super::web::resolve))
        .route("/students/{id}/change-request", web::get().to(super::change_web::new_request))
        .route("/students/{id}/change-request", web::post().to(super::change_web::submit_request))
        .route("/change-requests", web::get().to(super::change_web::list))
        .route("/change-requests/{id}", web::get().to(super::change_web::detail))
        .route("/change-requests/{id}/decide", web::post().to(super::change_web::decide))
        .route("/change-requests/{id}/evidence", web::get().to(super::change_web::evidence))
        .route("/students/{id}/photo.jpg", web::get().to(super::photo_web::photo))
        .route("/students/{id}/photo", web::post().to(super::photo_web::upload_one))
        .route("/photos", web::get().to(super::photo_web::page))
        .route("/photos", web::post().to(super::photo_web::upload_zip))
        .route("/students/{id}/status-changes/new", web::get().to(super::status_web::new_request))
        .route("/students/{id}/status-changes", web::post().to(super::status_web::submit_request))
        .route("/transfers/new", web::get().to(super::status_web::new_transfer))
        .route("/transfers", web::post().to(super::status_web::submit_transfer))
        .route("/status-changes", web::get().to(super::status_web::list))
        .route("/status-changes/{id}", web::get().to(super::status_web::detail))
        .route("/status-changes/{id}/decide", web::post().to(super::status_web::decide))
        .route("/status-changes/{id}/evidence", web::get().to(super::status_web::evidence))
        .route("/terms", web::get().to(super::status_web::terms_get))
        .route("/terms", web::post().to(super::status_web::term_set))
        .route("/terms/close", web::post().to(super::status_web::term_close))
        .route("/transfer-restrictions", web::post().to(super::status_web::restriction_add))
        .route("/transfer-restrictions/{id}/delete", web::post().to(super::status_web::restriction_remove))
        .route("/promotions", web::get().to(super::status_web::promotions))
        .route("/promotions", web::post().to(super::status_web::promote))
        .route("/promotions/{id}", web::post().to(super::status_web::promotion_action))
        .route("/key-locks", web::get().to(super::change_web::locks))
        .route("/key-locks", web::post().to(super::change_web::set_lock))
        .route("/schools/{code}/students/new", web::get().to(super::web::new_form))
        .route("/schools/{code}/students", web::post().to(super::web::create));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("registry");
    r.get(
        "/students",
        super::api::list,
        "学生列表 (?q=姓名/身份证号/学籍号&school=&class_id=&review=pending|confirmed|problem&page=)",
    );
    r.post(
        "/students/search",
        super::api::search,
        "按姓名、身份证件号或学籍号查询学生（条件在请求体中，号码不进网址）",
    );
    r.post("/students/confirm", super::api::confirm, "县级确认入库 {ids}");
    r.get("/students/{id}", super::api::get, "学生详情");
    r.put("/students/{id}", super::api::update, "修改学生 {record, reason, version}");
    r.get("/students/{id}/history", super::api::history, "字段变更历史");
    r.post(
        "/students/{id}/change-requests",
        super::api::submit_change,
        "关键信息变更申请 {changes: {字段键: 新值}, reason, evidence: {filename, content_base64}}",
    );
    r.get(
        "/change-requests",
        super::api::change_requests,
        "变更申请列表 (?status=submitted|school_approved|approved|rejected)",
    );
    r.get("/change-requests/{id}", super::api::change_request, "变更申请详情");
    r.post("/change-requests/{id}/decision", super::api::decide_change, "学校审核 / 县级审批 {approve, note}");
    r.get("/change-requests/{id}/evidence", super::api::change_evidence, "下载证明材料");
    r.get("/students/{id}/photo", super::photo_web::api_get, "学生照片（JPG）");
    r.put("/students/{id}/photo", super::photo_web::api_put, "上传学生照片（请求体为JPG）");
    r.post("/photos", super::photo_web::api_zip, "批量上传照片（请求体为ZIP），逐个文件返回结果");
    r.get("/key-locks", super::api::key_locks, "关键信息锁定日期");
    r.put("/key-locks", super::api::set_key_lock, "设置本单位锁定日期 {school_year, lock_date, extra_fields}");
    r.post("/students/{id}/resolve", super::api::resolve, "处理问题学籍 {decision: keep|delete|merge, note}");
    r.get("/students/{id}/duplicate", super::api::duplicate, "问题学籍与之重复的在校学生（逐项对照）");
    r.get("/students/{id}/merges", super::api::merges, "并入本生的重复学籍及其来源");
    r.get(
        "/students/{id}/confirm-preview",
        super::api::confirm_preview,
        "确认入库将计发的补助（入校日期、补录天数、逐月供餐日与金额）",
    );
    r.post(
        "/students/{id}/unmask",
        super::api::unmask,
        "查看完整证件号码、学籍号和电话（须有权限并填写事由，记入审计）",
    );
    r.post("/schools/{code}/students", super::api::create, "新生注册 {字段键: 值}");
    r.tag("status");
    r.post("/students/{id}/status-changes", super::status_api::request, "办理学籍异动 {kind: 11|12|29|31|51|99, effective_date, reason, to_class_no, evidence: {filename, content_base64}}");
    r.get("/students/{id}/timeline", super::status_api::student_timeline, "学籍状态时间线 {spells, changes}");
    r.post(
        "/transfers",
        super::status_api::transfer,
        "转入学校提出转学申请 {student_no, name, to_class_no, effective_date, reason, evidence}",
    );
    r.get("/status-changes", super::status_api::list, "学籍异动列表 (?show=mine|open|in_transit|overdue|all)");
    r.get("/status-changes/{id}", super::status_api::get, "学籍异动详情及审批环节");
    r.post(
        "/status-changes/{id}/decision",
        super::status_api::decide,
        "办理当前环节 {approve, note}（逾期可由上级代办）",
    );
    r.get("/status-changes/{id}/evidence", super::status_api::evidence, "下载异动证明材料");
    r.get("/workflows", super::status_api::workflows, "审批流程配置（类别 × 范围 × 环节）");
    r.get("/schools/{code}/eligible", super::status_api::eligible, "某日在校、可享受补助的学生 (?date=YYYY-MM-DD)");
    r.get("/terms", super::status_api::terms_list, "学期日期与转学限制");
    r.put("/terms", super::status_api::term_set, "设置本单位学期日期 {term: YYYY-1|YYYY-2, start_date, end_date}");
    r.post("/terms/close", super::status_api::term_close, "关闭学期 {term}");
    r.post("/transfer-restrictions", super::status_api::restriction_add, "新增不办理转学的年级 {grade, term?, note}");
    r.delete("/transfer-restrictions/{id}", super::status_api::restriction_remove, "删除转学限制");
    r.get("/promotions", super::status_api::promotions, "升级毕业任务列表");
    r.post(
        "/promotions",
        super::status_api::promote,
        "升级毕业：预览或执行 {org, school_year, graduation_date?, repeaters: [{student_no, class_no}], dry_run}",
    );
    r.post("/promotions/{id}", super::status_api::promotion_action, "确认或撤销升级毕业任务 {action: confirm|undo}");
}
