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
use clap::Parser;
use serde_json::json;

use mealroll::auth::Caller;
use mealroll::config::{Keys, Settings};
use mealroll::db::{self, Pool};
use mealroll::error::{AppError, ErrorCode};
use mealroll::exchange::jobs::Jobs;
use mealroll::web::AppState;
use mealroll::{audit, demo, org};

use cli::args::{BenchCommand, CheckCommand, Cli, Command, ExportCommand, ImportCommand, MealsCommand};

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
        return Err(AppError::conflict(ErrorCode::BackupRestoreUnverified, "恢复后的数据未通过核验（见上）"));
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
        .map_err(|e| AppError::invalid(ErrorCode::FileRead, format!("无法读取文件 {}: {e}", file.display())))?;
    Ok((bytes, file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()))
}

/// `check ids`: no database needed.
fn check_ids() -> Result<(), AppError> {
    use std::io::BufRead;
    let mut bad = 0usize;
    let mut total = 0usize;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| AppError::invalid(ErrorCode::InputRead, format!("无法读取输入: {e}")))?;
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
        return Err(AppError::invalid(ErrorCode::IdInvalidLines, format!("共{total}行，其中{bad}行身份证号无效")));
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
                .map_err(|e| AppError::invalid(ErrorCode::FileWrite, format!("无法写入 {}: {e}", path.display())))?;
            print(cli.json, json!({"file": path, "rows": rows, "school": school}), || {
                out!("已写出 {rows} 行学生模板：{}（学校标识码 {school}）", path.display())
            });
        }
        Command::Demo { template: None, .. } => {
            let report = demo::build(&mut conn, &keys)?;
            print_demo(cli.json, &report);
        }
        Command::Admin { action: what } => cli::admin::run(&mut conn, &keys, cli.json, what)?,
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
        Command::Audit { action: what } => cli::audit::run(&mut conn, &settings, cli.json, what)?,
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
                .map_err(|e| AppError::invalid(ErrorCode::FileRead, format!("无法读取文件 {}: {e}", file.display())))?;
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
                return Err(AppError::invalid(ErrorCode::ImportRejected, format!("{} 行被拒绝", r.rejected.max(1))));
            }
        }
        Command::Export { what: ExportCommand::Students { school, class, out } } => {
            let caller = Caller::cli(&mut conn)?;
            let bytes = mealroll::exchange::import::export_students(&mut conn, &caller, &school, class)?;
            std::fs::write(&out, &bytes)
                .map_err(|e| AppError::invalid(ErrorCode::FileWrite, format!("无法写入 {}: {e}", out.display())))?;
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
                BenchCommand::Province { children, clients, pause_ms, requests } => {
                    let o = mealroll::bench::ProvinceOptions { children, clients, pause_ms, requests };
                    mealroll::bench::province(&pool, &settings, &keys, &o)?
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
        Command::Inspect { what } => cli::inspect::run(&mut conn, cli.json, what)?,
        Command::Central { what } => cli::central::run(&mut conn, &settings, &keys, cli.json, what)?,
        Command::Collect { what } => cli::collect::run(&mut conn, cli.json, what)?,
        Command::Ledger { what } => cli::ledger::run(&mut conn, cli.json, &settings, what)?,
        Command::Entitle { county, term: Some(term), close, .. } => {
            use mealroll::ledger::yibu;
            let caller = Caller::cli(&mut conn)?;
            let t =
                mealroll::domain::term::Term::parse(&term).map_err(|e| AppError::invalid(ErrorCode::TermFormat, e))?;
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
            let m = mealroll::domain::calendar::Month::parse(&month)
                .map_err(|e| AppError::invalid(ErrorCode::MonthFormat, e))?;
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
            let period = mealroll::domain::calendar::Span::parse(&period)
                .map_err(|e| AppError::invalid(ErrorCode::PeriodFormat, e))?;
            let date = date
                .map(|d| {
                    chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                        .map_err(|_| AppError::invalid(ErrorCode::ReportDate, format!("报表日“{d}”应写作 YYYY-MM-DD")))
                })
                .transpose()?;
            let by_out = out.as_ref().and_then(|o| o.extension()).and_then(|e| e.to_str()).unwrap_or("json");
            let f = OutputFormat::parse(format.as_deref().unwrap_or(by_out))
                .map_err(|e| AppError::invalid(ErrorCode::ReportFormat, e))?;
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
                    std::fs::write(&out, &bytes).map_err(|e| {
                        AppError::invalid(ErrorCode::FileWrite, format!("无法写入 {}: {e}", out.display()))
                    })?;
                    eprintln!("已写入 {}（{}，{} 字节）", out.display(), file_name, bytes.len());
                }
                None if matches!(f, OutputFormat::Xlsx | OutputFormat::Pdf) => {
                    return Err(AppError::invalid(ErrorCode::ReportOut, "xlsx 和 pdf 格式需要 --out 文件"));
                }
                None => {
                    use std::io::Write;
                    let _ = std::io::stdout().write_all(&bytes);
                }
            }
        }
        Command::Change { what } => cli::change::run(&mut conn, cli.json, what)?,
        Command::Year { what } => cli::year::run(&mut conn, cli.json, what)?,
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
                .map_err(|e| {
                    AppError::internal_msg(ErrorCode::BackupIo, format!("无法创建备份目录 {}: {e}", dir.display()))
                })
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
    let state = mealroll::app::Shared {
        state: web::Data::new(AppState::new(pool, settings, keys)?),
        jobs: web::Data::new(jobs),
    };
    let rt = actix_web::rt::System::new();
    rt.block_on(async move {
        let server = HttpServer::new(move || mealroll::app::app(state.clone()))
            .bind(&bind)
            .map_err(|e| AppError::internal_msg(ErrorCode::ServeBind, format!("无法监听 {bind}: {e}")))?;
        out!("mealroll 已启动: http://{bind}/");
        server.run().await.map_err(|e| AppError::internal_msg(ErrorCode::ServeRun, format!("服务异常退出: {e}")))
    })
}
