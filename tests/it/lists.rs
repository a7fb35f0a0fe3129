//! The filters a clerk reaches for, on both databases: students by school, grade, state and
//! review (filters kept in the address, an ID number never), select-all confirmation; the ledger
//! by kind, account name, dates and state, paged, with names instead of codes; the audit log by
//! Chinese action, person, object and day, its changes field by field, exported to Excel and the
//! export itself audited.

use crate::common;
use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::audit_log;
use serde_json::{Value, json};

fn page_of(cookie: &str, req: test::TestRequest) -> actix_http::Request {
    req.insert_header((actix_web::http::header::COOKIE, cookie.to_owned())).to_request()
}

fn location<B>(r: &actix_web::dev::ServiceResponse<B>) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[actix_web::test]
async fn students_filter_by_school_grade_state_and_review_and_the_address_keeps_them() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
        enrolled(&app, &w, SCHOOL_A, "甲一", "52232620190101001").await;
        enrolled(&app, &w, SCHOOL_A, "甲二", "52232620190101011").await;
        let (_, b_no) = enrolled(&app, &w, SCHOOL_B, "乙一", "52232620190101013").await;
        let list = |q: &str| test::TestRequest::get().uri(q);
        let total = |v: &Value| v["total"].as_i64().unwrap_or(-1);

        let (s, v) = call(&app, list(&format!("/api/v1/students?school={SCHOOL_B}")), &yyb).await;
        assert_eq!((s, total(&v)), (200, 1), "{label}: {v}");
        let (_, v) = call(&app, list("/api/v1/students?grade=1"), &yyb).await;
        assert_eq!(total(&v), 3, "{label}: every child is in a first-grade class: {v}");
        let (_, v) = call(&app, list("/api/v1/students?grade=2"), &yyb).await;
        assert_eq!(total(&v), 0, "{label}: none in grade 2: {v}");
        let (_, v) = call(&app, list("/api/v1/students?state=at_school&review=confirmed"), &yyb).await;
        assert_eq!(total(&v), 3, "{label}: {v}");
        let (_, v) = call(&app, list("/api/v1/students?state=left"), &yyb).await;
        assert_eq!(total(&v), 0, "{label}: {v}");
        let (s, v) = call(&app, list("/api/v1/students?state=gone"), &yyb).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (422, Some("input.malformed_query")),
            "{label}: a misspelt state is refused, not taken for all: {v}"
        );
        assert!(v["message"].as_str().unwrap_or_default().contains("“gone”无效"), "{label}: {v}");
        let (s, v) = call(&app, list("/api/v1/students?grade=seven"), &yyb).await;
        assert_eq!(s, 422, "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or_default().contains("“seven”不是有效的数字"), "{label}: {v}");

        // The page: its form posts, and a filter without an ID number lands in the address.
        let session = format!("mealroll_session={}", w.token("yyb"));
        let html = body_text(test::call_service(&app, page_of(&session, list("/students?grade=1"))).await).await;
        assert!(html.contains("<option value=\"1\" selected>1年级</option>"), "{label}: the grade stays chosen");
        assert!(html.contains("望谟县纳包小学</option>"), "{label}: schools chosen by name");
        let csrf = csrf_of(&html);
        let search = |form: Vec<(&'static str, String)>| {
            page_of(&session, test::TestRequest::post().uri("/students/search").set_form(form))
        };
        let r = test::call_service(
            &app,
            search(vec![
                ("csrf", csrf.clone()),
                ("q", String::new()),
                ("school", SCHOOL_B.into()),
                ("grade", "1".into()),
                ("state", "at_school".into()),
                ("review", String::new()),
            ]),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        assert_eq!(location(&r), format!("/students?school={SCHOOL_B}&grade=1&state=at_school"), "{label}");
        let html = body_text(test::call_service(&app, page_of(&session, list(&location(&r)))).await).await;
        assert!(html.contains("乙一") && !html.contains("甲一"), "{label}: the shared address shows the same list");
        // An ID number is answered in the body, never sent into an address.
        let r = test::call_service(&app, search(vec![("csrf", csrf.clone()), ("q", b_no.clone())])).await;
        assert_eq!(r.status(), 200, "{label}");
        assert!(body_text(r).await.contains("乙一"), "{label}");
        // More than one page: a page number can be typed.
        let html = body_text(test::call_service(&app, page_of(&session, list("/students?page=1"))).await).await;
        assert!(!html.contains("class=\"inline jump\""), "{label}: one page has nothing to jump to");

        // Select all: every student on the page that may be confirmed, in one press.
        let mut rec = student("丙一", "52232620190101015", "2019-01-01", "男");
        rec["entry_ym"] = json!(entry_day().format("%Y%m").to_string());
        rec["enrolled_on"] = json!(entry_day().to_string());
        rec["backdate_reason"] = json!("测试：两年前入学");
        let mut ids = Vec::new();
        for (name, id17) in [("丙一", "52232620190101015"), ("丙二", "52232620190101017")] {
            rec["name"] = json!(name);
            rec["id_no"] = json!(with_check(id17));
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&rec),
                &bearer(&w, "a.xueji"),
            )
            .await;
            assert_eq!(s, 201, "{label}: {v}");
            ids.push(v["id"].as_i64().expect("id"));
        }
        let html = body_text(test::call_service(&app, page_of(&session, list("/students?review=pending"))).await).await;
        assert!(html.contains("全选本页并确认（2 人）"), "{label}: {html}");
        let mut form = vec![("csrf", csrf.clone()), ("all", "page".to_owned())];
        form.extend(ids.iter().map(|id| ("page_ids", id.to_string())));
        let r = test::call_service(
            &app,
            page_of(&session, test::TestRequest::post().uri("/students/confirm").set_form(form)),
        )
        .await;
        assert_eq!(location(&r), "/students?review=pending&ok=confirmed&n=2", "{label}");
        let html = body_text(test::call_service(&app, page_of(&session, list(&location(&r)))).await).await;
        assert!(html.contains("已确认 2 名学生入库"), "{label}: the message says what was done to what");
        let (_, v) = call(&app, list("/api/v1/students?review=confirmed"), &yyb).await;
        assert_eq!(total(&v), 5, "{label}: {v}");
    }
}

fn posting(kind: &str, from: &str, to: &str, amount: &str, date: &str, voucher: &str) -> Value {
    json!({"kind": kind, "fund": "meal", "from": from, "to": to, "amount": amount, "date": date,
           "category": if kind == "expenditure" { "粮油" } else { "" }, "voucher_no": voucher, "memo": "黔财教〔2026〕12号"})
}

#[actix_web::test]
async fn the_ledger_filters_by_kind_account_name_dates_and_state_and_speaks_in_names() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let caiwu = bearer(&w, "caiwu");
        let post = |body: Value| test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(body);
        for (body, status) in [
            (posting("receipt", "", COUNTY, "9000.00", "2026-09-01", "SR-1"), "posted"),
            (posting("allocation", COUNTY, SCHOOL_A, "3000.00", "2026-09-10", "BF-1"), "posted"),
            (posting("allocation", COUNTY, SCHOOL_B, "2000.00", "2026-10-10", "BF-2"), "posted"),
            (posting("receipt", "", COUNTY, "20000.00", "2026-10-20", "SR-2"), "pending"),
        ] {
            let (s, v) = call(&app, post(body), &caiwu).await;
            assert_eq!((s, v["status"].as_str()), (201, Some(status)), "{label}: {v}");
        }
        let list = |q: &str| test::TestRequest::get().uri(&format!("/api/v1/ledger/requests{q}"));
        let vouchers = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().map(|r| r["voucher_no"].as_str().unwrap_or("").to_owned()).collect())
                .unwrap_or_default()
        };
        let (s, v) = call(&app, list("?kind=allocation"), &caiwu).await;
        assert_eq!((s, vouchers(&v)), (200, vec!["BF-2".to_owned(), "BF-1".to_owned()]), "{label}: {v}");
        let (_, v) = call(&app, list("?account=%E7%BA%B3%E5%8C%85"), &caiwu).await; // 纳包
        assert_eq!(vouchers(&v), ["BF-2"], "{label}: by part of the school's name: {v}");
        assert_eq!(v[0]["to_name"].as_str(), Some("望谟县纳包小学"), "{label}: named: {v}");
        assert_eq!(v[0]["maker_name"].as_str(), Some("测试 caiwu（caiwu）"), "{label}: the person by name: {v}");
        let (_, v) = call(&app, list("?from=2026-10-01&to=2026-10-31"), &caiwu).await;
        assert_eq!(vouchers(&v), ["SR-2", "BF-2"], "{label}: {v}");
        let (_, v) = call(&app, list("?status=pending"), &caiwu).await;
        assert_eq!(vouchers(&v), ["SR-2"], "{label}: {v}");
        let (s, v) = call(&app, list("?from=2026-10-31&to=2026-10-01"), &caiwu).await;
        assert_eq!(
            (s, v["error"].as_str(), v["fields"][0]["field"].as_str()),
            (422, Some("input.date"), Some("to")),
            "{label}: {v}"
        );
        let (s, v) = call(&app, list("?kind=gift"), &caiwu).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("ledger.kind")), "{label}: {v}");

        // The page: the posting form first, parties by name, no business chosen for the clerk.
        let session = |u: &str| format!("mealroll_session={}", w.token(u));
        let html = body_text(
            test::call_service(
                &app,
                page_of(&session("caiwu"), test::TestRequest::get().uri("/ledger?kind=allocation")),
            )
            .await,
        )
        .await;
        assert!(html.find("id=\"post-form\"") < html.find("id=\"accounts\""), "{label}: the form before the accounts");
        assert!(html.contains("<option value=\"\">请选择业务</option>"), "{label}: no business pre-chosen");
        assert!(
            html.contains(&format!("<option value=\"{SCHOOL_A}\">望谟县王母小学（{SCHOOL_A}）</option>")),
            "{label}"
        );
        assert!(html.contains("共 2 笔") && !html.contains("SR-1"), "{label}: the filter applies");
        assert!(html.contains("<option value=\"allocation\" selected>"), "{label}: and stays chosen");

        // Approving asks first, naming the posting; confirmed, the answer names it too.
        let pending: i64 = {
            use mealroll::db::schema::ledger_requests;
            ledger_requests::table
                .filter(ledger_requests::status.eq("pending"))
                .select(ledger_requests::id)
                .first(&mut w.conn())
                .expect("pending")
        };
        let yyb = session("yyb");
        let html =
            body_text(test::call_service(&app, page_of(&yyb, test::TestRequest::get().uri("/ledger"))).await).await;
        let csrf = csrf_of(&html);
        let approve = |confirmed: bool| {
            let mut form = vec![("csrf", csrf.clone()), ("action", "approve".into()), ("id", pending.to_string())];
            if confirmed {
                form.push(("confirmed", "1".into()));
            }
            page_of(&yyb, test::TestRequest::post().uri("/ledger").set_form(form))
        };
        let r = test::call_service(&app, approve(false)).await;
        assert_eq!(r.status(), 200, "{label}");
        let html = body_text(r).await;
        assert!(
            html.contains("id=\"confirm-form\"") && html.contains(&format!("审批入账：第{pending}号")),
            "{label}: {html}"
        );
        assert!(html.contains("20000.00元"), "{label}: the amount is named");
        let (_, v) = call(&app, list("?status=pending"), &caiwu).await;
        assert_eq!(vouchers(&v), ["SR-2"], "{label}: asking changed nothing");
        let r = test::call_service(&app, approve(true)).await;
        assert_eq!(location(&r), format!("/ledger?ok=approved&n={pending}#request-{pending}"), "{label}");
        let html = body_text(
            test::call_service(
                &app,
                page_of(&yyb, test::TestRequest::get().uri(&format!("/ledger?ok=approved&n={pending}"))),
            )
            .await,
        )
        .await;
        assert!(html.contains(&format!("第 {pending} 号记账已审批入账")), "{label}");
        let (_, v) = call(&app, list("?status=pending"), &caiwu).await;
        assert!(vouchers(&v).is_empty(), "{label}: {v}");
    }
}

#[actix_web::test]
async fn the_audit_log_filters_in_chinese_shows_changes_field_by_field_and_exports_audited() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        // A change with a before and an after: the county's roster review rule.
        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/rosters/review-rule").set_json(json!({"two_person": true})),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let shenji = format!("mealroll_session={}", w.token("shenji"));
        let get = |q: &str| page_of(&shenji, test::TestRequest::get().uri(q));
        let html = body_text(test::call_service(&app, get("/audit?label=%E8%AE%BE%E7%BD%AE%E8%8A%B1%E5%90%8D%E5%86%8C%E5%AE%A1%E6%A0%B8%E5%A4%87%E6%A1%88%E9%A1%BB%E4%B8%A4%E4%BA%BA%E5%8A%9E%E7%90%86")).await).await;
        assert!(html.contains("设置花名册审核备案须两人办理"), "{label}: {html}");
        assert!(
            html.contains("two_person：</span><del>false</del> → true"),
            "{label}: the change field by field: {html}"
        );
        assert!(html.contains("测试 yyb（yyb）"), "{label}: the person by name");
        assert!(!html.contains("user.create"), "{label}: only the chosen action");
        assert!(html.contains("导出Excel（最多 20000 行）"), "{label}: the export says how far it goes");
        // By part of a person's name, by object, by day.
        let by_name = body_text(test::call_service(&app, get("/audit?actor=%E6%B5%8B%E8%AF%95+yyb")).await).await;
        assert!(by_name.contains("roster.review_rule") && !by_name.contains("（shenji）"), "{label}");
        let today = mealroll::clock::today();
        let html =
            body_text(test::call_service(&app, get(&format!("/audit?from={today}&to={today}&object_type=org"))).await)
                .await;
        assert!(html.contains("roster.review_rule"), "{label}: today's change to an org");
        let tomorrow = today.succ_opt().expect("day");
        let html = body_text(test::call_service(&app, get(&format!("/audit?from={tomorrow}"))).await).await;
        assert!(html.contains("没有符合条件的记录"), "{label}");
        let r = test::call_service(&app, get(&format!("/audit?from={tomorrow}&to={today}"))).await;
        assert_eq!(r.status(), 422, "{label}: a range ending before it starts");
        // Export: the same rows, opened as a workbook; the export is itself audited.
        let r = test::call_service(&app, get("/audit.xlsx?object_type=org&action=roster.")).await;
        assert_eq!(r.status(), 200, "{label}");
        let bytes = test::read_body(r).await.to_vec();
        let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("xlsx");
        use calamine::Reader;
        let range = wb.worksheet_range("审计日志").expect("sheet");
        let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert_eq!(rows[0][4], "操作", "{label}");
        assert_eq!(rows.len(), 2, "{label}: the heading and the one row: {rows:?}");
        assert_eq!(
            (rows[1][4].as_str(), rows[1][8].as_str()),
            ("设置花名册审核备案须两人办理", "two_person：false → true"),
            "{label}"
        );
        let exported: Vec<(String, Option<String>)> = audit_log::table
            .filter(audit_log::action.eq("audit.export"))
            .select((audit_log::actor, audit_log::after_json))
            .load(&mut w.conn())
            .expect("audit");
        assert_eq!(exported.len(), 1, "{label}");
        assert_eq!(exported[0].0, "shenji", "{label}");
        assert!(exported[0].1.as_deref().unwrap_or("").contains("\"rows\":1"), "{label}: {exported:?}");
        // Only the audit administrator: a county officer is refused the export.
        let yyb = format!("mealroll_session={}", w.token("yyb"));
        let r = test::call_service(&app, page_of(&yyb, test::TestRequest::get().uri("/audit.xlsx"))).await;
        assert_eq!(r.status(), 403, "{label}");
    }
}
