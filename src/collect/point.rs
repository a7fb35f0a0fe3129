//! The collection point's side: paired once with its county, then each package holds its schools'
//! work since the one before — the point's own numbering, kept so a package can be fetched again.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::{PairingCode, open_key, seal_key};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{
    classes, collect_pairing, collect_sent, daily_meal_absences, daily_meals, meal_calendars, orgs, school_terms,
    status_changes, student_history, student_photos, student_spells, students,
};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::{MealMonth, Month};
use crate::domain::collect::{
    self, Absent, Body, Calendar, Child, FieldChange, MealDay, PairingKey, StatusChange, Term,
};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::registry::model::{HistoryRow, StudentRow};

/// The pairing as the point keeps it (the key stays sealed).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Pairing {
    pub county: String,
    pub county_name: String,
    pub point: String,
    pub schools: Vec<String>,
    /// The schools as people read them: name and code.
    pub school_names: Vec<String>,
    /// Beijing time.
    pub paired_at: String,
}

/// Pairs this instance with its county from the code the county gave (a new code replaces the
/// old one: a re-keyed point). Refused once packages were made under another point's name.
pub fn pair(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Pairing> {
    caller.require_at_county(conn, Permission::ConfigureRegistry, "collect_pair")?;
    let code = PairingCode::decode(code)?;
    let key = PairingKey::from_hex(&code.key).ok_or_else(AppError::not_found)?;
    let known: Vec<String> = orgs::table.filter(orgs::code.eq_any(&code.schools)).select(orgs::code).load(conn)?;
    if let Some(missing) = code.schools.iter().find(|s| !known.contains(s)) {
        return Err(AppError::field(
            "code",
            ErrorCode::CollectSchool,
            format!("配对码中的学校 {missing} 不在本机的学校名单中：请先导入该校的机构数据"),
        ));
    }
    write_tx(conn, |conn| {
        let before: Option<(String, String)> = collect_pairing::table
            .find(1)
            .select((collect_pairing::county_code, collect_pairing::point))
            .first(conn)
            .optional()?;
        let made: i64 = collect_sent::table.count().get_result(conn)?;
        if made > 0 && before.as_ref().is_some_and(|(c, p)| *c != code.county || *p != code.point) {
            return Err(AppError::conflict(
                ErrorCode::CollectNotPaired,
                "本机已以另一个采集点的名义生成过采集包，不能改配到其他采集点",
            ));
        }
        diesel::delete(collect_pairing::table).execute(conn)?;
        diesel::insert_into(collect_pairing::table)
            .values((
                collect_pairing::id.eq(1),
                collect_pairing::county_code.eq(&code.county),
                collect_pairing::point.eq(&code.point),
                collect_pairing::schools.eq(serde_json::to_string(&code.schools).map_err(AppError::internal)?),
                collect_pairing::key_sealed.eq(seal_key(&key)?),
                collect_pairing::paired_by.eq(&caller.username),
                collect_pairing::paired_at.eq(caller.now()),
            ))
            .execute(conn)?;
        // The schools travel with the pairing (the county decides them), kept in the audit row.
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("collect.pair", "collect_pairing", &code.point)
                .before(&before.map(|(c, p)| json!({"county": c, "point": p})))
                .after(&json!({"county": code.county, "point": code.point, "schools": code.schools})),
        )
    })?;
    pairing(conn)?.ok_or_else(AppError::not_found)
}

/// The pairing, if this instance is a paired collection point.
pub fn pairing(conn: &mut DbConn) -> AppResult<Option<Pairing>> {
    let row: Option<(String, String, String, NaiveDateTime)> = collect_pairing::table
        .find(1)
        .select((
            collect_pairing::county_code,
            collect_pairing::point,
            collect_pairing::schools,
            collect_pairing::paired_at,
        ))
        .first(conn)
        .optional()?;
    let Some((county, point, schools, at)) = row else { return Ok(None) };
    let schools = schools_of(&schools);
    let names = super::names_of(conn, &[&schools[..], std::slice::from_ref(&county)].concat())?;
    Ok(Some(Pairing {
        county_name: names.get(&county).cloned().unwrap_or_default(),
        county,
        point,
        school_names: named(&schools, &names),
        schools,
        paired_at: crate::clock::shown(&at),
    }))
}

/// Codes as people read them: `名称（代码）`, or the code alone where the name is not known.
pub(crate) fn named(codes: &[String], names: &BTreeMap<String, String>) -> Vec<String> {
    codes.iter().map(|c| names.get(c).map_or_else(|| c.clone(), |n| format!("{n}（{c}）"))).collect()
}

/// A JSON list of school codes as stored.
pub(crate) fn schools_of(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A package made, as the point lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Made {
    pub id: i64,
    pub seq: i64,
    pub children: i64,
    /// Beijing time of the work it covers from and to.
    pub since: String,
    pub cut: String,
    pub created_by: String,
}

/// What one package holds, counted.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Counts {
    pub children: usize,
    pub new_children: usize,
    pub photos: usize,
    pub terms: usize,
    pub calendars: usize,
    pub meal_days: usize,
    pub status_changes: usize,
}

impl Counts {
    fn of(b: &Body) -> Self {
        Self {
            children: b.children.len(),
            new_children: b.children.iter().filter(|c| c.base.is_none()).count(),
            photos: b.children.iter().filter(|c| c.photo.is_some()).count(),
            terms: b.terms.len(),
            calendars: b.calendars.len(),
            meal_days: b.meal_days.len(),
            status_changes: b.status_changes.len(),
        }
    }
}

/// Makes the next package: the schools' work since the last one (or the pairing), sealed under
/// the pairing key. Returns the package's number, what it holds and the file.
pub fn export(conn: &mut DbConn, caller: &Caller) -> AppResult<(Made, Counts, Vec<u8>)> {
    caller.require(conn, Permission::EditStudents, "collect_export")?;
    let row: Option<(String, String, String, String, NaiveDateTime)> = collect_pairing::table
        .find(1)
        .select((
            collect_pairing::county_code,
            collect_pairing::point,
            collect_pairing::schools,
            collect_pairing::key_sealed,
            collect_pairing::paired_at,
        ))
        .first(conn)
        .optional()?;
    let (county, point, school_codes, key, paired_at) = row.ok_or_else(|| {
        AppError::invalid(
            ErrorCode::CollectNotPaired,
            "本机尚未与县级配对：请用县级登记采集点时给出的配对码运行 mealroll collect pair",
        )
    })?;
    let key = open_key(&key)?;
    let school_codes = schools_of(&school_codes);
    write_tx(conn, |conn| {
        let last: Option<(i64, NaiveDateTime)> = collect_sent::table
            .order(collect_sent::seq.desc())
            .select((collect_sent::seq, collect_sent::cut))
            .first(conn)
            .optional()?;
        let (seq, since) = last.map_or((1, paired_at), |(s, cut)| (s + 1, cut));
        let cut = caller.now();
        let schools: Vec<(i64, String)> = orgs::table
            .filter(orgs::code.eq_any(&school_codes))
            .filter(orgs::path.like(caller.scope().like_pattern()))
            .select((orgs::id, orgs::code))
            .load(conn)?;
        let body = Body {
            format: collect::FORMAT,
            county: county.clone(),
            point: point.clone(),
            seq: seq as u64,
            created_at: crate::clock::rfc3339(&cut),
            since: crate::clock::rfc3339(&since),
            schools: school_codes.clone(),
            children: children_since(conn, &schools, since, cut)?,
            terms: terms_since(conn, &schools, since, cut)?,
            calendars: calendars_since(conn, &schools, since, cut)?,
            meal_days: meal_days_since(conn, &schools, since, cut)?,
            status_changes: status_changes_since(conn, &schools, since, cut)?,
        };
        let counts = Counts::of(&body);
        let text = serde_json::to_string(&key.seal(&body)).map_err(AppError::internal)?;
        let id: i64 = diesel::insert_into(collect_sent::table)
            .values((
                collect_sent::seq.eq(seq),
                collect_sent::since.eq(since),
                collect_sent::cut.eq(cut),
                collect_sent::children.eq(counts.children as i64),
                collect_sent::package.eq(&text),
                collect_sent::created_by.eq(&caller.username),
                collect_sent::created_at.eq(cut),
            ))
            .returning(collect_sent::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("collect.export", "collect_sent", id)
                .after(&json!({"county": county, "point": point, "seq": seq, "counts": counts})),
        )?;
        let made = Made {
            id,
            seq,
            children: counts.children as i64,
            since: crate::clock::shown(&since),
            cut: crate::clock::shown(&cut),
            created_by: caller.username.clone(),
        };
        Ok((made, counts, text.into_bytes()))
    })
}

/// The packages made here, newest first.
pub fn made(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Made>> {
    caller.require(conn, Permission::EditStudents, "collect_made")?;
    type Row = (i64, i64, i64, NaiveDateTime, NaiveDateTime, String);
    let rows: Vec<Row> = collect_sent::table
        .order(collect_sent::seq.desc())
        .select((
            collect_sent::id,
            collect_sent::seq,
            collect_sent::children,
            collect_sent::since,
            collect_sent::cut,
            collect_sent::created_by,
        ))
        .limit(200)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, seq, children, since, cut, created_by)| Made {
            id,
            seq,
            children,
            since: crate::clock::shown(&since),
            cut: crate::clock::shown(&cut),
            created_by,
        })
        .collect())
}

/// A package made here, as the file it was: (bytes, file name).
pub fn made_file(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(Vec<u8>, String)> {
    caller.require(conn, Permission::EditStudents, "collect_made_file")?;
    let (seq, text): (i64, String) = collect_sent::table
        .find(id)
        .select((collect_sent::seq, collect_sent::package))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    Ok((text.into_bytes(), file_name(seq)))
}

pub fn file_name(seq: i64) -> String {
    format!("collect-{seq:04}.json")
}

/// The children registered or changed since, each with the record now, the record as it stood
/// at `since` (none for a child new since), its field history and a photo changed since.
fn children_since(
    conn: &mut DbConn,
    schools: &[(i64, String)],
    since: NaiveDateTime,
    cut: NaiveDateTime,
) -> AppResult<Vec<Child>> {
    let school_ids: Vec<i64> = schools.iter().map(|(id, _)| *id).collect();
    let code_of: HashMap<i64, &str> = schools.iter().map(|(id, c)| (*id, c.as_str())).collect();
    let photo_ids: Vec<i64> = student_photos::table
        .inner_join(students::table)
        .filter(students::school_id.eq_any(&school_ids))
        .filter(student_photos::uploaded_at.gt(since))
        .filter(student_photos::uploaded_at.le(cut))
        .select(student_photos::student_id)
        .load(conn)?;
    let rows: Vec<StudentRow> = students::table
        .filter(students::school_id.eq_any(&school_ids))
        .filter(students::updated_at.gt(since).and(students::updated_at.le(cut)).or(students::id.eq_any(&photo_ids)))
        .order(students::id.asc())
        .select(StudentRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut history: BTreeMap<i64, Vec<FieldChange>> = BTreeMap::new();
    let hist: Vec<HistoryRow> = student_history::table
        .filter(student_history::student_id.eq_any(&ids))
        .filter(student_history::at.gt(since))
        .filter(student_history::at.le(cut))
        .order(student_history::id.asc())
        .select(HistoryRow::as_select())
        .load(conn)?;
    for h in hist {
        history.entry(h.student_id).or_default().push(FieldChange {
            field: h.field,
            old: h.old_value,
            new: h.new_value,
            reason: h.reason,
            actor: h.actor,
            at: crate::clock::rfc3339(&h.at),
        });
    }
    let first_days: BTreeMap<i64, chrono::NaiveDate> = student_spells::table
        .filter(student_spells::student_id.eq_any(&ids))
        .group_by(student_spells::student_id)
        .select((student_spells::student_id, diesel::dsl::min(student_spells::from_date)))
        .load::<(i64, Option<chrono::NaiveDate>)>(conn)?
        .into_iter()
        .filter_map(|(id, d)| Some((id, d?)))
        .collect();
    let photos: BTreeMap<i64, Vec<u8>> = student_photos::table
        .filter(student_photos::student_id.eq_any(&photo_ids))
        .select((student_photos::student_id, student_photos::bytes))
        .load(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let changes = history.remove(&r.id).unwrap_or_default();
            let record = r.record().values().clone();
            let new = r.created_at > since;
            // The number is the point's own: only the record's fields merge.
            let field_changes: Vec<FieldChange> = changes.iter().filter(|c| record_field(&c.field)).cloned().collect();
            Child {
                point_id: r.id,
                school: code_of.get(&r.school_id).copied().unwrap_or_default().to_owned(),
                student_no: r.student_no.clone(),
                base: (!new).then(|| collect::base_of(&record, &field_changes)),
                enrolled_on: if new { first_days.get(&r.id).copied() } else { None },
                photo: photos.get(&r.id).map(|b| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(b)
                }),
                record,
                history: changes,
            }
        })
        .collect())
}

/// Whether a history row is of a field of the record (not the number, not a merge).
fn record_field(field: &str) -> bool {
    crate::domain::student::field(field).is_some()
}

fn terms_since(
    conn: &mut DbConn,
    schools: &[(i64, String)],
    since: NaiveDateTime,
    cut: NaiveDateTime,
) -> AppResult<Vec<Term>> {
    let code_of: HashMap<i64, &str> = schools.iter().map(|(id, c)| (*id, c.as_str())).collect();
    let rows: Vec<(i64, i32, i32, chrono::NaiveDate, chrono::NaiveDate)> = school_terms::table
        .filter(school_terms::org_id.eq_any(code_of.keys().copied().collect::<Vec<_>>()))
        .filter(school_terms::set_at.gt(since))
        .filter(school_terms::set_at.le(cut))
        .order((school_terms::org_id, school_terms::school_year, school_terms::term))
        .select((
            school_terms::org_id,
            school_terms::school_year,
            school_terms::term,
            school_terms::start_date,
            school_terms::end_date,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(org, school_year, term, start, end)| Term {
            school: code_of.get(&org).copied().unwrap_or_default().to_owned(),
            school_year,
            term,
            start,
            end,
        })
        .collect())
}

fn calendars_since(
    conn: &mut DbConn,
    schools: &[(i64, String)],
    since: NaiveDateTime,
    cut: NaiveDateTime,
) -> AppResult<Vec<Calendar>> {
    let code_of: HashMap<i64, &str> = schools.iter().map(|(id, c)| (*id, c.as_str())).collect();
    let rows: Vec<(i64, i32, String)> = meal_calendars::table
        .filter(meal_calendars::org_id.eq_any(code_of.keys().copied().collect::<Vec<_>>()))
        .filter(meal_calendars::set_at.gt(since))
        .filter(meal_calendars::set_at.le(cut))
        .order((meal_calendars::org_id, meal_calendars::month))
        .select((meal_calendars::org_id, meal_calendars::month, meal_calendars::days))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(org, key, bits)| {
            let month = Month::from_key(key).ok()?;
            Some(Calendar {
                school: code_of.get(&org).copied().unwrap_or_default().to_owned(),
                month: month.to_string(),
                days: MealMonth::from_bits(month, &bits).list(),
            })
        })
        .collect())
}

fn meal_days_since(
    conn: &mut DbConn,
    schools: &[(i64, String)],
    since: NaiveDateTime,
    cut: NaiveDateTime,
) -> AppResult<Vec<MealDay>> {
    let code_of: HashMap<i64, &str> = schools.iter().map(|(id, c)| (*id, c.as_str())).collect();
    let rows: Vec<(i64, i64, String, chrono::NaiveDate, i32, String)> = daily_meals::table
        .inner_join(classes::table)
        .filter(daily_meals::school_id.eq_any(code_of.keys().copied().collect::<Vec<_>>()))
        .filter(daily_meals::recorded_at.gt(since))
        .filter(daily_meals::recorded_at.le(cut))
        .order((daily_meals::day, daily_meals::school_id, classes::class_no))
        .select((
            daily_meals::id,
            daily_meals::school_id,
            classes::class_no,
            daily_meals::day,
            daily_meals::ate,
            daily_meals::recorded_by,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let pairs: Vec<(i64, i64)> = daily_meal_absences::table
        .filter(daily_meal_absences::daily_meal_id.eq_any(&ids))
        .order(daily_meal_absences::student_id)
        .select((daily_meal_absences::daily_meal_id, daily_meal_absences::student_id))
        .load(conn)?;
    let named = named_children(conn, pairs.iter().map(|p| p.1))?;
    let mut absent: BTreeMap<i64, Vec<Absent>> = BTreeMap::new();
    for (meal, student) in pairs {
        absent.entry(meal).or_default().extend(named.get(&student).cloned());
    }
    Ok(rows
        .into_iter()
        .map(|(id, school, class_no, day, ate, recorded_by)| MealDay {
            school: code_of.get(&school).copied().unwrap_or_default().to_owned(),
            class_no,
            day,
            ate,
            absent: absent.remove(&id).unwrap_or_default(),
            recorded_by,
        })
        .collect())
}

/// Children as a package names them outside their own records: id and 学籍号 at the point.
fn named_children(conn: &mut DbConn, ids: impl Iterator<Item = i64>) -> AppResult<BTreeMap<i64, Absent>> {
    let ids: Vec<i64> = ids.collect();
    let rows: Vec<(i64, String)> = students::table
        .filter(students::id.eq_any(&ids))
        .select((students::id, students::student_no_sealed))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, sealed)| Ok((id, Absent { point_id: id, student_no: crate::db::at_rest::student_no(&sealed)? })))
        .collect()
}

fn status_changes_since(
    conn: &mut DbConn,
    schools: &[(i64, String)],
    since: NaiveDateTime,
    cut: NaiveDateTime,
) -> AppResult<Vec<StatusChange>> {
    let ids: Vec<i64> = schools.iter().map(|(id, _)| *id).collect();
    let rows: Vec<(i64, String, chrono::NaiveDate, String, String)> = status_changes::table
        .filter(status_changes::from_school_id.eq_any(&ids))
        .filter(status_changes::requested_at.gt(since))
        .filter(status_changes::requested_at.le(cut))
        .order(status_changes::id)
        .select((
            status_changes::student_id,
            status_changes::kind,
            status_changes::effective_date,
            status_changes::reason,
            status_changes::requested_by,
        ))
        .load(conn)?;
    let named = named_children(conn, rows.iter().map(|r| r.0))?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, effective_date, reason, requested_by)| {
            Some(StatusChange { child: named.get(&id)?.clone(), kind, effective_date, reason, requested_by })
        })
        .collect())
}
