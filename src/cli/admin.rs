//! `mealroll admin`: user accounts from the command line.

use clap::Subcommand;
use serde_json::json;

use crate::print;
use mealroll::auth::Caller;
use mealroll::auth::service::{self as accounts, AccountAction, NewUser, UserFilter};
use mealroll::config::Keys;
use mealroll::db;
use mealroll::error::{AppError, ErrorCode};

#[derive(Subcommand)]
pub enum AdminCommand {
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

/// Runs one `mealroll admin` subcommand.
pub fn run(conn: &mut db::DbConn, keys: &Keys, json_mode: bool, what: AdminCommand) -> Result<(), AppError> {
    let caller = Caller::cli(conn)?;
    let now = mealroll::clock::now();
    match what {
        AdminCommand::CreateUser { username, name, org, roles, password } => {
            let creds = accounts::create_user(
                conn,
                keys,
                &caller,
                &NewUser { username, display_name: name, org_code: org, roles, password: password.clone() },
                now,
            )?;
            print(json_mode, json!(creds), || {
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
            let found = accounts::list_users(conn, &caller, &UserFilter { q: username.clone() })?
                .into_iter()
                .find(|u| u.username == username)
                .ok_or_else(|| AppError::invalid(ErrorCode::UserUnknown, format!("用户“{username}”不存在")))?;
            let creds = accounts::act_on_user(conn, keys, &caller, found.id, AccountAction::ResetPassword, now)?
                .ok_or_else(|| AppError::internal_msg(ErrorCode::UserReset, "未生成新密码".into()))?;
            print(json_mode, json!(creds), || out!("{} 的新密码: {}（下次登录须修改）", username, creds.password));
        }
        AdminCommand::List => {
            let users = accounts::list_users(conn, &caller, &UserFilter::default())?;
            print(json_mode, json!(users), || {
                for u in &users {
                    out!(
                        "{:<20} {:<16} {:<24} {:<10} {}",
                        u.username,
                        u.display_name,
                        u.org_name,
                        u.status.label(),
                        u.role_labels
                    );
                }
            });
        }
    }
    Ok(())
}
