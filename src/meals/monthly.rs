//! A school's month as the money and the rules read it: 供餐天数 and 就餐人次 from its daily
//! records where it keeps them that month, else from its monthly return (marked monthly-only).
//! One function serves the reconciliation, the reports and the anomaly rules, so none of them
//! reads a monthly figure the daily records contradict.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;

use crate::db::DbConn;
use crate::db::schema::{daily_meals, meals_served};
use crate::domain::calendar::Month;
use crate::error::AppResult;

/// Where a month's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Summed from the school's 就餐日报.
    Daily,
    /// The school's monthly return only (仅月报).
    Monthly,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Daily => "日报汇总",
            Source::Monthly => "仅月报",
        }
    }
}

/// One school's month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Served {
    pub days_served: i32,
    pub meals: i64,
    pub source: Source,
}

/// Per (school id, month key): days with any class recorded and the children who ate, from
/// the daily records.
pub fn from_days(conn: &mut DbConn, school_ids: &[i64], months: &[i32]) -> AppResult<BTreeMap<(i64, i32), (i32, i64)>> {
    let mut out: BTreeMap<(i64, i32), (i32, i64)> = BTreeMap::new();
    let spans: Vec<Month> = months.iter().filter_map(|k| Month::from_key(*k).ok()).collect();
    let (Some(first), Some(last)) =
        (spans.iter().map(|m| m.first_day()).min(), spans.iter().map(|m| m.last_day()).max())
    else {
        return Ok(out);
    };
    let rows: Vec<(i64, chrono::NaiveDate, Option<i64>)> = daily_meals::table
        .filter(daily_meals::school_id.eq_any(school_ids))
        .filter(daily_meals::day.between(first, last))
        .group_by((daily_meals::school_id, daily_meals::day))
        .select((daily_meals::school_id, daily_meals::day, diesel::dsl::sum(daily_meals::ate)))
        .load(conn)?;
    for (school, day, ate) in rows {
        let key = Month::of(day).key();
        if months.contains(&key) {
            let e = out.entry((school, key)).or_default();
            e.0 += 1;
            e.1 += ate.unwrap_or(0);
        }
    }
    Ok(out)
}

/// Per (school id, month key): the monthly return.
pub fn returns(conn: &mut DbConn, school_ids: &[i64], months: &[i32]) -> AppResult<BTreeMap<(i64, i32), (i32, i64)>> {
    Ok(meals_served::table
        .filter(meals_served::school_id.eq_any(school_ids))
        .filter(meals_served::month.eq_any(months))
        .select((meals_served::school_id, meals_served::month, meals_served::days_served, meals_served::meals))
        .load::<(i64, i32, i32, i32)>(conn)?
        .into_iter()
        .map(|(s, m, d, n)| ((s, m), (d, i64::from(n))))
        .collect())
}

/// Per (school id, month key): the daily records where there are any that month, else the
/// monthly return.
pub fn served(conn: &mut DbConn, school_ids: &[i64], months: &[i32]) -> AppResult<BTreeMap<(i64, i32), Served>> {
    let mut out: BTreeMap<(i64, i32), Served> = returns(conn, school_ids, months)?
        .into_iter()
        .map(|(k, (days_served, meals))| (k, Served { days_served, meals, source: Source::Monthly }))
        .collect();
    for (k, (days_served, meals)) in from_days(conn, school_ids, months)? {
        out.insert(k, Served { days_served, meals, source: Source::Daily });
    }
    Ok(out)
}
