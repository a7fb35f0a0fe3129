//! 就餐日报 on both databases: November 2026 at school A (meal days Mon–Fri), three children of
//! class 202601 confirmed from 1 September, one leaving on the 16th. A day's count is held against
//! the children eligible that day (3 on the 13th, 2 on the 16th), refused on a day without meals,
//! in the future or from another school; a change after the day needs its reason; the county's
//! board shows who has reported; the page prefills the eligible children.

use crate::common;

use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{daily_meals, orgs, students};
use mealroll::domain::status::State;
use mealroll::registry::timeline::{self, Switch};
use serde_json::{Value, json};

fn d(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
}

/// A page as a signed-in user sees it (status 200 asserted).
async fn page<S, B>(app: &S, cookie: &Header, uri: &str) -> String
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let r = test::call_service(app, test::TestRequest::get().uri(uri).insert_header(cookie.clone()).to_request()).await;
    assert_eq!(r.status(), 200, "{uri}");
    String::from_utf8_lossy(&test::read_body(r).await).into_owned()
}

fn rows(w: &World) -> i64 {
    daily_meals::table.count().get_result(&mut w.conn()).expect("count")
}

#[actix_web::test]
async fn a_day_s_count_is_held_against_the_children_eligible_that_day() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let officer = bearer(&w, "a.yyzg");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_A, "from_date": "2026-09-01"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri("/api/v1/terms")
                .set_json(json!({"term": "2026-1", "start_date": "2026-09-01", "end_date": "2027-01-15"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/2026-11"))
                .set_json(json!({"days": "2-6,9-13,16-20,23-27,30"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let mut ids = Vec::new();
        for (name, body) in
            [("韦一", "52232620190101011"), ("韦二", "52232620190101031"), ("韦三", "52232620190101051")]
        {
            let mut rec = student(name, body, "2019-01-01", "男");
            rec["entry_ym"] = json!("202609");
            rec["enrolled_on"] = json!("2026-09-01");
            rec["backdate_reason"] = json!("测试：秋季入学");
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(rec),
                &bearer(&w, "a.xueji"),
            )
            .await;
            assert_eq!(s, 201, "{label}: {v}");
            ids.push(v["id"].as_i64().expect("id"));
        }
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": ids})), &yyb)
                .await;
        assert_eq!(s, 200, "{label}: {v}");
        // 韦三 leaves on the 16th: not eligible from that day.
        leave(&w, ids[2], "2026-11-16");

        let post = |who: &Header, day: &str, body: Value| {
            let (app, h) = (&app, who.clone());
            let uri = format!("/api/v1/schools/{SCHOOL_A}/meal-days/{day}");
            async move { call(app, test::TestRequest::post().uri(&uri).set_json(body), &h).await }
        };
        let one = |ate: Value| json!({"classes": [{"class": "202601", "ate": ate}]});
        let (s, sheet) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/meal-days/2026-11-13")),
            &officer,
        )
        .await;
        assert_eq!(s, 200, "{label}: {sheet}");
        assert_eq!(
            (sheet["meal_day"].as_bool(), sheet["classes"][0]["eligible"].as_i64(), sheet["reported"].as_bool()),
            (Some(true), Some(3), Some(false)),
            "{label}: {sheet}"
        );

        // The boundary: all three on the 13th, the leaver's day one too many on the 16th.
        let (s, e) = post(&officer, "2026-11-16", one(json!(3))).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.count")), "{label}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains("2人")), "{label}: {e}");
        let (s, e) = post(&officer, "2026-11-14", one(json!(1))).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.no_meal_day")), "{label}: a Saturday: {e}");
        let (s, e) = post(&officer, "2026-11-13", one(json!(-1))).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.count")), "{label}: {e}");
        let (s, e) = post(&officer, "2026-11-13", json!({"classes": [{"class": "209901", "ate": 1}]})).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.class")), "{label}: {e}");
        let tomorrow = (mealroll::clock::today() + chrono::Days::new(1)).to_string();
        let (s, e) = post(&officer, &tomorrow, one(json!(1))).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.future_day")), "{label}: {e}");
        let (s, _) = post(&bearer(&w, "b.xiaozhang"), "2026-11-13", one(json!(1))).await;
        assert_eq!(s, 404, "{label}: another school's");
        let (s, _) = post(&bearer(&w, "a.xueji"), "2026-11-13", one(json!(1))).await;
        assert_eq!(s, 403, "{label}: a registrar does not report meals");
        let (s, e) = post(&yyb, "2026-11-13", one(json!(1))).await;
        assert_eq!(s, 403, "{label}: the county does not report for a school: {e}");
        assert_eq!(rows(&w), 0, "{label}: nothing saved");

        let (s, v) = post(&officer, "2026-11-13", one(json!(3))).await;
        assert_eq!((s, v["ate"].as_i64(), v["reported"].as_bool()), (200, Some(3), Some(true)), "{label}: {v}");
        assert_eq!(v["classes"][0]["late"].as_bool(), Some(true), "{label}: recorded weeks after the day");
        let (s, v) = post(&officer, "2026-11-16", one(json!("2"))).await;
        assert_eq!((s, v["ate"].as_i64()), (200, Some(2)), "{label}: {v}");
        // A correction after the day needs its reason; the same count again changes nothing.
        let (s, e) = post(&officer, "2026-11-13", one(json!(2))).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.reason")), "{label}: {e}");
        let (s, _) = post(&officer, "2026-11-13", one(json!(3))).await;
        assert_eq!(s, 200, "{label}: unchanged needs no reason");
        let (s, v) =
            post(&officer, "2026-11-13", json!({"classes": [{"class": "202601", "ate": 2}], "reason": "一人病假漏报"}))
                .await;
        assert_eq!((s, v["ate"].as_i64()), (200, Some(2)), "{label}: {v}");
        assert_eq!(rows(&w), 2, "{label}: one row per class and day");
        assert_eq!(audit_count(&mut w.conn(), "meals.day"), 3, "{label}");

        // The county's board: school A reported on the 13th, nobody on the 17th.
        let (s, b) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/meal-days?org={COUNTY}&day=2026-11-13")), &yyb)
                .await;
        assert_eq!(s, 200, "{label}: {b}");
        let a = b["schools"].as_array().and_then(|r| r.iter().find(|x| x["school"] == SCHOOL_A)).cloned();
        assert_eq!(
            a.as_ref().map(|a| (a["reported_classes"].as_u64(), a["ate"].as_i64())),
            Some((Some(1), Some(2))),
            "{label}: {b}"
        );
        let (_, b) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/meal-days?org={COUNTY}&day=2026-11-17")), &yyb)
                .await;
        let a = b["schools"].as_array().and_then(|r| r.iter().find(|x| x["school"] == SCHOOL_A)).cloned();
        assert_eq!(a.map(|a| a["reported_classes"].as_u64()), Some(Some(0)), "{label}: {b}");

        // The page: prefilled with the eligible children, refused in Chinese, saved.
        let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("a.yyzg")));
        let html = page(&app, &cookie, "/meals?day=2026-11-17").await;
        assert!(html.contains("name=\"ate_202601\" value=\"2\""), "{label}: prefilled: {html}");
        let submit = |ate: &'static str| {
            let (app, cookie, csrf) = (&app, cookie.clone(), csrf_of(&html));
            async move {
                let r = test::call_service(
                    app,
                    test::TestRequest::post()
                        .uri("/meals")
                        .insert_header(cookie)
                        .set_form([("csrf", csrf.as_str()), ("day", "2026-11-17"), ("ate_202601", ate)])
                        .to_request(),
                )
                .await;
                (r.status().as_u16(), String::from_utf8_lossy(&test::read_body(r).await).into_owned())
            }
        };
        let (s, page) = submit("5").await;
        assert!(s == 422 && page.contains("超过该班当日在籍受益学生2人"), "{label}: {s}");
        let (s, _) = submit("2").await;
        assert_eq!((s, rows(&w)), (303, 3), "{label}: saved from the page");
    }
}

/// School A in the programme from 1 September, the autumn term, and October and November meal
/// days (Mon–Fri, October from the 8th after the holiday).
pub(crate) async fn autumn<S, B>(app: &S, w: &World)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let yyb = bearer(w, "yyb");
    for (req, what) in [
        (
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_A, "from_date": "2026-09-01"})),
            "programme",
        ),
        (
            test::TestRequest::put()
                .uri("/api/v1/terms")
                .set_json(json!({"term": "2026-1", "start_date": "2026-09-01", "end_date": "2027-01-15"})),
            "term",
        ),
        (
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/2026-10"))
                .set_json(json!({"days": "8-9,12-16,19-23,26-30"})),
            "october",
        ),
        (
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/2026-11"))
                .set_json(json!({"days": "2-6,9-13,16-20,23-27,30"})),
            "november",
        ),
    ] {
        let (s, v) = call(app, req, &yyb).await;
        assert_eq!(s, 200, "{what}: {v}");
    }
}

/// A confirmed child of school A in a class, at school since 1 September; its id and 学籍号.
pub(crate) async fn child<S, B>(app: &S, w: &World, class: &str, seq: u32) -> (i64, String)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    // Odd sequence numbers: boys, as `student` says.
    let mut rec = student(&format!("韦{seq}"), &format!("52232620190101{:03}", 2 * seq + 1), "2019-01-01", "男");
    rec["class_no"] = json!(class);
    rec["entry_ym"] = json!("202609");
    rec["enrolled_on"] = json!("2026-09-01");
    rec["backdate_reason"] = json!("测试：秋季入学");
    let (s, v) = call(
        app,
        test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(rec),
        &bearer(w, "a.xueji"),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    let (s, v) = call(
        app,
        test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [id]})),
        &bearer(w, "yyb"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    (id, common::student_no_of(&mut w.conn(), id))
}

fn leave(w: &World, id: i64, on: &str) {
    let school_id: i64 = orgs::table.filter(orgs::code.eq(SCHOOL_A)).select(orgs::id).first(&mut w.conn()).expect("id");
    let class_id: Option<i64> =
        students::table.find(id).select(students::class_id).first(&mut w.conn()).expect("class");
    timeline::switch(
        &mut w.conn(),
        id,
        &Switch {
            on: d(on),
            state: State::Left,
            school_id,
            class_id,
            cause: "test",
            change_id: None,
            promotion_id: None,
        },
    )
    .expect("switch");
}

#[actix_web::test]
async fn the_absent_named_the_county_s_deadline_and_corrections_of_a_closed_month() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        autumn(&app, &w).await;
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let (officer, yyb) = (bearer(&w, "a.yyzg"), bearer(&w, "yyb"));
        let mut kids = Vec::new();
        for seq in 1..=3 {
            kids.push(child(&app, &w, "202601", seq).await);
        }
        let post = |day: &str, body: Value| {
            let (app, h) = (&app, officer.clone());
            let uri = format!("/api/v1/schools/{SCHOOL_A}/meal-days/{day}");
            async move { call(app, test::TestRequest::post().uri(&uri).set_json(body), &h).await }
        };

        // The county's deadline: set by its nutrition office, from 08:00, nobody else.
        let put = |who: &Header, t: &str| {
            let (app, h, body) = (&app, who.clone(), json!({"deadline": t}));
            async move { call(app, test::TestRequest::put().uri("/api/v1/meal-settings").set_json(body), &h).await }
        };
        assert_eq!(put(&yyb, "07:00").await.1["error"], "meals.deadline", "{label}");
        assert_eq!(put(&officer, "16:30").await.0, 403, "{label}: a school does not set it");
        assert_eq!(put(&yyb, "16:30").await, (200, json!({"deadline": "16:30"})), "{label}");
        let (_, sheet) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/meal-days/2026-11-13")),
            &officer,
        )
        .await;
        assert_eq!(sheet["deadline"], "16:30", "{label}: {sheet}");
        let listed = sheet["classes"][0]["children"].as_array().cloned().unwrap_or_default();
        assert_eq!(listed.len(), 3, "{label}: {sheet}");
        assert!(
            listed.iter().all(|c| c["student_no"].as_str().is_some_and(|n| n.contains('*'))),
            "{label}: 学籍号 masked: {sheet}"
        );
        assert!(!sheet.to_string().contains(&kids[0].1), "{label}: no full 学籍号 anywhere");

        // Naming the absent: by 学籍号 (or the listed id); the count and the named cannot add up
        // to more than the class; a child not in the class is named as such.
        let (s, e) =
            post("2026-11-13", json!({"classes": [{"class": "202601", "ate": 3, "absent": [kids[0].1]}]})).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.count")), "{label}: {e}");
        assert!(e.to_string().contains("点名缺勤的1人"), "{label}: {e}");
        let (s, e) = post("2026-11-13", json!({"classes": [{"class": "202601", "ate": 2, "absent": ["G99"]}]})).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.absent_child")), "{label}: {e}");
        assert_eq!(rows(&w), 0, "{label}: nothing saved");
        let (s, v) =
            post("2026-11-13", json!({"classes": [{"class": "202601", "ate": 2, "absent": [kids[0].1]}]})).await;
        assert_eq!(s, 200, "{label}: {v}");
        assert_eq!(v["classes"][0]["absent"], json!([kids[0].0]), "{label}: {v}");
        assert_eq!(
            mealroll::db::schema::daily_meal_absences::table.count().get_result::<i64>(&mut w.conn()).expect("n"),
            1,
            "{label}"
        );

        // November is closed: a change now waits for the county.
        {
            let mut conn = w.conn();
            let cli = mealroll::auth::Caller::cli(&mut conn).expect("cli");
            let nov = mealroll::domain::calendar::Month::parse("2026-11").expect("month");
            mealroll::ledger::entitlement::compute_all(&mut conn, &cli, COUNTY, nov).expect("compute");
            mealroll::ledger::entitlement::close(&mut conn, &cli, SCHOOL_A, nov).expect("close");
        }
        let (s, e) = post("2026-11-13", json!({"classes": [{"class": "202601", "ate": 3}]})).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.reason")), "{label}: {e}");
        let (s, v) =
            post("2026-11-13", json!({"classes": [{"class": "202601", "ate": 3}], "reason": "韦1当日在校，误点缺勤"}))
                .await;
        assert_eq!((s, v["status"].as_str()), (202, Some("pending")), "{label}: {v}");
        let correction = v["correction"].as_i64().expect("id");
        assert_eq!(v["sheet"]["ate"], 2, "{label}: unchanged until approved: {v}");
        let (s, e) = post("2026-11-13", json!({"classes": [{"class": "202601", "ate": 1}], "reason": "再改"})).await;
        assert_eq!((s, e["error"].as_str()), (409, Some("meals.correction_pending")), "{label}: {e}");
        let (s, list) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/meal-corrections?org={COUNTY}")), &yyb).await;
        assert_eq!(
            (s, list[0]["status"].as_str(), list[0]["changes"][0]["before"].as_i64()),
            (200, Some("pending"), Some(2)),
            "{label}: {list}"
        );
        let decide = |who: &Header, id: i64, body: Value| {
            let (app, h) = (&app, who.clone());
            async move {
                call(app, test::TestRequest::post().uri(&format!("/api/v1/meal-corrections/{id}")).set_json(body), &h)
                    .await
            }
        };
        assert_eq!(decide(&officer, correction, json!({"decision": "approve"})).await.0, 403, "{label}");
        // The county's page lists it with its form, nothing pre-selected.
        let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("yyb")));
        let html = page(&app, &cookie, "/meals/corrections").await;
        assert!(html.contains(&format!("id=\"correction-{correction}\"")) && html.contains("2 → 3"), "{label}: {html}");
        assert!(html.contains("<option value=\"\">请选择</option>") && !html.contains("selected"), "{label}");
        // Refused on the page without a choice, in Chinese.
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/meals/corrections/{correction}"))
                .insert_header(cookie)
                .set_form([("csrf", csrf_of(&html).as_str()), ("decision", ""), ("note", "")])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert!(String::from_utf8_lossy(&test::read_body(r).await).contains("审批意见"), "{label}");
        let (s, e) = decide(&yyb, correction, json!({"decision": "refuse"})).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("meals.note")), "{label}: {e}");
        let (s, v) = decide(&yyb, correction, json!({"decision": "approve", "note": "核实属实"})).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{label}: {v}");
        let (ate, by): (i32, String) =
            daily_meals::table.select((daily_meals::ate, daily_meals::recorded_by)).first(&mut w.conn()).expect("row");
        assert_eq!((ate, by.as_str()), (3, "a.yyzg"), "{label}: written as the school asked");
        assert_eq!(audit_count(&mut w.conn(), "meals.correction.approve"), 1, "{label}");
        let (s, e) = decide(&yyb, correction, json!({"decision": "approve"})).await;
        assert_eq!((s, e["error"].as_str()), (409, Some("meals.correction_decided")), "{label}: {e}");

        // A correction the registry overtook: 韦3 is found to have left before the day.
        let (s, v) = post("2026-11-16", json!({"classes": [{"class": "202601", "ate": 3}], "reason": "补报"})).await;
        assert_eq!(s, 202, "{label}: {v}");
        leave(&w, kids[2].0, "2026-11-16");
        let (s, e) = decide(&yyb, v["correction"].as_i64().expect("id"), json!({"decision": "approve"})).await;
        assert_eq!((s, e["error"].as_str()), (409, Some("meals.correction_stale")), "{label}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains("2人")), "{label}: {e}");
        assert_eq!(rows(&w), 1, "{label}: the stale correction wrote nothing");
    }
}

#[actix_web::test]
async fn the_month_s_figures_come_from_the_days_and_the_rules_read_them() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        autumn(&app, &w).await;
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let officer = bearer(&w, "a.yyzg");
        {
            let mut conn = w.conn();
            let cli = mealroll::auth::Caller::cli(&mut conn).expect("cli");
            for no in ["202602", "202603"] {
                mealroll::org::service::create_class(
                    &mut conn,
                    &cli,
                    SCHOOL_A,
                    &mealroll::org::model::ClassInput {
                        class_no: no.into(),
                        grade: "1".into(),
                        entry_year: "2026".into(),
                        head_teacher_staff_no: "0001".into(),
                        ..Default::default()
                    },
                )
                .expect("class");
            }
        }
        // Twelve, five and six children.
        let mut third = Vec::new();
        for seq in 0..23 {
            let class = match seq {
                0..12 => "202601",
                12..17 => "202602",
                _ => "202603",
            };
            let kid = child(&app, &w, class, seq).await;
            if class == "202603" {
                third.push(kid);
            }
        }
        let days = |list: &str| {
            mealroll::domain::calendar::MealMonth::parse_days(
                mealroll::domain::calendar::Month::parse(&list[..7]).expect("m"),
                &list[8..],
            )
            .expect("days")
            .days()
            .map(|n| format!("{}-{n:02}", &list[..7]))
            .collect::<Vec<_>>()
        };
        let (oct, nov) = (days("2026-10 8-9,12-16,19-23,26-30"), days("2026-11 2-6,9-13,16-20,23-27,30"));
        // Class 1 full every day but 20 October (near miss for A24 in October, its case in
        // November); class 2 at 4 on the first 15 October days (A25), then 3, then 4 on 14
        // November days (near miss); on 20 October every class at 4 (A17); class 3 at 5 or 6, 5
        // on 27 November and 6 on the 30th before one of them is found to have left on the 27th
        // (A26).
        let mut sum: std::collections::BTreeMap<&str, i64> = Default::default();
        for (i, day) in oct.iter().chain(&nov).enumerate() {
            let c1 = if day == "2026-10-20" { 4 } else { 12 };
            let c2 = match i {
                0..15 => 4,
                15..17 => 3,
                17..31 => 4,
                _ => 3,
            };
            let c3 = match day.as_str() {
                "2026-10-20" => 4,
                "2026-11-27" => 5,
                "2026-11-30" => 6,
                _ => 5 + i32::from(i % 2 == 0),
            };
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/meal-days/{day}")).set_json(json!({
                    "classes": [{"class": "202601", "ate": c1}, {"class": "202602", "ate": c2}, {"class": "202603", "ate": c3}]
                })),
                &officer,
            )
            .await;
            assert_eq!(s, 200, "{label} {day}: {v}");
            *sum.entry(&day[..7]).or_default() += i64::from(c1 + c2 + c3);
        }
        leave(&w, third[0].0, "2026-11-27");

        // The month's figures: the days' sums, not a monthly return; October's return agrees,
        // November's claims ten more meals.
        for (month, meals) in [("2026-10", sum["2026-10"]), ("2026-11", sum["2026-11"] + 10)] {
            let n = if month == "2026-10" { oct.len() } else { nov.len() };
            let (s, v) = call(
                &app,
                test::TestRequest::put()
                    .uri(&format!("/api/v1/schools/{SCHOOL_A}/meals/{month}"))
                    .set_json(json!({"days_served": n, "meals": meals})),
                &bearer(&w, "a.xiaozhang"),
            )
            .await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        {
            let mut conn = w.conn();
            let served = mealroll::meals::monthly::served(
                &mut conn,
                &[orgs::table.filter(orgs::code.eq(SCHOOL_A)).select(orgs::id).first(&mut w.conn()).expect("id")],
                &[202610, 202611],
            )
            .expect("served");
            let nov_served = served.values().find(|s| s.meals == sum["2026-11"]).copied();
            assert_eq!(
                nov_served.map(|s| (s.days_served, s.source)),
                Some((i32::try_from(nov.len()).expect("n"), mealroll::meals::monthly::Source::Daily)),
                "{label}: {served:?}"
            );
        }
        let (s, r) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org={COUNTY}&month=2026-11")),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {r}");
        // `period` is the month's other name, as on the command line; a misspelt parameter is
        // refused by name, never ignored (it once answered with another month's figures).
        let recon = |query: String| {
            let yyb = bearer(&w, "yyb");
            let app = &app;
            async move { call(app, test::TestRequest::get().uri(&format!("/api/v1/reconciliation?{query}")), &yyb).await }
        };
        assert_eq!(recon(format!("org={COUNTY}&period=2026-11")).await, (200, r.clone()), "{label}");
        let (s, oct) = recon(format!("org={COUNTY}&period=2026-10")).await;
        assert_eq!((s, &oct), (200, &recon(format!("org={COUNTY}&month=2026-10")).await.1), "{label}");
        assert_ne!(oct, r, "{label}: October is not November");
        let (s, e) = recon(format!("org={COUNTY}&peroid=2026-10")).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("input.unknown_field")), "{label}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains("“peroid”")), "{label}: {e}");
        let a = r["rows"].as_array().and_then(|rows| rows.iter().find(|x| x["school"] == SCHOOL_A)).cloned();
        assert_eq!(
            a.as_ref().map(|a| (a["meals_reported"].as_i64(), a["meals_monthly_only"].as_bool())),
            Some((Some(sum["2026-11"]), Some(false))),
            "{label}: {r}"
        );

        let (s, v) = call(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/anomalies?org={SCHOOL_A}&period=2026-1&rules=A17,A23,A24,A25,A26")),
            &bearer(&w, "ducha"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let of = |rule: &str| -> Vec<(String, String)> {
            v["flags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["rule"] == rule)
                .map(|f| (f["month"].as_str().unwrap_or("").to_owned(), f["message"].as_str().unwrap_or("").to_owned()))
                .collect()
        };
        let months = |rule: &str| of(rule).into_iter().map(|f| f.0).collect::<Vec<_>>();
        assert_eq!(months("A23"), vec!["2026-11"], "{label}: November's return only: {:?}", of("A23"));
        assert!(of("A23")[0].1.contains(&format!("{}人次", sum["2026-11"] + 10)), "{label}: {:?}", of("A23"));
        assert_eq!(months("A24"), vec!["2026-11"], "{label}: class 1 in November only: {:?}", of("A24"));
        assert!(of("A24")[0].1.contains("12人"), "{label}: {:?}", of("A24"));
        assert_eq!(of("A25").len(), 1, "{label}: the 15-day run, not the 14: {:?}", of("A25"));
        assert!(
            of("A25")[0].1.contains("从2026-10-08到2026-10-28连续15个供餐日都报就餐4人"),
            "{label}: {:?}",
            of("A25")
        );
        assert_eq!(months("A17"), vec!["2026-10"], "{label}: {:?}", of("A17"));
        assert!(of("A17")[0].1.contains("20日各班都是4人"), "{label}: {:?}", of("A17"));
        assert_eq!(of("A26").len(), 1, "{label}: the 30th, not the 27th (5 of 5): {:?}", of("A26"));
        assert!(
            of("A26")[0].1.contains("2026-11-30") && of("A26")[0].1.contains("只有5人"),
            "{label}: {:?}",
            of("A26")
        );
    }
}

/// A workbook of daily records as a school fills it: one row per class and day.
fn workbook(rows: &[[&str; 6]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("就餐日报").expect("name");
    for (c, h) in ["学校标识码", "日期", "班级号", "就餐人数", "缺勤学生", "更正原因"].iter().enumerate()
    {
        ws.write_string(0, c as u16, *h).expect("header");
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, *v).expect("cell");
        }
    }
    wb.save_to_buffer().expect("xlsx")
}

#[actix_web::test]
async fn a_workbook_of_days_is_all_or_nothing_and_names_the_row() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        autumn(&app, &w).await;
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let officer = bearer(&w, "a.yyzg");
        let mut kids = Vec::new();
        for seq in 1..=3 {
            kids.push(child(&app, &w, "202601", seq).await);
        }
        let upload = |bytes: Vec<u8>, who: Header| {
            let app = &app;
            async move {
                call(
                    app,
                    test::TestRequest::post().uri("/api/v1/meal-days/import?filename=days.xlsx").set_payload(bytes),
                    &who,
                )
                .await
            }
        };
        let absent = kids[1].1.clone();
        let bad = workbook(&[
            [SCHOOL_A, "2026-11-12", "202601", "3", "", ""],
            [SCHOOL_A, "2026-11-13", "202601", "3", &absent, ""],
            [SCHOOL_A, "2026/11/14", "202601", "2", "", ""],
        ]);
        let (s, e) = upload(bad, officer.clone()).await;
        assert_eq!(s, 422, "{label}: {e}");
        let text = e.to_string();
        assert!(text.contains("工作表“就餐日报”第3行“就餐人数”列") && text.contains("点名缺勤的1人"), "{label}: {e}");
        assert!(text.contains("第4行") && text.contains("meals.no_meal_day"), "{label}: a Saturday: {e}");
        assert_eq!(rows(&w), 0, "{label}: nothing saved, not even the good row");

        let good = workbook(&[
            [SCHOOL_A, "2026-11-12", "202601", "3", "", ""],
            [SCHOOL_A, "2026年11月13日", "202601", "2", &absent, ""],
        ]);
        let (s, v) = upload(good.clone(), officer.clone()).await;
        assert_eq!((s, v["days"].as_u64(), v["rows"].as_u64()), (200, Some(2), Some(2)), "{label}: {v}");
        assert_eq!(rows(&w), 2, "{label}");
        let (s, _) = upload(good.clone(), bearer(&w, "b.xiaozhang")).await;
        assert_eq!(s, 422, "{label}: another school's rows are refused");

        // The command line: the same file, then the county's board for the 13th.
        if let Some(path) = w.db.sqlite_path() {
            let dir = tempfile::tempdir().expect("tmp");
            let file = dir.path().join("days.xlsx");
            std::fs::write(&file, workbook(&[[SCHOOL_A, "2026-11-16", "202601", "3", "", ""]])).expect("write");
            let db = format!("sqlite://{path}");
            let run =
                |args: &[&str]| common::mealroll_cmd().args(["--db", db.as_str()]).args(args).output().expect("run");
            let out = run(&["import", "meal-days", file.to_str().expect("path"), "--as", "a.yyzg", "--json"]);
            assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
            let v: Value = serde_json::from_slice(&out.stdout).expect("json");
            assert_eq!(v["days"], 1, "{label}: {v}");
            let out = run(&["meals", "status", "--county", COUNTY, "--date", "2026-11-13", "--json"]);
            assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
            let v: Value = serde_json::from_slice(&out.stdout).expect("json");
            let a = v["schools"].as_array().and_then(|r| r.iter().find(|x| x["school"] == SCHOOL_A)).cloned();
            assert_eq!(
                a.map(|a| (a["reported_classes"].as_u64(), a["ate"].as_i64())),
                Some((Some(1), Some(2))),
                "{label}: {v}"
            );
            let out = run(&["meals", "status", "--county", COUNTY, "--date", "2026-11-17"]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("未报齐") && text.contains(SCHOOL_A), "{label}: {text}");
        }
    }
}

/// The bench's own machinery, small: generated schools post their day through the real HTTP
/// server without an error, every class recorded (the timing is the bench's, not a test's).
#[actix_web::test]
async fn the_meal_days_bench_posts_every_school_s_day_through_the_api() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let (pool, settings, keys) = (w.pool.clone(), w.settings.clone(), w.keys.clone());
        let r = tokio::task::spawn_blocking(move || mealroll::bench::meal_days(&pool, &settings, &keys, 12, 3, 0))
            .await
            .expect("join")
            .expect("bench");
        assert_eq!(
            (r.detail["requests"].as_u64(), r.detail["errors"].as_u64(), r.detail["class_records"].as_i64()),
            (Some(12), Some(0), Some(120)),
            "{label}: {}",
            r.detail
        );
        assert!(r.detail["p95_ms"].as_f64().is_some_and(|p| p > 0.0), "{label}: {}", r.detail);
    }
}

#[actix_web::test]
async fn a_week_s_menu_and_the_leaders_accompanying_meals() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        autumn(&app, &w).await;
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let officer = bearer(&w, "a.yyzg");
        let put = |who: &Header, body: Value| {
            let (app, h) = (&app, who.clone());
            async move {
                call(
                    app,
                    test::TestRequest::put()
                        .uri(&format!("/api/v1/schools/{SCHOOL_A}/menus/2026-11-12"))
                        .set_json(body),
                    &h,
                )
                .await
            }
        };
        let (s, e) = put(&officer, json!({})).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("menu.empty")), "{label}: {e}");
        let (s, e) = put(&officer, json!({"monday": "米饭\n土豆"})).await;
        assert_eq!(s, 422, "{label}: one line a day: {e}");
        assert_eq!(put(&bearer(&w, "b.xiaozhang"), json!({"monday": "米饭"})).await.0, 404, "{label}: not its school");
        let (s, v) =
            put(&officer, json!({"monday": "米饭、番茄炒蛋、白菜汤", "friday": "<script>alert(1)</script>"})).await;
        assert_eq!((s, v["week_start"].as_str()), (200, Some("2026-11-09")), "{label}: the Thursday's week: {v}");
        let (s, v) = put(&officer, json!({"monday": "米饭、土豆烧肉、青菜", "tuesday": "面条、鸡蛋"})).await;
        assert_eq!(
            (s, v["menu"]["monday"].as_str(), v["menu"]["friday"].as_str()),
            (200, Some("米饭、土豆烧肉、青菜"), Some("")),
            "{label}: replaced whole: {v}"
        );

        let post = |body: Value| {
            let (app, h) = (&app, officer.clone());
            async move {
                call(
                    app,
                    test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/accompany")).set_json(body),
                    &h,
                )
                .await
            }
        };
        let (s, e) = post(json!({"day": "2026-11-14", "person": "王校长", "post": "校长", "served": "米饭"})).await;
        assert_eq!(s, 422, "{label}: a Saturday: {e}");
        assert!(e.to_string().contains("accompany.no_meal_day"), "{label}: {e}");
        let (s, e) = post(json!({"day": "2026-11-10", "person": "", "post": "校长", "served": ""})).await;
        assert!(
            s == 422 && e.to_string().contains("陪餐人不能为空") && e.to_string().contains("当餐饭菜不能为空"),
            "{label}: {e}"
        );
        let (s, v) = post(json!({"day": "2026-11-10", "person": "王校长", "post": "校长", "served": "米饭、土豆烧肉、青菜", "remarks": "咸淡适中"})).await;
        assert_eq!(s, 201, "{label}: {v}");
        assert_eq!(
            (v["accompany"][0]["person"].as_str(), v["menu"]["tuesday"].as_str()),
            (Some("王校长"), Some("面条、鸡蛋")),
            "{label}: {v}"
        );
        assert_eq!(audit_count(&mut w.conn(), "canteen.accompany"), 1, "{label}");

        // The county reads the week; the page escapes what was typed.
        let (s, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/canteen/2026-11-13")),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!((s, v["accompany"].as_array().map(Vec::len)), (200, Some(1)), "{label}: {v}");
        let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("a.yyzg")));
        put(&officer, json!({"monday": "<script>alert(1)</script>"})).await;
        let html = page(&app, &cookie, "/meals/canteen?day=2026-11-10").await;
        assert!(
            html.contains("咸淡适中") && !html.contains("<script>alert(1)") && html.contains("&#60;script&#62;"),
            "{label}: {html}"
        );
        // The page's menu form: saved from the page.
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/meals/menu")
                .insert_header(cookie)
                .set_form([("csrf", csrf_of(&html).as_str()), ("day", "2026-11-16"), ("wednesday", "米饭、红烧鱼")])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        let (_, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/canteen/2026-11-18")),
            &officer,
        )
        .await;
        assert_eq!(v["menu"]["wednesday"], "米饭、红烧鱼", "{label}: {v}");
    }
}
