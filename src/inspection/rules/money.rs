//! Rules about money: 一补 for day pupils (A06), spending below the standard (A09), county-seat
//! schools paid (A13), money reaching schools outside the programme (A14), money held or passed on
//! late (A15), balances above spending (A16), and the Benford test of a county's spending (A22).
//! A09 and A16 read the reconciliation's own figures, so a school's money is read one way.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use rust_decimal::Decimal;

use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{
    entitlement_periods, fund_accounts, ledger_entries, orgs, programme_schools, schools, students, yibu_lines,
    yibu_periods,
};
use crate::domain::anomaly::{Rule, benford_mad, spend_shortfall, whole};
use crate::domain::calendar::{Month, Span};
use crate::domain::ledger::{EntryKind, Fund};
use crate::domain::money::Fen;
use crate::domain::programme::StandardKind;
use crate::domain::term::Term;
use crate::error::AppResult;
use crate::inspection::scan::{Ctx, Flag};
use crate::ledger::reconcile::{self, Reconciliation, SchoolRow};
use crate::org::model::Org;
use crate::programme::config;

/// Reconciliations already read in this scan, by period.
#[derive(Default)]
pub(in crate::inspection) struct Books {
    read: HashMap<String, Vec<Reconciliation>>,
}

impl Books {
    /// The meal fund's reconciliation of the scanned schools for a period: per county when the
    /// scan covers whole counties, else of the scanned school or township.
    fn rows(&mut self, conn: &mut DbConn, caller: &Caller, cx: &Ctx, span: &Span) -> AppResult<Vec<SchoolRow>> {
        let label = span.to_string();
        if !self.read.contains_key(&label) {
            let codes: Vec<String> = if cx.counties.is_empty() {
                vec![cx.org.code.clone()]
            } else {
                cx.counties.iter().map(|c| c.code.clone()).collect()
            };
            let mut got = Vec::new();
            for code in codes {
                got.push(reconcile::county_period(conn, caller, &code, span, Fund::Meal)?);
            }
            self.read.insert(label.clone(), got);
        }
        let codes: BTreeSet<&str> = cx.schools.iter().map(|s| s.code.as_str()).collect();
        Ok(self.read[&label]
            .iter()
            .flat_map(|r| r.rows.iter())
            .filter(|r| codes.contains(r.school.as_str()))
            .cloned()
            .collect())
    }
}

fn school_id(cx: &Ctx, code: &str) -> Option<i64> {
    cx.schools.iter().find(|s| s.code == code).map(|s| s.id)
}

/// A09's shortfall of one reconciliation row; none when nothing was passed on at all (the
/// county's under-allocation, which reconciliation shows) or the month is not computed.
fn shortfall(row: &SchoolRow, tolerance: Decimal) -> Option<Fen> {
    if !row.computed || (row.allocated.fen() == 0 && row.spent.fen() == 0) {
        return None;
    }
    let served = row.meals_reported.unwrap_or(row.beneficiary_days);
    spend_shortfall(row.entitled, row.spent, row.beneficiary_days, served, tolerance)
}

/// A09: food spending per meal below the standard by more than the tolerance, over the period
/// and over the term (for a month) or school year (for a term) it lies in: a correction posted in
/// December belongs to September's money, so a month is flagged only if its term is short too.
pub(in crate::inspection) fn a09_spend_below_standard(
    conn: &mut DbConn,
    caller: &Caller,
    cx: &Ctx,
    books: &mut Books,
) -> AppResult<Vec<Flag>> {
    let term = Term::of_day(cx.first);
    let wider: Vec<Span> = match (cx.span.keys().len(), cx.span.terms().len()) {
        (1, _) => vec![Span::parse(&term.to_string()), Span::parse(&term.school_year().to_string())],
        (_, 1) => vec![Span::parse(&term.school_year().to_string())],
        _ => vec![],
    }
    .into_iter()
    .filter_map(Result::ok)
    .collect();
    let mut out = Vec::new();
    let rows = books.rows(conn, caller, cx, &cx.span.clone())?;
    let mut around: Vec<Vec<SchoolRow>> = Vec::new();
    for w in &wider {
        around.push(books.rows(conn, caller, cx, w)?);
    }
    for row in rows {
        let Some(school) = school_id(cx, &row.school) else { continue };
        let tolerance = cx.threshold(Rule::A09, school);
        let Some(short) = shortfall(&row, tolerance) else { continue };
        let caught_up = around
            .iter()
            .any(|rs| rs.iter().find(|r| r.school == row.school).is_none_or(|r| shortfall(r, tolerance).is_none()));
        if caught_up {
            continue;
        }
        let served = row.meals_reported.unwrap_or(row.beneficiary_days);
        let per = |fen: Fen, n: i64| Fen::from_decimal(fen.to_decimal() / Decimal::from(n.max(1)));
        let mut f = cx.flag(
            Rule::A09,
            school,
            format!(
                "{}食品支出{}元，按{}人次计每人次{}元，低于标准{}元（容差{}%），少支出{}元{}",
                cx.span,
                row.spent,
                served,
                per(row.spent, served),
                per(row.entitled, row.beneficiary_days),
                tolerance.normalize(),
                short,
                if wider.is_empty() { String::new() } else { "；所在学期、学年累计同样偏低".into() }
            ),
        );
        if cx.span.keys().len() == 1 {
            f.month = Some(cx.span.to_string());
        } else {
            f.key = cx.span.to_string();
        }
        f.amount = Some(short.to_string());
        out.push(f);
    }
    Ok(out)
}

/// A13: a school in the county seat paid from the national pilot without the county having
/// taken it in as a county-seat school (its membership's 县城学校纳入).
pub(in crate::inspection) fn a13_county_seat_paid(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let paid: Vec<(i64, i32, i64, i64)> = entitlement_periods::table
        .inner_join(schools::table.on(schools::org_id.eq(entitlement_periods::school_id)))
        .filter(entitlement_periods::school_id.eq_any(&cx.ids))
        .filter(entitlement_periods::month.eq_any(cx.span.keys()))
        .filter(schools::in_county_seat.eq(true))
        .select((
            entitlement_periods::school_id,
            entitlement_periods::month,
            entitlement_periods::amount_fen,
            entitlement_periods::adjustment_fen,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    for (school, key, amount, adjustment) in paid {
        let fen = amount + adjustment;
        let Ok(m) = Month::from_key(key) else { continue };
        if fen <= 0 {
            continue;
        }
        let last = m.next().first_day().pred_opt().unwrap_or(m.first_day());
        let included: bool = programme_schools::table
            .filter(programme_schools::school_id.eq(school))
            .filter(programme_schools::seat_included.eq(true))
            .filter(programme_schools::from_date.le(last))
            .filter(programme_schools::to_date.is_null().or(programme_schools::to_date.ge(m.first_day())))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if included {
            continue;
        }
        let name = cx.school(school).map(|s| s.name.clone()).unwrap_or_default();
        let mut f = cx.flag(
            Rule::A13,
            school,
            format!(
                "{name}登记在县城（县政府驻地），未经县里作为县城学校纳入计划，{m}却核算膳食补助{}元",
                Fen::new(fen)
            ),
        );
        f.month = Some(m.to_string());
        f.amount = Some(Fen::new(fen).to_string());
        out.push(f);
    }
    Ok(out)
}

/// The counties of the scanned schools (all of them when the scan covers whole counties).
fn counties_of(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Org>> {
    if !cx.counties.is_empty() {
        return Ok(cx.counties.clone());
    }
    let codes: BTreeSet<String> = cx.schools.iter().map(|s| crate::registry::service::county_of(&s.path)).collect();
    Ok(orgs::table.filter(orgs::code.eq_any(codes)).select(Org::as_select()).load(conn)?)
}

/// A15: money the county passed on to a school later than the threshold's days after it
/// arrived (by default 30, SPEC §8), or still holds beyond them: the reconciliation's own rule.
pub(in crate::inspection) fn a15_money_held(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let mut out = Vec::new();
    let whole_counties: BTreeSet<i64> = cx.counties.iter().map(|c| c.id).collect();
    for county in counties_of(conn, cx)? {
        let limit = whole(cx.settings.threshold(Rule::A15, &county.path));
        for fund in [Fund::Meal, Fund::Yibu] {
            for late in reconcile::late_money(conn, &county, fund, cx.first, cx.last, cx.today, limit)? {
                let mut f = match (late.entry, late.school) {
                    (Some(_), Some(school)) if cx.ids.contains(&school) => {
                        let name = cx.school(school).map(|s| s.name.clone()).unwrap_or_default();
                        cx.flag(
                            Rule::A15,
                            school,
                            format!(
                                "{}{}拨付{name}{}{}元，距资金到达县里已{}天（限{limit}天）",
                                county.name,
                                late.date.map(|d| d.to_string()).unwrap_or_default(),
                                fund.label(),
                                late.amount,
                                late.days
                            ),
                        )
                    }
                    (None, _) if whole_counties.contains(&county.id) => cx.flag_on(
                        Rule::A15,
                        &county,
                        format!(
                            "截至{}，{}尚有{}{}元到达超过{limit}天未拨付（最长{}天）",
                            cx.last.min(cx.today),
                            county.name,
                            fund.label(),
                            late.amount,
                            late.days
                        ),
                    ),
                    _ => continue,
                };
                f.month = late.date.map(|d| Month::of(d).to_string());
                f.key = format!("{}:{}", fund.as_str(), late.entry.unwrap_or(0));
                f.amount = Some(late.amount.to_string());
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// A16: a school's meal-fund balance at the period's end above the threshold's months (by
/// default three) of its average monthly spending over its recent months with meals.
pub(in crate::inspection) fn a16_balance_above_spending(
    conn: &mut DbConn,
    caller: &Caller,
    cx: &Ctx,
    books: &mut Books,
) -> AppResult<Vec<Flag>> {
    let end = Month::of(cx.last);
    let closing = books.rows(conn, caller, cx, &Span::of_month(end))?;
    // Spending per school over the six months up to the period's end, the months with meals.
    let mut months: BTreeMap<String, Vec<(Month, Fen)>> = BTreeMap::new();
    let mut m = end;
    for _ in 0..6 {
        for r in books.rows(conn, caller, cx, &Span::of_month(m))? {
            if r.entitled.fen() > 0 {
                months.entry(r.school.clone()).or_default().push((m, r.spent));
            }
        }
        m = m.prev();
    }
    let mut out = Vec::new();
    for row in closing {
        let Some(school) = school_id(cx, &row.school) else { continue };
        let n = usize::try_from(whole(cx.threshold(Rule::A16, school))).unwrap_or(3).max(1);
        let recent: Vec<(Month, Fen)> =
            months.get(&row.school).map(|v| v.iter().take(n).copied().collect()).unwrap_or_default();
        if recent.is_empty() || row.closing_balance.fen() <= 0 {
            continue;
        }
        let spent: i64 = recent.iter().map(|r| r.1.fen()).sum();
        let avg = Decimal::from(spent) / Decimal::from(recent.len() as u64);
        let cap = avg * Decimal::from(n as u64);
        if Decimal::from(row.closing_balance.fen()) <= cap {
            continue;
        }
        let avg_fen = Fen::from_decimal(avg / Decimal::ONE_HUNDRED);
        let over = Fen::new(row.closing_balance.fen() - Fen::from_decimal(cap / Decimal::ONE_HUNDRED).fen());
        let labels: Vec<String> = recent.iter().map(|r| r.0.to_string()).collect();
        let mut f = cx.flag(
            Rule::A16,
            school,
            format!(
                "{end}末膳食补助结余{}元，{}月均支出{avg_fen}元，结余超过{n}个月的支出{over}元",
                row.closing_balance,
                labels.join("、")
            ),
        );
        f.month = Some(end.to_string());
        f.amount = Some(over.to_string());
        out.push(f);
    }
    Ok(out)
}

/// A22: the first-two-digit distribution of a county's food spending over a school year against
/// Benford's law, when there are enough amounts to judge (500): a prompt to look, never a finding.
pub(in crate::inspection) fn a22_benford(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let year = Term::of_day(cx.first).school_year();
    let Ok(span) = Span::parse(&year.to_string()) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for county in &cx.counties {
        let amounts: Vec<(i64, i64)> = ledger_entries::table
            .inner_join(fund_accounts::table.on(fund_accounts::id.eq(ledger_entries::account_id)))
            .inner_join(orgs::table.on(orgs::id.eq(fund_accounts::org_id)))
            .filter(orgs::path.like(format!("{}%", county.path)))
            .filter(ledger_entries::value_date.between(span.first_day(), span.last_day()))
            .filter(
                fund_accounts::supplier_id.is_null().and(ledger_entries::kind.eq(EntryKind::Expenditure.as_str())).or(
                    fund_accounts::supplier_id
                        .is_not_null()
                        .and(ledger_entries::kind.eq(EntryKind::AllocationIn.as_str())),
                ),
            )
            .select((ledger_entries::id, ledger_entries::amount_fen))
            .load(conn)?;
        let reversed: BTreeSet<Option<i64>> = ledger_entries::table
            .filter(ledger_entries::reverses_entry_id.eq_any(amounts.iter().map(|a| a.0).collect::<Vec<_>>()))
            .select(ledger_entries::reverses_entry_id)
            .load(conn)?
            .into_iter()
            .collect();
        let kept: Vec<i64> = amounts.iter().filter(|a| !reversed.contains(&Some(a.0))).map(|a| a.1).collect();
        let Some((n, mad)) = benford_mad(&kept) else { continue };
        let limit = cx.settings.threshold(Rule::A22, &county.path);
        if mad <= limit {
            continue;
        }
        let mut f = cx.flag_on(
            Rule::A22,
            county,
            format!(
                "{}学年{}的{n}笔食品支出，首两位数字分布与本福特定律的平均绝对偏差为{}（阈值{}），仅提示复核",
                year,
                county.name,
                mad.round_dp(4),
                limit.normalize()
            ),
        );
        f.key = year.to_string();
        out.push(f);
    }
    Ok(out)
}
/// A06: 一补 at a boarder's rate paid for a child registered as a day pupil (走读, code 1).
pub(in crate::inspection) fn a06_yibu_for_day_student(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // The terms the period touches (a month lies in one; `Span::terms` counts only whole terms).
    let terms: Vec<String> = cx
        .span
        .keys()
        .into_iter()
        .filter_map(|k| Month::from_key(k).ok())
        .map(|m| Term::of_day(m.first_day()).to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows: Vec<(i64, i64, String, String, i64)> = yibu_lines::table
        .inner_join(yibu_periods::table)
        .inner_join(students::table)
        .filter(yibu_periods::school_id.eq_any(&cx.ids))
        .filter(yibu_lines::for_term.eq_any(&terms))
        .filter(students::attendance.eq("1"))
        // A day pupil's own rate (where a province pays one) is no anomaly; a boarder's is.
        .filter(yibu_lines::rate_kind.eq_any([StandardKind::YibuPrimary.as_str(), StandardKind::YibuJunior.as_str()]))
        .select((students::id, yibu_periods::school_id, students::name, yibu_lines::for_term, yibu_lines::amount_fen))
        .load(conn)?;
    let mut sums: BTreeMap<(i64, i64, String), (String, i64)> = BTreeMap::new();
    for (id, school, name, term, fen) in rows {
        sums.entry((id, school, term)).or_insert((name, 0)).1 += fen;
    }
    Ok(sums
        .into_iter()
        .filter(|(_, v)| v.1 > 0)
        .map(|((id, school, term), (name, fen))| {
            let label = Term::parse(&term).map(|t| t.label()).unwrap_or(term.clone());
            let mut f = cx.flag(
                Rule::A06,
                school,
                format!("{name}登记为走读生，{label}却按寄宿生标准享受一补{}元", Fen::new(fen)),
            );
            f.student_id = Some(id);
            f.key = term;
            f.amount = Some(Fen::new(fen).to_string());
            f
        })
        .collect())
}

/// A14: meal-fund money reaching a school (its account or a supplier paid for it) on a day it was
/// not in the programme, unless reversed.
pub(in crate::inspection) fn a14_allocation_outside_programme(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // (entry, account's org, supplier, for school, fen, value date, voucher)
    type Entry = (i64, i64, Option<i64>, Option<i64>, i64, NaiveDate, String);
    let rows: Vec<Entry> = ledger_entries::table
        .inner_join(fund_accounts::table.on(fund_accounts::id.eq(ledger_entries::account_id)))
        .filter(fund_accounts::fund.eq(Fund::Meal.as_str()))
        .filter(ledger_entries::kind.eq(EntryKind::AllocationIn.as_str()))
        .filter(ledger_entries::value_date.between(cx.first, cx.last))
        .filter(
            fund_accounts::org_id
                .eq_any(&cx.ids)
                .and(fund_accounts::supplier_id.is_null())
                .or(ledger_entries::for_school_id.eq_any(&cx.ids)),
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
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let reversed: BTreeSet<i64> = ledger_entries::table
        .filter(ledger_entries::reverses_entry_id.eq_any(rows.iter().map(|r| r.0).collect::<Vec<_>>()))
        .select(ledger_entries::reverses_entry_id)
        .load::<Option<i64>>(conn)?
        .into_iter()
        .flatten()
        .collect();
    let mut out = Vec::new();
    for (id, org, supplier, for_school, fen, day, voucher) in rows {
        let school = if supplier.is_some() { for_school } else { Some(org) };
        let Some(school) = school.filter(|s| cx.ids.contains(s)) else { continue };
        if reversed.contains(&id) || config::in_programme(conn, school, day)? {
            continue;
        }
        let name = cx.school(school).map(|s| s.name.clone()).unwrap_or_default();
        let to = if supplier.is_some() { "为其供餐的供应商" } else { "学校账户" };
        let mut f = cx.flag(
            Rule::A14,
            school,
            format!(
                "{day}向{name}的{to}拨入膳食补助{}元（凭证号{voucher}），当日该校不在营养改善计划内",
                Fen::new(fen)
            ),
        );
        f.month = Some(Month::of(day).to_string());
        f.amount = Some(Fen::new(fen).to_string());
        f.key = id.to_string();
        out.push(f);
    }
    Ok(out)
}
