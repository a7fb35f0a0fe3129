//! Posting a request: the entries it appends, one per account touched, each chained by hash to the
//! previous entry of its account; the account row is locked first so two postings queue.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{AccountRow, RequestKind, RequestRow};
use crate::db::DbConn;
use crate::db::schema::{fund_accounts, ledger_entries};
use crate::domain::calendar::Month;
use crate::domain::chain::Seal;
use crate::domain::ledger::{self, EntryFields, EntryKind};
use crate::domain::money::Fen;
use crate::error::{AppError, AppResult, ErrorCode};

/// Appends a request's entries to the accounts it touches.
pub(super) fn apply(conn: &mut DbConn, r: &RequestRow, checker: &str, at: NaiveDateTime) -> AppResult<()> {
    let kind = RequestKind::parse(&r.kind).ok_or_else(|| AppError::invalid(ErrorCode::LedgerKind, "未知业务类型"))?;
    let base = NewEntry {
        request_id: r.id,
        kind: EntryKind::Receipt,
        amount_fen: r.amount_fen,
        value_date: r.value_date,
        category: r.category.clone(),
        counter_account_id: None,
        for_school_id: r.for_school_id,
        reverses_entry_id: None,
        voucher_no: r.voucher_no.clone(),
        memo: r.memo.clone(),
        maker: r.maker.clone(),
        checker: checker.to_owned(),
    };
    let missing = || AppError::invalid(ErrorCode::LedgerUnknownAccount, "记账请求缺少账户");
    match kind {
        RequestKind::Receipt => {
            append(conn, r.to_account_id.ok_or_else(missing)?, base, at)?;
        }
        RequestKind::Allocation => {
            let (from, to) = (r.from_account_id.ok_or_else(missing)?, r.to_account_id.ok_or_else(missing)?);
            append(
                conn,
                from,
                NewEntry {
                    kind: EntryKind::AllocationOut,
                    amount_fen: -r.amount_fen,
                    counter_account_id: Some(to),
                    ..base.clone()
                },
                at,
            )?;
            append(conn, to, NewEntry { kind: EntryKind::AllocationIn, counter_account_id: Some(from), ..base }, at)?;
        }
        RequestKind::Recovery => {
            let (from, to) = (r.from_account_id.ok_or_else(missing)?, r.to_account_id.ok_or_else(missing)?);
            append(
                conn,
                from,
                NewEntry {
                    kind: EntryKind::RecoveryOut,
                    amount_fen: -r.amount_fen,
                    counter_account_id: Some(to),
                    ..base.clone()
                },
                at,
            )?;
            append(conn, to, NewEntry { kind: EntryKind::RecoveryIn, counter_account_id: Some(from), ..base }, at)?;
        }
        RequestKind::Expenditure => {
            append(
                conn,
                r.from_account_id.ok_or_else(missing)?,
                NewEntry { kind: EntryKind::Expenditure, amount_fen: -r.amount_fen, ..base },
                at,
            )?;
        }
        RequestKind::Reversal => {
            let original =
                r.reverses_request_id.ok_or_else(|| AppError::invalid(ErrorCode::LedgerReversal, "冲销缺少原记录"))?;
            type Orig = (i64, i64, i64, Option<i64>);
            let entries: Vec<Orig> = ledger_entries::table
                .filter(ledger_entries::request_id.eq(original))
                .select((
                    ledger_entries::id,
                    ledger_entries::account_id,
                    ledger_entries::amount_fen,
                    ledger_entries::counter_account_id,
                ))
                .order(ledger_entries::id.asc())
                .load(conn)?;
            // Take money back before giving it back, so a balance never dips below zero midway.
            let mut entries = entries;
            entries.sort_by_key(|e| e.2 < 0);
            for (id, account_id, amount, counter) in entries {
                append(
                    conn,
                    account_id,
                    NewEntry {
                        kind: EntryKind::Reversal,
                        amount_fen: -amount,
                        counter_account_id: counter,
                        reverses_entry_id: Some(id),
                        ..base.clone()
                    },
                    at,
                )?;
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub(super) struct NewEntry {
    pub(super) request_id: i64,
    pub(super) kind: EntryKind,
    pub(super) amount_fen: i64,
    pub(super) value_date: NaiveDate,
    pub(super) category: String,
    pub(super) counter_account_id: Option<i64>,
    pub(super) for_school_id: Option<i64>,
    pub(super) reverses_entry_id: Option<i64>,
    pub(super) voucher_no: String,
    pub(super) memo: String,
    pub(super) maker: String,
    pub(super) checker: String,
}

pub(super) fn fields<'a>(account: &'a str, seq: i64, e: &'a NewEntry) -> EntryFields<'a> {
    EntryFields {
        account,
        seq,
        kind: e.kind.as_str(),
        amount_fen: e.amount_fen,
        value_date: e.value_date,
        category: &e.category,
        counter_account_id: e.counter_account_id,
        for_school_id: e.for_school_id,
        reverses_entry_id: e.reverses_entry_id,
        voucher_no: &e.voucher_no,
        memo: &e.memo,
        maker: &e.maker,
        checker: &e.checker,
    }
}

/// Appends one entry at the head of an account's chain. The account row is locked first (a
/// no-op update), so two postings to one account queue rather than fork the chain.
pub(super) fn append(conn: &mut DbConn, account_id: i64, e: NewEntry, at: NaiveDateTime) -> AppResult<i64> {
    diesel::update(fund_accounts::table.find(account_id))
        .set(fund_accounts::head_seq.eq(fund_accounts::head_seq))
        .execute(conn)?;
    let a = fund_accounts::table.find(account_id).select(AccountRow::as_select()).first(conn)?;
    let balance = a.balance_fen + e.amount_fen;
    if balance < 0 {
        return Err(AppError::invalid(
            ErrorCode::LedgerInsufficient,
            format!("账户 {} 余额 {} 元，不足以支付 {} 元", a.code, Fen::new(a.balance_fen), Fen::new(-e.amount_fen)),
        ));
    }
    let seq = a.head_seq + 1;
    let key = crate::audit::chain::key()?;
    let hash = ledger::entry_hash(Seal::Keyed(key), &a.head_hash, &fields(&a.code, seq, &e));
    let id: i64 = diesel::insert_into(ledger_entries::table)
        .values((
            ledger_entries::account_id.eq(account_id),
            ledger_entries::seq.eq(seq),
            ledger_entries::request_id.eq(e.request_id),
            ledger_entries::kind.eq(e.kind.as_str()),
            ledger_entries::amount_fen.eq(e.amount_fen),
            ledger_entries::value_date.eq(e.value_date),
            ledger_entries::month.eq(Month::of(e.value_date).key()),
            ledger_entries::category.eq(&e.category),
            ledger_entries::counter_account_id.eq(e.counter_account_id),
            ledger_entries::for_school_id.eq(e.for_school_id),
            ledger_entries::reverses_entry_id.eq(e.reverses_entry_id),
            ledger_entries::voucher_no.eq(&e.voucher_no),
            ledger_entries::memo.eq(&e.memo),
            ledger_entries::maker.eq(&e.maker),
            ledger_entries::checker.eq(&e.checker),
            ledger_entries::posted_at.eq(at),
            ledger_entries::prev_hash.eq(&a.head_hash),
            ledger_entries::hash.eq(&hash),
        ))
        .returning(ledger_entries::id)
        .get_result(conn)?;
    diesel::update(fund_accounts::table.find(account_id))
        .set((
            fund_accounts::head_seq.eq(seq),
            fund_accounts::head_hash.eq(&hash),
            fund_accounts::balance_fen.eq(balance),
        ))
        .execute(conn)?;
    Ok(id)
}
