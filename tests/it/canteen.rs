//! The canteen's paper and shelves on both databases, November 2026 at school A (meal days Mon–
//! Fri): a purchase posts its expenditure for the sum of its lines and receives them into stock
//! with its invoice and delivery note; a delivery the school did not pay; documents completed for
//! an expenditure posted without them; a meal day's use held against the stock, never below zero;
//! a use taken back; every refusal named and nothing half-saved. Then the rules: A19 (a price far
//! above the supplier's own), A27 (use per meal far from the county's median), A28 (used before
//! received), A30 (spending with no document), each firing on its case and silent on the near miss.

use crate::common;

use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{ledger_requests, purchases, stock_entries};
use serde_json::{Value, json};

const SUPPLIER: &str = "91522326MA6HX2K81Q";
const SCHOOL_D: &str = "2152326003";

/// A school of A's county in the programme from September, the autumn term, November's meal
/// days, a registered supplier, and a nutrition officer at each school.
async fn setting<S, B>(app: &S, w: &World)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let yyb = bearer(w, "yyb");
    {
        let mut conn = w.conn();
        let cli = mealroll::auth::Caller::cli(&mut conn).expect("cli");
        mealroll::org::service::create_school(
            &mut conn,
            &cli,
            &mealroll::org::model::SchoolInput {
                code: SCHOOL_D.into(),
                name: "望谟县坪阳小学".into(),
                parent_code: COUNTY.into(),
                sponsor_type: "1".into(),
                urban_rural: "220".into(),
                school_type: "211".into(),
                ..Default::default()
            },
        )
        .expect("school D");
    }
    for (user, school) in [("a.yyzg", SCHOOL_A), ("b.yyzg", SCHOOL_B), ("d.yyzg", SCHOOL_D)] {
        add_user(w, user, school, "nutrition_officer");
    }
    for school in [SCHOOL_A, SCHOOL_B, SCHOOL_D] {
        let (s, v) = call(
            app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": school, "from_date": "2026-09-01"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    for (uri, body) in [
        ("/api/v1/terms", json!({"term": "2026-1", "start_date": "2026-09-01", "end_date": "2027-01-15"})),
        (&format!("/api/v1/calendars/{COUNTY}/2026-11") as &str, json!({"days": "2-6,9-13,16-20,23-27,30"})),
    ] {
        let (s, v) = call(app, test::TestRequest::put().uri(uri).set_json(body), &yyb).await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = call(
        app,
        test::TestRequest::post().uri("/api/v1/programme/suppliers").set_json(json!({
            "name": "望谟县惠民粮油有限公司", "credit_code": SUPPLIER, "contact": "韦经理", "phone": "13985900001"
        })),
        &yyb,
    )
    .await;
    assert!(s == 200 || s == 201, "{v}");
    // Money at each school to spend: the county receives it and passes it on.
    let mut conn = w.conn();
    let cli = mealroll::auth::Caller::cli(&mut conn).expect("cli");
    let post = |conn: &mut mealroll::db::DbConn, kind: &str, from: &str, to: &str, amount: &str, voucher: &str| {
        let f = mealroll::ledger::fund::PostingForm {
            kind: kind.into(),
            fund: "meal".into(),
            from: from.into(),
            to: to.into(),
            amount: amount.into(),
            date: "2026-09-01".into(),
            voucher_no: voucher.into(),
            memo: "中央财政 测试下达".into(),
            ..Default::default()
        };
        mealroll::ledger::fund::post(conn, &cli, &f).expect("posting");
    };
    post(&mut conn, "receipt", "", COUNTY, "100000", "SR-1");
    for (i, school) in [SCHOOL_A, SCHOOL_B, SCHOOL_D].into_iter().enumerate() {
        post(&mut conn, "allocation", COUNTY, school, "20000", &format!("BF-{i}"));
    }
}

/// Posts a purchase through the API with its files.
async fn purchase<S, B>(app: &S, who: &Header, body: Value, files: &[(&str, &str, &[u8])]) -> (u16, Value)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let json = body.to_string();
    let mut parts: Vec<(&str, Option<&str>, &[u8])> = vec![("purchase", None, json.as_bytes())];
    parts.extend(files.iter().map(|(field, name, bytes)| (*field, Some(*name), *bytes)));
    post_multipart(app, who, "/api/v1/purchases", &parts).await
}

async fn stock<S, B>(app: &S, who: &Header, school: &str) -> Value
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let (s, v) =
        call(app, test::TestRequest::get().uri(&format!("/api/v1/schools/{school}/stock?month=2026-11")), who).await;
    assert_eq!(s, 200, "{v}");
    v
}

fn balance(v: &Value, food: &str) -> String {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["name"] == food)
        .map_or_else(|| "none".to_owned(), |i| i["balance"].as_str().unwrap_or("").to_owned())
}

async fn use_food<S, B>(app: &S, who: &Header, school: &str, body: Value) -> (u16, Value)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    call(app, test::TestRequest::post().uri(&format!("/api/v1/schools/{school}/stock/use")).set_json(body), who).await
}

#[actix_web::test]
async fn a_purchase_posts_its_expenditure_receives_its_lines_and_keeps_its_documents() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        setting(&app, &w).await;
        let officer = bearer(&w, "a.yyzg");
        let invoice = jpeg(60, 80);
        let note = scanned_pdf(&[jpeg(50, 70)]);
        let rice_and_flour = json!({
            "supplier": SUPPLIER, "delivered_on": "2026-11-02", "invoice_no": "FP-20261102-01", "key": "buy-1",
            "lines": [{"food": "大米", "qty": "50", "price": "4.20"}, {"food": "小麦粉", "qty": "20.5", "price": "3.85"}]
        });
        let docs: [(&str, &str, &[u8]); 2] = [("invoice", "发票.jpg", &invoice), ("delivery", "送货单.pdf", &note)];

        // Refusals first: each names what and where; nothing is kept.
        let before = (rows_in(&w, "purchases"), rows_in(&w, "ledger_requests"), rows_in(&w, "attachments"));
        let with = |f: &dyn Fn(&mut Value)| {
            let mut b = rice_and_flour.clone();
            b["key"] = json!(format!("bad-{}", uuid::Uuid::new_v4().simple()));
            f(&mut b);
            b
        };
        for (body, files, code) in [
            (with(&|b| b["lines"][0]["price"] = json!("0")), docs.to_vec(), "purchase.price"),
            (with(&|_| {}), vec![], "purchase.no_document"),
            (with(&|_| {}), vec![("invoice", "发票.jpg", b"MZ\x90\x00".as_slice())], "document.type"),
            (with(&|b| b["lines"][1]["food"] = json!("香烟")), docs.to_vec(), "purchase.food"),
            (with(&|b| b["lines"][1]["food"] = json!("猪肉")), docs.to_vec(), "purchase.category"),
            (with(&|b| b["delivered_on"] = json!("2099-01-01")), docs.to_vec(), "purchase.future"),
            (with(&|b| b["lines"][0]["qty"] = json!("-5")), docs.to_vec(), "purchase.qty"),
        ] {
            let (s, v) = purchase(&app, &officer, body, &files).await;
            assert_eq!((s, v["error"].as_str()), (422, Some(code)), "{label}: {v}");
        }
        let (s, v) = purchase(&app, &officer, with(&|b| b["lines"][0]["price"] = json!("0")), &docs).await;
        assert!(v["message"].as_str().unwrap_or("").contains("第1行"), "{label}: the line is named: {s} {v}");
        let big = vec![0u8; 21 * 1024 * 1024];
        let (s, v) = purchase(&app, &officer, with(&|_| {}), &[("invoice", "大.jpg", &big)]).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("file.too_large")), "{label}: {v}");
        let (s, v) = purchase(&app, &bearer(&w, "b.xiaozhang"), with(&|b| b["school"] = json!(SCHOOL_A)), &docs).await;
        assert_eq!(s, 404, "{label}: another school's purchase: {v}");
        assert_eq!(
            (rows_in(&w, "purchases"), rows_in(&w, "ledger_requests"), rows_in(&w, "attachments")),
            before,
            "{label}: nothing kept"
        );

        // The purchase: its expenditure for the lines' sum (50 × 4.20 + 20.5 × 3.85 = 288.93).
        let (s, v) = purchase(&app, &officer, rice_and_flour.clone(), &docs).await;
        assert_eq!(s, 201, "{label}: {v}");
        assert_eq!(v["amount"], "288.93", "{label}: {v}");
        assert_eq!((v["mode"].as_str(), v["supplier_registered"].as_bool()), (Some("paid"), Some(true)), "{label}");
        assert_eq!(v["lines"][1]["name"], "面粉", "{label}: 小麦粉 is 面粉 of the list");
        assert_eq!(v["documents"].as_array().map(Vec::len), Some(2), "{label}");
        assert_eq!(v["documents"][1]["pages"], 1, "{label}: the PDF's pages counted");
        let request = v["expenditure"].as_i64().expect("expenditure");
        let (amount, category, voucher, status): (i64, String, String, String) = ledger_requests::table
            .find(request)
            .select((
                ledger_requests::amount_fen,
                ledger_requests::category,
                ledger_requests::voucher_no,
                ledger_requests::status,
            ))
            .first(&mut w.conn())
            .expect("request");
        assert_eq!(
            (amount, category.as_str(), voucher.as_str(), status.as_str()),
            (28_893, "粮油", "FP-20261102-01", "posted"),
            "{label}"
        );
        let id = v["id"].as_i64().expect("id");
        let doc = v["documents"][0]["id"].as_i64().expect("doc");
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/purchases/{id}/documents/{doc}"))
                .insert_header(bearer(&w, "yyb"))
                .to_request(),
        )
        .await;
        assert_eq!(test::read_body(r).await.to_vec(), invoice, "{label}: the county reads the invoice");
        let (s, _) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/purchases/{id}/documents/{doc}")),
            &bearer(&w, "yyb2"),
        )
        .await;
        assert_eq!(s, 404, "{label}: another county does not");
        // Submitting twice records once.
        let (s, again) = purchase(&app, &officer, rice_and_flour.clone(), &docs).await;
        assert_eq!((s, again["id"].as_i64(), again["replayed"].as_bool()), (200, Some(id), Some(true)), "{label}");
        assert_eq!(rows_in(&w, "purchases"), before.0 + 1, "{label}");

        // A delivery the county paid for: no price, no expenditure, into stock all the same.
        let (s, v) = purchase(
            &app,
            &officer,
            json!({"kind": "delivery", "supplier": "县统一配送中心", "delivered_on": "2026-11-09",
                   "lines": [{"food": "猪肉", "qty": "10"}]}),
            &[("delivery", "配送单.jpg", &invoice)],
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        assert_eq!((v["expenditure"].clone(), v["amount"].as_str()), (Value::Null, Some("0.00")), "{label}");
        let st = stock(&app, &officer, SCHOOL_A).await;
        assert_eq!(
            (balance(&st, "大米"), balance(&st, "面粉"), balance(&st, "猪肉")),
            ("50".into(), "20.5".into(), "10".into()),
            "{label}: {st}"
        );

        // Uses on a meal day, held against the shelf.
        let (s, v) = use_food(
            &app,
            &officer,
            SCHOOL_A,
            json!({"day": "2026-11-13", "lines": [{"food": "大米", "qty": "12.5"}, {"food": "猪肉", "qty": "3"}]}),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        assert_eq!((balance(&v, "大米"), balance(&v, "猪肉")), ("37.5".into(), "7".into()), "{label}");
        let entries_before = rows_in(&w, "stock_entries");
        let (s, v) = use_food(
            &app,
            &officer,
            SCHOOL_A,
            json!({"day": "2026-11-16", "lines": [{"food": "猪肉", "qty": "1"}, {"food": "大米", "qty": "40"}]}),
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("stock.short")), "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or("").contains("大米库存只有37.5公斤"), "{label}: {v}");
        for (day, code) in [("2026-11-14", "stock.no_meal_day"), ("2099-11-16", "stock.future"), ("11月", "stock.day")]
        {
            let (s, v) =
                use_food(&app, &officer, SCHOOL_A, json!({"day": day, "lines": [{"food": "大米", "qty": "1"}]})).await;
            assert_eq!((s, v["error"].as_str()), (422, Some(code)), "{label}: {day}: {v}");
        }
        let (s, v) =
            use_food(&app, &officer, SCHOOL_A, json!({"day": "2026-11-16", "lines": [{"food": "茅台", "qty": "1"}]}))
                .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("stock.line")), "{label}: {v}");
        let (s, _) = use_food(
            &app,
            &bearer(&w, "b.yyzg"),
            SCHOOL_A,
            json!({"day": "2026-11-16", "lines": [{"food": "大米", "qty": "1"}]}),
        )
        .await;
        assert_eq!(s, 404, "{label}: another school's kitchen");
        assert_eq!(rows_in(&w, "stock_entries"), entries_before, "{label}: a refused use takes nothing");
        let st = stock(&app, &officer, SCHOOL_A).await;
        assert_eq!((balance(&st, "大米"), balance(&st, "猪肉")), ("37.5".into(), "7".into()), "{label}");
        // The database itself refuses a negative balance, whatever the code above it does.
        let raw = diesel::sql_query("UPDATE stock_items SET balance_milli = -1").execute(&mut w.conn());
        assert!(raw.is_err(), "{label}: CHECK (balance_milli >= 0)");

        // A use typed wrongly is taken back, once, with its reason; a receipt is not.
        let pork_use: i64 = stock_entries::table
            .filter(stock_entries::qty_milli.eq(-3000))
            .select(stock_entries::id)
            .first(&mut w.conn())
            .expect("use");
        let correct = |id: i64, reason: &str| {
            test::TestRequest::post()
                .uri(&format!("/api/v1/stock-entries/{id}/correct"))
                .set_json(json!({"reason": reason}))
        };
        let (s, v) = call(&app, correct(pork_use, ""), &officer).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("stock.reason")), "{label}: {v}");
        let (s, v) = call(&app, correct(pork_use, "误录，当日未用猪肉"), &officer).await;
        assert_eq!((s, balance(&v, "猪肉")), (200, "10".into()), "{label}: {v}");
        let (s, v) = call(&app, correct(pork_use, "再次"), &officer).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("stock.corrected")), "{label}: {v}");
        let receipt: i64 = stock_entries::table
            .filter(stock_entries::purchase_id.eq(id))
            .select(stock_entries::id)
            .first(&mut w.conn())
            .expect("receipt");
        let (s, v) = call(&app, correct(receipt, "送货少了"), &officer).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("stock.from_purchase")), "{label}: {v}");
        assert_eq!(audit_count(&mut w.conn(), "stock.use"), 1, "{label}");
        assert_eq!(audit_count(&mut w.conn(), "stock.correct"), 1, "{label}");
        assert_eq!(audit_count(&mut w.conn(), "purchase.record"), 2, "{label}");

        // An expenditure posted in the ledger without documents: listed, then completed.
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(json!({
                "kind": "expenditure", "fund": "meal", "from": SCHOOL_A, "amount": "100.00", "date": "2026-11-10",
                "category": "蔬菜水果", "voucher_no": "ZC-1110"
            })),
            &officer,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let bare = v["id"].as_i64().expect("request");
        let (_, list) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/purchases?org={SCHOOL_A}&month=2026-11")),
            &officer,
        )
        .await;
        let undocumented: Vec<i64> =
            list["undocumented"].as_array().expect("list").iter().filter_map(|u| u["id"].as_i64()).collect();
        assert_eq!(undocumented, vec![bare], "{label}: {list}");
        let attach = |lines: Value| {
            json!({"expenditure": bare, "supplier": "坪阳村蔬菜合作社", "delivered_on": "2026-11-10",
                                           "lines": lines, "key": format!("a-{}", uuid::Uuid::new_v4().simple())})
        };
        let (s, v) =
            purchase(&app, &officer, attach(json!([{"food": "白菜", "qty": "30", "price": "3.30"}])), &docs).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("purchase.amount")), "{label}: 99.00 against 100.00: {v}");
        let (s, v) = purchase(&app, &officer, attach(json!([])), &[("invoice", "菜款发票.jpg", &invoice)]).await;
        assert_eq!(s, 201, "{label}: documents alone: {v}");
        assert_eq!((v["mode"].as_str(), v["expenditure"].as_i64()), (Some("attached"), Some(bare)), "{label}");
        let (s, v) = purchase(&app, &officer, attach(json!([])), &[("invoice", "菜款发票.jpg", &invoice)]).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("purchase.already")), "{label}: {v}");
        let (_, list) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/purchases?org={COUNTY}&period=2026-11")),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(list["undocumented"], json!([]), "{label}: {list}");
        assert_eq!(list["purchases"].as_array().map(Vec::len), Some(3), "{label}: the county reads its schools'");

        // The pages: the school's form and list, the purchase with its documents, the stock.
        let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("a.yyzg")));
        for (uri, must) in [
            ("/purchases?month=2026-11".to_owned(), vec!["purchase-form", "惠民粮油", "288.93"]),
            (format!("/purchases/{id}"), vec!["发票.jpg", "送货单.pdf", "4.20", "面粉"]),
            ("/meals/stock?month=2026-11".to_owned(), vec!["use-form", "37.5", "已更正"]),
        ] {
            let r =
                test::call_service(&app, test::TestRequest::get().uri(&uri).insert_header(cookie.clone()).to_request())
                    .await;
            assert_eq!(r.status(), 200, "{label}: {uri}");
            let html = body_text(r).await;
            for m in must {
                assert!(html.contains(m), "{label}: {uri} shows {m}");
            }
        }
    }
}

/// Records a purchase through the service (the rules' tests need many).
fn bought(w: &World, user: &str, school: &str, day: &str, food: &str, qty: &str, price: &str) -> i64 {
    use mealroll::exchange::document::{Upload, check};
    use mealroll::ledger::purchase::{DocRole, LineForm, NewDocument, PurchaseForm, record};
    let caller = w.caller(user);
    let doc = check(&Upload { filename: "发票.jpg".into(), bytes: jpeg(20, 20) }, "documents", "发票").expect("jpeg");
    let form = PurchaseForm {
        school: school.into(),
        supplier: SUPPLIER.into(),
        delivered_on: day.into(),
        invoice_no: format!("FP-{}", uuid::Uuid::new_v4().simple()),
        lines: vec![LineForm { food: food.into(), qty: qty.into(), price: price.into(), spec: String::new() }],
        ..PurchaseForm::default()
    };
    record(&mut w.conn(), &caller, &form, &[NewDocument { role: DocRole::Invoice, file: doc }]).expect("purchase").id
}

#[actix_web::test]
async fn the_canteen_rules_fire_on_their_case_and_stay_silent_on_the_near_miss() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        setting(&app, &w).await;
        let (a, b, d) = (bearer(&w, "a.yyzg"), bearer(&w, "b.yyzg"), bearer(&w, "d.yyzg"));

        // A19: twenty deliveries of rice from the supplier at 4.00–4.09 a kilo, one at 9.00 (far
        // above), one at 4.15 (inside its spread).
        for i in 0..20 {
            bought(&w, "b.yyzg", SCHOOL_B, &format!("2026-10-{:02}", i + 1), "大米", "10", &format!("4.0{}", i % 10));
        }
        bought(&w, "a.yyzg", SCHOOL_A, "2026-11-03", "大米", "100", "9.00");
        bought(&w, "a.yyzg", SCHOOL_A, "2026-11-04", "大米", "100", "4.15");

        // A27: rice used per meal, A 0.1 kg, B 0.12 kg, D 0.4 kg (over twice the median 0.12).
        bought(&w, "d.yyzg", SCHOOL_D, "2026-11-02", "大米", "100", "4.05");
        for (who, school, kilos) in [(&a, SCHOOL_A, "10"), (&b, SCHOOL_B, "12"), (&d, SCHOOL_D, "40")] {
            let (s, v) =
                use_food(&app, who, school, json!({"day": "2026-11-05", "lines": [{"food": "大米", "qty": kilos}]}))
                    .await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        let csv = format!(
            "学校标识码,月份,供餐天数,就餐人次\n{SCHOOL_A},2026-11,19,100\n{SCHOOL_B},2026-11,19,100\n{SCHOOL_D},2026-11,19,100\n"
        );
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/meals/import?filename=meals.csv").set_payload(csv),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");

        // A28: cabbage used on the 13th, received on the 20th (entered first, dated later);
        // potatoes received and used on the 20th (the near miss).
        bought(&w, "a.yyzg", SCHOOL_A, "2026-11-20", "白菜", "30", "3.00");
        bought(&w, "a.yyzg", SCHOOL_A, "2026-11-20", "土豆", "30", "2.50");
        for (day, food) in [("2026-11-13", "白菜"), ("2026-11-20", "土豆")] {
            let (s, v) =
                use_food(&app, &a, SCHOOL_A, json!({"day": day, "lines": [{"food": food, "qty": "20"}]})).await;
            assert_eq!(s, 200, "{label}: the ledger's own order lets it through: {v}");
        }

        // A30: an expenditure without documents; one reversed (nothing to document).
        let mut requests = Vec::new();
        for (amount, voucher) in [("80.00", "ZC-A"), ("60.00", "ZC-B")] {
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(json!({
                    "kind": "expenditure", "fund": "meal", "from": SCHOOL_A, "amount": amount, "date": "2026-11-11",
                    "category": "其他食品", "voucher_no": voucher
                })),
                &a,
            )
            .await;
            assert_eq!(s, 201, "{label}: {v}");
            requests.push(v["id"].as_i64().expect("id"));
        }
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/ledger/requests/{}/reverse", requests[1]))
                .set_json(json!({"reason": "重复记账"})),
            &a,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");

        let (s, v) = call(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/anomalies?org={COUNTY}&period=2026-11&rules=A19,A27,A28,A30")),
            &bearer(&w, "ducha"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let flags = v["flags"].as_array().expect("flags");
        let of = |rule: &str| flags.iter().filter(|f| f["rule"] == rule).collect::<Vec<_>>();
        let a19 = of("A19");
        assert_eq!(a19.len(), 1, "{label}: only the 9.00 line: {v}");
        assert_eq!(a19[0]["school"], SCHOOL_A, "{label}");
        assert!(a19[0]["message"].as_str().unwrap_or("").contains("单价9.00元/公斤"), "{label}: {a19:?}");
        // (9.00 − mean of the supplier's 23 lines of rice) × 100 kg.
        let mean: f64 = (0..20).map(|i| 400.0 + f64::from(i % 10)).chain([900.0, 415.0, 405.0]).sum::<f64>() / 23.0;
        let over = format!("{:.2}", (900.0 - mean.round()) * 100.0 / 100.0);
        assert_eq!(a19[0]["amount"].as_str(), Some(over.as_str()), "{label}: {a19:?}");
        let a27 = of("A27");
        assert_eq!(a27.len(), 1, "{label}: {v}");
        assert_eq!(a27[0]["school"], SCHOOL_D, "{label}");
        assert!(
            a27[0]["message"].as_str().unwrap_or("").contains("0.400公斤")
                && a27[0]["message"].as_str().unwrap_or("").contains("中位数0.120公斤"),
            "{label}: {a27:?}"
        );
        let a28 = of("A28");
        assert_eq!(a28.len(), 1, "{label}: {v}");
        assert!(a28[0]["message"].as_str().unwrap_or("").starts_with("白菜：2026-11-13"), "{label}: {a28:?}");
        let a30 = of("A30");
        assert_eq!(a30.len(), 1, "{label}: the reversed one needs nothing: {v}");
        assert_eq!((a30[0]["amount"].as_str(), a30[0]["school"].as_str()), (Some("80.00"), Some(SCHOOL_A)), "{label}");
        assert!(purchases::table.count().get_result::<i64>(&mut w.conn()).expect("n") >= 25, "{label}");

        // The same figures side by side for people: rice in November, school by school.
        let (s, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/stock-comparison?org={COUNTY}&month=2026-11")),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let rice = v["foods"].as_array().expect("foods").iter().find(|f| f["name"] == "大米").expect("rice").clone();
        let at = |code: &str| {
            rice["schools"]
                .as_array()
                .expect("schools")
                .iter()
                .find(|s| s["school_code"] == code)
                .cloned()
                .expect("school")
        };
        // A: 100 kg at 9.00 and 100 at 4.15, 657.5 fen a kilo, half up; B bought none this month.
        assert_eq!(
            (at(SCHOOL_A)["price"].as_str(), at(SCHOOL_A)["per_meal"].as_str()),
            (Some("6.58"), Some("0.100")),
            "{label}: {rice}"
        );
        assert_eq!(
            (at(SCHOOL_B)["price"].clone(), at(SCHOOL_B)["used"].as_str()),
            (Value::Null, Some("12")),
            "{label}"
        );
        assert_eq!(
            (at(SCHOOL_D)["per_meal"].as_str(), rice["median_per_meal"].as_str()),
            (Some("0.400"), Some("0.120")),
            "{label}"
        );
        assert_eq!(rice["median_price"], "5.32", "{label}: the median of 6.575 and 4.05: {rice}");
        let (s, _) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/stock-comparison?org={OTHER_COUNTY}")),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 404, "{label}: another county is out of scope");
    }
}

/// The form token and its cookie from a public notice page.
fn form_token(html: &str, set_cookie: &str) -> (String, String) {
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
    (csrf_of(html), cookie)
}

#[actix_web::test]
async fn the_public_notice_shows_figures_never_children_and_a_complaint_becomes_a_finding() {
    use actix_web::http::header;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        setting(&app, &w).await;
        let (yyb, officer, principal) = (bearer(&w, "yyb"), bearer(&w, "a.yyzg"), bearer(&w, "a.xiaozhang"));
        let today = mealroll::clock::today();

        // The term's roster, signed by the guardians and archived: 2 children.
        let (_, no1) = enrolled(&app, &w, SCHOOL_A, "韦小花", "52232620190101011").await;
        enrolled(&app, &w, SCHOOL_A, "罗小军", "52232620190101031").await;
        let term = mealroll::domain::term::Term::of_day(today).to_string();
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_A, "term": term})),
            &principal,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let roster = v["roster"]["id"].as_i64().expect("roster");
        let scan = jpeg(40, 60);
        let (s, v) = post_multipart(
            &app,
            &principal,
            &format!("/api/v1/rosters/{roster}/scan"),
            &[("scan", Some("签字.jpg"), &scan)],
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        for (who, step) in [(&principal, "sign"), (&yyb, "review"), (&yyb, "archive")] {
            let (s, v) = call(
                &app,
                test::TestRequest::post()
                    .uri(&format!("/api/v1/rosters/{roster}/step"))
                    .set_json(json!({"step": step})),
                who,
            )
            .await;
            assert_eq!(s, 200, "{label}: {step} {v}");
        }
        // This week's menu, and this month's money: 500.00 passed on, 126.00 of rice bought.
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/menus/{today}"))
                .set_json(json!({"monday": "米饭 番茄炒蛋 青菜汤", "wednesday": "米饭 土豆烧肉"})),
            &officer,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        {
            let mut conn = w.conn();
            let cli = mealroll::auth::Caller::cli(&mut conn).expect("cli");
            let f = mealroll::ledger::fund::PostingForm {
                kind: "allocation".into(),
                fund: "meal".into(),
                from: COUNTY.into(),
                to: SCHOOL_A.into(),
                amount: "500.00".into(),
                date: today.to_string(),
                voucher_no: "BF-NOW".into(),
                ..Default::default()
            };
            mealroll::ledger::fund::post(&mut conn, &cli, &f).expect("allocation");
        }
        bought(&w, "a.yyzg", SCHOOL_A, &today.to_string(), "大米", "30", "4.20");
        // A duplicate bill of last month reversed today counts in last month, not as this
        // month's negative spending.
        let last_month = mealroll::domain::calendar::Month::of(today).prev();
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(json!({
                "kind": "expenditure", "fund": "meal", "from": SCHOOL_A, "amount": "80.00",
                "date": last_month.first_day().to_string(), "category": "其他食品", "voucher_no": "ZC-DUP"
            })),
            &officer,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let dup = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/ledger/requests/{dup}/reverse"))
                .set_json(json!({"reason": "重复入账"})),
            &officer,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let (_, n) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/public/schools/{SCHOOL_A}/notice")),
            &(header::USER_AGENT, "x".to_owned()),
        )
        .await;
        assert_eq!(n["money"][0]["spent"], json!([["粮油", "126.00"]]), "{label}: this month: {n}");
        assert_eq!(n["money"][1]["spent"], json!([]), "{label}: last month's duplicate cancelled there: {n}");
        assert!(n.get("students").is_none() && !n.to_string().contains("韦小花"), "{label}: no child in the JSON");

        // The page, for anyone: the figures, never a child.
        let r =
            test::call_service(&app, test::TestRequest::get().uri(&format!("/notice/{SCHOOL_A}")).to_request()).await;
        assert_eq!(r.status(), 200, "{label}");
        let set_cookie =
            r.headers().get(header::SET_COOKIE).and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned();
        let html = body_text(r).await;
        for must in [
            "望谟县王母小学",
            "2 人",
            "第1版",
            "5.00",
            "番茄炒蛋",
            "500.00",
            "支出：粮油</th><td class=\"num\">126.00",
            "12345",
            "<svg",
        ] {
            assert!(html.contains(must), "{label}: the notice shows {must}");
        }
        for never in ["韦小花", "罗小军", no1.as_str(), &no1[no1.len() - 6..]] {
            assert!(!html.contains(never), "{label}: the notice never shows {never}");
        }
        let (token, cookie) = form_token(&html, &set_cookie);
        let post = |form: Vec<(&str, &str)>, with_cookie: bool| {
            let mut req = test::TestRequest::post().uri(&format!("/notice/{SCHOOL_A}/complaints")).set_form(form);
            if with_cookie {
                req = req.insert_header((header::COOKIE, cookie.clone()));
            }
            req.to_request()
        };
        let count =
            |w: &World| mealroll::db::schema::complaints::table.count().get_result::<i64>(&mut w.conn()).expect("n");
        let r = test::call_service(
            &app,
            post(vec![("csrf", &token), ("category", "quality"), ("content", "饭菜<script>alert(1)</script>")], true),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert!(body_text(r).await.contains("网页代码"), "{label}: the script is named");
        let r = test::call_service(&app, post(vec![("csrf", &token), ("content", "饭菜分量越来越少了")], false)).await;
        assert_eq!(r.status(), 403, "{label}: no cookie, no complaint");
        assert_eq!(count(&w), 0, "{label}: nothing saved");
        let r = test::call_service(
            &app,
            post(
                vec![
                    ("csrf", &token),
                    ("category", "quantity"),
                    ("content", "十一月以来每餐只有一个菜，肉很少"),
                    ("name", "王家长"),
                    ("contact", "13912341234"),
                ],
                true,
            ),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let html = body_text(r).await;
        let tracking =
            html.split("查询码：<strong>").nth(1).and_then(|t| t.split('<').next()).expect("tracking code").to_owned();
        assert_eq!(tracking.len(), 10, "{label}");

        // The public API, and the flood stopped at five an hour from one sender.
        for i in 0..4 {
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri(&format!("/api/v1/public/schools/{SCHOOL_A}/complaints")).set_json(json!({"content": format!("第{i}次：学校向学生收伙食费"), "category": "charges", "anonymous": true, "name": "不留", "contact": "13800000000"})),
                &(header::USER_AGENT, "test".to_owned()),
            )
            .await;
            assert_eq!(s, 201, "{label}: {v}");
        }
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/public/schools/{SCHOOL_A}/complaints"))
                .set_json(json!({"content": "再来一次的举报内容"})),
            &(header::USER_AGENT, "test".to_owned()),
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (429, Some("complaint.too_many")), "{label}: {v}");
        let anonymous: Vec<(bool, String, String)> = mealroll::db::schema::complaints::table
            .filter(mealroll::db::schema::complaints::anonymous.eq(true))
            .select((
                mealroll::db::schema::complaints::anonymous,
                mealroll::db::schema::complaints::name,
                mealroll::db::schema::complaints::contact_sealed,
            ))
            .load(&mut w.conn())
            .expect("rows");
        let opened = |c: &str| {
            mealroll::db::at_rest::open::<mealroll::db::at_rest::ComplaintContact>(c).expect("the contact is sealed")
        };
        assert!(
            anonymous.iter().all(|(_, n, c)| n.is_empty() && opened(c).is_empty()),
            "{label}: anonymous keeps nothing of the sender"
        );
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri(&format!("/notice/track?code={tracking}")).to_request(),
        )
        .await;
        assert!(body_text(r).await.contains("已受理"), "{label}");

        // The county reads them, the sender's number masked in the list; a school reads none.
        let (s, v) = call(&app, test::TestRequest::get().uri("/api/v1/complaints"), &yyb).await;
        assert_eq!(s, 200, "{label}: {v}");
        let named =
            v["complaints"].as_array().expect("list").iter().find(|c| c["name"] == "王家长").expect("named").clone();
        assert_eq!(named["contact"], "139****1234", "{label}");
        assert_eq!(v["summary"]["total"]["received"], 5, "{label}");
        let id = named["id"].as_i64().expect("id");
        let (_, one) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/complaints/{id}")), &yyb).await;
        assert_eq!(one["contact"], "13912341234", "{label}: whole on the complaint itself");
        let (s, _) = call(&app, test::TestRequest::get().uri("/api/v1/complaints"), &principal).await;
        assert_eq!(s, 403, "{label}: a school does not read complaints about it");

        // The inspector opens a finding from it; the complaint is its evidence.
        let finding = |complaint: i64| {
            test::TestRequest::post().uri("/api/v1/findings").set_json(json!({
                "school": SCHOOL_A, "term": term, "rule": "complaint", "description": "群众举报：每餐只有一个菜", "complaint_id": complaint
            }))
        };
        let (s, v) = call(&app, finding(id), &bearer(&w, "ducha")).await;
        assert_eq!(s, 201, "{label}: {v}");
        let fid = v["id"].as_i64().expect("finding");
        let (_, c) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/complaints/{id}")), &yyb).await;
        assert_eq!((c["status"].as_str(), c["finding_id"].as_i64()), (Some("handling"), Some(fid)), "{label}: {c}");
        let (_, f) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/findings/{fid}")), &bearer(&w, "ducha")).await;
        assert_eq!(f["finding"]["complaint_id"].as_i64().or(f["complaint_id"].as_i64()), Some(id), "{label}: {f}");
        let (s, v) = call(&app, finding(id), &bearer(&w, "ducha")).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("finding.complaint")), "{label}: {v}");

        // The county answers; the sender reads it; once.
        let answer = |text: &str| {
            test::TestRequest::post().uri(&format!("/api/v1/complaints/{id}/answer")).set_json(json!({"answer": text}))
        };
        let (s, v) = call(&app, answer("经核查，学校十一月供餐不足，已责令整改并追回资金。"), &yyb).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("answered")), "{label}: {v}");
        let (s, v) = call(&app, answer("再答"), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("complaint.answered")), "{label}: {v}");
        let (_, t) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/public/complaints/{tracking}")),
            &(header::USER_AGENT, "x".to_owned()),
        )
        .await;
        assert!(t["answer"].as_str().unwrap_or("").contains("责令整改"), "{label}: {t}");
        assert!(
            t.get("contact").is_none() && t.get("content").is_none(),
            "{label}: the tracking page shows no complaint text: {t}"
        );

        // The county enters one taken by phone; not about another county's school, not a script.
        let enter = |school: &str, content: &str| {
            test::TestRequest::post().uri("/api/v1/complaints").set_json(json!({"school": school, "category": "false_claims", "content": content, "name": "李某", "contact": "0859-4612345"}))
        };
        let (s, v) = call(&app, enter(SCHOOL_B, "学校名单上有已转走的学生"), &yyb).await;
        assert_eq!(s, 201, "{label}: {v}");
        let (s, v) = call(&app, enter(SCHOOL_C, "册亨的学校有问题"), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("complaint.school")), "{label}: {v}");
        let (s, v) = call(&app, enter(SCHOOL_B, "<img src=x onerror=alert(1)>"), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("complaint.content")), "{label}: {v}");
        let (_, v) = call(&app, test::TestRequest::get().uri("/api/v1/complaints"), &yyb).await;
        assert_eq!(
            (
                v["summary"]["total"]["received"].as_i64(),
                v["summary"]["total"]["answered"].as_i64(),
                v["summary"]["total"]["findings"].as_i64()
            ),
            (Some(6), Some(1), Some(1)),
            "{label}: {v}"
        );
        assert_eq!(audit_count(&mut w.conn(), "complaint.receive"), 6, "{label}");

        // The county's number replaces the default; a school may not set it.
        let (s, _) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/notice-settings").set_json(json!({"hotline": "0859-4612345"})),
            &principal,
        )
        .await;
        assert_eq!(s, 403, "{label}");
        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/notice-settings").set_json(json!({"hotline": "0859-4612345"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");

        // The poster: the figures on paper and a QR code that leads to the page.
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri(&format!("/notice/{SCHOOL_A}/poster.pdf")).to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let pdf = test::read_body(r).await.to_vec();
        let text = pdftool("pdftotext", &pdf, &["-layout"]);
        for must in ["望谟县王母小学 公示", "2 人", "0859-4612345", "每生每天 5.00 元"] {
            assert!(text.contains(must), "{label}: poster shows {must}\n{text}");
        }
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("p.pdf"), &pdf).expect("write");
        let out = std::process::Command::new("pdftoppm")
            .args(["-r", "150", "-png", "-singlefile"])
            .arg(dir.path().join("p.pdf"))
            .arg(dir.path().join("p"))
            .output()
            .expect("pdftoppm");
        assert!(out.status.success(), "{label}");
        let img = image::open(dir.path().join("p.png")).expect("png").to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "{label}: one QR code on the poster");
        let (_, content) = grids[0].decode().expect("decodes");
        assert!(content.ends_with(&format!("/notice/{SCHOOL_A}")), "{label}: the code leads to the page: {content}");
        let r = test::call_service(&app, test::TestRequest::get().uri("/notice/1234").to_request()).await;
        assert_eq!(r.status(), 404, "{label}");
    }
}
