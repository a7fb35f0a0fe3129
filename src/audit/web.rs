//! The audit viewer (审计管理员 only), its Excel export and its API twin.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::browse::{self, AuditFilter, Line};
use super::service::AuditRow;
use super::{Entry, record_alone};
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::role::Permission;
use crate::error::AppResult;
use crate::web::api_doc::{Body, Reply};
use crate::web::strict::ApiQuery;
use crate::web::{AppState, Layout, PageResult, Pager, XLSX, download};

#[derive(Template, WebTemplate)]
#[template(path = "audit/list.html")]
pub struct AuditPage {
    layout: Layout,
    lines: Vec<Line>,
    filter: AuditFilter,
    pager: Pager,
    actions: Vec<&'static str>,
    objects: &'static [(&'static str, &'static str)],
    /// The filter's own address for the export link.
    export: String,
    /// How many rows the export carries at most, said beside its link.
    export_limit: i64,
}

pub async fn list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<AuditFilter>,
) -> PageResult<AuditPage> {
    let filter = q.into_inner();
    let (c, f) = (caller.clone(), filter.clone());
    let lines = st
        .run(move |conn| {
            c.require(conn, Permission::ViewAudit, "audit_list")?;
            let rows = browse::list(conn, c.scope(), &f)?;
            browse::lines(conn, rows)
        })
        .await?;
    let query = filter.to_query();
    let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(AuditPage {
        layout: Layout::new(&caller, &st, "审计日志"),
        pager: Pager::open_ended("/audit", &pairs, filter.page.unwrap_or(1).max(1), lines.len(), browse::PAGE_SIZE),
        export: format!("/audit.xlsx?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default()),
        export_limit: browse::EXPORT_LIMIT,
        lines,
        filter,
        actions: browse::action_names(),
        objects: browse::OBJECTS,
    })
}

/// The filtered log as an Excel workbook (up to `browse::EXPORT_LIMIT` rows); the export is
/// itself a row of the log, naming its filters and count.
pub async fn export(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<AuditFilter>,
) -> PageResult<HttpResponse> {
    let f = q.into_inner();
    let day = caller.today().format("%Y%m%d");
    let bytes = st
        .run(move |conn| {
            caller.require(conn, Permission::ViewAudit, "audit_export")?;
            let rows = browse::for_export(conn, caller.scope(), &f)?;
            let n = rows.len();
            let bytes = browse::xlsx(&browse::lines(conn, rows)?)?;
            let filters: serde_json::Map<String, serde_json::Value> =
                f.to_query().into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
            record_alone(
                conn,
                &caller.actor(),
                Entry::new("audit.export", "audit_log", 0).after(&serde_json::json!({"filters": filters, "rows": n})),
            )?;
            Ok(bytes)
        })
        .await?;
    Ok(download(bytes, &format!("审计日志_{day}.xlsx"), XLSX))
}

pub async fn api_list(
    st: web::Data<AppState>,
    ApiUser(c): ApiUser,
    q: ApiQuery<AuditFilter>,
) -> AppResult<Reply<impl Body>> {
    let f = q.into_inner();
    let rows: Vec<AuditRow> = st
        .run(move |conn| {
            c.require(conn, Permission::ViewAudit, "audit_list")?;
            browse::list(conn, c.scope(), &f)
        })
        .await?;
    Ok(Reply(rows))
}
