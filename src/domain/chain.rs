//! Hash chains: each row carries the hash of its predecessor, so an edited, inserted or removed
//! row breaks every link after it. One encoding serves the audit log and the fund ledger.
//!
//! Rows are sealed with HMAC-SHA-256 under a key kept outside the database: whoever can write
//! the database but not read the key cannot recompute a chain after editing it. Rows written
//! before a database had a key stay plain SHA-256 ([`Seal::Plain`]); each chain records where
//! its keyed part begins.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The predecessor of a chain's first row.
pub const GENESIS: &str = "genesis";

/// 等保: audit records are kept at least this long (six months) before they may be archived.
pub const AUDIT_RETAIN_DAYS: i64 = 183;

/// The last day whose audit rows may leave the database for an archive, `today` (Beijing).
pub fn latest_archivable(today: chrono::NaiveDate) -> chrono::NaiveDate {
    today - chrono::Days::new(AUDIT_RETAIN_DAYS as u64)
}

/// The secret the chains are sealed with (32 bytes, derived from the master secret).
#[derive(Clone)]
pub struct ChainKey([u8; 32]);

impl ChainKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fingerprint that names the key without revealing it: stored beside the chain, so a
    /// server started with another key is stopped before it writes an unverifiable row.
    pub fn id(&self) -> String {
        let mut mac = self.mac();
        mac.update(b"mealroll chain key id");
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
    }

    /// The MAC of a whole document (the anchor file), hex.
    pub fn sign(&self, bytes: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(bytes);
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChainKey({})", self.id())
    }
}

/// How one row of a chain is sealed.
#[derive(Debug, Clone, Copy)]
pub enum Seal<'k> {
    /// Rows from before the database had a key.
    Plain,
    Keyed(&'k ChainKey),
}

impl<'k> Seal<'k> {
    /// The seal of row `id` of a chain whose keyed part starts at `keyed_from`.
    pub fn for_row(id: i64, keyed_from: i64, key: &'k ChainKey) -> Self {
        if id < keyed_from { Seal::Plain } else { Seal::Keyed(key) }
    }
}

enum Inner {
    Plain(Sha256),
    Keyed(Hmac<Sha256>),
}

/// The row's fields, length-prefixed so no two different rows serialise alike.
pub struct ChainHasher(Inner);

impl ChainHasher {
    pub fn new(seal: Seal<'_>) -> Self {
        Self(match seal {
            Seal::Plain => Inner::Plain(Sha256::new()),
            Seal::Keyed(k) => Inner::Keyed(k.mac()),
        })
    }

    fn update(&mut self, bytes: &[u8]) {
        match &mut self.0 {
            Inner::Plain(h) => h.update(bytes),
            Inner::Keyed(m) => m.update(bytes),
        }
    }

    pub fn put(&mut self, s: &str) -> &mut Self {
        self.update(&(s.len() as u64).to_le_bytes());
        self.update(s.as_bytes());
        self
    }

    /// An absent value, distinct from every string (including the empty one).
    pub fn put_opt(&mut self, s: Option<&str>) -> &mut Self {
        self.put(s.unwrap_or("\u{0}"))
    }

    pub fn finish(&mut self) -> String {
        match std::mem::replace(&mut self.0, Inner::Plain(Sha256::new())) {
            Inner::Plain(h) => hex::encode(h.finalize()),
            Inner::Keyed(m) => hex::encode(m.finalize().into_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed() {
        let ab_c = ChainHasher::new(Seal::Plain).put("ab").put("c").finish();
        let a_bc = ChainHasher::new(Seal::Plain).put("a").put("bc").finish();
        assert_ne!(ab_c, a_bc);
        assert_eq!(ab_c, ChainHasher::new(Seal::Plain).put("ab").put("c").finish());
        assert_ne!(
            ChainHasher::new(Seal::Plain).put_opt(None).finish(),
            ChainHasher::new(Seal::Plain).put("").finish()
        );
    }

    #[test]
    fn a_keyed_seal_cannot_be_made_without_the_key() {
        let (k1, k2) = (ChainKey::new([1; 32]), ChainKey::new([2; 32]));
        let sealed = |seal| ChainHasher::new(seal).put("row").finish();
        assert_eq!(sealed(Seal::Keyed(&k1)), sealed(Seal::Keyed(&k1)));
        assert_ne!(sealed(Seal::Keyed(&k1)), sealed(Seal::Keyed(&k2)));
        assert_ne!(sealed(Seal::Keyed(&k1)), sealed(Seal::Plain));
        assert_ne!(k1.id(), k2.id());
        assert_eq!(k1.id().len(), 16);
    }

    #[test]
    fn audit_rows_stay_183_days() {
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert_eq!(latest_archivable(day("2027-08-01")), day("2027-01-30"));
        assert_eq!(latest_archivable(day("2027-06-01")), day("2026-11-30"));
    }

    #[test]
    fn rows_before_the_keyed_start_are_plain() {
        let k = ChainKey::new([1; 32]);
        assert!(matches!(Seal::for_row(4, 5, &k), Seal::Plain));
        assert!(matches!(Seal::for_row(5, 5, &k), Seal::Keyed(_)));
    }
}
