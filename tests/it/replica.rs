//! A streaming replica (issue 22): with `read_database_url` set, lists, reports and scans are read
//! from the replica and writes go to the primary. The test makes a primary and a replica of its
//! own — initdb, pg_basebackup, a second server — so the machine's server is left as it is, and
//! proves the reads come from the replica by pausing its replay: a child registered on the primary
//! is missing from the list and the report until replay resumes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use actix_web::test;
use diesel::prelude::*;
use serde_json::Value;

use crate::common::*;

/// The directory of the PostgreSQL server's programs.
fn pg_bin() -> PathBuf {
    let out = Command::new("pg_config").arg("--bindir").output();
    if let Ok(out) = out
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's programs (/usr/lib/postgresql/*/bin)")
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().expect("initdb under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL program, run as the `postgres` user when the tests run as root (the server
/// refuses root).
fn pg(tool: &str) -> Command {
    let path = pg_bin().join(tool);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port()
}

/// One running server of a cluster in a directory of the test's; stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(data: &Path, socket_dir: &Path, port: u16) -> Self {
        let child = pg("postgres")
            .arg("-D")
            .arg(data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", socket_dir.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start postgres");
        let s = Self { child, port };
        s.wait_until(
            || diesel::PgConnection::establish(&s.url("postgres")).is_ok(),
            "the server to accept connections",
        );
        s
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn wait_until(&self, mut ok: impl FnMut() -> bool, what: &str) {
        let start = Instant::now();
        while !ok() {
            assert!(start.elapsed() < Duration::from_secs(60), "waited a minute for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn students_total<S, B>(app: &S, who: &Header) -> i64
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let (s, v) = call(app, test::TestRequest::get().uri(&format!("/api/v1/students?school={SCHOOL_A}")), who).await;
    assert_eq!(s, 200, "{v}");
    v["total"].as_i64().expect("total")
}

async fn overview<S, B>(app: &S, who: &Header, term: &str) -> Value
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let uri = format!("/api/v1/reports/registry-overview?org={COUNTY}&period={term}");
    let (s, v) = call(app, test::TestRequest::get().uri(&uri), who).await;
    assert_eq!(s, 200, "{v}");
    serde_json::json!({"rows": v["rows"], "totals": v["totals"]})
}

#[actix_web::test]
async fn reads_come_from_the_replica_and_writes_reach_it_through_replication() {
    // A cluster of its own needs PostgreSQL's programs; the suite runs this where it runs the
    // PostgreSQL tests.
    if pg_admin_url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let (primary_dir, replica_dir) = (dir.path().join("primary"), dir.path().join("replica"));
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["-R", "postgres"]).arg(dir.path());
                c
            },
            "chown",
        );
    }
    let mut initdb = pg("initdb");
    initdb.arg("-D").arg(&primary_dir).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"]);
    run(initdb, "initdb");
    let primary = Server::start(&primary_dir, dir.path(), free_port());
    let mut admin = diesel::PgConnection::establish(&primary.url("postgres")).expect("primary");
    diesel::sql_query("CREATE DATABASE mealroll").execute(&mut admin).expect("database");
    let w = World::new(TestDb::external(primary.url("mealroll")));
    let app_primary_only = test::init_service(mealroll::app::app(w.state())).await;
    enrolled(&app_primary_only, &w, SCHOOL_A, "甲一", "52232620190101001").await;

    let mut backup = pg("pg_basebackup");
    backup
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &primary.port.to_string(),
            "-U",
            "postgres",
            "-X",
            "stream",
            "-R",
            "-c",
            "fast",
            "-D",
        ])
        .arg(&replica_dir);
    run(backup, "pg_basebackup");
    let replica = Server::start(&replica_dir, dir.path(), free_port());
    let replica_url = replica.url("mealroll");
    let mut on_replica = diesel::PgConnection::establish(&replica_url).expect("replica");
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        v: bool,
    }
    let standby: One = diesel::sql_query("SELECT pg_is_in_recovery() AS v").get_result(&mut on_replica).expect("q");
    assert!(standby.v, "the second server is a standby");

    let mut w = w;
    w.settings.read_database_url = Some(replica_url.clone());
    let app = test::init_service(mealroll::app::app(w.state())).await;
    let yyb = bearer(&w, "yyb");
    let term = mealroll::domain::term::Term::of_day(mealroll::clock::today()).to_string();
    assert_eq!(students_total(&app, &yyb).await, 1, "the child registered before the replica was made");
    let before = overview(&app, &yyb, &term).await;

    // Replay paused: what the primary takes now is not on the replica.
    diesel::sql_query("SELECT pg_wal_replay_pause()").execute(&mut on_replica).expect("pause");
    enrolled(&app, &w, SCHOOL_A, "甲二", "52232620190101011").await;
    assert_eq!(students_total(&app_primary_only, &yyb).await, 2, "the write reached the primary");
    assert_eq!(students_total(&app, &yyb).await, 1, "the list is read from the replica");
    assert_eq!(overview(&app, &yyb, &term).await, before, "the report is read from the replica");

    // A refusal on the replica is asked of the primary, which writes its audit row.
    let denied = audit_count(&mut w.conn(), "access.denied");
    let (s, _) =
        call(&app, test::TestRequest::get().uri(&format!("/api/v1/students?school={SCHOOL_A}")), &bearer(&w, "shenji"))
            .await;
    assert_eq!(s, 403);
    assert_eq!(audit_count(&mut w.conn(), "access.denied"), denied + 1, "the refusal audited on the primary");

    // Replay resumed: the write shows up on the replica, and so in the list and the report.
    diesel::sql_query("SELECT pg_wal_replay_resume()").execute(&mut on_replica).expect("resume");
    let start = Instant::now();
    while students_total(&app, &yyb).await != 2 {
        assert!(start.elapsed() < Duration::from_secs(60), "replication within a minute");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(overview(&app, &yyb, &term).await, before, "the report counts the new child");
    drop(on_replica);
    drop(admin);
    drop(w);
    drop(replica);
    drop(primary);
}
