//! The routes of the programme settings, calendars and rosters.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/programme", web::get().to(super::web::settings))
        .route("/programme/plan", web::post().to(super::web::plan_set))
        .route("/programme/schools", web::post().to(super::web::join))
        .route("/programme/schools/{id}/leave", web::post().to(super::web::leave))
        .route("/programme/schools/{code}", web::get().to(super::web::school))
        .route("/programme/schools/{code}/models", web::post().to(super::web::model_add))
        .route("/programme/standards", web::post().to(super::web::standard_add))
        .route("/programme/standards/{id}/end", web::post().to(super::web::standard_end))
        .route("/programme/suppliers", web::post().to(super::web::supplier_add))
        .route("/calendars/{code}", web::get().to(super::web::calendar))
        .route("/calendars/{code}", web::post().to(super::web::calendar_set))
        .route("/calendars/{code}/import", web::post().to(super::web::calendar_import))
        .route("/rosters", web::get().to(super::web::rosters))
        .route("/rosters", web::post().to(super::web::build))
        .route("/rosters/print-all", web::post().to(super::web::print_all))
        .route("/rosters/review-rule", web::post().to(super::web::review_rule))
        .route("/rosters/{id}", web::get().to(super::web::detail))
        .route("/rosters/{id}/step", web::post().to(super::web::step))
        .route("/rosters/{id}/discard", web::post().to(super::web::discard))
        .route("/rosters/{id}/scan", web::post().to(super::scan_web::upload_page))
        .route("/rosters/{id}/scan", web::get().to(super::scan_web::review))
        .route("/rosters/{id}/scan/{file}", web::get().to(super::scan_web::file))
        .route("/rosters/{id}/{file}", web::get().to(super::web::file));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("programme");
    r.get("/programme", super::api::overview, "计划类型、计划学校、补助标准、中央分担、供餐企业");
    r.put(
        "/programme/plans",
        super::api::set_plan,
        "设置县计划类型 {county, school_year, plan_type: national|local_award|local_no_award|other}",
    );
    r.post("/programme/schools", super::api::join, "学校纳入计划 {school, from_date, to_date?, seat_included?, note?}");
    r.post("/programme/schools/{id}/leave", super::api::leave, "学校退出计划 {to_date}");
    r.post(
        "/programme/standards",
        super::api::add_standard,
        "添加补助标准 {kind, org?, from_date, to_date?, amount: 元, note?}",
    );
    r.post("/programme/standards/{id}/end", super::api::end_standard, "为标准设置结束日期 {to_date}");
    r.post("/programme/suppliers", super::api::add_supplier, "添加供餐企业 {name, credit_code, contact?, phone?}");
    r.get("/schools/{code}/meal-models", super::api::models, "学校供餐模式");
    r.post(
        "/schools/{code}/meal-models",
        super::api::add_model,
        "添加供餐模式 {model: canteen|enterprise|family, from_date, to_date?, supplier_id?, class_ids?}",
    );
    r.get("/calendars/{code}", super::api::calendar_get, "供餐日历 (?term=YYYY-1|YYYY-2)");
    r.post(
        "/calendars/{code}/import",
        super::api::calendar_import,
        "导入供餐日历（请求体为文件；?filename=；列：月份、供餐天数、供餐日期）",
    );
    r.put("/calendars/{code}/{period}", super::api::calendar_put, "设置某月供餐日 {days: \"1-5,8\"}");
    r.tag("roster");
    r.get("/rosters", super::api::list, "?term= 计划学校报送情况；?term=&school= 某校各版本");
    r.post("/rosters", super::api::build, "生成受益学生花名册 {school, term, snapshot_date?, after_archive?}（内容未变时返回原版本；本学期已有备案版本时须 after_archive: true，否则 422 roster.archived；差异与最近备案版本比较）");
    r.put(
        "/rosters/review-rule",
        super::api::review_rule,
        "县级设置花名册审核规则 {two_person: true|false}：为 true 时审核与备案须由不同人员办理",
    );
    r.get("/rosters/{id}", super::api::get, "花名册及名单（校验内容哈希）");
    r.delete("/rosters/{id}", super::api::discard, "删除草稿（已签章的不能删除）");
    r.post(
        "/rosters/{id}/step",
        super::api::step,
        "办理 {step: sign|review|archive|return, note?}；备案须已上传签字扫描件",
    );
    r.post(
        "/rosters/{id}/scan",
        super::scan_web::api_upload,
        "上传监护人签字扫描件（multipart，字段 scan，PDF或JPG，可多个）",
    );
    r.get("/rosters/{id}/scan", super::scan_web::api_get, "最新扫描件：页数、打印页数、逐页对照");
    r.get("/rosters/{id}/scan/{file}", super::scan_web::api_file, "扫描件文件或页面图片");
    r.get("/rosters/{id}/{file}", super::api::file, "打印：roster.pdf、roster.xlsx、public.pdf（公示版）、public.xlsx；默认按班分页（每班另起一页并有本班合计），?by_class=0 不分班");
}
