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
        let app = test::init_service(mealroll::web::app(w.state())).await;
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
        assert_eq!(other.code, "job.gone", "{label}");
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
        assert_eq!(jobs_here.file(&id, owner).expect_err("gone").code, "job.expired", "{label}");
        let bytes: Option<Vec<u8>> = jobs::table.find(&id).select(jobs::file_bytes).first(&mut w.conn()).expect("row");
        assert_eq!(bytes, None, "{label}: the file itself is deleted");
    }
}
