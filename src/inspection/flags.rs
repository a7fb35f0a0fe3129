//! Stored flags: a county's term scanned and kept, so that the school can answer each flag, the
//! county decide it and an inspector dismiss it or take it up. A rescan finds each flag again by
//! its fingerprint; one it no longer finds (the data was corrected) closes itself, and every step
//! stays in the flag's history.
//!
//! A county's term is rescanned on demand, and before it is read whenever anything was written
//! since its last scan (every change writes an audit row, so the audit log's newest id says).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::scan;
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{anomaly_flag_events, anomaly_flags, anomaly_scans, audit_log, orgs, students};
use crate::db::{DbConn, write_tx};
use crate::domain::anomaly::{FlagAction, FlagState, Rule, Severity};
use crate::domain::calendar::{Month, Span};
use crate::domain::money::Fen;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::org::service::org_in_scope;

/// What a rescan changed.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Refreshed {
    pub raised: usize,
    pub closed: usize,
    pub recurred: usize,
    pub held: usize,
}

fn newest_audit_id(conn: &mut DbConn) -> AppResult<i64> {
    Ok(audit_log::table.select(diesel::dsl::max(audit_log::id)).first::<Option<i64>>(conn)?.unwrap_or(0))
}

/// The county a caller may rescan for `org`: the org as asked, and its county. A scan is started
/// by a county-level user (or above) who sees the flags.
pub fn county_to_refresh(conn: &mut DbConn, caller: &Caller, org: &str) -> AppResult<(String, Org)> {
    caller.require(conn, Permission::ViewAnomalies, "anomaly_refresh")?;
    let org = org_in_scope(conn, caller.scope(), org)?;
    let code = crate::registry::service::county_of(&org.path);
    let county = org_in_scope(conn, caller.scope(), &code).map_err(|_| {
        AppError::field("org", ErrorCode::AnomalyRefreshLevel, "重新扫描按县进行，由县级或以上用户发起")
    })?;
    Ok((org.code, county))
}

/// Scans a county's term and stores what it found (the command line's own authority: a scan is
/// the system's act, whoever asked for it, and it reads every rule's data).
pub fn refresh(conn: &mut DbConn, county: &Org, term: Term) -> AppResult<Refreshed> {
    let system = Caller::cli(conn)?;
    let span = Span::of_term(term);
    let found = scan::scan(conn, &system, &county.code, &span, &[])?;
    let ran: Vec<&str> = found.rules.clone();
    let term_key = term.to_string();
    let at = system.now();
    write_tx(conn, |conn| {
        let stored: Vec<(i64, String, String, String)> = anomaly_flags::table
            .filter(anomaly_flags::term.eq(&term_key))
            .filter(anomaly_flags::org_path.like(format!("{}%", county.path)))
            .select((anomaly_flags::id, anomaly_flags::fingerprint, anomaly_flags::state, anomaly_flags::rule))
            .load(conn)?;
        let by_print: BTreeMap<&str, (i64, FlagState)> = stored
            .iter()
            .map(|(id, print, state, _)| (print.as_str(), (*id, FlagState::parse(state).unwrap_or(FlagState::Open))))
            .collect();
        let paths: BTreeMap<i64, String> = orgs::table
            .filter(orgs::path.like(format!("{}%", county.path)))
            .select((orgs::id, orgs::path))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
        let mut out = Refreshed::default();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for f in &found.flags {
            let print = f.fingerprint();
            if !seen.insert(print.clone()) {
                continue;
            }
            let amount = f.amount.as_deref().and_then(|a| Fen::parse_yuan(a).ok()).map(Fen::fen);
            match by_print.get(print.as_str()) {
                None => {
                    let id: i64 = diesel::insert_into(anomaly_flags::table)
                        .values((
                            anomaly_flags::term.eq(&term_key),
                            anomaly_flags::fingerprint.eq(&print),
                            anomaly_flags::rule.eq(f.rule),
                            anomaly_flags::org_id.eq(f.org_id),
                            anomaly_flags::org_path.eq(paths.get(&f.org_id).cloned().unwrap_or_default()),
                            anomaly_flags::student_id.eq(f.student_id),
                            anomaly_flags::month.eq(f
                                .month
                                .as_deref()
                                .and_then(|m| Month::parse(m).ok())
                                .map(Month::key)),
                            anomaly_flags::severity.eq(f.severity.as_str()),
                            anomaly_flags::amount_fen.eq(amount),
                            anomaly_flags::message.eq(&f.message),
                            anomaly_flags::state.eq(FlagState::Open.as_str()),
                            anomaly_flags::holds.eq(true),
                            anomaly_flags::first_seen_at.eq(at),
                            anomaly_flags::last_seen_at.eq(at),
                        ))
                        .returning(anomaly_flags::id)
                        .get_result(conn)?;
                    event(conn, id, "扫描", at, None, FlagState::Open, &f.message)?;
                    out.raised += 1;
                }
                Some((id, state)) => {
                    let next = if *state == FlagState::Closed {
                        out.recurred += 1;
                        event(conn, *id, "扫描", at, Some(*state), FlagState::Open, "数据再次触发本规则")?;
                        FlagState::Open
                    } else {
                        out.held += 1;
                        *state
                    };
                    diesel::update(anomaly_flags::table.find(id))
                        .set((
                            anomaly_flags::severity.eq(f.severity.as_str()),
                            anomaly_flags::amount_fen.eq(amount),
                            anomaly_flags::message.eq(&f.message),
                            anomaly_flags::state.eq(next.as_str()),
                            anomaly_flags::holds.eq(true),
                            anomaly_flags::last_seen_at.eq(at),
                        ))
                        .execute(conn)?;
                }
            }
        }
        // What the rules that ran no longer find: closed where people have not decided it.
        for (id, print, state, rule) in &stored {
            if seen.contains(print) || !ran.contains(&rule.as_str()) {
                continue;
            }
            let state = FlagState::parse(state).unwrap_or(FlagState::Open);
            diesel::update(anomaly_flags::table.find(id)).set(anomaly_flags::holds.eq(false)).execute(conn)?;
            if let Ok(next) = state.after(FlagAction::Clear) {
                diesel::update(anomaly_flags::table.find(id))
                    .set(anomaly_flags::state.eq(next.as_str()))
                    .execute(conn)?;
                event(conn, *id, "扫描", at, Some(state), next, "数据已更正，规则不再成立，自动消除")?;
                out.closed += 1;
            }
        }
        audit::record(
            conn,
            &system.actor(),
            Entry::new("anomaly.refresh", "county", &county.code)
                .after(&serde_json::json!({"term": term_key, "result": out, "flags": found.flags.len()})),
        )?;
        let audit_id = newest_audit_id(conn)?;
        diesel::delete(
            anomaly_scans::table.filter(anomaly_scans::org_id.eq(county.id)).filter(anomaly_scans::term.eq(&term_key)),
        )
        .execute(conn)?;
        diesel::insert_into(anomaly_scans::table)
            .values((
                anomaly_scans::org_id.eq(county.id),
                anomaly_scans::term.eq(&term_key),
                anomaly_scans::audit_id.eq(audit_id),
                anomaly_scans::flags.eq(i32::try_from(found.flags.len()).unwrap_or(i32::MAX)),
                anomaly_scans::scanned_at.eq(at),
            ))
            .execute(conn)?;
        Ok(out)
    })
}

/// Rescans a county's term when anything was written since its last scan (or it never was).
pub fn refresh_if_stale(conn: &mut DbConn, county: &Org, term: Term) -> AppResult<Option<Refreshed>> {
    let last: Option<i64> = anomaly_scans::table
        .filter(anomaly_scans::org_id.eq(county.id))
        .filter(anomaly_scans::term.eq(term.to_string()))
        .select(anomaly_scans::audit_id)
        .first(conn)
        .optional()?;
    if last.is_some_and(|l| l >= newest_audit_id(conn).unwrap_or(i64::MAX)) {
        return Ok(None);
    }
    refresh(conn, county, term).map(Some)
}

/// One step in a flag's history.
pub(super) fn event(
    conn: &mut DbConn,
    flag: i64,
    actor: &str,
    at: NaiveDateTime,
    from: Option<FlagState>,
    to: FlagState,
    note: &str,
) -> AppResult<()> {
    diesel::insert_into(anomaly_flag_events::table)
        .values((
            anomaly_flag_events::flag_id.eq(flag),
            anomaly_flag_events::at.eq(at),
            anomaly_flag_events::actor.eq(actor),
            anomaly_flag_events::from_state.eq(from.map(FlagState::as_str)),
            anomaly_flag_events::to_state.eq(to.as_str()),
            anomaly_flag_events::note.eq(note),
        ))
        .execute(conn)?;
    Ok(())
}

/// A stored flag as lists show it (学籍号 masked).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StoredFlag {
    pub id: i64,
    pub term: String,
    pub rule: String,
    pub title: &'static str,
    pub severity: Severity,
    pub severity_label: &'static str,
    pub school: String,
    pub school_name: String,
    pub student_no: Option<String>,
    pub month: Option<String>,
    pub amount: Option<String>,
    pub message: String,
    pub state: FlagState,
    pub state_label: &'static str,
    /// Whether the last scan still found it.
    pub holds: bool,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

type Row = (
    (i64, String, String, String, Option<i32>, Option<i64>, String, String, bool, NaiveDateTime, NaiveDateTime),
    (String, String),
    Option<String>,
);

fn stored(row: Row) -> AppResult<StoredFlag> {
    let ((id, term, rule, severity, month, amount, message, state, holds, first, last), (code, name), no) = row;
    let severity = Severity::parse(&severity).unwrap_or(Severity::Review);
    let state = FlagState::parse(&state).unwrap_or(FlagState::Open);
    let student_no = no.as_deref().map(crate::db::at_rest::student_no).transpose()?;
    Ok(StoredFlag {
        id,
        term,
        title: Rule::parse(&rule).map_or("", |r| r.info().title),
        rule,
        severity,
        severity_label: severity.label(),
        school: code,
        school_name: name,
        student_no: student_no.as_deref().map(crate::domain::mask::student_no),
        month: month.and_then(|m| Month::from_key(m).ok()).map(|m| m.to_string()),
        amount: amount.map(|a| Fen::new(a).to_string()),
        message,
        state,
        state_label: state.label(),
        holds,
        first_seen_at: crate::clock::local(first),
        last_seen_at: crate::clock::local(last),
    })
}

/// The counties whose flags an org's list holds: itself, the one it lies in, or those under it.
fn counties_for(conn: &mut DbConn, org: &Org) -> AppResult<Vec<Org>> {
    match org.kind {
        OrgKind::County => Ok(vec![org.clone()]),
        OrgKind::School | OrgKind::Township => {
            let code = crate::registry::service::county_of(&org.path);
            Ok(orgs::table.filter(orgs::code.eq(code)).select(Org::as_select()).load(conn)?)
        }
        _ => Ok(orgs::table
            .filter(orgs::kind.eq(OrgKind::County.as_str()))
            .filter(orgs::path.like(format!("{}%", org.path)))
            .select(Org::as_select())
            .load(conn)?),
    }
}

/// An org's stored flags for a term, rescanned first where stale (a county or below: above it
/// the counties' own scans are read as they stand). `pending_only` keeps those asking for action.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    org_code: &str,
    term: Term,
    pending_only: bool,
) -> AppResult<(Org, Vec<StoredFlag>)> {
    caller.require(conn, Permission::ViewAnomalies, "anomaly_flags")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let counties = counties_for(conn, &org)?;
    if counties.len() == 1 {
        refresh_if_stale(conn, &counties[0], term)?;
    }
    let mut q = anomaly_flags::table
        .inner_join(orgs::table)
        .left_join(students::table.on(students::id.nullable().eq(anomaly_flags::student_id)))
        .filter(anomaly_flags::term.eq(term.to_string()))
        .filter(anomaly_flags::org_path.like(format!("{}%", org.path)))
        .filter(anomaly_flags::org_path.like(caller.scope().like_pattern()))
        .into_boxed();
    if pending_only {
        let pending: Vec<&str> = FlagState::ALL.iter().filter(|s| s.pending()).map(|s| s.as_str()).collect();
        q = q.filter(anomaly_flags::state.eq_any(pending));
    }
    let rows: Vec<Row> = q
        .select((
            (
                anomaly_flags::id,
                anomaly_flags::term,
                anomaly_flags::rule,
                anomaly_flags::severity,
                anomaly_flags::month,
                anomaly_flags::amount_fen,
                anomaly_flags::message,
                anomaly_flags::state,
                anomaly_flags::holds,
                anomaly_flags::first_seen_at,
                anomaly_flags::last_seen_at,
            ),
            (orgs::code, orgs::name),
            students::student_no_sealed.nullable(),
        ))
        .order((anomaly_flags::rule.asc(), orgs::code.asc(), anomaly_flags::id.asc()))
        .load(conn)?;
    Ok((org, rows.into_iter().map(stored).collect::<AppResult<_>>()?))
}

/// One step of a flag's history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Step {
    pub at: NaiveDateTime,
    pub actor: String,
    pub from: Option<&'static str>,
    pub to: &'static str,
    pub note: String,
}

/// One flag with its history, if the caller may see it.
pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(StoredFlag, Vec<Step>)> {
    caller.require(conn, Permission::ViewAnomalies, "anomaly_flag")?;
    let row: Row = anomaly_flags::table
        .inner_join(orgs::table)
        .left_join(students::table.on(students::id.nullable().eq(anomaly_flags::student_id)))
        .filter(anomaly_flags::id.eq(id))
        .filter(anomaly_flags::org_path.like(caller.scope().like_pattern()))
        .select((
            (
                anomaly_flags::id,
                anomaly_flags::term,
                anomaly_flags::rule,
                anomaly_flags::severity,
                anomaly_flags::month,
                anomaly_flags::amount_fen,
                anomaly_flags::message,
                anomaly_flags::state,
                anomaly_flags::holds,
                anomaly_flags::first_seen_at,
                anomaly_flags::last_seen_at,
            ),
            (orgs::code, orgs::name),
            students::student_no_sealed.nullable(),
        ))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    let label = |s: &str| FlagState::parse(s).map_or("", FlagState::label);
    let steps = anomaly_flag_events::table
        .filter(anomaly_flag_events::flag_id.eq(id))
        .order(anomaly_flag_events::id.asc())
        .select((
            anomaly_flag_events::at,
            anomaly_flag_events::actor,
            anomaly_flag_events::from_state,
            anomaly_flag_events::to_state,
            anomaly_flag_events::note,
        ))
        .load::<(NaiveDateTime, String, Option<String>, String, String)>(conn)?
        .into_iter()
        .map(|(at, actor, from, to, note)| Step {
            at: crate::clock::local(at),
            actor,
            from: from.as_deref().map(label),
            to: label(&to),
            note,
        })
        .collect();
    Ok((stored(row)?, steps))
}

/// Who may take each action: the school on its own flags, the county (at or above the flag's
/// county), an inspector.
fn permission(action: FlagAction) -> Permission {
    match action {
        FlagAction::Explain => Permission::AnswerFlags,
        FlagAction::Accept | FlagAction::Reject => Permission::DecideFlags,
        FlagAction::Dismiss | FlagAction::Find | FlagAction::Clear | FlagAction::Recur => Permission::Inspect,
    }
}

/// Whether the caller may take `action` on the flag now: the action's permission, the flag's
/// state, and deciding a school's reason is the county's, never the school's own. [`act`] holds
/// requests to it; the flag's page offers what [`actions`] lists.
pub fn may_act(caller: &Caller, flag: &StoredFlag, action: FlagAction) -> AppResult<()> {
    if !caller.may(permission(action)) {
        return Err(AppError::forbidden());
    }
    if matches!(action, FlagAction::Accept | FlagAction::Reject) && !caller.org_kind.is_county_or_above() {
        return Err(AppError::forbidden());
    }
    flag.state.after(action).map_err(|m| AppError::conflict(ErrorCode::FlagState, m))?;
    Ok(())
}

/// An inspector may take a school's flag up as a finding now (the finding's service holds the
/// flag to the same state rule when it is opened).
pub fn may_take_up(caller: &Caller, flag: &StoredFlag) -> bool {
    caller.may(permission(FlagAction::Find)) && flag.state.after(FlagAction::Find).is_ok() && flag.school.len() == 10
}

/// The actions [`act`] takes that the caller may take on the flag now.
pub fn actions(caller: &Caller, flag: &StoredFlag) -> Vec<FlagAction> {
    [FlagAction::Explain, FlagAction::Accept, FlagAction::Reject, FlagAction::Dismiss]
        .into_iter()
        .filter(|a| may_act(caller, flag, *a).is_ok())
        .collect()
}

/// A person's step on a flag: the action allowed to their role from the flag's state, with the
/// reason it needs; audited and kept in the flag's history.
pub fn act(conn: &mut DbConn, caller: &Caller, id: i64, action: &str, note: &str) -> AppResult<StoredFlag> {
    let action = FlagAction::parse(action)
        .ok_or_else(|| AppError::field("action", ErrorCode::FlagAction, format!("没有操作“{action}”")))?;
    caller.require(conn, permission(action), "anomaly_flag_act")?;
    let (flag, _) = get(conn, caller, id)?;
    may_act(caller, &flag, action)?;
    let note: String = note.trim().chars().take(500).collect();
    if action.needs_note() && note.is_empty() {
        return Err(AppError::field("note", ErrorCode::FlagNote, format!("{}须写明理由", action.label())));
    }
    let next = flag.state.after(action).map_err(|m| AppError::conflict(ErrorCode::FlagState, m))?;
    write_tx(conn, |conn| {
        let changed = diesel::update(
            anomaly_flags::table.filter(anomaly_flags::id.eq(id)).filter(anomaly_flags::state.eq(flag.state.as_str())),
        )
        .set(anomaly_flags::state.eq(next.as_str()))
        .execute(conn)?;
        if changed == 0 {
            return Err(AppError::conflict(ErrorCode::FlagChanged, "该预警刚被他人处理，请刷新后再试"));
        }
        event(conn, id, &caller.username, caller.now(), Some(flag.state), next, &note)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("anomaly.flag", "flag", id)
                .before(&serde_json::json!({"state": flag.state.as_str()}))
                .after(&serde_json::json!({"state": next.as_str(), "action": action.label(), "note": note})),
        )
    })?;
    get(conn, caller, id).map(|(f, _)| f)
}
