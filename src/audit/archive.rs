//! Retention: audit rows are kept at least [`AUDIT_RETAIN_DAYS`] and never simply deleted. Older rows
//! may move, oldest first, to an archive file signed with the chain key; the database keeps a
//! record of each archive (which rows, the last hash, where the file went), its chain then
//! starts from that last hash, and `audit verify` reads the files back as the chain's start.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::chain::{self, Chain};
use super::service::{AuditRow, Link};
use super::{Actor, Entry};
use crate::db::DbConn;
use crate::db::schema::{audit_archives, audit_log};
use crate::domain::chain::{AUDIT_RETAIN_DAYS, GENESIS, latest_archivable};
use crate::error::{AppError, AppResult, ErrorCode};

const FORMAT: u32 = 1;

/// What an archive file says about itself before its rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    format: u32,
    from_id: i64,
    to_id: i64,
    /// The hash the first row links to (the previous archive's last, or genesis).
    prev_hash: String,
    key_id: String,
    created_at: String,
}

/// What was archived.
#[derive(Debug, Clone, Serialize)]
pub struct Archived {
    pub file: String,
    pub from_id: i64,
    pub to_id: i64,
    pub rows: u64,
    pub last_hash: String,
    pub sha256: String,
}

/// Where the chain starts in the database: after the newest archive, if there is one.
pub fn chain_start(conn: &mut DbConn) -> AppResult<Option<(i64, String)>> {
    Ok(audit_archives::table
        .order(audit_archives::to_id.desc())
        .select((audit_archives::to_id, audit_archives::last_hash))
        .first(conn)
        .optional()?)
}

/// Moves the rows older than `before` (a day at least [`AUDIT_RETAIN_DAYS`] ago, Beijing time) that
/// no archive holds yet into a signed file at `out`, after checking that they chain; then, in
/// one transaction, records the archive, removes the rows and audits it. The newest row always
/// stays, so the next one has something to link to.
pub fn archive(conn: &mut DbConn, actor: &Actor, before: NaiveDate, out: &Path) -> AppResult<Archived> {
    let latest = latest_archivable(crate::clock::today());
    if before > latest {
        return Err(AppError::field(
            "before",
            ErrorCode::AuditRetention,
            format!(
                "审计记录至少保留{AUDIT_RETAIN_DAYS}天：今天只能归档 {latest} 及以前的记录（--before 不晚于 {latest}）"
            ),
        ));
    }
    let key = chain::key()?;
    let (after_id, prev_hash) = chain_start(conn)?.unwrap_or((0, GENESIS.to_owned()));
    let cutoff = crate::clock::day_start_utc(before);
    let newest: Option<i64> = audit_log::table.select(diesel::dsl::max(audit_log::id)).first(conn)?;
    let first_kept: Option<i64> =
        audit_log::table.filter(audit_log::at.ge(cutoff)).select(diesel::dsl::min(audit_log::id)).first(conn)?;
    let to_id = first_kept.unwrap_or(i64::MAX).min(newest.unwrap_or(0)) - 1;
    if to_id <= after_id {
        return Err(AppError::invalid(
            ErrorCode::AuditNothingToArchive,
            format!("{before} 以前没有尚未归档的审计记录"),
        ));
    }
    let rows: Vec<AuditRow> = audit_log::table
        .filter(audit_log::id.gt(after_id))
        .filter(audit_log::id.le(to_id))
        .order(audit_log::id.asc())
        .select(AuditRow::as_select())
        .load(conn)?;
    let mut link = Link { key, keyed_from: chain::keyed_from(conn, Chain::Audit)?, prev: prev_hash.clone() };
    for r in &rows {
        link.next(r).map_err(|why| {
            AppError::conflict(ErrorCode::AuditTampered, format!("审计记录 #{} 校验失败，不能归档：{why}", r.id))
        })?;
    }
    let header = Header {
        format: FORMAT,
        from_id: after_id + 1,
        to_id,
        prev_hash,
        key_id: key.id(),
        created_at: crate::clock::instant().with_timezone(&chrono_tz::Asia::Shanghai).to_rfc3339(),
    };
    let mut body = Vec::new();
    put(&header, &mut body)?;
    for r in &rows {
        put(r, &mut body)?;
    }
    let mac = key.sign(&body);
    writeln!(body, "{}", serde_json::json!({ "mac": mac })).map_err(write_err)?;
    write_file(out, &body)?;
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let file = out.canonicalize().unwrap_or_else(|_| out.to_owned()).display().to_string();
    let archived = Archived {
        file: file.clone(),
        from_id: header.from_id,
        to_id,
        rows: rows.len() as u64,
        last_hash: link.prev.clone(),
        sha256: sha256.clone(),
    };
    crate::db::write_tx(conn, |conn| {
        diesel::insert_into(audit_archives::table)
            .values((
                audit_archives::from_id.eq(header.from_id),
                audit_archives::to_id.eq(to_id),
                audit_archives::row_count.eq(rows.len() as i64),
                audit_archives::last_hash.eq(&archived.last_hash),
                audit_archives::file.eq(&file),
                audit_archives::sha256.eq(&sha256),
                audit_archives::archived_at.eq(crate::clock::now()),
                audit_archives::archived_by.eq(&actor.name),
            ))
            .execute(conn)?;
        diesel::delete(audit_log::table.filter(audit_log::id.le(to_id))).execute(conn)?;
        super::record(
            conn,
            actor,
            Entry::new("audit.archive", "audit_log", format!("{}-{to_id}", header.from_id)).after(&archived),
        )
    })?;
    Ok(archived)
}

/// Reads every recorded archive back and checks it: the file is there, unaltered (its MAC and
/// its digest), its rows chain on from the archive before it, and it ends where the record says.
/// Returns how many rows the archives hold, or the first problem.
pub fn verify_archives(conn: &mut DbConn) -> AppResult<Result<u64, String>> {
    let key = chain::key()?;
    let keyed_from = chain::keyed_from(conn, Chain::Audit)?;
    let records: Vec<(i64, i64, String, String, String)> = audit_archives::table
        .order(audit_archives::to_id.asc())
        .select((
            audit_archives::from_id,
            audit_archives::to_id,
            audit_archives::last_hash,
            audit_archives::file,
            audit_archives::sha256,
        ))
        .load(conn)?;
    let (mut prev, mut next_id, mut total) = (GENESIS.to_owned(), 1i64, 0u64);
    for (from_id, to_id, last_hash, file, sha256) in records {
        let name = PathBuf::from(&file);
        let bytes = match std::fs::read(&name) {
            Ok(b) => b,
            Err(_) => return Ok(Err(format!("归档文件 {file}（记录 #{from_id}–#{to_id}）不存在或无法读取"))),
        };
        if hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)) != sha256 {
            return Ok(Err(format!("归档文件 {file} 与归档时不同（被改动或替换）")));
        }
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        let Some((last, content)) = lines.split_last() else {
            return Ok(Err(format!("归档文件 {file} 是空的")));
        };
        let signed_len = bytes.len() - last.len() - 1;
        let mac: Option<String> =
            serde_json::from_slice::<serde_json::Value>(last).ok().and_then(|v| v["mac"].as_str().map(str::to_owned));
        if mac.as_deref() != Some(key.sign(&bytes[..signed_len]).as_str()) {
            return Ok(Err(format!("归档文件 {file} 的签名不符（被改动，或由另一把密钥签署）")));
        }
        let Some((head, rows)) = content.split_first() else {
            return Ok(Err(format!("归档文件 {file} 缺少文件头")));
        };
        let header: Header = match serde_json::from_slice(head) {
            Ok(h) => h,
            Err(e) => return Ok(Err(format!("归档文件 {file} 的文件头有误：{e}"))),
        };
        if header.from_id != next_id || header.from_id != from_id || header.prev_hash != prev {
            return Ok(Err(format!("归档文件 {file} 接不上前一段（应自记录 #{next_id} 起）")));
        }
        let mut link = Link { key, keyed_from, prev: prev.clone() };
        let mut expect_id = from_id;
        for line in rows {
            let r: AuditRow = match serde_json::from_slice(line) {
                Ok(r) => r,
                Err(e) => return Ok(Err(format!("归档文件 {file} 中有一行无法读出：{e}"))),
            };
            if r.id != expect_id {
                return Ok(Err(format!("归档文件 {file}：应为记录 #{expect_id}，实为 #{}", r.id)));
            }
            if let Err(why) = link.next(&r) {
                return Ok(Err(format!("归档文件 {file} 记录 #{}：{why}", r.id)));
            }
            expect_id += 1;
            total += 1;
        }
        if expect_id - 1 != to_id || link.prev != last_hash {
            return Ok(Err(format!("归档文件 {file} 的结尾与归档记录不符")));
        }
        prev = last_hash;
        next_id = to_id + 1;
    }
    Ok(Ok(total))
}

/// One JSON value per line.
fn put<T: Serialize>(v: &T, out: &mut Vec<u8>) -> AppResult<()> {
    serde_json::to_writer(&mut *out, v)
        .map_err(|e| AppError::internal_msg(ErrorCode::AuditArchive, format!("归档写入失败: {e}")))?;
    out.push(b'\n');
    Ok(())
}

fn write_err(e: std::io::Error) -> AppError {
    AppError::internal_msg(ErrorCode::AuditArchive, format!("归档写入失败: {e}"))
}

/// The file whole or not at all (written beside, synced, renamed): rows leave the database only
/// after their archive is safely on disk.
fn write_file(path: &Path, bytes: &[u8]) -> AppResult<()> {
    if path.exists() {
        return Err(AppError::invalid(
            ErrorCode::AuditArchiveExists,
            format!("{} 已存在：归档不覆盖已有文件", path.display()),
        ));
    }
    let tmp = path.with_extension("partial");
    let mut f = std::fs::File::create(&tmp).map_err(write_err)?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(write_err)?;
    std::fs::rename(&tmp, path).map_err(write_err)
}
