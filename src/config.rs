//! Settings: `config/default.toml` (compiled in) overridden by `MEALROLL_*` environment variables.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::domain::chain::ChainKey;
use crate::domain::field_seal::{FieldKey, KeyRing};
use crate::error::{AppError, ErrorCode};

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database_url: String,
    /// A streaming replica of the database (PostgreSQL) that lists, reports and scans read
    /// from (`MEALROLL_READ_DATABASE_URL`); writes always go to `database_url`.
    #[serde(default)]
    pub read_database_url: Option<String>,
    pub bind: String,
    pub data_dir: PathBuf,
    pub pool_size: u32,
    /// Hex master key; when absent it is read from (or generated into) `data_dir/secret.key`.
    #[serde(default)]
    pub secret_key: Option<String>,
    pub session: SessionSettings,
    pub lockout: LockoutSettings,
    pub accounts: AccountSettings,
    pub registry: RegistrySettings,
    /// The address the public reaches this server at (`https://yyjh.example.gov.cn`), for the QR
    /// code on a school's notice poster; when absent, the address a request came to.
    #[serde(default)]
    pub public_url: Option<String>,
    /// How often the server verifies what the chains gained and moves their anchor.
    pub anchor_minutes: u64,
    pub backup: BackupSettings,
    /// How long a finished job's result files (and a failed one's input) are kept.
    pub jobs_keep_hours: u64,
    /// The national key every province hashes ID numbers under for the centre (hex, at least
    /// 32 bytes; `MEALROLL_NATIONAL_KEY`). Without it no exchange package is made or read.
    #[serde(default)]
    pub national_key: Option<String>,
    /// The centre's public key (hex; `MEALROLL_CENTRE_KEY`): what comes back from the centre
    /// must be signed with it.
    #[serde(default)]
    pub centre_key: Option<String>,
}

/// Backups `serve` takes by itself.
#[derive(Debug, Clone, Deserialize)]
pub struct BackupSettings {
    /// Where scheduled backups go; empty: none are taken.
    pub dir: String,
    pub every_hours: u64,
    /// How many scheduled backups to keep (the oldest beyond it are removed).
    pub keep: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SessionSettings {
    pub idle_minutes: i64,
    pub absolute_hours: i64,
    pub cookie_secure: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LockoutSettings {
    pub max_failures: i32,
    pub window_minutes: i64,
    pub lock_minutes: i64,
    /// Failures from one client address within the window before it is blocked.
    pub ip_max_failures: i32,
    pub ip_block_minutes: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccountSettings {
    pub dormant_days: i64,
}

/// The registry's configurable rules (a province's deployment sets its own).
#[derive(Debug, Clone, Deserialize)]
pub struct RegistrySettings {
    /// A registration may start this many days before the day of entry without a reason.
    pub backdate_days: i64,
    /// The most students one export file may hold (a larger school exports class by class).
    pub export_max_rows: usize,
}

static REGISTRY: std::sync::OnceLock<RegistrySettings> = std::sync::OnceLock::new();

/// The registry rules in force: those of the settings this process loaded, else the defaults.
pub fn registry_rules() -> &'static RegistrySettings {
    REGISTRY.get_or_init(|| Settings::defaults().registry)
}

impl Settings {
    /// Defaults, then `MEALROLL_*` environment variables.
    pub fn load() -> Result<Self, AppError> {
        config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("MEALROLL").prefix_separator("_").separator("__").try_parsing(true),
            )
            .build()
            .and_then(|c| c.try_deserialize::<Self>())
            .map(Self::with_raw_keys)
            .inspect(|s| {
                let _ = REGISTRY.set(s.registry.clone());
            })
            .map_err(|e| AppError::internal_msg(ErrorCode::ConfigInvalid, format!("配置有误: {e}")))
    }

    /// Keys given in hex are taken from the environment as written: the settings' parser reads a
    /// value of digits only as a number, and a hex key may well be all digits.
    fn with_raw_keys(mut self) -> Self {
        let raw = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        self.secret_key = raw("MEALROLL_SECRET_KEY").or(self.secret_key);
        self.national_key = raw("MEALROLL_NATIONAL_KEY").or(self.national_key);
        self.centre_key = raw("MEALROLL_CENTRE_KEY").or(self.centre_key);
        self
    }

    /// Defaults only: for tests and tools that set every key they care about.
    pub fn defaults() -> Self {
        config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .unwrap_or_else(|e| panic!("compiled-in defaults must parse: {e}"))
    }
}

/// The keys the server signs and encrypts with, each derived from one master secret.
#[derive(Clone)]
pub struct Keys {
    pub jwt: Vec<u8>,
    pub csrf: Vec<u8>,
    pub totp: [u8; 32],
    /// Seals the audit and ledger chains (see [`crate::domain::chain`]).
    pub chain: ChainKey,
    /// Encrypts backups: whoever restores one needs the master secret it was made under.
    pub backup: [u8; 32],
    /// Seals children's identities where they are stored (see [`crate::db::at_rest`]).
    pub fields: KeyRing,
    /// The keys of `fields` added by rotations (hex, from `field-keys.json`), which backups carry.
    pub field_file_keys: Vec<String>,
    /// Whence the keys exchange packages are signed with (see [`Keys::exchange_signer`]).
    exchange: [u8; 32],
}

impl Keys {
    pub fn from_master(master: &[u8]) -> Self {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        Self {
            jwt: derive(b"jwt").to_vec(),
            csrf: derive(b"csrf").to_vec(),
            totp: derive(b"totp"),
            chain: ChainKey::new(derive(b"chain")),
            backup: derive(b"backup"),
            fields: KeyRing::new(FieldKey::new(derive(b"field-0")), derive(b"field-index")),
            field_file_keys: Vec::new(),
            exchange: derive(b"exchange"),
        }
    }

    /// The Ed25519 key this instance signs exchange packages with as `who` (a province's code,
    /// or `centre`): one per role, so the same master secret never speaks for two provinces.
    pub fn exchange_signer(&self, who: &str) -> ed25519_dalek::SigningKey {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.exchange)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"signer\0");
        mac.update(who.as_bytes());
        ed25519_dalek::SigningKey::from_bytes(&mac.finalize().into_bytes().into())
    }

    /// From the setting, else from `data_dir/secret.key`, generating that file on first start.
    pub fn load(settings: &Settings) -> Result<Self, AppError> {
        if let Some(hex_key) = &settings.secret_key {
            let master = hex::decode(hex_key.trim()).map_err(|_| {
                AppError::internal_msg(ErrorCode::ConfigSecretKey, "MEALROLL_SECRET_KEY 应为十六进制字符串".into())
            })?;
            if master.len() < 32 {
                return Err(AppError::internal_msg(
                    ErrorCode::ConfigSecretKey,
                    "MEALROLL_SECRET_KEY 至少32字节（64个十六进制字符）".into(),
                ));
            }
            return Self::from_master(&master).with_ring_file(settings);
        }
        let path = settings.data_dir.join("secret.key");
        let master = read_or_create_secret(&path)?;
        Self::from_master(&master).with_ring_file(settings)
    }

    /// The field keys added by rotations (`data_dir/field-keys.json`) joined to the derived one.
    fn with_ring_file(mut self, settings: &Settings) -> Result<Self, AppError> {
        self.fields = crate::db::at_rest::load_ring(&settings.data_dir, self.fields)?;
        self.field_file_keys = crate::db::at_rest::file_keys(&settings.data_dir)?;
        Ok(self)
    }
}

/// This server's name, stable across its restarts (`data_dir/server.id`, made on first start):
/// jobs carry it, so a server starting again knows which running jobs were its own.
pub fn server_id(settings: &Settings) -> Result<String, AppError> {
    let path = settings.data_dir.join("server.id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        return Ok(id.trim().to_owned());
    }
    let id = format!("{}-{}", hostname_hint(), hex::encode(rand::random::<[u8; 6]>()));
    std::fs::create_dir_all(&settings.data_dir)
        .and_then(|_| std::fs::write(&path, &id))
        .map_err(|e| AppError::internal_msg(ErrorCode::ConfigServerId, format!("无法写入 {}: {e}", path.display())))?;
    Ok(id)
}

fn hostname_hint() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().chars().filter(char::is_ascii_alphanumeric).take(16).collect())
        .ok()
        .filter(|h: &String| !h.is_empty())
        .unwrap_or_else(|| "server".into())
}

fn read_or_create_secret(path: &Path) -> Result<Vec<u8>, AppError> {
    let io = |e: std::io::Error| {
        AppError::internal_msg(ErrorCode::ConfigSecretKey, format!("无法读写密钥文件 {}: {e}", path.display()))
    };
    if let Ok(text) = std::fs::read_to_string(path) {
        return hex::decode(text.trim()).map_err(|_| {
            AppError::internal_msg(ErrorCode::ConfigSecretKey, format!("密钥文件 {} 已损坏", path.display()))
        });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let master: [u8; 32] = rand::random();
    std::fs::write(path, hex::encode(master)).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(master.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let s = Settings::defaults();
        assert_eq!(s.database_url, "sqlite://data/mealroll.db");
        assert_eq!(s.session.idle_minutes, 30);
        assert_eq!(s.lockout.max_failures, 5);
    }

    #[test]
    fn secret_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Settings::defaults();
        s.data_dir = dir.path().to_path_buf();
        let a = Keys::load(&s).expect("first");
        let b = Keys::load(&s).expect("second");
        assert_eq!(a.jwt, b.jwt);
        assert_ne!(a.jwt, a.csrf);
    }
}
