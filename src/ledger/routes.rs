//! The routes of entitlements, 一补, the fund ledger, purchases and reconciliation.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/entitlements", web::get().to(super::web::list))
        .route("/entitlements", web::post().to(super::web::act))
        .route("/entitlements/{code}/{month}", web::get().to(super::web::detail))
        .route("/yibu", web::get().to(super::web::yibu_list))
        .route("/yibu", web::post().to(super::web::yibu_act))
        .route("/yibu/{code}/{term}", web::get().to(super::web::yibu_detail))
        .route("/ledger", web::get().to(super::fund_web::page))
        .route("/ledger", web::post().to(super::fund_web::act))
        .route("/ledger/accounts/{code}", web::get().to(super::fund_web::account))
        .route("/ledger/verify", web::get().to(super::fund_web::verify))
        .route("/reconciliation", web::get().to(super::reconcile_web::page))
        .route("/purchases", web::get().to(super::purchase_web::list))
        .route("/purchases", web::post().to(super::purchase_web::record))
        .route("/purchases/{id}", web::get().to(super::purchase_web::detail))
        .route("/purchases/{id}/documents/{att}", web::get().to(super::purchase_web::document))
        .route("/reconciliation/import", web::post().to(super::reconcile_web::page_import))
        .route("/reconciliation/{org}/{month}/{file}", web::get().to(super::reconcile_web::page_file));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("ledger");
    r.get("/entitlements", super::api::list, "各校某月膳食补助 (?period=YYYY-MM)");
    r.post("/entitlements/compute", super::api::compute, "计算膳食补助 {org: 学校或县, period, close?}");
    r.put("/entitlements/rule", super::api::set_rule, "设置本县计算规则 {rule: day|month}");
    r.get("/schools/{code}/entitlements/{period}", super::api::detail, "某校某月补助及逐生明细");
    r.post("/yibu/compute", super::api::yibu_compute, "计算一补（按学期）{org: 学校或县, term: YYYY-1|YYYY-2, close?}");
    r.get("/schools/{code}/yibu/{term}", super::api::yibu_detail, "某校某学期一补及逐生明细");
    r.get("/ledger/accounts", super::api::accounts, "资金账户及余额");
    r.get("/ledger/accounts/{code}/entries", super::api::account_entries, "账户分录（含余额、哈希）");
    r.get("/ledger/requests", super::api::requests, "记账请求 (?status=pending|posted|rejected)");
    r.post("/ledger/requests", super::api::post, "记账 {kind: receipt|allocation|expenditure, fund, from, to, for_school, amount, date, category, voucher_no, memo}；Idempotency-Key 头防重复提交");
    r.post("/ledger/requests/{id}/approve", super::api::approve, "第二人审批入账");
    r.post("/ledger/requests/{id}/reject", super::api::reject, "退回 {reason}");
    r.post("/ledger/requests/{id}/reverse", super::api::reverse, "冲销 {reason}");
    r.get("/ledger/verify", super::api::verify, "核验全部账户的哈希链");
    r.post("/ledger/close", super::api::close, "本单位某月结账 {period}");
    r.put("/ledger/threshold", super::api::set_threshold, "设置需第二人审批的金额 {amount}");
    r.post(
        "/ledger/import",
        super::reconcile_web::api_import_expenditures,
        "导入支出明细（请求体为xlsx/xls/csv，?filename=）",
    );
    r.post("/meals/import", super::reconcile_web::api_import_meals, "导入就餐人次（请求体为文件，?filename=）");
    r.put(
        "/schools/{code}/meals/{period}",
        super::reconcile_web::api_put_meals,
        "上报某校某月供餐天数和就餐人次 {days_served, meals}",
    );
    r.get(
        "/reconciliation",
        super::reconcile_web::api_get,
        "资金对账 (?org=县或学校&period=YYYY-MM|YYYY-1|YYYY&fund=meal|yibu)",
    );
    r.get("/purchases", super::purchase_web::api_list, "?org=&period= 采购与配送，及一年内没有票据的支出");
    r.post("/purchases", super::purchase_web::api_record, "录入采购（multipart：purchase 为JSON {kind: purchase|delivery, expenditure?, supplier, delivered_on, invoice_no, memo, lines:[{food, qty, price, spec}], key}；文件 invoice、delivery、document）");
    r.get("/purchases/{id}", super::purchase_web::api_get, "一笔采购：明细与票据");
    r.get("/purchases/{id}/documents/{att}", super::purchase_web::api_document, "票据文件");
    r.get(
        "/reconciliation/{org}/{period}/{file}",
        super::reconcile_web::api_file,
        "资金拨付审批表 disbursement.pdf|disbursement.xlsx",
    );
}
