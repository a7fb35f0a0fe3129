//! Backup and restore on both databases: a backup taken while writes go on restores into an
//! empty database of either backend, row for row (bytes, booleans, dates and instants
//! included), proves itself (counts, both chains against the backup's anchor, a restore-test
//! row) and goes on working; a wrong key, a cut file, a non-backup and a database that is not
//! empty are refused with nothing written.

use crate::common;

use std::path::Path;

use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::config::{Keys, Settings};
use mealroll::db::DbConn;
use mealroll::db::backup::{self, tables};
use mealroll::db::schema::{attachments, audit_log};
use mealroll::error::ErrorCode;
use serde_json::{Value, json};

/// Every row of every table, sorted, as the backup reads them: the two databases hold the same
/// data exactly when these agree.
fn contents(conn: &mut DbConn) -> Vec<(String, Vec<String>)> {
    let mut all = Vec::new();
    for t in tables::catalog(conn).expect("catalog") {
        let mut names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        names.sort();
        let mut rows = Vec::new();
        tables::read_rows(conn, &t, |row| {
            // Column order differs between backends; compare by name.
            let by_name: std::collections::BTreeMap<&str, Value> =
                t.columns.iter().map(|c| c.name.as_str()).zip(row).collect();
            rows.push(serde_json::to_string(&by_name).expect("json"));
            Ok(())
        })
        .expect("rows");
        rows.sort();
        all.push((t.name.clone(), rows));
    }
    all.sort();
    all
}

/// A world with money, a child and a file in it.
async fn filled(db: TestDb) -> World {
    let w = World::new(db);
    add_user(&w, "caiwu", COUNTY, "finance");
    let app = test::init_service(mealroll::app::app(w.state())).await;
    enrolled(&app, &w, SCHOOL_A, "韦小宝", "52232620190101001").await;
    let caiwu = bearer(&w, "caiwu");
    for (kind, from, to, amount, voucher) in
        [("receipt", "", COUNTY, "1000", "SR-1"), ("allocation", COUNTY, SCHOOL_A, "400", "BF-1")]
    {
        let body = json!({"kind": kind, "fund": "meal", "from": from, "to": to, "amount": amount,
                          "date": "2026-09-01", "category": "", "voucher_no": voucher, "memo": "拨款"});
        let (s, v) = call(&app, test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(body), &caiwu).await;
        assert_eq!(s, 201, "{v}");
    }
    diesel::insert_into(attachments::table)
        .values((
            attachments::sha256.eq("00"),
            attachments::filename.eq("扫描件.pdf"),
            attachments::content_type.eq("application/pdf"),
            attachments::bytes.eq(vec![0u8, 255, 10, 13, 0x22, 0x5c, 0, 1]),
            attachments::uploaded_by.eq("测试"),
            attachments::uploaded_at.eq(mealroll::clock::now()),
        ))
        .execute(&mut w.conn())
        .expect("attachment");
    w
}

fn settings_for(url: &str, dir: &Path) -> Settings {
    let mut s = Settings::defaults();
    s.database_url = url.to_owned();
    s.data_dir = dir.to_owned();
    s
}

#[actix_web::test]
async fn a_backup_taken_under_writes_restores_into_either_backend_and_proves_itself() {
    for source in TestDb::all() {
        let from = source.label;
        let w = filled(source).await;
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("county.backup");

        // Writes go on in another connection while the snapshot is read.
        let writing = std::sync::atomic::AtomicBool::new(true);
        let (made, written) = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let mut conn = w.pool.get().expect("conn");
                let cli = mealroll::audit::Actor::cli("/");
                let mut n = 0;
                while writing.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                    mealroll::audit::record_alone(&mut conn, &cli, mealroll::audit::Entry::new("test.load", "load", n))
                        .expect("write under load");
                    n += 1;
                }
                n
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            let made = backup::create(&mut w.conn(), &w.keys, &file).expect("backup");
            writing.store(false, std::sync::atomic::Ordering::Relaxed);
            (made, writer.join().expect("writer"))
        });
        assert!(written >= 20, "{from}: the writer ran");
        assert_eq!(made.header.backend, from);
        assert!(made.rows > 3000, "{from}: the division tree at least: {}", made.rows);
        let bytes = std::fs::read(&file).expect("file");
        assert!(bytes.starts_with(b"MEALROLL-BACKUP"), "{from}");
        assert!(!bytes.windows("韦小宝".len()).any(|x| x == "韦小宝".as_bytes()), "{from}: sealed, not plain");
        // The snapshot is one instant: it holds exactly the audit rows up to its head, while the
        // writer went on adding rows after it.
        let in_backup = made.tables["audit_log"] as i64;
        let upto: i64 =
            audit_log::table.filter(audit_log::id.le(made.audit_head)).count().get_result(&mut w.conn()).expect("n");
        let now: i64 = audit_log::table.count().get_result(&mut w.conn()).expect("n");
        assert_eq!(in_backup, upto, "{from}");
        assert!(now > in_backup, "{from}: writes went on during and after the snapshot ({now} > {in_backup})");

        for target in TestDb::all() {
            let to = target.label;
            let tdir = tempfile::tempdir().expect("dir");
            let settings = settings_for(&target.url, tdir.path());
            let pool = mealroll::db::connect(&target.url, 2).expect("target");
            let mut conn = pool.get().expect("conn");
            let r = backup::restore(&mut conn, &w.keys, &settings, &file).expect("restore");
            assert!(r.verified && r.counts_match, "{from} → {to}: {r:?}");
            assert_eq!(r.rows, made.rows, "{from} → {to}");
            assert!(r.ledger_entries >= 3, "{from} → {to}: {r:?}");

            // Row for row the snapshot (less the restore-test row just written).
            let restored = contents(&mut conn);
            let mut source_now = contents(&mut w.conn());
            for (t, rows) in source_now.iter_mut() {
                if t == "audit_log" {
                    rows.truncate(0);
                }
            }
            for ((t, a), (u, b)) in restored.iter().zip(&source_now) {
                assert_eq!(t, u);
                if t != "audit_log" {
                    assert_eq!(a, b, "{from} → {to}: table {t}");
                }
            }
            let bytes: Vec<u8> = attachments::table.select(attachments::bytes).first(&mut conn).expect("file");
            assert_eq!(bytes, vec![0u8, 255, 10, 13, 0x22, 0x5c, 0, 1], "{from} → {to}");
            let test_row: String = audit_log::table
                .filter(audit_log::action.eq("backup.restore_test"))
                .select(audit_log::result)
                .first(&mut conn)
                .expect("restore-test row");
            assert_eq!(test_row, "ok", "{from} → {to}");
            // The anchor is the restored database's own, and it goes on: new rows, new ids.
            let anchor = mealroll::audit::chain::anchor_of(&settings).expect("anchor").expect("written");
            assert_eq!(anchor.audit.last_id, made.audit_head, "{from} → {to}");
            mealroll::audit::record_alone(
                &mut conn,
                &mealroll::audit::Actor::cli("/"),
                mealroll::audit::Entry::new("test.after", "x", 1),
            )
            .expect("writes after a restore");
            let v = mealroll::audit::service::verify(&mut conn, Some(&anchor)).expect("verify");
            assert_eq!(v.first_broken, None, "{from} → {to}");
        }
    }
}

#[actix_web::test]
async fn a_backup_that_is_not_ours_or_not_whole_or_meets_a_full_database_is_refused_and_writes_nothing() {
    let w = filled(TestDb::sqlite()).await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("b.backup");
    backup::create(&mut w.conn(), &w.keys, &file).expect("backup");
    let bytes = std::fs::read(&file).expect("read");

    let attempt = |keys: &Keys, path: &Path| {
        let target = TestDb::sqlite();
        let pool = mealroll::db::connect(&target.url, 1).expect("target");
        let mut conn = pool.get().expect("conn");
        let settings = settings_for(&target.url, dir.path());
        let e = backup::restore(&mut conn, keys, &settings, path).expect_err("refused");
        let orgs = tables::count(&mut conn, "orgs").expect("count");
        (e, orgs)
    };

    let (e, orgs) = attempt(&Keys::from_master(&[7u8; 32]), &file);
    assert_eq!((e.code, orgs), (ErrorCode::BackupUnreadable, 0), "{}", e.message);
    assert!(e.message.contains("另一把密钥"), "{}", e.message);

    let cut = dir.path().join("cut.backup");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
    let (e, orgs) = attempt(&w.keys, &cut);
    assert_eq!((e.code, orgs), (ErrorCode::BackupUnreadable, 0), "{}: nothing half-restored", e.message);

    let other = dir.path().join("other.backup");
    std::fs::write(&other, b"PK\x03\x04 a workbook, not a backup, whatever its name").expect("write");
    let (e, _) = attempt(&w.keys, &other);
    assert!(e.message.contains("不是 mealroll 备份文件"), "{}", e.message);

    // Into a database already in use: refused before anything is touched.
    let before = tables::count(&mut w.conn(), "students").expect("count");
    let settings = settings_for(&w.db.url, dir.path());
    let e = backup::restore(&mut w.conn(), &w.keys, &settings, &file).expect_err("not empty");
    assert_eq!(e.code, ErrorCode::BackupTargetNotEmpty, "{}", e.message);
    assert_eq!(tables::count(&mut w.conn(), "students").expect("count"), before);
}

#[actix_web::test]
async fn backup_and_restore_commands_move_a_county_from_sqlite_to_postgresql() {
    let w = filled(TestDb::sqlite()).await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("move.backup");
    let out = mealroll_cmd().args(["--db", &w.db.url, "--json", "backup", "--out"]).arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(made["header"]["backend"], "sqlite");
    assert_eq!(made["sha256"].as_str().map(str::len), Some(64), "{made}");
    let target = TestDb::postgres().unwrap_or_else(TestDb::sqlite);
    let out = mealroll_cmd().args(["--db", &target.url, "restore"]).arg(&file).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("恢复测试通过") && text.contains("哈希链完整"), "{text}");
    // A second restore into the now full database is refused, saying why.
    let out = mealroll_cmd().args(["--db", &target.url, "restore"]).arg(&file).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("backup.target_not_empty"));
}

#[actix_web::test]
async fn the_server_backs_up_on_schedule_and_anchors_its_chains() {
    let w = filled(TestDb::sqlite()).await;
    let data = tempfile::tempdir().expect("data");
    let backups = data.path().join("backups");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut server = mealroll_cmd()
        .args(["--db", &w.db.url, "serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("MEALROLL_DATA_DIR", data.path())
        .env("MEALROLL_BACKUP__DIR", &backups)
        .env("MEALROLL_BACKUP__KEEP", "3")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let settings = settings_for(&w.db.url, data.path());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let found = loop {
        let files: Vec<std::path::PathBuf> = std::fs::read_dir(&backups)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "backup"))
                    .collect()
            })
            .unwrap_or_default();
        let anchored = mealroll::audit::chain::anchor_of(&settings).ok().flatten().is_some();
        // The file is written first, then its audit row: wait for both before stopping the server.
        let recorded = audit_count(&mut w.conn(), "backup.create") >= 1;
        if let (Some(f), true, true) = (files.first(), anchored, recorded) {
            break Some(f.clone());
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let _ = server.kill();
    let _ = server.wait();
    let file = found.expect("a scheduled backup, its audit row and an anchor within a minute of starting");
    assert!(file.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("mealroll-")));
    let target = TestDb::sqlite();
    let out = mealroll_cmd().args(["--db", &target.url, "--json", "restore"]).arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["verified"], true, "{r}");
}
