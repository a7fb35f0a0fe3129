//! Every change leaves an audit row with before and after; the chain shows a hand edit.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use mealroll::audit::service::verify;
use mealroll::db::schema::audit_log;

#[actix_web::test]
async fn every_change_through_the_api_writes_an_audit_row() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let auth = (header::AUTHORIZATION, format!("Bearer {}", w.token("a.xueji")));
        let before: i64 = {
            let mut c = w.conn();
            audit_log::table.count().get_result(&mut c).expect("n")
        };

        let r = test::call_service(&app, test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/teachers")).insert_header(auth.clone())
            .set_json(serde_json::json!({"staff_no": "0002", "name": "刘𠮷芳", "sex": "女", "phone": "13900001111", "subject": "数学"})).to_request()).await;
        assert_eq!(r.status(), 201, "{label}");
        let teacher = body_json(r).await;
        assert_eq!(teacher["name"], "刘𠮷芳", "{label}: name kept as entered");
        let tid = teacher["id"].as_i64().expect("id");

        let r = test::call_service(&app, test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/classes")).insert_header(auth.clone())
            .set_json(serde_json::json!({"class_no": "202602", "grade": "一年级", "entry_year": "2026", "head_teacher_staff_no": "0002"})).to_request()).await;
        assert_eq!(r.status(), 201, "{label}");
        let class = body_json(r).await;
        assert_eq!(class["name"], "一年级(2)班", "{label}: name derived from grade and class number");
        let cid = class["id"].as_i64().expect("id");

        let r = test::call_service(&app, test::TestRequest::put().uri(&format!("/api/v1/classes/{cid}")).insert_header(auth.clone())
            .set_json(serde_json::json!({"class_no": "202602", "name": "一年级(2)班（民族班）", "grade": "1", "entry_year": "2026"})).to_request()).await;
        assert_eq!(r.status(), 200, "{label}");
        let r = test::call_service(
            &app,
            test::TestRequest::delete().uri(&format!("/api/v1/classes/{cid}")).insert_header(auth.clone()).to_request(),
        )
        .await;
        assert_eq!(r.status(), 204, "{label}");
        let r = test::call_service(&app, test::TestRequest::put().uri(&format!("/api/v1/schools/{SCHOOL_A}")).insert_header(auth.clone())
            .set_json(serde_json::json!({"name": "望谟县王母小学", "sponsor_type": "教育部门", "urban_rural": "220", "school_type": "小学", "phone": "0859-4611001"})).to_request()).await;
        assert_eq!(r.status(), 200, "{label}");

        let mut conn = w.conn();
        type Row = (String, String, Option<String>, Option<String>, String);
        let rows: Vec<Row> = audit_log::table
            .order(audit_log::id.asc())
            .offset(before)
            .select((
                audit_log::action,
                audit_log::object_id,
                audit_log::before_json,
                audit_log::after_json,
                audit_log::actor,
            ))
            .load(&mut conn)
            .expect("rows");
        let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            actions,
            ["teacher.create", "class.create", "class.update", "class.delete", "school.update"],
            "{label}"
        );
        assert!(rows.iter().all(|r| r.4 == "a.xueji"), "{label}: actor recorded");
        let update = &rows[2];
        assert_eq!(update.1, cid.to_string(), "{label}");
        assert!(update.2.as_deref().unwrap_or("").contains("202602"), "{label}: before kept");
        assert!(update.3.as_deref().unwrap_or("").contains("民族班"), "{label}: after kept");
        assert!(rows[3].2.is_some(), "{label}: deletion keeps the deleted row");
        assert_eq!(verify(&mut conn, None).expect("verify").first_broken, None, "{label}");
        let _ = tid;
    }
}

#[actix_web::test]
async fn audit_rows_cannot_be_changed_through_sql_and_hand_edits_are_detected() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let mut conn = w.conn();
        let v = verify(&mut conn, None).expect("verify");
        assert!(v.rows > 10, "{label}");
        assert_eq!(v.first_broken, None, "{label}");
        let target: i64 = audit_log::table
            .filter(audit_log::action.eq("class.create"))
            .select(audit_log::id)
            .first(&mut conn)
            .expect("row");

        // The triggers refuse updates and deletes.
        let upd =
            diesel::update(audit_log::table.find(target)).set(audit_log::actor.eq("someone else")).execute(&mut conn);
        assert!(upd.is_err(), "{label}: update refused");
        let del = diesel::delete(audit_log::table.find(target)).execute(&mut conn);
        assert!(del.is_err(), "{label}: delete refused");

        // Someone with the database in hand drops the trigger and edits a row: verify names it.
        let drop = if label == "sqlite" {
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
        } else {
            "DROP TRIGGER audit_log_no_change ON audit_log;"
        };
        conn.batch_execute(drop).expect("drop trigger");
        diesel::update(audit_log::table.find(target))
            .set(audit_log::after_json.eq("{\"class_no\":\"999999\"}"))
            .execute(&mut conn)
            .expect("edit");
        let v = verify(&mut conn, None).expect("verify");
        assert_eq!(v.first_broken.as_ref().map(|b| b.0), Some(target), "{label}: {v:?}");

        // Deleting a later row (with the edit undone the chain is still broken at the deletion).
        let later: i64 = audit_log::table
            .filter(audit_log::id.gt(target + 2))
            .select(audit_log::id)
            .order(audit_log::id.asc())
            .first(&mut conn)
            .expect("later");
        diesel::delete(audit_log::table.find(later)).execute(&mut conn).expect("delete");
        let v = verify(&mut conn, None).expect("verify");
        assert_eq!(v.first_broken.as_ref().map(|b| b.0), Some(target), "{label}: first problem first");
    }
}

#[actix_web::test]
async fn audit_verify_command_exits_non_zero_on_a_tampered_log() {
    let w = World::new(TestDb::sqlite());
    let url = w.db.url.clone();
    let data = tempfile::tempdir().expect("tmp");
    let run = || {
        mealroll_cmd()
            .args(["--db", &url, "audit", "verify"])
            .env("MEALROLL_DATA_DIR", data.path())
            .output()
            .expect("run")
    };
    let ok = run();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("审计日志完整"));
    let mut conn = w.conn();
    conn.batch_execute("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET ip = '1.2.3.4' WHERE id = 3;")
        .expect("tamper");
    drop(conn);
    let bad = run();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("#3"), "{}", String::from_utf8_lossy(&bad.stdout));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("audit.tampered"));
}
