//! The anomaly scan on both databases: October 2014 at school A (18 meal days at 3.00 yuan), each
//! implemented rule firing on a built case and silent on its near miss (the boundary day, the
//! equal count), through the API, the page and the CLI's fixed JSON shape.

use crate::common;

use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::at_rest;
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
        let app = test::init_service(mealroll::app::app(w.state())).await;
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
            let sealed = students::table
                .find(id)
                .select(students::id_no_sealed)
                .first::<Option<String>>(&mut w.conn())
                .expect("id")
                .expect("no");
            at_rest::open::<at_rest::IdNo>(&sealed).expect("opens")
        };
        let no_of = |id: i64| -> String { common::student_no_of(&mut w.conn(), id) };

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
        set_id_no(&mut w.conn(), twin, &id_of(full));
        let wrong = {
            let good = id_of(bad_id);
            let last = if good.ends_with('0') { '1' } else { '0' };
            format!("{}{last}", &good[..17])
        };
        set_id_no(&mut w.conn(), bad_id, &wrong);
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
                .uri(&format!("/inspections/scan?org={COUNTY}&period=2014-10"))
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
            let out = common::mealroll_cmd()
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

/// The 2014 autumn term at school A: nine children, a roster, a back-dated leaver, one who
/// leaves and comes back, eight new pupils in November, money passed on a day late, spending
/// short of the standard and made good in December, and school B reporting the same meals
/// three months running. Each newer rule fires on its case and stays silent on its near miss.
#[actix_web::test]
async fn the_rules_about_rosters_growth_guardians_money_and_reports() {
    use mealroll::db::schema::{programme_schools, rosters, schools, status_changes};
    use mealroll::inspection::settings::{self, Change};
    use mealroll::ledger::reconcile;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
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
        for (month, days) in [
            ("2014-09", "1-5,9-12,15-19,22-26,29-30"),
            ("2014-10", "8-10,13-17,20-24,27-31"),
            ("2014-11", "3-7,10-14,17-21,24-28"),
        ] {
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
        let names = [
            "甲一", "甲二", "甲三", "乙退", "丙后", "丁返", "戊转", "己追", "庚准", "新一", "新二", "新三", "新四",
            "新五", "新六", "新七", "新八", "辛乙",
        ];
        for (i, name) in names.iter().enumerate() {
            let late = name.starts_with('新');
            let on = if late { "2014-11-03" } else { "2014-09-01" };
            let school = if *name == "辛乙" { SCHOOL_B } else { SCHOOL_A };
            let mut rec = student(name, &format!("52232620080101{:03}", 101 + 2 * i), "2008-01-01", "男");
            rec["entry_ym"] = json!(on[..7].replace('-', ""));
            rec["enrolled_on"] = json!(on);
            rec["backdate_reason"] = json!("测试：2014年秋季入学");
            let registrar = if school == SCHOOL_A { "a.xueji" } else { "b.xueji" };
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri(&format!("/api/v1/schools/{school}/students")).set_json(rec),
                &bearer(&w, registrar),
            )
            .await;
            assert_eq!(s, 201, "{label}: {name} {v}");
            ids.push(v["id"].as_i64().expect("id"));
        }
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": ids})), &yyb)
                .await;
        assert_eq!(s, 200, "{label}: {v}");
        let id = |name: &str| ids[names.iter().position(|n| *n == name).expect("name")];
        let no_of =
            |id: i64| -> String { mealroll::domain::mask::student_no(&common::student_no_of(&mut w.conn(), id)) };
        // One guardian's ID number on 甲一 at A and 辛乙 at B (and the template's one phone on nobody).
        diesel::update(students::table)
            .set((students::guardian_phone_sealed.eq(None::<String>), students::guardian_phone_hash.eq(None::<String>)))
            .execute(&mut w.conn())
            .expect("phones");
        for who in ["甲一", "辛乙"] {
            let g = "522326198001010012";
            diesel::update(students::table.find(id(who)))
                .set((
                    students::guardian_id_no_sealed.eq(at_rest::seal::<at_rest::GuardianIdNo>(g).expect("seal")),
                    students::guardian_id_no_hash.eq(at_rest::id_hash(g).expect("hash")),
                ))
                .execute(&mut w.conn())
                .expect("guardian");
        }

        // The roster on 15 September, then the registry moves under it.
        let cli = w.caller("yyb");
        let term = mealroll::domain::term::Term::parse("2014-1").expect("term");
        mealroll::programme::roster::build(&mut w.conn(), &cli, SCHOOL_A, term, None, Default::default())
            .expect("roster");
        switch(&w, id("乙退"), "2014-09-10", State::Left, SCHOOL_A);
        switch(&w, id("丙后"), "2014-09-16", State::Left, SCHOOL_A);
        switch(&w, id("丁返"), "2014-10-13", State::Left, SCHOOL_A);
        switch(&w, id("丁返"), "2014-10-20", State::AtSchool, SCHOOL_A);
        switch(&w, id("戊转"), "2014-10-13", State::InTransit, SCHOOL_A);
        switch(&w, id("戊转"), "2014-10-20", State::AtSchool, SCHOOL_A);
        let oct = Month::parse("2014-10").expect("m");
        let nov = Month::parse("2014-11").expect("m");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, oct).expect("october");
        entitlement::close(&mut w.conn(), &cli, SCHOOL_A, oct).expect("close");
        entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, nov).expect("november");
        // Two withdrawals effective 10 October, recorded 31 and 30 days later: October is closed,
        // so the recomputation adjusts it in November.
        for (who, recorded) in [("己追", "2014-11-10"), ("庚准", "2014-11-09")] {
            switch(&w, id(who), "2014-10-10", State::Left, SCHOOL_A);
            diesel::insert_into(status_changes::table)
                .values((
                    status_changes::student_id.eq(id(who)),
                    status_changes::kind.eq("31"),
                    status_changes::route.eq("local"),
                    status_changes::from_school_id.eq(org_id(&w, SCHOOL_A)),
                    status_changes::effective_date.eq(d("2014-10-10")),
                    status_changes::reason.eq("测试"),
                    status_changes::status.eq("approved"),
                    status_changes::step_no.eq(1),
                    status_changes::requested_by.eq("a.xueji"),
                    status_changes::requested_at.eq(d(recorded).and_hms_opt(2, 0, 0).expect("t")),
                ))
                .execute(&mut w.conn())
                .expect("change");
        }
        let school_a = org_id(&w, SCHOOL_A);
        mealroll::db::write_tx(&mut w.conn(), |c| {
            entitlement::recompute_from(c, &cli, &[school_a], d("2014-10-10"), "测试")
        })
        .expect("recompute, in the decision's transaction as the status service does");

        // School B: 300 meals three months running, then 250 in December (no meal days then).
        for (m, meals) in [(201409, 300), (201410, 300), (201411, 300), (201412, 250)] {
            diesel::insert_into(meals_served::table)
                .values((
                    meals_served::school_id.eq(org_id(&w, SCHOOL_B)),
                    meals_served::month.eq(m),
                    meals_served::days_served.eq(0),
                    meals_served::meals.eq(meals),
                    meals_served::recorded_by.eq("test"),
                    meals_served::recorded_at.eq(mealroll::clock::now()),
                ))
                .execute(&mut w.conn())
                .expect("meals");
        }

        // Money: 2,000 arrives on 1 September; 300 passed on 30 days later, 900 31 days later.
        let caiwu = bearer(&w, "caiwu");
        let school = bearer(&w, "a.xiaozhang");
        let post = |who: &Header, kind: &str, from: &str, to: &str, amount: String, date: &str, voucher: &str| {
            let req = test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(json!({
                "kind": kind, "fund": "meal", "from": from, "to": to, "amount": amount, "date": date,
                "category": if kind == "expenditure" { "粮油" } else { "" }, "voucher_no": voucher, "memo": "测试"}));
            let who = who.clone();
            let app = &app;
            let voucher = voucher.to_owned();
            async move {
                let (s, v) = call(app, req, &who).await;
                assert_eq!(s, 201, "{voucher} {v}");
            }
        };
        post(&caiwu, "receipt", "", COUNTY, "2000".into(), "2014-09-01", "SR-1").await;
        post(&caiwu, "allocation", COUNTY, SCHOOL_A, "300".into(), "2014-10-01", "BF-1").await;
        post(&caiwu, "allocation", COUNTY, SCHOOL_A, "900".into(), "2014-10-02", "BF-2").await;
        let figures = |m: Month| {
            let r = reconcile::county_period(
                &mut w.conn(),
                &cli,
                COUNTY,
                &mealroll::domain::calendar::Span::of_month(m),
                mealroll::domain::ledger::Fund::Meal,
            )
            .expect("reconcile");
            r.rows.into_iter().find(|r| r.school == SCHOOL_A).expect("A")
        };
        let (e_oct, e_nov) = (figures(oct).entitled.fen(), figures(nov).entitled.fen());
        // October: 90 % of its money to the cent rounded up (the tolerance's edge); November: half.
        let oct_spend = (e_oct * 9 + 9) / 10;
        let nov_spend = e_nov / 2;
        let yuan = |fen: i64| mealroll::domain::money::Fen::new(fen).to_string();
        post(&school, "expenditure", SCHOOL_A, "", yuan(oct_spend), "2014-10-15", "ZC-1").await;
        post(&school, "expenditure", SCHOOL_A, "", yuan(nov_spend - 100), "2014-11-20", "ZC-2").await;
        post(&school, "expenditure", SCHOOL_A, "", yuan(100), "2014-11-30", "ZC-3").await;

        let scan = |period: &'static str, rules: &'static str| {
            let app = &app;
            let ducha = bearer(&w, "ducha");
            async move {
                let (s, v) = call(
                    app,
                    test::TestRequest::get()
                        .uri(&format!("/api/v1/anomalies?org={COUNTY}&period={period}&rules={rules}")),
                    &ducha,
                )
                .await;
                assert_eq!(s, 200, "{v}");
                v
            }
        };
        let v = scan("2014-1", "").await;
        assert_eq!(v["not_run"], json!([]), "{label}: every rule of the catalogue runs");

        // A02: 乙退 left on 10 September, before the snapshot; 丙后 on the 16th, after it.
        let a02 = flags_of(&v, "A02");
        assert_eq!(a02.len(), 1, "{label}: {a02:?}");
        assert_eq!(a02[0]["student_no"], no_of(id("乙退")), "{label}");
        // A08: A's roster is not signed (B is not in the programme and has none due).
        let a08 = flags_of(&v, "A08");
        assert_eq!(a08.len(), 1, "{label}: {a08:?}");
        assert!(a08[0]["message"].as_str().unwrap_or("").contains("至今未签章"), "{label}: {a08:?}");
        // A10: 7 children in October, 13 in November.
        let a10 = flags_of(&v, "A10");
        assert_eq!(a10.len(), 1, "{label}: {a10:?}");
        assert_eq!(a10[0]["month"], "2014-11", "{label}");
        assert!(a10[0]["message"].as_str().unwrap_or("").contains("13人"), "{label}: {a10:?}");
        // A11: two schools share a guardian: below the default of three.
        assert!(flags_of(&v, "A11").is_empty(), "{label}");
        // A13: A is no county-seat school.
        assert!(flags_of(&v, "A13").is_empty(), "{label}");
        // A15: the 900 passed on after 31 days (the 300 after 30 is in time), and 800 still held.
        let a15 = flags_of(&v, "A15");
        assert_eq!(a15.len(), 2, "{label}: {a15:?}");
        let to_a = a15.iter().find(|f| f["school"] == SCHOOL_A).expect("to A");
        assert_eq!((to_a["amount"].as_str(), to_a["month"].as_str()), (Some("900.00"), Some("2014-10")), "{label}");
        let held = a15.iter().find(|f| f["school"] == COUNTY).expect("held by the county");
        assert_eq!(held["amount"], "800.00", "{label}: {held}");
        // A17: B's 300 three months running; A18: B's December meals with no meal day.
        let a17 = flags_of(&v, "A17");
        assert_eq!(a17.len(), 1, "{label}: {a17:?}");
        assert_eq!((a17[0]["school"].as_str(), a17[0]["month"].as_str()), (Some(SCHOOL_B), Some("2014-11")), "{label}");
        let a18 = flags_of(&v, "A18");
        assert_eq!(a18.len(), 1, "{label}: the spending two days after a meal day is silent: {a18:?}");
        assert_eq!((a18[0]["school"].as_str(), a18[0]["month"].as_str()), (Some(SCHOOL_B), Some("2014-12")), "{label}");
        // A20: 己追 recorded 31 days late, with October's money adjusted; 庚准's 30 days are silent.
        let a20 = flags_of(&v, "A20");
        assert_eq!(a20.len(), 1, "{label}: {a20:?}");
        assert_eq!(a20[0]["student_no"], no_of(id("己追")), "{label}");
        assert!(a20[0]["amount"].as_str().is_some_and(|a| a != "0.00"), "{label}: {a20:?}");
        // A21: 丁返 left and came back in the term; 戊转 was in transit, no churn.
        let a21 = flags_of(&v, "A21");
        assert_eq!(a21.len(), 1, "{label}: {a21:?}");
        assert_eq!(a21[0]["student_no"], no_of(id("丁返")), "{label}");
        // A22: far fewer than 500 amounts: no judgement.
        assert!(flags_of(&v, "A22").is_empty(), "{label}");

        // A09: October at the tolerance's edge is silent; November at half is short, and so is
        // the term it lies in.
        assert!(flags_of(&scan("2014-10", "A09").await, "A09").is_empty(), "{label}: October");
        let nov_v = scan("2014-11", "A09").await;
        let a09 = flags_of(&nov_v, "A09");
        assert_eq!(a09.len(), 1, "{label}: {nov_v}");
        assert_eq!(a09[0]["amount"], yuan(e_nov - nov_spend), "{label}: {a09:?}");
        // A16: at October's end the balance is above three months of October's spending; at
        // November's end it is not.
        let a16 = flags_of(&scan("2014-10", "A16").await, "A16").len();
        let oct_balance = 120_000 - oct_spend;
        assert_eq!(a16, usize::from(oct_balance > 3 * oct_spend), "{label}: balance {oct_balance}, spent {oct_spend}");
        assert!(flags_of(&scan("2014-11", "A16").await, "A16").is_empty(), "{label}");

        // December's purchases make the term good: November alone is short, its term is not.
        let extra = (9 * (e_oct + e_nov) + 9) / 10 - oct_spend - nov_spend;
        post(&school, "expenditure", SCHOOL_A, "", yuan(extra), "2014-12-20", "ZC-4").await;
        assert!(flags_of(&scan("2014-11", "A09").await, "A09").is_empty(), "{label}: corrected in December");
        let dec = scan("2014-12", "A18").await;
        assert_eq!(
            flags_of(&dec, "A18").len(),
            2,
            "{label}: B's December meals and A's purchase three weeks after the last meal day: {dec}"
        );

        // Thresholds: the county asks for two schools per guardian and allows 200 % growth.
        for (rule, threshold) in [("A11", "2"), ("A10", "200")] {
            settings::set(
                &mut w.conn(),
                &cli,
                &Change { rule: rule.into(), threshold: Some(threshold.into()), severity: None, note: "测试".into() },
            )
            .expect("set");
        }
        let v = scan("2014-1", "A10,A11").await;
        assert!(flags_of(&v, "A10").is_empty(), "{label}: 86 % is within 200 %");
        let a11 = flags_of(&v, "A11");
        assert_eq!(a11.len(), 2, "{label}: at both schools: {a11:?}");
        assert!(a11.iter().all(|f| !f["message"].as_str().unwrap_or("").contains("198001010012")), "{label}: masked");

        // A13: A is moved into the county seat: paid without being taken in as such.
        diesel::update(schools::table.find(org_id(&w, SCHOOL_A)))
            .set(schools::in_county_seat.eq(true))
            .execute(&mut w.conn())
            .expect("seat");
        let a13 = flags_of(&scan("2014-1", "A13").await, "A13").len();
        assert_eq!(a13, 2, "{label}: October and November");
        diesel::update(programme_schools::table.filter(programme_schools::school_id.eq(org_id(&w, SCHOOL_A))))
            .set(programme_schools::seat_included.eq(true))
            .execute(&mut w.conn())
            .expect("included");
        assert!(flags_of(&scan("2014-1", "A13").await, "A13").is_empty(), "{label}: taken in as a county-seat school");

        // A08: signed on the deadline and archived 30 days later is in time; a day later is not.
        let at = |s: &str| d(s).and_hms_opt(2, 0, 0).expect("t");
        diesel::update(rosters::table)
            .set((rosters::signed_at.eq(at("2014-09-15")), rosters::archived_at.eq(at("2014-10-15"))))
            .execute(&mut w.conn())
            .expect("signed");
        assert!(flags_of(&scan("2014-1", "A08").await, "A08").is_empty(), "{label}: in time");
        diesel::update(rosters::table)
            .set(rosters::archived_at.eq(at("2014-10-16")))
            .execute(&mut w.conn())
            .expect("late");
        let a08 = scan("2014-1", "A08").await;
        assert!(flags_of(&a08, "A08")[0]["message"].as_str().unwrap_or("").contains("才备案"), "{label}: {a08}");
    }
}

/// Stored flags on both databases: the school explains, the county rejects and then accepts, an
/// inspector dismisses a false alarm; a corrected record closes its flag by itself (after any
/// audited change, on the next look), a recurring one opens again, each step in its history.
/// Thresholds and severities are set by the right level only, in range, with a reason.
#[actix_web::test]
async fn flags_are_answered_decided_and_close_themselves_when_the_data_is_corrected() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "shengyyb", "520000", "nutrition_office");
        let app = test::init_service(mealroll::app::app(w.state())).await;
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
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/2014-10"))
                .set_json(json!({"days": "8-10,13-17,20-24,27-31"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let mut ids = Vec::new();
        for (name, body, birth) in
            [("孙校验", "52232620080101011", "2008-01-01"), ("李大龄", "52232620030901007", "2003-09-01")]
        {
            let mut rec = student(name, body, birth, "男");
            rec["entry_ym"] = json!("201409");
            rec["enrolled_on"] = json!("2014-09-01");
            rec["backdate_reason"] = json!("测试：2014年秋季入学");
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
        let (bad_id, old) = (ids[0], ids[1]);
        let good: String = at_rest::open::<at_rest::IdNo>(
            &students::table
                .find(bad_id)
                .select(students::id_no_sealed)
                .first::<Option<String>>(&mut w.conn())
                .expect("id")
                .expect("no"),
        )
        .expect("opens");
        let wrong = format!("{}{}", &good[..17], if good.ends_with('0') { '1' } else { '0' });
        let set_id = |v: &str| {
            set_id_no(&mut w.conn(), bad_id, v);
        };
        set_id(&wrong);
        entitlement::compute(&mut w.conn(), &w.caller("yyb"), SCHOOL_A, Month::parse("2014-10").expect("m"))
            .expect("october");

        // The inspector's list scans the county's term first: A07 and A12 are open.
        let list = |who: &'static str, query: &'static str| {
            let app = &app;
            let h = bearer(&w, who);
            async move {
                let (s, v) =
                    call(app, test::TestRequest::get().uri(&format!("/api/v1/anomaly-flags?term=2014-1{query}")), &h)
                        .await;
                assert_eq!(s, 200, "{v}");
                v
            }
        };
        let v = list("ducha", "&all=1").await;
        let of = |v: &Value, rule: &str| -> Value {
            v["flags"].as_array().expect("flags").iter().find(|f| f["rule"] == rule).cloned().unwrap_or(Value::Null)
        };
        let (a12, a07) = (of(&v, "A12"), of(&v, "A07"));
        assert_eq!((a12["state"].as_str(), a07["state"].as_str()), (Some("open"), Some("open")), "{label}: {v}");
        let (a12_id, a07_id) = (a12["id"].as_i64().expect("id"), a07["id"].as_i64().expect("id"));
        let act = |who: &'static str, id: i64, action: &'static str, note: &'static str| {
            let app = &app;
            let h = bearer(&w, who);
            async move {
                call(
                    app,
                    test::TestRequest::post()
                        .uri(&format!("/api/v1/anomaly-flags/{id}"))
                        .set_json(json!({"action": action, "note": note})),
                    &h,
                )
                .await
            }
        };
        // The school explains (a reason is required); it cannot decide its own reason.
        let (s, e) = act("a.xiaozhang", a12_id, "explain", "  ").await;
        assert_eq!((s, e["error"].as_str()), (422, Some("flag.note")), "{label}: {e}");
        let (s, v) = act("a.xiaozhang", a12_id, "explain", "身份证号录入时末位输错，已申请更正").await;
        assert_eq!((s, v["state"].as_str()), (200, Some("explained")), "{label}: {v}");
        let (s, _) = act("a.xiaozhang", a12_id, "accept", "").await;
        assert_eq!(s, 403, "{label}: the school does not decide its own reason");
        let (s, _) = act("b.xiaozhang", a12_id, "explain", "别校").await;
        assert_eq!(s, 404, "{label}: another school's flag");
        // The county rejects, the school answers again, the county accepts.
        let (s, v) = act("yyb", a12_id, "reject", "请附户口簿复印件").await;
        assert_eq!((s, v["state"].as_str()), (200, Some("rejected")), "{label}: {v}");
        let (s, v) = act("a.xiaozhang", a12_id, "explain", "已附户口簿复印件").await;
        assert_eq!((s, v["state"].as_str()), (200, Some("explained")), "{label}: {v}");
        let (s, v) = act("yyb", a12_id, "accept", "").await;
        assert_eq!((s, v["state"].as_str()), (200, Some("accepted")), "{label}: {v}");
        let (s, e) = act("yyb", a12_id, "accept", "").await;
        assert_eq!((s, e["error"].as_str()), (409, Some("flag.state")), "{label}: {e}");
        // The inspector dismisses A07 as a false alarm.
        let (s, v) = act("ducha", a07_id, "dismiss", "已核实出生证明，确为大龄入学").await;
        assert_eq!((s, v["state"].as_str()), (200, Some("dismissed")), "{label}: {v}");

        // The number is corrected; the next look after any audited change rescans and closes A12.
        set_id(&good);
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/anomaly-rules")
                .set_json(json!({"rule": "A09", "threshold": "15", "note": "本县食堂规模小，放宽"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let v = list("ducha", "&all=1").await;
        assert_eq!(of(&v, "A12")["state"], "closed", "{label}: {v}");
        assert_eq!(of(&v, "A07")["state"], "dismissed", "{label}: a dismissal outlasts the rescan");
        assert!(of(&list("ducha", "").await, "A12").is_null(), "{label}: closed flags leave the to-do list");
        let (_, one) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/anomaly-flags/{a12_id}")), &bearer(&w, "ducha"))
                .await;
        let steps: Vec<&str> =
            one["history"].as_array().expect("history").iter().filter_map(|s| s["to"].as_str()).collect();
        assert_eq!(
            steps,
            ["待处理", "学校已说明", "说明未采纳", "学校已说明", "说明已采纳", "已消除"],
            "{label}: {one}"
        );
        // Mistyped again: the flag opens again, with its history.
        set_id(&wrong);
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/anomaly-flags/refresh")
                .set_json(json!({"org": COUNTY, "term": "2014-1"})),
            &bearer(&w, "ducha"),
        )
        .await;
        assert_eq!((s, v["result"]["recurred"].as_u64()), (200, Some(1)), "{label}: {v}");
        assert_eq!(of(&list("a.xiaozhang", "").await, "A12")["state"], "open", "{label}: the school sees it again");
        let _ = old;

        // Settings: a county's threshold in range with a reason; severity is the province's.
        let set = |who: &'static str, body: Value| {
            let app = &app;
            let h = bearer(&w, who);
            async move { call(app, test::TestRequest::post().uri("/api/v1/anomaly-rules").set_json(body), &h).await }
        };
        for (body, code) in [
            (json!({"rule": "A09", "threshold": "60", "note": "x"}), "anomaly.threshold"),
            (json!({"rule": "A99", "threshold": "5", "note": "x"}), "anomaly.rule"),
            (json!({"rule": "A01", "threshold": "5", "note": "x"}), "anomaly.no_threshold"),
            (json!({"rule": "A09", "threshold": "20", "note": ""}), "anomaly.reason"),
            (json!({"rule": "A07", "severity": "block", "note": "x"}), "anomaly.severity_level"),
        ] {
            let (s, e) = set("yyb", body.clone()).await;
            assert_eq!((s, e["error"].as_str()), (422, Some(code)), "{label}: {body} {e}");
        }
        let (s, _) = set("ducha", json!({"rule": "A09", "threshold": "20", "note": "x"})).await;
        assert_eq!(s, 403, "{label}: an inspector reads the rules, never sets them");
        let (s, v) = set("shengyyb", json!({"rule": "A07", "severity": "block", "note": "冒名学籍多发"})).await;
        assert_eq!(s, 201, "{label}: {v}");
        let (_, scan) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/anomalies?org={COUNTY}&period=2014-10&rules=A07")),
            &bearer(&w, "ducha"),
        )
        .await;
        assert_eq!(flags_of(&scan, "A07")[0]["severity"], "block", "{label}: the province's severity: {scan}");
        let (_, rules) = call(&app, test::TestRequest::get().uri("/api/v1/anomaly-rules"), &yyb).await;
        let a09 = rules["rules"].as_array().expect("rules").iter().find(|r| r["code"] == "A09").cloned().expect("A09");
        assert_eq!((a09["threshold"].as_str(), a09["default_threshold"].as_str()), (Some("15"), Some("10")), "{label}");
        assert_eq!(
            rules["history"].as_array().map(Vec::len),
            Some(2),
            "{label}: the county's and the province's: {rules}"
        );

        // The pages: the list, one flag with the school's answer form, the rules.
        let page = |who: &'static str, uri: String| {
            let app = &app;
            let token = w.token(who);
            async move {
                let r = test::call_service(
                    app,
                    test::TestRequest::get()
                        .uri(&uri)
                        .insert_header((actix_web::http::header::COOKIE, format!("mealroll_session={token}")))
                        .to_request(),
                )
                .await;
                (r.status().as_u16(), body_text(r).await)
            }
        };
        let (s, html) = page("ducha", format!("/inspections?org={COUNTY}&term=2014-1&all=1")).await;
        assert!(s == 200 && html.contains("误报已排除") && html.contains("待处理"), "{label}: {s}");
        let (s, html) = page("a.xiaozhang", format!("/inspections/flags/{a12_id}")).await;
        assert!(s == 200 && html.contains("value=\"explain\"") && !html.contains("value=\"accept\""), "{label}: {s}");
        let (s, html) = page("yyb", "/inspections/rules".into()).await;
        assert!(s == 200 && html.contains("本县食堂规模小") && html.contains("rule-form"), "{label}: {s}");
    }
}

/// Spot checks on both databases: the same seed on the same data draws the same sample byte for
/// byte (the fixed JSON shape), a plan keeps it with the data's hash, the visit sheet prints the
/// drawn children, and bad requests are refused in Chinese with nothing kept.
#[actix_web::test]
async fn a_sample_drawn_with_a_seed_is_drawn_again_the_same_and_kept_as_a_plan() {
    use mealroll::db::schema::inspection_plans;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
        for school in [SCHOOL_A, SCHOOL_B] {
            let (s, v) = call(
                &app,
                test::TestRequest::post()
                    .uri("/api/v1/programme/schools")
                    .set_json(json!({"school": school, "from_date": "2011-09-01"})),
                &yyb,
            )
            .await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        let mut ids = Vec::new();
        for (i, school) in [SCHOOL_A, SCHOOL_A, SCHOOL_A, SCHOOL_B, SCHOOL_B].iter().enumerate() {
            let name = ["甲一", "甲二", "甲三", "乙一", "乙二"][i];
            let mut rec = student(name, &format!("52232620080101{:03}", 101 + 2 * i), "2008-01-01", "男");
            rec["entry_ym"] = json!("201409");
            rec["enrolled_on"] = json!("2014-09-01");
            rec["backdate_reason"] = json!("测试：2014年秋季入学");
            let registrar = if *school == SCHOOL_A { "a.xueji" } else { "b.xueji" };
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri(&format!("/api/v1/schools/{school}/students")).set_json(rec),
                &bearer(&w, registrar),
            )
            .await;
            assert_eq!(s, 201, "{label}: {v}");
            ids.push(v["id"].as_i64().expect("id"));
        }
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": ids})), &yyb)
                .await;
        assert_eq!(s, 200, "{label}: {v}");

        if let Some(path) = w.db.sqlite_path() {
            let run = |extra: &[&str]| {
                let mut args = vec!["--db".to_owned(), format!("sqlite://{path}"), "inspect".into(), "sample".into()];
                args.extend(["--org", COUNTY, "--period", "2014-1", "--json"].map(str::to_owned));
                args.extend(extra.iter().map(|s| (*s).to_owned()));
                common::mealroll_cmd().args(args).output().expect("run")
            };
            let a = run(&["--schools", "2", "--students", "2", "--seed", "42"]);
            assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
            let b = run(&["--schools", "2", "--students", "2", "--seed", "42"]);
            assert_eq!(a.stdout, b.stdout, "{label}: the same seed, the same bytes");
            let v: Value = serde_json::from_slice(&a.stdout).expect("json");
            assert_eq!((v["seed"].as_u64(), v["method"].as_str()), (Some(42), Some("mixed")), "{label}: {v}");
            let schools = v["schools"].as_array().expect("schools");
            assert_eq!(schools.len(), 2, "{label}");
            for s in schools {
                assert!(s.get("school").is_some() && s.get("risk").is_some(), "{label}: {s}");
                assert_eq!(s["students"].as_array().map(Vec::len), Some(2), "{label}: two children each: {s}");
                assert!(s["students"][0].as_str().is_some_and(|n| n.starts_with('G') && !n.contains('*')), "{label}");
            }
            // Mixed at 60 % of two schools: two by risk (each with a score), none at random.
            assert!(schools.iter().all(|s| s["risk"].is_number()), "{label}: {v}");
            let random = run(&["--schools", "2", "--students", "2", "--seed", "42", "--method", "random"]);
            let r: Value = serde_json::from_slice(&random.stdout).expect("json");
            assert!(r["schools"].as_array().expect("schools").iter().all(|s| s["risk"].is_null()), "{label}: {r}");
            for (extra, words) in [
                (["--schools", "3", "--students", "2", "--seed", "42"], "超过总体的2所"),
                (["--schools", "2", "--students", "2", "--seed", "abc"], "随机种子“abc”"),
            ] {
                let out = run(&extra);
                assert!(!out.status.success(), "{label}: {extra:?}");
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains(words),
                    "{label}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }

        // A plan: the inspector draws and keeps it; the county cannot draw; a school cannot see.
        let ducha = bearer(&w, "ducha");
        let body =
            json!({"org": COUNTY, "term": "2014-1", "schools": "2", "students": "1", "seed": "7", "method": "risk"});
        let (s, e) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/inspection-plans")
                .set_json(json!({"org": COUNTY, "term": "2014-1", "schools": "9", "students": "1", "seed": "7"})),
            &ducha,
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (422, Some("sample.size")), "{label}: {e}");
        let plans = || inspection_plans::table.count().get_result::<i64>(&mut w.conn()).expect("count");
        assert_eq!(plans(), 0, "{label}: nothing kept");
        let (s, _) =
            call(&app, test::TestRequest::post().uri("/api/v1/inspection-plans").set_json(body.clone()), &yyb).await;
        assert_eq!(s, 403, "{label}: only an inspector draws");
        let (s, v) = call(&app, test::TestRequest::post().uri("/api/v1/inspection-plans").set_json(body), &ducha).await;
        assert_eq!(s, 201, "{label}: {v}");
        let id = v["id"].as_i64().expect("id");
        assert_eq!(v["data_hash"].as_str().map(str::len), Some(64), "{label}");
        let (s, plan) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/inspection-plans/{id}")), &ducha).await;
        assert_eq!((s, plan["seed"].as_str()), (200, Some("7")), "{label}: {plan}");
        let visit = &plan["visits"][0];
        let child = visit["children"][0]["name"].as_str().expect("child").to_owned();
        assert!(
            visit["children"][0]["student_no"].as_str().is_some_and(|n| n.contains('*')),
            "{label}: masked in the API"
        );
        let (s, _) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/inspection-plans/{id}")),
            &bearer(&w, "a.xiaozhang"),
        )
        .await;
        assert_eq!(s, 404, "{label}: a school does not see who will be checked");
        // The visit sheet prints the school, the checklist and the drawn child.
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/inspections/plans/{id}/visits/{}/sheet.pdf", visit["id"]))
                .insert_header((actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("ducha"))))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let pdf = test::read_body(r).await;
        if let Ok(dir) = std::env::var("MEALROLL_SCREENSHOT_DIR") {
            std::fs::write(std::path::Path::new(&dir).join("visit-sheet.pdf"), &pdf).expect("keep the sheet");
        }
        let text = pdftool("pdftotext", &pdf, &["-layout"]);
        for words in [
            visit["school_name"].as_str().unwrap_or("?"),
            "现场核查表",
            "索证索票",
            "陪餐",
            child.as_str(),
            "差异达10%",
        ] {
            assert!(text.contains(words), "{label}: {words} in {text}");
        }

        // The visit: the school says 110 ate, the inspector counts 100: a finding by itself.
        let visit_id = visit["id"].as_i64().expect("visit");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/inspection-visits/{visit_id}")).set_json(json!({
                "visited_on": "2014-11-05", "meals_school": "110", "meals_counted": "100", "note": "午餐",
                "children": [{"seq": 1, "present": true, "in_class": true, "eats_here": true, "guardian_confirms": true}]})),
            &ducha,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let recount = v["finding"].as_i64().expect("a recount finding");
        let (s, e) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/inspection-visits/{visit_id}"))
                .set_json(json!({"visited_on": "2014-11-05"})),
            &ducha,
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (409, Some("visit.recorded")), "{label}: once");
        // The plan offers recording exactly when the service takes it: to the inspector while the
        // visit is planned, to nobody once it is recorded.
        assert_eq!(visit["may_record"], json!(true), "{label}: offered to the inspector before the visit");
        assert_eq!(visit["status"], json!("planned"), "{label}");
        for who in ["ducha", "yyb"] {
            let (s, after) =
                call(&app, test::TestRequest::get().uri(&format!("/api/v1/inspection-plans/{id}")), &bearer(&w, who))
                    .await;
            assert_eq!(s, 200, "{label}: {who} reads the plan");
            let this = after["visits"].as_array().and_then(|vs| vs.iter().find(|v| v["id"] == visit["id"]));
            let this = this.expect("the visit");
            assert_eq!((&this["status"], &this["may_record"]), (&json!("visited"), &json!(false)), "{label}: {who}");
        }
        // Its report, for the county too: the recount, the child checked (number masked), the finding.
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/inspections/plans/{id}/visits/{visit_id}/report.pdf"))
                .insert_header((actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("yyb"))))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let pdf = test::read_body(r).await;
        if let Ok(dir) = std::env::var("MEALROLL_SCREENSHOT_DIR") {
            std::fs::write(std::path::Path::new(&dir).join("visit-report.pdf"), &pdf).expect("keep the report");
        }
        let text = pdftool("pdftotext", &pdf, &["-layout"]);
        let masked = visit["children"][0]["student_no"].as_str().unwrap_or("?");
        for words in [
            "现场核查报告",
            visit["school_name"].as_str().unwrap_or("?"),
            "学校自报 110 人次，现场清点 100 人次，差异 10%",
            &format!("问题 {recount}："),
            "核查日期：2014-11-05",
            child.as_str(),
            masked,
            "抽查学生 1 人，核对有误 0 人",
        ] {
            assert!(text.contains(words), "{label}: {words} in {text}");
        }

        // A finding needs its school and its evidence; nothing is kept without them.
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR photo");
        let finding = |body: Value| {
            let app = &app;
            let h = bearer(&w, "ducha");
            async move { call(app, test::TestRequest::post().uri("/api/v1/findings").set_json(body), &h).await }
        };
        let base = json!({"school": SCHOOL_A, "term": "2014-1", "rule": "A05", "description": "食堂就餐登记虚增", "amount": "36.00"});
        let (s, e) = finding(base.clone()).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("finding.evidence")), "{label}: {e}");
        let mut no_school = base.clone();
        no_school["school"] = json!("");
        no_school["evidence"] = json!([{"filename": "食堂.png", "base64": png}]);
        let (s, e) = finding(no_school).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("finding.school")), "{label}: {e}");
        let mut good = base.clone();
        good["evidence"] = json!([{"filename": "食堂.png", "base64": png}]);
        let (s, v) = finding(good).await;
        assert_eq!(s, 201, "{label}: {v}");
        let fid = v["id"].as_i64().expect("id");
        // The county sets the rectification; the school answers; the recorder cannot close it;
        // a second inspector does.
        let step = |who: &'static str, body: Value| {
            let app = &app;
            let h = bearer(&w, who);
            async move {
                call(app, test::TestRequest::post().uri(&format!("/api/v1/findings/{fid}/step")).set_json(body), &h)
                    .await
            }
        };
        let (s, e) =
            step("yyb", json!({"step": "rectify", "text": "核减虚增人次并退回资金", "deadline": "2014-12-01"})).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("finding.deadline")), "{label}: a deadline in the past: {e}");
        let (s, e) = step("a.xiaozhang", json!({"step": "answer", "text": "已整改"})).await;
        assert_eq!((s, e["error"].as_str()), (409, Some("finding.status")), "{label}: nothing to answer yet: {e}");
        let (s, v) =
            step("yyb", json!({"step": "rectify", "text": "核减虚增人次并退回资金", "deadline": "2099-12-31"})).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("rectifying")), "{label}: {v}");
        let (s, v) = step("a.xiaozhang", json!({"step": "answer", "text": "已核减并退回36.00元"})).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("answered")), "{label}: {v}");
        let (s, e) = step("ducha", json!({"step": "verify", "text": ""})).await;
        assert_eq!((s, e["error"].as_str()), (409, Some("finding.status")), "{label}: not one's own: {e}");
        add_user(&w, "ducha2", COUNTY, "inspector");
        let (s, v) = step("ducha2", json!({"step": "verify", "text": "已复核"})).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("verified")), "{label}: {v}");
        let (s, e) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/findings/{fid}/link"))
                .set_json(json!({"kind": "status", "target": "999"})),
            &ducha,
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (422, Some("finding.link")), "{label}: {e}");
        let (s, _) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/findings/{fid}")), &bearer(&w, "b.xiaozhang"))
                .await;
        assert_eq!(s, 404, "{label}: another school's finding");

        // A plan drawn at random feeds the measured error rate: one child of those drawn not there.
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/inspection-plans").set_json(
                json!({"org": COUNTY, "term": "2014-1", "schools": "1", "students": "2", "seed": "11", "method": "random"}),
            ),
            &ducha,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let (_, plan) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/inspection-plans/{}", v["id"])), &ducha).await;
        let rv = plan["visits"][0]["id"].as_i64().expect("visit");
        let (s, e) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/inspection-plans/{}/visits/{rv}/report.pdf", v["id"])),
            &ducha,
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (409, Some("visit.not_recorded")), "{label}: no report before the visit");
        let n = plan["visits"][0]["children"].as_array().map_or(0, Vec::len);
        let children: Vec<Value> = (1..=n)
            .map(|seq| json!({"seq": seq, "present": seq != 1, "in_class": true, "eats_here": true, "guardian_confirms": true}))
            .collect();
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/inspection-visits/{rv}"))
                .set_json(json!({"visited_on": "2014-11-06", "children": children})),
            &ducha,
        )
        .await;
        assert_eq!((s, v["finding"].clone()), (200, Value::Null), "{label}: no recount, no finding: {v}");
        let (_, sum) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/findings?org={COUNTY}&term=2014-1")), &ducha)
                .await;
        let summary = &sum["summary"];
        assert_eq!((summary["findings"].as_u64(), summary["closed"].as_u64()), (Some(2), Some(1)), "{label}: {sum}");
        assert_eq!(
            (summary["random_children"].as_u64(), summary["random_errors"].as_u64()),
            (Some(n as u64), Some(1)),
            "{label}: {summary}"
        );
        assert!(
            summary["error_rate"][0].as_f64().is_some_and(|p| (p - 1.0 / n as f64).abs() < 1e-9),
            "{label}: {summary}"
        );
        assert!(
            sum["findings"].as_array().expect("list").iter().any(|f| f["id"] == recount && f["rule"] == "visit"),
            "{label}"
        );
        // Next term's risk list remembers them: school A was found wanting in the autumn.
        let (s, risk) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/risk?org={COUNTY}&term=2014-2")), &ducha).await;
        assert_eq!(s, 200, "{label}: {risk}");
        let a =
            risk["schools"].as_array().expect("schools").iter().find(|r| r["school"] == SCHOOL_A).cloned().expect("A");
        assert!(a["past_findings"].as_u64().is_some_and(|n| n >= 1), "{label}: {a}");
        assert!(a["reasons"].to_string().contains("往期督查问题"), "{label}: {a}");
    }
}

/// The demo county on both databases: each problem it plants is flagged under its rule, no other
/// school carries a flag, and its inspection plan has findings in every state.
#[actix_web::test]
async fn the_demo_s_planted_problems_are_flagged_and_its_clean_schools_are_not() {
    use mealroll::domain::calendar::Span;
    use mealroll::domain::term::Term;
    use std::collections::{BTreeMap, BTreeSet};
    for (db, demo) in TestDb::demos() {
        let label = db.label;
        let w = World::bare(db);
        let s = &demo.schools;
        let today = mealroll::clock::today();
        // The demo's year of money: the twelve months before this one, by term.
        let mut m = Month::of(today);
        let mut terms = BTreeSet::new();
        for _ in 0..12 {
            m = m.prev();
            terms.insert(Term::of_day(m.first_day()).to_string());
        }
        terms.insert(Term::of_day(today).to_string());
        let cli = mealroll::auth::Caller::cli(&mut w.conn()).expect("cli");
        let mut found: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
        for t in &terms {
            let span = Span::parse(t).expect("term");
            let scan = mealroll::inspection::scan::scan(&mut w.conn(), &cli, mealroll::demo::COUNTY, &span, &[])
                .expect("scan");
            for f in scan.flags {
                found.entry(f.school).or_default().insert(f.rule);
            }
        }
        let (frugal, inflating) = (&s[2], &s[3]);
        let autumn = Term::new(mealroll::domain::key_lock::school_year_of(today), 1).expect("term");
        let late_rosters: Vec<&String> = if today > mealroll::domain::roster::deadline(autumn) {
            s.iter().enumerate().filter(|(i, _)| i % 6 >= 4).map(|(_, c)| c).collect()
        } else {
            Vec::new()
        };
        // What each planted school must show, and the most it may show.
        let mut must: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut may: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        must.insert(frugal, vec!["A09"]);
        may.insert(frugal, vec!["A09"]);
        must.insert(inflating, vec!["A05", "A15"]);
        // The late money arrives in the holiday and is spent there (A18).
        may.insert(inflating, vec!["A05", "A15", "A18"]);
        for c in &late_rosters {
            must.entry(c.as_str()).or_default().push("A08");
            may.entry(c.as_str()).or_default().push("A08");
        }
        // The daily records' plants: a class full every day, the same count for weeks, a return
        // above its days, a count above the children now on the roll.
        // And a roster archived in the old system without its signed scan; the canteen's: food
        // bought with no invoice, pork at 1.8 times the price, a kitchen taking three times the
        // meat per meal, chicken used before it came.
        for (i, rule) in [
            (0, "A24"),
            (1, "A25"),
            (4, "A23"),
            (5, "A26"),
            (6, "A29"),
            (7, "A30"),
            (8, "A19"),
            (9, "A27"),
            (13, "A28"),
        ] {
            must.entry(s[i].as_str()).or_default().push(rule);
            may.entry(s[i].as_str()).or_default().push(rule);
        }
        // Benford's test reads the demo's made-up amounts at county level: a prompt, no school's.
        may.insert(mealroll::demo::COUNTY, vec!["A22"]);
        for (school, rules) in &found {
            let allowed = may.get(school.as_str()).cloned().unwrap_or_default();
            for r in rules {
                assert!(allowed.contains(r), "{label}: {school} carries {r}, which the demo does not plant: {found:?}");
            }
        }
        for (school, rules) in &must {
            for r in rules {
                assert!(
                    found.get(*school).is_some_and(|f| f.contains(r)),
                    "{label}: {school} should carry {r}: {found:?}"
                );
            }
        }
        // Its inspection plan: findings in every state.
        let states: BTreeSet<String> = mealroll::db::schema::findings::table
            .select(mealroll::db::schema::findings::status)
            .load::<String>(&mut w.conn())
            .expect("findings")
            .into_iter()
            .collect();
        assert_eq!(states.len(), 4, "{label}: {states:?}");
        // One overdue, one recovered from the inflating school: the summary counts both.
        let sum = mealroll::inspection::summary::of(&mut w.conn(), &cli, mealroll::demo::COUNTY, Term::of_day(today))
            .expect("summary");
        assert_eq!((sum.overdue, sum.recovered.to_string()), (1, "360.00".to_owned()), "{label}");
        assert_eq!((sum.schools_planned, sum.schools_visited), (4, 1), "{label}");
    }
}
