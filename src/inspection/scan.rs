//! The anomaly scan: the rules of `domain::anomaly` run over an org's schools for a period (a
//! month, a term or a school year), each flag naming the school, the child and the month where
//! it is about one, the money at stake, and why, in Chinese.
//!
//! Rules read the named data exactly: a child's paid days are the day lists of its entitlement
//! lines (the newest line of a month holds the days now paid, the lines' sum the money), checked
//! against the child's timeline day by day.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;

use super::rules::{canteen, children, daily, meals, money, roster};
use super::settings::Settings;
use crate::auth::Caller;
use crate::db::schema::{entitlement_lines, entitlement_periods, orgs, student_spells, students};
use crate::db::{DbConn, at_rest};
use crate::domain::anomaly::{Rule, Severity};
use crate::domain::calendar::{DaySet, Month, Span};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::status::State;
use crate::domain::timeline::Timeline;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::org::service::org_in_scope;
use crate::programme::calendar::Calendars;

/// One flag.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[schemars(rename = "ScanFlag")]
pub struct Flag {
    pub rule: &'static str,
    pub severity: Severity,
    /// The 学校标识码 (a flag about a county: its division code).
    pub school: String,
    pub school_name: String,
    /// When the flag is about one child: filled by the scan from `student_id`.
    pub student_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_id: Option<i64>,
    pub month: Option<String>,
    /// The money at stake, yuan with two decimals.
    pub amount: Option<String>,
    pub message: String,
    /// The org it is about (school or county), for storing it.
    #[serde(skip)]
    pub org_id: i64,
    /// What tells two flags of one rule, school, child and month apart (a twin, an entry, a term).
    #[serde(skip)]
    pub key: String,
}

impl Flag {
    /// What the flag is about, stable across scans: a rescan that finds it again finds the
    /// same fingerprint, and one that does not closes it.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.rule,
            self.org_id,
            self.student_id.map(|s| s.to_string()).unwrap_or_default(),
            self.month.as_deref().unwrap_or(""),
            self.key
        )
    }
}

/// A scan's answer (the shape `mealroll inspect scan --json` and `/api/v1/anomalies` print).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "AnomalyScan")]
pub struct Scan {
    pub org: String,
    pub org_name: String,
    pub period: String,
    /// The rules that ran.
    pub rules: Vec<&'static str>,
    /// Asked for but not run for want of their data. Every rule of the catalogue runs now; the
    /// field stays for the tools that read it.
    pub not_run: Vec<&'static str>,
    pub flags: Vec<Flag>,
    /// The schools scanned (their org ids), for storing the flags.
    #[serde(skip)]
    pub scanned: Vec<i64>,
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

/// The org's schools, counties and the period, shared by every rule.
pub(super) struct Ctx {
    /// The org scanned.
    pub org: Org,
    pub schools: Vec<Org>,
    pub ids: Vec<i64>,
    /// The counties the scan covers whole (the scanned org is a county or above): their own
    /// money and their county-wide statistics are flagged too.
    pub counties: Vec<Org>,
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// The scan's "today" (Beijing): what has not happened yet is not flagged.
    pub today: NaiveDate,
    pub span: Span,
    pub settings: Settings,
    /// The schools' calendars for the period and three months either side, read once.
    pub calendars: Calendars,
}

impl Ctx {
    pub fn school(&self, id: i64) -> Option<&Org> {
        self.schools.iter().find(|s| s.id == id)
    }

    /// The threshold in force for a school (its county's or province's, else the default).
    pub fn threshold(&self, rule: Rule, school_id: i64) -> Decimal {
        self.settings.threshold(rule, self.school(school_id).map_or("", |s| s.path.as_str()))
    }

    pub fn flag(&self, rule: Rule, school_id: i64, message: String) -> Flag {
        match self.school(school_id) {
            Some(s) => self.flag_on(rule, s, message),
            None => Flag { org_id: school_id, ..self.flag_at(rule, ("", "", ""), message) },
        }
    }

    /// A flag about any org (a school, or a county for its own money and statistics).
    pub fn flag_on(&self, rule: Rule, org: &Org, message: String) -> Flag {
        Flag { org_id: org.id, ..self.flag_at(rule, (&org.code, &org.name, &org.path), message) }
    }

    fn flag_at(&self, rule: Rule, (code, name, path): (&str, &str, &str), message: String) -> Flag {
        Flag {
            rule: rule.code(),
            severity: self.settings.severity(rule, path),
            school: code.to_owned(),
            school_name: name.to_owned(),
            student_no: None,
            student_id: None,
            month: None,
            amount: None,
            message,
            org_id: 0,
            key: String::new(),
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
    let counties: Vec<Org> = orgs::table
        .filter(orgs::kind.eq(OrgKind::County.as_str()))
        .filter(orgs::path.like(format!("{}%", org.path)))
        .select(Org::as_select())
        .order(orgs::code.asc())
        .load(conn)?;
    let around = Month::span(span.first_day() - chrono::Days::new(92), span.last_day() + chrono::Days::new(92));
    let paths: Vec<&str> = schools.iter().map(|s| s.path.as_str()).collect();
    let calendars = Calendars::load(conn, &paths, &around)?;
    let cx = Ctx {
        calendars,
        settings: Settings::load(conn, &org.path)?,
        org: org.clone(),
        ids: schools.iter().map(|s| s.id).collect(),
        schools,
        counties,
        first: span.first_day(),
        last: span.last_day(),
        today: caller.today(),
        span: span.clone(),
    };
    let wanted: Vec<Rule> = if rules.is_empty() { Rule::ALL.to_vec() } else { rules.to_vec() };
    // Every child-month is read only by A03; A01 and A12 read the few children they concern.
    let paid = if wanted.contains(&Rule::A03) { paid_days(conn, &cx, Whose::Unsettled)? } else { Paid::new() };
    // The reconciliation's figures, for the rules about money.
    let mut books = money::Books::default();
    let mut flags = Vec::new();
    let mut ran = Vec::new();
    for rule in wanted {
        let found = match rule {
            Rule::A01 => {
                let mut found = children::a01_same_id_two_schools(conn, &cx)?;
                found.extend(children::a01_other_province(conn, &cx)?);
                found
            }
            Rule::A02 => roster::a02_not_at_school_on_snapshot(conn, &cx)?,
            Rule::A03 => children::a03_paid_after_leaving(conn, &cx, &paid)?,
            Rule::A04 => meals::a04_days_above_calendar(conn, &cx)?,
            Rule::A05 => meals::a05_meals_above_beneficiary_days(conn, &cx)?,
            Rule::A06 => money::a06_yibu_for_day_student(conn, &cx)?,
            Rule::A07 => children::a07_age_for_grade(conn, &cx)?,
            Rule::A08 => roster::a08_roster_late(conn, &cx)?,
            Rule::A09 => money::a09_spend_below_standard(conn, caller, &cx, &mut books)?,
            Rule::A10 => roster::a10_beneficiaries_grow(conn, &cx)?,
            Rule::A11 => children::a11_guardian_many_schools(conn, &cx)?,
            Rule::A12 => children::a12_bad_id_paid(conn, &cx)?,
            Rule::A13 => money::a13_county_seat_paid(conn, &cx)?,
            Rule::A14 => money::a14_allocation_outside_programme(conn, &cx)?,
            Rule::A15 => money::a15_money_held(conn, &cx)?,
            Rule::A16 => money::a16_balance_above_spending(conn, caller, &cx, &mut books)?,
            Rule::A17 => meals::a17_meals_repeated(conn, &cx)?,
            Rule::A18 => meals::a18_outside_meal_days(conn, &cx)?,
            Rule::A20 => children::a20_back_dated(conn, &cx)?,
            Rule::A21 => children::a21_churn(conn, &cx)?,
            Rule::A22 => money::a22_benford(conn, &cx)?,
            Rule::A23 => daily::a23_monthly_against_daily(conn, &cx)?,
            Rule::A24 => daily::a24_class_always_full(conn, &cx)?,
            Rule::A25 => daily::a25_same_count_running(conn, &cx)?,
            Rule::A26 => daily::a26_meals_for_absent(conn, &cx)?,
            Rule::A29 => roster::a29_archived_without_scan(conn, &cx)?,
            Rule::A19 => canteen::a19_supplier_price(conn, &cx)?,
            Rule::A27 => canteen::a27_use_per_meal(conn, &cx)?,
            Rule::A28 => canteen::a28_used_before_received(conn, &cx)?,
            Rule::A30 => canteen::a30_spending_without_document(conn, &cx)?,
        };
        ran.push(rule.code());
        flags.extend(found);
    }
    // The rules name a child by id; the number (sealed in the registry) is read once for all.
    let who = students_by_id(conn, &flags.iter().filter_map(|f| f.student_id).collect::<Vec<_>>())?;
    for f in &mut flags {
        f.student_no = f.student_id.and_then(|id| who.get(&id)).map(|(no, _)| no.clone());
    }
    flags.sort_by(|a, b| {
        (a.rule, &a.school, &a.month, &a.student_no, &a.key).cmp(&(b.rule, &b.school, &b.month, &b.student_no, &b.key))
    });
    let scanned = cx.ids.iter().chain(cx.counties.iter().map(|c| &c.id)).copied().collect();
    Ok(Scan {
        org: org.code,
        org_name: org.name,
        period: span.to_string(),
        rules: ran,
        not_run: Vec::new(),
        flags,
        scanned,
    })
}

/// Paid days per (student, school, month): the money (sum of the month's lines) and the days
/// the newest line pays, as a set of days of the month.
pub(crate) type Paid = HashMap<(i64, i64, i32), PaidMonth>;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PaidMonth {
    pub net: i64,
    newest: i64,
    pub days: DaySet,
}

/// The days of `month` the child was at school at `school`.
pub(super) fn present(t: Option<&Timeline>, school: i64, month: Month) -> DaySet {
    t.map_or(DaySet(0), |t| {
        t.spells()
            .iter()
            .filter(|s| s.state == State::AtSchool && s.school_id == school)
            .fold(DaySet(0), |acc, s| acc.or(DaySet::between(month, s.from, s.to)))
    })
}

/// Whose paid days to read.
#[derive(Clone, Copy)]
pub(crate) enum Whose<'a> {
    /// These children's.
    Only(&'a [i64]),
    /// Everyone's (a province's package names every child paid).
    All,
    /// Every child's except those at school at that school through the whole period: they
    /// cannot have a paid day off it, and they are nearly everyone (a county year is a million
    /// child-months).
    Unsettled,
}

/// The paid days of the org's schools in the period.
pub(super) fn paid_days(conn: &mut DbConn, cx: &Ctx, whose: Whose<'_>) -> AppResult<Paid> {
    paid_days_at(conn, &cx.ids, &cx.span, whose)
}

/// The paid days of these schools in the period (the scan's, and a province's package).
pub(crate) fn paid_days_at(conn: &mut DbConn, schools: &[i64], span: &Span, whose: Whose<'_>) -> AppResult<Paid> {
    let (first, last) = (span.first_day(), span.last_day());
    let mut q = entitlement_lines::table
        .inner_join(entitlement_periods::table)
        .filter(entitlement_periods::school_id.eq_any(schools))
        .filter(entitlement_lines::for_month.eq_any(span.keys()))
        .into_boxed();
    match whose {
        Whose::Only(ids) => q = q.filter(entitlement_lines::student_id.eq_any(ids.to_vec())),
        Whose::All => {}
        Whose::Unsettled => {
            q = q.filter(diesel::dsl::not(diesel::dsl::exists(
                student_spells::table
                    .filter(student_spells::student_id.eq(entitlement_lines::student_id))
                    .filter(student_spells::school_id.eq(entitlement_periods::school_id))
                    .filter(student_spells::state.eq(State::AtSchool.as_str()))
                    .filter(student_spells::from_date.le(first))
                    .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(last)))
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

pub(super) fn month_label(key: i32) -> String {
    Month::from_key(key).map(|m| m.to_string()).unwrap_or_default()
}

pub(super) type StudentInfo = (String, String);

pub(super) fn students_by_id(conn: &mut DbConn, ids: &[i64]) -> AppResult<HashMap<i64, StudentInfo>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(5000) {
        let rows: Vec<(i64, String, String)> = students::table
            .filter(students::id.eq_any(chunk))
            .select((students::id, students::student_no_sealed, students::name))
            .load(conn)?;
        for (id, no, name) in rows {
            out.insert(id, (at_rest::student_no(&no)?, name));
        }
    }
    Ok(out)
}

/// The rules to run, from a list like `A01,A09` (empty: all); an unknown code is refused.
pub fn rules_from(list: &str) -> AppResult<Vec<Rule>> {
    Rule::parse_list(list).map_err(|m| AppError::field("rules", ErrorCode::AnomalyRule, m))
}
