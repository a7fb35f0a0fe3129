//! The status timeline in the database (`student_spells`), kept by the rule in
//! `domain::timeline`, and the question the rest of the system asks of it: which students were
//! eligible at school S on day d.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::service::student_in_scope;
use crate::auth::Caller;
use crate::db::schema::{classes, orgs, student_spells, students};
use crate::db::{DbConn, at_rest};
use crate::domain::role::Permission;
use crate::domain::status::State;
use crate::domain::student::Review;
use crate::domain::timeline::{Spell, Timeline};
use crate::error::{AppError, AppResult, ErrorCode};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = student_spells)]
pub struct SpellRow {
    pub id: i64,
    pub student_id: i64,
    pub state: String,
    pub school_id: i64,
    pub class_id: Option<i64>,
    pub from_date: NaiveDate,
    pub to_date: Option<NaiveDate>,
    pub cause: String,
    pub change_id: Option<i64>,
    pub promotion_id: Option<i64>,
}

impl SpellRow {
    fn spell(&self) -> Spell {
        Spell {
            state: State::parse(&self.state).unwrap_or(State::Left),
            school_id: self.school_id,
            class_id: self.class_id,
            from: self.from_date,
            to: self.to_date,
        }
    }
}

/// Why a spell began, for people.
pub fn cause_label(cause: &str) -> &'static str {
    match cause {
        "enrol" => "入学注册",
        "promotion" => "升级",
        "graduation" => "毕业",
        "02" => "留级",
        "transfer_out" => "转学（转出）",
        "22" => "转学（转入）",
        other => crate::domain::status::ChangeKind::parse(other).map(|k| k.label()).unwrap_or("其他"),
    }
}

pub fn load(conn: &mut DbConn, student_id: i64) -> AppResult<Vec<SpellRow>> {
    Ok(student_spells::table
        .filter(student_spells::student_id.eq(student_id))
        .select(SpellRow::as_select())
        .order(student_spells::from_date.asc())
        .load(conn)?)
}

/// The timelines of many students at once (chunked so the bind list stays small).
pub fn timelines(conn: &mut DbConn, student_ids: &[i64]) -> AppResult<std::collections::HashMap<i64, Timeline>> {
    let mut rows: std::collections::HashMap<i64, Vec<Spell>> = std::collections::HashMap::new();
    for chunk in student_ids.chunks(5000) {
        let got: Vec<SpellRow> = student_spells::table
            .filter(student_spells::student_id.eq_any(chunk))
            .select(SpellRow::as_select())
            .load(conn)?;
        for r in got {
            rows.entry(r.student_id).or_default().push(r.spell());
        }
    }
    Ok(rows.into_iter().map(|(id, spells)| (id, Timeline::new(spells))).collect())
}

pub fn timeline_of(rows: &[SpellRow]) -> Timeline {
    Timeline::new(rows.iter().map(SpellRow::spell).collect())
}

/// The first spell of new students: (student, school, class, from). In the caller's transaction.
pub fn enrol(conn: &mut DbConn, rows: &[(i64, i64, Option<i64>, NaiveDate)]) -> AppResult<()> {
    let values: Vec<_> = rows
        .iter()
        .map(|(student, school, class, from)| {
            (
                student_spells::student_id.eq(*student),
                student_spells::state.eq(State::AtSchool.as_str()),
                student_spells::school_id.eq(*school),
                student_spells::class_id.eq(*class),
                student_spells::from_date.eq(*from),
                student_spells::cause.eq("enrol"),
            )
        })
        .collect();
    crate::insert_bulk!(conn, student_spells::table, &values)?;
    Ok(())
}

/// What starts a new spell and why.
#[derive(Debug, Clone)]
pub struct Switch<'a> {
    pub on: NaiveDate,
    pub state: State,
    pub school_id: i64,
    pub class_id: Option<i64>,
    pub cause: &'a str,
    pub change_id: Option<i64>,
    pub promotion_id: Option<i64>,
}

/// Ends the student's current spell the day before `s.on` and opens the new one, by the rule of
/// `domain::timeline`. In the caller's transaction.
pub fn switch(conn: &mut DbConn, student_id: i64, s: &Switch<'_>) -> AppResult<()> {
    let rows = load(conn, student_id)?;
    timeline_of(&rows)
        .can_switch(s.on)
        .map_err(|m| AppError::field("effective_date", ErrorCode::ChangeEffectiveDate, m))?;
    let Some(current) = rows.last() else { return Err(AppError::not_found()) };
    diesel::update(student_spells::table.find(current.id)).set(student_spells::to_date.eq(s.on)).execute(conn)?;
    diesel::insert_into(student_spells::table)
        .values((
            student_spells::student_id.eq(student_id),
            student_spells::state.eq(s.state.as_str()),
            student_spells::school_id.eq(s.school_id),
            student_spells::class_id.eq(s.class_id),
            student_spells::from_date.eq(s.on),
            student_spells::cause.eq(s.cause),
            student_spells::change_id.eq(s.change_id),
            student_spells::promotion_id.eq(s.promotion_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// A transfer's last approval: the child is at the new school from `arrival`. Arriving on the
/// leaving day, the in-transit spell becomes the first spell at the new school; arriving later,
/// the in-transit spell ends the day before and the new school's spell begins on `arrival`.
/// In the caller's transaction.
pub fn land_transfer(
    conn: &mut DbConn,
    change_id: i64,
    school_id: i64,
    class_id: Option<i64>,
    arrival: NaiveDate,
) -> AppResult<()> {
    let transit: Option<SpellRow> = student_spells::table
        .filter(student_spells::change_id.eq(change_id))
        .filter(student_spells::to_date.is_null())
        .filter(student_spells::state.eq(State::InTransit.as_str()))
        .select(SpellRow::as_select())
        .first(conn)
        .optional()?;
    let Some(transit) = transit else {
        return Err(AppError::conflict(ErrorCode::TimelineNoTransit, "该转学的在途状态不存在，无法完成转学"));
    };
    if arrival < transit.from_date {
        return Err(AppError::conflict(ErrorCode::TransferArrivalBeforeLeaving, "到校日期早于离校日期"));
    }
    if arrival == transit.from_date {
        diesel::update(student_spells::table.find(transit.id))
            .set((
                student_spells::state.eq(State::AtSchool.as_str()),
                student_spells::school_id.eq(school_id),
                student_spells::class_id.eq(class_id),
                student_spells::cause.eq("22"),
            ))
            .execute(conn)?;
        return Ok(());
    }
    diesel::update(student_spells::table.find(transit.id)).set(student_spells::to_date.eq(arrival)).execute(conn)?;
    diesel::insert_into(student_spells::table)
        .values((
            student_spells::student_id.eq(transit.student_id),
            student_spells::state.eq(State::AtSchool.as_str()),
            student_spells::school_id.eq(school_id),
            student_spells::class_id.eq(class_id),
            student_spells::from_date.eq(arrival),
            student_spells::cause.eq("22"),
            student_spells::change_id.eq(Some(change_id)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes back the current spell and reopens the one before it. In the caller's transaction.
pub fn undo_last(conn: &mut DbConn, student_id: i64) -> AppResult<()> {
    let rows = load(conn, student_id)?;
    let [.., prev, last] = rows.as_slice() else {
        return Err(AppError::conflict(ErrorCode::TimelineNothingToUndo, "没有可撤回的学籍状态"));
    };
    diesel::delete(student_spells::table.find(last.id)).execute(conn)?;
    diesel::update(student_spells::table.find(prev.id))
        .set(student_spells::to_date.eq(None::<NaiveDate>))
        .execute(conn)?;
    Ok(())
}

/// The students eligible at a school on a day: at school there (not suspended, in transit or
/// gone) and confirmed into the database. Unscoped: callers check the school is theirs.
pub fn eligible_at(conn: &mut DbConn, school_id: i64, day: NaiveDate) -> AppResult<Vec<i64>> {
    Ok(placed_at(conn, school_id, day)?.into_iter().map(|(id, _)| id).collect())
}

/// [`eligible_at`] with the class each student was in on that day.
pub fn placed_at(conn: &mut DbConn, school_id: i64, day: NaiveDate) -> AppResult<Vec<(i64, Option<i64>)>> {
    Ok(placed_at_many(conn, &[school_id], day)?.into_iter().map(|p| (p.student_id, p.class_id)).collect())
}

/// A child at school on a day, with the fields the programme counts by.
#[derive(Debug, Clone, Queryable)]
pub struct Placed {
    pub school_id: i64,
    pub student_id: i64,
    pub class_id: Option<i64>,
    /// 性别 code: 1 男, 2 女.
    pub sex: String,
    /// 就读方式 code.
    pub attendance: String,
    pub yibu: bool,
    /// 留守儿童 code.
    pub left_behind: String,
    pub migrant: bool,
}

/// The same for several schools at once, by school then student.
pub fn placed_at_many(conn: &mut DbConn, school_ids: &[i64], day: NaiveDate) -> AppResult<Vec<Placed>> {
    let mut out = Vec::new();
    for chunk in school_ids.chunks(500) {
        out.extend(
            student_spells::table
                .inner_join(students::table)
                .filter(student_spells::school_id.eq_any(chunk))
                .filter(student_spells::state.eq(State::AtSchool.as_str()))
                .filter(student_spells::from_date.le(day))
                .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(day)))
                .filter(students::review.eq(Review::Confirmed.as_str()))
                .select((
                    student_spells::school_id,
                    students::id,
                    student_spells::class_id,
                    students::sex,
                    students::attendance,
                    students::yibu,
                    students::left_behind,
                    students::migrant,
                ))
                .order((student_spells::school_id.asc(), students::id.asc()))
                .load::<Placed>(conn)?,
        );
    }
    Ok(out)
}

/// The spell a student was in on a day, with the school's name: why a child is (not) on a roll.
pub fn spell_on(conn: &mut DbConn, student_id: i64, day: NaiveDate) -> AppResult<Option<(SpellRow, String)>> {
    Ok(student_spells::table
        .inner_join(orgs::table.on(orgs::id.eq(student_spells::school_id)))
        .filter(student_spells::student_id.eq(student_id))
        .filter(student_spells::from_date.le(day))
        .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(day)))
        .select((SpellRow::as_select(), orgs::name))
        .first(conn)
        .optional()?)
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EligibleStudent {
    pub id: i64,
    pub student_no: String,
    pub name: String,
    pub class_name: String,
}

/// [`eligible_at`] for a school in the caller's scope, with names, for pages and the API.
pub fn eligible_list(
    conn: &mut DbConn,
    caller: &Caller,
    school_code: &str,
    day: NaiveDate,
) -> AppResult<Vec<EligibleStudent>> {
    caller.require(conn, Permission::ViewStudents, "eligible_students")?;
    let school = crate::org::service::org_in_scope(conn, caller.scope(), school_code)?;
    let ids = eligible_at(conn, school.id, day)?;
    let rows: Vec<(i64, String, String, Option<String>)> = students::table
        .left_join(classes::table)
        .filter(students::id.eq_any(&ids))
        .select((students::id, students::student_no_sealed, students::name, classes::name.nullable()))
        .order((students::class_id.asc(), students::name.asc()))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, student_no, name, class)| {
            Ok(EligibleStudent {
                id,
                student_no: crate::domain::mask::student_no(&at_rest::student_no(&student_no)?),
                name,
                class_name: class.unwrap_or_default(),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SpellView {
    pub state: &'static str,
    pub state_label: &'static str,
    pub school_code: String,
    pub school_name: String,
    pub class_name: String,
    pub from: NaiveDate,
    /// The last day of the spell (inclusive), for people; `None` while current.
    pub until: Option<NaiveDate>,
    pub cause: String,
    pub cause_label: &'static str,
    pub change_id: Option<i64>,
}

/// A student's timeline as people read it, newest last.
pub fn view(conn: &mut DbConn, caller: &Caller, student_id: i64) -> AppResult<Vec<SpellView>> {
    caller.require(conn, Permission::ViewStudents, "student_timeline")?;
    student_in_scope(conn, caller, student_id)?;
    let rows: Vec<(SpellRow, String, String, Option<String>)> = student_spells::table
        .inner_join(orgs::table.on(orgs::id.eq(student_spells::school_id)))
        .left_join(classes::table.on(classes::id.nullable().eq(student_spells::class_id)))
        .filter(student_spells::student_id.eq(student_id))
        .select((SpellRow::as_select(), orgs::code, orgs::name, classes::name.nullable()))
        .order(student_spells::from_date.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(r, school_code, school_name, class)| {
            let state = State::parse(&r.state).unwrap_or(State::Left);
            SpellView {
                state: state.as_str(),
                state_label: state.label(),
                school_code,
                school_name,
                class_name: class.unwrap_or_default(),
                from: r.from_date,
                until: r.to_date.and_then(|d| d.pred_opt()),
                cause_label: cause_label(&r.cause),
                cause: r.cause,
                change_id: r.change_id,
            }
        })
        .collect())
}
