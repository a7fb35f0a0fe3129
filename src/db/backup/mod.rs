//! Backup and restore. A backup is one consistent snapshot of every table (a read transaction
//! on SQLite's WAL, a repeatable-read one on PostgreSQL), written while the server runs, as
//! JSON lines compressed and sealed with a key derived from the master secret
//! ([`sealed`]). It carries a manifest (when, which product and migrations, rows per table,
//! the chains' heads, signed as an anchor), so a restore proves itself: into an empty database
//! of either backend, in one transaction, then the counts against the manifest, the audit and
//! ledger chains verified against the backup's anchor, and a restore-test row in the audit log.
//!
//! File lines: `{"backup": Header}`, then per table `{"table": Table}` followed by its rows
//! (JSON arrays in the table's column order) and `{"end": rows}`, and last `{"manifest": …}`.

pub mod sealed;
pub mod tables;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use self::sealed::{BackupKey, SealedReader, SealedWriter};
use self::tables::Table;
use crate::audit::chain::{self, Heads};
use crate::audit::{self, Actor, Entry};
use crate::config::Keys;
use crate::db::DbConn;
use crate::error::{AppError, AppResult, ErrorCode};

const FORMAT: u32 = 1;

/// What a backup says about itself before its tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub product: String,
    /// Beijing time, RFC 3339.
    pub created_at: String,
    pub backend: String,
    pub migrations: Vec<String>,
    /// The fingerprint of the chain key the audit log and ledger were sealed with.
    pub chain_key_id: String,
}

/// What a backup says about itself after its tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub tables: BTreeMap<String, u64>,
    pub heads: Heads,
    /// The heads as a signed anchor, for the restored database's anchor file.
    pub anchor: String,
    /// The field keys added by rotations (hex): the backup is itself sealed, and a restore
    /// needs them to open what the rows hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_keys: Vec<String>,
}

/// What `mealroll backup` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Made {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub header: Header,
    pub rows: u64,
    pub tables: BTreeMap<String, u64>,
    pub audit_head: i64,
    pub ledger_accounts: usize,
}

fn io_err(what: &str, path: &Path) -> impl Fn(std::io::Error) -> AppError {
    let msg = format!("{what} {}", path.display());
    move |e| AppError::internal_msg(ErrorCode::BackupIo, format!("{msg}: {e}"))
}

/// Rows written per statement on restore (and at most this many bytes of JSON).
const BATCH_ROWS: usize = 500;
const BATCH_BYTES: usize = 4 << 20;

/// Writes a backup of the whole database to `out` (beside it first, renamed when complete).
pub fn create(conn: &mut DbConn, keys: &Keys, out: &Path) -> AppResult<Made> {
    let tmp = out.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(io_err("无法创建备份文件", &tmp))?;
    let made = (|| {
        let sealed = SealedWriter::new(BufWriter::new(file), &backup_key(keys)).map_err(io_err("无法写入", &tmp))?;
        let mut gz = GzEncoder::new(sealed, Compression::fast());
        let (header, manifest) = snapshot(conn, keys, &mut gz)?;
        let sealed = gz.finish().map_err(io_err("无法写入", &tmp))?;
        let mut w = sealed.finish().map_err(io_err("无法写入", &tmp))?;
        w.flush().map_err(io_err("无法写入", &tmp))?;
        w.into_inner()
            .map_err(|e| io_err("无法写入", &tmp)(e.into_error()))?
            .sync_all()
            .map_err(io_err("无法写入", &tmp))?;
        Ok::<_, AppError>((header, manifest))
    })();
    let (header, manifest) = match made {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out).map_err(io_err("无法写入", out))?;
    let (bytes, sha256) = digest(out)?;
    Ok(Made {
        file: out.display().to_string(),
        bytes,
        sha256,
        rows: manifest.tables.values().sum(),
        tables: manifest.tables,
        audit_head: manifest.heads.audit.last_id,
        ledger_accounts: manifest.heads.ledger.accounts.len(),
        header,
    })
}

fn backup_key(keys: &Keys) -> BackupKey {
    BackupKey::new(keys.backup)
}

fn digest(path: &Path) -> AppResult<(u64, String)> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).map_err(io_err("无法读取", path))?;
    let mut h = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut h).map_err(io_err("无法读取", path))?;
    Ok((bytes, hex::encode(h.finalize())))
}

fn line(w: &mut impl Write, v: &Value) -> AppResult<()> {
    serde_json::to_writer(&mut *w, v)
        .map_err(|e| AppError::internal_msg(ErrorCode::BackupIo, format!("备份写入失败: {e}")))?;
    w.write_all(b"\n").map_err(|e| AppError::internal_msg(ErrorCode::BackupIo, format!("备份写入失败: {e}")))
}

/// Every table inside one read transaction: what it writes is the database at one instant,
/// whatever the server does meanwhile.
fn snapshot(conn: &mut DbConn, keys: &Keys, w: &mut impl Write) -> AppResult<(Header, Manifest)> {
    use diesel::Connection;
    conn.transaction(|conn| {
        if !matches!(conn, DbConn::Sqlite(_)) {
            use diesel::RunQueryDsl;
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(conn)?;
        }
        let header = Header {
            format: FORMAT,
            product: format!("mealroll {}", env!("CARGO_PKG_VERSION")),
            created_at: crate::clock::instant().with_timezone(&chrono_tz::Asia::Shanghai).to_rfc3339(),
            backend: if matches!(conn, DbConn::Sqlite(_)) { "sqlite" } else { "postgres" }.into(),
            migrations: tables::migrations(conn)?,
            chain_key_id: keys.chain.id(),
        };
        line(w, &json!({ "backup": header }))?;
        let mut counts = BTreeMap::new();
        for table in tables::catalog(conn)? {
            line(w, &json!({ "table": table }))?;
            let n = tables::read_rows(conn, &table, |row| line(w, &Value::Array(row)))?;
            line(w, &json!({ "end": n }))?;
            counts.insert(table.name, n);
        }
        let heads = Heads::read(conn, &keys.chain)?;
        let anchor = String::from_utf8(chain::encode_anchor(&heads, &keys.chain)?)
            .map_err(|_| AppError::internal_msg(ErrorCode::BackupAnchor, "锚点编码有误".into()))?;
        let manifest = Manifest { tables: counts, heads, anchor, field_keys: keys.field_file_keys.clone() };
        line(w, &json!({ "manifest": manifest }))?;
        Ok((header, manifest))
    })
}

/// What a restore found.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub header: Header,
    pub rows: u64,
    pub tables: usize,
    /// Every table's count equals the manifest's.
    pub counts_match: bool,
    pub audit_rows: u64,
    pub audit_broken: Option<(i64, String)>,
    pub ledger_entries: u64,
    pub ledger_broken: Vec<String>,
    /// Counts, audit chain and ledger all hold.
    pub verified: bool,
}

fn bad(code: ErrorCode, msg: String) -> AppError {
    AppError::invalid(code, msg)
}

/// Restores `file` into the (empty, migrated) database behind `conn`, then proves it: counts,
/// chains against the backup's anchor, and a restore-test row. The settings name the target, so
/// the restored database's anchor file is written where its server will look.
pub fn restore(conn: &mut DbConn, keys: &Keys, settings: &crate::config::Settings, file: &Path) -> AppResult<Restored> {
    let f = std::fs::File::open(file).map_err(io_err("无法打开备份文件", file))?;
    let sealed = SealedReader::open(BufReader::new(f), &backup_key(keys))
        .map_err(|e| bad(ErrorCode::BackupUnreadable, format!("{}：{e}", file.display())))?;
    let mut lines = BufReader::with_capacity(1 << 20, GzDecoder::new(sealed)).lines();
    let damaged = |e: std::io::Error| bad(ErrorCode::BackupUnreadable, format!("{}：{e}", file.display()));
    let mut next = move || -> AppResult<Value> {
        let text = lines
            .next()
            .ok_or_else(|| bad(ErrorCode::BackupUnreadable, "备份文件不完整（缺少结尾的清单）".into()))?
            .map_err(damaged)?;
        serde_json::from_str(&text).map_err(|e| bad(ErrorCode::BackupUnreadable, format!("备份内容无法解析: {e}")))
    };
    let header: Header = serde_json::from_value(next()?.get("backup").cloned().unwrap_or(Value::Null))
        .map_err(|_| bad(ErrorCode::BackupUnreadable, "备份缺少文件头".into()))?;
    if header.format != FORMAT {
        return Err(bad(ErrorCode::BackupVersion, format!("备份格式版本 {} 不受支持", header.format)));
    }
    if header.chain_key_id != keys.chain.id() {
        return Err(bad(
            ErrorCode::BackupChainKey,
            format!("备份的审计链由另一把密钥（指纹 {}）签署：请用备份所在系统的主密钥恢复", header.chain_key_id),
        ));
    }
    let here = tables::migrations(conn)?;
    if here != header.migrations {
        return Err(bad(
            ErrorCode::BackupVersion,
            format!(
                "备份来自数据库结构版本 {}，本程序为 {}：请用相同版本的 mealroll 恢复",
                header.migrations.last().map(String::as_str).unwrap_or("?"),
                here.last().map(String::as_str).unwrap_or("?")
            ),
        ));
    }
    for t in ["orgs", "users", "students", "audit_log", "ledger_entries"] {
        let n = tables::count(conn, t)?;
        if n > 0 {
            return Err(bad(
                ErrorCode::BackupTargetNotEmpty,
                format!("目标数据库的表 {t} 已有 {n} 行：恢复只写入新建的空数据库，以免两份数据混在一起"),
            ));
        }
    }
    let catalog: BTreeMap<String, Table> = tables::catalog(conn)?.into_iter().map(|t| (t.name.clone(), t)).collect();

    let manifest = crate::db::write_tx(conn, |conn| {
        if matches!(conn, DbConn::Sqlite(_)) {
            use diesel::RunQueryDsl;
            // Rows of a table referring to later rows of itself: checked once, at commit.
            diesel::sql_query("PRAGMA defer_foreign_keys = ON").execute(conn)?;
        }
        for t in catalog.keys().filter(|t| *t != "chain_starts") {
            tables::clear(conn, t)?;
        }
        let mut loaded: BTreeMap<String, u64> = BTreeMap::new();
        loop {
            let v = next()?;
            if let Some(m) = v.get("manifest") {
                let m: Manifest = serde_json::from_value(m.clone())
                    .map_err(|e| bad(ErrorCode::BackupUnreadable, format!("备份清单无法解析: {e}")))?;
                return Ok((m, loaded));
            }
            let table: Table = serde_json::from_value(v.get("table").cloned().unwrap_or(Value::Null))
                .map_err(|_| bad(ErrorCode::BackupUnreadable, "备份内容次序有误".into()))?;
            let here = catalog.get(&table.name).ok_or_else(|| {
                bad(ErrorCode::BackupVersion, format!("备份中的表 {} 在本数据库中不存在", table.name))
            })?;
            if here.columns.iter().map(|c| &c.name).collect::<std::collections::BTreeSet<_>>()
                != table.columns.iter().map(|c| &c.name).collect()
            {
                return Err(bad(ErrorCode::BackupVersion, format!("表 {} 的列与备份不同", table.name)));
            }
            let (mut batch, mut size, mut n) = (Vec::new(), 0usize, 0u64);
            loop {
                let v = next()?;
                if let Some(end) = v.get("end") {
                    if end.as_u64() != Some(n) {
                        return Err(bad(
                            ErrorCode::BackupUnreadable,
                            format!("表 {} 的行数与备份记载不符", table.name),
                        ));
                    }
                    break;
                }
                let Value::Array(row) = v else {
                    return Err(bad(ErrorCode::BackupUnreadable, format!("表 {} 的一行格式有误", table.name)));
                };
                if row.len() != table.columns.len() {
                    return Err(bad(ErrorCode::BackupUnreadable, format!("表 {} 的一行列数有误", table.name)));
                }
                size += row.iter().map(|x| x.as_str().map_or(8, str::len)).sum::<usize>();
                batch.push(row);
                n += 1;
                if batch.len() >= BATCH_ROWS || size >= BATCH_BYTES {
                    load(conn, &table, &batch)?;
                    (batch, size) = (Vec::new(), 0);
                }
            }
            load(conn, &table, &batch)?;
            loaded.insert(table.name, n);
        }
    })?;
    let (manifest, loaded) = manifest;
    let counts_match = loaded == manifest.tables;
    crate::db::write_tx(conn, |conn| {
        tables::advance_sequences(conn)?;
        Ok(())
    })?;
    let mut actual_match = counts_match;
    for (t, n) in &manifest.tables {
        actual_match &= tables::count(conn, t)? == *n as i64;
    }
    // The rows' keys join this server's ring; then the ring must open what was restored.
    crate::db::at_rest::import_keys(&settings.data_dir, &manifest.field_keys)?;
    crate::db::at_rest::install(&crate::db::at_rest::load_ring(&settings.data_dir, keys.fields.clone())?);
    crate::db::at_rest::seal_once(conn)?;

    // Proves itself: the chains against the anchor the backup carries, whose signature the key
    // checks; the anchor then becomes the restored database's own.
    chain::adopt(conn, &keys.chain)?;
    let anchored = chain::decode_anchor(manifest.anchor.as_bytes(), &keys.chain)
        .map_err(|why| bad(ErrorCode::BackupAnchor, format!("备份中的锚点不可信：{why}")))?;
    let audit_v = audit::service::verify(conn, Some(&anchored))?;
    let ledger_v = crate::ledger::fund::verify_all(conn, Some(&anchored))?;
    let ledger_broken: Vec<String> =
        ledger_v.broken.iter().map(|b| format!("账户 {} 第 {} 笔：{}", b.account, b.seq, b.reason)).collect();
    let verified = actual_match && audit_v.first_broken.is_none() && ledger_broken.is_empty();
    if verified {
        write_file(&chain::anchor_path(&settings.data_dir, &settings.database_url), manifest.anchor.as_bytes())?;
    }
    let restored = Restored {
        header,
        rows: manifest.tables.values().sum(),
        tables: manifest.tables.len(),
        counts_match: actual_match,
        audit_rows: audit_v.rows,
        audit_broken: audit_v.first_broken,
        ledger_entries: ledger_v.entries,
        ledger_broken,
        verified,
    };
    let instance = audit::service::instance_path(conn)?;
    audit::record_alone(
        conn,
        &Actor::cli(&instance),
        Entry::new("backup.restore_test", "backup", file.display())
            .result(if verified { "ok" } else { "failed" })
            .after(&restored),
    )?;
    Ok(restored)
}

fn load(conn: &mut DbConn, table: &Table, rows: &[Vec<Value>]) -> AppResult<()> {
    if table.name != "chain_starts" {
        return tables::write_rows(conn, table, rows);
    }
    // The migrations wrote this table's rows (and it refuses deletes): set them instead.
    use crate::db::schema::chain_starts;
    use diesel::prelude::*;
    let at = |name: &str| table.columns.iter().position(|c| c.name == name);
    let (Some(c), Some(k), Some(i)) = (at("chain"), at("keyed_from"), at("key_id")) else {
        return Err(bad(ErrorCode::BackupVersion, "表 chain_starts 的列与备份不同".into()));
    };
    for row in rows {
        let chain = row[c].as_str().unwrap_or_default().to_owned();
        let keyed_from = row[k].as_i64().unwrap_or(1);
        let set = diesel::update(chain_starts::table.find(&chain))
            .set((chain_starts::keyed_from.eq(keyed_from), chain_starts::key_id.eq(row[i].as_str())))
            .execute(conn)?;
        if set == 0 {
            diesel::insert_into(chain_starts::table)
                .values((
                    chain_starts::chain.eq(&chain),
                    chain_starts::keyed_from.eq(keyed_from),
                    chain_starts::key_id.eq(row[i].as_str()),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> AppResult<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err("无法写入", path))?;
    }
    std::fs::write(path, bytes).map_err(io_err("无法写入", path))
}

/// A scheduled backup's file name: when it was taken, Beijing time.
pub fn scheduled_name(dir: &Path) -> PathBuf {
    let now = crate::clock::instant().with_timezone(&chrono_tz::Asia::Shanghai);
    dir.join(format!("mealroll-{}.backup", now.format("%Y%m%d-%H%M%S")))
}

/// Keeps the newest `keep` scheduled backups in `dir`, removing the rest; returns what went.
pub fn prune(dir: &Path, keep: usize) -> AppResult<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err("无法读取备份目录", dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("mealroll-") && n.ends_with(".backup"))
        })
        .collect();
    files.sort();
    let excess = files.len().saturating_sub(keep.max(1));
    let gone: Vec<PathBuf> = files.into_iter().take(excess).collect();
    for p in &gone {
        std::fs::remove_file(p).map_err(io_err("无法删除旧备份", p))?;
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_scheduled_backups_and_nothing_else_goes() {
        let dir = tempfile::tempdir().expect("dir");
        for name in [
            "mealroll-20261201-020000.backup",
            "mealroll-20261203-020000.backup",
            "mealroll-20261202-020000.backup",
            "county-by-hand.backup",
            "mealroll-notes.txt",
        ] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        let gone = prune(dir.path(), 2).expect("prune");
        let names: Vec<String> =
            gone.iter().filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned)).collect();
        assert_eq!(names, ["mealroll-20261201-020000.backup"]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        left.sort();
        assert_eq!(left.len(), 4, "{left:?}");
        assert!(scheduled_name(dir.path()).to_string_lossy().ends_with(".backup"));
    }
}
