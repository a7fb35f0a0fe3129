//! The `mealroll` command: serve, migrate, admin, audit, demo.

use std::process::ExitCode;

/// mimalloc: an import allocates row by row on one thread (cells, records, sealed fields) and
/// frees on another; glibc's malloc spent a sixth of the import's time on that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` that ends the program quietly when the reader has gone (`mealroll … | head`):
/// a closed pipe is not an error worth a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("无法写到标准输出：{e}");
            std::process::exit(1);
        }
    }};
}

mod cli;

use actix_web::{HttpServer, web};
use clap::{Parser, Subcommand};
use serde_json::json;

use mealroll::auth::Caller;
use mealroll::auth::service::{self as accounts, AccountAction, NewUser, UserFilter};
use mealroll::config::{Keys, Settings};
use mealroll::db::{self, Pool};
use mealroll::domain::key_lock::school_year_of;
use mealroll::domain::status::ChangeKind;
use mealroll::error::AppError;
use mealroll::exchange::jobs::Jobs;
use mealroll::registry::{promotion, status};
use mealroll::web::AppState;
use mealroll::{audit, demo, org};

#[derive(Parser)]
#[command(name = "mealroll", version, about = "营养改善计划实名制管理系统")]
struct Cli {
    /// Database URL: sqlite://PATH (default sqlite://data/mealroll.db) or postgres://…
    #[arg(long, global = true, env = "MEALROLL_DATABASE_URL")]
    db: Option<String>,
    /// Print machine-readable JSON instead of a summary.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and /api/v1.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "MEALROLL_BIND")]
        bind: Option<String>,
        /// Build (or refresh) the demo county first and print its logins.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and load the division list.
    Migrate,
    /// Write an encrypted, consistent backup of the whole database (safe while the server runs).
    Backup {
        /// The backup file to write.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Restore a backup into an empty database (--db; either backend), then verify it.
    Restore {
        /// The backup file, as `mealroll backup` wrote it.
        file: std::path::PathBuf,
    },
    /// Manage user accounts.
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// The keys that seal children's ID numbers, phones and records where they are stored.
    Keys {
        #[command(subcommand)]
        action: cli::keys::KeysCommand,
    },
    /// Build a realistic demo county (望谟县) with schools, classes, teachers and one login per role.
    Demo {
        /// Instead, write a filled registry template of --rows generated students to this file,
        /// for a new demo school (created with its classes) so the file imports as is.
        #[arg(long, value_name = "FILE")]
        template: Option<std::path::PathBuf>,
        /// Rows of the template file.
        #[arg(long, default_value_t = 1000, requires = "template")]
        rows: usize,
    },
    /// Import files.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Export files.
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
    /// Measure the performance targets of SPEC §13 on this machine (use the release build).
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Status changes (学籍异动) in batches from a file.
    Change {
        #[command(subcommand)]
        what: ChangeCommand,
    },
    /// The school year: year-end promotion and graduation.
    Year {
        #[command(subcommand)]
        what: YearCommand,
    },
    /// Compute a month's meal-subsidy entitlements for every programme school of a county, or
    /// with --term a semester's 一补 for every school.
    Entitle {
        #[arg(long)]
        county: String,
        /// YYYY-MM (meal subsidy).
        #[arg(long, required_unless_present = "term")]
        month: Option<String>,
        /// YYYY-1 or YYYY-2: the semester's 一补 instead.
        #[arg(long, conflicts_with = "month")]
        term: Option<String>,
        /// Close the month afterwards: later changes become adjustments in the next open month.
        #[arg(long)]
        close: bool,
    },
    /// Daily meal records (就餐日报).
    Meals {
        #[command(subcommand)]
        what: MealsCommand,
    },
    /// Inspection: the anomaly scan (SPEC §10).
    Inspect {
        #[command(subcommand)]
        what: InspectCommand,
    },
    /// A statutory report (SPEC §9) for an org and a period.
    Report {
        /// school-regular | county-regular | annual-execution | registry-overview | monthly-progress |
        /// disbursement-form
        name: String,
        #[arg(long)]
        org: String,
        /// A month YYYY-MM, a term YYYY-1|YYYY-2 or a school year YYYY.
        #[arg(long)]
        period: String,
        /// The report date YYYY-MM-DD (default: the period's end, or today if sooner).
        #[arg(long)]
        date: Option<String>,
        /// html | xlsx | pdf | json (default: from --out, else json).
        #[arg(long)]
        format: Option<String>,
        /// Write here instead of standard output (required for xlsx and pdf).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// The fund ledger: post, approve, reverse, verify the hash chains, close a month.
    Ledger {
        #[command(subcommand)]
        what: cli::ledger::LedgerCommand,
    },
    /// Beneficiary rosters (受益学生花名册): build and print.
    Roster {
        #[command(subcommand)]
        what: cli::roster::RosterCommand,
    },
    /// Data checks for clerks cleaning data.
    Check {
        #[command(subcommand)]
        what: CheckCommand,
    },
    /// Internal: parse one uploaded workbook (xlsx | xls) from standard input into row frames on
    /// standard output; the server and the import commands run this in a limited child process.
    #[command(hide = true, name = "parse-worker")]
    ParseWorker { kind: String },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import the registry template (.xlsx, .xls or UTF-8 CSV). All-or-nothing unless --partial.
    Students {
        file: std::path::PathBuf,
        /// Only rows of this school (学校标识码).
        #[arg(long)]
        school: Option<String>,
        /// Validate and report; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the valid rows even when others are rejected.
        #[arg(long)]
        partial: bool,
        /// New students' first day at school (YYYY-MM-DD) where the file has no 入校日期 column
        /// (default: today).
        #[arg(long)]
        enrolled_on: Option<String>,
        /// Why new students start long before today (required when they do; kept in the audit).
        #[arg(long, default_value = "")]
        backdate_reason: String,
    },
    /// Expenditures (学校标识码, 日期, 类别, 金额, 凭证号[, 摘要, 资金]), all or nothing.
    Expenditures {
        file: std::path::PathBuf,
        /// Post as this user (their school, the maker-checker rule).
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// Meals served (学校标识码, 月份, 供餐天数, 就餐人次), all or nothing.
    Meals { file: std::path::PathBuf },
    /// Daily meal records (学校标识码, 日期, 班级号, 就餐人数[, 缺勤学生, 更正原因]), all or nothing.
    MealDays {
        file: std::path::PathBuf,
        /// Record as this user (a school's nutrition officer: their school only).
        #[arg(long = "as")]
        as_user: Option<String>,
    },
}

#[derive(Subcommand)]
enum MealsCommand {
    /// Which schools of a county have reported a day's meals (就餐日报进度).
    Status {
        #[arg(long)]
        county: String,
        /// YYYY-MM-DD (default: today, Beijing time).
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// A school's (or one class's) students in the template layout.
    Students {
        #[arg(long)]
        school: String,
        #[arg(long)]
        class: Option<i64>,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Time a full import of a generated template with N rows into a fresh school.
    Import {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// Time building and printing (PDF) the roster of a generated school of N students.
    Roster {
        #[arg(long, default_value_t = 3_000)]
        rows: usize,
    },
    /// Time computing last month's entitlements for a county of N generated children.
    Entitle {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
    /// Time the county report over a generated county of N children with a year of entitlements.
    Report {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// Time the anomaly scan over a generated county of N children with a year of entitlements.
    Scan {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// Post a day's meal records for N generated schools of 10 classes through the HTTP API
    /// with C concurrent clients, each pausing P ms between requests (as officers do; 0 for the
    /// server's saturation); p50/p95/p99 per request.
    MealDays {
        #[arg(long, default_value_t = 10_000)]
        schools: usize,
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Each client's pause between its requests, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        pause_ms: u64,
    },
}

#[derive(Subcommand)]
enum InspectCommand {
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

// Parsed once per process; boxing the big variant would buy nothing.
#[derive(Subcommand)]
enum ChangeCommand {
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

#[derive(Subcommand)]
enum YearCommand {
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

#[derive(Subcommand)]
enum CheckCommand {
    /// Read one ID number per line on stdin; print `ID<TAB>ok` or `ID<TAB>CODE<TAB>message`.
    /// Exits non-zero when any line is invalid.
    Ids,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user; prints the initial password (and TOTP secret where the role needs one).
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// Org code: a division code (e.g. 522326) or a school code.
        #[arg(long)]
        org: String,
        /// Role code or label; repeat for several (三员 roles stand alone).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Initial password; generated when absent (then it must be changed at first login).
        #[arg(long)]
        password: Option<String>,
    },
    /// Give a user a new random password, to be changed at next login.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
    /// List users.
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::ParseWorker { kind } = &cli.command {
        return match mealroll::exchange::worker::Job::of_arg(kind).map(mealroll::exchange::worker::serve) {
            Some(Ok(())) => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MEALROLL_LOG")
                .unwrap_or_else(|_| "info,actix_server=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::debug!(error = ?e, "command failed");
            eprintln!("错误 [{}]: {}", e.code, e.message);
            for f in &e.fields {
                eprintln!("  - {}: {}", f.field, f.message);
            }
            ExitCode::FAILURE
        }
    }
}

/// The settings (with `--db`), the keys, the chain key installed and the migrated pool: what
/// every command opens, before anything is written.
fn connect(cli_db: &Option<String>) -> Result<(Settings, Keys, Pool), AppError> {
    let mut settings = Settings::load()?;
    if let Some(url) = cli_db {
        settings.database_url = url.clone();
    }
    let keys = Keys::load(&settings)?;
    audit::chain::install(&keys.chain)?;
    db::at_rest::install(&keys.fields);
    db::at_rest::follow_file(&settings.data_dir);
    let pool = db::connect(&settings.database_url, settings.pool_size)?;
    Ok((settings, keys, pool))
}

/// [`connect`], then the database bound to the key and its division tree loaded.
fn open(cli_db: &Option<String>) -> Result<(Settings, Keys, Pool), AppError> {
    let (settings, keys, pool) = connect(cli_db)?;
    let mut conn = pool.get()?;
    audit::chain::adopt(&mut conn, &keys.chain)?;
    if let Some(r) = db::at_rest::seal_once(&mut conn)?
        && r.total() > 0
    {
        tracing::info!(
            students = r.students,
            history = r.history,
            others = r.others,
            files = r.files,
            "sealed the rows written before encryption"
        );
    }
    org::seed::divisions(&mut conn)?;
    Ok((settings, keys, pool))
}

/// Restores into the --db database, which must be new: nothing is seeded into it first (the
/// backup's own key binding comes with its rows).
fn restore(cli_db: &Option<String>, json_mode: bool, file: &std::path::Path) -> Result<(), AppError> {
    let (settings, keys, pool) = connect(cli_db)?;
    let r = db::backup::restore(&mut *pool.get()?, &keys, &settings, file)?;
    print(json_mode, json!(r), || {
        out!(
            "已恢复 {} 张表共 {} 行（备份时间 {}，来自 {}）。",
            r.tables,
            r.rows,
            r.header.created_at,
            r.header.backend
        );
        out!(
            "行数与清单{}；审计日志 {} 条{}；资金台账 {} 笔分录{}。",
            if r.counts_match { "一致" } else { "不一致" },
            r.audit_rows,
            r.audit_broken.as_ref().map_or("，哈希链完整".to_owned(), |(id, why)| format!("，记录 #{id}：{why}")),
            r.ledger_entries,
            if r.ledger_broken.is_empty() {
                "，哈希链完整".to_owned()
            } else {
                format!("：{}", r.ledger_broken.join("；"))
            }
        );
        out!(
            "{}",
            if r.verified {
                "恢复测试通过，已记入审计日志。"
            } else {
                "恢复测试未通过，已记入审计日志。"
            }
        );
    });
    if !r.verified {
        return Err(AppError::conflict("backup.restore_unverified", "恢复后的数据未通过核验（见上）"));
    }
    Ok(())
}

/// A line for people, left out of `--json` output.
fn out_human(json_mode: bool, line: &str) {
    if !json_mode {
        out!("{line}");
    }
}

fn print(json_mode: bool, value: serde_json::Value, human: impl FnOnce()) {
    if json_mode {
        out!("{value}");
    } else {
        human();
    }
}

fn read_input(file: &std::path::Path) -> Result<(Vec<u8>, String), AppError> {
    let bytes = std::fs::read(file)
        .map_err(|e| AppError::invalid("file.read", format!("无法读取文件 {}: {e}", file.display())))?;
    Ok((bytes, file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()))
}

/// `check ids`: no database needed.
fn check_ids() -> Result<(), AppError> {
    use std::io::BufRead;
    let mut bad = 0usize;
    let mut total = 0usize;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| AppError::invalid("input.read", format!("无法读取输入: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        total += 1;
        match mealroll::domain::id_card::IdCardNo::parse(&line) {
            Ok(id) => out!("{}\tok", id.as_str()),
            Err(e) => {
                bad += 1;
                out!("{}\t{}\t{e}", line.trim(), e.code());
            }
        }
    }
    if bad > 0 {
        return Err(AppError::invalid("id.invalid_lines", format!("共{total}行，其中{bad}行身份证号无效")));
    }
    Ok(())
}

fn run(cli: Cli) -> Result<(), AppError> {
    if let Command::Check { what: CheckCommand::Ids } = cli.command {
        return check_ids();
    }
    if let Command::Restore { file } = &cli.command {
        return restore(&cli.db, cli.json, file);
    }
    let (mut settings, keys, pool) = open(&cli.db)?;
    let mut conn = pool.get()?;
    match cli.command {
        Command::Migrate => {
            let n = db::migrate(&mut conn)?;
            print(cli.json, json!({"migrated": true, "pending_applied": n}), || out!("数据库已是最新结构。"));
        }
        Command::Demo { template: Some(path), rows } => {
            let (school, classes) = mealroll::bench::prepare_school(&mut conn, rows)?;
            let bytes = mealroll::bench::template_file(&school, &classes, rows)?;
            std::fs::write(&path, &bytes)
                .map_err(|e| AppError::invalid("file.write", format!("无法写入 {}: {e}", path.display())))?;
            print(cli.json, json!({"file": path, "rows": rows, "school": school}), || {
                out!("已写出 {rows} 行学生模板：{}（学校标识码 {school}）", path.display())
            });
        }
        Command::Demo { template: None, .. } => {
            let report = demo::build(&mut conn, &keys)?;
            print_demo(cli.json, &report);
        }
        Command::Admin { action } => {
            let caller = Caller::cli(&mut conn)?;
            let now = mealroll::clock::now();
            match action {
                AdminCommand::CreateUser { username, name, org, roles, password } => {
                    let creds = accounts::create_user(
                        &mut conn,
                        &keys,
                        &caller,
                        &NewUser { username, display_name: name, org_code: org, roles, password: password.clone() },
                        now,
                    )?;
                    print(cli.json, json!(creds), || {
                        out!("已创建用户 {}", creds.username);
                        if password.is_none() {
                            out!("  初始密码: {}（首次登录须修改）", creds.password);
                        }
                        if let Some(s) = &creds.totp_secret {
                            out!("  动态口令密钥: {s}（请录入手机验证器）");
                        }
                    });
                }
                AdminCommand::ResetPassword { username } => {
                    let found = accounts::list_users(&mut conn, &caller, &UserFilter { q: username.clone() })?
                        .into_iter()
                        .find(|u| u.username == username)
                        .ok_or_else(|| AppError::invalid("user.unknown", format!("用户“{username}”不存在")))?;
                    let creds =
                        accounts::act_on_user(&mut conn, &keys, &caller, found.id, AccountAction::ResetPassword, now)?
                            .ok_or_else(|| AppError::internal_msg("user.reset", "未生成新密码".into()))?;
                    print(cli.json, json!(creds), || {
                        out!("{} 的新密码: {}（下次登录须修改）", username, creds.password)
                    });
                }
                AdminCommand::List => {
                    let users = accounts::list_users(&mut conn, &caller, &UserFilter::default())?;
                    print(cli.json, json!(users), || {
                        for u in &users {
                            out!(
                                "{:<20} {:<16} {:<24} {:<10} {}",
                                u.username,
                                u.display_name,
                                u.org_name,
                                u.status,
                                u.role_labels
                            );
                        }
                    });
                }
            }
        }
        Command::Backup { out } => {
            let made = db::backup::create(&mut conn, &keys, &out)?;
            let instance = audit::service::instance_path(&mut conn)?;
            audit::record_alone(
                &mut conn,
                &audit::Actor::cli(&instance),
                audit::Entry::new("backup.create", "backup", &made.file).after(&json!({
                    "sha256": made.sha256, "rows": made.rows, "audit_head": made.audit_head,
                })),
            )?;
            print(cli.json, json!(made), || {
                out!("备份已写入 {}（{} 字节，SHA-256 {}）", made.file, made.bytes, made.sha256);
                out!(
                    "时间 {}；{} 张表共 {} 行；审计日志至记录 #{}，资金账户 {} 个。",
                    made.header.created_at,
                    made.tables.len(),
                    made.rows,
                    made.audit_head,
                    made.ledger_accounts
                );
            });
        }
        Command::Restore { .. } => unreachable!("restored before the database is opened"),
        Command::Keys { action } => cli::keys::run(&mut conn, &settings, &keys, cli.json, action)?,
        Command::Audit { action: AuditCommand::Archive { before, out } } => {
            let day = mealroll::registry::status::parse_day("before", &before)?;
            let instance = audit::service::instance_path(&mut conn)?;
            let a = audit::archive::archive(&mut conn, &audit::Actor::cli(&instance), day, &out)?;
            print(cli.json, json!(a), || {
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
        Command::Audit { action: AuditCommand::Verify } => {
            let archived = match audit::archive::verify_archives(&mut conn)? {
                Ok(n) => n,
                Err(why) => {
                    print(cli.json, json!({"archives": why}), || out!("审计日志归档有问题：{why}"));
                    return Err(AppError::conflict("audit.tampered", format!("审计日志归档校验失败：{why}")));
                }
            };
            if archived > 0 {
                out_human(cli.json, &format!("归档文件 {archived} 条记录完整。"));
            }
            let anchor = audit::chain::anchor_of(&settings)?;
            let v = audit::service::verify(&mut conn, anchor.as_ref())?;
            if let Some((id, why)) = &v.first_broken {
                print(cli.json, json!(v), || out!("审计日志被改动：第一处问题在记录 #{id}：{why}"));
                return Err(AppError::conflict("audit.tampered", format!("审计日志记录 #{id} 校验失败：{why}")));
            }
            // A whole chain that holds moves the anchor to its head.
            let cp = audit::chain::checkpoint(&mut conn, &settings)?;
            print(
                cli.json,
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
                return Err(AppError::conflict("audit.tampered", format!("锚点核验失败：{b}")));
            }
        }
        Command::Check { .. } | Command::ParseWorker { .. } => {
            unreachable!("handled before the database is opened")
        }
        Command::Import { what: ImportCommand::Expenditures { file, as_user } } => {
            let (bytes, name) = read_input(&file)?;
            let caller = match as_user {
                Some(u) => Caller::cli_as(&mut conn, &u)?,
                None => Caller::cli(&mut conn)?,
            };
            let done = mealroll::ledger::import::expenditures(&mut conn, &caller, &bytes, &name)?;
            print(cli.json, json!(done), || {
                out!("{} 行：入账 {}，待审批 {}，此前已导入 {}", done.rows, done.posted, done.pending, done.repeated)
            });
        }
        Command::Import { what: ImportCommand::Meals { file } } => {
            let (bytes, name) = read_input(&file)?;
            let caller = Caller::cli(&mut conn)?;
            let n = mealroll::ledger::import::meals(&mut conn, &caller, &bytes, &name)?;
            print(cli.json, json!({"schools": n}), || out!("已导入 {n} 条就餐人次"));
        }
        Command::Import { what: ImportCommand::MealDays { file, as_user } } => {
            let (bytes, name) = read_input(&file)?;
            let caller = match as_user {
                Some(u) => Caller::cli_as(&mut conn, &u)?,
                None => Caller::cli(&mut conn)?,
            };
            let done = mealroll::meals::import::meal_days(&mut conn, &caller, &bytes, &name)?;
            print(cli.json, json!(done), || {
                out!(
                    "{} 行：写入 {} 个学校日，{} 个学校日在已结账月份、已提交县级审批",
                    done.rows,
                    done.days,
                    done.pending
                )
            });
        }
        Command::Meals { what: MealsCommand::Status { county, date } } => {
            let caller = Caller::cli(&mut conn)?;
            let day = match date {
                Some(d) => mealroll::registry::status::parse_day("date", &d)?,
                None => mealroll::clock::today(),
            };
            let (org, rows) = mealroll::meals::daily::board(&mut conn, &caller, &county, day)?;
            let done = rows.iter().filter(|r| r.classes > 0 && r.reported_classes == r.classes).count();
            print(cli.json, json!({"org": org.code, "day": day, "schools": rows}), || {
                out!("{} {day}：供餐学校 {} 所，已报齐 {done} 所", org.name, rows.len());
                for r in rows.iter().filter(|r| r.classes == 0 || r.reported_classes < r.classes) {
                    out!("  未报齐 {} {}：{}/{} 个班", r.school, r.name, r.reported_classes, r.classes);
                }
            });
        }
        Command::Import {
            what: ImportCommand::Students { file, school, dry_run, partial, enrolled_on, backdate_reason },
        } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| AppError::invalid("file.read", format!("无法读取文件 {}: {e}", file.display())))?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let caller = Caller::cli(&mut conn)?;
            let progress = |done: usize, stage: &str| eprintln!("{stage}：{done} 行");
            let enrolled_on =
                enrolled_on.as_deref().map(|d| mealroll::registry::status::parse_day("enrolled_on", d)).transpose()?;
            let opts = mealroll::exchange::import::ImportOptions { dry_run, partial, enrolled_on, backdate_reason };
            let r = mealroll::exchange::import::import_students(
                &mut conn,
                &caller,
                school.as_deref(),
                &bytes,
                &name,
                opts,
                &progress,
            )?;
            print(cli.json, json!(r), || {
                out!(
                    "共 {} 行：新增 {}，更新 {}，无变化 {}，有错误 {} 行。{}",
                    r.rows,
                    r.imported,
                    r.updated,
                    r.unchanged,
                    r.rejected,
                    if r.dry_run {
                        "（只校验，未写入）"
                    } else if r.committed {
                        "已写入。"
                    } else {
                        "因存在错误，未写入任何数据。"
                    }
                );
                for e in &r.errors {
                    out!("  {} 第{}行 {}：[{}] {}", e.sheet, e.row, e.column, e.code, e.message);
                }
            });
            if !r.errors.is_empty() {
                return Err(AppError::invalid("import.rejected", format!("{} 行被拒绝", r.rejected.max(1))));
            }
        }
        Command::Export { what: ExportCommand::Students { school, class, out } } => {
            let caller = Caller::cli(&mut conn)?;
            let bytes = mealroll::exchange::import::export_students(&mut conn, &caller, &school, class)?;
            std::fs::write(&out, &bytes)
                .map_err(|e| AppError::invalid("file.write", format!("无法写入 {}: {e}", out.display())))?;
            print(cli.json, json!({"out": out, "bytes": bytes.len()}), || out!("已导出到 {}", out.display()));
        }
        Command::Bench { what } => {
            let result = match what {
                BenchCommand::Import { rows } => mealroll::bench::import(&mut conn, rows)?,
                BenchCommand::Roster { rows } => mealroll::bench::roster(&mut conn, rows)?,
                BenchCommand::Report { rows } => mealroll::bench::report(&mut conn, rows)?,
                BenchCommand::Entitle { rows } => mealroll::bench::entitle(&mut conn, rows)?,
                BenchCommand::Scan { rows } => mealroll::bench::scan(&mut conn, rows)?,
                BenchCommand::MealDays { schools, clients, pause_ms } => {
                    mealroll::bench::meal_days(&pool, &settings, &keys, schools, clients, pause_ms)?
                }
            };
            print(cli.json, json!(result), || {
                let detail = if result.detail.is_null() { String::new() } else { format!("，{}", result.detail) };
                out!(
                    "bench {}: n = {}，{:.3} 秒，峰值内存 {} MB{detail}",
                    result.bench,
                    result.n,
                    result.seconds,
                    result.peak_rss_mb
                )
            });
        }
        Command::Roster { what } => cli::roster::run(&mut conn, cli.json, what)?,
        Command::Inspect { what: InspectCommand::Scan { org, period, rules } } => {
            use mealroll::inspection::scan;
            let caller = Caller::cli(&mut conn)?;
            let span =
                mealroll::domain::calendar::Span::parse(&period).map_err(|m| AppError::invalid("period.format", m))?;
            let found = scan::scan(&mut conn, &caller, &org, &span, &scan::rules_from(&rules)?)?;
            print(cli.json, json!(found), || {
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
        Command::Inspect {
            what: InspectCommand::Sample { org, period, schools, students, seed, method, risk_share },
        } => {
            use mealroll::inspection::sample::{self, AskForm};
            let caller = Caller::cli(&mut conn)?;
            let term = if period.trim().is_empty() {
                mealroll::domain::term::Term::of_day(mealroll::clock::today()).to_string()
            } else {
                period
            };
            let ask = AskForm { org, term, schools, students, seed, method, risk_share }.parse()?;
            let drawn = sample::draw(&mut conn, &caller, &ask)?;
            print(cli.json, json!(drawn), || {
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
        Command::Inspect { what: InspectCommand::Refresh { org, term } } => {
            let caller = Caller::cli(&mut conn)?;
            let t = mealroll::domain::term::Term::parse(&term).map_err(|e| AppError::invalid("term.format", e))?;
            let county = mealroll::org::service::org_in_scope(&mut conn, caller.scope(), &org)?;
            if county.kind != mealroll::domain::role::OrgKind::County {
                return Err(AppError::invalid(
                    "anomaly.refresh_level",
                    format!("“{org}”不是县级单位：重新扫描按县进行"),
                ));
            }
            let done = mealroll::inspection::flags::refresh(&mut conn, &county, t)?;
            print(cli.json, json!(done), || {
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
        Command::Ledger { what } => cli::ledger::run(&mut conn, cli.json, &settings, what)?,
        Command::Entitle { county, term: Some(term), close, .. } => {
            use mealroll::ledger::yibu;
            let caller = Caller::cli(&mut conn)?;
            let t = mealroll::domain::term::Term::parse(&term).map_err(|e| AppError::invalid("term.format", e))?;
            let mut periods = yibu::compute_all(&mut conn, &caller, &county, t)?;
            if close {
                // A run killed part-way closed some schools already: those stay as they are.
                periods = periods
                    .into_iter()
                    .map(|p| if p.closed { Ok(p) } else { yibu::close(&mut conn, &caller, &p.school, t) })
                    .collect::<Result<_, _>>()?;
            }
            print(cli.json, json!(periods), || {
                for p in &periods {
                    out!(
                        "{} {} {} 一补：{} 人，学期供餐 {} 天，{} 元{}",
                        p.school,
                        p.name,
                        p.term,
                        p.students,
                        p.term_days,
                        p.amount,
                        if p.adjustment.fen() != 0 {
                            format!("，另调整 {} 元", p.adjustment)
                        } else {
                            String::new()
                        }
                    );
                }
            });
        }
        Command::Entitle { county, month, close, .. } => {
            use mealroll::ledger::entitlement;
            let month = month.unwrap_or_default();
            let caller = Caller::cli(&mut conn)?;
            let m =
                mealroll::domain::calendar::Month::parse(&month).map_err(|e| AppError::invalid("month.format", e))?;
            let mut periods = entitlement::compute_all(&mut conn, &caller, &county, m)?;
            if close {
                // A run killed part-way closed some schools already: those stay as they are.
                periods = periods
                    .into_iter()
                    .map(|p| if p.closed { Ok(p) } else { entitlement::close(&mut conn, &caller, &p.school, m) })
                    .collect::<Result<_, _>>()?;
            }
            print(cli.json, json!(periods), || {
                for p in &periods {
                    out!(
                        "{} {} {}：{} 人，{} 人·天，{} 元{}",
                        p.school,
                        p.name,
                        p.month,
                        p.students,
                        p.beneficiary_days,
                        p.amount,
                        if p.adjustment.fen() != 0 {
                            format!("，另调整 {} 元", p.adjustment)
                        } else {
                            String::new()
                        }
                    );
                }
            });
        }
        Command::Report { name, org, period, date, format, out } => {
            use mealroll::reports::render::{self, OutputFormat};
            let period =
                mealroll::domain::calendar::Span::parse(&period).map_err(|e| AppError::invalid("period.format", e))?;
            let date = date
                .map(|d| {
                    chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                        .map_err(|_| AppError::invalid("report.date", format!("报表日“{d}”应写作 YYYY-MM-DD")))
                })
                .transpose()?;
            let by_out = out.as_ref().and_then(|o| o.extension()).and_then(|e| e.to_str()).unwrap_or("json");
            let f = OutputFormat::parse(format.as_deref().unwrap_or(by_out))
                .map_err(|e| AppError::invalid("report.format", e))?;
            let caller = Caller::cli(&mut conn)?;
            // The 资金拨付审批表 is the reconciliation's own form (SPEC §12 lists it with the reports).
            let (bytes, file_name) = if name == "disbursement-form" {
                use mealroll::exchange::disbursement;
                let r = mealroll::ledger::reconcile::county_period(
                    &mut conn,
                    &caller,
                    &org,
                    &period,
                    mealroll::domain::ledger::Fund::Meal,
                )?;
                match f {
                    OutputFormat::Pdf | OutputFormat::Xlsx => {
                        let (bytes, _, name) = disbursement::export(&mut conn, &caller, &r, f.extension())?;
                        (bytes, name)
                    }
                    _ => (
                        serde_json::to_vec_pretty(&r).map_err(AppError::internal)?,
                        format!("disbursement-form-{}-{}.{}", r.county, r.month, f.extension()),
                    ),
                }
            } else {
                let req = mealroll::reports::service::Request { name, org, period, date };
                render::export(&mut conn, &caller, &req, f)?
            };
            match out {
                Some(out) => {
                    std::fs::write(&out, &bytes)
                        .map_err(|e| AppError::invalid("file.write", format!("无法写入 {}: {e}", out.display())))?;
                    eprintln!("已写入 {}（{}，{} 字节）", out.display(), file_name, bytes.len());
                }
                None if matches!(f, OutputFormat::Xlsx | OutputFormat::Pdf) => {
                    return Err(AppError::invalid("report.out", "xlsx 和 pdf 格式需要 --out 文件"));
                }
                None => {
                    use std::io::Write;
                    let _ = std::io::stdout().write_all(&bytes);
                }
            }
        }
        Command::Change { what } => {
            let (kind, file, dry_run) = match what {
                ChangeCommand::Suspend { file, dry_run } => (ChangeKind::Suspend, file, dry_run),
                ChangeCommand::Resume { file, dry_run } => (ChangeKind::Resume, file, dry_run),
            };
            let bytes = std::fs::read(&file)
                .map_err(|e| AppError::invalid("file.read", format!("无法读取文件 {}: {e}", file.display())))?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let lines = mealroll::exchange::change_file::read(&bytes, &name)?;
            let caller = Caller::cli(&mut conn)?;
            match status::batch(&mut conn, &caller, kind, &lines, dry_run)? {
                Ok(n) => print(
                    cli.json,
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
                    print(cli.json, json!({"kind": kind.code(), "applied": 0, "errors": errors}), || {
                        for e in &errors {
                            out!("  第{}行 {}：[{}] {}", e.row, e.column, e.code, e.message);
                        }
                    });
                    return Err(AppError::invalid(
                        "change.batch_refused",
                        format!("{} 行被拒绝，整批未办理", errors.len()),
                    ));
                }
            }
        }
        Command::Year { what } => {
            let caller = Caller::cli(&mut conn)?;
            match what {
                YearCommand::Promote { county, year, date, repeat, dry_run } => {
                    let repeaters = repeat
                        .iter()
                        .map(|r| {
                            let (no, class) = r.split_once(':').ok_or_else(|| {
                                AppError::invalid("promotion.repeat_format", format!("留级“{r}”应写作 学籍号:班号"))
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
                    let plan = promotion::promote(&mut conn, &caller, &input)?;
                    print(cli.json, json!(plan), || {
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
                    let v = promotion::confirm(&mut conn, &caller, id)?;
                    print(cli.json, json!(v), || out!("升级任务 {id} 已确认，不可再撤销。"));
                }
                YearCommand::Undo { id } => {
                    let v = promotion::undo(&mut conn, &caller, id)?;
                    print(cli.json, json!(v), || out!("升级任务 {id} 已撤销。"));
                }
            }
        }
        Command::Serve { bind, demo: with_demo } => {
            if let Some(b) = bind {
                settings.bind = b;
            }
            if with_demo {
                let report = demo::build(&mut conn, &keys)?;
                print_demo(cli.json, &report);
            }
            drop(conn);
            serve(settings, keys, pool)?;
        }
    }
    Ok(())
}

fn print_demo(json_mode: bool, report: &demo::DemoReport) {
    print(json_mode, json!(report), || {
        out!("演示县 {}（贵州省黔西南州望谟县）：{} 所学校", report.county, report.schools.len());
        out!("登录账号（密码每次运行演示时重新生成）：");
        for u in &report.users {
            let totp = u
                .totp_secret
                .as_ref()
                .map(|s| format!("  动态口令密钥 {s}（当前口令 {}）", demo::current_code(s)))
                .unwrap_or_default();
            out!("  {:<16} {:<20} {:<18} {}{}", u.username, u.password, u.role, u.org, totp);
        }
    });
}

/// Checks the chains' new rows and moves their anchor now and every `anchor_minutes`, for as long as
/// the server runs. A break is logged loudly and leaves the anchor where it was.
fn anchor_chains(pool: Pool, settings: Settings) {
    std::thread::spawn(move || {
        loop {
            match pool.get().map_err(AppError::from).and_then(|mut c| audit::chain::checkpoint(&mut c, &settings)) {
                Ok(cp) if cp.written => tracing::debug!(rows = cp.audit_rows_checked, "chain anchor moved"),
                Ok(cp) => tracing::error!(breaks = ?cp.breaks, "哈希链与锚点不符，锚点未更新"),
                Err(e) => tracing::error!(error = %e, "chain checkpoint failed"),
            }
            std::thread::sleep(std::time::Duration::from_secs(settings.anchor_minutes.max(1) * 60));
        }
    });
}

/// Takes a backup now and every `backup.every_hours`, keeping the newest `backup.keep`.
fn back_up_on_schedule(pool: Pool, keys: Keys, settings: Settings) {
    let dir = std::path::PathBuf::from(settings.backup.dir.trim());
    std::thread::spawn(move || {
        loop {
            let taken = std::fs::create_dir_all(&dir)
                .map_err(|e| AppError::internal_msg("backup.io", format!("无法创建备份目录 {}: {e}", dir.display())))
                .and_then(|_| pool.get().map_err(AppError::from))
                .and_then(|mut c| {
                    let made = db::backup::create(&mut c, &keys, &db::backup::scheduled_name(&dir))?;
                    let instance = audit::service::instance_path(&mut c)?;
                    audit::record_alone(
                        &mut c,
                        &audit::Actor::cli(&instance),
                        audit::Entry::new("backup.create", "backup", &made.file)
                            .after(&json!({"sha256": made.sha256, "rows": made.rows, "scheduled": true})),
                    )?;
                    db::backup::prune(&dir, settings.backup.keep)?;
                    Ok(made)
                });
            match taken {
                Ok(made) => tracing::info!(file = %made.file, rows = made.rows, "scheduled backup written"),
                Err(e) => tracing::error!(error = %e, "定时备份失败"),
            }
            std::thread::sleep(std::time::Duration::from_secs(settings.backup.every_hours.max(1) * 3600));
        }
    });
}

fn serve(settings: Settings, keys: Keys, pool: Pool) -> Result<(), AppError> {
    let bind = settings.bind.clone();
    anchor_chains(pool.clone(), settings.clone());
    if !settings.backup.dir.trim().is_empty() {
        back_up_on_schedule(pool.clone(), keys.clone(), settings.clone());
    }
    let jobs = Jobs::new(
        pool.clone(),
        &mealroll::config::server_id(&settings)?,
        std::time::Duration::from_secs(settings.jobs_keep_hours * 3600),
    );
    let cut_short = jobs.recover()?;
    if cut_short > 0 {
        tracing::warn!(jobs = cut_short, "jobs this server was running when it stopped are marked failed");
    }
    let state =
        mealroll::app::Shared { state: web::Data::new(AppState { pool, settings, keys }), jobs: web::Data::new(jobs) };
    let rt = actix_web::rt::System::new();
    rt.block_on(async move {
        let server = HttpServer::new(move || mealroll::app::app(state.clone()))
            .bind(&bind)
            .map_err(|e| AppError::internal_msg("serve.bind", format!("无法监听 {bind}: {e}")))?;
        out!("mealroll 已启动: http://{bind}/");
        server.run().await.map_err(|e| AppError::internal_msg("serve.run", format!("服务异常退出: {e}")))
    })
}
