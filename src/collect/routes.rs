//! The routes of the collection points.

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/collect", web::get().to(super::web::page))
        .route("/collect/register", web::post().to(super::web::register_form))
        .route("/collect/import", web::post().to(super::web::import_form))
        .route("/collect/items/{id}", web::post().to(super::web::decide_form))
        .route("/collect/pair", web::post().to(super::web::pair_form))
        .route("/collect/export", web::post().to(super::web::export_form))
        .route("/collect/made/{id}", web::get().to(super::web::made_file));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("collect");
    r.get("/collect/points", super::web::points_api, "县级：本县的单机版采集点、其学校和最后接收的采集包");
    r.post(
        "/collect/points",
        super::web::register_api,
        "县级：登记采集点（或为其更换密钥）{name, schools}；返回配对码（只显示这一次）",
    );
    r.post(
        "/collect/packages",
        super::web::import_api,
        "县级：接收采集点的采集包（请求体为文件本身）；重复提交不重复入库，无法解封、序号不符或含非本采集点学校的整包拒收",
    );
    r.get("/collect/items", super::web::items_api, "县级：采集包中须人工处理的事项（?state=open 只列待处理的）");
    r.post(
        "/collect/items/{id}",
        super::web::decide_api,
        "县级：处理一个事项 {decision: take|keep|done, note}：采用采集点的值、保留网络版的值，或标记已处理",
    );
    r.get("/collect/pairing", super::web::pairing_api, "采集点：本机的配对（未配对为 null）");
    r.post("/collect/pairing", super::web::pair_api, "采集点：用县级给出的配对码配对 {code}");
    r.post(
        "/collect/exports",
        super::web::export_api,
        "采集点：生成下一个采集包（自上一个包以来的工作），返回编号、内容计数和密封的采集包",
    );
    r.get("/collect/exports", super::web::made_api, "采集点：已生成的采集包（最新在前）");
    r.get("/collect/exports/{id}", super::web::made_file_api, "采集点：下载已生成的采集包文件");
}
