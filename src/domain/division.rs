//! GB/T 2260 administrative divisions (current list) and the `DivisionCode` newtype.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

const DIVISIONS_CSV: &str = include_str!("../../config/codes/admin_divisions.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivisionLevel {
    Province,
    Prefecture,
    County,
}

#[derive(Debug, Clone)]
pub struct Division {
    pub code: String,
    pub name: String,
    pub level: DivisionLevel,
    /// As the data gives it: counties with no prefecture hang off their province.
    pub parent: Option<String>,
}

/// The whole current list, in file order (parents before children).
pub fn all() -> &'static [Division] {
    &table().0
}

pub fn lookup(code: &str) -> Option<&'static Division> {
    let t = table();
    t.1.get(code).and_then(|i| t.0.get(*i))
}

fn table() -> &'static (Vec<Division>, HashMap<String, usize>) {
    static T: OnceLock<(Vec<Division>, HashMap<String, usize>)> = OnceLock::new();
    T.get_or_init(|| {
        let mut rows = Vec::new();
        for line in DIVISIONS_CSV.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (Some(code), Some(name), Some(level)) = (f.first(), f.get(1), f.get(2)) else {
                continue;
            };
            let level = match *level {
                "province" => DivisionLevel::Province,
                "prefecture" => DivisionLevel::Prefecture,
                _ => DivisionLevel::County,
            };
            let parent = f.get(3).filter(|p| !p.is_empty()).map(|p| (*p).to_owned());
            rows.push(Division { code: (*code).into(), name: (*name).into(), level, parent });
        }
        let index = rows.iter().enumerate().map(|(i, d)| (d.code.clone(), i)).collect();
        (rows, index)
    })
}

/// A code of the current GB/T 2260 list. Also built from a 12-digit statistical
/// code, whose first six digits must be such a code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode(String);

impl DivisionCode {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if !(s.len() == 6 || s.len() == 12) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("行政区划代码“{s}”应为6位（或12位统计用区划代码）数字"));
        }
        let six = &s[..6];
        match lookup(six) {
            Some(_) => Ok(Self(six.to_owned())),
            None => Err(format!(
                "行政区划代码“{six}”不在现行 GB/T 2260 代码表中（开发区等统计用代码请改用所属县级行政区划代码）"
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn division(&self) -> &'static Division {
        // Constructed only from codes present in the table.
        lookup(&self.0).unwrap_or_else(|| unreachable!("DivisionCode built from a listed code"))
    }

    /// Two-digit province prefix.
    pub fn province_prefix(&self) -> &str {
        &self.0[..2]
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_has_the_documented_counts() {
        let count = |l| all().iter().filter(|d| d.level == l).count();
        assert_eq!(count(DivisionLevel::Province), 34);
        assert_eq!(count(DivisionLevel::Prefecture), 333);
        assert_eq!(count(DivisionLevel::County), 2846);
    }

    #[test]
    fn counties_without_prefecture_hang_off_their_province() {
        for code in ["419001", "429004", "110105", "500229", "469001", "659001"] {
            let d = DivisionCode::parse(code).expect(code).division();
            assert_eq!(d.level, DivisionLevel::County, "{code}");
            assert_eq!(d.parent.as_deref(), Some(&format!("{}0000", &code[..2])[..]), "{code}");
        }
    }

    #[test]
    fn prefectures_without_counties_exist() {
        for code in ["441900", "442000", "460400", "620200"] {
            assert!(all().iter().all(|d| d.parent.as_deref() != Some(code)), "{code}");
            assert_eq!(lookup(code).map(|d| d.level), Some(DivisionLevel::Prefecture));
        }
    }

    #[test]
    fn parse_rejects_malformed_and_unlisted_codes() {
        assert!(DivisionCode::parse("52232").is_err());
        assert!(DivisionCode::parse("52232a").is_err());
        // 130171 is an NBS development-zone code, not GB/T 2260.
        let err = DivisionCode::parse("130171").unwrap_err();
        assert!(err.contains("开发区"), "{err}");
        // Abolished in 2021: not current.
        assert!(DivisionCode::parse("330103").is_err());
        assert_eq!(DivisionCode::parse("522326001001").map(|c| c.0), Ok("522326".into()));
    }
}
