//! A school's campuses (校区), teachers and classes: where the registry places its children.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::at_rest::{self, StaffPhone};
use crate::db::schema::{campuses, classes, orgs, teachers};
use crate::db::{DbConn, write_tx};
use crate::domain::codes::{self};
use crate::domain::role::Permission;
use crate::domain::text;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::*;

use super::{fe, school_org};

pub fn list_campuses(conn: &mut DbConn, caller: &Caller, school_code: &str) -> AppResult<Vec<Campus>> {
    let org = school_org(conn, caller.scope(), school_code)?;
    Ok(campuses::table
        .filter(campuses::school_id.eq(org.id))
        .select(Campus::as_select())
        .order(campuses::campus_no.asc())
        .load(conn)?)
}

pub fn add_campus(conn: &mut DbConn, caller: &Caller, school_code: &str, input: &CampusInput) -> AppResult<Campus> {
    let org = school_org(conn, caller.scope(), school_code)?;
    caller.require(conn, Permission::EditSchool, "add_campus")?;
    let mut errors = Vec::new();
    let no = input.campus_no.trim().to_owned();
    if no.is_empty() || no.len() > 10 || !no.bytes().all(|b| b.is_ascii_alphanumeric()) {
        errors.push(fe("campus_no", ErrorCode::CampusBadNo, "校区号应为1–10位字母或数字"));
    }
    let name = text::required("校区名称", &input.name, 60)
        .map_err(|m| errors.push(fe("name", ErrorCode::CampusBadName, &m)))
        .ok();
    let address = text::optional("地址", &input.address, 100)
        .map_err(|m| errors.push(fe("address", ErrorCode::CampusBadText, &m)))
        .ok();
    let (Some(name), Some(address), true) = (name, address, errors.is_empty()) else {
        return Err(AppError::fields(errors));
    };
    write_tx(conn, |conn| {
        let dup: i64 = campuses::table
            .filter(campuses::school_id.eq(org.id))
            .filter(campuses::campus_no.eq(&no))
            .count()
            .get_result(conn)?;
        if dup > 0 {
            return Err(AppError::field("campus_no", ErrorCode::CampusDuplicate, format!("校区号“{no}”已存在")));
        }
        let id: i64 = diesel::insert_into(campuses::table)
            .values((
                campuses::school_id.eq(org.id),
                campuses::campus_no.eq(&no),
                campuses::name.eq(&name),
                campuses::address.eq(&address),
            ))
            .returning(campuses::id)
            .get_result(conn)?;
        let c = campuses::table.find(id).select(Campus::as_select()).first(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("campus.create", "campus", id).after(&c))?;
        Ok(c)
    })
}

pub fn list_teachers(conn: &mut DbConn, caller: &Caller, school_code: &str) -> AppResult<Vec<Teacher>> {
    caller.require(conn, Permission::ViewOrgs, "list_teachers")?;
    let org = school_org(conn, caller.scope(), school_code)?;
    Ok(teachers::table
        .filter(teachers::school_id.eq(org.id))
        .select(Teacher::as_select())
        .order(teachers::staff_no.asc())
        .load(conn)?)
}

pub fn get_teacher(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(Teacher, String)> {
    caller.require(conn, Permission::ViewOrgs, "get_teacher")?;
    teachers::table
        .inner_join(orgs::table)
        .filter(teachers::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((Teacher::as_select(), orgs::code))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

struct ValidTeacher {
    staff_no: String,
    name: String,
    sex: String,
    phone: String,
    subject: String,
}

fn parse_teacher(input: &TeacherInput) -> AppResult<ValidTeacher> {
    let mut errors = Vec::new();
    let staff_no = input.staff_no.trim().to_owned();
    if staff_no.is_empty() || staff_no.len() > 20 || !staff_no.bytes().all(|b| b.is_ascii_alphanumeric()) {
        errors.push(fe("staff_no", ErrorCode::TeacherBadStaffNo, "工号应为1–20位字母或数字"));
    }
    let name = text::required("教师姓名", &input.name, 30)
        .map_err(|m| errors.push(fe("name", ErrorCode::TeacherBadName, &m)))
        .ok();
    let sex = codes::parse_sex(&input.sex)
        .ok_or_else(|| errors.push(fe("sex", ErrorCode::TeacherBadSex, "性别应为“男”或“女”")))
        .ok();
    let phone = text::digits("联系电话", &input.phone, 7, 12)
        .map_err(|m| errors.push(fe("phone", ErrorCode::TeacherBadPhone, &m)))
        .ok();
    let subject = text::optional("任教学科", &input.subject, 30)
        .map_err(|m| errors.push(fe("subject", ErrorCode::TeacherBadText, &m)))
        .ok();
    match (name, sex, phone, subject, errors.is_empty()) {
        (Some(name), Some(sex), Some(phone), Some(subject), true) => {
            Ok(ValidTeacher { staff_no, name, sex: sex.to_owned(), phone, subject })
        }
        _ => Err(AppError::fields(errors)),
    }
}

pub fn create_teacher(
    conn: &mut DbConn,
    caller: &Caller,
    school_code: &str,
    input: &TeacherInput,
) -> AppResult<Teacher> {
    let org = school_org(conn, caller.scope(), school_code)?;
    caller.require(conn, Permission::EditClasses, "create_teacher")?;
    let v = parse_teacher(input)?;
    write_tx(conn, |conn| {
        ensure_unique_staff_no(conn, org.id, &v.staff_no, None)?;
        let id: i64 = diesel::insert_into(teachers::table)
            .values((
                teachers::school_id.eq(org.id),
                teachers::staff_no.eq(&v.staff_no),
                teachers::name.eq(&v.name),
                teachers::sex.eq(&v.sex),
                teachers::phone_sealed.eq(at_rest::seal::<StaffPhone>(&v.phone)?),
                teachers::subject.eq(&v.subject),
                teachers::active.eq(true),
                teachers::updated_at.eq(caller.now()),
            ))
            .returning(teachers::id)
            .get_result(conn)?;
        let t = teachers::table.find(id).select(Teacher::as_select()).first(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("teacher.create", "teacher", id).after(&t))?;
        Ok(t)
    })
}

fn ensure_unique_staff_no(conn: &mut DbConn, school_id: i64, staff_no: &str, except: Option<i64>) -> AppResult<()> {
    let mut q =
        teachers::table.filter(teachers::school_id.eq(school_id)).filter(teachers::staff_no.eq(staff_no)).into_boxed();
    if let Some(id) = except {
        q = q.filter(teachers::id.ne(id));
    }
    let n: i64 = q.count().get_result(conn)?;
    if n > 0 {
        return Err(AppError::field("staff_no", ErrorCode::TeacherDuplicate, format!("工号“{staff_no}”在本校已存在")));
    }
    Ok(())
}

pub fn update_teacher(conn: &mut DbConn, caller: &Caller, id: i64, input: &TeacherInput) -> AppResult<Teacher> {
    let (before, _) = get_teacher(conn, caller, id)?;
    caller.require(conn, Permission::EditClasses, "update_teacher")?;
    let v = parse_teacher(input)?;
    write_tx(conn, |conn| {
        ensure_unique_staff_no(conn, before.school_id, &v.staff_no, Some(id))?;
        diesel::update(teachers::table.find(id))
            .set((
                teachers::staff_no.eq(&v.staff_no),
                teachers::name.eq(&v.name),
                teachers::sex.eq(&v.sex),
                teachers::phone_sealed.eq(at_rest::seal::<StaffPhone>(&v.phone)?),
                teachers::subject.eq(&v.subject),
                teachers::updated_at.eq(caller.now()),
            ))
            .execute(conn)?;
        let after = teachers::table.find(id).select(Teacher::as_select()).first(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("teacher.update", "teacher", id).before(&before).after(&after),
        )?;
        Ok(after)
    })
}

pub fn delete_teacher(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<()> {
    let (before, _) = get_teacher(conn, caller, id)?;
    caller.require(conn, Permission::EditClasses, "delete_teacher")?;
    write_tx(conn, |conn| {
        let heads: i64 = classes::table.filter(classes::head_teacher_id.eq(id)).count().get_result(conn)?;
        if heads > 0 {
            return Err(AppError::conflict(
                ErrorCode::TeacherInUse,
                format!("{}仍是{heads}个班级的班主任，请先更换班主任", before.name),
            ));
        }
        diesel::delete(teachers::table.find(id)).execute(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("teacher.delete", "teacher", id).before(&before))
    })
}

fn class_views(conn: &mut DbConn, rows: Vec<(Class, String, String)>) -> AppResult<Vec<ClassView>> {
    let teacher_ids: Vec<i64> = rows.iter().filter_map(|(c, _, _)| c.head_teacher_id).collect();
    let names: Vec<(i64, String)> =
        teachers::table.filter(teachers::id.eq_any(&teacher_ids)).select((teachers::id, teachers::name)).load(conn)?;
    let campus_ids: Vec<i64> = rows.iter().filter_map(|(c, _, _)| c.campus_id).collect();
    let campus_names: Vec<(i64, String)> =
        campuses::table.filter(campuses::id.eq_any(&campus_ids)).select((campuses::id, campuses::name)).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(class, school_code, school_name)| ClassView {
            grade_name: codes::grade_name(class.grade).to_owned(),
            head_teacher_name: names.iter().find(|(id, _)| Some(*id) == class.head_teacher_id).map(|(_, n)| n.clone()),
            campus_name: campus_names.iter().find(|(id, _)| Some(*id) == class.campus_id).map(|(_, n)| n.clone()),
            class,
            school_code,
            school_name,
        })
        .collect())
}

pub fn list_classes(conn: &mut DbConn, caller: &Caller, school_code: &str) -> AppResult<Vec<ClassView>> {
    caller.require(conn, Permission::ViewOrgs, "list_classes")?;
    let org = school_org(conn, caller.scope(), school_code)?;
    let rows: Vec<(Class, String, String)> = classes::table
        .inner_join(orgs::table)
        .filter(classes::school_id.eq(org.id))
        .select((Class::as_select(), orgs::code, orgs::name))
        .order((classes::grade.asc(), classes::class_no.asc()))
        .load(conn)?;
    class_views(conn, rows)
}

pub fn get_class(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<ClassView> {
    caller.require(conn, Permission::ViewOrgs, "get_class")?;
    let row: (Class, String, String) = classes::table
        .inner_join(orgs::table)
        .filter(classes::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((Class::as_select(), orgs::code, orgs::name))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    class_views(conn, vec![row])?.into_iter().next().ok_or_else(AppError::not_found)
}

struct ValidClass {
    class_no: String,
    name: String,
    grade: i32,
    entry_year: i32,
    head_teacher_id: Option<i64>,
    campus_id: Option<i64>,
}

fn parse_class(conn: &mut DbConn, school_id: i64, input: &ClassInput, today: NaiveDate) -> AppResult<ValidClass> {
    let mut errors = Vec::new();
    let class_no = input.class_no.trim().to_owned();
    if class_no.is_empty() || class_no.len() > 10 || !class_no.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(fe("class_no", ErrorCode::ClassBadNo, "班号应为1–10位数字"));
    }
    let grade = codes::parse_grade(&input.grade);
    if grade.is_none() {
        errors.push(fe("grade", ErrorCode::ClassBadGrade, "年级应为1–12（或“一年级”…“九年级”、“高一”…）"));
    }
    let name = match text::optional("班级名称", &input.name, 30) {
        Ok(n) if n.is_empty() => grade.map(|g| codes::default_class_name(g, &class_no)),
        Ok(n) => Some(n),
        Err(m) => {
            errors.push(fe("name", ErrorCode::ClassBadName, &m));
            None
        }
    };
    let this_year = today.year();
    let entry_year = input.entry_year.trim().parse::<i32>().ok().filter(|y| (1990..=this_year + 1).contains(y));
    if entry_year.is_none() {
        errors.push(fe(
            "entry_year",
            ErrorCode::ClassBadYear,
            &format!("入学年份应为1990–{}之间的四位年份", this_year + 1),
        ));
    }
    let staff_no = input.head_teacher_staff_no.trim();
    let head_teacher_id = if staff_no.is_empty() {
        None
    } else {
        let id: Option<i64> = teachers::table
            .filter(teachers::school_id.eq(school_id))
            .filter(teachers::staff_no.eq(staff_no))
            .select(teachers::id)
            .first(conn)
            .optional()?;
        if id.is_none() {
            errors.push(fe(
                "head_teacher_staff_no",
                ErrorCode::ClassBadTeacher,
                &format!("本校没有工号为“{staff_no}”的教师"),
            ));
        }
        id
    };
    let campus_no = input.campus_no.trim();
    let campus_id = if campus_no.is_empty() {
        None
    } else {
        let id: Option<i64> = campuses::table
            .filter(campuses::school_id.eq(school_id))
            .filter(campuses::campus_no.eq(campus_no))
            .select(campuses::id)
            .first(conn)
            .optional()?;
        if id.is_none() {
            errors.push(fe("campus_no", ErrorCode::ClassBadCampus, &format!("本校没有校区号为“{campus_no}”的校区")));
        }
        id
    };
    match (name, grade, entry_year, errors.is_empty()) {
        (Some(name), Some(grade), Some(entry_year), true) => {
            Ok(ValidClass { class_no, name, grade, entry_year, head_teacher_id, campus_id })
        }
        _ => Err(AppError::fields(errors)),
    }
}

fn ensure_unique_class_no(conn: &mut DbConn, school_id: i64, class_no: &str, except: Option<i64>) -> AppResult<()> {
    let mut q =
        classes::table.filter(classes::school_id.eq(school_id)).filter(classes::class_no.eq(class_no)).into_boxed();
    if let Some(id) = except {
        q = q.filter(classes::id.ne(id));
    }
    let n: i64 = q.count().get_result(conn)?;
    if n > 0 {
        return Err(AppError::field("class_no", ErrorCode::ClassDuplicate, format!("班号“{class_no}”在本校已存在")));
    }
    Ok(())
}

pub fn create_class(conn: &mut DbConn, caller: &Caller, school_code: &str, input: &ClassInput) -> AppResult<ClassView> {
    let org = school_org(conn, caller.scope(), school_code)?;
    caller.require(conn, Permission::EditClasses, "create_class")?;
    let v = parse_class(conn, org.id, input, caller.today())?;
    let id = write_tx(conn, |conn| {
        ensure_unique_class_no(conn, org.id, &v.class_no, None)?;
        let id: i64 = diesel::insert_into(classes::table)
            .values((
                classes::school_id.eq(org.id),
                classes::campus_id.eq(v.campus_id),
                classes::class_no.eq(&v.class_no),
                classes::name.eq(&v.name),
                classes::grade.eq(v.grade),
                classes::entry_year.eq(v.entry_year),
                classes::head_teacher_id.eq(v.head_teacher_id),
                classes::updated_at.eq(caller.now()),
            ))
            .returning(classes::id)
            .get_result(conn)?;
        let c = classes::table.find(id).select(Class::as_select()).first(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("class.create", "class", id).after(&c))?;
        Ok(id)
    })?;
    get_class(conn, caller, id)
}

pub fn update_class(conn: &mut DbConn, caller: &Caller, id: i64, input: &ClassInput) -> AppResult<ClassView> {
    let before = get_class(conn, caller, id)?;
    caller.require(conn, Permission::EditClasses, "update_class")?;
    let v = parse_class(conn, before.class.school_id, input, caller.today())?;
    write_tx(conn, |conn| {
        ensure_unique_class_no(conn, before.class.school_id, &v.class_no, Some(id))?;
        diesel::update(classes::table.find(id))
            .set((
                classes::campus_id.eq(v.campus_id),
                classes::class_no.eq(&v.class_no),
                classes::name.eq(&v.name),
                classes::grade.eq(v.grade),
                classes::entry_year.eq(v.entry_year),
                classes::head_teacher_id.eq(v.head_teacher_id),
                classes::updated_at.eq(caller.now()),
            ))
            .execute(conn)?;
        let after = classes::table.find(id).select(Class::as_select()).first(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("class.update", "class", id).before(&before.class).after(&after),
        )
    })?;
    get_class(conn, caller, id)
}

pub fn delete_class(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<()> {
    let before = get_class(conn, caller, id)?;
    caller.require(conn, Permission::EditClasses, "delete_class")?;
    write_tx(conn, |conn| {
        diesel::delete(classes::table.find(id)).execute(conn)?;
        audit::record(conn, &caller.actor(), Entry::new("class.delete", "class", id).before(&before.class))
    })
}
