//! An ID number is never shown where the role may not see it. A G 学籍号 is "G" + the child's
//! ID number, so it is masked wherever the ID is. Crawled as every role that reads children —
//! inspector, county office, finance, principal, nutrition officer, registrar — over the pages
//! and API answers that list or show them: no full ID number, guardian ID, phone or 学籍号 of any
//! child appears. Seeing one in full takes the permission, a reason and an audit row.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::students;
use mealroll::error::ErrorCode;
use serde_json::{Value, json};

/// Every full identifier stored for the children: ID numbers, guardians' ID numbers, phones and
/// 学籍号 (each long enough that it cannot appear by chance).
fn identifiers(w: &World) -> Vec<String> {
    let rows: Vec<(String, String)> = students::table
        .select((students::student_no_sealed, students::record_sealed))
        .load(&mut w.conn())
        .expect("students");
    let mut out = Vec::new();
    for (no, record) in rows {
        out.push(mealroll::db::at_rest::student_no(&no).expect("opens"));
        let record = mealroll::db::at_rest::open::<mealroll::db::at_rest::Record>(&record).expect("opens");
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(&record).expect("record");
        out.extend(
            map.into_iter().filter(|(k, v)| mealroll::domain::student::is_sensitive(k) && v.len() >= 7).map(|(_, v)| v),
        );
    }
    // Numbers a child had before (an L number before confirmation) carry its birth date too.
    let old: Vec<Option<String>> = {
        use mealroll::db::schema::student_history;
        student_history::table
            .filter(student_history::field.eq("student_no"))
            .select(student_history::old_value)
            .load(&mut w.conn())
            .expect("history")
    };
    out.extend(old.into_iter().flatten().map(|v| mealroll::db::at_rest::open_history(&v).expect("opens")));
    out.sort();
    out.dedup();
    out
}

#[actix_web::test]
async fn no_page_or_answer_shows_a_full_id_number_and_unmasking_is_audited() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
        let today = mealroll::clock::today();
        let term = mealroll::domain::term::Term::of_day(today).to_string();

        // The programme, this term and this month's meal days, so rosters and money exist.
        let (start, end) = mealroll::domain::term::Term::of_day(today).customary_dates();
        for (uri, body) in [
            ("/api/v1/programme/schools", json!({"school": SCHOOL_A, "from_date": "2011-09-01"})),
            ("/api/v1/programme/schools", json!({"school": SCHOOL_B, "from_date": "2011-09-01"})),
        ] {
            let (s, v) = call(&app, test::TestRequest::post().uri(uri).set_json(body), &yyb).await;
            assert_eq!(s, 200, "{label}: {v}");
        }
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri("/api/v1/terms")
                .set_json(json!({"term": term, "start_date": start, "end_date": end})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let month = mealroll::domain::calendar::Month::of(today);
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/{month}"))
                .set_json(json!({"days": format!("{}", today.format("%-d"))})),
            &yyb,
        )
        .await;
        assert!(s == 200 || s == 422, "{label}: {v}");

        // Children: two confirmed, one pending, one in the problem queue, one in transit, one
        // with a class change under way.
        let (a1, a1_no) = enrolled(&app, &w, SCHOOL_A, "韦一", "52232620190101001").await;
        let (a2, _) = enrolled(&app, &w, SCHOOL_A, "韦二", "52232620190101003").await;
        let (_a3, a3_no) = enrolled(&app, &w, SCHOOL_A, "韦三", "52232620190101005").await;
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(student(
                "韦待",
                "52232620190101007",
                "2019-01-01",
                "男",
            )),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let pending = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_B}/students")).set_json(student(
                "韦一",
                "52232620190101001",
                "2019-01-01",
                "男",
            )),
            &bearer(&w, "b.xueji"),
        )
        .await;
        assert_eq!((s, v["review"].as_str()), (201, Some("problem")), "{label}: {v}");
        let problem = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/transfers").set_json(json!({
                "student_no": a3_no, "name": "韦三", "to_class_no": "202601",
                "effective_date": today.to_string(), "reason": "随父母迁居"})),
            &bearer(&w, "b.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let transfer = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{a2}/status-changes"))
                .set_json(json!({"kind": "11", "effective_date": today.to_string(), "reason": "因病休学"})),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let suspension = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_A, "term": term})),
            &bearer(&w, "a.xiaozhang"),
        )
        .await;
        assert!(s == 201 || s == 200, "{label}: {v}");
        let roster = v["roster"]["id"].as_i64().expect("roster");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/entitlements/compute")
                .set_json(json!({"county": COUNTY, "month": month.to_string()})),
            &yyb,
        )
        .await;
        assert!(s == 200 || s == 422, "{label}: {v}");

        let ids = identifiers(&w);
        assert!(ids.len() >= 10, "{label}: {ids:?}");
        assert!(ids.contains(&a1_no) && a1_no.starts_with('G'), "{label}");

        let pages = [
            "/students".to_owned(),
            "/students?review=pending".to_owned(),
            "/students?review=problem".to_owned(),
            format!("/students/{a1}"),
            format!("/students/{a2}"),
            format!("/students/{pending}"),
            format!("/students/{problem}"),
            format!("/students/{a1}/edit"),
            "/status-changes".to_owned(),
            "/status-changes?show=in_transit".to_owned(),
            format!("/status-changes/{transfer}"),
            format!("/status-changes/{suspension}"),
            "/rosters".to_owned(),
            format!("/rosters/{roster}"),
            format!("/entitlements?month={month}"),
            format!("/entitlements/{SCHOOL_A}/{month}"),
        ];
        let api = [
            "/api/v1/students".to_owned(),
            format!("/api/v1/students/{a1}"),
            format!("/api/v1/students/{a1}/history"),
            format!("/api/v1/students/{problem}/duplicate"),
            format!("/api/v1/students/{a1}/merges"),
            format!("/api/v1/students/{pending}/confirm-preview"),
            format!("/api/v1/schools/{SCHOOL_A}/eligible?date={today}"),
            "/api/v1/status-changes?show=all".to_owned(),
            format!("/api/v1/status-changes/{transfer}"),
            format!("/api/v1/rosters/{roster}"),
            format!("/api/v1/schools/{SCHOOL_A}/entitlements/{month}"),
        ];
        let mut seen = 0;
        for user in ["ducha", "yyb", "caiwu", "a.xiaozhang", "a.yyzg", "a.xueji", "b.xueji"] {
            let cookie = format!("mealroll_session={}", w.token(user));
            let token = format!("Bearer {}", w.token(user));
            for (uri, is_page) in pages.iter().map(|p| (p, true)).chain(api.iter().map(|a| (a, false))) {
                let req = test::TestRequest::get().uri(uri);
                let req = if is_page {
                    req.insert_header((header::COOKIE, cookie.clone()))
                } else {
                    req.insert_header((header::AUTHORIZATION, token.clone()))
                };
                let r = test::call_service(&app, req.to_request()).await;
                let status = r.status().as_u16();
                let body = body_text(r).await;
                if status == 200 {
                    seen += 1;
                }
                if uri == "/students" && user == "yyb" {
                    let masked = mealroll::domain::mask::student_no(&a1_no);
                    assert!(body.contains(&masked), "{label}: the list shows {masked}");
                }
                for id in &ids {
                    assert!(
                        !body.contains(id.as_str()),
                        "{label}: {user} {uri} ({status}) shows {id} in full:\n{body}"
                    );
                }
            }
        }
        assert!(seen > 80, "{label}: the crawl reached the pages ({seen} answered 200)");
        // The audit log, read by the 审计管理员, keeps numbers masked too.
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/audit")
                .insert_header((header::COOKIE, format!("mealroll_session={}", w.token("shenji"))))
                .to_request(),
        )
        .await;
        let body = body_text(r).await;
        for id in &ids {
            assert!(!body.contains(id.as_str()), "{label}: the audit log shows {id}");
        }
        let after: Vec<Option<String>> = {
            use mealroll::db::schema::audit_log;
            audit_log::table.select(audit_log::after_json).load(&mut w.conn()).expect("audit")
        };
        for (i, a) in after.iter().flatten().enumerate() {
            for id in &ids {
                assert!(!a.contains(id.as_str()), "{label}: audit row {i} stores {id}: {a}");
            }
        }

        // In full: the page form with a reason shows this one child, never cached, audited.
        let inspector = format!("mealroll_session={}", w.token("ducha"));
        let html = body_text(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/students/{a1}"))
                    .insert_header((header::COOKIE, inspector.clone()))
                    .to_request(),
            )
            .await,
        )
        .await;
        assert!(html.contains("unmask-form"), "{label}: the inspector is offered the unmasking");
        let csrf = csrf_of(&html);
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/students/{a1}/unmask"))
                .insert_header((header::COOKIE, inspector.clone()))
                .set_form([("csrf", csrf.as_str()), ("reason", "督查抽查核对原件")])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(r.headers().get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"));
        let html = body_text(r).await;
        assert!(html.contains(&a1_no) && html.contains(&with_check("52232620190101001")), "{label}");
        assert!(html.contains("unmasked-note"), "{label}");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/students/{a1}/unmask")).set_json(json!({"reason": "x"})),
            &bearer(&w, "caiwu"),
        )
        .await;
        assert_eq!(s, 403, "{label}: finance may not: {v}");
        let rows: Vec<(String, Option<String>)> = {
            use mealroll::db::schema::audit_log;
            audit_log::table
                .filter(audit_log::action.eq("student.unmask"))
                .select((audit_log::actor, audit_log::after_json))
                .load(&mut w.conn())
                .expect("audit")
        };
        assert_eq!(rows.len(), 1, "{label}: {rows:?}");
        assert!(rows[0].1.as_deref().unwrap_or_default().contains("督查抽查核对原件"), "{label}");
    }
}

#[actix_web::test]
async fn special_categories_are_shown_only_to_those_who_register_and_look_after_children() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (id, _) = enrolled(&app, &w, SCHOOL_A, "韦小宝", "52232620190101001").await;
        for (user, sees) in
            [("a.xueji", true), ("a.xiaozhang", true), ("yyb", true), ("a.yyzg", false), ("ducha", false)]
        {
            let (s, v) =
                call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{id}")), &bearer(&w, user)).await;
            assert_eq!(s, 200, "{label}: {user}: {v}");
            let record = &v["record"];
            for key in mealroll::domain::student::SPECIAL_CATEGORIES {
                let shown = record[key].as_str().unwrap_or_default();
                if sees {
                    assert_ne!(shown, mealroll::domain::student::WITHHELD, "{label}: {user} sees {key}");
                } else {
                    assert_eq!(shown, mealroll::domain::student::WITHHELD, "{label}: {user} must not see {key}: {v}");
                }
            }
            let html = body_text(
                test::call_service(
                    &app,
                    test::TestRequest::get()
                        .uri(&format!("/students/{id}"))
                        .insert_header((actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token(user))))
                        .to_request(),
                )
                .await,
            )
            .await;
            assert_eq!(html.contains("双亲留守儿童"), sees, "{label}: {user}: the page agrees with the answer");
        }
    }
}

// ---------------------------------------------------------------- encryption at rest

/// Everything stored about the students, as the database holds it (not as the product reads it):
/// the SQLite file and its log, or every row of PostgreSQL's tables as text.
fn stored_bytes(w: &World) -> Vec<u8> {
    match w.db.sqlite_path() {
        Some(path) => {
            let mut bytes = std::fs::read(&path).expect("db file");
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            bytes
        }
        None => {
            #[derive(QueryableByName)]
            struct Dump {
                #[diesel(sql_type = diesel::sql_types::Text)]
                t: String,
            }
            let mut out = Vec::new();
            for table in
                ["students", "student_history", "student_merges", "teachers", "schools", "complaints", "audit_log"]
            {
                let rows: Vec<Dump> =
                    diesel::sql_query(format!("SELECT x::text AS t FROM {table} x")).load(&mut w.conn()).expect("dump");
                for r in rows {
                    out.extend(r.t.into_bytes());
                }
            }
            out
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Registers children with distinct ID numbers, guardians' ID numbers and phones; returns
/// (student id, ID number, guardian ID number, guardian phone) per child.
fn registered(w: &World) -> Vec<(i64, String, String, String)> {
    let caller = w.caller("a.xueji");
    (0..3)
        .map(|i| {
            let id_no = with_check(&format!("5223262019020{}001", i + 1));
            let guardian = with_check(&format!("5223261985030{}002", i + 1));
            let phone = format!("1377700{i}{i}{i}{i}");
            let mut rec = student(&format!("韦封{i}"), &id_no[..17], &format!("2019-02-0{}", i + 1), "男");
            rec["m1_id_no"] = json!(guardian);
            rec["m1_phone"] = json!(phone);
            rec["phone"] = json!(format!("1366600{i}{i}{i}{i}"));
            let v =
                mealroll::registry::service::create(&mut w.conn(), &caller, SCHOOL_A, &raw_of(&rec)).expect("create");
            (v.id, id_no, guardian, phone)
        })
        .collect()
}

#[actix_web::test]
async fn identities_are_stored_sealed_yet_found_by_their_keyed_hash() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let kids = registered(&w);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let stored = stored_bytes(&w);
        for (_, id_no, guardian, phone) in &kids {
            for secret in [id_no, guardian, phone] {
                assert!(!contains(&stored, secret), "{label}: {secret} stored in plain text");
            }
        }
        // The fields an update rewrites go into history sealed as well.
        let (first, _, _, _) = &kids[0];
        let mut rec = student("韦封0", &kids[0].1[..17], "2019-02-01", "男");
        rec["m1_id_no"] = json!(kids[0].2);
        rec["m1_phone"] = json!("13755551234");
        rec["phone"] = json!("13666000000");
        let caller = w.caller("a.xueji");
        let row = mealroll::registry::service::get(&mut w.conn(), &caller, *first).expect("get");
        mealroll::registry::service::update(
            &mut w.conn(),
            &caller,
            *first,
            &raw_of(&rec),
            "电话更正",
            Some(row.version),
        )
        .expect("update");
        let stored = stored_bytes(&w);
        for secret in ["13755551234", kids[0].3.as_str()] {
            assert!(!contains(&stored, secret), "{label}: history keeps {secret} in plain text");
        }
        let history: Vec<(Option<String>, Option<String>)> = {
            use mealroll::db::schema::student_history;
            student_history::table
                .filter(student_history::student_id.eq(first))
                .filter(student_history::field.eq("m1_phone"))
                .select((student_history::old_value, student_history::new_value))
                .load(&mut w.conn())
                .expect("history")
        };
        assert!(
            history.iter().all(|(o, n)| o.as_deref().is_some_and(|o| o.starts_with("s1$"))
                && n.as_deref().is_some_and(|n| n.starts_with("s1$"))),
            "{label}: {history:?}"
        );

        // Found by the full number (the keyed hash), and read back whole by who may see it.
        let yyb = bearer(&w, "yyb");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/students/search").set_json(json!({"q": kids[1].1})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let items = v["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{label}: {v}");
        assert_eq!(items[0]["id"].as_i64(), Some(kids[1].0), "{label}: {v}");
        let row = mealroll::registry::service::get(&mut w.conn(), &w.caller("yyb"), kids[1].0).expect("get");
        assert!(row.record.get("id_no").contains('*'), "{label}: listed masked");
        // The same child registered at another school is caught through the hash.
        let mut again = student("韦封1", &kids[1].1[..17], "2019-02-02", "男");
        again["class_no"] = json!("202601");
        let dup = mealroll::registry::service::create(&mut w.conn(), &w.caller("b.xueji"), SCHOOL_B, &raw_of(&again))
            .expect("create");
        assert_eq!(dup.review, mealroll::domain::student::Review::Problem, "{label}");

        // Confirmed, the child's 学籍号 is "G" + its ID number: sealed too, found by its hash,
        // and so is what a merge of the double entry keeps of it (number, record, history).
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [kids[1].0]})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let formal = format!("G{}", kids[1].1);
        assert_eq!(common::student_no_of(&mut w.conn(), kids[1].0), formal, "{label}");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/students/search").set_json(json!({"q": formal.to_lowercase()})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let items = v["items"].as_array().expect("items");
        assert_eq!(items.iter().map(|i| i["id"].as_i64()).collect::<Vec<_>>(), [Some(kids[1].0)], "{label}: {v}");
        assert!(items[0]["student_no"].as_str().is_some_and(|n| n.contains('*')), "{label}: listed masked: {v}");
        let dup_no = common::student_no_of(&mut w.conn(), dup.id);
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{}/resolve", dup.id))
                .set_json(json!({"decision": "merge", "note": "同一学生"})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, merges) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{}/merges", kids[1].0)), &yyb).await;
        assert_eq!(s, 200, "{label}: {merges}");
        assert!(merges["provenance"][0]["record"]["id_no"].as_str().is_some_and(|n| n.contains('*')), "{label}");
        let shown = merges.to_string();
        assert!(
            !shown.contains(&kids[1].1) && !shown.contains(&formal),
            "{label}: a merge shows a full number: {shown}"
        );
        let stored = stored_bytes(&w);
        for secret in [&formal, &kids[1].1, &dup_no] {
            assert!(!contains(&stored, secret), "{label}: {secret} stored in plain text");
        }

        // A guardian's ID number is found the same way (A11 groups by it).
        let hash = mealroll::db::at_rest::id_hash(&kids[2].2).expect("hash");
        let n: i64 = students::table
            .filter(students::guardian_id_no_hash.eq(&hash))
            .count()
            .get_result(&mut w.conn())
            .expect("count");
        assert_eq!(n, 1, "{label}");
    }
}

#[actix_web::test]
async fn a_database_written_before_encryption_is_sealed_in_place_when_opened() {
    use mealroll::db::at_rest::{self, GuardianIdNo, GuardianPhone, IdNo, Record};
    use mealroll::db::schema::{sealing, student_history};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let kids = registered(&w);
        // Back to how a database from before encryption held them: plain values, no hashes.
        {
            let mut conn = w.conn();
            type Cells = (i64, Option<String>, Option<String>, Option<String>, String, String);
            let rows: Vec<Cells> = students::table
                .select((
                    students::id,
                    students::id_no_sealed,
                    students::guardian_id_no_sealed,
                    students::guardian_phone_sealed,
                    students::record_sealed,
                    students::student_no_sealed,
                ))
                .load(&mut conn)
                .expect("rows");
            for (id, a, b, c, r, no) in rows {
                diesel::update(students::table.find(id))
                    .set((
                        students::id_no_sealed.eq(a.map(|v| at_rest::open::<IdNo>(&v).expect("open"))),
                        students::guardian_id_no_sealed.eq(b.map(|v| at_rest::open::<GuardianIdNo>(&v).expect("open"))),
                        students::guardian_phone_sealed
                            .eq(c.map(|v| at_rest::open::<GuardianPhone>(&v).expect("open"))),
                        students::record_sealed.eq(at_rest::open::<Record>(&r).expect("open")),
                        students::student_no_sealed.eq(at_rest::student_no(&no).expect("open")),
                        students::student_no_hash.eq(None::<String>),
                        students::id_no_hash.eq(None::<String>),
                        students::guardian_id_no_hash.eq(None::<String>),
                        students::guardian_phone_hash.eq(None::<String>),
                    ))
                    .execute(&mut conn)
                    .expect("plain");
            }
            diesel::insert_into(student_history::table)
                .values((
                    student_history::student_id.eq(kids[0].0),
                    student_history::field.eq("m1_phone"),
                    student_history::old_value.eq("13711112222"),
                    student_history::new_value.eq(&kids[0].3),
                    student_history::reason.eq("旧系统"),
                    student_history::actor.eq("cli"),
                    student_history::at.eq(mealroll::clock::now()),
                ))
                .execute(&mut conn)
                .expect("history");
            // The registry's history of 学籍号: a G number is "G" + the ID number.
            diesel::insert_into(student_history::table)
                .values((
                    student_history::student_id.eq(kids[1].0),
                    student_history::field.eq("student_no"),
                    student_history::old_value.eq(format!("G{}", kids[1].1)),
                    student_history::reason.eq("旧系统"),
                    student_history::actor.eq("cli"),
                    student_history::at.eq(mealroll::clock::now()),
                ))
                .execute(&mut conn)
                .expect("history");
            diesel::update(sealing::table)
                .set(sealing::sealed_at.eq(None::<chrono::NaiveDateTime>))
                .execute(&mut conn)
                .expect("reset");
        }
        assert!(contains(&stored_bytes(&w), &kids[0].1), "{label}: the planted plain value is there");

        // Any command opening the database seals it first.
        let out = mealroll_cmd().args(["--db", &w.db.url, "migrate"]).output().expect("run");
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        let stored = stored_bytes(&w);
        for (_, id_no, guardian, phone) in &kids {
            for secret in [id_no, guardian, phone, &"13711112222".to_owned()] {
                assert!(!contains(&stored, secret), "{label}: {secret} still plain after sealing");
            }
        }
        for (id, id_no, guardian, _) in &kids {
            let (h, g, n): (Option<String>, Option<String>, Option<String>) = students::table
                .find(id)
                .select((students::id_no_hash, students::guardian_id_no_hash, students::student_no_hash))
                .first(&mut w.conn())
                .expect("hashes");
            assert_eq!(h, Some(at_rest::id_hash(id_no).expect("hash")), "{label}");
            assert_eq!(g, Some(at_rest::id_hash(guardian).expect("hash")), "{label}");
            let no = common::student_no_of(&mut w.conn(), *id);
            assert_eq!(n, Some(at_rest::student_no_hash(&no).expect("hash")), "{label}: the number found again");
            assert!(!contains(&stored, &no), "{label}: {no} still plain after sealing");
            let v =
                mealroll::registry::service::unmask(&mut w.conn(), &w.caller("yyb"), *id, "核对").expect("read back");
            assert_eq!(v.record.get("id_no"), id_no, "{label}");
        }
        let sealed_at: Option<chrono::NaiveDateTime> =
            sealing::table.select(sealing::sealed_at).first(&mut w.conn()).expect("sealing");
        assert!(sealed_at.is_some(), "{label}: remembered, so the next start does not scan again");
    }
}

#[actix_web::test]
async fn a_rotated_key_moves_every_value_and_travels_in_the_backup() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        registered(&w);
        // Its own data directory: the rotation writes a key file there.
        let here = tempfile::tempdir().expect("dir");
        let keys = |args: &[&str]| -> Value {
            let out = mealroll_cmd()
                .env("MEALROLL_DATA_DIR", here.path())
                .args(["--db", &w.db.url, "--json", "keys"])
                .args(args)
                .output()
                .expect("run");
            assert!(out.status.success(), "{label} keys {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice(&out.stdout).expect("json")
        };
        let before = keys(&["status"]);
        let first = before["active"].as_str().expect("active").to_owned();
        let rotated = keys(&["rotate"]);
        let second = rotated["active"].as_str().expect("active").to_owned();
        assert_ne!(first, second, "{label}");
        let usage = rotated["usage"].as_array().expect("usage");
        assert_eq!(usage.len(), 1, "{label}: every value moved: {rotated}");
        assert_eq!(usage[0]["key_id"], second, "{label}");
        assert!(usage[0]["values"].as_i64().unwrap_or(0) >= 3 * 4, "{label}: {rotated}");
        // The key derived from the master secret cannot be retired; the new one is in use.
        let refused = mealroll_cmd()
            .env("MEALROLL_DATA_DIR", here.path())
            .args(["--db", &w.db.url, "keys", "retire", &second])
            .output()
            .expect("run");
        assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("seal.retire_active"));
        let third = keys(&["rotate"])["active"].as_str().expect("active").to_owned();
        keys(&["retire", &second]);
        assert_eq!(audit_count(&mut w.conn(), "keys.rotate"), 2, "{label}");

        // A backup carries the rotated keys: restored on a machine that never had them, it opens.
        let file = here.path().join("rotated.backup");
        let out = mealroll_cmd()
            .env("MEALROLL_DATA_DIR", here.path())
            .args(["--db", &w.db.url, "backup", "--out"])
            .arg(&file)
            .output()
            .expect("run");
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        let elsewhere = tempfile::tempdir().expect("dir");
        let target = TestDb::sqlite();
        let out = mealroll_cmd()
            .env("MEALROLL_DATA_DIR", elsewhere.path())
            .args(["--db", &target.url, "restore"])
            .arg(&file)
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("恢复测试通过"),
            "{label}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = mealroll_cmd()
            .env("MEALROLL_DATA_DIR", elsewhere.path())
            .args(["--db", &target.url, "--json", "keys", "status"])
            .output()
            .expect("run");
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        let status: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(status["usage"][0]["key_id"], third, "{label}: {status}");
    }
}

/// Adults' phones (a teacher's, a principal's, a complainant's) are sealed like the guardians',
/// opened where they are used and masked in the audit trail; the files kept with a job (the
/// upload, the result, the rejected rows) are sealed and open only as their own job's.
#[actix_web::test]
async fn adults_phones_and_job_files_are_sealed_and_open_only_where_they_belong() {
    use mealroll::db::at_rest::{self, StaffPhone};
    use mealroll::db::schema::{audit_log, jobs, sealing, teachers};
    use mealroll::exchange::jobs::{JobInput, Jobs, Outcome};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let (teacher, mobile, contact, upload_id) = ("13812345678", "13985123456", "13600001111", "522326201803090026");
        let mut conn = w.conn();

        // The principal's mobile, given on the school's page.
        let school = mealroll::org::service::get_school(&mut conn, &w.caller("yyb"), SCHOOL_A).expect("school");
        let input = mealroll::org::model::SchoolInput {
            code: SCHOOL_A.into(),
            name: school.name.clone(),
            parent_code: COUNTY.into(),
            sponsor_type: school.row.sponsor_type.clone(),
            urban_rural: school.row.urban_rural.clone(),
            school_type: school.row.school_type.clone(),
            principal_name: "韦校长".into(),
            principal_mobile: mobile.into(),
            ..Default::default()
        };
        let cli = mealroll::auth::Caller::cli(&mut conn).expect("cli");
        mealroll::org::service::update_school(&mut conn, &cli, SCHOOL_A, &input).expect("update");
        let again = mealroll::org::service::get_school(&mut conn, &w.caller("yyb"), SCHOOL_A).expect("school");
        assert_eq!(again.row.principal_mobile, mobile, "{label}: opened where it is used");
        let api = serde_json::to_value(&again).expect("json");
        assert_eq!(api["principal_mobile"], "139****3456", "{label}: answered masked");

        // A complaint entered by the county with the caller's number.
        let form = mealroll::meals::complaints::ComplaintForm {
            school: SCHOOL_A.into(),
            category: "quality".into(),
            content: "十一月三日中午的饭菜没有煮熟".into(),
            name: "韦某".into(),
            contact: contact.into(),
            ..Default::default()
        };
        let complaint = mealroll::meals::complaints::enter(&mut conn, &w.caller("yyb"), &form).expect("complaint");
        let whole = mealroll::meals::complaints::get(&mut conn, &w.caller("yyb"), complaint).expect("read");
        assert_eq!(whole.contact, contact, "{label}");

        // None of them is stored readable, and the audit rows carry them masked.
        let stored = stored_bytes(&w);
        for secret in [teacher, mobile, contact] {
            assert!(!contains(&stored, secret), "{label}: {secret} stored plain");
        }
        let (sealed, audit): (String, String) = (
            teachers::table.select(teachers::phone_sealed).first(&mut conn).expect("teacher"),
            audit_log::table
                .filter(audit_log::action.eq("teacher.create"))
                .select(audit_log::after_json.assume_not_null())
                .first(&mut conn)
                .expect("audit"),
        );
        assert_eq!(at_rest::open::<StaffPhone>(&sealed).expect("opens"), teacher, "{label}");
        assert!(audit.contains("138****5678") && !audit.contains(teacher), "{label}: {audit}");

        // A job's files: sealed in the row, whole to their owner, not openable as another job's.
        let owner = w.caller("a.xueji").user_id.expect("user");
        let jobs_of = Jobs::new(w.pool.clone(), "test", std::time::Duration::from_secs(3600));
        let upload = format!("姓名,身份证件号\n王小明,{upload_id}\n").into_bytes();
        let input = JobInput::Import { school: None, filename: "a.csv".into(), options: Default::default() };
        let a = jobs_of.start(owner, "导入", &input, Some(&upload)).expect("start");
        let b = jobs_of.start(owner, "导入", &input, Some(b"x")).expect("start");
        jobs_of.finish(
            &a,
            Ok(Outcome {
                file: Some(("a.csv".into(), upload.clone())),
                error_workbook: Some(upload.clone()),
                ..Default::default()
            }),
        );
        let (_, file) = jobs_of.file(&a, owner).expect("file");
        assert_eq!(file, upload, "{label}: the owner downloads it whole");
        assert_eq!(jobs_of.error_workbook(&a, owner).expect("errors"), upload, "{label}");
        let raw: (Option<Vec<u8>>, Option<Vec<u8>>) =
            jobs::table.find(&a).select((jobs::file_bytes, jobs::error_workbook)).first(&mut conn).expect("row");
        for bytes in [raw.0.clone(), raw.1].into_iter().flatten() {
            assert!(
                !bytes.windows(upload_id.len()).any(|x| x == upload_id.as_bytes()),
                "{label}: a job file stored plain"
            );
        }
        let before_restart: Option<Vec<u8>> =
            jobs::table.find(&b).select(jobs::input_bytes).first(&mut conn).expect("input");
        assert!(before_restart.is_some_and(|b| b != b"x"), "{label}: the kept upload is sealed");
        diesel::update(jobs::table.find(&b)).set(jobs::file_bytes.eq(raw.0)).execute(&mut conn).expect("moved");
        diesel::update(jobs::table.find(&b)).set(jobs::file_name.eq("a.csv")).execute(&mut conn).expect("moved");
        jobs_of.fail(&b, "测试");
        let e = jobs_of.file(&b, owner).expect_err("another job's file");
        assert_eq!(e.code, ErrorCode::SealDamaged, "{label}: {}", e.message);

        // A database from before these were sealed: plain phones are sealed when it is opened.
        diesel::update(teachers::table).set(teachers::phone_sealed.eq(teacher)).execute(&mut conn).expect("plain");
        diesel::update(sealing::table)
            .set(sealing::sealed_at.eq(None::<chrono::NaiveDateTime>))
            .execute(&mut conn)
            .expect("reset");
        drop(conn);
        let out = mealroll_cmd().args(["--db", &w.db.url, "--json", "keys", "status"]).output().expect("run");
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!contains(&stored_bytes(&w), teacher), "{label}: sealed in place");
        let sealed: String = teachers::table.select(teachers::phone_sealed).first(&mut w.conn()).expect("teacher");
        assert_eq!(at_rest::open::<StaffPhone>(&sealed).expect("opens"), teacher, "{label}");
    }
}

/// The identifiers (each of `cores`, digits of 11 or more) and the valid Guizhou ID numbers found
/// in plain text in `file`. Every identifier is digits (a 学籍号's letter aside), so the file's
/// runs of digits are looked up window by window: a search of 100 MB per identifier would take
/// hours in a debug build.
fn plain_identifiers(file: &[u8], cores: &std::collections::HashSet<String>) -> (Vec<String>, Vec<String>) {
    let lengths: std::collections::BTreeSet<usize> = cores.iter().map(String::len).collect();
    let runs: Vec<&str> = file
        .split(|b| !(b.is_ascii_digit() || *b == b'X'))
        .filter(|run| run.len() >= 11)
        .filter_map(|run| std::str::from_utf8(run).ok())
        .collect();
    let windows = |len: usize| {
        runs.iter().filter(move |r| r.len() >= len).flat_map(move |r| (0..=r.len() - len).map(move |i| &r[i..i + len]))
    };
    let leaked = lengths.iter().flat_map(|l| windows(*l)).filter(|w| cores.contains(*w)).take(5).map(str::to_owned);
    // Whoever's: the province keeps a random run of digits in a hash from passing by chance.
    let valid = windows(18)
        .filter(|w| w.starts_with("52") && mealroll::domain::id_card::IdCardNo::parse(w).is_ok())
        .take(5)
        .map(str::to_owned);
    (leaked.collect(), valid.collect())
}

/// 等保 asks that important personal data be encrypted where it is stored: the SQLite file the
/// demo builds (thousands of children, guardians, teachers, principals) holds none of their ID
/// numbers, 学籍号 or phones in plain text, and no run of digits in it is a valid ID number.
#[actix_web::test]
async fn the_file_the_demo_builds_holds_no_id_number_and_no_phone_in_plain_text() {
    // A byte-for-byte copy of the file the demo built.
    let db = TestDb::sqlite_demo();
    let path = db.sqlite_path().expect("sqlite");
    let w = World::bare(db);
    let file = || {
        let mut bytes = std::fs::read(&path).expect("file");
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        bytes
    };

    // What the product stores, read back through it: every child's identifiers, and the adults'
    // phones; mobiles and longer (a shorter number could turn up by chance in a hash's hex).
    let mut secrets = identifiers(&w);
    let staff: Vec<mealroll::org::model::Teacher> = {
        use mealroll::db::schema::teachers;
        teachers::table.select(mealroll::org::model::Teacher::as_select()).load(&mut w.conn()).expect("teachers")
    };
    secrets.extend(staff.iter().map(|t| t.phone.clone()));
    let cores: std::collections::HashSet<String> = secrets
        .iter()
        .map(|s| s.trim_start_matches(|c: char| c.is_ascii_alphabetic()).to_owned())
        .filter(|c| c.len() >= 11)
        .collect();
    assert!(cores.len() > 5_000, "the demo registers its county ({} identifiers)", cores.len());
    let (leaked, valid) = plain_identifiers(&file(), &cores);
    assert!(leaked.is_empty(), "stored in plain text: {leaked:?}");
    assert!(valid.is_empty(), "ID numbers in the file: {valid:?}");

    // The search finds what is there: a teacher's phone written plain behind the product's back.
    {
        use mealroll::db::schema::teachers;
        let t = staff.iter().find(|t| t.phone.len() == 11).expect("a teacher with a mobile");
        diesel::update(teachers::table.find(t.id))
            .set(teachers::phone_sealed.eq(&t.phone))
            .execute(&mut w.conn())
            .expect("plant");
        let (leaked, _) = plain_identifiers(&file(), &cores);
        assert_eq!(leaked, std::slice::from_ref(&t.phone), "the planted phone is found");
    }
}
