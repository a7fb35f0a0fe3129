//! Workbooks a school or county fills in by hand: expenditures (one posting per row, through
//! the same checks as the form) and meals served per school and month. All or nothing: one bad
//! row and nothing is written, every bad row named by sheet, row and column. Importing the same
//! expenditure file twice posts nothing new (each row's key is the file's hash and the row).

use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::fund::{self, PostingForm};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{meals_served, orgs};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::Month;
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::exchange::sheet::{self, Column};
use crate::org::service::org_in_scope;

/// A workbook of expenditures or meals, on the page and through the API.
pub const MAX_UPLOAD: usize = 10 * 1024 * 1024;

const EXPENDITURE_COLUMNS: [Column; 7] = [
    Column { name: "学校标识码", synonyms: &["学校标识码", "学校代码", "付款单位"], required: true },
    Column { name: "日期", synonyms: &["日期", "支出日期", "记账日期"], required: true },
    Column { name: "类别", synonyms: &["类别", "支出类别", "用途"], required: true },
    Column { name: "金额", synonyms: &["金额", "金额（元）", "金额(元)", "支出金额"], required: true },
    Column { name: "凭证号", synonyms: &["凭证号", "凭证编号", "发票号"], required: true },
    Column { name: "摘要", synonyms: &["摘要", "说明", "备注"], required: false },
    Column { name: "资金", synonyms: &["资金", "资金类别"], required: false },
];

/// Which column a posting's field came from, to name it in a message.
fn column_of(field: &str) -> &'static str {
    match field {
        "from" => "学校标识码",
        "date" => "日期",
        "category" => "类别",
        "amount" => "金额",
        "voucher_no" => "凭证号",
        "memo" => "摘要",
        "fund" => "资金",
        _ => "",
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "ExpendituresImported")]
pub struct Imported {
    pub rows: usize,
    pub posted: usize,
    /// Above the threshold: waiting for a second person.
    pub pending: usize,
    /// Rows of a file imported before: nothing posted again.
    pub repeated: usize,
}

/// Imports expenditures (学校标识码, 日期, 类别, 金额, 凭证号[, 摘要, 资金]) as the caller.
pub fn expenditures(conn: &mut DbConn, caller: &Caller, bytes: &[u8], filename: &str) -> AppResult<Imported> {
    caller.require(conn, Permission::PostLedger, "ledger_import")?;
    let rows = sheet::read_named(bytes, filename, ErrorCode::LedgerMissingColumn, &EXPENDITURE_COLUMNS)?;
    if rows.is_empty() {
        return Err(AppError::invalid(ErrorCode::LedgerEmptyFile, "文件中没有支出记录"));
    }
    let file = hex::encode(Sha256::digest(bytes));
    let mut done = Imported { rows: rows.len(), posted: 0, pending: 0, repeated: 0 };
    let mut errors: Vec<FieldError> = Vec::new();
    let outcome = write_tx(conn, |conn| {
        for r in &rows {
            let key = format!("import:{}:{}:{}", &file[..32], r.sheet, r.row);
            let key: String = key.chars().take(64).collect();
            if fund::request_by_key(conn, &key)?.is_some() {
                done.repeated += 1;
                continue;
            }
            let form = PostingForm {
                kind: "expenditure".into(),
                fund: r.values[6].clone(),
                from: r.values[0].clone(),
                amount: r.values[3].clone(),
                date: r.values[1].clone(),
                category: r.values[2].clone(),
                voucher_no: r.values[4].clone(),
                memo: r.values[5].clone(),
                ..PostingForm::default()
            };
            // A savepoint per row: a refused row leaves nothing behind, the others go on being checked.
            match conn.transaction(|c| fund::post_in(c, caller, &form, &key)) {
                Ok(row) if row.status == crate::domain::ledger::RequestStatus::Pending => done.pending += 1,
                Ok(_) => done.posted += 1,
                Err(e) if e.fields.is_empty() => errors.push(r.error("", e.code, &e.message)),
                Err(e) => errors.extend(e.fields.iter().map(|f| r.error(column_of(&f.field), f.code, &f.message))),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::fields(std::mem::take(&mut errors)));
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("ledger.import", "file", filename).after(&serde_json::json!({
                "rows": done.rows, "posted": done.posted, "pending": done.pending, "repeated": done.repeated,
            })),
        )
    });
    outcome.map(|()| done)
}

const MEAL_COLUMNS: [Column; 4] = [
    Column { name: "学校标识码", synonyms: &["学校标识码", "学校代码"], required: true },
    Column { name: "月份", synonyms: &["月份", "月", "month"], required: true },
    Column { name: "供餐天数", synonyms: &["供餐天数", "实际供餐天数"], required: true },
    Column { name: "就餐人次", synonyms: &["就餐人次", "就餐总人次", "就餐餐次"], required: true },
];

/// One school's reported month.
#[derive(Debug, Clone)]
pub struct MealsReport {
    pub school: String,
    pub month: Month,
    pub days_served: i32,
    pub meals: i32,
}

fn count(s: &str) -> Result<i32, String> {
    s.trim()
        .trim_end_matches(".0")
        .parse::<i32>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("“{}”应为不小于0的整数", s.trim()))
}

/// Stores what schools report serving (replacing an earlier report of the same month).
pub fn record_meals(conn: &mut DbConn, caller: &Caller, reports: &[MealsReport]) -> AppResult<usize> {
    caller.require(conn, Permission::PostLedger, "record_meals")?;
    let mut schools = Vec::with_capacity(reports.len());
    for r in reports {
        let org = org_in_scope(conn, caller.scope(), &r.school)?;
        if org.kind != OrgKind::School {
            return Err(AppError::field("school", ErrorCode::MealsNotASchool, format!("“{}”不是学校", org.name)));
        }
        let days = i32::try_from(r.month.days_in_month()).unwrap_or(31);
        if r.days_served > days {
            return Err(AppError::field(
                "days_served",
                ErrorCode::MealsTooManyDays,
                format!("{}供餐天数{}超过当月天数{days}", r.month, r.days_served),
            ));
        }
        schools.push(org.id);
    }
    write_tx(conn, |conn| {
        for (r, school_id) in reports.iter().zip(&schools) {
            diesel::delete(
                meals_served::table
                    .filter(meals_served::school_id.eq(school_id))
                    .filter(meals_served::month.eq(r.month.key())),
            )
            .execute(conn)?;
            diesel::insert_into(meals_served::table)
                .values((
                    meals_served::school_id.eq(school_id),
                    meals_served::month.eq(r.month.key()),
                    meals_served::days_served.eq(r.days_served),
                    meals_served::meals.eq(r.meals),
                    meals_served::recorded_by.eq(&caller.username),
                    meals_served::recorded_at.eq(caller.now()),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                &caller.actor(),
                Entry::new("meals.record", "school", &r.school).after(&serde_json::json!({
                    "month": r.month.to_string(), "days_served": r.days_served, "meals": r.meals,
                })),
            )?;
        }
        Ok(reports.len())
    })
}

/// Imports meals served (学校标识码, 月份, 供餐天数, 就餐人次), all or nothing.
pub fn meals(conn: &mut DbConn, caller: &Caller, bytes: &[u8], filename: &str) -> AppResult<usize> {
    caller.require(conn, Permission::PostLedger, "import_meals")?;
    let rows = sheet::read_named(bytes, filename, ErrorCode::MealsMissingColumn, &MEAL_COLUMNS)?;
    let mut errors = Vec::new();
    let mut reports = Vec::new();
    for r in &rows {
        let month =
            Month::parse(&r.values[1]).map_err(|m| errors.push(r.error("月份", ErrorCode::MealsMonth, &m))).ok();
        let days = count(&r.values[2]).map_err(|m| errors.push(r.error("供餐天数", ErrorCode::MealsDays, &m))).ok();
        let meals = count(&r.values[3]).map_err(|m| errors.push(r.error("就餐人次", ErrorCode::MealsCount, &m))).ok();
        let school = r.values[0].trim();
        let known: i64 = orgs::table
            .filter(orgs::code.eq(school))
            .filter(orgs::path.like(caller.scope().like_pattern()))
            .count()
            .get_result(conn)?;
        if known == 0 {
            errors.push(r.error(
                "学校标识码",
                ErrorCode::MealsUnknownSchool,
                &format!("学校“{school}”不存在或不在本单位范围内"),
            ));
        }
        if let (Some(month), Some(days_served), Some(meals)) = (month, days, meals) {
            if days_served > i32::try_from(month.days_in_month()).unwrap_or(31) {
                errors.push(r.error(
                    "供餐天数",
                    ErrorCode::MealsTooManyDays,
                    &format!("供餐天数{days_served}超过{month}的天数"),
                ));
            }
            reports.push(MealsReport { school: school.to_owned(), month, days_served, meals });
        }
    }
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }
    record_meals(conn, caller, &reports)
}
