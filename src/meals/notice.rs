//! A school's public notice (公示): what anyone may read without logging in, on the school's
//! notice board as a poster with a QR code and on a phone: the term's beneficiaries, the
//! standard and meal model, this week's menu, the month's money received and spent by category,
//! the county's complaint number. Only figures the programme publishes; never a child's name or
//! number.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::canteen::{self, Menu};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::clock::today;
use crate::db::schema::{complaints, fund_accounts, ledger_entries, notice_settings, orgs, rosters};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::Month;
use crate::domain::complaint::Status;
use crate::domain::ledger::{EntryKind, Fund};
use crate::domain::money::Fen;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::roster::Status as RosterStatus;
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::{Org, ancestor_paths};
use crate::programme::config::{self, ModelsOnDay};
use crate::registry::service::county_of;

/// The number given when no org on the path set one: the government service hotline.
pub const DEFAULT_HOTLINE: &str = "12345（政务服务便民热线）";

/// One month's money at the school, as the notice shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MonthMoney {
    pub month: String,
    /// Passed on to the school's own account.
    pub received: Fen,
    /// Passed on to the supplier that feeds the school.
    pub to_supplier: Fen,
    /// Spent on food, by category, in the order of the categories.
    pub spent: Vec<(String, Fen)>,
    pub spent_total: Fen,
    /// Taken back by the county (追回).
    pub recovered: Fen,
}

/// A school's notice.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Notice {
    pub school_code: String,
    pub school_name: String,
    pub county_name: String,
    pub term: String,
    /// The term's beneficiaries as filed with the county (the newest archived roster).
    pub beneficiaries: Option<i32>,
    pub roster_version: Option<i32>,
    /// The daily standard in force today.
    pub standard: Option<Fen>,
    pub meal_models: Vec<&'static str>,
    pub week_start: NaiveDate,
    pub menu: Option<Menu>,
    /// This month and the one before.
    pub money: Vec<MonthMoney>,
    pub hotline: String,
    /// Complaints about the school this term, and how many were answered.
    pub complaints: i64,
    pub answered: i64,
}

/// The school a public page names: any school, found by its 学校标识码.
pub fn school(conn: &mut DbConn, code: &str) -> AppResult<Org> {
    let code = code.trim();
    let unknown = || {
        let shown: String = code.chars().filter(char::is_ascii_alphanumeric).take(12).collect();
        AppError::new(
            crate::error::ErrorKind::NotFound,
            ErrorCode::NoticeSchool,
            format!("没有学校标识码为“{shown}”的学校，请核对海报上的地址"),
        )
    };
    if code.len() != 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unknown());
    }
    orgs::table
        .filter(orgs::code.eq(code))
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .select(Org::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(unknown)
}

/// The complaint number on an org's path: its own, else the nearest above it.
pub fn hotline(conn: &mut DbConn, path: &str) -> AppResult<String> {
    Ok(notice_settings::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(path)))
        .order(orgs::path.desc())
        .select(notice_settings::hotline)
        .first(conn)
        .optional()?
        .unwrap_or_else(|| DEFAULT_HOTLINE.to_owned()))
}

/// Sets the caller's county's (or province's) complaint number.
pub fn set_hotline(conn: &mut DbConn, caller: &Caller, typed: &str) -> AppResult<String> {
    caller.require_at_county(conn, Permission::ApproveMeals, "notice_hotline")?;
    let hotline = crate::domain::text::required("举报电话", typed, 40)
        .map_err(|m| AppError::field("hotline", ErrorCode::NoticeHotline, m))?;
    if !hotline.chars().any(|c| c.is_ascii_digit()) {
        return Err(AppError::field("hotline", ErrorCode::NoticeHotline, format!("举报电话“{hotline}”中没有号码")));
    }
    let before = hotline_of(conn, caller.org_id)?;
    write_tx(conn, |conn| {
        diesel::delete(notice_settings::table.filter(notice_settings::org_id.eq(caller.org_id))).execute(conn)?;
        diesel::insert_into(notice_settings::table)
            .values((
                notice_settings::org_id.eq(caller.org_id),
                notice_settings::hotline.eq(&hotline),
                notice_settings::set_by.eq(&caller.username),
                notice_settings::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("notice.hotline", "org", &caller.org_code).before(&before).after(&hotline),
        )
    })?;
    Ok(hotline)
}

fn hotline_of(conn: &mut DbConn, org_id: i64) -> AppResult<Option<String>> {
    Ok(notice_settings::table.find(org_id).select(notice_settings::hotline).first(conn).optional()?)
}

/// The money of a school's month: allocations in, spending by category. A reversal counts in
/// the month of the entry it cancels (a duplicate invoice reversed in December makes October's
/// spending what it really was, not December's negative).
fn month_money(conn: &mut DbConn, school: &Org, month: Month) -> AppResult<MonthMoney> {
    let own: Vec<i64> = fund_accounts::table
        .filter(fund_accounts::org_id.eq(school.id))
        .filter(fund_accounts::supplier_id.is_null())
        .filter(fund_accounts::fund.eq(Fund::Meal.as_str()))
        .select(fund_accounts::id)
        .load(conn)?;
    let rows: Vec<(i64, String, i64, String)> = ledger_entries::table
        .filter(ledger_entries::month.eq(month.key()))
        .filter(ledger_entries::account_id.eq_any(&own))
        .filter(ledger_entries::kind.ne(EntryKind::Reversal.as_str()))
        .select((ledger_entries::id, ledger_entries::kind, ledger_entries::amount_fen, ledger_entries::category))
        .load(conn)?;
    // What was cancelled of these, whenever it was.
    let cancelled: BTreeMap<i64, i64> = ledger_entries::table
        .filter(ledger_entries::reverses_entry_id.eq_any(rows.iter().map(|r| r.0).collect::<Vec<_>>()))
        .select((ledger_entries::reverses_entry_id.assume_not_null(), ledger_entries::amount_fen))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let (mut received, mut recovered) = (0i64, 0i64);
    let mut spent: BTreeMap<String, i64> = BTreeMap::new();
    for (id, kind, amount, category) in rows {
        let net = amount + cancelled.get(&id).copied().unwrap_or(0);
        match EntryKind::parse(&kind) {
            Some(EntryKind::AllocationIn) => received += net,
            Some(EntryKind::Expenditure) => *spent.entry(category).or_default() -= net,
            Some(EntryKind::RecoveryOut) => recovered -= net,
            _ => {}
        }
    }
    let paid: Vec<(i64, i64)> = ledger_entries::table
        .inner_join(fund_accounts::table.on(fund_accounts::id.eq(ledger_entries::account_id)))
        .filter(ledger_entries::month.eq(month.key()))
        .filter(ledger_entries::for_school_id.eq(school.id))
        .filter(fund_accounts::supplier_id.is_not_null())
        .filter(ledger_entries::kind.eq(EntryKind::AllocationIn.as_str()))
        .select((ledger_entries::id, ledger_entries::amount_fen))
        .load(conn)?;
    let paid_back: i64 = ledger_entries::table
        .filter(ledger_entries::reverses_entry_id.eq_any(paid.iter().map(|p| p.0).collect::<Vec<_>>()))
        .select(ledger_entries::amount_fen)
        .load::<i64>(conn)?
        .into_iter()
        .sum();
    let to_supplier = paid.iter().map(|p| p.1).sum::<i64>() + paid_back;
    let order = ["粮油", "肉蛋奶", "蔬菜水果", "其他食品"];
    let mut spent: Vec<(String, Fen)> =
        spent.into_iter().filter(|(_, f)| *f != 0).map(|(c, f)| (c, Fen::new(f))).collect();
    spent.sort_by_key(|(c, _)| order.iter().position(|o| o == c).unwrap_or(order.len()));
    Ok(MonthMoney {
        month: month.to_string(),
        received: Fen::new(received),
        to_supplier: Fen::new(to_supplier),
        spent_total: Fen::new(spent.iter().map(|(_, f)| f.fen()).sum()),
        spent,
        recovered: Fen::new(recovered),
    })
}

/// A school's notice as of today.
pub fn of(conn: &mut DbConn, code: &str) -> AppResult<Notice> {
    let school = school(conn, code)?;
    let day = today();
    let term = Term::of_day(day);
    let archived: Option<(i32, i32)> = rosters::table
        .filter(rosters::school_id.eq(school.id))
        .filter(rosters::school_year.eq(term.school_year()))
        .filter(rosters::term.eq(i32::from(term.half())))
        .filter(rosters::status.eq(RosterStatus::Archived.as_str()))
        .order(rosters::version.desc())
        .select((rosters::version, rosters::student_count))
        .first(conn)
        .optional()?;
    let models = ModelsOnDay::load(conn, school.id, day)?;
    let county_code = county_of(&school.path);
    let county_name: String =
        orgs::table.filter(orgs::code.eq(&county_code)).select(orgs::name).first(conn).optional()?.unwrap_or_default();
    let monday = canteen::week_of(day);
    let menu = canteen::week_at(conn, &school, monday)?.menu;
    let this = Month::of(day);
    let money = vec![month_money(conn, &school, this)?, month_money(conn, &school, this.prev())?];
    let (from, _) = term.customary_dates();
    let counted: Vec<String> = complaints::table
        .filter(complaints::school_id.eq(school.id))
        .filter(complaints::received_at.ge(crate::clock::day_start_utc(from)))
        .select(complaints::status)
        .load(conn)?;
    Ok(Notice {
        standard: config::meal_standard(conn, &school.path, day)?,
        hotline: hotline(conn, &school.path)?,
        school_code: school.code.clone(),
        school_name: school.name.clone(),
        county_name,
        term: term.label(),
        beneficiaries: archived.map(|a| a.1),
        roster_version: archived.map(|a| a.0),
        meal_models: models.all().into_iter().map(|m| m.label()).collect(),
        week_start: monday,
        menu,
        money,
        complaints: i64::try_from(counted.len()).unwrap_or(0),
        answered: i64::try_from(counted.iter().filter(|s| *s == Status::Answered.as_str()).count()).unwrap_or(0),
    })
}
