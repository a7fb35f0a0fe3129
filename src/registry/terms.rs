//! School years and terms per org (a province sets them, a county overrides), term closing, and
//! the grades and terms in which transfers are not allowed.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{orgs, school_terms, transfer_restrictions};
use crate::db::{DbConn, write_tx};
use crate::domain::codes;
use crate::domain::role::Permission;
use crate::domain::term::{self, Term, TermDates};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::ancestor_paths;

/// The terms that hold for a school (by its org path): for each term the nearest org's dates;
/// closed when any org on the path has closed it.
pub fn terms_for(conn: &mut DbConn, school_path: &str) -> AppResult<Vec<TermDates>> {
    let rows: Vec<(String, i32, i32, NaiveDate, NaiveDate, Option<NaiveDateTime>)> = school_terms::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(school_path)))
        .select((
            orgs::path,
            school_terms::school_year,
            school_terms::term,
            school_terms::start_date,
            school_terms::end_date,
            school_terms::closed_at,
        ))
        .load(conn)?;
    let mut nearest: BTreeMap<(i32, i32), (usize, NaiveDate, NaiveDate)> = BTreeMap::new();
    let mut closed: BTreeMap<(i32, i32), bool> = BTreeMap::new();
    for (path, year, half, start, end, closed_at) in rows {
        let key = (year, half);
        *closed.entry(key).or_default() |= closed_at.is_some();
        if nearest.get(&key).is_none_or(|(depth, _, _)| path.len() > *depth) {
            nearest.insert(key, (path.len(), start, end));
        }
    }
    Ok(nearest
        .into_iter()
        .filter_map(|((year, half), (_, start, end))| {
            let t = Term::new(year, u8::try_from(half).ok()?).ok()?;
            Some(TermDates { term: t, start, end, closed: closed.get(&(year, half)).copied().unwrap_or(false) })
        })
        .collect())
}

/// Refuses an effective date inside a closed term.
pub fn ensure_open(conn: &mut DbConn, school_path: &str, day: NaiveDate) -> AppResult<()> {
    let terms = terms_for(conn, school_path)?;
    if let Some(t) = term::term_of(&terms, day).filter(|t| t.closed) {
        return Err(AppError::field(
            "effective_date",
            ErrorCode::ChangeTermClosed,
            format!("生效日期{day}所在的{}已结账关闭，不能再登记该学期内生效的异动", t.term.label()),
        ));
    }
    Ok(())
}

/// A transfer restriction that holds for a grade on a day at a school, as a refusal message.
pub fn transfer_restriction(
    conn: &mut DbConn,
    school_path: &str,
    grade: i32,
    day: NaiveDate,
) -> AppResult<Option<String>> {
    let terms = terms_for(conn, school_path)?;
    let half = term::term_of(&terms, day).map(|t| i32::from(t.term.half()));
    let rows: Vec<(Option<i32>, String, String)> = transfer_restrictions::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(school_path)))
        .filter(transfer_restrictions::grade.eq(grade))
        .select((transfer_restrictions::term, transfer_restrictions::note, orgs::name))
        .load(conn)?;
    Ok(rows.into_iter().find(|(t, _, _)| t.is_none() || *t == half).map(|(t, note, org)| {
        let when = match t {
            Some(1) => "第一学期",
            Some(_) => "第二学期",
            None => "全学年",
        };
        format!(
            "{org}规定{}{when}不办理转学{}",
            codes::grade_name(grade),
            if note.is_empty() { String::new() } else { format!("（{note}）") }
        )
    }))
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TermRow {
    pub org_code: String,
    pub org_name: String,
    pub term: String,
    pub label: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub closed: bool,
    /// The caller may close it now (`may_close_term`: the county and above, ended, not yet closed).
    pub closable: bool,
    pub set_by: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RestrictionRow {
    pub id: i64,
    pub org_code: String,
    pub org_name: String,
    pub grade: i32,
    pub grade_name: &'static str,
    pub term: Option<i32>,
    pub note: String,
}

/// Settings that bear on the caller: its own org's, its ancestors' and its subtree's.
pub fn list(conn: &mut DbConn, caller: &Caller) -> AppResult<(Vec<TermRow>, Vec<RestrictionRow>)> {
    caller.require(conn, Permission::ViewStudents, "list_terms")?;
    // Its own org, its ancestors and its subtree.
    let near =
        || orgs::path.like(caller.scope().like_pattern()).or(orgs::path.eq_any(ancestor_paths(caller.org_path())));
    type Stored = (String, String, i32, i32, NaiveDate, NaiveDate, Option<NaiveDateTime>, String);
    let terms: Vec<Stored> = school_terms::table
        .inner_join(orgs::table)
        .filter(near())
        .select((
            orgs::code,
            orgs::name,
            school_terms::school_year,
            school_terms::term,
            school_terms::start_date,
            school_terms::end_date,
            school_terms::closed_at,
            school_terms::set_by,
        ))
        .order((school_terms::school_year.desc(), school_terms::term.desc(), orgs::path.asc()))
        .load(conn)?;
    let restrictions: Vec<(i64, String, String, i32, Option<i32>, String)> = transfer_restrictions::table
        .inner_join(orgs::table)
        .filter(near())
        .select((
            transfer_restrictions::id,
            orgs::code,
            orgs::name,
            transfer_restrictions::grade,
            transfer_restrictions::term,
            transfer_restrictions::note,
        ))
        .order((orgs::path.asc(), transfer_restrictions::grade.asc()))
        .load(conn)?;
    // Closable from where the caller stands: ended, and not closed for the caller's org yet.
    let today = caller.today();
    let mine = terms_for(conn, caller.org_path())?;
    Ok((
        terms
            .into_iter()
            .filter_map(|(org_code, org_name, y, h, start_date, end_date, closed_at, set_by)| {
                let t = Term::new(y, u8::try_from(h).ok()?).ok()?;
                Some(TermRow {
                    org_code,
                    org_name,
                    term: t.to_string(),
                    label: t.label(),
                    start_date,
                    end_date,
                    closed: closed_at.is_some(),
                    closable: mine
                        .iter()
                        .find(|m| m.term == t)
                        .is_some_and(|d| may_close_term(caller, d, today).is_ok()),
                    set_by,
                })
            })
            .collect(),
        restrictions
            .into_iter()
            .map(|(id, org_code, org_name, grade, term, note)| RestrictionRow {
                id,
                org_code,
                org_name,
                grade,
                grade_name: codes::grade_name(grade),
                term,
                note,
            })
            .collect(),
    ))
}

fn own_org(conn: &mut DbConn, caller: &Caller, what: &str) -> AppResult<crate::org::model::Org> {
    caller.require_at_county(conn, Permission::ConfigureRegistry, what)?;
    crate::org::service::org_in_scope(conn, caller.scope(), &caller.org_code)
}

/// Sets (or moves) the caller's own org's dates for a term. Refused once the term is closed.
pub fn set_term(conn: &mut DbConn, caller: &Caller, t: Term, start: NaiveDate, end: NaiveDate) -> AppResult<()> {
    let dates =
        TermDates::new(t, start, end, false).map_err(|m| AppError::field("start_date", ErrorCode::TermDates, m))?;
    let org = own_org(conn, caller, "set_term")?;
    write_tx(conn, |conn| {
        let mut mine = terms_for(conn, &org.path)?;
        if mine.iter().any(|x| x.term == t && x.closed) {
            return Err(AppError::conflict(ErrorCode::TermClosed, format!("{}已关闭，日期不能再改", t.label())));
        }
        mine.retain(|x| x.term != t);
        mine.push(dates.clone());
        term::check_order(&mine).map_err(|m| AppError::field("start_date", ErrorCode::TermOrder, m))?;
        let key = school_terms::table
            .filter(school_terms::org_id.eq(org.id))
            .filter(school_terms::school_year.eq(t.school_year()))
            .filter(school_terms::term.eq(i32::from(t.half())));
        let before: Option<(NaiveDate, NaiveDate)> =
            key.select((school_terms::start_date, school_terms::end_date)).first(conn).optional()?;
        diesel::delete(key).execute(conn)?;
        diesel::insert_into(school_terms::table)
            .values((
                school_terms::org_id.eq(org.id),
                school_terms::school_year.eq(t.school_year()),
                school_terms::term.eq(i32::from(t.half())),
                school_terms::start_date.eq(start),
                school_terms::end_date.eq(end),
                school_terms::set_by.eq(&caller.username),
                school_terms::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("term.set", "org", &org.code)
                .before(&before.map(|(s, e)| serde_json::json!({"start": s, "end": e})))
                .after(&serde_json::json!({"term": t.to_string(), "start": start, "end": end})),
        )
    })
}

/// Whether `caller` may close a term with these dates (as its own org has them) on `today`: the
/// county and above, once the term has ended, and once only (closing again would rewrite who
/// closed it and when).
pub fn may_close_term(caller: &Caller, dates: &TermDates, today: NaiveDate) -> AppResult<()> {
    caller.may_at_county(Permission::ConfigureRegistry)?;
    if dates.closed {
        return Err(AppError::conflict(ErrorCode::TermClosed, format!("{}已关闭", dates.term.label())));
    }
    if dates.end >= today {
        return Err(AppError::conflict(
            ErrorCode::TermNotEnded,
            format!("{}到{}才结束，结束后才能关闭", dates.term.label(), dates.end),
        ));
    }
    Ok(())
}

/// Closes a term for the caller's org and everything under it: no change may take effect in it
/// any more. The term must have dates and have ended.
pub fn close_term(conn: &mut DbConn, caller: &Caller, t: Term) -> AppResult<()> {
    let today = caller.today();
    let org = own_org(conn, caller, "close_term")?;
    write_tx(conn, |conn| {
        let terms = terms_for(conn, &org.path)?;
        let dates = terms.iter().find(|x| x.term == t).ok_or_else(|| {
            AppError::conflict(ErrorCode::TermUnknown, format!("{}尚未设置起止日期，不能关闭", t.label()))
        })?;
        may_close_term(caller, dates, today)?;
        if !diesel::select(diesel::dsl::exists(
            school_terms::table
                .filter(school_terms::org_id.eq(org.id))
                .filter(school_terms::school_year.eq(t.school_year()))
                .filter(school_terms::term.eq(i32::from(t.half()))),
        ))
        .get_result::<bool>(conn)?
        {
            diesel::insert_into(school_terms::table)
                .values((
                    school_terms::org_id.eq(org.id),
                    school_terms::school_year.eq(t.school_year()),
                    school_terms::term.eq(i32::from(t.half())),
                    school_terms::start_date.eq(dates.start),
                    school_terms::end_date.eq(dates.end),
                    school_terms::set_by.eq(&caller.username),
                    school_terms::set_at.eq(caller.now()),
                ))
                .execute(conn)?;
        }
        diesel::update(
            school_terms::table
                .filter(school_terms::org_id.eq(org.id))
                .filter(school_terms::school_year.eq(t.school_year()))
                .filter(school_terms::term.eq(i32::from(t.half()))),
        )
        .set((school_terms::closed_at.eq(caller.now()), school_terms::closed_by.eq(&caller.username)))
        .execute(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("term.close", "org", &org.code).after(&t.to_string()))
    })
}

/// Adds a no-transfer rule for a grade (and optionally one term) to the caller's org.
pub fn add_restriction(conn: &mut DbConn, caller: &Caller, grade: i32, half: Option<u8>, note: &str) -> AppResult<()> {
    if !(1..=12).contains(&grade) {
        return Err(AppError::field("grade", ErrorCode::RestrictionGrade, "年级应为1至12"));
    }
    if half.is_some_and(|h| !(1..=2).contains(&h)) {
        return Err(AppError::field(
            "term",
            ErrorCode::RestrictionTerm,
            "学期应为1（秋季）、2（春季）或留空表示全学年",
        ));
    }
    let org = own_org(conn, caller, "add_transfer_restriction")?;
    let note: String = note.trim().chars().take(100).collect();
    write_tx(conn, |conn| {
        diesel::insert_into(transfer_restrictions::table)
            .values((
                transfer_restrictions::org_id.eq(org.id),
                transfer_restrictions::grade.eq(grade),
                transfer_restrictions::term.eq(half.map(i32::from)),
                transfer_restrictions::note.eq(&note),
                transfer_restrictions::set_by.eq(&caller.username),
                transfer_restrictions::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("transfer_restriction.add", "org", &org.code)
                .after(&serde_json::json!({"grade": grade, "term": half, "note": note})),
        )
    })
}

/// Removes one of the caller's own org's no-transfer rules.
pub fn remove_restriction(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<()> {
    let org = own_org(conn, caller, "remove_transfer_restriction")?;
    write_tx(conn, |conn| {
        let n = diesel::delete(
            transfer_restrictions::table
                .filter(transfer_restrictions::id.eq(id))
                .filter(transfer_restrictions::org_id.eq(org.id)),
        )
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::not_found());
        }
        audit::record(conn, &caller.actor(), Entry::new("transfer_restriction.remove", "org", &org.code).after(&id))
    })
}
