//! The chains' key, where their keyed parts begin, and their anchor: a record of the heads of
//! the audit log and of every ledger account, signed with the chain key and kept outside the
//! database (`data_dir/chain-anchor-….json`, and in each backup). Someone who can rewrite the
//! database but not read the key can neither re-seal an edited row nor forge the anchor, so a
//! truncated tail, a re-chained stretch and a deleted account all show in `verify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::db::DbConn;
use crate::db::schema::{audit_log, chain_starts, fund_accounts, orgs};
use crate::domain::chain::ChainKey;
use crate::error::{AppError, AppResult, ErrorCode};

static KEY: OnceLock<ChainKey> = OnceLock::new();

/// Makes `key` the one this process seals rows with. Every entry point (the server, each
/// command, the tests' harness) installs the key it loaded before touching a chain.
pub fn install(key: &ChainKey) -> AppResult<()> {
    let installed = KEY.get_or_init(|| key.clone());
    if installed.id() != key.id() {
        return Err(AppError::internal_msg(ErrorCode::ChainKeyConflict, "同一进程不能使用两把审计链密钥".into()));
    }
    Ok(())
}

/// The installed key; none is an error, never an unkeyed row.
pub fn key() -> AppResult<&'static ChainKey> {
    KEY.get()
        .ok_or_else(|| AppError::internal_msg(ErrorCode::ChainNoKey, "尚未加载审计链密钥，不能写入或核验哈希链".into()))
}

/// The two chained records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    Audit,
    Ledger,
}

impl Chain {
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Audit => "audit",
            Chain::Ledger => "ledger",
        }
    }
}

/// The first row id (audit row or ledger entry) sealed with the key.
pub fn keyed_from(conn: &mut DbConn, chain: Chain) -> AppResult<i64> {
    let from: Option<i64> =
        chain_starts::table.find(chain.as_str()).select(chain_starts::keyed_from).first(conn).optional()?;
    // The migration writes both rows; a database without them has had them deleted, and every
    // row is then held to the key (so nothing can be declared "from before the key").
    Ok(from.unwrap_or(1))
}

/// Binds the database's chains to `key`: the first start records the key's fingerprint; a
/// database bound to another key is refused before anything is written with this one.
pub fn adopt(conn: &mut DbConn, key: &ChainKey) -> AppResult<()> {
    let id = key.id();
    let rows: Vec<(String, Option<String>)> =
        chain_starts::table.select((chain_starts::chain, chain_starts::key_id)).load(conn)?;
    for (chain, bound) in rows {
        match bound {
            None => {
                diesel::update(chain_starts::table.find(&chain)).set(chain_starts::key_id.eq(&id)).execute(conn)?;
            }
            Some(b) if b == id => {}
            Some(b) => {
                return Err(AppError::internal_msg(
                    ErrorCode::ChainKeyMismatch,
                    format!(
                        "数据库的{}哈希链由另一把密钥（指纹 {b}）签署，当前密钥指纹为 {id}：请使用原密钥（secret.key 或 MEALROLL_SECRET_KEY）启动",
                        if chain == "audit" { "审计日志" } else { "资金台账" }
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The audit log's head as anchored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub keyed_from: i64,
    pub last_id: i64,
    pub hash: String,
}

/// One ledger account's head as anchored; the org path says whose verify reports it missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountHead {
    pub org_path: String,
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerHeads {
    pub keyed_from: i64,
    pub accounts: BTreeMap<String, AccountHead>,
}

/// What an anchor records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heads {
    pub key_id: String,
    pub audit: AuditHead,
    pub ledger: LedgerHeads,
}

impl Heads {
    /// Why the audit chain's keyed start in the database is not the anchored one, if it is not.
    pub fn audit_start_differs(&self, keyed_from: i64) -> Option<String> {
        (keyed_from != self.audit.keyed_from).then(|| {
            format!(
                "审计日志的密钥起点被改动：锚点文件记载自记录 #{} 起加密签署，数据库记为 #{keyed_from}",
                self.audit.keyed_from
            )
        })
    }

    pub fn ledger_start_differs(&self, keyed_from: i64) -> Option<String> {
        (keyed_from != self.ledger.keyed_from).then(|| {
            format!(
                "资金台账的密钥起点被改动：锚点文件记载自分录 #{} 起加密签署，数据库记为 #{keyed_from}",
                self.ledger.keyed_from
            )
        })
    }

    /// The heads the database holds now (not verified: [`checkpoint`] verifies first).
    pub fn read(conn: &mut DbConn, key: &ChainKey) -> AppResult<Heads> {
        let last: Option<(i64, String)> = audit_log::table
            .select((audit_log::id, audit_log::hash))
            .order(audit_log::id.desc())
            .first(conn)
            .optional()?;
        let (last_id, hash) = last.unwrap_or((0, crate::domain::chain::GENESIS.to_owned()));
        let accounts: Vec<(String, String, i64, String)> = fund_accounts::table
            .inner_join(orgs::table)
            .select((fund_accounts::code, orgs::path, fund_accounts::head_seq, fund_accounts::head_hash))
            .load(conn)?;
        Ok(Heads {
            key_id: key.id(),
            audit: AuditHead { keyed_from: keyed_from(conn, Chain::Audit)?, last_id, hash },
            ledger: LedgerHeads {
                keyed_from: keyed_from(conn, Chain::Ledger)?,
                accounts: accounts
                    .into_iter()
                    .map(|(code, org_path, seq, hash)| (code, AccountHead { org_path, seq, hash }))
                    .collect(),
            },
        })
    }
}

/// The anchor file of one database, in the server's data directory. Named after the database's
/// address rather than anything inside it, so whoever rewrites the database cannot point it at
/// another anchor; one data directory can serve several databases.
pub fn anchor_path(data_dir: &Path, database_url: &str) -> PathBuf {
    let place = match crate::db::Backend::of(database_url) {
        crate::db::Backend::Sqlite => {
            let file = Path::new(crate::db::sqlite_path(database_url));
            file.canonicalize().unwrap_or_else(|_| file.to_owned()).display().to_string()
        }
        crate::db::Backend::Postgres => crate::db::redact_url(database_url),
    };
    let digest = <sha2::Sha256 as sha2::Digest>::digest(place.as_bytes());
    data_dir.join(format!("chain-anchor-{}.json", &hex::encode(digest)[..12]))
}

const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Signed {
    format: u32,
    written_at: String,
    heads: Heads,
    /// HMAC over the JSON of the three fields above.
    mac: String,
}

fn signed_bytes(format: u32, written_at: &str, heads: &Heads) -> AppResult<Vec<u8>> {
    serde_json::to_vec(&(format, written_at, heads))
        .map_err(|e| AppError::internal_msg(ErrorCode::ChainAnchor, format!("锚点无法序列化: {e}")))
}

/// The anchor of the settings' database, checked against the installed key.
pub fn anchor_of(settings: &Settings) -> AppResult<Option<Heads>> {
    read_anchor(&anchor_path(&settings.data_dir, &settings.database_url), key()?)
}

/// Reads and checks an anchor: `None` when there is none yet; an error when it is unreadable,
/// was signed with another key, or was edited.
pub fn read_anchor(path: &Path, key: &ChainKey) -> AppResult<Option<Heads>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AppError::internal_msg(
                ErrorCode::ChainAnchor,
                format!("无法读取锚点文件 {}: {e}", path.display()),
            ));
        }
    };
    decode_anchor(&bytes, key).map(Some).map_err(|why| {
        AppError::conflict(ErrorCode::ChainAnchorInvalid, format!("锚点文件 {} 不可信：{why}", path.display()))
    })
}

/// An anchor's bytes (from the file or from a backup), checked against the key.
pub fn decode_anchor(bytes: &[u8], key: &ChainKey) -> Result<Heads, String> {
    let s: Signed = serde_json::from_slice(bytes).map_err(|e| format!("格式有误（{e}）"))?;
    if s.format != FORMAT {
        return Err(format!("格式版本 {} 不受支持", s.format));
    }
    if s.heads.key_id != key.id() {
        return Err(format!("由另一把密钥（指纹 {}）签署", s.heads.key_id));
    }
    let expect = key.sign(&signed_bytes(s.format, &s.written_at, &s.heads).map_err(|e| e.to_string())?);
    if expect != s.mac {
        return Err("签名不符（文件被改动）".into());
    }
    Ok(s.heads)
}

/// An anchor's bytes for `heads`, signed now.
pub fn encode_anchor(heads: &Heads, key: &ChainKey) -> AppResult<Vec<u8>> {
    let written_at = crate::clock::instant().with_timezone(&chrono_tz::Asia::Shanghai).to_rfc3339();
    let mac = key.sign(&signed_bytes(FORMAT, &written_at, heads)?);
    let signed = Signed { format: FORMAT, written_at, heads: heads.clone(), mac };
    serde_json::to_vec_pretty(&signed)
        .map_err(|e| AppError::internal_msg(ErrorCode::ChainAnchor, format!("锚点无法序列化: {e}")))
}

/// What a checkpoint did.
#[derive(Debug, Clone, Serialize)]
pub struct Checkpoint {
    /// The anchor moved to the database's current heads.
    pub written: bool,
    /// Why it did not: the first break each chain shows against the previous anchor.
    pub breaks: Vec<String>,
    pub audit_rows_checked: u64,
    pub ledger_accounts: usize,
}

/// Verifies what was added since the last anchor (the audit rows after its head, every ledger
/// account against its anchored head) and, if all holds, moves the anchor to the current heads.
/// A break leaves the old anchor in place, so it keeps showing until someone looks.
pub fn checkpoint(conn: &mut DbConn, settings: &Settings) -> AppResult<Checkpoint> {
    let key = key()?;
    let path = anchor_path(&settings.data_dir, &settings.database_url);
    let anchored = read_anchor(&path, key)?;
    let start = anchored.as_ref().map(|a| (a.audit.last_id, a.audit.hash.as_str()));
    let audit = crate::audit::service::verify_from(conn, start, anchored.as_ref())?;
    let ledger = crate::ledger::fund::verify_all(conn, anchored.as_ref())?;
    let mut breaks: Vec<String> =
        audit.first_broken.iter().map(|(id, why)| format!("审计日志记录 #{id}：{why}")).collect();
    breaks.extend(ledger.broken.iter().map(|b| format!("资金台账账户 {} 第 {} 笔：{}", b.account, b.seq, b.reason)));
    let outcome = Checkpoint {
        written: breaks.is_empty(),
        audit_rows_checked: audit.rows,
        ledger_accounts: ledger.accounts,
        breaks,
    };
    if outcome.written {
        write_anchor(&path, &encode_anchor(&Heads::read(conn, key)?, key)?)?;
    }
    Ok(outcome)
}

/// Replaces the file whole (write beside it, then rename), so a crash never leaves half an anchor.
fn write_anchor(path: &Path, bytes: &[u8]) -> AppResult<()> {
    let io = |e: std::io::Error| {
        AppError::internal_msg(ErrorCode::ChainAnchor, format!("无法写入锚点文件 {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads() -> Heads {
        Heads {
            key_id: ChainKey::new([3; 32]).id(),
            audit: AuditHead { keyed_from: 1, last_id: 9, hash: "ab".into() },
            ledger: LedgerHeads {
                keyed_from: 1,
                accounts: BTreeMap::from([(
                    "FA-1".to_owned(),
                    AccountHead { org_path: "/52/".into(), seq: 2, hash: "cd".into() },
                )]),
            },
        }
    }

    #[test]
    fn an_anchor_reads_back_only_unaltered_and_under_its_key() {
        let key = ChainKey::new([3; 32]);
        let bytes = encode_anchor(&heads(), &key).expect("encode");
        assert_eq!(decode_anchor(&bytes, &key), Ok(heads()));
        let edited = String::from_utf8(bytes.clone()).expect("utf8").replace("\"last_id\": 9", "\"last_id\": 5");
        assert!(decode_anchor(edited.as_bytes(), &key).expect_err("edited").contains("签名不符"));
        assert!(decode_anchor(&bytes, &ChainKey::new([4; 32])).expect_err("other key").contains("另一把密钥"));
        assert!(decode_anchor(b"{", &key).is_err());
    }
}
