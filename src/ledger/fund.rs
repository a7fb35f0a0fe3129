//! The fund ledger (SPEC §8). A person asks for a posting (a request); at or below the
//! threshold it is posted at once, above it a second person approves it. Posting appends
//! entries, one per account touched, each chained by hash to the previous entry of its account;
//! entries are never updated or deleted, a mistake is reversed by a new entry. `verify` walks
//! every chain and names the first broken entry of each account.
//!
//! Here: requests and their checks. Beside it: the entries a posting appends (`entries`), who
//! may do what (`actions`), the second person's decisions and reversals (`decisions`), accounts
//! and entries as read (`accounts`), and the chain walk (`verify`).

mod accounts;
mod actions;
mod decisions;
mod entries;
mod listing;
mod verify;

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{fund_accounts, ledger_closings, ledger_requests, ledger_settings, orgs, suppliers};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::Month;
use crate::domain::chain::GENESIS;
use crate::domain::ledger::{self, Category, Fund, RequestStatus};
use crate::domain::money::Fen;
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::org::model::{Org, ancestor_paths};

pub use accounts::{Account, EntryView, Party, accounts, entries, parties};
use actions::Facts;
pub use actions::{LedgerActions, RequestActions, ledger_actions};
pub use decisions::{approve, reject, reverse};
use entries::{NewEntry, apply, fields};
pub use listing::{RequestFilter, list as list_requests, one as request};
pub use verify::{Broken, Verification, verify, verify_all, verify_anchored};

/// Above this a posting needs a second person, unless an org on the path sets its own.
pub const DEFAULT_THRESHOLD: Fen = Fen::new(1_000_000);

/// What a person may ask the ledger to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Receipt,
    Allocation,
    Expenditure,
    Reversal,
    /// A county takes money back from a school below it (追回), after a finding.
    Recovery,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Receipt => "receipt",
            RequestKind::Allocation => "allocation",
            RequestKind::Expenditure => "expenditure",
            RequestKind::Reversal => "reversal",
            RequestKind::Recovery => "recovery",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RequestKind::Receipt => "收到资金",
            RequestKind::Allocation => "拨付",
            RequestKind::Expenditure => "支出",
            RequestKind::Reversal => "冲销",
            RequestKind::Recovery => "追回",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "receipt" | "收到资金" | "到账" => Some(RequestKind::Receipt),
            "allocation" | "拨付" => Some(RequestKind::Allocation),
            "expenditure" | "支出" => Some(RequestKind::Expenditure),
            "reversal" | "冲销" => Some(RequestKind::Reversal),
            "recovery" | "追回" => Some(RequestKind::Recovery),
            _ => None,
        }
    }
}

/// A posting as typed into the form, the API or the command line (all strings).
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default)]
pub struct PostingForm {
    /// 业务类型：receipt（收到资金）、allocation（拨付）、expenditure（支出）、reversal（冲销）或
    /// recovery（追回），中文名亦可。
    pub kind: String,
    /// 资金：meal（膳食补助，默认）或 yibu（一补）。
    #[serde(default)]
    pub fund: String,
    /// Paying account holder: an org code, or `ORG/CREDITCODE` for a supplier.
    #[serde(default)]
    pub from: String,
    /// Receiving account holder.
    #[serde(default)]
    pub to: String,
    /// For an allocation to a supplier: the school it feeds.
    #[serde(default)]
    pub for_school: String,
    pub amount: String,
    pub date: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub voucher_no: String,
    #[serde(default)]
    pub memo: String,
    /// One per form shown: a second submission of the same key returns the first posting.
    #[serde(default)]
    pub key: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = fund_accounts)]
struct AccountRow {
    id: i64,
    code: String,
    supplier_id: Option<i64>,
    fund: String,
    head_seq: i64,
    head_hash: String,
    balance_fen: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_requests)]
pub(crate) struct RequestRow {
    id: i64,
    idempotency_key: String,
    kind: String,
    fund: String,
    from_account_id: Option<i64>,
    to_account_id: Option<i64>,
    for_school_id: Option<i64>,
    reverses_request_id: Option<i64>,
    amount_fen: i64,
    value_date: NaiveDate,
    category: String,
    voucher_no: String,
    memo: String,
    #[diesel(deserialize_as = String)]
    pub(crate) status: RequestStatus,
    maker: String,
    made_at: NaiveDateTime,
    checker: Option<String>,
    checked_at: Option<NaiveDateTime>,
    reason: Option<String>,
}

impl RequestRow {
    pub(crate) fn id(&self) -> i64 {
        self.id
    }
}

/// A posting request as people read it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Request {
    pub id: i64,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub fund: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Who holds the paying and the receiving account, by name (an org or a supplier).
    pub from_name: Option<String>,
    pub to_name: Option<String>,
    pub for_school: Option<String>,
    pub for_school_name: Option<String>,
    pub reverses: Option<i64>,
    pub amount: Fen,
    pub date: NaiveDate,
    pub category: String,
    pub voucher_no: String,
    pub memo: String,
    /// pending (awaiting a second person), posted, rejected.
    pub status: RequestStatus,
    pub maker: String,
    /// The maker and the checker by name (`auth::people::names`); usernames until named.
    pub maker_name: String,
    pub made_at: NaiveDateTime,
    pub checker: Option<String>,
    pub checker_name: Option<String>,
    pub checked_at: Option<NaiveDateTime>,
    pub reason: Option<String>,
    /// True when this answer is an earlier submission of the same key (nothing new was posted).
    pub replayed: bool,
    /// What the caller may do with it now.
    pub actions: RequestActions,
}

/// Who holds an account: an org, or a supplier registered by an org.
#[derive(Debug, Clone)]
struct Holder {
    org: Org,
    supplier: Option<(i64, String)>,
}

impl Holder {
    fn code(&self) -> String {
        match &self.supplier {
            Some((_, credit)) => format!("{}/{credit}", self.org.code),
            None => self.org.code.clone(),
        }
    }
}

fn unknown(field: &str, code: &str) -> AppError {
    AppError::field(
        field,
        ErrorCode::LedgerUnknownAccount,
        format!("账户“{code}”不存在（应为单位代码，或 单位代码/供应商统一社会信用代码）"),
    )
}

fn holder(conn: &mut DbConn, field: &str, code: &str) -> AppResult<Holder> {
    let code = code.trim();
    let (org_code, credit) = match code.split_once('/') {
        Some((o, c)) => (o.trim(), Some(c.trim())),
        None => (code, None),
    };
    let org: Org = orgs::table
        .filter(orgs::code.eq(org_code))
        .select(Org::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| unknown(field, code))?;
    let supplier = match credit {
        None => None,
        // A supplier registered by the org or by an org above it (a province's framework tender).
        Some(c) => Some(
            suppliers::table
                .inner_join(orgs::table)
                .filter(orgs::path.eq_any(ancestor_paths(&org.path)))
                .filter(suppliers::credit_code.eq(c))
                .order(orgs::path.desc())
                .select((suppliers::id, suppliers::credit_code))
                .first::<(i64, String)>(conn)
                .optional()?
                .ok_or_else(|| unknown(field, code))?,
        ),
    };
    Ok(Holder { org, supplier })
}

/// The account of a holder for a fund, opened on first use.
fn account(conn: &mut DbConn, h: &Holder, fund: Fund, at: NaiveDateTime) -> AppResult<AccountRow> {
    let code = format!("{}:{}", h.code(), fund.as_str());
    let found = fund_accounts::table
        .filter(fund_accounts::code.eq(&code))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(a) = found {
        return Ok(a);
    }
    let id: i64 = diesel::insert_into(fund_accounts::table)
        .values((
            fund_accounts::code.eq(&code),
            fund_accounts::org_id.eq(h.org.id),
            fund_accounts::supplier_id.eq(h.supplier.as_ref().map(|s| s.0)),
            fund_accounts::fund.eq(fund.as_str()),
            fund_accounts::head_seq.eq(0i64),
            fund_accounts::head_hash.eq(GENESIS),
            fund_accounts::balance_fen.eq(0i64),
            fund_accounts::created_at.eq(at),
        ))
        .returning(fund_accounts::id)
        .get_result(conn)?;
    Ok(fund_accounts::table.find(id).select(AccountRow::as_select()).first(conn)?)
}

/// The approval threshold for postings by an org: the nearest setting on its path.
pub fn threshold_for(conn: &mut DbConn, path: &str) -> AppResult<Fen> {
    let rows: Vec<(String, i64)> = ledger_settings::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(path)))
        .select((orgs::path, ledger_settings::approval_threshold_fen))
        .load(conn)?;
    Ok(rows.into_iter().max_by_key(|(p, _)| p.len()).map_or(DEFAULT_THRESHOLD, |(_, f)| Fen::new(f)))
}

/// Sets the threshold for the caller's own org and everything below it (county and above).
pub fn set_threshold(conn: &mut DbConn, caller: &Caller, amount: &str) -> AppResult<Fen> {
    caller.require(conn, Permission::ApproveLedger, "set_ledger_threshold")?;
    actions::may_set_threshold(caller)?;
    let fen = ledger::posting_amount(amount).map_err(|m| AppError::field("threshold", ErrorCode::LedgerAmount, m))?;
    write_tx(conn, |conn| {
        diesel::delete(ledger_settings::table.filter(ledger_settings::org_id.eq(caller.org_id))).execute(conn)?;
        diesel::insert_into(ledger_settings::table)
            .values((
                ledger_settings::org_id.eq(caller.org_id),
                ledger_settings::approval_threshold_fen.eq(fen.fen()),
                ledger_settings::set_by.eq(&caller.username),
                ledger_settings::set_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("ledger.threshold", "org", &caller.org_code).after(&fen.to_string()),
        )
    })?;
    Ok(fen)
}

/// A month closed by the org or an org above it refuses postings dated in it.
fn check_open(conn: &mut DbConn, path: &str, date: NaiveDate) -> AppResult<()> {
    let month = Month::of(date);
    let closed: Option<String> = ledger_closings::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(path)))
        .filter(ledger_closings::month.eq(month.key()))
        .select(orgs::name)
        .first(conn)
        .optional()?;
    match closed {
        Some(by) => Err(AppError::field(
            "date",
            ErrorCode::LedgerPeriodClosed,
            format!("{by}已对{month}结账，不能再记入该月（请记入当前月份，或作冲销）"),
        )),
        None => Ok(()),
    }
}

/// Closes a month for the caller's own org: no posting dated in it is accepted afterwards.
pub fn close_month(conn: &mut DbConn, caller: &Caller, month: Month) -> AppResult<()> {
    caller.require(conn, Permission::ApproveLedger, "close_ledger_month")?;
    let exists = ledger_closings::table
        .filter(ledger_closings::org_id.eq(caller.org_id))
        .filter(ledger_closings::month.eq(month.key()))
        .count()
        .get_result::<i64>(conn)?;
    if exists > 0 {
        return Err(AppError::conflict(ErrorCode::LedgerPeriodClosed, format!("{month}已结账")));
    }
    write_tx(conn, |conn| {
        diesel::insert_into(ledger_closings::table)
            .values((
                ledger_closings::org_id.eq(caller.org_id),
                ledger_closings::month.eq(month.key()),
                ledger_closings::closed_by.eq(&caller.username),
                ledger_closings::closed_at.eq(caller.now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("ledger.close", "org", &caller.org_code).after(&month.to_string()),
        )
    })
}

/// The money of an org moves only by its own people (the command line may act for any org).
fn check_own(caller: &Caller, org: &Org) -> AppResult<()> {
    if caller.is_cli() || caller.org_id == org.id {
        Ok(())
    } else if caller.scope().contains(&org.path) {
        Err(AppError::invalid(ErrorCode::LedgerNotOwnAccount, format!("只能由{}本单位人员办理其账户的收支", org.name)))
    } else {
        Err(AppError::not_found())
    }
}

/// A request checked and resolved, before it is stored.
struct Checked {
    kind: RequestKind,
    fund: Fund,
    from: Option<AccountRow>,
    to: Option<AccountRow>,
    for_school: Option<Org>,
    acting: Org,
    amount: Fen,
    date: NaiveDate,
    category: String,
    voucher_no: String,
    memo: String,
}

fn check(conn: &mut DbConn, caller: &Caller, f: &PostingForm) -> AppResult<Checked> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut bad = |field: &str, code: ErrorCode, message: String| {
        errors.push(FieldError { field: field.to_owned(), code, message });
    };
    let kind = RequestKind::parse(&f.kind).filter(|k| *k != RequestKind::Reversal);
    if kind.is_none() {
        bad(
            "kind",
            ErrorCode::LedgerKind,
            format!("业务类型“{}”无效，应为 收到资金、拨付、支出 或 追回", f.kind.trim()),
        );
    }
    let fund = if f.fund.trim().is_empty() { Ok(Fund::Meal) } else { Fund::parse(&f.fund) };
    let fund = fund.map_err(|m| bad("fund", ErrorCode::LedgerFund, m)).ok();
    let amount = ledger::posting_amount(&f.amount).map_err(|m| bad("amount", ErrorCode::LedgerAmount, m)).ok();
    let date = crate::registry::status::parse_day("date", &f.date)
        .map_err(|e| bad("date", ErrorCode::LedgerDate, e.message))
        .ok()
        .filter(|d| {
            let future = *d > caller.today();
            if future {
                bad("date", ErrorCode::LedgerFutureDate, format!("日期 {d} 晚于今天，不能预先记账"));
            }
            !future
        });
    let category = match (kind, fund) {
        (Some(RequestKind::Expenditure), Some(fund)) => Category::parse(fund, &f.category)
            .map(|c| c.as_str().to_owned())
            .map_err(|m| bad("category", ErrorCode::LedgerCategoryForbidden, m))
            .ok(),
        _ => Some(String::new()),
    };
    if f.voucher_no.trim().is_empty() {
        bad("voucher_no", ErrorCode::LedgerVoucher, "请填写凭证号".into());
    }
    if f.voucher_no.chars().count() > 40 || f.memo.chars().count() > 200 {
        bad("memo", ErrorCode::LedgerTooLong, "凭证号最多40字，摘要最多200字".into());
    }
    if kind == Some(RequestKind::Receipt) && f.memo.trim().is_empty() {
        bad("memo", ErrorCode::LedgerSource, "收到资金请在摘要中写明来源（如 中央财政 下达文号）".into());
    }
    if kind == Some(RequestKind::Recovery) && f.memo.trim().is_empty() {
        bad("memo", ErrorCode::LedgerRecoveryReason, "追回请在摘要中写明原因（如 督查问题编号）".into());
    }
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }
    let (Some(kind), Some(fund), Some(amount), Some(date), Some(category)) = (kind, fund, amount, date, category)
    else {
        return Err(AppError::invalid(ErrorCode::LedgerInvalid, "记账内容有误"));
    };
    let need = |field: &str, v: &str, what: &str| -> AppResult<()> {
        if v.trim().is_empty() {
            Err(AppError::field(field, ErrorCode::LedgerAccountRequired, format!("请填写{what}")))
        } else {
            Ok(())
        }
    };
    let (from, to, for_school, acting) = match kind {
        RequestKind::Receipt => {
            need("to", &f.to, "收款单位")?;
            let to = holder(conn, "to", &f.to)?;
            if to.supplier.is_some() || !to.org.kind.is_county_or_above() {
                return Err(AppError::field(
                    "to",
                    ErrorCode::LedgerReceiptLevel,
                    "只有县级及以上单位接收上级财政资金；学校和供应商的资金由县拨付",
                ));
            }
            (None, Some(to.clone()), None, to.org)
        }
        RequestKind::Allocation => {
            need("from", &f.from, "拨出单位")?;
            need("to", &f.to, "收款单位或供应商")?;
            let from = holder(conn, "from", &f.from)?;
            let to = holder(conn, "to", &f.to)?;
            if from.supplier.is_some() {
                return Err(AppError::field("from", ErrorCode::LedgerSupplierPays, "供应商账户不能向下拨付"));
            }
            let for_school = match &to.supplier {
                Some(_) => {
                    need("for_school", &f.for_school, "供餐学校（拨给供应商时）")?;
                    let s = holder(conn, "for_school", &f.for_school)?.org;
                    if s.kind != OrgKind::School || !s.path.starts_with(&from.org.path) {
                        return Err(AppError::field(
                            "for_school",
                            ErrorCode::LedgerNotBelow,
                            format!("“{}”不是{}下属学校", s.name, from.org.name),
                        ));
                    }
                    if !(from.org.path.starts_with(&to.org.path) || to.org.path.starts_with(&from.org.path)) {
                        return Err(AppError::field(
                            "to",
                            ErrorCode::LedgerNotBelow,
                            format!("该供应商不是{}登记的供应商", from.org.name),
                        ));
                    }
                    Some(s)
                }
                None => {
                    if !to.org.path.starts_with(&from.org.path) || to.org.id == from.org.id {
                        return Err(AppError::field(
                            "to",
                            ErrorCode::LedgerNotBelow,
                            format!("资金只能由上级拨给下级：“{}”不是“{}”的下级单位", to.org.name, from.org.name),
                        ));
                    }
                    None
                }
            };
            (Some(from.clone()), Some(to), for_school, from.org)
        }
        RequestKind::Expenditure => {
            need("from", &f.from, "支出学校")?;
            let from = holder(conn, "from", &f.from)?;
            if from.supplier.is_some() || from.org.kind != OrgKind::School {
                return Err(AppError::field(
                    "from",
                    ErrorCode::LedgerSpendAtSchool,
                    "支出只记在学校账户（供应商的拨款即为支出；不得以现金发放给学生和家长）",
                ));
            }
            (Some(from.clone()), None, None, from.org)
        }
        RequestKind::Recovery => {
            need("from", &f.from, "被追回学校")?;
            need("to", &f.to, "追回单位（县）")?;
            let from = holder(conn, "from", &f.from)?;
            let to = holder(conn, "to", &f.to)?;
            if from.supplier.is_some() || from.org.kind != OrgKind::School {
                return Err(AppError::field("from", ErrorCode::LedgerRecoverFromSchool, "追回只从学校账户收回"));
            }
            if to.supplier.is_some() || !from.org.path.starts_with(&to.org.path) || to.org.id == from.org.id {
                return Err(AppError::field(
                    "to",
                    ErrorCode::LedgerNotBelow,
                    format!("只能由上级追回：“{}”不是“{}”的上级单位", to.org.name, from.org.name),
                ));
            }
            (Some(from), Some(to.clone()), None, to.org)
        }
        RequestKind::Reversal => return Err(AppError::invalid(ErrorCode::LedgerKind, "冲销请在原分录上操作")),
    };
    check_own(caller, &acting)?;
    if let Some(to) = &to
        && !caller.is_cli()
        && !caller.scope().contains(&to.org.path)
        && kind == RequestKind::Receipt
    {
        return Err(AppError::not_found());
    }
    check_open(conn, &acting.path, date)?;
    let from = from.map(|h| account(conn, &h, fund, caller.now())).transpose()?;
    let to = to.map(|h| account(conn, &h, fund, caller.now())).transpose()?;
    Ok(Checked {
        kind,
        fund,
        from,
        to,
        for_school,
        acting,
        amount,
        date,
        category,
        voucher_no: f.voucher_no.trim().to_owned(),
        memo: f.memo.trim().to_owned(),
    })
}

pub(crate) fn request_by_key(conn: &mut DbConn, key: &str) -> AppResult<Option<RequestRow>> {
    Ok(ledger_requests::table
        .filter(ledger_requests::idempotency_key.eq(key))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?)
}

/// A new key for a form: submitting the form twice posts once.
pub fn new_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Asks for a posting. At or below the threshold it is posted at once; above it, it waits for
/// a second person. A key seen before returns the earlier request, posting nothing.
pub fn post(conn: &mut DbConn, caller: &Caller, f: &PostingForm) -> AppResult<Request> {
    post_then(conn, caller, f, |_, _| Ok(()))
}

/// Posts, and runs `then` with the new request's id in the same transaction (a finding links its
/// recovery so): both happen or neither. A replayed key runs nothing again.
pub fn post_then(
    conn: &mut DbConn,
    caller: &Caller,
    f: &PostingForm,
    then: impl FnOnce(&mut DbConn, i64) -> AppResult<()>,
) -> AppResult<Request> {
    caller.require(conn, Permission::PostLedger, "ledger_post")?;
    let key = if f.key.trim().is_empty() { new_key() } else { f.key.trim().to_owned() };
    if key.len() > 64 {
        return Err(AppError::field("key", ErrorCode::LedgerKey, "幂等键最多64个字符"));
    }
    if let Some(r) = request_by_key(conn, &key)? {
        return replay(conn, caller, r);
    }
    let outcome = write_tx(conn, |conn| {
        let row = post_in(conn, caller, f, &key)?;
        then(conn, row.id)?;
        Ok(row)
    });
    match outcome {
        Ok(row) => view(conn, caller, row, false),
        // A double click racing the first submission: the first one won; answer with it.
        Err(e) if e.code == ErrorCode::DbDuplicate => match request_by_key(conn, &key)? {
            Some(r) => replay(conn, caller, r),
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Stores (and, at or below the threshold, posts) a checked request inside the caller's
/// transaction; the importer runs one per row.
pub(crate) fn post_in(conn: &mut DbConn, caller: &Caller, f: &PostingForm, key: &str) -> AppResult<RequestRow> {
    let c = check(conn, caller, f)?;
    let threshold = threshold_for(conn, &c.acting.path)?;
    let pending = c.amount > threshold && !caller.is_cli();
    let id: i64 = diesel::insert_into(ledger_requests::table)
        .values((
            ledger_requests::idempotency_key.eq(key),
            ledger_requests::kind.eq(c.kind.as_str()),
            ledger_requests::fund.eq(c.fund.as_str()),
            ledger_requests::from_account_id.eq(c.from.as_ref().map(|a| a.id)),
            ledger_requests::to_account_id.eq(c.to.as_ref().map(|a| a.id)),
            ledger_requests::for_school_id.eq(c.for_school.as_ref().map(|s| s.id)),
            ledger_requests::amount_fen.eq(c.amount.fen()),
            ledger_requests::value_date.eq(c.date),
            ledger_requests::category.eq(&c.category),
            ledger_requests::voucher_no.eq(&c.voucher_no),
            ledger_requests::memo.eq(&c.memo),
            ledger_requests::status.eq(if pending { RequestStatus::Pending } else { RequestStatus::Posted }.as_str()),
            ledger_requests::maker.eq(&caller.username),
            ledger_requests::made_at.eq(caller.now()),
        ))
        .returning(ledger_requests::id)
        .get_result(conn)?;
    let row = ledger_requests::table.find(id).select(RequestRow::as_select()).first(conn)?;
    if !pending {
        apply(conn, &row, "", caller.now())?;
    }
    audit::record(
        conn,
        &caller.actor(),
        Entry::new(if pending { "ledger.request" } else { "ledger.post" }, "ledger_request", id).after(
            &serde_json::json!({
                "kind": c.kind.as_str(), "fund": c.fund.as_str(), "amount": c.amount.to_string(),
                "date": c.date.to_string(), "voucher_no": c.voucher_no, "threshold": threshold.to_string(),
            }),
        ),
    )?;
    Ok(row)
}

fn replay(conn: &mut DbConn, caller: &Caller, r: RequestRow) -> AppResult<Request> {
    if r.maker != caller.username {
        return Err(AppError::conflict(ErrorCode::LedgerKeyReused, "该提交编号已被他人使用，请刷新页面后重新填写"));
    }
    view(conn, caller, r, true)
}

fn request_row(conn: &mut DbConn, id: i64) -> AppResult<RequestRow> {
    ledger_requests::table
        .find(id)
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// Accounts (code and holder) and orgs, each read once however many requests name them.
#[derive(Default)]
struct Lookups {
    /// Account id → (code, holder org id, supplier id).
    accounts: HashMap<i64, (String, i64, Option<i64>)>,
    orgs: HashMap<i64, Org>,
    suppliers: HashMap<i64, String>,
    people: HashMap<String, String>,
}

impl Lookups {
    fn account(&mut self, conn: &mut DbConn, id: i64) -> AppResult<(String, i64, Option<i64>)> {
        if let Some(a) = self.accounts.get(&id) {
            return Ok(a.clone());
        }
        let a: (String, i64, Option<i64>) = fund_accounts::table
            .find(id)
            .select((fund_accounts::code, fund_accounts::org_id, fund_accounts::supplier_id))
            .first(conn)?;
        self.accounts.insert(id, a.clone());
        Ok(a)
    }

    fn account_code(&mut self, conn: &mut DbConn, id: Option<i64>) -> AppResult<Option<String>> {
        id.map(|id| self.account(conn, id).map(|a| a.0)).transpose()
    }

    /// A person by name (`auth::people`).
    fn person(&mut self, conn: &mut DbConn, username: &str) -> AppResult<String> {
        if let Some(n) = self.people.get(username) {
            return Ok(n.clone());
        }
        let found = crate::auth::people::names(conn, &[username])?;
        let n = found.get(username).cloned().unwrap_or_else(|| username.to_owned());
        self.people.insert(username.to_owned(), n.clone());
        Ok(n)
    }

    /// Who holds the account, by name: the org, or the supplier.
    fn holder_name(&mut self, conn: &mut DbConn, id: Option<i64>) -> AppResult<Option<String>> {
        let Some(id) = id else { return Ok(None) };
        let (_, org_id, supplier) = self.account(conn, id)?;
        match supplier {
            Some(sid) => {
                if let Some(n) = self.suppliers.get(&sid) {
                    return Ok(Some(n.clone()));
                }
                let n: String = suppliers::table.find(sid).select(suppliers::name).first(conn)?;
                self.suppliers.insert(sid, n.clone());
                Ok(Some(n))
            }
            None => self.org(conn, org_id).map(|o| Some(o.name)),
        }
    }

    fn org(&mut self, conn: &mut DbConn, id: i64) -> AppResult<Org> {
        if let Some(o) = self.orgs.get(&id) {
            return Ok(o.clone());
        }
        let o: Org = orgs::table.find(id).select(Org::as_select()).first(conn)?;
        self.orgs.insert(id, o.clone());
        Ok(o)
    }

    /// The org whose people decide on a request: the payer, or the receiver of a receipt and of
    /// a recovery (the county takes the money back).
    fn acting_org(&mut self, conn: &mut DbConn, r: &RequestRow) -> AppResult<Org> {
        let receiver = matches!(RequestKind::parse(&r.kind), Some(RequestKind::Receipt | RequestKind::Recovery));
        let account =
            if receiver { r.to_account_id.or(r.from_account_id) } else { r.from_account_id.or(r.to_account_id) };
        let (_, org_id, _) = self.account(conn, account.ok_or_else(AppError::not_found)?)?;
        self.org(conn, org_id)
    }
}

/// Of these requests, those with a reversal posted or awaiting approval.
fn reversed_among(conn: &mut DbConn, ids: &[i64]) -> AppResult<HashSet<i64>> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(500) {
        let hits: Vec<Option<i64>> = ledger_requests::table
            .filter(ledger_requests::reverses_request_id.eq_any(chunk))
            .filter(ledger_requests::status.ne(RequestStatus::Rejected.as_str()))
            .select(ledger_requests::reverses_request_id)
            .load(conn)?;
        out.extend(hits.into_iter().flatten());
    }
    Ok(out)
}

fn view(conn: &mut DbConn, caller: &Caller, r: RequestRow, replayed: bool) -> AppResult<Request> {
    let reversed = reversed_among(conn, &[r.id])?;
    view_with(conn, caller, &mut Lookups::default(), &reversed, r, replayed)
}

/// A request as shown, with what `caller` may do with it; `reversed` holds at least this
/// request's id when it has a reversal.
fn view_with(
    conn: &mut DbConn,
    caller: &Caller,
    l: &mut Lookups,
    reversed: &HashSet<i64>,
    r: RequestRow,
    replayed: bool,
) -> AppResult<Request> {
    let kind = RequestKind::parse(&r.kind).unwrap_or(RequestKind::Receipt);
    let school = r.for_school_id.map(|id| l.org(conn, id)).transpose()?;
    let acting = l.acting_org(conn, &r)?;
    let actions = actions::actions(caller, &Facts { row: &r, acting: &acting, reversed: reversed.contains(&r.id) });
    Ok(Request {
        id: r.id,
        kind: kind.as_str(),
        kind_label: kind.label(),
        fund: Fund::parse(&r.fund).map(|f| f.as_str()).unwrap_or("meal"),
        from: l.account_code(conn, r.from_account_id)?,
        to: l.account_code(conn, r.to_account_id)?,
        from_name: l.holder_name(conn, r.from_account_id)?,
        to_name: l.holder_name(conn, r.to_account_id)?,
        for_school: school.as_ref().map(|o| o.code.clone()),
        for_school_name: school.map(|o| o.name),
        reverses: r.reverses_request_id,
        amount: Fen::new(r.amount_fen),
        date: r.value_date,
        category: r.category,
        voucher_no: r.voucher_no,
        memo: r.memo,
        status: r.status,
        maker_name: l.person(conn, &r.maker)?,
        maker: r.maker,
        made_at: r.made_at,
        checker_name: r.checker.as_deref().map(|c| l.person(conn, c)).transpose()?,
        checker: r.checker,
        checked_at: r.checked_at,
        reason: r.reason,
        replayed: replayed || r.idempotency_key.is_empty(),
        actions,
    })
}

/// Requests in the caller's scope, newest first; `status` filters (none: all). The newest 200.
pub fn requests(conn: &mut DbConn, caller: &Caller, status: Option<RequestStatus>) -> AppResult<Vec<Request>> {
    let filter =
        RequestFilter { status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(), ..Default::default() };
    Ok(listing::list(conn, caller, &filter, 200)?.0)
}
