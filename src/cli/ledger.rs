//! `mealroll ledger`: post, approve, reject and reverse, verify the hash chains, list the
//! accounts, print the reconciliation and close a month.

use clap::Subcommand;
use serde_json::json;

use crate::print;
use mealroll::auth::Caller;
use mealroll::config::Settings;
use mealroll::db;
use mealroll::error::{AppError, ErrorCode};

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Ask for a posting: posted at once at or below the threshold, else pending approval.
    Post {
        /// receipt (收到资金), allocation (拨付) or expenditure (支出).
        #[arg(long)]
        kind: String,
        /// meal (膳食补助, default) or yibu (一补).
        #[arg(long, default_value = "meal")]
        fund: String,
        /// Paying holder: an org code, or ORG/CREDITCODE for a supplier.
        #[arg(long, default_value = "")]
        from: String,
        /// Receiving holder.
        #[arg(long, default_value = "")]
        to: String,
        /// For an allocation to a supplier: the school it feeds.
        #[arg(long, default_value = "")]
        for_school: String,
        /// Yuan, at most two decimals.
        #[arg(long)]
        amount: String,
        /// Value date YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Expenditure category: 粮油, 肉蛋奶, 蔬菜水果, 其他食品 (一补: 生活补助).
        #[arg(long, default_value = "")]
        category: String,
        #[arg(long)]
        voucher: String,
        #[arg(long, default_value = "")]
        memo: String,
        /// Idempotency key: a second post with the same key posts nothing.
        #[arg(long, default_value = "")]
        key: String,
        /// Act as this user (their org, roles and the maker-checker rule).
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// Approve a pending posting (a second person).
    Approve {
        id: i64,
        #[arg(long = "as")]
        as_user: String,
    },
    /// Refuse a pending posting with a reason.
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long = "as")]
        as_user: String,
    },
    /// Reverse a posted posting (all its entries), with a reason.
    Reverse {
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// Walk every account's hash chain; exits non-zero naming the broken entries.
    Verify,
    /// Accounts and balances.
    Accounts,
    /// A county's (or school's) period: entitled, allocated, spent, flags; --out writes the
    /// 资金拨付审批表 (.pdf or .xlsx).
    Reconcile {
        #[arg(long)]
        org: String,
        /// A month YYYY-MM, a term YYYY-1|YYYY-2 or a school year YYYY.
        #[arg(long, alias = "period")]
        month: String,
        /// 膳食补助 (meal, the default) or 一补 (yibu, by term or year).
        #[arg(long, default_value = "meal")]
        fund: String,
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Close a month for the user's org: no posting dated in it afterwards.
    Close {
        #[arg(long)]
        month: String,
        #[arg(long = "as")]
        as_user: String,
    },
}

pub fn run(conn: &mut db::DbConn, json_mode: bool, settings: &Settings, what: LedgerCommand) -> Result<(), AppError> {
    use mealroll::ledger::fund::{self, PostingForm, Request};
    let who = |conn: &mut db::DbConn, user: Option<&str>| match user {
        Some(u) => Caller::cli_as(conn, u),
        None => Caller::cli(conn),
    };
    let show = |r: &Request| {
        print(json_mode, json!(r), || {
            out!(
                "第 {} 号 {} {} 元（{}）：{}{}",
                r.id,
                r.kind_label,
                r.amount,
                r.voucher_no,
                r.status.label(),
                if r.replayed { "（重复提交，未再次记账）" } else { "" }
            )
        })
    };
    match what {
        LedgerCommand::Post {
            kind,
            fund: fund_name,
            from,
            to,
            for_school,
            amount,
            date,
            category,
            voucher,
            memo,
            key,
            as_user,
        } => {
            let caller = who(conn, as_user.as_deref())?;
            let form = PostingForm {
                kind,
                fund: fund_name,
                from,
                to,
                for_school,
                amount,
                date,
                category,
                voucher_no: voucher,
                memo,
                key,
            };
            show(&fund::post(conn, &caller, &form)?);
        }
        LedgerCommand::Approve { id, as_user } => {
            let caller = Caller::cli_as(conn, &as_user)?;
            show(&fund::approve(conn, &caller, id)?)
        }
        LedgerCommand::Reject { id, reason, as_user } => {
            let caller = Caller::cli_as(conn, &as_user)?;
            show(&fund::reject(conn, &caller, id, &reason)?)
        }
        LedgerCommand::Reverse { id, reason, as_user } => {
            let caller = who(conn, as_user.as_deref())?;
            show(&fund::reverse(conn, &caller, id, &reason, "")?)
        }
        LedgerCommand::Verify => {
            let caller = Caller::cli(conn)?;
            let v = fund::verify_anchored(conn, &caller, settings)?;
            print(json_mode, json!(v), || {
                out!("核验 {} 个账户、{} 笔分录", v.accounts, v.entries);
                for b in &v.broken {
                    out!("账户 {} 第 {} 笔（凭证号 {}）：{}", b.account, b.seq, b.voucher_no, b.reason);
                }
            });
            if let Some(b) = v.broken.first() {
                return Err(AppError::invalid(
                    ErrorCode::LedgerChainBroken,
                    format!(
                        "{} 个账户的分录链被破坏，首个：账户 {} 第 {} 笔：{}",
                        v.broken.len(),
                        b.account,
                        b.seq,
                        b.reason
                    ),
                ));
            }
        }
        LedgerCommand::Accounts => {
            let caller = Caller::cli(conn)?;
            let list = fund::accounts(conn, &caller)?;
            print(json_mode, json!(list), || {
                for a in &list {
                    out!("{} {} {}：余额 {} 元，{} 笔", a.code, a.holder, a.fund_label, a.balance, a.entries);
                }
            });
        }
        LedgerCommand::Reconcile { org, month, fund, out } => {
            let span = mealroll::domain::calendar::Span::parse(&month)
                .map_err(|e| AppError::invalid(ErrorCode::PeriodFormat, e))?;
            let fund = mealroll::domain::ledger::Fund::parse(&fund)
                .map_err(|e| AppError::invalid(ErrorCode::LedgerFund, e))?;
            let caller = Caller::cli(conn)?;
            let r = mealroll::ledger::reconcile::county_period(conn, &caller, &org, &span, fund)?;
            if let Some(out) = out {
                let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
                let (bytes, _, _) = mealroll::exchange::disbursement::export(conn, &caller, &r, ext)?;
                std::fs::write(&out, bytes)
                    .map_err(|e| AppError::invalid(ErrorCode::FileWrite, format!("无法写入 {}: {e}", out.display())))?;
            }
            print(json_mode, json!(r), || {
                for s in r.rows.iter().chain([&r.total]) {
                    let flags: Vec<&str> = s.flags.iter().map(|f| f.message.as_str()).collect();
                    out!(
                        "{} {}：核定 {}，已拨 {}，已支出 {}，结余 {}{}",
                        s.school,
                        s.name,
                        s.entitled,
                        s.allocated,
                        s.spent,
                        s.closing_balance,
                        if flags.is_empty() { String::new() } else { format!("（{}）", flags.join("；")) }
                    );
                }
                for f in &r.county_flags {
                    out!("{}", f.message);
                }
            });
        }
        LedgerCommand::Close { month, as_user } => {
            let m = mealroll::domain::calendar::Month::parse(&month)
                .map_err(|e| AppError::invalid(ErrorCode::MonthFormat, e))?;
            let caller = Caller::cli_as(conn, &as_user)?;
            fund::close_month(conn, &caller, m)?;
            print(json_mode, json!({"closed": m.to_string(), "org": caller.org_code}), || {
                out!("{} 已对 {m} 结账", caller.org_name)
            });
        }
    }
    Ok(())
}
