//! Runs a report definition for an org, a period and a report date: the figures of each school
//! (`SchoolFacts`) from the registry, the programme and the entitlements, laid out as the
//! definition's columns. The same `Report` renders to the page, xlsx, PDF and JSON, so they
//! always carry the same figures; each figure drills down to the rows it counts.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{entitlement_periods, meals_served, orgs, programme_schools, schools, students};
use crate::domain::calendar::{Month, Span};
use crate::domain::codes;
use crate::domain::mask;
use crate::domain::money::Fen;
use crate::domain::programme::is_compulsory_grade;
use crate::domain::report::{Beneficiary, Column, Definition, Level, Pupil, Row, SchoolFacts, Value, roll_up, totals};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::roster::{is_boarder, is_left_behind};
use crate::domain::student::Review;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::org::service::org_in_scope;
use crate::programme::{config, roster};
use crate::registry::timeline;

/// What to draw: a report by name, for an org, over a period, counting on a date.
#[derive(Debug, Clone)]
pub struct Request {
    pub name: String,
    pub org: String,
    pub period: Span,
    /// The report date (报表日); the period's last day (or today, if sooner) when absent.
    pub date: Option<NaiveDate>,
}

/// A column heading with what it means.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Head {
    pub key: String,
    pub title: String,
    pub meaning: String,
}

/// A drawn report: the JSON form of SPEC §12 plus what the page and files need.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    pub report: String,
    pub title: String,
    pub org: String,
    pub org_name: String,
    pub period: String,
    pub date: NaiveDate,
    pub columns: Vec<Head>,
    pub rows: Vec<Vec<Value>>,
    pub totals: Vec<Value>,
    pub footnotes: Vec<String>,
    /// The school code of each row (the county's, in a roll-up), for drilling down.
    #[serde(skip_serializing, default)]
    pub row_schools: Vec<String>,
    /// Rows are counties (a city's, province's or the ministry's view of a county report).
    #[serde(skip_serializing, default)]
    pub rolled_up: bool,
}

impl Report {
    /// The address that lists what a figure counts, if it counts anything.
    pub fn drill(&self, row: usize, col: usize) -> Option<String> {
        let key = &self.columns.get(col)?.key;
        let school = self.row_schools.get(row)?;
        let column = Column::parse(key)?;
        if self.rolled_up {
            // A county's figures open that county's own report, school by school.
            return (column != Column::SchoolType && column != Column::Standard)
                .then(|| format!("/reports/{}?org={school}&period={}&date={}", self.report, self.period, self.date));
        }
        (column.counts_students() || matches!(column, Column::SubsidyTotal | Column::Classes)).then(|| {
            format!(
                "/reports/{}/drill?org={}&period={}&date={}&school={school}&column={key}",
                self.report, self.org, self.period, self.date
            )
        })
    }
}

fn definition(name: &str) -> AppResult<Definition> {
    Definition::named(name).map_err(|m| AppError::field("report", ErrorCode::ReportUnknown, m))
}

/// The period's last day, or today when the period is not over.
pub fn default_date(period: &Span, today: NaiveDate) -> NaiveDate {
    period.last_day().min(today)
}

/// The figures of schools on `date` over `period`, in the order given. Set-based (a few queries
/// for all the schools, two per school for its meal models and standard), so a county of
/// 100,000 children draws in well under a second. Unscoped: callers check the schools.
/// `with_record` also reads each child's full record (民族, 户口, 孤儿, 残疾) for the overview.
pub fn facts_for(
    conn: &mut DbConn,
    schools: &[Org],
    date: NaiveDate,
    period: &Span,
    with_record: bool,
) -> AppResult<Vec<SchoolFacts>> {
    let ids: Vec<i64> = schools.iter().map(|s| s.id).collect();
    let placed = timeline::placed_at_many(conn, &ids, date)?;
    // (minority, hukou county, orphan, disabled) from the stored record, when asked for.
    let mut detail: HashMap<i64, (bool, String, bool, bool)> = HashMap::new();
    if with_record {
        let student_ids: Vec<i64> = placed.iter().map(|p| p.student_id).collect();
        for chunk in student_ids.chunks(5_000) {
            for (id, record) in students::table
                .filter(students::id.eq_any(chunk))
                .select((students::id, students::record_sealed))
                .load::<(i64, String)>(conn)?
            {
                let record = crate::db::at_rest::open::<crate::db::at_rest::Record>(&record)?;
                let r: std::collections::BTreeMap<String, String> = serde_json::from_str(&record).unwrap_or_default();
                let get = |k: &str| r.get(k).map(String::as_str).unwrap_or("");
                let hukou: String = get("hukou_place").chars().take(6).collect();
                detail.insert(
                    id,
                    (
                        !matches!(get("ethnicity"), "" | "01"),
                        hukou,
                        get("orphan") == "1",
                        !matches!(get("disability"), "" | "0"),
                    ),
                );
            }
        }
    }
    let mut problems: HashMap<i64, Vec<i64>> = HashMap::new();
    for (school, id) in students::table
        .filter(students::school_id.eq_any(&ids))
        .filter(students::review.eq(Review::Problem.as_str()))
        .select((students::school_id, students::id))
        .load::<(i64, i64)>(conn)?
    {
        problems.entry(school).or_default().push(id);
    }
    let classes = roster::classes_on_many(conn, schools, date)?;
    let members: HashSet<i64> = programme_schools::table
        .filter(programme_schools::school_id.eq_any(&ids))
        .filter(programme_schools::from_date.le(date))
        .filter(programme_schools::to_date.is_null().or(programme_schools::to_date.ge(date)))
        .select(programme_schools::school_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let types: HashMap<i64, String> = schools::table
        .filter(schools::org_id.eq_any(&ids))
        .select((schools::org_id, schools::school_type))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    // Meals reported, and the months with children on the entitlement.
    let mut served: HashMap<i64, (i64, i64)> = HashMap::new();
    for (school, days, meals) in meals_served::table
        .filter(meals_served::school_id.eq_any(&ids))
        .filter(meals_served::month.eq_any(period.keys()))
        .select((meals_served::school_id, meals_served::days_served, meals_served::meals))
        .load::<(i64, i32, i32)>(conn)?
    {
        let e = served.entry(school).or_default();
        *e = (e.0 + i64::from(days), e.1 + i64::from(meals));
    }
    let mut active: HashMap<i64, Vec<i32>> = HashMap::new();
    for (school, month) in entitlement_periods::table
        .filter(entitlement_periods::school_id.eq_any(&ids))
        .filter(entitlement_periods::month.eq_any(period.keys()))
        .filter(entitlement_periods::students.gt(0))
        .select((entitlement_periods::school_id, entitlement_periods::month))
        .load::<(i64, i32)>(conn)?
    {
        active.entry(school).or_default().push(month);
    }
    let mut subsidy: HashMap<i64, i64> = HashMap::new();
    for (school, amount, adjustment) in entitlement_periods::table
        .filter(entitlement_periods::school_id.eq_any(&ids))
        .filter(entitlement_periods::month.eq_any(period.keys()))
        .select((entitlement_periods::school_id, entitlement_periods::amount_fen, entitlement_periods::adjustment_fen))
        .load::<(i64, i64, i64)>(conn)?
    {
        *subsidy.entry(school).or_default() += amount + adjustment;
    }
    let mut by_school: HashMap<i64, Vec<timeline::Placed>> = HashMap::new();
    for p in placed {
        by_school.entry(p.school_id).or_default().push(p);
    }
    let mut out = Vec::with_capacity(schools.len());
    for school in schools {
        let placed = by_school.remove(&school.id).unwrap_or_default();
        let models = config::ModelsOnDay::load(conn, school.id, date)?;
        // Beneficiaries (SPEC §6): placed at a programme school in a class of grades 1–9.
        let beneficiaries = if members.contains(&school.id) {
            placed
                .iter()
                .filter(|p| p.class_id.and_then(|c| classes.get(&c)).is_some_and(|(_, _, g)| is_compulsory_grade(*g)))
                .map(|p| Beneficiary {
                    student_id: p.student_id,
                    boarder: is_boarder(&p.attendance),
                    yibu: p.yibu,
                    left_behind: is_left_behind(&p.left_behind),
                    migrant: p.migrant,
                    model: models.of_class(p.class_id).map(|m| m.label()).unwrap_or("").to_owned(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let school_type = types.get(&school.id).cloned().unwrap_or_default();
        let county = crate::registry::service::county_of(&school.path);
        let pupils = placed
            .iter()
            .map(|p| {
                let (minority, hukou, orphan, disabled) = detail.get(&p.student_id).cloned().unwrap_or_default();
                Pupil {
                    student_id: p.student_id,
                    grade: p.class_id.and_then(|c| classes.get(&c)).map(|(_, _, g)| *g),
                    boy: p.sex == "1",
                    girl: p.sex == "2",
                    migrant: p.migrant,
                    left_behind: is_left_behind(&p.left_behind),
                    yibu: p.yibu,
                    minority,
                    out_of_county: with_record && !hukou.is_empty() && hukou != county,
                    orphan,
                    disabled,
                }
            })
            .collect();
        out.push(SchoolFacts {
            code: school.code.clone(),
            name: school.name.clone(),
            school_type: codes::table("school_type").label(&school_type).unwrap_or(&school_type).to_owned(),
            classes: placed.iter().filter_map(|p| p.class_id).collect::<HashSet<_>>().len(),
            enrolled: placed.into_iter().map(|p| p.student_id).collect(),
            beneficiaries,
            standard: config::meal_standard(conn, &school.path, date)?,
            subsidy_total: Fen::new(subsidy.get(&school.id).copied().unwrap_or(0)),
            days_served: served.get(&school.id).map_or(0, |s| s.0),
            meals: served.get(&school.id).map_or(0, |s| s.1),
            schools_by_month: active.remove(&school.id).unwrap_or_default().into_iter().map(|m| (m, 1)).collect(),
            summed_avg: None,
            pupils,
            problems: problems.remove(&school.id).unwrap_or_default(),
            allocated: Fen::new(0),
            spent: Fen::new(0),
        });
    }
    Ok(out)
}

/// The org a report is drawn for, with the schools it covers, checked against the definition.
fn subject(
    conn: &mut DbConn,
    caller: &Caller,
    def: &Definition,
    req: &Request,
    date: NaiveDate,
) -> AppResult<(Org, Vec<Org>)> {
    caller.require(conn, Permission::ViewReports, "report")?;
    let org = org_in_scope(conn, caller.scope(), &req.org)?;
    let is_school = org.kind == OrgKind::School;
    if !def.level.drawn_for(is_school) {
        let message = if is_school {
            format!("{}按县（或以上单位）汇总，请选择县；学校请用校级报表", def.title)
        } else {
            format!("{}是学校报表，请选择一所学校（“{}”是{}）", def.title, org.name, org.kind_label())
        };
        return Err(AppError::field("org", ErrorCode::ReportLevel, message));
    }
    let schools = match (def.level, is_school) {
        (_, true) => vec![org.clone()],
        // A school that left mid-period still answers for its money and meals.
        (Level::County, false) => config::programme_schools(conn, &org.path, req.period.first_day().min(date), date)?,
        (_, false) => orgs::table
            .filter(orgs::path.like(format!("{}%", org.path)))
            .filter(orgs::kind.eq(OrgKind::School.as_str()))
            .select(Org::as_select())
            .order(orgs::code.asc())
            .load(conn)?,
    };
    Ok((org, schools))
}

/// Draws a report. A report with nothing to count is refused, never returned empty.
pub fn run(conn: &mut DbConn, caller: &Caller, req: &Request) -> AppResult<Report> {
    let def = definition(&req.name)?;
    let date = req.date.unwrap_or_else(|| default_date(&req.period, caller.today()));
    let (org, schools) = subject(conn, caller, &def, req, date)?;
    let columns: Vec<Column> = def.columns.iter().map(|c| c.column).collect();
    // Above a county, a county report has a row per county. Counties are drawn one at a time
    // and only their rows kept, so a province's children are never all in memory at once.
    let rolled_up =
        def.level != Level::School && matches!(org.kind, OrgKind::Prefecture | OrgKind::Province | OrgKind::Ministry);
    let groups: Vec<(Option<String>, Vec<Org>)> = if rolled_up {
        let mut by_county: std::collections::BTreeMap<String, Vec<Org>> = std::collections::BTreeMap::new();
        for s in schools {
            by_county.entry(crate::registry::service::county_of(&s.path)).or_default().push(s);
        }
        by_county.into_iter().map(|(c, s)| (Some(c), s)).collect()
    } else {
        vec![(None, schools)]
    };
    let names: HashMap<String, String> = orgs::table
        .filter(orgs::code.eq_any(groups.iter().filter_map(|g| g.0.clone())))
        .select((orgs::code, orgs::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let area = org.kind != OrgKind::School;
    let mut rows: Vec<Row> = Vec::new();
    let mut row_schools: Vec<String> = Vec::new();
    for (county, schools) in groups {
        let mut facts = school_rows(conn, caller, &def, &schools, date, &req.period)?;
        // An area's report lists the schools with something to report; a school's is its own row.
        match def.level {
            Level::County => facts.retain(SchoolFacts::has_data),
            Level::Any if area => facts.retain(SchoolFacts::has_registry),
            _ => {}
        }
        match county {
            Some(code) if !facts.is_empty() => {
                let name = names.get(&code).cloned().unwrap_or_else(|| code.clone());
                rows.push(roll_up(code.clone(), name, &facts).row(&columns));
                row_schools.push(code);
            }
            Some(_) => {}
            None => {
                rows.extend(facts.iter().filter(|f| f.has_registry() || f.has_data()).map(|f| f.row(&columns)));
                row_schools.extend(facts.iter().filter(|f| f.has_registry() || f.has_data()).map(|f| f.code.clone()));
            }
        }
    }
    if rows.is_empty() {
        return Err(AppError::invalid(
            ErrorCode::ReportNoData,
            format!(
                "{}在{}（报表日{date}）没有可统计的数据：没有在校或受益学生，也没有核算补助，不生成空报表",
                org.name, req.period
            ),
        ));
    }
    Ok(Report {
        report: def.name.clone(),
        title: def.title.clone(),
        org: org.code.clone(),
        org_name: org.name.clone(),
        period: req.period.to_string(),
        date,
        columns: def
            .columns
            .iter()
            .map(|c| match c.column {
                Column::SchoolName if rolled_up => Head {
                    key: c.column.key().to_owned(),
                    title: "县（市、区）".into(),
                    meaning: "下辖县级单位".into(),
                },
                Column::SchoolType if rolled_up => Head {
                    key: c.column.key().to_owned(),
                    title: "受益学校".into(),
                    meaning: "有受益学生的计划学校数".into(),
                },
                _ => Head { key: c.column.key().to_owned(), title: c.title.clone(), meaning: c.meaning.clone() },
            })
            .collect(),
        totals: totals(&columns, &rows),
        rows: rows.into_iter().map(|r| r.values).collect(),
        footnotes: def.footnotes.clone(),
        row_schools,
        rolled_up,
    })
}

/// The figures of `schools` for a definition: what it counts, and the money when it asks.
fn school_rows(
    conn: &mut DbConn,
    caller: &Caller,
    def: &Definition,
    schools: &[Org],
    date: NaiveDate,
    period: &Span,
) -> AppResult<Vec<SchoolFacts>> {
    let with_record = def.columns.iter().any(|c| c.column.needs_record());
    let mut facts = facts_for(conn, schools, date, period, with_record)?;
    if def.columns.iter().any(|c| c.column.needs_ledger()) {
        money_from_reconciliation(conn, caller, schools, period, &mut facts)?;
    }
    Ok(facts)
}

/// Allocated and spent per school from the reconciliation of each county concerned (the same
/// figures finance staff reconcile, never a second sum of the ledger).
fn money_from_reconciliation(
    conn: &mut DbConn,
    caller: &Caller,
    schools: &[Org],
    period: &Span,
    facts: &mut [SchoolFacts],
) -> AppResult<()> {
    let mut counties: Vec<String> = schools.iter().map(|s| crate::registry::service::county_of(&s.path)).collect();
    counties.sort();
    counties.dedup();
    let mut money: HashMap<String, (Fen, Fen)> = HashMap::new();
    for county in counties {
        let r =
            crate::ledger::reconcile::county_period(conn, caller, &county, period, crate::domain::ledger::Fund::Meal)?;
        money.extend(r.rows.into_iter().map(|row| (row.school, (row.allocated, row.spent))));
    }
    for f in facts {
        if let Some((allocated, spent)) = money.get(&f.code) {
            f.allocated = *allocated;
            f.spent = *spent;
        }
    }
    Ok(())
}

/// One row of a drill-down: a student counted, a month of money, or a class.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DrillRow {
    pub cells: Vec<String>,
    /// Where the row itself leads (a month's entitlement), if anywhere.
    pub link: Option<String>,
}

/// What one figure counts.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Drill {
    pub report: String,
    pub title: String,
    pub school: String,
    pub school_name: String,
    pub column: String,
    pub period: String,
    pub date: NaiveDate,
    pub value: Value,
    pub heads: Vec<&'static str>,
    pub rows: Vec<DrillRow>,
}

/// The rows behind one school's figure in a report.
pub fn drill(conn: &mut DbConn, caller: &Caller, req: &Request, school_code: &str, key: &str) -> AppResult<Drill> {
    let def = definition(&req.name)?;
    let col = def.columns.iter().find(|c| c.column.key() == key).ok_or_else(|| {
        AppError::field("column", ErrorCode::ReportUnknownColumn, format!("{}没有“{key}”这一列", def.title))
    })?;
    let date = req.date.unwrap_or_else(|| default_date(&req.period, caller.today()));
    caller.require(conn, Permission::ViewReports, "report_drill")?;
    // The school must be inside the report's org, and both in the caller's scope.
    let org = org_in_scope(conn, caller.scope(), &req.org)?;
    let school = org_in_scope(conn, caller.scope(), school_code)?;
    if !school.path.starts_with(&org.path) || school.kind != OrgKind::School {
        return Err(AppError::not_found());
    }
    // The school's figures as the report draws them (record and money read only if it needs them).
    let facts = school_rows(conn, caller, &def, std::slice::from_ref(&school), date, &req.period)?
        .pop()
        .ok_or_else(|| AppError::internal_msg(ErrorCode::ReportFacts, "学校数据缺失".into()))?;
    let (heads, rows): (Vec<&'static str>, Vec<DrillRow>) = match col.column {
        Column::SubsidyTotal => {
            let months: Vec<(i32, i32, i32, i64, i64)> = entitlement_periods::table
                .filter(entitlement_periods::school_id.eq(school.id))
                .filter(entitlement_periods::month.eq_any(req.period.keys()))
                .order(entitlement_periods::month.asc())
                .select((
                    entitlement_periods::month,
                    entitlement_periods::students,
                    entitlement_periods::beneficiary_days,
                    entitlement_periods::amount_fen,
                    entitlement_periods::adjustment_fen,
                ))
                .load(conn)?;
            let fen = Fen::new;
            let rows = months
                .into_iter()
                .map(|(m, students, days, amount, adjustment)| {
                    let month = Month::from_key(m).map(|m| m.to_string()).unwrap_or_default();
                    DrillRow {
                        link: Some(format!("/entitlements/{}/{month}", school.code)),
                        cells: vec![
                            month,
                            students.to_string(),
                            days.to_string(),
                            fen(amount).to_string(),
                            fen(adjustment).to_string(),
                            fen(amount + adjustment).to_string(),
                        ],
                    }
                })
                .collect();
            (vec!["月份", "受益人数", "人·天", "当月核算（元）", "调整（元）", "合计（元）"], rows)
        }
        Column::Classes => {
            let classes = roster::classes_on(conn, &school, date)?;
            let placed = timeline::placed_at(conn, school.id, date)?;
            let mut counts: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
            for (_, c) in placed {
                if let Some(c) = c {
                    *counts.entry(c).or_default() += 1;
                }
            }
            let mut rows: Vec<(i32, String, String, usize)> = counts
                .into_iter()
                .map(|(c, n)| {
                    let (no, name, grade) = classes.get(&c).cloned().unwrap_or_default();
                    (grade, no, name, n)
                })
                .collect();
            rows.sort();
            (
                vec!["班号", "班级", "年级", "在校人数"],
                rows.into_iter()
                    .map(|(g, no, name, n)| DrillRow {
                        cells: vec![no, name, codes::grade_name(g).to_owned(), n.to_string()],
                        link: None,
                    })
                    .collect(),
            )
        }
        c if c.counts_students() => {
            // Lists of children: names and masked numbers, so reading them needs the student right.
            caller.require(conn, Permission::ViewStudents, "report_drill")?;
            let ids: HashSet<i64> = facts.counted(c).into_iter().collect();
            let mut list: Vec<(String, String, String)> = Vec::with_capacity(ids.len());
            let all: Vec<i64> = ids.iter().copied().collect();
            for chunk in all.chunks(5_000) {
                let rows = students::table
                    .filter(students::id.eq_any(chunk))
                    .select((students::student_no_sealed, students::name, students::sex))
                    .load::<(String, String, String)>(conn)?;
                for (no, name, sex) in rows {
                    list.push((crate::db::at_rest::student_no(&no)?, name, sex));
                }
            }
            list.sort();
            (
                vec!["学籍号", "姓名", "性别"],
                list.into_iter()
                    .map(|(no, name, sex)| DrillRow {
                        cells: vec![mask::student_no(&no), name, codes::sex_label(&sex).to_owned()],
                        link: None,
                    })
                    .collect(),
            )
        }
        _ => (Vec::new(), Vec::new()),
    };
    Ok(Drill {
        report: def.name.clone(),
        title: def.title.clone(),
        school: school.code.clone(),
        school_name: school.name.clone(),
        column: col.title.clone(),
        period: req.period.to_string(),
        date,
        value: facts.value(col.column),
        heads,
        rows,
    })
}
