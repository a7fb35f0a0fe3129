//! The county's side: its collection points with their schools and pairing keys, each point's
//! packages taken once and in order, and what a package could not apply by itself, listed for a
//! person to decide.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use strum::{AsRefStr, EnumString};

use super::apply::Run;
use super::point::schools_of;
use super::{PairingCode, open_key, refused, seal_key};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::at_rest::HistoryValue;
use crate::db::schema::{collect_items, collect_packages, collect_points, orgs, school_terms, students};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::{MealMonth, Month};
use crate::domain::central::{Accept, Last, sequence};
use crate::domain::collect::{Calendar, PairingKey, Refusal, Sealed, Term};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::student::StudentRecord;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::registry::model::{StudentRow, shown_value};
use crate::registry::service as registry;

/// A point as the county knows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Point {
    pub id: i64,
    pub name: String,
    pub county: String,
    pub schools: Vec<String>,
    /// The schools as people read them: name and code.
    pub school_names: Vec<String>,
    /// The number of the last package taken (0: none yet).
    pub last_seq: i64,
    /// Beijing time of the last package, or empty.
    pub last_received: String,
    /// Items of its packages still waiting for a decision.
    pub open_items: i64,
}

/// A point registered: the point, and the pairing code to hand its operator (shown once).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Registered {
    pub point: Point,
    pub pairing_code: String,
}

fn county_org(conn: &mut DbConn, caller: &Caller) -> AppResult<Org> {
    let org = crate::org::service::org_in_scope(conn, caller.scope(), &caller.org_code)?;
    if caller.is_cli() || org.kind == OrgKind::County {
        return Ok(org);
    }
    Err(AppError::invalid(ErrorCode::CollectPoint, "采集点由县级登记和接收：请以县级账号操作"))
}

/// The county a point belongs to: the caller's own, or (from the command line) the county of its
/// schools.
fn county_of_schools(conn: &mut DbConn, caller: &Caller, schools: &[String]) -> AppResult<(String, Vec<Org>)> {
    let mut orgs_found = Vec::new();
    for code in schools {
        let org = crate::org::service::org_in_scope(conn, caller.scope(), code.trim()).map_err(|_| {
            AppError::field("schools", ErrorCode::CollectSchool, format!("学校代码“{code}”不在本县范围内"))
        })?;
        if org.kind != OrgKind::School {
            return Err(AppError::field("schools", ErrorCode::CollectSchool, format!("“{}”不是学校", org.name)));
        }
        orgs_found.push(org);
    }
    let counties: std::collections::BTreeSet<String> =
        orgs_found.iter().map(|o| registry::county_of(&o.path)).collect();
    match counties.len() {
        0 => Err(AppError::field("schools", ErrorCode::CollectSchool, "请至少填写一所学校的代码")),
        1 => Ok((counties.into_iter().next().unwrap_or_default(), orgs_found)),
        _ => Err(AppError::field("schools", ErrorCode::CollectSchool, "一个采集点的学校须属于同一个县")),
    }
}

/// Registers a point with the schools it collects for, or gives an existing one a new key (the
/// old key stops opening its packages). Returns the pairing code, which is not kept readable.
pub fn register(conn: &mut DbConn, caller: &Caller, name: &str, schools: &[String]) -> AppResult<Registered> {
    caller.require_at_county(conn, Permission::ConfigureRegistry, "collect_register")?;
    county_org(conn, caller)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(AppError::field("name", ErrorCode::CollectPoint, "采集点名称须填写，最多40个字"));
    }
    let schools: Vec<String> = schools.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    let (county, _) = county_of_schools(conn, caller, &schools)?;
    let key = PairingKey::generate();
    let sealed = seal_key(&key)?;
    let listed = serde_json::to_string(&schools).map_err(AppError::internal)?;
    write_tx(conn, |conn| {
        let before: Option<(i64, String, String)> = collect_points::table
            .filter(collect_points::name.eq(name))
            .select((collect_points::id, collect_points::county_code, collect_points::schools))
            .first(conn)
            .optional()?;
        let id = match &before {
            Some((id, c, _)) if *c != county => {
                return Err(AppError::field(
                    "name",
                    ErrorCode::CollectPoint,
                    format!("采集点“{name}”已登记在另一个县（{c}）"),
                ));
            }
            Some((id, ..)) => {
                diesel::update(collect_points::table.find(id))
                    .set((
                        collect_points::schools.eq(&listed),
                        collect_points::key_sealed.eq(&sealed),
                        collect_points::registered_by.eq(&caller.username),
                        collect_points::registered_at.eq(caller.now()),
                    ))
                    .execute(conn)?;
                *id
            }
            None => diesel::insert_into(collect_points::table)
                .values((
                    collect_points::county_code.eq(&county),
                    collect_points::name.eq(name),
                    collect_points::schools.eq(&listed),
                    collect_points::key_sealed.eq(&sealed),
                    collect_points::registered_by.eq(&caller.username),
                    collect_points::registered_at.eq(caller.now()),
                ))
                .returning(collect_points::id)
                .get_result(conn)?,
        };
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("collect.register", "collect_point", id)
                .before(&before.map(|(_, _, s)| json!({"schools": schools_of(&s), "rekeyed": true})))
                .after(&json!({"name": name, "county": county, "schools": schools})),
        )
    })?;
    let point = points(conn, caller)?.into_iter().find(|p| p.name == name).ok_or_else(AppError::not_found)?;
    let code = PairingCode { county, point: name.to_owned(), schools, key: key.to_hex() };
    Ok(Registered { point, pairing_code: code.encode() })
}

/// The points of the counties in the caller's scope.
pub fn points(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Point>> {
    caller.require_at_county(conn, Permission::ViewStudents, "collect_points")?;
    let counties = counties_in_scope(conn, caller)?;
    let rows: Vec<(i64, String, String, String)> = collect_points::table
        .filter(collect_points::county_code.eq_any(&counties))
        .order(collect_points::name.asc())
        .select((collect_points::id, collect_points::name, collect_points::county_code, collect_points::schools))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let last: BTreeMap<i64, (i64, chrono::NaiveDateTime)> = collect_packages::table
        .filter(collect_packages::point_id.eq_any(&ids))
        .order(collect_packages::seq.asc())
        .select((collect_packages::point_id, collect_packages::seq, collect_packages::received_at))
        .load::<(i64, i64, chrono::NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(p, s, at)| (p, (s, at)))
        .collect();
    let open: BTreeMap<i64, i64> = collect_items::table
        .filter(collect_items::point_id.eq_any(&ids))
        .filter(collect_items::state.eq(ItemState::Open.as_ref()))
        .group_by(collect_items::point_id)
        .select((collect_items::point_id, diesel::dsl::count_star()))
        .load(conn)?
        .into_iter()
        .collect();
    let all: Vec<String> = rows.iter().flat_map(|r| schools_of(&r.3)).collect();
    let names = super::names_of(conn, &all)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, county, schools)| Point {
            id,
            name,
            county,
            school_names: super::point::named(&schools_of(&schools), &names),
            schools: schools_of(&schools),
            last_seq: last.get(&id).map_or(0, |l| l.0),
            last_received: last.get(&id).map(|l| crate::clock::shown(&l.1)).unwrap_or_default(),
            open_items: open.get(&id).copied().unwrap_or(0),
        })
        .collect())
}

fn counties_in_scope(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<String>> {
    Ok(orgs::table
        .filter(orgs::kind.eq(OrgKind::County.as_str()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select(orgs::code)
        .load(conn)?)
}

/// What a package did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    pub new_children: usize,
    pub updated_children: usize,
    pub unchanged_children: usize,
    pub photos: usize,
    pub history_rows: usize,
    pub terms: usize,
    pub calendars: usize,
    pub meal_days: usize,
    /// Items left for a person.
    pub items: usize,
}

/// A package taken (or taken before: `again`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "CollectImported")]
pub struct Imported {
    pub point: String,
    pub seq: i64,
    pub again: bool,
    pub summary: Summary,
}

/// Takes a point's package: refused whole (nothing applied) when it is not a package, does not
/// open under the point's key, is not the point's next, or holds work of a school not the
/// point's; otherwise applied in one transaction, each child in its own savepoint so a child
/// the registry refuses becomes an item instead of undoing the rest.
pub fn import(conn: &mut DbConn, caller: &Caller, bytes: &[u8]) -> AppResult<Imported> {
    caller.require_at_county(conn, Permission::ConfirmStudents, "collect_import")?;
    let sealed = Sealed::parse(bytes).map_err(refused)?;
    let counties = counties_in_scope(conn, caller)?;
    let point: Option<(i64, String, String)> = collect_points::table
        .filter(collect_points::name.eq(&sealed.header.point))
        .filter(collect_points::county_code.eq(&sealed.header.county))
        .filter(collect_points::county_code.eq_any(&counties))
        .select((collect_points::id, collect_points::schools, collect_points::key_sealed))
        .first(conn)
        .optional()?;
    let (point_id, schools, key) = point.ok_or_else(|| refused(Refusal::Point(sealed.header.point.clone())))?;
    let body = open_key(&key)?.open(&sealed).map_err(refused)?;
    if let Some(s) = body.foreign_school(&schools_of(&schools)) {
        return Err(refused(Refusal::School(s.to_owned())));
    }
    let digest = sealed.digest();
    write_tx(conn, |conn| {
        let last: Option<(i64, String, String)> = collect_packages::table
            .filter(collect_packages::point_id.eq(point_id))
            .order(collect_packages::seq.desc())
            .select((collect_packages::seq, collect_packages::digest, collect_packages::summary))
            .first(conn)
            .optional()?;
        let previous = last.as_ref().map(|(s, d, _)| Last { seq: *s as u64, digest: d.clone() });
        let accept = sequence(body.seq, &digest, previous.as_ref())
            .map_err(|(expected, got)| refused(Refusal::Sequence { expected, got }))?;
        if accept == Accept::Again {
            let summary = last.and_then(|(_, _, s)| serde_json::from_str(&s).ok()).unwrap_or_default();
            return Ok(Imported { point: body.point.clone(), seq: body.seq as i64, again: true, summary });
        }
        let mut run = Run::new(point_id, &body.point, body.seq as i64);
        run.children(conn, caller, &body)?;
        run.terms(conn, caller, &body.terms)?;
        run.calendars(conn, caller, &body.calendars)?;
        run.meal_days(conn, caller, &body)?;
        run.status_changes(conn, &body)?;
        let mut summary = run.summary;
        // Counted as written: an item of a child whose change was then refused went with it.
        summary.items = collect_items::table
            .filter(collect_items::point_id.eq(point_id))
            .filter(collect_items::package_seq.eq(body.seq as i64))
            .count()
            .get_result::<i64>(conn)? as usize;
        diesel::insert_into(collect_packages::table)
            .values((
                collect_packages::point_id.eq(point_id),
                collect_packages::seq.eq(body.seq as i64),
                collect_packages::digest.eq(&digest),
                collect_packages::created_at.eq(&body.created_at),
                collect_packages::summary.eq(serde_json::to_string(&summary).map_err(AppError::internal)?),
                collect_packages::received_by.eq(&caller.username),
                collect_packages::received_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("collect.import", "collect_point", point_id)
                .after(&json!({"point": body.point, "seq": body.seq, "since": body.since, "summary": summary})),
        )?;
        Ok(Imported { point: body.point.clone(), seq: body.seq as i64, again: false, summary })
    })
}

/// What an item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsRefStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ItemKind {
    /// A field both sides changed differently.
    Field,
    /// A term's dates that differ.
    Term,
    /// A month's meal days that differ, or that the network refused.
    Calendar,
    /// A class's day of meals the network already holds otherwise, or cannot take.
    Meals,
    /// A status change asked for at the point.
    Status,
    /// A child's registration or change the network's rules refused.
    Refused,
}

impl ItemKind {
    pub fn label(self) -> &'static str {
        match self {
            ItemKind::Field => "两边都改了的字段",
            ItemKind::Term => "学期日期不一致",
            ItemKind::Calendar => "供餐日历不一致",
            ItemKind::Meals => "就餐记录不一致",
            ItemKind::Status => "采集点提出的异动",
            ItemKind::Refused => "未能接收",
        }
    }

    /// What a person may decide: take the point's value or keep the network's where there is a
    /// value to take; otherwise mark it handled (done by hand in the network's own workflow).
    pub fn decisions(self) -> &'static [Decision] {
        match self {
            ItemKind::Field | ItemKind::Term | ItemKind::Calendar => &[Decision::Take, Decision::Keep],
            ItemKind::Meals | ItemKind::Status | ItemKind::Refused => &[Decision::Done],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, AsRefStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ItemState {
    Open,
    Taken,
    Kept,
    Done,
}

impl ItemState {
    pub fn label(self) -> &'static str {
        match self {
            ItemState::Open => "待处理",
            ItemState::Taken => "已采用采集点的值",
            ItemState::Kept => "已保留网络版的值",
            ItemState::Done => "已处理",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, AsRefStr, EnumString, Serialize, Deserialize, schemars::JsonSchema)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Take,
    Keep,
    Done,
}

impl Decision {
    pub fn label(self) -> &'static str {
        match self {
            Decision::Take => "采用采集点的值",
            Decision::Keep => "保留网络版的值",
            Decision::Done => "已处理",
        }
    }

    fn state(self) -> ItemState {
        match self {
            Decision::Take => ItemState::Taken,
            Decision::Keep => ItemState::Kept,
            Decision::Done => ItemState::Done,
        }
    }
}

/// One item as listed (numbers masked, special categories withheld from a reader not granted them).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Item {
    pub id: i64,
    pub point: String,
    pub package_seq: i64,
    pub kind: String,
    pub kind_label: String,
    pub school: String,
    pub school_name: String,
    pub student_id: Option<i64>,
    pub subject: String,
    pub field: String,
    pub field_label: String,
    pub base: Option<String>,
    /// The point's value.
    pub theirs: Option<String>,
    /// The network's value.
    pub ours: Option<String>,
    pub state: String,
    pub state_label: String,
    pub note: String,
    pub decided_by: Option<String>,
    /// The decisions open to the reader: `take`, `keep` or `done` (none once decided).
    pub decisions: Vec<String>,
}

#[derive(Queryable)]
struct ItemRow {
    id: i64,
    point: String,
    package_seq: i64,
    kind: String,
    school: String,
    student_id: Option<i64>,
    subject: String,
    field: String,
    base: HistoryValue,
    theirs: HistoryValue,
    ours: HistoryValue,
    state: String,
    note: String,
    decided_by: Option<String>,
}

fn field_label(field: &str) -> String {
    crate::domain::student::field(field).map(|f| f.header.to_owned()).unwrap_or_else(|| field.to_owned())
}

/// The items of the points in the caller's scope: open ones first, then the newest decided.
pub fn items(conn: &mut DbConn, caller: &Caller, open_only: bool) -> AppResult<Vec<Item>> {
    load_items(conn, caller, if open_only { Which::Open } else { Which::All })
}

/// One item of the caller's scope.
pub fn item(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Item> {
    load_items(conn, caller, Which::One(id))?.into_iter().next().ok_or_else(AppError::not_found)
}

enum Which {
    All,
    Open,
    One(i64),
}

fn load_items(conn: &mut DbConn, caller: &Caller, which: Which) -> AppResult<Vec<Item>> {
    caller.require_at_county(conn, Permission::ViewStudents, "collect_items")?;
    let counties = counties_in_scope(conn, caller)?;
    let mut q = collect_items::table
        .inner_join(collect_points::table)
        .filter(collect_points::county_code.eq_any(&counties))
        .filter(collect_items::school_code.eq_any(schools_in_scope(conn, caller)?))
        .into_boxed();
    match which {
        Which::All => {}
        Which::Open => q = q.filter(collect_items::state.eq(ItemState::Open.as_ref())),
        Which::One(id) => q = q.filter(collect_items::id.eq(id)),
    }
    let rows: Vec<ItemRow> = q
        .order((collect_items::state.ne(ItemState::Open.as_ref()), collect_items::id.desc()))
        .select((
            collect_items::id,
            collect_points::name,
            collect_items::package_seq,
            collect_items::kind,
            collect_items::school_code,
            collect_items::student_id,
            collect_items::subject,
            collect_items::field,
            collect_items::base_value,
            collect_items::theirs,
            collect_items::ours,
            collect_items::state,
            collect_items::note,
            collect_items::decided_by,
        ))
        .limit(500)
        .load(conn)?;
    let codes: Vec<String> = rows.iter().map(|r| r.school.clone()).collect();
    let names = super::names_of(conn, &codes)?;
    let special = caller.may(Permission::ViewSpecialCategories);
    let may_decide = caller.may_at_county(Permission::ConfirmStudents).is_ok();
    rows.into_iter()
        .map(|r| {
            let kind: ItemKind = r.kind.parse().map_err(|_| AppError::not_found())?;
            let state: ItemState = r.state.parse().map_err(|_| AppError::not_found())?;
            let show = |v: HistoryValue| -> AppResult<Option<String>> {
                Ok(Option::<String>::try_from(v)?.map(|v| shown_value(&r.field, &v, special)))
            };
            Ok(Item {
                id: r.id,
                point: r.point,
                package_seq: r.package_seq,
                kind: r.kind.clone(),
                kind_label: kind.label().into(),
                school_name: names.get(&r.school).cloned().unwrap_or_default(),
                school: r.school,
                student_id: r.student_id,
                subject: r.subject,
                field_label: field_label(&r.field),
                base: show(r.base)?,
                theirs: show(r.theirs)?,
                ours: show(r.ours)?,
                field: r.field,
                state: r.state,
                state_label: state.label().into(),
                note: r.note,
                decided_by: r.decided_by,
                decisions: if state == ItemState::Open && may_decide {
                    kind.decisions().iter().map(|d| d.as_ref().to_owned()).collect()
                } else {
                    vec![]
                },
            })
        })
        .collect()
}

fn schools_in_scope(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<String>> {
    Ok(orgs::table
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select(orgs::code)
        .load(conn)?)
}

/// Decides an open item: for a field, the point's value is written through the registry (with
/// its history and audit, and refused as any edit would be); for term dates, the point's dates
/// are set; otherwise the item is marked handled. Decided once.
pub fn decide(conn: &mut DbConn, caller: &Caller, id: i64, decision: Decision, note: &str) -> AppResult<Item> {
    caller.require_at_county(conn, Permission::ConfirmStudents, "collect_decide")?;
    let it = item(conn, caller, id)?;
    let kind: ItemKind = it.kind.parse().map_err(|_| AppError::not_found())?;
    if it.state != ItemState::Open.as_ref() {
        return Err(AppError::conflict(ErrorCode::CollectConflict, format!("该事项已处理（{}）", it.state_label)));
    }
    if !kind.decisions().contains(&decision) {
        return Err(AppError::field(
            "decision",
            ErrorCode::CollectConflict,
            format!("“{}”的事项只能选择：{}", kind.label(), labels(kind.decisions())),
        ));
    }
    let note: String = note.trim().chars().take(200).collect();
    write_tx(conn, |conn| {
        // The point's value, opened (the listed one is masked).
        let theirs: HistoryValue = collect_items::table.find(id).select(collect_items::theirs).first(conn)?;
        let theirs = Option::<String>::try_from(theirs)?;
        match (kind, decision) {
            (ItemKind::Field, Decision::Take) => take_field(conn, caller, &it, theirs.as_deref())?,
            (ItemKind::Term, Decision::Take) => take_term(conn, caller, theirs.as_deref())?,
            (ItemKind::Calendar, Decision::Take) => take_calendar(conn, caller, &it, theirs.as_deref())?,
            _ => {}
        }
        let changed =
            diesel::update(collect_items::table.find(id).filter(collect_items::state.eq(ItemState::Open.as_ref())))
                .set((
                    collect_items::state.eq(decision.state().as_ref()),
                    collect_items::decided_by.eq(&caller.username),
                    collect_items::decided_at.eq(caller.now()),
                    collect_items::note.eq(if note.is_empty() {
                        it.note.clone()
                    } else {
                        format!("{}；{note}", it.note)
                    }),
                ))
                .execute(conn)?;
        if changed == 0 {
            return Err(AppError::conflict(ErrorCode::CollectConflict, "该事项已被他人处理"));
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("collect.decide", "collect_item", id)
                .after(&json!({"decision": decision.as_ref(), "kind": it.kind, "field": it.field, "note": note})),
        )
    })?;
    item(conn, caller, id)
}

fn labels(ds: &[Decision]) -> String {
    ds.iter().map(|d| d.label()).collect::<Vec<_>>().join("、")
}

fn take_field(conn: &mut DbConn, caller: &Caller, item: &Item, value: Option<&str>) -> AppResult<()> {
    let sid = item.student_id.ok_or_else(AppError::not_found)?;
    let row = student_row(conn, sid)?;
    let mut values = row.record().values().clone();
    match value {
        Some(v) => values.insert(item.field.clone(), v.to_owned()),
        None => values.remove(&item.field),
    };
    let record = StudentRecord::parse(&values, caller.today()).map_err(registry::issues_to_error)?;
    let path: String = orgs::table.find(row.school_id).select(orgs::path).first(conn)?;
    crate::registry::changes::ensure_unlocked(conn, &row, &path, &record, caller.today())?;
    let reason = format!("采集点{}第{}号包冲突裁决：采用采集点的值", item.point, item.package_seq);
    registry::apply_update(conn, caller, &row, &record, &reason, None)?;
    Ok(())
}

fn take_term(conn: &mut DbConn, caller: &Caller, value: Option<&str>) -> AppResult<()> {
    let t: Term = value.and_then(|v| serde_json::from_str(v).ok()).ok_or_else(AppError::not_found)?;
    let org = crate::org::service::org_in_scope(conn, caller.scope(), &t.school)?;
    write_term(conn, caller, &org, &t)
}

fn take_calendar(conn: &mut DbConn, caller: &Caller, item: &Item, value: Option<&str>) -> AppResult<()> {
    let c: Calendar = value.and_then(|v| serde_json::from_str(v).ok()).ok_or_else(AppError::not_found)?;
    let cal = meal_month(&c).map_err(|m| AppError::field("days", ErrorCode::CalendarDays, m))?;
    crate::programme::calendar::set_month(conn, caller, &item.school, &cal)
}

pub(super) fn meal_month(c: &Calendar) -> Result<MealMonth, String> {
    MealMonth::parse_days(Month::parse(&c.month)?, &c.days)
}

pub(super) fn write_term(conn: &mut DbConn, caller: &Caller, org: &Org, t: &Term) -> AppResult<()> {
    let key = school_terms::table
        .filter(school_terms::org_id.eq(org.id))
        .filter(school_terms::school_year.eq(t.school_year))
        .filter(school_terms::term.eq(t.term));
    let before: Option<(NaiveDate, NaiveDate)> =
        key.select((school_terms::start_date, school_terms::end_date)).first(conn).optional()?;
    diesel::delete(key).execute(conn)?;
    diesel::insert_into(school_terms::table)
        .values((
            school_terms::org_id.eq(org.id),
            school_terms::school_year.eq(t.school_year),
            school_terms::term.eq(t.term),
            school_terms::start_date.eq(t.start),
            school_terms::end_date.eq(t.end),
            school_terms::set_by.eq(&caller.username),
            school_terms::set_at.eq(caller.now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        &caller.actor(),
        Entry::new("term.set", "org", &org.code)
            .before(&before.map(|(s, e)| json!({"start": s, "end": e})))
            .after(&json!({"school_year": t.school_year, "term": t.term, "start": t.start, "end": t.end,
                "from": "collect"})),
    )
}

pub(super) fn student_row(conn: &mut DbConn, id: i64) -> AppResult<StudentRow> {
    Ok(students::table.find(id).select(StudentRow::as_select()).first(conn)?)
}
