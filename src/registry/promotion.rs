//! Year-end promotion and graduation as one job for a school or a county: a preview first, then
//! one transaction that moves every class up a grade (renamed), graduates the last grade from the
//! day after the graduation date, and moves repeaters (留级) into a class of their old grade. The
//! applied plan is kept, so the job can be undone until it is confirmed; it runs once per org
//! and school year.

use std::collections::HashMap;

use chrono::{Days, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::StudentRow;
use super::service::{add_history, place_student};
use super::terms;
use super::timeline::{self, Switch};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{classes, orgs, promotions, schools, status_changes, student_spells, students};
use crate::db::{DbConn, write_tx};
use crate::domain::codes::grade_name;
use crate::domain::key_lock::school_year_of;
use crate::domain::promotion::{PromotionStatus, final_grade, next_grade, renamed};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::status::{ON_ROLL_STATUSES, State};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::{Org, ancestor_paths};

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct Repeater {
    pub student_no: String,
    /// The class (of the student's present grade after promotion) the repeater joins.
    pub class_no: String,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct PromoteInput {
    /// A school or a county (or any org above schools) in the caller's scope.
    pub org: String,
    /// The school year that is ending (2025 for 2025–2026).
    pub school_year: i32,
    /// The last school day of the graduates; defaults to the end of the year's spring term.
    #[serde(default)]
    pub graduation_date: Option<NaiveDate>,
    #[serde(default)]
    pub repeaters: Vec<Repeater>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClassMove {
    pub class_id: i64,
    pub school_code: String,
    pub school_name: String,
    pub class_no: String,
    pub from_grade: i32,
    /// `None`: the class graduates.
    pub to_grade: Option<i32>,
    pub old_name: String,
    pub new_name: String,
    pub students: usize,
}

impl ClassMove {
    pub fn from_label(&self) -> &'static str {
        grade_name(self.from_grade)
    }

    pub fn to_label(&self) -> &'static str {
        self.to_grade.map(grade_name).unwrap_or("毕业")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StudentMove {
    pub student_id: i64,
    pub student_no: String,
    pub name: String,
    pub from_class: Option<i64>,
    pub to_class: Option<i64>,
    pub to_class_name: String,
    /// `students.status` before the job, restored by an undo.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    pub promotion_id: Option<i64>,
    pub org_code: String,
    pub org_name: String,
    pub school_year: i32,
    pub graduation_date: NaiveDate,
    pub status: PromotionStatus,
    pub schools: usize,
    pub classes: Vec<ClassMove>,
    pub graduates: Vec<StudentMove>,
    pub repeaters: Vec<StudentMove>,
    /// Suspended students of graduating classes: they do not graduate and stay on the roll.
    pub held: Vec<StudentMove>,
}

impl Plan {
    pub fn promoted_classes(&self) -> usize {
        self.classes.iter().filter(|c| c.to_grade.is_some()).count()
    }

    pub fn graduating_classes(&self) -> usize {
        self.classes.iter().filter(|c| c.to_grade.is_none()).count()
    }
}

/// A job already applied or confirmed for the org, one above it or one below it, in the year.
fn earlier_run(conn: &mut DbConn, org: &Org, year: i32) -> AppResult<Option<(String, NaiveDateTime)>> {
    let rows: Vec<(String, String, NaiveDateTime)> = promotions::table
        .inner_join(orgs::table)
        .filter(promotions::school_year.eq(year))
        .filter(promotions::status.eq_any(PromotionStatus::HOLDING.map(PromotionStatus::as_str)))
        .select((orgs::path, orgs::name, promotions::applied_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .find(|(path, _, _)| path.starts_with(&org.path) || org.path.starts_with(path.as_str()))
        .map(|(_, name, at)| (name, at)))
}

/// Builds the plan (nothing written); `apply` writes it.
fn plan(conn: &mut DbConn, caller: &Caller, input: &PromoteInput) -> AppResult<(Org, Plan)> {
    caller.require(conn, Permission::ConfigureRegistry, "promote")?;
    may_run(caller)?;
    let org = crate::org::service::org_in_scope(conn, caller.scope(), input.org.trim())?;
    let year = input.school_year;
    if !(2000..=2100).contains(&year) {
        return Err(AppError::field(
            "school_year",
            ErrorCode::PromotionYear,
            "学年应为四位年份，如2025（2025—2026学年）",
        ));
    }
    if let Some((name, at)) = earlier_run(conn, &org, year)? {
        return Err(AppError::conflict(
            ErrorCode::PromotionAlreadyDone,
            format!("{name}的{year}—{}学年升级毕业已于{}执行，不能重复执行", year + 1, crate::clock::shown(&at)),
        ));
    }
    let graduation_date = match input.graduation_date {
        Some(d) => d,
        None => terms::terms_for(conn, &org.path)?
            .into_iter()
            .find(|t| t.term.school_year() == year && t.term.half() == 2)
            .map(|t| t.end)
            .ok_or_else(|| {
                AppError::field(
                    "graduation_date",
                    ErrorCode::PromotionNoDate,
                    format!("{year}—{}学年第二学期的日期尚未设置，请先设置学期或填写毕业日期", year + 1),
                )
            })?,
    };
    if school_year_of(graduation_date) != year {
        return Err(AppError::field(
            "graduation_date",
            ErrorCode::PromotionDateOutsideYear,
            format!("毕业日期{graduation_date}不在{year}—{}学年内", year + 1),
        ));
    }
    let school_rows: Vec<(Org, String)> = orgs::table
        .inner_join(schools::table)
        .filter(orgs::path.like(format!("{}%", org.path)))
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .select((Org::as_select(), schools::school_type))
        .order(orgs::code.asc())
        .load(conn)?;
    let school_ids: Vec<i64> = school_rows.iter().map(|(o, _)| o.id).collect();
    let by_school: HashMap<i64, (&Org, i32)> = school_rows.iter().map(|(o, t)| (o.id, (o, final_grade(t)))).collect();
    let class_rows: Vec<(i64, i64, String, String, i32)> = classes::table
        .filter(classes::school_id.eq_any(&school_ids))
        .filter(classes::graduated_year.is_null())
        .select((classes::id, classes::school_id, classes::class_no, classes::name, classes::grade))
        .order((classes::school_id.asc(), classes::grade.asc(), classes::class_no.asc()))
        .load(conn)?;
    let roll: Vec<StudentRow> = students::table
        .filter(students::school_id.eq_any(&school_ids))
        .filter(students::status.eq_any(ON_ROLL_STATUSES))
        .select(StudentRow::as_select())
        .load(conn)?;
    let mut per_class: HashMap<i64, Vec<&StudentRow>> = HashMap::new();
    for s in &roll {
        if let Some(c) = s.class_id {
            per_class.entry(c).or_default().push(s);
        }
    }
    let mut moves = Vec::with_capacity(class_rows.len());
    let mut class_info: HashMap<i64, (i64, i32, Option<i32>, String)> = HashMap::new();
    for (id, school_id, class_no, name, grade) in &class_rows {
        let Some((school, last)) = by_school.get(school_id) else { continue };
        let to = next_grade(*grade, *last);
        let new_name = to.map(|g| renamed(name, class_no, *grade, g)).unwrap_or_else(|| name.clone());
        class_info.insert(*id, (*school_id, *grade, to, new_name.clone()));
        moves.push(ClassMove {
            class_id: *id,
            school_code: school.code.clone(),
            school_name: school.name.clone(),
            class_no: class_no.clone(),
            from_grade: *grade,
            to_grade: to,
            old_name: name.clone(),
            new_name,
            students: per_class.get(id).map_or(0, Vec::len),
        });
    }
    // Repeaters: on the roll here, joining a class that will have their present grade.
    let mut repeaters = Vec::new();
    let mut repeating: HashMap<i64, ()> = HashMap::new();
    for r in &input.repeaters {
        let no = crate::domain::id_card::normalise(&r.student_no);
        let s = roll.iter().find(|s| s.student_no == no).ok_or_else(|| {
            AppError::field(
                "repeaters",
                ErrorCode::PromotionUnknownRepeater,
                format!("留级学生“{no}”不在{}的在校学生中", org.name),
            )
        })?;
        let (school_id, grade, _, _) = s.class_id.and_then(|c| class_info.get(&c)).cloned().ok_or_else(|| {
            AppError::field(
                "repeaters",
                ErrorCode::PromotionRepeaterClass,
                format!("留级学生“{}”没有可升级的班级", s.name),
            )
        })?;
        let target = class_rows.iter().find(|(_, sid, cno, _, _)| *sid == school_id && cno == r.class_no.trim());
        let Some((tid, _, _, _, _)) = target else {
            return Err(AppError::field(
                "repeaters",
                ErrorCode::PromotionRepeaterTarget,
                format!("留级学生“{}”的目标班号“{}”在本校不存在", s.name, r.class_no.trim()),
            ));
        };
        let (_, _, target_to, target_name) = class_info.get(tid).cloned().unwrap_or_default();
        if target_to != Some(grade) {
            return Err(AppError::field(
                "repeaters",
                ErrorCode::PromotionRepeaterGrade,
                format!(
                    "留级学生“{}”应编入升级后为{}的班级，班号“{}”升级后为{}",
                    s.name,
                    grade_name(grade),
                    r.class_no.trim(),
                    target_to.map(grade_name).unwrap_or("毕业")
                ),
            ));
        }
        repeating.insert(s.id, ());
        repeaters.push(StudentMove {
            student_id: s.id,
            student_no: crate::domain::mask::student_no(&s.student_no),
            name: s.name.clone(),
            from_class: s.class_id,
            to_class: Some(*tid),
            to_class_name: target_name,
            status: s.status.clone(),
        });
    }
    let graduating: Vec<i64> = moves.iter().filter(|m| m.to_grade.is_none()).map(|m| m.class_id).collect();
    let in_graduating: Vec<&StudentRow> = graduating
        .iter()
        .flat_map(|c| per_class.get(c).cloned().unwrap_or_default())
        .filter(|s| !repeating.contains_key(&s.id))
        .collect();
    let ids: Vec<i64> = in_graduating.iter().map(|s| s.id).chain(repeating.keys().copied()).collect();
    let open: Vec<i64> = status_changes::table
        .filter(status_changes::student_id.eq_any(&ids))
        .filter(status_changes::status.eq(crate::domain::status::ChangeStatus::Open.as_str()))
        .select(status_changes::student_id)
        .load(conn)?;
    if !open.is_empty() {
        let names: Vec<String> = roll.iter().filter(|s| open.contains(&s.id)).map(|s| s.name.clone()).collect();
        return Err(AppError::conflict(
            ErrorCode::PromotionOpenChanges,
            format!("毕业班或留级学生中有正在办理的学籍异动，请先办结：{}", names.join("、")),
        ));
    }
    let mv = |s: &StudentRow| StudentMove {
        student_id: s.id,
        student_no: crate::domain::mask::student_no(&s.student_no),
        name: s.name.clone(),
        from_class: s.class_id,
        to_class: None,
        to_class_name: String::new(),
        status: s.status.clone(),
    };
    let (graduates, held): (Vec<&StudentRow>, Vec<&StudentRow>) =
        in_graduating.into_iter().partition(|s| s.status == State::AtSchool.student_status());
    let plan = Plan {
        promotion_id: None,
        org_code: org.code.clone(),
        org_name: org.name.clone(),
        school_year: year,
        graduation_date,
        status: PromotionStatus::Preview,
        schools: school_rows.len(),
        classes: moves,
        graduates: graduates.into_iter().map(mv).collect(),
        repeaters,
        held: held.into_iter().map(mv).collect(),
    };
    Ok((org, plan))
}

/// Previews (`dry_run`) or applies the job in one transaction.
pub fn promote(conn: &mut DbConn, caller: &Caller, input: &PromoteInput) -> AppResult<Plan> {
    let (org, mut plan) = plan(conn, caller, input)?;
    if input.dry_run {
        return Ok(plan);
    }
    let id = write_tx(conn, |conn| {
        // Checked again inside the transaction: two clicks must not both run.
        if earlier_run(conn, &org, plan.school_year)?.is_some() {
            return Err(AppError::conflict(ErrorCode::PromotionAlreadyDone, "本学年升级毕业已执行，不能重复执行"));
        }
        let id: i64 = diesel::insert_into(promotions::table)
            .values((
                promotions::org_id.eq(org.id),
                promotions::school_year.eq(plan.school_year),
                promotions::graduation_date.eq(plan.graduation_date),
                promotions::status.eq(PromotionStatus::Applied.as_str()),
                promotions::plan.eq(""),
                promotions::applied_by.eq(&caller.username),
                promotions::applied_at.eq(caller.now()),
            ))
            .returning(promotions::id)
            .get_result(conn)?;
        plan.promotion_id = Some(id);
        plan.status = PromotionStatus::Applied;
        apply(conn, caller, &plan, id)?;
        recompute(conn, caller, &plan, "promotion.apply")?;
        diesel::update(promotions::table.find(id))
            .set(promotions::plan.eq(serde_json::to_string(&plan).unwrap_or_default()))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("promotion.apply", "org", &org.code).after(&serde_json::json!({
                "promotion": id, "school_year": plan.school_year, "graduation_date": plan.graduation_date,
                "classes_promoted": plan.promoted_classes(), "classes_graduated": plan.graduating_classes(),
                "graduates": plan.graduates.len(), "repeaters": plan.repeaters.len(),
            })),
        )?;
        Ok(id)
    })?;
    plan.promotion_id = Some(id);
    Ok(plan)
}

fn apply(conn: &mut DbConn, caller: &Caller, plan: &Plan, id: i64) -> AppResult<()> {
    let t = caller.now();
    for c in &plan.classes {
        match c.to_grade {
            Some(g) => diesel::update(classes::table.find(c.class_id))
                .set((classes::grade.eq(g), classes::name.eq(&c.new_name), classes::updated_at.eq(t)))
                .execute(conn)?,
            None => diesel::update(classes::table.find(c.class_id))
                .set((classes::graduated_year.eq(plan.school_year), classes::updated_at.eq(t)))
                .execute(conn)?,
        };
    }
    let first_day = plan.graduation_date + Days::new(1);
    let why = format!("{}—{}学年升级毕业", plan.school_year, plan.school_year + 1);
    for g in &plan.graduates {
        let school_id: i64 = students::table.find(g.student_id).select(students::school_id).first(conn)?;
        timeline::switch(
            conn,
            g.student_id,
            &Switch {
                on: first_day,
                state: State::Graduated,
                school_id,
                class_id: g.from_class,
                cause: "graduation",
                change_id: None,
                promotion_id: Some(id),
            },
        )
        .map_err(|e| AppError::conflict(ErrorCode::PromotionTimeline, format!("“{}”：{}", g.name, e.message)))?;
        diesel::update(students::table.find(g.student_id))
            .set((students::status.eq(State::Graduated.student_status()), students::updated_at.eq(t)))
            .execute(conn)?;
        add_history(
            conn,
            g.student_id,
            "status",
            Some(&g.status),
            Some(State::Graduated.student_status()),
            &why,
            caller,
        )?;
    }
    for r in &plan.repeaters {
        let row: StudentRow = students::table.find(r.student_id).select(StudentRow::as_select()).first(conn)?;
        timeline::switch(
            conn,
            r.student_id,
            &Switch {
                on: first_day,
                state: State::AtSchool,
                school_id: row.school_id,
                class_id: r.to_class,
                cause: "02",
                change_id: None,
                promotion_id: Some(id),
            },
        )
        .map_err(|e| AppError::conflict(ErrorCode::PromotionTimeline, format!("“{}”：{}", r.name, e.message)))?;
        place_student(conn, caller, &row, (row.school_id, &row.county_code), r.to_class, &format!("{why}：留级"))?;
    }
    Ok(())
}

/// Grades and graduations change what the schools' children are owed from the day after the
/// graduation date: their computed months from then on are computed again.
fn recompute(conn: &mut DbConn, caller: &Caller, plan: &Plan, cause: &str) -> AppResult<()> {
    let class_ids: Vec<i64> = plan.classes.iter().map(|c| c.class_id).collect();
    let mut schools: Vec<i64> = Vec::new();
    for chunk in class_ids.chunks(500) {
        schools.extend(classes::table.filter(classes::id.eq_any(chunk)).select(classes::school_id).load::<i64>(conn)?);
    }
    crate::ledger::entitlement::recompute_from(conn, caller, &schools, plan.graduation_date + Days::new(1), cause)
}

/// Who runs promotions (plans, applies, confirms and undoes them): the county (or above) that
/// configures the registry. The promotions page offers its forms on this rule.
pub fn may_run(caller: &Caller) -> AppResult<()> {
    caller.may_at_county(Permission::ConfigureRegistry)
}

/// Confirming or undoing a job: whoever runs promotions, while the job is applied and not yet
/// final (`verb` names the refused action: 确认 or 撤销).
fn may_settle(caller: &Caller, status: PromotionStatus, code: ErrorCode, verb: &str) -> AppResult<()> {
    may_run(caller)?;
    if status != PromotionStatus::Applied {
        return Err(AppError::conflict(code, format!("该升级任务{}，不能{verb}", status.label())));
    }
    Ok(())
}

/// What a caller may do with a promotion job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PromotionActions {
    /// 确认 (make it final).
    pub confirm: bool,
    /// 撤销.
    pub undo: bool,
}

fn actions(caller: &Caller, status: PromotionStatus) -> PromotionActions {
    PromotionActions {
        confirm: may_settle(caller, status, ErrorCode::PromotionNotApplied, "确认").is_ok(),
        undo: may_settle(caller, status, ErrorCode::PromotionNotReversible, "撤销").is_ok(),
    }
}

fn load(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(Org, PromotionStatus, Plan)> {
    caller.require(conn, Permission::ConfigureRegistry, "promotion")?;
    let (org, row): (Org, PromotionRow) = promotions::table
        .inner_join(orgs::table)
        .filter(promotions::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((Org::as_select(), PromotionRow::as_select()))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    let plan: Plan = serde_json::from_str(&row.plan).map_err(AppError::internal)?;
    Ok((org, row.status, plan))
}

/// Makes an applied job final: it can no longer be undone.
pub fn confirm(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<PromotionView> {
    let (org, status, _) = load(conn, caller, id)?;
    may_settle(caller, status, ErrorCode::PromotionNotApplied, "确认")?;
    write_tx(conn, |conn| {
        diesel::update(promotions::table.find(id))
            .set((
                promotions::status.eq(PromotionStatus::Confirmed.as_str()),
                promotions::closed_by.eq(&caller.username),
                promotions::closed_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("promotion.confirm", "org", &org.code).after(&id))
    })?;
    get(conn, caller, id)
}

/// Takes an applied job back: grades, names and graduations restored, the spells it opened
/// removed. Refused once confirmed, or when a student it moved has changed since.
pub fn undo(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<PromotionView> {
    let (org, status, plan) = load(conn, caller, id)?;
    may_settle(caller, status, ErrorCode::PromotionNotReversible, "撤销")?;
    write_tx(conn, |conn| {
        let moved_on: Vec<i64> = student_spells::table
            .filter(student_spells::promotion_id.eq(id))
            .filter(student_spells::to_date.is_not_null())
            .select(student_spells::student_id)
            .load(conn)?;
        if !moved_on.is_empty() {
            return Err(AppError::conflict(
                ErrorCode::PromotionChangedSince,
                format!("升级后已有{}名学生办理了新的学籍异动，不能撤销", moved_on.len()),
            ));
        }
        let t = caller.now();
        for c in &plan.classes {
            diesel::update(classes::table.find(c.class_id))
                .set((
                    classes::grade.eq(c.from_grade),
                    classes::name.eq(&c.old_name),
                    classes::graduated_year.eq(None::<i32>),
                    classes::updated_at.eq(t),
                ))
                .execute(conn)?;
        }
        let why = format!("撤销{}—{}学年升级毕业", plan.school_year, plan.school_year + 1);
        for g in &plan.graduates {
            timeline::undo_last(conn, g.student_id)?;
            diesel::update(students::table.find(g.student_id))
                .set((students::status.eq(&g.status), students::updated_at.eq(t)))
                .execute(conn)?;
            add_history(
                conn,
                g.student_id,
                "status",
                Some(State::Graduated.student_status()),
                Some(&g.status),
                &why,
                caller,
            )?;
        }
        for r in &plan.repeaters {
            timeline::undo_last(conn, r.student_id)?;
            let row: StudentRow = students::table.find(r.student_id).select(StudentRow::as_select()).first(conn)?;
            place_student(conn, caller, &row, (row.school_id, &row.county_code), r.from_class, &why)?;
        }
        recompute(conn, caller, &plan, "promotion.undo")?;
        diesel::update(promotions::table.find(id))
            .set((
                promotions::status.eq(PromotionStatus::Undone.as_str()),
                promotions::closed_by.eq(&caller.username),
                promotions::closed_at.eq(t),
            ))
            .execute(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("promotion.undo", "org", &org.code).after(&id))
    })?;
    get(conn, caller, id)
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PromotionView {
    pub id: i64,
    pub org_code: String,
    pub org_name: String,
    pub school_year: i32,
    pub graduation_date: NaiveDate,
    pub status: PromotionStatus,
    pub status_label: &'static str,
    pub classes_promoted: usize,
    pub classes_graduated: usize,
    pub graduates: usize,
    pub repeaters: usize,
    pub applied_by: String,
    pub applied_at: NaiveDateTime,
    pub closed_by: Option<String>,
    pub closed_at: Option<NaiveDateTime>,
    /// What the caller may do with it.
    pub actions: PromotionActions,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = promotions)]
struct PromotionRow {
    id: i64,
    school_year: i32,
    graduation_date: NaiveDate,
    #[diesel(deserialize_as = String)]
    status: PromotionStatus,
    plan: String,
    applied_by: String,
    applied_at: NaiveDateTime,
    closed_by: Option<String>,
    closed_at: Option<NaiveDateTime>,
}

fn view(caller: &Caller, (r, org_code, org_name): (PromotionRow, String, String)) -> PromotionView {
    let plan: Option<Plan> = serde_json::from_str(&r.plan).ok();
    PromotionView {
        id: r.id,
        org_code,
        org_name,
        school_year: r.school_year,
        graduation_date: r.graduation_date,
        status: r.status,
        status_label: r.status.label(),
        actions: actions(caller, r.status),
        classes_promoted: plan.as_ref().map_or(0, Plan::promoted_classes),
        classes_graduated: plan.as_ref().map_or(0, Plan::graduating_classes),
        graduates: plan.as_ref().map_or(0, |p| p.graduates.len()),
        repeaters: plan.as_ref().map_or(0, |p| p.repeaters.len()),
        applied_by: r.applied_by,
        applied_at: r.applied_at,
        closed_by: r.closed_by,
        closed_at: r.closed_at,
    }
}

pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<PromotionView> {
    let row = promotions::table
        .inner_join(orgs::table)
        .filter(promotions::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((PromotionRow::as_select(), orgs::code, orgs::name))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    Ok(view(caller, row))
}

/// Jobs run for the caller's org, above it or below it, newest first.
pub fn list(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<PromotionView>> {
    caller.require(conn, Permission::ViewStudents, "list_promotions")?;
    let rows: Vec<(PromotionRow, String, String)> = promotions::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()).or(orgs::path.eq_any(ancestor_paths(caller.org_path()))))
        .select((PromotionRow::as_select(), orgs::code, orgs::name))
        .order(promotions::id.desc())
        .load(conn)?;
    Ok(rows.into_iter().map(|r| view(caller, r)).collect())
}
