//! The audit viewer (审计管理员 only) and its API twin.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use super::service::{self, AuditFilter, AuditRow};
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::role::Permission;
use crate::error::AppResult;
use crate::web::api_doc::{Body, Reply};
use crate::web::strict::ApiQuery;
use crate::web::{AppState, Layout, PageResult, Pager};

#[derive(Template, WebTemplate)]
#[template(path = "audit/list.html")]
pub struct AuditPage {
    layout: Layout,
    rows: Vec<AuditRow>,
    filter: AuditFilter,
    pager: Pager,
}

pub async fn list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<AuditFilter>,
) -> PageResult<AuditPage> {
    let filter = q.into_inner();
    let (c, f) = (caller.clone(), filter.clone());
    let rows = st
        .run(move |conn| {
            c.require(conn, Permission::ViewAudit, "audit_list")?;
            service::list(conn, c.scope(), &f)
        })
        .await?;
    Ok(AuditPage {
        layout: Layout::new(&caller, &st, "审计日志"),
        pager: Pager::open_ended(
            "/audit",
            &[("action", &filter.action), ("actor", &filter.actor)],
            filter.page.unwrap_or(1).max(1),
            rows.len(),
            service::PAGE_SIZE,
        ),
        rows,
        filter,
    })
}

pub async fn api_list(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<AuditFilter>,
) -> AppResult<Reply<impl Body>> {
    let f = q.into_inner();
    let rows = st
        .run(move |conn| {
            c.require(conn, Permission::ViewAudit, "audit_list")?;
            service::list(conn, c.scope(), &f)
        })
        .await?;
    Ok(Reply(rows))
}
