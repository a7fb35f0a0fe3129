//! Submitting a statutory report (SPEC §9): the drawn report frozen as it was (its JSON, the
//! SHA-256 of that JSON, the diff against the org's previous version for the same period), then
//! signed off once by the level above: approved, approved with reservations, or rejected with a
//! reason. Lateness against the due date is kept and shown, never hidden.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::service::{self, Report, Request};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{orgs, report_submissions};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::Span;
use crate::domain::report::{CellChange, Definition, Level, diff, due_date};
use crate::domain::role::{OrgKind, Permission};
pub use crate::domain::submission::{Decision, SubmissionStatus};
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::org::service::org_in_scope;
use crate::programme::config;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = report_submissions)]
struct Row {
    id: i64,
    report: String,
    period: String,
    report_date: NaiveDate,
    version: i32,
    content_hash: String,
    diff: String,
    due_date: NaiveDate,
    submitted_by: String,
    submitted_at: NaiveDateTime,
    #[diesel(deserialize_as = String)]
    status: SubmissionStatus,
    decided_by: Option<String>,
    decided_at: Option<NaiveDateTime>,
    decision_note: String,
}

/// A submission as people read it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Submission {
    pub id: i64,
    pub report: String,
    pub org: String,
    pub org_name: String,
    pub period: String,
    pub report_date: NaiveDate,
    pub version: i32,
    pub content_hash: String,
    pub diff: Vec<CellChange>,
    pub due_date: NaiveDate,
    pub submitted_by: String,
    pub submitted_at: NaiveDateTime,
    /// Submitted after the due date.
    pub late: bool,
    pub status: SubmissionStatus,
    pub status_label: &'static str,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_note: String,
}

fn view(row: &Row, org: &Org) -> Submission {
    Submission {
        id: row.id,
        report: row.report.clone(),
        org: org.code.clone(),
        org_name: org.name.clone(),
        period: row.period.clone(),
        report_date: row.report_date,
        version: row.version,
        content_hash: row.content_hash.clone(),
        diff: serde_json::from_str(&row.diff).unwrap_or_default(),
        due_date: row.due_date,
        submitted_by: row.submitted_by.clone(),
        submitted_at: row.submitted_at,
        late: crate::clock::local(row.submitted_at).date() > row.due_date,
        status: row.status,
        status_label: row.status.label(),
        decided_by: row.decided_by.clone(),
        decided_at: row.decided_at,
        decision_note: row.decision_note.clone(),
    }
}

fn hash(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

fn newest(conn: &mut DbConn, report: &str, org_id: i64, period: &str) -> AppResult<Option<Row>> {
    Ok(report_submissions::table
        .filter(report_submissions::report.eq(report))
        .filter(report_submissions::org_id.eq(org_id))
        .filter(report_submissions::period.eq(period))
        .order(report_submissions::version.desc())
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

/// What a submit did: the submission, and whether it is new (the same figures as the newest
/// version, not rejected, return that version unchanged).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Submitted {
    pub submission: Submission,
    pub created: bool,
}

/// Only an org's own people submit its reports. Decided here for the service and the page.
pub fn may_submit(caller: &Caller, org_code: &str) -> AppResult<()> {
    if !caller.may(Permission::SubmitReports) {
        return Err(AppError::forbidden());
    }
    if org_code.trim() != caller.org_code {
        return Err(AppError::field(
            "org",
            ErrorCode::ReportNotOwn,
            "只能报送本单位的报表，上级单位请审核下级报送的报表",
        ));
    }
    Ok(())
}

/// A submission is signed off once, by an org above the one that sent it. Decided here for the
/// service and the page.
pub fn may_decide(caller: &Caller, s: &Submission) -> AppResult<()> {
    if !caller.may(Permission::ReviewReports) {
        return Err(AppError::forbidden());
    }
    if s.org == caller.org_code {
        return Err(AppError::field("decision", ErrorCode::ReportOwn, "本单位报送的报表由上级单位审核"));
    }
    if s.status != SubmissionStatus::Submitted {
        return Err(AppError::conflict(
            ErrorCode::ReportAlreadyDecided,
            format!("{}第{}版已审核（{}），不能再次审核", s.org_name, s.version, s.status_label),
        ));
    }
    Ok(())
}

/// Freezes the org's report for the period as its next version. Only the org's own people submit.
pub fn submit(conn: &mut DbConn, caller: &Caller, req: &Request) -> AppResult<Submitted> {
    caller.require(conn, Permission::SubmitReports, "submit_report")?;
    may_submit(caller, &req.org)?;
    let report = service::run(conn, caller, req)?;
    let org = org_in_scope(conn, caller.scope(), &report.org)?;
    let content = serde_json::to_string(&report).map_err(AppError::internal)?;
    let content_hash = hash(&content);
    let period = Span::parse(&report.period).map_err(|m| AppError::field("period", ErrorCode::PeriodFormat, m))?;
    let (id, created) = write_tx(conn, |conn| {
        let previous = newest(conn, &report.report, org.id, &report.period)?;
        if let Some(p) = &previous
            && p.content_hash == content_hash
            && p.status != SubmissionStatus::Rejected
        {
            return Ok((p.id, false));
        }
        let changes = match &previous {
            Some(p) => {
                let content: String =
                    report_submissions::table.find(p.id).select(report_submissions::content).first(conn)?;
                let before: Report = serde_json::from_str(&content).map_err(AppError::internal)?;
                let titles: Vec<String> = report.columns.iter().map(|c| c.title.clone()).collect();
                let keyed = report.columns.first().is_some_and(|c| c.key == "school_name");
                diff(&titles, keyed, &before.rows, &report.rows)
            }
            None => Vec::new(),
        };
        let version = previous.as_ref().map_or(1, |p| p.version + 1);
        let id: i64 = diesel::insert_into(report_submissions::table)
            .values((
                report_submissions::report.eq(&report.report),
                report_submissions::org_id.eq(org.id),
                report_submissions::period.eq(&report.period),
                report_submissions::report_date.eq(report.date),
                report_submissions::version.eq(version),
                report_submissions::content.eq(&content),
                report_submissions::content_hash.eq(&content_hash),
                report_submissions::diff.eq(serde_json::to_string(&changes).map_err(AppError::internal)?),
                report_submissions::due_date.eq(due_date(&period)),
                report_submissions::submitted_by.eq(&caller.username),
                report_submissions::submitted_at.eq(caller.now()),
                report_submissions::status.eq(SubmissionStatus::Submitted.as_str()),
                report_submissions::decision_note.eq(""),
            ))
            .returning(report_submissions::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("report.submit", "org", &org.code).after(&serde_json::json!({
                "report": report.report, "period": report.period, "version": version, "hash": content_hash,
                "changes": changes.len(),
            })),
        )?;
        Ok((id, true))
    })?;
    let (submission, _) = get(conn, caller, id)?;
    Ok(Submitted { submission, created })
}

/// A submission in the caller's scope with its frozen report, checked against its hash.
pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(Submission, Report)> {
    caller.require(conn, Permission::ViewReports, "report_submission")?;
    // The frozen content is read here only: lists and the to-do never load it.
    let (row, content, org): (Row, String, Org) = report_submissions::table
        .inner_join(orgs::table)
        .filter(report_submissions::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((Row::as_select(), report_submissions::content, Org::as_select()))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    if hash(&content) != row.content_hash {
        return Err(AppError::conflict(
            ErrorCode::ReportTampered,
            format!("{}第{}版报送内容与其哈希不符，已被改动", org.name, row.version),
        ));
    }
    let report: Report = serde_json::from_str(&content).map_err(AppError::internal)?;
    Ok((view(&row, &org), report))
}

/// Signs off a submission of an org below the caller's, once. Reservations and rejections say why.
pub fn decide(conn: &mut DbConn, caller: &Caller, id: i64, decision: Decision, note: &str) -> AppResult<Submission> {
    caller.require(conn, Permission::ReviewReports, "review_report")?;
    let (s, _) = get(conn, caller, id)?;
    may_decide(caller, &s)?;
    let note = note.trim();
    if decision.needs_reason() && note.is_empty() {
        return Err(AppError::field(
            "note",
            ErrorCode::ReportReasonRequired,
            "退回或有保留通过须写明理由，报送单位据此修改或说明",
        ));
    }
    write_tx(conn, |conn| {
        let changed = diesel::update(
            report_submissions::table
                .filter(report_submissions::id.eq(id))
                .filter(report_submissions::status.eq(SubmissionStatus::Submitted.as_str())),
        )
        .set((
            report_submissions::status.eq(decision.status().as_str()),
            report_submissions::decided_by.eq(Some(&caller.username)),
            report_submissions::decided_at.eq(Some(caller.now())),
            report_submissions::decision_note.eq(note),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(AppError::conflict(
                ErrorCode::ReportAlreadyDecided,
                format!("{}第{}版已审核（{}），不能再次审核", s.org_name, s.version, s.status_label),
            ));
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("report.decide", "org", &s.org).after(&serde_json::json!({
                "report": s.report, "period": s.period, "version": s.version, "decision": decision.status().as_str(), "note": note,
            })),
        )
    })?;
    Ok(get(conn, caller, id)?.0)
}

/// Submissions from orgs under the caller still waiting for a sign-off the caller may give
/// (`may_decide`), oldest first. One query, whatever the level: the to-do list asks it on every
/// home page.
pub fn awaiting(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Submission>> {
    if !caller.may(Permission::ReviewReports) {
        return Ok(Vec::new());
    }
    let rows: Vec<(Row, Org)> = report_submissions::table
        .inner_join(orgs::table)
        .filter(report_submissions::status.eq(SubmissionStatus::Submitted.as_str()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .filter(orgs::code.ne(&caller.org_code))
        .order(report_submissions::submitted_at.asc())
        .select((Row::as_select(), Org::as_select()))
        .load(conn)?;
    Ok(rows.iter().map(|(r, o)| view(r, o)).filter(|s| may_decide(caller, s).is_ok()).collect())
}

/// A report the caller's own org owes, as the report list's first lines show it.
pub struct Due {
    pub report: &'static str,
    pub title: String,
    pub term: Term,
    pub owed: Owed,
    pub may_submit: bool,
}

/// What the caller's own org owes: its report for `term`, and for the term before while that
/// one is still unsettled (never sent, or sent back).
pub fn due(conn: &mut DbConn, caller: &Caller, term: Term) -> AppResult<Vec<Due>> {
    let Some(report) = own_report(caller.org_kind) else { return Ok(Vec::new()) };
    let title = Definition::named(report).map(|d| d.title).unwrap_or_default();
    let mut out = Vec::new();
    for t in [term, term.prev()] {
        let owed = overview(conn, caller, report, &Span::of_term(t))?;
        if let Some(o) = owed.into_iter().find(|o| o.org == caller.org_code) {
            let settled = o.latest.as_ref().is_some_and(|s| s.status != SubmissionStatus::Rejected);
            if t == term || !settled {
                out.push(Due {
                    report,
                    title: title.clone(),
                    term: t,
                    may_submit: may_submit(caller, &o.org).is_ok(),
                    owed: o,
                });
            }
        }
    }
    Ok(out)
}

/// The report a school's or a county's own org owes each term.
pub fn own_report(kind: OrgKind) -> Option<&'static str> {
    match kind {
        OrgKind::School => Some("school-regular"),
        OrgKind::County => Some("county-regular"),
        _ => None,
    }
}

/// One org that owes a report for a period, with its newest submission if any.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Owed {
    pub org: String,
    pub org_name: String,
    pub due_date: NaiveDate,
    pub latest: Option<Submission>,
    /// Not submitted and the due date has passed, or submitted late.
    pub late: bool,
}

/// The orgs under the caller that owe `report` for `period` (programme schools for a school
/// report, counties with programme schools for a county report), late first.
pub fn overview(conn: &mut DbConn, caller: &Caller, report: &str, period: &Span) -> AppResult<Vec<Owed>> {
    caller.require(conn, Permission::ViewReports, "report_overview")?;
    let def = Definition::named(report).map_err(|m| AppError::field("report", ErrorCode::ReportUnknown, m))?;
    let due = due_date(period);
    let on = period.last_day().min(caller.today());
    let schools = config::programme_schools(conn, caller.scope().path(), period.first_day(), on)?;
    let owing: Vec<Org> = match def.level {
        Level::School | Level::Any => schools,
        Level::County => {
            let mut codes: Vec<String> = schools.iter().map(|s| crate::registry::service::county_of(&s.path)).collect();
            codes.sort();
            codes.dedup();
            orgs::table
                .filter(orgs::code.eq_any(codes))
                .filter(orgs::kind.eq(OrgKind::County.as_str()))
                .filter(orgs::path.like(caller.scope().like_pattern()))
                .select(Org::as_select())
                .order(orgs::code.asc())
                .load(conn)?
        }
    };
    let mut out = Vec::with_capacity(owing.len());
    for org in owing {
        let latest = newest(conn, &def.name, org.id, &period.to_string())?.map(|r| view(&r, &org));
        let late = match &latest {
            Some(s) => s.late,
            None => caller.today() > due,
        };
        out.push(Owed { org: org.code.clone(), org_name: org.name.clone(), due_date: due, latest, late });
    }
    out.sort_by_key(|o| (!o.late, o.org.clone()));
    Ok(out)
}

/// Every version an org submitted for a report and period, newest first.
pub fn history(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Vec<Submission>> {
    let (s, _) = get(conn, caller, id)?;
    let org = org_in_scope(conn, caller.scope(), &s.org)?;
    let rows: Vec<Row> = report_submissions::table
        .filter(report_submissions::report.eq(&s.report))
        .filter(report_submissions::org_id.eq(org.id))
        .filter(report_submissions::period.eq(&s.period))
        .order(report_submissions::version.desc())
        .select(Row::as_select())
        .load(conn)?;
    Ok(rows.iter().map(|r| view(r, &org)).collect())
}
