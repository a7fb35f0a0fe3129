//! Status changes (学籍异动) on both databases: each kind through its chain, transfers within and
//! across counties with refusals and timeouts, the timeline and the eligibility function on the
//! days around each effective date, and the refusals that must leave nothing changed.

use crate::common;

use actix_web::test;
use chrono::{Datelike, Days, NaiveDate};
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{status_change_steps, status_changes, student_spells, students};
use serde_json::{Value, json};

fn today() -> NaiveDate {
    mealroll::clock::today()
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn eligible(w: &World, school: &str, day: NaiveDate) -> Vec<i64> {
    let mut conn = w.conn();
    let id: i64 = {
        use mealroll::db::schema::orgs;
        orgs::table.filter(orgs::code.eq(school)).select(orgs::id).first(&mut conn).expect("school")
    };
    mealroll::registry::timeline::eligible_at(&mut conn, id, day).expect("eligible")
}

/// (state, school code, first day, last day or None) of each spell.
fn spells(w: &World, student: i64) -> Vec<(String, String, NaiveDate, Option<NaiveDate>)> {
    use mealroll::db::schema::orgs;
    student_spells::table
        .inner_join(orgs::table.on(orgs::id.eq(student_spells::school_id)))
        .filter(student_spells::student_id.eq(student))
        .select((student_spells::state, orgs::code, student_spells::from_date, student_spells::to_date))
        .order(student_spells::from_date.asc())
        .load::<(String, String, NaiveDate, Option<NaiveDate>)>(&mut w.conn())
        .expect("spells")
        .into_iter()
        .map(|(s, c, f, t)| (s, c, f, t.and_then(|d| d.pred_opt())))
        .collect()
}

fn change_count(w: &World) -> i64 {
    status_changes::table.count().get_result(&mut w.conn()).expect("count")
}

async fn decide<S, B>(app: &S, w: &World, user: &str, id: i64, approve: bool, note: &str) -> (u16, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    call(
        app,
        test::TestRequest::post()
            .uri(&format!("/api/v1/status-changes/{id}/decision"))
            .set_json(json!({"approve": approve, "note": note})),
        &bearer(w, user),
    )
    .await
}

#[actix_web::test]
async fn suspension_resumption_and_the_days_around_them() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (id, _) = enrolled(&app, &w, SCHOOL_A, "韦小宝", "52232620190101001").await;
        assert_eq!(spells(&w, id), vec![("at_school".into(), SCHOOL_A.into(), entry_day(), None)], "{label}");

        let off = today() - Days::new(40);
        let back = today() - Days::new(10);
        let a = bearer(&w, "a.xueji");
        let req = |kind: &str, day: NaiveDate| {
            test::TestRequest::post().uri(&format!("/api/v1/students/{id}/status-changes")).set_json(json!({
                "kind": kind, "effective_date": ymd(day), "reason": "因病住院治疗",
            }))
        };
        // Dated before enrolment: refused, nothing stored.
        let (s, v) = call(&app, req("11", entry_day() - Days::new(1)), &a).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("change.effective_date")), "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or("").contains("入学日期"), "{v}");
        assert_eq!(change_count(&w), 0);

        let (s, v) = call(&app, req("11", off), &a).await;
        assert_eq!(s, 201, "{label}: {v}");
        let change = v["id"].as_i64().expect("id");
        assert_eq!(v["current_step"]["label"], "学校审核");
        assert_eq!(v["steps"].as_array().map(Vec::len), Some(3));

        // The county is not the school's review step: refused and audited, nothing moves.
        let (s, v) = decide(&app, &w, "yyb", change, true, "").await;
        assert_eq!((s, v["error"].as_str()), (403, Some("change.not_your_step")), "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or("").contains("校长"), "{v}");
        assert_eq!(audit_count(&mut w.conn(), "access.denied"), 1, "{label}: the refusal is audited");
        let (s, v) = decide(&app, &w, "a.xiaozhang", change, true, "同意").await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["current_step"]["label"], "县级教育行政部门复核");
        // Not yet in effect: still eligible on the effective day.
        assert!(eligible(&w, SCHOOL_A, off).contains(&id), "{label}");
        let (s, v) = decide(&app, &w, "yyb", change, true, "").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{label}: {v}");
        assert!(eligible(&w, SCHOOL_A, off - Days::new(1)).contains(&id));
        assert!(!eligible(&w, SCHOOL_A, off).contains(&id));

        // Suspended: no second suspension, no transfer, nothing changed by either.
        let (s, v) = call(&app, req("11", back), &a).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("change.wrong_state")), "{v}");
        let no = common::student_no_of(&mut w.conn(), id);
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/transfers").set_json(json!({
                "student_no": no, "name": "韦小宝", "to_class_no": "202601",
                "effective_date": ymd(back), "reason": "随父母务工迁居",
            })),
            &bearer(&w, "b.xueji"),
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (409, Some("transfer.suspended")), "{label}: {v}");
        assert_eq!(change_count(&w), 1);

        // Resumption: school submits, county approves.
        let (s, v) = call(&app, req("12", back), &a).await;
        assert_eq!(s, 201, "{v}");
        let resume = v["id"].as_i64().expect("id");
        let (s, _) = decide(&app, &w, "yyb", resume, true, "").await;
        assert_eq!(s, 200);
        assert!(!eligible(&w, SCHOOL_A, back - Days::new(1)).contains(&id));
        assert!(eligible(&w, SCHOOL_A, back).contains(&id));
        assert_eq!(
            spells(&w, id),
            vec![
                ("at_school".into(), SCHOOL_A.into(), entry_day(), Some(off - Days::new(1))),
                ("suspended".into(), SCHOOL_A.into(), off, Some(back - Days::new(1))),
                ("at_school".into(), SCHOOL_A.into(), back, None),
            ],
            "{label}"
        );
        let (s, v) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{id}/timeline")), &a).await;
        assert_eq!(s, 200);
        assert_eq!(v["spells"].as_array().map(Vec::len), Some(3));
        assert_eq!(v["spells"][1]["state_label"], "休学");
        assert_eq!(v["changes"].as_array().map(Vec::len), Some(2));
        let (s, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/schools/{SCHOOL_A}/eligible?date={}", ymd(back))),
            &a,
        )
        .await;
        assert_eq!((s, v["count"].as_i64()), (200, Some(1)), "{v}");

        // A closed term takes no backdated change.
        let last_year = mealroll::domain::key_lock::school_year_of(today()) - 1;
        let spring = mealroll::domain::term::Term::new(last_year, 2).expect("term");
        let (start, end) = spring.customary_dates();
        let county = bearer(&w, "yyb");
        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/terms").set_json(json!({
                "term": spring.to_string(), "start_date": ymd(start), "end_date": ymd(end),
            })),
            &county,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/terms/close").set_json(json!({"term": spring.to_string()})),
            &county,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        // Closed once: no longer offered, and closing again (which would rewrite who closed it and
        // when) is refused.
        let (_, terms) = call(&app, test::TestRequest::get().uri("/api/v1/terms"), &county).await;
        let row = terms["terms"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["term"] == spring.to_string() && t["org_code"] == COUNTY))
            .unwrap_or_else(|| panic!("{label}: the county's term is listed: {terms}"));
        assert_eq!((row["closed"].as_bool(), row["closable"].as_bool()), (Some(true), Some(false)), "{label}: {row}");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/terms/close").set_json(json!({"term": spring.to_string()})),
            &county,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (409, Some("term.closed")), "{label}: {v}");
        let (other, _) = enrolled(&app, &w, SCHOOL_A, "韦小明", "52232620190101007").await;
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/students/{other}/status-changes")).set_json(json!({
                "kind": "休学", "effective_date": ymd(start + Days::new(10)), "reason": "因病",
            })),
            &a,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("change.term_closed")), "{label}: {v}");
        assert_eq!(change_count(&w), 2);
        assert_eq!(audit_count(&mut w.conn(), "status_change.apply"), 2);
    }
}

#[actix_web::test]
async fn kinds_that_end_a_place_and_the_ones_refused_in_compulsory_grades() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (id, _) = enrolled(&app, &w, SCHOOL_A, "韦小宝", "52232620190101001").await;
        let a = bearer(&w, "a.xueji");
        let day = today() - Days::new(5);
        let post = |body: Value| {
            test::TestRequest::post().uri(&format!("/api/v1/students/{id}/status-changes")).set_json(body)
        };
        for kind in ["31", "42"] {
            let (s, v) =
                call(&app, post(json!({"kind": kind, "effective_date": ymd(day), "reason": "违纪"})), &a).await;
            assert_eq!((s, v["error"].as_str()), (409, Some("change.compulsory")), "{label} {kind}: {v}");
            assert!(v["message"].as_str().unwrap_or("").contains("义务教育"), "{v}");
        }
        let (s, v) = call(&app, post(json!({"kind": "11", "effective_date": ymd(day), "reason": " "})), &a).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("change.reason_required")), "{v}");
        let (s, v) =
            call(&app, post(json!({"kind": "51", "effective_date": ymd(day), "reason": "溺水身亡"})), &a).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("change.evidence_required")), "{v}");
        assert_eq!(change_count(&w), 0, "{label}");

        // 转班: within the school, principal approves; the record's class follows.
        {
            let cli = mealroll::auth::Caller::cli(&mut w.conn()).expect("cli");
            mealroll::org::service::create_class(
                &mut w.conn(),
                &cli,
                SCHOOL_A,
                &mealroll::org::model::ClassInput {
                    class_no: "202602".into(),
                    grade: "1".into(),
                    entry_year: "2026".into(),
                    head_teacher_staff_no: "0001".into(),
                    ..Default::default()
                },
            )
            .expect("class");
        }
        let (s, v) = call(
            &app,
            post(json!({"kind": "29", "effective_date": ymd(day - Days::new(20)), "reason": "分班调整", "to_class_no": "202602"})),
            &a,
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = decide(&app, &w, "a.xiaozhang", v["id"].as_i64().expect("id"), true, "").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{v}");
        let (s, v) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{id}")), &a).await;
        assert_eq!(s, 200);
        assert_eq!(v["record"]["class_no"], "202602", "{label}");
        assert_eq!(v["class_name"], "一年级(2)班");

        // 死亡: with evidence, the county confirms; the place ends on the day.
        let pdf = base64_of(b"%PDF-1.4 death certificate");
        let (s, v) = call(
            &app,
            post(json!({"kind": "死亡", "effective_date": ymd(day), "reason": "溺水身亡",
                "evidence": {"filename": "死亡证明.pdf", "content_base64": pdf}})),
            &a,
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let death = v["id"].as_i64().expect("id");
        assert_eq!(v["has_evidence"], true);
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/status-changes/{death}/evidence"))
                .insert_header(a.clone())
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert!(test::read_body(r).await.starts_with(b"%PDF"));
        let (s, _) = decide(&app, &w, "yyb", death, true, "已核实").await;
        assert_eq!(s, 200);
        assert!(eligible(&w, SCHOOL_A, day - Days::new(1)).contains(&id));
        assert!(!eligible(&w, SCHOOL_A, day).contains(&id));
        let status: String = students::table.find(id).select(students::status).first(&mut w.conn()).expect("status");
        assert_eq!(status, "deceased");
        // Nothing further can happen to a deceased child.
        let (s, v) =
            call(&app, post(json!({"kind": "99", "effective_date": ymd(today()), "reason": "其他"})), &a).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("change.wrong_state")), "{label}: {v}");
    }
}

/// 99 其他 through its three steps, and 31 退学 where it is allowed: a senior-secondary class.
#[actix_web::test]
async fn other_and_withdrawal_in_senior_secondary_end_the_place() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (other, _) = enrolled(&app, &w, SCHOOL_A, "韦出国", "52232620190101001").await;
        let a = bearer(&w, "a.xueji");
        let day = today() - Days::new(4);
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/students/{other}/status-changes")).set_json(json!({
                "kind": "99", "effective_date": ymd(day), "reason": "随父母出国定居",
            })),
            &a,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let id = v["id"].as_i64().expect("id");
        for user in ["a.xiaozhang", "yyb"] {
            let (s, v) = decide(&app, &w, user, id, true, "").await;
            assert_eq!(s, 200, "{label}: {user}: {v}");
        }
        assert!(eligible(&w, SCHOOL_A, day - Days::new(1)).contains(&other));
        assert!(!eligible(&w, SCHOOL_A, day).contains(&other));
        let st: String = students::table.find(other).select(students::status).first(&mut w.conn()).expect("status");
        assert_eq!(st, "left");

        let cli = mealroll::auth::Caller::cli(&mut w.conn()).expect("cli");
        mealroll::org::service::create_class(
            &mut w.conn(),
            &cli,
            SCHOOL_A,
            &mealroll::org::model::ClassInput {
                class_no: "202401".into(),
                grade: "10".into(),
                entry_year: "2024".into(),
                ..Default::default()
            },
        )
        .expect("a senior-secondary class");
        let mut rec = student("韦高一", "52232620080101001", "2008-01-01", "男");
        rec["class_no"] = json!("202401");
        rec["entry_ym"] = json!(entry_day().format("%Y%m").to_string());
        rec["enrolled_on"] = json!(entry_day().to_string());
        rec["backdate_reason"] = json!("测试：两年前入学");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&rec),
            &a,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let senior = v["id"].as_i64().expect("id");
        let (s, _) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [senior]})),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 200);
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/students/{senior}/status-changes")).set_json(json!({
                "kind": "退学", "effective_date": ymd(day), "reason": "本人及监护人申请退学",
            })),
            &a,
        )
        .await;
        assert_eq!(s, 201, "{label}: withdrawal is allowed in grade 10: {v}");
        let id = v["id"].as_i64().expect("id");
        for user in ["a.xiaozhang", "yyb"] {
            let (s, v) = decide(&app, &w, user, id, true, "").await;
            assert_eq!(s, 200, "{label}: {user}: {v}");
        }
        assert_eq!(
            spells(&w, senior),
            vec![
                ("at_school".into(), SCHOOL_A.into(), entry_day(), Some(day - Days::new(1))),
                ("left".into(), SCHOOL_A.into(), day, None),
            ]
        );
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[actix_web::test]
async fn transfers_in_county_and_across_counties_with_refusal_and_timeout() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let day = today() - Days::new(15);
        let transfer = |no: &str, name: &str| {
            test::TestRequest::post().uri("/api/v1/transfers").set_json(json!({
                "student_no": no, "name": name, "to_class_no": "202601",
                "effective_date": ymd(day), "reason": "随父母务工迁居",
            }))
        };

        // Within the county: B asks, A's principal and the county approve.
        let (s1, no1) = enrolled(&app, &w, SCHOOL_A, "韦小宝", "52232620190101001").await;
        let (s, v) = call(&app, transfer(&no1, "韦小宝"), &bearer(&w, "a.xueji")).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("transfer.same_school")), "{v}");
        let (s, v) = call(&app, transfer(&no1, "韦大宝"), &bearer(&w, "b.xueji")).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("transfer.student_not_found")), "{label}: {v}");
        let (s, v) = call(&app, transfer(&no1, "韦小宝"), &bearer(&w, "b.xueji")).await;
        assert_eq!(s, 201, "{label}: {v}");
        let t1 = v["id"].as_i64().expect("id");
        assert_eq!((v["route"].as_str(), v["in_transit"].as_bool()), (Some("in_county"), Some(true)));
        // In transit, seen from both schools and the county; on neither roll from the day.
        for user in ["a.xueji", "b.xueji", "yyb"] {
            let (s, v) =
                call(&app, test::TestRequest::get().uri("/api/v1/status-changes?show=in_transit"), &bearer(&w, user))
                    .await;
            assert_eq!(s, 200);
            assert!(v.as_array().expect("list").iter().any(|c| c["id"] == t1), "{label}: {user} sees the transfer");
        }
        let (s, v) =
            call(&app, test::TestRequest::get().uri("/api/v1/status-changes?show=in_transit"), &bearer(&w, "c.xueji"))
                .await;
        assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)), "another county's school sees nothing");
        assert!(eligible(&w, SCHOOL_A, day - Days::new(1)).contains(&s1));
        assert!(!eligible(&w, SCHOOL_A, day).contains(&s1));
        assert!(!eligible(&w, SCHOOL_B, day).contains(&s1));
        // A second transfer of the same child is refused while this one is open.
        let (s, v) = call(&app, transfer(&no1, "韦小宝"), &bearer(&w, "c.xueji")).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("transfer.already_open")), "{label}: {v}");
        // Not theirs to approve: the receiving registrar and the other county.
        for user in ["b.xueji", "yyb2"] {
            let (s, _) = decide(&app, &w, user, t1, true, "").await;
            assert!(s == 403 || s == 404, "{label}: {user} got {s}");
        }
        let (s, _) = decide(&app, &w, "a.xiaozhang", t1, true, "同意转出").await;
        assert_eq!(s, 200);
        let (s, v) = decide(&app, &w, "yyb", t1, true, "").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{v}");
        assert!(eligible(&w, SCHOOL_B, day).contains(&s1), "{label}");
        assert!(!eligible(&w, SCHOOL_A, day).contains(&s1));
        assert_eq!(
            spells(&w, s1),
            vec![
                ("at_school".into(), SCHOOL_A.into(), entry_day(), Some(day - Days::new(1))),
                ("at_school".into(), SCHOOL_B.into(), day, None),
            ]
        );
        let (s, _) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{s1}")), &bearer(&w, "b.xueji")).await;
        assert_eq!(s, 200, "the new school now holds the record");
        let (s, _) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{s1}")), &bearer(&w, "a.xueji")).await;
        assert_eq!(s, 404, "the old school no longer does");

        // Across counties, refused by the sending school: back at A as if it never left.
        let (s3, no3) = enrolled(&app, &w, SCHOOL_A, "韦三", "52232620190101003").await;
        let (s, v) = call(&app, transfer(&no3, "韦三"), &bearer(&w, "c.xueji")).await;
        assert_eq!(s, 201, "{v}");
        let t3 = v["id"].as_i64().expect("id");
        assert_eq!(v["route"], "cross_county");
        assert_eq!(v["current_step"]["label"], "转入地县级审核");
        let (s, _) = decide(&app, &w, "yyb2", t3, true, "").await;
        assert_eq!(s, 200);
        let (s, v) = decide(&app, &w, "a.xiaozhang", t3, false, "").await;
        assert_eq!((s, v["error"].as_str()), (422, Some("change.note_required")), "{v}");
        let (s, v) = decide(&app, &w, "a.xiaozhang", t3, false, "家长未同意转学").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("refused")), "{v}");
        assert!(eligible(&w, SCHOOL_A, day).contains(&s3), "{label}: refused transfer returns the child");
        assert_eq!(spells(&w, s3), vec![("at_school".into(), SCHOOL_A.into(), entry_day(), None)]);
        let (s, v) = decide(&app, &w, "yyb", t3, true, "").await;
        assert_eq!((s, v["error"].as_str()), (409, Some("change.closed")), "{v}");

        // Across counties, approved at every step.
        let (s, v) = call(&app, transfer(&no3, "韦三"), &bearer(&w, "c.xueji")).await;
        assert_eq!(s, 201, "{v}");
        let t4 = v["id"].as_i64().expect("id");
        for user in ["yyb2", "a.xiaozhang", "yyb"] {
            let (s, v) = decide(&app, &w, user, t4, true, "").await;
            assert_eq!(s, 200, "{label}: {user}: {v}");
        }
        assert!(eligible(&w, SCHOOL_C, day).contains(&s3));
        let county: String = students::table.find(s3).select(students::county_code).first(&mut w.conn()).expect("c");
        assert_eq!(county, OTHER_COUNTY);

        // Timeout: the sending principal sits on it; past the deadline it shows as overdue and the
        // county may decide in the school's place (escalation), which the step records.
        let (_, no5) = enrolled(&app, &w, SCHOOL_A, "韦五", "52232620190101005").await;
        let (s, v) = call(&app, transfer(&no5, "韦五"), &bearer(&w, "b.xueji")).await;
        assert_eq!(s, 201, "{v}");
        let t5 = v["id"].as_i64().expect("id");
        let (s, v) = decide(&app, &w, "yyb", t5, true, "").await;
        assert_eq!((s, v["error"].as_str()), (403, Some("change.not_your_step")), "not overdue yet: {v}");
        diesel::update(
            status_change_steps::table
                .filter(status_change_steps::change_id.eq(t5))
                .filter(status_change_steps::step_no.eq(2)),
        )
        .set(status_change_steps::due.eq(today() - Days::new(1)))
        .execute(&mut w.conn())
        .expect("age the step");
        let (s, v) =
            call(&app, test::TestRequest::get().uri("/api/v1/status-changes?show=overdue"), &bearer(&w, "yyb")).await;
        assert_eq!(s, 200);
        assert!(
            v.as_array().expect("list").iter().any(|c| c["id"] == t5 && c["current_step"]["overdue"] == true),
            "{v}"
        );
        let (s, v) =
            call(&app, test::TestRequest::get().uri("/api/v1/status-changes?show=mine"), &bearer(&w, "yyb")).await;
        assert!(
            s == 200 && v.as_array().expect("list").iter().any(|c| c["id"] == t5 && c["would_escalate"] == true),
            "{v}"
        );
        let (s, v) = decide(&app, &w, "yyb", t5, true, "学校逾期未办，县级代为审核").await;
        assert_eq!(s, 200, "{label}: {v}");
        assert_eq!(v["steps"][1]["escalated"], true);
        assert_eq!(v["current_step"]["label"], "县级教育行政部门审批");
        // The same person may not take a second step of the same change.
        let (s, v) = decide(&app, &w, "yyb", t5, true, "").await;
        assert_eq!((s, v["error"].as_str()), (409, Some("change.same_person")), "{v}");

        // A province-configured restriction: no transfer in grade 1.
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/transfer-restrictions")
                .set_json(json!({"grade": 1, "note": "起始年级"})),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let (_, no6) = enrolled(&app, &w, SCHOOL_A, "韦六", "52232620190101009").await;
        let before = change_count(&w);
        let (s, v) = call(&app, transfer(&no6, "韦六"), &bearer(&w, "b.xueji")).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("transfer.restricted")), "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or("").contains("一年级"), "{v}");
        assert_eq!(change_count(&w), before);
    }
}

#[actix_web::test]
async fn a_transfer_across_provinces_goes_through_both_provinces_offices() {
    use mealroll::auth::service::{self as accounts, NewUser};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        {
            let mut conn = w.conn();
            let cli = mealroll::auth::Caller::cli(&mut conn).expect("cli");
            mealroll::org::service::create_school(
                &mut conn,
                &cli,
                &mealroll::org::model::SchoolInput {
                    code: "2153010201".into(),
                    name: "昆明市五华区红云小学".into(),
                    parent_code: "530102".into(),
                    sponsor_type: "1".into(),
                    urban_rural: "111".into(),
                    school_type: "211".into(),
                    ..Default::default()
                },
            )
            .expect("school");
            mealroll::org::service::create_class(
                &mut conn,
                &cli,
                "2153010201",
                &mealroll::org::model::ClassInput {
                    class_no: "202601".into(),
                    grade: "1".into(),
                    entry_year: "2026".into(),
                    ..Default::default()
                },
            )
            .expect("class");
            for (user, org, role) in [
                ("km.xueji", "2153010201", "registrar"),
                ("wuhua", "530102", "nutrition_office"),
                ("yunnan", "530000", "nutrition_office"),
            ] {
                accounts::create_user(
                    &mut conn,
                    &w.keys,
                    &cli,
                    &NewUser {
                        username: user.into(),
                        display_name: user.into(),
                        org_code: org.into(),
                        roles: vec![role.into()],
                        password: Some(PASSWORD.into()),
                    },
                    mealroll::clock::now(),
                )
                .expect("user");
            }
        }
        let (id, no) = enrolled(&app, &w, SCHOOL_A, "韦小宝", "52232620190101001").await;
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/transfers").set_json(json!({
                "student_no": no, "name": "韦小宝", "to_class_no": "202601",
                "effective_date": ymd(today() - Days::new(3)), "reason": "随父母迁居昆明",
            })),
            &bearer(&w, "km.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let t = v["id"].as_i64().expect("id");
        assert_eq!(v["route"], "cross_province");
        let labels: Vec<&str> =
            v["steps"].as_array().expect("steps").iter().filter_map(|s| s["label"].as_str()).collect();
        assert!(labels.contains(&"转入地省级审核"), "{labels:?}");
        for user in ["wuhua", "yunnan", "a.xiaozhang", "yyb"] {
            let (s, v) = decide(&app, &w, user, t, true, "").await;
            assert_eq!(s, 200, "{label}: {user}: {v}");
        }
        assert!(eligible(&w, "2153010201", today() - Days::new(3)).contains(&id), "{label}");
        assert!(!eligible(&w, SCHOOL_A, today() - Days::new(3)).contains(&id));
    }
}

/// The pages: lists, detail with its chain, the decision form (CSRF), the settings page with
/// the configured chains, and the promotion preview with a clear error for a bad year.
#[actix_web::test]
async fn pages_show_the_chain_take_decisions_and_preview_promotion() {
    use actix_web::http::header;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (_, no) = enrolled(&app, &w, SCHOOL_A, "韦小宝", "52232620190101001").await;
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/transfers").set_json(json!({
                "student_no": no, "name": "韦小宝", "to_class_no": "202601",
                "effective_date": ymd(today() - Days::new(2)), "reason": "随父母迁居",
            })),
            &bearer(&w, "b.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_i64().expect("id");
        let page = |user: &str, uri: &str| {
            test::TestRequest::get()
                .uri(uri)
                .insert_header((header::COOKIE, format!("mealroll_session={}", w.token(user))))
                .to_request()
        };
        for user in ["a.xiaozhang", "b.xueji", "yyb"] {
            let html = body_text(test::call_service(&app, page(user, "/status-changes?show=in_transit")).await).await;
            assert!(html.contains("韦小宝") && html.contains("转学途中"), "{label}: {user} list");
        }
        let cookie = format!("mealroll_session={}", w.token("a.xiaozhang"));
        let html = body_text(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/status-changes/{id}"))
                    .insert_header((header::COOKIE, cookie.clone()))
                    .to_request(),
            )
            .await,
        )
        .await;
        assert!(html.contains("转出学校审核") && html.contains("decide-form"), "{label}: the principal may decide");
        let csrf = csrf_of(&html);
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/status-changes/{id}/decide"))
                .insert_header((header::COOKIE, cookie.clone()))
                .set_form([("csrf", csrf.as_str()), ("decision", "refuse"), ("note", "")])
                .to_request(),
        )
        .await;
        let status = r.status();
        let body = body_text(r).await;
        assert_eq!(status, 422, "{label}: a refusal needs a reason: {body}");
        assert!(body.contains("驳回时须填写理由"));
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/status-changes/{id}/decide"))
                .insert_header((header::COOKIE, cookie.clone()))
                .set_form([("csrf", "forged"), ("decision", "approve"), ("note", "")])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 403, "{label}: a forged token is refused");
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/status-changes/{id}/decide"))
                .insert_header((header::COOKIE, cookie.clone()))
                .set_form([("csrf", csrf.as_str()), ("decision", "approve"), ("note", "同意")])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        let html = body_text(test::call_service(&app, page("yyb", "/terms")).await).await;
        assert!(html.contains("转入学校提交转学申请") && html.contains("省内跨县转学"), "{label}: chains shown");
        let yyb = format!("mealroll_session={}", w.token("yyb"));
        let html = body_text(
            test::call_service(
                &app,
                test::TestRequest::get().uri("/promotions").insert_header((header::COOKIE, yyb.clone())).to_request(),
            )
            .await,
        )
        .await;
        let csrf = csrf_of(&html);
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/promotions")
                .insert_header((header::COOKIE, yyb.clone()))
                .set_form([("csrf", csrf.as_str()), ("org", COUNTY), ("school_year", "二〇二六"), ("mode", "preview")])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert!(body_text(r).await.contains("学年应为四位年份"));
        let year = mealroll::domain::key_lock::school_year_of(today()).to_string();
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/promotions")
                .insert_header((header::COOKIE, yyb))
                .set_form([
                    ("csrf", csrf.as_str()),
                    ("org", COUNTY),
                    ("school_year", year.as_str()),
                    ("graduation_date", &format!("{}-07-10", today().year() + i32::from(today().month() >= 9))),
                    ("mode", "preview"),
                ])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let html = body_text(r).await;
        assert!(
            html.contains("preview-title") && html.contains("二年级(1)班") && html.contains("apply-button"),
            "{label}: preview"
        );
    }
}
