//! Beneficiary rosters (受益学生花名册, SPEC §6): a school's children eligible on the snapshot
//! date, frozen as an immutable version with its content hash, compared with the previous version,
//! and carried through draft → signed by the school → reviewed by the county → archived.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::config::{self, ModelsOnDay};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::at_rest::{self, RosterStudentNo};
use crate::db::schema::{classes, orgs, promotions, roster_lines, rosters, students};
use crate::db::{DbConn, write_tx};
use crate::domain::money::Fen;
use crate::domain::programme::is_compulsory_grade;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::roster::{self, Diff, RosterLine, Status, Step};
use crate::domain::status::State;
use crate::domain::student::Review;
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::org::model::{Org, ancestor_paths};
use crate::org::service::org_in_scope;
use crate::registry::model::StudentRow;
use crate::registry::promotion::Plan;
use crate::registry::service::county_of;
use crate::registry::terms::terms_for;
use crate::registry::timeline::{self, cause_label};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rosters)]
struct RosterRow {
    id: i64,
    school_id: i64,
    county_code: String,
    school_year: i32,
    term: i32,
    version: i32,
    snapshot_date: NaiveDate,
    #[diesel(deserialize_as = String)]
    status: Status,
    content_hash: String,
    student_count: i32,
    diff: String,
    built_by: String,
    built_at: NaiveDateTime,
    signed_by: Option<String>,
    signed_at: Option<NaiveDateTime>,
    reviewed_by: Option<String>,
    reviewed_at: Option<NaiveDateTime>,
    archived_by: Option<String>,
    archived_at: Option<NaiveDateTime>,
}

/// A version and its lines as pages and the API show them (学籍号 masked); the printer masks
/// its own columns and the public notice prints none.
pub fn shown((head, lines): (RosterHead, Vec<RosterLine>)) -> (RosterHead, Vec<RosterLine>) {
    (head.shown(), lines.into_iter().map(RosterLine::shown).collect())
}

impl RosterHead {
    pub fn shown(mut self) -> Self {
        self.diff = self.diff.shown();
        self
    }
}

/// A roster version as pages, the API and the printer read it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RosterHead {
    pub id: i64,
    pub school_code: String,
    pub school_name: String,
    pub county_code: String,
    pub term: String,
    pub term_label: String,
    pub version: i32,
    pub snapshot_date: NaiveDate,
    pub status: Status,
    pub status_label: &'static str,
    /// The newest version of its term: only it moves through the flow.
    pub current: bool,
    pub hash: String,
    pub count: i32,
    pub diff: Diff,
    pub built_by: String,
    pub built_at: NaiveDateTime,
    pub signed_by: Option<String>,
    pub signed_at: Option<NaiveDateTime>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<NaiveDateTime>,
    pub archived_by: Option<String>,
    pub archived_at: Option<NaiveDateTime>,
    /// The daily meal standard on the snapshot date, for the printed header.
    pub standard: Option<Fen>,
    /// The county requires 审核 and 备案 by two different people.
    pub two_person: bool,
}

impl RosterHead {
    pub fn status(&self) -> Status {
        self.status
    }

    pub fn frozen(&self) -> bool {
        self.status().is_frozen()
    }

    pub fn hash_short(&self) -> &str {
        &self.hash[..self.hash.len().min(16)]
    }
}

fn term_of(row: &RosterRow) -> AppResult<Term> {
    Term::new(row.school_year, u8::try_from(row.term).unwrap_or(0))
        .map_err(|m| AppError::internal_msg(ErrorCode::RosterTerm, m))
}

/// The newest version number of a roster's term.
fn newest_version(conn: &mut DbConn, row: &RosterRow) -> AppResult<Option<i32>> {
    Ok(rosters::table
        .filter(rosters::school_id.eq(row.school_id))
        .filter(rosters::school_year.eq(row.school_year))
        .filter(rosters::term.eq(row.term))
        .select(diesel::dsl::max(rosters::version))
        .first(conn)?)
}

fn head(conn: &mut DbConn, row: RosterRow, school: &Org) -> AppResult<RosterHead> {
    let latest = newest_version(conn, &row)?;
    head_with(conn, row, school, latest)
}

fn head_with(conn: &mut DbConn, row: RosterRow, school: &Org, latest: Option<i32>) -> AppResult<RosterHead> {
    let standard = config::meal_standard(conn, &school.path, row.snapshot_date)?;
    let two_person = super::roster_review::two_person(conn, &row.county_code)?;
    let status = row.status;
    let t = term_of(&row)?;
    Ok(RosterHead {
        id: row.id,
        school_code: school.code.clone(),
        school_name: school.name.clone(),
        county_code: row.county_code,
        term: t.to_string(),
        term_label: t.label(),
        version: row.version,
        snapshot_date: row.snapshot_date,
        status,
        status_label: status.label(),
        current: latest == Some(row.version),
        hash: row.content_hash,
        count: row.student_count,
        diff: serde_json::from_str(&row.diff).unwrap_or_default(),
        built_by: row.built_by,
        built_at: row.built_at,
        signed_by: row.signed_by,
        signed_at: row.signed_at,
        reviewed_by: row.reviewed_by,
        reviewed_at: row.reviewed_at,
        archived_by: row.archived_by,
        archived_at: row.archived_at,
        standard,
        two_person,
    })
}

fn school_in_scope(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    let org = org_in_scope(conn, caller.scope(), code)?;
    if org.kind != OrgKind::School {
        return Err(AppError::field(
            "school",
            ErrorCode::RosterNotASchool,
            format!("“{}”不是学校，花名册按学校生成", org.name),
        ));
    }
    Ok(org)
}

/// Each class of a school as it was on a day: promotions applied after that day are walked back
/// (newest first), so a roster for last spring shows last spring's grades and names.
pub fn classes_on(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<HashMap<i64, (String, String, i32)>> {
    classes_on_many(conn, std::slice::from_ref(school), day)
}

/// The same for several schools at once. A promotion plan names its own classes, so the plans
/// of every school's ancestors can be walked back over the classes of all of them.
pub fn classes_on_many(
    conn: &mut DbConn,
    schools: &[Org],
    day: NaiveDate,
) -> AppResult<HashMap<i64, (String, String, i32)>> {
    let mut out: HashMap<i64, (String, String, i32)> = HashMap::new();
    let ids: Vec<i64> = schools.iter().map(|s| s.id).collect();
    for chunk in ids.chunks(500) {
        out.extend(
            classes::table
                .filter(classes::school_id.eq_any(chunk))
                .select((classes::id, classes::class_no, classes::name, classes::grade))
                .load::<(i64, String, String, i32)>(conn)?
                .into_iter()
                .map(|(id, no, name, grade)| (id, (no, name, grade))),
        );
    }
    let mut paths: Vec<String> = schools.iter().flat_map(|s| ancestor_paths(&s.path)).collect();
    paths.sort();
    paths.dedup();
    let plans: Vec<String> = promotions::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(paths))
        .filter(promotions::status.eq_any(["applied", "confirmed"]))
        .filter(promotions::graduation_date.ge(day))
        .order(promotions::graduation_date.desc())
        .select(promotions::plan)
        .load(conn)?;
    for plan in plans {
        let Ok(plan) = serde_json::from_str::<Plan>(&plan) else { continue };
        for c in plan.classes {
            if let Some(entry) = out.get_mut(&c.class_id) {
                entry.1 = c.old_name;
                entry.2 = c.from_grade;
            }
        }
    }
    Ok(out)
}

/// The roster lines of a school on a day: confirmed, at school there, in grades 1–9 (SPEC §6),
/// in grade, class and student-number order. Unscoped: callers check the school.
pub fn snapshot_lines(conn: &mut DbConn, school: &Org, day: NaiveDate) -> AppResult<Vec<RosterLine>> {
    let placed = timeline::placed_at(conn, school.id, day)?;
    let class_info = classes_on(conn, school, day)?;
    let models = ModelsOnDay::load(conn, school.id, day)?;
    let class_of: HashMap<i64, Option<i64>> = placed.iter().copied().collect();
    let mut rows: Vec<StudentRow> = Vec::with_capacity(placed.len());
    for chunk in placed.chunks(5_000) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        rows.extend(students::table.filter(students::id.eq_any(ids)).select(StudentRow::as_select()).load(conn)?);
    }
    let mut keyed: Vec<((i32, String, String), RosterLine)> = rows
        .into_iter()
        .filter_map(|s| {
            let class_id = class_of.get(&s.id).copied().flatten();
            let (class_no, class_name, grade) = class_id.and_then(|c| class_info.get(&c)).cloned()?;
            if !is_compulsory_grade(grade) {
                return None;
            }
            let record = s.record();
            let line = RosterLine {
                student_id: s.id,
                student_no: s.student_no.clone(),
                name: s.name.clone(),
                sex: s.sex.clone(),
                grade,
                class_name,
                attendance: s.attendance.clone(),
                yibu: s.yibu,
                left_behind: s.left_behind.clone(),
                guardian_name: record.guardian_name().to_owned(),
                meal_model: models.of_class(class_id).map(|m| m.label()).unwrap_or("").to_owned(),
            };
            Some(((grade, format!("{class_no:0>6}"), s.student_no), line))
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keyed.into_iter().map(|(_, l)| l).collect())
}

fn load_lines(conn: &mut DbConn, roster_id: i64) -> AppResult<Vec<RosterLine>> {
    lines_with(conn, roster_id, true)
}

/// A version's lines as the printer lays them out: every field but the 学籍号, which is left
/// sealed (it never wraps, so the pages do not depend on it). Counting a version's printed pages
/// opens no child's number.
pub fn layout_lines(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Vec<RosterLine>> {
    row_in_scope(conn, caller, id)?;
    lines_with(conn, id, false)
}

fn lines_with(conn: &mut DbConn, roster_id: i64, open_numbers: bool) -> AppResult<Vec<RosterLine>> {
    type Row = (i64, String, String, String, i32, String, String, bool, String, String, String);
    let rows: Vec<Row> = roster_lines::table
        .filter(roster_lines::roster_id.eq(roster_id))
        .order(roster_lines::seq.asc())
        .select((
            roster_lines::student_id,
            roster_lines::student_no_sealed,
            roster_lines::name,
            roster_lines::sex,
            roster_lines::grade,
            roster_lines::class_name,
            roster_lines::attendance,
            roster_lines::yibu,
            roster_lines::left_behind,
            roster_lines::guardian_name,
            roster_lines::meal_model,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(
                student_id,
                student_no,
                name,
                sex,
                grade,
                class_name,
                attendance,
                yibu,
                left_behind,
                guardian_name,
                meal_model,
            )| {
                Ok(RosterLine {
                    student_id,
                    student_no: if open_numbers {
                        at_rest::open::<RosterStudentNo>(&student_no)?
                    } else {
                        String::new()
                    },
                    name,
                    sex,
                    grade,
                    class_name,
                    attendance,
                    yibu,
                    left_behind,
                    guardian_name,
                    meal_model,
                })
            },
        )
        .collect()
}

/// Why a child who was on the previous version is not on this one, from their timeline.
fn why_left(conn: &mut DbConn, student_id: i64, school_id: i64, day: NaiveDate) -> AppResult<String> {
    let Some((spell, school_name)) = timeline::spell_on(conn, student_id, day)? else {
        return Ok(format!("{day}尚未入学"));
    };
    let state = State::parse(&spell.state).unwrap_or(State::Left);
    if state == State::AtSchool && spell.school_id == school_id {
        let review: String = students::table.find(student_id).select(students::review).first(conn)?;
        return Ok(if review != Review::Confirmed.as_str() {
            "未确认入库".into()
        } else {
            "不在义务教育年级或未分班".into()
        });
    }
    Ok(match state {
        State::AtSchool => format!("转学至{school_name}（{}起）", spell.from_date),
        _ => format!("{}（{}起）", state.label(), spell.from_date),
    })
}

fn why_joined(conn: &mut DbConn, student_id: i64, day: NaiveDate) -> AppResult<String> {
    Ok(match timeline::spell_on(conn, student_id, day)? {
        Some((spell, _)) => format!("{}（{}起）", cause_label(&spell.cause), spell.from_date),
        None => String::new(),
    })
}

/// What a build did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Built {
    pub roster: RosterHead,
    /// False when the content matched the newest version, which is returned unchanged.
    pub created: bool,
    /// Said when a new version follows an archived one: it must be signed, reviewed and archived
    /// again, and the archived version stands until then.
    pub warning: Option<String>,
}

/// Whether a rebuild may follow an archived version: only when the builder says so, having been
/// told. The archived version is what the county filed; a silent new draft would replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterArchive {
    #[default]
    Refuse,
    Confirmed,
}

/// Builds a school's roster for a term on its snapshot date (default 15 September / 1 March).
/// The same content as the newest version returns that version; different content makes the
/// next version with the diff against the newest.
pub fn build(
    conn: &mut DbConn,
    caller: &Caller,
    school_code: &str,
    term: Term,
    snapshot: Option<NaiveDate>,
    after_archive: AfterArchive,
) -> AppResult<Built> {
    caller.require(conn, Permission::BuildRoster, "build_roster")?;
    let school = school_in_scope(conn, caller, school_code)?;
    let day = snapshot.unwrap_or_else(|| roster::default_snapshot(term));
    if let Some(t) = terms_for(conn, &school.path)?.into_iter().find(|t| t.term == term)
        && !t.contains(day)
    {
        return Err(AppError::field(
            "snapshot_date",
            ErrorCode::RosterSnapshotOutsideTerm,
            format!("统计日期{day}不在{}（{}至{}）内", term.label(), t.start, t.end),
        ));
    }
    if !config::in_programme(conn, school.id, day)? {
        return Err(AppError::invalid(
            ErrorCode::RosterNotInProgramme,
            format!("{}在{day}不是营养改善计划学校，不能生成受益学生花名册；请县营养办先将其纳入计划", school.name),
        ));
    }
    let lines = snapshot_lines(conn, &school, day)?;
    let hash = roster::content_hash(&school.code, term, day, &lines);
    let (year, half) = (term.school_year(), i32::from(term.half()));
    let (row, created, warning) = write_tx(conn, |conn| {
        let newest: Option<RosterRow> = rosters::table
            .filter(rosters::school_id.eq(school.id))
            .filter(rosters::school_year.eq(year))
            .filter(rosters::term.eq(half))
            .order(rosters::version.desc())
            .select(RosterRow::as_select())
            .first(conn)
            .optional()?;
        if let Some(n) = newest.as_ref().filter(|n| n.content_hash == hash) {
            return Ok((n.clone(), false, None));
        }
        let archived: Option<RosterRow> = rosters::table
            .filter(rosters::school_id.eq(school.id))
            .filter(rosters::school_year.eq(year))
            .filter(rosters::term.eq(half))
            .filter(rosters::status.eq(Status::Archived.as_str()))
            .order(rosters::version.desc())
            .select(RosterRow::as_select())
            .first(conn)
            .optional()?;
        let warning = archived.as_ref().map(|a| {
            format!(
                "{}{}花名册第{}版已于{}备案；新版本须重新签章、审核、备案，在此之前第{}版仍是有效的备案版本",
                school.name,
                term.label(),
                a.version,
                a.archived_at.map(|t| crate::clock::local(t).date().to_string()).unwrap_or_default(),
                a.version
            )
        });
        if let Some(w) = &warning
            && after_archive == AfterArchive::Refuse
        {
            return Err(AppError::field(
                "after_archive",
                ErrorCode::RosterArchived,
                format!("{w}。如确需重新生成，请勾选确认后再生成"),
            ));
        }
        // Compared with what the county filed when there is one, else with the newest version.
        let base = archived.as_ref().or(newest.as_ref());
        let (version, diff) = match (&newest, base) {
            (Some(n), Some(b)) => {
                let mut d = roster::diff(b.version, &load_lines(conn, b.id)?, &lines);
                d.from_archived = archived.is_some();
                for e in &mut d.joined {
                    e.reason = why_joined(conn, e.student_id, day)?;
                }
                for e in &mut d.left {
                    e.reason = why_left(conn, e.student_id, school.id, day)?;
                }
                (n.version + 1, d)
            }
            _ => (1, Diff::default()),
        };
        let id: i64 = diesel::insert_into(rosters::table)
            .values((
                rosters::school_id.eq(school.id),
                rosters::county_code.eq(county_of(&school.path)),
                rosters::school_year.eq(year),
                rosters::term.eq(half),
                rosters::version.eq(version),
                rosters::snapshot_date.eq(day),
                rosters::status.eq(Status::Draft.as_str()),
                rosters::content_hash.eq(&hash),
                rosters::student_count.eq(i32::try_from(lines.len()).unwrap_or(i32::MAX)),
                rosters::diff.eq(serde_json::to_string(&diff).unwrap_or_default()),
                rosters::built_by.eq(&caller.username),
                rosters::built_at.eq(caller.now()),
            ))
            .returning(rosters::id)
            .get_result(conn)?;
        insert_lines(conn, id, &lines)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("roster.build", "roster", id).after(&serde_json::json!({
                "school": school.code, "term": term.to_string(), "version": version, "snapshot": day,
                "count": lines.len(), "hash": hash, "joined": diff.joined.len(), "left": diff.left.len(),
                "compared_with": diff.from_version, "after_archived": diff.from_archived,
            })),
        )?;
        let row = rosters::table.find(id).select(RosterRow::as_select()).first(conn)?;
        Ok((row, true, warning))
    })?;
    Ok(Built { roster: head(conn, row, &school)?, created, warning })
}

fn insert_lines(conn: &mut DbConn, roster_id: i64, lines: &[RosterLine]) -> AppResult<()> {
    // 13 columns a row: 500 rows stay far below SQLite's bind limit.
    for (n, chunk) in lines.chunks(500).enumerate() {
        let values: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Ok((
                    roster_lines::roster_id.eq(roster_id),
                    roster_lines::seq.eq(i32::try_from(n * 500 + i + 1).unwrap_or(i32::MAX)),
                    roster_lines::student_id.eq(l.student_id),
                    roster_lines::student_no_sealed.eq(at_rest::seal::<RosterStudentNo>(&l.student_no)?),
                    roster_lines::name.eq(&l.name),
                    roster_lines::sex.eq(&l.sex),
                    roster_lines::grade.eq(l.grade),
                    roster_lines::class_name.eq(&l.class_name),
                    roster_lines::attendance.eq(&l.attendance),
                    roster_lines::yibu.eq(l.yibu),
                    roster_lines::left_behind.eq(&l.left_behind),
                    roster_lines::guardian_name.eq(&l.guardian_name),
                    roster_lines::meal_model.eq(&l.meal_model),
                ))
            })
            .collect::<AppResult<_>>()?;
        crate::per_backend!(conn, |c| diesel::insert_into(roster_lines::table).values(&values).execute(c))?;
    }
    Ok(())
}

/// A roster the caller may read, with the school it belongs to.
fn row_in_scope(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(RosterRow, Org)> {
    caller.require(conn, Permission::ViewStudents, "view_roster")?;
    rosters::table
        .inner_join(orgs::table)
        .filter(rosters::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((RosterRow::as_select(), Org::as_select()))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// A roster with its lines. The stored lines must still hash to the stored hash: a row changed
/// behind the application's back is reported, never printed.
pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(RosterHead, Vec<RosterLine>)> {
    let (row, school) = row_in_scope(conn, caller, id)?;
    let lines = load_lines(conn, id)?;
    let t = term_of(&row)?;
    if roster::content_hash(&school.code, t, row.snapshot_date, &lines) != row.content_hash {
        return Err(AppError::new(
            ErrorKind::Conflict,
            ErrorCode::RosterTampered,
            format!(
                "{}的花名册第{}版内容与其校验码不符，可能被改动；请联系系统管理员核查审计日志",
                school.name, row.version
            ),
        ));
    }
    Ok((head(conn, row, &school)?, lines))
}

/// A version's head without its lines (scope checked, content not re-hashed).
pub fn head_of(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<RosterHead> {
    let (row, school) = row_in_scope(conn, caller, id)?;
    head(conn, row, &school)
}

/// The versions of one school's roster for a term, newest first.
pub fn versions(conn: &mut DbConn, caller: &Caller, school_code: &str, term: Term) -> AppResult<Vec<RosterHead>> {
    caller.require(conn, Permission::ViewStudents, "list_rosters")?;
    let school = school_in_scope(conn, caller, school_code)?;
    let rows: Vec<RosterRow> = rosters::table
        .filter(rosters::school_id.eq(school.id))
        .filter(rosters::school_year.eq(term.school_year()))
        .filter(rosters::term.eq(i32::from(term.half())))
        .order(rosters::version.desc())
        .select(RosterRow::as_select())
        .load(conn)?;
    // Newest first: the first row's version is the term's newest.
    let latest = rows.first().map(|r| r.version);
    rows.into_iter().map(|r| head_with(conn, r, &school, latest)).collect()
}

/// Moves the newest version one step. Signing is the school's own act (its principal or
/// nutrition officer); review, return and archiving are the county's.
pub fn step(conn: &mut DbConn, caller: &Caller, id: i64, step: Step, note: &str) -> AppResult<RosterHead> {
    let need = if step == Step::Sign { Permission::SignRoster } else { Permission::ReviewRoster };
    let (row, school) = match row_in_scope(conn, caller, id) {
        Ok(x) => x,
        // A roster outside the caller's scope: say plainly it is not theirs to act on.
        Err(e) if e.kind == ErrorKind::NotFound && caller.may(need) => {
            return Err(AppError::new(
                ErrorKind::Forbidden,
                ErrorCode::RosterNotYours,
                "只能办理本单位（或所辖学校）的花名册",
            ));
        }
        Err(e) => return Err(e),
    };
    caller.require(conn, need, "roster_step")?;
    // Checks the content still matches its hash before anyone puts a name to it.
    let (current_head, _) = get(conn, caller, id)?;
    may_step(caller, &current_head, step)?;
    let note: String = note.trim().chars().take(200).collect();
    if step == Step::Return && note.is_empty() {
        return Err(AppError::field("note", ErrorCode::RosterReturnReason, "退回须写明原因"));
    }
    let from = current_head.status();
    let to = from.after(step).map_err(|m| AppError::conflict(ErrorCode::RosterOutOfOrder, m))?;
    if step == Step::Archive && !super::roster_scan::has_scan(conn, id)? {
        return Err(AppError::conflict(
            ErrorCode::RosterScanMissing,
            format!("{}尚未上传第{}版花名册的监护人签字扫描件，不能备案", school.name, row.version),
        ));
    }
    write_tx(conn, |conn| {
        let t = caller.now();
        let who = &caller.username;
        let target = rosters::table.filter(rosters::id.eq(id)).filter(rosters::status.eq(from.as_str()));
        let n = match step {
            Step::Sign => diesel::update(target)
                .set((rosters::status.eq(to.as_str()), rosters::signed_by.eq(who), rosters::signed_at.eq(t)))
                .execute(conn)?,
            Step::Review => diesel::update(target)
                .set((rosters::status.eq(to.as_str()), rosters::reviewed_by.eq(who), rosters::reviewed_at.eq(t)))
                .execute(conn)?,
            Step::Archive => diesel::update(target)
                .set((rosters::status.eq(to.as_str()), rosters::archived_by.eq(who), rosters::archived_at.eq(t)))
                .execute(conn)?,
            Step::Return => diesel::update(target)
                .set((
                    rosters::status.eq(to.as_str()),
                    rosters::signed_by.eq(None::<String>),
                    rosters::signed_at.eq(None::<NaiveDateTime>),
                    rosters::reviewed_by.eq(None::<String>),
                    rosters::reviewed_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?,
        };
        if n == 0 {
            return Err(AppError::conflict(ErrorCode::RosterOutOfOrder, "花名册状态已被他人改变，请刷新后重试"));
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("roster.step", "roster", id)
                .before(&from.as_str())
                .after(&serde_json::json!({"step": step.label(), "status": to.as_str(), "hash": row.content_hash, "note": note})),
        )
    })?;
    let (row, school) = row_in_scope(conn, caller, id)?;
    head(conn, row, &school)
}

/// What a caller may do with a roster version now, as its page offers it. Decided by
/// [`may_step`], [`may_discard`] and `roster_scan::upload_refusal`, which the services hold
/// their requests to; the guardians' scan that 备案 and deleting also turn on is checked by
/// the services and shown beside the buttons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RosterActions {
    /// Upload the guardians' signed scan.
    pub upload: bool,
    /// 学校签章确认.
    pub sign: bool,
    /// 县教育局审核.
    pub review: bool,
    /// 县营养办备案.
    pub archive: bool,
    /// 退回学校.
    pub send_back: bool,
    /// Delete this draft.
    pub discard: bool,
}

pub fn actions(caller: &Caller, head: &RosterHead) -> RosterActions {
    let may = |step| may_step(caller, head, step).is_ok();
    RosterActions {
        upload: super::roster_scan::upload_refusal(caller, head).is_none(),
        sign: may(Step::Sign),
        review: may(Step::Review),
        archive: may(Step::Archive),
        send_back: may(Step::Return),
        discard: may_discard(caller, head).is_ok(),
    }
}

/// What deciding a step turns on: whose roster, which version, and where it stands.
pub struct StepFacts<'a> {
    pub school_code: &'a str,
    pub school_name: &'a str,
    pub version: i32,
    /// The newest version of its term.
    pub current: bool,
    pub status: Status,
    /// Who reviewed it, and whether the county wants someone else to archive it.
    pub reviewed_by: Option<&'a str>,
    pub two_person: bool,
}

impl RosterHead {
    pub fn facts(&self) -> StepFacts<'_> {
        StepFacts {
            school_code: &self.school_code,
            school_name: &self.school_name,
            version: self.version,
            current: self.current,
            status: self.status,
            reviewed_by: self.reviewed_by.as_deref(),
            two_person: self.two_person,
        }
    }
}

/// Signing is the school's own act (its principal or nutrition officer); review, return and
/// archiving are the county's; only the newest version moves, one step at a time.
pub fn may_step(caller: &Caller, head: &RosterHead, step: Step) -> AppResult<()> {
    may_step_on(caller, &head.facts(), step)
}

/// [`may_step`] on a roster's facts (the overview has no whole head).
pub fn may_step_on(caller: &Caller, head: &StepFacts, step: Step) -> AppResult<()> {
    let need = if step == Step::Sign { Permission::SignRoster } else { Permission::ReviewRoster };
    if !caller.may(need) {
        return Err(AppError::forbidden());
    }
    if step == Step::Sign && caller.org_code != head.school_code && !caller.is_cli() {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::RosterNotYours,
            format!("花名册须由{}自行签章确认", head.school_name),
        ));
    }
    if step != Step::Sign && !caller.org_kind.is_county_or_above() && !caller.is_cli() {
        return Err(AppError::forbidden());
    }
    if !head.current {
        return Err(AppError::conflict(
            ErrorCode::RosterSuperseded,
            format!("第{}版已有更新的版本，请办理最新版本", head.version),
        ));
    }
    head.status.after(step).map_err(|m| AppError::conflict(ErrorCode::RosterOutOfOrder, m))?;
    if step == Step::Archive && head.two_person && head.reviewed_by == Some(caller.username.as_str()) {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::RosterSamePerson,
            format!("本县要求花名册的审核与备案由不同人员办理：第{}版由您审核，须由另一名工作人员备案", head.version),
        ));
    }
    Ok(())
}

/// Only the newest draft is deleted (a later version's diff is counted from an earlier one);
/// a signed roster is frozen.
pub fn may_discard(caller: &Caller, head: &RosterHead) -> AppResult<()> {
    if !caller.may(Permission::BuildRoster) {
        return Err(AppError::forbidden());
    }
    let status = head.status();
    if status.is_frozen() {
        return Err(AppError::conflict(
            ErrorCode::RosterFrozen,
            format!(
                "{}的花名册第{}版已{}，内容已冻结，不能删除或修改；如需更正，请重新生成新版本",
                head.school_name,
                head.version,
                status.label()
            ),
        ));
    }
    if !head.current {
        return Err(AppError::conflict(
            ErrorCode::RosterSuperseded,
            format!("第{}版之后已有新版本，只能删除最新的草稿", head.version),
        ));
    }
    Ok(())
}

/// Discards a draft version (the school rebuilt too early, say). A signed roster is frozen.
pub fn discard(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<()> {
    caller.require(conn, Permission::BuildRoster, "discard_roster")?;
    let (row, school) = row_in_scope(conn, caller, id)?;
    may_discard(caller, &head(conn, row.clone(), &school)?)?;
    if super::roster_scan::has_scan(conn, id)? {
        // The guardians signed this version: their signatures are kept with it.
        return Err(AppError::conflict(
            ErrorCode::RosterHasScan,
            format!("第{}版已上传监护人签字扫描件，不能删除；如名单有变，请重新生成新版本", row.version),
        ));
    }
    write_tx(conn, |conn| {
        diesel::delete(roster_lines::table.filter(roster_lines::roster_id.eq(id))).execute(conn)?;
        diesel::delete(rosters::table.find(id)).execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("roster.discard", "roster", id)
                .before(&serde_json::json!({"school": school.code, "version": row.version, "hash": row.content_hash})),
        )
    })
}

/// One programme school's standing for a term, for the county's 15 September overview.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OverviewRow {
    pub school_code: String,
    pub school_name: String,
    pub roster_id: Option<i64>,
    pub version: Option<i32>,
    pub status_label: &'static str,
    pub count: Option<i32>,
    pub signed_at: Option<NaiveDateTime>,
    pub deadline: NaiveDate,
    /// Not signed by the deadline (or signed after it).
    pub late: bool,
    /// An earlier version was signed; the newest (rebuilt) one waits for the school's signature.
    pub resign: bool,
    /// The pages of the newest version's signed scan, when one is uploaded.
    pub scan_pages: Option<i32>,
    /// The step of the flow the caller may take on the newest version now (学校签章确认,
    /// 县教育局审核, 县营养办备案), by the rule the roster's own page applies.
    pub awaits: Option<&'static str>,
}

/// Every programme school in scope on the term's snapshot date with its newest roster, late
/// ones first.
pub fn overview(conn: &mut DbConn, caller: &Caller, term: Term) -> AppResult<Vec<OverviewRow>> {
    caller.require(conn, Permission::ViewStudents, "roster_overview")?;
    let day = roster::default_snapshot(term);
    let deadline = roster::deadline(term);
    let today = caller.today();
    let members: Vec<(String, String, i64)> = config::members(conn, caller)?
        .into_iter()
        .filter(|m| m.from_date <= day && m.to_date.is_none_or(|t| t >= day))
        .map(|m| (m.school_code, m.school_name, 0))
        .collect();
    let codes: Vec<String> = members.iter().map(|m| m.0.clone()).collect();
    let rows: Vec<(String, RosterRow)> = rosters::table
        .inner_join(orgs::table)
        .filter(orgs::code.eq_any(&codes))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .filter(rosters::school_year.eq(term.school_year()))
        .filter(rosters::term.eq(i32::from(term.half())))
        .select((orgs::code, RosterRow::as_select()))
        .load(conn)?;
    let mut newest: BTreeMap<String, RosterRow> = BTreeMap::new();
    let mut first_signed: BTreeMap<String, NaiveDateTime> = BTreeMap::new();
    for (code, r) in rows {
        if let Some(s) = r.signed_at {
            let e = first_signed.entry(code.clone()).or_insert(s);
            *e = (*e).min(s);
        }
        if newest.get(&code).is_none_or(|n| n.version < r.version) {
            newest.insert(code, r);
        }
    }
    let scans = super::roster_scan::pages_of(conn, &newest.values().map(|r| r.id).collect::<Vec<_>>())?;
    let mut two_person = std::collections::HashSet::new();
    for county in newest.values().map(|r| r.county_code.clone()).collect::<std::collections::BTreeSet<_>>() {
        if super::roster_review::two_person(conn, &county)? {
            two_person.insert(county);
        }
    }
    let mut out: Vec<OverviewRow> = members
        .into_iter()
        .map(|(code, name, _)| {
            let r = newest.get(&code);
            // The school's first signature counts for the deadline: a later version (a child
            // moved) does not make a school that signed on time late.
            let signed_at = first_signed.get(&code).copied();
            let late = roster::is_late(signed_at.map(|s| crate::clock::local(s).date()), deadline, today);
            let awaits = r.and_then(|r| {
                let facts = StepFacts {
                    school_code: &code,
                    school_name: &name,
                    version: r.version,
                    current: true,
                    status: r.status,
                    reviewed_by: r.reviewed_by.as_deref(),
                    two_person: two_person.contains(&r.county_code),
                };
                [Step::Sign, Step::Review, Step::Archive]
                    .into_iter()
                    .find(|s| may_step_on(caller, &facts, *s).is_ok())
                    .map(Step::label)
            });
            OverviewRow {
                school_code: code,
                school_name: name,
                roster_id: r.map(|r| r.id),
                version: r.map(|r| r.version),
                status_label: r.map(|r| r.status.label()).unwrap_or("未生成"),
                count: r.map(|r| r.student_count),
                signed_at,
                deadline,
                late,
                resign: signed_at.is_some() && r.is_some_and(|r| r.status == Status::Draft),
                scan_pages: r.and_then(|r| scans.get(&r.id).copied()),
                awaits,
            }
        })
        .collect();
    out.sort_by(|a, b| b.late.cmp(&a.late).then(a.school_code.cmp(&b.school_code)));
    Ok(out)
}
