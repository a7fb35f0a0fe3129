//! Corrections of a day whose month is closed: the subsidy of that month is settled, so a
//! school's change waits for its county's nutrition office, who approves (the change is
//! written, checked again against the children eligible now) or refuses it with a note.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::daily::{self, Change};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::clock::local;
use crate::db::schema::{meal_corrections, orgs};
use crate::db::{DbConn, write_tx};
use crate::domain::meal_day;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::org::service::org_in_scope;

/// Where a correction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "CorrectionStatus")]
pub enum Status {
    Pending,
    Approved,
    Refused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Status::Pending, Status::Approved, Status::Refused].into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "待审批",
            Status::Approved => "已同意",
            Status::Refused => "不同意",
        }
    }
}

/// A correction as the county's list shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Correction {
    pub id: i64,
    pub school: String,
    pub school_name: String,
    pub day: NaiveDate,
    pub changes: Vec<Change>,
    pub reason: String,
    pub status: Status,
    pub status_label: &'static str,
    pub requested_by: String,
    /// Beijing time.
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub note: String,
    /// What the caller may do with it (`may_decide`).
    pub actions: CorrectionActions,
}

/// What a caller may do with a correction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CorrectionActions {
    /// 同意 or 不同意.
    pub decide: bool,
}

/// Deciding: the county (or above) that approves meals, while the correction waits. The list
/// offers the decision form on this rule and `decide` refuses on it.
pub fn may_decide(caller: &Caller, id: i64, status: Status) -> AppResult<()> {
    caller.may_at_county(Permission::ApproveMeals)?;
    if status != Status::Pending {
        return Err(AppError::conflict(ErrorCode::MealsCorrectionDecided, format!("更正{id}已经审批过了")));
    }
    Ok(())
}

/// Holds a school's changes of a closed month's day for the county (one open request per day).
pub(crate) fn request(
    conn: &mut DbConn,
    caller: &Caller,
    school: &Org,
    day: NaiveDate,
    changes: &[Change],
    reason: &str,
) -> AppResult<i64> {
    let open: i64 = meal_corrections::table
        .filter(meal_corrections::school_id.eq(school.id))
        .filter(meal_corrections::day.eq(day))
        .filter(meal_corrections::status.eq(Status::Pending.as_str()))
        .count()
        .get_result(conn)?;
    if open > 0 {
        return Err(AppError::conflict(
            ErrorCode::MealsCorrectionPending,
            format!("{day}已有一项更正等待县级审批，审批后再提交"),
        ));
    }
    let body = serde_json::to_string(changes).map_err(AppError::internal)?;
    write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(meal_corrections::table)
            .values((
                meal_corrections::school_id.eq(school.id),
                meal_corrections::day.eq(day),
                meal_corrections::changes.eq(&body),
                meal_corrections::reason.eq(reason),
                meal_corrections::status.eq(Status::Pending.as_str()),
                meal_corrections::requested_by.eq(&caller.username),
                meal_corrections::requested_at.eq(caller.now()),
                meal_corrections::note.eq(""),
            ))
            .returning(meal_corrections::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("meals.correction.request", "meal_correction", id).after(&serde_json::json!({
                "school": school.code, "day": day, "reason": reason,
                "classes": changes.iter().map(|c| (c.class_no.clone(), c.ate)).collect::<std::collections::BTreeMap<_, _>>(),
            })),
        )?;
        Ok(id)
    })
}

type Row =
    (i64, String, String, NaiveDate, String, String, String, String, chrono::NaiveDateTime, Option<String>, String);

fn correction_of(caller: &Caller, r: Row) -> Correction {
    let status = Status::parse(&r.6).unwrap_or(Status::Pending);
    Correction {
        actions: CorrectionActions { decide: may_decide(caller, r.0, status).is_ok() },
        id: r.0,
        school: r.1,
        school_name: r.2,
        day: r.3,
        changes: serde_json::from_str(&r.4).unwrap_or_default(),
        reason: r.5,
        status,
        status_label: status.label(),
        requested_by: r.7,
        requested_at: local(r.8).format("%Y-%m-%d %H:%M").to_string(),
        decided_by: r.9,
        note: r.10,
    }
}

/// The corrections of the schools under an org in the caller's scope, open ones first.
pub fn list(conn: &mut DbConn, caller: &Caller, org_code: &str) -> AppResult<Vec<Correction>> {
    caller.require(conn, Permission::ViewReports, "meal_corrections")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let rows: Vec<Row> = meal_corrections::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(format!("{}%", org.path)))
        .select((
            meal_corrections::id,
            orgs::code,
            orgs::name,
            meal_corrections::day,
            meal_corrections::changes,
            meal_corrections::reason,
            meal_corrections::status,
            meal_corrections::requested_by,
            meal_corrections::requested_at,
            meal_corrections::decided_by,
            meal_corrections::note,
        ))
        .order(meal_corrections::id.desc())
        .limit(500)
        .load(conn)?;
    let mut out: Vec<Correction> = rows.into_iter().map(|r| correction_of(caller, r)).collect();
    out.sort_by_key(|c| c.status != Status::Pending);
    Ok(out)
}

/// The county approves (the changes are written now, if they still fit the children eligible
/// that day) or refuses (a note is required) a pending correction.
pub fn decide(conn: &mut DbConn, caller: &Caller, id: i64, approve: bool, note: &str) -> AppResult<Correction> {
    caller.require(conn, Permission::ApproveMeals, "meal_correction_decide")?;
    let (school_id, day, body, reason, status, by, at): (
        i64,
        NaiveDate,
        String,
        String,
        String,
        String,
        chrono::NaiveDateTime,
    ) = meal_corrections::table
        .find(id)
        .select((
            meal_corrections::school_id,
            meal_corrections::day,
            meal_corrections::changes,
            meal_corrections::reason,
            meal_corrections::status,
            meal_corrections::requested_by,
            meal_corrections::requested_at,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    let school: Org = orgs::table.find(school_id).select(Org::as_select()).first(conn)?;
    // Out of scope reads as not found.
    let school = org_in_scope(conn, caller.scope(), &school.code)?;
    may_decide(caller, id, Status::parse(&status).unwrap_or(Status::Approved))?;
    let note: String = note.trim().chars().take(200).collect();
    if !approve && note.is_empty() {
        return Err(AppError::field("note", ErrorCode::MealsNote, "不同意更正须写明理由"));
    }
    let asked: Vec<Change> = serde_json::from_str(&body).map_err(AppError::internal)?;
    let changes = if approve { still_fits(conn, &school, day, &asked)? } else { Vec::new() };
    let decided = if approve { Status::Approved } else { Status::Refused };
    let late = meal_day::late(day, local(at), super::settings::deadline_for(conn, &school.path)?);
    write_tx(conn, |conn| {
        diesel::update(meal_corrections::table.find(id))
            .set((
                meal_corrections::status.eq(decided.as_str()),
                meal_corrections::decided_by.eq(Some(&caller.username)),
                meal_corrections::decided_at.eq(Some(caller.now())),
                meal_corrections::note.eq(&note),
            ))
            .execute(conn)?;
        if approve {
            daily::apply(conn, caller, &by, &school, day, &changes, &reason, late, at)?;
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new(
                if approve { "meals.correction.approve" } else { "meals.correction.refuse" },
                "meal_correction",
                id,
            )
            .after(&serde_json::json!({"school": school.code, "day": day, "note": note})),
        )
    })?;
    let mut all = list(conn, caller, &school.code)?;
    all.retain(|c| c.id == id);
    all.pop().ok_or_else(AppError::not_found)
}

/// The asked changes checked again against the day as it is now (a child may have left since).
fn still_fits(conn: &mut DbConn, school: &Org, day: NaiveDate, asked: &[Change]) -> AppResult<Vec<Change>> {
    let sheet = daily::sheet_of(conn, school, day)?;
    let form = daily::DayForm {
        classes: asked
            .iter()
            .map(|c| daily::ClassCount {
                class: c.class_no.clone(),
                ate: serde_json::Value::from(c.ate),
                absent: c.absent.iter().map(|a| serde_json::Value::from(a.to_string())).collect(),
            })
            .collect(),
        reason: String::new(),
    };
    daily::changes_of(conn, school, &sheet, &form).map_err(|e| {
        let why = if e.fields.is_empty() {
            e.message.clone()
        } else {
            e.fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("；")
        };
        AppError::conflict(ErrorCode::MealsCorrectionStale, format!("该日情况已变化，更正不能照原样写入：{why}"))
    })
}
