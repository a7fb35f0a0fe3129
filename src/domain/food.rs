//! Foods a canteen buys and stocks, from `config/codes/foods.csv`: one name and one unit per
//! food, so quantities per meal and unit prices compare across schools; and quantities (数量),
//! exact to a thousandth of the unit.

use std::fmt;
use std::sync::OnceLock;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::ledger::{Category, Fund};
use super::money::Fen;

const FOODS_CSV: &str = include_str!("../../config/codes/foods.csv");

/// One food of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Food {
    pub code: String,
    pub name: String,
    pub category: Category,
    pub unit: String,
    pub aliases: Vec<String>,
}

/// Every food of the list, in its order.
pub fn all() -> &'static [Food] {
    static FOODS: OnceLock<Vec<Food>> = OnceLock::new();
    FOODS.get_or_init(|| {
        let mut rdr = csv::ReaderBuilder::new().from_reader(FOODS_CSV.as_bytes());
        rdr.records()
            .flatten()
            .filter_map(|r| {
                Some(Food {
                    code: r.get(0)?.to_owned(),
                    name: r.get(1)?.to_owned(),
                    category: Category::parse(Fund::Meal, r.get(2)?).ok()?,
                    unit: r.get(3)?.to_owned(),
                    aliases: r.get(4).unwrap_or("").split('|').filter(|a| !a.is_empty()).map(str::to_owned).collect(),
                })
            })
            .collect()
    })
}

/// The food a clerk names: by code, name or one of its other names.
pub fn parse(input: &str) -> Result<&'static Food, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("请填写食品名称".into());
    }
    all().iter().find(|f| f.code == s || f.name == s || f.aliases.iter().any(|a| a == s)).ok_or_else(|| {
        format!("食品“{s}”不在食品目录中（如大米、猪肉、鸡蛋、白菜）；目录外的食品请县营养办添加后再录入")
    })
}

pub fn by_code(code: &str) -> Option<&'static Food> {
    all().iter().find(|f| f.code == code)
}

/// A quantity of a food in its unit, in thousandths: positive, at most three decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Qty(i64);

/// A million units of one food in one entry is a typing error, not a delivery.
const MAX_MILLI: i64 = 1_000_000 * 1000;

impl Qty {
    pub const fn from_milli(milli: i64) -> Self {
        Self(milli)
    }

    pub fn milli(self) -> i64 {
        self.0
    }

    /// Parses a quantity as people write it (`12`, `12.5`, `0.250`): more than zero, at most
    /// three decimals, below a million.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let d: Decimal = s.parse().map_err(|_| format!("数量“{s}”应为数字，如12.5"))?;
        if d.normalize().scale() > 3 {
            return Err(format!("数量“{s}”最多三位小数"));
        }
        let milli = (d * Decimal::from(1000)).normalize().to_i64().unwrap_or(i64::MAX);
        if milli <= 0 {
            return Err(format!("数量“{s}”须大于0"));
        }
        if milli >= MAX_MILLI {
            return Err(format!("数量“{s}”过大，请核对单位"));
        }
        Ok(Self(milli))
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 3)
    }
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal().normalize())
    }
}

/// The dearest unit price a canteen's food can have (a typing error above it, and a bound that
/// keeps a purchase's sum far inside the integers it is added in).
const MAX_PRICE_FEN: i64 = 1_000_000;

/// A unit price: above zero (a free line is a donation, recorded without a price), at most
/// 10,000 yuan a unit.
pub fn unit_price(input: &str) -> Result<Fen, String> {
    let p = Fen::parse_yuan(input).map_err(|m| m.replace("金额", "单价"))?;
    if p.fen() <= 0 {
        return Err(format!("单价“{}”须大于0", input.trim()));
    }
    if p.fen() > MAX_PRICE_FEN {
        return Err(format!("单价“{}”元过高，请核对单位和小数点", input.trim()));
    }
    Ok(p)
}

/// A line's amount: quantity × unit price, half up to the fen.
pub fn line_amount(qty: Qty, price: Fen) -> Fen {
    Fen::from_decimal(qty.to_decimal() * price.to_decimal())
}

/// The first day a food's stock, read in date order, was short: what was used by then exceeded
/// what had arrived. Entries are `(day, signed thousandths)`; a day's receipts count before its
/// uses. Returns the day and the shortfall.
pub fn first_short_day(entries: &[(NaiveDate, i64)]) -> Option<(NaiveDate, i64)> {
    let mut sorted = entries.to_vec();
    sorted.sort_by_key(|(day, q)| (*day, std::cmp::Reverse(*q > 0)));
    let mut balance = 0i64;
    for (day, q) in sorted {
        balance += q;
        if balance < 0 {
            return Some((day, -balance));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn foods_are_named_by_code_name_or_alias_with_one_unit() {
        assert!(all().len() >= 30);
        let rice = parse("大米").expect("rice");
        assert_eq!((rice.code.as_str(), rice.unit.as_str(), rice.category), ("101", "公斤", Category::GrainOil));
        assert_eq!(parse("马铃薯").expect("alias").name, "土豆");
        assert_eq!(parse(" 206 ").expect("code").name, "牛奶");
        assert!(parse("香烟").expect_err("not food").contains("不在食品目录"));
        // Every row of the file reads: a mistyped category would drop a food silently.
        assert_eq!(all().len(), FOODS_CSV.lines().count() - 1);
    }

    #[test]
    fn quantities_are_positive_and_exact_to_a_thousandth() {
        assert_eq!(Qty::parse("12.5").map(Qty::milli), Ok(12_500));
        assert_eq!(Qty::parse("0.001").map(Qty::milli), Ok(1));
        assert_eq!(Qty::parse("12.5").map(|q| q.to_string()), Ok("12.5".into()));
        assert!(Qty::parse("0").expect_err("zero").contains("大于0"));
        assert!(Qty::parse("-3").is_err());
        assert!(Qty::parse("1.0005").expect_err("four decimals").contains("三位小数"));
        assert!(Qty::parse("十斤").is_err());
        assert!(Qty::parse("2000000").expect_err("too large").contains("过大"));
    }

    #[test]
    fn a_line_is_quantity_times_price_half_up() {
        let q = Qty::parse("12.345").expect("qty");
        // 12.345 × 4.25 = 52.46625 → 52.47
        assert_eq!(line_amount(q, unit_price("4.25").expect("price")).to_string(), "52.47");
        assert_eq!(line_amount(Qty::parse("0.5").expect("q"), Fen::new(1)).fen(), 1, "0.005 rounds up");
        assert!(unit_price("0").expect_err("zero price").contains("单价"));
        assert!(unit_price("0.00").is_err());
        assert!(unit_price("abc").is_err());
        assert!(unit_price("10000.01").expect_err("too dear").contains("过高"));
        assert!(unit_price("10000").is_ok());
    }

    #[test]
    fn stock_is_short_when_used_before_it_arrived() {
        // 20 used on the 3rd, 50 received on the 5th: short by 20 on the 3rd.
        assert_eq!(
            first_short_day(&[(d("2026-11-05"), 50_000), (d("2026-11-03"), -20_000)]),
            Some((d("2026-11-03"), 20_000))
        );
        // Received and used the same day: the receipt counts first.
        assert_eq!(first_short_day(&[(d("2026-11-03"), -20_000), (d("2026-11-03"), 20_000)]), None);
        // Used on the 4th what came on the 3rd: fine, down to nothing.
        assert_eq!(first_short_day(&[(d("2026-11-03"), 20_000), (d("2026-11-04"), -20_000)]), None);
    }
}
