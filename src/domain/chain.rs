//! Hash chains: each row carries the hash of its predecessor, so an edited, inserted or removed
//! row breaks every link after it. One encoding serves the audit log and the fund ledger.

use sha2::{Digest, Sha256};

/// The predecessor of a chain's first row.
pub const GENESIS: &str = "genesis";

/// SHA-256 over length-prefixed fields, so no two different rows serialise alike.
#[derive(Default)]
pub struct ChainHasher(Sha256);

impl ChainHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&mut self, s: &str) -> &mut Self {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
        self
    }

    /// An absent value, distinct from every string (including the empty one).
    pub fn put_opt(&mut self, s: Option<&str>) -> &mut Self {
        self.put(s.unwrap_or("\u{0}"))
    }

    pub fn finish(&mut self) -> String {
        hex::encode(std::mem::take(&mut self.0).finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed() {
        let ab_c = ChainHasher::new().put("ab").put("c").finish();
        let a_bc = ChainHasher::new().put("a").put("bc").finish();
        assert_ne!(ab_c, a_bc);
        assert_eq!(ab_c, ChainHasher::new().put("ab").put("c").finish());
        assert_ne!(ChainHasher::new().put_opt(None).finish(), ChainHasher::new().put("").finish());
    }
}
