//! The fund ledger's rules (SPEC §8): funds, entry kinds, what money may be spent on, the hash of
//! an entry, how long money may sit at the county before it is passed on, and the flags of a
//! reconciliation. Pure: the service in `ledger::fund` stores what these decide.

use chrono::NaiveDate;
use serde::Serialize;

use super::chain::{ChainHasher, Seal};
use super::money::Fen;

/// A ring-fenced fund: each org holds one account per fund.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fund {
    /// 膳食补助: the nutrition programme's meal subsidy.
    #[default]
    Meal,
    /// 一补: living allowance for boarders from poor families.
    Yibu,
}

impl Fund {
    pub const ALL: [Fund; 2] = [Fund::Meal, Fund::Yibu];

    pub fn as_str(self) -> &'static str {
        match self {
            Fund::Meal => "meal",
            Fund::Yibu => "yibu",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Fund::Meal => "膳食补助",
            Fund::Yibu => "一补（寄宿生生活费补助）",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "meal" | "膳食补助" | "营养膳食补助" => Ok(Fund::Meal),
            "yibu" | "一补" | "寄宿生生活费补助" => Ok(Fund::Yibu),
            other => Err(format!("资金类别“{other}”无效，应为 膳食补助 或 一补")),
        }
    }
}

/// What an expenditure bought. Only food for the children (meal fund) or the boarders' allowance
/// paid into their aid cards (一补) may be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, schemars::JsonSchema)]
pub enum Category {
    GrainOil,
    MeatEggMilk,
    VegetablesFruit,
    OtherFood,
    /// 一补 paid by the school into the boarder's aid card or meal card (never cash).
    Allowance,
}

/// Spending the rules forbid, with the rule that forbids it (DOMAIN §1.3).
const FORBIDDEN: &[(&[&str], &str)] = &[
    (&["工资", "劳务", "人员经费", "炊事员", "食堂人员"], "补助资金不得用于劳务费、人员工资（含食堂从业人员工资）"),
    (&["燃料", "燃气", "煤", "水电", "水费", "电费"], "补助资金不得用于燃料、水电等食堂运行费用"),
    (&["运输", "运费", "交通"], "补助资金不得用于运输费等工作经费"),
    (&["宣传"], "补助资金不得用于宣传费等工作经费"),
    (&["教职工", "教师伙食", "职工伙食", "招待"], "补助资金不得用于教职工伙食补助或招待"),
    (&["公用经费", "办公"], "补助资金不得用于学校公用经费"),
    (&["现金", "发放给学生", "发放给家长"], "补助资金不得以现金形式直接发放给学生个人和家长"),
    (&["保健品", "含乳饮料"], "不得以保健品、含乳饮料替代营养膳食"),
    (&["一补", "生活费补助"], "营养膳食补助不得用于抵减“一补”资金"),
];

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::GrainOil => "粮油",
            Category::MeatEggMilk => "肉蛋奶",
            Category::VegetablesFruit => "蔬菜水果",
            Category::OtherFood => "其他食品",
            Category::Allowance => "生活补助（转入学生资助卡）",
        }
    }

    pub fn allowed(fund: Fund) -> &'static [Category] {
        match fund {
            Fund::Meal => &[Category::GrainOil, Category::MeatEggMilk, Category::VegetablesFruit, Category::OtherFood],
            Fund::Yibu => &[Category::Allowance],
        }
    }

    /// The category of an expenditure from `fund`, or the rule that refuses it.
    pub fn parse(fund: Fund, input: &str) -> Result<Self, String> {
        let s = input.trim();
        if let Some(c) =
            Category::allowed(fund).iter().find(|c| c.as_str() == s || (**c == Category::Allowance && s == "生活补助"))
        {
            return Ok(*c);
        }
        // A 一补 account pays the allowance itself; the meal fund may not offset it.
        let forbidden = FORBIDDEN
            .iter()
            .filter(|(_, rule)| fund == Fund::Meal || !rule.contains("一补"))
            .find(|(words, _)| words.iter().any(|w| s.contains(w)));
        if let Some((_, rule)) = forbidden {
            return Err(format!("支出类别“{s}”不允许：{rule}"));
        }
        let allowed: Vec<&str> = Category::allowed(fund).iter().map(|c| c.as_str()).collect();
        Err(format!("支出类别“{s}”不在{}允许的类别内（{}）", fund.label(), allowed.join("、")))
    }
}

/// Where a request to the ledger stands. Stored and sent by its snake_case name (strum and
/// serde spell it the same), shown by its label.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    schemars::JsonSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RequestStatus {
    /// Above the threshold, waiting for a second person (待审批).
    Pending,
    /// Its entries are on the accounts (已入账).
    Posted,
    /// Refused by the second person (已退回); nothing was posted.
    Rejected,
}

impl RequestStatus {
    pub fn label(self) -> &'static str {
        match self {
            RequestStatus::Pending => "待审批",
            RequestStatus::Posted => "已入账",
            RequestStatus::Rejected => "已退回",
        }
    }
}

stored_as_text!(RequestStatus, "记账状态");

/// What an entry did to its account. Amounts are stored signed: what the entry adds to the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Money arriving from outside the tree (a finance department's transfer).
    Receipt,
    /// Passed on to an org below, or to a supplier.
    AllocationOut,
    /// Received from the org above.
    AllocationIn,
    /// Spent on food (or paid to boarders' cards).
    Expenditure,
    /// Cancels an earlier entry of the same account.
    Reversal,
    /// Taken back from a school by its county (追回 of money claimed wrongly).
    RecoveryOut,
    /// Received back by the county from a school below it.
    RecoveryIn,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Receipt => "receipt",
            EntryKind::AllocationOut => "allocation_out",
            EntryKind::AllocationIn => "allocation_in",
            EntryKind::Expenditure => "expenditure",
            EntryKind::Reversal => "reversal",
            EntryKind::RecoveryOut => "recovery_out",
            EntryKind::RecoveryIn => "recovery_in",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Receipt => "收到资金",
            EntryKind::AllocationOut => "拨出",
            EntryKind::AllocationIn => "拨入",
            EntryKind::Expenditure => "支出",
            EntryKind::Reversal => "冲销",
            EntryKind::RecoveryOut => "被追回",
            EntryKind::RecoveryIn => "追回收入",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            EntryKind::Receipt,
            EntryKind::AllocationOut,
            EntryKind::AllocationIn,
            EntryKind::Expenditure,
            EntryKind::Reversal,
            EntryKind::RecoveryOut,
            EntryKind::RecoveryIn,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A positive amount of at most two decimals: what a person may post.
pub fn posting_amount(input: &str) -> Result<Fen, String> {
    let fen = Fen::parse_yuan(input)?;
    if fen.fen() <= 0 {
        return Err(format!("金额“{}”必须大于零（冲销请用“冲销”操作）", input.trim()));
    }
    Ok(fen)
}

/// The fields of an entry that its hash covers, in a fixed order.
#[derive(Debug, Clone)]
pub struct EntryFields<'a> {
    pub account: &'a str,
    pub seq: i64,
    pub kind: &'a str,
    pub amount_fen: i64,
    pub value_date: NaiveDate,
    pub category: &'a str,
    pub counter_account_id: Option<i64>,
    pub for_school_id: Option<i64>,
    pub reverses_entry_id: Option<i64>,
    pub voucher_no: &'a str,
    pub memo: &'a str,
    pub maker: &'a str,
    pub checker: &'a str,
}

/// An entry's hash: its fields chained to the hash of the account's previous entry.
pub fn entry_hash(seal: Seal<'_>, prev_hash: &str, e: &EntryFields<'_>) -> String {
    ChainHasher::new(seal)
        .put(prev_hash)
        .put(e.account)
        .put(&e.seq.to_string())
        .put(e.kind)
        .put(&e.amount_fen.to_string())
        .put(&e.value_date.to_string())
        .put(e.category)
        .put_opt(e.counter_account_id.map(|v| v.to_string()).as_deref())
        .put_opt(e.for_school_id.map(|v| v.to_string()).as_deref())
        .put_opt(e.reverses_entry_id.map(|v| v.to_string()).as_deref())
        .put(e.voucher_no)
        .put(e.memo)
        .put(e.maker)
        .put(e.checker)
        .finish()
}

/// Money must be passed on within this many days of the county receiving it.
pub const PASS_ON_DAYS: i64 = 30;

/// Money leaving an account (an allocation), matched first-in first-out against what came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub id: i64,
    pub date: NaiveDate,
    pub amount: Fen,
}

/// Money passed on (or still held) later than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, schemars::JsonSchema)]
pub struct Late {
    /// The outflow; 0 for money still held.
    pub id: i64,
    /// The longest delay in days.
    pub days: i64,
    /// The outflow's amount, or what is still held beyond the limit.
    pub amount: Fen,
}

/// For each outflow passed on more than `limit` days (SPEC §8: `PASS_ON_DAYS`) after the money
/// it spends arrived (first in, first out): its id, the longest delay and its amount. Money
/// still held on `as_of` beyond the limit is reported with id 0.
pub fn late_outflows(inflows: &[Flow], outflows: &[Flow], as_of: NaiveDate, limit: i64) -> Vec<Late> {
    let mut ins: Vec<Flow> = inflows.to_vec();
    ins.sort_by_key(|f| (f.date, f.id));
    let mut outs: Vec<Flow> = outflows.to_vec();
    outs.sort_by_key(|f| (f.date, f.id));
    let mut left: Vec<i64> = ins.iter().map(|f| f.amount.fen()).collect();
    let mut at = 0usize;
    let mut late = Vec::new();
    for out in outs {
        let mut need = out.amount.fen();
        let mut delay = 0i64;
        while need > 0 && at < ins.len() {
            if ins[at].date > out.date {
                break;
            }
            let take = need.min(left[at]);
            delay = delay.max((out.date - ins[at].date).num_days());
            need -= take;
            left[at] -= take;
            if left[at] == 0 {
                at += 1;
            }
        }
        if delay > limit {
            late.push(Late { id: out.id, days: delay, amount: out.amount });
        }
    }
    let held: Vec<(i64, i64)> = ins
        .iter()
        .zip(&left)
        .filter(|(f, l)| **l > 0 && (as_of - f.date).num_days() > limit)
        .map(|(f, l)| ((as_of - f.date).num_days(), *l))
        .collect();
    if let Some(days) = held.iter().map(|h| h.0).max() {
        late.push(Late { id: 0, days, amount: Fen::new(held.iter().map(|h| h.1).sum()) });
    }
    late
}

/// One school's (or county's) money for a period, as reconciliation reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Which fund: 一补 has no meals, so the per-meal flags do not apply to it.
    pub fund: Fund,
    /// The entitlement: what the children on the roll were owed (adjustments included).
    pub entitled: Fen,
    /// Passed on to the school (or to its supplier for it).
    pub allocated: Fen,
    /// Spent on food for the school (a supplier's allocation counts as spent).
    pub spent: Fen,
    /// Balance at the end of the period (all periods so far).
    pub closing_balance: Fen,
    /// Child-days on the entitlement.
    pub beneficiary_days: i64,
    /// Meals the school reported serving (person-times), when it reported them.
    pub meals_reported: Option<i64>,
    /// The longest delay in passing money on, when beyond the limit.
    pub late_days: Option<i64>,
}

/// What reconciliation points out, with its code for machines and its words for people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "LedgerFlag")]
pub struct Flag {
    pub code: &'static str,
    pub message: String,
}

/// The flags of SPEC §8 for one set of figures.
pub fn flags(f: &Figures) -> Vec<Flag> {
    let mut out = Vec::new();
    if f.allocated < f.entitled {
        out.push(Flag {
            code: "under_allocated",
            message: format!("拨付不足：应拨 {} 元，实拨 {} 元", f.entitled, f.allocated),
        });
    }
    if f.allocated > f.entitled {
        out.push(Flag {
            code: "over_allocated",
            message: format!("超额拨付：应拨 {} 元，实拨 {} 元", f.entitled, f.allocated),
        });
    }
    // Spend per child-day against the standard per child-day: spent / served < entitled / days,
    // compared across (exact in integers). Served = reported meals when reported.
    let served = f.meals_reported.unwrap_or(f.beneficiary_days);
    if f.fund == Fund::Meal
        && f.beneficiary_days > 0
        && served > 0
        && i128::from(f.spent.fen()) * i128::from(f.beneficiary_days)
            < i128::from(f.entitled.fen()) * i128::from(served)
    {
        let per_day =
            |fen: i64, days: i64| Fen::from_decimal(Fen::new(fen).to_decimal() / rust_decimal::Decimal::from(days));
        out.push(Flag {
            code: "below_standard",
            message: format!(
                "压低标准：每人每餐支出 {} 元，低于标准 {} 元",
                per_day(f.spent.fen(), served),
                per_day(f.entitled.fen(), f.beneficiary_days)
            ),
        });
    }
    if let Some(m) = f.meals_reported
        && f.fund == Fund::Meal
        && m > f.beneficiary_days
    {
        out.push(Flag {
            code: "meals_exceed_roll",
            message: format!("上报就餐 {m} 人次，多于实名核定的 {} 人·天（虚报就餐）", f.beneficiary_days),
        });
    }
    if f.closing_balance.fen() > 0 {
        out.push(Flag { code: "surplus", message: format!("结余结转 {} 元", f.closing_balance) });
    }
    if let Some(d) = f.late_days {
        out.push(Flag {
            code: "late_allocation",
            message: format!("资金滞留：到账后 {d} 天才拨付（超过{PASS_ON_DAYS}天）"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_status_is_stored_sent_and_read_back_by_the_same_name() {
        use strum::IntoEnumIterator;
        let names: Vec<&str> = RequestStatus::iter().map(RequestStatus::as_str).collect();
        // The names the rows already hold.
        assert_eq!(names, ["pending", "posted", "rejected"]);
        for s in RequestStatus::iter() {
            assert_eq!(RequestStatus::try_from(s.as_str().to_owned()), Ok(s));
            assert_eq!(serde_json::to_value(s).expect("json"), serde_json::json!(s.as_str()));
        }
        assert_eq!(RequestStatus::try_from("approved".to_owned()), Err("未知的记账状态“approved”".to_owned()));
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn food_is_allowed_and_the_forbidden_name_their_rule() {
        assert_eq!(Category::parse(Fund::Meal, "肉蛋奶"), Ok(Category::MeatEggMilk));
        let wages = Category::parse(Fund::Meal, "食堂人员工资").expect_err("wages");
        assert!(wages.contains("劳务费、人员工资"), "{wages}");
        let cash = Category::parse(Fund::Meal, "现金发放").expect_err("cash");
        assert!(cash.contains("现金"), "{cash}");
        let odd = Category::parse(Fund::Meal, "文具").expect_err("stationery");
        assert!(odd.contains("粮油"), "{odd}");
        assert_eq!(Category::parse(Fund::Yibu, "生活补助"), Ok(Category::Allowance));
        assert!(Category::parse(Fund::Meal, "生活补助").is_err(), "the meal fund never pays 一补");
    }

    #[test]
    fn amounts_are_positive_and_exact() {
        assert_eq!(posting_amount("1,234.50"), Ok(Fen::new(123_450)));
        assert!(posting_amount("-5").is_err());
        assert!(posting_amount("0").is_err());
        assert!(posting_amount("1.005").is_err());
    }

    #[test]
    fn a_hash_covers_every_field() {
        let e = EntryFields {
            account: "5223260000:meal",
            seq: 1,
            kind: "receipt",
            amount_fen: 100,
            value_date: day("2026-09-01"),
            category: "",
            counter_account_id: None,
            for_school_id: None,
            reverses_entry_id: None,
            voucher_no: "V1",
            memo: "中央",
            maker: "a",
            checker: "",
        };
        let key = super::super::chain::ChainKey::new([5; 32]);
        let hash = |prev, e: &EntryFields<'_>| entry_hash(Seal::Keyed(&key), prev, e);
        let h = hash("genesis", &e);
        assert_eq!(h, hash("genesis", &e.clone()));
        assert_ne!(h, hash("genesis", &EntryFields { amount_fen: 101, ..e.clone() }));
        assert_ne!(h, hash("other", &e));
        assert_ne!(h, entry_hash(Seal::Plain, "genesis", &e));
        assert_ne!(h, hash("genesis", &EntryFields { checker: "b", ..e }));
    }

    #[test]
    fn money_passed_on_after_thirty_days_is_late() {
        let f = |id, d: &str, y: i64| Flow { id, date: day(d), amount: Fen::new(y * 100) };
        let ins = [f(1, "2026-09-01", 1000), f(2, "2026-10-15", 500)];
        // 600 on 09-20 (19 days), 600 on 10-20: 400 of the first (49 days) + 200 of the second.
        let outs = [f(10, "2026-09-20", 600), f(11, "2026-10-20", 600)];
        let late = |id, days, y: i64| Late { id, days, amount: Fen::new(y * 100) };
        assert_eq!(late_outflows(&ins, &outs, day("2026-10-25"), PASS_ON_DAYS), vec![late(11, 49, 600)]);
        // 300 still held on 2026-11-20: 36 days after it arrived.
        assert_eq!(
            late_outflows(&ins, &outs, day("2026-11-20"), PASS_ON_DAYS),
            vec![late(11, 49, 600), late(0, 36, 300)]
        );
        assert!(late_outflows(&ins, &[f(12, "2026-09-30", 1500)], day("2026-10-01"), PASS_ON_DAYS).is_empty());
        // Thirty days exactly is in time; a limit of 49 days lets a 49-day delay pass.
        assert!(late_outflows(&ins, &[f(13, "2026-10-01", 1000)], day("2026-10-01"), PASS_ON_DAYS).is_empty());
        assert_eq!(late_outflows(&ins, &outs, day("2026-10-25"), 48), vec![late(11, 49, 600)]);
        assert!(late_outflows(&ins, &outs, day("2026-10-25"), 49).is_empty());
    }

    #[test]
    fn reconciliation_flags() {
        let base = Figures {
            entitled: Fen::new(100_000),
            allocated: Fen::new(100_000),
            spent: Fen::new(100_000),
            beneficiary_days: 200,
            ..Figures::default()
        };
        assert!(flags(&base).is_empty());
        let codes = |f: Figures| flags(&f).into_iter().map(|f| f.code).collect::<Vec<_>>();
        assert_eq!(codes(Figures { allocated: Fen::new(90_000), ..base }), vec!["under_allocated"]);
        assert_eq!(codes(Figures { spent: Fen::new(80_000), ..base }), vec!["below_standard"]);
        // Fewer meals served than days on the roll: less spending is not lowering the standard.
        assert!(codes(Figures { spent: Fen::new(80_000), meals_reported: Some(160), ..base }).is_empty());
        assert_eq!(codes(Figures { meals_reported: Some(230), ..base }), vec!["below_standard", "meals_exceed_roll"]);
        assert_eq!(
            codes(Figures { closing_balance: Fen::new(1), late_days: Some(45), ..base }),
            vec!["surplus", "late_allocation"]
        );
        let msg = &flags(&Figures { spent: Fen::new(80_000), ..base })[0].message;
        assert!(msg.contains("4.00") && msg.contains("5.00"), "{msg}");
        // 一补 is paid per term, not per meal: only the money flags apply.
        let yibu = Figures { fund: Fund::Yibu, spent: Fen::new(80_000), meals_reported: Some(230), ..base };
        assert!(codes(yibu).is_empty());
        assert_eq!(codes(Figures { allocated: Fen::new(90_000), ..yibu }), vec!["under_allocated"]);
    }
}
