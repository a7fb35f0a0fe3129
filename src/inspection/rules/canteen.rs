//! Rules over the canteen's paper and shelves: a unit price far above the supplier's or the
//! county's (A19), food used per meal far from the county's median (A27), food used before it
//! was received (A28), food spending without a document (A30).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::db::DbConn;
use crate::db::schema::{orgs, purchase_lines, purchases, stock_entries, stock_items};
use crate::domain::anomaly::{PriceBasis, Rule, far_from_median, median, price_outlier, price_spread};
use crate::domain::calendar::Month;
use crate::domain::food::{self, Qty};
use crate::domain::money::Fen;
use crate::error::AppResult;
use crate::inspection::scan::{Ctx, Flag};
use crate::meals::monthly;
use crate::registry::service::county_of;

/// The county codes of the scanned schools: prices and uses are compared within a county.
fn counties(cx: &Ctx) -> BTreeSet<String> {
    cx.schools.iter().map(|s| county_of(&s.path)).collect()
}

fn in_county(county: &str) -> String {
    format!("%/{county}/%")
}

/// A19: a unit price above the supplier's own mean + kσ (at least 20 priced lines of that food
/// from it in the year to the period's end), or the county's mean + (k+1)σ.
pub(in crate::inspection) fn a19_supplier_price(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let mut out = Vec::new();
    let since = cx.last - chrono::Days::new(365);
    for county in counties(cx) {
        let k = cx.threshold(Rule::A19, cx.schools.iter().find(|s| county_of(&s.path) == county).map_or(0, |s| s.id));
        let k = k.to_f64().unwrap_or(3.0);
        type LineRow = (i64, i32, i64, Option<i64>, String, String, i64, i64, NaiveDate);
        let rows: Vec<LineRow> = purchase_lines::table
            .inner_join(purchases::table.inner_join(orgs::table))
            .filter(orgs::path.like(in_county(&county)))
            .filter(purchases::delivered_on.between(since, cx.last))
            .filter(purchase_lines::price_fen.is_not_null())
            .select((
                purchases::id,
                purchase_lines::seq,
                purchases::school_id,
                purchases::supplier_id,
                purchases::supplier_name,
                purchase_lines::food,
                purchase_lines::price_fen.assume_not_null(),
                purchase_lines::qty_milli,
                purchases::delivered_on,
            ))
            .load(conn)?;
        let supplier_key = |id: &Option<i64>, name: &str| id.map_or_else(|| format!("n:{name}"), |i| format!("s:{i}"));
        let mut by_supplier: HashMap<(String, String), Vec<i64>> = HashMap::new();
        let mut by_county: HashMap<String, Vec<i64>> = HashMap::new();
        for r in &rows {
            by_supplier.entry((supplier_key(&r.3, &r.4), r.5.clone())).or_default().push(r.6);
            by_county.entry(r.5.clone()).or_default().push(r.6);
        }
        let supplier_spread: HashMap<_, _> = by_supplier.iter().map(|(k, v)| (k.clone(), price_spread(v))).collect();
        let county_spread: HashMap<_, _> = by_county.iter().map(|(k, v)| (k.clone(), price_spread(v))).collect();
        for (purchase, seq, school, sid, sname, food_code, price, qty, day) in rows {
            if day < cx.first || cx.school(school).is_none() {
                continue;
            }
            let supplier = supplier_spread.get(&(supplier_key(&sid, &sname), food_code.clone())).copied().flatten();
            let whole = county_spread.get(&food_code).copied().flatten();
            let Some((mean, basis)) = price_outlier(price, supplier, whole, k) else { continue };
            let Some(f) = food::by_code(&food_code) else { continue };
            let mean_fen = Decimal::from_f64(mean).unwrap_or_default().round();
            let over = (Decimal::from(price) - mean_fen) * Qty::from_milli(qty).to_decimal() / Decimal::from(100);
            let (whose, n, sigma) = match basis {
                PriceBasis::Supplier => (
                    "该供应商",
                    by_supplier.get(&(supplier_key(&sid, &sname), food_code.clone())).map_or(0, Vec::len),
                    k,
                ),
                PriceBasis::County => ("全县", by_county.get(&food_code).map_or(0, Vec::len), k + 1.0),
            };
            let mut flag = cx.flag(
                Rule::A19,
                school,
                format!(
                    "{day}向{sname}购{}单价{}元/{}，高于{whose}一年{n}笔均价{}元的{sigma}倍标准差以上",
                    f.name,
                    Fen::new(price),
                    f.unit,
                    Fen::new(mean_fen.to_i64().unwrap_or(0)),
                ),
            );
            flag.month = Some(Month::of(day).to_string());
            flag.amount = Some(Fen::from_decimal(over).to_string());
            flag.key = format!("{purchase}:{seq}");
            out.push(flag);
        }
    }
    Ok(out)
}

/// A school's food use by (school, month key, category), in the foods weighed in 公斤: what
/// the kitchen took out, less what it took back.
fn kilos_used(
    conn: &mut DbConn,
    county: &str,
    first: NaiveDate,
    last: NaiveDate,
) -> AppResult<BTreeMap<(i64, i32, String), i64>> {
    let mut out: BTreeMap<(i64, i32, String), i64> = BTreeMap::new();
    // Summed by the database a month at a time: a county year is a hundred thousand kitchen rows.
    for m in Month::span(first, last) {
        let rows: Vec<(i64, String, Option<i64>)> = stock_entries::table
            .inner_join(stock_items::table.inner_join(orgs::table))
            .filter(orgs::path.like(in_county(county)))
            .filter(stock_entries::purchase_id.is_null())
            .filter(stock_entries::day.between(m.first_day().max(first), m.last_day().min(last)))
            .group_by((stock_items::school_id, stock_items::food))
            // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back, as SQLite gives it.
            .select((
                stock_items::school_id,
                stock_items::food,
                diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                    "CAST(SUM(stock_entries.qty_milli) AS BIGINT)",
                ),
            ))
            .load(conn)?;
        for (school, code, qty) in rows {
            let Some(f) = food::by_code(&code).filter(|f| f.unit == "公斤") else { continue };
            *out.entry((school, m.key(), f.category.as_str().to_owned())).or_default() -= qty.unwrap_or(0);
        }
    }
    Ok(out)
}

/// The fewest schools a county median is taken over.
const MEDIAN_MIN_SCHOOLS: usize = 3;

/// A27: a school's food of a category used per meal served (公斤 per 人次) in a month, more than
/// the threshold's times the county's median or less than the median divided by it.
pub(in crate::inspection) fn a27_use_per_meal(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let mut out = Vec::new();
    for county in counties(cx) {
        let used = kilos_used(conn, &county, cx.first, cx.last)?;
        let schools: Vec<i64> = used.keys().map(|k| k.0).collect::<BTreeSet<_>>().into_iter().collect();
        let months: Vec<i32> = used.keys().map(|k| k.1).collect::<BTreeSet<_>>().into_iter().collect();
        let served = monthly::served(conn, &schools, &months)?;
        // kilos per meal, by (month, category) → [(school, value)]
        let mut per: BTreeMap<(i32, String), Vec<(i64, f64)>> = BTreeMap::new();
        for ((school, month, category), milli) in &used {
            let Some(s) = served.get(&(*school, *month)).filter(|s| s.meals > 0) else { continue };
            #[allow(clippy::cast_precision_loss)]
            let v = *milli as f64 / 1000.0 / s.meals as f64;
            per.entry((*month, category.clone())).or_default().push((*school, v));
        }
        for ((month, category), values) in per {
            let n = values.len();
            if n < MEDIAN_MIN_SCHOOLS {
                continue;
            }
            let Some(m) = median(&values.iter().map(|v| v.1).collect::<Vec<_>>()) else { continue };
            for (school, v) in values {
                if cx.school(school).is_none() {
                    continue;
                }
                let factor = cx.threshold(Rule::A27, school).to_f64().unwrap_or(2.0);
                if !far_from_median(v, m, factor) {
                    continue;
                }
                let Ok(mo) = Month::from_key(month) else { continue };
                let mut flag = cx.flag(
                    Rule::A27,
                    school,
                    format!(
                        "{mo}{category}每人次用量{v:.3}公斤，全县{n}所学校的中位数{m:.3}公斤，{}（超出{factor}倍范围）",
                        if v > m { "偏高" } else { "偏低" }
                    ),
                );
                flag.month = Some(mo.to_string());
                flag.key = category.clone();
                out.push(flag);
            }
        }
    }
    Ok(out)
}

/// A28: a food taken out of a school's stock on a day before enough of it had arrived, read in
/// date order (the ledger's own check reads it in the order it was written, so a receipt
/// entered with a later date lets an earlier use through).
pub(in crate::inspection) fn a28_used_before_received(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let rows: Vec<(i64, String, NaiveDate, i64)> = stock_entries::table
        .inner_join(stock_items::table)
        .filter(stock_items::school_id.eq_any(&cx.ids))
        .filter(stock_entries::day.le(cx.last))
        .select((stock_items::school_id, stock_items::food, stock_entries::day, stock_entries::qty_milli))
        .load(conn)?;
    let mut by_item: BTreeMap<(i64, String), Vec<(NaiveDate, i64)>> = BTreeMap::new();
    for (school, food, day, qty) in rows {
        by_item.entry((school, food)).or_default().push((day, qty));
    }
    let mut out = Vec::new();
    for ((school, code), entries) in by_item {
        let Some((day, short)) = food::first_short_day(&entries) else { continue };
        if day < cx.first {
            continue;
        }
        let Some(f) = food::by_code(&code) else { continue };
        let mut flag = cx.flag(
            Rule::A28,
            school,
            format!(
                "{}：{day}出库时按日期累计的入库不足，差{}{}（入库日期晚于出库，出库没有实物依据）",
                f.name,
                Qty::from_milli(short),
                f.unit
            ),
        );
        flag.month = Some(Month::of(day).to_string());
        flag.key = code;
        out.push(flag);
    }
    Ok(out)
}

/// A30: a meal-fund expenditure of a school in the period, posted or waiting and not reversed,
/// with no invoice or delivery note behind it.
pub(in crate::inspection) fn a30_spending_without_document(conn: &mut DbConn, cx: &Ctx) -> AppResult<Vec<Flag>> {
    let mut out = Vec::new();
    for (id, code, _name, day, amount, category, voucher) in
        crate::ledger::purchase::undocumented_under(conn, &cx.org.path, cx.first, cx.last)?
    {
        let Some(school) = cx.schools.iter().find(|s| s.code == code) else { continue };
        let mut flag = cx.flag_on(
            Rule::A30,
            school,
            format!("{day}支出{}元（{category}，凭证号{voucher}）没有上传发票或送货单", Fen::new(amount)),
        );
        flag.month = Some(Month::of(day).to_string());
        flag.amount = Some(Fen::new(amount).to_string());
        flag.key = id.to_string();
        out.push(flag);
    }
    Ok(out)
}
