//! Operations on the org tree and schools (their campuses, teachers and classes are in
//! `teaching`). Every query is bounded by the caller's scope; an object outside it reads as "not found".

mod teaching;

use diesel::prelude::*;
use serde::Serialize;

use super::model::*;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Scope};
use crate::db::at_rest::{self, PrincipalMobile, PrincipalPhone};
use crate::db::schema::{classes, orgs, schools, teachers, users};
use crate::db::{DbConn, write_tx};
use crate::domain::codes::CodeTable;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::school_code::SchoolCode;
use crate::domain::text;
use crate::error::{AppError, AppResult, ErrorCode, FieldError};

pub use teaching::{
    add_campus, create_class, create_teacher, delete_class, delete_teacher, get_class, get_teacher, list_campuses,
    list_classes, list_teachers, update_class, update_teacher,
};

/// An org by code, if it lies in the scope.
pub fn org_in_scope(conn: &mut DbConn, scope: &Scope, code: &str) -> AppResult<Org> {
    orgs::table
        .filter(orgs::code.eq(code.trim()))
        .filter(orgs::path.like(scope.like_pattern()))
        .select(Org::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

fn school_org(conn: &mut DbConn, scope: &Scope, code: &str) -> AppResult<Org> {
    let org = org_in_scope(conn, scope, code)?;
    if org.kind != OrgKind::School {
        return Err(AppError::not_found());
    }
    Ok(org)
}

// ---------------------------------------------------------------- tree

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OrgChild {
    pub org: Org,
    pub kind_label: &'static str,
    pub schools: i64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OrgPage {
    pub org: Org,
    pub kind_label: &'static str,
    /// From the caller's own org down to the parent of `org`.
    pub ancestors: Vec<Org>,
    pub children: Vec<OrgChild>,
}

/// An org with its children and the number of schools under each child.
pub fn org_page(conn: &mut DbConn, caller: &Caller, code: Option<&str>) -> AppResult<OrgPage> {
    caller.require(conn, Permission::ViewOrgs, "org_tree")?;
    let code = code.unwrap_or(&caller.org_code).to_owned();
    let org = org_in_scope(conn, caller.scope(), &code)?;
    let ancestor_codes: Vec<String> =
        org.path.trim_matches('/').split('/').map(str::to_owned).filter(|c| *c != org.code).collect();
    let mut ancestors: Vec<Org> = orgs::table
        .filter(orgs::code.eq_any(&ancestor_codes))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select(Org::as_select())
        .load(conn)?;
    ancestors.sort_by_key(|o| o.path.len());
    let children: Vec<Org> = orgs::table
        .filter(orgs::parent_id.eq(org.id))
        .select(Org::as_select())
        .order((orgs::kind.desc(), orgs::code.asc()))
        .load(conn)?;
    let mut out = Vec::with_capacity(children.len());
    for child in children {
        let schools: i64 = orgs::table
            .filter(orgs::kind.eq(OrgKind::School.as_str()))
            .filter(orgs::path.like(format!("{}%", child.path)))
            .count()
            .get_result(conn)?;
        out.push(OrgChild { kind_label: child.kind_label(), org: child, schools });
    }
    Ok(OrgPage { kind_label: org.kind_label(), org, ancestors, children: out })
}

/// Adding a township: someone who creates schools, under a county (or a prefecture-level city
/// without counties) in scope. The org's page offers the form on this rule.
pub fn may_add_township(caller: &Caller, parent: &Org) -> AppResult<()> {
    if !caller.may(Permission::CreateSchools) {
        return Err(AppError::forbidden());
    }
    if parent.kind != OrgKind::County && parent.kind != OrgKind::Prefecture {
        return Err(AppError::fields(vec![fe(
            "parent_code",
            ErrorCode::OrgBadParent,
            "乡镇只能设在县级（或不设县的地级市）单位之下",
        )]));
    }
    Ok(())
}

/// Adds a township (乡镇) under a county; its code is the county code plus three digits.
pub fn create_township(
    conn: &mut DbConn,
    caller: &Caller,
    parent_code: &str,
    code: &str,
    name: &str,
) -> AppResult<Org> {
    caller.require(conn, Permission::CreateSchools, "create_township")?;
    let parent = org_in_scope(conn, caller.scope(), parent_code)
        .map_err(|_| AppError::field("parent_code", ErrorCode::OrgBadParent, "上级单位不存在或不在您的管辖范围内"))?;
    let mut errors = Vec::new();
    if let Err(e) = may_add_township(caller, &parent) {
        errors.extend(e.fields);
    }
    let code = code.trim();
    if code.len() != 9 || !code.bytes().all(|b| b.is_ascii_digit()) || !code.starts_with(&parent.code) {
        errors.push(fe("code", ErrorCode::OrgBadCode, &format!("乡镇代码应为9位数字，以上级代码{}开头", parent.code)));
    }
    let name = text::required("乡镇名称", name, 50).map_err(|m| fe("name", ErrorCode::OrgBadName, &m));
    let name = match name {
        Ok(n) => n,
        Err(e) => {
            errors.push(e);
            String::new()
        }
    };
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }
    write_tx(conn, |conn| {
        let org = insert_org(conn, caller, code, &name, OrgKind::Township, &parent)?;
        audit::record(conn, &caller.actor(), Entry::new("org.create", "org", &org.code).after(&org))?;
        Ok(org)
    })
}

fn insert_org(
    conn: &mut DbConn,
    caller: &Caller,
    code: &str,
    name: &str,
    kind: OrgKind,
    parent: &Org,
) -> AppResult<Org> {
    let exists: i64 = orgs::table.filter(orgs::code.eq(code)).count().get_result(conn)?;
    if exists > 0 {
        return Err(AppError::field("code", ErrorCode::OrgDuplicate, format!("代码“{code}”已被其他单位使用")));
    }
    let id: i64 = diesel::insert_into(orgs::table)
        .values((
            orgs::code.eq(code),
            orgs::name.eq(name),
            orgs::kind.eq(kind.as_str()),
            orgs::parent_id.eq(parent.id),
            orgs::path.eq(format!("{}{code}/", parent.path)),
            orgs::created_at.eq(caller.now()),
        ))
        .returning(orgs::id)
        .get_result(conn)?;
    Ok(orgs::table.find(id).select(Org::as_select()).first(conn)?)
}

fn fe(field: &str, code: ErrorCode, message: &str) -> FieldError {
    FieldError { field: field.to_owned(), code, message: message.to_owned() }
}

// ---------------------------------------------------------------- schools

#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct SchoolFilter {
    #[serde(default)]
    pub q: String,
    /// Only schools under this org (code).
    #[serde(default)]
    pub under: String,
    #[serde(default)]
    pub page: Option<i64>,
}

pub const PAGE_SIZE: i64 = 50;

/// Schools in scope, by code; with the total for paging.
pub fn list_schools(conn: &mut DbConn, caller: &Caller, f: &SchoolFilter) -> AppResult<(Vec<SchoolListItem>, i64)> {
    caller.require(conn, Permission::ViewOrgs, "list_schools")?;
    let base = if f.under.trim().is_empty() {
        caller.scope().like_pattern()
    } else {
        format!("{}%", org_in_scope(conn, caller.scope(), &f.under)?.path)
    };
    let term = crate::audit::service::escape_like(f.q.trim());
    let filtered = || {
        let mut q = orgs::table
            .inner_join(schools::table)
            .filter(orgs::kind.eq(OrgKind::School.as_str()))
            .filter(orgs::path.like(base.clone()))
            .into_boxed();
        if !term.is_empty() {
            let pat = format!("%{term}%");
            q = q.filter(orgs::name.like(pat.clone()).or(orgs::code.like(pat)));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let page = f.page.unwrap_or(1).max(1);
    let rows: Vec<(Org, SchoolRow)> = filtered()
        .select((Org::as_select(), SchoolRow::as_select()))
        .order(orgs::code.asc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
        .load(conn)?;
    let parent_ids: Vec<i64> = rows.iter().filter_map(|(o, _)| o.parent_id).collect();
    let parents: Vec<(i64, String)> =
        orgs::table.filter(orgs::id.eq_any(&parent_ids)).select((orgs::id, orgs::name)).load(conn)?;
    let school_ids: Vec<i64> = rows.iter().map(|(o, _)| o.id).collect();
    let class_counts: Vec<(i64, i64)> = classes::table
        .filter(classes::school_id.eq_any(&school_ids))
        .group_by(classes::school_id)
        .select((classes::school_id, diesel::dsl::count_star()))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(o, s)| SchoolListItem {
            parent_name: parents
                .iter()
                .find(|(id, _)| Some(*id) == o.parent_id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
            school_type_label: CodeTable::SchoolType.label(&s.school_type).unwrap_or(&s.school_type).to_owned(),
            urban_rural_label: CodeTable::UrbanRural.label(&s.urban_rural).unwrap_or(&s.urban_rural).to_owned(),
            principal_name: s.principal_name,
            classes: class_counts.iter().find(|(id, _)| *id == o.id).map(|(_, n)| *n).unwrap_or(0),
            code: o.code,
            name: o.name,
        })
        .collect();
    Ok((items, total))
}

/// The schools in the caller's scope as (code, name), by code, for a picker; none when there are
/// more than `at_most` (a province's thousands are typed by code instead). School names are
/// public (the notice), so only the scope limits it.
pub fn school_choices(conn: &mut DbConn, caller: &Caller, at_most: i64) -> AppResult<Option<Vec<(String, String)>>> {
    let rows: Vec<(String, String)> = orgs::table
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .order(orgs::code.asc())
        .select((orgs::code, orgs::name))
        .limit(at_most + 1)
        .load(conn)?;
    Ok((i64::try_from(rows.len()).unwrap_or(i64::MAX) <= at_most).then_some(rows))
}

pub fn get_school(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<School> {
    caller.require(conn, Permission::ViewOrgs, "get_school")?;
    let org = school_org(conn, caller.scope(), code)?;
    load_school(conn, org)
}

fn load_school(conn: &mut DbConn, org: Org) -> AppResult<School> {
    let row = schools::table.find(org.id).select(SchoolRow::as_select()).first(conn)?;
    let parent_id = org.parent_id.ok_or_else(AppError::not_found)?;
    let parent = orgs::table.find(parent_id).select(Org::as_select()).first(conn)?;
    Ok(School::new(&org, &parent, row))
}

/// A school form, checked field by field.
struct ValidSchool {
    name: String,
    sponsor_type: String,
    urban_rural: String,
    school_type: String,
    in_county_seat: bool,
    address: String,
    postcode: String,
    phone: String,
    fax: String,
    email: String,
    homepage: String,
    principal_name: String,
    principal_phone: String,
    principal_mobile: String,
}

fn parse_school(input: &SchoolInput) -> Result<ValidSchool, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut take = |field: &str, code: ErrorCode, r: Result<String, String>| match r {
        Ok(v) => v,
        Err(m) => {
            errors.push(fe(field, code, &m));
            String::new()
        }
    };
    let coded = |t: CodeTable, v: &str| {
        t.parse(v).map(str::to_owned).ok_or_else(|| format!("{}“{}”不在代码表中", t.title(), v.trim()))
    };
    let email = input.email.trim().to_owned();
    let email_ok =
        email.is_empty() || (email.contains('@') && !email.contains(char::is_whitespace) && email.len() <= 100);
    let v = ValidSchool {
        name: take("name", ErrorCode::SchoolBadName, text::required("学校名称", &input.name, 60)),
        sponsor_type: take(
            "sponsor_type",
            ErrorCode::SchoolBadCode,
            coded(CodeTable::SponsorType, &input.sponsor_type),
        ),
        urban_rural: take("urban_rural", ErrorCode::SchoolBadCode, coded(CodeTable::UrbanRural, &input.urban_rural)),
        school_type: take("school_type", ErrorCode::SchoolBadCode, coded(CodeTable::SchoolType, &input.school_type)),
        in_county_seat: matches!(input.in_county_seat.as_deref().map(str::trim), Some("1" | "true" | "on" | "是")),
        address: take("address", ErrorCode::SchoolBadText, text::optional("地址", &input.address, 100)),
        postcode: take("postcode", ErrorCode::SchoolBadPostcode, text::digits("邮编", &input.postcode, 6, 6)),
        phone: take("phone", ErrorCode::SchoolBadPhone, text::digits("电话", &input.phone, 7, 12)),
        fax: take("fax", ErrorCode::SchoolBadPhone, text::digits("传真", &input.fax, 7, 12)),
        email: take(
            "email",
            ErrorCode::SchoolBadEmail,
            if email_ok { Ok(email) } else { Err("电子邮箱格式不正确".into()) },
        ),
        homepage: take("homepage", ErrorCode::SchoolBadText, text::optional("主页", &input.homepage, 100)),
        principal_name: take(
            "principal_name",
            ErrorCode::SchoolBadText,
            text::optional("校长姓名", &input.principal_name, 30),
        ),
        principal_phone: take(
            "principal_phone",
            ErrorCode::SchoolBadPhone,
            text::digits("校长固定电话", &input.principal_phone, 7, 12),
        ),
        principal_mobile: take(
            "principal_mobile",
            ErrorCode::SchoolBadPhone,
            text::digits("校长手机", &input.principal_mobile, 11, 11),
        ),
    };
    if errors.is_empty() { Ok(v) } else { Err(errors) }
}

/// Parents a school may hang under: a county, a township, or a prefecture that has no counties
/// (东莞, 中山, 儋州, 嘉峪关).
fn check_school_parent(conn: &mut DbConn, parent: &Org) -> AppResult<()> {
    let ok = match parent.kind {
        OrgKind::County | OrgKind::Township => true,
        OrgKind::Prefecture => {
            let counties: i64 = orgs::table
                .filter(orgs::parent_id.eq(parent.id))
                .filter(orgs::kind.eq(OrgKind::County.as_str()))
                .count()
                .get_result(conn)?;
            counties == 0
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(AppError::field("parent_code", ErrorCode::SchoolBadParent, "学校应设在县级、乡镇或不设县的地级市之下"))
    }
}

fn province_of(path: &str) -> &str {
    path.trim_matches('/').split('/').nth(1).map(|p| &p[..2.min(p.len())]).unwrap_or("")
}

pub fn create_school(conn: &mut DbConn, caller: &Caller, input: &SchoolInput) -> AppResult<School> {
    caller.require(conn, Permission::CreateSchools, "create_school")?;
    let mut errors = Vec::new();
    let code = SchoolCode::parse(&input.code).map_err(|m| errors.push(fe("code", ErrorCode::SchoolBadCode, &m))).ok();
    let parent = org_in_scope(conn, caller.scope(), &input.parent_code)
        .map_err(|_| errors.push(fe("parent_code", ErrorCode::SchoolBadParent, "上级单位不存在或不在您的管辖范围内")))
        .ok();
    let valid = parse_school(input).map_err(|e| errors.extend(e)).ok();
    let (Some(code), Some(parent), Some(v)) = (code, parent, valid) else {
        return Err(AppError::fields(errors));
    };
    check_school_parent(conn, &parent)?;
    if code.province_prefix() != province_of(&parent.path) {
        return Err(AppError::field(
            "code",
            ErrorCode::SchoolProvinceMismatch,
            format!("学校标识码第3–4位“{}”与所属省份代码“{}”不一致", code.province_prefix(), province_of(&parent.path)),
        ));
    }
    write_tx(conn, |conn| {
        let org = insert_org(conn, caller, code.as_str(), &v.name, OrgKind::School, &parent)?;
        let t = caller.now();
        diesel::insert_into(schools::table)
            .values((
                schools::org_id.eq(org.id),
                schools::sponsor_type.eq(&v.sponsor_type),
                schools::urban_rural.eq(&v.urban_rural),
                schools::school_type.eq(&v.school_type),
                schools::in_county_seat.eq(v.in_county_seat),
                schools::address.eq(&v.address),
                schools::postcode.eq(&v.postcode),
                schools::phone.eq(&v.phone),
                schools::fax.eq(&v.fax),
                schools::email.eq(&v.email),
                schools::homepage.eq(&v.homepage),
                schools::principal_name.eq(&v.principal_name),
                schools::principal_phone_sealed.eq(at_rest::seal::<PrincipalPhone>(&v.principal_phone)?),
                schools::principal_mobile_sealed.eq(at_rest::seal::<PrincipalMobile>(&v.principal_mobile)?),
                schools::updated_at.eq(t),
            ))
            .execute(conn)?;
        let school = load_school(conn, org)?;
        audit::record(conn, &caller.actor(), Entry::new("school.create", "school", &school.code).after(&school))?;
        Ok(school)
    })
}

pub fn update_school(conn: &mut DbConn, caller: &Caller, code: &str, input: &SchoolInput) -> AppResult<School> {
    let before = get_school(conn, caller, code)?;
    caller.require(conn, Permission::EditSchool, "update_school")?;
    let v = parse_school(input).map_err(AppError::fields)?;
    write_tx(conn, |conn| {
        diesel::update(orgs::table.find(before.row.org_id)).set(orgs::name.eq(&v.name)).execute(conn)?;
        diesel::update(schools::table.find(before.row.org_id))
            .set((
                schools::sponsor_type.eq(&v.sponsor_type),
                schools::urban_rural.eq(&v.urban_rural),
                schools::school_type.eq(&v.school_type),
                schools::in_county_seat.eq(v.in_county_seat),
                schools::address.eq(&v.address),
                schools::postcode.eq(&v.postcode),
                schools::phone.eq(&v.phone),
                schools::fax.eq(&v.fax),
                schools::email.eq(&v.email),
                schools::homepage.eq(&v.homepage),
                schools::principal_name.eq(&v.principal_name),
                schools::principal_phone_sealed.eq(at_rest::seal::<PrincipalPhone>(&v.principal_phone)?),
                schools::principal_mobile_sealed.eq(at_rest::seal::<PrincipalMobile>(&v.principal_mobile)?),
                schools::updated_at.eq(caller.now()),
            ))
            .execute(conn)?;
        let org = orgs::table.find(before.row.org_id).select(Org::as_select()).first(conn)?;
        let after = load_school(conn, org)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("school.update", "school", &after.code).before(&before).after(&after),
        )?;
        Ok(after)
    })
}

// ---------------------------------------------------------------- dashboard

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScopeCounts {
    pub schools: i64,
    pub classes: i64,
    pub teachers: i64,
    pub users: i64,
}

pub fn scope_counts(conn: &mut DbConn, caller: &Caller) -> AppResult<ScopeCounts> {
    let pat = caller.scope().like_pattern();
    Ok(ScopeCounts {
        schools: orgs::table
            .filter(orgs::kind.eq(OrgKind::School.as_str()))
            .filter(orgs::path.like(pat.clone()))
            .count()
            .get_result(conn)?,
        classes: classes::table
            .inner_join(orgs::table)
            .filter(orgs::path.like(pat.clone()))
            .count()
            .get_result(conn)?,
        teachers: teachers::table
            .inner_join(orgs::table)
            .filter(orgs::path.like(pat.clone()))
            .count()
            .get_result(conn)?,
        users: users::table.inner_join(orgs::table).filter(orgs::path.like(pat)).count().get_result(conn)?,
    })
}
