//! School calendars (供餐日历): the meal days of a month, valid by construction. Entitlements
//! count these days; the 200-day funding year is a planning figure, never a substitute.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{Datelike, NaiveDate};

use super::term::{Term, TermDates, is_working_day};

/// A month written `YYYY-MM`, stored as `yyyymm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Result<Self, String> {
        if !(2000..=2100).contains(&year) || !(1..=12).contains(&month) {
            return Err(format!("月份“{year}-{month:02}”无效"));
        }
        Ok(Self { year, month })
    }

    /// `2026-09`, `2026-9`, `2026/09`, `202609` or `2026年9月`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().trim_end_matches('月');
        let bad = || format!("月份“{}”应写作YYYY-MM，如2026-09", s.trim());
        let (y, m) = if let Some((y, m)) = t.split_once(['-', '/', '年', '.']) {
            (y, m)
        } else if t.len() == 6 && t.chars().all(|c| c.is_ascii_digit()) {
            t.split_at(4)
        } else {
            return Err(bad());
        };
        Self::new(y.trim().parse().map_err(|_| bad())?, m.trim().parse().map_err(|_| bad())?).map_err(|_| bad())
    }

    pub fn of(day: NaiveDate) -> Self {
        Self { year: day.year(), month: day.month() }
    }

    pub fn from_key(key: i32) -> Result<Self, String> {
        Self::new(key / 100, u32::try_from(key % 100).unwrap_or(0))
    }

    pub fn key(self) -> i32 {
        self.year * 100 + self.month as i32
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    pub fn last_day(self) -> NaiveDate {
        let next = self.next().first_day();
        next.pred_opt().unwrap_or(next)
    }

    pub fn days_in_month(self) -> u32 {
        let next = if self.month == 12 { (self.year + 1, 1) } else { (self.year, self.month + 1) };
        NaiveDate::from_ymd_opt(next.0, next.1, 1).and_then(|d| d.pred_opt()).map(|d| d.day()).unwrap_or(28)
    }

    pub fn day(self, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, d)
    }

    pub fn prev(self) -> Self {
        if self.month == 1 {
            Self { year: self.year - 1, month: 12 }
        } else {
            Self { year: self.year, month: self.month - 1 }
        }
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self { year: self.year + 1, month: 1 }
        } else {
            Self { year: self.year, month: self.month + 1 }
        }
    }

    /// The months a date range touches.
    pub fn span(from: NaiveDate, to: NaiveDate) -> Vec<Month> {
        let (mut m, last) = (Self::of(from), Self::of(to));
        let mut out = Vec::new();
        while m <= last {
            out.push(m);
            m = m.next();
        }
        out
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.year, self.month)
    }
}

/// A settlement period in whole months (SPEC §12): a month `YYYY-MM`, a term `YYYY-1`
/// (September–January) or `YYYY-2` (February–August), or a school year `YYYY` (September–August).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    label: String,
    first: Month,
    last: Month,
}

impl Span {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("期间“{s}”应为月份 YYYY-MM、学期 YYYY-1/YYYY-2 或学年 YYYY");
        let year = |y: &str| y.parse::<i32>().ok().filter(|y| (2000..=2100).contains(y)).ok_or_else(bad);
        match s.split_once('-') {
            Some((y, "1")) => Ok(Self::months(s, Month::new(year(y)?, 9)?, Month::new(year(y)? + 1, 1)?)),
            Some((y, "2")) => Ok(Self::months(s, Month::new(year(y)? + 1, 2)?, Month::new(year(y)? + 1, 8)?)),
            // Months take two digits: `2026-1` is the autumn term, never January.
            Some((_, m)) if m.len() == 2 => Month::parse(s).map(|m| Self::months(s, m, m)).map_err(|_| bad()),
            Some(_) => Err(bad()),
            None => Ok(Self::months(s, Month::new(year(s)?, 9)?, Month::new(year(s)? + 1, 8)?)),
        }
    }

    pub fn of_month(m: Month) -> Self {
        Self::months(&m.to_string(), m, m)
    }

    /// A term as a span: autumn September–January, spring February–August.
    pub fn of_term(t: Term) -> Self {
        let y = t.school_year();
        let (first, last) = match t.half() {
            1 => (Month { year: y, month: 9 }, Month { year: y + 1, month: 1 }),
            _ => (Month { year: y + 1, month: 2 }, Month { year: y + 1, month: 8 }),
        };
        Self::months(&t.to_string(), first, last)
    }

    fn months(label: &str, first: Month, last: Month) -> Self {
        Self { label: label.to_owned(), first, last }
    }

    pub fn first_day(&self) -> NaiveDate {
        self.first.first_day()
    }

    pub fn last_day(&self) -> NaiveDate {
        let next = self.last.next().first_day();
        next.pred_opt().unwrap_or(next)
    }

    /// The terms wholly inside the span, in order (none for a month): 一补 is settled per term.
    pub fn terms(&self) -> Vec<Term> {
        (self.first.first_day().year() - 1..=self.last.first_day().year())
            .flat_map(|y| [Term::new(y, 1), Term::new(y, 2)])
            .filter_map(Result::ok)
            .filter(|t| {
                let s = Span::of_term(*t);
                s.first >= self.first && s.last <= self.last
            })
            .collect()
    }

    /// The months' keys (YYYYMM), in order.
    pub fn keys(&self) -> Vec<i32> {
        Month::span(self.first_day(), self.last_day()).into_iter().map(Month::key).collect()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// The meal days of one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MealMonth {
    month: Month,
    days: BTreeSet<u32>,
}

impl MealMonth {
    pub fn new(month: Month, days: impl IntoIterator<Item = u32>) -> Result<Self, String> {
        let days: BTreeSet<u32> = days.into_iter().collect();
        let max = month.days_in_month();
        if let Some(bad) = days.iter().find(|d| **d == 0 || **d > max) {
            return Err(format!("{month}只有{max}天，没有{bad}日"));
        }
        Ok(Self { month, days })
    }

    /// Day lists as people write them: `1-5,8,9-12` (、 and spaces also separate).
    pub fn parse_days(month: Month, list: &str) -> Result<Self, String> {
        let mut days = Vec::new();
        for part in list.split([',', '，', '、', ' ', ';', '；']).map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || format!("供餐日期“{part}”应写作日或日-日，如1-5,8,9");
            let part_n = |s: &str| s.trim().trim_end_matches('日').trim().parse::<u32>().map_err(|_| bad());
            match part.split_once(['-', '~', '至']) {
                Some((a, b)) => {
                    let (a, b) = (part_n(a)?, part_n(b)?);
                    if a > b {
                        return Err(bad());
                    }
                    days.extend(a..=b);
                }
                None => days.push(part_n(part)?),
            }
        }
        Self::new(month, days)
    }

    /// Stored form: one character per day of the month, '1' for a meal day.
    pub fn from_bits(month: Month, bits: &str) -> Self {
        let days = bits.chars().zip(1u32..).filter(|(c, _)| *c == '1').map(|(_, d)| d);
        Self::new(month, days).unwrap_or(Self { month, days: BTreeSet::new() })
    }

    pub fn bits(&self) -> String {
        (1..=self.month.days_in_month()).map(|d| if self.days.contains(&d) { '1' } else { '0' }).collect()
    }

    /// Monday to Friday inside the terms: the default a county starts from.
    pub fn working_days_in_terms(month: Month, terms: &[TermDates]) -> Self {
        let days = (1..=month.days_in_month())
            .filter(|d| month.day(*d).is_some_and(|day| is_working_day(day) && terms.iter().any(|t| t.contains(day))));
        Self { month, days: days.collect() }
    }

    pub fn month(&self) -> Month {
        self.month
    }

    pub fn count(&self) -> usize {
        self.days.len()
    }

    pub fn days(&self) -> impl Iterator<Item = u32> + '_ {
        self.days.iter().copied()
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        Month::of(day) == self.month && self.days.contains(&day.day())
    }

    /// Compact day list, `1-5,8,9-12`.
    pub fn list(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut run: Option<(u32, u32)> = None;
        for d in self.days.iter().copied() {
            run = match run {
                Some((a, b)) if b + 1 == d => Some((a, d)),
                Some((a, b)) => {
                    out.push(if a == b { a.to_string() } else { format!("{a}-{b}") });
                    Some((d, d))
                }
                None => Some((d, d)),
            };
        }
        if let Some((a, b)) = run {
            out.push(if a == b { a.to_string() } else { format!("{a}-{b}") });
        }
        out.join(",")
    }

    /// Meal days that fall outside every term: the calendar and the term dates disagree.
    pub fn outside_terms(&self, terms: &[TermDates]) -> Vec<NaiveDate> {
        self.days
            .iter()
            .filter_map(|d| self.month.day(*d))
            .filter(|day| !terms.iter().any(|t| t.contains(*day)))
            .collect()
    }
}

/// A count of meal days given without the days themselves must fit the month.
pub fn check_count(month: Month, count: u32) -> Result<(), String> {
    let max = month.days_in_month();
    if count > max {
        return Err(format!("{month}只有{max}天，供餐天数{count}超过了当月天数"));
    }
    Ok(())
}

/// Days of one month as bits (day 1 = bit 0): the compact form of a day list where there are
/// millions of them (a county year's child-months in the anomaly scan).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaySet(pub u32);

impl DaySet {
    /// A stored day list (`1-5,8,11-12`); what does not parse counts as no days.
    pub fn parse(list: &str) -> DaySet {
        let mut bits = 0u32;
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) else { return DaySet(0) };
            if !(1..=31).contains(&a) || !(a..=31).contains(&b) {
                return DaySet(0);
            }
            for d in a..=b {
                bits |= 1 << (d - 1);
            }
        }
        DaySet(bits)
    }

    /// The days of `month` in `[from, to)` (`to` open-ended when `None`).
    pub fn between(month: Month, from: NaiveDate, to: Option<NaiveDate>) -> DaySet {
        let (first, next) = (month.first_day(), month.next().first_day());
        let start = from.max(first);
        let end = to.map_or(next, |t| t.min(next));
        if start >= end {
            return DaySet(0);
        }
        let (a, b) = (start.day(), (end - chrono::Days::new(1)).day());
        DaySet(((1u64 << b) - (1u64 << (a - 1))) as u32)
    }

    pub fn count(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn minus(self, other: DaySet) -> DaySet {
        DaySet(self.0 & !other.0)
    }

    pub fn and(self, other: DaySet) -> DaySet {
        DaySet(self.0 & other.0)
    }

    pub fn or(self, other: DaySet) -> DaySet {
        DaySet(self.0 | other.0)
    }

    pub fn days(self) -> impl Iterator<Item = u32> {
        (1..=31).filter(move |d| self.0 & (1 << (d - 1)) != 0)
    }
}

/// Days from `from` to `to`, both included, either end open: a list's date filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl DayRange {
    /// Reads the two ends as typed (YYYY-MM-DD, blank for open); on error, the field at fault
    /// (`from` or `to`) and what is wrong with it.
    pub fn parse(from: &str, to: &str) -> Result<Self, (&'static str, String)> {
        let day = |field: &'static str, s: &str| match s.trim() {
            "" => Ok(None),
            t => NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| (field, format!("日期“{t}”应为YYYY-MM-DD格式"))),
        };
        let range = Self { from: day("from", from)?, to: day("to", to)? };
        match (range.from, range.to) {
            (Some(f), Some(t)) if f > t => Err(("to", format!("截止日期{t}早于起始日期{f}"))),
            _ => Ok(range),
        }
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= d) && self.to.is_none_or(|t| d <= t)
    }

    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_as_a_span_is_the_span_its_name_parses_to() {
        for (y, h) in [(2000, 1), (2026, 1), (2026, 2), (2099, 2)] {
            let t = Term::new(y, h).expect("term");
            assert_eq!(Span::of_term(t), Span::parse(&t.to_string()).expect("span"), "{t}");
        }
        let spring = Span::of_term(Term::new(2026, 2).expect("term"));
        assert_eq!(
            (spring.first_day().to_string(), spring.last_day().to_string()),
            ("2027-02-01".into(), "2027-08-31".into())
        );
    }

    #[test]
    fn a_day_list_parses_to_its_days_and_garbage_to_none() {
        assert_eq!(DaySet::parse("1-3,5,30-31").days().collect::<Vec<_>>(), vec![1, 2, 3, 5, 30, 31]);
        assert_eq!(DaySet::parse(""), DaySet(0));
        assert_eq!(DaySet::parse("5-3"), DaySet(0));
        assert_eq!(DaySet::parse("0-2"), DaySet(0));
        assert_eq!(DaySet::parse("x"), DaySet(0));
    }

    #[test]
    fn a_spell_covers_its_days_of_the_month_up_to_the_next_spell() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day");
        let oct = Month::parse("2014-10").expect("m");
        assert_eq!(DaySet::between(oct, d("2014-09-01"), None).count(), 31);
        assert_eq!(DaySet::between(oct, d("2014-09-01"), Some(d("2014-10-28"))).days().last(), Some(27));
        assert_eq!(DaySet::between(oct, d("2014-10-31"), None).days().collect::<Vec<_>>(), vec![31]);
        assert_eq!(DaySet::between(oct, d("2014-11-01"), None).count(), 0);
        assert_eq!(DaySet::between(oct, d("2014-09-01"), Some(d("2014-10-01"))).count(), 0);
    }
    use crate::domain::term::Term;

    #[test]
    fn months_parse_in_the_ways_clerks_write_them() {
        for s in ["2026-09", "2026-9", "2026/09", "202609", "2026年9月"] {
            assert_eq!(Month::parse(s).unwrap().key(), 202609, "{s}");
        }
        assert!(Month::parse("2026-13").is_err());
        assert_eq!(Month::parse("2024-02").unwrap().days_in_month(), 29);
        assert_eq!(
            Month::span(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), NaiveDate::from_ymd_opt(2027, 1, 5).unwrap())
                .len(),
            3
        );
    }

    #[test]
    fn day_lists_round_trip_and_refuse_days_the_month_lacks() {
        let m = Month::parse("2026-09").unwrap();
        let cal = MealMonth::parse_days(m, "1-4, 7、8-11，30").unwrap();
        assert_eq!(cal.count(), 10);
        assert_eq!(cal.list(), "1-4,7-11,30");
        assert_eq!(MealMonth::from_bits(m, &cal.bits()), cal);
        assert!(MealMonth::parse_days(m, "31").unwrap_err().contains("只有30天"));
        assert!(MealMonth::parse_days(m, "5-3").is_err());
        assert!(check_count(m, 31).unwrap_err().contains("超过了当月天数"));
        assert!(check_count(m, 22).is_ok());
    }

    #[test]
    fn the_default_is_weekdays_inside_the_term_and_days_outside_are_found() {
        let t = Term::new(2026, 1).unwrap();
        let term = TermDates::new(
            t,
            NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
            false,
        )
        .unwrap();
        let aug = Month::parse("2026-08").unwrap();
        assert_eq!(MealMonth::working_days_in_terms(aug, std::slice::from_ref(&term)).count(), 0);
        let sep = Month::parse("2026-09").unwrap();
        // September 2026 starts on a Tuesday: 22 weekdays.
        assert_eq!(MealMonth::working_days_in_terms(sep, std::slice::from_ref(&term)).count(), 22);
        let cal = MealMonth::parse_days(Month::parse("2026-08").unwrap(), "31").unwrap();
        assert_eq!(cal.outside_terms(&[term]), vec![NaiveDate::from_ymd_opt(2026, 8, 31).unwrap()]);
    }

    #[test]
    fn settlement_periods_are_whole_months() {
        let oct = Span::parse("2026-10").expect("month");
        assert_eq!(
            (oct.first_day().to_string(), oct.last_day().to_string()),
            ("2026-10-01".into(), "2026-10-31".into())
        );
        let autumn = Span::parse("2026-1").expect("term");
        assert_eq!(autumn.keys(), vec![202609, 202610, 202611, 202612, 202701]);
        let spring = Span::parse("2026-2").expect("term");
        assert_eq!((spring.keys()[0], spring.keys().len()), (202702, 7));
        let year = Span::parse("2026").expect("year");
        assert_eq!((year.keys().len(), year.last_day().to_string()), (12, "2027-08-31".into()));
        let terms = |s: &Span| s.terms().iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            (terms(&oct), terms(&autumn), terms(&spring)),
            (vec![], vec!["2026-1".into()], vec!["2026-2".into()])
        );
        assert_eq!(terms(&year), vec!["2026-1", "2026-2"]);
        assert!(
            Span::parse("2026-3").is_err()
                && Span::parse("2026-1x").is_err()
                && Span::parse("26").is_err()
                && Span::parse("2026-13").is_err()
        );
    }

    #[test]
    fn prev_undoes_next_across_the_year() {
        let jan = Month::new(2027, 1).expect("month");
        assert_eq!(jan.prev(), Month::new(2026, 12).expect("month"));
        assert_eq!(jan.prev().next(), jan);
    }

    #[test]
    fn a_day_range_reads_both_ends_and_refuses_them_reversed() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let r = DayRange::parse("2026-09-01", " 2026-09-30 ").unwrap();
        assert!(r.contains(d("2026-09-01")) && r.contains(d("2026-09-30")));
        assert!(!r.contains(d("2026-08-31")) && !r.contains(d("2026-10-01")));
        let open = DayRange::parse("", "").unwrap();
        assert!(open.is_open() && open.contains(d("1999-01-01")));
        assert_eq!(DayRange::parse("2026-9-1x", "").unwrap_err().0, "from");
        let (field, message) = DayRange::parse("2026-10-01", "2026-09-30").unwrap_err();
        assert_eq!(field, "to");
        assert!(message.contains("早于起始日期"), "{message}");
    }
}
