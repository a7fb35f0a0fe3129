//! Deciding a status change's current step: approve (the next step, or at the last the change
//! applied to the student and the timeline) or refuse (closed, a transfer's child back at the
//! old school).

use diesel::prelude::*;

use super::{
    ChangeRow, ChangeView, StepRow, audited, caller_may_act, change_in_scope, get, not_your_step, orgs_by_id,
    set_status,
};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{status_change_steps, status_changes, students};
use crate::domain::role::{Permission, Role};
use crate::domain::status::{self, ChangeKind, ChangeStatus, State};
use crate::domain::term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::registry::model::StudentRow;
use crate::registry::service::{add_history, county_of, place_student};
use crate::registry::terms;
use crate::registry::timeline::{self, Switch};

/// Decides the current step: approval moves to the next step (or applies the change after the
/// last one); refusal ends the change, and a refused transfer returns the child to the old school.
pub fn decide(conn: &mut DbConn, caller: &Caller, id: i64, approve: bool, note: &str) -> AppResult<ChangeView> {
    caller.require(conn, Permission::ViewStudents, "decide_status_change")?;
    change_in_scope(conn, caller, id)?;
    audited(conn, caller, &format!("decide:{id}"), |conn| decide_in_tx(conn, caller, id, approve, note))?;
    get(conn, caller, id)
}

pub(super) fn decide_in_tx(conn: &mut DbConn, caller: &Caller, id: i64, approve: bool, note: &str) -> AppResult<()> {
    let note = note.trim();
    if !approve && note.is_empty() {
        return Err(AppError::field("note", ErrorCode::ChangeNoteRequired, "驳回时须填写理由"));
    }
    let r: ChangeRow = status_changes::table.find(id).select(ChangeRow::as_select()).first(conn)?;
    if r.status != ChangeStatus::Open {
        return Err(AppError::conflict(ErrorCode::ChangeClosed, format!("该异动已{}，不能再办理", r.status.label())));
    }
    let steps: Vec<StepRow> = status_change_steps::table
        .filter(status_change_steps::change_id.eq(id))
        .select(StepRow::as_select())
        .order(status_change_steps::step_no.asc())
        .load(conn)?;
    let Some(step) = steps.iter().find(|s| s.step_no == r.step_no) else {
        return Err(AppError::conflict(ErrorCode::ChangeChain, "审批步骤缺失"));
    };
    let org = orgs_by_id(conn, &[step.org_id])?.remove(&step.org_id).ok_or_else(AppError::not_found)?;
    let escalated = if caller.is_cli() {
        false
    } else {
        match caller_may_act(caller, step, &org, caller.today()) {
            Some(esc) => esc,
            None => {
                let role = Role::parse(&step.role).unwrap_or(Role::NutritionOffice);
                return Err(not_your_step(&step.label, &org, role));
            }
        }
    };
    if !caller.is_cli() && steps.iter().any(|s| s.decided_by.as_deref() == Some(caller.username.as_str())) {
        return Err(AppError::conflict(ErrorCode::ChangeSamePerson, "同一人不能办理同一异动的两个环节"));
    }
    diesel::update(
        status_change_steps::table
            .filter(status_change_steps::change_id.eq(id))
            .filter(status_change_steps::step_no.eq(r.step_no)),
    )
    .set((
        status_change_steps::decision.eq(if approve { "approved" } else { "refused" }),
        status_change_steps::note.eq(note),
        status_change_steps::decided_by.eq(&caller.username),
        status_change_steps::decided_at.eq(caller.now()),
        status_change_steps::escalated.eq(escalated),
    ))
    .execute(conn)?;
    audit::record(
        conn,
        &caller.actor(),
        Entry::new(if approve { "status_change.approve" } else { "status_change.refuse" }, "status_change", id)
            .after(&serde_json::json!({"step": r.step_no, "label": step.label, "note": note, "escalated": escalated})),
    )?;
    if !approve {
        diesel::update(status_changes::table.find(id))
            .set((
                status_changes::status.eq(ChangeStatus::Refused.as_str()),
                status_changes::closed_at.eq(caller.now()),
            ))
            .execute(conn)?;
        if r.kind == ChangeKind::Transfer.code() {
            let rows = timeline::load(conn, r.student_id)?;
            if rows.last().and_then(|s| s.change_id) == Some(id) {
                timeline::undo_last(conn, r.student_id)?;
            }
            set_status(conn, caller, r.student_id, State::AtSchool)?;
            // Back at the old school as if never gone: its months pay the days in transit again.
            crate::ledger::entitlement::recompute_from(
                conn,
                caller,
                &[r.from_school_id],
                r.effective_date,
                "transfer.refused",
            )?;
        }
        return Ok(());
    }
    let last = steps.last().map(|s| s.step_no) == Some(r.step_no);
    if last {
        return apply(conn, caller, &r);
    }
    let next = r.step_no + 1;
    let day = caller.today();
    diesel::update(status_changes::table.find(id)).set(status_changes::step_no.eq(next)).execute(conn)?;
    diesel::update(
        status_change_steps::table
            .filter(status_change_steps::change_id.eq(id))
            .filter(status_change_steps::step_no.eq(next)),
    )
    .set((
        status_change_steps::started.eq(day),
        status_change_steps::due.eq(term::add_working_days(day, status::STEP_WORKING_DAYS)),
    ))
    .execute(conn)?;
    Ok(())
}

/// The end of the chain: the change takes effect on the student and the timeline.
pub(super) fn apply(conn: &mut DbConn, caller: &Caller, r: &ChangeRow) -> AppResult<()> {
    let id = r.id;
    let kind = ChangeKind::parse(&r.kind).unwrap_or(ChangeKind::Other);
    let student: StudentRow = students::table.find(r.student_id).select(StudentRow::as_select()).first(conn)?;
    let from = orgs_by_id(conn, &[r.from_school_id])?.remove(&r.from_school_id).ok_or_else(AppError::not_found)?;
    terms::ensure_open(conn, &from.path, r.effective_date)?;
    let why = format!("学籍异动#{id}（{}）：{}", kind.label(), r.reason);
    match kind {
        ChangeKind::Transfer => {
            let to_id = r.to_school_id.ok_or_else(AppError::not_found)?;
            let to = orgs_by_id(conn, &[to_id])?.remove(&to_id).ok_or_else(AppError::not_found)?;
            // Approved after the arrival day or before it, the child is at the new school from
            // the arrival day, and in transit (at neither school) from leaving until then.
            let arrival = r.arrival_date.unwrap_or(r.effective_date);
            terms::ensure_open(conn, &to.path, arrival)?;
            timeline::land_transfer(conn, id, to.id, r.to_class_id, arrival)?;
            place_student(conn, caller, &student, (to.id, &county_of(&to.path)), r.to_class_id, &why)?;
            add_history(conn, student.id, "school", Some(&from.code), Some(&to.code), &why, caller)?;
            set_status(conn, caller, student.id, State::AtSchool)?;
        }
        ChangeKind::ClassChange => {
            timeline::switch(
                conn,
                student.id,
                &Switch {
                    on: r.effective_date,
                    state: State::AtSchool,
                    school_id: from.id,
                    class_id: r.to_class_id,
                    cause: kind.code(),
                    change_id: Some(id),
                    promotion_id: None,
                },
            )?;
            place_student(conn, caller, &student, (from.id, &student.county_code), r.to_class_id, &why)?;
        }
        _ => {
            let state = kind.outcome();
            timeline::switch(
                conn,
                student.id,
                &Switch {
                    on: r.effective_date,
                    state,
                    school_id: from.id,
                    class_id: student.class_id,
                    cause: kind.code(),
                    change_id: Some(id),
                    promotion_id: None,
                },
            )?;
            add_history(conn, student.id, "status", Some(&student.status), Some(state.student_status()), &why, caller)?;
            set_status(conn, caller, student.id, state)?;
        }
    }
    diesel::update(status_changes::table.find(id))
        .set((status_changes::status.eq(ChangeStatus::Approved.as_str()), status_changes::closed_at.eq(caller.now())))
        .execute(conn)?;
    // The decision moves the money it touches, in this transaction: every computed month of
    // the schools involved from the effective day on (a death on the 5th stops paying on the 5th).
    let schools: Vec<i64> = [Some(r.from_school_id), r.to_school_id].into_iter().flatten().collect();
    crate::ledger::entitlement::recompute_from(conn, caller, &schools, r.effective_date, "status_change")?;
    audit::record(
        conn,
        &caller.actor(),
        Entry::new("status_change.apply", "status_change", id).after(
            &serde_json::json!({"student": student.id, "kind": kind.code(), "effective_date": r.effective_date}),
        ),
    )
}
