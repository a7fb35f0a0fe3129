//! Who is calling, and the subtree of orgs they may see.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::{self, Actor, Entry};
use crate::db::DbConn;
use crate::db::schema::orgs;
use crate::domain::role::{OrgKind, Permission, RoleSet};
use crate::error::{AppError, AppResult, ErrorCode};

/// An org subtree, named by its path prefix. Only a `Caller` (or the command line) hands one
/// out, so every scoped query has a real caller behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    path: String,
}

impl Scope {
    pub(crate) fn of_path(path: &str) -> Self {
        Self { path: path.to_owned() }
    }

    /// The pattern for `path LIKE ?` that matches the subtree.
    pub fn like_pattern(&self) -> String {
        format!("{}%", self.path)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether an org path lies inside this scope.
    pub fn contains(&self, path: &str) -> bool {
        path.starts_with(&self.path)
    }

    /// Whether `path` is an org strictly below the scope's own org.
    pub fn strictly_contains(&self, path: &str) -> bool {
        self.contains(path) && path != self.path
    }
}

/// The authenticated caller of a page, an API call, or the command line.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Option<i64>,
    pub username: String,
    pub display_name: String,
    pub org_id: i64,
    pub org_code: String,
    pub org_name: String,
    pub org_kind: OrgKind,
    pub roles: RoleSet,
    pub session_id: Option<String>,
    pub must_change_password: bool,
    pub ip: String,
    scope: Scope,
    /// The command line acts for the machine's operator, with every permission.
    system: bool,
    /// Where the caller's audit rows are kept: its org, or for the command line the level of
    /// the deployment.
    audit_path: String,
    /// The one clock of this request or command, read once when it began: every "today" and
    /// every time stamped in its work agree, even across midnight.
    at: NaiveDateTime,
}

impl Caller {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn user(
        user_id: i64,
        username: String,
        display_name: String,
        org: (i64, String, String, OrgKind, String),
        roles: RoleSet,
        session_id: Option<String>,
        must_change_password: bool,
        ip: String,
    ) -> Self {
        let (org_id, org_code, org_name, org_kind, org_path) = org;
        Self {
            user_id: Some(user_id),
            username,
            display_name,
            org_id,
            org_code,
            org_name,
            org_kind,
            roles,
            session_id,
            must_change_password,
            ip,
            audit_path: org_path.clone(),
            scope: Scope::of_path(&org_path),
            system: false,
            at: crate::clock::now(),
        }
    }

    /// The command-line operator: national scope, all permissions, audited as 命令行.
    pub fn cli(conn: &mut DbConn) -> AppResult<Self> {
        let (id, code, name, path) = orgs::table
            .filter(orgs::parent_id.is_null())
            .select((orgs::id, orgs::code, orgs::name, orgs::path))
            .first::<(i64, String, String, String)>(conn)
            .optional()?
            .ok_or_else(|| AppError::internal_msg(ErrorCode::OrgNoRoot, "组织机构树尚未初始化".into()))?;
        Ok(Self {
            user_id: None,
            username: super::people::CLI_USERNAME.into(),
            display_name: "命令行".into(),
            org_id: id,
            org_code: code,
            org_name: name,
            org_kind: OrgKind::Ministry,
            roles: RoleSet::from_stored(&[]),
            session_id: None,
            must_change_password: false,
            ip: "local".into(),
            scope: Scope::of_path(&path),
            system: true,
            audit_path: crate::audit::service::instance_path(conn)?,
            at: crate::clock::now(),
        })
    }

    /// The command-line operator acting as a named, active user, with that user's org, roles
    /// and scope (for steps that need a person, such as a second person's approval).
    pub fn cli_as(conn: &mut DbConn, username: &str) -> AppResult<Self> {
        use crate::db::schema::users;
        let unknown = || AppError::field("as", ErrorCode::AuthUnknownUser, format!("用户“{username}”不存在或已停用"));
        let id: i64 = users::table
            .filter(users::username.eq(username))
            .select(users::id)
            .first(conn)
            .optional()?
            .ok_or_else(unknown)?;
        super::session::active_user(conn, id, None, "local")?.ok_or_else(unknown)
    }

    /// Now, as this request or command reads the clock (UTC, as instants are stored).
    pub fn now(&self) -> NaiveDateTime {
        self.at
    }

    /// Today in Beijing, for this request or command.
    pub fn today(&self) -> NaiveDate {
        crate::clock::local(self.at).date()
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn org_path(&self) -> &str {
        self.scope.path()
    }

    pub fn actor(&self) -> Actor {
        if self.system {
            return Actor::cli(&self.audit_path);
        }
        Actor {
            user_id: self.user_id,
            name: self.username.clone(),
            org_path: self.audit_path.clone(),
            ip: self.ip.clone(),
        }
    }

    /// The command-line operator, who acts for every step of a chain (batch work from files).
    pub fn is_cli(&self) -> bool {
        self.system
    }

    /// Whether the caller acts for the org itself (the command line stands in for every org):
    /// what only a school does for itself, its meals, menus, stock and purchases.
    pub fn acts_for(&self, org_code: &str) -> bool {
        self.system || self.org_code == org_code
    }

    pub fn may(&self, p: Permission) -> bool {
        self.system || self.roles.may(p)
    }

    /// `p`, held at a county or above: the county's own work (its settings, computations and
    /// approvals). Pages offer such forms on this rule; services refuse on `require_at_county`.
    pub fn may_at_county(&self, p: Permission) -> AppResult<()> {
        if self.may(p) && self.org_kind.is_county_or_above() { Ok(()) } else { Err(AppError::forbidden()) }
    }

    /// `may_at_county`, a missing permission written to the audit log.
    pub fn require_at_county(&self, conn: &mut DbConn, p: Permission, what: &str) -> AppResult<()> {
        self.require(conn, p, what)?;
        self.may_at_county(p)
    }

    /// Refuses (and audits the refusal) unless the caller's roles grant `p`.
    pub fn require(&self, conn: &mut DbConn, p: Permission, what: &str) -> AppResult<()> {
        if self.may(p) {
            return Ok(());
        }
        audit::record_alone(
            conn,
            &self.actor(),
            Entry::new("access.denied", "permission", format!("{p:?}:{what}")).result("denied"),
        )?;
        Err(AppError::forbidden())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_a_path_prefix() {
        let s = Scope::of_path("/000000/520000/522300/522326/");
        assert!(s.contains("/000000/520000/522300/522326/2152000001/"));
        assert!(!s.contains("/000000/520000/522300/522327/"));
        assert!(!s.strictly_contains("/000000/520000/522300/522326/"));
        assert_eq!(s.like_pattern(), "/000000/520000/522300/522326/%");
    }
}
