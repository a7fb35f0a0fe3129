//! The anomaly scan on both databases: October 2014 at school A (18 meal days at 3.00 yuan), each
//! implemented rule firing on a built case and silent on its near miss (the boundary day, the
//! equal count), through the API, the page and the CLI's fixed JSON shape.

mod common;

use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{meals_served, orgs, students};
use mealroll::domain::calendar::Month;
use mealroll::domain::status::State;
use mealroll::ledger::entitlement;
use mealroll::registry::timeline::{self, Switch};
use serde_json::{Value, json};

fn d(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
}

fn org_id(w: &World, code: &str) -> i64 {
    orgs::table.filter(orgs::code.eq(code)).select(orgs::id).first(&mut w.conn()).expect("org")
}

fn switch(w: &World, student: i64, on: &str, state: State, school: &str) {
    let school_id = org_id(w, school);
    let class_id: Option<i64> =
        students::table.find(student).select(students::class_id).first(&mut w.conn()).expect("class");
    timeline::switch(
        &mut w.conn(),
        student,
        &Switch { on: d(on), state, school_id, class_id, cause: "test", change_id: None, promotion_id: None },
    )
    .expect("switch");
}

fn flags_of<'a>(v: &'a Value, rule: &str) -> Vec<&'a Value> {
    v["flags"].as_array().expect("flags").iter().filter(|f| f["rule"] == rule).collect()
}

#[actix_web::test]
async fn each_rule_fires_on_its_case_and_stays_silent_on_the_near_miss() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        let app = test::init_service(mealroll::web::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
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
            test::TestRequest::put()
                .uri("/api/v1/terms")
                .set_json(json!({"term": "2014-1", "start_date": "2014-09-01", "end_date": "2015-01-15"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
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
        let register =
            |school: &'static str, name: &'static str, body: &'static str, birth: &'static str, on: &'static str| {
                let mut rec = student(name, body, birth, "男");
                rec["entry_ym"] = json!(on[..7].replace('-', ""));
                rec["enrolled_on"] = json!(on);
                rec["backdate_reason"] = json!("测试：2014年秋季入学");
                let registrar = if school == SCHOOL_A { "a.xueji" } else { "b.xueji" };
                let req = test::TestRequest::post().uri(&format!("/api/v1/schools/{school}/students")).set_json(rec);
                (req, registrar)
            };
        let mut ids = Vec::new();
        for (school, name, body, birth, on) in [
            (SCHOOL_A, "王全勤", "52232620080101001", "2008-01-01", "2014-09-01"),
            (SCHOOL_A, "黄离世", "52232620080101003", "2008-01-01", "2014-09-01"),
            (SCHOOL_A, "陈月初", "52232620080101005", "2008-01-01", "2014-09-01"),
            (SCHOOL_A, "李大龄", "52232620030901007", "2003-09-01", "2014-09-01"),
            (SCHOOL_A, "赵将满", "52232620030902009", "2003-09-02", "2014-09-01"),
            (SCHOOL_A, "孙校验", "52232620080101011", "2008-01-01", "2014-09-01"),
            (SCHOOL_B, "王双籍", "52232620080101013", "2008-01-01", "2014-10-31"),
        ] {
            let (req, registrar) = register(school, name, body, birth, on);
            let (s, v) = call(&app, req, &bearer(&w, registrar)).await;
            assert_eq!(s, 201, "{label}: {name} {v}");
            ids.push(v["id"].as_i64().expect("id"));
        }
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": ids})), &yyb)
                .await;
        assert_eq!(s, 200, "{label}: {v}");
        let [full, died, dies_in_november, old, nearly_old, bad_id, twin] = ids[..] else { panic!("seven") };
        let id_of = |id: i64| -> String {
            students::table
                .find(id)
                .select(students::id_no)
                .first::<Option<String>>(&mut w.conn())
                .expect("id")
                .expect("no")
        };
        let no_of = |id: i64| -> String {
            students::table.find(id).select(students::student_no).first(&mut w.conn()).expect("no")
        };

        // October computed while every child was at school, then closed; the deaths, a legacy
        // record carrying 王全勤's ID at school B, and a mistyped check digit come in afterwards.
        let cli = w.caller("yyb");
        let oct = Month::parse("2014-10").expect("m");
        let nov = Month::parse("2014-11").expect("m");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, oct).expect("october");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, nov).expect("november");
        entitlement::close(&mut w.conn(), &cli, SCHOOL_A, oct).expect("close");
        switch(&w, died, "2014-10-28", State::Deceased, SCHOOL_A);
        switch(&w, dies_in_november, "2014-11-01", State::Deceased, SCHOOL_A);
        diesel::update(students::table.find(twin))
            .set(students::id_no.eq(id_of(full)))
            .execute(&mut w.conn())
            .expect("twin");
        let wrong = {
            let good = id_of(bad_id);
            let last = if good.ends_with('0') { '1' } else { '0' };
            format!("{}{last}", &good[..17])
        };
        diesel::update(students::table.find(bad_id))
            .set(students::id_no.eq(&wrong))
            .execute(&mut w.conn())
            .expect("id");
        // 一补 for the term at the boarders' rate; then 王全勤 turns out to be a day pupil.
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/yibu/compute")
                .set_json(json!({"org": COUNTY, "term": "2014-1", "close": false})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        diesel::update(students::table.find(full))
            .set(students::attendance.eq("1"))
            .execute(&mut w.conn())
            .expect("day");
        // November is open: recomputed as the status service does in the decision's transaction.
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, nov).expect("november again");

        // Meals reported: October one day and one meal too many; November exactly the figures.
        let bdays = |m: Month| -> i32 {
            entitlement::get(&mut w.conn(), &cli, SCHOOL_A, m).expect("period").0.beneficiary_days
        };
        let (oct_days, nov_days) = (bdays(oct), bdays(nov));
        for (m, days, meals) in [(oct, 19, oct_days + 1), (nov, 20, nov_days)] {
            diesel::insert_into(meals_served::table)
                .values((
                    meals_served::school_id.eq(org_id(&w, SCHOOL_A)),
                    meals_served::month.eq(m.key()),
                    meals_served::days_served.eq(days),
                    meals_served::meals.eq(meals),
                    meals_served::recorded_by.eq("test"),
                    meals_served::recorded_at.eq(mealroll::clock::now()),
                ))
                .execute(&mut w.conn())
                .expect("meals");
        }

        // Money: a receipt, then meal-fund allocations to A (in the programme) and B (not).
        let caiwu = bearer(&w, "caiwu");
        let post = |kind: &str, to: &str, amount: &str, voucher: &str| {
            test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(json!({
                "kind": kind, "fund": "meal", "from": if kind == "receipt" { "" } else { COUNTY }, "to": to,
                "amount": amount, "date": "2014-10-08", "category": "", "voucher_no": voucher, "memo": "测试"}))
        };
        for (kind, to, amount, voucher) in [
            ("receipt", COUNTY, "1000", "SR-1"),
            ("allocation", SCHOOL_A, "300", "BF-A"),
            ("allocation", SCHOOL_B, "120", "BF-B"),
        ] {
            let (s, v) = call(&app, post(kind, to, amount, voucher), &caiwu).await;
            assert_eq!(s, 201, "{label}: {voucher} {v}");
        }

        let (s, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/anomalies?org={COUNTY}&period=2014-10")),
            &bearer(&w, "ducha"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        assert_eq!((v["org"].as_str(), v["period"].as_str()), (Some(COUNTY), Some("2014-10")), "{label}");

        // A01: 王全勤's ID at school B from 31 October: one day at both schools, flagged at each.
        let a01 = flags_of(&v, "A01");
        assert_eq!(a01.len(), 2, "{label}: {a01:?}");
        assert!(a01.iter().all(|f| f["message"].as_str().unwrap_or("").contains("（1天）")), "{label}: {a01:?}");
        let at_a = a01.iter().find(|f| f["school"] == SCHOOL_A).expect("at A");
        assert_eq!(at_a["amount"], "3.00", "{label}: the one shared day paid at A");
        assert_eq!(at_a["student_no"], mealroll::domain::mask::student_no(&no_of(full)), "{label}: masked in the API");

        // A03: dead from 28 October, paid 28–31 (4 days, 12.00); dying on 1 November is silent.
        let a03 = flags_of(&v, "A03");
        assert_eq!(a03.len(), 1, "{label}: {a03:?}");
        assert_eq!((a03[0]["month"].as_str(), a03[0]["amount"].as_str()), (Some("2014-10"), Some("12.00")), "{label}");
        assert!(a03[0]["message"].as_str().unwrap_or("").contains("28日、29日、30日、31日"), "{label}: {a03:?}");
        let _ = dies_in_november;

        // A04: 19 days reported against 18 in the calendar; November's 20 of 20 is silent.
        let a04 = flags_of(&v, "A04");
        assert_eq!(a04.len(), 1, "{label}: {a04:?}");
        // A05: one meal above the person-days (3.00 at stake).
        let a05 = flags_of(&v, "A05");
        assert_eq!((a05.len(), a05.first().and_then(|f| f["amount"].as_str())), (1, Some("3.00")), "{label}: {a05:?}");

        // A06: the day pupil paid at the boarders' rate; the boarders are silent.
        let a06 = flags_of(&v, "A06");
        assert_eq!(a06.len(), 1, "{label}: {a06:?}");
        assert_eq!(a06[0]["student_no"], mealroll::domain::mask::student_no(&no_of(full)), "{label}");
        assert!(a06[0]["amount"].as_str().is_some_and(|a| a != "0.00"), "{label}: {a06:?}");

        // A07: 11 on 1 September in grade 1 is flagged; 10 (eleven the next day) is not.
        let a07 = flags_of(&v, "A07");
        assert_eq!(a07.len(), 1, "{label}: {a07:?}");
        assert_eq!(a07[0]["student_no"], mealroll::domain::mask::student_no(&no_of(old)), "{label}");
        let _ = nearly_old;

        // A12: the mistyped check digit on a paid child, with the month's money.
        let a12 = flags_of(&v, "A12");
        assert_eq!((a12.len(), a12.first().and_then(|f| f["amount"].as_str())), (1, Some("54.00")), "{label}: {a12:?}");

        // A14: 120.00 to school B outside the programme; A's allocation is silent.
        let a14 = flags_of(&v, "A14");
        assert_eq!(a14.len(), 1, "{label}: {a14:?}");
        assert_eq!((a14[0]["school"].as_str(), a14[0]["amount"].as_str()), (Some(SCHOOL_B), Some("120.00")), "{label}");

        // November alone: the meals match, nobody is paid after leaving.
        let (_, nov_scan) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/anomalies?org={COUNTY}&period=2014-11&rules=A03,A04,A05")),
            &bearer(&w, "ducha"),
        )
        .await;
        assert_eq!(nov_scan["flags"].as_array().map(Vec::len), Some(0), "{label}: {nov_scan}");
        assert_eq!(nov_scan["rules"], json!(["A03", "A04", "A05"]), "{label}");

        // A school sees only its own flags; an unknown rule is refused in Chinese.
        let (_, own) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/anomalies?org={SCHOOL_B}&period=2014-10")),
            &bearer(&w, "b.xiaozhang"),
        )
        .await;
        assert!(own["flags"].as_array().expect("flags").iter().all(|f| f["school"] == SCHOOL_B), "{label}: {own}");
        let (s, _) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/anomalies?org={SCHOOL_A}&period=2014-10")),
            &bearer(&w, "b.xiaozhang"),
        )
        .await;
        assert_eq!(s, 404, "{label}: another school's flags");
        let (s, e) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/anomalies?org={COUNTY}&period=2014-10&rules=A01,A99")),
            &bearer(&w, "ducha"),
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (422, Some("anomaly.rule")), "{label}: {e}");
        assert!(e["message"].as_str().unwrap_or("").contains("A99"), "{label}");
        let (s, _) =
            call(&app, test::TestRequest::get().uri("/api/v1/anomalies?period=2014-10"), &bearer(&w, "a.xueji")).await;
        assert_eq!(s, 403, "{label}: a registrar runs no scan");

        // The page shows the same flags with the rule catalogue.
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/inspections?org={COUNTY}&period=2014-10"))
                .insert_header((actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("ducha"))))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let html = body_text(r).await;
        assert!(html.contains("向非计划学校拨付膳食补助") && html.contains("120.00"), "{label}");
        assert!(!html.contains(&no_of(full)), "{label}: 学籍号 masked on the page");

        // The CLI prints the fixed shape and exits 0.
        if let Some(path) = w.db.sqlite_path() {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_mealroll"))
                .args([
                    "--db",
                    &format!("sqlite://{path}"),
                    "inspect",
                    "scan",
                    "--org",
                    COUNTY,
                    "--period",
                    "2014-10",
                    "--json",
                ])
                .output()
                .expect("run");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let cli: Value = serde_json::from_slice(&out.stdout).expect("json");
            let f = &flags_of(&cli, "A03")[0];
            for key in ["rule", "school", "student_no", "month", "amount", "message"] {
                assert!(f.get(key).is_some(), "{label}: {key} in {f}");
            }
            assert_eq!(f["student_no"], no_of(died), "{label}: the command line prints the number in full");
        }
    }
}
