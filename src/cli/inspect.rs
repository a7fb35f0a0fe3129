//! `mealroll inspect`: the anomaly scan, a spot-check sample and a county's rescan.

use clap::Subcommand;
use serde_json::json;

use crate::print;
use mealroll::auth::Caller;
use mealroll::db;
use mealroll::error::{AppError, ErrorCode};

#[derive(Subcommand)]
pub enum InspectCommand {
    /// Run the anomaly rules over an org's schools for a period; exits 0 whenever the scan ran.
    Scan {
        /// A county's division code or a 学校标识码.
        #[arg(long)]
        org: String,
        /// A month YYYY-MM, a term YYYY-1|YYYY-2 or a school year YYYY.
        #[arg(long)]
        period: String,
        /// Rule codes, comma-separated (default: every rule).
        #[arg(long, default_value = "")]
        rules: String,
    },
    /// Draw a spot-check sample of a county's programme schools and their children; the same
    /// seed on the same data draws the same sample.
    Sample {
        /// A county's division code.
        #[arg(long)]
        org: String,
        /// A term YYYY-1|YYYY-2 (default: this term).
        #[arg(long, default_value = "")]
        period: String,
        /// How many schools.
        #[arg(long)]
        schools: String,
        /// How many children in each school.
        #[arg(long)]
        students: String,
        /// The seed (a whole number), recorded with the sample.
        #[arg(long)]
        seed: String,
        /// random | risk | mixed.
        #[arg(long, default_value = "mixed")]
        method: String,
        /// Percent of the schools mixed sampling draws by risk.
        #[arg(long, default_value = "60")]
        risk_share: String,
    },
    /// Scan a county's term and store its flags (new ones open, corrected ones close).
    Refresh {
        /// A county's division code.
        #[arg(long)]
        org: String,
        /// A term YYYY-1|YYYY-2.
        #[arg(long)]
        term: String,
    },
}

/// Runs one `mealroll inspect` subcommand.
pub fn run(conn: &mut db::DbConn, json_mode: bool, what: InspectCommand) -> Result<(), AppError> {
    match what {
        InspectCommand::Scan { org, period, rules } => {
            use mealroll::inspection::scan;
            let caller = Caller::cli(conn)?;
            let span = mealroll::domain::calendar::Span::parse(&period)
                .map_err(|m| AppError::invalid(ErrorCode::PeriodFormat, m))?;
            let found = scan::scan(conn, &caller, &org, &span, &scan::rules_from(&rules)?)?;
            print(json_mode, json!(found), || {
                out!(
                    "{} {} 异常扫描：运行规则 {}，发现 {} 条",
                    found.org_name,
                    found.period,
                    found.rules.join(","),
                    found.flags.len()
                );
                if !found.not_run.is_empty() {
                    out!("  缺少所需数据、未运行：{}", found.not_run.join(","));
                }
                for f in &found.flags {
                    out!(
                        "  {} {} {} {} {}",
                        f.rule,
                        f.school,
                        f.student_no.as_deref().unwrap_or("-"),
                        f.amount.as_deref().unwrap_or("-"),
                        f.message
                    );
                }
            });
        }
        InspectCommand::Sample { org, period, schools, students, seed, method, risk_share } => {
            use mealroll::inspection::sample::{self, AskForm};
            let caller = Caller::cli(conn)?;
            let term = if period.trim().is_empty() {
                mealroll::domain::term::Term::of_day(mealroll::clock::today()).to_string()
            } else {
                period
            };
            let ask = AskForm { org, term, schools, students, seed, method, risk_share }.parse()?;
            let drawn = sample::draw(conn, &caller, &ask)?;
            print(json_mode, json!(drawn), || {
                out!(
                    "{} {} 抽查样本（{}，种子 {}，数据校验 {}）",
                    drawn.org,
                    drawn.term,
                    drawn.method.label(),
                    drawn.seed,
                    &drawn.data_hash[..16]
                );
                for s in &drawn.schools {
                    let risk = s.risk.map_or("随机".to_owned(), |r| format!("风险 {r:.2}"));
                    out!("  {} {} 学生 {}", s.school, risk, s.students.join(" "));
                }
            });
        }
        InspectCommand::Refresh { org, term } => {
            let caller = Caller::cli(conn)?;
            let t =
                mealroll::domain::term::Term::parse(&term).map_err(|e| AppError::invalid(ErrorCode::TermFormat, e))?;
            let county = mealroll::org::service::org_in_scope(conn, caller.scope(), &org)?;
            if county.kind != mealroll::domain::role::OrgKind::County {
                return Err(AppError::invalid(
                    ErrorCode::AnomalyRefreshLevel,
                    format!("“{org}”不是县级单位：重新扫描按县进行"),
                ));
            }
            let done = mealroll::inspection::flags::refresh(conn, &county, t)?;
            print(json_mode, json!(done), || {
                out!(
                    "{} {} 重新扫描：新增 {}，仍存在 {}，自动消除 {}，再次出现 {}",
                    county.name,
                    t.label(),
                    done.raised,
                    done.held,
                    done.closed,
                    done.recurred
                );
            });
        }
    }
    Ok(())
}
