//! Collection points (单机版数据采集点, issue 22): a stand-alone instance on SQLite collects for
//! some of a county's schools where the network does not reach, and sends its work — children
//! registered or changed with their photos and field history, term dates, meal days, status
//! changes asked for — to the county's network instance in sealed, numbered packages. The county
//! takes each package once and in order, applies what only the point changed, and lists for a
//! person what both sides changed differently. The package's rules are `domain::collect`.

mod apply;
pub mod county;
pub mod point;
pub mod routes;
pub mod web;

use serde::{Deserialize, Serialize};

use crate::db::at_rest::{self, CollectKey};
use crate::domain::collect::{PairingKey, Refusal};
use crate::error::{AppError, AppResult, ErrorCode};

/// Orgs' names by code, for lists that name schools and counties ("" for a code not known here).
pub(crate) fn names_of(
    conn: &mut crate::db::DbConn,
    codes: &[String],
) -> AppResult<std::collections::BTreeMap<String, String>> {
    use crate::db::schema::orgs;
    use diesel::prelude::*;
    Ok(orgs::table.filter(orgs::code.eq_any(codes)).select((orgs::code, orgs::name)).load(conn)?.into_iter().collect())
}

/// A refusal of the package as the error every caller answers with (nothing was applied).
pub(crate) fn refused(r: Refusal) -> AppError {
    AppError::invalid(r.code(), r.message())
}

pub(crate) fn seal_key(key: &PairingKey) -> AppResult<String> {
    at_rest::seal::<CollectKey>(&key.to_hex())
}

pub(crate) fn open_key(sealed: &str) -> AppResult<PairingKey> {
    PairingKey::from_hex(&at_rest::open::<CollectKey>(sealed)?)
        .ok_or_else(|| AppError::internal_msg(ErrorCode::CollectSeal, "采集点配对密钥已损坏".into()))
}

/// What the county hands a point's operator once, to type or paste at the point: whose point it
/// is, its schools and the key, in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingCode {
    pub county: String,
    pub point: String,
    pub schools: Vec<String>,
    pub key: String,
}

const PAIRING_PREFIX: &str = "mealroll-pair:";

impl PairingCode {
    pub fn encode(&self) -> String {
        use base64::Engine;
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{PAIRING_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode(text: &str) -> AppResult<Self> {
        use base64::Engine;
        let bad = || {
            AppError::field(
                "code",
                ErrorCode::CollectNotPaired,
                "配对码无效：应为县级登记采集点时给出的一整行（以 mealroll-pair: 开头）",
            )
        };
        let body = text.trim().strip_prefix(PAIRING_PREFIX).ok_or_else(bad)?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
        let code: PairingCode = serde_json::from_slice(&json).map_err(|_| bad())?;
        if PairingKey::from_hex(&code.key).is_none() || code.point.trim().is_empty() {
            return Err(bad());
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pairing_code_reads_back_and_nothing_else_passes_for_one() {
        let code = PairingCode {
            county: "520102".into(),
            point: "乌当采集点".into(),
            schools: vec!["5201020001".into()],
            key: PairingKey::generate().to_hex(),
        };
        assert_eq!(PairingCode::decode(&format!("  {}\n", code.encode())).unwrap(), code);
        let e = PairingCode::decode("mealroll-pair:abc").unwrap_err();
        assert_eq!(e.code, ErrorCode::CollectNotPaired);
        assert!(PairingCode::decode(&code.encode()[1..]).is_err());
    }
}
