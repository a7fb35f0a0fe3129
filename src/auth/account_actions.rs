//! What an administrator may do with an account, and with a request on one waiting for a second
//! officer, decided once: `service::act_on_user` refuses what these refuse, with the same
//! messages, and the account's view carries the answer, so the user list offers a button only
//! when pressing it would succeed.

use serde::Serialize;

use super::Caller;
use super::service::{AccountAction, UserView};
use crate::domain::account::{AccountStatus, RequestAction};
use crate::domain::role::{Permission, Role};
use crate::error::{AppError, AppResult, ErrorCode};

/// What the caller may do with one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AccountActions {
    pub reset_password: bool,
    pub disable: bool,
    /// 启用 a disabled account, or 解除封存 a sealed one.
    pub enable: bool,
    pub unlock: bool,
    pub reset_totp: bool,
}

pub fn of(caller: &Caller, target: &UserView) -> AccountActions {
    let may = |a| may_act(caller, target, a).is_ok();
    AccountActions {
        reset_password: may(AccountAction::ResetPassword),
        disable: may(AccountAction::Disable),
        enable: may(AccountAction::Enable),
        unlock: may(AccountAction::Unlock),
        reset_totp: may(AccountAction::ResetTotp),
    }
}

/// The permission an action on `target` needs: the 系统管理员 manages accounts, the 安全管理员
/// their security (and a sealed account's return).
pub(super) fn needed(target: &UserView, action: AccountAction) -> Permission {
    match action {
        AccountAction::ResetPassword | AccountAction::Disable => Permission::ManageUsers,
        AccountAction::Enable if target.status == AccountStatus::Disabled => Permission::ManageUsers,
        AccountAction::Enable | AccountAction::Unlock | AccountAction::ResetTotp | AccountAction::Grant => {
            Permission::ManageSecurity
        }
        AccountAction::ConfirmDisable | AccountAction::RefuseRequest => Permission::ViewOrgs,
    }
}

/// An action on the account itself (not the deciding of a request, see [`may_decide`]). Granting
/// also needs the grantor not to be the account's creator, which the service reads.
pub fn may_act(caller: &Caller, target: &UserView, action: AccountAction) -> AppResult<()> {
    if !caller.may(needed(target, action)) {
        return Err(AppError::forbidden());
    }
    if caller.user_id == Some(target.id) {
        return Err(AppError::invalid(ErrorCode::UserSelf, "不能对自己的账号执行此操作"));
    }
    if target.status == AccountStatus::Pending && action != AccountAction::Grant {
        return Err(AppError::conflict(ErrorCode::UserPending, "该账号尚待安全管理员授权"));
    }
    match action {
        AccountAction::Disable if target.status != AccountStatus::Active => {
            Err(AppError::conflict(ErrorCode::UserNotActive, "该账号不在正常状态，无需停用"))
        }
        AccountAction::Enable if target.status == AccountStatus::Active => {
            Err(AppError::conflict(ErrorCode::UserAlreadyActive, "该账号已是正常状态"))
        }
        AccountAction::Unlock if !target.locked => Err(AppError::conflict(ErrorCode::UserNotLocked, "该账号未被锁定")),
        AccountAction::ResetTotp if !target.has_totp => {
            Err(AppError::conflict(ErrorCode::UserNoTotp, "该账号尚未绑定动态口令，无需重置（持有人首次登录时绑定）"))
        }
        AccountAction::Grant if target.status != AccountStatus::Pending => {
            Err(AppError::conflict(ErrorCode::UserNotPending, "该账号不在待授权状态"))
        }
        _ => Ok(()),
    }
}

/// Granting a pending account, besides [`may_act`]: never by its creator.
pub fn may_grant(caller: &Caller, created_by: Option<&str>) -> AppResult<()> {
    if !caller.may(Permission::ManageSecurity) {
        return Err(AppError::forbidden());
    }
    if created_by == Some(caller.username.as_str()) {
        return Err(AppError::conflict(ErrorCode::UserSameOfficer, "创建账号的人不能授权自己创建的账号"));
    }
    Ok(())
}

/// What the caller may do with a request waiting for a second officer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "AccountRequestActions")]
pub struct RequestActions {
    /// 授权启用 a new account.
    pub grant: bool,
    /// 确认停用 an officer's account.
    pub confirm_disable: bool,
    /// 不同意.
    pub refuse: bool,
}

/// The facts of an open request its deciding turns on.
pub struct OpenRequest<'a> {
    pub user_id: i64,
    pub action: RequestAction,
    pub requested_by: &'a str,
}

pub fn of_request(caller: &Caller, r: &OpenRequest) -> RequestActions {
    RequestActions {
        // A grant's request is asked for by the account's creator.
        grant: r.action == RequestAction::Grant && may_grant(caller, Some(r.requested_by)).is_ok(),
        confirm_disable: may_decide(caller, r, true).is_ok(),
        refuse: may_decide(caller, r, false).is_ok(),
    }
}

/// Another officer decides a pending grant or disabling: never the one who asked, never the
/// account itself; a grant only by a 安全管理员 (refusing one, too).
pub fn may_decide(caller: &Caller, r: &OpenRequest, approve: bool) -> AppResult<()> {
    if !caller.roles.has_officer() {
        return Err(AppError::forbidden());
    }
    if approve && r.action != RequestAction::Disable {
        return Err(AppError::conflict(ErrorCode::UserNoRequest, "该账号没有待确认的停用申请"));
    }
    if r.requested_by == caller.username || caller.user_id == Some(r.user_id) {
        return Err(AppError::conflict(
            ErrorCode::UserSameOfficer,
            "提出申请的人或被停用的本人不能确认，须由另一名管理员确认",
        ));
    }
    if r.action == RequestAction::Grant && !caller.roles.contains(Role::SecAdmin) {
        return Err(AppError::forbidden());
    }
    Ok(())
}
