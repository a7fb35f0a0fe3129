//! Crash drills: a command is killed with SIGKILL (no chance to tidy up) part-way through an
//! import, a file of postings, a county's month entitlement and its close, a school's roster, a
//! county's promotion, a backup, an approval race and (the server killed) a report submission,
//! on both databases. Afterwards
//! the work is there whole or not at all, the audit and ledger chains verify, and the command
//! run again finishes as if nothing had happened.

use crate::common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::DbConn;
use mealroll::db::schema::{ledger_entries, students};
use mealroll::demo::StudentFactory;
use mealroll::domain::student::StudentRecord;
use serde_json::json;

/// Moments after the start at which the command is killed: early (still reading), middle, late.
const KILL_AFTER_MS: [u64; 4] = [80, 300, 700, 1500];

/// The same for a county's month, which a debug build computes or closes in about 0.2 s.
const KILL_MONTH_AFTER_MS: [u64; 6] = [50, 90, 130, 170, 220, 300];

/// The same for an approval, which a debug build finishes in a few tens of milliseconds.
const KILL_APPROVAL_AFTER_MS: [u64; 6] = [5, 15, 30, 50, 80, 130];

/// The same for a school's roster, which a debug build makes in well under a second.
const KILL_ROSTER_AFTER_MS: [u64; 6] = [60, 120, 180, 250, 350, 500];

fn spawn(url: &str, data: &Path, args: &[&str]) -> Child {
    mealroll_cmd()
        .args(["--db", url])
        .args(args)
        .env("MEALROLL_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

/// Kills the command `ms` after it started; whether it was still running then.
fn kill_after(mut child: Child, ms: u64) -> bool {
    let deadline = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let running = child.try_wait().ok().flatten().is_none();
    let _ = child.kill();
    let _ = child.wait();
    running
}

fn run_to_end(url: &str, data: &Path, args: &[&str]) {
    let out = mealroll_cmd().args(["--db", url]).args(args).env("MEALROLL_DATA_DIR", data).output().expect("run");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Both chains verify. A break never heals (verify walks every row), so on the demo county a
/// drill checks once after all its kills rather than after each: the same proof, far less time.
fn chains_hold(conn: &mut DbConn, what: &str) {
    let v = mealroll::audit::service::verify(conn, None).expect("audit verify");
    assert_eq!(v.first_broken, None, "{what}: the audit chain");
    let l = mealroll::ledger::fund::verify_all(conn, None).expect("ledger verify");
    assert!(l.broken.is_empty(), "{what}: the ledger: {:?}", l.broken);
}

fn count_students(conn: &mut DbConn) -> i64 {
    students::table.count().get_result(conn).expect("count")
}

#[actix_web::test]
async fn a_killed_import_file_of_postings_or_backup_is_there_whole_or_not_at_all() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let data = tempfile::tempdir().expect("data");
        let dir = tempfile::tempdir().expect("files");

        // A registry file of 1,500 children.
        let mut f = StudentFactory::new(5);
        let today = f.today;
        let rows: Vec<(String, StudentRecord)> = (0..1500)
            .map(|_| (SCHOOL_A.to_owned(), StudentRecord::parse(&f.raw("202601", 1, false), today).expect("valid")))
            .collect();
        let file = dir.path().join("名单.csv");
        std::fs::write(&file, csv_of(&rows)).expect("write");
        let file = file.to_str().expect("path");
        let before = count_students(&mut w.conn());
        let mut seen_none = false;
        for ms in KILL_AFTER_MS {
            let killed =
                kill_after(spawn(&w.db.url, data.path(), &["import", "students", file, "--school", SCHOOL_A]), ms);
            let mut conn = w.conn();
            let n = count_students(&mut conn);
            assert!(n == before || n == before + 1500, "{label}: killed after {ms} ms: {n} students, half an import");
            seen_none |= killed && n == before;
            chains_hold(&mut conn, &format!("{label}: import killed after {ms} ms"));
        }
        assert!(seen_none, "{label}: at least one kill landed mid-import");
        run_to_end(&w.db.url, data.path(), &["import", "students", file, "--school", SCHOOL_A]);
        assert_eq!(count_students(&mut w.conn()), before + 1500, "{label}: run again, it finishes");

        // A file of 400 expenditures against money the school holds.
        add_user(&w, "caiwu", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        for (kind, from, to, voucher) in [("receipt", "", COUNTY, "SR-1"), ("allocation", COUNTY, SCHOOL_A, "BF-1")] {
            let body = json!({"kind": kind, "fund": "meal", "from": from, "to": to, "amount": "5000",
                              "date": "2026-09-01", "category": "", "voucher_no": voucher, "memo": "拨款"});
            let (s, v) = call(
                &app,
                test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(body),
                &bearer(&w, "caiwu"),
            )
            .await;
            assert_eq!(s, 201, "{label}: {v}");
        }
        let mut csv = String::from("学校标识码,日期,类别,金额,凭证号,摘要,资金\n");
        for i in 0..400 {
            csv.push_str(&format!("{SCHOOL_A},2026-09-02,粮油,1.50,ZC-{i:04},大米,膳食补助\n"));
        }
        let spend = dir.path().join("支出.csv");
        std::fs::write(&spend, csv).expect("write");
        let spend = spend.to_str().expect("path");
        let entries = |conn: &mut DbConn| -> i64 { ledger_entries::table.count().get_result(conn).expect("n") };
        let before = entries(&mut w.conn());
        let mut seen = Vec::new();
        for ms in KILL_AFTER_MS {
            kill_after(spawn(&w.db.url, data.path(), &["import", "expenditures", spend]), ms);
            let mut conn = w.conn();
            seen.push((ms, entries(&mut conn)));
            chains_hold(&mut conn, &format!("{label}: postings killed after {ms} ms"));
        }
        run_to_end(&w.db.url, data.path(), &["import", "expenditures", spend]);
        let whole = entries(&mut w.conn());
        assert!(whole >= before + 400, "{label}: run again, all 400 posted ({})", whole - before);
        for (ms, n) in seen {
            assert!(
                n == before || n == whole,
                "{label}: killed after {ms} ms: {} entries of {}",
                n - before,
                whole - before
            );
        }
        run_to_end(&w.db.url, data.path(), &["import", "expenditures", spend]);
        assert_eq!(entries(&mut w.conn()), whole, "{label}: and a third time nothing is posted twice");

        // A backup killed part-way leaves no file under the name asked for; the next one restores.
        let out = dir.path().join("county.backup");
        let out_s = out.to_str().expect("path");
        for ms in [20, 60, 150] {
            if kill_after(spawn(&w.db.url, data.path(), &["backup", "--out", out_s]), ms) {
                assert!(!out.exists(), "{label}: no backup file from a backup killed after {ms} ms");
            }
            let _ = std::fs::remove_file(&out);
        }
        run_to_end(&w.db.url, data.path(), &["backup", "--out", out_s]);
        let target = TestDb::sqlite();
        run_to_end(&target.url, data.path(), &["restore", out_s]);
    }
}

#[actix_web::test]
async fn a_killed_promotion_entitlement_or_roster_leaves_the_county_as_it_was_or_as_it_should_be() {
    for (db, _) in TestDb::demos() {
        let label = db.label;
        let url = db.url.clone();
        let data = tempfile::tempdir().expect("data");
        let w = World::bare(db);
        entitlement_drill(&w, &url, data.path(), label);
        roster_drill(&w, &url, data.path(), label);
        let graduated = |conn: &mut DbConn| -> i64 {
            students::table.filter(students::status.eq("graduated")).count().get_result(conn).expect("n")
        };
        let preview = mealroll_cmd()
            .args(["--db", &url, "--json", "year", "promote", "--county", "522326", "--dry-run"])
            .env("MEALROLL_DATA_DIR", data.path())
            .output()
            .expect("run");
        let preview: serde_json::Value = serde_json::from_slice(&preview.stdout).expect("json");
        let whole = preview["graduates"].as_array().map_or(0, Vec::len) as i64;
        assert!(whole > 100, "{label}: sixth and ninth graders graduate ({whole})");
        let mut done = false;
        for ms in KILL_AFTER_MS {
            kill_after(spawn(&url, data.path(), &["year", "promote", "--county", "522326"]), ms);
            let n = graduated(&mut w.conn());
            assert!(n == 0 || n == whole, "{label}: killed after {ms} ms: {n} of {whole} graduated");
            if n == whole {
                done = true;
                break;
            }
        }
        if !done {
            run_to_end(&url, data.path(), &["year", "promote", "--county", "522326"]);
        }
        assert_eq!(graduated(&mut w.conn()), whole, "{label}: the whole promotion, once");
        chains_hold(&mut w.conn(), &format!("{label}: promotions killed part-way"));
        let again = mealroll_cmd()
            .args(["--db", &url, "year", "promote", "--county", "522326"])
            .env("MEALROLL_DATA_DIR", data.path())
            .output()
            .expect("run");
        assert!(
            !again.status.success() && String::from_utf8_lossy(&again.stderr).contains("promotion.already_done"),
            "{label}: the promotion is recorded as done, once"
        );
    }
}

/// Each school's month as stored: (school, students, amount, adjustment, closed) and the sums of
/// its lines (base count, base amount, adjustment amount).
type MonthOf = Vec<((i64, i32, i64, i64, bool), (i64, i64, i64))>;

fn month_of(conn: &mut DbConn, month: i32) -> MonthOf {
    use mealroll::db::schema::{entitlement_lines as l, entitlement_periods as p};
    let periods: Vec<(i64, i64, i32, i64, i64, String)> = p::table
        .filter(p::month.eq(month))
        .select((p::id, p::school_id, p::students, p::amount_fen, p::adjustment_fen, p::status))
        .order(p::school_id)
        .load(conn)
        .expect("periods");
    periods
        .into_iter()
        .map(|(id, school, students, amount, adjustment, status)| {
            let lines: Vec<(String, i64)> =
                l::table.filter(l::period_id.eq(id)).select((l::kind, l::amount_fen)).load(conn).expect("lines");
            let sum = |kind: &str| lines.iter().filter(|(k, _)| k == kind).map(|(_, a)| a).sum::<i64>();
            let base = lines.iter().filter(|(k, _)| k == "base").count() as i64;
            ((school, students, amount, adjustment, status == "closed"), (base, sum("base"), sum("adjustment")))
        })
        .collect()
}

/// This month's entitlement of the demo county, computed and then closed, each killed part-way:
/// every school's month is its lines' sum or not there at all, open or closed whole, and the
/// run finished afterwards gives what one uninterrupted run gives.
fn entitlement_drill(w: &World, url: &str, data: &Path, label: &str) {
    let month = mealroll::clock::today().format("%Y-%m").to_string();
    let key = mealroll::domain::calendar::Month::parse(&month).expect("month").key();
    let whole = |stage: &str, m: &MonthOf| {
        for ((school, students, amount, adjustment, _), (base, base_sum, adj_sum)) in m {
            assert_eq!(
                (i64::from(*students), *amount, *adjustment),
                (*base, *base_sum, *adj_sum),
                "{label}: {stage}: school {school}'s month is not the sum of its lines"
            );
        }
    };
    let compute = ["entitle", "--county", "522326", "--month", &month];
    let mut killed = 0;
    for ms in KILL_MONTH_AFTER_MS {
        let running = kill_after(spawn(url, data, &compute), ms);
        killed += usize::from(running);
        whole(&format!("compute killed after {ms} ms"), &month_of(&mut w.conn(), key));
        if !running {
            break;
        }
    }
    run_to_end(url, data, &compute);
    let after_kills = month_of(&mut w.conn(), key);
    assert!(after_kills.len() > 10, "{label}: the county's schools have this month ({})", after_kills.len());
    run_to_end(url, data, &compute);
    assert_eq!(month_of(&mut w.conn(), key), after_kills, "{label}: an uninterrupted run gives the same month");

    let close = ["entitle", "--county", "522326", "--month", &month, "--close"];
    for ms in KILL_MONTH_AFTER_MS {
        let running = kill_after(spawn(url, data, &close), ms);
        killed += usize::from(running);
        let m = month_of(&mut w.conn(), key);
        whole(&format!("close killed after {ms} ms"), &m);
        let unclosed: Vec<_> = m.iter().filter(|((.., closed), _)| !closed).map(|((s, ..), _)| *s).collect();
        let same: Vec<_> = m.iter().map(|((s, n, a, j, _), l)| ((*s, *n, *a, *j), *l)).collect();
        let before: Vec<_> = after_kills.iter().map(|((s, n, a, j, _), l)| ((*s, *n, *a, *j), *l)).collect();
        assert_eq!(same, before, "{label}: closing killed after {ms} ms changed a figure");
        if unclosed.is_empty() || !running {
            break;
        }
    }
    assert!(killed >= 2, "{label}: a drill that killed nothing proves nothing ({killed} kills)");
    // The close run again finishes the county: the schools a killed run closed stay closed.
    run_to_end(url, data, &close);
    let m = month_of(&mut w.conn(), key);
    assert!(m.iter().all(|((.., closed), _)| *closed), "{label}: every school closed");
    whole("closed", &m);
    chains_hold(&mut w.conn(), &format!("{label}: months computed and closed, killed part-way"));
}

/// Each version of a school's roster for a term: (version, student count, its lines, its
/// lines' names).
fn roster_versions(conn: &mut DbConn, school: i64, term: &str) -> Vec<(i32, i32, i64, Vec<String>)> {
    use mealroll::db::schema::{roster_lines as l, rosters as r};
    let t = mealroll::domain::term::Term::parse(term).expect("term");
    let versions: Vec<(i64, i32, i32)> = r::table
        .filter(r::school_id.eq(school))
        .filter(r::school_year.eq(t.school_year()))
        .filter(r::term.eq(i32::from(t.half())))
        .select((r::id, r::version, r::student_count))
        .order(r::version)
        .load(conn)
        .expect("rosters");
    versions
        .into_iter()
        .map(|(id, version, count)| {
            let names: Vec<String> =
                l::table.filter(l::roster_id.eq(id)).select(l::name).order(l::seq).load(conn).expect("lines");
            (version, count, names.len() as i64, names)
        })
        .collect()
}

/// This term's roster of the demo's largest school made again after each change in its registry,
/// each build killed part-way: every version there is whole (its count is its lines), a killed
/// build leaves no version behind or a whole one, and the build finished afterwards holds the
/// registry as it stands.
fn roster_drill(w: &World, url: &str, data: &Path, label: &str) {
    use mealroll::db::schema::{orgs, rosters};
    let term = mealroll::domain::term::Term::of_day(mealroll::clock::today()).to_string();
    let t = mealroll::domain::term::Term::parse(&term).expect("term");
    let (school, code): (i64, String) = rosters::table
        .inner_join(orgs::table.on(orgs::id.eq(rosters::school_id)))
        .filter(rosters::school_year.eq(t.school_year()))
        .filter(rosters::term.eq(i32::from(t.half())))
        .order(rosters::student_count.desc())
        .select((orgs::id, orgs::code))
        .first(&mut w.conn())
        .expect("the demo builds this term's rosters");
    let whole = |stage: &str| {
        let versions = roster_versions(&mut w.conn(), school, &term);
        for (version, count, lines, _) in &versions {
            assert_eq!(i64::from(*count), *lines, "{label}: {stage}: version {version} is not whole");
        }
        versions
    };
    let build = ["roster", "build", "--school", &code, "--term", &term, "--after-archive"];
    let child: i64 = students::table
        .filter(students::school_id.eq(school))
        .filter(students::status.eq("enrolled"))
        .filter(students::review.eq("confirmed"))
        .select(students::id)
        .first(&mut w.conn())
        .expect("a child");
    let mut killed = 0;
    for (k, ms) in KILL_ROSTER_AFTER_MS.into_iter().enumerate() {
        // A change in the registry makes the next build a new version.
        let before = whole("before").len();
        diesel::update(students::table.find(child))
            .set(students::name.eq(format!("韦改名{k}")))
            .execute(&mut w.conn())
            .expect("rename");
        let running = kill_after(spawn(url, data, &build), ms);
        killed += usize::from(running);
        let after = whole(&format!("build killed after {ms} ms"));
        assert!(after.len() == before || after.len() == before + 1, "{label}: one version or none");
    }
    assert!(killed >= 2, "{label}: a drill that killed nothing proves nothing ({killed} kills)");
    run_to_end(url, data, &build);
    let versions = whole("finished");
    let (_, count, _, names) = versions.last().expect("a version");
    assert!(names.iter().any(|n| n == "韦改名5"), "{label}: the newest version holds the registry as it stands");
    assert!(*count > 100, "{label}: the school's children ({count})");
    chains_hold(&mut w.conn(), &format!("{label}: rosters built, killed part-way"));
}

/// A pending receipt's state after a race: its status and how many entries it posted.
fn receipt_state(conn: &mut DbConn, id: i64) -> (String, i64) {
    use mealroll::db::schema::ledger_requests;
    let status: String = ledger_requests::table.find(id).select(ledger_requests::status).first(conn).expect("request");
    let entries: i64 =
        ledger_entries::table.filter(ledger_entries::request_id.eq(id)).count().get_result(conn).expect("entries");
    (status, entries)
}

#[actix_web::test]
async fn a_killed_approval_race_posts_once_and_a_killed_report_submission_is_whole_or_absent() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let data = tempfile::tempdir().expect("data");
        add_user(&w, "caiwu", COUNTY, "finance");
        add_user(&w, "caiwu2", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let caiwu = bearer(&w, "caiwu");
        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/ledger/threshold").set_json(json!({"amount": "50000"})),
            &caiwu,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");

        // Two second persons approve the same large receipt at once, from two processes; one
        // of them is killed part-way. The receipt is posted once, or (both gone) still waits.
        let mut killed = 0;
        for (i, ms) in KILL_APPROVAL_AFTER_MS.into_iter().enumerate() {
            let body = json!({"kind": "receipt", "fund": "meal", "from": "", "to": COUNTY, "amount": "200000",
                              "date": "2026-09-01", "category": "", "voucher_no": format!("SR-{i}"), "memo": "省级拨款"});
            let (s, v) =
                call(&app, test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(body), &caiwu).await;
            assert_eq!((s, v["status"].as_str()), (201, Some("pending")), "{label}: {v}");
            let id = v["id"].as_i64().expect("id");
            let id_s = id.to_string();
            let victim = spawn(&w.db.url, data.path(), &["ledger", "approve", &id_s, "--as", "caiwu2"]);
            let rival = spawn(&w.db.url, data.path(), &["ledger", "approve", &id_s, "--as", "yyb"]);
            killed += usize::from(kill_after(victim, ms));
            let mut rival = rival;
            let _ = rival.wait();
            let mut conn = w.conn();
            let (status, entries) = receipt_state(&mut conn, id);
            assert!(
                (status == "posted" && entries == 1) || (status == "pending" && entries == 0),
                "{label}: approval race killed after {ms} ms: {status} with {entries} entries"
            );
            chains_hold(&mut conn, &format!("{label}: approval race killed after {ms} ms"));
            drop(conn);
            if status == "pending" {
                run_to_end(&w.db.url, data.path(), &["ledger", "approve", &id_s, "--as", "yyb"]);
                assert_eq!(receipt_state(&mut w.conn(), id), ("posted".into(), 1), "{label}: approved after");
            }
        }
        assert!(killed >= 2, "{label}: a drill that killed nothing proves nothing ({killed} kills)");

        // A school submits its report to a server that is killed while answering: the
        // submission is there with its audit row, or neither is; the next server takes it.
        crate::meal_days::autumn(&app, &w).await;
        crate::meal_days::child(&app, &w, "202601", 1).await;
        let token = format!("Bearer {}", w.token("a.xiaozhang"));
        let mut landed_killed = (0, 0);
        for (period, ms) in [("2026-09", 2), ("2026-10", 8), ("2026-11", 20), ("2026-1", 60)] {
            let server = Served::start(&w.db.url, data.path(), &token);
            let url = format!("{}/api/v1/reports/school-regular/submissions", server.base);
            let (auth, body) = (token.clone(), json!({"org": SCHOOL_A, "period": period}).to_string());
            let sent = std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                agent
                    .post(&url)
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(body.as_bytes())
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            });
            std::thread::sleep(Duration::from_millis(ms));
            drop(server);
            let status = sent.join().expect("request");
            let mut conn = w.conn();
            let (rows, audited) = submissions(&mut conn, period);
            assert_eq!(rows, audited, "{label}: {period} killed after {ms} ms: every submission audited, none else");
            assert!(rows <= 1, "{label}: {period}: {rows} submissions");
            assert!(status != 201 || rows == 1, "{label}: {period}: answered 201 yet nothing stored");
            chains_hold(&mut conn, &format!("{label}: submission of {period} killed after {ms} ms"));
            landed_killed = (landed_killed.0 + rows, landed_killed.1 + usize::from(status == 0));
            drop(conn);
            // The next server takes the same submission whole (or finds it already there).
            let server = Served::start(&w.db.url, data.path(), &token);
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            let status = agent
                .post(&format!("{}/api/v1/reports/school-regular/submissions", server.base))
                .header("Authorization", &token)
                .header("Content-Type", "application/json")
                .send(json!({"org": SCHOOL_A, "period": period}).to_string().as_bytes())
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            assert_eq!(status, if rows == 1 { 200 } else { 201 }, "{label}: {period} submitted again");
            assert_eq!(submissions(&mut w.conn(), period), (1, 1), "{label}: {period} once");
        }
        assert!(landed_killed.1 >= 1, "{label}: at least one server died before it answered ({landed_killed:?})");
    }
}

/// Submissions of school A's school-regular report for `period`, and the audit rows saying so.
fn submissions(conn: &mut DbConn, period: &str) -> (usize, usize) {
    use mealroll::db::schema::{audit_log, report_submissions};
    let rows: i64 = report_submissions::table
        .filter(report_submissions::period.eq(period))
        .filter(report_submissions::report.eq("school-regular"))
        .count()
        .get_result(conn)
        .expect("rows");
    let audited = audit_log::table
        .filter(audit_log::action.eq("report.submit"))
        .select(audit_log::after_json)
        .load::<Option<String>>(conn)
        .expect("audit")
        .into_iter()
        .flatten()
        .filter(|a| a.contains(&format!("\"period\":\"{period}\"")))
        .count();
    (rows as usize, audited)
}

/// `mealroll serve` on a free port, killed (SIGKILL) when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Served {
    fn start(url: &str, data: &Path, token: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let child = mealroll_cmd()
            .args(["--db", url, "serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("MEALROLL_DATA_DIR", data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        let served = Served { child, base: format!("http://127.0.0.1:{port}") };
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let deadline = Instant::now() + Duration::from_secs(60);
        while agent
            .get(&format!("{}/api/v1/me", served.base))
            .header("Authorization", token)
            .call()
            .map_or(0, |r| r.status().as_u16())
            != 200
        {
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        served
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
