//! Fields encrypted where they are stored (等保 level 3: important personal data encrypted at
//! rest): children's and family members' ID numbers, phones and the rest of the registry record.
//!
//! Each value is sealed with XChaCha20-Poly1305 under one key of a key ring kept outside the
//! database; the stored text names the key (`s1$<key id>$<base64 nonce‖ciphertext>`), so the
//! ring can gain a new key and rows move to it one batch at a time. The field's name is the
//! associated data: a ciphertext copied into another column does not open there.
//!
//! Exact lookups, uniqueness and the duplicate checks use a keyed hash kept beside the value
//! (HMAC-SHA-256 under a separate index key, 128 bits), which says "equal" without saying what.

use crate::domain::error_code::ErrorCode;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "s1$";
const NONCE: usize = 24;
/// Longer than any key id (a fingerprint of 16 hex digits, or a derived key's name).
const KEY_ID_MAX: usize = 64;

/// A 256-bit field key, named by a fingerprint that does not reveal it.
#[derive(Clone)]
pub struct FieldKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl FieldKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self { id: super::chain::ChainKey::new(bytes).id(), cipher: XChaCha20Poly1305::new((&bytes).into()) }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Why a stored value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("字段未加密")]
    NotSealed,
    #[error("字段由密钥 {0} 加密，当前密钥环中没有这把密钥")]
    UnknownKey(String),
    #[error("字段密文已损坏或被改动")]
    Damaged,
}

impl OpenError {
    pub fn code(&self) -> ErrorCode {
        match self {
            OpenError::NotSealed => ErrorCode::SealNotSealed,
            OpenError::UnknownKey(_) => ErrorCode::SealUnknownKey,
            OpenError::Damaged => ErrorCode::SealDamaged,
        }
    }
}

/// The keys in use: every key a stored value may name, the one new values are sealed with, and
/// the index key of the keyed hashes.
#[derive(Clone)]
pub struct KeyRing {
    keys: BTreeMap<String, FieldKey>,
    active: String,
    /// The index key's HMAC state, keyed once (each hash clones it).
    index: Hmac<Sha256>,
}

impl KeyRing {
    pub fn new(active: FieldKey, index: [u8; 32]) -> Self {
        let id = active.id.clone();
        let index = <Hmac<Sha256> as Mac>::new_from_slice(&index)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Self { keys: BTreeMap::from([(id.clone(), active)]), active: id, index }
    }

    /// Adds a key that older values may name; `activate` makes new values use it.
    pub fn with(mut self, key: FieldKey, activate: bool) -> Self {
        if activate {
            self.active = key.id.clone();
        }
        self.keys.insert(key.id.clone(), key);
        self
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Seals `plain` as a value of `field` under the active key.
    pub fn seal(&self, field: &str, plain: &str) -> String {
        let (key_id, body) = self.encrypt(field, plain.as_bytes());
        format!("{PREFIX}{key_id}${}", URL_SAFE_NO_PAD.encode(body))
    }

    /// Opens a value of `field` sealed by [`Self::seal`] under any key of the ring.
    pub fn open(&self, field: &str, stored: &str) -> Result<String, OpenError> {
        let (key_id, body) = split(stored).ok_or(OpenError::NotSealed)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| OpenError::Damaged)?;
        String::from_utf8(self.decrypt(field, key_id, &body)?).map_err(|_| OpenError::Damaged)
    }

    /// Seals a file (an upload kept for a restart, a job's result) as bytes: the same header
    /// naming the key, then nonce and ciphertext without base64.
    pub fn seal_bytes(&self, field: &str, plain: &[u8]) -> Vec<u8> {
        let (key_id, body) = self.encrypt(field, plain);
        let mut out = format!("{PREFIX}{key_id}$").into_bytes();
        out.extend_from_slice(&body);
        out
    }

    /// Opens bytes sealed by [`Self::seal_bytes`].
    pub fn open_bytes(&self, field: &str, stored: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (key_id, body) = split_bytes(stored).ok_or(OpenError::NotSealed)?;
        self.decrypt(field, key_id, body)
    }

    fn encrypt(&self, field: &str, plain: &[u8]) -> (&str, Vec<u8>) {
        let key = &self.keys[&self.active];
        let nonce: [u8; NONCE] = rand::random();
        let ct = key
            .cipher
            .encrypt((&nonce).into(), Payload { msg: plain, aad: field.as_bytes() })
            .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 seals any length a column holds"));
        let mut body = Vec::with_capacity(NONCE + ct.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&ct);
        (&key.id, body)
    }

    fn decrypt(&self, field: &str, key_id: &str, body: &[u8]) -> Result<Vec<u8>, OpenError> {
        let key = self.keys.get(key_id).ok_or_else(|| OpenError::UnknownKey(key_id.to_owned()))?;
        if body.len() < NONCE {
            return Err(OpenError::Damaged);
        }
        let (nonce, ct) = body.split_at(NONCE);
        key.cipher.decrypt(nonce.into(), Payload { msg: ct, aad: field.as_bytes() }).map_err(|_| OpenError::Damaged)
    }

    /// The keyed hash of a value of `kind` (hex, 128 bits): equal values give equal hashes.
    pub fn index(&self, kind: &str, value: &str) -> String {
        let mut mac = self.index.clone();
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

/// The key a stored value names, when it is sealed at all.
pub fn sealed_with(stored: &str) -> Option<&str> {
    split(stored).map(|(k, _)| k)
}

/// The key sealed bytes name, when they are sealed at all.
pub fn bytes_sealed_with(stored: &[u8]) -> Option<&str> {
    split_bytes(stored).map(|(k, _)| k)
}

fn split_bytes(stored: &[u8]) -> Option<(&str, &[u8])> {
    let rest = stored.strip_prefix(PREFIX.as_bytes())?;
    // A key id is a short fingerprint: a `$` further in is not a header.
    let end = rest.iter().take(KEY_ID_MAX + 1).position(|b| *b == b'$')?;
    Some((std::str::from_utf8(&rest[..end]).ok()?, &rest[end + 1..]))
}

fn split(stored: &str) -> Option<(&str, &str)> {
    stored.strip_prefix(PREFIX)?.split_once('$')
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing(active {}, {} keys)", self.active, self.keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(FieldKey::new([1; 32]), [2; 32])
    }

    #[test]
    fn a_sealed_value_opens_and_shows_nothing_of_itself() {
        let r = ring();
        let s = r.seal("id_no", "522326201803090026");
        assert!(s.starts_with("s1$") && !s.contains("5223262018"), "{s}");
        assert_eq!(r.open("id_no", &s).as_deref(), Ok("522326201803090026"));
        // Random nonces: the same number sealed twice differs, so equal ciphertexts say nothing.
        assert_ne!(s, r.seal("id_no", "522326201803090026"));
    }

    #[test]
    fn a_value_moved_to_another_field_or_altered_does_not_open() {
        let r = ring();
        let s = r.seal("guardian_phone", "13800001111");
        assert_eq!(r.open("id_no", &s), Err(OpenError::Damaged));
        let mut bytes = s.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(r.open("guardian_phone", &String::from_utf8(bytes).expect("ascii")), Err(OpenError::Damaged));
        assert_eq!(r.open("guardian_phone", "13800001111"), Err(OpenError::NotSealed));
    }

    #[test]
    fn after_rotation_old_values_open_and_new_ones_use_the_new_key() {
        let old = ring();
        let before = old.seal("record", "{}");
        let rotated = old.clone().with(FieldKey::new([3; 32]), true);
        assert_eq!(rotated.open("record", &before).as_deref(), Ok("{}"));
        let after = rotated.seal("record", "{}");
        assert_eq!(sealed_with(&after), Some(rotated.active_id()));
        assert_ne!(sealed_with(&after), sealed_with(&before));
        let unknown = KeyRing::new(FieldKey::new([3; 32]), [2; 32]);
        assert!(matches!(unknown.open("record", &before), Err(OpenError::UnknownKey(_))));
    }

    #[test]
    fn a_sealed_file_opens_only_as_itself() {
        let r = ring();
        let csv = "姓名,身份证件号\n王小明,522326201803090026\n".as_bytes();
        let s = r.seal_bytes("job.input.j1", csv);
        assert!(!s.windows(10).any(|w| w == b"5223262018"), "no digits of the upload show");
        assert_eq!(r.open_bytes("job.input.j1", &s).as_deref(), Ok(csv));
        // Bound to its job: another job's row does not open it.
        assert_eq!(r.open_bytes("job.input.j2", &s), Err(OpenError::Damaged));
        assert_eq!(r.open_bytes("job.input.j1", csv), Err(OpenError::NotSealed));
        assert_eq!(r.open_bytes("job.input.j1", b"s1$no dollar within reach"), Err(OpenError::NotSealed));
        let mut cut = s.clone();
        cut.truncate(s.len() - 1);
        assert_eq!(r.open_bytes("job.input.j1", &cut), Err(OpenError::Damaged));
    }

    #[test]
    fn the_index_is_keyed_and_separates_kinds() {
        let r = ring();
        assert_eq!(r.index("id_no", "522326201803090026"), r.index("id_no", "522326201803090026"));
        assert_ne!(r.index("id_no", "522326201803090026"), r.index("phone", "522326201803090026"));
        let other = KeyRing::new(FieldKey::new([1; 32]), [9; 32]);
        assert_ne!(r.index("id_no", "1"), other.index("id_no", "1"));
        assert_eq!(r.index("id_no", "1").len(), 32);
    }
}
