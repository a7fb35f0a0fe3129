//! The county's problem queue: the duplicate it points at, merge with provenance, and the
//! suspected-duplicate rule (D3) on the import path as well as the form.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use common::*;
use mealroll::domain::student::StudentRecord;
use serde_json::json;

fn history_fields(w: &World, id: i64) -> Vec<String> {
    use diesel::prelude::*;
    use mealroll::db::schema::student_history;
    student_history::table
        .filter(student_history::student_id.eq(id))
        .select(student_history::field)
        .load(&mut w.conn())
        .expect("history")
}

#[actix_web::test]
async fn merge_keeps_the_first_number_fills_blanks_and_keeps_provenance() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (a, b, county) = (bearer(&w, "a.xueji"), bearer(&w, "b.xueji"), bearer(&w, "yyb"));

        let first = student("韦正平", "52232620190101001", "2019-01-01", "男");
        let (s, kept) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&first),
            &a,
        )
        .await;
        assert_eq!(s, 201, "{label}: {kept}");
        let kept_id = kept["id"].as_i64().expect("id");
        let (s, _) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [kept_id]})),
            &county,
        )
        .await;
        assert_eq!(s, 200, "{label}");
        let (_, kept) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{kept_id}")), &county).await;
        let formal_no = kept["student_no"].as_str().expect("no").to_owned();
        assert!(formal_no.starts_with('G'), "{label}: {formal_no}");

        // School B enters the same child again, with an e-mail address A left blank and another
        // current address.
        let mut again = first.clone();
        again["email"] = json!("weizp@example.cn");
        again["address_now"] = json!("纳包村三组");
        let (s, dup) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_B}/students")).set_json(&again),
            &b,
        )
        .await;
        assert_eq!(s, 201, "{label}");
        assert_eq!(dup["review"], "problem", "{label}");
        let dup_id = dup["id"].as_i64().expect("id");
        let dup_no = dup["student_no"].as_str().expect("no").to_owned();

        // The county sees which student it duplicates, field by field.
        let (s, cmp) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{dup_id}/duplicate")), &county).await;
        assert_eq!(s, 200, "{label}");
        assert_eq!((cmp["id"].as_i64(), cmp["in_scope"].as_bool()), (Some(kept_id), Some(true)), "{label}: {cmp}");
        let mut differing: Vec<&str> = cmp["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter(|f| f["differs"] == true)
            .filter_map(|f| f["key"].as_str())
            .collect();
        differing.sort_unstable();
        assert_eq!(differing, ["address_now", "email"], "{label}: {cmp}");

        // The problem page shows the comparison and offers the merge.
        let page = body_text(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/students/{dup_id}"))
                    .insert_header((header::COOKIE, format!("mealroll_session={}", w.token("yyb"))))
                    .to_request(),
            )
            .await,
        )
        .await;
        assert!(page.contains("与之重复的学生") && page.contains(&formal_no), "{label}");
        assert!(page.contains(r#"value="merge""#) && page.contains("纳包村三组"), "{label}");

        // A merge needs a note; a refused merge changes nothing.
        let (s, e) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{dup_id}/resolve"))
                .set_json(json!({"decision": "merge", "note": " "})),
            &county,
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (422, Some("student.note")), "{label}: {e}");
        // The school cannot resolve its own problem record.
        let (s, _) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{dup_id}/resolve"))
                .set_json(json!({"decision": "merge", "note": "同一学生"})),
            &b,
        )
        .await;
        assert_eq!(s, 403, "{label}");

        let (s, done) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{dup_id}/resolve"))
                .set_json(json!({"decision": "merge", "note": "经核实为同一学生，在王母小学就读"})),
            &county,
        )
        .await;
        assert_eq!((s, done["student"].as_i64()), (200, Some(kept_id)), "{label}: {done}");

        // The double entry has left the roll; the survivor keeps its number and takes only the
        // blank e-mail, not the other address.
        let (s, _) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{dup_id}")), &county).await;
        assert_eq!(s, 404, "{label}");
        let (_, after) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{kept_id}")), &county).await;
        assert_eq!(after["student_no"], formal_no.as_str(), "{label}");
        assert_eq!(after["review"], "confirmed", "{label}");
        assert_eq!(after["record"]["email"], "weizp@example.cn", "{label}: {after}");
        assert_eq!(after["record"]["address_now"], "王母街道纳包村", "{label}");
        let fields = history_fields(&w, kept_id);
        assert!(fields.iter().any(|f| f == "merge") && fields.iter().any(|f| f == "email"), "{label}: {fields:?}");

        // Provenance: the merged number, school, what it filled, and its full record.
        let (s, m) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{kept_id}/merges")), &county).await;
        assert_eq!(s, 200, "{label}");
        assert_eq!(m["merges"][0]["merged_student_no"], dup_no.as_str(), "{label}: {m}");
        assert_eq!(m["merges"][0]["merged_school"], "望谟县纳包小学", "{label}: {m}");
        assert_eq!(m["merges"][0]["filled"], json!(["电子信箱"]), "{label}: {m}");
        assert_eq!(m["provenance"][0]["record"]["address_now"], "纳包村三组", "{label}: {m}");
        assert!(m["provenance"][0]["history"].as_array().is_some_and(|h| !h.is_empty()), "{label}: {m}");
        let mut conn = w.conn();
        assert_eq!(audit_count(&mut conn, "student.problem_merged"), 1, "{label}");

        // The survivor's page lists where the merged record came from.
        let page = body_text(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/students/{kept_id}"))
                    .insert_header((header::COOKIE, format!("mealroll_session={}", w.token("yyb"))))
                    .to_request(),
            )
            .await,
        )
        .await;
        assert!(page.contains("合并来源") && page.contains(&dup_no), "{label}");
    }
}

#[actix_web::test]
async fn a_holder_outside_the_county_cannot_be_merged_into() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let rec = student("岑美兰", "52232720180505002", "2018-05-05", "女");
        {
            let mut conn = w.conn();
            let cli = mealroll::auth::Caller::cli(&mut conn).expect("cli");
            mealroll::registry::service::create(&mut conn, &cli, SCHOOL_C, &raw_of(&rec)).expect("enrolled at C");
        }
        let (b, county) = (bearer(&w, "b.xueji"), bearer(&w, "yyb"));
        let (_, dup) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_B}/students")).set_json(&rec),
            &b,
        )
        .await;
        assert!(dup["problem"].as_str().is_some_and(|p| p.contains("者楼小学")), "{label}: {dup}");
        let id = dup["id"].as_i64().expect("id");

        let (_, cmp) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{id}/duplicate")), &county).await;
        assert_eq!(cmp["in_scope"], false, "{label}: {cmp}");
        assert_eq!(cmp["school_name"], "册亨县者楼小学", "{label}");
        assert_eq!(cmp["fields"], json!([]), "{label}: other county's fields stay hidden");

        let (s, e) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{id}/resolve"))
                .set_json(json!({"decision": "merge", "note": "同一学生"})),
            &county,
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (409, Some("student.merge_out_of_scope")), "{label}: {e}");
        let (s, e) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{id}/resolve"))
                .set_json(json!({"decision": "combine", "note": "同一学生"})),
            &county,
        )
        .await;
        assert_eq!(s, 422, "{label}: {e}");
        let (_, still) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{id}")), &county).await;
        assert_eq!(still["review"], "problem", "{label}: nothing changed");
        let mut conn = w.conn();
        assert_eq!(audit_count(&mut conn, "student.problem_merged"), 0, "{label}");
    }
}

/// A child without an ID of their own, entered at one school and imported at another with the
/// same name, birth date and guardian ID: the bulk path fires D3 like the form does.
#[actix_web::test]
async fn suspected_duplicates_without_id_are_caught_on_import_too() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (a, b, county) = (bearer(&w, "a.xueji"), bearer(&w, "b.xueji"), bearer(&w, "yyb"));
        let mut rec = student("罗小花", "52232620190303002", "2019-03-03", "女");
        rec["id_type"] = json!("其他");
        rec["id_no"] = json!("");
        rec["m1_id_no"] = json!(with_check("52232619850101001"));
        let (s, first) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&rec),
            &a,
        )
        .await;
        assert_eq!((s, first["review"].as_str()), (201, Some("pending")), "{label}: {first}");
        let first_id = first["id"].as_i64().expect("id");

        let parsed = StudentRecord::parse(&raw_of(&rec), mealroll::clock::today()).expect("valid");
        let bytes = csv_of(&[(SCHOOL_B.to_owned(), parsed)]);
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/students/import?filename=b.csv")
                .insert_header(b.clone())
                .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
                .set_payload(bytes)
                .to_request(),
        )
        .await;
        let report = body_json(r).await;
        assert_eq!(report["imported"], 1, "{label}: {report}");

        let (_, queue) = call(&app, test::TestRequest::get().uri("/api/v1/students?review=problem"), &county).await;
        assert_eq!(queue["total"], 1, "{label}: {queue}");
        // A misspelt state is refused, naming the states, instead of matching no one.
        let (status, refused) =
            call(&app, test::TestRequest::get().uri("/api/v1/students?review=problm"), &county).await;
        assert_eq!(status, 422, "{label}: {refused}");
        let message = refused["message"].as_str().unwrap_or_default();
        assert!(message.contains("“problm”") && message.contains("pending、confirmed、problem"), "{label}: {refused}");
        let (_, all) = call(&app, test::TestRequest::get().uri("/api/v1/students?review="), &county).await;
        assert!(all["total"].as_i64() > queue["total"].as_i64(), "{label}: blank is every state: {all}");
        let item = &queue["items"][0];
        assert_eq!(item["school_code"], SCHOOL_B, "{label}");
        assert!(
            item["problem"].as_str().is_some_and(|p| p.starts_with("D3") && p.contains("王母小学")),
            "{label}: {item}"
        );
        let (_, cmp) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/students/{}/duplicate", item["id"].as_i64().expect("id"))),
            &county,
        )
        .await;
        assert_eq!(cmp["id"].as_i64(), Some(first_id), "{label}: {cmp}");
    }
}

/// One child, one identity: another child's resident ID number entered under 其他 (or a passport
/// type) is that child's number, on the form and in an import; it goes to the problem queue and
/// cannot be confirmed. A region code abolished in the birth year itself is valid.
#[actix_web::test]
async fn a_resident_id_number_is_one_identity_whatever_the_document_type() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (b, county) = (bearer(&w, "b.xueji"), bearer(&w, "yyb"));
        let (kept_id, _) = enrolled(&app, &w, SCHOOL_A, "韦正平", "52232620190101001").await;
        let number = with_check("52232620190101001");

        // The form: the same number under 其他, another name.
        let mut other = student("韦小平", "52232620190101001", "2019-01-01", "男");
        other["id_type"] = json!("其他");
        other["m1_id_no"] = json!(with_check("52232619850101001"));
        let (s, dup) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_B}/students")).set_json(&other),
            &b,
        )
        .await;
        assert_eq!(s, 201, "{label}: {dup}");
        assert_eq!(dup["review"], "problem", "{label}: {dup}");
        let dup_id = dup["id"].as_i64().expect("id");
        let (_, cmp) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{dup_id}/duplicate")), &county).await;
        assert_eq!(cmp["id"].as_i64(), Some(kept_id), "{label}: {cmp}");
        let (s, refused) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [dup_id]})),
            &county,
        )
        .await;
        assert_eq!((s, refused["error"].as_str()), (409, Some("student.problem_unresolved")), "{label}: {refused}");

        // An import: the number (lower-case x aside, as typed) under 护照.
        let mut passport = other.clone();
        passport["name"] = json!("韦大平");
        passport["id_type"] = json!("护照");
        let record = StudentRecord::parse(&raw_of(&passport), mealroll::clock::today()).expect("valid record");
        // (At a school of the next county: the check crosses counties.)
        let file = csv_of(&[(SCHOOL_C.to_owned(), record)]);
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/students/import?filename=passport.csv")
                .insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token("c.xueji"))))
                .set_payload(file)
                .to_request(),
        )
        .await;
        let report = body_json(r).await;
        assert_eq!(report["imported"].as_u64(), Some(1), "{label}: {report}");
        let (_, list) =
            call(&app, test::TestRequest::get().uri("/api/v1/students?review=problem"), &bearer(&w, "yyb2")).await;
        let names: Vec<&str> =
            list["items"].as_array().expect("items").iter().filter_map(|i| i["name"].as_str()).collect();
        assert_eq!(names, ["韦大平"], "{label}: {list}");
        // The stored number is the one the check reads.
        let stored: Option<String> = {
            use diesel::prelude::*;
            use mealroll::db::schema::students;
            let sealed: Option<String> =
                students::table.find(dup_id).select(students::id_no_sealed).first(&mut w.conn()).expect("row");
            sealed.map(|s| mealroll::db::at_rest::open::<mealroll::db::at_rest::IdNo>(&s).expect("opens"))
        };
        assert_eq!(stored.as_deref(), Some(number.as_str()), "{label}");

        // 下城区 (330103) was abolished in 2021: a child born in 2021 still carries it.
        let born_2021 = student("沈一诺", "33010320210301002", "2021-03-01", "女");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_B}/students")).set_json(&born_2021),
            &b,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let born_2022 = student("沈二诺", "33010320220301002", "2022-03-01", "女");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_B}/students")).set_json(&born_2022),
            &b,
        )
        .await;
        assert_eq!(s, 422, "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or_default().contains("早于出生年份"), "{label}: {v}");
    }
}
