//! The centre's side of the exchange: the provinces and their keys, each province's packages
//! taken once and in order, the children two provinces hold on common days, the packages sent
//! back, and the national roll-up drawn from the packages.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::province::province_names;
use super::{Extent, days_of, days_text, refused, require_level};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::config::Keys;
use crate::db::schema::{
    centre_children, centre_claims, centre_county_months, centre_packages, centre_provinces, centre_returns, orgs,
};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::{Month, Span};
use crate::domain::central::{
    self, Accept, Body, Child, DoubleClaim, Last, NationalKey, Numbered, ReturnBody, verifying_key,
};
use crate::domain::money::Fen;
use crate::domain::role::OrgKind;
use crate::error::{AppError, AppResult, ErrorCode};

/// A province as the centre knows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Province {
    pub code: String,
    pub name: String,
    pub public_key: String,
    /// The number of the last package taken (0: none yet).
    pub last_seq: i64,
    pub last_period: String,
    /// Beijing time of the last package, or empty.
    pub last_received: String,
    /// Children of this province the centre found in another.
    pub claims: i64,
}

/// Registers (or re-keys) a province: its packages must be signed with this public key.
pub fn register(conn: &mut DbConn, caller: &Caller, code: &str, public_key: &str) -> AppResult<Province> {
    require_level(conn, caller, OrgKind::Ministry, "central_register")?;
    let code = code.trim();
    let name: String = orgs::table
        .filter(orgs::code.eq(code))
        .filter(orgs::kind.eq(OrgKind::Province.as_str()))
        .select(orgs::name)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::field(
                "province",
                ErrorCode::CentralProvince,
                format!("“{code}”不是省级行政区划代码（如 520000）"),
            )
        })?;
    let key = public_key.trim().to_ascii_lowercase();
    if verifying_key(&key).is_none() {
        return Err(AppError::field(
            "key",
            ErrorCode::CentralSignature,
            "公钥应为64个十六进制字符（由该省运行 mealroll central key 得到）",
        ));
    }
    write_tx(conn, |conn| {
        let holder: Option<String> = centre_provinces::table
            .filter(centre_provinces::public_key.eq(&key))
            .filter(centre_provinces::code.ne(code))
            .select(centre_provinces::code)
            .first(conn)
            .optional()?;
        if let Some(other) = holder {
            return Err(AppError::field(
                "key",
                ErrorCode::CentralKeyTaken,
                format!("该公钥已登记给 {other}：一个签名密钥只能代表一个省"),
            ));
        }
        let before: Option<String> = centre_provinces::table
            .filter(centre_provinces::code.eq(code))
            .select(centre_provinces::public_key)
            .first(conn)
            .optional()?;
        match &before {
            Some(_) => {
                diesel::update(centre_provinces::table.filter(centre_provinces::code.eq(code)))
                    .set((
                        centre_provinces::public_key.eq(&key),
                        centre_provinces::registered_by.eq(&caller.username),
                        centre_provinces::registered_at.eq(caller.now()),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(centre_provinces::table)
                    .values((
                        centre_provinces::code.eq(code),
                        centre_provinces::name.eq(&name),
                        centre_provinces::public_key.eq(&key),
                        centre_provinces::registered_by.eq(&caller.username),
                        centre_provinces::registered_at.eq(caller.now()),
                    ))
                    .execute(conn)?;
            }
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("central.register", "centre_province", code)
                .before(&json!({"public_key": before}))
                .after(&json!({"public_key": key})),
        )?;
        Ok(())
    })?;
    provinces(conn, caller)?.into_iter().find(|p| p.code == code).ok_or_else(AppError::not_found)
}

/// The registered provinces with their last package, in code order.
pub fn provinces(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Province>> {
    require_level(conn, caller, OrgKind::Ministry, "central_provinces")?;
    let rows: Vec<(String, String, String)> = centre_provinces::table
        .order(centre_provinces::code.asc())
        .select((centre_provinces::code, centre_provinces::name, centre_provinces::public_key))
        .load(conn)?;
    let mut out = Vec::new();
    for (code, name, public_key) in rows {
        let last: Option<(i64, String, chrono::NaiveDateTime)> = centre_packages::table
            .filter(centre_packages::province.eq(&code))
            .order(centre_packages::seq.desc())
            .select((centre_packages::seq, centre_packages::period, centre_packages::received_at))
            .first(conn)
            .optional()?;
        let claims: i64 = centre_claims::table
            .filter(centre_claims::province_a.eq(&code).or(centre_claims::province_b.eq(&code)))
            .count()
            .get_result(conn)?;
        let (last_seq, last_period, last_received) =
            last.map_or((0, String::new(), String::new()), |(s, p, at)| (s, p, crate::clock::shown(&at)));
        out.push(Province { code, name, public_key, last_seq, last_period, last_received, claims });
    }
    Ok(out)
}

/// What taking a package did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Imported {
    pub province: String,
    pub period: String,
    pub seq: u64,
    /// The same package was taken before: nothing changed.
    pub again: bool,
    pub children: usize,
    pub counties: usize,
    /// Children of this province now found in another on common days.
    pub claims: usize,
}

/// Takes a province's package: signed with its registered key, under the national key, the next
/// in its order; a repeat changes nothing, anything else wrong is refused whole.
pub fn import(conn: &mut DbConn, caller: &Caller, national: &NationalKey, bytes: &[u8]) -> AppResult<Imported> {
    require_level(conn, caller, OrgKind::Ministry, "central_import")?;
    let package = central::parse::<Body>(bytes).map_err(refused)?;
    let b = &package.body;
    let key: String = centre_provinces::table
        .filter(centre_provinces::code.eq(&b.province))
        .select(centre_provinces::public_key)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::invalid(
                ErrorCode::CentralProvince,
                format!("省份 {} 尚未在中心登记签名公钥，交换包不予接收", b.province),
            )
        })?;
    let key = verifying_key(&key).ok_or_else(|| refused(central::Refusal::Signature))?;
    if Span::parse(&b.period).is_err() {
        return Err(refused(central::Refusal::Malformed(format!("期间“{}”无法识别", b.period))));
    }
    write_tx(conn, |conn| {
        let last: Option<(i64, String)> = centre_packages::table
            .filter(centre_packages::province.eq(&b.province))
            .order(centre_packages::seq.desc())
            .select((centre_packages::seq, centre_packages::digest))
            .first(conn)
            .optional()?;
        let last = last.map(|(seq, digest)| Last { seq: seq as u64, digest });
        let taken = |claims| Imported {
            province: b.province.clone(),
            period: b.period.clone(),
            seq: b.seq,
            again: true,
            children: b.children.len(),
            counties: b.counties.len(),
            claims,
        };
        if central::check(&package, &key, national, last.as_ref()).map_err(refused)? == Accept::Again {
            let claims = claims_of(conn, &b.province)?;
            return Ok(taken(claims));
        }
        // A newer package of the same period replaces the older one's children and figures.
        let older: Vec<i64> = centre_packages::table
            .filter(centre_packages::province.eq(&b.province))
            .filter(centre_packages::period.eq(&b.period))
            .filter(centre_packages::superseded.eq(false))
            .select(centre_packages::id)
            .load(conn)?;
        diesel::delete(centre_children::table.filter(centre_children::package_id.eq_any(&older))).execute(conn)?;
        diesel::delete(centre_county_months::table.filter(centre_county_months::package_id.eq_any(&older)))
            .execute(conn)?;
        diesel::update(centre_packages::table.filter(centre_packages::id.eq_any(&older)))
            .set(centre_packages::superseded.eq(true))
            .execute(conn)?;
        let id: i64 = diesel::insert_into(centre_packages::table)
            .values((
                centre_packages::province.eq(&b.province),
                centre_packages::seq.eq(b.seq as i64),
                centre_packages::period.eq(&b.period),
                centre_packages::digest.eq(b.digest()),
                centre_packages::created_at.eq(&b.created_at),
                centre_packages::children.eq(b.children.len() as i64),
                centre_packages::counties.eq(b.counties.len() as i64),
                centre_packages::superseded.eq(false),
                centre_packages::received_by.eq(&caller.username),
                centre_packages::received_at.eq(caller.now()),
            ))
            .returning(centre_packages::id)
            .get_result(conn)?;
        for chunk in b.counties.chunks(1000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|c| {
                    (
                        centre_county_months::package_id.eq(id),
                        centre_county_months::province.eq(&b.province),
                        centre_county_months::county.eq(&c.county),
                        centre_county_months::month.eq(&c.month),
                        centre_county_months::beneficiaries.eq(c.beneficiaries),
                        centre_county_months::meals.eq(c.meals),
                        centre_county_months::entitled_fen.eq(c.entitled_fen),
                        centre_county_months::allocated_fen.eq(c.allocated_fen),
                        centre_county_months::spent_fen.eq(c.spent_fen),
                    )
                })
                .collect();
            crate::per_backend!(conn, |c| diesel::insert_into(centre_county_months::table).values(&rows).execute(c))?;
        }
        for chunk in b.children.chunks(1000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|c| {
                    (
                        centre_children::package_id.eq(id),
                        centre_children::province.eq(&b.province),
                        centre_children::child_key.eq(&c.key),
                        centre_children::active.eq(days_text(&c.active)),
                        centre_children::paid.eq(days_text(&c.paid)),
                    )
                })
                .collect();
            crate::per_backend!(conn, |c| diesel::insert_into(centre_children::table).values(&rows).execute(c))?;
        }
        let claims = find_claims(conn, caller, &b.province)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("central.import", "centre_package", id).after(&json!({
                "province": b.province, "period": b.period, "seq": b.seq, "digest": b.digest(),
                "children": b.children.len(), "counties": b.counties.len(), "claims": claims,
                "superseded": older,
            })),
        )?;
        Ok(Imported { again: false, ..taken(claims) })
    })
}

fn claims_of(conn: &mut DbConn, province: &str) -> AppResult<usize> {
    let n: i64 = centre_claims::table
        .filter(centre_claims::province_a.eq(province).or(centre_claims::province_b.eq(province)))
        .count()
        .get_result(conn)?;
    Ok(n as usize)
}

/// Finds again every claim the province is part of: its children (of every current package)
/// that another province also holds, compared on common days.
fn find_claims(conn: &mut DbConn, caller: &Caller, province: &str) -> AppResult<usize> {
    // The same table on both sides of the subquery: one side under another name.
    let mine = diesel::alias!(centre_children as mine);
    let mine_keys =
        mine.filter(mine.field(centre_children::province).eq(province)).select(mine.field(centre_children::child_key));
    let others: Vec<(String, String, String, String)> = centre_children::table
        .filter(centre_children::province.ne(province))
        .filter(centre_children::child_key.eq_any(mine_keys))
        .select((centre_children::province, centre_children::child_key, centre_children::active, centre_children::paid))
        .load(conn)?;
    let mut held: BTreeMap<String, BTreeMap<String, Child>> = BTreeMap::new();
    let add = |held: &mut BTreeMap<String, BTreeMap<String, Child>>, p: String, key: String, a: &str, d: &str| {
        let c = held.entry(p).or_default().entry(key.clone()).or_insert_with(|| Child {
            key,
            active: Vec::new(),
            paid: Vec::new(),
        });
        c.active = central::union(c.active.iter().copied().chain(days_of(a)).collect());
        c.paid = central::union(c.paid.iter().copied().chain(days_of(d)).collect());
    };
    let keys: Vec<String> =
        others.iter().map(|o| o.1.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    for (p, key, a, d) in others {
        add(&mut held, p, key, &a, &d);
    }
    for chunk in keys.chunks(5000) {
        let mine: Vec<(String, String, String)> = centre_children::table
            .filter(centre_children::province.eq(province))
            .filter(centre_children::child_key.eq_any(chunk))
            .select((centre_children::child_key, centre_children::active, centre_children::paid))
            .load(conn)?;
        for (key, a, d) in mine {
            add(&mut held, province.to_owned(), key, &a, &d);
        }
    }
    let lists: Vec<(String, Vec<Child>)> = held.into_iter().map(|(p, m)| (p, m.into_values().collect())).collect();
    let refs: Vec<(&str, &[Child])> = lists.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
    let found: Vec<DoubleClaim> = central::double_claims(&refs)
        .into_iter()
        .filter(|c| c.provinces.0 == province || c.provinces.1 == province)
        .collect();
    diesel::delete(
        centre_claims::table.filter(centre_claims::province_a.eq(province).or(centre_claims::province_b.eq(province))),
    )
    .execute(conn)?;
    for chunk in found.chunks(1000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|c| {
                (
                    centre_claims::child_key.eq(&c.key),
                    centre_claims::province_a.eq(&c.provinces.0),
                    centre_claims::province_b.eq(&c.provinces.1),
                    centre_claims::active.eq(days_text(&c.active)),
                    centre_claims::paid.eq(days_text(&c.paid)),
                    centre_claims::active_days.eq(c.active.iter().map(central::Days::count).sum::<i64>()),
                    centre_claims::paid_days.eq(c.paid.iter().map(central::Days::count).sum::<i64>()),
                    centre_claims::found_at.eq(caller.now()),
                )
            })
            .collect();
        crate::per_backend!(conn, |c| diesel::insert_into(centre_claims::table).values(&rows).execute(c))?;
    }
    Ok(found.len())
}

/// One child two provinces hold on common days (the hash shortened: it names no one).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Claim {
    pub key: String,
    pub province_a: String,
    pub province_a_name: String,
    pub province_b: String,
    pub province_b_name: String,
    pub active: Extent,
    pub paid: Extent,
}

/// The claims, of one province or all, most paid days first.
pub fn claims(conn: &mut DbConn, caller: &Caller, province: Option<&str>) -> AppResult<Vec<Claim>> {
    require_level(conn, caller, OrgKind::Ministry, "central_claims")?;
    let mut q = centre_claims::table.into_boxed();
    if let Some(p) = province.filter(|p| !p.is_empty()) {
        q = q.filter(centre_claims::province_a.eq(p.to_owned()).or(centre_claims::province_b.eq(p.to_owned())));
    }
    let rows: Vec<(String, String, String, String, String)> = q
        .order((centre_claims::paid_days.desc(), centre_claims::active_days.desc(), centre_claims::child_key.asc()))
        .select((
            centre_claims::child_key,
            centre_claims::province_a,
            centre_claims::province_b,
            centre_claims::active,
            centre_claims::paid,
        ))
        .limit(5000)
        .load(conn)?;
    let names = province_names(conn)?;
    let name = |p: &str| names.get(p).cloned().unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|(key, a, b, active, paid)| Claim {
            key: key.chars().take(16).collect(),
            province_a_name: name(&a),
            province_b_name: name(&b),
            province_a: a,
            province_b: b,
            active: Extent::of(&days_of(&active)),
            paid: Extent::of(&days_of(&paid)),
        })
        .collect())
}

/// A return package made for a province.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ReturnMade {
    pub id: i64,
    pub province: String,
    pub seq: u64,
    pub matches: usize,
    pub file_name: String,
}

/// The package back to a province: its side of every claim it is part of, signed by the centre,
/// numbered per province.
pub fn make_return(
    conn: &mut DbConn,
    caller: &Caller,
    keys: &Keys,
    national: &NationalKey,
    province: &str,
) -> AppResult<(ReturnMade, Vec<u8>)> {
    require_level(conn, caller, OrgKind::Ministry, "central_return")?;
    let known: i64 = centre_provinces::table.filter(centre_provinces::code.eq(province)).count().get_result(conn)?;
    if known == 0 {
        return Err(AppError::field("province", ErrorCode::CentralProvince, format!("省份 {province} 尚未在中心登记")));
    }
    write_tx(conn, |conn| {
        let rows: Vec<(String, String, String, String, String)> = centre_claims::table
            .filter(centre_claims::province_a.eq(province).or(centre_claims::province_b.eq(province)))
            .order(centre_claims::child_key.asc())
            .select((
                centre_claims::child_key,
                centre_claims::province_a,
                centre_claims::province_b,
                centre_claims::active,
                centre_claims::paid,
            ))
            .load(conn)?;
        let found: Vec<DoubleClaim> = rows
            .into_iter()
            .map(|(key, a, b, active, paid)| DoubleClaim {
                key,
                provinces: (a, b),
                active: days_of(&active),
                paid: days_of(&paid),
            })
            .collect();
        let last: Option<i64> = centre_returns::table
            .filter(centre_returns::province.eq(province))
            .select(diesel::dsl::max(centre_returns::seq))
            .first(conn)?;
        let seq = u64::try_from(last.unwrap_or(0)).unwrap_or(0) + 1;
        let body = ReturnBody {
            format: central::FORMAT,
            province: province.to_owned(),
            seq,
            created_at: crate::clock::rfc3339(&caller.now()),
            national_key: national.fingerprint(),
            matches: central::matches_for(province, &found),
        };
        let package = central::sign(body, &keys.exchange_signer("centre"));
        let text = serde_json::to_string(&package).map_err(AppError::internal)?;
        let id: i64 = diesel::insert_into(centre_returns::table)
            .values((
                centre_returns::province.eq(province),
                centre_returns::seq.eq(seq as i64),
                centre_returns::digest.eq(package.body.digest()),
                centre_returns::matches.eq(package.body.matches.len() as i64),
                centre_returns::package.eq(&text),
                centre_returns::created_by.eq(&caller.username),
                centre_returns::created_at.eq(caller.now()),
            ))
            .returning(centre_returns::id)
            .get_result(conn)?;
        let made = ReturnMade {
            id,
            province: province.to_owned(),
            seq,
            matches: package.body.matches.len(),
            file_name: format!("中心返回-{province}-第{seq}号.json"),
        };
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("central.return", "centre_return", id).after(&json!({
                "province": province, "seq": seq, "digest": package.body.digest(), "matches": made.matches,
            })),
        )?;
        Ok((made, text.into_bytes()))
    })
}

/// A province's month in the national roll-up (money in yuan).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RollupRow {
    pub province: String,
    pub name: String,
    pub month: String,
    pub counties: i64,
    pub beneficiaries: i64,
    pub meals: i64,
    pub entitled: Fen,
    pub allocated: Fen,
    pub spent: Fen,
}

/// The national roll-up of the period from the provinces' current packages: per province and
/// month, and the nation's total per month last (province `000000`).
pub fn rollup(conn: &mut DbConn, caller: &Caller, period: &Span) -> AppResult<Vec<RollupRow>> {
    require_level(conn, caller, OrgKind::Ministry, "central_rollup")?;
    let months: Vec<String> =
        period.keys().into_iter().filter_map(|k| Month::from_key(k).ok()).map(|m| m.to_string()).collect();
    let current = centre_packages::table.filter(centre_packages::superseded.eq(false)).select(centre_packages::id);
    let rows: Vec<(String, String, i64, i64, i64, i64, i64)> = centre_county_months::table
        .filter(centre_county_months::package_id.eq_any(current))
        .filter(centre_county_months::month.eq_any(&months))
        .select((
            centre_county_months::province,
            centre_county_months::month,
            centre_county_months::beneficiaries,
            centre_county_months::meals,
            centre_county_months::entitled_fen,
            centre_county_months::allocated_fen,
            centre_county_months::spent_fen,
        ))
        .load(conn)?;
    let names = province_names(conn)?;
    let mut sums: BTreeMap<(String, String), [i64; 6]> = BTreeMap::new();
    let mut nation: BTreeMap<String, [i64; 6]> = BTreeMap::new();
    for (p, m, b, meals, e, a, s) in rows {
        for acc in [sums.entry((p.clone(), m.clone())).or_default(), nation.entry(m.clone()).or_default()] {
            let add = [1, b, meals, e, a, s];
            for (x, y) in acc.iter_mut().zip(add) {
                *x += y;
            }
        }
    }
    let row = |province: String, name: String, month: String, v: [i64; 6]| RollupRow {
        province,
        name,
        month,
        counties: v[0],
        beneficiaries: v[1],
        meals: v[2],
        entitled: Fen::new(v[3]),
        allocated: Fen::new(v[4]),
        spent: Fen::new(v[5]),
    };
    let mut out: Vec<RollupRow> = sums
        .into_iter()
        .map(|((p, m), v)| {
            let name = names.get(&p).cloned().unwrap_or_default();
            row(p, name, m, v)
        })
        .collect();
    out.extend(nation.into_iter().map(|(m, v)| row("000000".into(), "全国".into(), m, v)));
    Ok(out)
}

/// The public key the centre signs return packages with, for the provinces' settings.
pub fn centre_public_key(keys: &Keys) -> String {
    hex::encode(keys.exchange_signer("centre").verifying_key().as_bytes())
}

/// The public key this instance signs a province's packages with, for the centre to register.
pub fn province_public_key(keys: &Keys, province: &str) -> String {
    hex::encode(keys.exchange_signer(province).verifying_key().as_bytes())
}

/// Province codes by name, for forms.
pub fn province_choices(conn: &mut DbConn) -> AppResult<Vec<(String, String)>> {
    let mut v: Vec<(String, String)> = province_names(conn)?.into_iter().collect();
    v.sort();
    Ok(v)
}
