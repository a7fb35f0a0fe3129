//! School years, terms and working days (学年、学期、工作日). A term is written `YYYY-1` (the
//! autumn term of school year YYYY–YYYY+1) or `YYYY-2` (its spring term), as SPEC §12 says.

use std::fmt;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// A term of a school year, valid by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Term {
    year: i32,
    half: u8,
}

impl Term {
    pub fn new(year: i32, half: u8) -> Result<Self, String> {
        if !(2000..=2100).contains(&year) {
            return Err(format!("学年“{year}”应为2000至2100之间的四位年份"));
        }
        if !(1..=2).contains(&half) {
            return Err(format!("学期“{half}”应为1（秋季学期）或2（春季学期）"));
        }
        Ok(Self { year, half })
    }

    /// The term a day falls in by the customary calendar: September to January autumn,
    /// February to August spring (of the school year that began the autumn before).
    pub fn of_day(day: NaiveDate) -> Self {
        let year = if day.month() >= 9 { day.year() } else { day.year() - 1 };
        let half = if day.month() >= 9 || day.month() == 1 { 1 } else { 2 };
        Self { year: year.clamp(2000, 2100), half }
    }

    /// `2026-1` or `2026-2`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (y, h) = s.split_once('-').ok_or_else(|| format!("学期“{s}”应写作YYYY-1或YYYY-2，如2026-1"))?;
        let year = y.parse::<i32>().map_err(|_| format!("学期“{s}”应写作YYYY-1或YYYY-2，如2026-1"))?;
        let half = h.parse::<u8>().map_err(|_| format!("学期“{s}”应写作YYYY-1或YYYY-2，如2026-1"))?;
        Self::new(year, half)
    }

    pub fn school_year(self) -> i32 {
        self.year
    }

    /// The term before: the autumn of the same school year before its spring, the spring of the
    /// year before before an autumn (no earlier than the first term there is).
    pub fn prev(self) -> Self {
        match self.half {
            2 => Self { half: 1, ..self },
            _ => Self { year: (self.year - 1).max(2000), half: if self.year > 2000 { 2 } else { 1 } },
        }
    }

    pub fn half(self) -> u8 {
        self.half
    }

    /// 2026—2027学年第一学期.
    pub fn label(self) -> String {
        format!(
            "{}—{}学年{}",
            self.year,
            self.year + 1,
            if self.half == 1 { "第一学期（秋季）" } else { "第二学期（春季）" }
        )
    }

    /// The dates a term usually has when no org has set them: autumn 1 Sep – 15 Jan, spring
    /// 16 Feb – 10 Jul. Only a hint for the settings form; rules use the configured dates.
    pub fn customary_dates(self) -> (NaiveDate, NaiveDate) {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        if self.half == 1 {
            (d(self.year, 9, 1), d(self.year + 1, 1, 15))
        } else {
            (d(self.year + 1, 2, 16), d(self.year + 1, 7, 10))
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.year, self.half)
    }
}

/// A term with the dates that hold for a school (inclusive), and whether it is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermDates {
    pub term: Term,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub closed: bool,
}

impl TermDates {
    pub fn new(term: Term, start: NaiveDate, end: NaiveDate, closed: bool) -> Result<Self, String> {
        if end < start {
            return Err(format!("{}的结束日期{end}早于开始日期{start}", term.label()));
        }
        let (year_start, year_end) = (
            NaiveDate::from_ymd_opt(term.year, 8, 1).unwrap_or_default(),
            NaiveDate::from_ymd_opt(term.year + 1, 8, 31).unwrap_or_default(),
        );
        if start < year_start || end > year_end {
            return Err(format!("{}的日期应在{year_start}至{year_end}之间", term.label()));
        }
        Ok(Self { term, start, end, closed })
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }
}

/// The term a day falls in, if any (holidays fall in none).
pub fn term_of(terms: &[TermDates], day: NaiveDate) -> Option<&TermDates> {
    terms.iter().find(|t| t.contains(day))
}

/// Terms of one school year must not overlap and autumn comes before spring.
pub fn check_order(terms: &[TermDates]) -> Result<(), String> {
    for a in terms {
        for b in terms {
            if a.term.year == b.term.year && a.term.half == 1 && b.term.half == 2 && a.end >= b.start {
                return Err(format!("{}须在{}开始（{}）之前结束", a.term.label(), b.term.label(), b.start));
            }
        }
    }
    Ok(())
}

pub fn is_working_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The day `n` working days after `from` (Monday to Friday; public holidays are not modelled,
/// so a deadline over a holiday week falls early rather than late).
pub fn add_working_days(from: NaiveDate, n: u32) -> NaiveDate {
    let mut d = from;
    let mut left = n;
    while left > 0 {
        d = d.checked_add_days(Days::new(1)).unwrap_or(d);
        if is_working_day(d) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_day_falls_in_its_customary_term() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(Term::of_day(d(2026, 11, 23)).to_string(), "2026-1");
        assert_eq!(Term::of_day(d(2027, 1, 10)).to_string(), "2026-1");
        assert_eq!(Term::of_day(d(2027, 3, 1)).to_string(), "2026-2");
        assert_eq!(Term::of_day(d(2027, 8, 31)).to_string(), "2026-2");
    }

    #[test]
    fn terms_parse_and_print() {
        let t = Term::parse("2026-1").expect("ok");
        assert_eq!(t.to_string(), "2026-1");
        assert_eq!(t.label(), "2026—2027学年第一学期（秋季）");
        assert!(Term::parse("2026-3").is_err());
        assert!(Term::parse("2026").is_err());
        assert!(Term::parse("26-1").is_err());
        assert!(Term::parse("2026-2").expect("ok") > t);
    }

    #[test]
    fn term_dates_stay_in_their_school_year() {
        let t = Term::parse("2026-2").expect("ok");
        assert!(TermDates::new(t, d("2027-02-16"), d("2027-07-10"), false).is_ok());
        assert!(TermDates::new(t, d("2027-07-10"), d("2027-02-16"), false).is_err());
        assert!(TermDates::new(t, d("2026-02-16"), d("2026-07-10"), false).is_err());
        let autumn =
            TermDates::new(Term::parse("2026-1").expect("ok"), d("2026-09-01"), d("2027-02-20"), false).expect("ok");
        let spring = TermDates::new(t, d("2027-02-16"), d("2027-07-10"), false).expect("ok");
        assert!(check_order(&[autumn.clone(), spring.clone()]).is_err());
        assert_eq!(term_of(std::slice::from_ref(&spring), d("2027-03-01")).map(|t| t.term), Some(t));
        assert_eq!(term_of(&[spring], d("2027-08-01")), None);
    }

    #[test]
    fn working_days_skip_weekends() {
        // 2026-11-20 is a Friday: ten working days later is Friday 2026-12-04.
        assert_eq!(add_working_days(d("2026-11-20"), 10), d("2026-12-04"));
        assert_eq!(add_working_days(d("2026-11-21"), 1), d("2026-11-23"));
        assert_eq!(add_working_days(d("2026-11-23"), 0), d("2026-11-23"));
    }

    #[test]
    fn the_term_before_a_spring_is_its_autumn_and_before_an_autumn_the_last_spring() {
        let t = |s: &str| Term::parse(s).unwrap();
        assert_eq!(t("2026-2").prev(), t("2026-1"));
        assert_eq!(t("2026-1").prev(), t("2025-2"));
        assert_eq!(t("2000-1").prev(), t("2000-1"));
    }
}
