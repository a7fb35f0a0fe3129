//! The demo's 就餐日报: every meal day of the term up to today, per class, a few children absent
//! (some named), a few records late. Planted for the inspector: at the first school one class
//! full every day (A24); at the second one class with the same count for weeks (A25); at the
//! sixth a count above the children now on the roll, as a back-dated leaving leaves it (A26).
//! The fourth school (the one inflating its meals) keeps no daily records: its months stay
//! 仅月报. The monthly returns of the others are their days' totals, but the fifth's claim a
//! tenth more (A23).

use chrono::NaiveDate;

use super::Lcg;
use crate::auth::Caller;
use crate::db::DbConn;
use crate::error::AppResult;
use crate::meals::daily::{self, Change};
use crate::org::model::Org;

/// The school (by its place in the demo's list) that keeps only monthly returns.
pub(super) const MONTHLY_ONLY: usize = 3;
/// The school whose monthly returns claim a tenth more than its daily records.
pub(super) const RETURN_ABOVE_DAYS: usize = 4;

/// Records the meal days from `from` to `to` (inclusive) for the demo's schools; `half_today`
/// leaves every second school's last of them unreported (today, or the last meal day before a
/// weekend or holiday), as the county's board looks in the morning;
/// `plant_a26` plants the one count above the roll.
#[allow(clippy::too_many_arguments)]
pub(super) fn record(
    conn: &mut DbConn,
    cli: &Caller,
    schools: &[Org],
    from: NaiveDate,
    to: NaiveDate,
    half_today: bool,
    plant_a26: bool,
    rng: &mut Lcg,
) -> AppResult<()> {
    let same_from = to - chrono::Days::new(30);
    crate::db::write_tx(conn, |conn| {
        for (i, school) in schools.iter().enumerate() {
            if i == MONTHLY_ONLY {
                continue;
            }
            // Meal days of its calendar while it is in the programme (`daily::has_meals`, once).
            let member = crate::programme::config::memberships(conn, school.id)?;
            let days = crate::programme::calendar::meal_days(conn, &school.path, from, to)?;
            let mut planted_a26 = !plant_a26;
            let last = days.last().copied();
            for day in days {
                if !member.iter().any(|p| p.contains(day)) || (half_today && Some(day) == last && i % 2 == 1) {
                    continue;
                }
                let classes = daily::eligible(conn, school, day)?;
                let late = rng.chance(6);
                // 11:20 Beijing time, or 16:40 when late (stored in UTC).
                let at = day.and_hms_opt(if late { 8 } else { 3 }, if late { 40 } else { 20 }, 0).unwrap_or_default();
                let mut changes = Vec::new();
                for (k, c) in classes.iter().enumerate() {
                    let eligible = i32::try_from(c.children.len()).unwrap_or(0);
                    if eligible == 0 {
                        continue;
                    }
                    let (eligible, ate, absent) = if i == 0 && k == 0 {
                        (eligible, eligible, Vec::new())
                    } else if i == 1 && k == 1 && day >= same_from {
                        (eligible, (eligible - 2).max(0), Vec::new())
                    } else if i == 5 && k == 0 && !planted_a26 && day >= same_from {
                        planted_a26 = true;
                        (eligible + 1, eligible + 1, Vec::new())
                    } else {
                        let away = i32::try_from(rng.below(4)).unwrap_or(0).min(eligible);
                        // Now and then the officer ticks who is away.
                        let named: Vec<i64> = if rng.chance(15) {
                            c.children.iter().take(usize::try_from(away).unwrap_or(0)).map(|k| k.id).collect()
                        } else {
                            Vec::new()
                        };
                        (eligible, eligible - away, named)
                    };
                    changes.push(Change {
                        class_id: c.id,
                        class_no: c.class_no.clone(),
                        eligible,
                        before: None,
                        ate,
                        absent,
                    });
                }
                daily::apply(conn, cli, "demo", school, day, &changes, "", late, at)?;
            }
        }
        Ok(())
    })
}

/// This week's and last week's menus at every school keeping daily records, and a leader's
/// 陪餐 on the latest meal day of each.
pub(super) fn canteen(conn: &mut DbConn, cli: &Caller, schools: &[Org], today: NaiveDate) -> AppResult<()> {
    use crate::meals::canteen::{self, AccompanyForm, Menu};
    let dishes = [
        "米饭、土豆烧肉、炒白菜、紫菜蛋汤",
        "米饭、番茄炒蛋、炒豆芽、南瓜汤",
        "面条、卤鸡蛋、凉拌黄瓜",
        "米饭、红烧鸡块、炒青菜、冬瓜汤",
        "米饭、肉末豆腐、炒莲白、牛奶",
    ];
    for (i, school) in schools.iter().enumerate() {
        if i == MONTHLY_ONLY {
            continue;
        }
        for week in [today - chrono::Days::new(7), today] {
            let at = |k: usize| dishes[(k + i) % dishes.len()].to_owned();
            let menu = Menu { monday: at(0), tuesday: at(1), wednesday: at(2), thursday: at(3), friday: at(4) };
            canteen::set_menu(conn, cli, &school.code, week, &menu)?;
        }
        let days = crate::programme::calendar::meal_days(conn, &school.path, today - chrono::Days::new(14), today)?;
        let last = match days.last() {
            Some(d) if daily::has_meals(conn, school, *d)? => Some(*d),
            _ => None,
        };
        if let Some(day) = last {
            let form = AccompanyForm {
                day: day.to_string(),
                person: if i % 2 == 0 { "韦国华".into() } else { "岑德明".into() },
                post: if i % 2 == 0 { "校长".into() } else { "分管副校长".into() },
                served: dishes[i % dishes.len()].into(),
                remarks: if i % 3 == 0 {
                    "饭菜温热，分量足".into()
                } else {
                    "青菜偏咸，已告知食堂".into()
                },
            };
            canteen::accompany(conn, cli, &school.code, &form)?;
        }
    }
    Ok(())
}
