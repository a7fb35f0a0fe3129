//! Meal-subsidy entitlement arithmetic (SPEC §7): which meal days of a month count for a child at
//! a school, under the day rule or a county's month rule, and what they are worth at the standard
//! in force on each day. Exact: amounts are fen, sums in `Decimal`.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::calendar::Month;
use super::money::Fen;
use super::programme::YIBU_DAYS_PER_YEAR;

/// How leaving a school counts (joining always counts from its own date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, schemars::JsonSchema)]
pub enum Rule {
    /// Eligible up to the day before leaving.
    Day,
    /// Leaving a school in month M removes the whole of M at that school.
    Month,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Day => "day",
            Rule::Month => "month",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Rule::Day => "按日计算",
            Rule::Month => "按月计算（当月离校不计当月）",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "day" | "按日计算" => Some(Rule::Day),
            "month" | "按月计算" => Some(Rule::Month),
            _ => None,
        }
    }
}

/// A child's unbroken time at school (at this school, on the roll): from a day, until the day
/// they left (exclusive), or still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stay {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl Stay {
    fn covers(&self, d: NaiveDate) -> bool {
        self.from <= d && self.until.is_none_or(|u| d < u)
    }

    /// Left during `month` (the leaving day, the first day away, falls in it).
    fn leaves_in(&self, month: Month) -> bool {
        self.until.is_some_and(|u| Month::of(u) == month && u > month.first_day())
    }
}

/// Stays that follow each other without a gap are one stay at the school: a class change (转班)
/// or a repeater placed in a new class starts a new spell, but the child has not left.
pub fn joined(stays: &[Stay]) -> Vec<Stay> {
    let mut sorted = stays.to_vec();
    sorted.sort_by_key(|s| s.from);
    let mut out: Vec<Stay> = Vec::with_capacity(sorted.len());
    for s in sorted {
        match out.last_mut() {
            Some(prev) if prev.until == Some(s.from) => prev.until = s.until,
            _ => out.push(s),
        }
    }
    out
}

/// The meal days of `month` a child counts at a school: days of `meal_days` (the school's
/// calendar, already limited to its programme membership) inside one of its stays. The stays
/// are disjoint, so a day counts once. Under the month rule only leaving the school drops the
/// month: stays that follow each other are joined first.
pub fn counted_days(stays: &[Stay], meal_days: &[NaiveDate], month: Month, rule: Rule) -> Vec<NaiveDate> {
    let stays = joined(stays);
    let counting: Vec<&Stay> = stays.iter().filter(|s| !(rule == Rule::Month && s.leaves_in(month))).collect();
    meal_days.iter().copied().filter(|d| Month::of(*d) == month && counting.iter().any(|s| s.covers(*d))).collect()
}

/// The worth of `days` at the standard of each day; a day without a standard is worth nothing.
pub fn worth(days: &[NaiveDate], standard: impl Fn(NaiveDate) -> Option<Fen>) -> Fen {
    let total: Decimal = days.iter().filter_map(|d| standard(*d)).map(Fen::to_decimal).sum();
    Fen::from_decimal(total)
}

/// A semester's 一补 at a daily rate: half of `YIBU_DAYS_PER_YEAR` (250, not the meal subsidy's 200).
pub fn yibu_semester_amount(daily_rate: Fen) -> Fen {
    Fen::new(daily_rate.fen() * YIBU_DAYS_PER_YEAR / 2)
}

/// One child's 一补 for a semester (SPEC §7): the semester amount × eligible meal days ÷ the
/// semester's meal days, rounded half away from zero to the fen for this child alone.
pub fn yibu_share(semester_amount: Fen, eligible_days: usize, semester_days: usize) -> Fen {
    semester_amount.pro_rata(eligible_days, semester_days)
}

/// The days of `meal_days` a child spent inside one of its stays (a day counts once).
pub fn days_present(stays: &[Stay], meal_days: &[NaiveDate]) -> Vec<NaiveDate> {
    meal_days.iter().copied().filter(|d| stays.iter().any(|s| s.covers(*d))).collect()
}

/// Where a school's computed month (or term of 一补) stands: an open period is recomputed in
/// place; a closed one is never touched again, and a later correction goes into the next open one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum PeriodStatus {
    Open,
    Closed,
}

stored_as_text!(PeriodStatus, "补助期状态");

/// What a stored line of a month (or a term's 一补) is: the period's own days, or a correction
/// to a closed period carried into this one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[schemars(rename = "EntitlementLineKind")]
pub enum LineKind {
    Base,
    Adjustment,
}

impl LineKind {
    /// For a month's lines.
    pub fn month_label(self) -> &'static str {
        match self {
            LineKind::Base => "本月",
            LineKind::Adjustment => "调整",
        }
    }

    /// For a term's 一补 lines.
    pub fn term_label(self) -> &'static str {
        match self {
            LineKind::Base => "本学期",
            LineKind::Adjustment => "调整",
        }
    }
}

stored_as_text!(LineKind, "补助明细类别");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_kind_reads_back_as_stored_and_refuses_what_it_does_not_know() {
        for kind in [LineKind::Base, LineKind::Adjustment] {
            assert_eq!(LineKind::try_from(kind.as_str().to_owned()), Ok(kind));
        }
        assert_eq!(LineKind::Base.as_str(), "base");
        assert!(LineKind::try_from("bonus".to_owned()).is_err());
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn weekdays(y: i32, m: u32) -> Vec<NaiveDate> {
        let month = Month::new(y, m).unwrap();
        (1..=month.days_in_month())
            .filter_map(|x| month.day(x))
            .filter(|x| crate::domain::term::is_working_day(*x))
            .collect()
    }

    #[test]
    fn leaving_ends_the_day_before_and_the_month_rule_drops_the_month() {
        let oct = Month::new(2014, 10).unwrap();
        let days = weekdays(2014, 10); // 23 weekdays
        let left = [Stay { from: d(2014, 9, 1), until: Some(d(2014, 10, 15)) }];
        // 1–3, 6–10, 13–14.
        assert_eq!(counted_days(&left, &days, oct, Rule::Day).len(), 10);
        assert!(counted_days(&left, &days, oct, Rule::Month).is_empty());
        // Leaving on the 1st of November is not leaving in October.
        let nov_first = [Stay { from: d(2014, 9, 1), until: Some(d(2014, 11, 1)) }];
        assert_eq!(counted_days(&nov_first, &days, oct, Rule::Month).len(), 23);
        // Joining counts from its own date under both rules.
        let joined = [Stay { from: d(2014, 10, 27), until: None }];
        assert_eq!(counted_days(&joined, &days, oct, Rule::Month).len(), 5);
    }

    #[test]
    fn a_class_change_is_not_leaving_the_school() {
        let oct = Month::new(2014, 10).unwrap();
        let days = weekdays(2014, 10);
        // Moved to another class on the 13th, still at the school: every day counts, either rule.
        let moved =
            [Stay { from: d(2014, 10, 13), until: None }, Stay { from: d(2014, 9, 1), until: Some(d(2014, 10, 13)) }];
        assert_eq!(counted_days(&moved, &days, oct, Rule::Month).len(), 23);
        assert_eq!(counted_days(&moved, &days, oct, Rule::Day).len(), 23);
        // Moved, then left on the 20th: the month rule drops October, the day rule counts to the 17th.
        let moved_then_left = [
            Stay { from: d(2014, 9, 1), until: Some(d(2014, 10, 13)) },
            Stay { from: d(2014, 10, 13), until: Some(d(2014, 10, 20)) },
        ];
        assert!(counted_days(&moved_then_left, &days, oct, Rule::Month).is_empty());
        assert_eq!(counted_days(&moved_then_left, &days, oct, Rule::Day).len(), 13);
        // A gap (suspended from the 13th to the 20th) is leaving: two stays, not one.
        let gap =
            [Stay { from: d(2014, 9, 1), until: Some(d(2014, 10, 13)) }, Stay { from: d(2014, 10, 20), until: None }];
        assert_eq!(joined(&gap).len(), 2);
        assert_eq!(counted_days(&gap, &days, oct, Rule::Month).len(), 10, "from the 20th only");
    }

    #[test]
    fn each_day_is_worth_the_standard_in_force_that_day() {
        let days = [d(2014, 10, 31), d(2014, 11, 3)];
        let standard = |x: NaiveDate| Some(Fen::new(if x < d(2014, 11, 1) { 300 } else { 400 }));
        assert_eq!(worth(&days, standard), Fen::new(700));
        assert_eq!(worth(&days, |_| None), Fen::new(0));
    }

    #[test]
    fn yibu_is_pro_rated_per_child_on_its_own_day_basis() {
        let primary = yibu_semester_amount(Fen::new(400));
        assert_eq!(primary, Fen::new(50_000), "4.00 × 125 = 500.00");
        assert_eq!(yibu_semester_amount(Fen::new(500)), Fen::new(62_500), "5.00 × 125 = 625.00");
        assert_eq!(yibu_share(primary, 38, 38), primary);
        // 500.00 × 5 ÷ 38 = 65.789… → 65.79; 625.00 × 1 ÷ 3 = 208.333… → 208.33.
        assert_eq!(yibu_share(primary, 5, 38), Fen::new(6_579));
        assert_eq!(yibu_share(Fen::new(62_500), 1, 3), Fen::new(20_833));
        // Half a fen rounds away from zero: 1.25 × 1 ÷ 2 = 0.625 → 0.63.
        assert_eq!(yibu_share(Fen::new(125), 1, 2), Fen::new(63));
        assert_eq!(yibu_share(primary, 3, 0), Fen::new(0));
        // Rounded per child before summing: three thirds of 1.00 are 0.33 each, 0.99 in all.
        let each = yibu_share(Fen::new(100), 1, 3);
        assert_eq!(Fen::new(each.fen() * 3), Fen::new(99));
    }
}
