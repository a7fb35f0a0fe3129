//! The risk list: a county's schools ranked by a score built from their open flags (weighted by
//! severity), the money those flags put at stake, reports handed in late, and findings recorded in
//! earlier terms, each score explained in words. It weights risk sampling, and rolls up above a
//! county by listing every county's schools together.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::flags;
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{findings, report_submissions};
use crate::domain::anomaly::Severity;
use crate::domain::calendar::Span;
use crate::domain::money::Fen;
use crate::domain::role::Permission;
use crate::domain::term::Term;
use crate::error::AppResult;
use crate::org::model::Org;
use crate::org::service::org_in_scope;
use crate::programme::config;

/// One school's risk for a term.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SchoolRisk {
    pub school: String,
    pub school_name: String,
    /// 0 to 1: points ÷ (points + 10), two decimals.
    pub risk: f64,
    pub points: f64,
    pub open_flags: usize,
    pub at_stake: Fen,
    pub late_reports: usize,
    pub past_findings: usize,
    /// Why, in words.
    pub reasons: Vec<String>,
}

/// A school's open flags added up.
#[derive(Debug, Clone, Default)]
struct Tally {
    flags: usize,
    points: f64,
    fen: i64,
    rules: BTreeMap<String, usize>,
}

fn weight(s: Severity) -> f64 {
    match s {
        Severity::Review => 1.0,
        Severity::Warn => 3.0,
        Severity::Block => 8.0,
    }
}

/// The programme schools of an org for a term, ranked by risk, highest first.
pub fn ranked(conn: &mut DbConn, caller: &Caller, org_code: &str, term: Term) -> AppResult<(Org, Vec<SchoolRisk>)> {
    caller.require(conn, Permission::ViewAnomalies, "risk_list")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let span = Span::of_term(term);
    let schools = config::programme_schools(conn, &org.path, span.first_day(), span.last_day())?;
    let (_, open) = flags::list(conn, caller, &org.code, term, true)?;
    let mut by: BTreeMap<&str, Tally> = BTreeMap::new();
    for f in &open {
        let e = by.entry(f.school.as_str()).or_default();
        e.flags += 1;
        e.points += weight(f.severity);
        e.fen += f.amount.as_deref().and_then(|a| Fen::parse_yuan(a).ok()).map_or(0, Fen::fen);
        *e.rules.entry(f.rule.clone()).or_default() += 1;
    }
    let ids: Vec<i64> = schools.iter().map(|s| s.id).collect();
    let reports: Vec<(i64, NaiveDate, chrono::NaiveDateTime)> = report_submissions::table
        .filter(report_submissions::org_id.eq_any(&ids))
        .filter(report_submissions::report_date.between(span.first_day(), span.last_day()))
        .select((report_submissions::org_id, report_submissions::due_date, report_submissions::submitted_at))
        .load(conn)?;
    let mut late: BTreeMap<i64, usize> = BTreeMap::new();
    for (school, due, at) in reports {
        if crate::clock::local(at).date() > due {
            *late.entry(school).or_default() += 1;
        }
    }
    // Findings of earlier terms: a school found wanting before is visited again sooner.
    let mut past: BTreeMap<i64, usize> = BTreeMap::new();
    for school in findings::table
        .filter(findings::school_id.eq_any(&ids))
        .filter(findings::term.lt(term.to_string()))
        .select(findings::school_id)
        .load::<i64>(conn)?
    {
        *past.entry(school).or_default() += 1;
    }
    let mut out: Vec<SchoolRisk> = schools
        .iter()
        .map(|s| {
            let Tally { flags: n, points: flag_points, fen, rules } =
                by.get(s.code.as_str()).cloned().unwrap_or_default();
            let late_reports = late.get(&s.id).copied().unwrap_or(0);
            let money_points = 2.0 * (1.0 + fen as f64 / 10_000.0).ln();
            let past_findings = past.get(&s.id).copied().unwrap_or(0);
            let points = flag_points + money_points + 2.0 * late_reports as f64 + 5.0 * past_findings as f64;
            let mut reasons = Vec::new();
            if n > 0 {
                let list: Vec<String> = rules.iter().map(|(r, k)| format!("{r}×{k}")).collect();
                reasons.push(format!("未处理预警{n}条（{}），计{flag_points}分", list.join("、")));
            }
            if fen > 0 {
                reasons.push(format!("涉及金额{}元，计{:.1}分", Fen::new(fen), money_points));
            }
            if late_reports > 0 {
                reasons.push(format!("报表逾期{late_reports}次，计{}分", 2 * late_reports));
            }
            if past_findings > 0 {
                reasons.push(format!("往期督查问题{past_findings}个，计{}分", 5 * past_findings));
            }
            if reasons.is_empty() {
                reasons.push("本学期没有未处理的预警".into());
            }
            SchoolRisk {
                school: s.code.clone(),
                school_name: s.name.clone(),
                risk: (points / (points + 10.0) * 100.0).round() / 100.0,
                points: (points * 10.0).round() / 10.0,
                open_flags: n,
                at_stake: Fen::new(fen),
                late_reports,
                past_findings,
                reasons,
            }
        })
        .collect();
    out.sort_by(|a, b| b.points.total_cmp(&a.points).then(a.school.cmp(&b.school)));
    Ok((org, out))
}
