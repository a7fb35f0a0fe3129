//! The accounts in scope with their balances, and one account's entries with the running balance.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::{AccountRow, Lookups};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{fund_accounts, ledger_entries, orgs, suppliers};
use crate::domain::ledger::{EntryKind, Fund};
use crate::domain::money::Fen;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};

/// An account with its balance.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Account {
    pub code: String,
    pub holder: String,
    pub fund: &'static str,
    pub fund_label: &'static str,
    pub balance: Fen,
    pub entries: i64,
}

/// The accounts in the caller's scope, by code.
pub fn accounts(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Account>> {
    caller.require(conn, Permission::ViewLedger, "ledger_accounts")?;
    let rows: Vec<(AccountRow, String)> = fund_accounts::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((AccountRow::as_select(), orgs::name))
        .order(fund_accounts::code.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(a, name)| {
            let fund = Fund::parse(&a.fund).unwrap_or(Fund::Meal);
            Account {
                holder: if a.supplier_id.is_some() { format!("{name}（供应商）") } else { name },
                code: a.code,
                fund: fund.as_str(),
                fund_label: fund.label(),
                balance: Fen::new(a.balance_fen),
                entries: a.head_seq,
            }
        })
        .collect())
}

/// Who a posting can name as payer, receiver or fed school: the orgs in scope and the suppliers
/// registered in scope or above, each by its account code and its name.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Party {
    pub code: String,
    pub name: String,
    pub is_school: bool,
}

/// The parties in the caller's scope, orgs by their place in the tree, then suppliers; none when
/// there are more than `at_most` (the form then takes a typed code).
pub fn parties(conn: &mut DbConn, caller: &Caller, at_most: i64) -> AppResult<Option<Vec<Party>>> {
    caller.require(conn, Permission::ViewLedger, "ledger_parties")?;
    let scope = caller.scope().like_pattern();
    let orgs_in: Vec<(String, String, String)> = orgs::table
        .filter(orgs::path.like(&scope))
        .order(orgs::path.asc())
        .select((orgs::code, orgs::name, orgs::kind))
        .limit(at_most + 1)
        .load(conn)?;
    let own_path: String = orgs::table.find(caller.org_id).select(orgs::path).first(conn)?;
    let above = crate::org::model::ancestor_paths(&own_path);
    let registered: Vec<(String, String, String, String)> = suppliers::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(&scope).or(orgs::path.eq_any(&above)))
        .order(suppliers::name.asc())
        .select((orgs::code, orgs::path, suppliers::credit_code, suppliers::name))
        .limit(at_most + 1)
        .load(conn)?;
    if i64::try_from(orgs_in.len() + registered.len()).unwrap_or(i64::MAX) > at_most {
        return Ok(None);
    }
    let school = crate::domain::role::OrgKind::School.as_str();
    let mut out: Vec<Party> = orgs_in
        .into_iter()
        .map(|(code, name, kind)| Party { name: format!("{name}（{code}）"), is_school: kind == school, code })
        .collect();
    out.extend(registered.into_iter().map(|(org_code, path, credit, name)| {
        // A supplier registered above is paid from the caller's own org's account of it.
        let holder = if path.starts_with(caller.scope().path()) { org_code } else { caller.org_code.clone() };
        Party { code: format!("{holder}/{credit}"), name: format!("{name}（供应商）"), is_school: false }
    }));
    Ok(Some(out))
}

/// One entry of an account, as people read it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "LedgerEntry")]
pub struct EntryView {
    pub id: i64,
    pub seq: i64,
    pub request_id: i64,
    pub kind: &'static str,
    pub date: NaiveDate,
    pub amount: Fen,
    pub balance: Fen,
    pub category: String,
    pub counter_account: Option<String>,
    /// Who holds the other account, by name.
    pub counter_name: Option<String>,
    pub voucher_no: String,
    pub memo: String,
    pub maker: String,
    pub checker: String,
    /// The maker and the checker by name (`auth::people`).
    pub maker_name: String,
    pub checker_name: String,
    pub hash: String,
}

/// An account's entries in order, with the running balance.
pub fn entries(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<(Account, Vec<EntryView>)> {
    let account =
        accounts(conn, caller)?.into_iter().find(|a| a.code == code.trim()).ok_or_else(AppError::not_found)?;
    let id: i64 =
        fund_accounts::table.filter(fund_accounts::code.eq(&account.code)).select(fund_accounts::id).first(conn)?;
    type Row = (i64, i64, i64, String, NaiveDate, i64, String, Option<i64>, String, String, String, String, String);
    let rows: Vec<Row> = ledger_entries::table
        .filter(ledger_entries::account_id.eq(id))
        .select((
            ledger_entries::id,
            ledger_entries::seq,
            ledger_entries::request_id,
            ledger_entries::kind,
            ledger_entries::value_date,
            ledger_entries::amount_fen,
            ledger_entries::category,
            ledger_entries::counter_account_id,
            ledger_entries::voucher_no,
            ledger_entries::memo,
            ledger_entries::maker,
            ledger_entries::checker,
            ledger_entries::hash,
        ))
        .order(ledger_entries::seq.asc())
        .load(conn)?;
    let mut balance = 0i64;
    let mut l = Lookups::default();
    let mut entry =
        |(id, seq, request_id, kind, date, amount, category, counter, voucher_no, memo, maker, checker, hash): Row| {
            balance += amount;
            Ok(EntryView {
                id,
                seq,
                request_id,
                kind: EntryKind::parse(&kind).map_or("", EntryKind::label),
                date,
                amount: Fen::new(amount),
                balance: Fen::new(balance),
                category,
                counter_account: l.account_code(conn, counter)?,
                counter_name: l.holder_name(conn, counter)?,
                voucher_no,
                memo,
                maker_name: l.person(conn, &maker)?,
                checker_name: if checker.is_empty() { String::new() } else { l.person(conn, &checker)? },
                maker,
                checker,
                hash,
            })
        };
    let out = rows.into_iter().map(&mut entry).collect::<AppResult<Vec<_>>>()?;
    Ok((account, out))
}
