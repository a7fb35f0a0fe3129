//! A county's rule for reviewing rosters: whether 审核 and 备案 must be done by two different
//! people (off unless the county turns it on). Read by the roster's step rule.

use diesel::prelude::*;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{orgs, roster_settings};
use crate::db::{DbConn, write_tx};
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};

/// Whether the county (by its code) requires two people for 审核 and 备案.
pub fn two_person(conn: &mut DbConn, county_code: &str) -> AppResult<bool> {
    Ok(roster_settings::table
        .inner_join(orgs::table)
        .filter(orgs::code.eq(county_code))
        .select(roster_settings::two_person)
        .first(conn)
        .optional()?
        .unwrap_or(false))
}

/// The caller's county sets the rule (its roster reviewers, audited).
pub fn set_two_person(conn: &mut DbConn, caller: &Caller, on: bool) -> AppResult<()> {
    caller.require(conn, Permission::ReviewRoster, "roster_review_rule")?;
    if caller.org_kind != OrgKind::County {
        return Err(AppError::new(ErrorKind::Forbidden, ErrorCode::RosterRuleCountyOnly, "花名册审核规则由县级设置"));
    }
    let before = two_person(conn, &caller.org_code)?;
    write_tx(conn, |conn| {
        diesel::delete(roster_settings::table.filter(roster_settings::org_id.eq(caller.org_id))).execute(conn)?;
        diesel::insert_into(roster_settings::table)
            .values((
                roster_settings::org_id.eq(caller.org_id),
                roster_settings::two_person.eq(on),
                roster_settings::set_by.eq(&caller.username),
                roster_settings::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("roster.review_rule", "org", caller.org_id)
                .before(&serde_json::json!({"two_person": before}))
                .after(&serde_json::json!({"two_person": on})),
        )
    })
}
