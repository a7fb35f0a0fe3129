//! A statutory report's submission (SPEC §9): where it stands, and the sign-off that moves it.

/// Where a submitted version stands. Only a `Submitted` version is signed off, once.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    schemars::JsonSchema,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SubmissionStatus {
    Submitted,
    Approved,
    ApprovedWithReservations,
    Rejected,
}

impl SubmissionStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Submitted => "已报送，待审核",
            Self::Approved => "审核通过",
            Self::ApprovedWithReservations => "有保留通过",
            Self::Rejected => "已退回",
        }
    }
}

stored_as_text!(SubmissionStatus, "报送状态");

/// A sign-off by the level above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    ApproveWithReservations,
    Reject,
}

impl Decision {
    /// Reads the form's or the API's word, English or Chinese.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "approve" | "approved" | "通过" => Ok(Self::Approve),
            "approve_with_reservations" | "approved_with_reservations" | "有保留通过" => {
                Ok(Self::ApproveWithReservations)
            }
            "reject" | "rejected" | "退回" => Ok(Self::Reject),
            other => Err(format!("审核意见“{other}”无效，应为 通过、有保留通过 或 退回")),
        }
    }

    /// The state the decision leaves a submission in.
    pub fn status(self) -> SubmissionStatus {
        match self {
            Self::Approve => SubmissionStatus::Approved,
            Self::ApproveWithReservations => SubmissionStatus::ApprovedWithReservations,
            Self::Reject => SubmissionStatus::Rejected,
        }
    }

    /// Whether the decision must say why (the sending org corrects or explains from it).
    pub fn needs_reason(self) -> bool {
        self != Self::Approve
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submission_status_reads_back_as_stored_and_refuses_what_it_does_not_know() {
        use SubmissionStatus::*;
        for s in [Submitted, Approved, ApprovedWithReservations, Rejected] {
            assert_eq!(SubmissionStatus::try_from(s.as_str().to_owned()), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(ApprovedWithReservations.as_str(), "approved_with_reservations");
        assert!(SubmissionStatus::try_from("draft".to_owned()).is_err());
    }

    #[test]
    fn a_decision_reads_either_language_and_leaves_its_state() {
        assert_eq!(Decision::parse(" 有保留通过 "), Ok(Decision::ApproveWithReservations));
        assert_eq!(Decision::parse("reject").map(Decision::status), Ok(SubmissionStatus::Rejected));
        assert_eq!(Decision::Approve.status(), SubmissionStatus::Approved);
        assert!(Decision::parse("同意").unwrap_err().contains("同意"));
        assert!(!Decision::Approve.needs_reason());
        assert!(Decision::Reject.needs_reason() && Decision::ApproveWithReservations.needs_reason());
    }
}
