//! Meal-subsidy entitlements on both databases, against a computation done on paper: a school in
//! October and November 2014 (3.00 yuan a day until 31 October, 4.00 from 1 November), children
//! who leave, return, transfer and die mid-month, the day rule and the month rule, a closed month
//! that a late change adjusts in the next open one, and totals that are the sums of the lines.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use common::*;
use mealroll::domain::calendar::Month;
use mealroll::domain::entitlement::LineKind;
use mealroll::domain::entitlement::Rule;
use mealroll::domain::status::State;
use mealroll::error::ErrorCode;
use mealroll::ledger::entitlement;
use mealroll::registry::timeline::{self, Switch};
use serde_json::json;

fn d(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
}

fn switch(w: &World, student: i64, on: &str, state: State, school: &str) {
    use diesel::prelude::*;
    use mealroll::db::schema::{orgs, students};
    let school_id: i64 = orgs::table.filter(orgs::code.eq(school)).select(orgs::id).first(&mut w.conn()).expect("org");
    // The child keeps its class, as a real suspension or resumption does.
    let class_id: Option<i64> =
        students::table.find(student).select(students::class_id).first(&mut w.conn()).expect("class");
    timeline::switch(
        &mut w.conn(),
        student,
        &Switch { on: d(on), state, school_id, class_id, cause: "test", change_id: None, promotion_id: None },
    )
    .expect("switch");
}

/// (students, beneficiary-days, amount, adjustment) of school A's month.
fn totals(w: &World, month: &str) -> (i32, i32, String, String) {
    let yyb = w.caller("yyb");
    let (p, lines) = entitlement::get(&mut w.conn(), &yyb, SCHOOL_A, Month::parse(month).expect("m")).expect("get");
    // Every total is the sum of its lines.
    let base: i64 = lines.iter().filter(|l| l.kind == LineKind::Base).map(|l| l.amount.fen()).sum();
    let adj: i64 = lines.iter().filter(|l| l.kind == LineKind::Adjustment).map(|l| l.amount.fen()).sum();
    let days: i32 = lines.iter().filter(|l| l.kind == LineKind::Base).map(|l| l.days).sum();
    assert_eq!((base, adj, days), (p.amount.fen(), p.adjustment.fen(), p.beneficiary_days), "{month}: totals = lines");
    (p.students, p.beneficiary_days, p.amount.to_string(), p.adjustment.to_string())
}

#[actix_web::test]
async fn a_month_is_exactly_the_paper_computation_and_a_late_change_adjusts_the_next_open_month() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
        for (uri, body) in [("/api/v1/programme/schools", json!({"school": SCHOOL_A, "from_date": "2011-09-01"}))] {
            let (s, v) = call(&app, test::TestRequest::post().uri(uri).set_json(body), &yyb).await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri("/api/v1/terms")
                .set_json(json!({"term": "2014-1", "start_date": "2014-09-01", "end_date": "2015-01-15"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        // October after the National Day week: 18 meal days; November: 20.
        for (month, days) in [("2014-10", "8-10,13-17,20-24,27-31"), ("2014-11", "3-7,10-14,17-21,24-28")] {
            let (s, v) = call(
                &app,
                test::TestRequest::put()
                    .uri(&format!("/api/v1/calendars/{COUNTY}/{month}"))
                    .set_json(json!({"days": days})),
                &yyb,
            )
            .await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        let mut ids = Vec::new();
        for (name, body) in [
            ("王全勤", "52232620080101001"),
            ("李休学", "52232620080101003"),
            ("张复学", "52232620080101005"),
            ("陈转学", "52232620080101007"),
            ("黄离世", "52232620080101009"),
        ] {
            let mut rec = student(name, body, "2008-01-01", "男");
            rec["entry_ym"] = json!("201409");
            rec["enrolled_on"] = json!("2014-09-01");
            rec["backdate_reason"] = json!("测试：2014年秋季入学");
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&rec),
                &bearer(&w, "a.xueji"),
            )
            .await;
            assert_eq!(s, 201, "{label}: {v}");
            ids.push(v["id"].as_i64().expect("id"));
        }
        let mut rec = student("吴未确认", "52232620080101011", "2008-01-01", "男");
        rec["entry_ym"] = json!("201409");
        rec["enrolled_on"] = json!("2014-09-01");
        rec["backdate_reason"] = json!("测试：2014年秋季入学");
        let (s, _) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&rec),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}");
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": ids})), &yyb)
                .await;
        assert_eq!(s, 200, "{label}: {v}");
        let [full, suspended, resumed, transferred, died] = ids[..] else { panic!("five") };
        switch(&w, suspended, "2014-10-15", State::Suspended, SCHOOL_A);
        switch(&w, resumed, "2014-09-20", State::Suspended, SCHOOL_A);
        switch(&w, resumed, "2014-11-12", State::AtSchool, SCHOOL_A);
        switch(&w, transferred, "2014-11-17", State::AtSchool, SCHOOL_B);
        switch(&w, died, "2014-10-27", State::Deceased, SCHOOL_A);

        // On paper, the day rule:
        // October (18 days at 3.00): 王全勤 18 → 54.00; 李休学 8–10, 13–14 = 5 → 15.00;
        //   张复学 0; 陈转学 18 → 54.00; 黄离世 8–10, 13–17, 20–24 = 13 → 39.00.
        //   54 days, 162.00 yuan, 4 children; 吴未确认 is not confirmed.
        // November (20 days at 4.00): 王全勤 20 → 80.00; 张复学 12–14, 17–21, 24–28 = 13 → 52.00;
        //   陈转学 3–7, 10–14 = 10 → 40.00 (then at school B, not in the programme).
        //   43 days, 172.00 yuan, 3 children.
        let cli = w.caller("yyb");
        let oct = Month::parse("2014-10").expect("m");
        let nov = Month::parse("2014-11").expect("m");
        let all = entitlement::compute_all(&mut w.conn(), &cli, COUNTY, oct).expect("october");
        assert_eq!(
            all.iter().map(|p| p.school.as_str()).collect::<Vec<_>>(),
            vec![SCHOOL_A],
            "{label}: programme schools only"
        );
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, nov).expect("november");
        assert_eq!(totals(&w, "2014-10"), (4, 54, "162.00".into(), "0.00".into()), "{label}");
        assert_eq!(totals(&w, "2014-11"), (3, 43, "172.00".into(), "0.00".into()), "{label}");
        let (_, lines) = entitlement::get(&mut w.conn(), &cli, SCHOOL_A, oct).expect("lines");
        let of = |id: i64| {
            lines.iter().find(|l| l.student_id == id).map(|l| (l.days, l.day_list.clone(), l.amount.to_string()))
        };
        assert_eq!(of(suspended), Some((5, "8-10,13-14".into(), "15.00".into())), "{label}");
        assert_eq!(of(died), Some((13, "8-10,13-17,20-24".into(), "39.00".into())), "{label}");
        assert_eq!(of(resumed), None, "{label}");

        // Recomputing with nothing changed gives the same lines.
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, oct).expect("again");
        let (_, again) = entitlement::get(&mut w.conn(), &cli, SCHOOL_A, oct).expect("lines");
        let key = |v: &Vec<entitlement::LineView>| {
            v.iter().map(|l| (l.student_id, l.day_list.clone(), l.amount.fen())).collect::<Vec<_>>()
        };
        assert_eq!(key(&again), key(&lines), "{label}: deterministic");

        // On paper, the month rule: leaving in a month drops that month, joining counts from its day.
        // October: 王全勤 54.00 + 陈转学 54.00 = 108.00 (李休学 and 黄离世 left in October).
        // November: 王全勤 80.00 + 张复学 52.00 = 132.00 (陈转学 left in November).
        entitlement::set_rule(&mut w.conn(), &cli, Rule::Month).expect("rule");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, oct).expect("october");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, nov).expect("november");
        assert_eq!(totals(&w, "2014-10"), (2, 36, "108.00".into(), "0.00".into()), "{label}");
        assert_eq!(totals(&w, "2014-11"), (2, 33, "132.00".into(), "0.00".into()), "{label}");
        entitlement::set_rule(&mut w.conn(), &cli, Rule::Day).expect("rule");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, oct).expect("october");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, nov).expect("november");

        // October is closed; then a suspension from 27 October is registered late.
        entitlement::close(&mut w.conn(), &cli, SCHOOL_A, oct).expect("close");
        switch(&w, full, "2014-10-27", State::Suspended, SCHOOL_A);
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, oct).expect("recompute closed");
        // October stays as closed; November carries −15.00 (27–31 October, 5 days at 3.00).
        assert_eq!(
            totals(&w, "2014-10"),
            (4, 54, "162.00".into(), "0.00".into()),
            "{label}: a closed month is never edited"
        );
        assert_eq!(totals(&w, "2014-11"), (3, 43, "172.00".into(), "-15.00".into()), "{label}");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, nov).expect("november");
        // November itself: 王全勤 is suspended all month: 52.00 + 40.00.
        assert_eq!(totals(&w, "2014-11"), (2, 23, "92.00".into(), "-15.00".into()), "{label}");
        let (_, nov_lines) = entitlement::get(&mut w.conn(), &cli, SCHOOL_A, nov).expect("lines");
        let adj: Vec<_> = nov_lines
            .iter()
            .filter(|l| l.kind == LineKind::Adjustment)
            .map(|l| (l.student_id, l.for_month.clone(), l.amount.to_string()))
            .collect();
        assert_eq!(adj, vec![(full, "2014-10".to_owned(), "-15.00".to_owned())], "{label}");
        // Nothing changed since: recomputing the closed month books nothing more.
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, oct).expect("again");
        assert_eq!(totals(&w, "2014-11").3, "-15.00", "{label}");
        let (s, _) = (entitlement::close(&mut w.conn(), &cli, SCHOOL_A, oct).err().map(|e| e.code), ());
        assert_eq!(s, Some(ErrorCode::EntitlementClosed), "{label}");
        assert!(audit_count(&mut w.conn(), "entitlement.adjust") == 1, "{label}");
        let registrar = w.caller("a.xueji");
        let refused = entitlement::compute(&mut w.conn(), &registrar, SCHOOL_A, nov).err().map(|e| e.code);
        assert_eq!(refused, Some(ErrorCode::Forbidden), "{label}: a registrar computes no money");

        // The same through the API and the page: the county computes, the lines drill down.
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/entitlements/compute")
                .set_json(json!({"org": COUNTY, "month": "2014-11"})),
            &yyb,
        )
        .await;
        assert_eq!(
            (s, v[0]["amount"].as_str(), v[0]["adjustment"].as_str()),
            (200, Some("92.00"), Some("-15.00")),
            "{label}: {v}"
        );
        let (s, v) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/entitlements/2014-10")), &yyb)
                .await;
        assert_eq!((s, v["lines"].as_array().map(Vec::len)), (200, Some(4)), "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/entitlements/compute")
                .set_json(json!({"org": COUNTY, "month": "2014-13"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("month.format")), "{label}: {v}");
        let (s, _) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_C}/entitlements/2014-10")), &yyb)
                .await;
        assert_eq!(s, 404, "{label}: another county's school");
        let cookie = format!("mealroll_session={}", w.token("yyb"));
        let html = body_text(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri("/entitlements?month=2014-10")
                    .insert_header((actix_web::http::header::COOKIE, cookie))
                    .to_request(),
            )
            .await,
        )
        .await;
        assert!(
            html.contains("162.00") && html.contains("已结账") && html.contains("望谟县王母小学"),
            "{label}: the month page"
        );
    }
}

#[actix_web::test]
async fn yibu_is_a_semester_share_per_child_rounded_per_child_and_a_closed_term_is_adjusted_later() {
    use diesel::prelude::*;
    use mealroll::domain::money::Fen;
    use mealroll::domain::programme::{Period, StandardKind};
    use mealroll::programme::config::{self, StandardInput};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
        for (term, start, end) in [("2014-1", "2014-09-01", "2015-01-15"), ("2014-2", "2015-03-01", "2015-07-10")] {
            let (s, v) = call(
                &app,
                test::TestRequest::put()
                    .uri("/api/v1/terms")
                    .set_json(json!({"term": term, "start_date": start, "end_date": end})),
                &yyb,
            )
            .await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        // The semester's meal days: October (18) and November (20) only = 38.
        for (month, days) in
            [("2014-10", "8-10,13-17,20-24,27-31"), ("2014-11", "3-7,10-14,17-21,24-28"), ("2015-03", "2-6")]
        {
            let (s, v) = call(
                &app,
                test::TestRequest::put()
                    .uri(&format!("/api/v1/calendars/{COUNTY}/{month}"))
                    .set_json(json!({"days": days})),
                &yyb,
            )
            .await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        let mut ids = Vec::new();
        for (name, body, attendance, yibu) in [
            ("赵全住", "52232620080101013", "住校", "是"),
            ("钱半住", "52232620080101015", "住校", "是"),
            ("孙不享", "52232620080101017", "住校", "否"),
            ("李走读", "52232620080101019", "走读", "是"),
        ] {
            let mut rec = student(name, body, "2008-01-01", "男");
            rec["entry_ym"] = json!("201409");
            rec["enrolled_on"] = json!("2014-09-01");
            rec["backdate_reason"] = json!("测试：2014年秋季入学");
            rec["attendance"] = json!(attendance);
            rec["yibu"] = json!(yibu);
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&rec),
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
        switch(&w, ids[1], "2014-10-15", State::Suspended, SCHOOL_A);

        // On paper: a primary boarder's semester is 4.00 × 125 = 500.00. 赵全住 38/38 = 500.00;
        // 钱半住 was at school 8–10 and 13–14 October = 5 days: 500.00 × 5 ÷ 38 = 65.789… = 65.79;
        // 孙不享 does not receive 一补; 李走读 is a day pupil and the province sets no day rate yet.
        let compute = |close: bool| {
            test::TestRequest::post()
                .uri("/api/v1/yibu/compute")
                .set_json(json!({"org": COUNTY, "term": "2014-1", "close": close}))
        };
        let (s, v) = call(&app, compute(false), &yyb).await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/yibu/2014-1")), &yyb).await;
        assert_eq!(s, 200, "{label}: {v}");
        assert_eq!(
            (&v["period"]["students"], &v["period"]["term_days"], &v["period"]["amount"]),
            (&json!(2), &json!(38), &json!("565.79")),
            "{label}: {v}"
        );
        let lines: Vec<(String, i64, String)> = v["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| {
                (
                    l["name"].as_str().unwrap_or("").to_owned(),
                    l["days"].as_i64().unwrap_or(0),
                    l["amount"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [("赵全住".to_owned(), 38, "500.00".to_owned()), ("钱半住".to_owned(), 5, "65.79".to_owned())],
            "{label}"
        );

        // The province sets the day-pupil rate (half: 2.00): 2.00 × 125 = 250.00 for 李走读.
        config::add_standard(
            &mut w.conn(),
            &mealroll::auth::Caller::cli(&mut w.conn()).expect("cli"),
            StandardInput {
                kind: StandardKind::YibuPrimaryDay,
                org_code: Some("520000".into()),
                period: Period { from: d("2011-09-01"), to: None },
                amount: Fen::new(200),
                note: "非寄宿生减半".into(),
            },
        )
        .expect("day rate");
        let (s, v) = call(&app, compute(true), &yyb).await;
        assert_eq!(s, 200, "{label}: {v}");
        let a = v.as_array().and_then(|p| p.iter().find(|p| p["school"] == SCHOOL_A)).expect("A").clone();
        assert_eq!(
            (&a["students"], &a["amount"], &a["closed"]),
            (&json!(3), &json!("815.79"), &json!(true)),
            "{label}: {a}"
        );

        // After closing: 钱半住's suspension is withdrawn late (she was at school all along). The
        // closed term stays 815.79; the spring term carries +434.21 (500.00 − 65.79) for her.
        diesel::delete(
            mealroll::db::schema::student_spells::table
                .filter(mealroll::db::schema::student_spells::student_id.eq(ids[1]))
                .filter(mealroll::db::schema::student_spells::state.eq("suspended")),
        )
        .execute(&mut w.conn())
        .expect("undo");
        diesel::update(
            mealroll::db::schema::student_spells::table
                .filter(mealroll::db::schema::student_spells::student_id.eq(ids[1])),
        )
        .set(mealroll::db::schema::student_spells::to_date.eq(None::<chrono::NaiveDate>))
        .execute(&mut w.conn())
        .expect("reopen");
        let (s, v) = call(&app, compute(false), &yyb).await;
        assert_eq!(s, 200, "{label}: {v}");
        let (_, autumn) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/yibu/2014-1")), &yyb).await;
        assert_eq!(autumn["period"]["amount"], json!("815.79"), "{label}: a closed term is never edited");
        let (s, spring) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/yibu/2014-2")), &yyb).await;
        assert_eq!((s, &spring["period"]["adjustment"]), (200, &json!("434.21")), "{label}: {spring}");
        assert_eq!(spring["lines"][0]["for_term"], json!("2014-1"), "{label}: {spring}");

        // The county's page: the semester's schools, a compute form with CSRF, a school by child.
        let cookie = format!("mealroll_session={}", w.token("yyb"));
        let get = |uri: &str| {
            test::TestRequest::get()
                .uri(uri)
                .insert_header((actix_web::http::header::COOKIE, cookie.clone()))
                .to_request()
        };
        let html = body_text(test::call_service(&app, get("/yibu?term=2014-1")).await).await;
        assert!(html.contains("815.79") && html.contains("已结账") && html.contains("yibu-compute"), "{label}");
        let csrf = csrf_of(&html);
        let post = |form: Vec<(&str, &str)>| {
            test::TestRequest::post()
                .uri("/yibu")
                .insert_header((actix_web::http::header::COOKIE, cookie.clone()))
                .set_form(form)
                .to_request()
        };
        let r =
            test::call_service(&app, post(vec![("csrf", "forged"), ("term", "2014-2"), ("action", "compute")])).await;
        assert_eq!(r.status(), 403, "{label}");
        let r = test::call_service(&app, post(vec![("csrf", &csrf), ("term", "2014-2"), ("action", "compute")])).await;
        assert_eq!(r.status(), 303, "{label}");
        let html = body_text(test::call_service(&app, get(&format!("/yibu/{SCHOOL_A}/2014-2"))).await).await;
        assert!(html.contains("钱半住") && html.contains("434.21") && html.contains("调整"), "{label}: {html}");

        // 一补 reconciled by term against its own account: the county receives 815.79 and passes
        // it on to school A, which pays 500.00 into 赵全住's aid card.
        add_user(&w, "caiwu", COUNTY, "finance");
        let caiwu = bearer(&w, "caiwu");
        for (body, who) in [
            (
                json!({"kind": "receipt", "fund": "yibu", "to": COUNTY, "amount": "815.79", "date": "2014-09-20", "voucher_no": "YB-1", "memo": "省级一补"}),
                &caiwu,
            ),
            (
                json!({"kind": "allocation", "fund": "yibu", "from": COUNTY, "to": SCHOOL_A, "amount": "815.79", "date": "2014-10-05", "voucher_no": "YB-2"}),
                &caiwu,
            ),
            (
                json!({"kind": "expenditure", "fund": "yibu", "from": SCHOOL_A, "amount": "500.00", "date": "2014-11-05", "category": "生活补助", "voucher_no": "YB-3"}),
                &bearer(&w, "a.xiaozhang"),
            ),
        ] {
            let (s, v) = call(&app, test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(body), who).await;
            assert_eq!((s, v["status"].as_str()), (201, Some("posted")), "{label}: {v}");
        }
        let reconcile = |period: &str| {
            test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org={COUNTY}&month={period}&fund=yibu"))
        };
        let (s, r) = call(&app, reconcile("2014-1"), &caiwu).await;
        assert_eq!(s, 200, "{label}: {r}");
        let a = r["rows"].as_array().and_then(|rows| rows.iter().find(|x| x["school"] == SCHOOL_A)).expect("A");
        // 38 + 5 + 38 days at school; 815.79 ÷ 3 children = 271.93 a child.
        assert_eq!(
            (
                &a["entitled"],
                &a["allocated"],
                &a["spent"],
                &a["closing_balance"],
                &a["beneficiary_days"],
                &a["standard"]
            ),
            (&json!("815.79"), &json!("815.79"), &json!("500.00"), &json!("315.79"), &json!(81), &json!("271.93")),
            "{label}: {a}"
        );
        let codes: Vec<&str> =
            a["flags"].as_array().expect("flags").iter().filter_map(|f| f["code"].as_str()).collect();
        assert_eq!(codes, ["surplus"], "{label}: paid less than allocated is a surplus, never 压低标准: {a}");
        // The school year adds the spring term with its adjustment; the meal fund is apart.
        let (_, spring) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/yibu/2014-2")), &yyb).await;
        let (_, year) = call(&app, reconcile("2014"), &caiwu).await;
        let a = year["rows"].as_array().and_then(|rows| rows.iter().find(|x| x["school"] == SCHOOL_A)).expect("A");
        assert_eq!(a["entitled"], json!(Fen::new(81_579 + spring_total(&spring)).to_string()), "{label}: {a}");
        let (_, meal) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org={COUNTY}&period=2014-1")),
            &caiwu,
        )
        .await;
        assert_eq!(meal["total"]["allocated"], json!("0.00"), "{label}: {meal}");
        // 一补 is settled per term: a month alone is refused, naming the rule.
        let (s, v) = call(&app, reconcile("2014-10"), &caiwu).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("reconcile.yibu_term")), "{label}: {v}");
        assert!(v.to_string().contains("一补按学期核算"), "{label}: {v}");
        // The 一补 form says so in its title and headings.
        let req = test::TestRequest::get()
            .uri(&format!("/api/v1/reconciliation/{COUNTY}/2014-1/disbursement.pdf?fund=yibu"))
            .insert_header(caiwu.clone())
            .to_request();
        let resp = test::call_service(&app, req).await;
        // Named for the county, the term and the fund, as every download is (RFC 6266).
        let disposition = resp
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            disposition.ends_with(&format!("filename*=UTF-8''{COUNTY}-2014-1-yibu-disbursement.pdf")),
            "{label}: {disposition}"
        );
        let pdf = test::read_body(resp).await.to_vec();
        let text = pdftool("pdftotext", &pdf, &["-layout"]);
        assert!(
            text.contains("一补") && text.contains("生均") && text.contains("815.79") && !text.contains("膳食补助资金"),
            "{label}: {text}"
        );
    }
}

/// A school term's whole entitlement (its own lines plus adjustments), in fen.
fn spring_total(v: &serde_json::Value) -> i64 {
    let fen = |k: &str| mealroll::domain::money::Fen::parse_yuan(v["period"][k].as_str().unwrap_or("")).expect(k).fen();
    fen("amount") + fen("adjustment")
}

/// A lined-up set of children, each a date that once paid the wrong days: one joins on the
/// 20th, one leaves school A on the 15th and arrives at B on the 20th, one changes class on the
/// 13th under the month rule, one dies on the 5th of an open month, one is registered today as
/// if it had started years ago. Every figure is the paper computation, and each decision moves
/// the computed months it touches in the same transaction, with nobody pressing recompute.
#[actix_web::test]
async fn every_date_pays_the_days_the_rules_pay_and_decisions_move_computed_months() {
    use mealroll::registry::status::{self, ChangeInput, TransferInput};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
        for school in [SCHOOL_A, SCHOOL_B] {
            let body = json!({"school": school, "from_date": "2011-09-01"});
            let (s, v) =
                call(&app, test::TestRequest::post().uri("/api/v1/programme/schools").set_json(body), &yyb).await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        let term = json!({"term": "2014-1", "start_date": "2014-09-01", "end_date": "2015-01-15"});
        let (s, v) = call(&app, test::TestRequest::put().uri("/api/v1/terms").set_json(term), &yyb).await;
        assert_eq!(s, 200, "{label}: {v}");
        // October after the National Day week: 18 meal days at 3.00; November: 20 at 4.00.
        for (month, days) in [("2014-10", "8-10,13-17,20-24,27-31"), ("2014-11", "3-7,10-14,17-21,24-28")] {
            let (s, v) = call(
                &app,
                test::TestRequest::put()
                    .uri(&format!("/api/v1/calendars/{COUNTY}/{month}"))
                    .set_json(json!({"days": days})),
                &yyb,
            )
            .await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        second_class(&w);
        let register = |name: &str, id17: &str, enrolled_on: &str| {
            let mut rec = student(name, id17, "2008-01-01", "男");
            rec["entry_ym"] = json!("201409");
            rec["enrolled_on"] = json!(enrolled_on);
            rec["backdate_reason"] = json!("测试：2014年的学生");
            rec
        };
        let mut ids = Vec::new();
        for (name, id17, on) in [
            ("周二十", "52232620080101001", "2014-10-20"),
            ("吴转学", "52232620080101003", "2014-09-01"),
            ("王转班", "52232620080101005", "2014-09-01"),
            ("郑离世", "52232620080101007", "2014-09-01"),
        ] {
            let (s, v) = call(
                &app,
                test::TestRequest::post()
                    .uri(&format!("/api/v1/schools/{SCHOOL_A}/students"))
                    .set_json(register(name, id17, on)),
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
        let [joined, moved, changed_class, died] = ids[..] else { panic!("four") };
        let nos: Vec<String> = ids.iter().map(|id| common::student_no_of(&mut w.conn(), *id)).collect();

        // 吴转学 leaves A on 15 October and arrives at B on the 20th (requested by B, approved
        // by A's principal and the county, long after the arrival day).
        let b_registrar = w.caller("b.xueji");
        let transfer = TransferInput {
            student_no: nos[1].clone(),
            name: "吴转学".into(),
            to_class_no: "202601".into(),
            effective_date: "2014-10-15".into(),
            arrival_date: "2014-10-20".into(),
            reason: "随父母迁居".into(),
        };
        let t = status::request_transfer(&mut w.conn(), &b_registrar, &transfer, None).expect("transfer");
        assert_eq!(t.arrival_date, chrono::NaiveDate::from_ymd_opt(2014, 10, 20), "{label}");
        for who in ["a.xiaozhang", "yyb"] {
            status::decide(&mut w.conn(), &w.caller(who), t.id, true, "同意").expect("approve");
        }
        // An arrival before the leaving day is refused, naming both days.
        let mut early = transfer.clone();
        early.student_no = nos[0].clone();
        early.name = "周二十".into();
        early.arrival_date = "2014-10-10".into();
        let e = status::request_transfer(&mut w.conn(), &b_registrar, &early, None).expect_err("refused");
        assert_eq!(e.fields.first().map(|f| f.code), Some(ErrorCode::TransferArrivalBeforeLeaving), "{label}: {e:?}");
        // 王转班 moves to class 202602 on 13 October, inside school A.
        let class_change = ChangeInput {
            kind: "29".into(),
            effective_date: "2014-10-13".into(),
            reason: "分班调整".into(),
            to_class_no: "202602".into(),
        };
        let c = status::request(&mut w.conn(), &w.caller("a.xueji"), changed_class, &class_change, None).expect("29");
        status::decide(&mut w.conn(), &w.caller("a.xiaozhang"), c.id, true, "同意").expect("approve");

        // On paper, the day rule, October (18 days at 3.00):
        //   周二十 from the 20th: 20-24, 27-31 = 10 → 30.00 (not 18 from the 1st);
        //   吴转学 at A 8-10, 13-14 = 5 → 15.00; at B 20-24, 27-31 = 10 → 30.00; 15-17 nowhere;
        //   王转班 18 → 54.00; 郑离世 18 → 54.00.
        let cli = w.caller("yyb");
        let oct = Month::parse("2014-10").expect("m");
        let nov = Month::parse("2014-11").expect("m");
        for school in [SCHOOL_A, SCHOOL_B] {
            for m in [oct, nov] {
                entitlement::compute(&mut w.conn(), &cli, school, m).expect("compute");
            }
        }
        let lines = |school: &str, m: Month| {
            let (_, lines) = entitlement::get(&mut w.conn(), &cli, school, m).expect("lines");
            lines
                .into_iter()
                .filter(|l| l.kind == LineKind::Base)
                .map(|l| (l.student_id, l.days, l.amount.to_string()))
                .collect::<Vec<_>>()
        };
        let of = |v: &[(i64, i32, String)], id: i64| v.iter().find(|l| l.0 == id).map(|l| (l.1, l.2.clone()));
        let a_oct = lines(SCHOOL_A, oct);
        assert_eq!(of(&a_oct, joined), Some((10, "30.00".into())), "{label}: joins on the 20th");
        assert_eq!(of(&a_oct, moved), Some((5, "15.00".into())), "{label}: leaves on the 15th");
        assert_eq!(of(&a_oct, changed_class), Some((18, "54.00".into())), "{label}");
        assert_eq!(of(&a_oct, died), Some((18, "54.00".into())), "{label}");
        let b_oct = lines(SCHOOL_B, oct);
        assert_eq!(b_oct, vec![(moved, 10, "30.00".into())], "{label}: arrives on the 20th, not the 15th");
        // November at B: 20 days at 4.00.
        assert_eq!(of(&lines(SCHOOL_B, nov), moved), Some((20, "80.00".into())), "{label}");

        // The month rule drops a month only for leaving the school: the class change keeps all
        // 18 days (it once got 13 to 31 October); 吴转学 left A in October (0 there), joined B on
        // the 20th (joining counts from its day).
        entitlement::set_rule(&mut w.conn(), &cli, Rule::Month).expect("rule");
        for school in [SCHOOL_A, SCHOOL_B] {
            entitlement::compute(&mut w.conn(), &cli, school, oct).expect("compute");
        }
        let a_oct = lines(SCHOOL_A, oct);
        assert_eq!(of(&a_oct, changed_class), Some((18, "54.00".into())), "{label}: a class change is not leaving");
        assert_eq!(of(&a_oct, moved), None, "{label}");
        assert_eq!(of(&lines(SCHOOL_B, oct), moved), Some((10, "30.00".into())), "{label}");
        entitlement::set_rule(&mut w.conn(), &cli, Rule::Day).expect("rule");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, oct).expect("compute");

        // November is computed and open. 郑离世 dies on 5 November: the county's confirmation
        // (the last step) recomputes November in the same transaction: 3-4 November = 2 days.
        assert_eq!(of(&lines(SCHOOL_A, nov), died), Some((20, "80.00".into())), "{label}");
        let death = ChangeInput {
            kind: "51".into(),
            effective_date: "2014-11-05".into(),
            reason: "病故".into(),
            to_class_no: String::new(),
        };
        let pdf = mealroll::registry::changes::Upload {
            filename: "死亡证明.pdf".into(),
            bytes: b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec(),
        };
        let d = status::request(&mut w.conn(), &w.caller("a.xueji"), died, &death, Some(&pdf)).expect("51");
        assert_eq!(of(&lines(SCHOOL_A, nov), died), Some((20, "80.00".into())), "{label}: not yet decided");
        status::decide(&mut w.conn(), &cli, d.id, true, "核实").expect("approve");
        assert_eq!(of(&lines(SCHOOL_A, nov), died), Some((2, "8.00".into())), "{label}: paid to the 4th, at once");
        assert_eq!(totals(&w, "2014-11").3, "0.00", "{label}");

        // October is closed; 周二十 is suspended from 27 October, approved later: the closed month
        // is not edited, the difference (27-31 = 5 days × 3.00) lands in November at once.
        entitlement::close(&mut w.conn(), &cli, SCHOOL_A, oct).expect("close");
        let suspend = ChangeInput {
            kind: "11".into(),
            effective_date: "2014-10-27".into(),
            reason: "因病休学".into(),
            to_class_no: String::new(),
        };
        let sus = status::request(&mut w.conn(), &w.caller("a.xueji"), joined, &suspend, None).expect("11");
        for who in ["a.xiaozhang", "yyb"] {
            status::decide(&mut w.conn(), &w.caller(who), sus.id, true, "同意").expect("approve");
        }
        let (p, nov_lines) = entitlement::get(&mut w.conn(), &cli, SCHOOL_A, nov).expect("november");
        let adjustments: Vec<_> = nov_lines
            .iter()
            .filter(|l| l.kind == LineKind::Adjustment)
            .map(|l| (l.student_id, l.for_month.clone(), l.amount.to_string()))
            .collect();
        assert_eq!(adjustments, vec![(joined, "2014-10".to_owned(), "-15.00".to_owned())], "{label}");
        assert_eq!(p.adjustment.to_string(), "-15.00", "{label}");
        assert_eq!(audit_count(&mut w.conn(), "entitlement.recompute"), 2, "{label}: the death and the suspension");

        // A child registered today as if at school since 1 September 2014: refused without a
        // reason; with one, the county sees what confirming adds before it confirms (October 18
        // days × 3.00, November 20 × 4.00, later months nothing: no calendar), and confirming
        // moves the computed open month at once.
        let mut late = student("孙补录", "52232620080101009", "2008-01-01", "男");
        late["entry_ym"] = json!("201409");
        late["enrolled_on"] = json!("2014-09-01");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&late),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("student.backdate_reason")), "{label}: {v}");
        late["backdate_reason"] = json!("2014年漏报，核实后补录");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&late),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let late_id = v["id"].as_i64().expect("id");
        let (s, preview) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{late_id}/confirm-preview")), &yyb)
                .await;
        assert_eq!(s, 200, "{label}: {preview}");
        let months: Vec<(String, u64, String, bool, bool)> = preview["months"]
            .as_array()
            .expect("months")
            .iter()
            .map(|m| {
                (
                    m["month"].as_str().unwrap_or_default().to_owned(),
                    m["days"].as_u64().unwrap_or(0),
                    m["amount"].as_str().unwrap_or_default().to_owned(),
                    m["computed"].as_bool().unwrap_or(false),
                    m["closed"].as_bool().unwrap_or(false),
                )
            })
            .collect();
        assert_eq!(
            months,
            vec![
                ("2014-10".to_owned(), 18, "54.00".to_owned(), true, true),
                ("2014-11".to_owned(), 20, "80.00".to_owned(), true, false)
            ],
            "{label}: {preview}"
        );
        assert_eq!(preview["total"], "134.00", "{label}");
        assert!(preview["backdated_days"].as_i64().unwrap_or(0) > 4000, "{label}: {preview}");
        let audit_reason: Vec<String> = {
            use diesel::prelude::*;
            use mealroll::db::schema::audit_log;
            audit_log::table
                .filter(audit_log::action.eq("student.create"))
                .select(audit_log::after_json)
                .load::<Option<String>>(&mut w.conn())
                .expect("audit")
                .into_iter()
                .flatten()
                .collect()
        };
        assert!(
            audit_reason.iter().any(|a| a.contains("2014年漏报，核实后补录")),
            "{label}: the audit keeps the reason"
        );
        let nov_before = totals(&w, "2014-11");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [late_id]})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let nov_after = totals(&w, "2014-11");
        assert_eq!(nov_after.0, nov_before.0 + 1, "{label}: one more child in November");
        let adjust: Vec<_> = entitlement::get(&mut w.conn(), &cli, SCHOOL_A, nov)
            .expect("november")
            .1
            .into_iter()
            .filter(|l| l.kind == LineKind::Adjustment && l.student_id == late_id)
            .map(|l| (l.for_month, l.amount.to_string()))
            .collect();
        assert_eq!(adjust, vec![("2014-10".to_owned(), "54.00".to_owned())], "{label}: closed October via November");
    }
}
