//! The `mealroll` command: serve, migrate, admin, audit, demo.

use std::process::ExitCode;

use actix_web::{HttpServer, web};
use chrono::Utc;
use clap::{Parser, Subcommand};
use serde_json::json;

use mealroll::auth::Caller;
use mealroll::auth::service::{self as accounts, AccountAction, NewUser, UserFilter};
use mealroll::config::{Keys, Settings};
use mealroll::db::{self, Pool};
use mealroll::error::AppError;
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
    /// Build a realistic demo county (望谟县) with schools, classes, teachers and one login per role.
    Demo,
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
    /// Recompute the hash chain and report the first altered or missing row.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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

fn open(cli_db: &Option<String>) -> Result<(Settings, Keys, Pool), AppError> {
    let mut settings = Settings::load()?;
    if let Some(url) = cli_db {
        settings.database_url = url.clone();
    }
    let keys = Keys::load(&settings)?;
    let pool = db::connect(&settings.database_url, settings.pool_size)?;
    let mut conn = pool.get()?;
    org::seed::divisions(&mut conn)?;
    Ok((settings, keys, pool))
}

fn print(json_mode: bool, value: serde_json::Value, human: impl FnOnce()) {
    if json_mode {
        println!("{value}");
    } else {
        human();
    }
}

fn run(cli: Cli) -> Result<(), AppError> {
    let (mut settings, keys, pool) = open(&cli.db)?;
    let mut conn = pool.get()?;
    match cli.command {
        Command::Migrate => {
            let n = db::migrate(&mut conn)?;
            print(cli.json, json!({"migrated": true, "pending_applied": n}), || println!("数据库已是最新结构。"));
        }
        Command::Demo => {
            let report = demo::build(&mut conn, &keys)?;
            print_demo(cli.json, &report);
        }
        Command::Admin { action } => {
            let caller = Caller::cli(&mut conn)?;
            let now = Utc::now().naive_utc();
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
                        println!("已创建用户 {}", creds.username);
                        if password.is_none() {
                            println!("  初始密码: {}（首次登录须修改）", creds.password);
                        }
                        if let Some(s) = &creds.totp_secret {
                            println!("  动态口令密钥: {s}（请录入手机验证器）");
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
                        println!("{} 的新密码: {}（下次登录须修改）", username, creds.password)
                    });
                }
                AdminCommand::List => {
                    let users = accounts::list_users(&mut conn, &caller, &UserFilter::default())?;
                    print(cli.json, json!(users), || {
                        for u in &users {
                            println!(
                                "{:<20} {:<16} {:<24} {:<10} {}",
                                u.username, u.display_name, u.org_name, u.status, u.role_labels
                            );
                        }
                    });
                }
            }
        }
        Command::Audit { action: AuditCommand::Verify } => {
            let v = audit::service::verify(&mut conn)?;
            print(cli.json, json!(v), || match &v.first_broken {
                None => println!("审计日志完整：共 {} 条，哈希链无断点。", v.rows),
                Some((id, why)) => println!("审计日志被改动：第一处问题在记录 #{id}：{why}"),
            });
            if let Some((id, why)) = v.first_broken {
                return Err(AppError::conflict("audit.tampered", format!("审计日志记录 #{id} 校验失败：{why}")));
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
        println!("演示县 {}（贵州省黔西南州望谟县）：{} 所学校", report.county, report.schools.len());
        println!("登录账号（密码每次运行演示时重新生成）：");
        for u in &report.users {
            let totp = u
                .totp_secret
                .as_ref()
                .map(|s| format!("  动态口令密钥 {s}（当前口令 {}）", demo::current_code(s)))
                .unwrap_or_default();
            println!("  {:<16} {:<20} {:<18} {}{}", u.username, u.password, u.role, u.org, totp);
        }
    });
}

fn serve(settings: Settings, keys: Keys, pool: Pool) -> Result<(), AppError> {
    let bind = settings.bind.clone();
    let state = web::Data::new(AppState { pool, settings, keys });
    let rt = actix_web::rt::System::new();
    rt.block_on(async move {
        let server = HttpServer::new(move || mealroll::web::app(state.clone()))
            .bind(&bind)
            .map_err(|e| AppError::internal_msg("serve.bind", format!("无法监听 {bind}: {e}")))?;
        println!("mealroll 已启动: http://{bind}/");
        server.run().await.map_err(|e| AppError::internal_msg("serve.run", format!("服务异常退出: {e}")))
    })
}
