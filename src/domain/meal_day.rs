//! The rules of a day's meal record (就餐日报): a class's count is a whole number from zero to
//! the children of the class eligible that day; recorded after the day's deadline (Beijing time)
//! it is late; changed after the day it needs a reason.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// When a day's record is due unless a county sets another time: 14:00 Beijing time.
pub const DEFAULT_DEADLINE: NaiveTime = match NaiveTime::from_hms_opt(14, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// A class's count as typed, checked against the children eligible that day.
pub fn count(typed: &str, eligible: i32) -> Result<i32, String> {
    let t = typed.trim();
    let n: i64 = t.parse().map_err(|_| format!("就餐人数“{t}”应为整数"))?;
    if n < 0 {
        return Err(format!("就餐人数{n}不能为负数"));
    }
    if n > i64::from(eligible) {
        return Err(format!("就餐人数{n}超过该班当日在籍受益学生{eligible}人"));
    }
    Ok(n as i32)
}

/// Whether a record of `day` made at `at` (Beijing time) comes after the deadline.
pub fn late(day: NaiveDate, at: NaiveDateTime, deadline: NaiveTime) -> bool {
    at > day.and_time(deadline)
}

/// Whether changing a recorded count now is a correction that needs its reason: after the day.
pub fn correction_needs_reason(day: NaiveDate, today: NaiveDate) -> bool {
    today > day
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn counts_from_zero_to_the_eligible_children() {
        assert_eq!(count(" 45 ", 45), Ok(45));
        assert_eq!(count("0", 45), Ok(0));
        assert!(count("46", 45).is_err_and(|m| m.contains("超过") && m.contains("45人")));
        assert!(count("-1", 45).is_err_and(|m| m.contains("负数")));
        assert!(count("4.5", 45).is_err_and(|m| m.contains("整数")));
        assert!(count("", 45).is_err());
    }

    #[test]
    fn late_after_the_deadline_of_the_day_and_on_any_later_day() {
        let day = d("2026-10-12");
        let at = |s: &str| day.and_time(s.parse().expect("time"));
        assert!(!late(day, at("14:00:00"), DEFAULT_DEADLINE), "on the minute is on time");
        assert!(late(day, at("14:00:01"), DEFAULT_DEADLINE));
        assert!(!late(day, at("07:30:00"), DEFAULT_DEADLINE));
        assert!(late(day, d("2026-10-13").and_time(NaiveTime::MIN), DEFAULT_DEADLINE));
    }

    #[test]
    fn a_change_after_the_day_is_a_correction() {
        assert!(!correction_needs_reason(d("2026-10-12"), d("2026-10-12")));
        assert!(correction_needs_reason(d("2026-10-12"), d("2026-10-13")));
    }
}
