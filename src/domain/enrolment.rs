//! The day a new child's time at a school begins (SPEC §7: eligibility starts on the effective
//! date of joining). 入学年月 is a template field about the child's schooling, not this day: a
//! child registered on 20 October counts from 20 October, not from the first of the month.
//! A start long before the day of entry pays every meal day in between, so it needs a reason.

use crate::domain::error_code::ErrorCode;
use chrono::NaiveDate;

/// How far ahead a registration may start (a child expected next term, not next year).
pub const MAX_DAYS_AHEAD: i64 = 90;

/// A checked first day, and the reason when it lies far before the day of entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub on: NaiveDate,
    /// Set when the start is back-dated past the limit (and then required).
    pub backdated: Option<Backdated>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backdated {
    pub days: i64,
    pub reason: String,
}

/// Why a start was refused: the field it concerns, a stable code and a message for a clerk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub field: &'static str,
    pub code: ErrorCode,
    pub message: String,
}

fn refused(field: &'static str, code: ErrorCode, message: String) -> Refused {
    Refused { field, code, message }
}

/// The first day at school: `given` (default: `today`, the day of entry), not before the first
/// day of the entry month `entry_month_first`, at most [`MAX_DAYS_AHEAD`] ahead; more than
/// `limit_days` before `today` only with a reason.
pub fn start(
    given: Option<NaiveDate>,
    entry_month_first: Option<NaiveDate>,
    today: NaiveDate,
    limit_days: i64,
    reason: &str,
) -> Result<Start, Refused> {
    let on = given.unwrap_or(today);
    if let Some(first) = entry_month_first
        && on < first
    {
        return Err(refused(
            "enrolled_on",
            ErrorCode::StudentStartBeforeEntry,
            format!("入校日期{on}早于入学年月（{}）", first.format("%Y年%m月")),
        ));
    }
    if (on - today).num_days() > MAX_DAYS_AHEAD {
        return Err(refused(
            "enrolled_on",
            ErrorCode::StudentStartTooFarAhead,
            format!("入校日期{on}晚于今天起{MAX_DAYS_AHEAD}天"),
        ));
    }
    let back = (today - on).num_days();
    if back <= limit_days {
        return Ok(Start { on, backdated: None });
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(refused(
            "backdate_reason",
            ErrorCode::StudentBackdateReason,
            format!("入校日期{on}早于今天{back}天（超过{limit_days}天），补录期间的供餐日都将计发补助，须填写补录原因"),
        ));
    }
    if reason.chars().count() > 200 {
        return Err(refused("backdate_reason", ErrorCode::StudentBackdateReasonLong, "补录原因不超过200字".into()));
    }
    Ok(Start { on, backdated: Some(Backdated { days: back, reason: reason.to_owned() }) })
}

/// The first day of an entry month written `YYYYMM` (入学年月), if it is one.
pub fn entry_month_first(entry_ym: &str) -> Option<NaiveDate> {
    let (y, m) = (entry_ym.get(..4)?.parse().ok()?, entry_ym.get(4..6)?.parse().ok()?);
    NaiveDate::from_ymd_opt(y, m, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_registration_starts_on_its_own_day_not_the_first_of_the_month() {
        let today = d("2026-10-20");
        let s = start(None, entry_month_first("202609"), today, 30, "").expect("ok");
        assert_eq!(s, Start { on: today, backdated: None });
        let s = start(Some(d("2026-10-08")), entry_month_first("202609"), today, 30, "").expect("ok");
        assert_eq!(s.on, d("2026-10-08"));
    }

    #[test]
    fn back_dating_past_the_limit_needs_a_reason() {
        let today = d("2026-12-01");
        // 1 September to 1 December: 91 days.
        let e = start(Some(d("2026-09-01")), entry_month_first("202609"), today, 30, " ").expect_err("no reason");
        assert_eq!((e.field, e.code), ("backdate_reason", ErrorCode::StudentBackdateReason));
        assert!(e.message.contains("91天"), "{}", e.message);
        let s = start(Some(d("2026-09-01")), entry_month_first("202609"), today, 30, "秋季学期漏报补录").expect("ok");
        assert_eq!(s.backdated, Some(Backdated { days: 91, reason: "秋季学期漏报补录".into() }));
        // Exactly the limit is not back-dated.
        assert_eq!(start(Some(d("2026-11-01")), None, today, 30, "").expect("ok").backdated, None);
    }

    #[test]
    fn a_start_before_the_entry_month_or_far_ahead_is_refused() {
        let today = d("2026-10-20");
        let e = start(Some(d("2026-08-31")), entry_month_first("202609"), today, 30, "x").expect_err("before");
        assert_eq!(e.code, ErrorCode::StudentStartBeforeEntry);
        let e = start(Some(d("2027-03-01")), None, today, 30, "").expect_err("ahead");
        assert_eq!(e.code, ErrorCode::StudentStartTooFarAhead);
        assert_eq!(entry_month_first("2026"), None);
        assert_eq!(entry_month_first("202613"), None);
    }
}
