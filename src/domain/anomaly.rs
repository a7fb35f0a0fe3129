//! The anomaly rules (SPEC §10): each a stable code, a name, what it means and why it matters in
//! Chinese, and how severe a flag of it is by default. The checks that need only values (ages,
//! day lists) live here; the scan that reads the data is `inspection::scan`.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// How much a flag weighs: 提示 asks for a look, 预警 warns, 拒付 holds the money back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Review,
    Warn,
    Block,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Review => "提示",
            Severity::Warn => "预警",
            Severity::Block => "拒付",
        }
    }
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Rule {
    A01,
    A02,
    A03,
    A04,
    A05,
    A06,
    A07,
    A08,
    A09,
    A10,
    A11,
    A12,
    A13,
    A14,
    A15,
    A16,
    A17,
    A18,
    A19,
    A20,
    A21,
    A22,
}

/// What a rule is, for people.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RuleInfo {
    pub rule: Rule,
    pub code: &'static str,
    pub title: &'static str,
    /// What it means and why it matters.
    pub explanation: &'static str,
    pub severity: Severity,
}

impl Rule {
    pub const ALL: [Rule; 22] = [
        Rule::A01,
        Rule::A02,
        Rule::A03,
        Rule::A04,
        Rule::A05,
        Rule::A06,
        Rule::A07,
        Rule::A08,
        Rule::A09,
        Rule::A10,
        Rule::A11,
        Rule::A12,
        Rule::A13,
        Rule::A14,
        Rule::A15,
        Rule::A16,
        Rule::A17,
        Rule::A18,
        Rule::A19,
        Rule::A20,
        Rule::A21,
        Rule::A22,
    ];

    pub fn code(self) -> &'static str {
        self.info().code
    }

    pub fn parse(s: &str) -> Option<Rule> {
        let s = s.trim().to_ascii_uppercase();
        Rule::ALL.into_iter().find(|r| r.code() == s)
    }

    /// A comma-separated list (`A01,A09`); empty means every rule. An unknown code is named.
    pub fn parse_list(s: &str) -> Result<Vec<Rule>, String> {
        let mut out: Vec<Rule> = Vec::new();
        for part in s.split([',', '，', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            let r = Rule::parse(part).ok_or_else(|| format!("没有规则“{part}”：规则编号为 A01 至 A22"))?;
            if !out.contains(&r) {
                out.push(r);
            }
        }
        if out.is_empty() {
            out = Rule::ALL.to_vec();
        }
        out.sort();
        Ok(out)
    }

    pub fn info(self) -> RuleInfo {
        use Severity::*;
        let (code, title, explanation, severity) = match self {
            Rule::A01 => (
                "A01",
                "同一身份证件在两校同时在籍",
                "同一个孩子在两所学校同时在校，两校都可能为其申领补助，是虚报冒领最常见的形式；应核实孩子实际就读学校并注销另一条学籍。",
                Block,
            ),
            Rule::A02 => (
                "A02",
                "花名册上的学生统计日不在校",
                "花名册生成后学籍发生追溯变化，统计日当天已不在校的学生仍在册上，按名册拨款会多付；应重新生成花名册。",
                Warn,
            ),
            Rule::A03 => (
                "A03",
                "离校后仍有补助",
                "学生死亡、转出、休学或退学之后的供餐日仍计入补助（多为已结账月份未重算），这些天的钱应追回或冲减。",
                Block,
            ),
            Rule::A04 => (
                "A04",
                "上报供餐天数超过校历",
                "学校上报的供餐天数多于县里核定的校历供餐日，多出的天数没有依据。",
                Warn,
            ),
            Rule::A05 => (
                "A05",
                "就餐人次超过在籍受益人·天",
                "上报的就餐人次多于实名在籍受益学生的人·天之和（美国 USDA 的基本核对：每日就餐数不得超过合格学生数），多出部分可能是虚报。",
                Warn,
            ),
            Rule::A06 => ("A06", "走读生享受一补", "一补只补助家庭经济困难的寄宿生，走读生不应享受。", Block),
            Rule::A07 => (
                "A07",
                "年龄与年级明显不符",
                "学生年龄与所在年级相差过大（默认比正常入学年龄小2岁以上或大4岁以上），可能是身份信息错误或冒名学籍。",
                Review,
            ),
            Rule::A08 => {
                ("A08", "花名册未按期签章、备案", "花名册逾期未签章或未备案，拨款缺少经监护人签字的名册依据。", Warn)
            }
            Rule::A09 => ("A09", "生均人·天支出低于标准", "食品支出低于补助标准，可能压低供餐标准、截留资金。", Warn),
            Rule::A10 => ("A10", "花名册人数一月增长超过20%", "受益人数短期内异常增长，应核实新增学生。", Review),
            Rule::A11 => (
                "A11",
                "同一监护人证件或电话关联多校学生",
                "同一监护人信息出现在多所学校的学生上，可能是批量虚构学籍。",
                Review,
            ),
            Rule::A12 => (
                "A12",
                "受益学生身份证号校验位错误",
                "领取补助的学生身份证号不能通过国家标准校验，身份无法核实。",
                Warn,
            ),
            Rule::A13 => (
                "A13",
                "县城学校领取国家试点补助",
                "国家试点只覆盖农村学校，县城（城区）学校未经纳入而领取补助。",
                Warn,
            ),
            Rule::A14 => (
                "A14",
                "向非计划学校拨付膳食补助",
                "拨款日不在营养改善计划内的学校收到膳食补助资金，这笔钱在对账中不出现，必须查明。",
                Block,
            ),
            Rule::A15 => ("A15", "资金滞留超过30天", "资金到账后超过30天未拨付或未使用。", Warn),
            Rule::A16 => ("A16", "结余超过三个月平均支出", "账户结余长期偏高，资金未及时用于学生。", Review),
            Rule::A17 => ("A17", "就餐人次逐月重复或各班相同", "上报数字机械重复，可能不是真实记录。", Review),
            Rule::A18 => ("A18", "非供餐日有就餐或支出", "校历无供餐的日子出现就餐或食品支出。", Warn),
            Rule::A19 => ("A19", "供应商单价异常偏高", "单价高于该供应商均值3个标准差或全县均值4个标准差。", Review),
            Rule::A20 => {
                ("A20", "追溯30天以上的登记或异动影响了资金", "大幅追溯的登记或异动改变了已核算的补助。", Review)
            }
            Rule::A21 => ("A21", "学期内确认、离校又复入", "学期内反复出入学籍，可能用于套取补助。", Review),
            Rule::A22 => ("A22", "支出金额首两位数字分布异常（本福特）", "仅供复核提示，不作为问题认定。", Review),
        };
        RuleInfo { rule: self, code, title, explanation, severity }
    }
}

/// Whole years of age on `day`.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// The ages a child of compulsory grade `grade` may plausibly have on 1 September of the
/// school year: grade 1 starts at 6; two years younger or four years older is still plausible
/// (early starters, late rural entry, repeaters).
pub fn plausible_ages(grade: i32) -> std::ops::RangeInclusive<i32> {
    (grade + 3)..=(grade + 9)
}

/// A07: whether a child's age on 1 September of `school_year` is outside the plausible range.
pub fn age_implausible(birth: NaiveDate, grade: i32, school_year: i32) -> bool {
    if !(1..=9).contains(&grade) {
        return false;
    }
    let sept = NaiveDate::from_ymd_opt(school_year, 9, 1).unwrap_or(birth);
    !plausible_ages(grade).contains(&age_on(birth, sept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("day")
    }

    #[test]
    fn every_rule_has_its_own_code_and_a_chinese_explanation() {
        let codes: std::collections::BTreeSet<&str> = Rule::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), 22);
        for r in Rule::ALL {
            assert_eq!(Rule::parse(r.code()), Some(r));
            assert!(!r.info().explanation.is_empty() && !r.info().title.is_empty());
        }
    }

    #[test]
    fn a_rule_list_names_the_unknown_code_and_empty_means_all() {
        assert_eq!(Rule::parse_list("a09, A01,A09").expect("list"), vec![Rule::A01, Rule::A09]);
        assert_eq!(Rule::parse_list("").expect("all").len(), 22);
        let e = Rule::parse_list("A01,A99").expect_err("unknown");
        assert!(e.contains("A99"), "{e}");
    }

    #[test]
    fn age_for_grade_is_plausible_from_two_younger_to_four_older() {
        // Grade 1 in the 2026 school year: 6 on 1 September is normal; 4 and 11 are not.
        assert!(!age_implausible(d(2020, 9, 1), 1, 2026), "6 exactly");
        assert!(!age_implausible(d(2022, 9, 1), 1, 2026), "4 on the day: the youngest plausible");
        assert!(age_implausible(d(2022, 9, 2), 1, 2026), "one day short of 4");
        assert!(!age_implausible(d(2016, 9, 2), 1, 2026), "9, ten tomorrow");
        assert!(!age_implausible(d(2016, 9, 1), 1, 2026), "10 on the day: the oldest plausible");
        assert!(age_implausible(d(2015, 9, 1), 1, 2026), "11");
        assert!(!age_implausible(d(2015, 9, 1), 12, 2026), "outside compulsory grades: not judged");
    }
}
