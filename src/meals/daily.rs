//! 就餐日报: a school's count of children who ate, per class and meal day, held against the named
//! children of the class eligible that day (confirmed, at the school that day, in a compulsory
//! grade) — exact, not an attendance factor. One number per class; the sheet comes prefilled.
//! A day without meals, a count above the eligible children (less any the school names absent),
//! a future day are refused; after the county's deadline a record is late; a change after the
//! day needs its reason, and once the month's entitlements are closed it waits for the county's
//! approval (`corrections`).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{daily_meal_absences, daily_meals, entitlement_periods, orgs, student_spells, students};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::Month;
use crate::domain::meal_day;
use crate::domain::programme::is_compulsory_grade;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::status::State;
use crate::domain::student::Review;
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::org::model::Org;
use crate::org::service::org_in_scope;

/// A child of a class's day, as the sheet lists it (学籍号 masked).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[schemars(rename = "EligibleChild")]
pub struct Child {
    pub id: i64,
    pub name: String,
    /// Masked, filled when the sheet is shown: the numbers are sealed, and the day's checks,
    /// run far more often than a sheet is read, need none of them.
    pub student_no: String,
}

/// One class of a day's sheet.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ClassDay {
    pub class_id: i64,
    pub class_no: String,
    pub name: String,
    /// Confirmed children of the class at the school that day.
    pub eligible: i32,
    /// What was recorded, if anything.
    pub ate: Option<i32>,
    pub late: bool,
    pub recorded_by: Option<String>,
    /// The eligible children, to name the absent from (for callers who may read the registry).
    pub children: Vec<Child>,
    /// Those named absent on the record.
    pub absent: Vec<i64>,
}

/// A school's day: whether it has meals, and its classes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DaySheet {
    pub school: String,
    pub school_name: String,
    pub day: NaiveDate,
    pub meal_day: bool,
    pub classes: Vec<ClassDay>,
    pub eligible: i32,
    /// Children who ate, over the classes recorded.
    pub ate: i32,
    pub reported: bool,
    /// The county's deadline, HH:MM Beijing time.
    pub deadline: String,
    /// Whether the month is closed: changes wait for the county's approval.
    pub closed: bool,
}

/// What a school sends: per class (by 班级号) the number who ate and, optionally, the children
/// absent (each by 学籍号 or by the id the sheet lists); a reason when correcting a past day.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct DayForm {
    #[serde(default)]
    pub classes: Vec<ClassCount>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct ClassCount {
    #[serde(default)]
    pub class: String,
    /// A number, or its text as typed.
    #[serde(default)]
    #[schemars(with = "crate::web::api_doc::NumberOrText")]
    pub ate: serde_json::Value,
    /// Each child by 学籍号 or by the id the sheet lists.
    #[serde(default)]
    #[schemars(with = "Vec<crate::web::api_doc::NumberOrText>")]
    pub absent: Vec<serde_json::Value>,
}

/// One class's change, as applied (or held for the county's approval).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Change {
    pub class_id: i64,
    pub class_no: String,
    pub eligible: i32,
    pub before: Option<i32>,
    pub ate: i32,
    pub absent: Vec<i64>,
}

/// What a submission did: saved, or held for the county (the month is closed).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Recorded {
    Saved { sheet: DaySheet },
    Pending { correction: i64, sheet: DaySheet },
}

pub(crate) fn school_of(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    let org = org_in_scope(conn, caller.scope(), code)?;
    if org.kind != OrgKind::School {
        return Err(AppError::field("school", ErrorCode::MealsSchool, format!("“{}”不是学校", org.name)));
    }
    Ok(org)
}

/// A class of a day with its eligible children.
pub(crate) struct EligibleClass {
    pub id: i64,
    pub class_no: String,
    pub name: String,
    pub children: Vec<Child>,
}

/// The school's compulsory-grade classes on the day with their eligible children (学籍号 left
/// empty: [`shown`] fills them in, masked).
pub(crate) fn eligible(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<Vec<EligibleClass>> {
    let classes = crate::programme::roster::classes_on(conn, school, day)?;
    let kids: Vec<(i64, Option<i64>, String)> = student_spells::table
        .inner_join(students::table)
        .filter(student_spells::school_id.eq(school.id))
        .filter(student_spells::state.eq(State::AtSchool.as_str()))
        .filter(student_spells::from_date.le(day))
        .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(day)))
        .filter(students::review.eq(Review::Confirmed.as_str()))
        .select((student_spells::student_id, student_spells::class_id, students::name))
        .load(conn)?;
    let mut per: BTreeMap<i64, BTreeMap<i64, Child>> = BTreeMap::new();
    for (id, class, name) in kids {
        if let Some(c) = class {
            per.entry(c).or_default().insert(id, Child { id, name, student_no: String::new() });
        }
    }
    let mut out: Vec<EligibleClass> = classes
        .into_iter()
        .filter(|(_, (_, _, grade))| is_compulsory_grade(*grade))
        .map(|(id, (class_no, name, _))| EligibleClass {
            id,
            class_no,
            name,
            children: per.remove(&id).map(|m| m.into_values().collect()).unwrap_or_default(),
        })
        .collect();
    out.sort_by(|a, b| a.class_no.cmp(&b.class_no));
    Ok(out)
}

/// Whether the school has meals that day: in the programme, and a meal day of its calendar.
pub(crate) fn has_meals(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<bool> {
    let member = crate::programme::config::memberships(conn, school.id)?.iter().any(|p| p.contains(day));
    Ok(member && crate::programme::calendar::meal_days(conn, &school.path, day, day)?.contains(&day))
}

/// The day's sheet for a school in the caller's scope.
pub fn sheet(conn: &mut DbConn, caller: &Caller, school_code: &str, day: NaiveDate) -> AppResult<DaySheet> {
    caller.require(conn, Permission::ViewReports, "meal_day")?;
    let school = school_of(conn, caller, school_code)?;
    let sheet = sheet_of(conn, &school, day)?;
    shown(conn, caller, sheet)
}

/// The sheet as a caller sees it: children's 学籍号 masked, and no children at all for a
/// caller who may not read the registry.
fn shown(conn: &mut DbConn, caller: &Caller, mut sheet: DaySheet) -> AppResult<DaySheet> {
    if !caller.may(Permission::ViewStudents) {
        for c in &mut sheet.classes {
            c.children.clear();
        }
        return Ok(sheet);
    }
    let ids: Vec<i64> = sheet.classes.iter().flat_map(|c| c.children.iter().map(|k| k.id)).collect();
    let mut numbers: HashMap<i64, String> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(5_000) {
        let rows: Vec<(i64, String)> = students::table
            .filter(students::id.eq_any(chunk))
            .select((students::id, students::student_no_sealed))
            .load(conn)?;
        for (id, sealed) in rows {
            numbers.insert(id, crate::domain::mask::student_no(&crate::db::at_rest::student_no(&sealed)?));
        }
    }
    for child in sheet.classes.iter_mut().flat_map(|c| c.children.iter_mut()) {
        child.student_no = numbers.remove(&child.id).unwrap_or_default();
    }
    Ok(sheet)
}

/// The children named absent on a school's records of a day, per class.
fn absences(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<BTreeMap<i64, Vec<i64>>> {
    let rows: Vec<(i64, i64)> = daily_meal_absences::table
        .inner_join(daily_meals::table)
        .filter(daily_meals::school_id.eq(school.id))
        .filter(daily_meals::day.eq(day))
        .select((daily_meals::class_id, daily_meal_absences::student_id))
        .order(daily_meal_absences::student_id.asc())
        .load(conn)?;
    let mut out: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (class, kid) in rows {
        out.entry(class).or_default().push(kid);
    }
    Ok(out)
}

/// The day's sheet, without the children's 学籍号 (for the service's own checks).
pub(crate) fn sheet_of(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<DaySheet> {
    let meal_day = has_meals(conn, school, day)?;
    let recorded: BTreeMap<i64, (i32, bool, String)> = daily_meals::table
        .filter(daily_meals::school_id.eq(school.id))
        .filter(daily_meals::day.eq(day))
        .select((daily_meals::class_id, daily_meals::ate, daily_meals::late, daily_meals::recorded_by))
        .load::<(i64, i32, bool, String)>(conn)?
        .into_iter()
        .map(|(c, a, l, b)| (c, (a, l, b)))
        .collect();
    let mut absent = absences(conn, school, day)?;
    let classes: Vec<ClassDay> = eligible(conn, school, day)?
        .into_iter()
        .map(|c| {
            let r = recorded.get(&c.id);
            ClassDay {
                class_id: c.id,
                eligible: i32::try_from(c.children.len()).unwrap_or(i32::MAX),
                class_no: c.class_no,
                name: c.name,
                ate: r.map(|r| r.0),
                late: r.is_some_and(|r| r.1),
                recorded_by: r.map(|r| r.2.clone()),
                children: c.children,
                absent: absent.remove(&c.id).unwrap_or_default(),
            }
        })
        .collect();
    Ok(DaySheet {
        school: school.code.clone(),
        school_name: school.name.clone(),
        day,
        meal_day,
        eligible: classes.iter().map(|c| c.eligible).sum(),
        ate: classes.iter().filter_map(|c| c.ate).sum(),
        reported: !classes.is_empty() && classes.iter().all(|c| c.ate.is_some()),
        classes,
        deadline: super::settings::deadline_for(conn, &school.path)?.format("%H:%M").to_string(),
        closed: month_closed(conn, school, day)?,
    })
}

pub(crate) fn typed(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Whether the month of `day` is closed for the school (its entitlements settled).
pub(crate) fn month_closed(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<bool> {
    Ok(entitlement_periods::table
        .filter(entitlement_periods::school_id.eq(school.id))
        .filter(entitlement_periods::month.eq(Month::of(day).key()))
        .filter(entitlement_periods::status.eq(crate::domain::entitlement::PeriodStatus::Closed.as_str()))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Who may record a day's meals: the school's own people (the command line, any school's), on a
/// meal day that has come. The day page offers its form on this rule and `record` refuses on it.
pub fn may_record(caller: &Caller, sheet: &DaySheet) -> AppResult<()> {
    if !caller.may(Permission::RecordMeals) {
        return Err(AppError::forbidden());
    }
    let (day, name) = (sheet.day, &sheet.school_name);
    if !caller.acts_for(&sheet.school) {
        return Err(AppError::invalid(ErrorCode::MealsNotOwnSchool, format!("就餐日报由{name}本校填报")));
    }
    if day > caller.today() {
        return Err(AppError::field("day", ErrorCode::MealsFutureDay, format!("{day}还没有到，不能预先填报")));
    }
    if !sheet.meal_day {
        return Err(AppError::field(
            "day",
            ErrorCode::MealsNoMealDay,
            format!("{day}不是{name}的供餐日（未纳入营养改善计划或校历无供餐），不能填报就餐人数"),
        ));
    }
    Ok(())
}

/// The school of a record and its day's sheet, checked by `may_record`.
fn recordable(conn: &mut DbConn, caller: &Caller, school_code: &str, day: NaiveDate) -> AppResult<(Org, DaySheet)> {
    caller.require(conn, Permission::RecordMeals, "meal_day_record")?;
    let school = school_of(conn, caller, school_code)?;
    let sheet = sheet_of(conn, &school, day)?;
    may_record(caller, &sheet)?;
    Ok((school, sheet))
}

/// The changes a form asks for against the day's sheet, every refusal named by class.
pub(crate) fn changes_of(conn: &mut DbConn, school: &Org, sheet: &DaySheet, form: &DayForm) -> AppResult<Vec<Change>> {
    let by_no: BTreeMap<&str, &ClassDay> = sheet.classes.iter().map(|c| (c.class_no.as_str(), c)).collect();
    let mut errors: Vec<FieldError> = Vec::new();
    let mut out: Vec<Change> = Vec::new();
    for (i, c) in form.classes.iter().enumerate() {
        let Some(class) = by_no.get(c.class.trim()) else {
            errors.push(FieldError {
                field: format!("classes[{i}]"),
                code: ErrorCode::MealsClass,
                message: format!("第{}项：{}没有班级号为“{}”的义务教育班级", i + 1, school.name, c.class.trim()),
            });
            continue;
        };
        let mut absent: Vec<i64> = Vec::new();
        for a in &c.absent {
            let a = typed(a);
            let a = a.trim();
            // A child by the id the sheet lists, or by 学籍号 (which starts with a letter; found
            // by its hash, the numbers being sealed).
            let id = match a.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => students::table
                    .filter(students::student_no_hash.eq(crate::db::at_rest::student_no_hash(a)?))
                    .select(students::id)
                    .first(conn)
                    .optional()?,
            };
            match class.children.iter().find(|k| Some(k.id) == id) {
                Some(k) if !absent.contains(&k.id) => absent.push(k.id),
                Some(_) => {}
                None => errors.push(FieldError {
                    field: format!("absent_{}", class.class_no),
                    code: ErrorCode::MealsAbsentChild,
                    message: format!("{}：点名缺勤的“{a}”不是该班当日在籍受益学生", class.name),
                }),
            }
        }
        absent.sort_unstable();
        match meal_day::count(&typed(&c.ate), class.eligible, absent.len()) {
            Ok(ate) => out.push(Change {
                class_id: class.class_id,
                class_no: class.class_no.clone(),
                eligible: class.eligible,
                before: class.ate,
                ate,
                absent,
            }),
            Err(m) => errors.push(FieldError {
                field: format!("ate_{}", class.class_no),
                code: ErrorCode::MealsCount,
                message: format!("{}：{m}", class.name),
            }),
        }
    }
    if out.is_empty() && errors.is_empty() {
        return Err(AppError::field("classes", ErrorCode::MealsEmpty, "请至少填报一个班级的就餐人数"));
    }
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }
    let unchanged =
        |c: &Change| by_no.get(c.class_no.as_str()).is_some_and(|k| k.ate == Some(c.ate) && k.absent == c.absent);
    out.retain(|c| !unchanged(c));
    Ok(out)
}

/// Records (or corrects) a school's day, all classes sent or none. The caller is the school's
/// own nutrition officer or principal. In a closed month the changes wait for the county.
pub fn record(
    conn: &mut DbConn,
    caller: &Caller,
    school_code: &str,
    day: NaiveDate,
    form: &DayForm,
) -> AppResult<Recorded> {
    let (school, sheet) = recordable(conn, caller, school_code, day)?;
    let changes = changes_of(conn, &school, &sheet, form)?;
    let reason: String = form.reason.trim().chars().take(200).collect();
    let corrects = changes.iter().any(|c| c.before.is_some());
    if corrects && meal_day::correction_needs_reason(day, caller.today()) && reason.is_empty() {
        return Err(AppError::field("reason", ErrorCode::MealsReason, format!("更正{day}已报的就餐人数须填写原因")));
    }
    if !changes.is_empty() && sheet.closed {
        if reason.is_empty() {
            return Err(AppError::field(
                "reason",
                ErrorCode::MealsReason,
                format!("{}的补助已结账，补报或更正须写明原因并报县级审批", Month::of(day)),
            ));
        }
        let correction = super::corrections::request(conn, caller, &school, day, &changes, &reason)?;
        return Ok(Recorded::Pending { correction, sheet: shown(conn, caller, sheet)? });
    }
    let at = caller.now();
    let deadline = meal_day::parse_deadline(&sheet.deadline).unwrap_or(meal_day::DEFAULT_DEADLINE);
    let late = meal_day::late(day, crate::clock::local(at), deadline);
    write_tx(conn, |conn| apply(conn, caller, &caller.username, &school, day, &changes, &reason, late, at))?;
    Ok(Recorded::Saved { sheet: shown(conn, caller, sheet.with(&changes, late, &caller.username))? })
}

impl DaySheet {
    /// The sheet once `changes` are written (what `apply` wrote, without reading it back).
    fn with(mut self, changes: &[Change], late: bool, by: &str) -> Self {
        for c in changes {
            if let Some(class) = self.classes.iter_mut().find(|k| k.class_id == c.class_id) {
                if class.ate.is_none() {
                    class.late = late;
                }
                class.ate = Some(c.ate);
                class.absent.clone_from(&c.absent);
                class.recorded_by = Some(by.to_owned());
            }
        }
        self.ate = self.classes.iter().filter_map(|c| c.ate).sum();
        self.reported = !self.classes.is_empty() && self.classes.iter().all(|c| c.ate.is_some());
        self
    }
}

/// Writes a day's changes, recorded by `by`, and their audit row (inside the caller's
/// transaction). A class first recorded now is late or not as `late` says; a correction keeps
/// the original's mark.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply(
    conn: &mut DbConn,
    caller: &Caller,
    by: &str,
    school: &Org,
    day: NaiveDate,
    changes: &[Change],
    reason: &str,
    late: bool,
    at: chrono::NaiveDateTime,
) -> AppResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    // One upsert for the day's classes: a correction keeps the first record's late mark.
    let rows: Vec<_> = changes
        .iter()
        .map(|c| {
            (
                daily_meals::school_id.eq(school.id),
                daily_meals::class_id.eq(c.class_id),
                daily_meals::day.eq(day),
                daily_meals::eligible.eq(c.eligible),
                daily_meals::ate.eq(c.ate),
                daily_meals::late.eq(late),
                daily_meals::reason.eq(reason),
                daily_meals::recorded_by.eq(by),
                daily_meals::recorded_at.eq(at),
            )
        })
        .collect();
    use diesel::upsert::excluded;
    let ids: BTreeMap<i64, i64> = crate::per_backend!(conn, |c| diesel::insert_into(daily_meals::table)
        .values(&rows)
        .on_conflict((daily_meals::class_id, daily_meals::day))
        .do_update()
        .set((
            daily_meals::eligible.eq(excluded(daily_meals::eligible)),
            daily_meals::ate.eq(excluded(daily_meals::ate)),
            daily_meals::reason.eq(excluded(daily_meals::reason)),
            daily_meals::recorded_by.eq(excluded(daily_meals::recorded_by)),
            daily_meals::recorded_at.eq(excluded(daily_meals::recorded_at)),
        ))
        .returning((daily_meals::class_id, daily_meals::id))
        .get_results::<(i64, i64)>(c))?
    .into_iter()
    .collect();
    // The children named absent, replaced where a record had some.
    let corrected: Vec<i64> =
        changes.iter().filter(|c| c.before.is_some()).filter_map(|c| ids.get(&c.class_id)).copied().collect();
    if !corrected.is_empty() {
        diesel::delete(daily_meal_absences::table.filter(daily_meal_absences::daily_meal_id.eq_any(&corrected)))
            .execute(conn)?;
    }
    let absent: Vec<_> = changes
        .iter()
        .filter_map(|c| ids.get(&c.class_id).map(|id| (id, c)))
        .flat_map(|(id, c)| {
            c.absent
                .iter()
                .map(move |kid| (daily_meal_absences::daily_meal_id.eq(*id), daily_meal_absences::student_id.eq(*kid)))
        })
        .collect();
    if !absent.is_empty() {
        crate::per_backend!(conn, |c| diesel::insert_into(daily_meal_absences::table).values(&absent).execute(c))?;
    }
    audit::record(
        conn,
        &caller.actor(),
        Entry::new("meals.day", "school", &school.code)
            .before(&changes.iter().map(|c| (c.class_no.clone(), c.before)).collect::<BTreeMap<_, _>>())
            .after(&serde_json::json!({
                "day": day, "late": late, "reason": reason,
                "classes": changes.iter().map(|c| (c.class_no.clone(), c.ate)).collect::<BTreeMap<_, _>>(),
                "absent": changes.iter().filter(|c| !c.absent.is_empty())
                    .map(|c| (c.class_no.clone(), c.absent.len())).collect::<BTreeMap<_, _>>(),
            })),
    )
}

/// A school on the county's reporting board for a day.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BoardRow {
    pub school: String,
    pub name: String,
    pub classes: usize,
    pub reported_classes: usize,
    pub eligible: i32,
    pub ate: i32,
    pub late: bool,
}

/// The programme schools under an org with a meal day on `day`, and how far each has reported.
pub fn board(conn: &mut DbConn, caller: &Caller, org_code: &str, day: NaiveDate) -> AppResult<(Org, Vec<BoardRow>)> {
    caller.require(conn, Permission::ViewReports, "meal_board")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let schools: Vec<Org> = orgs::table
        .filter(orgs::path.like(format!("{}%", org.path)))
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .order(orgs::code.asc())
        .select(Org::as_select())
        .load(conn)?;
    let mut rows = Vec::new();
    for s in schools {
        if !has_meals(conn, &s, day)? {
            continue;
        }
        let sheet = sheet_of(conn, &s, day)?;
        rows.push(BoardRow {
            reported_classes: sheet.classes.iter().filter(|c| c.ate.is_some()).count(),
            classes: sheet.classes.len(),
            late: sheet.classes.iter().any(|c| c.late),
            eligible: sheet.eligible,
            ate: sheet.ate,
            school: s.code,
            name: s.name,
        });
    }
    // Those not yet reported first: what the county chases.
    rows.sort_by_key(|r| (r.reported_classes == r.classes && r.classes > 0, r.school.clone()));
    Ok((org, rows))
}
