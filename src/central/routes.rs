//! The routes of the exchange with the centre.

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/central", web::get().to(super::web::page))
        .route("/central/export", web::post().to(super::web::export_form))
        .route("/central/sent/{id}", web::get().to(super::web::sent_file))
        .route("/central/receive", web::post().to(super::web::receive_form))
        .route("/central/import", web::post().to(super::web::import_form))
        .route("/central/register", web::post().to(super::web::register_form))
        .route("/central/return", web::post().to(super::web::return_form));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("central");
    r.post("/central/exports", super::web::export_api, "省级：生成本期交换包 {period}（月份、学期或学年）：编号、人数，及签名的交换包本身（只含身份证号的全国密钥哈希，不含姓名和号码）");
    r.get("/central/exports", super::web::sent_api, "省级：已生成的交换包（最新在前）");
    r.get("/central/exports/{id}", super::web::sent_file_api, "省级：下载已生成的交换包文件");
    r.post(
        "/central/returns/receive",
        super::web::receive_api,
        "省级：接收中心返回包（请求体为文件本身）；签名、序号或全国密钥不符则整包拒收",
    );
    r.get("/central/matches", super::web::matches_api, "省级：中心比对出的本省在外省有学籍的学生");
    r.post(
        "/central/packages",
        super::web::import_api,
        "中心：接收省级交换包（请求体为文件本身）；重复提交不重复入库，签名、序号、全国密钥或县域不符则整包拒收",
    );
    r.get("/central/provinces", super::web::provinces_api, "中心：已登记的省份及其最后一个交换包，和中心的公钥");
    r.post("/central/provinces", super::web::register_api, "中心：登记（或更换）省份签名公钥 {province, key}");
    r.get("/central/claims", super::web::claims_api, "中心：两省同日在籍或受助的学生 (?province=)");
    r.post("/central/returns", super::web::return_api, "中心：生成返回某省的交换包 {province}（文件下载）");
    r.get("/central/rollup", super::web::rollup_api, "中心：由各省交换包汇总的全国分省分月数据 (?period=)");
}
