//! `mealroll roster`: build a school's beneficiary roster for a term, and print it.

use clap::Subcommand;
use serde_json::json;

use crate::print;
use mealroll::auth::Caller;
use mealroll::db;
use mealroll::error::{AppError, ErrorCode};

#[derive(Subcommand)]
pub enum RosterCommand {
    /// Build a school's roster for a term from the registry (a new version when it changed).
    Build {
        #[arg(long)]
        school: String,
        /// YYYY-1 (autumn) or YYYY-2 (spring).
        #[arg(long)]
        term: String,
        /// Snapshot date; default 15 September / 1 March.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Build a new version although the term's roster is archived (备案).
        #[arg(long)]
        after_archive: bool,
    },
    /// Print a school's newest roster (or --version N) to FILE.pdf or FILE.xlsx.
    Print {
        #[arg(long)]
        school: String,
        #[arg(long)]
        term: String,
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long)]
        version: Option<i32>,
        /// The public-notice list (公示): name, sex, grade, class and meal model only.
        #[arg(long)]
        public: bool,
    },
}

pub fn run(conn: &mut db::DbConn, json_mode: bool, what: RosterCommand) -> Result<(), AppError> {
    use mealroll::domain::term::Term;
    use mealroll::exchange::roster_print::{self, FileFormat, Kind};
    use mealroll::programme::roster;
    let caller = Caller::cli(conn)?;
    let term_of = |t: &str| Term::parse(t).map_err(|m| AppError::invalid(ErrorCode::TermFormat, m));
    match what {
        RosterCommand::Build { school, term, date, after_archive } => {
            let after = if after_archive { roster::AfterArchive::Confirmed } else { roster::AfterArchive::Refuse };
            let built = roster::build(conn, &caller, &school, term_of(&term)?, date, after)?;
            let (head, lines) = roster::get(conn, &caller, built.roster.id)?;
            let students: Vec<_> = lines.iter().map(|l| json!({"student_no": l.student_no, "name": l.name})).collect();
            print(
                json_mode,
                json!({"school": head.school_code, "term": head.term, "version": head.version, "hash": head.hash,
                       "count": head.count, "snapshot_date": head.snapshot_date, "created": built.created,
                       "status": head.status, "diff": head.diff, "warning": built.warning, "students": students}),
                || {
                    out!(
                        "{} {} 花名册第{}版{}：{} 人，统计日期 {}，校验码 {}",
                        head.school_name,
                        head.term_label,
                        head.version,
                        if built.created { "已生成" } else { "（内容未变，沿用）" },
                        head.count,
                        head.snapshot_date,
                        head.hash
                    );
                    if let Some(w) = &built.warning {
                        out!("  注意：{w}");
                    }
                    if head.diff.from_archived {
                        out!("  与第{}版（最近备案版本）相比：", head.diff.from_version);
                    }
                    for e in &head.diff.joined {
                        out!("  新增 {} {} {}", e.student_no, e.name, e.reason);
                    }
                    for e in &head.diff.left {
                        out!("  移出 {} {} {}", e.student_no, e.name, e.reason);
                    }
                    for e in &head.diff.changed {
                        out!("  变更 {} {} {}", e.student_no, e.name, e.reason);
                    }
                },
            );
        }
        RosterCommand::Print { school, term, out, version, public } => {
            let format = FileFormat::of(&out.to_string_lossy())
                .ok_or_else(|| AppError::invalid(ErrorCode::RosterPrintFormat, "输出文件应以 .pdf 或 .xlsx 结尾"))?;
            let versions = roster::versions(conn, &caller, &school, term_of(&term)?)?;
            let head = match version {
                Some(v) => versions.into_iter().find(|h| h.version == v),
                None => versions.into_iter().next(),
            }
            .ok_or_else(|| {
                AppError::invalid(
                    ErrorCode::RosterNone,
                    format!("学校{school}在{term}没有该版本的花名册，请先 roster build"),
                )
            })?;
            let kind = if public { Kind::Public } else { Kind::Signed };
            let (_, bytes) = roster_print::render(conn, &caller, head.id, kind, format, true)?;
            std::fs::write(&out, &bytes)
                .map_err(|e| AppError::invalid(ErrorCode::FileWrite, format!("无法写入 {}: {e}", out.display())))?;
            print(
                json_mode,
                json!({"file": out, "bytes": bytes.len(), "version": head.version, "hash": head.hash, "count": head.count}),
                || out!("已打印 {} 第{}版（{} 人）到 {}", head.school_name, head.version, head.count, out.display()),
            );
        }
    }
    Ok(())
}
