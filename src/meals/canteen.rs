//! What the canteen served, as the school records it for parents and inspectors: the weekly
//! menu (Monday to Friday, one line a day) and the school leaders' accompanying meals (陪餐: who
//! ate with the children, on which day, what was served, what they saw).

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::daily::school_of;
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{meal_accompany, weekly_menus};
use crate::db::{DbConn, write_tx};
use crate::domain::role::Permission;
use crate::domain::text;
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::org::model::Org;

/// The Monday of a day's week.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// The weekdays of a menu, as the page and the API name them.
pub const DAYS: [(&str, &str); 5] = [
    ("monday", "星期一"),
    ("tuesday", "星期二"),
    ("wednesday", "星期三"),
    ("thursday", "星期四"),
    ("friday", "星期五"),
];

/// A week's menu.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Menu {
    #[serde(default)]
    pub monday: String,
    #[serde(default)]
    pub tuesday: String,
    #[serde(default)]
    pub wednesday: String,
    #[serde(default)]
    pub thursday: String,
    #[serde(default)]
    pub friday: String,
}

impl Menu {
    pub fn day(&self, key: &str) -> &str {
        match key {
            "monday" => &self.monday,
            "tuesday" => &self.tuesday,
            "wednesday" => &self.wednesday,
            "thursday" => &self.thursday,
            "friday" => &self.friday,
            _ => "",
        }
    }

    fn day_mut(&mut self, key: &str) -> Option<&mut String> {
        match key {
            "monday" => Some(&mut self.monday),
            "tuesday" => Some(&mut self.tuesday),
            "wednesday" => Some(&mut self.wednesday),
            "thursday" => Some(&mut self.thursday),
            "friday" => Some(&mut self.friday),
            _ => None,
        }
    }

    /// Each day checked (one line, at most 200 characters); at least one day filled.
    fn checked(&self) -> AppResult<Menu> {
        let mut out = Menu::default();
        let mut errors = Vec::new();
        for (key, label) in DAYS {
            match text::optional(&format!("{label}的菜谱"), self.day(key), 200) {
                Ok(v) => {
                    if let Some(d) = out.day_mut(key) {
                        *d = v;
                    }
                }
                Err(m) => errors.push(FieldError { field: key.into(), code: ErrorCode::MenuText, message: m }),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::fields(errors));
        }
        if DAYS.iter().all(|(k, _)| out.day(k).is_empty()) {
            return Err(AppError::field("monday", ErrorCode::MenuEmpty, "请至少填写一天的菜谱"));
        }
        Ok(out)
    }
}

/// A school's week: its menu (if posted) and the accompanying meals of that week.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Week {
    pub school: String,
    pub school_name: String,
    pub week_start: NaiveDate,
    pub menu: Option<Menu>,
    pub accompany: Vec<Accompany>,
}

/// One 陪餐 record.
#[derive(Debug, Clone, Serialize, Queryable, schemars::JsonSchema)]
pub struct Accompany {
    pub id: i64,
    pub day: NaiveDate,
    pub person: String,
    pub post: String,
    pub served: String,
    pub remarks: String,
    pub recorded_by: String,
}

/// What a school sends for a 陪餐 record.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct AccompanyForm {
    #[serde(default)]
    pub day: String,
    #[serde(default)]
    pub person: String,
    #[serde(default)]
    pub post: String,
    #[serde(default)]
    pub served: String,
    #[serde(default)]
    pub remarks: String,
}

/// The week containing `day` at a school in the caller's scope.
pub fn week(conn: &mut DbConn, caller: &Caller, school_code: &str, day: NaiveDate) -> AppResult<Week> {
    caller.require(conn, Permission::ViewReports, "canteen_week")?;
    let school = school_of(conn, caller, school_code)?;
    week_at(conn, &school, week_of(day))
}

/// A school's week, for any reader already allowed (the public notice too: no child in it).
pub(crate) fn week_at(conn: &mut DbConn, school: &Org, monday: NaiveDate) -> AppResult<Week> {
    let menu = weekly_menus::table
        .filter(weekly_menus::school_id.eq(school.id))
        .filter(weekly_menus::week_start.eq(monday))
        .select((
            weekly_menus::monday,
            weekly_menus::tuesday,
            weekly_menus::wednesday,
            weekly_menus::thursday,
            weekly_menus::friday,
        ))
        .first::<(String, String, String, String, String)>(conn)
        .optional()?
        .map(|(monday, tuesday, wednesday, thursday, friday)| Menu { monday, tuesday, wednesday, thursday, friday });
    let accompany = meal_accompany::table
        .filter(meal_accompany::school_id.eq(school.id))
        .filter(meal_accompany::day.between(monday, monday + chrono::Days::new(6)))
        .order((meal_accompany::day.asc(), meal_accompany::id.asc()))
        .select((
            meal_accompany::id,
            meal_accompany::day,
            meal_accompany::person,
            meal_accompany::post,
            meal_accompany::served,
            meal_accompany::remarks,
            meal_accompany::recorded_by,
        ))
        .load(conn)?;
    Ok(Week { school: school.code.clone(), school_name: school.name.clone(), week_start: monday, menu, accompany })
}

/// Who writes the menu and the accompanying meals: the school itself (its nutrition officer or
/// principal). The week's page offers its forms on this rule.
pub fn may_record(caller: &Caller, school_code: &str, school_name: &str) -> AppResult<()> {
    if !caller.may(Permission::RecordMeals) {
        return Err(AppError::forbidden());
    }
    if !caller.acts_for(school_code) {
        return Err(AppError::invalid(ErrorCode::CanteenNotOwnSchool, format!("由{school_name}本校填写")));
    }
    Ok(())
}

/// The school, checked by `may_record` (a refusal of the permission audited).
fn own_school(conn: &mut DbConn, caller: &Caller, school_code: &str, what: &str) -> AppResult<Org> {
    caller.require(conn, Permission::RecordMeals, what)?;
    let school = school_of(conn, caller, school_code)?;
    may_record(caller, &school.code, &school.name)?;
    Ok(school)
}

/// Posts (or replaces) the menu of the week containing `day`.
pub fn set_menu(conn: &mut DbConn, caller: &Caller, school_code: &str, day: NaiveDate, menu: &Menu) -> AppResult<Week> {
    let school = own_school(conn, caller, school_code, "set_menu")?;
    let menu = menu.checked()?;
    let monday = week_of(day);
    write_tx(conn, |conn| {
        diesel::delete(
            weekly_menus::table
                .filter(weekly_menus::school_id.eq(school.id))
                .filter(weekly_menus::week_start.eq(monday)),
        )
        .execute(conn)?;
        diesel::insert_into(weekly_menus::table)
            .values((
                weekly_menus::school_id.eq(school.id),
                weekly_menus::week_start.eq(monday),
                weekly_menus::monday.eq(&menu.monday),
                weekly_menus::tuesday.eq(&menu.tuesday),
                weekly_menus::wednesday.eq(&menu.wednesday),
                weekly_menus::thursday.eq(&menu.thursday),
                weekly_menus::friday.eq(&menu.friday),
                weekly_menus::set_by.eq(&caller.username),
                weekly_menus::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("canteen.menu", "school", &school.code)
                .after(&serde_json::json!({"week": monday, "menu": menu})),
        )
    })?;
    week_at(conn, &school, monday)
}

/// Records a 陪餐: on a past or today's meal day, who (and their post), what was served.
pub fn accompany(conn: &mut DbConn, caller: &Caller, school_code: &str, form: &AccompanyForm) -> AppResult<Week> {
    let school = own_school(conn, caller, school_code, "record_accompany")?;
    let mut errors = Vec::new();
    let mut field = |name: &str, r: Result<String, String>| -> String {
        r.unwrap_or_else(|m| {
            errors.push(FieldError { field: name.into(), code: ErrorCode::AccompanyField, message: m });
            String::new()
        })
    };
    let person = field("person", text::required("陪餐人", &form.person, 20));
    let post = field("post", text::required("职务", &form.post, 20));
    let served = field("served", text::required("当餐饭菜", &form.served, 200));
    let remarks = field("remarks", text::optional("陪餐意见", &form.remarks, 200));
    let day = match crate::domain::student::parse_date(&form.day) {
        Ok(d) if d > caller.today() => {
            errors.push(FieldError {
                field: "day".into(),
                code: ErrorCode::AccompanyFuture,
                message: format!("{d}还没有到"),
            });
            d
        }
        Ok(d) => d,
        Err(m) => {
            errors.push(FieldError {
                field: "day".into(),
                code: ErrorCode::AccompanyDay,
                message: format!("陪餐日期{m}"),
            });
            caller.today()
        }
    };
    if errors.is_empty() && !super::daily::has_meals(conn, &school, day)? {
        errors.push(FieldError {
            field: "day".into(),
            code: ErrorCode::AccompanyNoMealDay,
            message: format!("{day}不是{}的供餐日，没有可陪的餐", school.name),
        });
    }
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }
    write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(meal_accompany::table)
            .values((
                meal_accompany::school_id.eq(school.id),
                meal_accompany::day.eq(day),
                meal_accompany::person.eq(&person),
                meal_accompany::post.eq(&post),
                meal_accompany::served.eq(&served),
                meal_accompany::remarks.eq(&remarks),
                meal_accompany::recorded_by.eq(&caller.username),
                meal_accompany::recorded_at.eq(caller.now()),
            ))
            .returning(meal_accompany::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("canteen.accompany", "school", &school.code)
                .after(&serde_json::json!({"id": id, "day": day, "person": person, "post": post})),
        )
    })?;
    week_at(conn, &school, week_of(day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_starts_on_its_monday() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("day");
        assert_eq!(week_of(d("2026-12-04")), d("2026-11-30"), "a Friday");
        assert_eq!(week_of(d("2026-11-30")), d("2026-11-30"), "a Monday");
        assert_eq!(week_of(d("2026-12-06")), d("2026-11-30"), "a Sunday");
    }

    #[test]
    fn a_menu_needs_one_day_and_one_line_each() {
        assert!(Menu::default().checked().is_err_and(|e| e.code == ErrorCode::MenuEmpty));
        let one = Menu { wednesday: " 米饭、番茄炒蛋、白菜汤 ".into(), ..Menu::default() };
        assert_eq!(one.checked().ok().map(|m| m.wednesday), Some("米饭、番茄炒蛋、白菜汤".to_owned()));
        let two_lines = Menu { monday: "米饭\n土豆".into(), ..Menu::default() };
        assert!(two_lines.checked().is_err_and(|e| e.fields[0].message.contains("控制字符")));
    }
}
