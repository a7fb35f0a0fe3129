//! 居民身份证号码 (GB 11643-1999): the `IdCardNo` newtype.
//!
//! The region part is checked against the *historical* division list: an ID keeps the code of the
//! place of first registration for life, even after that code is abolished. A code created after the
//! birth year is accepted (late registration happens); a code abolished before the birth year is not.

use crate::domain::error_code::ErrorCode;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;

const HISTORY_CSV: &str = include_str!("../../config/codes/admin_divisions_history.csv");
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// Why a string is not a valid ID number; each has a stable code and a message for a clerk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    Length(usize),
    Chars,
    Checksum { expected: char },
    Date,
    FutureDate,
    Region(String),
    RegionRetired { code: String, until: i32 },
}

impl IdError {
    pub fn code(&self) -> ErrorCode {
        match self {
            IdError::Length(_) => ErrorCode::IdLength,
            IdError::Chars => ErrorCode::IdChars,
            IdError::Checksum { .. } => ErrorCode::IdChecksum,
            IdError::Date => ErrorCode::IdDate,
            IdError::FutureDate => ErrorCode::IdFutureDate,
            IdError::Region(_) => ErrorCode::IdRegion,
            IdError::RegionRetired { .. } => ErrorCode::IdRegionRetired,
        }
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Length(n) => write!(f, "身份证号应为18位（或15位旧号），现为{n}位"),
            IdError::Chars => f.write_str("身份证号前17位应为数字，最后一位为数字或X"),
            IdError::Checksum { expected } => {
                write!(f, "身份证号校验位错误（按前17位计算应为{expected}），请核对是否录错")
            }
            IdError::Date => f.write_str("身份证号中的出生日期（第7–14位）不是有效日期"),
            IdError::FutureDate => f.write_str("身份证号中的出生日期晚于今天"),
            IdError::Region(code) => write!(f, "身份证号前6位“{code}”不是任何时期的县级以上行政区划代码"),
            IdError::RegionRetired { code, until } => {
                write!(f, "身份证号前6位“{code}”在{until}年已撤销，早于出生年份，此后出生的人不会登记此代码")
            }
        }
    }
}

/// A valid 18-character resident ID number, upper-case `X`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdCardNo(String);

/// `(start_year inclusive, end_year exclusive)`: the years a code was in use.
pub type Span = (i32, Option<i32>);

fn history() -> &'static HashMap<String, Vec<Span>> {
    static H: OnceLock<HashMap<String, Vec<Span>>> = OnceLock::new();
    H.get_or_init(|| {
        let mut map: HashMap<String, Vec<Span>> = HashMap::new();
        for line in HISTORY_CSV.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (Some(code), Some(start)) = (f.first(), f.get(4).and_then(|s| s.parse::<i32>().ok())) else {
                continue;
            };
            let end = f.get(5).and_then(|s| s.parse::<i32>().ok());
            map.entry((*code).to_owned()).or_default().push((start, end));
        }
        map
    })
}

/// Check character of the first 17 digits (ISO 7064 MOD 11-2).
pub fn check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let s: u32 = first17.bytes().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK.get((s % 11) as usize).map(|b| *b as char)
}

/// Trims, folds full-width characters (NFKC) and upper-cases `x`; inner spaces are kept, so they
/// fail the length check instead of being guessed away.
pub fn normalise(input: &str) -> String {
    let t = input.trim();
    if t.is_ascii() {
        return t.to_ascii_uppercase();
    }
    t.nfkc().collect::<String>().trim().to_uppercase()
}

impl IdCardNo {
    /// Parses against today's date.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        Self::parse_on(input, crate::clock::today())
    }

    /// Parses as of `today` (birth dates after it are refused).
    pub fn parse_on(input: &str, today: NaiveDate) -> Result<Self, IdError> {
        let s = normalise(input);
        let s = match s.len() {
            18 => s,
            15 => Self::from_legacy(&s)?,
            _ => return Err(IdError::Length(s.chars().count())),
        };
        let bytes = s.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit) || !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
            return Err(IdError::Chars);
        }
        let expected = check_char(&s[..17]).ok_or(IdError::Chars)?;
        if bytes[17] as char != expected {
            return Err(IdError::Checksum { expected });
        }
        let birth = NaiveDate::parse_from_str(&s[6..14], "%Y%m%d").map_err(|_| IdError::Date)?;
        if birth > today {
            return Err(IdError::FutureDate);
        }
        let region = &s[..6];
        let spans = history().get(region).ok_or_else(|| IdError::Region(region.to_owned()))?;
        let year = birth.year();
        // The list has years only: a code abolished in the birth year itself was still in use
        // on part of that year, so only an abolition before the birth year refuses it.
        if !spans.iter().any(|(_, end)| end.is_none_or(|e| e >= year)) {
            let until = spans.iter().filter_map(|(_, e)| *e).max().unwrap_or(year);
            return Err(IdError::RegionRetired { code: region.to_owned(), until });
        }
        Ok(Self(s))
    }

    /// 15-digit numbers issued before 1999: year 19YY, no check digit.
    fn from_legacy(s: &str) -> Result<String, IdError> {
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::Chars);
        }
        let first17 = format!("{}19{}", &s[..6], &s[6..]);
        let c = check_char(&first17).ok_or(IdError::Chars)?;
        Ok(format!("{first17}{c}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").unwrap_or_default()
    }

    /// 1 男 (odd 17th digit), 2 女 (even).
    pub fn sex(&self) -> &'static str {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 { "1" } else { "2" }
    }

    pub fn region(&self) -> &str {
        &self.0[..6]
    }

    /// Years a code was in use (`start` inclusive, `end` exclusive), for explaining verdicts.
    pub fn region_spans(code: &str) -> &'static [Span] {
        history().get(code).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn masked(&self) -> String {
        super::mask::id_number(&self.0)
    }
}

/// Never prints the full number: logs and debug output see it masked.
impl fmt::Debug for IdCardNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdCardNo({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
    }

    #[test]
    fn check_char_matches_the_standard() {
        assert_eq!(check_char("36042619910101007"), Some('1'));
        assert_eq!(check_char("44011320141005001"), Some('X'));
    }

    #[test]
    fn normalises_lower_x_full_width_and_spaces() {
        let id = IdCardNo::parse_on(" 44011320141005001x ", today()).expect("valid");
        assert_eq!(id.as_str(), "44011320141005001X");
        let fw = IdCardNo::parse_on("３６０４２６１９９１０１０１００７１", today()).expect("full-width");
        assert_eq!(fw.as_str(), "360426199101010071");
        assert_eq!(
            IdCardNo::parse_on("360426 1991 0101 0071", today()).map_err(|e| e.code()),
            Err(ErrorCode::IdLength)
        );
    }

    #[test]
    fn birth_date_sex_and_region() {
        let id = IdCardNo::parse_on("360426199101010071", today()).expect("valid");
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1991, 1, 1).unwrap_or_default());
        assert_eq!(id.sex(), "1");
        assert_eq!(id.region(), "360426");
        assert_eq!(format!("{id:?}"), "IdCardNo(360***********0071)");
    }

    #[test]
    fn historical_regions() {
        // 下城区 abolished 2021: born 2015 fine, born in 2021 itself fine, born 2022 not.
        assert!(IdCardNo::parse_on("330103201501010015", today()).is_ok());
        let born_2021 = format!("33010320211231001{}", check_char("33010320211231001").unwrap_or('?'));
        assert!(IdCardNo::parse_on(&born_2021, today()).is_ok(), "{born_2021}");
        assert_eq!(
            IdCardNo::parse_on("330103202201010018", today()).map_err(|e| e.code()),
            Err(ErrorCode::IdRegionRetired)
        );
        // 和康县 created 2024; a child born 2020 may be registered there later.
        assert!(IdCardNo::parse_on("653228202001010013", today()).is_ok());
        // 东莞 uses its prefecture code.
        assert!(IdCardNo::parse_on("441900201501010016", today()).is_ok());
        assert_eq!(IdCardNo::parse_on("990426199112010074", today()).map_err(|e| e.code()), Err(ErrorCode::IdRegion));
    }

    #[test]
    fn dates_and_checksums() {
        assert_eq!(IdCardNo::parse_on("360426199113010079", today()).map_err(|e| e.code()), Err(ErrorCode::IdDate));
        assert_eq!(IdCardNo::parse_on("360426199102290079", today()).map_err(|e| e.code()), Err(ErrorCode::IdDate));
        assert!(IdCardNo::parse_on("360426200002290077", today()).is_ok());
        assert_eq!(
            IdCardNo::parse_on("360426209901010076", today()).map_err(|e| e.code()),
            Err(ErrorCode::IdFutureDate)
        );
        assert_eq!(
            IdCardNo::parse_on("36042619910102009X", today()),
            Err(IdError::Checksum { expected: check_char("36042619910102009").unwrap_or('?') })
        );
    }

    #[test]
    fn legacy_fifteen_digit_numbers_convert() {
        let id = IdCardNo::parse_on("360426910101007", today()).expect("legacy");
        assert_eq!(&id.as_str()[..17], "36042619910101007");
        assert_eq!(id.as_str().len(), 18);
    }
}
