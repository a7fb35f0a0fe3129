//! A demo county's year of money: entitlements, the meal fund's receipts, allocations and
//! spending with the lapses planted for the inspector, and the last term's 一补.

use diesel::prelude::*;

use super::{COUNTY, Lcg};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::orgs;
use crate::error::{AppError, AppResult, ErrorCode};

/// A year of money: each month's entitlements computed (all but the last closed), the county
/// receiving the month's money and passing it on, schools spending it on food, meals reported.
/// Planted for the inspector to find: one school spends a fifth less than its children are
/// owed (压低标准), one reports more meals than children on the roll (虚报就餐), one month's
/// money reaches a school 40 days after the county got it, a duplicated invoice reversed,
/// and a large receipt waiting for a second person's approval.
pub(super) fn build_money(conn: &mut DbConn, cli: &Caller, schools: &[String]) -> AppResult<()> {
    use crate::domain::calendar::Month;
    use crate::ledger::{entitlement, fund, import};

    const SUPPLIER: &str = "91522326MA6HX2K81Q";
    let today = crate::clock::today();
    let last = Month::of(today).prev();
    let mut months = vec![last];
    while months.len() < 12 {
        months.push(months[months.len() - 1].prev());
    }
    months.reverse();
    let county_path: String = orgs::table.filter(orgs::code.eq(COUNTY)).select(orgs::path).first(conn)?;
    let names: Vec<(String, String)> =
        orgs::table.filter(orgs::code.eq_any(schools)).select((orgs::code, orgs::name)).load(conn)?;
    let name_of = |code: &str| names.iter().find(|(c, _)| c == code).map(|(_, n)| n.clone()).unwrap_or_default();
    let frugal = schools.get(2).cloned().unwrap_or_default();
    // The inflating school keeps only monthly returns: nothing daily to hold them against.
    let inflating = schools.get(super::daily::MONTHLY_ONLY).cloned().unwrap_or_default();
    // The late allocation: the newest month with meal days before a month without (the summer
    // or winter holiday), so that no other school's money is passed on in between and the 40
    // days are the planted school's alone; on the books by today.
    let has_meals = |conn: &mut DbConn, m: Month| -> AppResult<bool> {
        let last = m.next().first_day().pred_opt().unwrap_or(m.first_day());
        Ok(!crate::programme::calendar::meal_days(conn, &county_path, m.first_day(), last)?.is_empty())
    };
    let mut late_month = None;
    for m in months.iter().rev() {
        if m.first_day() + chrono::Days::new(40) <= today && has_meals(conn, *m)? && !has_meals(conn, m.next())? {
            late_month = Some(*m);
            break;
        }
    }
    let post = |conn: &mut DbConn, f: fund::PostingForm| fund::post(conn, cli, &f).map(|r| r.id);
    // The schools as orgs, in the list's order, for the daily records of this term's months.
    let mut school_orgs: Vec<crate::org::model::Org> = Vec::new();
    for code in schools {
        school_orgs
            .push(orgs::table.filter(orgs::code.eq(code)).select(crate::org::model::Org::as_select()).first(conn)?);
    }
    let ids: Vec<i64> = school_orgs.iter().map(|o| o.id).collect();
    let term_start = crate::domain::term::Term::of_day(today).customary_dates().0;
    let mut rng = Lcg(20261204);
    for (mi, m) in months.iter().enumerate() {
        let periods = entitlement::compute_all(conn, cli, COUNTY, *m)?;
        let total: i64 = periods.iter().map(|p| p.amount.fen() + p.adjustment.fen()).sum();
        if total == 0 {
            continue;
        }
        let day = |d: u32| m.day(d.min(m.days_in_month())).unwrap_or(m.first_day());
        let yuan = |fen: i64| crate::domain::money::Fen::new(fen).to_string();
        let form = |kind: &str, from: &str, to: &str, amount: String, date: chrono::NaiveDate, voucher: String| {
            fund::PostingForm {
                kind: kind.into(),
                fund: "meal".into(),
                from: from.into(),
                to: to.into(),
                amount,
                date: date.to_string(),
                voucher_no: voucher,
                key: String::new(),
                ..fund::PostingForm::default()
            }
        };
        // The month's money arrives on the first, as the roll entitles it.
        let mut r = form("receipt", "", COUNTY, yuan(total), day(1), format!("SR-{m}"));
        r.memo = format!("中央财政 {m} 营养膳食补助 黔财教〔{}〕{}号", &m.to_string()[..4], 10 + mi);
        r.key = format!("demo:{m}:receipt");
        post(conn, r)?;
        let days_of_meals = crate::programme::calendar::meal_days(conn, &county_path, m.first_day(), day(31))?;
        let meal_days = i32::try_from(days_of_meals.len()).unwrap_or(0);
        let first_meal = days_of_meals.first().copied().unwrap_or(day(5));
        let last_meal = days_of_meals.last().copied().unwrap_or(day(28));
        if m.first_day() >= Month::of(term_start).first_day() {
            let to = m.last_day().min(today);
            super::daily::record(conn, cli, &school_orgs, m.first_day(), to, false, *m == last, &mut rng)?;
        }
        let kept = crate::meals::monthly::from_days(conn, &ids, &[m.key()])?;
        let mut reports = Vec::new();
        for p in &periods {
            let owed = p.amount.fen() + p.adjustment.fen();
            if owed <= 0 {
                continue;
            }
            let late = Some(*m) == late_month && p.school == inflating;
            // Passed on by the 5th, or the first meal day when the term starts later (a
            // supplier is paid for meals, not before them).
            let on = if late { day(1) + chrono::Days::new(40) } else { day(5).max(first_meal) };
            if on > today {
                continue;
            }
            let enterprise = name_of(&p.school).contains("纳包");
            let to = if enterprise { format!("{COUNTY}/{SUPPLIER}") } else { p.school.clone() };
            let mut a = form("allocation", COUNTY, &to, yuan(owed), on, format!("BF-{m}-{}", &p.school[6..]));
            a.memo = format!("{m} 膳食补助");
            a.for_school = if enterprise { p.school.clone() } else { String::new() };
            a.key = format!("demo:{m}:{}:allocation", p.school);
            post(conn, a)?;
            if !enterprise {
                // Food bought: 40 % meat, eggs and milk, 30 % grain and oil, 25 % vegetables and
                // fruit, the rest other food; the frugal school buys a fifth less of everything.
                let spend = if p.school == frugal { owed * 4 / 5 } else { owed };
                let parts = [("肉蛋奶", 40), ("粮油", 30), ("蔬菜水果", 25), ("其他食品", 5)];
                let mut left = spend;
                for (k, (category, pct)) in parts.iter().enumerate() {
                    let amount = if k + 1 == parts.len() { left } else { spend * pct / 100 };
                    left -= amount;
                    // Bought while the canteen is open: by the month's last meal day.
                    let date = day(12 + 4 * k as u32).min(last_meal).max(on);
                    if amount <= 0 || date > today {
                        continue;
                    }
                    let mut e = form(
                        "expenditure",
                        &p.school,
                        "",
                        yuan(amount),
                        date,
                        format!("ZC-{m}-{}-{k}", &p.school[6..]),
                    );
                    e.category = (*category).into();
                    e.memo = format!("{m} 采购{category}");
                    e.key = format!("demo:{m}:{}:spend:{k}", p.school);
                    // Food bought with its invoice, into the canteen's stock; one school's
                    // last other-food bill has no invoice (A30), one school's last meat is dear
                    // (A19).
                    let at = |i: usize| *m == last && schools.get(i) == Some(&p.school);
                    if at(super::documents::NO_INVOICE) && k == 3 {
                        post(conn, e.clone())?;
                    } else {
                        let dearer = at(super::documents::DEARER) && k == 0;
                        super::documents::buy(
                            conn,
                            cli,
                            &p.school,
                            category,
                            amount,
                            date,
                            e.voucher_no.clone(),
                            e.key.clone(),
                            dearer,
                        )?;
                    }
                    // A duplicated invoice, reversed when the clerk noticed.
                    if mi == 1 && k == 0 && p.school == frugal {
                        e.key = format!("demo:{m}:{}:duplicate", p.school);
                        e.voucher_no = format!("{}-重复", e.voucher_no);
                        e.amount = yuan(amount / 10);
                        let dup = post(conn, e)?;
                        fund::reverse(conn, cli, dup, "发票重复入账", &format!("demo:{m}:reverse"))?;
                    }
                }
            }
            // Where the school keeps daily records, its return is their total (one school's a
            // tenth more); else one child-meal per beneficiary day (the inflating school's a tenth
            // more).
            let school_id = school_orgs.iter().find(|o| o.code == p.school).map_or(0, |o| o.id);
            let (days_served, meals) = match kept.get(&(school_id, m.key())) {
                Some(&(d, n)) => (d, i32::try_from(n).unwrap_or(i32::MAX)),
                None => (meal_days, p.beneficiary_days),
            };
            let above = schools.get(super::daily::RETURN_ABOVE_DAYS) == Some(&p.school)
                && kept.contains_key(&(school_id, m.key()));
            let meals = if p.school == inflating || above {
                i32::try_from(i64::from(meals) * 11 / 10).unwrap_or(i32::MAX)
            } else {
                meals
            };
            reports.push(import::MealsReport { school: p.school.clone(), month: *m, days_served, meals });
        }
        import::record_meals(conn, cli, &reports)?;
        if *m != last {
            for p in &periods {
                if !p.closed {
                    entitlement::close(conn, cli, &p.school, *m)?;
                }
            }
        }
    }
    // This month so far: every day up to yesterday, and this morning about half the schools.
    super::daily::record(conn, cli, &school_orgs, Month::of(today).first_day(), today, true, false, &mut rng)?;
    super::daily::canteen(conn, cli, &school_orgs, today)?;
    // The kitchens' use of food since last month began, by the meals each day reported; one
    // school's chicken used early in last month and delivered at its end (A28).
    crate::db::write_tx(conn, |conn| {
        super::documents::kitchens(conn, cli, &school_orgs, last.first_day(), today, super::documents::HEAVY_KITCHEN)
    })?;
    let last_days = crate::programme::calendar::meal_days(conn, &county_path, last.first_day(), last.last_day())?;
    if let (Some(school), Some(used), Some(received)) =
        (school_orgs.get(super::documents::CHICKEN_EARLY), last_days.get(1), last_days.last())
    {
        super::documents::used_before_received(conn, cli, school, *used, *received)?;
    }
    build_yibu(conn, cli, schools.get(1).map(String::as_str).unwrap_or_default())?;
    // A large receipt the county finance clerk entered, waiting for a second person.
    let caiwu = Caller::cli_as(conn, "caiwu")?;
    let mut big = fund::PostingForm {
        kind: "receipt".into(),
        fund: "meal".into(),
        to: COUNTY.into(),
        amount: "500000.00".into(),
        date: today.to_string(),
        voucher_no: format!("SR-{today}-省级"),
        memo: "省级财政 营养膳食补助地方配套".into(),
        ..fund::PostingForm::default()
    };
    big.key = "demo:pending-receipt".into();
    fund::post(conn, &caiwu, &big)?;
    Ok(())
}

/// 一补 for the last finished term: computed and closed, received by the county, passed on to
/// every school, paid into the boarders' aid cards; one school (`slow`) has paid only nine tenths
/// so far, which reconciliation shows as a surplus.
pub(super) fn build_yibu(conn: &mut DbConn, cli: &Caller, slow: &str) -> AppResult<()> {
    use crate::domain::calendar::Span;
    use crate::domain::term::Term;
    use crate::ledger::{fund, yibu};

    let this = Term::of_day(crate::clock::today());
    let term = if this.half() == 1 { Term::new(this.school_year() - 1, 2) } else { Term::new(this.school_year(), 1) }
        .map_err(|m| AppError::invalid(ErrorCode::TermFormat, m))?;
    let start = Span::of_term(term).first_day();
    let periods = yibu::compute_all(conn, cli, COUNTY, term)?;
    for p in &periods {
        yibu::close(conn, cli, &p.school, term)?;
    }
    let owed: Vec<(&str, i64)> = periods
        .iter()
        .map(|p| (p.school.as_str(), p.amount.fen() + p.adjustment.fen()))
        .filter(|(_, fen)| *fen > 0)
        .collect();
    let total: i64 = owed.iter().map(|(_, fen)| fen).sum();
    if total == 0 {
        return Ok(());
    }
    let yuan = |fen: i64| crate::domain::money::Fen::new(fen).to_string();
    let on = |days: u64| (start + chrono::Days::new(days)).to_string();
    let form = |kind: &str, from: &str, to: &str, fen: i64, date: String, voucher: String| fund::PostingForm {
        kind: kind.into(),
        fund: "yibu".into(),
        from: from.into(),
        to: to.into(),
        amount: yuan(fen),
        date,
        voucher_no: voucher.clone(),
        memo: format!("{} 一补", term.label()),
        key: format!("demo:yibu:{voucher}"),
        ..fund::PostingForm::default()
    };
    fund::post(conn, cli, &form("receipt", "", COUNTY, total, on(2), format!("YB-SR-{term}")))?;
    for (school, fen) in owed {
        let tail = &school[6..];
        fund::post(conn, cli, &form("allocation", COUNTY, school, fen, on(12), format!("YB-BF-{term}-{tail}")))?;
        let paid = if school == slow { fen * 9 / 10 } else { fen };
        let mut e = form("expenditure", school, "", paid, on(25), format!("YB-ZC-{term}-{tail}"));
        e.category = "生活补助".into();
        fund::post(conn, cli, &e)?;
    }
    Ok(())
}
