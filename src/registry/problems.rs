//! The county's problem queue (问题学籍): a record that fired a duplicate rule is compared with the
//! student it duplicates and resolved by keeping it (evidence shows a different child), deleting
//! it (entered twice), or merging it into that student with its provenance kept.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::changes;
use super::model::{HistoryRow, StudentRow};
use super::service::{add_history, apply_update, audit_copy, issues_to_error, student_in_scope, visible_record};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::at_rest::{self, MergedRecord, MergedStudentNo, StudentNumber};
use crate::db::schema::{
    change_requests, orgs, status_changes, student_history, student_merges, student_photos, student_spells, students,
};
use crate::db::{DbConn, write_tx};
use crate::domain::mask;
use crate::domain::role::Permission;
use crate::domain::student::{FIELDS, Review, StudentRecord};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};

/// What the county decides for a problem record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A different child after all: back to pending confirmation.
    Keep,
    /// Entered twice: removed.
    Delete,
    /// The same child: removed, its blank-filling values and provenance kept on the survivor.
    Merge,
}

impl Resolution {
    pub fn parse(s: &str) -> AppResult<Self> {
        match s {
            "keep" => Ok(Self::Keep),
            "delete" => Ok(Self::Delete),
            "merge" => Ok(Self::Merge),
            _ => Err(AppError::field("decision", ErrorCode::StudentDecision, "请选择处理方式：保留、删除或合并")),
        }
    }
}

/// One field side by side: the problem record and the student it duplicates.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ComparedField {
    pub key: &'static str,
    pub header: &'static str,
    pub this: String,
    pub that: String,
    pub differs: bool,
}

/// The student a problem record duplicates, as the county sees it when deciding.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "DuplicateComparison")]
pub struct Comparison {
    pub id: i64,
    pub student_no: String,
    pub school_name: String,
    pub review_label: &'static str,
    /// Whether the caller can open (and so merge into) the other record.
    pub in_scope: bool,
    pub fields: Vec<ComparedField>,
}

/// The record a problem duplicates, field by field, or None when it points at nothing (any more).
/// A holder outside the caller's scope is named by school only.
pub fn compare(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Option<Comparison>> {
    caller.require(conn, Permission::ViewStudents, "compare_duplicate")?;
    let (row, _) = student_in_scope(conn, caller, id)?;
    let Some(of) = row.duplicate_of.filter(|_| row.review == Review::Problem) else { return Ok(None) };
    match student_in_scope(conn, caller, of) {
        Ok((other, school)) => {
            // Shown masked; compared in full (two numbers can share a mask).
            let (this, that) = (visible_record(&row), visible_record(&other));
            let (this_full, that_full) = (row.record(), other.record());
            let fields = FIELDS
                .iter()
                .filter(|f| !this.get(f.key).is_empty() || !that.get(f.key).is_empty())
                .map(|f| ComparedField {
                    key: f.key,
                    header: f.header,
                    this: this.display(f.key),
                    that: that.display(f.key),
                    differs: this_full.get(f.key) != that_full.get(f.key),
                })
                .collect();
            Ok(Some(Comparison {
                id: other.id,
                student_no: mask::student_no(&other.student_no),
                school_name: school.name,
                review_label: other.review.label(),
                in_scope: true,
                fields,
            }))
        }
        Err(e) if e.kind == ErrorKind::NotFound => {
            let held: Option<(String, String, String)> = students::table
                .inner_join(orgs::table)
                .filter(students::id.eq(of))
                .select((students::student_no_sealed, orgs::name, students::review))
                .first(conn)
                .optional()?;
            let Some((student_no, school_name, review)) = held else { return Ok(None) };
            Ok(Some(Comparison {
                id: of,
                student_no: mask::student_no(&at_rest::open::<StudentNumber>(&student_no)?),
                school_name,
                review_label: Review::try_from(review).map_or("未知", Review::label),
                in_scope: false,
                fields: Vec::new(),
            }))
        }
        Err(e) => Err(e),
    }
}

/// Resolving a problem record (保留、删除、合并): the county that confirms students, while the
/// record is in the problem list. The student's page offers the form on this rule.
pub fn may_resolve(caller: &Caller, review: Review) -> AppResult<()> {
    if !caller.may(Permission::ConfirmStudents) {
        return Err(AppError::forbidden());
    }
    if review != Review::Problem {
        return Err(AppError::conflict(ErrorCode::StudentNotAProblem, "该学生不在问题学籍中"));
    }
    Ok(())
}

/// Resolves a problem record. Returns the student the user should see next: the kept record,
/// the merge survivor, or None after a deletion.
pub fn resolve(
    conn: &mut DbConn,
    caller: &Caller,
    id: i64,
    decision: Resolution,
    note: &str,
) -> AppResult<Option<i64>> {
    caller.require(conn, Permission::ConfirmStudents, "resolve_problem")?;
    let (row, school) = student_in_scope(conn, caller, id)?;
    may_resolve(caller, row.review)?;
    let note = crate::domain::text::required("处理说明", note, 200)
        .map_err(|m| AppError::field("note", ErrorCode::StudentNote, m))?;
    let before = serde_json::json!({
        "problem": row.problem, "record": audit_copy(&row.record()), "student_no": mask::student_no(&row.student_no),
    });
    write_tx(conn, |conn| {
        let (action, next, after) = match decision {
            Resolution::Keep => {
                diesel::update(students::table.find(id))
                    .set((
                        students::review.eq(Review::Pending.as_str()),
                        students::problem.eq(None::<String>),
                        students::duplicate_of.eq(None::<i64>),
                        students::updated_at.eq(caller.now()),
                    ))
                    .execute(conn)?;
                add_history(conn, id, "review", Some("problem"), Some("pending"), &note, caller)?;
                ("student.problem_kept", Some(id), serde_json::json!({"note": note}))
            }
            Resolution::Delete => {
                remove(conn, id, None)?;
                ("student.problem_deleted", None, serde_json::json!({"note": note}))
            }
            Resolution::Merge => {
                let (survivor, after) = merge(conn, caller, &row, school.id, &note)?;
                ("student.problem_merged", Some(survivor), after)
            }
        };
        audit::record(conn, &caller.actor(), Entry::new(action, "student", id).before(&before).after(&after))?;
        Ok(next)
    })
}

/// Merges a problem record into the student it duplicates: that student keeps its number (one
/// number for life) and takes the merged record's values only where its own are blank and not
/// locked; the merged record leaves the roll, and everything it held stays in `student_merges`.
/// Returns the survivor and what the audit row records after the merge.
fn merge(
    conn: &mut DbConn,
    caller: &Caller,
    row: &StudentRow,
    school_id: i64,
    note: &str,
) -> AppResult<(i64, serde_json::Value)> {
    let of = row.duplicate_of.ok_or_else(|| {
        AppError::conflict(ErrorCode::StudentMergeNoTarget, "与之重复的学生已不在册，无法合并；请选择保留或删除")
    })?;
    let (survivor, survivor_school) = student_in_scope(conn, caller, of).map_err(|e| match e.kind {
        ErrorKind::NotFound => AppError::conflict(
            ErrorCode::StudentMergeOutOfScope,
            "与之重复的学生不在本级管辖范围内，不能合并；请与对方学校所在县核实，由学籍所在地办理",
        ),
        _ => e,
    })?;
    if survivor.status != "enrolled" {
        return Err(AppError::conflict(ErrorCode::StudentMergeNotEnrolled, "与之重复的学生已不在校，无法合并"));
    }
    let (kept, merged) = (survivor.record(), row.record());
    let mut raw = kept.values().clone();
    for f in FIELDS {
        if kept.get(f.key).is_empty() && !merged.get(f.key).is_empty() {
            raw.insert(f.key.to_owned(), merged.get(f.key).to_owned());
        }
    }
    if let Some(lock) = changes::lock_in_force(conn, &survivor, &survivor_school.path, caller.today())? {
        let filled_locked = StudentRecord::from_stored(raw.clone());
        for key in lock.changed(&kept, &filled_locked) {
            raw.remove(key);
        }
    }
    let filled: Vec<&'static str> =
        FIELDS.iter().filter(|f| kept.get(f.key) != raw.get(f.key).map_or("", String::as_str)).map(|f| f.key).collect();
    let after = StudentRecord::parse(&raw, caller.today()).map_err(|issues| {
        let e = issues_to_error(issues);
        AppError::conflict(
            ErrorCode::StudentMergeInvalid,
            format!("用本条信息补全对方空白项后不符合填报规则（{e}），请先修改本条再合并"),
        )
    })?;
    let history: Vec<HistoryRow> = student_history::table
        .filter(student_history::student_id.eq(row.id))
        .order(student_history::id)
        .select(HistoryRow::as_select())
        .load(conn)?;
    let provenance = serde_json::json!({
        "record": merged.values(),
        "problem": row.problem,
        "review": row.review,
        "created_at": row.created_at,
        "history": history,
    });
    remove(conn, row.id, Some(survivor.id))?;
    diesel::insert_into(student_merges::table)
        .values((
            student_merges::survivor_id.eq(survivor.id),
            student_merges::merged_student_no_sealed.eq(at_rest::seal::<MergedStudentNo>(&row.student_no)?),
            student_merges::merged_school_id.eq(school_id),
            student_merges::merged_record_sealed.eq(at_rest::seal::<MergedRecord>(&provenance.to_string())?),
            student_merges::filled_fields.eq(filled.join(",")),
            student_merges::note.eq(note),
            student_merges::merged_by.eq(&caller.username),
            student_merges::merged_at.eq(caller.now()),
        ))
        .execute(conn)?;
    let why = format!("合并学籍号{}的重复记录：{note}", mask::student_no(&row.student_no));
    if !filled.is_empty() {
        apply_update(conn, caller, &survivor, &after, &why, None)?;
    }
    add_history(conn, survivor.id, "merge", None, Some(&row.student_no), note, caller)?;
    let after = serde_json::json!({
        "survivor": survivor.id, "survivor_no": mask::student_no(&survivor.student_no), "filled": filled, "note": note,
    });
    Ok((survivor.id, after))
}

/// Takes a record off the roll with what hangs on it. A photo moves to `heir` when the heir has
/// none (the same child's photo is still good evidence).
fn remove(conn: &mut DbConn, id: i64, heir: Option<i64>) -> AppResult<()> {
    let changes: i64 = status_changes::table.filter(status_changes::student_id.eq(id)).count().get_result(conn)?;
    if changes > 0 {
        return Err(AppError::conflict(
            ErrorCode::StudentHasStatusChanges,
            "该学生已有学籍异动记录，不能删除或并入他人；请改为保留并更正",
        ));
    }
    if let Some(heir) = heir {
        let heir_has_photo: i64 =
            student_photos::table.filter(student_photos::student_id.eq(heir)).count().get_result(conn)?;
        if heir_has_photo == 0 {
            diesel::update(student_photos::table.filter(student_photos::student_id.eq(id)))
                .set(student_photos::student_id.eq(heir))
                .execute(conn)?;
        }
    }
    diesel::delete(student_photos::table.filter(student_photos::student_id.eq(id))).execute(conn)?;
    diesel::delete(student_history::table.filter(student_history::student_id.eq(id))).execute(conn)?;
    diesel::delete(change_requests::table.filter(change_requests::student_id.eq(id))).execute(conn)?;
    diesel::delete(student_spells::table.filter(student_spells::student_id.eq(id))).execute(conn)?;
    diesel::delete(students::table.find(id)).execute(conn)?;
    Ok(())
}

/// A record merged into a student, for its detail page.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MergeView {
    pub merged_student_no: String,
    pub merged_school: String,
    pub filled: Vec<&'static str>,
    pub note: String,
    pub merged_by: String,
    pub merged_at: NaiveDateTime,
}

/// The records merged into a student, newest first.
pub fn merges_of(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Vec<MergeView>> {
    caller.require(conn, Permission::ViewStudents, "student_merges")?;
    let (row, _) = student_in_scope(conn, caller, id)?;
    let rows: Vec<(String, String, String, String, String, NaiveDateTime)> = student_merges::table
        .inner_join(orgs::table.on(orgs::id.eq(student_merges::merged_school_id)))
        .filter(student_merges::survivor_id.eq(row.id))
        .order(student_merges::id.desc())
        .select((
            student_merges::merged_student_no_sealed,
            orgs::name,
            student_merges::filled_fields,
            student_merges::note,
            student_merges::merged_by,
            student_merges::merged_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(merged_student_no, merged_school, filled, note, merged_by, merged_at)| {
            Ok(MergeView {
                merged_student_no: mask::student_no(&at_rest::open::<MergedStudentNo>(&merged_student_no)?),
                merged_school,
                filled: filled.split(',').filter_map(|k| crate::domain::student::field(k).map(|f| f.header)).collect(),
                note,
                merged_by,
                merged_at,
            })
        })
        .collect()
}

/// The stored provenance of merges into a student (for the API and auditors), shown as the
/// records themselves are: numbers masked, special categories withheld unless granted.
pub fn provenance(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Vec<BTreeMap<String, serde_json::Value>>> {
    caller.require(conn, Permission::EditStudents, "merge_provenance")?;
    let (row, _) = student_in_scope(conn, caller, id)?;
    let sealed: Vec<String> = student_merges::table
        .filter(student_merges::survivor_id.eq(row.id))
        .order(student_merges::id)
        .select(student_merges::merged_record_sealed)
        .load(conn)?;
    let special = caller.may(Permission::ViewSpecialCategories);
    let mut shown = Vec::with_capacity(sealed.len());
    for s in sealed {
        let Ok(mut p) =
            serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&at_rest::open::<MergedRecord>(&s)?)
        else {
            continue;
        };
        if let Some(Ok(values)) = p.get("record").map(|r| serde_json::from_value(r.clone())) {
            let record = StudentRecord::from_stored(values).masked();
            let record = if special { record } else { record.without_special_categories() };
            p.insert("record".into(), serde_json::json!(record.values()));
        }
        if let Some(Ok(history)) = p.get("history").map(|h| serde_json::from_value::<Vec<HistoryRow>>(h.clone())) {
            let history: Vec<HistoryRow> = history.into_iter().map(|h| h.shown(special)).collect();
            p.insert("history".into(), serde_json::json!(history));
        }
        shown.push(p);
    }
    Ok(shown)
}
