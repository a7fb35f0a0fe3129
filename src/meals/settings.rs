//! A county's daily deadline for its schools' meal records: the nearest setting on a school's
//! path (a province may set one for all its counties), else 14:00 Beijing time.

use chrono::NaiveTime;
use diesel::prelude::*;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{meal_settings, orgs};
use crate::db::{DbConn, write_tx};
use crate::domain::meal_day::{DEFAULT_DEADLINE, parse_deadline};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::ancestor_paths;

/// The deadline that applies to an org (a school: its county's).
pub fn deadline_for(conn: &mut DbConn, path: &str) -> AppResult<NaiveTime> {
    let rows: Vec<(String, String)> = meal_settings::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(path)))
        .select((orgs::path, meal_settings::deadline))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .max_by_key(|(p, _)| p.len())
        .and_then(|(_, t)| parse_deadline(&t).ok())
        .unwrap_or(DEFAULT_DEADLINE))
}

/// Who sets the deadline: the county (or above) that approves meals, for its own org. The
/// progress board of the caller's own org offers the form on this rule.
pub fn may_set_deadline(caller: &Caller) -> AppResult<()> {
    caller.may_at_county(Permission::ApproveMeals)
}

/// Sets the deadline for the caller's own org and everything below it (county and above).
pub fn set_deadline(conn: &mut DbConn, caller: &Caller, typed: &str) -> AppResult<NaiveTime> {
    caller.require(conn, Permission::ApproveMeals, "set_meal_deadline")?;
    may_set_deadline(caller)?;
    let t = parse_deadline(typed).map_err(|m| AppError::field("deadline", ErrorCode::MealsDeadline, m))?;
    let shown = t.format("%H:%M").to_string();
    write_tx(conn, |conn| {
        diesel::delete(meal_settings::table.filter(meal_settings::org_id.eq(caller.org_id))).execute(conn)?;
        diesel::insert_into(meal_settings::table)
            .values((
                meal_settings::org_id.eq(caller.org_id),
                meal_settings::deadline.eq(&shown),
                meal_settings::set_by.eq(&caller.username),
                meal_settings::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("meals.deadline", "org", &caller.org_code).after(&shown))
    })?;
    Ok(t)
}
