//! The programme's configuration (SPEC §5): county plan types, member schools, subsidy
//! standards, suppliers and meal models. Calendars live in `calendar.rs`.

mod standards;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{classes, county_plans, meal_models, orgs, programme_schools, schools, suppliers};
use crate::db::{DbConn, write_tx};
use crate::domain::programme::{self, MealModel, Period, PlanType};
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::{Org, ancestor_paths};
use crate::org::service::org_in_scope;

pub use standards::{
    MealStandards, ShareRow, StandardInput, StandardRow, add_standard, central_shares, end_standard, meal_standard,
    standards,
};

/// The caller's own org, when it may configure the programme at county level or above.
fn county_org(conn: &mut DbConn, caller: &Caller, what: &str) -> AppResult<Org> {
    caller.require_at_county(conn, Permission::ConfigureProgramme, what)?;
    org_in_scope(conn, caller.scope(), &caller.org_code)
}

/// A school the caller may configure: its own (school roles) or one below its county.
fn school_org(conn: &mut DbConn, caller: &Caller, code: &str, what: &str) -> AppResult<Org> {
    caller.require(conn, Permission::ConfigureProgramme, what)?;
    let org = org_in_scope(conn, caller.scope(), code)?;
    if org.kind != OrgKind::School {
        return Err(AppError::field("school", ErrorCode::ProgrammeNotASchool, format!("“{}”不是学校", org.name)));
    }
    Ok(org)
}

// ------------------------------------------------------------------------------ plan types

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlanRow {
    pub org_code: String,
    pub org_name: String,
    pub school_year: i32,
    pub plan_type: &'static str,
    pub label: &'static str,
}

/// Sets a county's plan type for a school year (replacing an earlier setting): the county
/// itself or an org above it.
pub fn set_plan(
    conn: &mut DbConn,
    caller: &Caller,
    county_code: &str,
    school_year: i32,
    plan: PlanType,
) -> AppResult<()> {
    county_org(conn, caller, "set_plan_type")?;
    let org = org_in_scope(conn, caller.scope(), county_code)?;
    if org.kind != OrgKind::County {
        return Err(AppError::field(
            "county",
            ErrorCode::PlanNotCounty,
            format!("计划类型按县设置，“{}”不是县", org.name),
        ));
    }
    if !(2011..=2100).contains(&school_year) {
        return Err(AppError::field("school_year", ErrorCode::PlanYear, "学年应为2011年以后的四位年份"));
    }
    write_tx(conn, |conn| {
        let key = county_plans::table
            .filter(county_plans::org_id.eq(org.id))
            .filter(county_plans::school_year.eq(school_year));
        let before: Option<String> = key.select(county_plans::plan_type).first(conn).optional()?;
        diesel::delete(key).execute(conn)?;
        diesel::insert_into(county_plans::table)
            .values((
                county_plans::org_id.eq(org.id),
                county_plans::school_year.eq(school_year),
                county_plans::plan_type.eq(plan.as_str()),
                county_plans::set_by.eq(&caller.username),
                county_plans::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("programme.plan", "org", &org.code)
                .before(&before)
                .after(&serde_json::json!({"school_year": school_year, "plan_type": plan.as_str()})),
        )
    })
}

/// The plan types set for counties in the caller's scope (and the caller's own county).
pub fn plans(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<PlanRow>> {
    let near = ancestor_paths(caller.org_path());
    let rows: Vec<(String, String, i32, String)> = county_plans::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()).or(orgs::path.eq_any(near)))
        .select((orgs::code, orgs::name, county_plans::school_year, county_plans::plan_type))
        .order((county_plans::school_year.desc(), orgs::code.asc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(org_code, org_name, school_year, t)| {
            let p = PlanType::parse(&t)?;
            Some(PlanRow { org_code, org_name, school_year, plan_type: p.as_str(), label: p.label() })
        })
        .collect())
}

/// The plan type of the county above a school (by path) for a school year.
pub fn plan_of(conn: &mut DbConn, path: &str, school_year: i32) -> AppResult<Option<PlanType>> {
    let rows: Vec<(String, String)> = county_plans::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(path)))
        .filter(county_plans::school_year.eq(school_year))
        .select((orgs::path, county_plans::plan_type))
        .load(conn)?;
    Ok(rows.into_iter().max_by_key(|(p, _)| p.len()).and_then(|(_, t)| PlanType::parse(&t)))
}

// ------------------------------------------------------------------------------ membership

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MemberRow {
    pub id: i64,
    pub school_code: String,
    pub school_name: String,
    pub in_county_seat: bool,
    pub from_date: NaiveDate,
    pub to_date: Option<NaiveDate>,
    pub seat_included: bool,
    pub note: String,
}

/// Takes a school into the programme from a date. A school in the county seat is refused unless
/// the county says it is included (不含县城, SPEC §5); overlapping memberships are refused.
pub fn join(
    conn: &mut DbConn,
    caller: &Caller,
    school_code: &str,
    period: Period,
    seat_included: bool,
    note: &str,
) -> AppResult<()> {
    county_org(conn, caller, "programme_join")?;
    let school = school_org(conn, caller, school_code, "programme_join")?;
    let in_seat: bool =
        schools::table.find(school.id).select(schools::in_county_seat).first(conn).optional()?.unwrap_or(false);
    if in_seat && !seat_included {
        return Err(AppError::field(
            "seat_included",
            ErrorCode::ProgrammeCountySeat,
            format!(
                "{}位于县城（县政府驻地），营养改善计划不含县城学校；确需纳入请勾选“县城学校纳入”并注明依据",
                school.name
            ),
        ));
    }
    let note: String = note.trim().chars().take(200).collect();
    if in_seat && note.is_empty() {
        return Err(AppError::field("note", ErrorCode::ProgrammeSeatReason, "县城学校纳入计划须注明依据"));
    }
    write_tx(conn, |conn| {
        let existing = memberships(conn, school.id)?;
        programme::check_no_overlap(&existing, &period, &format!("{}的计划学校资格", school.name))
            .map_err(|m| AppError::field("from_date", ErrorCode::ProgrammeOverlap, m))?;
        diesel::insert_into(programme_schools::table)
            .values((
                programme_schools::school_id.eq(school.id),
                programme_schools::from_date.eq(period.from),
                programme_schools::to_date.eq(period.to),
                programme_schools::seat_included.eq(seat_included),
                programme_schools::note.eq(&note),
                programme_schools::set_by.eq(&caller.username),
                programme_schools::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("programme.join", "school", &school.code)
                .after(&serde_json::json!({"from": period.from, "to": period.to, "seat_included": seat_included, "note": note})),
        )
    })
}

/// Ends a membership on a day (the last day the school is in the programme).
pub fn leave(conn: &mut DbConn, caller: &Caller, id: i64, last_day: NaiveDate) -> AppResult<()> {
    county_org(conn, caller, "programme_leave")?;
    write_tx(conn, |conn| {
        let (school_id, from, to, code): (i64, NaiveDate, Option<NaiveDate>, String) = programme_schools::table
            .inner_join(orgs::table)
            .filter(programme_schools::id.eq(id))
            .filter(orgs::path.like(caller.scope().like_pattern()))
            .select((
                programme_schools::school_id,
                programme_schools::from_date,
                programme_schools::to_date,
                orgs::code,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(AppError::not_found)?;
        if last_day < from || to.is_some_and(|t| last_day > t) {
            return Err(AppError::field(
                "to_date",
                ErrorCode::ProgrammeLeaveDate,
                format!("退出日期应在{from}之后且不晚于原结束日期"),
            ));
        }
        diesel::update(programme_schools::table.find(id))
            .set(programme_schools::to_date.eq(Some(last_day)))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("programme.leave", "school", &code)
                .before(&to)
                .after(&serde_json::json!({"id": id, "school_id": school_id, "to": last_day})),
        )
    })
}

pub fn memberships(conn: &mut DbConn, school_id: i64) -> AppResult<Vec<Period>> {
    let rows: Vec<(NaiveDate, Option<NaiveDate>)> = programme_schools::table
        .filter(programme_schools::school_id.eq(school_id))
        .select((programme_schools::from_date, programme_schools::to_date))
        .load(conn)?;
    Ok(rows.into_iter().map(|(from, to)| Period { from, to }).collect())
}

/// Whether a school is in the programme on a day.
pub fn in_programme(conn: &mut DbConn, school_id: i64, day: NaiveDate) -> AppResult<bool> {
    Ok(memberships(conn, school_id)?.iter().any(|p| p.contains(day)))
}

/// The schools under `path` (an org's path, already scope-checked by the caller) that were in
/// the programme at any time from `from` to `to`, once each, in code order.
pub fn programme_schools(conn: &mut DbConn, path: &str, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<Org>> {
    Ok(orgs::table
        .inner_join(programme_schools::table.on(programme_schools::school_id.eq(orgs::id)))
        .filter(orgs::path.like(format!("{path}%")))
        .filter(programme_schools::from_date.le(to))
        .filter(programme_schools::to_date.is_null().or(programme_schools::to_date.ge(from)))
        .select(Org::as_select())
        .distinct()
        .order(orgs::code.asc())
        .load(conn)?)
}

/// The member schools in the caller's scope.
pub fn members(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<MemberRow>> {
    caller.require(conn, Permission::ViewOrgs, "programme_members")?;
    type Row = (i64, String, String, bool, NaiveDate, Option<NaiveDate>, bool, String);
    let rows: Vec<Row> = programme_schools::table
        .inner_join(orgs::table)
        .inner_join(schools::table.on(schools::org_id.eq(programme_schools::school_id)))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((
            programme_schools::id,
            orgs::code,
            orgs::name,
            schools::in_county_seat,
            programme_schools::from_date,
            programme_schools::to_date,
            programme_schools::seat_included,
            programme_schools::note,
        ))
        .order((orgs::code.asc(), programme_schools::from_date.asc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, school_code, school_name, in_county_seat, from_date, to_date, seat_included, note)| MemberRow {
            id,
            school_code,
            school_name,
            in_county_seat,
            from_date,
            to_date,
            seat_included,
            note,
        })
        .collect())
}

// ------------------------------------------------------------------------------ suppliers

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SupplierRow {
    pub id: i64,
    pub org_code: String,
    pub name: String,
    pub credit_code: String,
    pub contact: String,
    pub phone: String,
}

pub fn add_supplier(
    conn: &mut DbConn,
    caller: &Caller,
    name: &str,
    credit_code: &str,
    contact: &str,
    phone: &str,
) -> AppResult<i64> {
    let org = county_org(conn, caller, "add_supplier")?;
    let name = crate::domain::text::required("供餐企业名称", name, 60)
        .map_err(|m| AppError::field("name", ErrorCode::SupplierName, m))?;
    let credit_code = credit_code.trim().to_uppercase();
    if !(credit_code.len() == 18 && credit_code.chars().all(|c| c.is_ascii_alphanumeric())) {
        return Err(AppError::field(
            "credit_code",
            ErrorCode::SupplierCreditCode,
            "统一社会信用代码应为18位数字或大写字母",
        ));
    }
    write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(suppliers::table)
            .values((
                suppliers::org_id.eq(org.id),
                suppliers::name.eq(&name),
                suppliers::credit_code.eq(&credit_code),
                suppliers::contact.eq(contact.trim()),
                suppliers::phone.eq(phone.trim()),
                suppliers::set_by.eq(&caller.username),
                suppliers::set_at.eq(caller.now()),
            ))
            .returning(suppliers::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("programme.supplier", "supplier", id)
                .after(&serde_json::json!({"name": name, "credit_code": credit_code})),
        )?;
        Ok(id)
    })
}

/// Suppliers of the counties on the caller's path and in its subtree.
pub fn suppliers(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<SupplierRow>> {
    let near = ancestor_paths(caller.org_path());
    let rows: Vec<(i64, String, String, String, String, String)> = suppliers::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()).or(orgs::path.eq_any(near)))
        .select((
            suppliers::id,
            orgs::code,
            suppliers::name,
            suppliers::credit_code,
            suppliers::contact,
            suppliers::phone,
        ))
        .order(suppliers::name.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, org_code, name, credit_code, contact, phone)| SupplierRow {
            id,
            org_code,
            name,
            credit_code,
            contact,
            phone,
        })
        .collect())
}

// ------------------------------------------------------------------------------ meal models

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ModelRow {
    pub id: i64,
    pub model: &'static str,
    pub label: &'static str,
    pub from_date: NaiveDate,
    pub to_date: Option<NaiveDate>,
    pub supplier: String,
    /// Empty: every class no other model names.
    pub class_names: Vec<String>,
}

pub struct ModelInput {
    pub model: MealModel,
    pub period: Period,
    pub supplier_id: Option<i64>,
    pub class_ids: Vec<i64>,
}

/// Adds a meal model to a school. Enterprise supply names one of the county's suppliers. Models
/// in force at the same time (混合) must feed different classes, and only one may feed "the rest".
pub fn add_model(conn: &mut DbConn, caller: &Caller, school_code: &str, input: ModelInput) -> AppResult<i64> {
    let school = school_org(conn, caller, school_code, "add_meal_model")?;
    if input.model.needs_supplier() && input.supplier_id.is_none() {
        return Err(AppError::field("supplier_id", ErrorCode::MealModelNoSupplier, "企业(单位)供餐须选择供餐企业"));
    }
    // The supplier must be one of the school's county (or an org above it).
    if let Some(sid) = input.supplier_id {
        let owner: Option<String> = suppliers::table
            .inner_join(orgs::table)
            .filter(suppliers::id.eq(sid))
            .select(orgs::path)
            .first(conn)
            .optional()?;
        if !owner.is_some_and(|p| ancestor_paths(&school.path).contains(&p)) {
            return Err(AppError::field("supplier_id", ErrorCode::MealModelSupplierUnknown, "所选供餐企业不属于本县"));
        }
    }
    let class_ids: BTreeSet<i64> = input.class_ids.iter().copied().collect();
    let known: Vec<i64> = classes::table
        .filter(classes::school_id.eq(school.id))
        .filter(classes::id.eq_any(class_ids.iter().copied().collect::<Vec<_>>()))
        .select(classes::id)
        .load(conn)?;
    if known.len() != class_ids.len() {
        return Err(AppError::field("class_ids", ErrorCode::MealModelClassUnknown, "所选班级不属于该学校"));
    }
    write_tx(conn, |conn| {
        let existing: Vec<(NaiveDate, Option<NaiveDate>, String, String)> = meal_models::table
            .filter(meal_models::school_id.eq(school.id))
            .select((meal_models::from_date, meal_models::to_date, meal_models::class_ids, meal_models::model))
            .load(conn)?;
        for (from, to, ids, model) in existing {
            let other = Period { from, to };
            if !other.overlaps(&input.period) {
                continue;
            }
            let theirs = parse_ids(&ids);
            let label = MealModel::parse(&model).map(|m| m.label()).unwrap_or("");
            if theirs.is_empty() && class_ids.is_empty() {
                return Err(AppError::field(
                    "class_ids",
                    ErrorCode::MealModelOverlap,
                    format!(
                        "{}已有{label}（{}）供全校其余班级；混合供餐时请为新模式选择它所供的班级",
                        school.name,
                        other.label()
                    ),
                ));
            }
            if theirs.intersection(&class_ids).next().is_some() {
                return Err(AppError::field(
                    "class_ids",
                    ErrorCode::MealModelOverlap,
                    format!("所选班级在{}已由{label}供餐，同一班级同一时间只能有一种供餐模式", other.label()),
                ));
            }
        }
        let ids_text = class_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let id: i64 = diesel::insert_into(meal_models::table)
            .values((
                meal_models::school_id.eq(school.id),
                meal_models::model.eq(input.model.as_str()),
                meal_models::from_date.eq(input.period.from),
                meal_models::to_date.eq(input.period.to),
                meal_models::supplier_id.eq(input.supplier_id),
                meal_models::class_ids.eq(&ids_text),
                meal_models::set_by.eq(&caller.username),
                meal_models::set_at.eq(caller.now()),
            ))
            .returning(meal_models::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("programme.meal_model", "school", &school.code).after(&serde_json::json!({
                "id": id, "model": input.model.as_str(), "from": input.period.from, "to": input.period.to,
                "supplier_id": input.supplier_id, "classes": ids_text,
            })),
        )?;
        Ok(id)
    })
}

fn parse_ids(text: &str) -> BTreeSet<i64> {
    text.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

pub fn models(conn: &mut DbConn, caller: &Caller, school_code: &str) -> AppResult<Vec<ModelRow>> {
    caller.require(conn, Permission::ViewOrgs, "list_meal_models")?;
    let school = org_in_scope(conn, caller.scope(), school_code)?;
    type Row = (i64, String, NaiveDate, Option<NaiveDate>, Option<String>, String);
    let rows: Vec<Row> = meal_models::table
        .left_join(suppliers::table.on(suppliers::id.nullable().eq(meal_models::supplier_id)))
        .filter(meal_models::school_id.eq(school.id))
        .select((
            meal_models::id,
            meal_models::model,
            meal_models::from_date,
            meal_models::to_date,
            suppliers::name.nullable(),
            meal_models::class_ids,
        ))
        .order(meal_models::from_date.asc())
        .load(conn)?;
    let names: BTreeMap<i64, String> = classes::table
        .filter(classes::school_id.eq(school.id))
        .select((classes::id, classes::name))
        .load(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|(id, model, from_date, to_date, supplier, ids)| {
            let m = MealModel::parse(&model)?;
            Some(ModelRow {
                id,
                model: m.as_str(),
                label: m.label(),
                from_date,
                to_date,
                supplier: supplier.unwrap_or_default(),
                class_names: parse_ids(&ids).iter().filter_map(|i| names.get(i).cloned()).collect(),
            })
        })
        .collect())
}

/// Which model feeds each class of a school on a day: a class named by a model in force gets
/// it; the others get the model in force that names no class. Unscoped: callers check the school.
pub struct ModelsOnDay {
    named: BTreeMap<i64, MealModel>,
    rest: Option<MealModel>,
}

impl ModelsOnDay {
    pub fn load(conn: &mut DbConn, school_id: i64, day: NaiveDate) -> AppResult<Self> {
        let rows: Vec<(String, String)> = meal_models::table
            .filter(meal_models::school_id.eq(school_id))
            .filter(meal_models::from_date.le(day))
            .filter(meal_models::to_date.is_null().or(meal_models::to_date.ge(day)))
            .select((meal_models::model, meal_models::class_ids))
            .load(conn)?;
        let mut out = Self { named: BTreeMap::new(), rest: None };
        for (model, ids) in rows {
            let Some(m) = MealModel::parse(&model) else { continue };
            let ids = parse_ids(&ids);
            if ids.is_empty() {
                out.rest = Some(m);
            }
            out.named.extend(ids.into_iter().map(|i| (i, m)));
        }
        Ok(out)
    }

    /// Every model in force that day, once each.
    pub fn all(&self) -> Vec<MealModel> {
        let mut out = Vec::new();
        for m in self.rest.into_iter().chain(self.named.values().copied()) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }

    pub fn of_class(&self, class_id: Option<i64>) -> Option<MealModel> {
        class_id.and_then(|c| self.named.get(&c).copied()).or(self.rest)
    }
}
