//! Status changes (学籍异动): a request with effective date, reason and evidence, walked through
//! the chain configured in `workflow_steps` (step × org × role, 10 working days per step, then
//! open to the level above), applied to the student and the timeline only when the last step
//! approves. A transfer is requested at the receiving school and puts the child in transit from
//! its effective date until the chain ends: at the new school on approval, back at the old one on
//! refusal. One open change per student, enforced by a unique index as well as here.
//!
//! Here: the chains and the request; beside it the rows as people read them (`views`), the
//! decision on each step (`decide`) and the command line's batches (`batch`).

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::changes::{Upload, store_evidence};
use super::model::StudentRow;
use super::service::{county_of, student_in_scope};
use super::terms;
use super::timeline::{self, Switch};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::at_rest;
use crate::db::schema::{classes, orgs, status_change_steps, status_changes, students, workflow_steps};
use crate::db::{DbConn, write_tx};
use crate::domain::mask;
use crate::domain::role::{OrgKind, Permission, Role};
use crate::domain::status::{self, ChangeKind, ChangeStatus, Level, Route, Side, State, StepSpec};
use crate::domain::student::Review;
use crate::domain::term;
use crate::domain::timeline::Timeline;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::org::model::{Org, ancestor_paths};

mod batch;
mod decide;
mod views;

pub use batch::{BatchLine, RowError, batch};
pub use decide::decide;
use decide::{apply, decide_in_tx};
use views::{ChangeRow, StepRow, caller_may_act, change_in_scope, orgs_by_id};
pub use views::{ChangeView, Show, StepView, evidence, get, list, of_student};

/// How far ahead a change may be dated: a planned suspension, not next year's.
const MAX_DAYS_AHEAD: u64 = 90;

// ---------------------------------------------------------------- the chains (configuration)

/// The configured chain for a kind and route.
pub fn chain(conn: &mut DbConn, kind: ChangeKind, route: Route) -> AppResult<Vec<StepSpec>> {
    let rows: Vec<(String, String, String, String)> = workflow_steps::table
        .filter(workflow_steps::kind.eq(kind.code()))
        .filter(workflow_steps::route.eq(route.as_str()))
        .select((workflow_steps::side, workflow_steps::level, workflow_steps::role, workflow_steps::label))
        .order(workflow_steps::step_no.asc())
        .load(conn)?;
    let steps: Vec<StepSpec> = rows
        .into_iter()
        .filter_map(|(side, level, role, label)| {
            Some(StepSpec { side: Side::parse(&side)?, level: Level::parse(&level)?, role: Role::parse(&role)?, label })
        })
        .collect();
    status::check_chain(kind, &steps).map_err(|m| AppError::conflict(ErrorCode::ChangeChain, m))?;
    Ok(steps)
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ChainView {
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub route_label: &'static str,
    pub steps: Vec<String>,
}

/// Every configured chain, for the settings page and the API.
pub fn chains(conn: &mut DbConn) -> AppResult<Vec<ChainView>> {
    let rows: Vec<(String, String, String, String)> = workflow_steps::table
        .select((workflow_steps::kind, workflow_steps::route, workflow_steps::role, workflow_steps::label))
        .order((workflow_steps::kind.asc(), workflow_steps::route.asc(), workflow_steps::step_no.asc()))
        .load(conn)?;
    let mut out: Vec<ChainView> = Vec::new();
    for (kind, route, role, label) in rows {
        let (Some(k), Some(r)) = (ChangeKind::parse(&kind), Route::parse(&route)) else { continue };
        let step = format!("{label}（{}）", Role::parse(&role).map(|r| r.label()).unwrap_or(""));
        match out.last_mut() {
            Some(c) if c.kind == k.code() && c.route_label == r.label() => c.steps.push(step),
            _ => {
                out.push(ChainView { kind: k.code(), kind_label: k.label(), route_label: r.label(), steps: vec![step] })
            }
        }
    }
    Ok(out)
}

/// The org that acts at a step, from the side's school path.
fn step_org(conn: &mut DbConn, level: Level, school: &Org) -> AppResult<Org> {
    if level == Level::School {
        return Ok(school.clone());
    }
    let county = county_of(&school.path);
    let ancestors: Vec<Org> = orgs::table
        .filter(orgs::path.eq_any(ancestor_paths(&school.path)))
        .select(Org::as_select())
        .order(orgs::path.asc())
        .load(conn)?;
    let found = match level {
        Level::School => None,
        Level::County => ancestors.iter().find(|o| o.code == county),
        Level::Province => ancestors.iter().find(|o| o.kind == OrgKind::Province),
        Level::Ministry => ancestors.first(),
    };
    found.cloned().ok_or_else(|| {
        AppError::conflict(
            ErrorCode::ChangeChainOrg,
            format!("“{}”上级缺少审批所需的机构，请检查组织机构树", school.name),
        )
    })
}

// ---------------------------------------------------------------- requesting

/// A change of a student's own school (everything but a transfer).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct ChangeInput {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub effective_date: String,
    #[serde(default)]
    pub reason: String,
    /// For 转班: the class moved to.
    #[serde(default)]
    pub to_class_no: String,
}

/// A transfer into the caller's school, naming the child by number and name (both must match).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct TransferInput {
    #[serde(default)]
    pub student_no: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub to_class_no: String,
    /// The first day away from the old school.
    #[serde(default)]
    pub effective_date: String,
    /// The first day at the new school (default: the effective date).
    #[serde(default)]
    pub arrival_date: String,
    #[serde(default)]
    pub reason: String,
}

/// A date typed into a form, query or file (YYYY-MM-DD), with the field it came from.
pub fn parse_day(field: &str, s: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::field(field, ErrorCode::InputDate, format!("日期“{}”应为YYYY-MM-DD格式", s.trim())))
}

fn parse_date(s: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::field("effective_date", ErrorCode::ChangeDateFormat, "生效日期应为YYYY-MM-DD格式，如2026-11-23")
    })
}

fn parse_reason(s: &str) -> AppResult<String> {
    let r = s.trim();
    if r.is_empty() {
        return Err(AppError::field("reason", ErrorCode::ChangeReasonRequired, "请填写异动原因"));
    }
    if r.chars().count() > 200 {
        return Err(AppError::field("reason", ErrorCode::ChangeReasonLong, "异动原因不超过200字"));
    }
    Ok(r.to_owned())
}

fn refusal(r: status::Refusal) -> AppError {
    AppError::conflict(r.code, r.message)
}

/// The kinds of change a student's own school may start for them now (a transfer is asked for
/// by the receiving school): those the rules of [`ChangeKind::check`] allow for the student's
/// state and grade, which [`request`] holds the request to.
pub fn kinds_open(conn: &mut DbConn, caller: &Caller, student_id: i64) -> AppResult<Vec<ChangeKind>> {
    caller.require(conn, Permission::ViewStudents, "status_change_kinds")?;
    let (student, school) = student_in_scope(conn, caller, student_id)?;
    let in_progress = change_in_progress(conn, student.id)?;
    let (_, state, grade) = standing(conn, &student)?;
    let mut open = Vec::new();
    for kind in status::ALL_KINDS.into_iter().filter(|k| *k != ChangeKind::Transfer) {
        if may_open(&student, in_progress.as_ref(), kind).is_err() || kind.check(state, grade).is_err() {
            continue;
        }
        // Only the first step's org is needed to know who opens the change.
        let Some(first) = chain(conn, kind, Route::Local)?.into_iter().next() else { continue };
        let org = step_org(conn, first.level, &school)?;
        if first_step_is_callers(caller, &first, &org).is_ok() {
            open.push(kind);
        }
    }
    Ok(open)
}

/// The student's change in progress, if any: its id and kind code.
fn change_in_progress(conn: &mut DbConn, student_id: i64) -> AppResult<Option<(i64, String)>> {
    Ok(status_changes::table
        .filter(status_changes::student_id.eq(student_id))
        .filter(status_changes::status.eq(ChangeStatus::Open.as_str()))
        .select((status_changes::id, status_changes::kind))
        .first(conn)
        .optional()?)
}

/// Whether a change of `kind` may be opened for the student at all: confirmed into the database,
/// and none open already (one at a time).
fn may_open(student: &StudentRow, in_progress: Option<&(i64, String)>, kind: ChangeKind) -> AppResult<()> {
    if student.review != Review::Confirmed {
        return Err(AppError::conflict(
            ErrorCode::ChangeNotConfirmed,
            format!("“{}”尚未确认入库，不能办理学籍异动；请直接修改或删除该记录", student.name),
        ));
    }
    if let Some((id, k)) = in_progress {
        let label = ChangeKind::parse(k).map(|k| k.label()).unwrap_or("异动");
        let code = if kind == ChangeKind::Transfer && k == ChangeKind::Transfer.code() {
            ErrorCode::TransferAlreadyOpen
        } else {
            ErrorCode::ChangeAlreadyOpen
        };
        return Err(AppError::conflict(
            code,
            format!("“{}”已有一项正在办理的{label}（#{id}），办结后才能再申请", student.name),
        ));
    }
    Ok(())
}

/// Whether the caller is who a chain's first step (acting at `org`) names; the command line
/// stands in for all.
fn first_step_is_callers(caller: &Caller, first: &StepSpec, org: &Org) -> AppResult<()> {
    if !caller.is_cli()
        && status::may_act(&org.path, first.role, caller.org_path(), |r| caller.roles.contains(r), false).is_none()
    {
        return Err(not_your_step(&first.label, org, first.role));
    }
    Ok(())
}

/// The chain of a local change of `kind` at the school, and the org of each step.
fn local_chain(conn: &mut DbConn, kind: ChangeKind, school: &Org) -> AppResult<(Vec<StepSpec>, Vec<Org>)> {
    let chain = chain(conn, kind, Route::Local)?;
    let orgs = chain.iter().map(|s| step_org(conn, s.level, school)).collect::<AppResult<Vec<_>>>()?;
    Ok((chain, orgs))
}

/// What [`ChangeKind::check`] turns on: the student's timeline, state now and grade.
fn standing(conn: &mut DbConn, student: &StudentRow) -> AppResult<(Timeline, State, i32)> {
    let tl = timeline::timeline_of(&timeline::load(conn, student.id)?);
    let state = tl.current().map(|s| s.state).unwrap_or(State::Left);
    Ok((tl, state, grade_of(conn, student.class_id)?))
}

fn grade_of(conn: &mut DbConn, class_id: Option<i64>) -> AppResult<i32> {
    Ok(match class_id {
        Some(c) => classes::table.find(c).select(classes::grade).first(conn).optional()?.unwrap_or(0),
        None => 0,
    })
}

fn class_in(conn: &mut DbConn, school: &Org, class_no: &str) -> AppResult<i64> {
    classes::table
        .filter(classes::school_id.eq(school.id))
        .filter(classes::class_no.eq(class_no.trim()))
        .select(classes::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::field(
                "to_class_no",
                ErrorCode::ChangeUnknownClass,
                format!("班号“{}”在{}不存在", class_no.trim(), school.name),
            )
        })
}

/// The checks every change shares: a confirmed student with no open change, a state the change
/// may start from, and an effective date inside the timeline's open end, not too far ahead and
/// not in a closed term. Returns the student's grade.
fn common_checks(
    conn: &mut DbConn,
    student: &StudentRow,
    school: &Org,
    kind: ChangeKind,
    effective: NaiveDate,
    today: NaiveDate,
) -> AppResult<i32> {
    may_open(student, change_in_progress(conn, student.id)?.as_ref(), kind)?;
    let (tl, state, grade) = standing(conn, student)?;
    kind.check(state, grade).map_err(refusal)?;
    tl.can_switch(effective).map_err(|m| AppError::field("effective_date", ErrorCode::ChangeEffectiveDate, m))?;
    if effective > today + Days::new(MAX_DAYS_AHEAD) {
        return Err(AppError::field(
            "effective_date",
            ErrorCode::ChangeTooFarAhead,
            format!("生效日期不能晚于今天起{MAX_DAYS_AHEAD}天"),
        ));
    }
    terms::ensure_open(conn, &school.path, effective)?;
    Ok(grade)
}

/// Requests a change of the student's own school. The caller must be who the chain's first step
/// names. A chain of one step takes effect at once.
pub fn request(
    conn: &mut DbConn,
    caller: &Caller,
    student_id: i64,
    input: &ChangeInput,
    evidence: Option<&Upload>,
) -> AppResult<ChangeView> {
    caller.require(conn, Permission::ViewStudents, "request_status_change")?;
    let id = audited(conn, caller, "request", |conn| request_in_tx(conn, caller, student_id, input, evidence))?;
    get(conn, caller, id)
}

fn request_in_tx(
    conn: &mut DbConn,
    caller: &Caller,
    student_id: i64,
    input: &ChangeInput,
    evidence: Option<&Upload>,
) -> AppResult<i64> {
    let (student, school) = student_in_scope(conn, caller, student_id)?;
    let kind = ChangeKind::parse(&input.kind).ok_or_else(|| {
        AppError::field("kind", ErrorCode::ChangeKind, "请选择异动类别（休学、复学、转班、退学、死亡、其他）")
    })?;
    if kind == ChangeKind::Transfer {
        return Err(AppError::field("kind", ErrorCode::ChangeTransferHere, "转学须由转入学校在“转学申请”中提出"));
    }
    let effective = parse_date(&input.effective_date)?;
    let reason = parse_reason(&input.reason)?;
    common_checks(conn, &student, &school, kind, effective, caller.today())?;
    let to_class = match kind {
        ChangeKind::ClassChange => {
            let c = class_in(conn, &school, &input.to_class_no)?;
            if Some(c) == student.class_id {
                return Err(AppError::field("to_class_no", ErrorCode::ChangeSameClass, "转入班级与当前班级相同"));
            }
            Some(c)
        }
        _ => None,
    };
    if kind == ChangeKind::Death && evidence.is_none() {
        return Err(AppError::field("evidence", ErrorCode::ChangeEvidenceRequired, "死亡注销须附死亡证明等材料"));
    }
    let (chain, orgs) = local_chain(conn, kind, &school)?;
    let evidence_id = evidence.map(|e| store_evidence(conn, caller, e)).transpose()?;
    open_change(
        conn,
        caller,
        &student,
        kind,
        Route::Local,
        &school,
        None,
        to_class,
        (effective, None),
        &reason,
        evidence_id,
        &chain,
        &orgs,
    )
}

/// A transfer is asked for by the receiving school: decided here for the service and the pages.
pub fn may_request_transfer(caller: &Caller) -> AppResult<()> {
    if caller.org_kind != OrgKind::School {
        return Err(AppError::conflict(ErrorCode::TransferNotSchool, "转学申请须由转入学校的学籍管理员提出"));
    }
    Ok(())
}

/// Requests a transfer into the caller's school.
pub fn request_transfer(
    conn: &mut DbConn,
    caller: &Caller,
    input: &TransferInput,
    evidence: Option<&Upload>,
) -> AppResult<ChangeView> {
    caller.require(conn, Permission::ViewStudents, "request_transfer")?;
    may_request_transfer(caller)?;
    let to_school = crate::org::service::org_in_scope(conn, caller.scope(), &caller.org_code)?;
    let effective = parse_date(&input.effective_date)?;
    let arrival = match input.arrival_date.trim() {
        "" => effective,
        s => parse_day("arrival_date", s)?,
    };
    if arrival < effective {
        return Err(AppError::field(
            "arrival_date",
            ErrorCode::TransferArrivalBeforeLeaving,
            format!("到校日期{arrival}早于离校日期{effective}"),
        ));
    }
    if arrival > caller.today() + Days::new(MAX_DAYS_AHEAD) {
        return Err(AppError::field(
            "arrival_date",
            ErrorCode::ChangeTooFarAhead,
            format!("到校日期不能晚于今天起{MAX_DAYS_AHEAD}天"),
        ));
    }
    let reason = parse_reason(&input.reason)?;
    let (no, name) = (crate::domain::id_card::normalise(&input.student_no), input.name.trim().to_owned());
    // Both number and name must match, so a school cannot browse other counties' children.
    let found: Option<(StudentRow, Org)> = students::table
        .inner_join(orgs::table)
        .filter(students::student_no_hash.eq(at_rest::student_no_hash(&no)?))
        .filter(students::name.eq(&name))
        .select((StudentRow::as_select(), Org::as_select()))
        .first(conn)
        .optional()?;
    let Some((student, from_school)) = found else {
        audit::record_alone(
            conn,
            &caller.actor(),
            Entry::new("transfer.lookup_failed", "student", mask::student_no(&no)).result("not_found"),
        )?;
        return Err(AppError::field(
            "student_no",
            ErrorCode::TransferStudentNotFound,
            format!("未找到学籍号为“{no}”、姓名为“{name}”的学生（学籍号与姓名须一致）"),
        ));
    };
    if from_school.id == to_school.id {
        return Err(AppError::field(
            "student_no",
            ErrorCode::TransferSameSchool,
            "该学生已在本校；校内调班请办理“转班”",
        ));
    }
    let to_class = class_in(conn, &to_school, &input.to_class_no)?;
    let grade = common_checks(conn, &student, &from_school, ChangeKind::Transfer, effective, caller.today())?;
    terms::ensure_open(conn, &to_school.path, arrival)?;
    for path in [&from_school.path, &to_school.path] {
        if let Some(msg) = terms::transfer_restriction(conn, path, grade, effective)? {
            return Err(AppError::conflict(ErrorCode::TransferRestricted, msg));
        }
    }
    let route = Route::of_transfer(&county_of(&from_school.path), &county_of(&to_school.path));
    let chain = chain(conn, ChangeKind::Transfer, route)?;
    let mut orgs = Vec::with_capacity(chain.len());
    for s in &chain {
        orgs.push(step_org(conn, s.level, if s.side == Side::To { &to_school } else { &from_school })?);
    }
    let id = audited(conn, caller, "request_transfer", |conn| {
        let evidence_id = evidence.map(|e| store_evidence(conn, caller, e)).transpose()?;
        open_change(
            conn,
            caller,
            &student,
            ChangeKind::Transfer,
            route,
            &from_school,
            Some(&to_school),
            Some(to_class),
            (effective, Some(arrival)),
            &reason,
            evidence_id,
            &chain,
            &orgs,
        )
    })?;
    get(conn, caller, id)
}

/// Stores a change and its chain, records the first step as the caller's submission and starts
/// the second step's timer; a transfer puts the child in transit from the effective date. When
/// the chain has no second step, or the command line submits, the change is applied at once.
#[allow(clippy::too_many_arguments)]
fn open_change(
    conn: &mut DbConn,
    caller: &Caller,
    student: &StudentRow,
    kind: ChangeKind,
    route: Route,
    from_school: &Org,
    to_school: Option<&Org>,
    to_class: Option<i64>,
    (effective, arrival): (NaiveDate, Option<NaiveDate>),
    reason: &str,
    evidence_id: Option<i64>,
    chain: &[StepSpec],
    orgs: &[Org],
) -> AppResult<i64> {
    let (Some(first), Some(org)) = (chain.first(), orgs.first()) else {
        return Err(AppError::internal_msg(ErrorCode::WorkflowEmpty, "异动流程没有环节".into()));
    };
    first_step_is_callers(caller, first, org)?;
    let day = caller.today();
    let id: i64 = diesel::insert_into(status_changes::table)
        .values((
            status_changes::student_id.eq(student.id),
            status_changes::kind.eq(kind.code()),
            status_changes::route.eq(route.as_str()),
            status_changes::from_school_id.eq(from_school.id),
            status_changes::to_school_id.eq(to_school.map(|o| o.id)),
            status_changes::to_class_id.eq(to_class),
            status_changes::effective_date.eq(effective),
            status_changes::arrival_date.eq(arrival),
            status_changes::reason.eq(reason),
            status_changes::evidence_id.eq(evidence_id),
            status_changes::status.eq(ChangeStatus::Open.as_str()),
            status_changes::step_no.eq(2),
            status_changes::requested_by.eq(&caller.username),
            status_changes::requested_at.eq(caller.now()),
        ))
        .returning(status_changes::id)
        .get_result(conn)?;
    for (i, (s, org)) in chain.iter().zip(orgs).enumerate() {
        let n = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let (decision, started, due) = match n {
            1 => (Some("submitted"), Some(day), Some(day)),
            2 => (None, Some(day), Some(term::add_working_days(day, status::STEP_WORKING_DAYS))),
            _ => (None, None, None),
        };
        diesel::insert_into(status_change_steps::table)
            .values((
                status_change_steps::change_id.eq(id),
                status_change_steps::step_no.eq(n),
                status_change_steps::label.eq(&s.label),
                status_change_steps::org_id.eq(org.id),
                status_change_steps::role.eq(s.role.as_str()),
                status_change_steps::started.eq(started),
                status_change_steps::due.eq(due),
                status_change_steps::decision.eq(decision),
                status_change_steps::decided_by.eq(decision.map(|_| caller.username.clone())),
                status_change_steps::decided_at.eq(decision.map(|_| caller.now())),
            ))
            .execute(conn)?;
    }
    if kind == ChangeKind::Transfer {
        timeline::switch(
            conn,
            student.id,
            &Switch {
                on: effective,
                state: State::InTransit,
                school_id: from_school.id,
                class_id: student.class_id,
                cause: "transfer_out",
                change_id: Some(id),
                promotion_id: None,
            },
        )?;
        set_status(conn, caller, student.id, State::InTransit)?;
        // From the leaving day the child is on neither roll: the old school's computed months stop paying.
        crate::ledger::entitlement::recompute_from(conn, caller, &[from_school.id], effective, "transfer.in_transit")?;
    }
    audit::record(
        conn,
        &caller.actor(),
        Entry::new("status_change.request", "status_change", id).after(&serde_json::json!({
            "student": student.id, "student_no": mask::student_no(&student.student_no), "kind": kind.code(),
            "route": route.as_str(),
            "from": from_school.code, "to": to_school.map(|o| &o.code), "effective_date": effective,
            "arrival_date": arrival, "reason": reason,
        })),
    )?;
    if chain.len() == 1 {
        let r: ChangeRow = status_changes::table.find(id).select(ChangeRow::as_select()).first(conn)?;
        apply(conn, caller, &r)?;
    } else if caller.is_cli() {
        // The command line acts for the whole chain (batch suspension and resumption).
        for _ in 1..chain.len() {
            decide_in_tx(conn, caller, id, true, "命令行批量办理")?;
        }
    }
    Ok(id)
}

fn set_status(conn: &mut DbConn, caller: &Caller, student_id: i64, state: State) -> AppResult<()> {
    diesel::update(students::table.find(student_id))
        .set((students::status.eq(state.student_status()), students::updated_at.eq(caller.now())))
        .execute(conn)?;
    Ok(())
}

const NOT_YOUR_STEP: ErrorCode = ErrorCode::ChangeNotYourStep;

fn not_your_step(label: &str, org: &Org, role: Role) -> AppError {
    AppError::new(
        ErrorKind::Forbidden,
        NOT_YOUR_STEP,
        format!("当前步骤“{label}”应由{}的{}办理，您不在该审批环节", org.name, role.label()),
    )
}

/// Runs a step in its own transaction; a refusal because the caller is outside the chain is
/// audited afterwards, in a transaction of its own, so the rollback does not take it away.
fn audited<T>(
    conn: &mut DbConn,
    caller: &Caller,
    what: &str,
    f: impl FnOnce(&mut DbConn) -> AppResult<T>,
) -> AppResult<T> {
    let r = write_tx(conn, f);
    if let Err(e) = &r
        && e.code == NOT_YOUR_STEP
    {
        audit::record_alone(
            conn,
            &caller.actor(),
            Entry::new("access.denied", "status_change", what).result("denied").after(&e.message),
        )?;
    }
    r
}
