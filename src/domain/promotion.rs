//! Year-end promotion (升级) and graduation (毕业): which grade a class moves to and what it is
//! called afterwards.

use super::codes::{default_class_name, grade_name};

/// Where a promotion job stands. Only an applied job is confirmed (made final) or undone.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PromotionStatus {
    /// Computed and shown, nothing written.
    Preview,
    /// Written; may still be undone.
    Applied,
    Confirmed,
    Undone,
}

impl PromotionStatus {
    /// A job in one of these states holds its year: no second job may run over the same schools.
    pub const HOLDING: [PromotionStatus; 2] = [PromotionStatus::Applied, PromotionStatus::Confirmed];

    pub fn label(self) -> &'static str {
        match self {
            Self::Preview => "预览",
            Self::Applied => "已执行（可撤销）",
            Self::Confirmed => "已确认",
            Self::Undone => "已撤销",
        }
    }
}

stored_as_text!(PromotionStatus, "升级任务状态");

/// The last grade a school teaches, by its type code (办学类型): 小学 6, 初中 and 九年一贯制 9,
/// 完全中学 and 十二年一贯制 12. Unknown types are treated as compulsory-only (9).
pub fn final_grade(school_type: &str) -> i32 {
    match school_type {
        t if t.starts_with("21") => 6,
        "341" | "345" => 12,
        _ => 9,
    }
}

/// The grade a class moves to, or `None` when it graduates.
pub fn next_grade(grade: i32, last: i32) -> Option<i32> {
    (grade < last).then_some(grade + 1)
}

/// A class's name after promotion: the generated name is generated again; a name that spells
/// out its grade gets the new grade; any other name is the school's own and stays.
pub fn renamed(name: &str, class_no: &str, from: i32, to: i32) -> String {
    if name == default_class_name(from, class_no) {
        return default_class_name(to, class_no);
    }
    let old = grade_name(from);
    if name.contains(old) { name.replacen(old, grade_name(to), 1) } else { name.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promotion_status_reads_back_as_stored_and_refuses_what_it_does_not_know() {
        use PromotionStatus::*;
        for s in [Preview, Applied, Confirmed, Undone] {
            assert_eq!(PromotionStatus::try_from(s.as_str().to_owned()), Ok(s));
        }
        assert_eq!(Applied.as_str(), "applied");
        assert!(PromotionStatus::try_from("done".to_owned()).is_err());
    }

    #[test]
    fn last_grades_follow_the_school_type() {
        assert_eq!(final_grade("211"), 6);
        assert_eq!(final_grade("218"), 6);
        assert_eq!(final_grade("311"), 9);
        assert_eq!(final_grade("312"), 9);
        assert_eq!(final_grade("341"), 12);
        assert_eq!(next_grade(5, 6), Some(6));
        assert_eq!(next_grade(6, 6), None);
        assert_eq!(next_grade(9, 9), None);
    }

    #[test]
    fn names_follow_the_grade() {
        assert_eq!(renamed("一年级(1)班", "202601", 1, 2), "二年级(1)班");
        assert_eq!(renamed("三年级火箭班", "202301", 3, 4), "四年级火箭班");
        assert_eq!(renamed("雏鹰班", "202301", 3, 4), "雏鹰班");
    }
}
