//! What a caller may do with a ledger request, decided once. The service refuses what these
//! refuse, with the same message; a request's view carries the answer, so a page offers a button
//! only when pressing it would succeed.

use serde::Serialize;

use super::{RequestKind, RequestRow, check_own};
use crate::auth::Caller;
use crate::domain::ledger::RequestStatus;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;

/// The facts about a request its actions turn on, besides the row itself.
pub(super) struct Facts<'a> {
    pub row: &'a RequestRow,
    /// Whose people decide on it (`acting_org`).
    pub acting: &'a Org,
    /// A reversal of it is posted or awaiting approval.
    pub reversed: bool,
}

/// What the caller may do with one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "LedgerRequestActions")]
pub struct RequestActions {
    /// 审批入账 (approve and post).
    pub approve: bool,
    /// 退回 (refuse, with a reason).
    pub reject: bool,
    /// 冲销 (ask to reverse what was posted).
    pub reverse: bool,
}

/// Approving and refusing: a second person of the acting org, while the request waits.
pub(super) fn may_decide(caller: &Caller, f: &Facts) -> AppResult<()> {
    if !caller.may(Permission::ApproveLedger) {
        return Err(AppError::forbidden());
    }
    check_own(caller, f.acting)?;
    if f.row.maker == caller.username {
        return Err(AppError::invalid(ErrorCode::LedgerSamePerson, "经办人不能审批自己提交的记账（须由第二人审批）"));
    }
    if f.row.status != RequestStatus::Pending {
        return Err(AppError::conflict(
            ErrorCode::LedgerAlreadyDecided,
            format!("该记账{}，不能重复审批", f.row.status.label()),
        ));
    }
    Ok(())
}

/// Reversing: someone of the acting org who may post, once, for a posted request that is not
/// itself a reversal.
pub(super) fn may_reverse(caller: &Caller, f: &Facts) -> AppResult<()> {
    if !caller.may(Permission::PostLedger) {
        return Err(AppError::forbidden());
    }
    check_own(caller, f.acting)?;
    if f.row.kind == RequestKind::Reversal.as_str() {
        return Err(AppError::invalid(ErrorCode::LedgerReverseReversal, "冲销记录不能再冲销（如有错误请重新记账）"));
    }
    if f.row.status != RequestStatus::Posted {
        return Err(AppError::invalid(ErrorCode::LedgerNotPosted, "只有已入账的记录才能冲销"));
    }
    if f.reversed {
        return Err(AppError::conflict(
            ErrorCode::LedgerAlreadyReversed,
            format!("第 {} 号记账已冲销或正在审批冲销", f.row.id),
        ));
    }
    Ok(())
}

pub(super) fn actions(caller: &Caller, f: &Facts) -> RequestActions {
    let decide = may_decide(caller, f).is_ok();
    RequestActions { approve: decide, reject: decide, reverse: may_reverse(caller, f).is_ok() }
}

/// What the caller may do on the ledger as a whole (the forms a page shows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LedgerActions {
    /// 记账: ask for a posting.
    pub post: bool,
    /// Set the amount above which a posting needs a second person.
    pub set_threshold: bool,
    /// 结账: close a month of the caller's own accounts.
    pub close_month: bool,
}

/// The threshold is set by a county or above, for the tree below it.
pub(super) fn may_set_threshold(caller: &Caller) -> AppResult<()> {
    caller.may_at_county(Permission::ApproveLedger)
}

pub fn ledger_actions(caller: &Caller) -> LedgerActions {
    LedgerActions {
        post: caller.may(Permission::PostLedger),
        set_threshold: may_set_threshold(caller).is_ok(),
        close_month: caller.may(Permission::ApproveLedger),
    }
}
