//! 就餐日报 by workbook (or CSV): one row per class and day — 学校标识码, 日期, 班级号, 就餐人数,
//! and optionally 缺勤学生 (学籍号, separated by 、 or commas) and 更正原因. Each school's day goes
//! through the same `daily::record` as the page and the API; the file is all or nothing, every
//! refusal named by sheet, row and column.

use serde::Serialize;

use super::daily::{self, ClassCount, DayForm, Recorded};
use crate::auth::Caller;
use crate::db::{DbConn, write_tx};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::exchange::sheet::{self, Column, NamedRow};

/// The largest workbook accepted.
pub const MAX_UPLOAD: usize = 10 * 1024 * 1024;

const COLUMNS: [Column; 6] = [
    Column { name: "学校标识码", synonyms: &["学校标识码", "学校代码"], required: true },
    Column { name: "日期", synonyms: &["日期", "供餐日期", "就餐日期"], required: true },
    Column { name: "班级号", synonyms: &["班级号", "班号"], required: true },
    Column { name: "就餐人数", synonyms: &["就餐人数", "实际就餐人数"], required: true },
    Column { name: "缺勤学生", synonyms: &["缺勤学生", "缺勤学生学籍号"], required: false },
    Column { name: "更正原因", synonyms: &["更正原因", "原因"], required: false },
];

/// What an import did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "MealDaysImported")]
pub struct Imported {
    pub rows: usize,
    /// School days written.
    pub days: usize,
    /// School days in closed months, held for the county's approval.
    pub pending: usize,
}

/// Imports a file of daily records.
pub fn meal_days(conn: &mut DbConn, caller: &Caller, bytes: &[u8], filename: &str) -> AppResult<Imported> {
    caller.require(conn, Permission::RecordMeals, "import_meal_days")?;
    let rows = sheet::read_named(bytes, filename, ErrorCode::MealsMissingColumn, &COLUMNS)?;
    let mut errors: Vec<FieldError> = Vec::new();
    // School days in the order first met, each with its rows.
    let mut days: Vec<((String, chrono::NaiveDate), Vec<&NamedRow>)> = Vec::new();
    let mut at: std::collections::HashMap<(String, chrono::NaiveDate), usize> = Default::default();
    for r in &rows {
        let school = r.values[0].trim().to_owned();
        let day = match crate::domain::student::parse_date(&r.values[1]) {
            Ok(d) => d,
            Err(m) => {
                errors.push(r.error("日期", ErrorCode::MealsDay, &m));
                continue;
            }
        };
        match at.get(&(school.clone(), day)) {
            Some(&i) => days[i].1.push(r),
            None => {
                at.insert((school.clone(), day), days.len());
                days.push(((school, day), vec![r]));
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }
    let outcome = write_tx(conn, |conn| {
        let (mut written, mut pending) = (0, 0);
        for ((school, day), list) in &days {
            let form = DayForm {
                classes: list
                    .iter()
                    .map(|r| ClassCount {
                        class: r.values[2].trim().to_owned(),
                        ate: serde_json::Value::String(r.values[3].clone()),
                        absent: r.values[4]
                            .split(['、', ',', '，', ';', '；', ' '])
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| serde_json::Value::String(s.to_owned()))
                            .collect(),
                    })
                    .collect(),
                reason: list.iter().map(|r| r.values[5].trim()).find(|s| !s.is_empty()).unwrap_or("").to_owned(),
            };
            match daily::record(conn, caller, school, *day, &form) {
                Ok(Recorded::Saved { .. }) => written += 1,
                Ok(Recorded::Pending { .. }) => pending += 1,
                Err(e) if e.kind == crate::error::ErrorKind::Internal => return Err(e),
                Err(e) => errors.extend(located(list, &e)),
            }
        }
        if errors.is_empty() { Ok((written, pending)) } else { Err(AppError::fields(std::mem::take(&mut errors))) }
    })?;
    Ok(Imported { rows: rows.len(), days: outcome.0, pending: outcome.1 })
}

/// A school day's refusal, put on the rows and columns it is about.
fn located(list: &[&NamedRow], e: &AppError) -> Vec<FieldError> {
    let class_row = |no: &str| list.iter().find(|r| r.values[2].trim() == no).copied().unwrap_or(list[0]);
    if e.fields.is_empty() {
        return vec![list[0].error("", e.code, &e.message)];
    }
    e.fields
        .iter()
        .map(|f| {
            let (row, col) = if let Some(no) = f.field.strip_prefix("ate_") {
                (class_row(no), "就餐人数")
            } else if let Some(no) = f.field.strip_prefix("absent_") {
                (class_row(no), "缺勤学生")
            } else if let Some(i) =
                f.field.strip_prefix("classes[").and_then(|s| s.trim_end_matches(']').parse::<usize>().ok())
            {
                (list.get(i).copied().unwrap_or(list[0]), "班级号")
            } else {
                let col = match f.field.as_str() {
                    "reason" => "更正原因",
                    "day" => "日期",
                    "school" => "学校标识码",
                    _ => "",
                };
                (list[0], col)
            };
            row.error(col, f.code, &f.message)
        })
        .collect()
}
