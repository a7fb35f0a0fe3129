//! `mealroll collect`: collection points (单机版) and their county — register, pair, export,
//! import, and decide what a package could not apply by itself.

use clap::Subcommand;
use serde_json::json;

use crate::{print, read_input};
use mealroll::auth::Caller;
use mealroll::collect::county::{self, Decision};
use mealroll::collect::point;
use mealroll::db;
use mealroll::error::{AppError, ErrorCode};

#[derive(Subcommand)]
pub enum CollectCommand {
    /// The county: register a collection point and its schools (or re-key it); prints the
    /// pairing code to hand the point's operator, once.
    Register {
        #[arg(long)]
        name: String,
        /// School codes, comma-separated.
        #[arg(long, value_delimiter = ',')]
        schools: Vec<String>,
    },
    /// The point: pair this instance with its county from the pairing code.
    Pair { code: String },
    /// The point: make the next package (the schools' work since the last one).
    Export {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// The county: take a point's package (idempotent; refused whole when anything is wrong).
    Import { file: std::path::PathBuf },
    /// The county: what packages left for a person to decide.
    Items {
        /// Only the items still open.
        #[arg(long)]
        open: bool,
    },
    /// The county: decide an item (take the point's value, keep the network's, or mark done).
    Decide {
        id: i64,
        #[arg(value_parser = ["take", "keep", "done"])]
        decision: String,
        #[arg(long, default_value = "")]
        note: String,
    },
}

pub fn run(conn: &mut db::DbConn, json_mode: bool, what: CollectCommand) -> Result<(), AppError> {
    let caller = Caller::cli(conn)?;
    match what {
        CollectCommand::Register { name, schools } => {
            let r = county::register(conn, &caller, &name, &schools)?;
            print(json_mode, json!(r), || {
                out!(
                    "已登记采集点“{}”（{}，学校 {}）。配对码（只显示这一次）：",
                    r.point.name,
                    r.point.county,
                    r.point.schools.join("、")
                );
                out!("{}", r.pairing_code);
            });
        }
        CollectCommand::Pair { code } => {
            let p = point::pair(conn, &caller, &code)?;
            print(json_mode, json!(p), || {
                out!("本机已作为采集点“{}”与 {} 配对，学校 {}。", p.point, p.county, p.schools.join("、"))
            });
        }
        CollectCommand::Export { out } => {
            let (made, counts, bytes) = point::export(conn, &caller)?;
            std::fs::write(&out, &bytes)
                .map_err(|e| AppError::invalid(ErrorCode::FileWrite, format!("无法写入 {}: {e}", out.display())))?;
            print(json_mode, json!({"made": made, "counts": counts}), || {
                out!(
                    "已生成第{}号采集包（{} 至 {}）：学生 {}（新登记 {}，照片 {}），学期 {}，就餐记录 {}，异动 {} → {}",
                    made.seq,
                    made.since,
                    made.cut,
                    counts.children,
                    counts.new_children,
                    counts.photos,
                    counts.terms,
                    counts.meal_days,
                    counts.status_changes,
                    out.display()
                )
            });
        }
        CollectCommand::Import { file } => {
            let (bytes, _) = read_input(&file)?;
            let r = county::import(conn, &caller, &bytes)?;
            let s = &r.summary;
            print(json_mode, json!(r), || {
                if r.again {
                    out!("{} 第{}号采集包此前已接收，未作改动。", r.point, r.seq);
                } else {
                    out!(
                        "已接收 {} 第{}号采集包：新登记 {}，更新 {}，无需改动 {}，照片 {}，修改记录 {}，学期 {}，就餐记录 {}；须人工处理 {} 项。",
                        r.point,
                        r.seq,
                        s.new_children,
                        s.updated_children,
                        s.unchanged_children,
                        s.photos,
                        s.history_rows,
                        s.terms,
                        s.meal_days,
                        s.items
                    );
                }
            });
        }
        CollectCommand::Items { open } => {
            let items = county::items(conn, &caller, open)?;
            print(json_mode, json!({"items": items}), || {
                for i in &items {
                    out!(
                        "{}\t{}#{}\t{}\t{}\t{}\t采集点：{}\t网络版：{}\t{}\t{}",
                        i.id,
                        i.point,
                        i.package_seq,
                        i.kind_label,
                        i.subject,
                        i.field_label,
                        i.theirs.as_deref().unwrap_or("—"),
                        i.ours.as_deref().unwrap_or("—"),
                        i.state_label,
                        i.note
                    );
                }
                out!("共 {} 项。", items.len());
            });
        }
        CollectCommand::Decide { id, decision, note } => {
            let d: Decision = decision.parse().map_err(|_| AppError::not_found())?;
            let i = county::decide(conn, &caller, id, d, &note)?;
            print(json_mode, json!(i), || out!("事项 {}：{}。", i.id, i.state_label));
        }
    }
    Ok(())
}
