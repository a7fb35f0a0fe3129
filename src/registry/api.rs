//! `/api/v1` for students: the same services, scopes and audit as the pages.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::service::{self, StudentFilter};
use crate::auth::extract::ApiUser;
use crate::error::AppResult;
use crate::web::AppState;

type Json = AppResult<HttpResponse>;

pub async fn list(st: web::Data<AppState>, ApiUser(c): ApiUser, q: web::Query<StudentFilter>) -> Json {
    let f = q.into_inner();
    let (items, total) = st.run(move |conn| service::list(conn, &c, &f)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "total": total, "items": items })))
}

pub async fn get(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> Json {
    let id = path.into_inner();
    Ok(HttpResponse::Ok().json(st.run(move |conn| service::get(conn, &c, id)).await?))
}

pub async fn history(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> Json {
    let id = path.into_inner();
    Ok(HttpResponse::Ok().json(st.run(move |conn| service::history(conn, &c, id)).await?))
}

/// Body: the record as `{field_key: value}` (codes or labels).
pub async fn create(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    body: web::Json<BTreeMap<String, String>>,
) -> Json {
    let (school, raw) = (path.into_inner(), body.into_inner());
    Ok(HttpResponse::Created().json(st.run(move |conn| service::create(conn, &c, &school, &raw)).await?))
}

#[derive(Deserialize)]
pub struct UpdateBody {
    record: BTreeMap<String, String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    version: Option<i32>,
}

pub async fn update(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: web::Json<UpdateBody>,
) -> Json {
    let id = path.into_inner();
    let b = body.into_inner();
    let reason = if b.reason.trim().is_empty() { "信息更正".to_owned() } else { b.reason };
    Ok(HttpResponse::Ok().json(st.run(move |conn| service::update(conn, &c, id, &b.record, &reason, b.version)).await?))
}

#[derive(Deserialize)]
pub struct ConfirmBody {
    ids: Vec<i64>,
}

pub async fn confirm(st: web::Data<AppState>, ApiUser(c): ApiUser, body: web::Json<ConfirmBody>) -> Json {
    let ids = body.into_inner().ids;
    let n = st.run(move |conn| service::confirm(conn, &c, &ids)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "confirmed": n })))
}

#[derive(Deserialize)]
pub struct ResolveBody {
    keep: bool,
    #[serde(default)]
    note: String,
}

pub async fn resolve(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: web::Json<ResolveBody>,
) -> Json {
    let id = path.into_inner();
    let b = body.into_inner();
    st.run(move |conn| service::resolve_problem(conn, &c, id, b.keep, &b.note)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}
