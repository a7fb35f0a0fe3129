//! Time-based one-time passwords (RFC 6238, 30 s, 6 digits). The secret is stored encrypted
//! with a server key; a code is accepted once (its time step must be newer than the last one used).

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::{AppError, AppResult, ErrorCode};

pub const STEP: u64 = 30;

pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret_b32: &str) -> AppResult<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .map_err(|_| AppError::internal_msg(ErrorCode::TotpSecret, "动态口令密钥已损坏".into()))?;
    Ok(TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP, bytes))
}

/// The code for a time (seconds since the epoch); used by tests and the demo printout.
pub fn code_at(secret_b32: &str, unix: u64) -> AppResult<String> {
    Ok(totp(secret_b32)?.generate(unix))
}

/// The step a code belongs to, if it is valid within one step of `unix` and newer than `last_step`.
pub fn accept(secret_b32: &str, code: &str, unix: u64, last_step: i64) -> AppResult<Option<i64>> {
    let t = totp(secret_b32)?;
    let now_step = unix / STEP;
    let code = code.trim();
    for step in [now_step.saturating_sub(1), now_step, now_step + 1] {
        let step_i = i64::try_from(step).unwrap_or(i64::MAX);
        if step_i > last_step && t.generate(step * STEP) == code {
            return Ok(Some(step_i));
        }
    }
    Ok(None)
}

pub fn encrypt(key: &[u8; 32], secret_b32: &str) -> AppResult<String> {
    let cipher = ChaCha20Poly1305::new(key.into());
    let nonce: [u8; 12] = rand::random();
    let ct = cipher
        .encrypt(&Nonce::from(nonce), secret_b32.as_bytes())
        .map_err(|_| AppError::internal(anyhow::anyhow!("totp encryption failed")))?;
    Ok(format!("{}:{}", hex::encode(nonce), hex::encode(ct)))
}

pub fn decrypt(key: &[u8; 32], stored: &str) -> AppResult<String> {
    let broken =
        || AppError::internal_msg(ErrorCode::TotpSecret, "动态口令密钥无法解密（服务器密钥是否更换过？）".into());
    let (n, c) = stored.split_once(':').ok_or_else(broken)?;
    let nonce: [u8; 12] = hex::decode(n).ok().and_then(|v| v.try_into().ok()).ok_or_else(broken)?;
    let ct = hex::decode(c).map_err(|_| broken())?;
    let cipher = ChaCha20Poly1305::new(key.into());
    let pt = cipher.decrypt(&Nonce::from(nonce), ct.as_ref()).map_err(|_| broken())?;
    String::from_utf8(pt).map_err(|_| broken())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_accepted_once() {
        let s = new_secret();
        let now = 1_790_000_000u64;
        let code = code_at(&s, now).expect("code");
        let step = accept(&s, &code, now, 0).expect("ok").expect("accepted");
        assert_eq!(accept(&s, &code, now, step).expect("ok"), None, "replay refused");
        assert_eq!(accept(&s, "000000", now, 0).expect("ok").is_some(), code == "000000");
    }

    #[test]
    fn secrets_round_trip_encrypted() {
        let key = [7u8; 32];
        let s = new_secret();
        let enc = encrypt(&key, &s).expect("enc");
        assert!(!enc.contains(&s));
        assert_eq!(decrypt(&key, &enc).expect("dec"), s);
        assert!(decrypt(&[8u8; 32], &enc).is_err());
    }
}
