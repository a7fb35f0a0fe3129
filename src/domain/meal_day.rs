//! The rules of a day's meal record (就餐日报): a class's count is a whole number from zero to
//! the children of the class eligible that day; recorded after the day's deadline (Beijing time)
//! it is late; changed after the day it needs a reason. And the patterns of counts that real
//! canteens do not produce (a class never missing a child, the same count day after day).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// When a day's record is due unless a county sets another time: 14:00 Beijing time.
pub const DEFAULT_DEADLINE: NaiveTime = match NaiveTime::from_hms_opt(14, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// A class's count as typed, checked against the children eligible that day less those the
/// school names absent (they did not eat).
pub fn count(typed: &str, eligible: i32, absent: usize) -> Result<i32, String> {
    let t = typed.trim();
    let n: i64 = t.parse().map_err(|_| format!("就餐人数“{t}”应为整数"))?;
    if n < 0 {
        return Err(format!("就餐人数{n}不能为负数"));
    }
    if n > i64::from(eligible) {
        return Err(format!("就餐人数{n}超过该班当日在籍受益学生{eligible}人"));
    }
    let absent = i64::try_from(absent).unwrap_or(i64::MAX);
    if n + absent > i64::from(eligible) {
        return Err(format!("就餐人数{n}加上点名缺勤的{absent}人，超过该班当日在籍受益学生{eligible}人"));
    }
    Ok(n as i32)
}

/// A county's deadline as typed (`14:00`, Beijing time), between 08:00 and 23:59.
pub fn parse_deadline(s: &str) -> Result<NaiveTime, String> {
    let t =
        NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| format!("截止时间“{}”应为如14:00的时刻", s.trim()))?;
    if t < NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN) {
        return Err(format!("截止时间{}早于08:00，学校还来不及供餐", t.format("%H:%M")));
    }
    Ok(t)
}

/// Whether a record of `day` made at `at` (Beijing time) comes after the deadline.
pub fn late(day: NaiveDate, at: NaiveDateTime, deadline: NaiveTime) -> bool {
    at > day.and_time(deadline)
}

/// Whether changing a recorded count now is a correction that needs its reason: after the day.
pub fn correction_needs_reason(day: NaiveDate, today: NaiveDate) -> bool {
    today > day
}

/// A class's month of records, in day order: (eligible that day, ate).
pub type Days<'a> = &'a [(NaiveDate, i32, i32)];

/// A class this small may well be complete every day: `always_full` says nothing below it.
pub const MIN_FULL_CLASS: i32 = 10;

/// Whether every one of at least `min_days` records has the class's count equal to its
/// eligible children: a class that never has a child absent, sick or late for a month.
pub fn always_full(days: Days, min_days: usize) -> bool {
    days.len() >= min_days && days.iter().all(|(_, eligible, ate)| *eligible >= MIN_FULL_CLASS && ate == eligible)
}

/// Runs of at least `min_days` consecutive records with the same count below the eligible (a
/// run at the eligible is `always_full`'s): (first day, last day, count, days).
pub fn same_count_runs(days: Days, min_days: usize) -> Vec<(NaiveDate, NaiveDate, i32, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=days.len() {
        if i < days.len() && days[i].2 == days[start].2 && days[i].2 < days[i].1 {
            continue;
        }
        let run = &days[start..i];
        if run.len() >= min_days.max(2) && run[0].2 > 0 && run[0].2 < run[0].1 {
            out.push((run[0].0, run[run.len() - 1].0, run[0].2, run.len()));
        }
        start = i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn counts_from_zero_to_the_eligible_children() {
        assert_eq!(count(" 45 ", 45, 0), Ok(45));
        assert_eq!(count("0", 45, 0), Ok(0));
        assert!(count("46", 45, 0).is_err_and(|m| m.contains("超过") && m.contains("45人")));
        assert!(count("-1", 45, 0).is_err_and(|m| m.contains("负数")));
        assert!(count("4.5", 45, 0).is_err_and(|m| m.contains("整数")));
        assert!(count("", 45, 0).is_err());
    }

    #[test]
    fn children_named_absent_did_not_eat() {
        assert_eq!(count("43", 45, 2), Ok(43));
        assert!(count("44", 45, 2).is_err_and(|m| m.contains("点名缺勤的2人")));
    }

    #[test]
    fn a_deadline_is_a_time_of_day_from_eight() {
        assert_eq!(parse_deadline(" 15:30 "), Ok(NaiveTime::from_hms_opt(15, 30, 0).expect("time")));
        assert!(parse_deadline("07:59").is_err_and(|m| m.contains("早于08:00")));
        assert!(parse_deadline("25:00").is_err());
        assert!(parse_deadline("下午两点").is_err_and(|m| m.contains("14:00")));
    }

    fn month(counts: &[(i32, i32)]) -> Vec<(NaiveDate, i32, i32)> {
        counts.iter().enumerate().map(|(i, (e, a))| (d("2026-10-01") + chrono::Days::new(i as u64), *e, *a)).collect()
    }

    #[test]
    fn a_class_full_every_day_of_enough_days() {
        assert!(always_full(&month(&[(40, 40); 15]), 15));
        assert!(!always_full(&month(&[(40, 40); 14]), 15), "too few days to tell");
        let mut one_absent = month(&[(40, 40); 20]);
        one_absent[7].2 = 39;
        assert!(!always_full(&one_absent, 15));
        assert!(!always_full(&month(&[(0, 0); 20]), 15), "an empty class is not full");
        assert!(!always_full(&month(&[(6, 6); 20]), 15), "six children may all be there every day");
    }

    #[test]
    fn the_same_count_below_the_eligible_day_after_day() {
        let mut days = month(&[(40, 38); 16]);
        assert_eq!(same_count_runs(&days, 15), vec![(d("2026-10-01"), d("2026-10-16"), 38, 16)]);
        days[8].2 = 37;
        assert!(same_count_runs(&days, 15).is_empty(), "broken in the middle: two runs of 8 and 7");
        assert!(same_count_runs(&month(&[(40, 40); 20]), 15).is_empty(), "full is always_full's");
        assert!(same_count_runs(&month(&[(40, 0); 20]), 15).is_empty(), "nobody ate: not a copied figure");
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
