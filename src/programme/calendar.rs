//! School calendars (供餐日历): the meal days of each month per org. A county's months are its
//! schools' default; a school's own month replaces the county's for that month.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{meal_calendars, orgs};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::{self, MealMonth, Month};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::term::{Term, TermDates};
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::exchange::sheet::{self, Column};
use crate::org::model::{Org, ancestor_paths};
use crate::org::service::org_in_scope;
use crate::registry::terms::terms_for;

/// Setting an org's calendar: someone who configures the programme, for a county (the default)
/// or a school in scope. The calendar page offers its forms on this rule.
pub fn may_set(caller: &Caller, kind: OrgKind) -> AppResult<()> {
    if !caller.may(Permission::ConfigureProgramme) {
        return Err(AppError::forbidden());
    }
    if !matches!(kind, OrgKind::County | OrgKind::School) {
        return Err(AppError::invalid(ErrorCode::CalendarOrgLevel, "供餐日历按县（默认）或学校设置"));
    }
    Ok(())
}

/// The org whose calendar the caller may set (`may_set`).
fn calendar_org(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    caller.require(conn, Permission::ConfigureProgramme, "set_calendar")?;
    let org = org_in_scope(conn, caller.scope(), code)?;
    may_set(caller, org.kind)?;
    Ok(org)
}

/// A month's calendar for an org and where it comes from.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MonthView {
    pub month: String,
    pub days: String,
    pub count: usize,
    /// The org whose setting holds (the school's own, or its county's default); empty when unset.
    pub source: String,
    pub own: bool,
    /// The weekday-in-term default, offered when nothing is set.
    pub default_count: usize,
    /// For the edit grid: (day, weekday 1–7, meal day, in a term).
    pub grid: Vec<(u32, u32, bool, bool)>,
    /// Empty cells before the 1st, so the grid's columns are Monday to Sunday.
    pub lead: u32,
}

/// The calendar that holds for an org (by path) in a month: its own, else the nearest ancestor's.
pub fn month_for(conn: &mut DbConn, path: &str, month: Month) -> AppResult<Option<(MealMonth, String, String)>> {
    let rows: Vec<(String, String, String)> = meal_calendars::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(path)))
        .filter(meal_calendars::month.eq(month.key()))
        .select((orgs::path, orgs::name, meal_calendars::days))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .max_by_key(|(p, _, _)| p.len())
        .map(|(p, name, bits)| (MealMonth::from_bits(month, &bits), name, p)))
}

/// The months of a term for an org, with what holds and the edit grid.
pub fn term_view(
    conn: &mut DbConn,
    caller: &Caller,
    code: &str,
    term: Term,
) -> AppResult<(Org, Option<TermDates>, Vec<MonthView>)> {
    caller.require(conn, Permission::ViewOrgs, "view_calendar")?;
    let org = org_in_scope(conn, caller.scope(), code)?;
    let terms = terms_for(conn, &org.path)?;
    let dates = terms.iter().find(|t| t.term == term).cloned();
    let (from, to) = dates.as_ref().map(|d| (d.start, d.end)).unwrap_or_else(|| term.customary_dates());
    let mut out = Vec::new();
    for m in Month::span(from, to) {
        let default = MealMonth::working_days_in_terms(m, &terms);
        let held = month_for(conn, &org.path, m)?;
        let (cal, source, own) = match &held {
            Some((c, name, path)) => (c.clone(), name.clone(), *path == org.path),
            None => (MealMonth::new(m, []).unwrap_or_else(|_| default.clone()), String::new(), false),
        };
        let grid = (1..=m.days_in_month())
            .filter_map(|d| {
                let day = m.day(d)?;
                Some((
                    d,
                    chrono::Datelike::weekday(&day).number_from_monday(),
                    cal.contains(day),
                    terms.iter().any(|t| t.contains(day)),
                ))
            })
            .collect();
        let lead = chrono::Datelike::weekday(&m.first_day()).num_days_from_monday();
        out.push(MonthView {
            lead,
            month: m.to_string(),
            days: cal.list(),
            count: cal.count(),
            source,
            own,
            default_count: default.count(),
            grid,
        });
    }
    Ok((org, dates, out))
}

/// Sets an org's meal days for a month. A meal day outside the org's terms is refused.
pub fn set_month(conn: &mut DbConn, caller: &Caller, code: &str, cal: &MealMonth) -> AppResult<()> {
    let org = calendar_org(conn, caller, code)?;
    write_tx(conn, |conn| {
        let terms = terms_for(conn, &org.path)?;
        store(conn, caller, &org, cal, &terms).map_err(|m| AppError::field("days", ErrorCode::CalendarOutsideTerm, m))
    })
}

fn store(conn: &mut DbConn, caller: &Caller, org: &Org, cal: &MealMonth, terms: &[TermDates]) -> Result<(), String> {
    let outside = cal.outside_terms(terms);
    if let Some(first) = outside.first() {
        return Err(format!(
            "{}的供餐日中有{}天不在学期内（如{first}）；请先核对学期日期，或去掉这些日子",
            cal.month(),
            outside.len()
        ));
    }
    let write = |conn: &mut DbConn| -> AppResult<()> {
        let key = meal_calendars::table
            .filter(meal_calendars::org_id.eq(org.id))
            .filter(meal_calendars::month.eq(cal.month().key()));
        let before: Option<String> = key.select(meal_calendars::days).first(conn).optional()?;
        diesel::delete(key).execute(conn)?;
        diesel::insert_into(meal_calendars::table)
            .values((
                meal_calendars::org_id.eq(org.id),
                meal_calendars::month.eq(cal.month().key()),
                meal_calendars::days.eq(cal.bits()),
                meal_calendars::set_by.eq(&caller.username),
                meal_calendars::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("programme.calendar", "org", &org.code)
                .before(&before.map(|b| MealMonth::from_bits(cal.month(), &b).list()))
                .after(
                    &serde_json::json!({"month": cal.month().to_string(), "days": cal.list(), "count": cal.count()}),
                ),
        )
    };
    write(conn).map_err(|e| e.message)
}

/// A calendar workbook, on the page and through the API.
pub const MAX_UPLOAD: usize = 5 * 1024 * 1024;

const COLUMNS: [Column; 3] = [
    Column { name: "月份", synonyms: &["月份", "月", "month"], required: true },
    Column { name: "供餐天数", synonyms: &["供餐天数", "天数", "days"], required: false },
    Column { name: "供餐日期", synonyms: &["供餐日期", "供餐日", "日期", "dates"], required: false },
];

/// Imports a calendar file (.xlsx/.xls/CSV: 月份, 供餐天数 and/or 供餐日期) for an org, all or
/// nothing. Without 供餐日期 the days are the month's first weekdays inside the terms. Every bad
/// row is named by sheet, row and column. Returns the months set.
pub fn import(conn: &mut DbConn, caller: &Caller, code: &str, bytes: &[u8], filename: &str) -> AppResult<usize> {
    let org = calendar_org(conn, caller, code)?;
    let rows = sheet::read_named(bytes, filename, ErrorCode::CalendarMissingColumn, &COLUMNS)?;
    let terms = terms_for(conn, &org.path)?;
    let mut errors = Vec::new();
    let mut months: Vec<(MealMonth, &sheet::NamedRow)> = Vec::new();
    for r in &rows {
        let at = |col: &str| format!("工作表“{}”第{}行“{col}”列", r.sheet, r.row);
        let mut err = |col: &str, code: ErrorCode, m: String| {
            errors.push(FieldError {
                field: format!("{}:{}:{col}", r.sheet, r.row),
                code,
                message: format!("{}：{m}", at(col)),
            })
        };
        let month = match Month::parse(&r.values[0]) {
            Ok(m) => m,
            Err(m) => {
                err("月份", ErrorCode::CalendarMonth, m);
                continue;
            }
        };
        let count: Option<u32> = match r.values[1].trim() {
            "" => None,
            s => match s.trim_end_matches(".0").parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    err("供餐天数", ErrorCode::CalendarCount, format!("“{s}”应为整数"));
                    continue;
                }
            },
        };
        if let Some(n) = count
            && let Err(m) = calendar::check_count(month, n)
        {
            err("供餐天数", ErrorCode::CalendarTooManyDays, m);
            continue;
        }
        let cal = if r.values[2].trim().is_empty() {
            let Some(n) = count else {
                err("供餐天数", ErrorCode::CalendarEmpty, "供餐天数和供餐日期至少填写一项".into());
                continue;
            };
            let weekdays: Vec<u32> = MealMonth::working_days_in_terms(month, &terms).days().collect();
            if weekdays.len() < n as usize {
                err(
                    "供餐天数",
                    ErrorCode::CalendarTooManyDays,
                    format!(
                        "{month}学期内只有{}个工作日，少于供餐天数{n}；周末供餐请在“供餐日期”列逐日列出",
                        weekdays.len()
                    ),
                );
                continue;
            }
            MealMonth::new(month, weekdays.into_iter().take(n as usize))
        } else {
            MealMonth::parse_days(month, &r.values[2])
        };
        let cal = match cal {
            Ok(c) => c,
            Err(m) => {
                err("供餐日期", ErrorCode::CalendarDays, m);
                continue;
            }
        };
        if let Some(n) = count
            && n as usize != cal.count()
        {
            err(
                "供餐天数",
                ErrorCode::CalendarCountMismatch,
                format!("供餐天数{n}与供餐日期所列的{}天不一致", cal.count()),
            );
            continue;
        }
        if months.iter().any(|(m, _)| m.month() == month) {
            err("月份", ErrorCode::CalendarDuplicateMonth, format!("{month}在文件中出现了两次"));
            continue;
        }
        months.push((cal, r));
    }
    if months.is_empty() && errors.is_empty() {
        return Err(AppError::invalid(ErrorCode::CalendarNoRows, format!("文件“{filename}”没有数据行")));
    }
    if errors.is_empty() {
        let result = write_tx(conn, |conn| {
            let mut outside = Vec::new();
            for (cal, r) in &months {
                if let Err(m) = store(conn, caller, &org, cal, &terms) {
                    outside.push(FieldError {
                        field: format!("{}:{}:供餐日期", r.sheet, r.row),
                        code: ErrorCode::CalendarOutsideTerm,
                        message: format!("工作表“{}”第{}行：{m}", r.sheet, r.row),
                    });
                }
            }
            if outside.is_empty() { Ok(()) } else { Err(AppError::fields(outside)) }
        });
        return result.map(|()| months.len());
    }
    Err(AppError::fields(errors))
}

/// Every calendar that can hold for a set of schools in a span of months, read in one go: a
/// scan asks for hundreds of school-months, which one query a month each made slow.
pub struct Calendars {
    /// (org path, month key) → the meal days set there.
    set: HashMap<(String, i32), MealMonth>,
}

impl Calendars {
    pub fn load(conn: &mut DbConn, school_paths: &[&str], months: &[Month]) -> AppResult<Self> {
        let paths: Vec<String> = school_paths
            .iter()
            .flat_map(|p| ancestor_paths(p))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let keys: Vec<i32> = months.iter().map(|m| m.key()).collect();
        let mut set = HashMap::new();
        for chunk in paths.chunks(500) {
            let rows: Vec<(String, i32, String)> = meal_calendars::table
                .inner_join(orgs::table)
                .filter(orgs::path.eq_any(chunk))
                .filter(meal_calendars::month.eq_any(&keys))
                .select((orgs::path, meal_calendars::month, meal_calendars::days))
                .load(conn)?;
            for (path, key, bits) in rows {
                if let Ok(m) = Month::from_key(key) {
                    set.insert((path, key), MealMonth::from_bits(m, &bits));
                }
            }
        }
        Ok(Self { set })
    }

    /// What holds for a school in a month: its own, else its nearest ancestor's (as
    /// [`month_for`] reads it).
    pub fn month_for(&self, path: &str, month: Month) -> Option<&MealMonth> {
        ancestor_paths(path)
            .into_iter()
            .filter_map(|p| self.set.get(&(p.clone(), month.key())).map(|c| (p.len(), c)))
            .max_by_key(|(len, _)| *len)
            .map(|(_, c)| c)
    }

    /// The meal days of a school between two days (inclusive).
    pub fn meal_days(&self, path: &str, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        Month::span(from, to)
            .into_iter()
            .filter_map(|m| self.month_for(path, m).map(|cal| (m, cal)))
            .flat_map(|(m, cal)| cal.days().filter_map(move |d| m.day(d)))
            .filter(|d| (from..=to).contains(d))
            .collect()
    }
}

/// The meal days of a school between two days (inclusive), month by month.
pub fn meal_days(conn: &mut DbConn, path: &str, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<NaiveDate>> {
    let mut out = Vec::new();
    for m in Month::span(from, to) {
        if let Some((cal, _, _)) = month_for(conn, path, m)? {
            out.extend(cal.days().filter_map(|d| m.day(d)).filter(|d| (from..=to).contains(d)));
        }
    }
    Ok(out)
}
