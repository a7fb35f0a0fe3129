//! `mealroll audit`: archive the audit log, and verify its hash chain.

use clap::Subcommand;
use serde_json::json;

use crate::{out_human, print};
use mealroll::audit;
use mealroll::config::Settings;
use mealroll::db;
use mealroll::error::{AppError, ErrorCode};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain (archives first) and report the first altered or missing row.
    Verify,
    /// Move the rows from before a day (at least 183 days ago) into a signed archive file.
    Archive {
        /// Archive rows written before this day (YYYY-MM-DD, Beijing time).
        #[arg(long)]
        before: String,
        /// The archive file to write (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

/// Runs one `mealroll audit` subcommand.
pub fn run(conn: &mut db::DbConn, settings: &Settings, json_mode: bool, what: AuditCommand) -> Result<(), AppError> {
    match what {
        AuditCommand::Archive { before, out } => {
            let day = mealroll::registry::status::parse_day("before", &before)?;
            let instance = audit::service::instance_path(conn)?;
            let a = audit::archive::archive(conn, &audit::Actor::cli(&instance), day, &out)?;
            print(json_mode, json!(a), || {
                out!(
                    "已将审计记录 #{}–#{}（{} 条）归档到 {}（SHA-256 {}）",
                    a.from_id,
                    a.to_id,
                    a.rows,
                    a.file,
                    a.sha256
                );
                out!("请将归档文件与备份一同异地保存；核验时须能读到它。");
            });
        }
        AuditCommand::Verify => {
            let archived = match audit::archive::verify_archives(conn)? {
                Ok(n) => n,
                Err(why) => {
                    print(json_mode, json!({"archives": why}), || out!("审计日志归档有问题：{why}"));
                    return Err(AppError::conflict(ErrorCode::AuditTampered, format!("审计日志归档校验失败：{why}")));
                }
            };
            if archived > 0 {
                out_human(json_mode, &format!("归档文件 {archived} 条记录完整。"));
            }
            let anchor = audit::chain::anchor_of(settings)?;
            let v = audit::service::verify(conn, anchor.as_ref())?;
            if let Some((id, why)) = &v.first_broken {
                print(json_mode, json!(v), || out!("审计日志被改动：第一处问题在记录 #{id}：{why}"));
                return Err(AppError::conflict(
                    ErrorCode::AuditTampered,
                    format!("审计日志记录 #{id} 校验失败：{why}"),
                ));
            }
            // A whole chain that holds moves the anchor to its head.
            let cp = audit::chain::checkpoint(conn, settings)?;
            print(
                json_mode,
                json!({"rows": v.rows, "first_broken": null, "anchored_to": v.anchored_to, "anchor": cp}),
                || {
                    out!("审计日志完整：共 {} 条，哈希链无断点。", v.rows);
                    match v.anchored_to {
                        Some(id) => out!("与锚点文件一致（上次锚定至记录 #{id}）。"),
                        None => out!("此前没有锚点文件。"),
                    }
                    for b in &cp.breaks {
                        out!("锚点未更新：{b}");
                    }
                },
            );
            if let Some(b) = cp.breaks.first() {
                return Err(AppError::conflict(ErrorCode::AuditTampered, format!("锚点核验失败：{b}")));
            }
        }
    }
    Ok(())
}
