//! Walking the hash chains: every account's entries in order, each link checked, the first
//! broken entry of each account named, and the heads held to the anchor when one is given.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::{AccountRow, NewEntry, fields};
use crate::audit::chain::{Chain, Heads};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{fund_accounts, ledger_entries, orgs};
use crate::domain::chain::{GENESIS, Seal};
use crate::domain::ledger::{self, EntryKind};
use crate::domain::money::Fen;
use crate::domain::role::Permission;
use crate::error::AppResult;

/// A broken link of an account's chain.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Broken {
    pub account: String,
    pub seq: i64,
    pub entry_id: Option<i64>,
    pub voucher_no: String,
    pub reason: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Verification {
    pub accounts: usize,
    pub entries: u64,
    pub broken: Vec<Broken>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
struct StoredEntry {
    id: i64,
    seq: i64,
    request_id: i64,
    kind: String,
    amount_fen: i64,
    value_date: NaiveDate,
    category: String,
    counter_account_id: Option<i64>,
    for_school_id: Option<i64>,
    reverses_entry_id: Option<i64>,
    voucher_no: String,
    memo: String,
    maker: String,
    checker: String,
    prev_hash: String,
    hash: String,
}

/// Walks every account's chain in the caller's scope: sequence without gaps, each entry linked
/// to its predecessor, each hash recomputed from the entry's fields, the head and the balance
/// stored on the account equal to what the entries add up to; given the anchor, each account
/// still reaching its anchored head and no anchored account gone. Names the first break of each.
pub fn verify(conn: &mut DbConn, caller: &Caller, anchor: Option<&Heads>) -> AppResult<Verification> {
    caller.require(conn, Permission::ViewLedger, "ledger_verify")?;
    verify_under(conn, &caller.scope().like_pattern(), anchor)
}

/// As [`verify`], held against the anchor file of the settings' database (pages, API, CLI).
pub fn verify_anchored(
    conn: &mut DbConn,
    caller: &Caller,
    settings: &crate::config::Settings,
) -> AppResult<Verification> {
    let anchor = crate::audit::chain::anchor_of(settings)?;
    verify(conn, caller, anchor.as_ref())
}

/// Every account of the database, for the anchor's checkpoint (no caller: the server itself).
pub fn verify_all(conn: &mut DbConn, anchor: Option<&Heads>) -> AppResult<Verification> {
    verify_under(conn, "/%", anchor)
}

fn verify_under(conn: &mut DbConn, path_pattern: &str, anchor: Option<&Heads>) -> AppResult<Verification> {
    let key = crate::audit::chain::key()?;
    let keyed_from = crate::audit::chain::keyed_from(conn, Chain::Ledger)?;
    let accounts: Vec<(AccountRow, String)> = fund_accounts::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(path_pattern))
        .select((AccountRow::as_select(), orgs::path))
        .order(fund_accounts::id.asc())
        .load(conn)?;
    let mut result = Verification { accounts: accounts.len(), entries: 0, broken: Vec::new() };
    let whole = |account: &str, seq: i64, reason: String| Broken {
        account: account.to_owned(),
        seq,
        entry_id: None,
        voucher_no: String::new(),
        reason,
    };
    if let Some(why) = anchor.and_then(|a| a.ledger_start_differs(keyed_from)) {
        result.broken.push(whole("*", 0, why));
    }
    for (a, _) in &accounts {
        let rows: Vec<StoredEntry> = ledger_entries::table
            .filter(ledger_entries::account_id.eq(a.id))
            .select(StoredEntry::as_select())
            .order(ledger_entries::seq.asc())
            .load(conn)?;
        result.entries += rows.len() as u64;
        let anchored = anchor.and_then(|h| h.ledger.accounts.get(&a.code));
        let (mut prev, mut expect_seq, mut balance) = (GENESIS.to_owned(), 1i64, 0i64);
        let mut broken = None;
        for r in &rows {
            let problem = if r.seq != expect_seq {
                Some(format!("序号应为 {expect_seq}，实为 {}（有分录被删除或插入）", r.seq))
            } else if r.prev_hash != prev {
                Some("与上一笔分录的链接断开（有分录被删除、插入或改动）".to_owned())
            } else {
                let e = NewEntry {
                    request_id: r.request_id,
                    kind: EntryKind::parse(&r.kind).unwrap_or(EntryKind::Receipt),
                    amount_fen: r.amount_fen,
                    value_date: r.value_date,
                    category: r.category.clone(),
                    counter_account_id: r.counter_account_id,
                    for_school_id: r.for_school_id,
                    reverses_entry_id: r.reverses_entry_id,
                    voucher_no: r.voucher_no.clone(),
                    memo: r.memo.clone(),
                    maker: r.maker.clone(),
                    checker: r.checker.clone(),
                };
                let known = EntryKind::parse(&r.kind).is_some();
                let seal = Seal::for_row(r.id, keyed_from, key);
                if !known || ledger::entry_hash(seal, &r.prev_hash, &fields(&a.code, r.seq, &e)) != r.hash {
                    Some(if r.id >= keyed_from {
                        "分录内容与其密钥哈希不符（分录被改动，或链被不持有密钥者重算）".to_owned()
                    } else {
                        "分录内容与其哈希不符（分录被改动）".to_owned()
                    })
                } else if anchored.is_some_and(|h| h.seq == r.seq && h.hash != r.hash) {
                    Some("与锚点文件记载的哈希不符（链被重算，或其后分录被删除后重写）".to_owned())
                } else {
                    None
                }
            };
            if let Some(reason) = problem {
                broken = Some(Broken {
                    account: a.code.clone(),
                    seq: r.seq,
                    entry_id: Some(r.id),
                    voucher_no: r.voucher_no.clone(),
                    reason,
                });
                break;
            }
            prev = r.hash.clone();
            expect_seq += 1;
            balance += r.amount_fen;
        }
        let on_chain = expect_seq - 1;
        if broken.is_none() && (a.head_seq != on_chain || a.head_hash != prev) {
            broken = Some(whole(
                &a.code,
                a.head_seq,
                format!("账户记载最新分录为第 {} 笔，链上实有 {on_chain} 笔（末尾分录被删除）", a.head_seq),
            ));
        }
        if let Some(h) = anchored
            && broken.is_none()
            && on_chain < h.seq
        {
            broken = Some(whole(
                &a.code,
                on_chain + 1,
                format!("锚点文件记载此账户有 {} 笔分录，链上只有 {on_chain} 笔（末尾分录被删除）", h.seq),
            ));
        }
        if broken.is_none() && a.balance_fen != balance {
            broken = Some(whole(
                &a.code,
                a.head_seq,
                format!("账户余额 {} 元与分录合计 {} 元不符", Fen::new(a.balance_fen), Fen::new(balance)),
            ));
        }
        result.broken.extend(broken);
    }
    // An account the anchor knows and the database does not: deleted with its entries.
    if let Some(h) = anchor {
        let prefix = path_pattern.trim_end_matches('%');
        let present: std::collections::HashSet<&str> = accounts.iter().map(|(a, _)| a.code.as_str()).collect();
        for (code, head) in &h.ledger.accounts {
            if head.org_path.starts_with(prefix) && !present.contains(code.as_str()) {
                result.broken.push(whole(
                    code,
                    head.seq,
                    format!("账户已从数据库中删除（锚点文件记载其有 {} 笔分录）", head.seq),
                ));
            }
        }
    }
    Ok(result)
}
