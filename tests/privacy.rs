//! An ID number is never shown where the role may not see it. A G 学籍号 is "G" + the child's
//! ID number, so it is masked wherever the ID is. Crawled as every role that reads children —
//! inspector, county office, finance, principal, nutrition officer, registrar — over the pages
//! and API answers that list or show them: no full ID number, guardian ID, phone or 学籍号 of any
//! child appears. Seeing one in full takes the permission, a reason and an audit row.

mod common;

use actix_web::http::header;
use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::students;
use serde_json::json;

/// Every full identifier stored for the children: ID numbers, guardians' ID numbers, phones and
/// 学籍号 (each long enough that it cannot appear by chance).
fn identifiers(w: &World) -> Vec<String> {
    let rows: Vec<(String, String)> =
        students::table.select((students::student_no, students::record)).load(&mut w.conn()).expect("students");
    let mut out = Vec::new();
    for (no, record) in rows {
        out.push(no);
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(&record).expect("record");
        out.extend(
            map.into_iter().filter(|(k, v)| mealroll::domain::student::is_sensitive(k) && v.len() >= 7).map(|(_, v)| v),
        );
    }
    // Numbers a child had before (an L number before confirmation) carry its birth date too.
    let old: Vec<Option<String>> = {
        use mealroll::db::schema::student_history;
        student_history::table
            .filter(student_history::field.eq("student_no"))
            .select(student_history::old_value)
            .load(&mut w.conn())
            .expect("history")
    };
    out.extend(old.into_iter().flatten());
    out.sort();
    out.dedup();
    out
}

#[actix_web::test]
async fn no_page_or_answer_shows_a_full_id_number_and_unmasking_is_audited() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let app = test::init_service(mealroll::web::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
        let today = mealroll::clock::today();
        let term = mealroll::domain::term::Term::of_day(today).to_string();

        // The programme, this term and this month's meal days, so rosters and money exist.
        let (start, end) = mealroll::domain::term::Term::of_day(today).customary_dates();
        for (uri, body) in [
            ("/api/v1/programme/schools", json!({"school": SCHOOL_A, "from_date": "2011-09-01"})),
            ("/api/v1/programme/schools", json!({"school": SCHOOL_B, "from_date": "2011-09-01"})),
        ] {
            let (s, v) = call(&app, test::TestRequest::post().uri(uri).set_json(body), &yyb).await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri("/api/v1/terms")
                .set_json(json!({"term": term, "start_date": start, "end_date": end})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let month = mealroll::domain::calendar::Month::of(today);
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/{month}"))
                .set_json(json!({"days": format!("{}", today.format("%-d"))})),
            &yyb,
        )
        .await;
        assert!(s == 200 || s == 422, "{label}: {v}");

        // Children: two confirmed, one pending, one in the problem queue, one in transit, one
        // with a class change under way.
        let (a1, a1_no) = enrolled(&app, &w, SCHOOL_A, "韦一", "52232620190101001").await;
        let (a2, _) = enrolled(&app, &w, SCHOOL_A, "韦二", "52232620190101003").await;
        let (_a3, a3_no) = enrolled(&app, &w, SCHOOL_A, "韦三", "52232620190101005").await;
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(student(
                "韦待",
                "52232620190101007",
                "2019-01-01",
                "男",
            )),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let pending = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_B}/students")).set_json(student(
                "韦一",
                "52232620190101001",
                "2019-01-01",
                "男",
            )),
            &bearer(&w, "b.xueji"),
        )
        .await;
        assert_eq!((s, v["review"].as_str()), (201, Some("problem")), "{label}: {v}");
        let problem = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/transfers").set_json(json!({
                "student_no": a3_no, "name": "韦三", "to_class_no": "202601",
                "effective_date": today.to_string(), "reason": "随父母迁居"})),
            &bearer(&w, "b.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let transfer = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{a2}/status-changes"))
                .set_json(json!({"kind": "11", "effective_date": today.to_string(), "reason": "因病休学"})),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let suspension = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_A, "term": term})),
            &bearer(&w, "a.xiaozhang"),
        )
        .await;
        assert!(s == 201 || s == 200, "{label}: {v}");
        let roster = v["roster"]["id"].as_i64().expect("roster");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/entitlements/compute")
                .set_json(json!({"county": COUNTY, "month": month.to_string()})),
            &yyb,
        )
        .await;
        assert!(s == 200 || s == 422, "{label}: {v}");

        let ids = identifiers(&w);
        assert!(ids.len() >= 10, "{label}: {ids:?}");
        assert!(ids.contains(&a1_no) && a1_no.starts_with('G'), "{label}");

        let pages = [
            "/students".to_owned(),
            "/students?review=pending".to_owned(),
            "/students?review=problem".to_owned(),
            format!("/students/{a1}"),
            format!("/students/{a2}"),
            format!("/students/{pending}"),
            format!("/students/{problem}"),
            format!("/students/{a1}/edit"),
            "/status-changes".to_owned(),
            "/status-changes?show=in_transit".to_owned(),
            format!("/status-changes/{transfer}"),
            format!("/status-changes/{suspension}"),
            "/rosters".to_owned(),
            format!("/rosters/{roster}"),
            format!("/entitlements?month={month}"),
            format!("/entitlements/{SCHOOL_A}/{month}"),
        ];
        let api = [
            "/api/v1/students".to_owned(),
            format!("/api/v1/students/{a1}"),
            format!("/api/v1/students/{a1}/history"),
            format!("/api/v1/students/{problem}/duplicate"),
            format!("/api/v1/students/{a1}/merges"),
            format!("/api/v1/students/{pending}/confirm-preview"),
            format!("/api/v1/schools/{SCHOOL_A}/eligible?date={today}"),
            "/api/v1/status-changes?show=all".to_owned(),
            format!("/api/v1/status-changes/{transfer}"),
            format!("/api/v1/rosters/{roster}"),
            format!("/api/v1/schools/{SCHOOL_A}/entitlements/{month}"),
        ];
        let mut seen = 0;
        for user in ["ducha", "yyb", "caiwu", "a.xiaozhang", "a.yyzg", "a.xueji", "b.xueji"] {
            let cookie = format!("mealroll_session={}", w.token(user));
            let token = format!("Bearer {}", w.token(user));
            for (uri, is_page) in pages.iter().map(|p| (p, true)).chain(api.iter().map(|a| (a, false))) {
                let req = test::TestRequest::get().uri(uri);
                let req = if is_page {
                    req.insert_header((header::COOKIE, cookie.clone()))
                } else {
                    req.insert_header((header::AUTHORIZATION, token.clone()))
                };
                let r = test::call_service(&app, req.to_request()).await;
                let status = r.status().as_u16();
                let body = body_text(r).await;
                if status == 200 {
                    seen += 1;
                }
                if uri == "/students" && user == "yyb" {
                    let masked = mealroll::domain::mask::student_no(&a1_no);
                    assert!(body.contains(&masked), "{label}: the list shows {masked}");
                }
                for id in &ids {
                    assert!(
                        !body.contains(id.as_str()),
                        "{label}: {user} {uri} ({status}) shows {id} in full:\n{body}"
                    );
                }
            }
        }
        assert!(seen > 80, "{label}: the crawl reached the pages ({seen} answered 200)");
        // The audit log, read by the 审计管理员, keeps numbers masked too.
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/audit")
                .insert_header((header::COOKIE, format!("mealroll_session={}", w.token("shenji"))))
                .to_request(),
        )
        .await;
        let body = body_text(r).await;
        for id in &ids {
            assert!(!body.contains(id.as_str()), "{label}: the audit log shows {id}");
        }
        let after: Vec<Option<String>> = {
            use mealroll::db::schema::audit_log;
            audit_log::table.select(audit_log::after_json).load(&mut w.conn()).expect("audit")
        };
        for (i, a) in after.iter().flatten().enumerate() {
            for id in &ids {
                assert!(!a.contains(id.as_str()), "{label}: audit row {i} stores {id}: {a}");
            }
        }

        // In full: the page form with a reason shows this one child, never cached, audited.
        let inspector = format!("mealroll_session={}", w.token("ducha"));
        let html = body_text(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/students/{a1}"))
                    .insert_header((header::COOKIE, inspector.clone()))
                    .to_request(),
            )
            .await,
        )
        .await;
        assert!(html.contains("unmask-form"), "{label}: the inspector is offered the unmasking");
        let csrf = csrf_of(&html);
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/students/{a1}/unmask"))
                .insert_header((header::COOKIE, inspector.clone()))
                .set_form([("csrf", csrf.as_str()), ("reason", "督查抽查核对原件")])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(r.headers().get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"));
        let html = body_text(r).await;
        assert!(html.contains(&a1_no) && html.contains(&with_check("52232620190101001")), "{label}");
        assert!(html.contains("unmasked-note"), "{label}");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/students/{a1}/unmask")).set_json(json!({"reason": "x"})),
            &bearer(&w, "caiwu"),
        )
        .await;
        assert_eq!(s, 403, "{label}: finance may not: {v}");
        let rows: Vec<(String, Option<String>)> = {
            use mealroll::db::schema::audit_log;
            audit_log::table
                .filter(audit_log::action.eq("student.unmask"))
                .select((audit_log::actor, audit_log::after_json))
                .load(&mut w.conn())
                .expect("audit")
        };
        assert_eq!(rows.len(), 1, "{label}: {rows:?}");
        assert!(rows[0].1.as_deref().unwrap_or_default().contains("督查抽查核对原件"), "{label}");
    }
}

#[actix_web::test]
async fn special_categories_are_shown_only_to_those_who_register_and_look_after_children() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let app = test::init_service(mealroll::web::app(w.state())).await;
        let (id, _) = enrolled(&app, &w, SCHOOL_A, "韦小宝", "52232620190101001").await;
        for (user, sees) in
            [("a.xueji", true), ("a.xiaozhang", true), ("yyb", true), ("a.yyzg", false), ("ducha", false)]
        {
            let (s, v) =
                call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{id}")), &bearer(&w, user)).await;
            assert_eq!(s, 200, "{label}: {user}: {v}");
            let record = &v["record"];
            for key in mealroll::domain::student::SPECIAL_CATEGORIES {
                let shown = record[key].as_str().unwrap_or_default();
                if sees {
                    assert_ne!(shown, mealroll::domain::student::WITHHELD, "{label}: {user} sees {key}");
                } else {
                    assert_eq!(shown, mealroll::domain::student::WITHHELD, "{label}: {user} must not see {key}: {v}");
                }
            }
            let html = body_text(
                test::call_service(
                    &app,
                    test::TestRequest::get()
                        .uri(&format!("/students/{id}"))
                        .insert_header((actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token(user))))
                        .to_request(),
                )
                .await,
            )
            .await;
            assert_eq!(html.contains("双亲留守儿童"), sees, "{label}: {user}: the page agrees with the answer");
        }
    }
}
