//! Small code tables (code → label) compiled into the binary from `config/codes/`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

const SCHOOL_CODES_CSV: &str = include_str!("../../config/codes/school_codes.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CodeTable {
    /// 举办者类型
    SponsorType,
    /// 城乡分类 (NBS urban–rural code of the school's location)
    UrbanRural,
    /// 办学类型
    SchoolType,
}

impl CodeTable {
    fn key(self) -> &'static str {
        match self {
            CodeTable::SponsorType => "sponsor_type",
            CodeTable::UrbanRural => "urban_rural",
            CodeTable::SchoolType => "school_type",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            CodeTable::SponsorType => "举办者类型",
            CodeTable::UrbanRural => "驻地城乡类别",
            CodeTable::SchoolType => "办学类型",
        }
    }

    /// All (code, label) pairs in file order.
    pub fn entries(self) -> &'static [(String, String)] {
        tables().get(self.key()).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn label(self, code: &str) -> Option<&'static str> {
        self.entries().iter().find(|(c, _)| c == code).map(|(_, l)| l.as_str())
    }

    /// Accepts a code or its label; returns the code.
    pub fn parse(self, input: &str) -> Option<&'static str> {
        let input = input.trim();
        self.entries().iter().find(|(c, l)| c == input || l == input).map(|(c, _)| c.as_str())
    }
}

fn tables() -> &'static BTreeMap<String, Vec<(String, String)>> {
    static TABLES: OnceLock<BTreeMap<String, Vec<(String, String)>>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut map: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for line in SCHOOL_CODES_CSV.lines().skip(1) {
            let mut parts = line.splitn(3, ',');
            if let (Some(t), Some(c), Some(l)) = (parts.next(), parts.next(), parts.next()) {
                map.entry(t.to_owned()).or_default().push((c.to_owned(), l.to_owned()));
            }
        }
        map
    })
}

/// Grade 1–9 of compulsory education (一年级 … 九年级), 10–12 for senior secondary.
pub fn grade_name(grade: i32) -> &'static str {
    const NAMES: [&str; 12] = [
        "一年级",
        "二年级",
        "三年级",
        "四年级",
        "五年级",
        "六年级",
        "七年级",
        "八年级",
        "九年级",
        "高一",
        "高二",
        "高三",
    ];
    usize::try_from(grade - 1).ok().and_then(|i| NAMES.get(i)).copied().unwrap_or("未知年级")
}

pub fn parse_grade(input: &str) -> Option<i32> {
    let input = input.trim();
    if let Ok(n) = input.parse::<i32>() {
        return (1..=12).contains(&n).then_some(n);
    }
    (1..=12).find(|g| grade_name(*g) == input)
}

/// "一年级(2)班" from grade 1 and class number 202602 (entry year + sequence) or 2.
pub fn default_class_name(grade: i32, class_no: &str) -> String {
    let seq = if class_no.len() >= 6 { &class_no[class_no.len() - 2..] } else { class_no };
    let seq = seq.trim_start_matches('0');
    format!("{}({})班", grade_name(grade), if seq.is_empty() { "0" } else { seq })
}

/// 性别 (GB/T 2261.1): 1 男, 2 女.
pub fn parse_sex(input: &str) -> Option<&'static str> {
    match input.trim() {
        "1" | "男" => Some("1"),
        "2" | "女" => Some("2"),
        _ => None,
    }
}

pub fn sex_label(code: &str) -> &'static str {
    match code {
        "1" => "男",
        "2" => "女",
        _ => "未知",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_resolve_codes_and_labels() {
        assert_eq!(CodeTable::SchoolType.label("211"), Some("小学"));
        assert_eq!(CodeTable::SchoolType.parse("九年一贯制学校"), Some("312"));
        assert_eq!(CodeTable::UrbanRural.parse("220"), Some("220"));
        assert_eq!(CodeTable::SponsorType.parse("外星"), None);
        assert!(CodeTable::UrbanRural.entries().len() >= 7);
    }

    #[test]
    fn grades_round_trip() {
        for g in 1..=12 {
            assert_eq!(parse_grade(grade_name(g)), Some(g));
        }
        assert_eq!(parse_grade("13"), None);
        assert_eq!(parse_grade("七年级"), Some(7));
    }

    #[test]
    fn class_names_come_from_grade_and_sequence() {
        assert_eq!(default_class_name(1, "202602"), "一年级(2)班");
        assert_eq!(default_class_name(7, "202611"), "七年级(11)班");
        assert_eq!(default_class_name(3, "03"), "三年级(3)班");
    }

    #[test]
    fn sex_accepts_code_or_word() {
        assert_eq!(parse_sex("女"), Some("2"));
        assert_eq!(parse_sex(" 1 "), Some("1"));
        assert_eq!(parse_sex("x"), None);
    }
}
