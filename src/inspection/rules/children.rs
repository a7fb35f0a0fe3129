//! Rules about the named children: one child at two schools (A01), paid off the roll (A03),
//! age and grade (A07), guardians across schools (A11), invalid ID numbers paid (A12),
//! back-dated changes that moved money (A20), and churn within a term (A21).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConn;
use crate::db::at_rest;
use crate::db::schema::{
    classes, entitlement_lines, entitlement_periods, orgs, status_changes, student_spells, students,
};
use crate::domain::anomaly::{Rule, age_implausible, whole};
use crate::domain::calendar::{DaySet, Month};
use crate::domain::central::{self, Days};
use crate::domain::id_card::IdCardNo;
use crate::domain::money::Fen;
use crate::domain::status::State;
use crate::domain::student::Review;
use crate::domain::term::Term;
use crate::error::AppResult;
use crate::inspection::scan::{Ctx, Flag, Paid, Whose, month_label, paid_days, present, students_by_id};
use crate::registry::timeline;

/// A01: the same ID number at school at two schools on the same days of the period.
pub(in crate::inspection) fn a01_same_id_two_schools(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // Numbers held by more than one confirmed record, one of them in scope (two steps: a
    // self-join lets SQLite's planner pick the review index and go quadratic), compared by their
    // keyed hashes: the numbers themselves are sealed.
    let mine = diesel::alias!(students as mine);
    let in_scope = mine
        .filter(mine.field(students::school_id).eq_any(&cx.ids))
        .filter(mine.field(students::review).eq(Review::Confirmed.as_str()))
        .filter(mine.field(students::id_no_hash).is_not_null())
        .select(mine.field(students::id_no_hash));
    let shared: Vec<Option<String>> = students::table
        .filter(students::review.eq(Review::Confirmed.as_str()))
        .filter(students::id_no_hash.eq_any(in_scope))
        .group_by(students::id_no_hash)
        .having(diesel::dsl::count_star().gt(1))
        .select(students::id_no_hash)
        .load(conn)?;
    let shared: Vec<String> = shared.into_iter().flatten().collect();
    let mut holders: BTreeMap<String, Vec<(i64, i64, String)>> = BTreeMap::new();
    for chunk in shared.chunks(5000) {
        let rows: Vec<(i64, i64, String, Option<String>)> = students::table
            .filter(students::review.eq(Review::Confirmed.as_str()))
            .filter(students::id_no_hash.eq_any(chunk))
            .select((students::id, students::school_id, students::name, students::id_no_hash))
            .load(conn)?;
        for (id, school, name, id_no) in rows {
            holders.entry(id_no.unwrap_or_default()).or_default().push((id, school, name));
        }
    }
    let mut pairs: Vec<(i64, i64, String, i64, i64)> = Vec::new();
    for group in holders.values() {
        for a in group.iter().filter(|a| cx.ids.contains(&a.1)) {
            for b in group.iter().filter(|b| b.0 != a.0) {
                pairs.push((a.0, a.1, a.2.clone(), b.0, b.1));
            }
        }
    }
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = pairs.iter().flat_map(|p| [p.0, p.3]).collect();
    let lines = timeline::timelines(conn, &ids)?;
    let paid = paid_days(conn, cx, Whose::Only(&ids))?;
    let other_schools: HashMap<i64, (String, String)> = orgs::table
        .filter(orgs::id.eq_any(pairs.iter().map(|p| p.4).collect::<Vec<_>>()))
        .select((orgs::id, orgs::code, orgs::name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, c, n)| (id, (c, n)))
        .collect();
    let mut out = Vec::new();
    for (id, school, name, twin, twin_school) in pairs {
        if school == twin_school {
            continue;
        }
        // Month by month, the days both were at school, up to today.
        let until = cx.last.min(cx.today) + chrono::Days::new(1);
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
        f.student_id = Some(id);
        f.key = twin.to_string();
        f.amount = (at_stake > 0).then(|| Fen::new(at_stake).to_string());
        out.push(f);
    }
    Ok(out)
}

/// A01 across provinces: a child the centre found at school (or paid for) in another province
/// on days of the period (the centre's package back, see `crate::central`), named here.
pub(in crate::inspection) fn a01_other_province(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let until = cx.last.min(cx.today);
    let Some(window) = Days::new(cx.first, until) else { return Ok(Vec::new()) };
    let found = crate::central::province::matches_at(conn, &cx.ids, cx.first, until)?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = found.iter().map(|m| m.student_id).collect();
    let names: HashMap<i64, String> = students::table
        .filter(students::id.eq_any(&ids))
        .select((students::id, students::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let provinces = crate::central::province::province_names(conn)?;
    let paid = paid_days(conn, cx, Whose::Only(&ids))?;
    let mut out = Vec::new();
    for m in found {
        let (id, school, other) = (m.student_id, m.school_id, m.other_province);
        let active = central::common_days(&m.active, &[window]);
        let paid_both = central::common_days(&m.paid, &[window]);
        let both = central::union(active.iter().chain(&paid_both).copied().collect());
        let (Some(from), Some(to)) = (both.first().map(|d| d.from), both.last().map(|d| d.to)) else { continue };
        // What this province paid for the days the child is held in both.
        let mut by_month: BTreeMap<i32, DaySet> = BTreeMap::new();
        for d in central::Days::each(&both) {
            let m = by_month.entry(Month::of(d).key()).or_default();
            m.0 |= 1 << (d.day0());
        }
        let at_stake: i64 = by_month
            .iter()
            .filter_map(|(m, days)| {
                paid.get(&(id, school, *m))
                    .map(|p| Fen::new(p.net).pro_rata(p.days.and(*days).count(), p.days.count()).fen())
            })
            .sum();
        let place = format!("{}（{other}）", provinces.get(&other).map_or("外省", String::as_str));
        let mut what = Vec::new();
        let count = |d: &[central::Days]| d.iter().map(central::Days::count).sum::<i64>();
        if !active.is_empty() {
            what.push(format!("两省同时在籍{}天", count(&active)));
        }
        if !paid_both.is_empty() {
            what.push(format!("两省同时享受补助{}天", count(&paid_both)));
        }
        let name = names.get(&id).map_or("", String::as_str);
        let mut f = cx.flag(
            Rule::A01,
            school,
            format!("全国比对：{name}的身份证件号码在{place}也有学籍，{from}至{to}{}", what.join("，")),
        );
        f.student_id = Some(id);
        f.key = format!("province:{other}");
        f.amount = (at_stake > 0).then(|| Fen::new(at_stake).to_string());
        out.push(f);
    }
    Ok(out)
}

/// A03: paid days on which the child was not at that school (died, left, in transit, suspended).
pub(in crate::inspection) fn a03_paid_after_leaving(conn: &mut DbConn, cx: &Ctx, paid: &Paid) -> AppResult<Vec<Flag>> {
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
        let (_, name) = who.get(&student).cloned().unwrap_or_default();
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
        f.student_id = Some(student);
        f.month = Some(month_label(month));
        f.amount = Some(Fen::new(net).pro_rata(off.len(), all).to_string());
        out.push(f);
    }
    Ok(out)
}

/// A07: a child at school whose age on 1 September is implausible for the class's grade.
pub(in crate::inspection) fn a07_age_for_grade(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let year = Term::of_day(cx.first).school_year();
    let rows: Vec<(i64, i64, String, NaiveDate, i32, String)> = students::table
        .inner_join(classes::table)
        .filter(students::school_id.eq_any(&cx.ids))
        .filter(students::status.eq("enrolled"))
        .select((
            students::id,
            students::school_id,
            students::name,
            students::birth_date,
            classes::grade,
            classes::name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| age_implausible(r.3, r.4, year))
        .map(|(id, school, name, birth, grade, class)| {
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
            f.student_id = Some(id);
            f
        })
        .collect())
}

/// A12: a child paid in the period whose resident ID number fails the national checksum.
pub(in crate::inspection) fn a12_bad_id_paid(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // Every child ever at these schools with a resident ID, checked (a spell per child is far
    // fewer rows than a line per child and month); the money read only for those failing.
    let ever_here =
        student_spells::table.filter(student_spells::school_id.eq_any(&cx.ids)).select(student_spells::student_id);
    let rows: Vec<(i64, String, Option<String>)> = students::table
        .filter(students::id.eq_any(ever_here))
        .filter(students::id_type.eq("1"))
        .select((students::id, students::name, students::id_no_sealed))
        .load(conn)?;
    let mut bad: HashMap<i64, (String, String)> = HashMap::new();
    for (id, name, id_no) in rows {
        let n = id_no.map(|s| at_rest::open::<at_rest::IdNo>(&s)).transpose()?.unwrap_or_default();
        if IdCardNo::parse(&n).is_err() {
            bad.insert(id, (name, crate::domain::mask::id_number(&n)));
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
            let (name, masked) = bad[&student].clone();
            let mut f = cx.flag(
                Rule::A12,
                school,
                format!("{name}的居民身份证号码{masked}不能通过校验，本期领取补助{}元", Fen::new(net)),
            );
            f.student_id = Some(student);
            f.amount = Some(Fen::new(net).to_string());
            f
        })
        .collect())
}

/// (hash, sealed value, school id, school name, child's name) of a child with a guardian value.
type GuardianHolder = (Option<String>, Option<String>, i64, String, String);
/// (school id, school name, child's name).
type Holder = (i64, String, String);

/// A11: one guardian's ID number or phone on the children at school at several schools (by
/// default three: siblings at a primary and a junior school are ordinary).
pub(in crate::inspection) fn a11_guardian_many_schools(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let mut out = Vec::new();
    for (what, column) in [("监护人身份证件", true), ("监护人电话", false)] {
        let mine = diesel::alias!(students as mine);
        let values: Vec<Option<String>> = if column {
            let in_scope = mine
                .filter(mine.field(students::school_id).eq_any(&cx.ids))
                .filter(mine.field(students::status).eq("enrolled"))
                .filter(mine.field(students::guardian_id_no_hash).is_not_null())
                .select(mine.field(students::guardian_id_no_hash));
            students::table
                .filter(students::status.eq("enrolled"))
                .filter(students::guardian_id_no_hash.eq_any(in_scope))
                .group_by(students::guardian_id_no_hash)
                .having(diesel::dsl::count(students::school_id).aggregate_distinct().ge(2))
                .select(students::guardian_id_no_hash)
                .load(conn)?
        } else {
            let in_scope = mine
                .filter(mine.field(students::school_id).eq_any(&cx.ids))
                .filter(mine.field(students::status).eq("enrolled"))
                .filter(mine.field(students::guardian_phone_hash).is_not_null())
                .select(mine.field(students::guardian_phone_hash));
            students::table
                .filter(students::status.eq("enrolled"))
                .filter(students::guardian_phone_hash.eq_any(in_scope))
                .group_by(students::guardian_phone_hash)
                .having(diesel::dsl::count(students::school_id).aggregate_distinct().ge(2))
                .select(students::guardian_phone_hash)
                .load(conn)?
        };
        let values: Vec<String> = values.into_iter().flatten().filter(|v| !v.trim().is_empty()).collect();
        for chunk in values.chunks(2000) {
            let holders: Vec<GuardianHolder> = if column {
                students::table
                    .inner_join(orgs::table)
                    .filter(students::status.eq("enrolled"))
                    .filter(students::guardian_id_no_hash.eq_any(chunk))
                    .select((
                        students::guardian_id_no_hash,
                        students::guardian_id_no_sealed,
                        students::school_id,
                        orgs::name,
                        students::name,
                    ))
                    .load(conn)?
            } else {
                students::table
                    .inner_join(orgs::table)
                    .filter(students::status.eq("enrolled"))
                    .filter(students::guardian_phone_hash.eq_any(chunk))
                    .select((
                        students::guardian_phone_hash,
                        students::guardian_phone_sealed,
                        students::school_id,
                        orgs::name,
                        students::name,
                    ))
                    .load(conn)?
            };
            // Grouped by the keyed hash; the value itself is opened only to be shown masked.
            let mut by: BTreeMap<String, (String, Vec<Holder>)> = BTreeMap::new();
            for (hash, sealed, school, school_name, name) in holders {
                let entry =
                    by.entry(hash.unwrap_or_default()).or_insert_with(|| (sealed.unwrap_or_default(), Vec::new()));
                entry.1.push((school, school_name, name));
            }
            for (sealed, kids) in by.into_values() {
                let value = if column {
                    at_rest::open::<at_rest::GuardianIdNo>(&sealed)?
                } else {
                    at_rest::open::<at_rest::GuardianPhone>(&sealed)?
                };
                let schools: BTreeMap<i64, &str> = kids.iter().map(|k| (k.0, k.1.as_str())).collect();
                for school in schools.keys().filter(|s| cx.ids.contains(s)) {
                    let need = usize::try_from(whole(cx.threshold(Rule::A11, *school))).unwrap_or(3);
                    if schools.len() < need {
                        continue;
                    }
                    let masked = if column {
                        crate::domain::mask::id_number(&value)
                    } else {
                        crate::domain::mask::phone(&value)
                    };
                    let mut names: Vec<&str> = kids.iter().take(10).map(|k| k.2.as_str()).collect();
                    if kids.len() > 10 {
                        names.push("等");
                    }
                    let others: Vec<&str> = schools.iter().filter(|(id, _)| *id != school).map(|(_, n)| *n).collect();
                    let mut f = cx.flag(
                        Rule::A11,
                        *school,
                        format!(
                            "{what}{masked}登记在{}所学校的{}名学生上（{}），另几所学校：{}",
                            schools.len(),
                            kids.len(),
                            names.join("、"),
                            others.join("、")
                        ),
                    );
                    // The fingerprint keeps a digest, never the guardian's number itself.
                    f.key = format!("{what}:{:x}", Sha256::digest(value.as_bytes()))[..40].to_owned();
                    out.push(f);
                }
            }
        }
    }
    Ok(out)
}

/// A20: a status change (or a registration) recorded more than the threshold's days after the
/// date it took effect, where entitlements were adjusted for the months since: money moved by
/// back-dating, which is where paper rolls hid ghost days.
pub(in crate::inspection) fn a20_back_dated(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // Adjustments of the period's months, per child and school.
    let adjusted: Vec<(i64, i64, i32, i64)> = entitlement_lines::table
        .inner_join(entitlement_periods::table)
        .filter(entitlement_periods::school_id.eq_any(&cx.ids))
        .filter(entitlement_lines::kind.eq(crate::domain::entitlement::LineKind::Adjustment.as_str()))
        .filter(entitlement_lines::for_month.eq_any(cx.span.keys()))
        .select((
            entitlement_lines::student_id,
            entitlement_periods::school_id,
            entitlement_lines::for_month,
            entitlement_lines::amount_fen,
        ))
        .load(conn)?;
    if adjusted.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = adjusted.iter().map(|a| a.0).collect::<BTreeSet<_>>().into_iter().collect();
    // (student, what, effective, recorded, key)
    let mut moves: Vec<(i64, String, NaiveDate, NaiveDate, String)> = Vec::new();
    for chunk in ids.chunks(5000) {
        let changes: Vec<(i64, i64, String, NaiveDate, chrono::NaiveDateTime)> = status_changes::table
            .filter(status_changes::student_id.eq_any(chunk))
            .filter(status_changes::status.eq(crate::domain::status::ChangeStatus::Approved.as_str()))
            .select((
                status_changes::id,
                status_changes::student_id,
                status_changes::kind,
                status_changes::effective_date,
                status_changes::requested_at,
            ))
            .load(conn)?;
        for (id, student, kind, effective, at) in changes {
            let label = crate::domain::status::ChangeKind::parse(&kind).map_or("异动", |k| k.label());
            moves.push((student, format!("{label}异动"), effective, crate::clock::local(at).date(), format!("c{id}")));
        }
        let registered: Vec<(i64, chrono::NaiveDateTime, NaiveDate)> = students::table
            .inner_join(student_spells::table)
            .filter(students::id.eq_any(chunk))
            .filter(student_spells::cause.eq("enrol"))
            .select((students::id, students::created_at, student_spells::from_date))
            .load(conn)?;
        for (student, at, from) in registered {
            moves.push((student, "入学注册".into(), from, crate::clock::local(at).date(), "r".into()));
        }
    }
    let who = students_by_id(conn, &ids)?;
    let mut out = Vec::new();
    for (student, what, effective, recorded, key) in moves {
        let Some((_, school, _, _)) = adjusted.iter().find(|a| a.0 == student) else { continue };
        let late = (recorded - effective).num_days();
        if late <= whole(cx.threshold(Rule::A20, *school)) {
            continue;
        }
        // The months between the effective date and the recording; a registration moves money
        // only by adding it.
        let (from, to) = (Month::of(effective).key(), Month::of(recorded).key());
        let registration = key == "r";
        let moved_by = |a: &&(i64, i64, i32, i64)| {
            a.0 == student && a.1 == *school && (from..=to).contains(&a.2) && (!registration || a.3 > 0)
        };
        let moved: i64 = adjusted.iter().filter(moved_by).map(|a| a.3).sum();
        let months: BTreeSet<i32> = adjusted.iter().filter(moved_by).map(|a| a.2).collect();
        if months.is_empty() {
            continue;
        }
        let (_, name) = who.get(&student).cloned().unwrap_or_default();
        let labels: Vec<String> = months.iter().map(|m| month_label(*m)).collect();
        let mut f = cx.flag(
            Rule::A20,
            *school,
            format!(
                "{name}的{what}生效日为{effective}，{recorded}才登记（追溯{late}天），{}的补助因此调整{}元",
                labels.join("、"),
                Fen::new(moved)
            ),
        );
        f.student_id = Some(student);
        f.key = key;
        f.amount = Some(Fen::new(moved.abs()).to_string());
        out.push(f);
    }
    Ok(out)
}

/// A21: a child at school who left (withdrew or was suspended) and came back within one term:
/// each return restarts the subsidy, and a roll that churns hides who is really there.
pub(in crate::inspection) fn a21_churn(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    // Children who came back: a spell at school starting in the period right after one of
    // leaving or suspension that began at most a term before.
    let gone = diesel::alias!(student_spells as gone);
    let back: Vec<(i64, i64)> = student_spells::table
        .filter(student_spells::school_id.eq_any(&cx.ids))
        .filter(student_spells::state.eq(State::AtSchool.as_str()))
        .filter(student_spells::from_date.between(cx.first, cx.last))
        .filter(diesel::dsl::exists(
            gone.filter(gone.field(student_spells::student_id).eq(student_spells::student_id))
                .filter(gone.field(student_spells::to_date).eq(student_spells::from_date.nullable()))
                .filter(gone.field(student_spells::state).eq_any([State::Left.as_str(), State::Suspended.as_str()]))
                .filter(gone.field(student_spells::from_date).ge(cx.first - chrono::Days::new(184)))
                .select(gone.field(student_spells::id)),
        ))
        .select((student_spells::student_id, student_spells::school_id))
        .distinct()
        .load(conn)?;
    if back.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = back.iter().map(|b| b.0).collect::<BTreeSet<_>>().into_iter().collect();
    let lines = timeline::timelines(conn, &ids)?;
    let who = students_by_id(conn, &ids)?;
    let mut out = Vec::new();
    for (student, school) in back {
        let Some(t) = lines.get(&student) else { continue };
        let spells = t.spells();
        for w in spells.windows(3) {
            let (before, gone, again) = (&w[0], &w[1], &w[2]);
            let left = matches!(gone.state, State::Left | State::Suspended);
            let term = Term::of_day(again.from);
            if !left
                || before.state != State::AtSchool
                || again.state != State::AtSchool
                || again.school_id != school
                || !(cx.first..=cx.last).contains(&again.from)
                || Term::of_day(gone.from) != term
            {
                continue;
            }
            let (_, name) = who.get(&student).cloned().unwrap_or_default();
            let mut f = cx.flag(
                Rule::A21,
                school,
                format!(
                    "{name}在{}内{}“{}”，{}又回到在校（离校{}天）",
                    term.label(),
                    gone.from,
                    gone.state.label(),
                    again.from,
                    (again.from - gone.from).num_days()
                ),
            );
            f.student_id = Some(student);
            f.key = again.from.to_string();
            out.push(f);
        }
    }
    Ok(out)
}
