//! `mealroll central`: exchange packages between a province and the centre (跨省查重).

use clap::Subcommand;
use serde_json::json;

use crate::{print, read_input};
use mealroll::auth::Caller;
use mealroll::central::{self, centre, province};
use mealroll::config::{Keys, Settings};
use mealroll::db;
use mealroll::domain::calendar::Span;
use mealroll::error::{AppError, ErrorCode};

#[derive(Subcommand)]
pub enum CentralCommand {
    /// The public key this instance signs with: a province's (give it to the centre to
    /// register), or with --centre the centre's (for the provinces' MEALROLL_CENTRE_KEY).
    Key {
        #[arg(long, required_unless_present = "centre")]
        province: Option<String>,
        #[arg(long, conflicts_with = "province")]
        centre: bool,
    },
    /// A province: make and sign the package of a period for the centre.
    Export {
        /// The province's division code (520000).
        #[arg(long)]
        province: String,
        /// A month YYYY-MM, a term YYYY-1|YYYY-2 or a school year YYYY.
        #[arg(long)]
        period: String,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// A province: take the centre's package back (its children found in another province).
    Receive { file: std::path::PathBuf },
    /// The centre: register a province's public key.
    Register {
        #[arg(long)]
        province: String,
        #[arg(long)]
        key: String,
    },
    /// The centre: take a province's package (idempotent; refused whole when anything is wrong).
    Import { file: std::path::PathBuf },
    /// The centre: the package back to a province (its children found in another).
    Return {
        #[arg(long)]
        province: String,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// The centre: children two provinces hold on common days.
    Claims {
        #[arg(long)]
        province: Option<String>,
    },
    /// The centre: the national roll-up of a period from the provinces' packages.
    Rollup {
        #[arg(long)]
        period: String,
    },
}

fn write(path: &std::path::Path, bytes: &[u8]) -> Result<(), AppError> {
    std::fs::write(path, bytes)
        .map_err(|e| AppError::invalid(ErrorCode::FileWrite, format!("无法写入 {}: {e}", path.display())))
}

fn period(s: &str) -> Result<Span, AppError> {
    Span::parse(s).map_err(|m| AppError::field("period", ErrorCode::PeriodFormat, m))
}

pub fn run(
    conn: &mut db::DbConn,
    settings: &Settings,
    keys: &Keys,
    json_mode: bool,
    what: CentralCommand,
) -> Result<(), AppError> {
    let caller = Caller::cli(conn)?;
    match what {
        CentralCommand::Key { province, .. } => {
            let key = match &province {
                Some(p) => centre::province_public_key(keys, p),
                None => centre::centre_public_key(keys),
            };
            print(json_mode, json!({"province": province, "public_key": key}), || out!("{key}"));
        }
        CentralCommand::Export { province: p, period: s, out } => {
            let national = central::national_key(settings)?;
            let (made, bytes) = province::export(conn, &caller, keys, &national, &p, &period(&s)?)?;
            write(&out, &bytes)?;
            print(json_mode, json!(made), || {
                out!(
                    "已生成 {} {} 第{}号交换包：{} 名学生，{} 个县月汇总 → {}",
                    made.province,
                    made.period,
                    made.seq,
                    made.children,
                    made.counties,
                    out.display()
                );
                if made.without_id > 0 {
                    out!("另有 {} 名在校学生没有有效身份证件号码，无法参加全国比对。", made.without_id);
                }
            });
        }
        CentralCommand::Receive { file } => {
            let national = central::national_key(settings)?;
            let (bytes, _) = read_input(&file)?;
            let r = province::receive(conn, &caller, settings.centre_key.as_deref(), &national, &bytes)?;
            print(json_mode, json!(r), || {
                if r.again {
                    out!("中心第{}号返回包此前已接收，未作改动。", r.seq);
                } else {
                    out!(
                        "已接收中心第{}号返回包：{} 名本省学生在外省有重复学籍，异常扫描将列为 A01。",
                        r.seq,
                        r.matches
                    );
                }
            });
        }
        CentralCommand::Register { province: p, key } => {
            let r = centre::register(conn, &caller, &p, &key)?;
            print(json_mode, json!(r), || out!("已登记 {}（{}）的签名公钥。", r.name, r.code));
        }
        CentralCommand::Import { file } => {
            let national = central::national_key(settings)?;
            let (bytes, _) = read_input(&file)?;
            let r = centre::import(conn, &caller, &national, &bytes)?;
            print(json_mode, json!(r), || {
                if r.again {
                    out!("{} 第{}号交换包此前已接收，未作改动。", r.province, r.seq);
                } else {
                    out!(
                        "已接收 {} {} 第{}号交换包：{} 名学生；与外省重复 {} 人。",
                        r.province,
                        r.period,
                        r.seq,
                        r.children,
                        r.claims
                    );
                }
            });
        }
        CentralCommand::Return { province: p, out } => {
            let national = central::national_key(settings)?;
            let (made, bytes) = centre::make_return(conn, &caller, keys, &national, &p)?;
            write(&out, &bytes)?;
            print(json_mode, json!(made), || {
                out!(
                    "已生成返回 {} 的第{}号交换包：{} 名学生 → {}",
                    made.province,
                    made.seq,
                    made.matches,
                    out.display()
                )
            });
        }
        CentralCommand::Claims { province: p } => {
            let found = centre::claims(conn, &caller, p.as_deref())?;
            print(json_mode, json!({"claims": found}), || {
                for c in &found {
                    out!(
                        "{}\t{}{}\t{}{}\t在籍 {}\t补助 {}",
                        c.key,
                        c.province_a_name,
                        c.province_a,
                        c.province_b_name,
                        c.province_b,
                        c.active.label(),
                        c.paid.label()
                    );
                }
                out!("共 {} 名学生在两省同时在籍或受助。", found.len());
            });
        }
        CentralCommand::Rollup { period: s } => {
            let rows = centre::rollup(conn, &caller, &period(&s)?)?;
            print(json_mode, json!({"period": s, "rows": rows}), || {
                for r in &rows {
                    out!(
                        "{} {}\t{}\t{} 个县\t受益 {} 人\t就餐 {} 人次\t应补 {}\t下拨 {}\t支出 {}",
                        r.province,
                        r.name,
                        r.month,
                        r.counties,
                        r.beneficiaries,
                        r.meals,
                        r.entitled,
                        r.allocated,
                        r.spent
                    );
                }
            });
        }
    }
    Ok(())
}
