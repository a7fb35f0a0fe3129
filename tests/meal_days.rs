//! 就餐日报 on both databases: November 2026 at school A (meal days Mon–Fri), three children of
//! class 202601 confirmed from 1 September, one leaving on the 16th. A day's count is held against
//! the children eligible that day (3 on the 13th, 2 on the 16th), refused on a day without meals,
//! in the future or from another school; a change after the day needs its reason; the county's
//! board shows who has reported; the page prefills the eligible children.

mod common;

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

fn rows(w: &World) -> i64 {
    daily_meals::table.count().get_result(&mut w.conn()).expect("count")
}

#[actix_web::test]
async fn a_day_s_count_is_held_against_the_children_eligible_that_day() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::web::app(w.state())).await;
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
        let school_id: i64 =
            orgs::table.filter(orgs::code.eq(SCHOOL_A)).select(orgs::id).first(&mut w.conn()).expect("school");
        let class_id: Option<i64> =
            students::table.find(ids[2]).select(students::class_id).first(&mut w.conn()).expect("class");
        timeline::switch(
            &mut w.conn(),
            ids[2],
            &Switch {
                on: d("2026-11-16"),
                state: State::Left,
                school_id,
                class_id,
                cause: "test",
                change_id: None,
                promotion_id: None,
            },
        )
        .expect("switch");

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
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/meals?day=2026-11-17").insert_header(cookie.clone()).to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let html = String::from_utf8_lossy(&test::read_body(r).await).into_owned();
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
