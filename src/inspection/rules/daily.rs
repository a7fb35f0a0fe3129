//! Rules over the daily meal records (就餐日报): the monthly return against the days (A23), a
//! class full every day of a month (A24), the same count day after day (A25), meals for
//! children absent or not at school (A26), and A17's second half: every class of a school
//! reporting the same count on a day.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use rust_decimal::Decimal;

use crate::db::DbConn;
use crate::db::schema::{classes, daily_meal_absences, daily_meals, student_spells, students};
use crate::domain::anomaly::{Rule, whole};
use crate::domain::calendar::Month;
use crate::domain::meal_day;
use crate::domain::status::State;
use crate::domain::student::Review;
use crate::error::AppResult;
use crate::inspection::scan::{Ctx, Flag, month_label};
use crate::meals::monthly;

/// One class's record of a day, as these rules read it.
struct Rec {
    school: i64,
    class: i64,
    day: NaiveDate,
    eligible: i32,
    ate: i32,
    absent: i32,
}

/// The daily records of the scan's schools and period, in class and day order.
fn records(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Rec>> {
    let rows: Vec<(i64, i64, i64, NaiveDate, i32, i32)> = daily_meals::table
        .filter(daily_meals::school_id.eq_any(&cx.ids))
        .filter(daily_meals::day.between(cx.first, cx.last))
        .select((
            daily_meals::id,
            daily_meals::school_id,
            daily_meals::class_id,
            daily_meals::day,
            daily_meals::eligible,
            daily_meals::ate,
        ))
        .order((daily_meals::class_id.asc(), daily_meals::day.asc()))
        .load(conn)?;
    let absent: BTreeMap<i64, i64> = daily_meal_absences::table
        .inner_join(daily_meals::table)
        .filter(daily_meals::school_id.eq_any(&cx.ids))
        .filter(daily_meals::day.between(cx.first, cx.last))
        .group_by(daily_meal_absences::daily_meal_id)
        .select((daily_meal_absences::daily_meal_id, diesel::dsl::count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(id, school, class, day, eligible, ate)| Rec {
            school,
            class,
            day,
            eligible,
            ate,
            absent: i32::try_from(absent.get(&id).copied().unwrap_or(0)).unwrap_or(i32::MAX),
        })
        .collect())
}

/// Class names by id, for messages.
fn class_names(conn: &mut DbConn, ids: &BTreeSet<i64>) -> AppResult<BTreeMap<i64, String>> {
    let ids: Vec<i64> = ids.iter().copied().collect();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(5000) {
        out.extend(classes::table.filter(classes::id.eq_any(chunk)).select((classes::id, classes::name)).load::<(
            i64,
            String,
        )>(
            conn
        )?);
    }
    Ok(out)
}

/// Per class, its records in day order.
fn by_class(recs: &[Rec]) -> BTreeMap<i64, Vec<&Rec>> {
    let mut out: BTreeMap<i64, Vec<&Rec>> = BTreeMap::new();
    for r in recs {
        out.entry(r.class).or_default().push(r);
    }
    out
}

/// A17's second half: days on which every class of a school (three or more, of different
/// sizes) reported the same count, one flag per school and month.
pub(in crate::inspection) fn a17_same_in_every_class(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let recs = records(conn, cx)?;
    let mut days: BTreeMap<(i64, NaiveDate), Vec<&Rec>> = BTreeMap::new();
    for r in &recs {
        days.entry((r.school, r.day)).or_default().push(r);
    }
    let mut by: BTreeMap<(i64, Month), Vec<(NaiveDate, i32)>> = BTreeMap::new();
    for ((school, day), classes) in days {
        let same = classes.len() >= 3 && classes.iter().all(|c| c.ate == classes[0].ate && c.ate > 0);
        let sizes: BTreeSet<i32> = classes.iter().map(|c| c.eligible).collect();
        if same && sizes.len() > 1 {
            by.entry((school, Month::of(day))).or_default().push((day, classes[0].ate));
        }
    }
    Ok(by
        .into_iter()
        .map(|((school, m), days)| {
            let shown: Vec<String> =
                days.iter().take(5).map(|(d, n)| format!("{}日各班都是{n}人", d.format("%-d"))).collect();
            let more = if days.len() > 5 { "……" } else { "" };
            let mut f = cx.flag(
                Rule::A17,
                school,
                format!("{m}有{}天各班（人数不同）报的就餐人数完全相同：{}{more}", days.len(), shown.join("，")),
            );
            f.month = Some(m.to_string());
            f.key = "classes".into();
            f
        })
        .collect())
}

/// A23: a month with both a monthly return and daily records whose figures differ (by more
/// than the tolerance, in percent of the daily figure).
pub(in crate::inspection) fn a23_monthly_against_daily(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let keys = cx.span.keys();
    let days = monthly::from_days(conn, &cx.ids, &keys)?;
    let mut out = Vec::new();
    for ((school, key), (returned_days, returned_meals)) in monthly::returns(conn, &cx.ids, &keys)? {
        let Some(&(daily_days, daily_meals)) = days.get(&(school, key)) else { continue };
        let tolerance = cx.threshold(Rule::A23, school);
        let off = |returned: i64, daily: i64| {
            Decimal::from((returned - daily).abs()) * Decimal::ONE_HUNDRED > tolerance * Decimal::from(daily.max(1))
        };
        if !off(i64::from(returned_days), i64::from(daily_days)) && !off(returned_meals, daily_meals) {
            continue;
        }
        let mut f = cx.flag(
            Rule::A23,
            school,
            format!(
                "{}月报供餐{returned_days}天、就餐{returned_meals}人次，就餐日报合计{daily_days}天、{daily_meals}人次",
                month_label(key)
            ),
        );
        f.month = Some(month_label(key));
        out.push(f);
    }
    Ok(out)
}

/// A24: a class whose count equalled its eligible children on every recorded day of a month
/// (at least the threshold's days).
pub(in crate::inspection) fn a24_class_always_full(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let recs = records(conn, cx)?;
    let classes = by_class(&recs);
    let names = class_names(conn, &classes.keys().copied().collect())?;
    let mut out = Vec::new();
    for (class, days) in classes {
        let mut months: BTreeMap<Month, Vec<(NaiveDate, i32, i32)>> = BTreeMap::new();
        for r in &days {
            months.entry(Month::of(r.day)).or_default().push((r.day, r.eligible, r.ate));
        }
        let school = days[0].school;
        let need = usize::try_from(whole(cx.threshold(Rule::A24, school))).unwrap_or(15);
        for (m, list) in months {
            if !meal_day::always_full(&list, need) {
                continue;
            }
            let name = names.get(&class).map_or("", String::as_str);
            let mut f = cx.flag(
                Rule::A24,
                school,
                format!("{name}{m}报的{}天每天就餐人数都等于在籍受益人数（{}人），没有一人缺餐", list.len(), list[0].1),
            );
            f.month = Some(m.to_string());
            f.key = class.to_string();
            out.push(f);
        }
    }
    Ok(out)
}

/// A25: a class reporting the same count (below its eligible) on the threshold's number of
/// consecutive records or more.
pub(in crate::inspection) fn a25_same_count_running(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let recs = records(conn, cx)?;
    let classes = by_class(&recs);
    let names = class_names(conn, &classes.keys().copied().collect())?;
    let mut out = Vec::new();
    for (class, days) in classes {
        let school = days[0].school;
        let need = usize::try_from(whole(cx.threshold(Rule::A25, school))).unwrap_or(15);
        let list: Vec<(NaiveDate, i32, i32)> = days.iter().map(|r| (r.day, r.eligible, r.ate)).collect();
        for (from, to, n, len) in meal_day::same_count_runs(&list, need) {
            let name = names.get(&class).map_or("", String::as_str);
            let mut f = cx.flag(Rule::A25, school, format!("{name}从{from}到{to}连续{len}个供餐日都报就餐{n}人"));
            f.month = Some(Month::of(to).to_string());
            f.key = format!("{class}|{from}");
            out.push(f);
        }
    }
    Ok(out)
}

/// A26: a class's count plus the children it named absent above the children the registry
/// now has at school in that class that day (confirmed): a child was counted who was not
/// there, or a child named absent was counted as eating.
pub(in crate::inspection) fn a26_meals_for_absent(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let recs = records(conn, cx)?;
    if recs.is_empty() {
        return Ok(Vec::new());
    }
    // The spells now on record, one query for the period.
    let spells: Vec<(i64, Option<i64>, NaiveDate, Option<NaiveDate>)> = student_spells::table
        .inner_join(students::table)
        .filter(student_spells::school_id.eq_any(&cx.ids))
        .filter(student_spells::state.eq(State::AtSchool.as_str()))
        .filter(student_spells::from_date.le(cx.last))
        .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(cx.first)))
        .filter(students::review.eq(Review::Confirmed.as_str()))
        .select((
            student_spells::student_id,
            student_spells::class_id,
            student_spells::from_date,
            student_spells::to_date,
        ))
        .load(conn)?;
    let mut per_class: BTreeMap<i64, Vec<(i64, NaiveDate, Option<NaiveDate>)>> = BTreeMap::new();
    for (kid, class, from, to) in spells {
        if let Some(c) = class {
            per_class.entry(c).or_default().push((kid, from, to));
        }
    }
    let names = class_names(conn, &recs.iter().map(|r| r.class).collect())?;
    let mut out = Vec::new();
    for r in &recs {
        let there: BTreeSet<i64> = per_class
            .get(&r.class)
            .map(|v| {
                v.iter()
                    .filter(|(_, from, to)| *from <= r.day && to.is_none_or(|t| t > r.day))
                    .map(|(kid, _, _)| *kid)
                    .collect()
            })
            .unwrap_or_default();
        let there = i32::try_from(there.len()).unwrap_or(i32::MAX);
        if r.ate + r.absent <= there {
            continue;
        }
        let name = names.get(&r.class).map_or("", String::as_str);
        let named = if r.absent > 0 { format!("，另点名缺勤{}人", r.absent) } else { String::new() };
        let mut f = cx.flag(
            Rule::A26,
            r.school,
            format!(
                "{}{name}报就餐{}人{named}，按现在的学籍该班当日在校受益学生只有{there}人（填报时为{}人），多{}人",
                r.day,
                r.ate,
                r.eligible,
                r.ate + r.absent - there
            ),
        );
        f.month = Some(Month::of(r.day).to_string());
        f.key = format!("{}|{}", r.class, r.day);
        out.push(f);
    }
    Ok(out)
}
