//! Spot checks: a county's programme schools for a term, each with its risk and the children at
//! school there, drawn by `domain::sampling` with a recorded seed; a plan freezes the draw with
//! the hash of the population it came from, so anyone can draw it again and compare.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::risk;
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{classes, inspection_plans, inspection_sampled, inspection_visits, orgs, students};
use crate::db::{DbConn, at_rest, write_tx};
use crate::domain::calendar::Span;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::sampling::{self, Candidate, Drawn, Method, VisitStatus};
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::org::service::org_in_scope;
use crate::registry::timeline;

/// What to draw.
#[derive(Debug, Clone)]
pub struct Ask {
    pub org: String,
    pub term: Term,
    pub schools: usize,
    pub students: usize,
    pub method: Method,
    /// Percent of the schools mixed sampling draws by risk.
    pub risk_share: u32,
    pub seed: u64,
}

/// What someone typed (a form, a JSON body, the command line), every field still text.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct AskForm {
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub term: String,
    #[serde(default)]
    pub schools: String,
    #[serde(default)]
    pub students: String,
    #[serde(default)]
    pub seed: String,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub risk_share: String,
}

impl AskForm {
    /// Every field parsed, each error naming its field in Chinese.
    pub fn parse(&self) -> AppResult<Ask> {
        let count = |field: &str, label: &str, v: &str| -> AppResult<usize> {
            v.trim().parse::<usize>().ok().filter(|n| (1..=10_000).contains(n)).ok_or_else(|| {
                AppError::field(field, ErrorCode::SampleCount, format!("{label}“{}”应为1至10000之间的整数", v.trim()))
            })
        };
        Ok(Ask {
            org: self.org.trim().to_owned(),
            term: Term::parse(self.term.trim()).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))?,
            schools: count("schools", "抽取学校数", &self.schools)?,
            students: count("students", "每校抽取学生数", &self.students)?,
            method: if self.method.trim().is_empty() {
                Method::Mixed
            } else {
                Method::parse(&self.method).map_err(|m| AppError::field("method", ErrorCode::SampleMethod, m))?
            },
            risk_share: if self.risk_share.trim().is_empty() {
                60
            } else {
                self.risk_share.trim().parse::<u32>().ok().filter(|p| *p <= 100).ok_or_else(|| {
                    AppError::field(
                        "risk_share",
                        ErrorCode::SampleShare,
                        format!("按风险抽取比例“{}”应为0至100", self.risk_share.trim()),
                    )
                })?
            },
            seed: sampling::parse_seed(&self.seed).map_err(|m| AppError::field("seed", ErrorCode::SampleSeed, m))?,
        })
    }
}

/// A drawn sample (the shape `mealroll inspect sample --json` prints).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Sample {
    pub seed: u64,
    pub method: Method,
    pub schools: Vec<Drawn>,
    pub org: String,
    pub term: String,
    /// SHA-256 of the population the sample was drawn from.
    pub data_hash: String,
}

impl Sample {
    /// As pages and the API show it: 学籍号 masked.
    pub fn shown(mut self) -> Self {
        for s in &mut self.schools {
            for no in &mut s.students {
                *no = crate::domain::mask::student_no(no);
            }
        }
        self
    }
}

/// The day whose children are the population: today, inside the term.
fn population_day(term: Term, today: NaiveDate) -> NaiveDate {
    let span = Span::of_term(term);
    today.clamp(span.first_day(), span.last_day())
}

/// The county, its programme schools with their risk, and the children at school in each.
fn population(conn: &mut DbConn, caller: &Caller, ask: &Ask) -> AppResult<(Org, Vec<(Org, Candidate)>)> {
    caller.require(conn, Permission::Inspect, "inspection_sample")?;
    let county = org_in_scope(conn, caller.scope(), &ask.org)?;
    if county.kind != OrgKind::County {
        return Err(AppError::field("org", ErrorCode::SampleLevel, "抽查按县进行：请选择一个县"));
    }
    let (_, ranked) = risk::ranked(conn, caller, &county.code, ask.term)?;
    let codes: Vec<String> = ranked.iter().map(|r| r.school.clone()).collect();
    let schools: Vec<Org> = orgs::table.filter(orgs::code.eq_any(&codes)).select(Org::as_select()).load(conn)?;
    let day = population_day(ask.term, caller.today());
    let placed = timeline::placed_at_many(conn, &schools.iter().map(|s| s.id).collect::<Vec<_>>(), day)?;
    let mut numbers: BTreeMap<i64, String> = BTreeMap::new();
    for chunk in placed.chunks(5000) {
        let rows: Vec<(i64, String)> = students::table
            .filter(students::id.eq_any(chunk.iter().map(|p| p.student_id).collect::<Vec<_>>()))
            .select((students::id, students::student_no_sealed))
            .load(conn)?;
        for (id, no) in rows {
            numbers.insert(id, at_rest::student_no(&no)?);
        }
    }
    let mut kids: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for p in &placed {
        if let Some(no) = numbers.get(&p.student_id) {
            kids.entry(p.school_id).or_default().push(no.clone());
        }
    }
    let out = schools
        .into_iter()
        .map(|s| {
            let r = ranked.iter().find(|r| r.school == s.code).map_or(0.0, |r| r.risk);
            let c = Candidate { code: s.code.clone(), risk: r, students: kids.remove(&s.id).unwrap_or_default() };
            (s, c)
        })
        .collect();
    Ok((county, out))
}

/// The population's fingerprint: each school's code, risk and children, in order.
fn hash_of(pop: &[(Org, Candidate)]) -> String {
    let mut lines: Vec<String> = pop
        .iter()
        .map(|(_, c)| {
            let mut kids = c.students.clone();
            kids.sort();
            format!("{}|{:.2}|{}", c.code, c.risk, kids.join(","))
        })
        .collect();
    lines.sort();
    format!("{:x}", Sha256::digest(lines.join("\n").as_bytes()))
}

/// Draws a sample without keeping it (the command line's `inspect sample`).
pub fn draw(conn: &mut DbConn, caller: &Caller, ask: &Ask) -> AppResult<Sample> {
    let (county, pop) = population(conn, caller, ask)?;
    draw_from(&county, &pop, ask)
}

fn draw_from(county: &Org, pop: &[(Org, Candidate)], ask: &Ask) -> AppResult<Sample> {
    let candidates: Vec<Candidate> = pop.iter().map(|(_, c)| c.clone()).collect();
    let schools = sampling::draw(&candidates, ask.schools, ask.students, ask.method, ask.risk_share, ask.seed)
        .map_err(|m| AppError::field("schools", ErrorCode::SampleSize, m))?;
    Ok(Sample {
        seed: ask.seed,
        method: ask.method,
        schools,
        org: county.code.clone(),
        term: ask.term.to_string(),
        data_hash: hash_of(pop),
    })
}

/// Draws a sample and keeps it as the county's plan for the term; returns the plan's id.
pub fn plan(conn: &mut DbConn, caller: &Caller, ask: &Ask) -> AppResult<(i64, Sample)> {
    let (county, pop) = population(conn, caller, ask)?;
    let sample = draw_from(&county, &pop, ask)?;
    let ids: BTreeMap<&str, i64> = pop.iter().map(|(o, _)| (o.code.as_str(), o.id)).collect();
    // By the numbers' hashes (the numbers are sealed).
    let ring = at_rest::ring()?;
    let hashes: BTreeMap<String, &String> = sample
        .schools
        .iter()
        .flat_map(|s| s.students.iter())
        .map(|no| (at_rest::student_no_index(&ring, no), no))
        .collect();
    let student_ids: BTreeMap<String, i64> = students::table
        .filter(students::student_no_hash.eq_any(hashes.keys()))
        .select((students::student_no_hash, students::id))
        .load::<(Option<String>, i64)>(conn)?
        .into_iter()
        .filter_map(|(hash, id)| Some(((*hashes.get(hash.as_deref()?)?).clone(), id)))
        .collect();
    let id = write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(inspection_plans::table)
            .values((
                inspection_plans::org_id.eq(county.id),
                inspection_plans::term.eq(ask.term.to_string()),
                inspection_plans::method.eq(ask.method.as_str()),
                inspection_plans::risk_share.eq(i32::try_from(ask.risk_share).unwrap_or(0)),
                inspection_plans::schools.eq(i32::try_from(ask.schools).unwrap_or(0)),
                inspection_plans::students.eq(i32::try_from(ask.students).unwrap_or(0)),
                inspection_plans::seed.eq(ask.seed.to_string()),
                inspection_plans::data_hash.eq(&sample.data_hash),
                inspection_plans::drawn_by.eq(&caller.username),
                inspection_plans::drawn_at.eq(caller.now()),
            ))
            .returning(inspection_plans::id)
            .get_result(conn)?;
        for (seq, s) in sample.schools.iter().enumerate() {
            let visit: i64 = diesel::insert_into(inspection_visits::table)
                .values((
                    inspection_visits::plan_id.eq(id),
                    inspection_visits::school_id.eq(ids.get(s.school.as_str()).copied().unwrap_or(0)),
                    inspection_visits::seq.eq(i32::try_from(seq + 1).unwrap_or(0)),
                    inspection_visits::risk.eq(s.risk.map(|r| format!("{r:.2}"))),
                    inspection_visits::status.eq(VisitStatus::Planned.as_str()),
                    inspection_visits::note.eq(""),
                ))
                .returning(inspection_visits::id)
                .get_result(conn)?;
            // A visit's children are a handful: one row at a time.
            for (k, no) in s.students.iter().enumerate() {
                let Some(sid) = student_ids.get(no) else { continue };
                diesel::insert_into(inspection_sampled::table)
                    .values((
                        inspection_sampled::visit_id.eq(visit),
                        inspection_sampled::seq.eq(i32::try_from(k + 1).unwrap_or(0)),
                        inspection_sampled::student_id.eq(*sid),
                    ))
                    .execute(conn)?;
            }
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("inspection.plan", "plan", id).after(&serde_json::json!({
                "county": county.code, "term": ask.term.to_string(), "method": ask.method.as_str(),
                "seed": ask.seed.to_string(), "schools": ask.schools, "students": ask.students, "data_hash": sample.data_hash,
            })),
        )?;
        Ok(id)
    })?;
    Ok((id, sample))
}

/// A plan as its page shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlanView {
    pub id: i64,
    pub county: String,
    pub county_name: String,
    pub term: String,
    pub method: Method,
    pub method_label: &'static str,
    pub risk_share: i32,
    pub seed: String,
    pub data_hash: String,
    pub drawn_by: String,
    pub drawn_at: NaiveDateTime,
    pub visits: Vec<VisitView>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VisitView {
    pub id: i64,
    pub seq: i32,
    pub school: String,
    pub school_name: String,
    pub risk: Option<String>,
    pub status: VisitStatus,
    /// Whether the caller may record this visit now (the rule `visits::record` refuses on).
    pub may_record: bool,
    pub visited_on: Option<NaiveDate>,
    pub visited_by: Option<String>,
    pub meals_school: Option<i32>,
    pub meals_counted: Option<i32>,
    pub note: String,
    pub children: Vec<Child>,
}

/// A sampled child as the visit sheet lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SampledChild")]
pub struct Child {
    pub seq: i32,
    pub student_no: String,
    pub name: String,
    pub sex: &'static str,
    pub class_name: String,
    /// What the inspector ticked (none before the visit).
    pub present: Option<bool>,
    pub in_class: Option<bool>,
    pub eats_here: Option<bool>,
    pub guardian_confirms: Option<bool>,
}

/// One plan with its schools and children (学籍号 masked unless `full`, which the printed visit
/// sheet uses: the inspector must find the child).
pub fn get(conn: &mut DbConn, caller: &Caller, id: i64, full: bool) -> AppResult<PlanView> {
    caller.require(conn, Permission::ViewAnomalies, "inspection_plan")?;
    type P = (i64, String, String, String, String, i32, String, String, String, NaiveDateTime, String);
    let p: P = inspection_plans::table
        .inner_join(orgs::table)
        .filter(inspection_plans::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((
            inspection_plans::id,
            orgs::code,
            orgs::name,
            inspection_plans::term,
            inspection_plans::method,
            inspection_plans::risk_share,
            inspection_plans::seed,
            inspection_plans::data_hash,
            inspection_plans::drawn_by,
            inspection_plans::drawn_at,
            orgs::path,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    type V = (
        (i64, i32, String, String, Option<String>, String),
        (Option<NaiveDate>, Option<String>, Option<i32>, Option<i32>, String),
    );
    let visits: Vec<V> = inspection_visits::table
        .inner_join(orgs::table)
        .filter(inspection_visits::plan_id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .order(inspection_visits::seq.asc())
        .select((
            (
                inspection_visits::id,
                inspection_visits::seq,
                orgs::code,
                orgs::name,
                inspection_visits::risk,
                inspection_visits::status,
            ),
            (
                inspection_visits::visited_on,
                inspection_visits::visited_by,
                inspection_visits::meals_school,
                inspection_visits::meals_counted,
                inspection_visits::note,
            ),
        ))
        .load(conn)?;
    type K =
        ((i64, i32, String, String, String, Option<String>), (Option<bool>, Option<bool>, Option<bool>, Option<bool>));
    let kids: Vec<K> = inspection_sampled::table
        .inner_join(students::table)
        .left_join(classes::table.on(classes::id.nullable().eq(students::class_id)))
        .filter(inspection_sampled::visit_id.eq_any(visits.iter().map(|v| v.0.0).collect::<Vec<_>>()))
        .order((inspection_sampled::visit_id.asc(), inspection_sampled::seq.asc()))
        .select((
            (
                inspection_sampled::visit_id,
                inspection_sampled::seq,
                students::student_no_sealed,
                students::name,
                students::sex,
                classes::name.nullable(),
            ),
            (
                inspection_sampled::present,
                inspection_sampled::in_class,
                inspection_sampled::eats_here,
                inspection_sampled::guardian_confirms,
            ),
        ))
        .load::<K>(conn)?
        .into_iter()
        .map(|((visit, seq, no, name, sex, class), t)| {
            Ok(((visit, seq, at_rest::student_no(&no)?, name, sex, class), t))
        })
        .collect::<AppResult<_>>()?;
    let method = Method::parse(&p.4).unwrap_or(Method::Random);
    Ok(PlanView {
        id: p.0,
        county: p.1,
        county_name: p.2,
        term: p.3,
        method,
        method_label: method.label(),
        risk_share: p.5,
        seed: p.6,
        data_hash: p.7,
        drawn_by: p.8,
        drawn_at: crate::clock::local(p.9),
        visits: visits
            .into_iter()
            .map(
                |(
                    (vid, seq, code, name, risk, status),
                    (visited_on, visited_by, meals_school, meals_counted, note),
                )| {
                    let status = crate::error::stored::<VisitStatus>(status)?;
                    Ok(VisitView {
                        id: vid,
                        seq,
                        school: code,
                        school_name: name,
                        risk,
                        status,
                        may_record: super::visits::may_record(caller, status).is_ok(),
                        visited_on,
                        visited_by,
                        meals_school,
                        meals_counted,
                        note,
                        children: kids
                            .iter()
                            .filter(|(k, _)| k.0 == vid)
                            .map(|(k, t)| Child {
                                seq: k.1,
                                student_no: if full { k.2.clone() } else { crate::domain::mask::student_no(&k.2) },
                                name: k.3.clone(),
                                sex: if k.4 == "2" { "女" } else { "男" },
                                class_name: k.5.clone().unwrap_or_default(),
                                present: t.0,
                                in_class: t.1,
                                eats_here: t.2,
                                guardian_confirms: t.3,
                            })
                            .collect(),
                    })
                },
            )
            .collect::<AppResult<_>>()?,
    })
}

/// A plan in the list.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRow {
    pub id: i64,
    pub county: String,
    pub term: String,
    pub method: &'static str,
    pub schools: i32,
    pub drawn_at: NaiveDateTime,
}

/// The plans of the caller's scope, newest first.
pub fn list(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<PlanRow>> {
    caller.require(conn, Permission::ViewAnomalies, "inspection_plans")?;
    let rows: Vec<(i64, String, String, String, i32, NaiveDateTime)> = inspection_plans::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .order(inspection_plans::id.desc())
        .select((
            inspection_plans::id,
            orgs::name,
            inspection_plans::term,
            inspection_plans::method,
            inspection_plans::schools,
            inspection_plans::drawn_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, county, term, m, schools, at)| PlanRow {
            id,
            county,
            term,
            method: Method::parse(&m).map_or("", Method::label),
            schools,
            drawn_at: crate::clock::local(at),
        })
        .collect())
}
