//! The requests as a clerk looks for them: by state, kind, account (its code or its holder's
//! name), value dates and page. The filters travel in the address, so a view can be shared.

use diesel::prelude::*;
use serde::Deserialize;

use super::{Lookups, Request, RequestKind, RequestRow, reversed_among, view_with};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{fund_accounts, ledger_requests, orgs, suppliers};
use crate::domain::calendar::DayRange;
use crate::domain::ledger::RequestStatus;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode};

/// What the ledger's list is narrowed to; every field blank means everything in scope.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct RequestFilter {
    /// pending, posted or rejected. Read as text so a misspelt state is refused with the
    /// ledger's own code (`ledger.status`).
    #[serde(default)]
    #[schemars(with = "Option<RequestStatus>")]
    pub status: String,
    /// receipt, allocation, expenditure, reversal or recovery (or its Chinese name).
    #[serde(default)]
    pub kind: String,
    /// An account code, or part of its holder's name (a county, a school, a supplier).
    #[serde(default)]
    pub account: String,
    /// Value dates from and to, both included (YYYY-MM-DD).
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_number")]
    pub page: Option<i64>,
}

impl RequestFilter {
    pub fn status(&self) -> AppResult<Option<RequestStatus>> {
        match self.status.trim() {
            "" => Ok(None),
            s => s.parse::<RequestStatus>().map(Some).map_err(|_| {
                AppError::field(
                    "status",
                    ErrorCode::LedgerStatus,
                    format!("状态“{s}”无效，应为 pending、posted 或 rejected"),
                )
            }),
        }
    }

    pub fn kind(&self) -> AppResult<Option<RequestKind>> {
        match self.kind.trim() {
            "" => Ok(None),
            s => RequestKind::parse(s).map(Some).ok_or_else(|| {
                AppError::field(
                    "kind",
                    ErrorCode::LedgerKind,
                    format!("业务“{s}”无效，应为 receipt、allocation、expenditure、reversal 或 recovery"),
                )
            }),
        }
    }

    pub fn days(&self) -> AppResult<DayRange> {
        DayRange::parse(&self.from, &self.to).map_err(|(field, m)| AppError::field(field, ErrorCode::InputDate, m))
    }

    /// The filters as the list's address carries them (without the page), blanks left out.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        crate::web::filled([
            ("status", self.status.as_str()),
            ("kind", &self.kind),
            ("account", &self.account),
            ("from", &self.from),
            ("to", &self.to),
        ])
    }

    pub fn is_blank(&self) -> bool {
        self.to_query().is_empty()
    }
}

/// One page of the requests in the caller's scope that match, newest first, with the count of
/// all that match.
pub fn list(conn: &mut DbConn, caller: &Caller, f: &RequestFilter, per_page: i64) -> AppResult<(Vec<Request>, i64)> {
    matching(conn, caller, f, None, per_page)
}

/// One request in the caller's scope, as the list shows it (the confirmation names it).
pub fn one(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Request> {
    matching(conn, caller, &RequestFilter::default(), Some(id), 1)?.0.pop().ok_or_else(AppError::not_found)
}

fn matching(
    conn: &mut DbConn,
    caller: &Caller,
    f: &RequestFilter,
    only: Option<i64>,
    per_page: i64,
) -> AppResult<(Vec<Request>, i64)> {
    caller.require(conn, Permission::ViewLedger, "ledger_requests")?;
    let status = f.status()?;
    let kind = f.kind()?;
    let days = f.days()?;
    let scope = caller.scope().like_pattern();
    let account = f.account.trim().to_owned();
    let name_like = format!("%{}%", crate::audit::service::escape_like(&account));
    let named_suppliers: Vec<i64> = if account.is_empty() {
        Vec::new()
    } else {
        suppliers::table.filter(suppliers::name.like(&name_like)).select(suppliers::id).limit(500).load(conn)?
    };
    // The accounts in scope, narrowed to those the filter names.
    let mut accounts = fund_accounts::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(scope))
        .select(fund_accounts::id.nullable())
        .into_boxed();
    if !account.is_empty() {
        accounts = accounts.filter(
            fund_accounts::code
                .eq(account.clone())
                .or(orgs::name.like(name_like))
                .or(fund_accounts::supplier_id.eq_any(named_suppliers)),
        );
    }
    let accounts: Vec<Option<i64>> = accounts.load(conn)?;
    let filtered = || {
        let mut q = ledger_requests::table
            .filter(
                ledger_requests::from_account_id
                    .eq_any(accounts.clone())
                    .or(ledger_requests::to_account_id.eq_any(accounts.clone())),
            )
            .into_boxed();
        if let Some(id) = only {
            q = q.filter(ledger_requests::id.eq(id));
        }
        if let Some(s) = status {
            q = q.filter(ledger_requests::status.eq(s.as_str()));
        }
        if let Some(k) = kind {
            q = q.filter(ledger_requests::kind.eq(k.as_str()));
        }
        if let Some(d) = days.from {
            q = q.filter(ledger_requests::value_date.ge(d));
        }
        if let Some(d) = days.to {
            q = q.filter(ledger_requests::value_date.le(d));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let page = f.page.unwrap_or(1).max(1);
    let rows: Vec<RequestRow> = filtered()
        .select(RequestRow::as_select())
        .order(ledger_requests::id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let reversed = reversed_among(conn, &ids)?;
    let mut l = Lookups::default();
    let items =
        rows.into_iter().map(|r| view_with(conn, caller, &mut l, &reversed, r, false)).collect::<AppResult<_>>()?;
    Ok((items, total))
}
