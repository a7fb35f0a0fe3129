//! CSRF tokens: an HMAC of the session id (synchronizer token, nothing stored), and for the
//! login form, which has no session yet, a double-submit cookie.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const LOGIN_COOKIE: &str = "mealroll_login_csrf";

pub fn token_for(key: &[u8], session_id: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"csrf:");
    mac.update(session_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of a submitted token with the expected one.
pub fn matches(key: &[u8], session_id: &str, submitted: &str) -> bool {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"csrf:");
    mac.update(session_id.as_bytes());
    match hex::decode(submitted) {
        Ok(bytes) => mac.verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

pub fn new_login_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Equal strings in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_binds_to_session() {
        let t = token_for(b"k", "s1");
        assert!(matches(b"k", "s1", &t));
        assert!(!matches(b"k", "s2", &t));
        assert!(!matches(b"other", "s1", &t));
        assert!(!matches(b"k", "s1", "zz"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("a", "ab"));
    }
}
