//! Collection points (单机版, issue 22): a stand-alone instance on SQLite set up with the county's
//! children of school A, paired with the county's network instance (SQLite and PostgreSQL), does a
//! month's work offline — a child's address and guardian phone corrected, a new child with a photo,
//! a day's meals, the school's December calendar, a suspension asked for — while the network
//! changes the same child's guardian phone otherwise and its attendance. The package travels
//! sealed; the county takes it once and in order, applies what only one side changed, lists what
//! both changed for a person, and refuses whole what is cut, altered, replayed, skipped, of an
//! unknown point or of a school that is not the point's.

use actix_web::test;
use diesel::prelude::*;
use mealroll::collect::PairingCode;
use mealroll::db::schema::{
    collect_items, collect_packages, daily_meal_absences, daily_meals, meal_calendars, orgs, student_history,
    student_photos, students,
};
use mealroll::domain::collect::{PairingKey, Sealed};
use serde_json::{Value, json};

use crate::common::*;

const POINT: &str = "王母采集点";

/// The programme, the term and November's meal days at the county, as both instances have them.
async fn programme<S, B>(app: &S, w: &World)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let yyb = bearer(w, "yyb");
    for (req, what) in [
        (
            test::TestRequest::post()
                .uri("/api/v1/programme/schools")
                .set_json(json!({"school": SCHOOL_A, "from_date": "2026-09-01"})),
            "school A in the programme",
        ),
        (
            test::TestRequest::put()
                .uri("/api/v1/terms")
                .set_json(json!({"term": "2026-1", "start_date": "2026-09-01", "end_date": "2027-01-15"})),
            "the term",
        ),
        (
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/2026-11"))
                .set_json(json!({"days": "2-6,9-13,16-20,23-27,30"})),
            "November's meal days",
        ),
    ] {
        let (s, v) = call(app, req, &yyb).await;
        assert_eq!(s, 200, "{what}: {v}");
    }
}

/// A child registered at school A from 1 September and confirmed; returns its id.
async fn enrol<S, B>(app: &S, w: &World, name: &str, body17: &str, birth: &str) -> i64
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let mut rec = student(name, body17, birth, "女");
    rec["enrolled_on"] = json!("2026-09-01");
    rec["backdate_reason"] = json!("测试：秋季入学");
    let (s, v) = call(
        app,
        test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(rec),
        &bearer(w, "a.xueji"),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    let (s, v) = call(
        app,
        test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [id]})),
        &bearer(w, "yyb"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    id
}

/// Changes fields of a child's record through the API.
async fn edit<S, B>(app: &S, w: &World, id: i64, changes: &[(&str, &str)])
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let (s, v) = call(app, test::TestRequest::get().uri(&format!("/api/v1/students/{id}")), &bearer(w, "yyb")).await;
    assert_eq!(s, 200, "{v}");
    let mut record = v["record"].clone();
    for (k, val) in changes {
        record[*k] = json!(val);
    }
    let (s, v) = call(
        app,
        test::TestRequest::put()
            .uri(&format!("/api/v1/students/{id}"))
            .set_json(json!({"record": record, "reason": "核对更正", "version": v["version"]})),
        &bearer(w, "a.xueji"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

fn record_of(w: &World, id: i64) -> std::collections::BTreeMap<String, String> {
    let row: mealroll::registry::model::StudentRow = students::table
        .find(id)
        .select(mealroll::registry::model::StudentRow::as_select())
        .first(&mut w.conn())
        .expect("row");
    row.record().values().clone()
}

fn school_id(w: &World, code: &str) -> i64 {
    orgs::table.filter(orgs::code.eq(code)).select(orgs::id).first(&mut w.conn()).expect("school")
}

fn calendar_bits(w: &World, code: &str, month: i32) -> Option<String> {
    meal_calendars::table
        .filter(meal_calendars::org_id.eq(school_id(w, code)))
        .filter(meal_calendars::month.eq(month))
        .select(meal_calendars::days)
        .first(&mut w.conn())
        .optional()
        .expect("calendar")
}

async fn import<S, B>(app: &S, yyb: &Header, file: &[u8]) -> (u16, Value)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    call(app, test::TestRequest::post().uri("/api/v1/collect/packages").set_payload(file.to_vec()), yyb).await
}

#[actix_web::test]
async fn a_points_month_offline_reaches_the_county_once_with_what_both_sides_changed_left_to_decide() {
    for db in TestDb::all() {
        let label = db.label;
        let net = World::new(db);
        let point = World::new(TestDb::sqlite());
        let net_app = test::init_service(mealroll::app::app(net.state())).await;
        let pt_app = test::init_service(mealroll::app::app(point.state())).await;
        add_user(&point, "a.yyzg", SCHOOL_A, "nutrition_officer");
        let (yyb, pt_yyb) = (bearer(&net, "yyb"), bearer(&point, "yyb"));

        // The point starts with the county's children of school A: the same two children,
        // registered in the same order, have the same numbers on both sides.
        programme(&net_app, &net).await;
        programme(&pt_app, &point).await;
        let x_net = enrol(&net_app, &net, "吴思琪", "52232620180101002", "2018-01-01").await;
        let z_net = enrol(&net_app, &net, "韦小芳", "52232620180303004", "2018-03-03").await;
        let x_pt = enrol(&pt_app, &point, "吴思琪", "52232620180101002", "2018-01-01").await;
        let z_pt = enrol(&pt_app, &point, "韦小芳", "52232620180303004", "2018-03-03").await;
        assert_eq!(student_no_of(&mut net.conn(), z_net), student_no_of(&mut point.conn(), z_pt), "{label}");

        // The county registers the point; only its own schools.
        let (s, e) = call(
            &net_app,
            test::TestRequest::post()
                .uri("/api/v1/collect/points")
                .set_json(json!({"name": POINT, "schools": [SCHOOL_A, SCHOOL_C]})),
            &yyb,
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (422, Some("collect.school")), "{label}: another county's school: {e}");
        let (s, reg) = call(
            &net_app,
            test::TestRequest::post()
                .uri("/api/v1/collect/points")
                .set_json(json!({"name": POINT, "schools": [SCHOOL_A]})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {reg}");
        let code = reg["pairing_code"].as_str().expect("pairing code").to_owned();
        assert_eq!(audit_count(&mut net.conn(), "collect.register"), 1, "{label}");
        let (s, v) = call(
            &pt_app,
            test::TestRequest::post().uri("/api/v1/collect/pairing").set_json(json!({"code": "mealroll-pair:xyz"})),
            &pt_yyb,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("collect.not_paired")), "{label}: {v}");
        let (s, v) = call(
            &pt_app,
            test::TestRequest::post().uri("/api/v1/collect/pairing").set_json(json!({"code": code})),
            &pt_yyb,
        )
        .await;
        assert_eq!((s, v["point"].as_str()), (200, Some(POINT)), "{label}: {v}");

        // A month at the point.
        edit(&pt_app, &point, x_pt, &[("address_now", "王母街道新寨组"), ("m1_phone", "13900003333")]).await;
        let mut y = student("罗小明", "52232620180202001", "2018-02-02", "男");
        y["class_no"] = json!("202601");
        let (s, v) = call(
            &pt_app,
            test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(y),
            &bearer(&point, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let y_pt = v["id"].as_i64().expect("id");
        let (s, v) = call(
            &pt_app,
            test::TestRequest::put().uri(&format!("/api/v1/students/{y_pt}/photo")).set_payload(jpeg(390, 480)),
            &bearer(&point, "a.xueji"),
        )
        .await;
        assert_eq!(s, 200, "{label}: the photo: {v}");
        let (s, v) = call(
            &pt_app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/meal-days/2026-11-13"))
                .set_json(json!({"classes": [{"class": "202601", "ate": 1, "absent": [z_pt]}]})),
            &bearer(&point, "a.yyzg"),
        )
        .await;
        assert_eq!(s, 200, "{label}: the day's meals at the point: {v}");
        for (w, app, days) in [(&point, &pt_app, "1-4,7-11"), (&net, &net_app, "1-5,8")] {
            let (s, v) = call(
                app,
                test::TestRequest::put()
                    .uri(&format!("/api/v1/calendars/{SCHOOL_A}/2026-12"))
                    .set_json(json!({"days": days})),
                &bearer(w, "yyb"),
            )
            .await;
            assert_eq!(s, 200, "{label}: December at school A: {v}");
        }
        let (s, v) = call(
            &pt_app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/students/{z_pt}/status-changes"))
                .set_json(json!({"kind": "11", "effective_date": "2026-12-14", "reason": "因病休学"})),
            &bearer(&point, "a.xueji"),
        )
        .await;
        assert_eq!(s, 201, "{label}: a suspension asked for at the point: {v}");
        // Meanwhile the network changes the same child.
        edit(&net_app, &net, x_net, &[("m1_phone", "13900004444"), ("attendance", "走读")]).await;
        let net_attendance = record_of(&net, x_net).get("attendance").cloned();
        assert_ne!(net_attendance, record_of(&point, x_pt).get("attendance").cloned(), "{label}");

        // The package: sealed, nothing readable in it.
        let (s, made) = call(&pt_app, test::TestRequest::post().uri("/api/v1/collect/exports"), &pt_yyb).await;
        assert_eq!((s, made["seq"].as_i64()), (200, Some(1)), "{label}: {made}");
        assert_eq!(
            (made["counts"]["children"].as_i64(), made["counts"]["new_children"].as_i64()),
            (Some(2), Some(1)),
            "{label}: the changed child and the new one: {made}"
        );
        assert_eq!(made["counts"]["photos"].as_i64(), Some(1), "{label}");
        let (s, file) =
            call(&pt_app, test::TestRequest::get().uri(&format!("/api/v1/collect/exports/{}", made["id"])), &pt_yyb)
                .await;
        assert_eq!(s, 200, "{label}");
        let file = serde_json::to_vec(&file).expect("bytes");
        let text = String::from_utf8_lossy(&file);
        for secret in ["522326201801010", "13900003333", "吴思琪", "罗小明"] {
            assert!(!text.contains(secret), "{label}: {secret} is not readable in the package");
        }

        // Refused whole, nothing applied: cut, altered, renamed, of a school not the point's,
        // and a later package before the first.
        let students_before = rows_in(&net, "students");
        let (s, e) = import(&net_app, &yyb, &file[..file.len() / 2]).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("collect.malformed")), "{label}: cut: {e}");
        let sealed: Sealed = serde_json::from_slice(&file).expect("sealed");
        let mut altered = sealed.clone();
        let flip = if altered.sealed.ends_with('A') { "B" } else { "A" };
        altered.sealed.replace_range(altered.sealed.len() - 6..altered.sealed.len() - 5, flip);
        let (s, e) = import(&net_app, &yyb, &serde_json::to_vec(&altered).expect("json")).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("collect.seal")), "{label}: altered: {e}");
        let mut renamed = sealed.clone();
        renamed.header.point = "别的采集点".into();
        let (s, e) = import(&net_app, &yyb, &serde_json::to_vec(&renamed).expect("json")).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("collect.point")), "{label}: unknown point: {e}");
        let key = PairingKey::from_hex(&PairingCode::decode(&code).expect("code").key).expect("key");
        let mut body = key.open(&sealed).expect("opens under the pairing key");
        body.schools.push(SCHOOL_B.into());
        let (s, e) = import(&net_app, &yyb, &serde_json::to_vec(&key.seal(&body)).expect("json")).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("collect.school")), "{label}: school B: {e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains(SCHOOL_B)), "{label}: names the school: {e}");
        let (s, second) = call(&pt_app, test::TestRequest::post().uri("/api/v1/collect/exports"), &pt_yyb).await;
        assert_eq!((s, second["seq"].as_i64()), (200, Some(2)), "{label}: {second}");
        let second_file = serde_json::to_vec(&second["package"]).expect("json");
        let (s, e) = import(&net_app, &yyb, &second_file).await;
        assert_eq!((s, e["error"].as_str()), (422, Some("collect.sequence")), "{label}: skipped: {e}");
        assert_eq!(rows_in(&net, "students"), students_before, "{label}: nothing applied");
        assert_eq!(rows_in(&net, "collect_packages"), 0, "{label}");
        assert_eq!(rows_in(&net, "collect_items"), 0, "{label}");

        // Taken through the page's upload.
        let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", net.token("yyb")));
        let r = test::call_service(
            &net_app,
            test::TestRequest::get().uri("/collect").insert_header(cookie.clone()).to_request(),
        )
        .await;
        assert_eq!(r.status().as_u16(), 200, "{label}");
        let html = String::from_utf8_lossy(&test::read_body(r).await).into_owned();
        assert!(html.contains(POINT), "{label}: the point listed");
        let (ct, payload) = multipart(&[("csrf", None, csrf_of(&html).as_bytes()), ("file", Some("c.json"), &file)]);
        let r = test::call_service(
            &net_app,
            test::TestRequest::post()
                .uri("/collect/import")
                .insert_header(cookie.clone())
                .insert_header((actix_web::http::header::CONTENT_TYPE, ct))
                .set_payload(payload)
                .to_request(),
        )
        .await;
        assert_eq!(r.status().as_u16(), 303, "{label}");
        let to = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
        assert!(to.starts_with("/collect?ok=collect_imported"), "{label}: {to}");
        let (s, again) = import(&net_app, &yyb, &file).await;
        assert_eq!((s, again["again"].as_bool()), (200, Some(true)), "{label}: taken once: {again}");
        let summary = &again["summary"];
        assert_eq!(
            (summary["new_children"].as_i64(), summary["updated_children"].as_i64(), summary["photos"].as_i64()),
            (Some(1), Some(1), Some(1)),
            "{label}: {summary}"
        );
        assert_eq!((summary["calendars"].as_i64(), summary["meal_days"].as_i64()), (Some(0), Some(1)), "{label}");
        assert_eq!(rows_in(&net, "students"), students_before + 1, "{label}: the new child once");
        assert_eq!(audit_count(&mut net.conn(), "collect.import"), 1, "{label}");

        // What only one side changed is taken; the network's own change stands.
        let x = record_of(&net, x_net);
        assert_eq!(x.get("address_now").map(String::as_str), Some("王母街道新寨组"), "{label}: the point's");
        assert_eq!(x.get("attendance"), net_attendance.as_ref(), "{label}: the network's");
        assert_eq!(x.get("m1_phone").map(String::as_str), Some("13900004444"), "{label}: waits for a person");
        let history: Vec<(String, String)> = student_history::table
            .filter(student_history::student_id.eq(x_net))
            .select((student_history::field, student_history::actor))
            .load(&mut net.conn())
            .expect("history");
        assert!(
            history.iter().any(|(f, a)| f == "address_now" && a == &format!("{POINT}/a.xueji")),
            "{label}: the point's own history row, with who made it there: {history:?}"
        );
        // The new child: the county's own number, pending the county's confirmation, its photo.
        let (y_net, y_review): (i64, String) = students::table
            .filter(students::name.eq("罗小明"))
            .select((students::id, students::review))
            .first(&mut net.conn())
            .expect("the new child at the county");
        assert_eq!(y_review, "pending", "{label}");
        let photos: i64 = student_photos::table
            .filter(student_photos::student_id.eq(y_net))
            .count()
            .get_result(&mut net.conn())
            .expect("n");
        assert_eq!(photos, 1, "{label}");
        // The day's meals, with the absent child found by number.
        let (meal, ate, by): (i64, i32, String) = daily_meals::table
            .filter(daily_meals::day.eq(chrono::NaiveDate::from_ymd_opt(2026, 11, 13).expect("day")))
            .select((daily_meals::id, daily_meals::ate, daily_meals::recorded_by))
            .first(&mut net.conn())
            .expect("the day at the county");
        assert_eq!((ate, by.as_str()), (1, format!("{POINT}/a.yyzg").as_str()), "{label}");
        let absent: Vec<i64> = daily_meal_absences::table
            .filter(daily_meal_absences::daily_meal_id.eq(meal))
            .select(daily_meal_absences::student_id)
            .load(&mut net.conn())
            .expect("absent");
        assert_eq!(absent, vec![z_net], "{label}");
        assert_eq!(calendar_bits(&net, SCHOOL_A, 202612).map(|b| b[..8].to_owned()).as_deref(), Some("11111001"));

        // The items: the phone both changed, December's calendar, the suspension.
        let (s, v) = call(&net_app, test::TestRequest::get().uri("/api/v1/collect/items?state=open"), &yyb).await;
        assert_eq!(s, 200, "{label}: {v}");
        let items = v["items"].as_array().expect("items").clone();
        let kinds: Vec<&str> = items.iter().filter_map(|i| i["kind"].as_str()).collect();
        assert_eq!(kinds.len(), 3, "{label}: {v}");
        for k in ["field", "calendar", "status"] {
            assert!(kinds.contains(&k), "{label}: a {k} item: {v}");
        }
        let find = |k: &str| items.iter().find(|i| i["kind"] == k).expect("item").clone();
        let phone = find("field");
        assert_eq!(phone["field"].as_str(), Some("m1_phone"), "{label}");
        assert_eq!(phone["student_id"].as_i64(), Some(x_net), "{label}");
        let shown = format!("{}{}{}", phone["theirs"], phone["ours"], phone["base"]);
        assert!(!shown.contains("13900003333") && !shown.contains("13900004444"), "{label}: masked: {phone}");
        let page = test::call_service(
            &net_app,
            test::TestRequest::get().uri("/collect").insert_header(cookie.clone()).to_request(),
        )
        .await;
        let html = String::from_utf8_lossy(&test::read_body(page).await).into_owned();
        assert!(html.contains("id=\"items\"") && html.contains("吴思琪"), "{label}: the items on the page");
        assert!(!html.contains("13900003333") && !html.contains("522326201801010"), "{label}: masked on the page");

        // Deciding: the point's phone taken through the registry; once only; a status change is
        // only marked handled; the point's December calendar taken.
        let decide = |id: &Value, d: &str| {
            let (app, h, uri) = (&net_app, yyb.clone(), format!("/api/v1/collect/items/{id}"));
            let body = json!({"decision": d, "note": "已电话核实"});
            async move { call(app, test::TestRequest::post().uri(&uri).set_json(body), &h).await }
        };
        let (s, e) = decide(&find("status")["id"], "take").await;
        assert_eq!((s, e["error"].as_str()), (422, Some("collect.conflict")), "{label}: {e}");
        let (s, v) = decide(&phone["id"], "take").await;
        assert_eq!((s, v["state"].as_str()), (200, Some("taken")), "{label}: {v}");
        assert_eq!(record_of(&net, x_net).get("m1_phone").map(String::as_str), Some("13900003333"), "{label}");
        let (s, e) = decide(&phone["id"], "keep").await;
        assert_eq!((s, e["error"].as_str()), (409, Some("collect.conflict")), "{label}: decided once: {e}");
        let (s, _) = decide(&find("status")["id"], "done").await;
        assert_eq!(s, 200, "{label}");
        let (s, _) = decide(&find("calendar")["id"], "take").await;
        assert_eq!(s, 200, "{label}");
        assert_eq!(calendar_bits(&net, SCHOOL_A, 202612).map(|b| b[..11].to_owned()).as_deref(), Some("11110011111"));
        assert_eq!(audit_count(&mut net.conn(), "collect.decide"), 3, "{label}");
        let open: i64 = collect_items::table
            .filter(collect_items::state.eq("open"))
            .count()
            .get_result(&mut net.conn())
            .expect("open");
        assert_eq!(open, 0, "{label}");

        // The second package follows; a school's registrar has no page here.
        let (s, v) = import(&net_app, &yyb, &second_file).await;
        assert_eq!((s, v["seq"].as_i64(), v["again"].as_bool()), (200, Some(2), Some(false)), "{label}: {v}");
        let taken: i64 = collect_packages::table.count().get_result(&mut net.conn()).expect("n");
        assert_eq!(taken, 2, "{label}");
        let school_cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", net.token("a.xueji")));
        let r = test::call_service(
            &net_app,
            test::TestRequest::get().uri("/collect").insert_header(school_cookie).to_request(),
        )
        .await;
        assert_eq!(r.status().as_u16(), 403, "{label}");
        let (s, _) = import(&net_app, &bearer(&net, "a.xueji"), &file).await;
        assert_eq!(s, 403, "{label}: a school cannot take a package");
    }
}

/// The command line, point and county each its own database: the county registers the point and
/// prints the pairing code once; the point pairs, registers a child and makes its package; the
/// county takes it once, a cut copy is refused with its code and nothing taken.
#[actix_web::test]
async fn the_command_line_carries_a_package_from_the_point_to_the_county() {
    for db in TestDb::all() {
        let label = db.label;
        let net = World::new(db);
        let point = World::new(TestDb::sqlite());
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("collect-0001.json");
        let run = |w: &World, args: &[&str]| {
            let out = mealroll_cmd().args(["--db", &w.db.url, "--json"]).args(args).output().expect("run");
            let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            (out.status.success(), json, String::from_utf8_lossy(&out.stderr).into_owned())
        };
        let (ok, reg, err) = run(&net, &["collect", "register", "--name", POINT, "--schools", SCHOOL_A]);
        assert!(ok, "{label}: {err}");
        let code = reg["pairing_code"].as_str().expect("code").to_owned();
        let (ok, paired, err) = run(&point, &["collect", "pair", &code]);
        assert!(ok && paired["schools"] == json!([SCHOOL_A]), "{label}: {paired} {err}");
        {
            let mut conn = point.conn();
            let cli = mealroll::auth::Caller::cli(&mut conn).expect("cli");
            let rec = raw_of(&student("杨天佑", "52232620180404003", "2018-04-04", "男"));
            mealroll::registry::service::create(&mut conn, &cli, SCHOOL_A, &rec).expect("a child at the point");
        }
        let (ok, made, err) = run(&point, &["collect", "export", "--out", file.to_str().expect("path")]);
        assert!(ok, "{label}: {err}");
        assert_eq!((made["made"]["seq"].as_i64(), made["counts"]["new_children"].as_i64()), (Some(1), Some(1)));
        let bytes = std::fs::read(&file).expect("the package");
        let cut = dir.path().join("cut.json");
        std::fs::write(&cut, &bytes[..bytes.len() - 40]).expect("write");
        let (ok, _, err) = run(&net, &["collect", "import", cut.to_str().expect("path")]);
        assert!(!ok && err.contains("collect.malformed"), "{label}: {err}");
        assert_eq!(rows_in(&net, "collect_packages"), 0, "{label}: nothing taken");
        let (ok, taken, err) = run(&net, &["collect", "import", file.to_str().expect("path")]);
        assert!(ok, "{label}: {err}");
        assert_eq!((taken["again"].as_bool(), taken["summary"]["new_children"].as_i64()), (Some(false), Some(1)));
        let (ok, again, _) = run(&net, &["collect", "import", file.to_str().expect("path")]);
        assert!(ok && again["again"] == json!(true), "{label}: {again}");
        let n: i64 =
            students::table.filter(students::name.eq("杨天佑")).count().get_result(&mut net.conn()).expect("n");
        assert_eq!(n, 1, "{label}: the child once at the county");
        let (ok, items, _) = run(&net, &["collect", "items", "--open"]);
        assert!(ok && items["items"] == json!([]), "{label}: {items}");
    }
}
