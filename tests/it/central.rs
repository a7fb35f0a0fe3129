//! Exchange packages (issue 22): two provinces in two databases and the centre in a third. A
//! child of the demo county (Guizhou) is planted, by its ID number, at a school in Yunnan from
//! the 20th of last month; the centre finds it from either side without ever holding a name or a
//! number, refuses what is tampered, replayed, skipped, cut short or hashed under another key, and
//! each province's scan names its own child as A01.

use actix_web::test;
use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use mealroll::auth::Caller;
use mealroll::central::{centre, province};
use mealroll::db::at_rest::{self, IdNo};
use mealroll::db::schema::{centre_packages, student_spells, students};
use mealroll::domain::calendar::{Month, Span};
use mealroll::domain::central::NationalKey;
use mealroll::org::model::{ClassInput, SchoolInput};
use mealroll::org::service as org;
use serde_json::{Value, json};

use crate::common::*;

const GUIZHOU: &str = "520000";
const YUNNAN: &str = "530000";
const YUNNAN_COUNTY: &str = "530102";
const YUNNAN_SCHOOL: &str = "2153010201";

/// The national key as every instance here is configured with it.
const NATIONAL_HEX: &str = "0505050505050505050505050505050505050505050505050505050505050505";

fn national() -> NationalKey {
    NationalKey::from_hex(NATIONAL_HEX).expect("hex")
}

/// A fresh, empty database on the same backend as `like`.
fn fresh(like: &TestDb) -> TestDb {
    if like.label == "postgres" { TestDb::postgres().expect("postgres") } else { TestDb::sqlite() }
}

/// A demo child at school through the whole of last month, with its ID number.
fn demo_child(w: &World, month: Month) -> (i64, String, String) {
    let mut conn = w.conn();
    let rows: Vec<(i64, String, Option<String>)> = students::table
        .inner_join(student_spells::table.on(student_spells::student_id.eq(students::id)))
        .filter(students::review.eq("confirmed"))
        .filter(students::id_no_sealed.is_not_null())
        .filter(student_spells::state.eq("at_school"))
        .filter(student_spells::from_date.le(month.first_day()))
        .filter(student_spells::to_date.is_null())
        .select((students::id, students::name, students::id_no_sealed))
        .order(students::id.asc())
        .limit(1)
        .load(&mut conn)
        .expect("children");
    let (id, name, sealed) = rows.into_iter().next().expect("a demo child at school");
    (id, name, at_rest::open::<IdNo>(&sealed.expect("sealed")).expect("opens"))
}

/// A school in Yunnan and, from `from`, a child there with the Guizhou child's number.
fn yunnan_child(w: &World, id_no: &str, from: NaiveDate) -> i64 {
    let mut conn = w.conn();
    let cli = Caller::cli(&mut conn).expect("cli");
    org::create_school(
        &mut conn,
        &cli,
        &SchoolInput {
            code: YUNNAN_SCHOOL.into(),
            name: "五华区示范小学".into(),
            parent_code: YUNNAN_COUNTY.into(),
            sponsor_type: "1".into(),
            urban_rural: "220".into(),
            school_type: "211".into(),
            ..SchoolInput::default()
        },
    )
    .expect("school");
    org::create_class(
        &mut conn,
        &cli,
        YUNNAN_SCHOOL,
        &ClassInput {
            class_no: "202601".into(),
            grade: "1".into(),
            entry_year: "2026".into(),
            ..ClassInput::default()
        },
    )
    .expect("class");
    let mut rec = student("滇生", "53010220190101001", "2019-01-01", "男");
    rec["enrolled_on"] = json!(from.to_string());
    rec["entry_ym"] = json!(from.format("%Y%m").to_string());
    rec["backdate_reason"] = json!("测试：上月20日转入");
    let made = mealroll::registry::service::create(&mut conn, &cli, YUNNAN_SCHOOL, &raw_of(&rec)).expect("student");
    mealroll::registry::service::confirm(&mut conn, &cli, &[made.id]).expect("confirmed");
    set_id_no(&mut conn, made.id, id_no);
    made.id
}

fn refused_code(e: mealroll::error::AppError) -> &'static str {
    e.code.as_str()
}

#[actix_web::test]
async fn a_child_in_two_provinces_is_found_from_both_sides_without_a_name_or_number_leaving() {
    let month = Month::of(mealroll::clock::today()).prev();
    let period = Span::of_month(month);
    let twentieth = month.first_day().with_day(20).expect("20th");
    for (db, _demo) in TestDb::demos() {
        let label = db.label;
        let (yunnan_db, centre_db) = (fresh(&db), fresh(&db));
        let guizhou = World::bare(db);
        let yunnan = World::bare(yunnan_db);
        let mut hub = World::bare(centre_db);
        let (gz_child, gz_name, id_no) = demo_child(&guizhou, month);
        let yn_child = yunnan_child(&yunnan, &id_no, twentieth);
        let cli = |w: &World| Caller::cli(&mut w.conn()).expect("cli");

        // Each province makes its package; neither carries a name or a number.
        let (gz_made, gz_pkg) =
            province::export(&mut guizhou.conn(), &cli(&guizhou), &guizhou.keys, &national(), GUIZHOU, &period)
                .expect("Guizhou's package");
        let (yn_made, yn_pkg) =
            province::export(&mut yunnan.conn(), &cli(&yunnan), &yunnan.keys, &national(), YUNNAN, &period)
                .expect("Yunnan's package");
        assert!(gz_made.children > 100, "{label}: the demo county's children ({})", gz_made.children);
        assert!(gz_made.counties >= 1, "{label}: the demo county's month in figures");
        assert_eq!((yn_made.children, yn_made.seq), (1, 1), "{label}");
        let text = String::from_utf8_lossy(&gz_pkg);
        assert!(!text.contains(&id_no) && !text.contains(&id_no[..14]), "{label}: no ID number leaves the province");
        assert!(!text.contains(&gz_name), "{label}: no name leaves the province");

        // The centre registers each province's key; one key cannot speak for two provinces.
        let gz_key = centre::province_public_key(&guizhou.keys, GUIZHOU);
        let yn_key = centre::province_public_key(&yunnan.keys, YUNNAN);
        assert_ne!(gz_key, yn_key, "{label}: each province signs with its own key");
        let hub_cli = cli(&hub);
        let mut c = hub.conn();
        centre::register(&mut c, &hub_cli, GUIZHOU, &gz_key).expect("register Guizhou");
        let e = centre::register(&mut c, &hub_cli, YUNNAN, &gz_key).expect_err("Guizhou's key for Yunnan");
        assert_eq!(refused_code(e), "central.key_taken", "{label}");
        // A package of a province not registered yet is refused.
        let e = centre::import(&mut c, &hub_cli, &national(), &yn_pkg).expect_err("Yunnan not registered");
        assert_eq!(refused_code(e), "central.province", "{label}");
        centre::register(&mut c, &hub_cli, YUNNAN, &yn_key).expect("register Yunnan");

        let first = centre::import(&mut c, &hub_cli, &national(), &gz_pkg).expect("Guizhou taken");
        assert_eq!((first.again, first.claims), (false, 0), "{label}: nothing to compare yet");
        let again = centre::import(&mut c, &hub_cli, &national(), &gz_pkg).expect("the same again");
        assert!(again.again, "{label}: a repeat is taken once");

        // Refused whole: a day changed in transit, a package cut short, one under another
        // national key, one skipping a number.
        let packages =
            |c: &mut mealroll::db::DbConn| -> i64 { centre_packages::table.count().get_result(c).expect("count") };
        let before = packages(&mut c);
        let mut tampered: Value = serde_json::from_slice(&yn_pkg).expect("json");
        tampered["body"]["children"][0]["active"][0]["from"] = json!(month.first_day().to_string());
        let e = centre::import(&mut c, &hub_cli, &national(), tampered.to_string().as_bytes()).expect_err("tampered");
        assert_eq!(refused_code(e), "central.signature", "{label}");
        let e = centre::import(&mut c, &hub_cli, &national(), &yn_pkg[..yn_pkg.len() / 2]).expect_err("cut");
        assert_eq!(refused_code(e), "central.malformed", "{label}");
        let (_, foreign) = province::export(
            &mut yunnan.conn(),
            &cli(&yunnan),
            &yunnan.keys,
            &NationalKey::new([6u8; 32]),
            YUNNAN,
            &period,
        )
        .expect("package 2 under another key");
        let e = centre::import(&mut c, &hub_cli, &national(), &foreign).expect_err("another national key");
        assert_eq!(refused_code(e), "central.national_key", "{label}");
        // Yunnan's number 2 went astray: its package 1 is still the next the centre takes, and
        // number 3 before 2 is refused.
        let (_, third) =
            province::export(&mut yunnan.conn(), &cli(&yunnan), &yunnan.keys, &national(), YUNNAN, &period)
                .expect("package 3");
        let e = centre::import(&mut c, &hub_cli, &national(), &third).expect_err("3 before 1");
        assert_eq!(refused_code(e), "central.sequence", "{label}");
        assert_eq!(packages(&mut c), before, "{label}: nothing of a refused package applied");

        // Yunnan's first package: the planted child found, from the 20th to the month's end.
        let taken = centre::import(&mut c, &hub_cli, &national(), &yn_pkg).expect("Yunnan taken");
        assert_eq!(taken.claims, 1, "{label}: the child held by both provinces");
        let claims = centre::claims(&mut c, &hub_cli, None).expect("claims");
        assert_eq!(claims.len(), 1, "{label}");
        let claim = &claims[0];
        assert_eq!((claim.province_a.as_str(), claim.province_b.as_str()), (GUIZHOU, YUNNAN), "{label}");
        assert_eq!(claim.active.first, Some(twentieth), "{label}");
        assert_eq!(claim.active.last, Some(period.last_day()), "{label}");
        assert_eq!(claim.active.days, (period.last_day() - twentieth).num_days() + 1, "{label}");
        assert!(claim.key.len() == 16 && !id_no.contains(&claim.key), "{label}: the centre shows a hash");

        // The national roll-up is Guizhou's package's figures.
        let rollup = centre::rollup(&mut c, &hub_cli, &period).expect("rollup");
        let gz_sent: Value = serde_json::from_slice(&gz_pkg).expect("json");
        let sent_beneficiaries: i64 = gz_sent["body"]["counties"]
            .as_array()
            .expect("counties")
            .iter()
            .filter_map(|c| c["beneficiaries"].as_i64())
            .sum();
        let row = rollup.iter().find(|r| r.province == GUIZHOU).expect("Guizhou in the roll-up");
        assert_eq!(row.beneficiaries, sent_beneficiaries, "{label}");
        assert!(rollup.iter().any(|r| r.province == "000000"), "{label}: the nation's line");

        // Each province gets its own child back and names it; a repeat changes nothing.
        let (gz_ret, gz_back) = centre::make_return(&mut c, &hub_cli, &hub.keys, &national(), GUIZHOU).expect("back");
        let (_, yn_back) = centre::make_return(&mut c, &hub_cli, &hub.keys, &national(), YUNNAN).expect("back");
        assert_eq!(gz_ret.matches, 1, "{label}");
        drop(c);
        let centre_key = centre::centre_public_key(&hub.keys);
        for (w, back, code, local, other_name, county) in [
            (&guizhou, &gz_back, GUIZHOU, gz_child, "云南省", mealroll::demo::COUNTY),
            (&yunnan, &yn_back, YUNNAN, yn_child, "贵州省", YUNNAN_COUNTY),
        ] {
            let mut conn = w.conn();
            let e = province::receive(&mut conn, &cli(w), None, &national(), back).expect_err("no centre key set");
            assert_eq!(refused_code(e), "central.no_centre_key", "{label}");
            let wrong = centre::province_public_key(&w.keys, code);
            let e = province::receive(&mut conn, &cli(w), Some(&wrong), &national(), back).expect_err("not the centre");
            assert_eq!(refused_code(e), "central.signature", "{label}");
            let got = province::receive(&mut conn, &cli(w), Some(&centre_key), &national(), back).expect("received");
            assert_eq!((got.matches, got.again), (1, false), "{label} {code}");
            let again = province::receive(&mut conn, &cli(w), Some(&centre_key), &national(), back).expect("again");
            assert!(again.again, "{label} {code}");
            let scan = mealroll::inspection::scan::scan(
                &mut conn,
                &cli(w),
                county,
                &period,
                &[mealroll::domain::anomaly::Rule::A01],
            )
            .expect("scan");
            let flag = scan
                .flags
                .iter()
                .find(|f| f.student_id == Some(local) && f.key.starts_with("province:"))
                .unwrap_or_else(|| panic!("{label} {code}: A01 names the local child: {:?}", scan.flags));
            assert!(flag.message.contains(other_name), "{label}: {}", flag.message);
            assert!(flag.message.contains(&twentieth.to_string()), "{label}: {}", flag.message);
            // What the province paid for the days held in both: Guizhou paid the demo child's
            // month; Yunnan has computed nothing yet.
            assert_eq!(flag.amount.is_some(), code == GUIZHOU, "{label} {code}: {:?}", flag.amount);
        }

        // The web and the API: the centre's office reads the claims, a province's office makes
        // a package and sees its child on the page.
        hub.settings.national_key = Some(NATIONAL_HEX.into());
        add_user(&hub, "zhongxin", mealroll::org::seed::ROOT_CODE, "nutrition_office");
        let app = test::init_service(mealroll::app::app(hub.state())).await;
        let zx = bearer(&hub, "zhongxin");
        let (s, v) = call(&app, test::TestRequest::get().uri("/api/v1/central/claims"), &zx).await;
        assert_eq!(s, 200, "{label}: {v}");
        assert_eq!(v["claims"].as_array().map(Vec::len), Some(1), "{label}: {v}");
        let (s, v) = call(&app, test::TestRequest::get().uri("/api/v1/central/provinces"), &zx).await;
        assert_eq!((s, v["provinces"].as_array().map(Vec::len)), (200, Some(2)), "{label}: {v}");
        let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", hub.token("zhongxin")));
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/central").insert_header(cookie.clone()).to_request(),
        )
        .await;
        assert_eq!(r.status().as_u16(), 200, "{label}");
        let html = String::from_utf8_lossy(&test::read_body(r).await).into_owned();
        assert!(html.contains("id=\"claims\"") && html.contains(&claim.key), "{label}: the claim on the page");
        // The page's upload: a package taken before is taken again as a no-op; a file that is
        // no package is refused on the page in Chinese.
        let csrf = csrf_of(&html);
        for (file, status, says) in
            [(gz_pkg.clone(), 303, "central_again"), (b"\x00PK not a package".to_vec(), 422, "交换包格式有误")]
        {
            let (ct, body) = multipart(&[("csrf", None, csrf.as_bytes()), ("file", Some("p.json"), &file)]);
            let r = test::call_service(
                &app,
                test::TestRequest::post()
                    .uri("/central/import")
                    .insert_header(cookie.clone())
                    .insert_header((actix_web::http::header::CONTENT_TYPE, ct))
                    .set_payload(body)
                    .to_request(),
            )
            .await;
            assert_eq!(r.status().as_u16(), status, "{label}");
            let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
            let text = String::from_utf8_lossy(&test::read_body(r).await).into_owned();
            assert!(location.contains(says) || text.contains(says), "{label}: {location} {text}");
        }

        let mut gz = guizhou;
        gz.settings.national_key = Some(NATIONAL_HEX.into());
        add_user(&gz, "shengyyb", GUIZHOU, "nutrition_office");
        add_user(&gz, "xianyyb", mealroll::demo::COUNTY, "nutrition_office");
        let app = test::init_service(mealroll::app::app(gz.state())).await;
        let sheng = bearer(&gz, "shengyyb");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/central/exports").set_json(json!({"period": period.to_string()})),
            &sheng,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        assert_eq!(v["seq"], json!(2), "{label}: Guizhou's second package");
        assert_eq!(v["package"]["body"]["seq"], json!(2), "{label}");
        // A county's office does not speak for the province.
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/central/exports").set_json(json!({"period": period.to_string()})),
            &bearer(&gz, "xianyyb"),
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (422, Some("central.level")), "{label}: {v}");
        let cookie = (actix_web::http::header::COOKIE, format!("mealroll_session={}", gz.token("shengyyb")));
        let r =
            test::call_service(&app, test::TestRequest::get().uri("/central").insert_header(cookie).to_request()).await;
        assert_eq!(r.status().as_u16(), 200, "{label}");
        let html = String::from_utf8_lossy(&test::read_body(r).await).into_owned();
        assert!(html.contains("id=\"matches\"") && html.contains(&gz_name), "{label}: the local child named");
        assert!(!html.contains(&id_no), "{label}: the page shows no ID number");
    }
}

/// The command line: a national key of digits only is read as written, the package verifies
/// under the key `central key` prints, and a package of a province the centre does not know is
/// refused with its code and nothing taken.
#[actix_web::test]
async fn the_command_line_makes_a_package_that_verifies_and_refuses_an_unknown_province() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("package.json");
        let digits = "07".repeat(32);
        let run = |args: &[&str]| {
            mealroll_cmd()
                .env("MEALROLL_NATIONAL_KEY", &digits)
                .args(["--db", &w.db.url, "--json"])
                .args(args)
                .output()
                .expect("run")
        };
        let period = Month::of(mealroll::clock::today()).prev().to_string();
        let out = run(&[
            "central",
            "export",
            "--province",
            GUIZHOU,
            "--period",
            &period,
            "--out",
            file.to_str().expect("path"),
        ]);
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        let made: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(made["seq"], json!(1), "{label}: {made}");
        let out = run(&["central", "key", "--province", GUIZHOU]);
        let key: Value = serde_json::from_slice(&out.stdout).expect("json");
        let key = mealroll::domain::central::verifying_key(key["public_key"].as_str().expect("key")).expect("a key");
        let bytes = std::fs::read(&file).expect("the package");
        let package = mealroll::domain::central::parse::<mealroll::domain::central::Body>(&bytes).expect("parses");
        let national = NationalKey::from_hex(&digits).expect("the configured key");
        assert_eq!(
            mealroll::domain::central::check(&package, &key, &national, None),
            Ok(mealroll::domain::central::Accept::New),
            "{label}: signed by the province's key, under the national key as configured"
        );
        let out = run(&["central", "import", file.to_str().expect("path")]);
        assert!(!out.status.success(), "{label}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("central.province"), "{label}");
        assert_eq!(rows_in(&w, "centre_packages"), 0, "{label}: nothing taken");
    }
}
