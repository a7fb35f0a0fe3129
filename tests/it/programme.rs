//! The programme's configuration on both databases: standards by date with top-ups and no
//! overlaps, membership and the county-seat rule, meal models and suppliers, calendars set by
//! month and imported from a workbook; bad input gets a coded Chinese message and changes nothing.

use crate::common;

use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{meal_calendars, meal_models, programme_schools, schools, subsidy_standards};
use mealroll::domain::calendar::Month;
use serde_json::json;

fn count_standards(w: &World) -> i64 {
    subsidy_standards::table.count().get_result(&mut w.conn()).expect("count")
}

fn standard_on(w: &World, school: &str, day: &str) -> Option<String> {
    use mealroll::db::schema::orgs;
    let path: String = orgs::table.filter(orgs::code.eq(school)).select(orgs::path).first(&mut w.conn()).expect("org");
    let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("day");
    mealroll::programme::config::meal_standard(&mut w.conn(), &path, day).expect("standard").map(|f| f.to_string())
}

fn calendar_xlsx(rows: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("供餐日历").expect("name");
    for (c, h) in ["月份", "供餐天数", "供餐日期"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("header");
    }
    for (r, (m, n, d)) in rows.iter().enumerate() {
        for (c, v) in [m, n, d].iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 1, c as u16, **v).expect("cell");
            }
        }
    }
    wb.save_to_buffer().expect("xlsx")
}

#[actix_web::test]
async fn standards_membership_models_and_calendars_refuse_bad_input_and_change_nothing() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let yyb = bearer(&w, "yyb");

        // The national basic standard by date, with a county top-up from 2024.
        assert_eq!(standard_on(&w, SCHOOL_A, "2014-10-31").as_deref(), Some("3.00"), "{label}: before the 2014 rise");
        assert_eq!(standard_on(&w, SCHOOL_A, "2014-11-01").as_deref(), Some("4.00"), "{label}: the rise mid-term");
        assert_eq!(standard_on(&w, SCHOOL_A, "2021-09-01").as_deref(), Some("5.00"), "{label}");
        let topup = json!({"kind": "meal_topup", "from_date": "2024-01-01", "amount": "1.00", "note": "县级提标"});
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/programme/standards").set_json(&topup), &yyb).await;
        assert_eq!(s, 201, "{label}: {v}");
        assert_eq!(standard_on(&w, SCHOOL_A, "2025-03-03").as_deref(), Some("6.00"), "{label}: base + county top-up");
        assert_eq!(
            standard_on(&w, SCHOOL_C, "2025-03-03").as_deref(),
            Some("5.00"),
            "{label}: the other county has none"
        );
        let before = count_standards(&w);
        let overlapping = json!({"kind": "meal_topup", "from_date": "2025-01-01", "amount": "2.00"});
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/programme/standards").set_json(&overlapping), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("standard.overlap")), "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or("").contains("重叠"), "{label}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/standards")
                .set_json(json!({"kind": "meal_base", "from_date": "2027-09-01", "amount": "6"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (403, Some("standard.national")), "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/standards")
                .set_json(json!({"kind": "meal_topup", "from_date": "2030-01-01", "amount": "1.005"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("standard.amount")), "{label}: {v}");
        assert_eq!(count_standards(&w), before, "{label}: refusals add nothing");

        // Membership: the county seat is excluded unless said otherwise, periods do not overlap.
        diesel::update(
            schools::table.filter(
                schools::org_id.eq_any(
                    mealroll::db::schema::orgs::table
                        .filter(mealroll::db::schema::orgs::code.eq(SCHOOL_B))
                        .select(mealroll::db::schema::orgs::id),
                ),
            ),
        )
        .set(schools::in_county_seat.eq(true))
        .execute(&mut w.conn())
        .expect("seat");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_B, "from_date": "2020-09-01"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("programme.county_seat")), "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_B, "from_date": "2020-09-01", "seat_included": true, "note": "县政府批复〔2020〕12号"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_A, "from_date": "2011-09-01"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_A, "from_date": "2015-09-01"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("programme.overlap")), "{label}: {v}");
        let (s, _) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_C, "from_date": "2015-09-01"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 404, "{label}: another county's school is out of scope");
        let members: i64 = programme_schools::table.count().get_result(&mut w.conn()).expect("count");
        assert_eq!(members, 2, "{label}");
        let (s, _) = call(
            &app,
            test::TestRequest::put()
                .uri("/api/v1/programme/plans")
                .set_json(json!({"county": COUNTY, "school_year": "2026", "plan_type": "national"})),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!(s, 403, "{label}: a registrar sets no plan type");

        // Meal models: enterprise supply names a supplier; one class, one model at a time.
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/meal-models"))
                .set_json(json!({"model": "enterprise", "from_date": "2024-09-01"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("meal_model.no_supplier")), "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/suppliers")
                .set_json(json!({"name": "望谟县黔味营养餐配送有限公司", "credit_code": "91522326MA6HX2K81Q"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let supplier = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/meal-models"))
                .set_json(json!({"model": "enterprise", "from_date": "2024-09-01", "supplier_id": supplier})),
            &yyb,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/meal-models"))
                .set_json(json!({"model": "canteen", "from_date": "2025-01-01"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("meal_model.overlap")), "{label}: {v}");
        let models: i64 = meal_models::table.count().get_result(&mut w.conn()).expect("count");
        assert_eq!(models, 1, "{label}");

        // Calendars: terms first, then meal days by month; the school's month replaces the county's.
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
                .uri(&format!("/api/v1/calendars/{COUNTY}/2026-09"))
                .set_json(json!({"days": "1-31"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("calendar.days")), "{label}: September has no 31st: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/2026-08"))
                .set_json(json!({"days": "31"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("calendar.outside_term")), "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/2026-09"))
                .set_json(json!({"days": "1-4,7-11,14-18,21-25,28-30"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{SCHOOL_A}/2026-09"))
                .set_json(json!({"days": "1-4,7-11"})),
            &bearer(&w, "a.xiaozhang"),
        )
        .await;
        assert_eq!(s, 403, "{label}: a principal does not keep the calendar: {v}");
        let (s, v) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/calendars/{SCHOOL_A}?term=2026-1")), &yyb).await;
        assert_eq!(s, 200, "{label}: {v}");
        let sep =
            v["months"].as_array().expect("months").iter().find(|m| m["month"] == "2026-09").expect("sep").clone();
        assert_eq!(
            (sep["count"].as_i64(), sep["own"].as_bool()),
            (Some(22), Some(false)),
            "{label}: inherited from the county: {sep}"
        );

        // Import: a month with more meal days than days is named by sheet, row and column; nothing written.
        let before: i64 = meal_calendars::table.count().get_result(&mut w.conn()).expect("count");
        let bad = calendar_xlsx(&[("2026-10", "18", ""), ("2026-11", "31", ""), ("2026-12", "", "1-4,7-11,14-18,32")]);
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/calendars/{SCHOOL_A}/import?filename=cal.xlsx"))
                .set_payload(bad),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("calendar.too_many_days")), "{label}: {v}");
        let msg = v["message"].as_str().unwrap_or("");
        assert!(
            msg.contains("工作表“供餐日历”第3行“供餐天数”列") && msg.contains("第4行“供餐日期”列"),
            "{label}: {msg}"
        );
        let after: i64 = meal_calendars::table.count().get_result(&mut w.conn()).expect("count");
        assert_eq!(after, before, "{label}: all or nothing");
        let good = calendar_xlsx(&[("2026-10", "15", ""), ("2026年11月", "", "2-6,9-13,16-20,23-27,30")]);
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/calendars/{SCHOOL_A}/import?filename=cal.xlsx"))
                .set_payload(good),
            &yyb,
        )
        .await;
        assert_eq!((s, v["months"].as_i64()), (200, Some(2)), "{label}: {v}");
        let (_, v) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/calendars/{SCHOOL_A}?term=2026-1")), &yyb).await;
        let oct =
            v["months"].as_array().expect("months").iter().find(|m| m["month"] == "2026-10").expect("oct").clone();
        assert_eq!(
            (oct["count"].as_i64(), oct["own"].as_bool(), oct["days"].as_str()),
            (Some(15), Some(true), Some("1-2,5-9,12-16,19-21")),
            "{label}: {oct}"
        );
        let path: String = {
            use mealroll::db::schema::orgs;
            orgs::table.filter(orgs::code.eq(SCHOOL_A)).select(orgs::path).first(&mut w.conn()).expect("path")
        };
        let nov = mealroll::programme::calendar::month_for(&mut w.conn(), &path, Month::parse("2026-11").expect("m"))
            .expect("month")
            .expect("set");
        assert_eq!(nov.0.count(), 21, "{label}");
        assert!(audit_count(&mut w.conn(), "programme.calendar") >= 3, "{label}");
    }
}

/// A page request with a session cookie (one session per user: its CSRF token is bound to it).
fn page(cookie: &str, req: test::TestRequest) -> actix_http::Request {
    req.insert_header((actix_web::http::header::COOKIE, cookie.to_owned())).to_request()
}

#[actix_web::test]
async fn the_pages_take_forms_with_csrf_show_errors_beside_them_and_walk_a_roster() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let session = |user: &str| format!("mealroll_session={}", w.token(user));
        let (yyb, school_a, school_b) = (session("yyb"), session("a.xiaozhang"), session("b.xiaozhang"));
        let html =
            body_text(test::call_service(&app, page(&yyb, test::TestRequest::get().uri("/programme"))).await).await;
        assert!(html.contains("standard-form") && html.contains("join-form"), "{label}: the county may configure");
        let csrf = csrf_of(&html);
        let post = |uri: &str, form: Vec<(&str, &str)>| page(&yyb, test::TestRequest::post().uri(uri).set_form(form));

        let r = test::call_service(
            &app,
            post(
                "/programme/standards",
                vec![("csrf", &csrf), ("kind", "meal_topup"), ("from_date", "2024-01-01"), ("amount", "1.005")],
            ),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert!(body_text(r).await.contains("最多两位小数"), "{label}: the message beside the form");
        let r = test::call_service(
            &app,
            post(
                "/programme/standards",
                vec![("csrf", "forged"), ("kind", "meal_topup"), ("from_date", "2024-01-01"), ("amount", "1")],
            ),
        )
        .await;
        assert_eq!(r.status(), 403, "{label}: a forged token is refused");
        let before = count_standards(&w);
        let r = test::call_service(
            &app,
            post(
                "/programme/standards",
                vec![("csrf", &csrf), ("kind", "meal_topup"), ("from_date", "2024-01-01"), ("amount", "1")],
            ),
        )
        .await;
        assert_eq!((r.status().as_u16(), count_standards(&w)), (303, before + 1), "{label}");
        let r = test::call_service(
            &app,
            post("/programme/schools", vec![("csrf", &csrf), ("school", SCHOOL_A), ("from_date", "2011-09-01")]),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        let r = test::call_service(
            &app,
            post(
                &format!("/programme/schools/{SCHOOL_A}/models"),
                vec![("csrf", &csrf), ("model", "enterprise"), ("from_date", "2024-09-01")],
            ),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert!(body_text(r).await.contains("须选择供餐企业"), "{label}");
        let r = test::call_service(
            &app,
            post(
                &format!("/programme/schools/{SCHOOL_A}/models"),
                vec![("csrf", &csrf), ("model", "canteen"), ("from_date", "2024-09-01")],
            ),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        let html = body_text(
            test::call_service(
                &app,
                page(&yyb, test::TestRequest::get().uri(&format!("/programme/schools/{SCHOOL_A}"))),
            )
            .await,
        )
        .await;
        assert!(html.contains("学校食堂供餐") && html.contains("6.00"), "{label}: model and today's standard shown");

        // A month of checkboxes.
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri("/api/v1/terms")
                .set_json(json!({"term": "2026-1", "start_date": "2026-09-01", "end_date": "2027-01-15"})),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let html = body_text(
            test::call_service(
                &app,
                page(&yyb, test::TestRequest::get().uri(&format!("/calendars/{COUNTY}?term=2026-1"))),
            )
            .await,
        )
        .await;
        assert!(html.contains("month-2026-09"), "{label}: the edit grid");
        let r = test::call_service(
            &app,
            post(
                &format!("/calendars/{COUNTY}"),
                vec![("csrf", &csrf), ("term", "2026-1"), ("month", "2026-09"), ("d1", "1"), ("d2", "1"), ("d3", "1")],
            ),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        let path: String = {
            use mealroll::db::schema::orgs;
            orgs::table.filter(orgs::code.eq(SCHOOL_A)).select(orgs::path).first(&mut w.conn()).expect("path")
        };
        let sep = mealroll::programme::calendar::month_for(&mut w.conn(), &path, Month::parse("2026-09").expect("m"))
            .expect("q")
            .expect("set");
        assert_eq!(sep.0.list(), "1-3", "{label}: the school inherits the county's month");

        // The school builds and signs its roster from the pages; a signed roster cannot be discarded.
        let html = body_text(
            test::call_service(&app, page(&school_a, test::TestRequest::get().uri("/rosters?term=2026-1"))).await,
        )
        .await;
        assert!(html.contains("build-form"), "{label}");
        let csrf_a = csrf_of(&html);
        let r = test::call_service(
            &app,
            page(
                &school_a,
                test::TestRequest::post().uri("/rosters").set_form([
                    ("csrf", csrf_a.as_str()),
                    ("school", SCHOOL_A),
                    ("term", "2026-1"),
                    ("snapshot_date", ""),
                ]),
            ),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        let to = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
        assert!(to.starts_with("/rosters/"), "{label}: {to}");
        let id = to.trim_start_matches("/rosters/").split('?').next().unwrap_or("").to_owned();
        let html = body_text(test::call_service(&app, page(&school_a, test::TestRequest::get().uri(&to))).await).await;
        assert!(html.contains("sign-form") && html.contains("第1版"), "{label}");
        // 签章 asks first, naming the roster and what it fixes; nothing is signed until confirmed.
        let sign = |confirmed: &str| {
            page(
                &school_a,
                test::TestRequest::post().uri(&format!("/rosters/{id}/step")).set_form([
                    ("csrf", csrf_a.as_str()),
                    ("step", "sign"),
                    ("confirmed", confirmed),
                ]),
            )
        };
        let r = test::call_service(&app, sign("")).await;
        assert_eq!(r.status(), 200, "{label}");
        let asked = body_text(r).await;
        assert!(
            asked.contains("id=\"confirm-form\"") && asked.contains("第1版") && asked.contains("内容冻结"),
            "{label}: the confirmation names the roster and the consequence"
        );
        assert!(asked.contains("name=\"step\" value=\"sign\"") && asked.contains(">确认签章<"), "{label}");
        let still = body_text(test::call_service(&app, page(&school_a, test::TestRequest::get().uri(&to))).await).await;
        assert!(still.contains("sign-form"), "{label}: not signed before the confirmation");
        let r = test::call_service(&app, sign("1")).await;
        assert_eq!(r.status(), 303, "{label}");
        let r = test::call_service(
            &app,
            page(
                &school_a,
                test::TestRequest::post().uri(&format!("/rosters/{id}/discard")).set_form([("csrf", csrf_a.as_str())]),
            ),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert!(body_text(r).await.contains("内容已冻结"), "{label}");
        let r =
            test::call_service(&app, page(&school_b, test::TestRequest::get().uri(&format!("/rosters/{id}")))).await;
        assert_eq!(r.status(), 404, "{label}: another school's roster is out of scope");
    }
}
