//! 待办: the home page and `GET /api/v1/todo` tell each person what waits for them, from the
//! rules that decide what they may do there, and take an item away once it is done.

use crate::common;
use actix_web::test;
use common::*;
use serde_json::{Value, json};

/// The caller's items as (kind, area, title, count, href).
fn items(v: &Value) -> Vec<(String, String, String, i64, String)> {
    v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    let s = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
                    (s("kind"), s("area"), s("title"), i["count"].as_i64().unwrap_or(-1), s("href"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The caller's to-do list as the API gives it.
async fn todo_of<S: TestApp<B>, B: actix_web::body::MessageBody>(app: &S, w: &World, who: &str) -> Value {
    let (s, v) = call(app, test::TestRequest::get().uri("/api/v1/todo"), &bearer(w, who)).await;
    assert_eq!(s, 200, "{who}: {v}");
    v
}

fn in_area(v: &Value, area: &str) -> Vec<(String, String, String, i64, String)> {
    items(v).into_iter().filter(|i| i.1 == area).collect()
}

#[actix_web::test]
async fn each_person_is_told_what_waits_for_them_and_nothing_they_could_not_do() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        add_user(&w, "caiwu2", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let todo = |user: &'static str| todo_of(&app, &w, user);
        let v = todo("yyb").await;
        assert_eq!((v["decide"].as_i64(), items(&v).len()), (Some(0), 0), "{label}: nothing waits yet: {v}");

        // A new student registered by school A waits for the county's confirmation.
        let mut rec = student("待办新生", "52232620190101001", "2019-01-01", "男");
        rec["entry_ym"] = json!(entry_day().format("%Y%m").to_string());
        rec["enrolled_on"] = json!(entry_day().to_string());
        rec["backdate_reason"] = json!("测试：两年前入学，系统启用前已在校");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&rec),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let pupil = v["id"].as_i64().expect("id");
        let v = todo("yyb").await;
        assert_eq!(
            in_area(&v, "学生学籍"),
            vec![(
                "decide".into(),
                "学生学籍".into(),
                "1 名新生待确认入库".into(),
                1,
                "/students?review=pending".into()
            )],
            "{label}: {v}"
        );
        assert_eq!(v["decide"].as_i64(), Some(1), "{label}: the menu's count: {v}");
        // The registrar who entered it does not confirm it: it waits on the county.
        assert_eq!(
            in_area(&todo("a.xueji").await, "学生学籍"),
            vec![(
                "waiting".into(),
                "学生学籍".into(),
                "本校 1 名新生等待县级确认入库".into(),
                1,
                "/students?review=pending".into()
            )],
            "{label}"
        );

        // A posting above the threshold waits for a second person of the county; its maker
        // sees it as waiting on someone else, never as theirs to approve.
        let caiwu = bearer(&w, "caiwu");
        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/ledger/threshold").set_json(json!({"amount": "50000"})),
            &caiwu,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(json!({
                "kind": "receipt", "fund": "meal", "to": COUNTY, "amount": "200,000.00", "date": "2026-09-01",
                "voucher_no": "TODO-1", "memo": "中央财政"
            })),
            &caiwu,
        )
        .await;
        assert_eq!((s, v["status"].as_str()), (201, Some("pending")), "{label}: {v}");
        let request = v["id"].as_i64().expect("id");
        let ledger = |v: &Value| in_area(v, "资金台账");
        assert_eq!(
            ledger(&todo("caiwu2").await),
            vec![(
                "decide".into(),
                "资金台账".into(),
                "1 笔记账（合计 200000.00 元）待您审批".into(),
                1,
                "/ledger?status=pending#records".into()
            )],
            "{label}"
        );
        assert_eq!(
            ledger(&todo("caiwu").await),
            vec![(
                "waiting".into(),
                "资金台账".into(),
                "您提交的 1 笔记账等待本单位第二人审批".into(),
                1,
                "/ledger?status=pending#records".into()
            )],
            "{label}"
        );

        // The inspector reads no ledger: none of it is listed, and listing asked for nothing
        // it would be refused (a refusal is audited as an access denied).
        let denied = audit_count(&mut w.conn(), "access.denied");
        let v = todo("ducha").await;
        assert!(ledger(&v).is_empty() && in_area(&v, "学生学籍").is_empty(), "{label}: {v}");
        assert_eq!(audit_count(&mut w.conn(), "access.denied"), denied, "{label}: the to-do asked only what it may");

        // The county's home page shows the same list, each item a link to where it is done.
        let session = format!("mealroll_session={}", w.token("yyb"));
        let html = body_text(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri("/")
                    .insert_header((actix_web::http::header::COOKIE, session))
                    .to_request(),
            )
            .await,
        )
        .await;
        assert!(html.contains("id=\"todo\""), "{label}: the panel");
        assert!(
            html.contains("<a href=\"/students?review=pending\">1 名新生待确认入库</a>"),
            "{label}: the item links to the pending students"
        );
        // The count beside the heading is the API's: the student, and the county's pending
        // receipt (the nutrition office may approve the county's postings too).
        let decide = todo("yyb").await["decide"].as_i64().expect("decide");
        assert_eq!(decide, 2, "{label}");
        assert!(
            html.contains(&format!("<span class=\"badge\">{decide}</span>")),
            "{label}: the count beside the heading"
        );

        // Done is gone: the second person approves, the county confirms.
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/ledger/requests/{request}/approve")),
            &bearer(&w, "caiwu2"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [pupil]})),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        assert!(ledger(&todo("caiwu2").await).is_empty() && ledger(&todo("caiwu").await).is_empty(), "{label}");
        let v = todo("yyb").await;
        assert!(in_area(&v, "学生学籍").is_empty(), "{label}: {v}");
    }
}

#[actix_web::test]
async fn a_roster_waits_for_the_schools_signature_then_for_the_countys_review() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let term = mealroll::domain::term::Term::of_day(mealroll::clock::today());
        let yyb = bearer(&w, "yyb");
        school_a_in_programme(&app, &yyb, &term.to_string()).await;
        enrolled(&app, &w, SCHOOL_A, "花名册待办", "52232620190101021").await;
        let roster_items = |who: &'static str| {
            let todo = todo_of(&app, &w, who);
            async move {
                let v = todo.await;
                v["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .filter(|i| i["area"] == "受益花名册")
                    .cloned()
                    .collect::<Vec<_>>()
            }
        };

        // Before the school signs, its principal is reminded of the deadline (passed or not).
        let deadline = mealroll::domain::roster::deadline(term);
        let mine = roster_items("a.xiaozhang").await;
        assert_eq!(mine.len(), 1, "{label}: {mine:?}");
        assert_eq!(
            (mine[0]["kind"].as_str(), mine[0]["href"].as_str()),
            (Some("deadline"), Some("/rosters")),
            "{label}"
        );
        assert!(mine[0]["title"].as_str().is_some_and(|t| t.contains("尚未签章确认")), "{label}: {mine:?}");
        assert_eq!(mine[0]["due"].as_str(), Some(deadline.to_string().as_str()), "{label}");
        assert_eq!(mine[0]["overdue"].as_bool(), Some(mealroll::clock::today() > deadline), "{label}");
        assert!(roster_items("yyb").await.is_empty(), "{label}: nothing for the county to review yet");

        let principal = bearer(&w, "a.xiaozhang");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/rosters")
                .set_json(json!({"school": SCHOOL_A, "term": term.to_string()})),
            &principal,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let id = v["roster"]["id"].as_i64().expect("id");
        let sign =
            test::TestRequest::post().uri(&format!("/api/v1/rosters/{id}/step")).set_json(json!({"step": "sign"}));
        let (s, v) = call(&app, sign, &principal).await;
        assert_eq!(s, 200, "{label}: {v}");

        // Signed: the school has nothing left; the county's next step is its review.
        assert!(roster_items("a.xiaozhang").await.is_empty(), "{label}");
        let county = roster_items("yyb").await;
        assert_eq!(county.len(), 1, "{label}: {county:?}");
        assert_eq!(county[0]["kind"].as_str(), Some("decide"), "{label}");
        assert_eq!(
            county[0]["title"].as_str(),
            Some(format!("1 所学校的{}花名册待审核", term.label()).as_str()),
            "{label}"
        );
    }
}

#[actix_web::test]
async fn a_school_is_reminded_of_its_report_and_the_county_of_its_sign_off() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let term = mealroll::domain::term::Term::of_day(mealroll::clock::today());
        school_a_in_programme(&app, &bearer(&w, "yyb"), &term.to_string()).await;
        enrolled(&app, &w, SCHOOL_A, "报表待办", "52232620190101031").await;
        let reports = |who: &'static str| {
            let todo = todo_of(&app, &w, who);
            async move { in_area(&todo.await, "统计报表") }
        };
        let due = reports("a.xiaozhang").await;
        assert_eq!(due.len(), 1, "{label}: {due:?}");
        assert_eq!(
            (due[0].0.as_str(), due[0].4.clone()),
            ("deadline", format!("/reports/school-regular?org={SCHOOL_A}&period={term}")),
            "{label}: the item opens the report to submit"
        );
        assert!(reports("yyb").await.iter().all(|i| i.0 != "decide"), "{label}: nothing to sign off yet");

        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/reports/school-regular/submissions")
                .set_json(json!({"org": SCHOOL_A, "period": term.to_string()})),
            &bearer(&w, "a.xiaozhang"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        assert!(reports("a.xiaozhang").await.is_empty(), "{label}: submitted, so no longer due");
        let county: Vec<_> = reports("yyb").await.into_iter().filter(|i| i.0 == "decide").collect();
        assert_eq!(
            county,
            vec![(
                "decide".into(),
                "统计报表".into(),
                "1 份下级报送的报表待您审核".into(),
                1,
                format!("/reports/submissions?report=school-regular&period={term}")
            )],
            "{label}"
        );
        // The school, which may not sign off its own report, is never offered it.
        assert!(reports("a.xiaozhang").await.iter().all(|i| i.0 != "decide"), "{label}");
    }
}

#[actix_web::test]
async fn a_new_account_waits_for_the_security_officer_and_its_creator_sees_it_waiting() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/users").set_json(json!({
                "username": "xin.caiwu", "display_name": "新财务", "org_code": COUNTY, "roles": ["finance"]
            })),
            &bearer(&w, "xitong"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let accounts = |who: &'static str| {
            let todo = todo_of(&app, &w, who);
            async move { in_area(&todo.await, "用户管理").into_iter().map(|i| (i.0, i.2)).collect::<Vec<_>>() }
        };
        assert_eq!(
            accounts("anquan").await,
            vec![("decide".to_owned(), "1 项账号申请待您确认".to_owned())],
            "{label}: the grant is the security officer's"
        );
        assert_eq!(
            accounts("xitong").await,
            vec![("waiting".to_owned(), "您提出的 1 项账号申请等待另一名管理员确认".to_owned())],
            "{label}: its creator cannot grant it"
        );
        assert!(accounts("yyb").await.is_empty(), "{label}: not an officer's business");
    }
}
