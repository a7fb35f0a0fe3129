//! The demo's paper and shelves: scanned pages of the guardian-signed rosters, invoices behind
//! the food bought, and the kitchens' daily use of it. A page is drawn, not photographed: ruled
//! paper with a table, ink where people signed. Planted for the inspector: a school buying pork
//! at 1.8 times the county's price (A19), one whose kitchen takes three times the meat per
//! meal (A27), chicken used before its delivery (A28), food bought with no invoice (A30).

use std::sync::OnceLock;

use crate::auth::Caller;
use crate::db::DbConn;
use crate::domain::food::{self, Qty};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::exchange::document::Upload;
use crate::ledger::purchase::{self, DocRole, LineForm, NewDocument, PurchaseForm};
use crate::meals::stock::{self, UseForm, UseLine};
use crate::org::model::Org;
use crate::programme::roster::RosterHead;
use crate::programme::roster_scan;

/// The county's registered supplier.
const SUPPLIER: &str = "91522326MA6HX2K81Q";
/// Schools (by their index in the demo's list) with the canteen's planted problems.
pub const NO_INVOICE: usize = 7;
pub const DEARER: usize = 8;
pub const HEAVY_KITCHEN: usize = 9;
pub const CHICKEN_EARLY: usize = 13;

/// The school (by its index in the demo's list) whose last spring's roster was archived before
/// scans were required.
pub const ARCHIVED_WITHOUT_SCAN: usize = 6;

/// One scanned A4 page at 72 dpi: off-white paper, the roster's grid, pen strokes where the
/// guardians signed. Drawn once per process.
fn scan_page() -> AppResult<&'static [u8]> {
    static PAGE: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(p) = PAGE.get() {
        return Ok(p);
    }
    let (w, h) = (595u32, 842u32);
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([246, 244, 236]));
    let ink = image::Rgb([40, 40, 48]);
    let pen = image::Rgb([20, 40, 130]);
    let (left, right, top) = (40u32, 555u32, 110u32);
    // The title band and the table's rows and columns.
    for x in 180..415 {
        for y in 50..58 {
            img.put_pixel(x, y, ink);
        }
    }
    for row in 0..=29u32 {
        let y = top + row * 22;
        for x in left..=right {
            img.put_pixel(x, y, ink);
        }
    }
    for x in [left, 70, 170, 230, 300, 360, 430, right] {
        for y in top..=top + 29 * 22 {
            img.put_pixel(x, y, ink);
        }
    }
    // A signature in each row's last column: a few strokes of a wave.
    for row in 0..29u32 {
        let base = f64::from(top + row * 22 + 11);
        let phase = f64::from(row) * 0.7;
        for x in 440..540u32 {
            let t = f64::from(x - 440) / 9.0 + phase;
            let y = base + 5.0 * t.sin() * (f64::from(x % 17) / 17.0 + 0.4);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let y = y.round().max(0.0) as u32;
            img.put_pixel(x, y.min(h - 1), pen);
            img.put_pixel(x, (y + 1).min(h - 1), pen);
        }
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 60)
        .encode_image(&img)
        .map_err(|e| AppError::internal_msg(ErrorCode::DemoScan, e.to_string()))?;
    Ok(PAGE.get_or_init(|| out))
}

/// The school uploads its signed roster, one photographed page per printed page.
pub fn upload_roster_scan(conn: &mut DbConn, cli: &Caller, head: &RosterHead) -> AppResult<()> {
    let page = scan_page()?;
    let lines = crate::programme::roster::layout_lines(conn, cli, head.id)?;
    let pages = usize::try_from(roster_scan::printed_pages(&lines)).unwrap_or(1);
    let uploads: Vec<Upload> =
        (1..=pages).map(|n| Upload { filename: format!("花名册签字第{n}页.jpg"), bytes: page.to_vec() }).collect();
    let checked = roster_scan::check_files(&uploads)?;
    roster_scan::upload(conn, cli, head.id, &checked)?;
    Ok(())
}

/// A paper invoice as photographed: a header band and rows. Drawn once per process.
fn invoice_page() -> AppResult<&'static [u8]> {
    static PAGE: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(p) = PAGE.get() {
        return Ok(p);
    }
    let (w, h) = (320u32, 200u32);
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([250, 246, 236]));
    let red = image::Rgb([170, 40, 40]);
    let ink = image::Rgb([50, 50, 60]);
    for x in 10..w - 10 {
        for y in [12u32, 13, 40, 70, 100, 130, 160, 186, 187] {
            img.put_pixel(x, y, if (20..=180).contains(&y) { ink } else { red });
        }
    }
    for y in 40..160 {
        for x in [10u32, 120, 200, 260, w - 11] {
            img.put_pixel(x, y, ink);
        }
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 50)
        .encode_image(&img)
        .map_err(|e| AppError::internal_msg(ErrorCode::DemoInvoice, e.to_string()))?;
    Ok(PAGE.get_or_init(|| out))
}

/// What each category's money buys in the demo, at the county's usual price (fen per unit);
/// where there are two foods, odd months buy the first.
const BOUGHT: [(&str, [(&str, i64); 2]); 4] = [
    ("肉蛋奶", [("猪肉", 2800), ("鸡蛋", 1100)]),
    ("粮油", [("大米", 420), ("大米", 420)]),
    ("蔬菜水果", [("白菜", 300), ("土豆", 260)]),
    ("其他食品", [("豆腐", 600), ("豆腐", 600)]),
];

/// A line of `amount` fen of a food near `price`: the price moved a fen at a time until some
/// quantity (in thousandths) costs exactly the amount, rounded half up, as an invoice does.
fn exact_line(amount: i64, price: i64) -> (i64, i64) {
    for step in 0..200i64 {
        let p = price + if step % 2 == 0 { step / 2 } else { -(step / 2) - 1 };
        if p <= 0 {
            continue;
        }
        let q = ((2 * amount - 1) * 500 + p - 1) / p;
        if q > 0 && (q * p + 500) / 1000 == amount {
            return (q, p);
        }
    }
    (1000, amount)
}

/// A school's food bought with its invoice: the expenditure and the stock receipt follow. A
/// school's prices sit within 3 % of the county's; `dearer` buys at 1.8 times (A19).
#[allow(clippy::too_many_arguments)]
pub fn buy(
    conn: &mut DbConn,
    cli: &Caller,
    school: &str,
    category: &str,
    amount_fen: i64,
    date: chrono::NaiveDate,
    voucher: String,
    key: String,
    dearer: bool,
) -> AppResult<()> {
    use chrono::Datelike;
    let Some((_, foods)) = BOUGHT.iter().find(|(c, _)| *c == category) else { return Ok(()) };
    let (food, base) = foods[usize::from(date.month().is_multiple_of(2))];
    let spread: i64 = school.bytes().map(i64::from).sum::<i64>() % 61 - 30;
    let price = base * (1000 + spread) / 1000 * if dearer { 18 } else { 10 } / 10;
    let (q, p) = exact_line(amount_fen, price);
    let form = PurchaseForm {
        school: school.into(),
        supplier: SUPPLIER.into(),
        delivered_on: date.to_string(),
        invoice_no: voucher,
        memo: format!("采购{category}"),
        lines: vec![LineForm {
            food: food.into(),
            qty: Qty::from_milli(q).to_string(),
            price: crate::domain::money::Fen::new(p).to_string(),
            spec: String::new(),
        }],
        key,
        ..PurchaseForm::default()
    };
    let photo = Upload { filename: "发票.jpg".into(), bytes: invoice_page()?.to_vec() };
    let invoice =
        NewDocument { role: DocRole::Invoice, file: crate::exchange::document::check(&photo, "documents", "发票")? };
    purchase::record(conn, cli, &form, &[invoice])?;
    Ok(())
}

/// Per meal served, what the kitchen takes out: (food, kilos in thousandths per child-meal).
const USE_PER_MEAL: [(&str, i64); 6] =
    [("大米", 120), ("猪肉", 50), ("鸡蛋", 50), ("白菜", 150), ("土豆", 150), ("豆腐", 20)];

/// The kitchens' days from `from` to `to`: on each day a school reported meals, the food those
/// meals took, by the norm; where a category has two foods, the one with more on the shelf.
/// `heavy` (a school's index) takes three times the meat and eggs (A27).
pub fn kitchens(
    conn: &mut DbConn,
    cli: &Caller,
    schools: &[Org],
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    heavy: usize,
) -> AppResult<()> {
    use diesel::prelude::*;

    use crate::db::schema::{daily_meals, stock_items};
    for (i, school) in schools.iter().enumerate() {
        let days: Vec<(chrono::NaiveDate, Option<i64>)> = daily_meals::table
            .filter(daily_meals::school_id.eq(school.id))
            .filter(daily_meals::day.between(from, to))
            .group_by(daily_meals::day)
            .select((daily_meals::day, diesel::dsl::sum(daily_meals::ate)))
            .order(daily_meals::day.asc())
            .load(conn)?;
        let mut shelf: std::collections::HashMap<String, i64> = stock_items::table
            .filter(stock_items::school_id.eq(school.id))
            .select((stock_items::food, stock_items::balance_milli))
            .load::<(String, i64)>(conn)?
            .into_iter()
            .filter_map(|(code, b)| Some((food::by_code(&code)?.name.clone(), b)))
            .collect();
        if shelf.is_empty() {
            continue;
        }
        for (day, ate) in days {
            let meals = ate.unwrap_or(0);
            let mut lines = Vec::new();
            for pair in [["大米", "大米"], ["猪肉", "鸡蛋"], ["白菜", "土豆"], ["豆腐", "豆腐"]] {
                let name = if shelf.get(pair[0]).copied().unwrap_or(0) >= shelf.get(pair[1]).copied().unwrap_or(0) {
                    pair[0]
                } else {
                    pair[1]
                };
                let norm = USE_PER_MEAL.iter().find(|(f, _)| *f == name).map_or(0, |(_, n)| *n);
                let norm = if i == heavy && (name == "猪肉" || name == "鸡蛋") { norm * 3 } else { norm };
                // To the tenth of a kilo, as a kitchen scale reads.
                let qty = (meals * norm + 50) / 100 * 100;
                let have = shelf.entry(name.to_owned()).or_default();
                if qty <= 0 || *have < qty {
                    continue;
                }
                *have -= qty;
                lines.push(UseLine { food: name.into(), qty: Qty::from_milli(qty).to_string() });
            }
            if !lines.is_empty() {
                stock::use_food(
                    conn,
                    cli,
                    &school.code,
                    &UseForm { day: day.to_string(), lines, note: String::new() },
                )?;
            }
        }
    }
    Ok(())
}

/// Chicken used on one day of the kitchen's, and its delivery entered later, dated later (A28).
pub fn used_before_received(
    conn: &mut DbConn,
    cli: &Caller,
    school: &Org,
    used_on: chrono::NaiveDate,
    received_on: chrono::NaiveDate,
) -> AppResult<()> {
    let photo = Upload { filename: "送货单.jpg".into(), bytes: invoice_page()?.to_vec() };
    let note = NewDocument {
        role: DocRole::Delivery,
        file: crate::exchange::document::check(&photo, "documents", "送货单")?,
    };
    let form = PurchaseForm {
        school: school.code.clone(),
        kind: "delivery".into(),
        supplier: "县统一配送中心".into(),
        delivered_on: received_on.to_string(),
        lines: vec![LineForm { food: "鸡肉".into(), qty: "20".into(), price: String::new(), spec: String::new() }],
        key: format!("demo:{}:chicken", school.code),
        ..PurchaseForm::default()
    };
    purchase::record(conn, cli, &form, &[note])?;
    stock::use_food(
        conn,
        cli,
        &school.code,
        &UseForm {
            day: used_on.to_string(),
            lines: vec![UseLine { food: "鸡肉".into(), qty: "12".into() }],
            note: "补记".into(),
        },
    )?;
    Ok(())
}

/// Complaints the demo county has had: two from notice pages (one answered, one the inspector
/// turned into a finding), one taken by phone; and the county's complaint number.
pub fn complaints(conn: &mut DbConn, key: &[u8], schools: &[String]) -> AppResult<()> {
    use crate::inspection::findings::{self, NewFinding};
    use crate::meals::complaints::{self, ComplaintForm};
    let yyb = Caller::cli_as(conn, "yyb")?;
    crate::meals::notice::set_hotline(conn, &yyb, "0859-4612345（县营养办）")?;
    let public = |school: &str, category: &str, content: &str, name: &str, contact: &str| ComplaintForm {
        school: school.into(),
        category: category.into(),
        content: content.into(),
        anonymous: name.is_empty(),
        name: name.into(),
        contact: contact.into(),
    };
    let (Some(first), Some(frugal)) = (schools.first(), schools.get(2)) else { return Ok(()) };
    let answered = complaints::submit_public(
        conn,
        key,
        first,
        &public(first, "quality", "周三中午的青菜有点黄，希望食堂注意新鲜。", "韦女士", "13908591234"),
        "demo:1",
    )?;
    let found = complaints::submit_public(
        conn,
        key,
        frugal,
        &public(frugal, "quantity", "孩子说这学期中午菜少了，肉基本没有，和公示的食谱不一样。", "", ""),
        "demo:2",
    )?;
    let id_of = |conn: &mut DbConn, code: &str| -> AppResult<i64> {
        use diesel::prelude::*;
        Ok(crate::db::schema::complaints::table
            .filter(crate::db::schema::complaints::tracking_code.eq(code))
            .select(crate::db::schema::complaints::id)
            .first(conn)?)
    };
    let answered = id_of(conn, &answered)?;
    complaints::answer(conn, &yyb, answered, "已转学校核实：当日蔬菜为前一天采购，已要求食堂当日采购当日使用。")?;
    let found = id_of(conn, &found)?;
    let ducha = Caller::cli_as(conn, "ducha")?;
    findings::record(
        conn,
        &ducha,
        &NewFinding {
            school: frugal.clone(),
            term: crate::domain::term::Term::of_day(crate::clock::today()).to_string(),
            rule: "complaint".into(),
            severity: "warn".into(),
            description: "群众举报：这学期午餐菜量减少，肉类不足，与公示食谱不符。".into(),
            complaint_id: Some(found),
            ..NewFinding::default()
        },
        &[],
    )?;
    if let Some(other) = schools.get(5) {
        complaints::enter(
            &mut *conn,
            &yyb,
            &ComplaintForm {
                school: other.clone(),
                category: "charges".into(),
                content: "家长来电：学校要求每人每月另交10元伙食费。".into(),
                name: "杨先生".into(),
                contact: "13985901234".into(),
                ..ComplaintForm::default()
            },
        )?;
    }
    Ok(())
}
