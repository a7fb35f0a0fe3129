//! The inspector's audit trail: who changed what in its scope, or at one school — the changes
//! made by the school's own people and those made from above to the school, its students, their
//! key-information and status changes, its findings and the postings on its accounts. Read-only, numbers masked; sign-ins, refusals and
//! accounts stay with the audit officer (等保 三员).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::browse::PAGE_SIZE;
use crate::audit::service::{AuditRow, escape_like};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{
    audit_log, change_requests, findings, fund_accounts, ledger_requests, status_changes, students,
};
use crate::domain::mask;
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::org::service::org_in_scope;

/// Security events, not changes: the audit officer's part of the log.
const SECURITY: [&str; 6] = ["login", "logout", "user.", "access.", "csrf.", "demo."];

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct TrailQuery {
    /// A school's 学校标识码; empty for the whole scope.
    #[serde(default)]
    pub school: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub page: Option<i64>,
}

/// One change as the inspector reads it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TrailRow {
    pub id: i64,
    /// Beijing time, to the second.
    pub at: String,
    pub actor: String,
    pub org_path: String,
    pub action: String,
    pub action_label: &'static str,
    pub object_type: String,
    pub object_id: String,
    pub result: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl From<AuditRow> for TrailRow {
    fn from(r: AuditRow) -> Self {
        let masked = |s: Option<String>| s.map(|t| mask::numbers_in_text(&t));
        Self {
            id: r.id,
            at: crate::clock::local(r.at).format("%Y-%m-%d %H:%M:%S").to_string(),
            action_label: r.action_label(),
            actor: r.actor,
            org_path: r.org_path,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            result: r.result,
            before: masked(r.before_json),
            after: masked(r.after_json),
        }
    }
}

/// A page of the trail, newest first, with the school it is about when one was asked for.
pub fn trail(conn: &mut DbConn, caller: &Caller, q: &TrailQuery) -> AppResult<(Option<Org>, Vec<TrailRow>)> {
    caller.require(conn, Permission::ReadAuditTrail, "audit_trail")?;
    let school = match q.school.trim() {
        "" => None,
        code => {
            let org = org_in_scope(conn, caller.scope(), code)?;
            if org.kind != OrgKind::School {
                return Err(AppError::field("school", ErrorCode::TrailSchool, format!("“{code}”不是学校标识码")));
            }
            Some(org)
        }
    };
    let mut query = audit_log::table.select(AuditRow::as_select()).order(audit_log::id.desc()).into_boxed();
    for prefix in SECURITY {
        query = query.filter(audit_log::action.not_like(format!("{prefix}%")));
    }
    query = match &school {
        None => query.filter(audit_log::org_path.like(caller.scope().like_pattern())),
        Some(s) => {
            let ids = |v: Vec<i64>| v.into_iter().map(|i| i.to_string()).collect::<Vec<_>>();
            let kids = ids(students::table.filter(students::school_id.eq(s.id)).select(students::id).load(conn)?);
            let changes = ids(change_requests::table
                .filter(change_requests::school_id.eq(s.id))
                .select(change_requests::id)
                .load(conn)?);
            let moves = ids(status_changes::table
                .filter(status_changes::from_school_id.eq(s.id).or(status_changes::to_school_id.eq(s.id)))
                .select(status_changes::id)
                .load(conn)?);
            let found = ids(findings::table.filter(findings::school_id.eq(s.id)).select(findings::id).load(conn)?);
            let accounts: Vec<i64> =
                fund_accounts::table.filter(fund_accounts::org_id.eq(s.id)).select(fund_accounts::id).load(conn)?;
            let money = ids(ledger_requests::table
                .filter(
                    ledger_requests::for_school_id
                        .eq(s.id)
                        .or(ledger_requests::from_account_id.eq_any(accounts.clone()))
                        .or(ledger_requests::to_account_id.eq_any(accounts)),
                )
                .select(ledger_requests::id)
                .load(conn)?);
            let about = |kind: &'static str, ids: Vec<String>| {
                audit_log::object_type.eq(kind).and(audit_log::object_id.eq_any(ids))
            };
            query.filter(
                audit_log::org_path
                    .like(format!("{}%", s.path))
                    .or(about("school", vec![s.code.clone()]))
                    .or(about("student", kids))
                    .or(about("change_request", changes))
                    .or(about("status_change", moves))
                    .or(about("finding", found))
                    .or(about("ledger_request", money)),
            )
        }
    };
    if !q.action.trim().is_empty() {
        query = query.filter(audit_log::action.like(format!("{}%", escape_like(q.action.trim()))));
    }
    if !q.actor.trim().is_empty() {
        query = query.filter(audit_log::actor.eq(q.actor.trim().to_owned()));
    }
    let page = q.page.unwrap_or(1).max(1);
    let rows: Vec<AuditRow> = query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE).load(conn)?;
    Ok((school, rows.into_iter().map(TrailRow::from).collect()))
}
