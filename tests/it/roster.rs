//! The beneficiary roster on both databases: exactly the children eligible on the snapshot date
//! (around enrolment, suspension, transfer, death and confirmation), a stable content hash, a new
//! version with the right diff after a later change, the flow refusing steps out of order or by the
//! wrong school, and the printed PDF and workbook read back.

use crate::common;

use actix_web::test;
use chrono::{Days, NaiveDate};
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{orgs, rosters, students};
use mealroll::domain::status::State;
use mealroll::registry::timeline::{self, Switch};
use serde_json::{Value, json};

fn org_id(w: &World, code: &str) -> i64 {
    orgs::table.filter(orgs::code.eq(code)).select(orgs::id).first(&mut w.conn()).expect("org")
}

/// Moves a child's timeline directly (the status-change services that do this in practice are
/// tested in `status_changes.rs`; the roster only reads the timeline).
fn switch(w: &World, student: i64, on: NaiveDate, state: State, school: &str, cause: &str) {
    let school_id = org_id(w, school);
    let mut conn = w.conn();
    timeline::switch(
        &mut conn,
        student,
        &Switch { on, state, school_id, class_id: None, cause, change_id: None, promotion_id: None },
    )
    .expect("switch");
}

fn ids_of(v: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> =
        v["lines"].as_array().expect("lines").iter().map(|l| l["student_id"].as_i64().expect("id")).collect();
    ids.sort();
    ids
}

async fn step<S, B>(app: &S, who: &Header, id: i64, step: &str) -> (u16, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let req = test::TestRequest::post().uri(&format!("/api/v1/rosters/{id}/step")).set_json(json!({"step": step}));
    call(app, req, who).await
}

#[actix_web::test]
async fn the_roster_is_exactly_the_eligible_children_and_a_later_change_makes_v2_with_its_diff() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (term, day) = past_term();
        let (yyb, principal_a, principal_b) = (bearer(&w, "yyb"), bearer(&w, "a.xiaozhang"), bearer(&w, "b.xiaozhang"));

        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri("/api/v1/programme/plans")
                .set_json(json!({"county": COUNTY, "school_year": term[..4], "plan_type": "national"})),
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

        // A school outside the programme gets no roster.
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_B, "term": term})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("roster.not_in_programme")), "{label}: {v}");

        // Children of school A, each with a different story around the snapshot day.
        let (on_roll, _) = enrolled(&app, &w, SCHOOL_A, "王䶮", "52232620190101001").await;
        let (rare, _) = enrolled(&app, &w, SCHOOL_A, "刘𠮷芳", "52232620190101015").await;
        let (suspended_before, _) = enrolled(&app, &w, SCHOOL_A, "张休学", "52232620190101003").await;
        let (suspended_after, _) = enrolled(&app, &w, SCHOOL_A, "李次日", "52232620190101005").await;
        let (died_on_day, _) = enrolled(&app, &w, SCHOOL_A, "陈当日", "52232620190101007").await;
        let (moved_away, _) = enrolled(&app, &w, SCHOOL_A, "黄转走", "52232620190101009").await;
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(student(
                "吴未确认",
                "52232620190101011",
                "2019-01-01",
                "男",
            )),
            &bearer(&w, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let unconfirmed = v["id"].as_i64().expect("id");
        switch(&w, suspended_before, day - Days::new(10), State::Suspended, SCHOOL_A, "11");
        switch(&w, suspended_after, day + Days::new(1), State::Suspended, SCHOOL_A, "11");
        switch(&w, died_on_day, day, State::Deceased, SCHOOL_A, "51");
        switch(&w, moved_away, day - Days::new(3), State::AtSchool, SCHOOL_B, "22");

        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_A, "term": term})),
            &principal_a,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let v1 = v["roster"]["id"].as_i64().expect("id");
        let hash1 = v["roster"]["hash"].as_str().expect("hash").to_owned();
        assert_eq!(v["roster"]["version"], 1, "{label}");
        assert_eq!(v["roster"]["snapshot_date"], day.to_string(), "{label}");
        let (_, got) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/rosters/{v1}")), &principal_a).await;
        let mut expected = vec![on_roll, rare, suspended_after];
        expected.sort();
        assert_eq!(ids_of(&got), expected, "{label}: roster = eligible on {day}");
        let mut eligible = timeline::eligible_at(&mut w.conn(), org_id(&w, SCHOOL_A), day).expect("eligible");
        eligible.sort();
        assert_eq!(ids_of(&got), eligible, "{label}: roster agrees with the eligibility function");
        assert!(!ids_of(&got).contains(&unconfirmed), "{label}");

        // The same registry gives the same hash and no new version.
        let (s, again) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_A, "term": term})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {again}");
        assert_eq!(
            (again["created"].as_bool(), again["roster"]["hash"].as_str()),
            (Some(false), Some(hash1.as_str())),
            "{label}"
        );
        assert_eq!(again["roster"]["version"], 1, "{label}");

        // The flow refuses steps out of order and hands from the wrong school.
        let (s, v) = step(&app, &yyb, v1, "review").await;
        assert_eq!((s, v["error"].as_str()), (409, Some("roster.out_of_order")), "{label}: {v}");
        let (s, v) = step(&app, &principal_b, v1, "sign").await;
        assert_eq!((s, v["error"].as_str()), (403, Some("roster.not_yours")), "{label}: {v}");
        let (s, _) = step(&app, &yyb, v1, "sign").await;
        assert_eq!(s, 403, "{label}: the county does not sign for the school");
        let (s, v) = step(&app, &principal_a, v1, "sign").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("signed")), "{label}: {v}");
        let (s, v) = step(&app, &yyb, v1, "archive").await;
        assert_eq!((s, v["error"].as_str()), (409, Some("roster.out_of_order")), "{label}: archive before review");
        let (s, v) = step(&app, &yyb, v1, "return").await;
        assert_eq!((s, v["error"].as_str()), (422, Some("roster.return_reason")), "{label}: {v}");
        let (s, v) = call(&app, test::TestRequest::delete().uri(&format!("/api/v1/rosters/{v1}")), &principal_a).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("roster.frozen")), "{label}: a signed roster is frozen");
        let status: String = rosters::table.find(v1).select(rosters::status).first(&mut w.conn()).expect("row");
        assert_eq!(status, "signed", "{label}: refusals change nothing");

        // A late registry change: a child suspended from before the day, a new child confirmed.
        switch(&w, on_roll, day - Days::new(1), State::Suspended, SCHOOL_A, "11");
        let (newcomer, _) = enrolled(&app, &w, SCHOOL_A, "赵新生", "52232620190101013").await;
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_A, "term": term})),
            &principal_a,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let v2 = v["roster"]["id"].as_i64().expect("id");
        assert_eq!(v["roster"]["version"], 2, "{label}");
        assert_ne!(v["roster"]["hash"].as_str(), Some(hash1.as_str()), "{label}");
        let diff = &v["roster"]["diff"];
        assert_eq!(diff["from_version"], 1, "{label}");
        let joined: Vec<i64> =
            diff["joined"].as_array().expect("joined").iter().map(|e| e["student_id"].as_i64().expect("id")).collect();
        let left: Vec<(i64, String)> = diff["left"]
            .as_array()
            .expect("left")
            .iter()
            .map(|e| (e["student_id"].as_i64().expect("id"), e["reason"].as_str().unwrap_or("").to_owned()))
            .collect();
        assert_eq!(joined, vec![newcomer], "{label}: {diff}");
        assert_eq!(left.len(), 1, "{label}: {diff}");
        assert_eq!(left[0].0, on_roll, "{label}");
        assert!(left[0].1.contains("休学"), "{label}: why {}", left[0].1);
        assert!(diff["joined"][0]["reason"].as_str().unwrap_or("").contains("入学"), "{label}: {diff}");

        // The old version can no longer move; the new one goes the whole way, its signed scan
        // uploaded before 备案.
        let (s, v) = step(&app, &yyb, v1, "review").await;
        assert_eq!((s, v["error"].as_str()), (409, Some("roster.superseded")), "{label}: {v}");
        let (s, v) = upload_scan(&app, &principal_a, v2, &[("签字.jpg", jpeg(40, 60).as_slice())]).await;
        assert_eq!(s, 201, "{label}: {v}");
        for (who, st, want) in
            [(&principal_a, "sign", "signed"), (&yyb, "review", "reviewed"), (&yyb, "archive", "archived")]
        {
            let (s, v) = step(&app, who, v2, st).await;
            assert_eq!((s, v["status"].as_str()), (200, Some(want)), "{label}: {st} {v}");
        }
        let (_, overview) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/rosters?term={term}")), &yyb).await;
        let row =
            overview.as_array().expect("rows").iter().find(|r| r["school_code"] == SCHOOL_A).expect("school A").clone();
        assert_eq!(
            (row["version"].as_i64(), row["status_label"].as_str()),
            (Some(2), Some("已备案")),
            "{label}: {row}"
        );
        assert_eq!(audit_count(&mut w.conn(), "roster.build"), 2, "{label}");
        assert_eq!(audit_count(&mut w.conn(), "roster.step"), 4, "{label}");

        // Printed: every name (rare characters too), the totals, the version and hash.
        let (_, got) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/rosters/{v2}")), &yyb).await;
        let names: Vec<String> = got["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l["name"].as_str().expect("name").to_owned())
            .collect();
        assert!(names.contains(&"刘𠮷芳".to_owned()), "{label}: {names:?}");
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/rosters/{v2}/roster.pdf"))
                .insert_header(yyb.clone())
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let pdf = test::read_body(r).await.to_vec();
        let text = pdftool("pdftotext", &pdf, &["-layout"]);
        for n in &names {
            assert!(text.contains(n.as_str()), "{label}: {n} printed\n{text}");
        }
        assert!(text.contains(&format!("计：{} 人", names.len())), "{label}: grand total\n{text}");
        assert!(text.contains(&format!("本页小计：{} 人", names.len())), "{label}: page total");
        assert!(text.contains("监护人签字") && text.contains("学校（盖章）"), "{label}");
        assert!(
            text.contains("第2版") && text.contains(&got["roster"]["hash"].as_str().expect("hash")[..16]),
            "{label}: footer"
        );
        let no: String = {
            let id = got["lines"][0]["student_id"].as_i64().expect("id");
            common::student_no_of(&mut w.conn(), id)
        };
        assert_eq!(
            got["lines"][0]["student_no"],
            mealroll::domain::mask::student_no(&no),
            "{label}: masked in the API"
        );
        assert!(
            !text.contains(&no) && text.contains(&mealroll::domain::mask::student_no(&no)),
            "{label}: 学籍号 masked on paper"
        );
        let fonts = pdftool("pdffonts", &pdf, &[]);
        assert!(fonts.contains("NotoSansCJK"), "{label}: the shipped font is embedded\n{fonts}");

        // The workbook holds the same children and the total.
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/rosters/{v2}/roster.xlsx"))
                .insert_header(yyb.clone())
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let bytes = test::read_body(r).await.to_vec();
        let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("xlsx");
        use calamine::Reader;
        let range = wb.worksheet_range("花名册").expect("sheet");
        let cells: Vec<String> = range.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
        assert_eq!(range.rows().nth(2).map(|r| r[10].to_string()).as_deref(), Some("监护人签字"), "{label}");
        for n in &names {
            assert!(cells.contains(n), "{label}: {n} in the workbook");
        }
        assert!(cells.iter().any(|c| c.starts_with(&format!("全校合计：{} 人", names.len()))), "{label}");

        // The public notice: names and classes, no numbers and no guardians.
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/rosters/{v2}/public.pdf"))
                .insert_header(principal_a.clone())
                .to_request(),
        )
        .await;
        let text = pdftool("pdftotext", &test::read_body(r).await, &["-layout"]);
        let first = &got["lines"][0];
        assert!(text.contains(first["name"].as_str().expect("name")), "{label}");
        assert!(!text.contains(first["student_no"].as_str().expect("no")), "{label}: no 学籍号 in public");
        assert!(!text.contains(first["guardian_name"].as_str().expect("guardian")), "{label}: no guardian in public");
        assert!(!text.contains("监护人"), "{label}");
        assert!(audit_count(&mut w.conn(), "roster.print") >= 3, "{label}");

        // After 备案 a rebuild is refused until the builder confirms, and nothing is stored.
        let (a1, _) = enrolled(&app, &w, SCHOOL_A, "孙备案后", "52232620190101023").await;
        let build = |confirm: bool| {
            test::TestRequest::post()
                .uri("/api/v1/rosters")
                .set_json(json!({"school": SCHOOL_A, "term": term, "after_archive": confirm}))
        };
        let (s, v) = call(&app, build(false), &principal_a).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("roster.archived")), "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or("").contains("第2版已于"), "{label}: {v}");
        assert_eq!(audit_count(&mut w.conn(), "roster.build"), 2, "{label}: nothing built");
        let (s, v) = call(&app, build(true), &principal_a).await;
        assert_eq!((s, v["roster"]["version"].as_i64()), (201, Some(3)), "{label}: {v}");
        assert!(v["warning"].as_str().unwrap_or("").contains("须重新签章"), "{label}: {v}");
        // v4 after more changes is compared with v2, what the county filed: every change since,
        // not only those since the v3 draft.
        let (a2, _) = enrolled(&app, &w, SCHOOL_A, "周再入", "52232620190101025").await;
        let (s, v) = call(&app, build(true), &principal_a).await;
        assert_eq!((s, v["roster"]["version"].as_i64()), (201, Some(4)), "{label}: {v}");
        let diff = &v["roster"]["diff"];
        assert_eq!((diff["from_version"].as_i64(), diff["from_archived"].as_bool()), (Some(2), Some(true)), "{label}");
        let mut joined: Vec<i64> =
            diff["joined"].as_array().expect("joined").iter().map(|e| e["student_id"].as_i64().expect("id")).collect();
        joined.sort();
        assert_eq!(joined, vec![a1, a2], "{label}: {diff}");

        // The page says so before the button, and refuses without the box ticked.
        let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("a.xiaozhang")));
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri(&format!("/rosters?term={term}")).insert_header(cookie.clone()).to_request(),
        )
        .await;
        let html = body_text(r).await;
        assert!(html.contains("id=\"archived-warning\"") && html.contains("第2版已备案"), "{label}");
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/rosters/{}", v["roster"]["id"].as_i64().expect("id")))
                .insert_header(cookie.clone())
                .to_request(),
        )
        .await;
        assert!(body_text(r).await.contains("与第2版（最近备案版本）相比"), "{label}");
        enrolled(&app, &w, SCHOOL_A, "吴三入", "52232620190101027").await;
        let form = |tick: bool| {
            let mut f = vec![("csrf", csrf_of(&html)), ("school", SCHOOL_A.to_owned()), ("term", term.clone())];
            if tick {
                f.push(("after_archive", "true".to_owned()));
            }
            test::TestRequest::post().uri("/rosters").insert_header(cookie.clone()).set_form(f).to_request()
        };
        let r = test::call_service(&app, form(false)).await;
        assert_eq!(r.status(), 422, "{label}");
        assert!(body_text(r).await.contains("如确需重新生成，请勾选确认"), "{label}");
        let r = test::call_service(&app, form(true)).await;
        assert_eq!(r.status(), 303, "{label}");
        let to = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
        assert!(to.ends_with("?ok=rebuilt"), "{label}: {to}");
    }
}

#[actix_web::test]
async fn a_character_the_font_lacks_is_named_not_printed_as_a_box() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (term, _) = past_term();
        let yyb = bearer(&w, "yyb");
        call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_A, "from_date": "2011-09-01"})),
            &yyb,
        )
        .await;
        let (id, no) = enrolled(&app, &w, SCHOOL_A, "王小明", "52232620190101001").await;
        // A private-use character, as old systems' self-made glyphs left behind.
        diesel::update(students::table.find(id))
            .set(students::name.eq("王\u{E000}明"))
            .execute(&mut w.conn())
            .expect("name");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_A, "term": term})),
            &yyb,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let rid = v["roster"]["id"].as_i64().expect("id");
        let (s, v) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/rosters/{rid}/roster.pdf")), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("pdf.missing_glyph")), "{label}: {v}");
        let msg = v["message"].as_str().unwrap_or("");
        // The child is named by its number as lists show it, never the full number (a G number
        // is the ID number).
        assert!(msg.contains(&mealroll::domain::mask::student_no(&no)) && msg.contains("U+E000"), "{label}: {msg}");
        assert!(!msg.contains(&no), "{label}: {msg}");
        // The school corrects the name and discards the draft it could not print.
        let (s, v) =
            call(&app, test::TestRequest::delete().uri(&format!("/api/v1/rosters/{rid}")), &bearer(&w, "a.xiaozhang"))
                .await;
        assert_eq!(s, 200, "{label}: a draft may be discarded: {v}");
        let left: i64 = rosters::table.count().get_result(&mut w.conn()).expect("count");
        assert_eq!(left, 0, "{label}");
        assert_eq!(audit_count(&mut w.conn(), "roster.discard"), 1, "{label}");
    }
}

#[actix_web::test]
async fn a_roster_row_changed_behind_the_application_is_reported_not_printed() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (term, _) = past_term();
        let yyb = bearer(&w, "yyb");
        call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_A, "from_date": "2011-09-01"})),
            &yyb,
        )
        .await;
        enrolled(&app, &w, SCHOOL_A, "王小明", "52232620190101001").await;
        let (_, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_A, "term": term})),
            &yyb,
        )
        .await;
        let rid = v["roster"]["id"].as_i64().expect("id");
        use mealroll::db::schema::roster_lines;
        // The frozen line keeps the 学籍号 sealed (a G number is the ID number), and opens to it.
        let stored: String = roster_lines::table
            .filter(roster_lines::roster_id.eq(rid))
            .select(roster_lines::student_no_sealed)
            .first(&mut w.conn())
            .expect("line");
        let first: i64 = mealroll::db::schema::students::table
            .select(mealroll::db::schema::students::id)
            .first(&mut w.conn())
            .expect("student");
        let no = common::student_no_of(&mut w.conn(), first);
        assert!(!stored.contains(&no[1..]), "{label}: {stored}");
        let opened = mealroll::db::at_rest::open::<mealroll::db::at_rest::RosterStudentNo>(&stored).expect("opens");
        assert_eq!(opened, no, "{label}");
        diesel::update(roster_lines::table.filter(roster_lines::roster_id.eq(rid)))
            .set(roster_lines::name.eq("冒名顶替"))
            .execute(&mut w.conn())
            .expect("tamper");
        let (s, v) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/rosters/{rid}/roster.pdf")), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("roster.tampered")), "{label}: {v}");
    }
}

/// Uploads scan files as `who` through the API.
async fn upload_scan<S, B>(app: &S, who: &Header, id: i64, files: &[(&str, &[u8])]) -> (u16, Value)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    // A browser sends its text fields too; with no file chosen, only those.
    let mut parts: Vec<(&str, Option<&str>, &[u8])> = vec![("note", None, b"".as_slice())];
    parts.extend(files.iter().map(|(n, b)| ("scan", Some(*n), *b)));
    post_multipart(app, who, &format!("/api/v1/rosters/{id}/scan"), &parts).await
}

#[actix_web::test]
async fn a_roster_is_archived_only_with_its_signed_scan_counted_against_the_printed_pages() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (term, _) = past_term();
        let (yyb, principal_a, principal_b) = (bearer(&w, "yyb"), bearer(&w, "a.xiaozhang"), bearer(&w, "b.xiaozhang"));
        school_a_in_programme(&app, &yyb, &term).await;
        // Enough children for the roster to print on more than one page.
        for i in 0..29 {
            enrolled(
                &app,
                &w,
                SCHOOL_A,
                &format!("学生{}", ["甲", "乙", "丙", "丁", "戊", "己"][i % 6]),
                &format!("52232620190101{:03}", 101 + 2 * i),
            )
            .await;
        }
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/rosters").set_json(json!({"school": SCHOOL_A, "term": term})),
            &principal_a,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let v1 = v["roster"]["id"].as_i64().expect("id");
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/rosters/{v1}/roster.pdf"))
                .insert_header(principal_a.clone())
                .to_request(),
        )
        .await;
        let printed_pdf = test::read_body(r).await.to_vec();
        // What poppler counts in the printed file is what the scan is held against.
        let printed: i64 = pdftool("pdfinfo", &printed_pdf, &[])
            .lines()
            .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().expect("pages")))
            .expect("Pages line");
        assert!(printed >= 2, "{label}: 29 children print on {printed} pages");

        let (s, v) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/rosters/{v1}/scan")), &yyb).await;
        assert_eq!((s, &v["scan"]), (200, &Value::Null), "{label}: {v}");
        for (who, st) in [(&principal_a, "sign"), (&yyb, "review")] {
            let (s, v) = step(&app, who, v1, st).await;
            assert_eq!(s, 200, "{label}: {st} {v}");
        }
        let (s, v) = step(&app, &yyb, v1, "archive").await;
        assert_eq!((s, v["error"].as_str()), (409, Some("roster.scan_missing")), "{label}: {v}");

        // Hostile and broken files: each refused with its reason, nothing stored.
        let attachments_before = rows_in(&w, "attachments");
        let good = jpeg(60, 80);
        for (files, code) in [
            (vec![("扫描.pdf", b"MZ\x90\x00\x03\x00".as_slice())], "document.type"),
            (vec![("第1页.jpg", &good[..40])], "document.corrupt"),
            (vec![("扫描.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage".as_slice())], "file.pdf_unreadable"),
            (vec![], "roster.scan_empty"),
            (
                vec![("第1页.jpg", good.as_slice()), ("第2页.jpg", b"<script>alert(1)</script>".as_slice())],
                "document.type",
            ),
        ] {
            let (s, v) = upload_scan(&app, &principal_a, v1, &files).await;
            assert_eq!((s, v["error"].as_str()), (422, Some(code)), "{label}: {v}");
        }
        let (_, v) = upload_scan(&app, &principal_a, v1, &[("第2页.jpg", b"<script>".as_slice())]).await;
        assert!(v["message"].as_str().unwrap_or("").contains("第2页.jpg"), "{label}: the file is named: {v}");
        let (s, v) = upload_scan(&app, &principal_b, v1, &[("p.jpg", good.as_slice())]).await;
        assert_eq!((s, v["error"].as_str()), (404, Some("not_found")), "{label}: another school's roster: {v}");
        let (s, _) = upload_scan(&app, &yyb, v1, &[("p.jpg", good.as_slice())]).await;
        assert_eq!(s, 403, "{label}: the county does not upload the school's signatures");
        assert_eq!(rows_in(&w, "roster_scans"), 0, "{label}: nothing stored");
        assert_eq!(rows_in(&w, "attachments"), attachments_before, "{label}: no file kept");

        // One photographed page: stored, and short of the print.
        let (s, v) = upload_scan(&app, &principal_a, v1, &[("第1页.jpg", good.as_slice())]).await;
        assert_eq!(s, 201, "{label}: {v}");
        assert_eq!((v["pages"].as_i64(), v["printed_pages"].as_i64()), (Some(1), Some(printed)), "{label}: {v}");
        assert_eq!(v["check"], format!("扫描件少{}页", printed - 1), "{label}");
        assert_eq!(v["pages_match"], false, "{label}");

        // The whole roster scanned into one PDF, a JPEG per page: every page shown.
        let pages: Vec<Vec<u8>> = (0..printed).map(|i| jpeg(60 + u32::try_from(i).expect("small"), 80)).collect();
        let pdf = scanned_pdf(&pages);
        let (s, v) = upload_scan(&app, &principal_a, v1, &[("签字花名册.pdf", pdf.as_slice())]).await;
        assert_eq!(s, 201, "{label}: {v}");
        assert_eq!(
            (v["pages"].as_i64(), v["pages_match"].as_bool(), v["earlier"].as_i64()),
            (Some(printed), Some(true), Some(1)),
            "{label}: {v}"
        );
        assert_eq!(v["check"], "页数一致", "{label}");
        let list = v["page_list"].as_array().expect("pages").clone();
        assert_eq!(list.len() as i64, printed, "{label}");
        for (i, p) in list.iter().enumerate() {
            let img = p["image_id"].as_i64().expect("each scanned page has its image");
            let r = test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/api/v1/rosters/{v1}/scan/{img}"))
                    .insert_header(yyb.clone())
                    .to_request(),
            )
            .await;
            assert_eq!(r.status(), 200, "{label}");
            assert_eq!(r.headers().get("content-type").and_then(|h| h.to_str().ok()), Some("image/jpeg"), "{label}");
            assert_eq!(test::read_body(r).await.to_vec(), pages[i], "{label}: page {} is the page scanned", i + 1);
        }
        let pdf_id = v["files"][0]["id"].as_i64().expect("file");
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/rosters/{v1}/scan/{pdf_id}"))
                .insert_header(yyb.clone())
                .to_request(),
        )
        .await;
        assert_eq!(test::read_body(r).await.to_vec(), pdf, "{label}: the PDF as uploaded");
        // Only the scan's own files are served through the roster, and only in scope.
        let (s, _) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/rosters/{v1}/scan/{}", pdf_id + 1000)), &yyb)
                .await;
        assert_eq!(s, 404, "{label}");
        let (s, _) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/rosters/{v1}/scan/{pdf_id}")),
            &bearer(&w, "yyb2"),
        )
        .await;
        assert_eq!(s, 404, "{label}: another county sees nothing");

        // The reviewer's page: each scanned page beside the names printed on it.
        let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("yyb")));
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri(&format!("/rosters/{v1}/scan")).insert_header(cookie.clone()).to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let html = body_text(r).await;
        assert!(html.contains("页数一致"), "{label}");
        for n in 1..=printed {
            assert!(html.contains(&format!("id=\"page-{n}\"")), "{label}: page {n} paired");
        }
        assert!(html.contains("学生甲") && html.contains(">29<"), "{label}: the printed names and the last 序号");

        let (s, v) = step(&app, &yyb, v1, "archive").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("archived")), "{label}: {v}");
        let (s, v) = upload_scan(&app, &principal_a, v1, &[("p.jpg", good.as_slice())]).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("roster.scan_archived")), "{label}: {v}");
        assert_eq!(audit_count(&mut w.conn(), "roster.scan"), 2, "{label}");

        // A29: silent on a scan as long as the print; fires on a short scan and on none.
        let anomalies =
            || test::TestRequest::get().uri(&format!("/api/v1/anomalies?org={COUNTY}&period={term}&rules=A29"));
        let (s, v) = call(&app, anomalies(), &bearer(&w, "ducha")).await;
        assert_eq!(s, 200, "{label}: {v}");
        assert_eq!(v["flags"], json!([]), "{label}: {v}");

        enrolled(&app, &w, SCHOOL_A, "学生庚", "52232620190101201").await;
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/rosters")
                .set_json(json!({"school": SCHOOL_A, "term": term, "after_archive": true})),
            &principal_a,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let v2 = v["roster"]["id"].as_i64().expect("id");
        let (s, v) = upload_scan(&app, &principal_a, v1, &[("p.jpg", good.as_slice())]).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (409, Some("roster.superseded")),
            "{label}: the old version's scan is closed: {v}"
        );
        let (s, _) = upload_scan(&app, &principal_a, v2, &[("第1页.jpg", good.as_slice())]).await;
        assert_eq!(s, 201, "{label}");
        let (s, v) = call(&app, test::TestRequest::delete().uri(&format!("/api/v1/rosters/{v2}")), &principal_a).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("roster.has_scan")), "{label}: signatures kept: {v}");
        for (who, st) in [(&principal_a, "sign"), (&yyb, "review"), (&yyb, "archive")] {
            let (s, v) = step(&app, who, v2, st).await;
            assert_eq!(s, 200, "{label}: {st} {v}");
        }
        let (_, v) = call(&app, anomalies(), &bearer(&w, "ducha")).await;
        let flags = v["flags"].as_array().expect("flags");
        assert_eq!(flags.len(), 1, "{label}: {v}");
        assert!(
            flags[0]["message"].as_str().unwrap_or("").contains(&format!("签字扫描件1页，少于打印的{printed}页")),
            "{label}: {v}"
        );

        // A version archived before scans were required (migrated in): no scan at all.
        enrolled(&app, &w, SCHOOL_A, "学生辛", "52232620190101203").await;
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/rosters")
                .set_json(json!({"school": SCHOOL_A, "term": term, "after_archive": true})),
            &principal_a,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let v3 = v["roster"]["id"].as_i64().expect("id");
        diesel::update(rosters::table.find(v3))
            .set(rosters::status.eq("archived"))
            .execute(&mut w.conn())
            .expect("migrated");
        let (_, v) = call(&app, anomalies(), &bearer(&w, "ducha")).await;
        let flags = v["flags"].as_array().expect("flags");
        assert_eq!(flags.len(), 1, "{label}: only the newest archived version counts: {v}");
        assert!(flags[0]["message"].as_str().unwrap_or("").contains("没有监护人签字扫描件"), "{label}: {v}");
    }
}
