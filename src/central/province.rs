//! A province's side of the exchange: the package it sends for a period (its counties' figures,
//! its children as keyed hashes with the days at school and paid for), and the package the centre
//! sends back, whose children the anomaly scan names (A01).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::{Extent, days_of, days_text, refused, require_level};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::config::Keys;
use crate::db::at_rest::{self, IdNo};
use crate::db::schema::{
    exchange_child_keys, exchange_matches, exchange_received, exchange_sent, orgs, student_spells, students,
};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::{Month, Span};
use crate::domain::central::{
    self, Accept, Body, Child, CountyMonth, Days, Last, NationalKey, Numbered, ReturnBody, verifying_key,
};
use crate::domain::id_card::IdCardNo;
use crate::domain::role::OrgKind;
use crate::domain::status::State;
use crate::domain::student::Review;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::inspection::scan::{Whose, paid_days_at};
use crate::ledger::reconcile;
use crate::org::model::Org;
use crate::org::service::org_in_scope;

/// A package made.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Exported {
    pub id: i64,
    pub province: String,
    pub period: String,
    pub seq: u64,
    pub digest: String,
    /// Children in the package (each once, however many records or schools).
    pub children: usize,
    /// Children at school in the period without a valid ID number: the centre cannot match
    /// them (a registrar's work to put right).
    pub without_id: usize,
    pub counties: usize,
    pub file_name: String,
}

/// The province org the caller exchanges for.
fn province_org(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    let org = org_in_scope(conn, caller.scope(), code)?;
    if org.kind != OrgKind::Province {
        return Err(AppError::field(
            "province",
            ErrorCode::CentralProvince,
            format!("“{}”不是省级单位：交换包按省生成", org.name),
        ));
    }
    Ok(org)
}

/// Makes, signs and records the province's package for the period. The package is stored, so
/// it can be fetched again; its number is the next of the province's.
pub fn export(
    conn: &mut DbConn,
    caller: &Caller,
    keys: &Keys,
    national: &NationalKey,
    province_code: &str,
    period: &Span,
) -> AppResult<(Exported, Vec<u8>)> {
    require_level(conn, caller, OrgKind::Province, "central_export")?;
    let province = province_org(conn, caller, province_code)?;
    let (children, child_keys, without_id) = children_of(conn, &province, period, caller.today(), national)?;
    let counties = county_months(conn, caller, &province, period)?;
    write_tx(conn, |conn| {
        let last: Option<i64> = exchange_sent::table
            .filter(exchange_sent::province.eq(&province.code))
            .select(diesel::dsl::max(exchange_sent::seq))
            .first(conn)?;
        let seq = u64::try_from(last.unwrap_or(0)).unwrap_or(0) + 1;
        let body = Body {
            format: central::FORMAT,
            province: province.code.clone(),
            period: period.to_string(),
            seq,
            created_at: crate::clock::rfc3339(&caller.now()),
            national_key: national.fingerprint(),
            counties,
            children,
        };
        let package = central::sign(body, &keys.exchange_signer(&province.code));
        let text = serde_json::to_string(&package).map_err(AppError::internal)?;
        let b = &package.body;
        let id: i64 = diesel::insert_into(exchange_sent::table)
            .values((
                exchange_sent::province.eq(&b.province),
                exchange_sent::seq.eq(seq as i64),
                exchange_sent::period.eq(&b.period),
                exchange_sent::digest.eq(b.digest()),
                exchange_sent::children.eq(b.children.len() as i64),
                exchange_sent::without_id.eq(without_id as i64),
                exchange_sent::counties.eq(b.counties.len() as i64),
                exchange_sent::package.eq(&text),
                exchange_sent::created_by.eq(&caller.username),
                exchange_sent::created_at.eq(caller.now()),
            ))
            .returning(exchange_sent::id)
            .get_result(conn)?;
        remember_keys(conn, &child_keys)?;
        let made = Exported {
            id,
            province: b.province.clone(),
            period: b.period.clone(),
            seq,
            digest: b.digest(),
            children: b.children.len(),
            without_id,
            counties: b.counties.len(),
            file_name: file_name(&b.province, seq, &b.period),
        };
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("central.export", "exchange_package", id).after(&json!({
                "province": made.province, "period": made.period, "seq": seq, "digest": made.digest,
                "children": made.children, "without_id": without_id, "counties": made.counties,
            })),
        )?;
        Ok((made, text.into_bytes()))
    })
}

pub fn file_name(province: &str, seq: u64, period: &str) -> String {
    format!("交换包-{province}-{period}-第{seq}号.json")
}

/// Each child active or paid in the period, once, by its national key; with the students
/// behind each key (to name them when the centre answers), and how many had no valid ID number.
type Children = (Vec<Child>, Vec<(i64, String)>, usize);

fn children_of(
    conn: &mut DbConn,
    province: &Org,
    period: &Span,
    today: NaiveDate,
    national: &NationalKey,
) -> AppResult<Children> {
    let (first, last) = (period.first_day(), period.last_day().min(today));
    let schools: Vec<i64> = orgs::table
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .filter(orgs::path.like(format!("{}%", province.path)))
        .select(orgs::id)
        .load(conn)?;
    // Days at school: the spells at the province's schools that meet the period (a spell runs
    // to the day before its end).
    let mut active: HashMap<i64, Vec<Days>> = HashMap::new();
    if first <= last {
        for chunk in schools.chunks(5000) {
            let spells: Vec<(i64, NaiveDate, Option<NaiveDate>)> = student_spells::table
                .filter(student_spells::school_id.eq_any(chunk))
                .filter(student_spells::state.eq(State::AtSchool.as_str()))
                .filter(student_spells::from_date.le(last))
                .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(first)))
                .select((student_spells::student_id, student_spells::from_date, student_spells::to_date))
                .load(conn)?;
            for (student, from, to) in spells {
                if let Some(d) = Days::of_spell(from, to, first, last) {
                    active.entry(student).or_default().push(d);
                }
            }
        }
    }
    // Days paid for: the days of each month's newest entitlement line that pays money.
    let mut paid: HashMap<i64, BTreeSet<NaiveDate>> = HashMap::new();
    for chunk in schools.chunks(5000) {
        for ((student, _, month), p) in paid_days_at(conn, chunk, period, Whose::All)? {
            let Ok(m) = Month::from_key(month) else { continue };
            if p.net > 0 {
                paid.entry(student).or_default().extend(p.days.days().filter_map(|d| m.day(d)));
            }
        }
    }
    let ids: Vec<i64> = active.keys().chain(paid.keys()).copied().collect::<BTreeSet<_>>().into_iter().collect();
    let mut by_key: BTreeMap<String, (Vec<Days>, Vec<Days>)> = BTreeMap::new();
    let mut keys = Vec::new();
    let mut without_id = 0;
    for chunk in ids.chunks(5000) {
        let rows: Vec<(i64, Option<String>)> = students::table
            .filter(students::id.eq_any(chunk))
            .filter(students::review.eq(Review::Confirmed.as_str()))
            .select((students::id, students::id_no_sealed))
            .load(conn)?;
        for (id, sealed) in rows {
            let number = sealed.map(|s| at_rest::open::<IdNo>(&s)).transpose()?;
            let Some(id_no) = number.and_then(|n| IdCardNo::parse(&n).ok()) else {
                without_id += 1;
                continue;
            };
            let key = national.child_key(&id_no);
            let e = by_key.entry(key.clone()).or_default();
            e.0.extend(active.remove(&id).unwrap_or_default());
            e.1.extend(Days::runs(paid.remove(&id).unwrap_or_default()));
            keys.push((id, key));
        }
    }
    let children = by_key
        .into_iter()
        .map(|(key, (a, p))| Child { key, active: central::union(a), paid: central::union(p) })
        .collect();
    Ok((children, keys, without_id))
}

/// Each county's months in figures, from the reconciliation (months with nothing left out).
fn county_months(conn: &mut DbConn, caller: &Caller, province: &Org, period: &Span) -> AppResult<Vec<CountyMonth>> {
    let counties: Vec<String> = orgs::table
        .filter(orgs::kind.eq(OrgKind::County.as_str()))
        .filter(orgs::path.like(format!("{}%", province.path)))
        .select(orgs::code)
        .order(orgs::code.asc())
        .load(conn)?;
    let mut out = Vec::new();
    for county in counties {
        for key in period.keys() {
            let Ok(month) = Month::from_key(key) else { continue };
            let t = reconcile::county_month(conn, caller, &county, month)?.total;
            let row = CountyMonth {
                county: county.clone(),
                month: month.to_string(),
                beneficiaries: t.students,
                meals: t.meals_reported.unwrap_or(0),
                entitled_fen: t.entitled.fen(),
                allocated_fen: t.allocated.fen(),
                spent_fen: t.spent.fen(),
            };
            if row.beneficiaries != 0
                || row.meals != 0
                || row.entitled_fen != 0
                || row.allocated_fen != 0
                || row.spent_fen != 0
            {
                out.push(row);
            }
        }
    }
    Ok(out)
}

/// Keeps the key each child was sent under (a later package overwrites it).
fn remember_keys(conn: &mut DbConn, keys: &[(i64, String)]) -> AppResult<()> {
    for chunk in keys.chunks(1000) {
        let ids: Vec<i64> = chunk.iter().map(|k| k.0).collect();
        diesel::delete(exchange_child_keys::table.filter(exchange_child_keys::student_id.eq_any(&ids)))
            .execute(conn)?;
        let rows: Vec<_> = chunk
            .iter()
            .map(|(id, key)| (exchange_child_keys::student_id.eq(*id), exchange_child_keys::child_key.eq(key)))
            .collect();
        crate::per_backend!(conn, |c| diesel::insert_into(exchange_child_keys::table).values(&rows).execute(c))?;
    }
    Ok(())
}

/// One package the province sent.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Sent {
    pub id: i64,
    pub province: String,
    pub seq: i64,
    pub period: String,
    pub digest: String,
    pub children: i64,
    pub without_id: i64,
    pub counties: i64,
    pub created_by: String,
    /// Beijing time.
    pub created_at: String,
}

/// The packages of the provinces in the caller's scope, newest first.
pub fn sent(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Sent>> {
    require_level(conn, caller, OrgKind::Province, "central_sent")?;
    let provinces = provinces_in_scope(conn, caller)?;
    type Row = (i64, String, i64, String, String, i64, i64, i64, String, chrono::NaiveDateTime);
    let rows: Vec<Row> = exchange_sent::table
        .filter(exchange_sent::province.eq_any(&provinces))
        .order(exchange_sent::id.desc())
        .select((
            exchange_sent::id,
            exchange_sent::province,
            exchange_sent::seq,
            exchange_sent::period,
            exchange_sent::digest,
            exchange_sent::children,
            exchange_sent::without_id,
            exchange_sent::counties,
            exchange_sent::created_by,
            exchange_sent::created_at,
        ))
        .limit(200)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, province, seq, period, digest, children, without_id, counties, created_by, at)| Sent {
            id,
            province,
            seq,
            period,
            digest,
            children,
            without_id,
            counties,
            created_by,
            created_at: crate::clock::shown(&at),
        })
        .collect())
}

/// A package sent, as the file it was: (bytes, file name).
pub fn sent_file(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(Vec<u8>, String)> {
    require_level(conn, caller, OrgKind::Province, "central_sent_file")?;
    let provinces = provinces_in_scope(conn, caller)?;
    let (province, seq, period, text): (String, i64, String, String) = exchange_sent::table
        .filter(exchange_sent::id.eq(id))
        .filter(exchange_sent::province.eq_any(&provinces))
        .select((exchange_sent::province, exchange_sent::seq, exchange_sent::period, exchange_sent::package))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    Ok((text.into_bytes(), file_name(&province, seq as u64, &period)))
}

fn provinces_in_scope(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<String>> {
    Ok(orgs::table
        .filter(orgs::kind.eq(OrgKind::Province.as_str()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select(orgs::code)
        .load(conn)?)
}

/// What a return package did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Received {
    pub province: String,
    pub seq: u64,
    /// The same package was taken before: nothing changed.
    pub again: bool,
    /// Local children the centre found in another province.
    pub matches: usize,
    /// Hashes that name no child this province sent (a package made elsewhere, or records
    /// merged since): listed in the audit row, not flagged.
    pub unknown: usize,
}

/// Takes the centre's package back: checked against the centre's key (the setting), the national
/// key and the last one taken; its children replace the earlier picture.
pub fn receive(
    conn: &mut DbConn,
    caller: &Caller,
    centre_key: Option<&str>,
    national: &NationalKey,
    bytes: &[u8],
) -> AppResult<Received> {
    require_level(conn, caller, OrgKind::Province, "central_receive")?;
    let centre = centre_key.and_then(verifying_key).ok_or_else(|| {
        AppError::invalid(
            ErrorCode::CentralNoCentreKey,
            "未配置中心的公钥（MEALROLL_CENTRE_KEY，64个十六进制字符），无法核验中心返回的交换包",
        )
    })?;
    let package = central::parse::<ReturnBody>(bytes).map_err(refused)?;
    let province = province_org(conn, caller, &package.body.province)?;
    write_tx(conn, |conn| {
        let last: Option<(i64, String)> = exchange_received::table
            .filter(exchange_received::province.eq(&province.code))
            .order(exchange_received::seq.desc())
            .select((exchange_received::seq, exchange_received::digest))
            .first(conn)
            .optional()?;
        let last = last.map(|(seq, digest)| Last { seq: seq as u64, digest });
        let b = &package.body;
        if central::check(&package, &centre, national, last.as_ref()).map_err(refused)? == Accept::Again {
            let matches = b.matches.len();
            return Ok(Received { province: b.province.clone(), seq: b.seq, again: true, matches, unknown: 0 });
        }
        let keys: Vec<&str> = b.matches.iter().map(|m| m.key.as_str()).collect();
        let mut students_of: HashMap<String, Vec<i64>> = HashMap::new();
        for chunk in keys.chunks(5000) {
            let rows: Vec<(i64, String)> = exchange_child_keys::table
                .filter(exchange_child_keys::child_key.eq_any(chunk))
                .select((exchange_child_keys::student_id, exchange_child_keys::child_key))
                .load(conn)?;
            for (id, key) in rows {
                students_of.entry(key).or_default().push(id);
            }
        }
        let received_id: i64 = diesel::insert_into(exchange_received::table)
            .values((
                exchange_received::province.eq(&b.province),
                exchange_received::seq.eq(b.seq as i64),
                exchange_received::digest.eq(b.digest()),
                exchange_received::matches.eq(b.matches.len() as i64),
                exchange_received::unknown.eq(0i64),
                exchange_received::received_by.eq(&caller.username),
                exchange_received::received_at.eq(caller.now()),
            ))
            .returning(exchange_received::id)
            .get_result(conn)?;
        // The newest picture replaces the province's earlier one.
        let earlier = exchange_received::table
            .filter(exchange_received::province.eq(&b.province))
            .filter(exchange_received::id.ne(received_id))
            .select(exchange_received::id);
        diesel::delete(exchange_matches::table.filter(exchange_matches::received_id.eq_any(earlier))).execute(conn)?;
        let (mut matched, mut unknown) = (0usize, Vec::new());
        for m in &b.matches {
            let Some(ids) = students_of.get(&m.key) else {
                unknown.push(m.key.clone());
                continue;
            };
            let all = central::union(m.active.iter().chain(&m.paid).copied().collect());
            let (Some(first), Some(last)) = (all.first().map(|d| d.from), all.last().map(|d| d.to)) else { continue };
            for &id in ids {
                let school = school_on(conn, id, first, last)?;
                diesel::insert_into(exchange_matches::table)
                    .values((
                        exchange_matches::received_id.eq(received_id),
                        exchange_matches::student_id.eq(id),
                        exchange_matches::school_id.eq(school),
                        exchange_matches::other_province.eq(&m.other_province),
                        exchange_matches::active.eq(days_text(&m.active)),
                        exchange_matches::paid.eq(days_text(&m.paid)),
                        exchange_matches::first_day.eq(first),
                        exchange_matches::last_day.eq(last),
                    ))
                    .execute(conn)?;
                matched += 1;
            }
        }
        diesel::update(exchange_received::table.find(received_id))
            .set(exchange_received::unknown.eq(unknown.len() as i64))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("central.receive", "exchange_return", received_id).after(&json!({
                "province": b.province, "seq": b.seq, "digest": b.digest(), "matches": matched, "unknown": unknown,
            })),
        )?;
        Ok(Received {
            province: b.province.clone(),
            seq: b.seq,
            again: false,
            matches: matched,
            unknown: unknown.len(),
        })
    })
}

/// The school the child was at during the days (its latest such spell), else its own.
fn school_on(conn: &mut DbConn, student: i64, first: NaiveDate, last: NaiveDate) -> AppResult<i64> {
    let spell: Option<i64> = student_spells::table
        .filter(student_spells::student_id.eq(student))
        .filter(student_spells::state.eq(State::AtSchool.as_str()))
        .filter(student_spells::from_date.le(last))
        .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(first)))
        .order(student_spells::from_date.desc())
        .select(student_spells::school_id)
        .first(conn)
        .optional()?;
    match spell {
        Some(s) => Ok(s),
        None => Ok(students::table.find(student).select(students::school_id).first(conn)?),
    }
}

/// A local child the centre found in another province.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MatchRow {
    pub student_id: i64,
    pub name: String,
    pub school: String,
    pub school_name: String,
    pub other_province: String,
    pub other_province_name: String,
    pub active: Extent,
    pub paid: Extent,
}

/// The matches of the caller's schools, by school and name.
pub fn matches(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<MatchRow>> {
    require_level(conn, caller, OrgKind::Province, "central_matches")?;
    let rows: Vec<(i64, String, String, String, String, String, String)> = exchange_matches::table
        .inner_join(students::table)
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .order((orgs::code.asc(), students::name.asc()))
        .select((
            exchange_matches::student_id,
            students::name,
            orgs::code,
            orgs::name,
            exchange_matches::other_province,
            exchange_matches::active,
            exchange_matches::paid,
        ))
        .load(conn)?;
    let names = province_names(conn)?;
    Ok(rows
        .into_iter()
        .map(|(student_id, name, school, school_name, other, active, paid)| MatchRow {
            student_id,
            name,
            school,
            school_name,
            other_province_name: names.get(&other).cloned().unwrap_or_default(),
            other_province: other,
            active: Extent::of(&days_of(&active)),
            paid: Extent::of(&days_of(&paid)),
        })
        .collect())
}

/// Every province's name by its code (from the division tree).
pub(crate) fn province_names(conn: &mut DbConn) -> AppResult<HashMap<String, String>> {
    Ok(orgs::table
        .filter(orgs::kind.eq(OrgKind::Province.as_str()))
        .select((orgs::code, orgs::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// A local child held in another province, as the scan reads it.
pub(crate) struct LocalMatch {
    pub student_id: i64,
    pub school_id: i64,
    pub other_province: String,
    pub active: Vec<Days>,
    pub paid: Vec<Days>,
}

/// For the scan: the matches of these schools whose days meet `[first, last]`.
pub(crate) fn matches_at(
    conn: &mut DbConn,
    schools: &[i64],
    first: NaiveDate,
    last: NaiveDate,
) -> AppResult<Vec<LocalMatch>> {
    let rows: Vec<(i64, i64, String, String, String)> = exchange_matches::table
        .filter(exchange_matches::school_id.eq_any(schools))
        .filter(exchange_matches::first_day.le(last))
        .filter(exchange_matches::last_day.ge(first))
        .select((
            exchange_matches::student_id,
            exchange_matches::school_id,
            exchange_matches::other_province,
            exchange_matches::active,
            exchange_matches::paid,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(student_id, school_id, other_province, a, d)| LocalMatch {
            student_id,
            school_id,
            other_province,
            active: days_of(&a),
            paid: days_of(&d),
        })
        .collect())
}
