//! A user account's standing (账号状态), as stored and as shown.

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
    /// As the `status` column stores it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

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
}
