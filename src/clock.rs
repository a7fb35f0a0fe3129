//! One clock. Every "today" and every time shown is Beijing time (Asia/Shanghai); instants are
//! stored in UTC. Before 08:00 Beijing time the UTC date is still yesterday, so a posting dated
//! today would be "in the future" and a report would take yesterday: nothing outside this
//! module reads the system clock for a date.
//!
//! `MEALROLL_CLOCK` (an RFC 3339 instant) moves this clock for drills and tests: the process
//! then starts at that instant and runs on from it.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;

static SKEW: OnceLock<Duration> = OnceLock::new();

fn skew() -> Duration {
    *SKEW.get_or_init(|| {
        let Some(set) = std::env::var("MEALROLL_CLOCK").ok().filter(|s| !s.trim().is_empty()) else {
            return Duration::zero();
        };
        match DateTime::parse_from_rfc3339(set.trim()) {
            Ok(at) => {
                tracing::warn!(clock = %at, "MEALROLL_CLOCK set: the clock is moved");
                at.with_timezone(&Utc) - Utc::now()
            }
            Err(e) => {
                tracing::warn!(error = %e, "MEALROLL_CLOCK is not an RFC 3339 instant; ignored");
                Duration::zero()
            }
        }
    })
}

/// Now, as an instant.
pub fn instant() -> DateTime<Utc> {
    Utc::now() + skew()
}

/// Now in UTC without a zone, as instants are stored.
pub fn now() -> NaiveDateTime {
    instant().naive_utc()
}

/// Today in Beijing.
pub fn today() -> NaiveDate {
    local(now()).date()
}

/// A stored UTC instant as Beijing wall-clock time.
pub fn local(utc: NaiveDateTime) -> NaiveDateTime {
    Shanghai.from_utc_datetime(&utc).naive_local()
}

/// A stored UTC instant as people read it: `2026-12-02 07:30` (Beijing).
pub fn shown(utc: &NaiveDateTime) -> String {
    local(*utc).format("%Y-%m-%d %H:%M").to_string()
}

/// A stored UTC instant as an RFC 3339 Beijing time (`2026-12-08T06:40:00+08:00`), for files
/// that travel (exchange packages).
pub fn rfc3339(utc: &NaiveDateTime) -> String {
    Shanghai.from_utc_datetime(utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Now as people read it (the "printed at" of every printout).
pub fn shown_now() -> String {
    shown(&now())
}

/// The UTC instant a Beijing day begins (for "since the start of today" queries).
pub fn day_start_utc(day: NaiveDate) -> NaiveDateTime {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    Shanghai.from_local_datetime(&midnight).single().map(|t| t.naive_utc()).unwrap_or(midnight - Duration::hours(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time")
    }

    #[test]
    fn beijing_is_eight_hours_ahead_all_year() {
        assert_eq!(local(at("2026-12-01 23:30:00")), at("2026-12-02 07:30:00"));
        assert_eq!(local(at("2026-07-01 16:00:00")), at("2026-07-02 00:00:00"));
        assert_eq!(shown(&at("2026-12-01 23:30:00")), "2026-12-02 07:30");
        assert_eq!(rfc3339(&at("2026-12-01 22:40:05")), "2026-12-02T06:40:05+08:00");
        assert_eq!(day_start_utc(NaiveDate::from_ymd_opt(2026, 12, 2).expect("day")), at("2026-12-01 16:00:00"));
    }
}
