//! Reconciliation (SPEC §8) per school and per county for a month: what the children were
//! entitled to, what was passed on to the school (or to its supplier for it), what was spent,
//! what the school reported serving, with the flags of `domain::ledger::flags`. The same figures
//! fill the county's 资金拨付审批表 (DOMAIN §6.6).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{entitlement_periods, fund_accounts, ledger_entries, orgs, yibu_lines, yibu_periods};
use crate::domain::calendar::{Month, Span};
use crate::domain::ledger::{Figures, Flag, Flow, Fund, Late, PASS_ON_DAYS, flags, late_outflows};
use crate::domain::money::Fen;
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::org::service::org_in_scope;
use crate::programme::{calendar, config};

/// One school's month.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SchoolRow {
    pub school: String,
    pub name: String,
    /// Meal days in the school's calendar this month.
    pub meal_days: usize,
    /// Children with an entitlement this month (实施人数).
    pub students: i64,
    pub beneficiary_days: i64,
    /// The standard per child-day, as entitlement ÷ child-days (a mid-month change shows as
    /// the weighted figure).
    pub standard: Fen,
    pub entitled: Fen,
    pub allocated: Fen,
    pub spent: Fen,
    pub closing_balance: Fen,
    pub meals_reported: Option<i64>,
    /// Whether (part of) 就餐人次 is a monthly return only, not summed from daily records.
    pub meals_monthly_only: bool,
    /// Still owed for the month: entitled − allocated, never below zero.
    pub to_allocate: Fen,
    pub computed: bool,
    pub flags: Vec<Flag>,
}

/// A county's month: its schools, their sums, and the county's own flags.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Reconciliation {
    pub county: String,
    pub county_name: String,
    /// What was asked for: the county, or one of its schools (then its rows only).
    pub org: String,
    pub org_name: String,
    /// `meal` or `yibu`, and its name.
    pub fund: &'static str,
    pub fund_label: &'static str,
    /// The settlement period: a month, a term or a school year.
    pub month: String,
    /// Its first month (meal fund) or term (一补): where a school's figures drill down to.
    pub first_period: String,
    pub rows: Vec<SchoolRow>,
    pub total: SchoolRow,
    /// Money the county held beyond 30 days, or passed on late.
    pub county_flags: Vec<Flag>,
}

/// Signed sums of a set of entries by kind (reversals fold back into what they reverse:
/// a reversal with a counter account undoes an allocation or a recovery, one without undoes an
/// expenditure). Money recovered from a school (stored negative) lowers what it was allocated.
#[derive(Default, Clone, Copy)]
struct Sums {
    allocated: i64,
    spent: i64,
}

fn add(s: &mut Sums, kind: &str, amount: i64, has_counter: bool, supplier: bool) {
    match (kind, has_counter) {
        ("allocation_in", _) | ("reversal", true) | ("recovery_out", _) => {
            s.allocated += amount;
            // What reaches a supplier for a school is spent on that school's food.
            if supplier {
                s.spent += amount;
            }
        }
        ("expenditure", _) | ("reversal", false) => s.spent -= amount,
        _ => {}
    }
}

/// The reconciliation of the meal fund for every programme school under a county (or of one
/// school) for a month.
pub fn county_month(conn: &mut DbConn, caller: &Caller, org_code: &str, month: Month) -> AppResult<Reconciliation> {
    county_period(conn, caller, org_code, &Span::of_month(month), Fund::Meal)
}

/// Per school: (students, child-days, amount, adjustment) entitled over the period.
type Entitled = BTreeMap<i64, (i32, i64, i64, i64)>;

/// The meal fund's entitlements of the period's months. 实施人数 over several months is the
/// largest month's count, not one count per month.
fn meal_entitled(conn: &mut DbConn, ids: &[i64], span: &Span) -> AppResult<Entitled> {
    let periods: Vec<(i64, i32, i32, i64, i64)> = entitlement_periods::table
        .filter(entitlement_periods::school_id.eq_any(ids))
        .filter(entitlement_periods::month.eq_any(span.keys()))
        .select((
            entitlement_periods::school_id,
            entitlement_periods::students,
            entitlement_periods::beneficiary_days,
            entitlement_periods::amount_fen,
            entitlement_periods::adjustment_fen,
        ))
        .load(conn)?;
    let mut by_school = Entitled::new();
    for (s, students, days, amount, adjustment) in periods {
        let e = by_school.entry(s).or_default();
        *e = (e.0.max(students), e.1 + i64::from(days), e.2 + amount, e.3 + adjustment);
    }
    Ok(by_school)
}

/// 一补's entitlements of the terms wholly inside the period (it is settled per term, so a
/// month alone is refused); child-days are the days the boarders were at school.
fn yibu_entitled(conn: &mut DbConn, ids: &[i64], span: &Span) -> AppResult<Entitled> {
    let terms: Vec<String> = span.terms().iter().map(ToString::to_string).collect();
    if terms.is_empty() {
        return Err(AppError::field(
            "month",
            ErrorCode::ReconcileYibuTerm,
            format!("一补按学期核算，“{span}”不含完整学期，请选择学期（如2026-1）或学年（如2026）"),
        ));
    }
    let periods: Vec<(i64, i64, i32, i64, i64)> = yibu_periods::table
        .filter(yibu_periods::school_id.eq_any(ids))
        .filter(yibu_periods::term.eq_any(&terms))
        .select((
            yibu_periods::id,
            yibu_periods::school_id,
            yibu_periods::students,
            yibu_periods::amount_fen,
            yibu_periods::adjustment_fen,
        ))
        .load(conn)?;
    let period_ids: Vec<i64> = periods.iter().map(|p| p.0).collect();
    let days: BTreeMap<i64, i64> = yibu_lines::table
        .filter(yibu_lines::period_id.eq_any(&period_ids))
        .filter(yibu_lines::kind.eq(crate::domain::entitlement::LineKind::Base.as_str()))
        .select((yibu_lines::period_id, yibu_lines::days))
        .load::<(i64, i32)>(conn)?
        .into_iter()
        .fold(BTreeMap::new(), |mut acc, (p, d)| {
            *acc.entry(p).or_default() += i64::from(d);
            acc
        });
    let mut by_school = Entitled::new();
    for (id, s, students, amount, adjustment) in periods {
        let e = by_school.entry(s).or_default();
        *e = (e.0.max(students), e.1 + days.get(&id).copied().unwrap_or(0), e.2 + amount, e.3 + adjustment);
    }
    Ok(by_school)
}

/// Reconciliation is by county (or school): asked above a county, the counties under it to
/// choose from (in code order), with the org asked for; `None` when the org can be reconciled.
pub fn counties_to_choose(conn: &mut DbConn, caller: &Caller, org_code: &str) -> AppResult<Option<(Org, Vec<Org>)>> {
    caller.require(conn, Permission::ViewLedger, "reconcile")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    match org.kind {
        OrgKind::Ministry | OrgKind::Province | OrgKind::Prefecture => {
            let counties = orgs::table
                .filter(orgs::kind.eq(OrgKind::County.as_str()))
                .filter(orgs::path.like(format!("{}%", org.path)))
                .select(Org::as_select())
                .order(orgs::code.asc())
                .load(conn)?;
            Ok(Some((org, counties)))
        }
        _ => Ok(None),
    }
}

/// The same for a settlement period of whole months (a month, a term or a school year) and a
/// fund: the months' (or terms') entitlements and reports added up, money moved within the period.
pub fn county_period(
    conn: &mut DbConn,
    caller: &Caller,
    org_code: &str,
    month: &Span,
    fund: Fund,
) -> AppResult<Reconciliation> {
    caller.require(conn, Permission::ViewLedger, "reconcile")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let county: Org = match org.kind {
        OrgKind::County => org.clone(),
        OrgKind::School | OrgKind::Township => {
            let code = crate::registry::service::county_of(&org.path);
            orgs::table.filter(orgs::code.eq(code)).select(Org::as_select()).first(conn)?
        }
        _ => {
            return Err(AppError::field(
                "org",
                ErrorCode::ReconcileLevel,
                "对账按县或学校进行，请选择一个县或一所学校",
            ));
        }
    };
    let (first, last) = (month.first_day(), month.last_day());
    // The meal fund concerns programme schools; 一补 every school whose boarders have it
    // computed for the period or whose 一补 account has moved.
    let schools: Vec<Org> = match fund {
        Fund::Meal => config::programme_schools(conn, &org.path, first, last)?,
        Fund::Yibu => {
            let terms: Vec<String> = month.terms().iter().map(ToString::to_string).collect();
            let computed = yibu_periods::table
                .inner_join(orgs::table)
                .filter(yibu_periods::term.eq_any(&terms))
                .filter(orgs::path.like(format!("{}%", org.path)))
                .select(orgs::code);
            let with_money = fund_accounts::table
                .inner_join(orgs::table)
                .filter(fund_accounts::fund.eq(fund.as_str()))
                .filter(fund_accounts::supplier_id.is_null())
                .filter(orgs::kind.eq(OrgKind::School.as_str()))
                .filter(orgs::path.like(format!("{}%", org.path)))
                .select(orgs::code);
            let codes: BTreeSet<String> =
                computed.load::<String>(conn)?.into_iter().chain(with_money.load::<String>(conn)?).collect();
            orgs::table.filter(orgs::code.eq_any(codes)).select(Org::as_select()).order(orgs::code.asc()).load(conn)?
        }
    };
    let ids: Vec<i64> = schools.iter().map(|s| s.id).collect();

    let periods = match fund {
        Fund::Meal => meal_entitled(conn, &ids, month)?,
        Fund::Yibu => yibu_entitled(conn, &ids, month)?,
    };

    // Entries on the schools' own accounts, and on supplier accounts for them.
    type E = (i64, Option<i64>, Option<i64>, String, i64, NaiveDate, Option<i64>);
    let own: Vec<E> = ledger_entries::table
        .inner_join(fund_accounts::table.on(fund_accounts::id.eq(ledger_entries::account_id)))
        .filter(fund_accounts::fund.eq(fund.as_str()))
        .filter(
            fund_accounts::org_id
                .eq_any(&ids)
                .and(fund_accounts::supplier_id.is_null())
                .or(fund_accounts::supplier_id.is_not_null().and(ledger_entries::for_school_id.eq_any(&ids))),
        )
        .filter(ledger_entries::value_date.le(last))
        .select((
            fund_accounts::org_id,
            fund_accounts::supplier_id,
            ledger_entries::for_school_id,
            ledger_entries::kind,
            ledger_entries::amount_fen,
            ledger_entries::value_date,
            ledger_entries::counter_account_id,
        ))
        .load(conn)?;
    let mut in_month: BTreeMap<i64, Sums> = BTreeMap::new();
    let mut to_date: BTreeMap<i64, Sums> = BTreeMap::new();
    for (org_id, supplier, for_school, kind, amount, day, counter) in own {
        let school = if supplier.is_some() { for_school.unwrap_or(0) } else { org_id };
        add(to_date.entry(school).or_default(), &kind, amount, counter.is_some(), supplier.is_some());
        if day >= first {
            add(in_month.entry(school).or_default(), &kind, amount, counter.is_some(), supplier.is_some());
        }
    }
    // 就餐人次 from the daily records where a school keeps them, else its monthly return.
    let mut reported: BTreeMap<i64, (i64, bool)> = BTreeMap::new();
    if fund == Fund::Meal {
        for ((s, _), served) in crate::meals::monthly::served(conn, &ids, &month.keys())? {
            let e = reported.entry(s).or_default();
            e.0 += served.meals;
            e.1 |= served.source == crate::meals::monthly::Source::Monthly;
        }
    }

    let late = late_money(conn, &county, fund, first, last, caller.today(), PASS_ON_DAYS)?;
    let mut late_days: BTreeMap<i64, i64> = BTreeMap::new();
    for l in &late {
        if let Some(school) = l.school {
            let e = late_days.entry(school).or_default();
            *e = (*e).max(l.days);
        }
    }

    let mut rows = Vec::with_capacity(schools.len());
    for s in &schools {
        let meal_days = calendar::meal_days(conn, &s.path, first, last)?.len();
        let (students, days, amount, adjustment) = periods.get(&s.id).copied().unwrap_or_default();
        let m = in_month.get(&s.id).copied().unwrap_or_default();
        let t = to_date.get(&s.id).copied().unwrap_or_default();
        let entitled = Fen::new(amount + adjustment);
        let figures = Figures {
            fund,
            entitled,
            allocated: Fen::new(m.allocated),
            spent: Fen::new(m.spent),
            closing_balance: Fen::new(t.allocated - t.spent),
            beneficiary_days: days,
            meals_reported: reported.get(&s.id).map(|r| r.0),
            late_days: late_days.get(&s.id).copied(),
        };
        let mut row = row_of(s.code.clone(), s.name.clone(), meal_days, i64::from(students), &figures);
        row.meals_monthly_only = reported.get(&s.id).is_some_and(|r| r.1);
        row.computed = periods.contains_key(&s.id);
        if !row.computed {
            row.flags.insert(0, Flag { code: "not_computed", message: format!("{month}{}尚未核算", fund.label()) });
        }
        rows.push(row);
    }
    let sum = |f: fn(&SchoolRow) -> i64| rows.iter().map(f).sum::<i64>();
    let total_figures = Figures {
        fund,
        entitled: Fen::new(sum(|r| r.entitled.fen())),
        allocated: Fen::new(sum(|r| r.allocated.fen())),
        spent: Fen::new(sum(|r| r.spent.fen())),
        closing_balance: Fen::new(sum(|r| r.closing_balance.fen())),
        beneficiary_days: sum(|r| r.beneficiary_days),
        meals_reported: rows.iter().any(|r| r.meals_reported.is_some()).then(|| sum(|r| r.meals_reported.unwrap_or(0))),
        late_days: None,
    };
    let total = row_of(
        "合计".into(),
        county.name.clone(),
        rows.iter().map(|r| r.meal_days).max().unwrap_or(0),
        sum(|r| r.students),
        &total_figures,
    );
    let county_flags = flags(&Figures { late_days: late.iter().map(|l| l.days).max(), ..Figures::default() })
        .into_iter()
        .filter(|f| f.code == "late_allocation")
        .collect();
    Ok(Reconciliation {
        county: county.code.clone(),
        county_name: county.name.clone(),
        org: org.code.clone(),
        org_name: org.name.clone(),
        fund: fund.as_str(),
        fund_label: fund.label(),
        month: month.to_string(),
        first_period: match fund {
            Fund::Meal => Month::of(month.first_day()).to_string(),
            Fund::Yibu => month.terms().first().map(ToString::to_string).unwrap_or_default(),
        },
        rows,
        total,
        county_flags,
    })
}

/// Money a county passed on to a school (or a supplier for it) in the period later than `limit`
/// days after receiving it, or still holds at the period's end (or today) beyond the limit: the
/// one reading of SPEC §8's rule, for reconciliation and for anomaly rule A15.
#[derive(Debug, Clone, Copy)]
pub struct LateMoney {
    /// The allocation; none for money still held.
    pub entry: Option<i64>,
    /// The school it went to (or was paid to a supplier for).
    pub school: Option<i64>,
    pub date: Option<NaiveDate>,
    pub days: i64,
    pub amount: Fen,
}

pub fn late_money(
    conn: &mut DbConn,
    county: &Org,
    fund: Fund,
    first: NaiveDate,
    last: NaiveDate,
    today: NaiveDate,
    limit: i64,
) -> AppResult<Vec<LateMoney>> {
    // The county's money in and out, first in first out, as of the period's end (or today).
    let as_of = last.min(today);
    let county_entries: Vec<(i64, String, i64, NaiveDate, Option<i64>)> = ledger_entries::table
        .inner_join(fund_accounts::table.on(fund_accounts::id.eq(ledger_entries::account_id)))
        .filter(fund_accounts::org_id.eq(county.id))
        .filter(fund_accounts::supplier_id.is_null())
        .filter(fund_accounts::fund.eq(fund.as_str()))
        .filter(ledger_entries::value_date.le(as_of))
        .select((
            ledger_entries::id,
            ledger_entries::kind,
            ledger_entries::amount_fen,
            ledger_entries::value_date,
            ledger_entries::counter_account_id,
        ))
        .load(conn)?;
    let flow = |id, date, fen: i64| Flow { id, date, amount: Fen::new(fen.abs()) };
    // Money recovered from a school is not new money to pass on: it awaits return to the treasury.
    let inflows: Vec<Flow> = county_entries
        .iter()
        .filter(|e| e.2 > 0 && e.1 != "reversal" && e.1 != "recovery_in")
        .map(|e| flow(e.0, e.3, e.2))
        .collect();
    let outflows: Vec<Flow> =
        county_entries.iter().filter(|e| e.1 == "allocation_out").map(|e| flow(e.0, e.3, e.2)).collect();
    // Only what was passed on late in the period (or is still held at its end) belongs to it.
    let late: Vec<Late> = late_outflows(&inflows, &outflows, as_of, limit)
        .into_iter()
        .filter(|l| l.id == 0 || outflows.iter().any(|o| o.id == l.id && o.date >= first))
        .collect();
    // Which school each late allocation went to (its counter account's org, or the school a
    // supplier was paid for).
    let late_ids: Vec<i64> = late.iter().map(|l| l.id).filter(|id| *id != 0).collect();
    let late_to: BTreeMap<i64, (Option<i64>, i64, NaiveDate)> = ledger_entries::table
        .inner_join(fund_accounts::table.on(fund_accounts::id.nullable().eq(ledger_entries::counter_account_id)))
        .filter(ledger_entries::id.eq_any(&late_ids))
        .select((ledger_entries::id, ledger_entries::for_school_id, fund_accounts::org_id, ledger_entries::value_date))
        .load::<(i64, Option<i64>, i64, NaiveDate)>(conn)?
        .into_iter()
        .map(|(id, for_school, org, day)| (id, (for_school, org, day)))
        .collect();
    Ok(late
        .into_iter()
        .map(|l| {
            let to = late_to.get(&l.id);
            LateMoney {
                entry: (l.id != 0).then_some(l.id),
                school: to.map(|(for_school, org, _)| for_school.unwrap_or(*org)),
                date: to.map(|t| t.2),
                days: l.days,
                amount: l.amount,
            }
        })
        .collect())
}

/// The standard shown: per child-day for meals, per child for 一补 (a term's allowance).
fn row_of(school: String, name: String, meal_days: usize, students: i64, f: &Figures) -> SchoolRow {
    let per = match f.fund {
        Fund::Meal => f.beneficiary_days,
        Fund::Yibu => students,
    };
    let standard = if per > 0 {
        Fen::from_decimal(f.entitled.to_decimal() / rust_decimal::Decimal::from(per))
    } else {
        Fen::new(0)
    };
    SchoolRow {
        school,
        name,
        meal_days,
        students,
        beneficiary_days: f.beneficiary_days,
        standard,
        entitled: f.entitled,
        allocated: f.allocated,
        spent: f.spent,
        closing_balance: f.closing_balance,
        meals_reported: f.meals_reported,
        meals_monthly_only: false,
        to_allocate: Fen::new((f.entitled.fen() - f.allocated.fen()).max(0)),
        computed: true,
        flags: flags(f),
    }
}
