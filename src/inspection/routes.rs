//! The routes of anomaly flags, rules, risk, findings, plans and visits.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/inspections", web::get().to(super::web::flags_page))
        .route("/inspections/scan", web::get().to(super::web::scan_page))
        .route("/inspections/refresh", web::post().to(super::web::refresh_form))
        .route("/inspections/flags/{id}", web::get().to(super::web::flag))
        .route("/inspections/flags/{id}", web::post().to(super::web::act_form))
        .route("/inspections/rules", web::get().to(super::web::rules))
        .route("/inspections/rules", web::post().to(super::web::rules_set))
        .route("/inspections/risk", web::get().to(super::web::risk_page))
        .route("/inspections/audit", web::get().to(super::web::trail_page))
        .route("/inspections/visits/{id}", web::post().to(super::web::visit_record))
        .route("/inspections/findings", web::get().to(super::web::findings_list))
        .route("/inspections/findings", web::post().to(super::web::finding_record))
        .route("/inspections/findings/{id}", web::get().to(super::web::finding))
        .route("/inspections/findings/{id}/step", web::post().to(super::web::finding_step))
        .route("/inspections/findings/{id}/link", web::post().to(super::web::finding_link))
        .route("/inspections/findings/{id}/recover", web::post().to(super::web::finding_recover))
        .route("/inspections/findings/{id}/correct", web::get().to(super::web::finding_correct))
        .route("/inspections/findings/{id}/evidence/{att}", web::get().to(super::web::finding_evidence))
        .route("/inspections/plans", web::get().to(super::web::plans))
        .route("/inspections/plans", web::post().to(super::web::plan_draw))
        .route("/inspections/plans/{id}", web::get().to(super::web::plan))
        .route("/inspections/plans/{id}/visits/{visit}/sheet.pdf", web::get().to(super::web::visit_sheet))
        .route("/inspections/plans/{id}/visits/{visit}/report.pdf", web::get().to(super::web::visit_report));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("inspection");
    r.get("/anomalies", super::web::api, "异常预警扫描 (?org=县或学校&period=YYYY-MM|YYYY-1|YYYY&rules=A01,A03)：{org, period, rules, not_run, flags:[{rule, severity, school, student_no, month, amount, message}]}");
    r.get(
        "/anomaly-flags",
        super::web::flags_api,
        "本学期存储的预警及处理状态 (?org=&term=YYYY-1&all=1)；数据变动后先自动重新扫描",
    );
    r.post("/anomaly-flags/refresh", super::web::refresh_api, "立即重新扫描某县某学期 {org, term}");
    r.get("/anomaly-flags/{id}", super::web::flag_api, "一条预警及其处理记录");
    r.post("/anomaly-flags/{id}", super::web::act_api, "处理预警 {action: explain|accept|reject|dismiss, note}");
    r.get("/anomaly-rules", super::web::rules_api, "规则阈值、级别及调整记录 (?org=)");
    r.post(
        "/anomaly-rules",
        super::web::rules_set_api,
        "调整规则 {rule, threshold?, severity?, note}（县、省营养办；级别仅省级）",
    );
    r.get("/risk", super::web::risk_api, "学校风险排序及理由 (?org=&term=)");
    r.post("/inspection-visits/{id}", super::web::visit_record_api, "记录现场核查 {visited_on, meals_school?, meals_counted?, note?, children:[{seq, present, in_class, eats_here, guardian_confirms}]}；就餐人数差异达10%自动记为问题");
    r.get("/findings", super::web::findings_api, "督查问题及县学期汇总 (?org=&term=)：{findings, summary}");
    r.post("/findings", super::web::finding_record_api, "记录问题 {school, term, rule?, severity?, description, amount?, flag_id?, visit_id?, evidence:[{filename, base64}]}（督查；须附证据）");
    r.get("/findings/{id}", super::web::finding_api, "一个问题及处理记录");
    r.post(
        "/findings/{id}/step",
        super::web::finding_step_api,
        "问题处理 {step: rectify|answer|verify|return, text, deadline?}",
    );
    r.post(
        "/findings/{id}/link",
        super::web::finding_link_api,
        "关联追回入账或学籍更正 {kind: ledger|change|status, target}",
    );
    r.post(
        "/findings/{id}/recover",
        super::web::finding_recover_api,
        "从学校账户追回问题金额并关联 {amount?, date, voucher_no, memo, fund?, key?}",
    );
    r.get("/inspection-sample", super::web::sample_api, "抽取抽查样本，不保存 (?org=县&term=&schools=&students=&seed=&method=random|risk|mixed&risk_share=60)：{seed, method, schools:[{school, risk, students}], data_hash}");
    r.post(
        "/inspection-plans",
        super::web::plan_draw_api,
        "抽取并保存抽查计划 {org, term, schools, students, seed, method, risk_share}",
    );
    r.get("/inspection-plans/{id}", super::web::plan_api, "抽查计划及各校抽中学生");
    r.get(
        "/audit-trail",
        super::web::trail_api,
        "督查人员查看辖区内的操作记录 ?school=&action=&actor=&page=（号码部分隐藏）",
    );
    r.get(
        "/inspection-plans/{id}/visits/{visit}/report.pdf",
        super::web::visit_report_api,
        "一次现场核查的报告（PDF，学籍号部分隐藏）",
    );
}
