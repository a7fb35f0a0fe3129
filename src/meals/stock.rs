//! The canteen's stock ledger by food (食堂库存台账): received (入库) from a purchase or a
//! delivery on its day, used (出库) on a meal day, the balance never below zero (the database
//! refuses it too). Entries are never changed; a wrong one is corrected by an entry of the
//! opposite sign that names it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::daily::{has_meals, school_of};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{stock_entries, stock_items};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::Month;
use crate::domain::food::{self, Food, Qty};
use crate::domain::role::Permission;
use crate::domain::text;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind, FieldError};
use crate::org::model::Org;

/// A day's use of one food as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
pub struct UseLine {
    #[serde(default)]
    pub food: String,
    #[serde(default)]
    pub qty: String,
}

/// What the kitchen took out for a meal day.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
pub struct UseForm {
    #[serde(default)]
    pub day: String,
    #[serde(default)]
    pub lines: Vec<UseLine>,
    #[serde(default)]
    pub note: String,
}

/// The item of a school's food, created at its first receipt.
fn item(conn: &mut DbConn, school_id: i64, food: &Food) -> AppResult<i64> {
    let row =
        (stock_items::school_id.eq(school_id), stock_items::food.eq(&food.code), stock_items::balance_milli.eq(0i64));
    // Two receipts of a new food at once: the second finds the first's row.
    crate::per_backend!(conn, |c| diesel::insert_into(stock_items::table)
        .values(row)
        .on_conflict((stock_items::school_id, stock_items::food))
        .do_nothing()
        .execute(c))?;
    Ok(stock_items::table
        .filter(stock_items::school_id.eq(school_id))
        .filter(stock_items::food.eq(&food.code))
        .select(stock_items::id)
        .first(conn)?)
}

/// One entry to write: a signed quantity of an item on a day, and where it comes from.
struct NewEntry<'a> {
    item_id: i64,
    day: NaiveDate,
    signed_milli: i64,
    purchase: Option<i64>,
    corrects: Option<i64>,
    note: &'a str,
}

fn insert_entry(conn: &mut DbConn, caller: &Caller, e: NewEntry) -> AppResult<i64> {
    Ok(diesel::insert_into(stock_entries::table)
        .values((
            stock_entries::item_id.eq(e.item_id),
            stock_entries::day.eq(e.day),
            stock_entries::qty_milli.eq(e.signed_milli),
            stock_entries::purchase_id.eq(e.purchase),
            stock_entries::corrects.eq(e.corrects),
            stock_entries::note.eq(e.note),
            stock_entries::recorded_by.eq(&caller.username),
            stock_entries::recorded_at.eq(caller.now()),
        ))
        .returning(stock_entries::id)
        .get_result(conn)?)
}

/// Receives a purchase line into stock, inside the purchase's transaction (its audit row says so).
pub(crate) fn receive(
    conn: &mut DbConn,
    caller: &Caller,
    school_id: i64,
    food: &Food,
    day: NaiveDate,
    qty: Qty,
    purchase: i64,
) -> AppResult<()> {
    let id = item(conn, school_id, food)?;
    diesel::update(stock_items::table.find(id))
        .set(stock_items::balance_milli.eq(stock_items::balance_milli + qty.milli()))
        .execute(conn)?;
    let entry =
        NewEntry { item_id: id, day, signed_milli: qty.milli(), purchase: Some(purchase), corrects: None, note: "" };
    insert_entry(conn, caller, entry)?;
    Ok(())
}

fn short(food: &Food, have: i64, want: Qty) -> FieldError {
    FieldError {
        field: "lines".into(),
        code: ErrorCode::StockShort,
        message: format!(
            "{}库存只有{}{}，不能出库{}{}：库存不能为负，请先录入入库",
            food.name,
            Qty::from_milli(have),
            food.unit,
            want,
            food.unit
        ),
    }
}

/// Takes `qty` out of an item, or says how much there is: the update only happens while the
/// balance covers it, so two clerks at once cannot take the same food twice.
fn take(conn: &mut DbConn, item_id: i64, food: &Food, qty: Qty) -> AppResult<()> {
    let n = diesel::update(stock_items::table.find(item_id).filter(stock_items::balance_milli.ge(qty.milli())))
        .set(stock_items::balance_milli.eq(stock_items::balance_milli - qty.milli()))
        .execute(conn)?;
    if n == 0 {
        let have: i64 = stock_items::table.find(item_id).select(stock_items::balance_milli).first(conn)?;
        return Err(AppError::fields(vec![short(food, have, qty)]));
    }
    Ok(())
}

/// Who records the canteen's stock: the school's own canteen. The stock page offers its forms
/// on this rule.
pub fn may_record(caller: &Caller, school_code: &str, school_name: &str) -> AppResult<()> {
    if !caller.may(Permission::RecordMeals) {
        return Err(AppError::forbidden());
    }
    if !caller.acts_for(school_code) {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::StockNotOwnSchool,
            format!("库存由{school_name}本校食堂录入"),
        ));
    }
    Ok(())
}

/// Taking back an entry: a use (receipts come with their purchase and are corrected in the
/// ledger), once, by whoever records the school's stock.
fn may_correct(caller: &Caller, school: (&str, &str), is_use: bool, corrected: bool) -> AppResult<()> {
    may_record(caller, school.0, school.1)?;
    if !is_use {
        return Err(AppError::conflict(
            ErrorCode::StockFromPurchase,
            "入库随采购记录，不能单独更正；如送货与票据不符，请在资金台账冲销该笔支出后重新录入",
        ));
    }
    if corrected {
        return Err(AppError::conflict(ErrorCode::StockCorrected, "这条出库记录已更正过"));
    }
    Ok(())
}

fn own_school(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    caller.require(conn, Permission::RecordMeals, "stock_use")?;
    let code = if code.trim().is_empty() { caller.org_code.as_str() } else { code.trim() };
    let school = school_of(conn, caller, code)?;
    may_record(caller, &school.code, &school.name)?;
    Ok(school)
}

/// Records a meal day's use of food: every line or none.
pub fn use_food(conn: &mut DbConn, caller: &Caller, school_code: &str, form: &UseForm) -> AppResult<StockView> {
    let school = own_school(conn, caller, school_code)?;
    let mut errors = Vec::new();
    let day = match crate::domain::student::parse_date(&form.day) {
        Ok(d) if d > caller.today() => {
            errors.push(FieldError {
                field: "day".into(),
                code: ErrorCode::StockFuture,
                message: format!("{d}还没有到"),
            });
            None
        }
        Ok(d) => Some(d),
        Err(m) => {
            errors.push(FieldError {
                field: "day".into(), code: ErrorCode::StockDay, message: format!("出库日期{m}")
            });
            None
        }
    };
    if let Some(d) = day
        && !has_meals(conn, &school, d)?
    {
        errors.push(FieldError {
            field: "day".into(),
            code: ErrorCode::StockNoMealDay,
            message: format!("{d}不是{}的供餐日，不能记出库", school.name),
        });
    }
    let note = text::optional("备注", &form.note, 100)
        .map_err(|m| errors.push(FieldError { field: "note".into(), code: ErrorCode::StockNote, message: m }))
        .unwrap_or_default();
    let mut lines: BTreeMap<String, (&'static Food, i64)> = BTreeMap::new();
    for (i, l) in form.lines.iter().enumerate().filter(|(_, l)| !(l.food.trim().is_empty() && l.qty.trim().is_empty()))
    {
        let n = i + 1;
        let food = food::parse(&l.food).map_err(|m| format!("第{n}行：{m}"));
        let qty = Qty::parse(&l.qty).map_err(|m| format!("第{n}行：{m}"));
        match (food, qty) {
            // The same food twice on one form is one take.
            (Ok(f), Ok(q)) => lines.entry(f.code.clone()).or_insert((f, 0)).1 += q.milli(),
            (f, q) => {
                for m in [f.err(), q.err()].into_iter().flatten() {
                    errors.push(FieldError { field: format!("lines[{i}]"), code: ErrorCode::StockLine, message: m });
                }
            }
        }
    }
    if lines.is_empty() && errors.is_empty() {
        errors.push(FieldError {
            field: "lines".into(),
            code: ErrorCode::StockNoLines,
            message: "请至少填写一行出库（食品、数量）".into(),
        });
    }
    let Some(day) = day.filter(|_| errors.is_empty()) else {
        return Err(AppError::fields(errors));
    };
    write_tx(conn, |conn| {
        let mut taken = Vec::new();
        let mut shortages = Vec::new();
        for (food, milli) in lines.values() {
            let qty = Qty::from_milli(*milli);
            let found: Option<i64> = stock_items::table
                .filter(stock_items::school_id.eq(school.id))
                .filter(stock_items::food.eq(&food.code))
                .select(stock_items::id)
                .first(conn)
                .optional()?;
            let Some(id) = found else {
                shortages.push(short(food, 0, qty));
                continue;
            };
            match take(conn, id, food, qty) {
                Ok(()) => {
                    let entry = NewEntry {
                        item_id: id,
                        day,
                        signed_milli: -milli,
                        purchase: None,
                        corrects: None,
                        note: &note,
                    };
                    insert_entry(conn, caller, entry)?;
                    taken.push(serde_json::json!({"food": food.name, "qty": qty.to_string(), "unit": food.unit}));
                }
                Err(e) if e.kind == ErrorKind::Invalid => shortages.extend(e.fields),
                Err(e) => return Err(e),
            }
        }
        if !shortages.is_empty() {
            // Every short food named at once; the transaction takes nothing.
            return Err(AppError::fields(shortages));
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("stock.use", "school", &school.code)
                .after(&serde_json::json!({"day": day, "lines": taken, "note": note})),
        )
    })?;
    view_at(conn, caller, &school, Month::of(day))
}

/// Takes back a use (typed twice, a wrong quantity) by an entry of the opposite sign that names
/// it, with the reason. Receipts come with their purchase and are corrected in the ledger.
pub fn correct(conn: &mut DbConn, caller: &Caller, entry_id: i64, reason: &str) -> AppResult<StockView> {
    caller.require(conn, Permission::RecordMeals, "stock_correct")?;
    let reason =
        text::required("更正原因", reason, 100).map_err(|m| AppError::field("reason", ErrorCode::StockReason, m))?;
    let (item_id, school_id, food_code, day, qty, purchase): (i64, i64, String, NaiveDate, i64, Option<i64>) =
        stock_entries::table
            .inner_join(stock_items::table)
            .filter(stock_entries::id.eq(entry_id))
            .select((
                stock_items::id,
                stock_items::school_id,
                stock_items::food,
                stock_entries::day,
                stock_entries::qty_milli,
                stock_entries::purchase_id,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(AppError::not_found)?;
    let school: Org = crate::db::schema::orgs::table.find(school_id).select(Org::as_select()).first(conn)?;
    let school = own_school(conn, caller, &school.code)?;
    let done: i64 = stock_entries::table.filter(stock_entries::corrects.eq(entry_id)).count().get_result(conn)?;
    may_correct(caller, (&school.code, &school.name), purchase.is_none() && qty < 0, done > 0)?;
    let food = food::by_code(&food_code).ok_or_else(AppError::not_found)?;
    let back = -qty;
    write_tx(conn, |conn| {
        // A use taken back returns its food to the shelf.
        diesel::update(stock_items::table.find(item_id))
            .set(stock_items::balance_milli.eq(stock_items::balance_milli + back))
            .execute(conn)?;
        let entry =
            NewEntry { item_id, day, signed_milli: back, purchase: None, corrects: Some(entry_id), note: &reason };
        let id = insert_entry(conn, caller, entry)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("stock.correct", "stock_entry", entry_id).after(&serde_json::json!({
                "correction": id, "food": food.name, "qty": Qty::from_milli(back).to_string(), "reason": reason
            })),
        )
    })?;
    view_at(conn, caller, &school, Month::of(day))
}

/// One food's stock as the page shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ItemView {
    pub food: String,
    pub name: String,
    pub category: String,
    pub unit: String,
    pub balance: String,
    /// Received and used in the month shown.
    pub received: String,
    pub used: String,
}

/// An entry of the month.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "StockEntry")]
pub struct EntryView {
    pub id: i64,
    pub day: NaiveDate,
    pub name: String,
    pub unit: String,
    /// 入库 / 出库 / 更正.
    pub kind: &'static str,
    pub qty: String,
    pub purchase: Option<i64>,
    pub corrects: Option<i64>,
    pub corrected: bool,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
    /// What the caller may do with it (`may_correct`).
    pub actions: EntryActions,
}

/// What a caller may do with a stock entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct EntryActions {
    /// 更正 (take back a use).
    pub correct: bool,
}

/// A school's stock and a month of its entries.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StockView {
    pub school_code: String,
    pub school_name: String,
    pub month: String,
    pub items: Vec<ItemView>,
    pub entries: Vec<EntryView>,
}

/// The stock of a school in the caller's scope, with the month's entries.
pub fn view(conn: &mut DbConn, caller: &Caller, school_code: &str, month: Month) -> AppResult<StockView> {
    caller.require(conn, Permission::ViewLedger, "stock_view")?;
    let code = if school_code.trim().is_empty() { caller.org_code.as_str() } else { school_code.trim() };
    let school = school_of(conn, caller, code)?;
    view_at(conn, caller, &school, month)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stock_entries)]
struct EntryRow {
    id: i64,
    item_id: i64,
    day: NaiveDate,
    qty_milli: i64,
    purchase_id: Option<i64>,
    corrects: Option<i64>,
    note: String,
    recorded_by: String,
    recorded_at: NaiveDateTime,
}

fn view_at(conn: &mut DbConn, caller: &Caller, school: &Org, month: Month) -> AppResult<StockView> {
    let first = month.first_day();
    let last = month.next().first_day().pred_opt().unwrap_or(first);
    let items: Vec<(i64, String, i64)> = stock_items::table
        .filter(stock_items::school_id.eq(school.id))
        .select((stock_items::id, stock_items::food, stock_items::balance_milli))
        .load(conn)?;
    let rows: Vec<EntryRow> = stock_entries::table
        .filter(stock_entries::item_id.eq_any(items.iter().map(|i| i.0).collect::<Vec<_>>()))
        .filter(stock_entries::day.between(first, last))
        .order((stock_entries::day.desc(), stock_entries::id.desc()))
        .select(EntryRow::as_select())
        .load(conn)?;
    let food_of = |item: i64| items.iter().find(|i| i.0 == item).and_then(|i| food::by_code(&i.1));
    let corrected: Vec<i64> = rows.iter().filter_map(|r| r.corrects).collect();
    let mut out_items: Vec<ItemView> = items
        .iter()
        .filter_map(|(id, code, balance)| {
            let f = food::by_code(code)?;
            let mine = || rows.iter().filter(|r| r.item_id == *id);
            let received: i64 = mine().filter(|r| r.qty_milli > 0 && r.corrects.is_none()).map(|r| r.qty_milli).sum();
            // Uses, less the uses taken back.
            let used: i64 =
                -mine().filter(|r| r.qty_milli < 0 || r.corrects.is_some()).map(|r| r.qty_milli).sum::<i64>();
            Some(ItemView {
                food: f.code.clone(),
                name: f.name.clone(),
                category: f.category.as_str().to_owned(),
                unit: f.unit.clone(),
                balance: Qty::from_milli(*balance).to_string(),
                received: Qty::from_milli(received).to_string(),
                used: Qty::from_milli(used).to_string(),
            })
        })
        .collect();
    out_items.sort_by(|a, b| a.food.cmp(&b.food));
    let entries = rows
        .iter()
        .filter_map(|r| {
            let f = food_of(r.item_id)?;
            Some(EntryView {
                id: r.id,
                day: r.day,
                name: f.name.clone(),
                unit: f.unit.clone(),
                kind: match (r.corrects, r.qty_milli > 0) {
                    (Some(_), _) => "更正",
                    (None, true) => "入库",
                    (None, false) => "出库",
                },
                qty: Qty::from_milli(r.qty_milli.abs()).to_string(),
                purchase: r.purchase_id,
                corrects: r.corrects,
                corrected: corrected.contains(&r.id),
                note: r.note.clone(),
                recorded_by: r.recorded_by.clone(),
                recorded_at: r.recorded_at,
                actions: EntryActions {
                    correct: may_correct(
                        caller,
                        (&school.code, &school.name),
                        r.purchase_id.is_none() && r.qty_milli < 0,
                        corrected.contains(&r.id),
                    )
                    .is_ok(),
                },
            })
        })
        .collect();
    Ok(StockView {
        school_code: school.code.clone(),
        school_name: school.name.clone(),
        month: month.to_string(),
        items: out_items,
        entries,
    })
}
