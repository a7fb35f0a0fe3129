//! A user account's standing (账号状态) and the two-officer requests on it, as stored and as shown.

/// Where an account stands: only an active account signs in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AccountStatus {
    /// 正常.
    Active,
    /// 已停用 by an administrator (with a second officer's confirmation).
    Disabled,
    /// 待授权: created, waiting for the security administrator.
    Pending,
    /// 已封存: dormant past the configured days; the security administrator may return it.
    Sealed,
}

impl AccountStatus {
    pub fn label(self) -> &'static str {
        match self {
            AccountStatus::Active => "正常",
            AccountStatus::Disabled => "已停用",
            AccountStatus::Pending => "待授权",
            AccountStatus::Sealed => "已封存",
        }
    }
}

stored_as_text!(AccountStatus, "账号状态");

/// A step on an account that one officer asks for and another decides (三员分立).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RequestAction {
    /// A new account waits for the security administrator's grant.
    Grant,
    /// An administrator's account is disabled only when a second officer confirms.
    Disable,
}

impl RequestAction {
    pub fn label(self) -> &'static str {
        match self {
            RequestAction::Grant => "授权启用新账号",
            RequestAction::Disable => "停用管理员账号",
        }
    }
}

stored_as_text!(RequestAction, "账号申请事项");

/// Where such a request stands: one pending request per account and action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Refused,
}

impl RequestStatus {
    /// What a decision leaves the request in.
    pub fn decided(approve: bool) -> Self {
        if approve { RequestStatus::Approved } else { RequestStatus::Refused }
    }
}

stored_as_text!(RequestStatus, "账号申请状态");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_status_reads_back_as_stored_and_refuses_what_it_does_not_know() {
        use AccountStatus::*;
        for s in [Active, Disabled, Pending, Sealed] {
            assert_eq!(AccountStatus::try_from(s.as_str().to_owned()), Ok(s));
        }
        assert_eq!(Pending.as_str(), "pending");
        assert!(AccountStatus::try_from("locked".to_owned()).is_err());
    }

    #[test]
    fn an_account_request_reads_back_as_stored() {
        for a in [RequestAction::Grant, RequestAction::Disable] {
            assert_eq!(RequestAction::try_from(a.as_str().to_owned()), Ok(a));
        }
        assert_eq!(RequestAction::Disable.as_str(), "disable");
        assert!(RequestAction::try_from("delete".to_owned()).is_err());
        assert_eq!(RequestStatus::decided(true).as_str(), "approved");
        assert_eq!(RequestStatus::decided(false).as_str(), "refused");
        assert_eq!(RequestStatus::try_from("pending".to_owned()), Ok(RequestStatus::Pending));
    }
}
