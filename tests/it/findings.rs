//! What a finding puts right, on both databases: the county's finance recovers its money from the
//! school's account (posted, linked, counted as recovered, lowering what the reconciliation says
//! the school was allocated), a school opens the status change that corrects the record from it,
//! and the inspector reads who changed what at the school, numbers masked.

use crate::common;

use actix_web::test;
use base64::Engine;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{findings, ledger_requests, status_changes};
use serde_json::{Value, json};

fn posting(kind: &str, from: &str, to: &str, amount: &str, date: &str, voucher: &str) -> Value {
    json!({"kind": kind, "fund": "meal", "from": from, "to": to, "amount": amount, "date": date,
           "voucher_no": voucher, "memo": "中央财政 黔财教〔2026〕12号"})
}

fn requests(w: &World) -> i64 {
    ledger_requests::table.count().get_result(&mut w.conn()).expect("count")
}

fn linked(w: &World, id: i64) -> (Option<i64>, Option<i64>) {
    findings::table
        .find(id)
        .select((findings::ledger_request_id, findings::status_change_id))
        .first(&mut w.conn())
        .expect("finding")
}

#[actix_web::test]
async fn a_finding_recovers_its_money_opens_the_correction_and_the_inspector_reads_the_school_s_trail() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (yyb, caiwu, ducha) = (bearer(&w, "yyb"), bearer(&w, "caiwu"), bearer(&w, "ducha"));
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_A, "from_date": "2011-09-01"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let today = mealroll::clock::today();
        let day = today.format("%Y-%m-%d").to_string();
        let post = |body: Value| {
            let (app, h) = (&app, caiwu.clone());
            async move { call(app, test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(body), &h).await }
        };
        let (s, v) = post(posting("receipt", "", COUNTY, "1000.00", &day, "SR-1")).await;
        assert_eq!(s, 201, "{label}: {v}");
        let (s, v) = post(posting("allocation", COUNTY, SCHOOL_A, "500.00", &day, "BF-1")).await;
        assert_eq!(s, 201, "{label}: {v}");

        // The inspector finds 120.00 claimed for children who were not there.
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR photo");
        let record = |amount: &str| {
            let (app, h) = (&app, ducha.clone());
            let body = json!({"school": SCHOOL_A, "term": mealroll::domain::term::Term::of_day(today).to_string(),
                "rule": "A03", "description": "两名学生已转出仍计补助", "amount": amount,
                "evidence": [{"filename": "名册.png", "base64": png}]});
            async move { call(app, test::TestRequest::post().uri("/api/v1/findings").set_json(body), &h).await }
        };
        let (s, v) = record("120.00").await;
        assert_eq!(s, 201, "{label}: {v}");
        let fid = v["id"].as_i64().expect("id");
        let recover = |who: &Header, body: Value| {
            let (app, h) = (&app, who.clone());
            async move {
                call(app, test::TestRequest::post().uri(&format!("/api/v1/findings/{fid}/recover")).set_json(body), &h)
                    .await
            }
        };
        let before = requests(&w);
        // Not the inspector's to post; not the school's own (money goes up only to an org above).
        let (s, _) = recover(&ducha, json!({"date": day, "voucher_no": "ZH-1"})).await;
        assert_eq!(s, 403, "{label}: an inspector does not post");
        let (s, e) = recover(&bearer(&w, "a.xiaozhang"), json!({"date": day, "voucher_no": "ZH-1"})).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("ledger.not_below")), "{label}: {e}");
        let (s, e) = recover(&caiwu, json!({"date": day})).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("ledger.voucher")), "{label}: {e}");
        assert_eq!((requests(&w), linked(&w, fid).0), (before, None), "{label}: nothing posted, nothing linked");

        // The county's finance takes the finding's amount back.
        let key = "finding-recovery-1";
        let (s, v) = recover(&caiwu, json!({"date": day, "voucher_no": "ZH-1", "memo": "转出学生", "key": key})).await;
        assert_eq!(s, 200, "{label}: {v}");
        assert_eq!(
            (v["kind"].as_str(), v["amount"].as_str(), v["status"].as_str()),
            (Some("recovery"), Some("120.00"), Some("posted")),
            "{label}: {v}"
        );
        assert!(v["memo"].as_str().is_some_and(|m| m.contains(&format!("督查问题{fid}"))), "{label}: {v}");
        let rid = v["id"].as_i64().expect("request");
        assert_eq!(linked(&w, fid).0, Some(rid), "{label}: linked back");
        let (s, again) = recover(&caiwu, json!({"date": day, "voucher_no": "ZH-1", "key": key})).await;
        assert_eq!((s, again["id"].as_i64(), again["replayed"].as_bool()), (200, Some(rid), Some(true)), "{label}");
        let (s, e) = recover(&caiwu, json!({"date": day, "voucher_no": "ZH-2"})).await;
        assert_eq!((s, e["error"].as_str()), (409, Some("finding.recovered")), "{label}: once: {e}");
        let (_, accounts) = call(&app, test::TestRequest::get().uri("/api/v1/ledger/accounts"), &caiwu).await;
        let balance = |code: &str| {
            accounts
                .as_array()
                .and_then(|a| a.iter().find(|x| x["code"].as_str().is_some_and(|c| c.starts_with(code))))
                .map(|a| a["balance"].to_string())
                .unwrap_or_default()
        };
        assert!(balance(SCHOOL_A).contains("380.00"), "{label}: {accounts}");
        assert!(balance(COUNTY).contains("620.00"), "{label}: {accounts}");
        let (s, v) = call(&app, test::TestRequest::get().uri("/api/v1/ledger/verify"), &caiwu).await;
        assert_eq!(
            (s, v["verification"]["broken"].as_array().map(Vec::len), v["verification"]["entries"].as_u64()),
            (200, Some(0), Some(5)),
            "{label}: {v}"
        );

        // What the school was allocated this month is net of what was taken back.
        let month = today.format("%Y-%m").to_string();
        let (s, rec) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org={COUNTY}&month={month}")),
            &caiwu,
        )
        .await;
        assert_eq!(s, 200, "{label}: {rec}");
        let row = rec["rows"].as_array().and_then(|r| r.iter().find(|x| x["school"] == SCHOOL_A)).cloned();
        assert_eq!(row.as_ref().map(|r| r["allocated"].as_str()), Some(Some("380.00")), "{label}: {rec}");

        // More than the school holds: refused whole, the second finding stays unlinked.
        let (s, v) = record("9000.00").await;
        assert_eq!(s, 201, "{label}: {v}");
        let big = v["id"].as_i64().expect("id");
        let before = requests(&w);
        let (s, e) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/findings/{big}/recover"))
                .set_json(json!({"amount": "500.00", "date": day, "voucher_no": "ZH-3"})),
            &caiwu,
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (422, Some("ledger.insufficient")), "{label}: {e}");
        assert_eq!((requests(&w), linked(&w, big).0), (before, None), "{label}");
        // Above the threshold it waits for a second person; refused, another may be posted.
        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/ledger/threshold").set_json(json!({"amount": "100"})),
            &caiwu,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let big_recover = |amount: &str, voucher: &str| {
            let (app, h) = (&app, caiwu.clone());
            let body = json!({"amount": amount, "date": day, "voucher_no": voucher});
            async move {
                call(app, test::TestRequest::post().uri(&format!("/api/v1/findings/{big}/recover")).set_json(body), &h)
                    .await
            }
        };
        let (s, v) = big_recover("200.00", "ZH-4").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("pending")), "{label}: {v}");
        let pending = v["id"].as_i64().expect("id");
        let (s, e) = big_recover("150.00", "ZH-5").await;
        assert_eq!((s, e["error"].as_str()), (409, Some("finding.recovered")), "{label}: one waiting: {e}");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/ledger/requests/{pending}/reject"))
                .set_json(json!({"reason": "金额有误"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("rejected")), "{label}: {v}");
        let (s, v) = big_recover("150.00", "ZH-5").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("pending")), "{label}: after the refusal: {v}");
        assert_eq!(linked(&w, big).0, v["id"].as_i64(), "{label}: linked to the new one");
        let (_, sum) = call(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/findings?org={COUNTY}&term={}", mealroll::domain::term::Term::of_day(today))),
            &ducha,
        )
        .await;
        assert_eq!(sum["summary"]["recovered"].as_str(), Some("120.00"), "{label}: {sum}");
        assert_eq!(sum["summary"]["at_stake"].as_str(), Some("9120.00"), "{label}: {sum}");

        // The school opens the status change that corrects the record from the finding.
        let mut rec = student("覃转出", "52232620150304123", "2015-03-04", "男");
        rec["phone"] = json!("13812345678");
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
        let kid = v["id"].as_i64().expect("id");
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [kid]})), &yyb)
                .await;
        assert_eq!(s, 200, "{label}: {v}");
        let change = |who: &str, finding: i64| {
            let (app, h) = (&app, bearer(&w, who));
            let body = json!({"kind": "11", "effective_date": (today - chrono::Days::new(3)).format("%Y-%m-%d").to_string(),
                "reason": "因病休学", "finding": finding});
            async move {
                call(
                    app,
                    test::TestRequest::post().uri(&format!("/api/v1/students/{kid}/status-changes")).set_json(body),
                    &h,
                )
                .await
            }
        };
        let moves = || status_changes::table.count().get_result::<i64>(&mut w.conn()).expect("count");
        // A finding of another school cannot be put right from here: nothing is made.
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/findings").set_json(json!({"school": SCHOOL_B,
                "term": mealroll::domain::term::Term::of_day(today).to_string(), "rule": "A03", "description": "乙校问题",
                "evidence": [{"filename": "名册.png", "base64": png}]})),
            &ducha,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let other = v["id"].as_i64().expect("id");
        let (s, e) = change("a.xueji", other).await;
        assert_eq!((s, moves()), (404, 0), "{label}: not this school's finding, no change left behind: {e}");
        let (s, v) = change("a.xueji", fid).await;
        assert_eq!(s, 201, "{label}: {v}");
        assert_eq!(linked(&w, fid).1, v["id"].as_i64(), "{label}: the change is linked back");

        // The page offers the recovery to the county's finance only, and the registry forms
        // carry the finding.
        let page = |who: &str, uri: String| {
            let (app, token) = (&app, w.token(who));
            async move {
                let r = test::call_service(
                    app,
                    test::TestRequest::get()
                        .uri(&uri)
                        .insert_header((actix_web::http::header::COOKIE, format!("mealroll_session={token}")))
                        .to_request(),
                )
                .await;
                let status = r.status().as_u16();
                let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
                (status, location, String::from_utf8_lossy(&test::read_body(r).await).into_owned())
            }
        };
        let (s, _, html) = page("caiwu", format!("/inspections/findings/{other}")).await;
        assert!(s == 200 && html.contains("recover-form"), "{label}: {s}");
        let (_, _, html) = page("ducha", format!("/inspections/findings/{other}")).await;
        assert!(!html.contains("recover-form"), "{label}: not for the inspector");
        let (_, _, html) = page("caiwu", format!("/inspections/findings/{fid}")).await;
        assert!(!html.contains("recover-form") && html.contains("追回入账申请"), "{label}: recovered already");
        let (_, _, html) = page("caiwu", format!("/inspections/findings/{big}")).await;
        assert!(!html.contains("recover-form"), "{label}: one waiting for approval");
        // The page's form: refused in Chinese while school B holds nothing, posted once it does.
        let submit = |amount: &'static str| {
            let (app, token) = (&app, w.token("caiwu"));
            let day = day.clone();
            async move {
                let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={token}"));
                let r = test::call_service(
                    app,
                    test::TestRequest::get()
                        .uri(&format!("/inspections/findings/{other}"))
                        .insert_header(cookie.clone())
                        .to_request(),
                )
                .await;
                let html = String::from_utf8_lossy(&test::read_body(r).await).into_owned();
                let key = html.split("name=\"key\" value=\"").nth(1).and_then(|k| k.split('"').next()).unwrap_or("");
                let form = [
                    ("csrf", csrf_of(&html)),
                    ("key", key.to_owned()),
                    ("amount", amount.to_owned()),
                    ("date", day),
                    ("voucher_no", "ZH-B".to_owned()),
                    ("memo", "乙校".to_owned()),
                ];
                let r = test::call_service(
                    app,
                    test::TestRequest::post()
                        .uri(&format!("/inspections/findings/{other}/recover"))
                        .insert_header(cookie)
                        .set_form(form)
                        .to_request(),
                )
                .await;
                (r.status().as_u16(), String::from_utf8_lossy(&test::read_body(r).await).into_owned())
            }
        };
        let (s, html) = submit("10.00").await;
        assert!(s == 422 && html.contains("不足以支付"), "{label}: {s}");
        assert_eq!(linked(&w, other).0, None, "{label}");
        let (s, v) = post(posting("allocation", COUNTY, SCHOOL_B, "50.00", &day, "BF-B")).await;
        assert_eq!(s, 201, "{label}: {v}");
        let (s, _) = submit("10.00").await;
        assert_eq!(s, 303, "{label}: posted from the page");
        assert!(linked(&w, other).0.is_some(), "{label}: and linked");
        let no = students_no(&w, kid);
        let (s, location, _) =
            page("a.xueji", format!("/inspections/findings/{big}/correct?kind=status&student_no={no}")).await;
        assert_eq!(
            (s, location.as_str()),
            (303, format!("/students/{kid}/status-changes/new?finding={big}").as_str()),
            "{label}"
        );
        // The pupil's 休学 opened above is still open: the page names the finding and says why it
        // offers no form, rather than a form the service would refuse (one change at a time).
        let (s, _, html) = page("a.xueji", location.clone()).await;
        assert!(s == 200 && html.contains(&format!("href=\"/inspections/findings/{big}\"")), "{label}: {s}");
        assert!(html.contains("id=\"no-kinds\"") && !html.contains("id=\"status-form\""), "{label}");
        let (s, _, html) =
            page("a.xueji", format!("/inspections/findings/{big}/correct?kind=status&student_no=G000")).await;
        assert!(s == 422 && html.contains("没有学籍号为“G000”的学生"), "{label}: {s}");

        // The trail of school A: its registrar's work, the county's posting and the inspector's
        // finding, no sign-ins, no number in full; not for a registrar, not outside the scope.
        let (s, trail) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/audit-trail?school={SCHOOL_A}")), &ducha).await;
        assert_eq!(s, 200, "{label}: {trail}");
        let rows = trail["rows"].as_array().cloned().unwrap_or_default();
        let has = |action: &str, actor: &str| rows.iter().any(|r| r["action"] == action && r["actor"] == actor);
        assert!(has("student.create", "a.xueji"), "{label}: {trail}");
        assert!(has("ledger.post", "caiwu") && has("finding.record", "ducha"), "{label}: {trail}");
        assert!(has("status_change.request", "a.xueji"), "{label}");
        assert!(!rows.iter().any(|r| r["action"].as_str().is_some_and(|a| a.starts_with("login"))), "{label}");
        let text = trail.to_string();
        assert!(!text.contains("13812345678") && !text.contains("52232620150304123"), "{label}: masked");
        let (s, _) = call(&app, test::TestRequest::get().uri("/api/v1/audit-trail"), &bearer(&w, "a.xueji")).await;
        assert_eq!(s, 403, "{label}: a registrar has no trail");
        let (s, _) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/audit-trail?school={SCHOOL_C}")), &ducha).await;
        assert_eq!(s, 404, "{label}: outside the county");
        let (s, _, html) = page("ducha", format!("/inspections/audit?school={SCHOOL_A}")).await;
        assert!(s == 200 && html.contains("记录督查问题") && html.contains("a.xueji"), "{label}: {s}");
    }
}

fn students_no(w: &World, id: i64) -> String {
    common::student_no_of(&mut w.conn(), id)
}
