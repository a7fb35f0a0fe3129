//! Uploaded workbooks that once took the server down: a shared-string table declaring 10^16
//! (or u64::MAX) strings, an .xls with cells at A1 and IV65536, a small .xlsx whose shared
//! strings unpack to hundreds of megabytes. Each is refused with a reason in Chinese through the
//! student import, the calendar import and the CLI; the guard refuses what the file declares,
//! and the parse worker refuses what gets past the guard without the server noticing. A real
//! server process, given all of them at once, still answers and its memory grows < 300 MB.

use crate::common;

use std::io::{Cursor, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::test as atest;
use common::*;
use mealroll::demo::StudentFactory;
use mealroll::domain::student::StudentRecord;
use mealroll::error::ErrorCode;
use mealroll::exchange::guard::FileKind;
use mealroll::exchange::{template, worker};
use serde_json::Value;

/// A real template of three students, with `xl/sharedStrings.xml` passed through `edit`.
fn template_with_shared_strings(edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut f = StudentFactory::new(7);
    let today = f.today;
    let rows: Vec<(String, StudentRecord)> = (0..3)
        .map(|_| (SCHOOL_A.to_owned(), StudentRecord::parse(&f.raw("202601", 1, false), today).expect("valid")))
        .collect();
    rewrite_entry(&template::write(&rows).expect("template"), "xl/sharedStrings.xml", |old| edit(old).into_bytes())
}

/// The same zip with one entry's content replaced.
fn rewrite_entry(zip_bytes: &[u8], name: &str, content: impl Fn(&str) -> Vec<u8>) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(Cursor::new(zip_bytes)).expect("zip");
    let mut out = Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1))
            .large_file(true);
        let mut found = false;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).expect("entry");
            let entry_name = entry.name().expect("name").into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            if entry_name.as_str() == name {
                found = true;
                data = content(&String::from_utf8(data).expect("utf-8"));
            }
            w.start_file(entry_name, opts).expect("start");
            w.write_all(&data).expect("write");
        }
        assert!(found, "{name} not in the template");
        w.finish().expect("finish");
    }
    out.into_inner()
}

fn declaring(unique: &str) -> Vec<u8> {
    template_with_shared_strings(|old| {
        let start = old.find("<sst").expect("sst");
        let end = start + old[start..].find('>').expect("sst end");
        format!(
            "{}<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"2\" uniqueCount=\"{unique}\">{}",
            &old[..start],
            &old[end + 1..]
        )
    })
}

/// A shared-string table of about 300 MB that packs to about 12 MB (at a ratio the zip-bomb
/// rule lets through), ahead of the template's own strings.
fn swollen() -> Vec<u8> {
    template_with_shared_strings(|old| {
        let start = old.find("<sst").expect("sst");
        let open_end = start + old[start..].find('>').expect("sst end") + 1;
        let mut s = String::with_capacity(310 * 1024 * 1024);
        s.push_str(&old[..open_end]);
        let mut n: u64 = 0;
        while s.len() < 300 * 1024 * 1024 {
            // Addresses that differ by their number pack about 25:1, under the zip-bomb ratio.
            n += 1;
            s.push_str(&format!("<si><t>贵州省黔西南州望谟县王母街道纳包村{n}号</t></si>"));
        }
        s.push_str(&old[open_end..]);
        s
    })
}

/// Cells at A1 and IV65536, saved as .xls by LibreOffice (None when it is not installed).
fn spread_xls() -> Option<Vec<u8>> {
    let soffice = ["/usr/bin/soffice", "/usr/bin/libreoffice"].into_iter().find(|p| std::path::Path::new(p).exists());
    let Some(soffice) = soffice else {
        assert!(
            std::env::var("MEALROLL_REQUIRE_BROWSER").is_err(),
            "LibreOffice is not installed (CI installs libreoffice-calc-nogui)"
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let xlsx = dir.path().join("spread.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "学校标识码").expect("a1");
    ws.write_number(65_535, 255, 1.0).expect("iv65536");
    wb.save(&xlsx).expect("save");
    let convert = || {
        Command::new(soffice)
            .args(["--headless", "--convert-to", "xls", "--outdir"])
            .arg(dir.path())
            .arg(&xlsx)
            .env("HOME", dir.path())
            .output()
            .expect("soffice")
    };
    // LibreOffice's first start in a fresh profile sometimes dies setting the profile up; the
    // second start finds it made.
    let mut out = convert();
    if !out.status.success() {
        out = convert();
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(std::fs::read(dir.path().join("spread.xls")).expect("xls written"))
}

struct Hostile {
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
}

fn hostile_files() -> Vec<Hostile> {
    let mut v = vec![
        Hostile { name: "uniqueCount 10^16", file: "sst.xlsx", bytes: declaring("10000000000000000") },
        Hostile { name: "uniqueCount u64::MAX", file: "max.xlsx", bytes: declaring(&u64::MAX.to_string()) },
        Hostile { name: "300 MB of shared strings", file: "swollen.xlsx", bytes: swollen() },
    ];
    if let Some(bytes) = spread_xls() {
        v.push(Hostile { name: "xls A1 + IV65536", file: "spread.xls", bytes });
    }
    v
}

fn assert_refused(label: &str, status: u16, body: &Value) {
    assert_eq!(status, 422, "{label}: {body}");
    let code = body["error"].as_str().unwrap_or_default();
    assert!(["file.hostile", "file.too_many_cells", "file.unparseable"].contains(&code), "{label}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("Excel") && message.contains("拒绝"), "{label}: {message}");
}

#[actix_web::test]
async fn hostile_workbooks_are_refused_by_every_import_and_the_cli() {
    let files = hostile_files();
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = atest::init_service(mealroll::app::app(w.state())).await;
        let (registrar, office) = (w.token("a.xueji"), w.token("yyb"));
        for h in &files {
            for (token, uri) in [
                (&registrar, format!("/api/v1/students/import?dry_run=true&filename={}", h.file)),
                (&registrar, format!("/api/v1/students/import?filename={}", h.file)),
                (&office, format!("/api/v1/calendars/{COUNTY}/import?filename={}", h.file)),
            ] {
                let r = atest::call_service(
                    &app,
                    atest::TestRequest::post()
                        .uri(&uri)
                        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
                        .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
                        .set_payload(h.bytes.clone())
                        .to_request(),
                )
                .await;
                let status = r.status().as_u16();
                let body = body_json(r).await;
                if uri.contains("calendars") && h.bytes.len() > mealroll::programme::calendar::MAX_UPLOAD {
                    assert_eq!((status, body["error"].as_str()), (422, Some("file.too_large")), "{label} {}", h.name);
                    continue;
                }
                assert_refused(&format!("{label} {} {uri}", h.name), status, &body);
            }
        }
        // Nothing of any of them was stored.
        let list = atest::TestRequest::get()
            .uri("/api/v1/students")
            .insert_header((header::AUTHORIZATION, format!("Bearer {registrar}")))
            .to_request();
        let r = atest::call_service(&app, list).await;
        let listed = body_json(r).await;
        assert_eq!(listed["total"].as_u64().unwrap_or(0), 0, "{label}: {listed}");

        // On the command line: refused with the reason on stderr, never an abort (exit 134).
        let dir = tempfile::tempdir().expect("tmp");
        for h in &files {
            let path = dir.path().join(h.file);
            std::fs::write(&path, &h.bytes).expect("write");
            let out = common::mealroll_cmd()
                .args(["--db", &w.db.url, "import", "students"])
                .arg(&path)
                .args(["--school", SCHOOL_A, "--dry-run"])
                .env("MEALROLL_DATA_DIR", dir.path())
                .output()
                .expect("run");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{label} {}: {stderr}", h.name);
            assert!(stderr.contains("拒绝"), "{label} {}: {stderr}", h.name);
        }
    }
}

/// The second depth: a file the guard is not asked about goes straight to the parse worker,
/// whose allocation of 10^16 × 24 bytes ends the worker, not this process.
#[test]
fn the_parse_worker_takes_the_failure_the_guard_did_not_foresee() {
    worker::set_program(env!("CARGO_BIN_EXE_mealroll"));
    for unique in ["10000000000000000", "18446744073709551615"] {
        let bomb = declaring(unique);
        let e = worker::read_rows(&bomb, FileKind::Xlsx, |_, _, _| Ok(())).expect_err("refused");
        assert_eq!(e.code, ErrorCode::FileUnparseable, "{unique}: {}", e.message);
        assert!(e.message.contains("拒绝"), "{}", e.message);
    }
    // An ordinary workbook through the same worker: every row, in order.
    let file = declaring("40");
    let mut rows = Vec::new();
    let sheet = worker::read_rows(&file, FileKind::Xlsx, |_, row, cells| {
        rows.push((row, cells.len()));
        Ok(())
    })
    .expect("an honest count parses");
    assert_eq!(sheet, mealroll::exchange::sheet::STUDENT_SHEET);
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert!(rows.iter().all(|r| r.1 >= 60), "{rows:?}");
    // A caller that stops early (a fatal header, say) stops the worker with its own error.
    let e = worker::read_rows(&file, FileKind::Xlsx, |_, _, _| {
        Err(mealroll::error::AppError::invalid(ErrorCode::ImportStopped, "停止"))
    })
    .expect_err("stopped");
    assert_eq!(e.code, ErrorCode::ImportStopped);
}

/// An uploaded PDF (a signed roster's scan) is read by the same worker: a crafted one, nested
/// past any stack or promising a stream it does not hold, costs that worker, not the server.
#[test]
fn a_crafted_pdf_is_refused_by_the_worker_and_an_honest_scan_still_reads() {
    worker::set_program(env!("CARGO_BIN_EXE_mealroll"));
    let mut nested = b"%PDF-1.4\n1 0 obj\n".to_vec();
    nested.extend(std::iter::repeat_n(b'[', 2_000_000));
    let mut lying = b"%PDF-1.4\n1 0 obj << /Length 99999999999 >>\nstream\n".to_vec();
    lying.extend_from_slice(b"x\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF");
    for (name, pdf) in [("nested", nested), ("lying", lying), ("truncated", b"%PDF-1.7\n%\xe2\xe3".to_vec())] {
        let e = worker::read_pdf(&pdf).expect_err("refused");
        assert_eq!(e.code, ErrorCode::FilePdfUnreadable, "{name}: {}", e.message);
        assert!(e.message.contains("PDF"), "{name}: {}", e.message);
    }
    let pages = [jpeg(30, 40), jpeg(31, 40)];
    let read = worker::read_pdf(&scanned_pdf(&pages)).expect("an honest scan reads");
    assert_eq!(read.pages, 2);
    assert_eq!(read.previews, vec![Some(pages[0].clone()), Some(pages[1].clone())]);
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(w: &World, data_dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let child = common::mealroll_cmd()
            .args(["--db", &w.db.url, "serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("MEALROLL_DATA_DIR", data_dir)
            .env("MEALROLL_SECRET_KEY", hex::encode([42u8; 32]))
            .env("MEALROLL_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        let server = Self { child, base: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while ureq::get(&format!("{}/login", server.base)).call().is_err() {
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    fn rss_mb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kb / 1024
    }
}

#[test]
fn a_server_given_every_hostile_file_at_once_stays_up_and_small() {
    let w = World::new(TestDb::sqlite());
    let files = hostile_files();
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(&w, dir.path());
    let token = w.token("a.xueji");
    let before = server.rss_mb();
    // Six uploads at a time, twice over (the issue saw six at once reach 6 GB).
    for _ in 0..2 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .iter()
                .cycle()
                .take(6)
                .map(|h| {
                    let (url, token) = (format!("{}/api/v1/students/import?filename={}", server.base, h.file), &token);
                    scope.spawn(move || {
                        let agent: ureq::Agent =
                            ureq::Agent::config_builder().http_status_as_error(false).build().into();
                        let mut r = agent
                            .post(&url)
                            .header("Authorization", &format!("Bearer {token}"))
                            .header("Content-Type", "application/octet-stream")
                            .send(&h.bytes[..])
                            .expect("the server answers");
                        let status = r.status().as_u16();
                        let body: Value = r.body_mut().read_json().expect("a JSON answer");
                        (h.name, status, body)
                    })
                })
                .collect();
            for handle in handles {
                let (name, status, body) = handle.join().expect("upload thread");
                assert_refused(name, status, &body);
            }
        });
    }
    let after = server.rss_mb();
    assert!(after < before + 300, "server memory grew from {before} MB to {after} MB");
    // Still serving everyone else.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let r = agent
        .get(&format!("{}/api/v1/schools/{SCHOOL_A}", server.base))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("answers");
    assert_eq!(r.status().as_u16(), 200);
    eprintln!("server RSS before {before} MB, after {after} MB");
}

/// A connection handed back to the pool inside a transaction (a panic or an error half-way) is
/// dropped, never given to the next request in the middle of someone else's work.
#[test]
fn a_connection_returned_inside_a_transaction_is_not_handed_out_again() {
    use diesel::connection::TransactionManager;
    use mealroll::db::DbConn;
    for db in TestDb::all() {
        let pool = mealroll::db::connect(&db.url, 1).expect("pool");
        {
            let mut c = pool.get().expect("conn");
            <DbConn as TransactionManager<DbConn>>::begin_transaction(&mut c).expect("begin");
        }
        let mut c = pool.get().expect("a connection");
        let depth = <DbConn as TransactionManager<DbConn>>::transaction_manager_status_mut(&mut c)
            .transaction_depth()
            .expect("status");
        assert_eq!(depth, None, "{}: the next caller starts outside any transaction", db.label);
    }
}
