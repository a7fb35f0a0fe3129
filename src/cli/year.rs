//! `mealroll year`: the school year's end: promotion and graduation planned, run, confirmed or undone.

use clap::Subcommand;
use serde_json::json;

use crate::print;
use mealroll::auth::Caller;
use mealroll::db;
use mealroll::domain::key_lock::school_year_of;
use mealroll::error::{AppError, ErrorCode};
use mealroll::registry::promotion;

#[derive(Subcommand)]
pub enum YearCommand {
    /// Promote every class of a county (or one school) a grade and graduate the last grade, in one
    /// transaction; reversible with `year undo` until `year confirm`.
    Promote {
        /// County (or school) code.
        #[arg(long)]
        county: String,
        /// The school year that ends (2025 for 2025–2026); default the current one.
        #[arg(long)]
        year: Option<i32>,
        /// The graduates' last school day; default the end of the year's spring term.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// A repeater (留级) as 学籍号:班号 (the class that will have the student's grade); repeatable.
        #[arg(long = "repeat", value_name = "学籍号:班号")]
        repeat: Vec<String>,
        /// Show the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Make an applied promotion final.
    Confirm { id: i64 },
    /// Take back an applied promotion.
    Undo { id: i64 },
}

/// Runs one `mealroll year` subcommand.
pub fn run(conn: &mut db::DbConn, json_mode: bool, what: YearCommand) -> Result<(), AppError> {
    let caller = Caller::cli(conn)?;
    match what {
        YearCommand::Promote { county, year, date, repeat, dry_run } => {
            let repeaters = repeat
                .iter()
                .map(|r| {
                    let (no, class) = r.split_once(':').ok_or_else(|| {
                        AppError::invalid(ErrorCode::PromotionRepeatFormat, format!("留级“{r}”应写作 学籍号:班号"))
                    })?;
                    Ok(promotion::Repeater { student_no: no.into(), class_no: class.into() })
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            let input = promotion::PromoteInput {
                org: county,
                school_year: year.unwrap_or_else(|| school_year_of(mealroll::clock::today())),
                graduation_date: date,
                repeaters,
                dry_run,
            };
            let plan = promotion::promote(conn, &caller, &input)?;
            print(json_mode, json!(plan), || {
                out!(
                    "{} {}—{}学年升级毕业{}：{} 所学校，{} 个班升级，{} 个班毕业，毕业生 {} 人，留级 {} 人，休学未毕业 {} 人；毕业日期 {}。",
                    plan.org_name,
                    plan.school_year,
                    plan.school_year + 1,
                    if dry_run { "（预览，未写入）" } else { "已执行" },
                    plan.schools,
                    plan.promoted_classes(),
                    plan.graduating_classes(),
                    plan.graduates.len(),
                    plan.repeaters.len(),
                    plan.held.len(),
                    plan.graduation_date,
                );
                if let Some(id) = plan.promotion_id {
                    out!(
                        "任务编号 {id}：确认前可用 `mealroll year undo {id}` 撤销，核对无误后 `mealroll year confirm {id}`。"
                    );
                }
            });
        }
        YearCommand::Confirm { id } => {
            let v = promotion::confirm(conn, &caller, id)?;
            print(json_mode, json!(v), || out!("升级任务 {id} 已确认，不可再撤销。"));
        }
        YearCommand::Undo { id } => {
            let v = promotion::undo(conn, &caller, id)?;
            print(json_mode, json!(v), || out!("升级任务 {id} 已撤销。"));
        }
    }
    Ok(())
}
