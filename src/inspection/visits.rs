//! Recording a visit: the day, the school's own count of the meal against the inspector's, a
//! note, and for each drawn child whether they were there, in that class, eating there, and
//! confirmed by the guardian. A recount gap of 10 % or more becomes a finding by itself.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Deserialize;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{finding_events, findings, inspection_plans, inspection_sampled, inspection_visits, orgs};
use crate::db::{DbConn, write_tx};
use crate::domain::anomaly::Severity;
use crate::domain::finding::Status;
use crate::domain::role::Permission;
use crate::domain::sampling::VisitStatus;
use crate::error::{AppError, AppResult, ErrorCode};

/// A gap this large (percent of the inspector's count) between the school's count and the
/// recount is a finding.
pub const RECOUNT_GAP: i64 = 10;

/// One drawn child's ticks.
#[derive(Debug, Clone, Copy, Default, Deserialize, schemars::JsonSchema)]
pub struct Tick {
    pub seq: i32,
    #[serde(default)]
    pub present: bool,
    #[serde(default)]
    pub in_class: bool,
    #[serde(default)]
    pub eats_here: bool,
    #[serde(default)]
    pub guardian_confirms: bool,
}

/// What a visit recorded, as typed.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct VisitForm {
    #[serde(default)]
    pub visited_on: String,
    #[serde(default)]
    pub meals_school: String,
    #[serde(default)]
    pub meals_counted: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub children: Vec<Tick>,
}

impl VisitForm {
    /// From a page's fields: `present_3=1` and so on for child 3 (a box left empty is a no).
    pub fn from_fields(f: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        let seqs: std::collections::BTreeSet<i32> =
            f.keys().filter_map(|k| k.strip_prefix("child_")).filter_map(|s| s.parse().ok()).collect();
        let on = |k: String| f.get(&k).is_some_and(|v| v == "1");
        Self {
            visited_on: get("visited_on"),
            meals_school: get("meals_school"),
            meals_counted: get("meals_counted"),
            note: get("note"),
            children: seqs
                .into_iter()
                .map(|seq| Tick {
                    seq,
                    present: on(format!("present_{seq}")),
                    in_class: on(format!("in_class_{seq}")),
                    eats_here: on(format!("eats_{seq}")),
                    guardian_confirms: on(format!("guardian_{seq}")),
                })
                .collect(),
        }
    }
}

/// The recount gap in whole percent of the inspector's count, when it is a finding.
pub fn recount_gap(school: i32, counted: i32) -> Option<i64> {
    let (s, c) = (i64::from(school), i64::from(counted));
    let gap = if c == 0 { if s > 0 { 100 } else { 0 } } else { ((s - c).abs() * 100 + c / 2) / c };
    (gap >= RECOUNT_GAP).then_some(gap)
}

/// Recording a visit: an inspector, once, for a visit still planned. The plan's page offers the
/// form on this rule.
pub fn may_record(caller: &Caller, status: VisitStatus) -> AppResult<()> {
    if !caller.may(Permission::Inspect) {
        return Err(AppError::forbidden());
    }
    if status != VisitStatus::Planned {
        return Err(AppError::conflict(ErrorCode::VisitRecorded, "该校的现场核查已记录"));
    }
    Ok(())
}

/// Records a planned visit once; returns the finding a recount gap opened, if any.
pub fn record(conn: &mut DbConn, caller: &Caller, visit_id: i64, form: &VisitForm) -> AppResult<Option<i64>> {
    caller.require(conn, Permission::Inspect, "visit_record")?;
    let (school, status, term): (i64, String, String) = inspection_visits::table
        .inner_join(inspection_plans::table)
        .inner_join(orgs::table.on(orgs::id.eq(inspection_visits::school_id)))
        .filter(inspection_visits::id.eq(visit_id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((inspection_visits::school_id, inspection_visits::status, inspection_plans::term))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    may_record(caller, crate::error::stored::<VisitStatus>(status)?)?;
    let day: NaiveDate = form.visited_on.trim().parse().map_err(|_| {
        AppError::field(
            "visited_on",
            ErrorCode::VisitDate,
            format!("核查日期“{}”应为日期，如2026-12-03", form.visited_on.trim()),
        )
    })?;
    if day > caller.today() {
        return Err(AppError::field("visited_on", ErrorCode::VisitDate, format!("核查日期{day}晚于今天")));
    }
    let count = |field: &str, label: &str, v: &str| -> AppResult<Option<i32>> {
        match v.trim() {
            "" => Ok(None),
            t => t.parse::<i32>().ok().filter(|n| (0..=100_000).contains(n)).map(Some).ok_or_else(|| {
                AppError::field(field, ErrorCode::VisitCount, format!("{label}“{t}”应为0至100000之间的整数"))
            }),
        }
    };
    let meals_school = count("meals_school", "学校自报就餐人数", &form.meals_school)?;
    let meals_counted = count("meals_counted", "现场清点人数", &form.meals_counted)?;
    let note: String = form.note.trim().chars().take(2000).collect();
    let gap = match (meals_school, meals_counted) {
        (Some(s), Some(c)) => recount_gap(s, c).map(|g| (s, c, g)),
        _ => None,
    };
    write_tx(conn, |conn| {
        diesel::update(inspection_visits::table.find(visit_id))
            .set((
                inspection_visits::status.eq(VisitStatus::Visited.as_str()),
                inspection_visits::visited_on.eq(day),
                inspection_visits::visited_by.eq(&caller.username),
                inspection_visits::meals_school.eq(meals_school),
                inspection_visits::meals_counted.eq(meals_counted),
                inspection_visits::note.eq(&note),
            ))
            .execute(conn)?;
        for t in &form.children {
            diesel::update(
                inspection_sampled::table
                    .filter(inspection_sampled::visit_id.eq(visit_id))
                    .filter(inspection_sampled::seq.eq(t.seq)),
            )
            .set((
                inspection_sampled::present.eq(t.present),
                inspection_sampled::in_class.eq(t.in_class),
                inspection_sampled::eats_here.eq(t.eats_here),
                inspection_sampled::guardian_confirms.eq(t.guardian_confirms),
            ))
            .execute(conn)?;
        }
        let finding = match gap {
            Some((s, c, g)) => {
                let text = format!(
                    "{day}当餐就餐人数：学校自报{s}人，督查现场清点{c}人，相差{g}%（达{RECOUNT_GAP}%即记为问题）"
                );
                let id: i64 = diesel::insert_into(findings::table)
                    .values((
                        findings::school_id.eq(school),
                        findings::term.eq(&term),
                        findings::visit_id.eq(Some(visit_id)),
                        findings::rule.eq("visit"),
                        findings::severity.eq(Severity::Warn.as_str()),
                        findings::description.eq(&text),
                        findings::status.eq(Status::Open.as_str()),
                        findings::recorded_by.eq(&caller.username),
                        findings::recorded_at.eq(caller.now()),
                    ))
                    .returning(findings::id)
                    .get_result(conn)?;
                diesel::insert_into(finding_events::table)
                    .values((
                        finding_events::finding_id.eq(id),
                        finding_events::at.eq(caller.now()),
                        finding_events::actor.eq(&caller.username),
                        finding_events::to_status.eq(Status::Open.as_str()),
                        finding_events::note.eq(&text),
                    ))
                    .execute(conn)?;
                Some(id)
            }
            None => None,
        };
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("inspection.visit", "visit", visit_id).after(&serde_json::json!({
                "visited_on": day, "meals_school": meals_school, "meals_counted": meals_counted,
                "children": form.children.len(), "finding": finding,
            })),
        )?;
        Ok(finding)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recount_gap_of_ten_percent_is_a_finding_and_nine_is_not() {
        assert_eq!(recount_gap(110, 100), Some(10));
        assert_eq!(recount_gap(109, 100), None);
        assert_eq!(recount_gap(90, 100), Some(10));
        assert_eq!(recount_gap(5, 0), Some(100));
        assert_eq!(recount_gap(0, 0), None);
    }
}
