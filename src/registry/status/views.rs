//! A change as people read it: the stored rows, each step with who may act on it now, the list
//! and the detail, scoped to the caller.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::at_rest;
use crate::db::schema::{classes, orgs, status_change_steps, status_changes, students};
use crate::domain::mask;
use crate::domain::role::{Permission, Role};
use crate::domain::status::{self, ChangeKind, ChangeStatus, Route};
use crate::error::{AppError, AppResult};
use crate::org::model::Org;
use crate::registry::service::student_in_scope;

// ---------------------------------------------------------------- rows and views

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = status_changes)]
pub(super) struct ChangeRow {
    pub(super) id: i64,
    pub(super) student_id: i64,
    pub(super) kind: String,
    pub(super) route: String,
    pub(super) from_school_id: i64,
    pub(super) to_school_id: Option<i64>,
    pub(super) to_class_id: Option<i64>,
    pub(super) effective_date: NaiveDate,
    pub(super) reason: String,
    pub(super) evidence_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub(super) status: ChangeStatus,
    pub(super) step_no: i32,
    pub(super) requested_by: String,
    pub(super) requested_at: NaiveDateTime,
    pub(super) closed_at: Option<NaiveDateTime>,
    pub(super) arrival_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = status_change_steps)]
pub(super) struct StepRow {
    pub(super) step_no: i32,
    pub(super) label: String,
    pub(super) org_id: i64,
    pub(super) role: String,
    pub(super) started: Option<NaiveDate>,
    pub(super) due: Option<NaiveDate>,
    pub(super) decision: Option<String>,
    pub(super) note: Option<String>,
    pub(super) decided_by: Option<String>,
    pub(super) decided_at: Option<NaiveDateTime>,
    pub(super) escalated: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StepView {
    pub step_no: i32,
    pub label: String,
    pub org_code: String,
    pub org_name: String,
    pub role_label: &'static str,
    pub started: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    pub decision: Option<String>,
    pub decision_label: &'static str,
    pub note: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub escalated: bool,
    pub overdue: bool,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ChangeView {
    pub id: i64,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub route: &'static str,
    pub route_label: &'static str,
    pub student_id: i64,
    pub student_name: String,
    pub student_no: String,
    pub id_masked: String,
    pub from_school_code: String,
    pub from_school_name: String,
    pub to_school_code: Option<String>,
    pub to_school_name: Option<String>,
    pub to_class_name: Option<String>,
    /// The day the change takes effect; for a transfer, the first day away from the old school.
    pub effective_date: NaiveDate,
    /// A transfer's first day at the new school (the days from the effective date count at
    /// neither school).
    pub arrival_date: Option<NaiveDate>,
    pub reason: String,
    pub has_evidence: bool,
    pub status: ChangeStatus,
    pub status_label: &'static str,
    /// The student is between schools now (an open transfer).
    pub in_transit: bool,
    pub requested_by: String,
    pub requested_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub current_step: Option<StepView>,
    pub steps: Vec<StepView>,
    /// Whether the caller may decide the current step now (and whether as an escalation).
    pub can_decide: bool,
    pub would_escalate: bool,
}

impl ChangeView {
    /// A transfer (转学) crosses schools: its pages name the route and both schools.
    pub fn is_transfer(&self) -> bool {
        self.kind == ChangeKind::Transfer.code()
    }

    /// Its current step is past its time limit.
    pub fn is_overdue(&self) -> bool {
        self.current_step.as_ref().is_some_and(|s| s.overdue)
    }
}

pub(super) fn decision_label(d: Option<&str>) -> &'static str {
    match d {
        Some("submitted") => "已提交",
        Some("approved") => "同意",
        Some("refused") => "驳回",
        _ => "待办理",
    }
}

/// Whether a change lies in the caller's scope: either school in it.
pub(super) fn in_scope(caller: &Caller, paths: &HashMap<i64, Org>, r: &ChangeRow) -> bool {
    let visible = |id: i64| paths.get(&id).is_some_and(|o| caller.scope().contains(&o.path));
    visible(r.from_school_id) || r.to_school_id.is_some_and(visible)
}

pub(super) fn orgs_by_id(conn: &mut DbConn, ids: &[i64]) -> AppResult<HashMap<i64, Org>> {
    Ok(orgs::table
        .filter(orgs::id.eq_any(ids))
        .select(Org::as_select())
        .load::<Org>(conn)?
        .into_iter()
        .map(|o| (o.id, o))
        .collect())
}

/// Who may act on a step right now, if the caller: (may, as an escalation).
pub(super) fn caller_may_act(caller: &Caller, step: &StepRow, org: &Org, day: NaiveDate) -> Option<bool> {
    if step.decision.is_some() {
        return None;
    }
    let role = Role::parse(&step.role)?;
    let overdue = step.due.is_some_and(|d| day > d);
    status::may_act(&org.path, role, caller.org_path(), |r| caller.roles.contains(r), overdue)
}

/// Builds the views of many changes with a fixed number of queries.
pub(super) fn views(conn: &mut DbConn, caller: &Caller, rows: Vec<ChangeRow>) -> AppResult<Vec<ChangeView>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let steps: Vec<(i64, StepRow)> = status_change_steps::table
        .filter(status_change_steps::change_id.eq_any(&ids))
        .select((status_change_steps::change_id, StepRow::as_select()))
        .order((status_change_steps::change_id.asc(), status_change_steps::step_no.asc()))
        .load(conn)?;
    let mut org_ids: Vec<i64> = steps.iter().map(|(_, s)| s.org_id).collect();
    org_ids.extend(rows.iter().flat_map(|r| [Some(r.from_school_id), r.to_school_id]).flatten());
    let orgs = orgs_by_id(conn, &org_ids)?;
    let student_ids: Vec<i64> = rows.iter().map(|r| r.student_id).collect();
    let students: HashMap<i64, (String, String, Option<String>)> = students::table
        .filter(students::id.eq_any(&student_ids))
        .select((students::id, students::name, students::student_no_sealed, students::id_no_sealed))
        .load::<(i64, String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, n, no, idn)| {
            let no = at_rest::open::<at_rest::StudentNumber>(&no)?;
            Ok((id, (n, no, idn.map(|s| at_rest::open::<at_rest::IdNo>(&s)).transpose()?)))
        })
        .collect::<AppResult<Vec<_>>>()?
        .into_iter()
        .collect();
    let class_ids: Vec<i64> = rows.iter().filter_map(|r| r.to_class_id).collect();
    let class_names: HashMap<i64, String> = classes::table
        .filter(classes::id.eq_any(&class_ids))
        .select((classes::id, classes::name))
        .load(conn)?
        .into_iter()
        .collect();
    let mut by_change: BTreeMap<i64, Vec<StepRow>> = BTreeMap::new();
    for (c, s) in steps {
        by_change.entry(c).or_default().push(s);
    }
    let day = caller.today();
    let mut out = Vec::new();
    for r in rows {
        let kind = ChangeKind::parse(&r.kind).unwrap_or(ChangeKind::Other);
        let route = Route::parse(&r.route).unwrap_or(Route::Local);
        let (name, no, id_no) = students.get(&r.student_id).cloned().unwrap_or_default();
        let open = r.status == ChangeStatus::Open;
        let mut can_decide = false;
        let mut would_escalate = false;
        let steps: Vec<StepView> = by_change
            .remove(&r.id)
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                let org = orgs.get(&s.org_id);
                let current = open && s.step_no == r.step_no;
                if current && let Some(esc) = org.and_then(|o| caller_may_act(caller, &s, o, day)) {
                    can_decide = true;
                    would_escalate = esc;
                }
                StepView {
                    step_no: s.step_no,
                    org_code: org.map(|o| o.code.clone()).unwrap_or_default(),
                    org_name: org.map(|o| o.name.clone()).unwrap_or_default(),
                    role_label: Role::parse(&s.role).map(|r| r.label()).unwrap_or(""),
                    started: s.started,
                    due: s.due,
                    decision_label: decision_label(s.decision.as_deref()),
                    overdue: current && s.due.is_some_and(|d| day > d),
                    decision: s.decision,
                    note: s.note,
                    decided_by: s.decided_by,
                    decided_at: s.decided_at,
                    escalated: s.escalated,
                    label: s.label,
                    current,
                }
            })
            .collect();
        let school = |id: Option<i64>| id.and_then(|i| orgs.get(&i));
        out.push(ChangeView {
            id: r.id,
            kind: kind.code(),
            kind_label: kind.label(),
            route: route.as_str(),
            route_label: route.label(),
            student_id: r.student_id,
            student_name: name,
            student_no: mask::student_no(&no),
            id_masked: id_no.as_deref().map(mask::id_number).unwrap_or_default(),
            from_school_code: school(Some(r.from_school_id)).map(|o| o.code.clone()).unwrap_or_default(),
            from_school_name: school(Some(r.from_school_id)).map(|o| o.name.clone()).unwrap_or_default(),
            to_school_code: school(r.to_school_id).map(|o| o.code.clone()),
            to_school_name: school(r.to_school_id).map(|o| o.name.clone()),
            to_class_name: r.to_class_id.and_then(|c| class_names.get(&c).cloned()),
            effective_date: r.effective_date,
            arrival_date: r.arrival_date,
            reason: r.reason,
            has_evidence: r.evidence_id.is_some(),
            status_label: r.status.label(),
            in_transit: open && kind == ChangeKind::Transfer,
            status: r.status,
            requested_by: r.requested_by,
            requested_at: r.requested_at,
            closed_at: r.closed_at,
            current_step: steps.iter().find(|s| s.current).cloned(),
            steps,
            can_decide,
            would_escalate,
        });
    }
    Ok(out)
}

pub(super) fn change_in_scope(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<ChangeRow> {
    let r: ChangeRow = status_changes::table
        .find(id)
        .select(ChangeRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    let orgs = orgs_by_id(conn, &[Some(r.from_school_id), r.to_school_id].into_iter().flatten().collect::<Vec<_>>())?;
    if !in_scope(caller, &orgs, &r) {
        return Err(AppError::not_found());
    }
    Ok(r)
}

pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<ChangeView> {
    caller.require(conn, Permission::ViewStudents, "get_status_change")?;
    let r = change_in_scope(conn, caller, id)?;
    Ok(views(conn, caller, vec![r])?.remove(0))
}

/// Which changes a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Show {
    /// Open changes whose current step the caller may decide.
    Mine,
    #[default]
    Open,
    /// Open transfers: the children between schools.
    InTransit,
    /// Open changes whose current step is past its deadline.
    Overdue,
    All,
}

impl Show {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mine" => Some(Show::Mine),
            "open" | "" => Some(Show::Open),
            "in_transit" => Some(Show::InTransit),
            "overdue" => Some(Show::Overdue),
            "all" => Some(Show::All),
            _ => None,
        }
    }
}

/// Changes touching the caller's scope (either school), newest first, at most 500.
pub fn list(conn: &mut DbConn, caller: &Caller, show: Show) -> AppResult<Vec<ChangeView>> {
    caller.require(conn, Permission::ViewStudents, "list_status_changes")?;
    let schools = || orgs::table.filter(orgs::path.like(caller.scope().like_pattern())).select(orgs::id);
    let mut q = status_changes::table
        .filter(
            status_changes::from_school_id
                .eq_any(schools())
                .or(status_changes::to_school_id.assume_not_null().eq_any(schools())),
        )
        .into_boxed();
    if show != Show::All {
        q = q.filter(status_changes::status.eq(ChangeStatus::Open.as_str()));
    }
    if show == Show::InTransit {
        q = q.filter(status_changes::kind.eq(ChangeKind::Transfer.code()));
    }
    let rows: Vec<ChangeRow> =
        q.select(ChangeRow::as_select()).order(status_changes::id.desc()).limit(500).load(conn)?;
    let all = views(conn, caller, rows)?;
    Ok(all
        .into_iter()
        .filter(|v| match show {
            Show::Mine => v.can_decide,
            Show::Overdue => v.is_overdue(),
            _ => true,
        })
        .collect())
}

/// A student's changes, newest first (for the student page).
pub fn of_student(conn: &mut DbConn, caller: &Caller, student_id: i64) -> AppResult<Vec<ChangeView>> {
    caller.require(conn, Permission::ViewStudents, "student_status_changes")?;
    student_in_scope(conn, caller, student_id)?;
    let rows: Vec<ChangeRow> = status_changes::table
        .filter(status_changes::student_id.eq(student_id))
        .select(ChangeRow::as_select())
        .order(status_changes::id.desc())
        .load(conn)?;
    views(conn, caller, rows)
}

pub fn evidence(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(String, String, Vec<u8>)> {
    caller.require(conn, Permission::ViewStudents, "status_change_evidence")?;
    let r = change_in_scope(conn, caller, id)?;
    let eid = r.evidence_id.ok_or_else(AppError::not_found)?;
    crate::exchange::document::load(conn, eid)
}
