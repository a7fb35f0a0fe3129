//! `mealroll change`: status changes (学籍异动) in batches from a file.

use clap::Subcommand;
use serde_json::json;

use crate::print;
use mealroll::auth::Caller;
use mealroll::db;
use mealroll::domain::status::ChangeKind;
use mealroll::error::{AppError, ErrorCode};
use mealroll::registry::status;

#[derive(Subcommand)]
pub enum ChangeCommand {
    /// Suspend (休学) every student of a file (.xlsx, .xls or CSV with columns 学籍号, 生效日期,
    /// 原因), each through its whole chain; all or nothing.
    Suspend {
        file: std::path::PathBuf,
        /// Check every line; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Resume (复学) every student of a file, as `suspend`.
    Resume {
        file: std::path::PathBuf,
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs one `mealroll change` subcommand.
pub fn run(conn: &mut db::DbConn, json_mode: bool, what: ChangeCommand) -> Result<(), AppError> {
    let (kind, file, dry_run) = match what {
        ChangeCommand::Suspend { file, dry_run } => (ChangeKind::Suspend, file, dry_run),
        ChangeCommand::Resume { file, dry_run } => (ChangeKind::Resume, file, dry_run),
    };
    let bytes = std::fs::read(&file)
        .map_err(|e| AppError::invalid(ErrorCode::FileRead, format!("无法读取文件 {}: {e}", file.display())))?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let lines = mealroll::exchange::change_file::read(&bytes, &name)?;
    let caller = Caller::cli(conn)?;
    match status::batch(conn, &caller, kind, &lines, dry_run)? {
        Ok(n) => print(
            json_mode,
            json!({"kind": kind.code(), "applied": if dry_run { 0 } else { n }, "checked": n, "dry_run": dry_run}),
            || {
                if dry_run {
                    out!("已校验 {n} 名学生的{}，均可办理（未写入）。", kind.label())
                } else {
                    out!("已为 {n} 名学生办理{}。", kind.label())
                }
            },
        ),
        Err(errors) => {
            print(json_mode, json!({"kind": kind.code(), "applied": 0, "errors": errors}), || {
                for e in &errors {
                    out!("  第{}行 {}：[{}] {}", e.row, e.column, e.code, e.message);
                }
            });
            return Err(AppError::invalid(
                ErrorCode::ChangeBatchRefused,
                format!("{} 行被拒绝，整批未办理", errors.len()),
            ));
        }
    }
    Ok(())
}
