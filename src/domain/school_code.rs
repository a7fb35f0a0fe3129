//! 学校标识码: 10 digits = 2-digit school category + 2-digit province + 6-digit sequence.

use std::fmt;

use super::division;

/// Category codes of 《学校(机构)代码管理办法》.
const CATEGORIES: &[(&str, &str)] = &[
    ("11", "幼儿园"),
    ("21", "小学"),
    ("22", "成人小学"),
    ("31", "普通初中"),
    ("32", "职业初中"),
    ("33", "成人初中"),
    ("34", "普通高中"),
    ("35", "成人高中"),
    ("36", "中等职业学校"),
    ("37", "工读学校"),
    ("41", "普通高等学校"),
    ("42", "成人高等学校"),
    ("51", "特殊教育"),
    ("91", "培养研究生的科研机构"),
    ("92", "民办的其他高等教育机构"),
    ("93", "中等职业培训机构"),
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchoolCode(String);

impl SchoolCode {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.len() != 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("学校标识码“{s}”应为10位数字"));
        }
        if !CATEGORIES.iter().any(|(c, _)| *c == &s[..2]) {
            return Err(format!("学校标识码“{s}”的前两位“{}”不是有效的学校类别码", &s[..2]));
        }
        let province = format!("{}0000", &s[2..4]);
        if division::lookup(&province).is_none() {
            return Err(format!("学校标识码“{s}”的第3–4位“{}”不是有效的省级代码", &s[2..4]));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn category(&self) -> &'static str {
        CATEGORIES.iter().find(|(c, _)| *c == &self.0[..2]).map(|(_, l)| *l).unwrap_or("")
    }

    /// The two-digit province prefix, which must match the school's county.
    pub fn province_prefix(&self) -> &str {
        &self.0[2..4]
    }
}

impl fmt::Display for SchoolCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_looking_codes() {
        let c = SchoolCode::parse(" 2142001636 ").expect("valid");
        assert_eq!(c.as_str(), "2142001636");
        assert_eq!(c.category(), "小学");
        assert_eq!(c.province_prefix(), "42");
    }

    #[test]
    fn rejects_bad_length_category_and_province() {
        assert!(SchoolCode::parse("214200163").unwrap_err().contains("10位"));
        assert!(SchoolCode::parse("9942001636").unwrap_err().contains("类别"));
        assert!(SchoolCode::parse("2199001636").unwrap_err().contains("省级"));
        assert!(SchoolCode::parse("21420O1636").is_err());
    }
}
