//! One clock in Asia/Shanghai. At 23:30 UTC it is already 07:30 the next morning in Beijing:
//! a posting dated that Beijing day is today, not the future; the next day is refused; a report
//! drawn without a date takes the Beijing day; pages show stored UTC instants in Beijing time.

use crate::common;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const AT: &str = "2026-12-01T23:30:00Z";

fn cli(w: &World, dir: &std::path::Path, args: &[&str]) -> Output {
    common::mealroll_cmd()
        .args(["--db", &w.db.url, "--json"])
        .args(args)
        .env("MEALROLL_CLOCK", AT)
        .env("MEALROLL_DATA_DIR", dir)
        .output()
        .expect("run")
}

struct Server(std::process::Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(w: &World, dir: &std::path::Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let child = common::mealroll_cmd()
        .args(["--db", &w.db.url, "serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("MEALROLL_CLOCK", AT)
        .env("MEALROLL_DATA_DIR", dir)
        .env("MEALROLL_SECRET_KEY", hex::encode([42u8; 32]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let server = Server(child, format!("http://127.0.0.1:{port}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while ureq::get(&format!("{}/login", server.1)).call().is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

#[test]
fn at_23_30_utc_it_is_already_tomorrow_in_beijing() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let dir = tempfile::tempdir().expect("tmp");
        let post = |date: &str, voucher: &str| {
            cli(
                &w,
                dir.path(),
                &[
                    "ledger",
                    "post",
                    "--kind",
                    "receipt",
                    "--to",
                    COUNTY,
                    "--amount",
                    "100.00",
                    "--date",
                    date,
                    "--voucher",
                    voucher,
                    "--memo",
                    "中央资金",
                ],
            )
        };
        let today = post("2026-12-02", "CZ-1");
        assert!(today.status.success(), "{label}: {}", String::from_utf8_lossy(&today.stderr));
        let tomorrow = post("2026-12-03", "CZ-2");
        let stderr = String::from_utf8_lossy(&tomorrow.stderr);
        assert!(!tomorrow.status.success() && stderr.contains("ledger.future_date"), "{label}: {stderr}");

        // A change made on the server at 23:30 UTC shows as 07:30 on 2 December.
        let server = serve(&w, dir.path());
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut r = agent
            .post(&format!("{}/api/v1/schools/{SCHOOL_A}/students", server.1))
            .header("Authorization", &format!("Bearer {}", w.token("a.xueji")))
            .send_json(json!(raw_of(&student("王䶮", "52232620190412004", "2019-04-12", "2"))))
            .expect("answers");
        let body: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        assert_eq!(r.status().as_u16(), 201, "{label}: {body}");
        let mut page = agent
            .get(&format!("{}/audit?action=student.create", server.1))
            .header("Cookie", &format!("mealroll_session={}", w.token("shenji")))
            .call()
            .expect("answers");
        let html = page.body_mut().read_to_string().expect("page");
        assert!(html.contains("2026-12-02 07:3"), "{label}: the audit page does not show Beijing time:\n{html}");
        assert!(!html.contains("2026-12-01 23:3"), "{label}: the audit page shows UTC");
        // A report drawn without a date is drawn on the Beijing day (the period runs on).
        let report = cli(&w, dir.path(), &["report", "school-regular", "--org", SCHOOL_A, "--period", "2026-12"]);
        // (The school's one child is not confirmed yet, so the refusal names the day it used.)
        let stderr = String::from_utf8_lossy(&report.stderr);
        assert!(stderr.contains("report.no_data") && stderr.contains("报表日2026-12-02"), "{label}: {stderr}");
    }
}
