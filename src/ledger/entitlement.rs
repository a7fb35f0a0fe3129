//! Monthly meal-subsidy entitlements per school (SPEC §7): every child on the roll on each meal
//! day of the school's calendar, at the standard in force that day, kept as one line per child
//! with its days. An open month is recomputed in place (deterministically); a closed month is
//! never edited: a late registry change becomes adjustment lines in the school's next open month.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{entitlement_lines, entitlement_periods, entitlement_rules, orgs, student_spells, students};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::{MealMonth, Month};
use crate::domain::entitlement::{self, LineKind, PeriodStatus, Rule, Stay};
use crate::domain::money::Fen;
use crate::domain::programme::is_compulsory_grade;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::status::State;
use crate::domain::student::Review;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::{Org, ancestor_paths};
use crate::org::service::org_in_scope;
use crate::programme::{calendar, config, roster};
use crate::registry::service::county_of;

/// One child's entitlement for a month at a school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub student_id: i64,
    pub days: Vec<NaiveDate>,
    pub amount: Fen,
}

/// The counting rule that holds for a school: the nearest org's, else the day rule.
pub fn rule_for(conn: &mut DbConn, path: &str) -> AppResult<Rule> {
    let rows: Vec<(String, String)> = entitlement_rules::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(path)))
        .select((orgs::path, entitlement_rules::rule))
        .load(conn)?;
    Ok(rows.into_iter().max_by_key(|(p, _)| p.len()).and_then(|(_, r)| Rule::parse(&r)).unwrap_or(Rule::Day))
}

/// Who computes and closes the subsidies (营养膳食补助 and 一补) and sets the counting rule:
/// county and above, with the permission. The pages offer those forms on this rule, and every
/// entry point refuses on it.
pub fn may_compute(caller: &Caller) -> AppResult<()> {
    caller.may_at_county(Permission::ComputeEntitlements)
}

/// `may_compute`, a missing permission written to the audit log.
pub(crate) fn require_compute(conn: &mut DbConn, caller: &Caller, what: &str) -> AppResult<()> {
    caller.require(conn, Permission::ComputeEntitlements, what)?;
    may_compute(caller)
}

/// Sets the caller's own org's counting rule (county and above).
pub fn set_rule(conn: &mut DbConn, caller: &Caller, rule: Rule) -> AppResult<()> {
    require_compute(conn, caller, "set_entitlement_rule")?;
    let org = org_in_scope(conn, caller.scope(), &caller.org_code)?;
    write_tx(conn, |conn| {
        diesel::delete(entitlement_rules::table.filter(entitlement_rules::org_id.eq(org.id))).execute(conn)?;
        diesel::insert_into(entitlement_rules::table)
            .values((
                entitlement_rules::org_id.eq(org.id),
                entitlement_rules::rule.eq(rule.as_str()),
                entitlement_rules::set_by.eq(&caller.username),
                entitlement_rules::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("entitlement.rule", "org", &org.code).after(&rule.as_str()))
    })
}

/// A stay at a school with the class the child was in.
pub type ClassStay = (Stay, Option<i64>);

/// What a school's month pays by: its meal days (the calendar, while the school is in the
/// programme), the standard of each day, the counting rule and the grades of its classes at the
/// start of the month (promotions happen in the summer).
pub struct SchoolMonth {
    pub month: Month,
    pub meal_days: Vec<NaiveDate>,
    standards: config::MealStandards,
    pub rule: Rule,
    grades: std::collections::HashMap<i64, (String, String, i32)>,
}

impl SchoolMonth {
    pub fn load(conn: &mut DbConn, school: &Org, month: Month, rule: Rule) -> AppResult<Self> {
        let (first, last) = (month.first_day(), month.next().first_day().pred_opt().unwrap_or(month.first_day()));
        let membership = config::memberships(conn, school.id)?;
        let meal_days: Vec<NaiveDate> = calendar::meal_days(conn, &school.path, first, last)?
            .into_iter()
            .filter(|d| membership.iter().any(|p| p.contains(*d)))
            .collect();
        let standards = config::MealStandards::load(conn, &school.path, first, last)?;
        let grades = if meal_days.is_empty() { Default::default() } else { roster::classes_on(conn, school, first)? };
        Ok(Self { month, meal_days, standards, rule, grades })
    }

    /// Whether a class counts (grades 1–9).
    fn compulsory(&self, class: Option<i64>) -> bool {
        class.and_then(|c| self.grades.get(&c)).is_some_and(|(_, _, g)| is_compulsory_grade(*g))
    }

    /// One child's line from its stays at the school (each with the class it was in).
    pub fn line(&self, student_id: i64, stays: &[ClassStay]) -> Option<Line> {
        let stays: Vec<Stay> = stays.iter().filter(|(_, c)| self.compulsory(*c)).map(|(s, _)| *s).collect();
        let days = entitlement::counted_days(&stays, &self.meal_days, self.month, self.rule);
        if days.is_empty() {
            return None;
        }
        let amount = entitlement::worth(&days, |d| self.standards.on(d));
        Some(Line { student_id, days, amount })
    }
}

/// What a school's children are entitled to in a month, from the registry as it stands now.
/// Unscoped: callers check the school.
pub fn lines_for(conn: &mut DbConn, school: &Org, month: Month, rule: Rule) -> AppResult<Vec<Line>> {
    let ctx = SchoolMonth::load(conn, school, month, rule)?;
    if ctx.meal_days.is_empty() {
        return Ok(Vec::new());
    }
    let (first, last) = (month.first_day(), month.next().first_day().pred_opt().unwrap_or(month.first_day()));
    type Row = (i64, Option<i64>, NaiveDate, Option<NaiveDate>);
    let rows: Vec<Row> = student_spells::table
        .inner_join(students::table)
        .filter(student_spells::school_id.eq(school.id))
        .filter(student_spells::state.eq(State::AtSchool.as_str()))
        .filter(student_spells::from_date.le(last))
        .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(first)))
        .filter(students::review.eq(Review::Confirmed.as_str()))
        .select((
            student_spells::student_id,
            student_spells::class_id,
            student_spells::from_date,
            student_spells::to_date,
        ))
        .order((student_spells::student_id.asc(), student_spells::from_date.asc()))
        .load(conn)?;
    let mut stays: BTreeMap<i64, Vec<ClassStay>> = BTreeMap::new();
    for (student, class, from, until) in rows {
        stays.entry(student).or_default().push((Stay { from, until }, class));
    }
    Ok(stays.into_iter().filter_map(|(student_id, stays)| ctx.line(student_id, &stays)).collect())
}

/// What one month of a pending child's time would add once confirmed.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AddedMonth {
    pub school: String,
    pub month: String,
    pub days: usize,
    pub amount: Fen,
    /// Already computed for the school (confirming changes a figure someone has seen).
    pub computed: bool,
    /// Closed: the money comes as an adjustment in the school's next open month.
    pub closed: bool,
}

/// What confirming (确认入库) pending children adds, month by month: their meal days at their
/// school from their first day up to this month, at the standard of each day, as entitlements
/// would count them. The months' calendars and standards are read once per school and month.
/// Unscoped: callers check the students.
pub fn added_by_confirming(
    conn: &mut DbConn,
    student_ids: &[i64],
    today: NaiveDate,
) -> AppResult<BTreeMap<i64, Vec<AddedMonth>>> {
    let this_month = Month::of(today);
    type Row = (i64, i64, Option<i64>, NaiveDate, Option<NaiveDate>);
    let mut rows: Vec<Row> = Vec::new();
    for chunk in student_ids.chunks(500) {
        rows.extend(
            student_spells::table
                .filter(student_spells::student_id.eq_any(chunk))
                .filter(student_spells::state.eq(State::AtSchool.as_str()))
                .select((
                    student_spells::student_id,
                    student_spells::school_id,
                    student_spells::class_id,
                    student_spells::from_date,
                    student_spells::to_date,
                ))
                .load::<Row>(conn)?,
        );
    }
    let school_ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let schools: std::collections::HashMap<i64, Org> = orgs::table
        .filter(orgs::id.eq_any(&school_ids))
        .select(Org::as_select())
        .load::<Org>(conn)?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut stays: BTreeMap<(i64, i64), Vec<ClassStay>> = BTreeMap::new();
    for (student, school, class, from, until) in rows {
        stays.entry((school, student)).or_default().push((Stay { from, until }, class));
    }
    let mut contexts: BTreeMap<(i64, i32), SchoolMonth> = BTreeMap::new();
    let mut periods: BTreeMap<(i64, i32), Option<bool>> = BTreeMap::new();
    let mut out: BTreeMap<i64, Vec<AddedMonth>> = BTreeMap::new();
    for ((school_id, student), s) in stays {
        let Some(school) = schools.get(&school_id) else { continue };
        let Some(first) = s.iter().map(|(st, _)| st.from).min() else { continue };
        let rule = rule_for(conn, &school.path)?;
        let mut month = Month::of(first);
        while month <= this_month {
            let key = (school_id, month.key());
            if let std::collections::btree_map::Entry::Vacant(e) = contexts.entry(key) {
                e.insert(SchoolMonth::load(conn, school, month, rule)?);
                periods.insert(key, period_row(conn, school_id, month)?.map(|p| p.status == PeriodStatus::Closed));
            }
            if let Some(line) = contexts.get(&key).and_then(|ctx| ctx.line(student, &s)) {
                let status = periods.get(&key).copied().flatten();
                out.entry(student).or_default().push(AddedMonth {
                    school: school.code.clone(),
                    month: month.to_string(),
                    days: line.days.len(),
                    amount: line.amount,
                    computed: status.is_some(),
                    closed: status == Some(true),
                });
            }
            month = month.next();
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = entitlement_periods)]
struct PeriodRow {
    id: i64,
    month: i32,
    rule: String,
    #[diesel(deserialize_as = String)]
    status: PeriodStatus,
    students: i32,
    beneficiary_days: i32,
    amount_fen: i64,
    adjustment_fen: i64,
    computed_at: NaiveDateTime,
    closed_at: Option<NaiveDateTime>,
}

/// A school's month as people read it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "EntitlementPeriod")]
pub struct Period {
    pub id: i64,
    pub school: String,
    pub name: String,
    pub month: String,
    pub rule: &'static str,
    pub closed: bool,
    pub students: i32,
    pub beneficiary_days: i32,
    /// The month's own entitlement, yuan.
    pub amount: Fen,
    /// Late changes to closed months booked here, yuan (may be negative).
    pub adjustment: Fen,
    pub computed_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub actions: PeriodActions,
}

/// What the caller may do with a computed month (or a term of 一补).
#[derive(Debug, Clone, Copy, Default, Serialize, schemars::JsonSchema)]
pub struct PeriodActions {
    pub close: bool,
}

/// Whether `caller` may close a school's computed month or term: whoever computes (county and
/// above), once.
pub fn may_close(caller: &Caller, closed: bool, what: &str) -> AppResult<()> {
    may_compute(caller)?;
    if closed {
        return Err(AppError::conflict(ErrorCode::EntitlementClosed, format!("{what}已结账")));
    }
    Ok(())
}

fn view(row: PeriodRow, school: &Org, caller: &Caller) -> Period {
    let closed = row.status == PeriodStatus::Closed;
    Period {
        actions: PeriodActions { close: may_close(caller, closed, "").is_ok() },
        id: row.id,
        school: school.code.clone(),
        name: school.name.clone(),
        month: Month::from_key(row.month).map(|m| m.to_string()).unwrap_or_default(),
        rule: Rule::parse(&row.rule).unwrap_or(Rule::Day).label(),
        closed: row.status == PeriodStatus::Closed,
        students: row.students,
        beneficiary_days: row.beneficiary_days,
        amount: Fen::new(row.amount_fen),
        adjustment: Fen::new(row.adjustment_fen),
        computed_at: row.computed_at,
        closed_at: row.closed_at,
    }
}

fn period_row(conn: &mut DbConn, school_id: i64, month: Month) -> AppResult<Option<PeriodRow>> {
    Ok(entitlement_periods::table
        .filter(entitlement_periods::school_id.eq(school_id))
        .filter(entitlement_periods::month.eq(month.key()))
        .select(PeriodRow::as_select())
        .first(conn)
        .optional()?)
}

/// Ensures an open period for a school's month exists (an empty one if new); returns its id.
fn open_period(conn: &mut DbConn, caller: &Caller, school: &Org, month: Month, rule: Rule) -> AppResult<i64> {
    if let Some(p) = period_row(conn, school.id, month)? {
        return Ok(p.id);
    }
    Ok(diesel::insert_into(entitlement_periods::table)
        .values((
            entitlement_periods::school_id.eq(school.id),
            entitlement_periods::county_code.eq(county_of(&school.path)),
            entitlement_periods::month.eq(month.key()),
            entitlement_periods::rule.eq(rule.as_str()),
            entitlement_periods::status.eq(PeriodStatus::Open.as_str()),
            entitlement_periods::students.eq(0),
            entitlement_periods::beneficiary_days.eq(0),
            entitlement_periods::amount_fen.eq(0),
            entitlement_periods::adjustment_fen.eq(0),
            entitlement_periods::computed_by.eq(&caller.username),
            entitlement_periods::computed_at.eq(caller.now()),
        ))
        .returning(entitlement_periods::id)
        .get_result(conn)?)
}

/// A line as stored.
#[derive(Insertable)]
#[diesel(table_name = entitlement_lines, treat_none_as_default_value = false)]
struct NewLine {
    period_id: i64,
    student_id: i64,
    kind: &'static str,
    for_month: i32,
    days: i32,
    day_list: String,
    amount_fen: i64,
}

fn insert_lines(conn: &mut DbConn, period_id: i64, kind: LineKind, month: Month, lines: &[Line]) -> AppResult<()> {
    let rows: Vec<NewLine> = lines
        .iter()
        .map(|l| NewLine {
            period_id,
            student_id: l.student_id,
            kind: kind.as_str(),
            for_month: month.key(),
            days: i32::try_from(l.days.len()).unwrap_or(i32::MAX),
            day_list: MealMonth::new(month, l.days.iter().map(chrono::Datelike::day))
                .map(|m| m.list())
                .unwrap_or_default(),
            amount_fen: l.amount.fen(),
        })
        .collect();
    match conn {
        // COPY (binary) writes a county's million lines several times faster than INSERTs.
        #[cfg(feature = "postgres")]
        DbConn::Pg(c) => {
            diesel::copy_from(entitlement_lines::table).from_insertable(&rows).execute(c)?;
        }
        DbConn::Sqlite(c) => {
            for chunk in rows.chunks(2_000) {
                diesel::insert_into(entitlement_lines::table).values(chunk).execute(c)?;
            }
        }
    }
    Ok(())
}

/// Re-adds a period's totals from its lines, so a total is always the sum of its lines.
/// `base` is the base lines just written (when the caller holds them), else read back.
fn retotal(conn: &mut DbConn, period_id: i64, caller: &Caller, written: Option<&[Line]>) -> AppResult<()> {
    let base: Vec<(i32, i64)> = match written {
        Some(lines) => {
            lines.iter().map(|l| (i32::try_from(l.days.len()).unwrap_or(i32::MAX), l.amount.fen())).collect()
        }
        None => entitlement_lines::table
            .filter(entitlement_lines::period_id.eq(period_id))
            .filter(entitlement_lines::kind.eq(LineKind::Base.as_str()))
            .select((entitlement_lines::days, entitlement_lines::amount_fen))
            .load(conn)?,
    };
    let adjustment: Vec<i64> = entitlement_lines::table
        .filter(entitlement_lines::period_id.eq(period_id))
        .filter(entitlement_lines::kind.eq(LineKind::Adjustment.as_str()))
        .select(entitlement_lines::amount_fen)
        .load(conn)?;
    diesel::update(entitlement_periods::table.find(period_id))
        .set((
            entitlement_periods::students.eq(i32::try_from(base.len()).unwrap_or(i32::MAX)),
            entitlement_periods::beneficiary_days.eq(base.iter().map(|b| b.0).sum::<i32>()),
            entitlement_periods::amount_fen.eq(base.iter().map(|b| b.1).sum::<i64>()),
            entitlement_periods::adjustment_fen.eq(adjustment.iter().sum::<i64>()),
            entitlement_periods::computed_by.eq(&caller.username),
            entitlement_periods::computed_at.eq(caller.now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A school in the caller's scope (entitlements are per school).
pub(crate) fn school_of(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    let org = org_in_scope(conn, caller.scope(), code)?;
    if org.kind != OrgKind::School {
        return Err(AppError::field("school", ErrorCode::EntitlementNotASchool, format!("“{}”不是学校", org.name)));
    }
    Ok(org)
}

/// Computes a school's month. Open: its base lines are replaced by what the registry says now.
/// Closed: nothing in it changes; the difference per child (against what the month has been
/// paid, adjustments included) is booked as adjustment lines in the next open month.
pub fn compute(conn: &mut DbConn, caller: &Caller, school_code: &str, month: Month) -> AppResult<Period> {
    require_compute(conn, caller, "compute_entitlement")?;
    let school = school_of(conn, caller, school_code)?;
    let id = compute_school(conn, caller, &school, month)?;
    let row = entitlement_periods::table.find(id).select(PeriodRow::as_select()).first(conn)?;
    Ok(view(row, &school, caller))
}

/// [`compute`] for a school already checked (or a decision's own recomputation); returns the
/// month's period id. Writes in a transaction of its own, or the caller's.
fn compute_school(conn: &mut DbConn, caller: &Caller, school: &Org, month: Month) -> AppResult<i64> {
    let school = school.clone();
    let rule = rule_for(conn, &school.path)?;
    let lines = lines_for(conn, &school, month, rule)?;
    let id = write_tx(conn, |conn| {
        let existing = period_row(conn, school.id, month)?;
        match existing {
            Some(p) if p.status == PeriodStatus::Closed => {
                let booked: Vec<(i64, i64)> = entitlement_lines::table
                    .filter(entitlement_lines::for_month.eq(month.key()))
                    .filter(
                        entitlement_lines::period_id.eq_any(
                            entitlement_periods::table
                                .filter(entitlement_periods::school_id.eq(school.id))
                                .select(entitlement_periods::id),
                        ),
                    )
                    .select((entitlement_lines::student_id, entitlement_lines::amount_fen))
                    .load(conn)?;
                let mut paid: BTreeMap<i64, i64> = BTreeMap::new();
                for (s, a) in booked {
                    *paid.entry(s).or_default() += a;
                }
                let now_due: BTreeMap<i64, &Line> = lines.iter().map(|l| (l.student_id, l)).collect();
                let mut students: Vec<i64> = paid.keys().chain(now_due.keys()).copied().collect();
                students.sort();
                students.dedup();
                let adjustments: Vec<Line> = students
                    .into_iter()
                    .filter_map(|s| {
                        let due = now_due.get(&s).map_or(0, |l| l.amount.fen());
                        let diff = due - paid.get(&s).copied().unwrap_or(0);
                        (diff != 0).then(|| Line {
                            student_id: s,
                            days: now_due.get(&s).map(|l| l.days.clone()).unwrap_or_default(),
                            amount: Fen::new(diff),
                        })
                    })
                    .collect();
                if adjustments.is_empty() {
                    return Ok(p.id);
                }
                let mut target = month.next();
                while period_row(conn, school.id, target)?.is_some_and(|t| t.status == PeriodStatus::Closed) {
                    target = target.next();
                }
                let into = open_period(conn, caller, &school, target, rule)?;
                insert_lines(conn, into, LineKind::Adjustment, month, &adjustments)?;
                retotal(conn, into, caller, None)?;
                audit::record(
                    conn,
                    &caller.actor(),
                    Entry::new("entitlement.adjust", "school", &school.code).after(&serde_json::json!({
                        "month": month.to_string(), "booked_in": target.to_string(), "students": adjustments.len(),
                        "amount": Fen::new(adjustments.iter().map(|a| a.amount.fen()).sum()).to_string(),
                    })),
                )?;
                Ok(p.id)
            }
            _ => {
                let id = open_period(conn, caller, &school, month, rule)?;
                diesel::delete(
                    entitlement_lines::table
                        .filter(entitlement_lines::period_id.eq(id))
                        .filter(entitlement_lines::kind.eq(LineKind::Base.as_str())),
                )
                .execute(conn)?;
                diesel::update(entitlement_periods::table.find(id))
                    .set(entitlement_periods::rule.eq(rule.as_str()))
                    .execute(conn)?;
                insert_lines(conn, id, LineKind::Base, month, &lines)?;
                retotal(conn, id, caller, Some(&lines))?;
                audit::record(
                    conn,
                    &caller.actor(),
                    Entry::new("entitlement.compute", "school", &school.code).after(&serde_json::json!({
                        "month": month.to_string(), "rule": rule.as_str(), "students": lines.len(),
                        "amount": Fen::new(lines.iter().map(|l| l.amount.fen()).sum()).to_string(),
                    })),
                )?;
                Ok(id)
            }
        }
    })?;
    Ok(id)
}

/// A decision has changed what schools' children are owed from `from` on (an approved status
/// change, a confirmation, a correction of the class, a promotion): every month and semester
/// already computed for those schools that reaches `from` is computed again, in the caller's
/// transaction, so no figure anyone reads is stale. An open one is recomputed in place; a
/// closed one books the difference in the next open one, as a late change always does.
pub fn recompute_from(
    conn: &mut DbConn,
    caller: &Caller,
    school_ids: &[i64],
    from: NaiveDate,
    cause: &str,
) -> AppResult<()> {
    let from_month = Month::of(from).key();
    let from_term = crate::domain::term::Term::of_day(from);
    let mut school_ids = school_ids.to_vec();
    school_ids.sort_unstable();
    school_ids.dedup();
    for school_id in school_ids {
        let months: Vec<i32> = entitlement_periods::table
            .filter(entitlement_periods::school_id.eq(school_id))
            .filter(entitlement_periods::month.ge(from_month))
            .select(entitlement_periods::month)
            .order(entitlement_periods::month.asc())
            .load(conn)?;
        let terms: Vec<crate::domain::term::Term> =
            super::yibu::computed_terms(conn, school_id)?.into_iter().filter(|t| *t >= from_term).collect();
        if months.is_empty() && terms.is_empty() {
            continue;
        }
        let school: Org = orgs::table.find(school_id).select(Org::as_select()).first(conn)?;
        for m in &months {
            if let Ok(month) = Month::from_key(*m) {
                compute_school(conn, caller, &school, month)?;
            }
        }
        for t in &terms {
            super::yibu::compute_school(conn, caller, &school, *t)?;
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("entitlement.recompute", "school", &school.code).after(&serde_json::json!({
                "cause": cause, "from": from,
                "months": months.iter().filter_map(|m| Month::from_key(*m).ok()).map(|m| m.to_string()).collect::<Vec<_>>(),
                "terms": terms.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            })),
        )?;
    }
    Ok(())
}

/// Closes a school's month: from now on it is never edited.
pub fn close(conn: &mut DbConn, caller: &Caller, school_code: &str, month: Month) -> AppResult<Period> {
    require_compute(conn, caller, "close_entitlement")?;
    let school = school_of(conn, caller, school_code)?;
    let p = period_row(conn, school.id, month)?.ok_or_else(|| {
        AppError::invalid(ErrorCode::EntitlementNotComputed, format!("{}{month}尚未计算，不能结账", school.name))
    })?;
    may_close(caller, p.status == PeriodStatus::Closed, &format!("{}{month}", school.name))?;
    write_tx(conn, |conn| {
        diesel::update(entitlement_periods::table.find(p.id))
            .set((
                entitlement_periods::status.eq(PeriodStatus::Closed.as_str()),
                entitlement_periods::closed_by.eq(Some(&caller.username)),
                entitlement_periods::closed_at.eq(Some(caller.now())),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("entitlement.close", "school", &school.code).after(&month.to_string()),
        )
    })?;
    let row = entitlement_periods::table.find(p.id).select(PeriodRow::as_select()).first(conn)?;
    Ok(view(row, &school, caller))
}

/// The org whose schools the caller may compute: asked before a job is started, and again by
/// the work itself.
pub fn computable(conn: &mut DbConn, caller: &Caller, org_code: &str) -> AppResult<Org> {
    require_compute(conn, caller, "compute_entitlements")?;
    org_in_scope(conn, caller.scope(), org_code)
}

/// Computes a month for every programme school under an org (a county), in code order.
pub fn compute_all(conn: &mut DbConn, caller: &Caller, org_code: &str, month: Month) -> AppResult<Vec<Period>> {
    compute_all_with(conn, caller, org_code, month, &|_, _| {})
}

/// [`compute_all`], telling `progress` (schools done, schools in all) after each school. Each
/// school's month is written in a transaction of its own, so work cut short keeps whole schools.
pub fn compute_all_with(
    conn: &mut DbConn,
    caller: &Caller,
    org_code: &str,
    month: Month,
    progress: &dyn Fn(usize, usize),
) -> AppResult<Vec<Period>> {
    let org = computable(conn, caller, org_code)?;
    let first = month.first_day();
    let last = month.next().first_day().pred_opt().unwrap_or(first);
    let schools: Vec<String> =
        config::programme_schools(conn, &org.path, first, last)?.into_iter().map(|s| s.code).collect();
    let mut done = Vec::with_capacity(schools.len());
    for code in &schools {
        done.push(compute(conn, caller, code, month)?);
        progress(done.len(), schools.len());
    }
    Ok(done)
}

/// A child's line of a school's month, for drilling down.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "EntitlementLine")]
pub struct LineView {
    pub student_id: i64,
    pub student_no: String,
    pub name: String,
    pub kind: LineKind,
    pub for_month: String,
    pub days: i32,
    pub day_list: String,
    pub amount: Fen,
}

/// A computed month with its lines, in the caller's scope.
pub fn get(conn: &mut DbConn, caller: &Caller, school_code: &str, month: Month) -> AppResult<(Period, Vec<LineView>)> {
    caller.require(conn, Permission::ViewStudents, "view_entitlement")?;
    let school = school_of(conn, caller, school_code)?;
    let row = period_row(conn, school.id, month)?.ok_or_else(|| {
        AppError::invalid(ErrorCode::EntitlementNotComputed, format!("{}{month}尚未计算", school.name))
    })?;
    type Row = (i64, String, String, String, i32, i32, String, i64);
    let lines: Vec<Row> = entitlement_lines::table
        .inner_join(students::table)
        .filter(entitlement_lines::period_id.eq(row.id))
        .select((
            entitlement_lines::student_id,
            students::student_no_sealed,
            students::name,
            entitlement_lines::kind,
            entitlement_lines::for_month,
            entitlement_lines::days,
            entitlement_lines::day_list,
            entitlement_lines::amount_fen,
        ))
        .load(conn)?;
    // In kind and number order (sorted here: the numbers are sealed in the database).
    let mut lines = lines
        .into_iter()
        .map(|(id, no, name, kind, for_month, days, day_list, fen)| {
            Ok((id, crate::db::at_rest::student_no(&no)?, name, kind, for_month, days, day_list, fen))
        })
        .collect::<AppResult<Vec<Row>>>()?;
    lines.sort_by(|a, b| (&a.3, &a.1).cmp(&(&b.3, &b.1)));
    let lines = lines
        .into_iter()
        .map(|(student_id, student_no, name, kind, for_month, days, day_list, fen)| {
            Ok(LineView {
                student_id,
                student_no: crate::domain::mask::student_no(&student_no),
                name,
                kind: crate::error::stored::<LineKind>(kind)?,
                for_month: Month::from_key(for_month).map(|m| m.to_string()).unwrap_or_default(),
                days,
                day_list,
                amount: Fen::new(fen),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok((view(row, &school, caller), lines))
}

/// The computed months of every school in the caller's scope for a month, in code order.
pub fn periods(conn: &mut DbConn, caller: &Caller, month: Month) -> AppResult<Vec<Period>> {
    caller.require(conn, Permission::ViewStudents, "list_entitlements")?;
    let rows: Vec<(PeriodRow, Org)> = entitlement_periods::table
        .inner_join(orgs::table)
        .filter(entitlement_periods::month.eq(month.key()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((PeriodRow::as_select(), Org::as_select()))
        .order(orgs::code.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(|(r, o)| view(r, &o, caller)).collect())
}
