//! Money (金额): an amount in fen (分), valid by construction. Stored as an integer; written and
//! read as yuan with at most two decimals; arithmetic in `rust_decimal` at the edges.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(i64);

impl Fen {
    pub const fn new(fen: i64) -> Self {
        Self(fen)
    }

    pub fn fen(self) -> i64 {
        self.0
    }

    /// Parses yuan as people write it: `5`, `5.0`, `5.00`, `1,000.50`, optionally ending in 元.
    /// More than two decimals is refused rather than rounded: a standard is exact.
    pub fn parse_yuan(input: &str) -> Result<Self, String> {
        let s: String = input.trim().trim_end_matches('元').chars().filter(|c| *c != ',' && *c != '，').collect();
        let d: Decimal = s.trim().parse().map_err(|_| format!("金额“{}”应为数字，如5.00", input.trim()))?;
        if d.normalize().scale() > 2 {
            return Err(format!("金额“{}”最多两位小数（精确到分）", input.trim()));
        }
        let fen = (d * Decimal::from(100)).normalize();
        fen.to_i64().map(Self).ok_or_else(|| format!("金额“{}”超出范围", input.trim()))
    }

    /// Yuan as a decimal, rounded half away from zero to the fen (SPEC §7).
    pub fn from_decimal(yuan: Decimal) -> Self {
        let fen =
            (yuan * Decimal::from(100)).round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        Self(fen.to_i64().unwrap_or(if fen.is_sign_negative() { i64::MIN } else { i64::MAX }))
    }

    /// `part` of `whole` of this amount (part capped at whole), rounded half up to the fen.
    pub fn pro_rata(self, part: usize, whole: usize) -> Fen {
        if whole == 0 || part == 0 {
            return Fen(0);
        }
        Fen::from_decimal(self.to_decimal() * Decimal::from(part.min(whole) as u64) / Decimal::from(whole as u64))
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.to_decimal())
    }
}

/// Read back from the decimal string it is written as (a stored report snapshot).
impl<'de> Deserialize<'de> for Fen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Fen::parse_yuan(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Fen {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Written as yuan with two decimals, so the API document says so.
impl schemars::JsonSchema for Fen {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Fen".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^-?[0-9]+\\.[0-9]{2}$",
            "description": "金额，元，两位小数",
            "examples": ["4.00"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_rounds_half_up_to_the_fen() {
        assert_eq!(Fen::new(5400).pro_rata(4, 18).fen(), 1200);
        assert_eq!(Fen::new(100).pro_rata(1, 3).fen(), 33);
        assert_eq!(Fen::new(200).pro_rata(1, 3).fen(), 67);
        assert_eq!(Fen::new(100).pro_rata(1, 0).fen(), 0);
    }

    #[test]
    fn parses_yuan_exactly_and_prints_two_decimals() {
        assert_eq!(Fen::parse_yuan("5").unwrap(), Fen::new(500));
        assert_eq!(Fen::parse_yuan(" 4.00元 ").unwrap(), Fen::new(400));
        assert_eq!(Fen::parse_yuan("1,000.5").unwrap(), Fen::new(100_050));
        assert_eq!(Fen::parse_yuan("0.10").unwrap().to_string(), "0.10");
        assert_eq!(Fen::new(62_500).to_string(), "625.00");
        assert!(Fen::parse_yuan("4.005").unwrap_err().contains("两位小数"));
        assert!(Fen::parse_yuan("四元").unwrap_err().contains("数字"));
        assert_eq!(Fen::from_decimal(Decimal::new(12345, 3)), Fen::new(1235), "12.345 → 12.35");
        assert_eq!(Fen::from_decimal(Decimal::new(-12345, 3)), Fen::new(-1235), "away from zero");
    }
}
