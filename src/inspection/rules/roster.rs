//! Rules about the beneficiary rosters: a child on the roster who was not at school on its
//! snapshot date (A02), a roster not signed or archived in time (A08), beneficiaries growing
//! faster than a school grows (A10), a roster archived without its signed scan (A29).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use rust_decimal::Decimal;

use crate::db::DbConn;
use crate::db::schema::{entitlement_periods, programme_schools, roster_lines, roster_scans, rosters, student_spells};
use crate::domain::anomaly::Rule;
use crate::domain::calendar::Month;
use crate::domain::roster;
use crate::domain::status::State;
use crate::domain::term::Term;
use crate::error::AppResult;
use crate::inspection::scan::{Ctx, Flag, month_label};
use crate::registry::timeline;

/// The terms the period touches (a month lies in one).
fn terms(cx: &Ctx) -> Vec<Term> {
    cx.span
        .keys()
        .into_iter()
        .filter_map(|k| Month::from_key(k).ok())
        .map(|m| Term::of_day(m.first_day()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The newest roster of each scanned school for a term: (id, school, version, snapshot date).
fn newest(conn: &mut DbConn, cx: &Ctx, term: Term) -> AppResult<BTreeMap<i64, (i64, i32, NaiveDate)>> {
    let rows: Vec<(i64, i64, i32, NaiveDate)> = rosters::table
        .filter(rosters::school_id.eq_any(&cx.ids))
        .filter(rosters::school_year.eq(term.school_year()))
        .filter(rosters::term.eq(i32::from(term.half())))
        .select((rosters::id, rosters::school_id, rosters::version, rosters::snapshot_date))
        .load(conn)?;
    let mut out: BTreeMap<i64, (i64, i32, NaiveDate)> = BTreeMap::new();
    for (id, school, version, day) in rows {
        if out.get(&school).is_none_or(|n| n.1 < version) {
            out.insert(school, (id, version, day));
        }
    }
    Ok(out)
}

/// A02: a child on a school's newest roster of the term who was not at school there on the
/// roster's snapshot date (the registry changed back-dated after the roster was built).
pub(in crate::inspection) fn a02_not_at_school_on_snapshot(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let mut out = Vec::new();
    for term in terms(cx) {
        for (school, (roster_id, version, day)) in newest(conn, cx, term)? {
            // The lines without a spell at school there on the day.
            let off: Vec<(i64, String)> = roster_lines::table
                .filter(roster_lines::roster_id.eq(roster_id))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    student_spells::table
                        .filter(student_spells::student_id.eq(roster_lines::student_id))
                        .filter(student_spells::school_id.eq(school))
                        .filter(student_spells::state.eq(State::AtSchool.as_str()))
                        .filter(student_spells::from_date.le(day))
                        .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(day)))
                        .select(student_spells::id),
                )))
                .select((roster_lines::student_id, roster_lines::name))
                .load(conn)?;
            if off.is_empty() {
                continue;
            }
            let lines = timeline::timelines(conn, &off.iter().map(|o| o.0).collect::<Vec<_>>())?;
            for (student, name) in off {
                let state = lines.get(&student).and_then(|t| t.at(day)).map_or("不在籍", |s| {
                    if s.state == State::AtSchool { "在另一所学校" } else { s.state.label() }
                });
                let mut f = cx.flag(
                    Rule::A02,
                    school,
                    format!("{name}在{}花名册第{version}版上，但统计日{day}其状态为“{state}”", term.label()),
                );
                f.student_id = Some(student);
                f.key = term.to_string();
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// A08: a programme school whose roster for the term was not signed by the deadline (15
/// September / 15 March), or not archived by the county within 30 days after it.
pub(in crate::inspection) fn a08_roster_late(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let today = cx.today;
    let mut out = Vec::new();
    for term in terms(cx) {
        let deadline = roster::deadline(term);
        let archive_by = deadline + chrono::Days::new(30);
        let day = roster::default_snapshot(term);
        let members: BTreeSet<i64> = programme_schools::table
            .filter(programme_schools::school_id.eq_any(&cx.ids))
            .filter(programme_schools::from_date.le(day))
            .filter(programme_schools::to_date.is_null().or(programme_schools::to_date.ge(day)))
            .select(programme_schools::school_id)
            .load::<i64>(conn)?
            .into_iter()
            .collect();
        let rows: Vec<(i64, Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>)> = rosters::table
            .filter(rosters::school_id.eq_any(members.iter().copied().collect::<Vec<_>>()))
            .filter(rosters::school_year.eq(term.school_year()))
            .filter(rosters::term.eq(i32::from(term.half())))
            .select((rosters::school_id, rosters::signed_at, rosters::archived_at))
            .load(conn)?;
        // The first signature and the first archiving of any version count.
        let mut first: BTreeMap<i64, (Option<NaiveDate>, Option<NaiveDate>)> = BTreeMap::new();
        for (school, signed, archived) in rows {
            let e = first.entry(school).or_default();
            let local = |t: Option<chrono::NaiveDateTime>| t.map(|t| crate::clock::local(t).date());
            e.0 = [e.0, local(signed)].into_iter().flatten().min();
            e.1 = [e.1, local(archived)].into_iter().flatten().min();
        }
        for school in members {
            let (signed, archived) = first.get(&school).copied().unwrap_or_default();
            let message = if roster::is_late(signed, deadline, today) {
                match signed {
                    Some(d) => format!("{}花名册{d}才签章，晚于{deadline}的截止日", term.label()),
                    None => format!("{}花名册至今未签章（截止日{deadline}）", term.label()),
                }
            } else if roster::is_late(archived, archive_by, today) {
                match archived {
                    Some(d) => format!("{}花名册{d}才备案，晚于{archive_by}", term.label()),
                    None => format!("{}花名册已签章，至今未备案（应于{archive_by}前备案）", term.label()),
                }
            } else {
                continue;
            };
            let mut f = cx.flag(Rule::A08, school, message);
            f.key = term.to_string();
            out.push(f);
        }
    }
    Ok(out)
}

/// A10: the children on a school's entitlement growing by more than the threshold (by default
/// 20 %) from the month before, by at least five children (a small school's one new pupil is no
/// anomaly; the intake after the summer holiday is no month-on-month growth).
pub(in crate::inspection) fn a10_beneficiaries_grow(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let from = Month::of(cx.first).key() - 100;
    let rows: Vec<(i64, i32, i32)> = entitlement_periods::table
        .filter(entitlement_periods::school_id.eq_any(&cx.ids))
        .filter(entitlement_periods::month.between(from, Month::of(cx.last).key()))
        .filter(entitlement_periods::students.gt(0))
        .select((entitlement_periods::school_id, entitlement_periods::month, entitlement_periods::students))
        .order((entitlement_periods::school_id.asc(), entitlement_periods::month.asc()))
        .load(conn)?;
    let keys = cx.span.keys();
    let mut out = Vec::new();
    for w in rows.windows(2) {
        let ((school, before_m, before), (same, month, now)) = (w[0], w[1]);
        // Month on month only: September's intake after the summer is the school year turning.
        let consecutive = Month::from_key(month).is_ok_and(|m| m.prev().key() == before_m);
        if school != same || !consecutive || !keys.contains(&month) || now - before < 5 {
            continue;
        }
        let growth = Decimal::from(now - before) * Decimal::ONE_HUNDRED / Decimal::from(before);
        let limit = cx.threshold(Rule::A10, school);
        if growth <= limit {
            continue;
        }
        let mut f = cx.flag(
            Rule::A10,
            school,
            format!(
                "{}受益学生{now}人，比{}的{before}人增长{}%（阈值{}%）",
                month_label(month),
                month_label(before_m),
                growth.round_dp(1).normalize(),
                limit.normalize()
            ),
        );
        f.month = Some(month_label(month));
        out.push(f);
    }
    Ok(out)
}

/// A29: the version a county archived (its newest 备案 of the term) without the guardians'
/// signed scan, or with fewer scanned pages than the roster prints on (a page of signatures
/// missing). 备案 now needs a scan; this finds what was archived before, or migrated in.
pub(in crate::inspection) fn a29_archived_without_scan(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let mut out = Vec::new();
    for term in terms(cx) {
        let rows: Vec<(i64, i64, i32)> = rosters::table
            .filter(rosters::school_id.eq_any(&cx.ids))
            .filter(rosters::school_year.eq(term.school_year()))
            .filter(rosters::term.eq(i32::from(term.half())))
            .filter(rosters::status.eq(roster::Status::Archived.as_str()))
            .select((rosters::id, rosters::school_id, rosters::version))
            .load(conn)?;
        let mut archived: BTreeMap<i64, (i64, i32)> = BTreeMap::new();
        for (id, school, version) in rows {
            if archived.get(&school).is_none_or(|a| a.1 < version) {
                archived.insert(school, (id, version));
            }
        }
        let ids: Vec<i64> = archived.values().map(|a| a.0).collect();
        // The newest scan of each: ascending ids, the last one written wins.
        let mut scans: BTreeMap<i64, (i32, i32)> = BTreeMap::new();
        for (roster_id, pages, printed) in roster_scans::table
            .filter(roster_scans::roster_id.eq_any(&ids))
            .order(roster_scans::id.asc())
            .select((roster_scans::roster_id, roster_scans::pages, roster_scans::printed_pages))
            .load::<(i64, i32, i32)>(conn)?
        {
            scans.insert(roster_id, (pages, printed));
        }
        for (school, (id, version)) in archived {
            let message = match scans.get(&id) {
                None => format!("{}花名册第{version}版已备案，但没有监护人签字扫描件", term.label()),
                Some(&(pages, printed)) if pages < printed => {
                    format!("{}花名册第{version}版已备案，签字扫描件{pages}页，少于打印的{printed}页", term.label())
                }
                Some(_) => continue,
            };
            let mut f = cx.flag(Rule::A29, school, message);
            f.key = term.to_string();
            out.push(f);
        }
    }
    Ok(out)
}
