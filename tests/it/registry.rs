//! Registering, finding, correcting and confirming students; the duplicate check; scopes.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use common::*;
use serde_json::json;

#[actix_web::test]
async fn register_find_correct_and_confirm_a_student() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let school = (header::AUTHORIZATION, format!("Bearer {}", w.token("a.xueji")));
        let county = (header::AUTHORIZATION, format!("Bearer {}", w.token("yyb")));

        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/students"))
                .insert_header(school.clone())
                .set_json(student("王䶮", "52232620200309002", "2020-03-09", "女"))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 201, "{label}");
        let s = body_json(r).await;
        let id = s["id"].as_i64().expect("id");
        assert_eq!(s["review"], "pending", "{label}");
        // The 学籍号 carries the birth date (a G number the whole ID): shown masked.
        assert!(s["student_no"].as_str().is_some_and(|n| n.starts_with("L522326********")), "{label}: {s}");
        assert_eq!(s["record"]["name"], "王䶮", "{label}: rare character kept");
        assert_eq!(s["record"]["ethnicity"], "09", "{label}");
        assert_eq!(s["class_name"], "一年级(1)班", "{label}");

        // Lists mask the ID; search finds by name, full ID and student number.
        let list = |q: &str| {
            test::TestRequest::get().uri(&format!("/api/v1/students?q={q}")).insert_header(school.clone()).to_request()
        };
        let body = body_json(test::call_service(&app, list("%E7%8E%8B")).await).await;
        assert_eq!(body["total"], 1, "{label}");
        assert_eq!(
            body["items"][0]["id_masked"],
            format!("522***********{}", &with_check("52232620200309002")[14..]),
            "{label}"
        );
        let full = with_check("52232620200309002");
        // An ID number never travels in an address: refused in the query string, found by POST.
        let r = test::call_service(&app, list(&full)).await;
        assert_eq!(r.status(), 422, "{label}");
        assert_eq!(body_json(r).await["error"], "student.search_by_post", "{label}");
        let search = test::TestRequest::post()
            .uri("/api/v1/students/search")
            .insert_header(school.clone())
            .set_json(json!({"q": full}))
            .to_request();
        assert_eq!(body_json(test::call_service(&app, search).await).await["total"], 1, "{label}");

        // A correction with a reason leaves field history.
        let mut rec = student("王䶮", "52232620200309002", "2020-03-09", "女");
        rec["attendance"] = json!("走读");
        rec["yibu"] = json!("否");
        let r = test::call_service(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/students/{id}"))
                .insert_header(school.clone())
                .set_json(json!({"record": rec, "reason": "核对后改为走读", "version": 1}))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        // A stale version is refused.
        let r = test::call_service(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/students/{id}"))
                .insert_header(school.clone())
                .set_json(json!({"record": rec, "reason": "x", "version": 1}))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 409, "{label}");
        let hist = body_json(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/api/v1/students/{id}/history"))
                    .insert_header(school.clone())
                    .to_request(),
            )
            .await,
        )
        .await;
        let fields: Vec<&str> = hist.as_array().expect("history").iter().filter_map(|h| h["field"].as_str()).collect();
        assert!(fields.contains(&"attendance") && fields.contains(&"yibu"), "{label}: {fields:?}");
        assert!(hist.as_array().expect("h").iter().any(|h| h["reason"] == "核对后改为走读"), "{label}");

        // The school cannot confirm; the county can, and the formal number is G + ID.
        let confirm = |who: (header::HeaderName, String)| {
            test::TestRequest::post()
                .uri("/api/v1/students/confirm")
                .insert_header(who)
                .set_json(json!({"ids": [id]}))
                .to_request()
        };
        assert_eq!(test::call_service(&app, confirm(school.clone())).await.status(), 403, "{label}");
        let r = test::call_service(&app, confirm(county.clone())).await;
        assert_eq!(r.status(), 200, "{label}");
        let s = body_json(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/api/v1/students/{id}"))
                    .insert_header(county.clone())
                    .to_request(),
            )
            .await,
        )
        .await;
        assert_eq!(s["review"], "confirmed", "{label}");
        assert_eq!(s["student_no"], mealroll::domain::mask::student_no(&format!("G{full}")), "{label}");
        // In full only with a reason, audited; the county may, the registrar may.
        let unmask = |who: (header::HeaderName, String), reason: &str| {
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{id}/unmask"))
                .insert_header(who)
                .set_json(json!({"reason": reason}))
                .to_request()
        };
        let r = test::call_service(&app, unmask(county.clone(), " ")).await;
        assert_eq!(r.status(), 422, "{label}: a reason is needed");
        let r = test::call_service(&app, unmask(county.clone(), "核对户口簿")).await;
        assert_eq!(r.headers().get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"));
        let s = body_json(r).await;
        assert_eq!(
            (s["student_no"].as_str(), s["unmasked"].as_bool()),
            (Some(format!("G{full}").as_str()), Some(true))
        );
        assert_eq!(s["record"]["id_no"], full.as_str(), "{label}");
        assert_eq!(audit_count(&mut w.conn(), "student.unmask"), 1, "{label}");
        // Everyone sees the ID masked in the detail, the registrar too.
        let inspector = (header::AUTHORIZATION, format!("Bearer {}", w.token("ducha")));
        let s = body_json(
            test::call_service(
                &app,
                test::TestRequest::get().uri(&format!("/api/v1/students/{id}")).insert_header(inspector).to_request(),
            )
            .await,
        )
        .await;
        assert_eq!(s["record"]["id_no"], format!("522***********{}", &full[14..]), "{label}");
        assert_eq!(s["record"]["m1_phone"], "139****2222", "{label}");
        let s = body_json(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/api/v1/students/{id}"))
                    .insert_header(school.clone())
                    .to_request(),
            )
            .await,
        )
        .await;
        assert_eq!(s["record"]["id_no"], format!("522***********{}", &full[14..]), "{label}: the registrar too");
        // Finance may not unmask at all.
        add_user(&w, "caiwu", COUNTY, "finance");
        let finance = (header::AUTHORIZATION, format!("Bearer {}", w.token("caiwu")));
        let r = test::call_service(&app, unmask(finance, "想看看")).await;
        assert_eq!(r.status(), 403, "{label}");

        // School B's registrar cannot see the student; the system administrator sees no students at all.
        let other = (header::AUTHORIZATION, format!("Bearer {}", w.token("b.xueji")));
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/students/{id}")).insert_header(other).to_request(),
        )
        .await;
        assert_eq!(r.status(), 404, "{label}");
        let admin = (header::AUTHORIZATION, format!("Bearer {}", w.token("xitong")));
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/api/v1/students").insert_header(admin).to_request(),
        )
        .await;
        assert_eq!(r.status(), 403, "{label}");
        let mut conn = w.conn();
        assert_eq!(audit_count(&mut conn, "student.create"), 1, "{label}");
        assert_eq!(audit_count(&mut conn, "student.update"), 1, "{label}");
        assert_eq!(audit_count(&mut conn, "student.confirm"), 1, "{label}");
    }
}

#[actix_web::test]
async fn same_id_at_another_school_goes_to_the_problem_queue() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let a = (header::AUTHORIZATION, format!("Bearer {}", w.token("a.xueji")));
        let b = (header::AUTHORIZATION, format!("Bearer {}", w.token("b.xueji")));
        let rec = student("韦正平", "52232620190101001", "2019-01-01", "男");
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/students"))
                .insert_header(a)
                .set_json(rec.clone())
                .to_request(),
        )
        .await;
        assert_eq!(body_json(r).await["review"], "pending", "{label}");
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/schools/{SCHOOL_B}/students"))
                .insert_header(b)
                .set_json(rec)
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 201, "{label}");
        let dup = body_json(r).await;
        assert_eq!(dup["review"], "problem", "{label}");
        assert!(
            dup["problem"].as_str().is_some_and(|p| p.starts_with("D1") && p.contains("王母小学")),
            "{label}: {dup}"
        );
        let id = dup["id"].as_i64().expect("id");

        let county = (header::AUTHORIZATION, format!("Bearer {}", w.token("yyb")));
        let queue = body_json(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri("/api/v1/students?review=problem")
                    .insert_header(county.clone())
                    .to_request(),
            )
            .await,
        )
        .await;
        assert_eq!(queue["total"], 1, "{label}");
        // Unresolved problems cannot be confirmed.
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/students/confirm")
                .insert_header(county.clone())
                .set_json(json!({"ids": [id]}))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 409, "{label}");
        // The county deletes the double entry; the queue is empty.
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{id}/resolve"))
                .insert_header(county.clone())
                .set_json(json!({"decision": "delete", "note": "同一学生在两校重复录入，经核实在王母小学就读"}))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let queue = body_json(
            test::call_service(
                &app,
                test::TestRequest::get().uri("/api/v1/students?review=problem").insert_header(county).to_request(),
            )
            .await,
        )
        .await;
        assert_eq!(queue["total"], 0, "{label}");
    }
}

#[actix_web::test]
async fn invalid_records_are_refused_field_by_field() {
    let w = World::new(TestDb::sqlite());
    let app = test::init_service(mealroll::app::app(w.state())).await;
    let a = (header::AUTHORIZATION, format!("Bearer {}", w.token("a.xueji")));
    let mut rec = student("王䶮", "52232620200309002", "2020-03-10", "男");
    rec["class_no"] = json!("209999");
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(&format!("/api/v1/schools/{SCHOOL_A}/students"))
            .insert_header(a.clone())
            .set_json(rec)
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 422);
    let body = body_json(r).await;
    let codes: Vec<&str> =
        body["fields"].as_array().expect("fields").iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(codes.contains(&"student.birth_mismatch") && codes.contains(&"student.sex_mismatch"), "{codes:?}");
    // With the record fixed, the unknown class is named.
    let mut rec = student("王䶮", "52232620200309002", "2020-03-09", "女");
    rec["class_no"] = json!("209999");
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(&format!("/api/v1/schools/{SCHOOL_A}/students"))
            .insert_header(a)
            .set_json(rec)
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 422);
    let body = body_json(r).await;
    assert_eq!(body["error"], "student.unknown_class");
    assert!(body["message"].as_str().unwrap_or("").contains("209999"));
}

/// Temporary numbers count on from the highest one in use: confirming a student turns its L
/// number into a G number, and a count of L numbers would then hand out one still held.
#[actix_web::test]
async fn temporary_numbers_never_repeat_after_confirmation() {
    use mealroll::registry::service as registry;
    use std::collections::BTreeMap;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let mut conn = w.conn();
        let raw = |name: &str, body: &str| -> BTreeMap<String, String> {
            serde_json::from_value(student(name, body, "2020-03-09", "女")).expect("map")
        };
        let school = w.caller("a.xueji");
        let first = registry::create(&mut conn, &school, SCHOOL_A, &raw("甲", "52232620200309002")).expect("first");
        let second = registry::create(&mut conn, &school, SCHOOL_A, &raw("乙", "52232620200309022")).expect("second");
        assert!(first.student_no.ends_with("0001"), "{label}: {}", first.student_no);
        assert!(second.student_no.ends_with("0002"), "{label}: {}", second.student_no);
        registry::confirm(&mut conn, &w.caller("yyb"), &[first.id]).expect("confirm");
        let third = registry::create(&mut conn, &school, SCHOOL_A, &raw("丙", "52232620200309042")).expect("third");
        assert!(third.student_no.ends_with("0003"), "{label}: {} repeats a number in use", third.student_no);
        // The numbers are sealed, so the highest handed out is kept beside them.
        let highest: i32 = {
            use diesel::prelude::*;
            use mealroll::db::schema::student_no_counters as c;
            c::table.filter(c::prefix.eq("L52232620200309")).select(c::highest).first(&mut conn).expect("counter")
        };
        assert_eq!(highest, 3, "{label}");
    }
}

/// The registration form carries a one-time key: back, then submit again, registers the child
/// once. Its first day is a field of its own; a start far back needs a reason, shown beside it.
#[actix_web::test]
async fn the_registration_form_registers_once_and_asks_why_a_start_lies_far_back() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let cookie = format!("mealroll_session={}", w.token("a.xueji"));
        let page = |req: test::TestRequest| req.insert_header((header::COOKIE, cookie.clone())).to_request();
        let r =
            test::call_service(&app, page(test::TestRequest::get().uri(&format!("/schools/{SCHOOL_A}/students/new"))))
                .await;
        assert_eq!(r.status(), 200, "{label}");
        let html = body_text(r).await;
        // A wrong address under /students answers as a page, in Chinese, not raw JSON.
        let lost = test::call_service(&app, page(test::TestRequest::get().uri("/students/new"))).await;
        assert_eq!(lost.status(), 404, "{label}");
        let ct = lost.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(ct.starts_with("text/html"), "{label}: {ct}");
        assert!(body_text(lost).await.contains("记录不存在"), "{label}");
        let csrf = csrf_of(&html);
        let key = html
            .split("name=\"form_key\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the form has a one-time key")
            .to_owned();
        assert_eq!(key.len(), 32, "{label}");
        assert!(
            html.contains(&format!("value=\"{}\"", mealroll::clock::today())),
            "{label}: 入校日期 defaults to today"
        );
        let back = mealroll::clock::today() - chrono::Days::new(60);
        let mut rec = student("蒙一次", "52232620190101021", "2019-01-01", "男");
        rec["entry_ym"] = json!(back.format("%Y%m").to_string());
        let mut fields: Vec<(String, String)> = raw_of(&rec).into_iter().collect();
        fields.push(("csrf".into(), csrf.clone()));
        fields.push(("form_key".into(), key.clone()));
        // Far back without a reason: refused beside the field, nothing stored.
        let mut far = fields.clone();
        far.push(("enrolled_on".into(), back.to_string()));
        let r = test::call_service(
            &app,
            page(test::TestRequest::post().uri(&format!("/schools/{SCHOOL_A}/students")).set_form(&far)),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        let html = body_text(r).await;
        assert!(html.contains("须填写补录原因") && html.contains(&format!("value=\"{back}\"")), "{label}: {html}");
        // Sent twice with the same key: one child.
        let mut ids = Vec::new();
        for _ in 0..2 {
            let r = test::call_service(
                &app,
                page(test::TestRequest::post().uri(&format!("/schools/{SCHOOL_A}/students")).set_form(&fields)),
            )
            .await;
            assert_eq!(r.status(), 303, "{label}");
            ids.push(r.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned());
        }
        assert_eq!(ids[0], ids[1], "{label}: the second submission answers with the first child");
        let n: i64 = {
            use diesel::prelude::*;
            use mealroll::db::schema::students;
            students::table.filter(students::name.eq("蒙一次")).count().get_result(&mut w.conn()).expect("count")
        };
        assert_eq!(n, 1, "{label}");
    }
}
