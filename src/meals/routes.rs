//! The routes of meal days, the canteen, stock, corrections, the public notice and complaints.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/meals", web::get().to(super::web::day))
        .route("/meals", web::post().to(super::web::record))
        .route("/meals/board", web::get().to(super::web::board))
        .route("/meals/deadline", web::post().to(super::web::set_deadline))
        .route("/meals/import", web::post().to(super::web::import_page))
        .route("/meals/canteen", web::get().to(super::canteen_web::week))
        .route("/meals/menu", web::post().to(super::canteen_web::set_menu))
        .route("/meals/accompany", web::post().to(super::canteen_web::accompany))
        .route("/meals/corrections", web::get().to(super::web::corrections))
        .route("/meals/stock", web::get().to(super::stock_web::view))
        .route("/meals/stock/use", web::post().to(super::stock_web::record_use))
        .route("/meals/stock/compare", web::get().to(super::stock_web::compare))
        .route("/meals/stock/entries/{id}/correct", web::post().to(super::stock_web::correct))
        .route("/notice/track", web::get().to(super::notice_web::track))
        .route("/notice/{code}", web::get().to(super::notice_web::page))
        .route("/notice/{code}/complaints", web::post().to(super::notice_web::complain))
        .route("/notice/{code}/poster.pdf", web::get().to(super::notice_web::poster))
        .route("/complaints", web::get().to(super::complaints_web::list))
        .route("/complaints", web::post().to(super::complaints_web::enter))
        .route("/complaints/hotline", web::post().to(super::complaints_web::set_hotline))
        .route("/complaints/{id}", web::get().to(super::complaints_web::detail))
        .route("/complaints/{id}/answer", web::post().to(super::complaints_web::answer))
        .route("/meals/corrections/{id}", web::post().to(super::web::decide));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("meals");
    r.get("/schools/{code}/meal-days/{day}", super::web::day_api, "学校一天的就餐日报：各班在籍受益人数与已报就餐人数");
    r.post(
        "/schools/{code}/meal-days/{day}",
        super::web::record_api,
        "报送就餐日报 {classes: [{class: 班级号, ate, absent?: [学籍号]}], reason?}；已结账月份返回202，待县级审批",
    );
    r.get("/meal-days", super::web::board_api, "县（或上级）当日各校就餐日报报送进度 ?org=&day=");
    r.put("/meal-settings", super::web::deadline_api, "设置本县就餐日报每日截止时间 {deadline: \"HH:MM\"}");
    r.post(
        "/meal-days/import",
        super::web::import_api,
        "导入就餐日报（请求体为文件，?filename=；列：学校标识码、日期、班级号、就餐人数、缺勤学生、更正原因）",
    );
    r.get("/schools/{code}/canteen/{day}", super::canteen_web::week_api, "学校某日所在一周的食谱与陪餐记录");
    r.put(
        "/schools/{code}/menus/{day}",
        super::canteen_web::menu_api,
        "公布某日所在一周的食谱 {monday, tuesday, wednesday, thursday, friday}",
    );
    r.post(
        "/schools/{code}/accompany",
        super::canteen_web::accompany_api,
        "记录陪餐 {day, person, post, served, remarks}",
    );
    r.get("/schools/{code}/stock", super::stock_web::api_view, "食堂库存 ?period=：各食品结存、本月入库出库与记录");
    r.post(
        "/schools/{code}/stock/use",
        super::stock_web::api_use,
        "供餐日出库 {day, lines:[{food, qty}], note}；库存不足则整笔拒绝",
    );
    r.post("/stock-entries/{id}/correct", super::stock_web::api_correct, "更正一条出库 {reason}（记一条相反的分录）");
    r.get(
        "/stock-comparison",
        super::stock_web::api_compare,
        "?org=&period= 各校按食品的购入量、均价、出库量与每人次用量，及全县中位数",
    );
    r.tag("public");
    r.get(
        "/public/schools/{code}/notice",
        super::notice_web::api_notice,
        "学校公示（无需登录）：受益人数、标准、供餐模式、本周食谱、本月和上月资金收支、举报电话",
    );
    r.post(
        "/public/schools/{code}/complaints",
        super::notice_web::api_complain,
        "公众举报（无需登录）{category, content, anonymous, name, contact} → {tracking_code}；每来源每小时5件",
    );
    r.get("/public/complaints/{code}", super::notice_web::api_track, "凭查询码查看举报的状态与答复（无需登录）");
    r.tag("meals");
    r.get("/complaints", super::complaints_web::api_list, "?org=&from=&to= 本县举报及按校汇总");
    r.post(
        "/complaints",
        super::complaints_web::api_enter,
        "县级登记电话、来信举报 {school, category, content, anonymous, name, contact}",
    );
    r.get("/complaints/{id}", super::complaints_web::api_get, "一件举报（联系方式完整显示）");
    r.post("/complaints/{id}/answer", super::complaints_web::api_answer, "答复举报 {answer}");
    r.put("/notice-settings", super::complaints_web::api_hotline, "设置公示页举报电话 {hotline}");
    r.get("/meal-corrections", super::web::corrections_api, "已结账月份就餐日报更正申请 ?org=");
    r.post("/meal-corrections/{id}", super::web::decide_api, "审批更正 {decision: approve|refuse, note}");
}
