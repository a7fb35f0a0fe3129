//! The fund ledger on both databases: money received by the county, passed on to a school and a
//! supplier, spent on food, reversed; every refusal of the issue (negative and sub-fen amounts,
//! a closed month, an unknown account, a forbidden category, the maker approving, a double
//! click) posts nothing; two approvals racing post once; a row edited by hand in SQL is named by
//! `verify`.

use crate::common;

use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{ledger_entries, ledger_requests};
use mealroll::ledger::fund;
use serde_json::{Value, json};

fn entries(w: &World) -> i64 {
    ledger_entries::table.count().get_result(&mut w.conn()).expect("count")
}

fn requests(w: &World) -> i64 {
    ledger_requests::table.count().get_result(&mut w.conn()).expect("count")
}

fn balance(w: &World, code: &str) -> String {
    let cli = mealroll::auth::Caller::cli(&mut w.conn()).expect("cli");
    fund::accounts(&mut w.conn(), &cli)
        .expect("accounts")
        .into_iter()
        .find(|a| a.code == code)
        .map(|a| a.balance.to_string())
        .unwrap_or_default()
}

fn posting(kind: &str, from: &str, to: &str, amount: &str, date: &str, category: &str, voucher: &str) -> Value {
    json!({"kind": kind, "fund": "meal", "from": from, "to": to, "amount": amount, "date": date,
           "category": category, "voucher_no": voucher, "memo": "中央财政 黔财教〔2026〕12号"})
}

#[actix_web::test]
async fn money_moves_down_the_tree_and_every_bad_posting_is_refused_with_nothing_posted() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        add_user(&w, "caiwu2", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let caiwu = bearer(&w, "caiwu");
        let school = bearer(&w, "a.xiaozhang");
        let req = |body: &Value| test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(body.clone());

        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/ledger/threshold").set_json(json!({"amount": "50000"})),
            &caiwu,
        )
        .await;
        assert_eq!((s, v["threshold"].as_str()), (200, Some("50000.00")), "{label}: {v}");

        // Above the threshold: waits for a second person; the maker cannot approve it.
        let (s, v) =
            call(&app, req(&posting("receipt", "", COUNTY, "200,000.00", "2026-09-01", "", "SR-001")), &caiwu).await;
        assert_eq!((s, v["status"].as_str()), (201, Some("pending")), "{label}: {v}");
        let receipt = v["id"].as_i64().expect("id");
        assert_eq!(entries(&w), 0, "{label}: nothing posted while pending");
        // A misspelt field is named and refused, not dropped (an "amout" would post nothing
        // sensible); nothing is recorded.
        let mut typo = posting("receipt", "", COUNTY, "100.00", "2026-09-01", "", "SR-T");
        typo["memo_text"] = json!("备注");
        let requests_before: i64 = ledger_requests::table.count().get_result(&mut w.conn()).expect("requests");
        let (s, v) = call(&app, req(&typo), &caiwu).await;
        assert_eq!((s, v["error"].as_str()), (400, Some("input.unknown_field")), "{label}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| m.contains("“memo_text”")), "{label}: {v}");
        assert_eq!(
            ledger_requests::table.count().get_result::<i64>(&mut w.conn()).expect("requests"),
            requests_before,
            "{label}: nothing recorded"
        );
        let (s, v) =
            call(&app, test::TestRequest::post().uri(&format!("/api/v1/ledger/requests/{receipt}/approve")), &caiwu)
                .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("ledger.same_person")), "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or("").contains("第二人"), "{label}: {v}");

        // Two people approve at the same moment: one posts, the other is told it was decided.
        // (Callers are made first: opening their sessions writes too.)
        let checkers = [w.caller("caiwu2"), w.caller("yyb")];
        let outcomes: Vec<Result<(), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = checkers
                .iter()
                .map(|caller| {
                    let pool = w.pool.clone();
                    s.spawn(move || {
                        let mut conn = pool.get().expect("conn");
                        fund::approve(&mut conn, caller, receipt)
                            .map(|_| ())
                            .map_err(|e| format!("{}: {}", e.code, e.message))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{label}: {outcomes:?}");
        assert!(
            outcomes.iter().any(|o| o.as_ref().is_err_and(|e| e.starts_with("ledger.already_decided"))),
            "{label}: {outcomes:?}"
        );
        assert_eq!(entries(&w), 1, "{label}: the receipt posted once");
        assert_eq!(balance(&w, &format!("{COUNTY}:meal")), "200000.00", "{label}");

        // Below the threshold: posted at once. The same key again (a double click) posts nothing.
        let mut alloc = posting("allocation", COUNTY, SCHOOL_A, "30000", "2026-09-05", "", "BF-001");
        alloc["key"] = json!("form-7f3a");
        let (s, first) = call(&app, req(&alloc), &caiwu).await;
        assert_eq!((s, first["status"].as_str()), (201, Some("posted")), "{label}: {first}");
        let (s, again) = call(&app, req(&alloc), &caiwu).await;
        assert_eq!(
            (s, again["id"].clone(), again["replayed"].as_bool()),
            (200, first["id"].clone(), Some(true)),
            "{label}: {again}"
        );
        assert_eq!(entries(&w), 3, "{label}: out of the county, into the school, once");
        // The header works as the key too.
        let hdr = |body: &Value| req(body).insert_header(("Idempotency-Key", "hdr-1"));
        let spend = posting("expenditure", SCHOOL_A, "", "1234.56", "2026-09-10", "肉蛋奶", "ZC-001");
        let (s, v) = call(&app, hdr(&spend), &school).await;
        assert_eq!(s, 201, "{label}: {v}");
        let expenditure = v["id"].as_i64().expect("id");
        let (s, _) = call(&app, hdr(&spend), &school).await;
        assert_eq!(s, 200, "{label}");
        assert_eq!(balance(&w, &format!("{SCHOOL_A}:meal")), "28765.44", "{label}");

        // Refusals: each a clear message with its code, and not one entry or request more.
        let (before_e, before_r) = (entries(&w), requests(&w));
        let refused = [
            (
                posting("expenditure", SCHOOL_A, "", "-5", "2026-09-10", "粮油", "X1"),
                &school,
                "ledger.amount",
                "大于零",
            ),
            (
                posting("expenditure", SCHOOL_A, "", "1.005", "2026-09-10", "粮油", "X2"),
                &school,
                "ledger.amount",
                "两位小数",
            ),
            (
                posting("expenditure", SCHOOL_A, "", "100", "2026-09-10", "食堂人员工资", "X3"),
                &school,
                "ledger.category_forbidden",
                "人员工资",
            ),
            (
                posting("expenditure", SCHOOL_A, "", "100", "2026-09-10", "现金发放", "X4"),
                &school,
                "ledger.category_forbidden",
                "现金",
            ),
            (
                posting("allocation", COUNTY, "9999999999", "100", "2026-09-10", "", "X5"),
                &caiwu,
                "ledger.unknown_account",
                "9999999999",
            ),
            (
                posting("allocation", COUNTY, SCHOOL_C, "100", "2026-09-10", "", "X6"),
                &caiwu,
                "ledger.not_below",
                "下级",
            ),
            (
                posting("expenditure", SCHOOL_A, "", "100", "2026-09-10", "粮油", "X7"),
                &caiwu,
                "ledger.not_own_account",
                "本单位",
            ),
            (
                posting("expenditure", SCHOOL_A, "", "40000", "2026-09-10", "粮油", "X8"),
                &school,
                "ledger.insufficient",
                "余额",
            ),
            (
                posting("expenditure", SCHOOL_A, "", "10", "2099-01-01", "粮油", "X9"),
                &school,
                "ledger.future_date",
                "晚于今天",
            ),
            (posting("receipt", "", SCHOOL_A, "10", "2026-09-10", "", "X10"), &caiwu, "ledger.receipt_level", "县"),
        ];
        for (body, who, code, words) in refused {
            let (s, v) = call(&app, req(&body), who).await;
            let got = v["error"].as_str().unwrap_or("").to_owned();
            let fields = v["fields"].to_string();
            assert!(s == 422 && (got == code || fields.contains(code)), "{label}: {body} → {s} {v}");
            assert!(v.to_string().contains(words), "{label}: {code} should say {words}: {v}");
        }
        assert_eq!((entries(&w), requests(&w)), (before_e, before_r), "{label}: refusals posted nothing");

        // A closed month takes no more postings.
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/ledger/close").set_json(json!({"month": "2026-09"})),
            &caiwu,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) =
            call(&app, req(&posting("expenditure", SCHOOL_A, "", "10", "2026-09-20", "粮油", "X11")), &school).await;
        assert!(s == 422 && v.to_string().contains("ledger.period_closed"), "{label}: {v}");
        assert!(v.to_string().contains("已对2026-09结账"), "{label}: {v}");

        // A supplier fed by the county for school B; a reversal restores both sides, once.
        mealroll::programme::config::add_supplier(
            &mut w.conn(),
            &w.caller("yyb"),
            "望谟县绿源配送有限公司",
            "91522326MA6DGY2X1K",
            "韦",
            "13800000000",
        )
        .expect("supplier");
        let mut to_supplier =
            posting("allocation", COUNTY, &format!("{COUNTY}/91522326MA6DGY2X1K"), "8000", "2026-10-08", "", "BF-002");
        let (s, v) = call(&app, req(&to_supplier), &caiwu).await;
        assert!(
            s == 422 && v.to_string().contains("for_school"),
            "{label}: a supplier's allocation names its school: {v}"
        );
        to_supplier["for_school"] = json!(SCHOOL_B);
        let (s, v) = call(&app, req(&to_supplier), &caiwu).await;
        assert_eq!(s, 201, "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/ledger/requests/{expenditure}/reverse"))
                .set_json(json!({"reason": "发票重复"})),
            &school,
        )
        .await;
        assert_eq!((s, v["status"].as_str()), (201, Some("posted")), "{label}: {v}");
        assert_eq!(balance(&w, &format!("{SCHOOL_A}:meal")), "30000.00", "{label}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/ledger/requests/{expenditure}/reverse"))
                .set_json(json!({"reason": "再来一次"})),
            &school,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (409, Some("ledger.already_reversed")), "{label}: {v}");
        assert_eq!(balance(&w, &format!("{COUNTY}:meal")), "162000.00", "{label}");

        // Intact chains verify; an amount edited by hand in SQL is named.
        let (s, v) = call(&app, test::TestRequest::get().uri("/api/v1/ledger/verify"), &caiwu).await;
        assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{label}: {v}");
        let target: i64 = ledger_entries::table
            .filter(ledger_entries::voucher_no.eq("ZC-001"))
            .filter(ledger_entries::kind.eq("expenditure"))
            .select(ledger_entries::id)
            .first(&mut w.conn())
            .expect("entry");
        diesel::sql_query(format!("UPDATE ledger_entries SET amount_fen = -12345 WHERE id = {target}"))
            .execute(&mut w.conn())
            .expect("edit");
        let v = fund::verify(&mut w.conn(), &w.caller("caiwu"), None).expect("verify");
        assert_eq!(v.broken.len(), 1, "{label}: {v:?}");
        let b = &v.broken[0];
        assert_eq!(
            (b.account.as_str(), b.seq, b.entry_id, b.voucher_no.as_str()),
            (&*format!("{SCHOOL_A}:meal"), 2, Some(target), "ZC-001"),
            "{label}"
        );
        assert!(b.reason.contains("改动"), "{label}: {}", b.reason);
        let (_, v) = call(&app, test::TestRequest::get().uri("/api/v1/ledger/verify"), &caiwu).await;
        assert_eq!(v["ok"].as_bool(), Some(false), "{label}: {v}");

        // A removed last entry shows against the account's head.
        let last: i64 = ledger_entries::table
            .filter(ledger_entries::voucher_no.eq("BF-002"))
            .filter(ledger_entries::kind.eq("allocation_in"))
            .select(ledger_entries::id)
            .first(&mut w.conn())
            .expect("entry");
        diesel::sql_query(format!("DELETE FROM ledger_entries WHERE id = {last}"))
            .execute(&mut w.conn())
            .expect("delete");
        let v = fund::verify(&mut w.conn(), &w.caller("caiwu"), None).expect("verify");
        assert!(
            v.broken.iter().any(|b| b.account.contains("91522326MA6DGY2X1K") && b.reason.contains("末尾")),
            "{label}: {v:?}"
        );
    }
}

fn page(cookie: &str, req: test::TestRequest) -> actix_http::Request {
    req.insert_header((actix_web::http::header::COOKIE, cookie.to_owned())).to_request()
}

/// The hidden per-form key the page hands out.
fn key_of(html: &str) -> String {
    let at = html.find("name=\"key\" value=\"").expect("key field") + 18;
    html[at..].chars().take_while(|c| *c != '"').collect()
}

#[actix_web::test]
async fn the_ledger_page_posts_once_per_form_needs_a_second_person_and_shows_a_broken_chain() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let session = |user: &str| format!("mealroll_session={}", w.token(user));
        let (caiwu, yyb) = (session("caiwu"), session("yyb"));
        let html =
            body_text(test::call_service(&app, page(&caiwu, test::TestRequest::get().uri("/ledger"))).await).await;
        assert!(html.contains("post-form") && html.contains("10000.00"), "{label}: the form and the default threshold");
        let (csrf, key) = (csrf_of(&html), key_of(&html));
        let receipt = |csrf: &str, key: &str, amount: &str| {
            page(
                &caiwu,
                test::TestRequest::post().uri("/ledger").set_form(vec![
                    ("csrf", csrf),
                    ("action", "post"),
                    ("key", key),
                    ("kind", "receipt"),
                    ("fund", "meal"),
                    ("to", COUNTY),
                    ("amount", amount),
                    ("date", "2026-09-01"),
                    ("voucher_no", "SR-9"),
                    ("memo", "中央财政"),
                ]),
            )
        };
        let r = test::call_service(&app, receipt("forged", &key, "5000")).await;
        assert_eq!(r.status(), 403, "{label}: CSRF");
        let r = test::call_service(&app, receipt(&csrf, &key, "5000.001")).await;
        assert_eq!(r.status(), 422, "{label}");
        let body = body_text(r).await;
        assert!(body.contains("最多两位小数"), "{label}: the message beside the field: {body}");
        // The same form sent twice: one posting, the second answered as a repeat.
        let r = test::call_service(&app, receipt(&csrf, &key, "5000")).await;
        let at = |r: &actix_web::dev::ServiceResponse<_>| {
            r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
        };
        assert!(at(&r).starts_with("/ledger?ok=posted&n="), "{label}: {}", at(&r));
        let r = test::call_service(&app, receipt(&csrf, &key, "5000")).await;
        assert!(at(&r).starts_with("/ledger?ok=replayed&n="), "{label}: {}", at(&r));
        assert_eq!(entries(&w), 1, "{label}");
        // Above the threshold: pending; the maker sees no approve button, the second person does.
        let html =
            body_text(test::call_service(&app, page(&caiwu, test::TestRequest::get().uri("/ledger"))).await).await;
        let r = test::call_service(&app, receipt(&csrf, &key_of(&html), "20000")).await;
        assert!(at(&r).starts_with("/ledger?ok=pending&n="), "{label}: {}", at(&r));
        let html =
            body_text(test::call_service(&app, page(&caiwu, test::TestRequest::get().uri("/ledger"))).await).await;
        assert!(html.contains("待审批") && !html.contains("value=\"approve\""), "{label}: no approving one's own");
        let html = body_text(test::call_service(&app, page(&yyb, test::TestRequest::get().uri("/ledger"))).await).await;
        assert!(html.contains("value=\"approve\""), "{label}");
        let pending: i64 = ledger_requests::table
            .filter(ledger_requests::status.eq("pending"))
            .select(ledger_requests::id)
            .first(&mut w.conn())
            .expect("pending");
        let yyb_csrf = csrf_of(&html);
        let id = pending.to_string();
        let r = test::call_service(
            &app,
            page(
                &yyb,
                test::TestRequest::post().uri("/ledger").set_form(vec![
                    ("csrf", yyb_csrf.as_str()),
                    ("action", "approve"),
                    ("id", id.as_str()),
                    ("confirmed", "1"),
                ]),
            ),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        assert_eq!(balance(&w, &format!("{COUNTY}:meal")), "25000.00", "{label}");
        let html = body_text(
            test::call_service(
                &app,
                page(&caiwu, test::TestRequest::get().uri(&format!("/ledger/accounts/{COUNTY}:meal"))),
            )
            .await,
        )
        .await;
        assert!(
            html.contains("25000.00") && html.contains("测试 caiwu（caiwu）／测试 yyb（yyb）"),
            "{label}: entries with maker and checker by name"
        );
        let html =
            body_text(test::call_service(&app, page(&caiwu, test::TestRequest::get().uri("/ledger/verify"))).await)
                .await;
        assert!(html.contains("verify-ok") && html.contains("2 笔分录"), "{label}: {html}");
        diesel::sql_query("UPDATE ledger_entries SET memo = '地方财政' WHERE seq = 1")
            .execute(&mut w.conn())
            .expect("edit");
        let html =
            body_text(test::call_service(&app, page(&caiwu, test::TestRequest::get().uri("/ledger/verify"))).await)
                .await;
        assert!(html.contains("verify-broken") && html.contains("SR-9") && html.contains("被改动"), "{label}: {html}");
    }
}

#[actix_web::test]
async fn a_misspelt_status_filter_is_named_not_taken_for_none() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let caiwu = bearer(&w, "caiwu");
        let cli = mealroll::auth::Caller::cli(&mut w.conn()).expect("cli");
        let receipt = posting("receipt", "", COUNTY, "100", "2026-09-01", "", "SR-9");
        fund::post(&mut w.conn(), &cli, &serde_json::from_value(receipt).expect("form")).expect("posted");
        let get = |q: &str| test::TestRequest::get().uri(&format!("/api/v1/ledger/requests{q}"));
        let (s, v) = call(&app, get("?status=aproved"), &caiwu).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("ledger.status")), "{label}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| m.contains("“aproved”")), "{label}: {v}");
        for (q, n) in [("?status=posted", 1), ("?status=pending", 0), ("", 1)] {
            let (s, v) = call(&app, get(q), &caiwu).await;
            assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(n)), "{label}: {q} {v}");
        }
        let (_, v) = call(&app, get("?status=posted"), &caiwu).await;
        assert_eq!(v[0]["status"], "posted", "{label}: the JSON spells the status as before");
    }
}
