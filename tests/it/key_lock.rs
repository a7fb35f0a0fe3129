//! The key-information lock (到期即锁) and the change-request chain: school review, county
//! approval with the duplicate check, field history; direct edits and re-imports refused.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use base64::Engine;
use chrono::{Duration, NaiveDate};
use common::*;
use mealroll::domain::key_lock::school_year_of;
use mealroll::error::ErrorCode;
use serde_json::{Value, json};

fn pdf() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4\n% household register scan\n%%EOF\n")
}

/// Yesterday, or 1 September when today opens the school year: a date inside this school year
/// that has passed (or is today), so the lock is in force.
fn lock_date() -> (i32, NaiveDate) {
    let today = mealroll::clock::today();
    let year = school_year_of(today);
    let start = NaiveDate::from_ymd_opt(year, 9, 1).expect("date");
    (year, (today - Duration::days(1)).max(start))
}

#[actix_web::test]
async fn locked_key_fields_change_only_through_school_review_and_county_approval() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let bearer = |u: &str| (header::AUTHORIZATION, format!("Bearer {}", w.token(u)));
        let (school, principal, county) = (bearer("a.xueji"), bearer("a.xiaozhang"), bearer("yyb"));
        let call = |req: test::TestRequest| test::call_service(&app, req.to_request());

        // Two confirmed students of school A.
        let mut ids = Vec::new();
        for (name, body) in [("王小花", "52232620200309002"), ("李小草", "52232620190511004")] {
            let birth = format!("{}-{}-{}", &body[6..10], &body[10..12], &body[12..14]);
            let r = call(
                test::TestRequest::post()
                    .uri(&format!("/api/v1/schools/{SCHOOL_A}/students"))
                    .insert_header(school.clone())
                    .set_json(student(name, body, &birth, "女")),
            )
            .await;
            assert_eq!(r.status(), 201, "{label}: {}", body_text(r).await);
            ids.push(body_json(r).await["id"].as_i64().expect("id"));
        }
        let r = call(
            test::TestRequest::post()
                .uri("/api/v1/students/confirm")
                .insert_header(county.clone())
                .set_json(json!({"ids": ids})),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let (first, second) = (ids[0], ids[1]);

        // Before a lock date is set, a confirmed student's name is corrected directly.
        let get = |id: i64| test::TestRequest::get().uri(&format!("/api/v1/students/{id}"));
        let s = body_json(call(get(first).insert_header(school.clone())).await).await;
        let mut record = s["record"].clone();
        record["name"] = json!("王晓花");
        let put = |id: i64, record: &Value, version: &Value| {
            test::TestRequest::put()
                .uri(&format!("/api/v1/students/{id}"))
                .set_json(json!({"record": record, "reason": "录入错误", "version": version}))
        };
        let r = call(put(first, &record, &s["version"]).insert_header(school.clone())).await;
        assert_eq!(r.status(), 200, "{label}: unlocked edit");

        // Only the county (or above) sets the date, inside the school year.
        let (year, date) = lock_date();
        let set = |body: Value| test::TestRequest::put().uri("/api/v1/key-locks").set_json(body);
        let r = call(set(json!({"school_year": year, "lock_date": date})).insert_header(school.clone())).await;
        assert_eq!(r.status(), 403, "{label}: a school cannot set the lock");
        let r = call(
            set(json!({"school_year": year, "lock_date": format!("{}-10-01", year + 1)})).insert_header(county.clone()),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert_eq!(body_json(r).await["error"], "key_lock.date_outside_year", "{label}");
        let r = call(
            set(json!({"school_year": year, "lock_date": date, "extra_fields": "户口性质"}))
                .insert_header(county.clone()),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(audit_count(&mut w.conn(), "key_lock.set"), 1, "{label}");

        // Now the name is locked; other fields still change directly.
        let s = body_json(call(get(first).insert_header(school.clone())).await).await;
        let mut record = s["record"].clone();
        record["name"] = json!("王小花");
        let r = call(put(first, &record, &s["version"]).insert_header(school.clone())).await;
        assert_eq!(r.status(), 409, "{label}");
        let e = body_json(r).await;
        assert_eq!(e["error"], "student.key_locked", "{label}");
        assert!(e["message"].as_str().unwrap_or("").contains("姓名"), "{label}: {e}");
        let mut record = s["record"].clone();
        record["phone"] = json!("13800009999");
        let r = call(put(first, &record, &s["version"]).insert_header(school.clone())).await;
        assert_eq!(r.status(), 200, "{label}: unlocked field");

        // The request needs evidence of an accepted type and a real change.
        let submit = |id: i64, body: Value| {
            test::TestRequest::post().uri(&format!("/api/v1/students/{id}/change-requests")).set_json(body)
        };
        let r = call(
            submit(first, json!({"changes": {"name": "王小花"}, "reason": "户口簿为准"})).insert_header(school.clone()),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert_eq!(body_json(r).await["error"], "change.evidence_missing", "{label}");
        let exe = base64::engine::general_purpose::STANDARD.encode(b"MZ\x90\x00not a document");
        let r = call(
            submit(
                first,
                json!({"changes": {"name": "王小花"}, "reason": "户口簿为准", "evidence": {"filename": "a.pdf", "content_base64": exe}}),
            )
            .insert_header(school.clone()),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert_eq!(body_json(r).await["error"], "change.evidence_type", "{label}");
        let r = call(
            submit(first, json!({"changes": {"phone": "1"}, "reason": "x", "evidence": {"content_base64": pdf()}}))
                .insert_header(school.clone()),
        )
        .await;
        assert_eq!(body_json(r).await["error"], "change.not_key_field", "{label}");

        // A change that would duplicate another student's ID is refused at once.
        let other_id: String = {
            use diesel::prelude::*;
            use mealroll::db::schema::students;
            let sealed = students::table
                .find(first)
                .select(students::id_no_sealed)
                .first::<Option<String>>(&mut w.conn())
                .expect("id")
                .expect("some");
            mealroll::db::at_rest::open::<mealroll::db::at_rest::IdNo>(&sealed).expect("opens")
        };
        let r = call(
            submit(second, json!({"changes": {"id_no": other_id, "birth_date": "2020-03-09"}, "reason": "证件号更正", "evidence": {"content_base64": pdf()}}))
                .insert_header(school.clone()),
        )
        .await;
        assert_eq!(r.status(), 409, "{label}");
        assert_eq!(body_json(r).await["error"], "change.duplicate", "{label}");

        let r = call(
            submit(
                first,
                json!({"changes": {"name": "王小花"}, "reason": "以户口簿为准", "evidence": {"filename": "户口簿.pdf", "content_base64": pdf()}}),
            )
            .insert_header(school.clone()),
        )
        .await;
        assert_eq!(r.status(), 201, "{label}");
        let req = body_json(r).await;
        let rid = req["id"].as_i64().expect("request id");
        assert_eq!(req["status"], "submitted", "{label}");
        assert_eq!(req["changes"][0]["old"], "王晓花", "{label}");
        let r = call(
            submit(
                first,
                json!({"changes": {"name": "王花"}, "reason": "再次", "evidence": {"content_base64": pdf()}}),
            )
            .insert_header(school.clone()),
        )
        .await;
        assert_eq!(body_json(r).await["error"], "change.already_open", "{label}");

        // The chain: the county cannot skip the school; the registrar cannot review; the principal reviews.
        let decide = |body: Value| {
            test::TestRequest::post().uri(&format!("/api/v1/change-requests/{rid}/decision")).set_json(body)
        };
        let r = call(decide(json!({"approve": true})).insert_header(county.clone())).await;
        assert_eq!(r.status(), 403, "{label}: county before school");
        let r = call(decide(json!({"approve": true})).insert_header(school.clone())).await;
        assert_eq!(r.status(), 403, "{label}: registrar reviewing");
        let r = call(decide(json!({"approve": true, "note": "与户口簿一致"})).insert_header(principal.clone())).await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(body_json(r).await["status"], "school_approved", "{label}");
        // Not in force yet.
        let s = body_json(call(get(first).insert_header(school.clone())).await).await;
        assert_eq!(s["record"]["name"], "王晓花", "{label}: nothing changes before the county approves");
        // Another county cannot see it; rejecting needs a note.
        let r = call(decide(json!({"approve": true})).insert_header(bearer("yyb2"))).await;
        assert_eq!(r.status(), 404, "{label}");
        let r = call(decide(json!({"approve": false})).insert_header(county.clone())).await;
        assert_eq!(r.status(), 422, "{label}");
        let r = call(decide(json!({"approve": true, "note": "同意"})).insert_header(county.clone())).await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(body_json(r).await["status"], "approved", "{label}");
        let r = call(decide(json!({"approve": true})).insert_header(county.clone())).await;
        assert_eq!(r.status(), 409, "{label}: closed");

        let s = body_json(call(get(first).insert_header(school.clone())).await).await;
        assert_eq!(s["record"]["name"], "王小花", "{label}: applied at the end of the chain");
        let hist = body_json(
            call(
                test::TestRequest::get()
                    .uri(&format!("/api/v1/students/{first}/history"))
                    .insert_header(school.clone()),
            )
            .await,
        )
        .await;
        let name_change = hist
            .as_array()
            .expect("history")
            .iter()
            .find(|h| h["field"] == "name" && h["new_value"] == "王小花")
            .cloned()
            .expect("history row for the name");
        assert_eq!(name_change["old_value"], "王晓花", "{label}");
        assert!(name_change["reason"].as_str().unwrap_or("").contains(&format!("#{rid}")), "{label}: {name_change}");
        for action in ["change.submit", "change.approve"] {
            assert!(audit_count(&mut w.conn(), action) >= 1, "{label}: {action} audited");
        }

        // The evidence comes back as sent.
        let r = call(
            test::TestRequest::get()
                .uri(&format!("/api/v1/change-requests/{rid}/evidence"))
                .insert_header(county.clone()),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let bytes = test::read_body(r).await;
        assert!(bytes.starts_with(b"%PDF-1.4"), "{label}");

        // A re-import cannot change a locked field either.
        let mut conn = w.conn();
        // (The stored record: the API shows ID numbers and phones masked.)
        let stored: String = {
            use diesel::prelude::*;
            use mealroll::db::schema::students;
            let sealed: String =
                students::table.find(first).select(students::record_sealed).first(&mut conn).expect("record");
            mealroll::db::at_rest::open::<mealroll::db::at_rest::Record>(&sealed).expect("opens")
        };
        let mut rec: std::collections::BTreeMap<String, String> = serde_json::from_str(&stored).expect("map");
        rec.insert("name".into(), "王大花".into());
        let record = mealroll::domain::student::StudentRecord::parse(&rec, mealroll::clock::today()).expect("valid");
        let bytes = mealroll::exchange::template::write(&[(SCHOOL_A.to_owned(), record)]).expect("xlsx");
        let report = mealroll::exchange::import::import_students(
            &mut conn,
            &w.caller("a.xueji"),
            None,
            &bytes,
            "relock.xlsx",
            Default::default(),
            &|_, _| {},
        );
        // Matching is by ID number, so the row is the same student with a new name.
        let report = report.expect("report");
        assert!(!report.committed, "{label}");
        assert_eq!(report.errors.len(), 1, "{label}: {:?}", report.errors);
        assert_eq!(report.errors[0].code, ErrorCode::StudentKeyLocked, "{label}");
        assert!(report.errors[0].column.ends_with("姓名"), "{label}: {:?}", report.errors[0]);
    }
}
