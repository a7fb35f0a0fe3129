//! The second person's decisions on a pending request (approve, reject) and the reversal of a
//! posted one: each held to its rule in `actions` before anything is written.

use diesel::prelude::*;

use super::actions::{self, Facts};
use super::{
    Lookups, Request, RequestKind, RequestRow, apply, check_open, new_key, replay, request_by_key, request_row,
    reversed_among, threshold_for, view,
};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::ledger_requests;
use crate::db::{DbConn, write_tx};
use crate::domain::ledger::RequestStatus;
use crate::domain::money::Fen;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;

/// Holds a request to one of the rules in `actions`; returns the acting org for what follows.
fn permitted(conn: &mut DbConn, r: &RequestRow, rule: impl FnOnce(&Facts) -> AppResult<()>) -> AppResult<Org> {
    let acting = Lookups::default().acting_org(conn, r)?;
    let reversed = reversed_among(conn, &[r.id])?.contains(&r.id);
    rule(&Facts { row: r, acting: &acting, reversed })?;
    Ok(acting)
}

/// A second person approves a pending request, which is then posted. Of two approvals racing,
/// one posts and the other is told it was already decided.
pub fn approve(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Request> {
    decide(conn, caller, id, None)
}

/// A second person refuses a pending request, with a reason; nothing is posted.
pub fn reject(conn: &mut DbConn, caller: &Caller, id: i64, reason: &str) -> AppResult<Request> {
    if reason.trim().is_empty() {
        return Err(AppError::field("reason", ErrorCode::LedgerReasonRequired, "退回请填写原因"));
    }
    decide(conn, caller, id, Some(reason.trim()))
}

fn decide(conn: &mut DbConn, caller: &Caller, id: i64, refusal: Option<&str>) -> AppResult<Request> {
    caller.require(conn, Permission::ApproveLedger, "ledger_approve")?;
    let r = request_row(conn, id)?;
    let org = permitted(conn, &r, |f| actions::may_decide(caller, f))?;
    let row = write_tx(conn, |conn| {
        if refusal.is_none() {
            check_open(conn, &org.path, r.value_date)?;
        }
        let pending = ledger_requests::status.eq(RequestStatus::Pending.as_str());
        let n = diesel::update(ledger_requests::table.find(id).filter(pending))
            .set((
                ledger_requests::status.eq(if refusal.is_some() {
                    RequestStatus::Rejected
                } else {
                    RequestStatus::Posted
                }
                .as_str()),
                ledger_requests::checker.eq(Some(&caller.username)),
                ledger_requests::checked_at.eq(Some(caller.now())),
                ledger_requests::reason.eq(refusal),
            ))
            .execute(conn)?;
        if n == 0 {
            return Err(AppError::conflict(ErrorCode::LedgerAlreadyDecided, "该记账已被他人审批，不能重复审批"));
        }
        let row = request_row(conn, id)?;
        if refusal.is_none() {
            apply(conn, &row, &caller.username, caller.now())?;
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new(if refusal.is_some() { "ledger.reject" } else { "ledger.approve" }, "ledger_request", id)
                .after(&serde_json::json!({"amount": Fen::new(r.amount_fen).to_string(), "reason": refusal})),
        )?;
        Ok(row)
    })?;
    view(conn, caller, row, false)
}

/// Asks to reverse a posted request (all its entries), with a reason. The same threshold and
/// second-person rule apply as for the original.
pub fn reverse(conn: &mut DbConn, caller: &Caller, id: i64, reason: &str, key: &str) -> AppResult<Request> {
    caller.require(conn, Permission::PostLedger, "ledger_reverse")?;
    let key = if key.trim().is_empty() { new_key() } else { key.trim().to_owned() };
    if let Some(r) = request_by_key(conn, &key)? {
        return replay(conn, caller, r);
    }
    if reason.trim().is_empty() {
        return Err(AppError::field("reason", ErrorCode::LedgerReasonRequired, "冲销请填写原因"));
    }
    let original = request_row(conn, id)?;
    let org = permitted(conn, &original, |f| actions::may_reverse(caller, f))?;
    let date = caller.today();
    check_open(conn, &org.path, date)?;
    let threshold = threshold_for(conn, &org.path)?;
    let pending = Fen::new(original.amount_fen) > threshold && !caller.is_cli();
    let row = write_tx(conn, |conn| {
        let new_id: i64 = diesel::insert_into(ledger_requests::table)
            .values((
                ledger_requests::idempotency_key.eq(&key),
                ledger_requests::kind.eq(RequestKind::Reversal.as_str()),
                ledger_requests::fund.eq(&original.fund),
                ledger_requests::from_account_id.eq(original.from_account_id),
                ledger_requests::to_account_id.eq(original.to_account_id),
                ledger_requests::for_school_id.eq(original.for_school_id),
                ledger_requests::reverses_request_id.eq(Some(id)),
                ledger_requests::amount_fen.eq(original.amount_fen),
                ledger_requests::value_date.eq(date),
                ledger_requests::category.eq(&original.category),
                ledger_requests::voucher_no.eq(&original.voucher_no),
                ledger_requests::memo.eq(format!("冲销第 {id} 号：{}", reason.trim())),
                ledger_requests::status
                    .eq(if pending { RequestStatus::Pending } else { RequestStatus::Posted }.as_str()),
                ledger_requests::maker.eq(&caller.username),
                ledger_requests::made_at.eq(caller.now()),
            ))
            .returning(ledger_requests::id)
            .get_result(conn)?;
        let row = request_row(conn, new_id)?;
        if !pending {
            apply(conn, &row, "", caller.now())?;
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("ledger.reverse", "ledger_request", id)
                .after(&serde_json::json!({"reversal": new_id, "reason": reason.trim(), "pending": pending})),
        )?;
        Ok(row)
    })?;
    view(conn, caller, row, false)
}
