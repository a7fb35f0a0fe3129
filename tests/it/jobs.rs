//! Jobs are rows: a job started on one server shows on another, only to its owner; a server
//! that died mid-job leaves it marked failed with its reason when it starts again (or when its
//! heartbeat stops, for whoever looks), nothing half-imported, and the job runs again from the
//! input kept with it; results expire after the keeping time and the row stays.

use crate::common;

use std::time::Duration;

use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{jobs, students};
use mealroll::demo::StudentFactory;
use mealroll::domain::student::StudentRecord;
use mealroll::error::ErrorCode;
use mealroll::exchange::import::ImportOptions;
use mealroll::exchange::jobs::{JobInput, JobStatus, Jobs, Outcome};

fn roster_csv(n: usize) -> Vec<u8> {
    let mut f = StudentFactory::new(77);
    let today = f.today;
    let rows: Vec<(String, StudentRecord)> = (0..n)
        .map(|_| (SCHOOL_A.to_owned(), StudentRecord::parse(&f.raw("202601", 1, false), today).expect("valid")))
        .collect();
    csv_of(&rows)
}

fn user_id(w: &World, name: &str) -> i64 {
    w.caller(name).user_id.expect("user")
}

fn students_at_a(w: &World) -> i64 {
    students::table.count().get_result(&mut w.conn()).expect("count")
}

#[actix_web::test]
async fn a_job_cut_short_by_its_server_stopping_says_so_anywhere_and_runs_again() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let sessions: std::collections::HashMap<&str, String> =
            ["a.xueji", "b.xueji"].into_iter().map(|u| (u, format!("mealroll_session={}", w.token(u)))).collect();
        let cookie = |u: &str| (actix_web::http::header::COOKIE, sessions[u].clone());
        let page = |u: &str, id: &str| {
            test::TestRequest::get().uri(&format!("/jobs/{id}")).insert_header(cookie(u)).to_request()
        };

        // Server A takes an import and dies before it finishes (the job was recorded, then nothing).
        let a = Jobs::new(w.pool.clone(), "server-a", Duration::from_secs(3600));
        let input = JobInput::Import {
            school: Some(SCHOOL_A.into()),
            filename: "新生名单.csv".into(),
            options: ImportOptions::default(),
        };
        let before = students_at_a(&w);
        let id = a.start(user_id(&w, "a.xueji"), "导入 新生名单.csv", &input, Some(&roster_csv(5))).expect("start");

        // This server (another one) shows it running to its owner; to anyone else it is not there.
        let r = test::call_service(&app, page("a.xueji", &id)).await;
        assert_eq!(r.status(), 200, "{label}");
        let html = body_text(r).await;
        assert!(html.contains("http-equiv=\"refresh\"") && html.contains("正在"), "{label}: {html}");
        let r = test::call_service(&app, page("b.xueji", &id)).await;
        assert_eq!(r.status(), 404, "{label}: another user's job is not there");

        // Server A starts again: the job it was running is failed, saying why.
        let restarted = Jobs::new(w.pool.clone(), "server-a", Duration::from_secs(3600));
        assert_eq!(restarted.recover().expect("recover"), 1, "{label}");
        let state = restarted.get(&id, user_id(&w, "a.xueji")).expect("kept");
        assert_eq!(state.status, JobStatus::Failed, "{label}");
        assert!(state.restartable, "{label}");
        let html = body_text(test::call_service(&app, page("a.xueji", &id)).await).await;
        assert!(html.contains("中途停止") && html.contains("job-restart"), "{label}: {html}");
        assert!(!html.contains("http-equiv=\"refresh\""), "{label}: no longer polling");
        assert_eq!(students_at_a(&w), before, "{label}: nothing half-imported");

        // Run again from the page, from the input the job kept.
        let csrf = csrf_of(&html);
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/jobs/{id}/restart"))
                .insert_header(cookie("a.xueji"))
                .set_form(vec![("csrf", csrf.as_str())])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        let next = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .expect("location")
            .trim_start_matches("/jobs/")
            .to_owned();
        assert_ne!(next, id, "{label}: a new job");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let done = loop {
            let s = w.state().jobs.get(&next, user_id(&w, "a.xueji")).expect("job");
            if s.finished || std::time::Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(done.status, JobStatus::Done, "{label}: {:?}", done.error);
        assert_eq!(done.report.as_ref().map(|r| r.imported), Some(5), "{label}: {:?}", done.report);
        assert_eq!(students_at_a(&w), before + 5, "{label}");
        // The forged or foreign restart is refused.
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/jobs/{id}/restart"))
                .insert_header(cookie("a.xueji"))
                .set_form(vec![("csrf", "forged")])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 403, "{label}");
        let other = w.state().jobs.input(&id, user_id(&w, "b.xueji")).expect_err("not theirs");
        assert_eq!(other.code, ErrorCode::JobGone, "{label}");
    }
}

#[actix_web::test]
async fn a_job_whose_server_stopped_beating_is_failed_by_whoever_looks() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let b = Jobs::new(w.pool.clone(), "server-b", Duration::from_secs(3600));
        let owner = user_id(&w, "yyb");
        let id = b.start(owner, "打印花名册", &JobInput::PrintRosters { term: "2026-1".into() }, None).expect("start");
        let here = w.state().jobs.clone();
        assert_eq!(here.get(&id, owner).expect("job").status, JobStatus::Running, "{label}");
        diesel::update(jobs::table.find(&id))
            .set(jobs::heartbeat_at.eq(mealroll::clock::now() - chrono::Duration::minutes(5)))
            .execute(&mut w.conn())
            .expect("age");
        let s = here.get(&id, owner).expect("job");
        assert_eq!(s.status, JobStatus::Failed, "{label}");
        assert!(s.error.as_deref().is_some_and(|e| e.contains("中途停止")), "{label}: {:?}", s.error);
        // The failure is recorded, not only shown.
        let state: String = jobs::table.find(&id).select(jobs::state).first(&mut w.conn()).expect("row");
        assert_eq!(state, "failed", "{label}");
    }
}

#[actix_web::test]
async fn results_expire_after_the_keeping_time_and_the_job_stays_as_history() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let jobs_here = Jobs::new(w.pool.clone(), "test-server", Duration::from_secs(3600));
        let owner = user_id(&w, "yyb");
        let id = jobs_here
            .start(owner, "打印花名册", &JobInput::PrintRosters { term: "2026-1".into() }, None)
            .expect("start");
        jobs_here.finish(
            &id,
            Ok(Outcome { done: 3, file: Some(("花名册.pdf".into(), b"%PDF-1.7".to_vec())), ..Outcome::default() }),
        );
        assert_eq!(jobs_here.file(&id, owner).expect("file").1, b"%PDF-1.7", "{label}");
        diesel::update(jobs::table.find(&id))
            .set(jobs::finished_at.eq(mealroll::clock::now() - chrono::Duration::hours(2)))
            .execute(&mut w.conn())
            .expect("age");
        let s = jobs_here.get(&id, owner).expect("still there");
        assert!(s.expired && s.finished && s.status == JobStatus::Done, "{label}: {s:?}");
        assert_eq!(jobs_here.file(&id, owner).expect_err("gone").code, ErrorCode::JobExpired, "{label}");
        let bytes: Option<Vec<u8>> = jobs::table.find(&id).select(jobs::file_bytes).first(&mut w.conn()).expect("row");
        assert_eq!(bytes, None, "{label}: the file itself is deleted");
    }
}

/// Polls a job until it ends (a minute at most).
fn finished(w: &World, id: &str, owner: i64) -> mealroll::exchange::jobs::JobState {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = w.state().jobs.get(id, owner).expect("job");
        if s.finished || std::time::Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn job_of(location: &str) -> String {
    location.strip_prefix("/jobs/").unwrap_or_else(|| panic!("a job's page, not {location}")).to_owned()
}

#[actix_web::test]
async fn a_month_computed_and_a_county_scanned_from_their_pages_run_as_jobs_that_say_what_they_did() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        crate::meal_days::autumn(&app, &w).await;
        for seq in 1..=2 {
            crate::meal_days::child(&app, &w, "202601", seq).await;
        }
        let sessions: std::collections::HashMap<&str, String> =
            ["yyb", "a.xueji"].into_iter().map(|u| (u, format!("mealroll_session={}", w.token(u)))).collect();
        let cookie = |u: &str| (actix_web::http::header::COOKIE, sessions[u].clone());
        let get = |u: &str, uri: &str| test::TestRequest::get().uri(uri).insert_header(cookie(u)).to_request();
        let post = |u: &str, uri: &str, form: Vec<(&str, &str)>| {
            test::TestRequest::post().uri(uri).insert_header(cookie(u)).set_form(form).to_request()
        };
        let yyb = user_id(&w, "yyb");

        // The county computes November from its page: a job, then what it computed.
        let html = body_text(test::call_service(&app, get("yyb", "/entitlements?month=2026-11")).await).await;
        let csrf = csrf_of(&html);
        let r = test::call_service(
            &app,
            post("yyb", "/entitlements", vec![("csrf", &csrf), ("month", "2026-11"), ("action", "compute")]),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        let id = job_of(r.headers().get("location").and_then(|l| l.to_str().ok()).expect("location"));
        let job = finished(&w, &id, yyb);
        assert_eq!(job.status, JobStatus::Done, "{label}: {:?}", job.error);
        assert_eq!((job.done, job.total), (1, Some(1)), "{label}: one programme school");
        let (s, list) =
            call(&app, test::TestRequest::get().uri("/api/v1/entitlements?month=2026-11"), &bearer(&w, "yyb")).await;
        assert_eq!(s, 200, "{label}: {list}");
        let period = &list[0];
        let summary = job.summary.clone().expect("a summary");
        assert_eq!(
            summary.text,
            format!(
                "已计算 1 所学校 2026-11 的膳食补助：受益学生 {} 人，合计 {} 元。",
                period["students"],
                period["amount"].as_str().expect("amount")
            ),
            "{label}: the job says what the month holds: {list}"
        );
        assert_eq!(period["students"], 2, "{label}: {list}");
        assert_eq!(summary.href, "/entitlements?month=2026-11", "{label}");
        let html = body_text(test::call_service(&app, get("yyb", &format!("/jobs/{id}"))).await).await;
        assert!(html.contains("job-summary-link") && html.contains(&summary.text), "{label}: {html}");

        // The API reads the same job; another user finds no such job.
        let (s, v) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/jobs/{id}")), &bearer(&w, "yyb")).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("done")), "{label}: {v}");
        assert_eq!(v["summary"]["text"].as_str(), Some(summary.text.as_str()), "{label}: {v}");
        let (s, v) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/jobs/{id}")), &bearer(&w, "a.xueji")).await;
        assert_eq!((s, v["error"].as_str()), (404, Some("job.gone")), "{label}: {v}");

        // A school's registrar may not compute: refused on the form, no job recorded.
        let jobs_before: i64 = jobs::table.count().get_result(&mut w.conn()).expect("count");
        let html = body_text(test::call_service(&app, get("a.xueji", "/students")).await).await;
        let r = test::call_service(
            &app,
            post(
                "a.xueji",
                "/entitlements",
                vec![("csrf", &csrf_of(&html)), ("month", "2026-11"), ("action", "compute")],
            ),
        )
        .await;
        assert_eq!(r.status(), 403, "{label}");
        let r = test::call_service(
            &app,
            post("a.xueji", "/inspections/refresh", vec![("csrf", &csrf_of(&html)), ("term", "2026-1")]),
        )
        .await;
        assert!(r.status() == 403 || r.status() == 422, "{label}: {}", r.status());
        let jobs_after: i64 = jobs::table.count().get_result(&mut w.conn()).expect("count");
        assert_eq!(jobs_after, jobs_before, "{label}: a refused start records no job");

        // The county rescans its term from the flags page: a job that says what changed.
        let r =
            test::call_service(&app, post("yyb", "/inspections/refresh", vec![("csrf", &csrf), ("term", "2026-1")]))
                .await;
        assert_eq!(r.status(), 303, "{label}");
        let id = job_of(r.headers().get("location").and_then(|l| l.to_str().ok()).expect("location"));
        let job = finished(&w, &id, yyb);
        assert_eq!(job.status, JobStatus::Done, "{label}: {:?}", job.error);
        let summary = job.summary.expect("a summary");
        assert!(summary.text.starts_with("扫描完成：新发现疑点"), "{label}: {}", summary.text);
        assert_eq!(summary.href, format!("/inspections?org={COUNTY}&term=2026-1"), "{label}");
        let scans: i64 = mealroll::db::schema::anomaly_scans::table.count().get_result(&mut w.conn()).expect("scans");
        assert_eq!(scans, 1, "{label}: the scan was stored");
    }
}

#[actix_web::test]
async fn a_month_s_computation_cut_short_says_what_stands_and_runs_again() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let owner = user_id(&w, "yyb");
        let a = Jobs::new(w.pool.clone(), "server-a", Duration::from_secs(3600));
        let input = JobInput::Entitle { org: COUNTY.into(), month: "2026-11".into() };
        let month = a.start(owner, "计算 2026-11 膳食补助", &input, None).expect("start");
        let scan =
            a.start(owner, "扫描", &JobInput::Scan { org: COUNTY.into(), term: "2026-1".into() }, None).expect("start");
        assert_eq!(Jobs::new(w.pool.clone(), "server-a", Duration::from_secs(3600)).recover().expect("recover"), 2);
        let cut = a.get(&month, owner).expect("job");
        assert_eq!(cut.status, JobStatus::Failed, "{label}");
        assert!(
            cut.error.as_deref().is_some_and(|e| e.contains("已算完的学校已保存")),
            "{label}: a month says whole schools stand: {:?}",
            cut.error
        );
        assert!(cut.restartable, "{label}: a month needs no kept file to run again");
        let cut = a.get(&scan, owner).expect("job");
        assert!(
            cut.error.as_deref().is_some_and(|e| e.contains("本次未改变任何疑点")),
            "{label}: a scan says nothing changed: {:?}",
            cut.error
        );
        assert_eq!(a.input(&month, owner).expect("input").0, input, "{label}: what to run again");
    }
}
