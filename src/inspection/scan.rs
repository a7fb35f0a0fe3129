//! The anomaly scan: the rules of `domain::anomaly` run over an org's schools for a period (a
//! month, a term or a school year), each flag naming the school, the child and the month where
//! it is about one, the money at stake, and why, in Chinese.
//!
//! Rules read the named data exactly: a child's paid days are the day lists of its entitlement
//! lines (the newest line of a month holds the days now paid, the lines' sum the money), checked
//! against the child's timeline day by day.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{
    classes, entitlement_lines, entitlement_periods, fund_accounts, ledger_entries, meals_served, orgs, student_spells,
    students, yibu_lines, yibu_periods,
};
use crate::domain::anomaly::{Rule, Severity, age_implausible};
use crate::domain::calendar::{DaySet, Month, Span};
use crate::domain::id_card::IdCardNo;
use crate::domain::ledger::{EntryKind, Fund};
use crate::domain::money::Fen;
use crate::domain::programme::StandardKind;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::status::State;
use crate::domain::term::Term;
use crate::domain::timeline::Timeline;
use crate::error::{AppError, AppResult};
use crate::org::model::Org;
use crate::org::service::org_in_scope;
use crate::programme::{calendar, config};
use crate::registry::timeline;

/// The rules this scan implements so far; the others are listed in the catalogue and reported
/// as not yet run, never silently passed.
pub const IMPLEMENTED: [Rule; 8] =
    [Rule::A01, Rule::A03, Rule::A04, Rule::A05, Rule::A06, Rule::A07, Rule::A12, Rule::A14];

/// One flag.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Flag {
    pub rule: &'static str,
    pub severity: Severity,
    /// The 学校标识码 (a flag about a county: its division code).
    pub school: String,
    pub school_name: String,
    /// When the flag is about one child.
    pub student_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_id: Option<i64>,
    pub month: Option<String>,
    /// The money at stake, yuan with two decimals.
    pub amount: Option<String>,
    pub message: String,
}

/// A scan's answer (the shape `mealroll inspect scan --json` and `/api/v1/anomalies` print).
#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    pub org: String,
    pub org_name: String,
    pub period: String,
    /// The rules that ran.
    pub rules: Vec<&'static str>,
    /// Asked for but not yet implemented: they did not run (so no flag of theirs means nothing).
    pub not_run: Vec<&'static str>,
    pub flags: Vec<Flag>,
}

impl Scan {
    /// As pages and the API show it: 学籍号 masked.
    pub fn shown(mut self) -> Self {
        for f in &mut self.flags {
            f.student_no = f.student_no.as_deref().map(crate::domain::mask::student_no);
        }
        self
    }

    /// Flags by rule, for the page's summary.
    pub fn counts(&self) -> Vec<(&'static str, &'static str, usize)> {
        let mut by: BTreeMap<&'static str, usize> = BTreeMap::new();
        for f in &self.flags {
            *by.entry(f.rule).or_default() += 1;
        }
        by.into_iter().map(|(code, n)| (code, Rule::parse(code).map_or("", |r| r.info().title), n)).collect()
    }
}

/// The org's schools and the period, shared by every rule.
struct Ctx {
    schools: Vec<Org>,
    ids: Vec<i64>,
    first: NaiveDate,
    last: NaiveDate,
    span: Span,
}

impl Ctx {
    fn school(&self, id: i64) -> Option<&Org> {
        self.schools.iter().find(|s| s.id == id)
    }

    fn flag(&self, rule: Rule, school_id: i64, message: String) -> Flag {
        let (code, name) =
            self.school(school_id).map_or((String::new(), String::new()), |s| (s.code.clone(), s.name.clone()));
        Flag {
            rule: rule.code(),
            severity: rule.info().severity,
            school: code,
            school_name: name,
            student_no: None,
            student_id: None,
            month: None,
            amount: None,
            message,
        }
    }
}

/// Runs `rules` (empty: every rule) over the org's schools for the period.
pub fn scan(conn: &mut DbConn, caller: &Caller, org_code: &str, span: &Span, rules: &[Rule]) -> AppResult<Scan> {
    caller.require(conn, Permission::ViewAnomalies, "anomaly_scan")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let schools: Vec<Org> = orgs::table
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .filter(orgs::path.like(format!("{}%", org.path)))
        .select(Org::as_select())
        .order(orgs::code.asc())
        .load(conn)?;
    let cx = Ctx {
        ids: schools.iter().map(|s| s.id).collect(),
        schools,
        first: span.first_day(),
        last: span.last_day(),
        span: span.clone(),
    };
    let wanted: Vec<Rule> = if rules.is_empty() { Rule::ALL.to_vec() } else { rules.to_vec() };
    // Every child-month is read only by A03; A01 and A12 read the few children they concern.
    let paid = if wanted.contains(&Rule::A03) { paid_days(conn, &cx, Whose::Unsettled)? } else { Paid::new() };
    let mut flags = Vec::new();
    let (mut ran, mut not_run) = (Vec::new(), Vec::new());
    for rule in wanted {
        let found = match rule {
            Rule::A01 => a01_same_id_two_schools(conn, &cx)?,
            Rule::A03 => a03_paid_after_leaving(conn, &cx, &paid)?,
            Rule::A04 => a04_days_above_calendar(conn, &cx)?,
            Rule::A05 => a05_meals_above_beneficiary_days(conn, &cx)?,
            Rule::A06 => a06_yibu_for_day_student(conn, &cx)?,
            Rule::A07 => a07_age_for_grade(conn, &cx)?,
            Rule::A12 => a12_bad_id_paid(conn, &cx)?,
            Rule::A14 => a14_allocation_outside_programme(conn, &cx)?,
            other => {
                not_run.push(other.code());
                continue;
            }
        };
        ran.push(rule.code());
        flags.extend(found);
    }
    flags.sort_by(|a, b| {
        (a.rule, &a.school, &a.month, &a.student_no).cmp(&(b.rule, &b.school, &b.month, &b.student_no))
    });
    Ok(Scan { org: org.code, org_name: org.name, period: span.to_string(), rules: ran, not_run, flags })
}

/// Paid days per (student, school, month): the money (sum of the month's lines) and the days
/// the newest line pays, as a set of days of the month.
type Paid = HashMap<(i64, i64, i32), PaidMonth>;

#[derive(Debug, Clone, Copy, Default)]
struct PaidMonth {
    net: i64,
    newest: i64,
    days: DaySet,
}

/// The days of `month` the child was at school at `school`.
fn present(t: Option<&Timeline>, school: i64, month: Month) -> DaySet {
    t.map_or(DaySet(0), |t| {
        t.spells()
            .iter()
            .filter(|s| s.state == State::AtSchool && s.school_id == school)
            .fold(DaySet(0), |acc, s| acc.or(DaySet::between(month, s.from, s.to)))
    })
}

/// Whose paid days to read.
#[derive(Clone, Copy)]
enum Whose<'a> {
    /// These children's.
    Only(&'a [i64]),
    /// Every child's except those at school at that school through the whole period: they
    /// cannot have a paid day off it, and they are nearly everyone (a county year is a million
    /// child-months).
    Unsettled,
}

/// The paid days of the org's schools in the period.
fn paid_days(conn: &mut DbConn, cx: &Ctx, whose: Whose<'_>) -> AppResult<Paid> {
    let mut q = entitlement_lines::table
        .inner_join(entitlement_periods::table)
        .filter(entitlement_periods::school_id.eq_any(&cx.ids))
        .filter(entitlement_lines::for_month.eq_any(cx.span.keys()))
        .into_boxed();
    match whose {
        Whose::Only(ids) => q = q.filter(entitlement_lines::student_id.eq_any(ids.to_vec())),
        Whose::Unsettled => {
            q = q.filter(diesel::dsl::not(diesel::dsl::exists(
                student_spells::table
                    .filter(student_spells::student_id.eq(entitlement_lines::student_id))
                    .filter(student_spells::school_id.eq(entitlement_periods::school_id))
                    .filter(student_spells::state.eq(State::AtSchool.as_str()))
                    .filter(student_spells::from_date.le(cx.first))
                    .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(cx.last)))
                    .select(student_spells::id),
            )))
        }
    }
    let rows: Vec<(i64, i64, i64, i32, String, i64)> = q
        .select((
            entitlement_lines::id,
            entitlement_lines::student_id,
            entitlement_periods::school_id,
            entitlement_lines::for_month,
            entitlement_lines::day_list,
            entitlement_lines::amount_fen,
        ))
        .load(conn)?;
    let mut out = Paid::with_capacity(rows.len());
    for (id, student, school, month, list, fen) in rows {
        let e = out.entry((student, school, month)).or_default();
        e.net += fen;
        if id > e.newest {
            e.newest = id;
            e.days = DaySet::parse(&list);
        }
    }
    Ok(out)
}

fn month_label(key: i32) -> String {
    Month::from_key(key).map(|m| m.to_string()).unwrap_or_default()
}

type StudentInfo = (String, String);

fn students_by_id(conn: &mut DbConn, ids: &[i64]) -> AppResult<HashMap<i64, StudentInfo>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(5000) {
        let rows: Vec<(i64, String, String)> = students::table
            .filter(students::id.eq_any(chunk))
            .select((students::id, students::student_no, students::name))
            .load(conn)?;
        out.extend(rows.into_iter().map(|(id, no, name)| (id, (no, name))));
    }
    Ok(out)
}

/// A01: the same ID number at school at two schools on the same days of the period.
fn a01_same_id_two_schools(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // Numbers held by more than one confirmed record, one of them in scope (two steps: a
    // self-join lets SQLite's planner pick the review index and go quadratic).
    let mine = diesel::alias!(students as mine);
    let in_scope = mine
        .filter(mine.field(students::school_id).eq_any(&cx.ids))
        .filter(mine.field(students::review).eq("confirmed"))
        .filter(mine.field(students::id_no).is_not_null())
        .select(mine.field(students::id_no));
    let shared: Vec<Option<String>> = students::table
        .filter(students::review.eq("confirmed"))
        .filter(students::id_no.eq_any(in_scope))
        .group_by(students::id_no)
        .having(diesel::dsl::count_star().gt(1))
        .select(students::id_no)
        .load(conn)?;
    let shared: Vec<String> = shared.into_iter().flatten().collect();
    let mut holders: BTreeMap<String, Vec<(i64, i64, String, String)>> = BTreeMap::new();
    for chunk in shared.chunks(5000) {
        let rows: Vec<(i64, i64, String, String, Option<String>)> = students::table
            .filter(students::review.eq("confirmed"))
            .filter(students::id_no.eq_any(chunk))
            .select((students::id, students::school_id, students::student_no, students::name, students::id_no))
            .load(conn)?;
        for (id, school, no, name, id_no) in rows {
            holders.entry(id_no.unwrap_or_default()).or_default().push((id, school, no, name));
        }
    }
    let mut pairs: Vec<(i64, i64, String, String, i64, i64)> = Vec::new();
    for group in holders.values() {
        for a in group.iter().filter(|a| cx.ids.contains(&a.1)) {
            for b in group.iter().filter(|b| b.0 != a.0) {
                pairs.push((a.0, a.1, a.2.clone(), a.3.clone(), b.0, b.1));
            }
        }
    }
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = pairs.iter().flat_map(|p| [p.0, p.4]).collect();
    let lines = timeline::timelines(conn, &ids)?;
    let paid = paid_days(conn, cx, Whose::Only(&ids))?;
    let other_schools: HashMap<i64, (String, String)> = orgs::table
        .filter(orgs::id.eq_any(pairs.iter().map(|p| p.5).collect::<Vec<_>>()))
        .select((orgs::id, orgs::code, orgs::name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, c, n)| (id, (c, n)))
        .collect();
    let mut out = Vec::new();
    for (id, school, no, name, twin, twin_school) in pairs {
        if school == twin_school {
            continue;
        }
        // Month by month, the days both were at school, up to today.
        let until = cx.last.min(crate::clock::today()) + chrono::Days::new(1);
        let shared: BTreeMap<i32, DaySet> = cx
            .span
            .keys()
            .into_iter()
            .filter_map(|k| Month::from_key(k).ok())
            .map(|m| {
                let days = present(lines.get(&id), school, m)
                    .and(present(lines.get(&twin), twin_school, m))
                    .and(DaySet::between(m, cx.first, Some(until)));
                (m.key(), days)
            })
            .filter(|(_, d)| d.count() > 0)
            .collect();
        let both: Vec<NaiveDate> = shared
            .iter()
            .filter_map(|(k, d)| Month::from_key(*k).ok().map(|m| (m, *d)))
            .flat_map(|(m, d)| d.days().filter_map(move |day| m.day(day)))
            .collect();
        let (Some(from), Some(to)) = (both.first(), both.last()) else { continue };
        let at_stake: i64 = shared
            .iter()
            .filter_map(|(m, days)| {
                paid.get(&(id, school, *m))
                    .map(|p| Fen::new(p.net).pro_rata(p.days.and(*days).count(), p.days.count()).fen())
            })
            .sum();
        let (code, oname) = other_schools.get(&twin_school).cloned().unwrap_or_default();
        let mut f = cx.flag(
            Rule::A01,
            school,
            format!(
                "{name}的身份证件号码与{oname}（{code}）的一名在校学生相同，{from}至{to}两校同时在籍（{}天）",
                both.len()
            ),
        );
        f.student_no = Some(no);
        f.student_id = Some(id);
        f.amount = (at_stake > 0).then(|| Fen::new(at_stake).to_string());
        out.push(f);
    }
    Ok(out)
}

/// A03: paid days on which the child was not at that school (died, left, in transit, suspended).
fn a03_paid_after_leaving(conn: &mut DbConn, cx: &Ctx, paid: &Paid) -> AppResult<Vec<Flag>> {
    let ids: Vec<i64> = paid.keys().map(|k| k.0).collect::<BTreeSet<_>>().into_iter().collect();
    let lines = timeline::timelines(conn, &ids)?;
    // (key, the days off the school, the month's money, the days paid)
    type Off = ((i64, i64, i32), Vec<NaiveDate>, i64, usize);
    let mut bad: Vec<Off> = Vec::new();
    for (key, p) in paid {
        let Ok(month) = Month::from_key(key.2) else { continue };
        if p.net <= 0 {
            continue;
        }
        let off = p.days.minus(present(lines.get(&key.0), key.1, month));
        if off.count() > 0 {
            let off: Vec<NaiveDate> = off.days().filter_map(|d| month.day(d)).collect();
            bad.push((*key, off, p.net, p.days.count()));
        }
    }
    let who = students_by_id(conn, &bad.iter().map(|b| b.0.0).collect::<Vec<_>>())?;
    let mut out = Vec::new();
    for ((student, school, month), off, net, all) in bad {
        let (no, name) = who.get(&student).cloned().unwrap_or_default();
        let state = lines
            .get(&student)
            .and_then(|t| t.at(off[0]))
            .map_or("不在籍", |s| if s.state == State::AtSchool { "已在另一所学校" } else { s.state.label() });
        let days: Vec<String> = off.iter().map(|d| d.format("%-d日").to_string()).collect();
        let mut f = cx.flag(
            Rule::A03,
            school,
            format!(
                "{name}在{}的{}仍计补助，这些天其状态为“{state}”（共{}天）",
                month_label(month),
                days.join("、"),
                off.len()
            ),
        );
        f.student_no = Some(no);
        f.student_id = Some(student);
        f.month = Some(month_label(month));
        f.amount = Some(Fen::new(net).pro_rata(off.len(), all).to_string());
        out.push(f);
    }
    Ok(out)
}

/// A04: meal days reported above the calendar's meal days of the month.
fn a04_days_above_calendar(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let rows: Vec<(i64, i32, i32)> = meals_served::table
        .filter(meals_served::school_id.eq_any(&cx.ids))
        .filter(meals_served::month.eq_any(cx.span.keys()))
        .select((meals_served::school_id, meals_served::month, meals_served::days_served))
        .load(conn)?;
    let mut out = Vec::new();
    for (school, key, reported) in rows {
        let (Some(org), Ok(m)) = (cx.school(school), Month::from_key(key)) else { continue };
        let calendar_days = calendar::month_for(conn, &org.path, m)?.map_or(0, |(c, _, _)| c.count());
        if usize::try_from(reported).unwrap_or(0) > calendar_days {
            let mut f = cx.flag(
                Rule::A04,
                school,
                format!("{}上报{m}供餐{reported}天，校历只有{calendar_days}个供餐日", org.name),
            );
            f.month = Some(m.to_string());
            out.push(f);
        }
    }
    Ok(out)
}

/// A05: meals served above the named beneficiaries' person-days of the month.
fn a05_meals_above_beneficiary_days(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let rows: Vec<(i64, i32, i32, i32, i64)> = meals_served::table
        .inner_join(
            entitlement_periods::table.on(entitlement_periods::school_id
                .eq(meals_served::school_id)
                .and(entitlement_periods::month.eq(meals_served::month))),
        )
        .filter(meals_served::school_id.eq_any(&cx.ids))
        .filter(meals_served::month.eq_any(cx.span.keys()))
        .select((
            meals_served::school_id,
            meals_served::month,
            meals_served::meals,
            entitlement_periods::beneficiary_days,
            entitlement_periods::amount_fen,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    for (school, key, meals, days, fen) in rows {
        if meals <= days {
            continue;
        }
        let excess = usize::try_from(meals - days).unwrap_or(0);
        let mut f = cx.flag(
            Rule::A05,
            school,
            format!("{}上报就餐{meals}人次，实名受益学生只有{days}人·天，多{excess}人次", month_label(key)),
        );
        f.month = Some(month_label(key));
        f.amount = (days > 0).then(|| Fen::new(fen).pro_rata(excess, usize::try_from(days).unwrap_or(1)).to_string());
        out.push(f);
    }
    Ok(out)
}

/// A06: 一补 at a boarder's rate paid for a child registered as a day pupil (走读, code 1).
fn a06_yibu_for_day_student(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // The terms the period touches (a month lies in one; `Span::terms` counts only whole terms).
    let terms: Vec<String> = cx
        .span
        .keys()
        .into_iter()
        .filter_map(|k| Month::from_key(k).ok())
        .map(|m| Term::of_day(m.first_day()).to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows: Vec<(i64, i64, String, String, String, i64)> = yibu_lines::table
        .inner_join(yibu_periods::table)
        .inner_join(students::table)
        .filter(yibu_periods::school_id.eq_any(&cx.ids))
        .filter(yibu_lines::for_term.eq_any(&terms))
        .filter(students::attendance.eq("1"))
        // A day pupil's own rate (where a province pays one) is no anomaly; a boarder's is.
        .filter(yibu_lines::rate_kind.eq_any([StandardKind::YibuPrimary.as_str(), StandardKind::YibuJunior.as_str()]))
        .select((
            students::id,
            yibu_periods::school_id,
            students::student_no,
            students::name,
            yibu_lines::for_term,
            yibu_lines::amount_fen,
        ))
        .load(conn)?;
    let mut sums: BTreeMap<(i64, i64, String), (String, String, i64)> = BTreeMap::new();
    for (id, school, no, name, term, fen) in rows {
        sums.entry((id, school, term)).or_insert((no, name, 0)).2 += fen;
    }
    Ok(sums
        .into_iter()
        .filter(|(_, v)| v.2 > 0)
        .map(|((id, school, term), (no, name, fen))| {
            let label = Term::parse(&term).map(|t| t.label()).unwrap_or(term.clone());
            let mut f = cx.flag(
                Rule::A06,
                school,
                format!("{name}登记为走读生，{label}却按寄宿生标准享受一补{}元", Fen::new(fen)),
            );
            f.student_no = Some(no);
            f.student_id = Some(id);
            f.amount = Some(Fen::new(fen).to_string());
            f
        })
        .collect())
}

/// A07: a child at school whose age on 1 September is implausible for the class's grade.
fn a07_age_for_grade(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let year = Term::of_day(cx.first).school_year();
    let rows: Vec<(i64, i64, String, String, NaiveDate, i32, String)> = students::table
        .inner_join(classes::table)
        .filter(students::school_id.eq_any(&cx.ids))
        .filter(students::status.eq("enrolled"))
        .select((
            students::id,
            students::school_id,
            students::student_no,
            students::name,
            students::birth_date,
            classes::grade,
            classes::name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| age_implausible(r.4, r.5, year))
        .map(|(id, school, no, name, birth, grade, class)| {
            let sept = NaiveDate::from_ymd_opt(year, 9, 1).unwrap_or(birth);
            let age = crate::domain::anomaly::age_on(birth, sept);
            let mut f = cx.flag(
                Rule::A07,
                school,
                format!(
                    "{name}（{class}）出生于{birth}，{year}年9月1日{age}岁，{}一般为{}岁",
                    crate::domain::codes::grade_name(grade),
                    grade + 5
                ),
            );
            f.student_no = Some(no);
            f.student_id = Some(id);
            f
        })
        .collect())
}

/// A12: a child paid in the period whose resident ID number fails the national checksum.
fn a12_bad_id_paid(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // The children paid in the period with a resident ID, checked; the money only of those failing.
    let paid_children = entitlement_lines::table
        .inner_join(entitlement_periods::table)
        .filter(entitlement_periods::school_id.eq_any(&cx.ids))
        .filter(entitlement_lines::for_month.eq_any(cx.span.keys()))
        .select(entitlement_lines::student_id);
    let rows: Vec<(i64, String, String, Option<String>)> = students::table
        .filter(students::id.eq_any(paid_children))
        .filter(students::id_type.eq("1"))
        .select((students::id, students::student_no, students::name, students::id_no))
        .load(conn)?;
    let mut bad: HashMap<i64, (String, String, String)> = HashMap::new();
    for (id, no, name, id_no) in rows {
        let n = id_no.unwrap_or_default();
        if IdCardNo::parse(&n).is_err() {
            bad.insert(id, (no, name, crate::domain::mask::id_number(&n)));
        }
    }
    if bad.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = bad.keys().copied().collect();
    let mut money: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for ((student, school, _), p) in paid_days(conn, cx, Whose::Only(&ids))? {
        *money.entry((student, school)).or_default() += p.net;
    }
    Ok(money
        .into_iter()
        .filter(|((s, _), net)| bad.contains_key(s) && *net > 0)
        .map(|((student, school), net)| {
            let (no, name, masked) = bad[&student].clone();
            let mut f = cx.flag(
                Rule::A12,
                school,
                format!("{name}的居民身份证号码{masked}不能通过校验，本期领取补助{}元", Fen::new(net)),
            );
            f.student_no = Some(no);
            f.student_id = Some(student);
            f.amount = Some(Fen::new(net).to_string());
            f
        })
        .collect())
}

/// A14: meal-fund money reaching a school (its account or a supplier paid for it) on a day it was
/// not in the programme, unless reversed.
fn a14_allocation_outside_programme(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // (entry, account's org, supplier, for school, fen, value date, voucher)
    type Entry = (i64, i64, Option<i64>, Option<i64>, i64, NaiveDate, String);
    let rows: Vec<Entry> = ledger_entries::table
        .inner_join(fund_accounts::table.on(fund_accounts::id.eq(ledger_entries::account_id)))
        .filter(fund_accounts::fund.eq(Fund::Meal.as_str()))
        .filter(ledger_entries::kind.eq(EntryKind::AllocationIn.as_str()))
        .filter(ledger_entries::value_date.between(cx.first, cx.last))
        .filter(
            fund_accounts::org_id
                .eq_any(&cx.ids)
                .and(fund_accounts::supplier_id.is_null())
                .or(ledger_entries::for_school_id.eq_any(&cx.ids)),
        )
        .select((
            ledger_entries::id,
            fund_accounts::org_id,
            fund_accounts::supplier_id,
            ledger_entries::for_school_id,
            ledger_entries::amount_fen,
            ledger_entries::value_date,
            ledger_entries::voucher_no,
        ))
        .load(conn)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let reversed: BTreeSet<i64> = ledger_entries::table
        .filter(ledger_entries::reverses_entry_id.eq_any(rows.iter().map(|r| r.0).collect::<Vec<_>>()))
        .select(ledger_entries::reverses_entry_id)
        .load::<Option<i64>>(conn)?
        .into_iter()
        .flatten()
        .collect();
    let mut out = Vec::new();
    for (id, org, supplier, for_school, fen, day, voucher) in rows {
        let school = if supplier.is_some() { for_school } else { Some(org) };
        let Some(school) = school.filter(|s| cx.ids.contains(s)) else { continue };
        if reversed.contains(&id) || config::in_programme(conn, school, day)? {
            continue;
        }
        let name = cx.school(school).map(|s| s.name.clone()).unwrap_or_default();
        let to = if supplier.is_some() { "为其供餐的供应商" } else { "学校账户" };
        let mut f = cx.flag(
            Rule::A14,
            school,
            format!(
                "{day}向{name}的{to}拨入膳食补助{}元（凭证号{voucher}），当日该校不在营养改善计划内",
                Fen::new(fen)
            ),
        );
        f.month = Some(Month::of(day).to_string());
        f.amount = Some(Fen::new(fen).to_string());
        out.push(f);
    }
    Ok(out)
}

/// The rules to run, from a list like `A01,A09` (empty: all); an unknown code is refused.
pub fn rules_from(list: &str) -> AppResult<Vec<Rule>> {
    Rule::parse_list(list).map_err(|m| AppError::field("rules", "anomaly.rule", m))
}
