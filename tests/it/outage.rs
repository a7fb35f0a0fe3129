//! The database going away under a running server (PostgreSQL behind a cut connection): pages
//! and answers say so in Chinese with 503, nothing is half-written, and service comes back by
//! itself once the database does.

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// A TCP relay to PostgreSQL that can be cut (every open connection dropped, new ones refused)
/// and restored, as a stopped server or a broken network would.
struct Relay {
    port: u16,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(upstream: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let down = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (d, o) = (down.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if d.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                let mut held = o.lock().expect("lock");
                held.push(client.try_clone().expect("clone"));
                held.push(server.try_clone().expect("clone"));
                drop(held);
                pipe(client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                pipe(server, client);
            }
        });
        Relay { port, down, open }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for s in self.open.lock().expect("lock").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str, cookie: &str) -> (u16, String, Option<String>) {
    get_with(url, "Cookie", cookie)
}

fn get_with(url: &str, header: &str, value: &str) -> (u16, String, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    match agent.get(url).header(header, value).call() {
        Ok(mut r) => {
            let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
            (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default(), retry)
        }
        Err(e) => (0, e.to_string(), None),
    }
}

#[test]
fn pages_say_the_database_is_away_and_service_returns_by_itself() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("outage test needs MEALROLL_TEST_PG_URL");
        return;
    };
    let w = World::new(db);
    let relay = Relay::start("127.0.0.1:5432");
    let name = w.db.url.rsplit('/').next().expect("db name").to_owned();
    let through = format!("postgres://postgres@127.0.0.1:{}/{name}", relay.port);
    let cookie = format!("mealroll_session={}", w.token("yyb"));
    let bearer = format!("Bearer {}", w.token("yyb"));
    let data = tempfile::tempdir().expect("data");
    let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let _server = Server(
        mealroll_cmd()
            .args(["--db", &through, "serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("MEALROLL_DATA_DIR", data.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&format!("{base}/schools"), &cookie).0 != 200 {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }

    relay.cut();
    let (status, page, retry) = get(&format!("{base}/schools"), &cookie);
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("数据库暂时无法连接") && page.contains("自动重新连接"), "{page}");
    assert_eq!(retry.as_deref(), Some("10"));
    let (status, body, _) = get_with(&format!("{base}/api/v1/me"), "Authorization", &bearer);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"db.unavailable\""), "{body}");
    assert!(!body.contains("5432") && !body.contains("postgres"), "no address in the answer: {body}");

    relay.restore();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, page, _) = get(&format!("{base}/schools"), &cookie);
        if status == 200 {
            assert!(page.contains("望谟县王母小学"), "{page}");
            break;
        }
        assert!(Instant::now() < deadline, "service did not come back: {status} {page}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // Nothing was corrupted: both chains still verify.
    let mut conn = w.conn();
    assert_eq!(mealroll::audit::service::verify(&mut conn, None).expect("verify").first_broken, None);
    assert!(mealroll::ledger::fund::verify_all(&mut conn, None).expect("ledger").broken.is_empty());
}
