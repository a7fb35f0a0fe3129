//! Rules about what schools report serving: meal days above the calendar (A04), meals above
//! the named children's days (A05), the same figure month after month or in every class
//! (A17), meals or spending away from meal days (A18), and over the daily records: the monthly
//! return against the days (A23), a class full every day (A24), the same count day after day
//! (A25), meals for children absent or not at school (A26).
//!
//! A month's figures are `meals::monthly::served`: the daily records where a school keeps
//! them, else its monthly return.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use rust_decimal::Decimal;

use crate::db::DbConn;
use crate::db::schema::{entitlement_periods, fund_accounts, ledger_entries};
use crate::domain::anomaly::{Rule, whole};
use crate::domain::calendar::{MealMonth, Month};
use crate::domain::ledger::{EntryKind, Fund};
use crate::domain::money::Fen;
use crate::error::AppResult;
use crate::inspection::scan::{Ctx, Flag, month_label};
use crate::meals::monthly::{self, Served};

/// A04: meal days reported above the calendar's meal days of the month.
pub(in crate::inspection) fn a04_days_above_calendar(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let mut out = Vec::new();
    for ((school, key), Served { days_served: reported, .. }) in monthly::served(conn, &cx.ids, &cx.span.keys())? {
        let (Some(org), Ok(m)) = (cx.school(school), Month::from_key(key)) else { continue };
        let calendar_days = cx.calendars.month_for(&org.path, m).map_or(0, MealMonth::count);
        if usize::try_from(reported).unwrap_or(0) > calendar_days {
            let mut f = cx.flag(
                Rule::A04,
                school,
                format!("{}上报{m}供餐{reported}天，校历只有{calendar_days}个供餐日", org.name),
            );
            f.month = Some(m.to_string());
            out.push(f);
        }
    }
    Ok(out)
}

/// A05: meals served above the named beneficiaries' person-days of the month.
pub(in crate::inspection) fn a05_meals_above_beneficiary_days(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let served = monthly::served(conn, &cx.ids, &cx.span.keys())?;
    let periods: Vec<(i64, i32, i32, i64)> = entitlement_periods::table
        .filter(entitlement_periods::school_id.eq_any(&cx.ids))
        .filter(entitlement_periods::month.eq_any(cx.span.keys()))
        .select((
            entitlement_periods::school_id,
            entitlement_periods::month,
            entitlement_periods::beneficiary_days,
            entitlement_periods::amount_fen,
        ))
        .load(conn)?;
    let rows = periods
        .into_iter()
        .filter_map(|(school, key, days, fen)| served.get(&(school, key)).map(|s| (school, key, s.meals, days, fen)));
    let mut out = Vec::new();
    for (school, key, meals, days, fen) in rows {
        // A tolerance in percent of the person-days (default 0: exact).
        let allowed =
            Decimal::from(days) * (Decimal::ONE_HUNDRED + cx.threshold(Rule::A05, school)) / Decimal::ONE_HUNDRED;
        if Decimal::from(meals) <= allowed {
            continue;
        }
        let excess = usize::try_from(meals - i64::from(days)).unwrap_or(0);
        let mut f = cx.flag(
            Rule::A05,
            school,
            format!("{}上报就餐{meals}人次，实名受益学生只有{days}人·天，多{excess}人次", month_label(key)),
        );
        f.month = Some(month_label(key));
        f.amount = (days > 0).then(|| Fen::new(fen).pro_rata(excess, usize::try_from(days).unwrap_or(1)).to_string());
        out.push(f);
    }
    Ok(out)
}

/// A17: the same meals figure reported for the threshold's number of months running (by
/// default three): real canteens never count the same twice in a row for a quarter.
pub(in crate::inspection) fn a17_meals_repeated(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // A year before the period, so a run that ends in it is seen whole.
    let from = Month::of(cx.first).key() - 100;
    let keys: Vec<i32> = Month::span(Month::from_key(from).map_or(cx.first, Month::first_day), cx.last)
        .into_iter()
        .map(Month::key)
        .collect();
    let rows = monthly::served(conn, &cx.ids, &keys)?;
    let mut by: BTreeMap<i64, Vec<(i32, i64)>> = BTreeMap::new();
    for ((school, month), served) in rows {
        if served.meals > 0 {
            by.entry(school).or_default().push((month, served.meals));
        }
    }
    let mut out = Vec::new();
    for (school, months) in by {
        let need = usize::try_from(whole(cx.threshold(Rule::A17, school))).unwrap_or(3);
        // Runs of equal figures over the months reported (a holiday month without a report
        // does not break a run).
        let mut start = 0;
        for i in 1..=months.len() {
            if i < months.len() && months[i].1 == months[start].1 {
                continue;
            }
            let run = &months[start..i];
            let last = run[run.len() - 1].0;
            if run.len() >= need && cx.span.keys().contains(&last) {
                let labels: Vec<String> = run.iter().map(|r| month_label(r.0)).collect();
                let mut f = cx.flag(
                    Rule::A17,
                    school,
                    format!("连续{}个月上报就餐人次都是{}（{}）", run.len(), run[0].1, labels.join("、")),
                );
                f.month = Some(month_label(last));
                f.key = run[0].0.to_string();
                out.push(f);
            }
            start = i;
        }
    }
    out.extend(super::daily::a17_same_in_every_class(conn, cx)?);
    Ok(out)
}

/// A18: meals reported in a month whose calendar has no meal day, and food bought (or a
/// supplier paid for the school) further than the threshold's days from any meal day.
pub(in crate::inspection) fn a18_outside_meal_days(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let mut out = Vec::new();
    let reported: Vec<(i64, i32, i64)> = monthly::served(conn, &cx.ids, &cx.span.keys())?
        .into_iter()
        .filter(|(_, s)| s.meals > 0)
        .map(|((school, key), s)| (school, key, s.meals))
        .collect();
    // Spending: the school's own food expenditures and suppliers' payments for it.
    type Spend = (i64, i64, Option<i64>, Option<i64>, i64, NaiveDate, String);
    let spent: Vec<Spend> = ledger_entries::table
        .inner_join(fund_accounts::table.on(fund_accounts::id.eq(ledger_entries::account_id)))
        .filter(fund_accounts::fund.eq(Fund::Meal.as_str()))
        .filter(ledger_entries::value_date.between(cx.first, cx.last))
        .filter(
            fund_accounts::org_id
                .eq_any(&cx.ids)
                .and(fund_accounts::supplier_id.is_null())
                .and(ledger_entries::kind.eq(EntryKind::Expenditure.as_str()))
                .or(fund_accounts::supplier_id
                    .is_not_null()
                    .and(ledger_entries::kind.eq(EntryKind::AllocationIn.as_str()))
                    .and(ledger_entries::for_school_id.eq_any(&cx.ids))),
        )
        .select((
            ledger_entries::id,
            fund_accounts::org_id,
            fund_accounts::supplier_id,
            ledger_entries::for_school_id,
            ledger_entries::amount_fen,
            ledger_entries::value_date,
            ledger_entries::voucher_no,
        ))
        .load(conn)?;
    let reversed: std::collections::BTreeSet<i64> = ledger_entries::table
        .filter(ledger_entries::reverses_entry_id.eq_any(spent.iter().map(|r| r.0).collect::<Vec<_>>()))
        .select(ledger_entries::reverses_entry_id)
        .load::<Option<i64>>(conn)?
        .into_iter()
        .flatten()
        .collect();
    let schools: std::collections::BTreeSet<i64> = reported
        .iter()
        .map(|r| r.0)
        .chain(spent.iter().map(|s| if s.2.is_some() { s.3.unwrap_or(0) } else { s.1 }))
        .filter(|s| cx.ids.contains(s))
        .collect();
    for school in schools {
        let Some(org) = cx.school(school) else { continue };
        let near = whole(cx.threshold(Rule::A18, school));
        let pad = chrono::Days::new(u64::try_from(near).unwrap_or(0) + 1);
        let days = cx.calendars.meal_days(&org.path, cx.first - pad, cx.last + pad);
        for (_, key, meals) in reported.iter().filter(|r| r.0 == school) {
            let Ok(m) = Month::from_key(*key) else { continue };
            if days.iter().any(|d| Month::of(*d) == m) {
                continue;
            }
            let mut f = cx.flag(Rule::A18, school, format!("{}上报就餐{meals}人次，校历本月没有供餐日", m));
            f.month = Some(m.to_string());
            out.push(f);
        }
        for (id, org_id, supplier, for_school, fen, day, voucher) in &spent {
            let whose = if supplier.is_some() { for_school.unwrap_or(0) } else { *org_id };
            // Expenditures are booked negative, payments into a supplier's account positive.
            let fen = fen.abs();
            if whose != school || reversed.contains(id) || fen == 0 {
                continue;
            }
            let gap = days.iter().map(|d| (*d - *day).num_days().abs()).min();
            if gap.is_some_and(|g| g <= near) {
                continue;
            }
            let how = if supplier.is_some() { "向供应商支付该校餐费" } else { "食品支出" };
            let far = gap.map_or("前后都没有供餐日".to_owned(), |g| format!("距最近的供餐日{g}天"));
            let mut f = cx.flag(Rule::A18, school, format!("{day}{how}{}元（凭证号{voucher}），{far}", Fen::new(fen)));
            f.month = Some(Month::of(*day).to_string());
            f.amount = Some(Fen::new(fen).to_string());
            f.key = id.to_string();
            out.push(f);
        }
    }
    Ok(out)
}
