//! 就餐日报: a school's count of children who ate, per class and meal day, held against the named
//! children of the class eligible that day (confirmed, at the school that day, in a compulsory
//! grade) — exact, not an attendance factor. One number per class; the sheet comes prefilled.
//! A day without meals, a count above the eligible children, a future day are refused; after the
//! deadline a record is late; a change after the day needs its reason, and once the month's
//! entitlements are closed it is refused (the county's approval of such a change is to come).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::clock::{now, today};
use crate::db::schema::{daily_meals, entitlement_periods, orgs, student_spells, students};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::Month;
use crate::domain::meal_day::{self, DEFAULT_DEADLINE};
use crate::domain::programme::is_compulsory_grade;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::status::State;
use crate::error::{AppError, AppResult, FieldError};
use crate::org::model::Org;
use crate::org::service::org_in_scope;

/// One class of a day's sheet.
#[derive(Debug, Clone, Serialize)]
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
}

/// A school's day: whether it has meals, and its classes.
#[derive(Debug, Clone, Serialize)]
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
}

/// What a school sends: per class (by 班级号) the number who ate; a reason when correcting a past day.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DayForm {
    #[serde(default)]
    pub classes: Vec<ClassCount>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClassCount {
    #[serde(default)]
    pub class: String,
    /// A number, or its text as typed.
    #[serde(default)]
    pub ate: serde_json::Value,
}

fn school_of(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    let org = org_in_scope(conn, caller.scope(), code)?;
    if OrgKind::parse(&org.kind) != Some(OrgKind::School) {
        return Err(AppError::field("school", "meals.school", format!("“{}”不是学校", org.name)));
    }
    Ok(org)
}

/// The school's compulsory-grade classes on the day with their eligible children.
fn eligible(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<Vec<(i64, String, String, i32)>> {
    let classes = crate::programme::roster::classes_on(conn, school, day)?;
    let kids: Vec<(i64, Option<i64>)> = student_spells::table
        .inner_join(students::table)
        .filter(student_spells::school_id.eq(school.id))
        .filter(student_spells::state.eq(State::AtSchool.as_str()))
        .filter(student_spells::from_date.le(day))
        .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(day)))
        .filter(students::review.eq("confirmed"))
        .select((student_spells::student_id, student_spells::class_id))
        .load(conn)?;
    let mut per: BTreeMap<i64, std::collections::BTreeSet<i64>> = BTreeMap::new();
    for (kid, class) in kids {
        if let Some(c) = class {
            per.entry(c).or_default().insert(kid);
        }
    }
    let mut out: Vec<(i64, String, String, i32)> = classes
        .into_iter()
        .filter(|(_, (_, _, grade))| is_compulsory_grade(*grade))
        .map(|(id, (no, name, _))| (id, no, name, per.get(&id).map_or(0, |s| s.len() as i32)))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Whether the school has meals that day: in the programme, and a meal day of its calendar.
fn has_meals(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<bool> {
    let member = crate::programme::config::memberships(conn, school.id)?.iter().any(|p| p.contains(day));
    Ok(member && crate::programme::calendar::meal_days(conn, &school.path, day, day)?.contains(&day))
}

/// The day's sheet for a school in the caller's scope.
pub fn sheet(conn: &mut DbConn, caller: &Caller, school_code: &str, day: NaiveDate) -> AppResult<DaySheet> {
    caller.require(conn, Permission::ViewReports, "meal_day")?;
    let school = school_of(conn, caller, school_code)?;
    sheet_of(conn, &school, day)
}

fn sheet_of(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<DaySheet> {
    let meal_day = has_meals(conn, school, day)?;
    let recorded: BTreeMap<i64, (i32, bool, String)> = daily_meals::table
        .filter(daily_meals::school_id.eq(school.id))
        .filter(daily_meals::day.eq(day))
        .select((daily_meals::class_id, daily_meals::ate, daily_meals::late, daily_meals::recorded_by))
        .load::<(i64, i32, bool, String)>(conn)?
        .into_iter()
        .map(|(c, a, l, b)| (c, (a, l, b)))
        .collect();
    let classes: Vec<ClassDay> = eligible(conn, school, day)?
        .into_iter()
        .map(|(class_id, class_no, name, eligible)| {
            let r = recorded.get(&class_id);
            ClassDay {
                class_id,
                class_no,
                name,
                eligible,
                ate: r.map(|r| r.0),
                late: r.is_some_and(|r| r.1),
                recorded_by: r.map(|r| r.2.clone()),
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
    })
}

fn typed(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Records (or corrects) a school's day, all classes sent or none. The caller is the school's
/// own nutrition officer or principal.
pub fn record(
    conn: &mut DbConn,
    caller: &Caller,
    school_code: &str,
    day: NaiveDate,
    form: &DayForm,
) -> AppResult<DaySheet> {
    caller.require(conn, Permission::RecordMeals, "meal_day_record")?;
    let school = school_of(conn, caller, school_code)?;
    if !caller.is_cli() && caller.org_id != school.id {
        return Err(AppError::invalid("meals.not_own_school", format!("就餐日报由{}本校填报", school.name)));
    }
    let today = today();
    if day > today {
        return Err(AppError::field("day", "meals.future_day", format!("{day}还没有到，不能预先填报")));
    }
    if !has_meals(conn, &school, day)? {
        return Err(AppError::field(
            "day",
            "meals.no_meal_day",
            format!("{day}不是{}的供餐日（未纳入营养改善计划或校历无供餐），不能填报就餐人数", school.name),
        ));
    }
    let closed = entitlement_periods::table
        .filter(entitlement_periods::school_id.eq(school.id))
        .filter(entitlement_periods::month.eq(Month::of(day).key()))
        .filter(entitlement_periods::status.eq("closed"))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if closed {
        return Err(AppError::conflict(
            "meals.month_closed",
            format!("{}的补助已结账，更正就餐日报须报县级审批", Month::of(day).key()),
        ));
    }
    let sheet = sheet_of(conn, &school, day)?;
    let by_no: BTreeMap<&str, &ClassDay> = sheet.classes.iter().map(|c| (c.class_no.as_str(), c)).collect();
    let mut errors: Vec<FieldError> = Vec::new();
    let mut counts: Vec<(&ClassDay, i32)> = Vec::new();
    for (i, c) in form.classes.iter().enumerate() {
        let field = format!("classes[{i}]");
        let Some(class) = by_no.get(c.class.trim()) else {
            errors.push(FieldError {
                field,
                code: "meals.class",
                message: format!("第{}项：{}没有班级号为“{}”的义务教育班级", i + 1, school.name, c.class.trim()),
            });
            continue;
        };
        match meal_day::count(&typed(&c.ate), class.eligible) {
            Ok(n) => counts.push((class, n)),
            Err(m) => errors.push(FieldError {
                field: format!("ate_{}", class.class_no),
                code: "meals.count",
                message: format!("{}：{m}", class.name),
            }),
        }
    }
    if counts.is_empty() && errors.is_empty() {
        return Err(AppError::field("classes", "meals.empty", "请至少填报一个班级的就餐人数"));
    }
    let changes: Vec<(&ClassDay, i32)> = counts.iter().filter(|(c, n)| c.ate != Some(*n)).copied().collect();
    let reason: String = form.reason.trim().chars().take(200).collect();
    let corrects = changes.iter().any(|(c, _)| c.ate.is_some());
    if errors.is_empty() && corrects && meal_day::correction_needs_reason(day, today) && reason.is_empty() {
        errors.push(FieldError {
            field: "reason".into(),
            code: "meals.reason",
            message: format!("更正{day}已报的就餐人数须填写原因"),
        });
    }
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }
    let at = now();
    let late = meal_day::late(day, crate::clock::local(at), DEFAULT_DEADLINE);
    write_tx(conn, |conn| {
        for (class, ate) in &changes {
            let updated = diesel::update(
                daily_meals::table.filter(daily_meals::class_id.eq(class.class_id)).filter(daily_meals::day.eq(day)),
            )
            .set((
                daily_meals::ate.eq(ate),
                daily_meals::eligible.eq(class.eligible),
                daily_meals::reason.eq(&reason),
                daily_meals::recorded_by.eq(&caller.username),
                daily_meals::recorded_at.eq(at),
            ))
            .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(daily_meals::table)
                    .values((
                        daily_meals::school_id.eq(school.id),
                        daily_meals::class_id.eq(class.class_id),
                        daily_meals::day.eq(day),
                        daily_meals::eligible.eq(class.eligible),
                        daily_meals::ate.eq(ate),
                        daily_meals::late.eq(late),
                        daily_meals::reason.eq(&reason),
                        daily_meals::recorded_by.eq(&caller.username),
                        daily_meals::recorded_at.eq(at),
                    ))
                    .execute(conn)?;
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("meals.day", "school", &school.code)
                .before(&changes.iter().map(|(c, _)| (c.class_no.clone(), c.ate)).collect::<BTreeMap<_, _>>())
                .after(&serde_json::json!({
                    "day": day, "late": late, "reason": reason,
                    "classes": changes.iter().map(|(c, n)| (c.class_no.clone(), *n)).collect::<BTreeMap<_, _>>(),
                })),
        )
    })?;
    sheet_of(conn, &school, day)
}

/// A school on the county's reporting board for a day.
#[derive(Debug, Clone, Serialize)]
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
