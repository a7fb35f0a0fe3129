//! The audit and ledger chains are sealed with a key outside the database and anchored in a
//! signed file: an insider who rewrites the database consistently (edits a row and recomputes
//! the chain after it, cuts the tail, deletes an account with its entries) is still named by
//! `verify`, on both databases; a server with another key is refused.

use crate::common;

use actix_web::test;
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use mealroll::audit::chain::{self, Heads};
use mealroll::audit::service::{AuditRow, verify};
use mealroll::db::DbConn;
use mealroll::db::schema::{audit_log, fund_accounts, ledger_entries};
use mealroll::domain::chain::{ChainHasher, ChainKey, Seal};
use mealroll::error::ErrorCode;
use mealroll::ledger::fund;
use serde_json::json;

/// What the insider does without the key: drops the guards.
fn unguard(conn: &mut DbConn, label: &str) {
    let sql = if label == "sqlite" {
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; PRAGMA foreign_keys = OFF;"
    } else {
        "DROP TRIGGER audit_log_no_change ON audit_log; SET session_replication_role = replica;"
    };
    conn.batch_execute(sql).expect("unguard");
}

/// The audit row hash as the code computes it, under any seal the insider can produce.
fn reseal(seal: Seal<'_>, r: &AuditRow, prev: &str) -> String {
    ChainHasher::new(seal)
        .put(prev)
        .put(&r.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
        .put(&r.actor_user_id.map(|v| v.to_string()).unwrap_or_default())
        .put(&r.actor)
        .put(&r.org_path)
        .put(&r.ip)
        .put(&r.action)
        .put(&r.object_type)
        .put(&r.object_id)
        .put(&r.result)
        .put_opt(r.before_json.as_deref())
        .put_opt(r.after_json.as_deref())
        .finish()
}

/// Edits one row and re-chains every row from it to the end with `seal`.
fn rechain_from(conn: &mut DbConn, target: i64, seal: Seal<'_>) {
    let rows: Vec<AuditRow> = audit_log::table
        .filter(audit_log::id.ge(target))
        .order(audit_log::id.asc())
        .select(AuditRow::as_select())
        .load(conn)
        .expect("rows");
    let mut prev = rows[0].prev_hash.clone();
    for mut r in rows {
        if r.id == target {
            r.after_json = Some("{\"class_no\":\"999999\"}".into());
        }
        let hash = reseal(seal, &r, &prev);
        diesel::update(audit_log::table.find(r.id))
            .set((audit_log::after_json.eq(&r.after_json), audit_log::prev_hash.eq(&prev), audit_log::hash.eq(&hash)))
            .execute(conn)
            .expect("rechain");
        prev = hash;
    }
}

#[actix_web::test]
async fn a_chain_recomputed_without_the_key_fails_verify_at_the_edited_row() {
    for (guess, what) in [(None, "plain SHA-256"), (Some(ChainKey::new([0; 32])), "a guessed key")] {
        for db in TestDb::all() {
            let label = db.label;
            let w = World::new(db);
            let mut conn = w.conn();
            assert_eq!(verify(&mut conn, None).expect("verify").first_broken, None, "{label}");
            let target: i64 = audit_log::table
                .filter(audit_log::action.eq("class.create"))
                .select(audit_log::id)
                .first(&mut conn)
                .expect("row");
            unguard(&mut conn, label);
            let seal = guess.as_ref().map_or(Seal::Plain, Seal::Keyed);
            rechain_from(&mut conn, target, seal);
            // Every link holds; only the key tells.
            let v = verify(&mut conn, None).expect("verify");
            let (id, why) = v.first_broken.expect("broken");
            assert_eq!(id, target, "{label}, {what}");
            assert!(why.contains("密钥"), "{label}, {what}: {why}");
        }
    }
}

#[actix_web::test]
async fn a_truncated_tail_and_a_deleted_account_show_against_the_anchor() {
    for db in TestDb::all() {
        let label = db.label;
        let mut w = World::new(db);
        let dir = tempfile::tempdir().expect("dir");
        w.settings.data_dir = dir.path().to_owned();
        add_user(&w, "caiwu", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let caiwu = bearer(&w, "caiwu");
        for (kind, from, to, amount, voucher) in
            [("receipt", "", COUNTY, "1000", "SR-1"), ("allocation", COUNTY, SCHOOL_A, "400", "BF-1")]
        {
            let body = json!({"kind": kind, "fund": "meal", "from": from, "to": to, "amount": amount,
                              "date": "2026-09-01", "category": "", "voucher_no": voucher, "memo": "拨款"});
            let (s, v) =
                call(&app, test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(body), &caiwu).await;
            assert_eq!((s, v["status"].as_str()), (201, Some("posted")), "{label}: {v}");
        }

        // The first checkpoint writes the anchor; an intact database then verifies against it.
        let mut conn = w.conn();
        let cp = chain::checkpoint(&mut conn, &w.settings).expect("checkpoint");
        assert!(cp.written && cp.breaks.is_empty(), "{label}: {cp:?}");
        let anchor: Heads = chain::anchor_of(&w.settings).expect("read").expect("an anchor");
        let last = anchor.audit.last_id;
        assert_eq!(anchor.ledger.accounts.len(), 2, "{label}: the county's and the school's account");
        let v = verify(&mut conn, Some(&anchor)).expect("verify");
        assert_eq!((v.first_broken.clone(), v.anchored_to), (None, Some(last)), "{label}");
        assert!(fund::verify_all(&mut conn, Some(&anchor)).expect("ledger").broken.is_empty(), "{label}");

        // The last two audit rows deleted: every link that is left holds, the anchor does not.
        unguard(&mut conn, label);
        diesel::delete(audit_log::table.filter(audit_log::id.ge(last - 1))).execute(&mut conn).expect("cut");
        assert_eq!(verify(&mut conn, None).expect("verify").first_broken, None, "{label}: invisible without it");
        let (id, why) = verify(&mut conn, Some(&anchor)).expect("verify").first_broken.expect("truncated");
        assert_eq!(id, last - 1, "{label}: the first missing row");
        assert!(why.contains("末尾 2 条"), "{label}: {why}");

        // A broken chain does not move the anchor: it keeps showing.
        let cp = chain::checkpoint(&mut conn, &w.settings).expect("checkpoint");
        assert!(!cp.written && cp.breaks.iter().any(|b| b.contains("末尾")), "{label}: {cp:?}");
        assert_eq!(chain::anchor_of(&w.settings).expect("read"), Some(anchor.clone()), "{label}");

        // The school's account deleted with its entries.
        let school_account = format!("{SCHOOL_A}:meal");
        let account_id: i64 = fund_accounts::table
            .filter(fund_accounts::code.eq(&school_account))
            .select(fund_accounts::id)
            .first(&mut conn)
            .expect("account");
        diesel::delete(ledger_entries::table.filter(ledger_entries::account_id.eq(account_id)))
            .execute(&mut conn)
            .expect("entries");
        diesel::delete(fund_accounts::table.find(account_id)).execute(&mut conn).expect("account");
        let v = fund::verify_all(&mut conn, None).expect("ledger");
        assert!(v.broken.is_empty(), "{label}: nothing to see without the anchor: {v:?}");
        let v = fund::verify_all(&mut conn, Some(&anchor)).expect("ledger");
        assert!(
            v.broken.iter().any(|b| b.account == school_account && b.reason.contains("已从数据库中删除")),
            "{label}: {v:?}"
        );
        // The county's verify names it too; another county's does not see it.
        let v = fund::verify(&mut conn, &w.caller("caiwu"), Some(&anchor)).expect("county");
        assert!(v.broken.iter().any(|b| b.account == school_account), "{label}: {v:?}");
        add_user(&w, "caiwu_c", OTHER_COUNTY, "finance");
        let v = fund::verify(&mut conn, &w.caller("caiwu_c"), Some(&anchor)).expect("other county");
        assert!(v.broken.is_empty(), "{label}: {v:?}");

        // The API reads the anchor itself.
        let (s, v) = call(&app, test::TestRequest::get().uri("/api/v1/ledger/verify"), &caiwu).await;
        assert_eq!((s, v["ok"].as_bool()), (200, Some(false)), "{label}: {v}");

        // An anchor edited by hand is refused, not believed.
        let path = chain::anchor_path(&w.settings.data_dir, &w.settings.database_url);
        let text = std::fs::read_to_string(&path).expect("anchor");
        std::fs::write(&path, text.replace(&format!("\"last_id\": {last}"), "\"last_id\": 1")).expect("edit");
        let e = chain::anchor_of(&w.settings).expect_err("forged");
        assert_eq!(e.code, ErrorCode::ChainAnchorInvalid, "{label}");
        assert!(e.message.contains("签名不符"), "{label}: {}", e.message);
    }
}

#[actix_web::test]
async fn a_database_sealed_with_one_key_refuses_another() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let mut conn = w.conn();
        let e = chain::adopt(&mut conn, &ChainKey::new([9; 32])).expect_err("another key");
        assert_eq!(e.code, ErrorCode::ChainKeyMismatch, "{label}");
        assert!(e.message.contains("指纹"), "{label}: {}", e.message);
        chain::adopt(&mut conn, &w.keys.chain).expect("its own key");
        // The keyed start is set once.
        let moved =
            diesel::sql_query("UPDATE chain_starts SET keyed_from = 999999 WHERE chain = 'audit'").execute(&mut conn);
        assert!(moved.is_err(), "{label}");
    }
}

#[actix_web::test]
async fn audit_verify_writes_the_anchor_then_holds_the_database_to_it() {
    let w = World::new(TestDb::sqlite());
    let data = tempfile::tempdir().expect("tmp");
    let run = || {
        mealroll_cmd()
            .args(["--db", &w.db.url, "audit", "verify"])
            .env("MEALROLL_DATA_DIR", data.path())
            .output()
            .expect("run")
    };
    let first = run();
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success() && out.contains("此前没有锚点文件"),
        "{out}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run();
    let out = String::from_utf8_lossy(&second.stdout).into_owned();
    assert!(second.status.success() && out.contains("与锚点文件一致"), "{out}");

    let mut conn = w.conn();
    unguard(&mut conn, "sqlite");
    let last: i64 = audit_log::table
        .select(diesel::dsl::max(audit_log::id))
        .first::<Option<i64>>(&mut conn)
        .expect("max")
        .expect("rows");
    diesel::delete(audit_log::table.find(last)).execute(&mut conn).expect("cut");
    drop(conn);
    let cut = run();
    assert!(!cut.status.success());
    let out = String::from_utf8_lossy(&cut.stdout);
    assert!(out.contains(&format!("#{last}")) && out.contains("末尾"), "{out}");
    assert!(String::from_utf8_lossy(&cut.stderr).contains("audit.tampered"));
}

#[actix_web::test]
async fn rows_past_the_retention_period_move_to_a_signed_archive_that_verify_reads_back() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let data = tempfile::tempdir().expect("data");
        let run = |clock: &str, args: &[&str]| {
            mealroll_cmd()
                .args(["--db", &w.db.url])
                .args(args)
                .env("MEALROLL_DATA_DIR", data.path())
                .env("MEALROLL_CLOCK", clock)
                .output()
                .expect("run")
        };
        // A row written in March 2027 (a backup), after everything the world wrote today.
        let backup = data.path().join("march.backup");
        let out = run("2027-03-01T02:00:00Z", &["backup", "--out", backup.to_str().expect("path")]);
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        let total: i64 = audit_log::table.count().get_result(&mut w.conn()).expect("n");
        let archive = data.path().join("audit-2026.archive");
        let archive_s = archive.to_str().expect("path");

        // Not before 183 days have passed.
        let early = run("2027-06-01T00:00:00Z", &["audit", "archive", "--before", "2027-01-01", "--out", archive_s]);
        assert!(!early.status.success(), "{label}");
        let err = String::from_utf8_lossy(&early.stderr);
        assert!(err.contains("audit.retention") && err.contains("183"), "{label}: {err}");
        assert!(!archive.exists(), "{label}");

        let done =
            run("2027-08-01T00:00:00Z", &["--json", "audit", "archive", "--before", "2027-01-01", "--out", archive_s]);
        assert!(done.status.success(), "{label}: {}", String::from_utf8_lossy(&done.stderr));
        let a: serde_json::Value = serde_json::from_slice(&done.stdout).expect("json");
        let to_id = a["to_id"].as_i64().expect("to_id");
        assert_eq!(a["from_id"], 1, "{label}");
        assert_eq!(a["rows"].as_i64(), Some(to_id), "{label}");
        let mut conn = w.conn();
        let first: Option<i64> =
            audit_log::table.select(diesel::dsl::min(audit_log::id)).first(&mut conn).expect("min");
        assert_eq!(first, Some(to_id + 1), "{label}: the archived rows left the database");
        let kept: i64 = audit_log::table.count().get_result(&mut conn).expect("n");
        assert_eq!(kept, total - to_id + 1, "{label}: the March row and the archive's own row stay");
        // A row no archive holds still cannot be deleted.
        let last: i64 = audit_log::table
            .select(diesel::dsl::max(audit_log::id))
            .first::<Option<i64>>(&mut conn)
            .expect("max")
            .expect("rows");
        assert!(diesel::delete(audit_log::table.find(last)).execute(&mut conn).is_err(), "{label}");
        drop(conn);

        let verify = || run("2027-08-01T00:00:00Z", &["audit", "verify"]);
        let ok = verify();
        let text = String::from_utf8_lossy(&ok.stdout).into_owned();
        assert!(ok.status.success(), "{label}: {text}{}", String::from_utf8_lossy(&ok.stderr));
        assert!(text.contains(&format!("归档文件 {to_id} 条记录完整")), "{label}: {text}");

        // An edited archive and a missing one are both named.
        let original = std::fs::read(&archive).expect("archive");
        let edited =
            String::from_utf8(original.clone()).expect("utf8").replacen("\"result\":\"ok\"", "\"result\":\"no\"", 1);
        assert_ne!(edited.as_bytes(), original.as_slice(), "{label}: something to edit");
        std::fs::write(&archive, edited).expect("edit");
        let bad = verify();
        assert!(!bad.status.success(), "{label}");
        assert!(
            String::from_utf8_lossy(&bad.stdout).contains("被改动"),
            "{label}: {}",
            String::from_utf8_lossy(&bad.stdout)
        );
        std::fs::remove_file(&archive).expect("remove");
        let gone = verify();
        assert!(!gone.status.success() && String::from_utf8_lossy(&gone.stdout).contains("不存在"), "{label}");
        std::fs::write(&archive, &original).expect("put back");
        assert!(verify().status.success(), "{label}: whole again");
    }
}
