//! Small code tables (code → label) compiled into the binary from `config/codes/`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

const SCHOOL_CODES_CSV: &str = include_str!("../../config/codes/school_codes.csv");
const STUDENT_CODES_CSV: &str = include_str!("../../config/codes/student_codes.csv");

/// One code of a table: the code stored, the label shown, and other spellings accepted on input.
#[derive(Debug, Clone)]
pub struct Code {
    pub code: String,
    pub label: String,
    pub aliases: Vec<String>,
}

/// A code table (code → label), read from the CSVs compiled into the binary.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub entries: Vec<Code>,
    /// Every accepted spelling (code, label, alias) → index into `entries`.
    index: std::collections::HashMap<String, usize>,
}

impl Table {
    pub fn label(&self, code: &str) -> Option<&str> {
        self.entries.iter().find(|e| e.code == code).map(|e| e.label.as_str())
    }

    /// Accepts a code, a label, an alias, or the "code-label" / "code label" form of dropdowns.
    pub fn parse(&self, input: &str) -> Option<&str> {
        let input = input.trim();
        let by = |s: &str| self.index.get(s).and_then(|i| self.entries.get(*i)).map(|e| e.code.as_str());
        by(input).or_else(|| {
            let head = input.split(['-', ' ', '　', ':', '：']).next().unwrap_or("");
            self.entries.iter().find(|e| e.code == head).map(|e| e.code.as_str())
        })
    }

    pub fn labels(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.label.as_str()).collect()
    }
}

/// A table by name (`school_type`, `ethnicity`, `id_type`, …); empty if unknown.
pub fn table(name: &str) -> &'static Table {
    static EMPTY: OnceLock<Table> = OnceLock::new();
    tables().get(name).unwrap_or_else(|| EMPTY.get_or_init(Table::default))
}

fn tables() -> &'static BTreeMap<String, Table> {
    static TABLES: OnceLock<BTreeMap<String, Table>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut map: BTreeMap<String, Table> = BTreeMap::new();
        for text in [SCHOOL_CODES_CSV, STUDENT_CODES_CSV] {
            let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
            for rec in rdr.records().flatten() {
                let (Some(t), Some(c), Some(l)) = (rec.get(0), rec.get(1), rec.get(2)) else { continue };
                let aliases = rec
                    .get(3)
                    .map(|a| a.split(';').filter(|x| !x.is_empty()).map(str::to_owned).collect())
                    .unwrap_or_default();
                map.entry(t.to_owned()).or_default().entries.push(Code {
                    code: c.to_owned(),
                    label: l.to_owned(),
                    aliases,
                });
            }
        }
        for table in map.values_mut() {
            // Codes win over labels and aliases when a spelling is both.
            for (i, e) in table.entries.iter().enumerate().rev() {
                for a in &e.aliases {
                    table.index.insert(a.clone(), i);
                }
                table.index.insert(e.label.clone(), i);
            }
            for (i, e) in table.entries.iter().enumerate().rev() {
                table.index.insert(e.code.clone(), i);
            }
        }
        map
    })
}

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
        static PAIRS: OnceLock<BTreeMap<CodeTable, Vec<(String, String)>>> = OnceLock::new();
        PAIRS
            .get_or_init(|| {
                [CodeTable::SponsorType, CodeTable::UrbanRural, CodeTable::SchoolType]
                    .into_iter()
                    .map(|t| (t, table(t.key()).entries.iter().map(|e| (e.code.clone(), e.label.clone())).collect()))
                    .collect()
            })
            .get(&self)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn label(self, code: &str) -> Option<&'static str> {
        table(self.key()).label(code)
    }

    /// Accepts a code or its label; returns the code.
    pub fn parse(self, input: &str) -> Option<&'static str> {
        table(self.key()).parse(input)
    }
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
    fn student_tables_accept_codes_labels_aliases_and_dropdown_forms() {
        let eth = table("ethnicity");
        assert_eq!(eth.parse("01"), Some("01"));
        assert_eq!(eth.parse("苗族"), Some("06"));
        assert_eq!(eth.parse("苗"), Some("06"));
        assert_eq!(eth.parse("毛难族"), Some("36"));
        assert_eq!(eth.parse("崩龙族"), Some("46"));
        assert_eq!(eth.parse("傈傈族"), None);
        assert_eq!(table("sex").parse("2-女"), Some("2"));
        assert_eq!(table("yes_no").parse("是"), Some("1"));
        assert_eq!(table("attendance").parse("寄宿"), Some("2"));
        assert_eq!(table("nope").parse("1"), None);
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
