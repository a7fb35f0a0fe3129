//! Schools side by side, as the county compares them: for a month, each school's food by the
//! list — bought and at what average price, used and how much per meal served — beside the
//! county's median. What rules A19 and A27 test, shown for people to read.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{orgs, purchase_lines, purchases, stock_entries, stock_items};
use crate::domain::anomaly::median;
use crate::domain::calendar::Month;
use crate::domain::food::{self, Qty};
use crate::domain::money::Fen;
use crate::domain::role::{OrgKind, Permission};
use crate::error::AppResult;
use crate::meals::monthly;
use crate::org::model::Org;
use crate::org::service::org_in_scope;

/// One school's month of one food.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SchoolFood {
    pub school_code: String,
    pub school_name: String,
    pub bought: String,
    /// Amount over quantity of the priced lines.
    pub price: Option<Fen>,
    pub used: String,
    /// Used per meal served (the unit's thousandths, shown to three decimals).
    pub per_meal: Option<String>,
}

/// One food across the schools.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FoodRow {
    pub food: String,
    pub name: String,
    pub category: String,
    pub unit: String,
    pub median_price: Option<Fen>,
    pub median_per_meal: Option<String>,
    pub schools: Vec<SchoolFood>,
}

#[derive(Default)]
struct Acc {
    bought_milli: i64,
    priced_milli: i64,
    priced_fen: i64,
    used_milli: i64,
}

/// The org's schools' month, food by food.
pub fn month(conn: &mut DbConn, caller: &Caller, org_code: &str, month: Month) -> AppResult<(Org, Vec<FoodRow>)> {
    caller.require(conn, Permission::ViewLedger, "stock_compare")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let schools: Vec<Org> = orgs::table
        .filter(orgs::path.like(format!("{}%", org.path)))
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .select(Org::as_select())
        .load(conn)?;
    let ids: Vec<i64> = schools.iter().map(|s| s.id).collect();
    let (first, last) = (month.first_day(), month.last_day());
    let mut acc: BTreeMap<(String, i64), Acc> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let bought: Vec<(i64, String, i64, Option<i64>, i64)> = purchase_lines::table
            .inner_join(purchases::table)
            .filter(purchases::school_id.eq_any(chunk))
            .filter(purchases::delivered_on.between(first, last))
            .select((
                purchases::school_id,
                purchase_lines::food,
                purchase_lines::qty_milli,
                purchase_lines::price_fen,
                purchase_lines::amount_fen,
            ))
            .load(conn)?;
        for (school, food, qty, price, amount) in bought {
            let a = acc.entry((food, school)).or_default();
            a.bought_milli += qty;
            if price.is_some() {
                a.priced_milli += qty;
                a.priced_fen += amount;
            }
        }
        // Uses, less uses taken back (receipts come with their purchase).
        let used: Vec<(i64, String, i64)> = stock_entries::table
            .inner_join(stock_items::table)
            .filter(stock_items::school_id.eq_any(chunk))
            .filter(stock_entries::purchase_id.is_null())
            .filter(stock_entries::day.between(first, last))
            .select((stock_items::school_id, stock_items::food, stock_entries::qty_milli))
            .load(conn)?;
        for (school, food, qty) in used {
            acc.entry((food, school)).or_default().used_milli -= qty;
        }
    }
    let served = monthly::served(conn, &ids, &[month.key()])?;
    let mut rows: BTreeMap<String, FoodRow> = BTreeMap::new();
    let mut prices: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut per_meals: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for ((code, school_id), a) in acc {
        let (Some(f), Some(school)) = (food::by_code(&code), schools.iter().find(|s| s.id == school_id)) else {
            continue;
        };
        let price = (a.priced_milli > 0).then(|| {
            Fen::from_decimal(Fen::new(a.priced_fen).to_decimal() / Qty::from_milli(a.priced_milli).to_decimal())
        });
        let meals = served.get(&(school_id, month.key())).map_or(0, |s| s.meals);
        #[allow(clippy::cast_precision_loss)]
        let per_meal = (meals > 0 && a.used_milli > 0).then(|| a.used_milli as f64 / 1000.0 / meals as f64);
        if let Some(p) = price {
            #[allow(clippy::cast_precision_loss)]
            prices.entry(code.clone()).or_default().push(p.fen() as f64);
        }
        if let Some(v) = per_meal {
            per_meals.entry(code.clone()).or_default().push(v);
        }
        rows.entry(code.clone())
            .or_insert_with(|| FoodRow {
                food: code.clone(),
                name: f.name.clone(),
                category: f.category.as_str().to_owned(),
                unit: f.unit.clone(),
                median_price: None,
                median_per_meal: None,
                schools: Vec::new(),
            })
            .schools
            .push(SchoolFood {
                school_code: school.code.clone(),
                school_name: school.name.clone(),
                bought: Qty::from_milli(a.bought_milli).to_string(),
                price,
                used: Qty::from_milli(a.used_milli.max(0)).to_string(),
                per_meal: per_meal.map(|v| format!("{v:.3}")),
            });
    }
    let mut out: Vec<FoodRow> = rows
        .into_values()
        .map(|mut r| {
            #[allow(clippy::cast_possible_truncation)]
            let mp = prices.get(&r.food).and_then(|v| median(v)).map(|m| Fen::new(m.round() as i64));
            r.median_price = mp;
            r.median_per_meal = per_meals.get(&r.food).and_then(|v| median(v)).map(|m| format!("{m:.3}"));
            r.schools.sort_by(|a, b| a.school_code.cmp(&b.school_code));
            r
        })
        .collect();
    out.sort_by(|a, b| a.food.cmp(&b.food));
    Ok((org, out))
}
