//! A finding's workflow (SPEC §10): recorded by an inspector with its evidence → the county sets
//! the rectification (整改) and its deadline → the school answers → another inspector verifies it
//! (closed) or sends it back; never closed by the one who recorded it.

use chrono::NaiveDate;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "FindingStatus")]
pub enum Status {
    /// 待整改: recorded, waiting for the county's rectification.
    Open,
    /// 整改中: the county set what to do by when.
    Rectifying,
    /// 学校已整改: the school reported what it did.
    Answered,
    /// 已核销: a second inspector verified the rectification.
    Verified,
}

/// A step on a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The county sets (or resets) the rectification and deadline.
    Rectify,
    /// The school reports its rectification.
    Answer,
    /// An inspector other than the recorder confirms it.
    Verify,
    /// An inspector finds the rectification not done: back to the school.
    Return,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Open, Status::Rectifying, Status::Answered, Status::Verified];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Rectifying => "rectifying",
            Status::Answered => "answered",
            Status::Verified => "verified",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Open => "待定整改要求",
            Status::Rectifying => "整改中",
            Status::Answered => "学校已报整改",
            Status::Verified => "已核销",
        }
    }

    /// The status after `step` by someone; `is_recorder` says whether they recorded the finding.
    pub fn after(self, step: Step, is_recorder: bool) -> Result<Status, String> {
        use Status as S;
        use Step as T;
        match (self, step) {
            (S::Open | S::Rectifying, T::Rectify) => Ok(S::Rectifying),
            (S::Rectifying, T::Answer) => Ok(S::Answered),
            (S::Answered, T::Verify | T::Return) if is_recorder => {
                Err("整改须由记录该问题以外的另一名督查人员核实".into())
            }
            (S::Answered, T::Verify) => Ok(S::Verified),
            (S::Answered, T::Return) => Ok(S::Rectifying),
            (state, step) => Err(format!("问题当前为“{}”，不能{}", state.label(), step.label())),
        }
    }

    /// Past its deadline and not yet reported done.
    pub fn overdue(self, deadline: Option<NaiveDate>, today: NaiveDate) -> bool {
        self == Status::Rectifying && deadline.is_some_and(|d| d < today)
    }
}

impl Step {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rectify" => Some(Step::Rectify),
            "answer" => Some(Step::Answer),
            "verify" => Some(Step::Verify),
            "return" => Some(Step::Return),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Step::Rectify => "下达整改要求",
            Step::Answer => "报告整改情况",
            Step::Verify => "核实并核销",
            Step::Return => "退回重新整改",
        }
    }
}

/// The 95 % Wilson interval of a proportion `errors / n` (the measured error rate of random
/// spot checks); none for no observations.
pub fn wilson(errors: usize, n: usize) -> Option<(f64, f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n) = (errors as f64, n as f64);
    let z = 1.959_964_f64;
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n) + z * z / (4.0 * n * n)).sqrt() / denom;
    Some((p, (centre - half).max(0.0), (centre + half).min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_is_closed_only_by_another_inspector_after_the_school_answers() {
        assert_eq!(Status::Open.after(Step::Rectify, false), Ok(Status::Rectifying));
        assert!(Status::Open.after(Step::Answer, false).is_err(), "nothing to answer before the county sets it");
        assert_eq!(Status::Rectifying.after(Step::Answer, false), Ok(Status::Answered));
        let own = Status::Answered.after(Step::Verify, true).expect_err("own");
        assert!(own.contains("另一名督查人员"), "{own}");
        assert_eq!(Status::Answered.after(Step::Verify, false), Ok(Status::Verified));
        assert_eq!(Status::Answered.after(Step::Return, false), Ok(Status::Rectifying));
        assert!(Status::Verified.after(Step::Rectify, false).is_err());
        let d = |s: &str| s.parse::<NaiveDate>().expect("day");
        assert!(Status::Rectifying.overdue(Some(d("2026-12-01")), d("2026-12-02")));
        assert!(!Status::Rectifying.overdue(Some(d("2026-12-02")), d("2026-12-02")), "due today is not late");
        assert!(!Status::Answered.overdue(Some(d("2026-12-01")), d("2026-12-02")));
    }

    #[test]
    fn the_wilson_interval_matches_the_textbook_figures() {
        // 2 errors in 50 children: 4 %, 95 % CI 1.10 %–13.46 % (Wilson).
        let (p, lo, hi) = wilson(2, 50).expect("n");
        assert!((p - 0.04).abs() < 1e-9);
        assert!((lo - 0.0110).abs() < 0.0005 && (hi - 0.1346).abs() < 0.0005, "{lo} {hi}");
        let (_, lo, hi) = wilson(0, 20).expect("n");
        assert!(lo == 0.0 && (hi - 0.1611).abs() < 0.0005, "{hi}");
        assert!(wilson(0, 0).is_none());
    }
}
