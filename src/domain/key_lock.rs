//! The key-information lock (到期即锁, SPEC §4): after a configured date in each school year a
//! confirmed student's key fields change only through a request that the school reviews and the
//! county approves.

use chrono::{Datelike, NaiveDate};

use super::student::{self, KEY_FIELDS, StudentRecord};

/// The school year a date falls in: it starts on 1 September (2026-09-01 … 2027-08-31 is 2026).
pub fn school_year_of(date: NaiveDate) -> i32 {
    if date.month() >= 9 { date.year() } else { date.year() - 1 }
}

/// One org's setting for one school year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSetting {
    pub lock_date: NaiveDate,
    /// Fields the org locks beyond the national key fields (keys of `student::FIELDS`).
    pub extra_fields: Vec<String>,
}

/// What holds for a school: the earliest date among its ancestors' settings (a county may lock
/// earlier than its province, never later) and every field any of them locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLock {
    pub lock_date: NaiveDate,
    pub fields: Vec<&'static str>,
}

impl KeyLock {
    pub fn combine(settings: &[LockSetting]) -> Option<KeyLock> {
        let lock_date = settings.iter().map(|s| s.lock_date).min()?;
        let mut fields: Vec<&'static str> = KEY_FIELDS.to_vec();
        for extra in settings.iter().flat_map(|s| &s.extra_fields) {
            if let Some(f) = student::field(extra)
                && !fields.contains(&f.key)
            {
                fields.push(f.key);
            }
        }
        Some(KeyLock { lock_date, fields })
    }

    /// Locked on and after the lock date.
    pub fn is_locked(&self, today: NaiveDate) -> bool {
        today >= self.lock_date
    }

    /// The locked fields whose value differs between two versions of a record.
    pub fn changed(&self, before: &StudentRecord, after: &StudentRecord) -> Vec<&'static str> {
        self.fields.iter().copied().filter(|k| before.get(k) != after.get(k)).collect()
    }

    pub fn field_labels(&self) -> String {
        self.fields.iter().filter_map(|k| student::field(k)).map(|f| f.header).collect::<Vec<_>>().join("、")
    }
}

/// Parses a list of extra field keys or headers ("监护人联系电话, 户口性质" or "m1_phone hukou_type").
pub fn parse_extra_fields(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in text.split([',', '，', '、', ' ', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let f = student::field(part)
            .or_else(|| student::field_by_header(part))
            .ok_or_else(|| format!("“{part}”不是学生基本信息表中的字段"))?;
        if !KEY_FIELDS.contains(&f.key) && !out.iter().any(|k| k == f.key) {
            out.push(f.key.to_owned());
        }
    }
    Ok(out)
}

/// Where a change request stands; stored and sent by its snake_case name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[schemars(rename = "ChangeRequestStatus")]
pub enum RequestStatus {
    /// Waiting for the school's review (待学校审核).
    Submitted,
    /// Reviewed by the school, waiting for the county (待县级审批).
    SchoolApproved,
    /// Approved by the county and applied (已生效).
    Approved,
    Rejected,
}

impl RequestStatus {
    pub fn label(self) -> &'static str {
        match self {
            RequestStatus::Submitted => "待学校审核",
            RequestStatus::SchoolApproved => "待县级审批",
            RequestStatus::Approved => "已批准生效",
            RequestStatus::Rejected => "已驳回",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, RequestStatus::Submitted | RequestStatus::SchoolApproved)
    }

    /// The status after a decision at the current step; `None` when nothing is left to decide.
    pub fn after(self, approve: bool) -> Option<Self> {
        match (self, approve) {
            (RequestStatus::Submitted, true) => Some(RequestStatus::SchoolApproved),
            (RequestStatus::SchoolApproved, true) => Some(RequestStatus::Approved),
            (s, false) if s.is_open() => Some(RequestStatus::Rejected),
            _ => None,
        }
    }
}

stored_as_text!(RequestStatus, "变更申请状态");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_s_state_reads_back_as_stored_and_refuses_what_it_does_not_know() {
        use RequestStatus::*;
        for s in [Submitted, SchoolApproved, Approved, Rejected] {
            assert_eq!(RequestStatus::try_from(s.as_str().to_owned()), Ok(s));
            assert_eq!(serde_json::to_value(s).expect("json"), serde_json::json!(s.as_str()));
        }
        assert_eq!(SchoolApproved.as_str(), "school_approved");
        assert!(RequestStatus::try_from("approve".to_owned()).is_err());
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn school_years_start_in_september() {
        assert_eq!(school_year_of(d("2026-09-01")), 2026);
        assert_eq!(school_year_of(d("2026-08-31")), 2025);
        assert_eq!(school_year_of(d("2027-03-01")), 2026);
    }

    #[test]
    fn earliest_date_holds_and_extra_fields_add_up() {
        let lock = KeyLock::combine(&[
            LockSetting { lock_date: d("2026-10-31"), extra_fields: vec!["hukou_type".into()] },
            LockSetting { lock_date: d("2026-10-15"), extra_fields: vec!["hukou_type".into(), "m1_phone".into()] },
        ])
        .unwrap();
        assert_eq!(lock.lock_date, d("2026-10-15"));
        assert_eq!(lock.fields, vec!["name", "sex", "birth_date", "id_type", "id_no", "hukou_type", "m1_phone"]);
        assert!(!lock.is_locked(d("2026-10-14")));
        assert!(lock.is_locked(d("2026-10-15")));
        assert_eq!(KeyLock::combine(&[]), None);
    }

    #[test]
    fn extra_fields_by_key_or_header() {
        assert_eq!(parse_extra_fields("户口性质, m1_phone、姓名").unwrap(), vec!["hukou_type", "m1_phone"]);
        assert!(parse_extra_fields("星座").unwrap_err().contains("星座"));
    }

    #[test]
    fn requests_go_school_then_county() {
        use RequestStatus::*;
        assert_eq!(Submitted.after(true), Some(SchoolApproved));
        assert_eq!(SchoolApproved.after(true), Some(Approved));
        assert_eq!(Submitted.after(false), Some(Rejected));
        assert_eq!(Approved.after(false), None);
        assert_eq!(Rejected.after(true), None);
    }
}
