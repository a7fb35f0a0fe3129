//! `/api/v1` for the org tree, schools, campuses, classes and teachers: the same services
//! and scopes as the pages.

use actix_web::web;

use super::model::*;
use super::service::{self, SchoolFilter};
use crate::auth::extract::ApiUser;
use crate::error::AppResult;
use crate::web::AppState;
use crate::web::api_doc::{Body, Created, NoContent, Page, Reply};
use crate::web::strict::{ApiJson, ApiQuery};

pub async fn org(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<String>) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    let page = st.run(move |conn| service::org_page(conn, &c, Some(&code))).await?;
    Ok(Reply(page))
}

pub async fn schools(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<SchoolFilter>,
) -> AppResult<Reply<impl Body>> {
    let f = q.into_inner();
    let (items, total) = st.run(move |conn| service::list_schools(conn, &c, &f)).await?;
    Ok(Reply(Page { total, items }))
}

pub async fn school(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    Ok(Reply(st.run(move |conn| service::get_school(conn, &c, &code)).await?))
}

pub async fn school_create(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    body: ApiJson<SchoolInput>,
) -> AppResult<Created<impl Body>> {
    let input = body.into_inner();
    Ok(Created::new(st.run(move |conn| service::create_school(conn, &c, &input)).await?))
}

pub async fn school_update(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    body: ApiJson<SchoolInput>,
) -> AppResult<Reply<impl Body>> {
    let (code, input) = (path.into_inner(), body.into_inner());
    Ok(Reply(st.run(move |conn| service::update_school(conn, &c, &code, &input)).await?))
}

pub async fn campuses(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    Ok(Reply(st.run(move |conn| service::list_campuses(conn, &c, &code)).await?))
}

pub async fn campus_create(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    body: ApiJson<CampusInput>,
) -> AppResult<Created<impl Body>> {
    let (code, input) = (path.into_inner(), body.into_inner());
    Ok(Created::new(st.run(move |conn| service::add_campus(conn, &c, &code, &input)).await?))
}

pub async fn classes(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    Ok(Reply(st.run(move |conn| service::list_classes(conn, &c, &code)).await?))
}

pub async fn class_create(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    body: ApiJson<ClassInput>,
) -> AppResult<Created<impl Body>> {
    let (code, input) = (path.into_inner(), body.into_inner());
    Ok(Created::new(st.run(move |conn| service::create_class(conn, &c, &code, &input)).await?))
}

pub async fn class(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| service::get_class(conn, &c, id)).await?))
}

pub async fn class_update(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ClassInput>,
) -> AppResult<Reply<impl Body>> {
    let (id, input) = (path.into_inner(), body.into_inner());
    Ok(Reply(st.run(move |conn| service::update_class(conn, &c, id, &input)).await?))
}

pub async fn class_delete(st: web::Data<AppState>, ApiUser(c): ApiUser, path: web::Path<i64>) -> AppResult<NoContent> {
    let id = path.into_inner();
    st.run(move |conn| service::delete_class(conn, &c, id)).await?;
    Ok(NoContent)
}

pub async fn teachers(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
) -> AppResult<Reply<impl Body>> {
    let code = path.into_inner();
    Ok(Reply(st.run(move |conn| service::list_teachers(conn, &c, &code)).await?))
}

pub async fn teacher_create(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<String>,
    body: ApiJson<TeacherInput>,
) -> AppResult<Created<impl Body>> {
    let (code, input) = (path.into_inner(), body.into_inner());
    Ok(Created::new(st.run(move |conn| service::create_teacher(conn, &c, &code, &input)).await?))
}

pub async fn teacher(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let (t, _) = st.run(move |conn| service::get_teacher(conn, &c, id)).await?;
    Ok(Reply(t))
}

pub async fn teacher_update(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<TeacherInput>,
) -> AppResult<Reply<impl Body>> {
    let (id, input) = (path.into_inner(), body.into_inner());
    Ok(Reply(st.run(move |conn| service::update_teacher(conn, &c, id, &input)).await?))
}

pub async fn teacher_delete(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    path: web::Path<i64>,
) -> AppResult<NoContent> {
    let id = path.into_inner();
    st.run(move |conn| service::delete_teacher(conn, &c, id)).await?;
    Ok(NoContent)
}
