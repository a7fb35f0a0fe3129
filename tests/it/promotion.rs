//! Year-end promotion and graduation on both databases: preview, one-transaction apply, refusal
//! of a rerun, undo until confirmed; repeaters; the demo county; and the `mealroll change` batch
//! from a file.

use crate::common;

use actix_web::test;
use chrono::{Days, NaiveDate};
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{classes, orgs, promotions, student_spells, students};
use mealroll::domain::key_lock::school_year_of;
use serde_json::json;

fn today() -> NaiveDate {
    mealroll::clock::today()
}

fn class(w: &World, school: &str, class_no: &str) -> (i32, String, Option<i32>) {
    classes::table
        .inner_join(orgs::table)
        .filter(orgs::code.eq(school))
        .filter(classes::class_no.eq(class_no))
        .select((classes::grade, classes::name, classes::graduated_year))
        .first(&mut w.conn())
        .expect("class")
}

fn eligible(w: &World, school: &str, day: NaiveDate) -> Vec<i64> {
    let mut conn = w.conn();
    let id: i64 = orgs::table.filter(orgs::code.eq(school)).select(orgs::id).first(&mut conn).expect("school");
    mealroll::registry::timeline::eligible_at(&mut conn, id, day).expect("eligible")
}

#[actix_web::test]
async fn promotion_previews_applies_once_and_undoes_until_confirmed() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let cli = mealroll::auth::Caller::cli(&mut w.conn()).expect("cli");
        for (no, grade, entry) in [("202101", "6", "2021"), ("202201", "5", "2022")] {
            mealroll::org::service::create_class(
                &mut w.conn(),
                &cli,
                SCHOOL_A,
                &mealroll::org::model::ClassInput {
                    class_no: no.into(),
                    grade: grade.into(),
                    entry_year: entry.into(),
                    ..Default::default()
                },
            )
            .expect("class");
        }
        let (a, county) = (bearer(&w, "a.xueji"), bearer(&w, "yyb"));
        let mut ids = Vec::new();
        for (name, id17) in [("韦毕业", "52232620140301001"), ("韦留级", "52232620140301003")] {
            let mut rec = student(name, id17, "2014-03-01", "男");
            rec["class_no"] = json!("202101");
            rec["entry_ym"] = json!("202109");
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(&rec),
                &a,
            )
            .await;
            assert_eq!(s, 201, "{label}: {v}");
            ids.push(v["id"].as_i64().expect("id"));
        }
        let (s, _) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": ids})),
            &county,
        )
        .await;
        assert_eq!(s, 200);
        let (graduate, repeater) = (ids[0], ids[1]);
        let repeater_no: String = common::student_no_of(&mut w.conn(), repeater);
        let year = school_year_of(today());
        let spring = mealroll::domain::term::Term::new(year, 2).expect("term");
        let (start, end) = spring.customary_dates();
        let (s, _) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/terms").set_json(json!({
                "term": spring.to_string(), "start_date": start.to_string(), "end_date": end.to_string(),
            })),
            &county,
        )
        .await;
        assert_eq!(s, 200);

        let body = |dry: bool| {
            json!({"org": COUNTY, "school_year": year, "dry_run": dry,
                   "repeaters": [{"student_no": repeater_no, "class_no": "202201"}]})
        };
        // Only the county office runs it.
        let (s, _) = call(&app, test::TestRequest::post().uri("/api/v1/promotions").set_json(body(true)), &a).await;
        assert_eq!(s, 403, "{label}");
        // A repeater must join a class that will have their grade.
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/promotions").set_json(json!({"org": COUNTY, "school_year": year,
                "dry_run": true, "repeaters": [{"student_no": repeater_no, "class_no": "202601"}]})),
            &county,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("promotion.repeater_grade")), "{v}");

        let (s, plan) =
            call(&app, test::TestRequest::post().uri("/api/v1/promotions").set_json(body(true)), &county).await;
        assert_eq!(s, 200, "{label}: {plan}");
        assert_eq!(plan["status"], "preview");
        assert_eq!(plan["graduation_date"], end.to_string());
        assert_eq!(plan["schools"], 2, "the county's two schools");
        assert_eq!(plan["classes"].as_array().map(Vec::len), Some(4));
        assert_eq!(plan["graduates"].as_array().map(Vec::len), Some(1));
        assert_eq!(plan["graduates"][0]["name"], "韦毕业");
        assert_eq!(class(&w, SCHOOL_A, "202601").0, 1, "a preview writes nothing");

        let (s, plan) =
            call(&app, test::TestRequest::post().uri("/api/v1/promotions").set_json(body(false)), &county).await;
        assert_eq!(s, 200, "{label}: {plan}");
        let pid = plan["promotion_id"].as_i64().expect("id");
        assert_eq!(class(&w, SCHOOL_A, "202601"), (2, "二年级(1)班".into(), None));
        assert_eq!(class(&w, SCHOOL_A, "202201"), (6, "六年级(1)班".into(), None));
        assert_eq!(class(&w, SCHOOL_A, "202101").2, Some(year));
        assert_eq!(class(&w, SCHOOL_B, "202601").0, 2);
        assert_eq!(class(&w, SCHOOL_C, "202601").0, 1, "another county is untouched");
        let after = end + Days::new(1);
        assert!(eligible(&w, SCHOOL_A, end).contains(&graduate), "{label}: at school on the last day");
        assert!(!eligible(&w, SCHOOL_A, after).contains(&graduate), "{label}: graduated the day after");
        assert!(eligible(&w, SCHOOL_A, after).contains(&repeater));
        let (s, v) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/students/{repeater}")), &a).await;
        assert_eq!((s, v["record"]["class_no"].as_str()), (200, Some("202201")));

        // Once per year: the county again, or one of its schools, is refused.
        for org in [COUNTY, SCHOOL_A] {
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri("/api/v1/promotions").set_json(json!({"org": org, "school_year": year})),
                &county,
            )
            .await;
            assert_eq!((s, v["error"].as_str()), (409, Some("promotion.already_done")), "{label} {org}: {v}");
        }

        // Undo restores everything; then it can run again, and once confirmed it stays.
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/promotions/{pid}")).set_json(json!({"action": "undo"})),
            &county,
        )
        .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("undone")), "{v}");
        assert_eq!(class(&w, SCHOOL_A, "202601"), (1, "一年级(1)班".into(), None));
        assert_eq!(class(&w, SCHOOL_A, "202101"), (6, "六年级(1)班".into(), None));
        assert!(eligible(&w, SCHOOL_A, after).contains(&graduate));
        let spells: i64 = student_spells::table
            .filter(student_spells::student_id.eq_any([graduate, repeater]))
            .count()
            .get_result(&mut w.conn())
            .expect("count");
        assert_eq!(spells, 2, "{label}: one spell each again");
        let (s, plan) =
            call(&app, test::TestRequest::post().uri("/api/v1/promotions").set_json(body(false)), &county).await;
        assert_eq!(s, 200, "{plan}");
        let pid = plan["promotion_id"].as_i64().expect("id");
        let (s, _) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/promotions/{pid}")).set_json(json!({"action": "confirm"})),
            &county,
        )
        .await;
        assert_eq!(s, 200);
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri(&format!("/api/v1/promotions/{pid}")).set_json(json!({"action": "undo"})),
            &county,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (409, Some("promotion.not_reversible")), "{v}");
        assert_eq!(audit_count(&mut w.conn(), "promotion.apply"), 2);
    }
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = common::mealroll_cmd().args(args).output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The demo county promotes from the command line: preview, apply, rerun refused; and a batch
/// of suspensions from a CSV file is all or nothing.
#[actix_web::test]
async fn demo_county_promotes_once_and_batches_suspensions_from_a_file() {
    for (db, _) in TestDb::demos() {
        let label = db.label;
        let url = db.url.clone();
        let pool = mealroll::db::connect(&url, 2).expect("pool");
        let mut conn = pool.get().expect("conn");
        let count = |conn: &mut mealroll::db::DbConn, status: &str| -> i64 {
            students::table.filter(students::status.eq(status)).count().get_result(conn).expect("count")
        };

        // Suspensions from a file: one bad line refuses the whole batch.
        let nos: Vec<String> = students::table
            .filter(students::review.eq("confirmed"))
            .select(students::student_no_sealed)
            .order(students::id.asc())
            .limit(3)
            .load::<String>(&mut conn)
            .expect("students")
            .iter()
            .map(|s| mealroll::db::at_rest::student_no(s).expect("opens"))
            .collect();
        assert_eq!(nos.len(), 3, "{label}: the demo confirms its students");
        let day = (today() - Days::new(7)).to_string();
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("休学名单.csv");
        let bad =
            format!("学籍号,生效日期,原因\n{},{day},因病\n{},2026-13-01,因病\nG0000,{day},因病\n", nos[0], nos[1]);
        std::fs::write(&file, bad).expect("write");
        let (ok, out, err) = run(&["--db", &url, "--json", "change", "suspend", file.to_str().expect("path")]);
        assert!(!ok, "{label}: {out}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
        let rows: Vec<i64> = v["errors"].as_array().expect("errors").iter().filter_map(|e| e["row"].as_i64()).collect();
        assert_eq!(rows, vec![3, 4], "{label}: {out} {err}");
        assert!(err.contains("整批未办理"), "{err}");
        assert_eq!(count(&mut conn, "suspended"), 0, "{label}: nothing applied");
        let good = format!("学籍号,生效日期,原因\n{},{day},因病\n{},{day},因病\n", nos[0], nos[1]);
        std::fs::write(&file, good).expect("write");
        let (ok, out, err) = run(&["--db", &url, "change", "suspend", file.to_str().expect("path")]);
        assert!(ok, "{label}: {out} {err}");
        assert_eq!(count(&mut conn, "suspended"), 2);

        // Promotion of the whole county.
        let enrolled_before = count(&mut conn, "enrolled");
        let (ok, out, err) = run(&["--db", &url, "--json", "year", "promote", "--county", "522326", "--dry-run"]);
        assert!(ok, "{label}: {err}");
        let preview: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
        let graduates = preview["graduates"].as_array().map(Vec::len).unwrap_or(0);
        assert!(graduates > 100, "{label}: sixth and ninth graders graduate ({graduates})");
        assert_eq!(count(&mut conn, "graduated"), 0, "a dry run writes nothing");
        let (ok, out, err) = run(&["--db", &url, "--json", "year", "promote", "--county", "522326"]);
        assert!(ok, "{label}: {err}");
        let applied: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
        assert_eq!(applied["graduates"].as_array().map(Vec::len), Some(graduates));
        assert_eq!(count(&mut conn, "graduated") as usize, graduates);
        assert_eq!(count(&mut conn, "enrolled"), enrolled_before - graduates as i64);
        let (ok, _, err) = run(&["--db", &url, "year", "promote", "--county", "522326"]);
        assert!(!ok && err.contains("promotion.already_done"), "{label}: a rerun is refused: {err}");
        let jobs: i64 = promotions::table.count().get_result(&mut conn).expect("count");
        assert_eq!(jobs, 1);
        let (ok, _, err) = run(&["--db", &url, "year", "undo", &applied["promotion_id"].to_string()]);
        assert!(ok, "{label}: {err}");
        assert_eq!(count(&mut conn, "graduated"), 0);
    }
}
