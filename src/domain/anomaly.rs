//! The anomaly rules (SPEC §10): each a stable code, a name, what it means and why it matters in
//! Chinese, and how severe a flag of it is by default. The checks that need only values (ages,
//! day lists) live here; the scan that reads the data is `inspection::scan`.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

/// How much a flag weighs: 提示 asks for a look, 预警 warns, 拒付 holds the money back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Review,
    Warn,
    Block,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Review, Severity::Warn, Severity::Block];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Review => "review",
            Severity::Warn => "warn",
            Severity::Block => "block",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s.trim() || v.label() == s.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Review => "提示",
            Severity::Warn => "预警",
            Severity::Block => "拒付",
        }
    }
}

/// Where a stored flag stands (SPEC §10): open → explained by the school → accepted or rejected
/// by the county; dismissed as a false alarm; turned into a finding; or closed by a rescan that no
/// longer finds it (the data was corrected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlagState {
    Open,
    Explained,
    Accepted,
    Rejected,
    Dismissed,
    Finding,
    Closed,
}

/// What people (or a rescan) do to a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagAction {
    /// The school gives its reason (explain or fix).
    Explain,
    /// The county accepts the school's reason.
    Accept,
    /// The county rejects it: the school must answer again.
    Reject,
    /// An inspector dismisses it as a false alarm, with the reason.
    Dismiss,
    /// An inspector turns it into a finding.
    Find,
    /// A rescan no longer finds it.
    Clear,
    /// A rescan finds it again after it cleared.
    Recur,
}

impl FlagState {
    pub const ALL: [FlagState; 7] = [
        FlagState::Open,
        FlagState::Explained,
        FlagState::Accepted,
        FlagState::Rejected,
        FlagState::Dismissed,
        FlagState::Finding,
        FlagState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlagState::Open => "open",
            FlagState::Explained => "explained",
            FlagState::Accepted => "accepted",
            FlagState::Rejected => "rejected",
            FlagState::Dismissed => "dismissed",
            FlagState::Finding => "finding",
            FlagState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        FlagState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            FlagState::Open => "待处理",
            FlagState::Explained => "学校已说明",
            FlagState::Accepted => "说明已采纳",
            FlagState::Rejected => "说明未采纳",
            FlagState::Dismissed => "误报已排除",
            FlagState::Finding => "已转为问题",
            FlagState::Closed => "已消除",
        }
    }

    /// Still asks someone to act.
    pub fn pending(self) -> bool {
        matches!(self, FlagState::Open | FlagState::Explained | FlagState::Rejected)
    }

    /// The state after `action`, or why it is not allowed now. A dismissed flag or a finding
    /// stays what people decided, whatever a rescan says.
    pub fn after(self, action: FlagAction) -> Result<FlagState, String> {
        use FlagAction as A;
        use FlagState as S;
        let next = match (self, action) {
            (S::Open | S::Rejected, A::Explain) => S::Explained,
            (S::Explained, A::Accept) => S::Accepted,
            (S::Explained, A::Reject) => S::Rejected,
            (S::Open | S::Explained | S::Rejected | S::Accepted, A::Dismiss) => S::Dismissed,
            (S::Open | S::Explained | S::Rejected | S::Accepted, A::Find) => S::Finding,
            (S::Open | S::Explained | S::Rejected | S::Accepted, A::Clear) => S::Closed,
            (S::Closed, A::Recur) => S::Open,
            (state, action) => {
                return Err(format!("预警当前为“{}”，不能{}", state.label(), action.label()));
            }
        };
        Ok(next)
    }
}

impl FlagAction {
    /// The action's name in forms and the API (what `parse` reads, for the four people take).
    pub fn as_str(self) -> &'static str {
        match self {
            FlagAction::Explain => "explain",
            FlagAction::Accept => "accept",
            FlagAction::Reject => "reject",
            FlagAction::Dismiss => "dismiss",
            FlagAction::Find => "find",
            FlagAction::Clear => "clear",
            FlagAction::Recur => "recur",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "explain" => Some(FlagAction::Explain),
            "accept" => Some(FlagAction::Accept),
            "reject" => Some(FlagAction::Reject),
            "dismiss" => Some(FlagAction::Dismiss),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FlagAction::Explain => "填写说明",
            FlagAction::Accept => "采纳说明",
            FlagAction::Reject => "不予采纳",
            FlagAction::Dismiss => "排除误报",
            FlagAction::Find => "转为问题",
            FlagAction::Clear => "自动消除",
            FlagAction::Recur => "再次出现",
        }
    }

    /// Whether the action needs a written reason.
    pub fn needs_note(self) -> bool {
        matches!(self, FlagAction::Explain | FlagAction::Reject | FlagAction::Dismiss)
    }
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
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
    A23,
    A24,
    A25,
    A26,
    A27,
    A28,
    A29,
    A30,
}

/// What a rule is, for people.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct RuleInfo {
    pub rule: Rule,
    pub code: &'static str,
    pub title: &'static str,
    /// What it means and why it matters.
    pub explanation: &'static str,
    pub severity: Severity,
}

/// A rule's adjustable threshold: what it is, its unit, its default and the range a province or
/// county may set it within.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ThresholdSpec {
    pub label: &'static str,
    pub unit: &'static str,
    pub default: Decimal,
    pub min: Decimal,
    pub max: Decimal,
}

impl ThresholdSpec {
    const fn new(label: &'static str, unit: &'static str, default: i64, min: i64, max: i64, scale: u32) -> Self {
        Self {
            label,
            unit,
            default: Decimal::from_parts(default as u32, 0, 0, false, scale),
            min: Decimal::from_parts(min as u32, 0, 0, false, scale),
            max: Decimal::from_parts(max as u32, 0, 0, false, scale),
        }
    }

    /// Parses a value someone set, inside the range (the message names rule, range and unit).
    pub fn parse(&self, rule: Rule, s: &str) -> Result<Decimal, String> {
        let v: Decimal = s
            .trim()
            .trim_end_matches(['%', '％'])
            .trim()
            .parse()
            .map_err(|_| format!("规则{}的阈值“{}”应为数字", rule.code(), s.trim()))?;
        if v < self.min || v > self.max {
            return Err(format!(
                "规则{}的{}应在{}至{}{}之间，“{}”超出范围",
                rule.code(),
                self.label,
                self.min.normalize(),
                self.max.normalize(),
                self.unit,
                s.trim()
            ));
        }
        Ok(v)
    }
}

/// A threshold as a whole number (days, months, schools), for the rules that count.
pub fn whole(v: Decimal) -> i64 {
    v.trunc().to_i64().unwrap_or(0)
}

impl Rule {
    pub const ALL: [Rule; 30] = [
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
        Rule::A23,
        Rule::A24,
        Rule::A25,
        Rule::A26,
        Rule::A27,
        Rule::A28,
        Rule::A29,
        Rule::A30,
    ];

    /// The last code, for messages that name the range.
    pub const LAST: &'static str = "A30";

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
            let r = Rule::parse(part).ok_or_else(|| format!("没有规则“{part}”：规则编号为 A01 至 {}", Rule::LAST))?;
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

    /// The rule's threshold, where it has one.
    pub fn threshold(self) -> Option<ThresholdSpec> {
        let t = ThresholdSpec::new;
        Some(match self {
            Rule::A05 => t("容差", "%", 0, 0, 50, 0),
            Rule::A09 => t("容差", "%", 10, 0, 50, 0),
            Rule::A10 => t("月增长", "%", 20, 5, 200, 0),
            Rule::A11 => t("关联学校数", "所", 3, 2, 20, 0),
            Rule::A15 => t("滞留天数", "天", 30, 1, 180, 0),
            Rule::A16 => t("平均支出月数", "个月", 3, 1, 12, 0),
            Rule::A17 => t("重复月数", "个月", 3, 2, 12, 0),
            Rule::A18 => t("距最近供餐日", "天", 7, 0, 60, 0),
            Rule::A20 => t("追溯天数", "天", 30, 1, 365, 0),
            Rule::A22 => t("MAD", "", 22, 10, 100, 4),
            Rule::A23 => t("容差", "%", 0, 0, 50, 0),
            Rule::A24 => t("最少天数", "天", 15, 5, 31, 0),
            Rule::A25 => t("连续天数", "天", 15, 5, 60, 0),
            Rule::A19 => t("供应商均值以上标准差倍数（全县再加1）", "倍", 3, 2, 6, 0),
            Rule::A27 => t("偏离全县中位数倍数", "倍", 20, 12, 50, 1),
            _ => return None,
        })
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
            Rule::A23 => (
                "A23",
                "就餐日报与月报不符",
                "学校月报的供餐天数或就餐人次与其每日就餐日报的合计不一致：两者总有一个不真实，补助核对以日报为准。",
                Warn,
            ),
            Rule::A24 => (
                "A24",
                "某班整月每天满员就餐",
                "一个班一个月里每天报的就餐人数都等于在籍受益人数，从没有一人缺勤、生病或请假，真实食堂几乎不会如此，可能是照名册填数。",
                Review,
            ),
            Rule::A25 => (
                "A25",
                "同一就餐人数连续15天以上",
                "一个班连续多日报同一个（不满员的）就餐人数，可能是复制前一天的数字而不是当天清点。",
                Review,
            ),
            Rule::A26 => (
                "A26",
                "为缺勤或不在校学生记录就餐",
                "某班某日报的就餐人数加上点名缺勤人数，超过按现在学籍该班当日在校的受益学生：有学生登记后被追溯为当日不在校，或为缺勤学生记了就餐。",
                Warn,
            ),
            Rule::A27 => (
                "A27",
                "每餐食品用量偏离全县中位数",
                "按类别每人每餐的食品出库量远高于或低于全县学校的中位数，可能虚报用量或降低供餐标准。",
                Review,
            ),
            Rule::A28 => ("A28", "食品先出库后入库", "库存台账上食品出库早于入库，出库记录没有实物依据。", Warn),
            Rule::A29 => (
                "A29",
                "花名册备案而无监护人签字扫描件",
                "备案的花名册没有监护人签字的扫描件，或扫描页数少于打印页数，拨款缺少签字依据。",
                Warn,
            ),
            Rule::A30 => ("A30", "支出没有票据", "食品支出没有发票或送货单等票据，可能是虚构采购。", Warn),
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

/// A09: what `served` meals were worth at the standard (the entitlement over its child-days),
/// less what was spent, when spending fell short of that worth by more than `tolerance` percent.
pub fn spend_shortfall(
    entitled: crate::domain::money::Fen,
    spent: crate::domain::money::Fen,
    child_days: i64,
    served: i64,
    tolerance: Decimal,
) -> Option<crate::domain::money::Fen> {
    if child_days <= 0 || served <= 0 || entitled.fen() <= 0 {
        return None;
    }
    let due = entitled.to_decimal() * Decimal::from(served) / Decimal::from(child_days);
    let floor = due * (Decimal::ONE_HUNDRED - tolerance) / Decimal::ONE_HUNDRED;
    (spent.to_decimal() < floor).then(|| crate::domain::money::Fen::from_decimal(due - spent.to_decimal()))
}

/// A22 judges a county year only from this many amounts on: fewer say nothing about digits.
pub const BENFORD_MIN: usize = 500;

/// A22: the mean absolute deviation of the first-two-digit frequencies (10–99) of amounts in
/// fen from Benford's law (Nigrini's conformity limits: above 0.0022 is nonconformity), with
/// how many amounts it read; none below `BENFORD_MIN` amounts of at least two digits.
pub fn benford_mad(amounts_fen: &[i64]) -> Option<(usize, Decimal)> {
    let mut counts = [0u32; 90];
    let mut n = 0usize;
    for a in amounts_fen.iter().map(|a| a.unsigned_abs()).filter(|a| *a >= 10) {
        let mut v = a;
        while v >= 100 {
            v /= 10;
        }
        counts[usize::try_from(v - 10).unwrap_or(0)] += 1;
        n += 1;
    }
    if n < BENFORD_MIN {
        return None;
    }
    let total = n as f64;
    let mad = (10..100)
        .map(|d: u32| {
            let expected = (1.0 + 1.0 / f64::from(d)).log10();
            (f64::from(counts[(d - 10) as usize]) / total - expected).abs()
        })
        .sum::<f64>()
        / 90.0;
    Decimal::from_f64_retain(mad).map(|m| (n, m))
}

/// A19's least number of priced lines before a mean and spread mean anything (Rosie's 20).
pub const PRICE_MIN_LINES: usize = 20;

/// Mean and population standard deviation of unit prices in fen; none below
/// [`PRICE_MIN_LINES`] prices.
pub fn price_spread(prices_fen: &[i64]) -> Option<(f64, f64)> {
    if prices_fen.len() < PRICE_MIN_LINES {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = prices_fen.len() as f64;
    #[allow(clippy::cast_precision_loss)]
    let mean = prices_fen.iter().map(|p| *p as f64).sum::<f64>() / n;
    #[allow(clippy::cast_precision_loss)]
    let var = prices_fen.iter().map(|p| (*p as f64 - mean).powi(2)).sum::<f64>() / n;
    Some((mean, var.sqrt()))
}

/// What A19 held a price against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceBasis {
    /// The supplier's own prices for the food, at k·σ.
    Supplier,
    /// Every school's prices for the food in the county, at (k+1)·σ.
    County,
}

/// A19: whether a unit price lies above the supplier's own mean + k·σ, or the county's mean +
/// (k+1)·σ (each only with enough lines). Returns the mean it is held against, and which.
pub fn price_outlier(
    price_fen: i64,
    supplier: Option<(f64, f64)>,
    county: Option<(f64, f64)>,
    k: f64,
) -> Option<(f64, PriceBasis)> {
    #[allow(clippy::cast_precision_loss)]
    let p = price_fen as f64;
    let above = |(mean, sd): (f64, f64), k: f64| sd > 0.0 && p > mean + k * sd;
    match (supplier, county) {
        (Some(s), _) if above(s, k) => Some((s.0, PriceBasis::Supplier)),
        (_, Some(c)) if above(c, k + 1.0) => Some((c.0, PriceBasis::County)),
        _ => None,
    }
}

/// The median of positive values (none for an empty list).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) { (v[mid - 1] + v[mid]) / 2.0 } else { v[mid] })
}

/// A27: whether a school's use per meal is more than `factor` times the county's median, or
/// less than the median divided by it.
pub fn far_from_median(value: f64, median: f64, factor: f64) -> bool {
    median > 0.0 && factor > 1.0 && (value > median * factor || value < median / factor)
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
        assert_eq!(codes.len(), 30);
        assert_eq!(Rule::ALL.last().map(|r| r.code()), Some(Rule::LAST));
        for r in Rule::ALL {
            assert_eq!(Rule::parse(r.code()), Some(r));
            assert!(!r.info().explanation.is_empty() && !r.info().title.is_empty());
        }
    }

    #[test]
    fn a_rule_list_names_the_unknown_code_and_empty_means_all() {
        assert_eq!(Rule::parse_list("a09, A01,A09").expect("list"), vec![Rule::A01, Rule::A09]);
        assert_eq!(Rule::parse_list("").expect("all").len(), 30);
        let e = Rule::parse_list("A01,A99").expect_err("unknown");
        assert!(e.contains("A99"), "{e}");
    }

    #[test]
    fn benford_conforming_amounts_stay_under_the_limit_and_rounded_ones_do_not() {
        // Amounts spread log-uniformly over four decades follow Benford's law closely.
        let spread: Vec<i64> = (0..2000).map(|i| (1000.0 * 10f64.powf(f64::from(i) * 4.0 / 2000.0)) as i64).collect();
        let (n, mad) = benford_mad(&spread).expect("enough");
        assert_eq!(n, 2000);
        assert!(mad < Decimal::new(22, 4), "log-uniform amounts conform: {mad}");
        // Invented round sums (every purchase 500 or 800 yuan) do not.
        let round: Vec<i64> = (0..600).map(|i| if i % 2 == 0 { 50_000 } else { 80_000 }).collect();
        assert!(benford_mad(&round).expect("enough").1 > Decimal::new(22, 4));
        // 499 amounts are too few to judge; single digits are not read.
        assert!(benford_mad(&spread[..499]).is_none());
        assert!(benford_mad(&[5; 600]).is_none());
    }

    #[test]
    fn spending_is_short_only_below_the_tolerance_to_the_cent() {
        use crate::domain::money::Fen;
        let ten = Decimal::from(10);
        // 100 child-days at 5.00 = 500.00; 90 % is 450.00.
        let e = Fen::new(50_000);
        assert_eq!(spend_shortfall(e, Fen::new(45_000), 100, 100, ten), None, "exactly 90 %");
        assert_eq!(spend_shortfall(e, Fen::new(44_999), 100, 100, ten), Some(Fen::new(5_001)), "a cent below");
        // Fewer meals served than child-days: the standard is owed on the meals served.
        assert_eq!(spend_shortfall(e, Fen::new(36_000), 100, 80, ten), None, "80 meals at 4.50 each");
        assert!(spend_shortfall(e, Fen::new(35_999), 100, 80, ten).is_some());
        assert_eq!(spend_shortfall(e, Fen::new(49_999), 100, 100, Decimal::ZERO), Some(Fen::new(1)), "exact");
        assert_eq!(spend_shortfall(Fen::new(0), Fen::new(0), 100, 100, ten), None, "nothing owed");
    }

    #[test]
    fn a_flag_moves_through_its_states_and_people_s_decisions_outlast_a_rescan() {
        use FlagAction as A;
        use FlagState as S;
        assert_eq!(S::Open.after(A::Explain), Ok(S::Explained));
        assert_eq!(S::Explained.after(A::Reject), Ok(S::Rejected));
        assert_eq!(S::Rejected.after(A::Explain), Ok(S::Explained), "the school answers again");
        assert_eq!(S::Explained.after(A::Accept), Ok(S::Accepted));
        assert!(S::Open.after(A::Accept).is_err(), "nothing to accept before the school explains");
        assert_eq!(S::Accepted.after(A::Clear), Ok(S::Closed), "corrected data closes it");
        assert_eq!(S::Closed.after(A::Recur), Ok(S::Open));
        assert!(S::Dismissed.after(A::Clear).is_err() && S::Finding.after(A::Clear).is_err());
        let e = S::Dismissed.after(A::Explain).expect_err("dismissed");
        assert!(e.contains("误报已排除"), "{e}");
    }

    #[test]
    fn thresholds_are_parsed_inside_their_range() {
        let spec = Rule::A09.threshold().expect("A09 has a tolerance");
        assert_eq!(spec.default, Decimal::from(10));
        assert_eq!(spec.parse(Rule::A09, "15%"), Ok(Decimal::from(15)));
        let e = spec.parse(Rule::A09, "60").expect_err("above 50");
        assert!(e.contains("A09") && e.contains("0至50%"), "{e}");
        assert!(spec.parse(Rule::A09, "十").is_err());
        assert_eq!(Rule::A22.threshold().expect("MAD").default, Decimal::new(22, 4));
        assert!(Rule::A01.threshold().is_none());
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

    #[test]
    fn a_price_is_held_against_its_supplier_then_its_county() {
        let steady: Vec<i64> = (0..20).map(|i| 400 + (i % 5) * 2).collect();
        let s = price_spread(&steady).expect("20 lines");
        assert!((s.0 - 404.0).abs() < 1e-9 && s.1 > 0.0);
        assert!(price_spread(&steady[..19]).is_none(), "19 lines say nothing");
        // Far above the supplier's own run of prices.
        assert!(price_outlier(800, Some(s), None, 3.0).is_some());
        // Just inside mean + 3σ: silent.
        assert!(price_outlier((s.0 + 2.9 * s.1) as i64, Some(s), None, 3.0).is_none());
        // A supplier with too few lines is held against the county at k + 1.
        let wide: Vec<i64> = (0..40).map(|i| 380 + (i % 9) * 5).collect();
        let c = price_spread(&wide).expect("county");
        assert!(price_outlier((c.0 + 4.1 * c.1).ceil() as i64, None, Some(c), 3.0).is_some());
        assert!(price_outlier((c.0 + 3.9 * c.1) as i64, None, Some(c), 3.0).is_none());
        assert!(price_outlier(99_999, None, None, 3.0).is_none(), "nothing to compare with");
    }

    #[test]
    fn use_per_meal_is_far_when_beyond_the_factor_either_way() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert!(far_from_median(4.1, 2.0, 2.0));
        assert!(!far_from_median(4.0, 2.0, 2.0));
        assert!(far_from_median(0.9, 2.0, 2.0));
        assert!(!far_from_median(1.0, 2.0, 2.0));
    }
}
