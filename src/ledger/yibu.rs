//! 一补 (boarders' living allowance) per school and semester (SPEC §7): every confirmed child
//! flagged 是否享受一补, in grades 1–9, gets the semester amount (the daily rate × 125 days) ×
//! the semester's meal days it was at the school ÷ the semester's meal days, rounded per child.
//! Boarders (住校) take the boarder rate, day pupils the non-boarder rate where one is set. An open
//! semester is recomputed in place; a closed one is never edited: a late change becomes
//! adjustment lines in the school's next open semester.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::entitlement::{PeriodActions, may_close, school_of};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{orgs, student_spells, students, subsidy_standards, yibu_lines, yibu_periods};
use crate::db::{DbConn, write_tx};
use crate::domain::entitlement::{LineKind, PeriodStatus, Stay, days_present, yibu_semester_amount, yibu_share};
use crate::domain::money::Fen;
use crate::domain::programme::{StandardKind, is_compulsory_grade};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::status::State;
use crate::domain::student::Review;
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::{Org, ancestor_paths};
use crate::org::service::org_in_scope;
use crate::programme::{calendar, roster};
use crate::registry::service::county_of;
use crate::registry::terms::terms_for;

/// One child's 一补 for a semester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub student_id: i64,
    pub rate_kind: &'static str,
    pub days: usize,
    pub amount: Fen,
}

/// The daily rate of a kind for a school on a day: the nearest org's row on its path, else the
/// national one.
fn rate(conn: &mut DbConn, path: &str, kind: StandardKind, day: NaiveDate) -> AppResult<Option<Fen>> {
    let rows: Vec<(Option<String>, i64)> = subsidy_standards::table
        .left_join(orgs::table.on(orgs::id.nullable().eq(subsidy_standards::org_id)))
        .filter(subsidy_standards::kind.eq(kind.as_str()))
        .filter(subsidy_standards::from_date.le(day))
        .filter(subsidy_standards::to_date.is_null().or(subsidy_standards::to_date.ge(day)))
        .select((orgs::path.nullable(), subsidy_standards::amount_fen))
        .load(conn)?;
    let paths = ancestor_paths(path);
    Ok(rows
        .into_iter()
        .filter(|(p, _)| p.as_ref().is_none_or(|p| paths.contains(p)))
        .max_by_key(|(p, _)| p.as_ref().map_or(0, String::len))
        .map(|(_, f)| Fen::new(f)))
}

/// A school's semester meal days and what each eligible child is owed, from the registry now.
pub fn lines_for(conn: &mut DbConn, school: &Org, term: Term) -> AppResult<(usize, Vec<Line>)> {
    let Some(dates) = terms_for(conn, &school.path)?.into_iter().find(|t| t.term == term) else {
        return Err(AppError::invalid(
            ErrorCode::YibuNoTerm,
            format!("{}尚未设置{}的起止日期", school.name, term.label()),
        ));
    };
    let meal_days = calendar::meal_days(conn, &school.path, dates.start, dates.end)?;
    if meal_days.is_empty() {
        return Ok((0, Vec::new()));
    }
    let grades = roster::classes_on(conn, school, dates.start)?;
    type Row = (i64, Option<i64>, NaiveDate, Option<NaiveDate>, String);
    let rows: Vec<Row> = student_spells::table
        .inner_join(students::table)
        .filter(student_spells::school_id.eq(school.id))
        .filter(student_spells::state.eq(State::AtSchool.as_str()))
        .filter(student_spells::from_date.le(dates.end))
        .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(dates.start)))
        .filter(students::review.eq(Review::Confirmed.as_str()))
        .filter(students::yibu.eq(true))
        .select((
            student_spells::student_id,
            student_spells::class_id,
            student_spells::from_date,
            student_spells::to_date,
            students::attendance,
        ))
        .order((student_spells::student_id.asc(), student_spells::from_date.asc()))
        .load(conn)?;
    let mut kinds: BTreeMap<i64, StandardKind> = BTreeMap::new();
    let mut stays: BTreeMap<i64, Vec<Stay>> = BTreeMap::new();
    for (student, class, from, until, attendance) in rows {
        let Some(grade) = class.and_then(|c| grades.get(&c)).map(|(_, _, g)| *g).filter(|g| is_compulsory_grade(*g))
        else {
            continue;
        };
        let boarder = attendance == "2";
        let kind = match (grade <= 6, boarder) {
            (true, true) => StandardKind::YibuPrimary,
            (false, true) => StandardKind::YibuJunior,
            (true, false) => StandardKind::YibuPrimaryDay,
            (false, false) => StandardKind::YibuJuniorDay,
        };
        kinds.insert(student, kind);
        stays.entry(student).or_default().push(Stay { from, until });
    }
    let mut rates: BTreeMap<&'static str, Option<Fen>> = BTreeMap::new();
    let mut lines = Vec::new();
    for (student_id, stays) in stays {
        let Some(kind) = kinds.get(&student_id).copied() else { continue };
        let rate = match rates.get(kind.as_str()) {
            Some(r) => *r,
            None => {
                let r = rate(conn, &school.path, kind, dates.start)?;
                rates.insert(kind.as_str(), r);
                r
            }
        };
        let Some(rate) = rate else { continue };
        let days = days_present(&stays, &meal_days).len();
        let amount = yibu_share(yibu_semester_amount(rate), days, meal_days.len());
        if amount.fen() != 0 {
            lines.push(Line { student_id, rate_kind: kind.as_str(), days, amount });
        }
    }
    Ok((meal_days.len(), lines))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = yibu_periods)]
struct PeriodRow {
    id: i64,
    term: String,
    #[diesel(deserialize_as = String)]
    status: PeriodStatus,
    term_days: i32,
    students: i32,
    amount_fen: i64,
    adjustment_fen: i64,
    computed_at: NaiveDateTime,
}

/// A school's semester as people read it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "YibuPeriod")]
pub struct Period {
    pub school: String,
    pub name: String,
    pub term: String,
    pub closed: bool,
    pub term_days: i32,
    pub students: i32,
    pub amount: Fen,
    pub adjustment: Fen,
    pub computed_at: NaiveDateTime,
    pub actions: PeriodActions,
}

fn view(r: PeriodRow, school: &Org, caller: &Caller) -> Period {
    let closed = r.status == PeriodStatus::Closed;
    Period {
        actions: PeriodActions { close: may_close(caller, closed, "").is_ok() },
        school: school.code.clone(),
        name: school.name.clone(),
        term: r.term,
        closed: r.status == PeriodStatus::Closed,
        term_days: r.term_days,
        students: r.students,
        amount: Fen::new(r.amount_fen),
        adjustment: Fen::new(r.adjustment_fen),
        computed_at: r.computed_at,
    }
}

fn period_row(conn: &mut DbConn, school_id: i64, term: Term) -> AppResult<Option<PeriodRow>> {
    Ok(yibu_periods::table
        .filter(yibu_periods::school_id.eq(school_id))
        .filter(yibu_periods::term.eq(term.to_string()))
        .select(PeriodRow::as_select())
        .first(conn)
        .optional()?)
}

fn open_period(conn: &mut DbConn, caller: &Caller, school: &Org, term: Term) -> AppResult<i64> {
    if let Some(p) = period_row(conn, school.id, term)? {
        return Ok(p.id);
    }
    Ok(diesel::insert_into(yibu_periods::table)
        .values((
            yibu_periods::school_id.eq(school.id),
            yibu_periods::county_code.eq(county_of(&school.path)),
            yibu_periods::term.eq(term.to_string()),
            yibu_periods::status.eq(PeriodStatus::Open.as_str()),
            yibu_periods::term_days.eq(0),
            yibu_periods::students.eq(0),
            yibu_periods::amount_fen.eq(0i64),
            yibu_periods::adjustment_fen.eq(0i64),
            yibu_periods::computed_by.eq(&caller.username),
            yibu_periods::computed_at.eq(caller.now()),
        ))
        .returning(yibu_periods::id)
        .get_result(conn)?)
}

fn insert_lines(
    conn: &mut DbConn,
    period: i64,
    kind: LineKind,
    term: Term,
    term_days: usize,
    lines: &[Line],
) -> AppResult<()> {
    let n = |v: usize| i32::try_from(v).unwrap_or(i32::MAX);
    for chunk in lines.chunks(2_000) {
        let values: Vec<_> = chunk
            .iter()
            .map(|l| {
                (
                    yibu_lines::period_id.eq(period),
                    yibu_lines::student_id.eq(l.student_id),
                    yibu_lines::kind.eq(kind.as_str()),
                    yibu_lines::for_term.eq(term.to_string()),
                    yibu_lines::rate_kind.eq(l.rate_kind),
                    yibu_lines::days.eq(n(l.days)),
                    yibu_lines::term_days.eq(n(term_days)),
                    yibu_lines::amount_fen.eq(l.amount.fen()),
                )
            })
            .collect();
        crate::per_backend!(conn, |c| diesel::insert_into(yibu_lines::table).values(&values).execute(c))?;
    }
    Ok(())
}

/// Totals are always the sums of the lines.
fn retotal(conn: &mut DbConn, period: i64, term_days: Option<usize>, at: NaiveDateTime) -> AppResult<()> {
    let lines: Vec<(String, i64)> = yibu_lines::table
        .filter(yibu_lines::period_id.eq(period))
        .select((yibu_lines::kind, yibu_lines::amount_fen))
        .load(conn)?;
    let base: Vec<i64> = lines.iter().filter(|l| l.0 == LineKind::Base.as_str()).map(|l| l.1).collect();
    let adjustment: i64 = lines.iter().filter(|l| l.0 == LineKind::Adjustment.as_str()).map(|l| l.1).sum();
    diesel::update(yibu_periods::table.find(period))
        .set((
            yibu_periods::students.eq(i32::try_from(base.len()).unwrap_or(i32::MAX)),
            yibu_periods::amount_fen.eq(base.iter().sum::<i64>()),
            yibu_periods::adjustment_fen.eq(adjustment),
            yibu_periods::computed_at.eq(at),
        ))
        .execute(conn)?;
    if let Some(d) = term_days {
        diesel::update(yibu_periods::table.find(period))
            .set(yibu_periods::term_days.eq(i32::try_from(d).unwrap_or(i32::MAX)))
            .execute(conn)?;
    }
    Ok(())
}

fn next_term(t: Term) -> AppResult<Term> {
    let (y, h) = if t.half() == 1 { (t.school_year(), 2) } else { (t.school_year() + 1, 1) };
    Term::new(y, h).map_err(|m| AppError::invalid(ErrorCode::TermFormat, m))
}

/// Computes a school's semester (see the module note).
pub fn compute(conn: &mut DbConn, caller: &Caller, school_code: &str, term: Term) -> AppResult<Period> {
    super::entitlement::require_compute(conn, caller, "compute_yibu")?;
    let school = school_of(conn, caller, school_code)?;
    let id = compute_school(conn, caller, &school, term)?;
    let row = yibu_periods::table.find(id).select(PeriodRow::as_select()).first(conn)?;
    Ok(view(row, &school, caller))
}

/// The semesters computed for a school, oldest first.
pub(crate) fn computed_terms(conn: &mut DbConn, school_id: i64) -> AppResult<Vec<Term>> {
    let terms: Vec<String> =
        yibu_periods::table.filter(yibu_periods::school_id.eq(school_id)).select(yibu_periods::term).load(conn)?;
    let mut terms: Vec<Term> = terms.iter().filter_map(|t| Term::parse(t).ok()).collect();
    terms.sort();
    Ok(terms)
}

/// [`compute`] for a school already checked (or a decision's own recomputation).
pub(crate) fn compute_school(conn: &mut DbConn, caller: &Caller, school: &Org, term: Term) -> AppResult<i64> {
    let school = school.clone();
    let (term_days, lines) = lines_for(conn, &school, term)?;
    let id = write_tx(conn, |conn| match period_row(conn, school.id, term)? {
        Some(p) if p.status == PeriodStatus::Closed => {
            let booked: Vec<(i64, i64)> = yibu_lines::table
                .inner_join(yibu_periods::table)
                .filter(yibu_periods::school_id.eq(school.id))
                .filter(yibu_lines::for_term.eq(term.to_string()))
                .select((yibu_lines::student_id, yibu_lines::amount_fen))
                .load(conn)?;
            let mut paid: BTreeMap<i64, i64> = BTreeMap::new();
            for (s, a) in booked {
                *paid.entry(s).or_default() += a;
            }
            let due: BTreeMap<i64, &Line> = lines.iter().map(|l| (l.student_id, l)).collect();
            let mut ids: Vec<i64> = paid.keys().chain(due.keys()).copied().collect();
            ids.sort_unstable();
            ids.dedup();
            let adjustments: Vec<Line> = ids
                .into_iter()
                .filter_map(|s| {
                    let now_due = due.get(&s).map_or(0, |l| l.amount.fen());
                    let diff = now_due - paid.get(&s).copied().unwrap_or(0);
                    (diff != 0).then(|| Line {
                        student_id: s,
                        rate_kind: due.get(&s).map_or("", |l| l.rate_kind),
                        days: due.get(&s).map_or(0, |l| l.days),
                        amount: Fen::new(diff),
                    })
                })
                .collect();
            if adjustments.is_empty() {
                return Ok(p.id);
            }
            let mut target = next_term(term)?;
            while period_row(conn, school.id, target)?.is_some_and(|t| t.status == PeriodStatus::Closed) {
                target = next_term(target)?;
            }
            let into = open_period(conn, caller, &school, target)?;
            insert_lines(conn, into, LineKind::Adjustment, term, term_days, &adjustments)?;
            retotal(conn, into, None, caller.now())?;
            audit::record(
                conn,
                &caller.actor(),
                Entry::new("yibu.adjust", "school", &school.code).after(&serde_json::json!({
                    "term": term.to_string(), "booked_in": target.to_string(), "students": adjustments.len(),
                })),
            )?;
            Ok(p.id)
        }
        _ => {
            let id = open_period(conn, caller, &school, term)?;
            diesel::delete(
                yibu_lines::table
                    .filter(yibu_lines::period_id.eq(id))
                    .filter(yibu_lines::kind.eq(LineKind::Base.as_str())),
            )
            .execute(conn)?;
            insert_lines(conn, id, LineKind::Base, term, term_days, &lines)?;
            retotal(conn, id, Some(term_days), caller.now())?;
            audit::record(
                conn,
                &caller.actor(),
                Entry::new("yibu.compute", "school", &school.code).after(&serde_json::json!({
                    "term": term.to_string(), "students": lines.len(),
                    "amount": Fen::new(lines.iter().map(|l| l.amount.fen()).sum()).to_string(),
                })),
            )?;
            Ok(id)
        }
    })?;
    Ok(id)
}

/// Closes a school's semester: from now on it is never edited.
pub fn close(conn: &mut DbConn, caller: &Caller, school_code: &str, term: Term) -> AppResult<Period> {
    super::entitlement::require_compute(conn, caller, "close_yibu")?;
    let school = school_of(conn, caller, school_code)?;
    let p = period_row(conn, school.id, term)?.ok_or_else(|| {
        AppError::invalid(ErrorCode::EntitlementNotComputed, format!("{}{}一补尚未计算", school.name, term.label()))
    })?;
    may_close(caller, p.status == PeriodStatus::Closed, &format!("{}{}一补", school.name, term.label()))?;
    write_tx(conn, |conn| {
        diesel::update(yibu_periods::table.find(p.id))
            .set((
                yibu_periods::status.eq(PeriodStatus::Closed.as_str()),
                yibu_periods::closed_by.eq(Some(&caller.username)),
                yibu_periods::closed_at.eq(Some(caller.now())),
            ))
            .execute(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("yibu.close", "school", &school.code).after(&term.to_string()))
    })?;
    let row = yibu_periods::table.find(p.id).select(PeriodRow::as_select()).first(conn)?;
    Ok(view(row, &school, caller))
}

/// Computes a semester for every school under an org (a county), in code order.
pub fn compute_all(conn: &mut DbConn, caller: &Caller, org_code: &str, term: Term) -> AppResult<Vec<Period>> {
    super::entitlement::require_compute(conn, caller, "compute_yibu")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let schools: Vec<String> = orgs::table
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .filter(orgs::path.like(format!("{}%", org.path)))
        .select(orgs::code)
        .order(orgs::code.asc())
        .load(conn)?;
    schools.iter().map(|code| compute(conn, caller, code, term)).collect()
}

/// A child's line, for drilling down.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "YibuLine")]
pub struct LineView {
    pub student_no: String,
    pub name: String,
    pub kind: LineKind,
    pub for_term: String,
    pub rate_kind: String,
    pub days: i32,
    pub term_days: i32,
    pub amount: Fen,
}

/// A computed semester with its lines, in the caller's scope.
pub fn get(conn: &mut DbConn, caller: &Caller, school_code: &str, term: Term) -> AppResult<(Period, Vec<LineView>)> {
    caller.require(conn, Permission::ViewStudents, "view_yibu")?;
    let school = school_of(conn, caller, school_code)?;
    let row = period_row(conn, school.id, term)?.ok_or_else(|| {
        AppError::invalid(ErrorCode::EntitlementNotComputed, format!("{}{}一补尚未计算", school.name, term.label()))
    })?;
    type Row = (String, String, String, String, String, i32, i32, i64);
    let lines: Vec<Row> = yibu_lines::table
        .inner_join(students::table)
        .filter(yibu_lines::period_id.eq(row.id))
        .select((
            students::student_no_sealed,
            students::name,
            yibu_lines::kind,
            yibu_lines::for_term,
            yibu_lines::rate_kind,
            yibu_lines::days,
            yibu_lines::term_days,
            yibu_lines::amount_fen,
        ))
        .load(conn)?;
    // In kind and number order (sorted here: the numbers are sealed in the database).
    let mut lines = lines
        .into_iter()
        .map(|(no, name, kind, for_term, rate_kind, days, term_days, fen)| {
            Ok((crate::db::at_rest::student_no(&no)?, name, kind, for_term, rate_kind, days, term_days, fen))
        })
        .collect::<AppResult<Vec<Row>>>()?;
    lines.sort_by(|a, b| (&a.2, &a.0).cmp(&(&b.2, &b.0)));
    let lines = lines
        .into_iter()
        .map(|(student_no, name, kind, for_term, rate_kind, days, term_days, fen)| {
            Ok(LineView {
                student_no: crate::domain::mask::student_no(&student_no),
                name,
                kind: crate::error::stored::<LineKind>(kind)?,
                for_term,
                rate_kind: StandardKind::parse(&rate_kind).map(|k| k.label().to_owned()).unwrap_or(rate_kind),
                days,
                term_days,
                amount: Fen::new(fen),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok((view(row, &school, caller), lines))
}

/// The computed semesters of every school in the caller's scope, in code order.
pub fn periods(conn: &mut DbConn, caller: &Caller, term: Term) -> AppResult<Vec<Period>> {
    caller.require(conn, Permission::ViewStudents, "list_yibu")?;
    let rows: Vec<(PeriodRow, Org)> = yibu_periods::table
        .inner_join(orgs::table)
        .filter(yibu_periods::term.eq(term.to_string()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((PeriodRow::as_select(), Org::as_select()))
        .order(orgs::code.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(|(r, o)| view(r, &o, caller)).collect())
}
