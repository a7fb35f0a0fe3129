//! The registry template in and out: round trips (xlsx, xls via LibreOffice, CSV), seeded errors
//! reported exactly, idempotent re-imports, hostile files refused.

use crate::common;

use std::collections::BTreeMap;
use std::io::Cursor;

use actix_web::http::header;
use actix_web::test;
use calamine::{Data, Reader};
use common::*;
use mealroll::demo::StudentFactory;
use mealroll::domain::student::{FIELDS, StudentRecord};
use mealroll::exchange::template;
use serde_json::Value;

fn records(seed: u64, n: usize) -> Vec<StudentRecord> {
    let mut f = StudentFactory::new(seed);
    let today = f.today;
    (0..n)
        .map(|_| StudentRecord::parse(&f.raw("202601", 1, false), today).expect("factory makes valid records"))
        .collect()
}

async fn import<S, B>(app: &S, token: &str, bytes: Vec<u8>, query: &str) -> (u16, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let r = test::call_service(
        app,
        test::TestRequest::post()
            .uri(&format!("/api/v1/students/import?{query}"))
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
            .set_payload(bytes)
            .to_request(),
    )
    .await;
    let status = r.status().as_u16();
    (status, body_json(r).await)
}

fn stored(w: &World, school: &str) -> BTreeMap<String, StudentRecord> {
    use diesel::prelude::*;
    use mealroll::db::schema::{orgs, students};
    let mut conn = w.conn();
    let rows: Vec<(String, String)> = students::table
        .inner_join(orgs::table)
        .filter(orgs::code.eq(school))
        .select((students::name, students::record_sealed))
        .load(&mut conn)
        .expect("rows");
    rows.into_iter()
        .map(|(n, sealed)| {
            let json = mealroll::db::at_rest::open::<mealroll::db::at_rest::Record>(&sealed).expect("opens");
            (n, StudentRecord::from_stored(serde_json::from_str(&json).expect("json")))
        })
        .collect()
}

#[actix_web::test]
async fn template_round_trips_as_xlsx_and_csv_and_reimport_changes_nothing() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let token = w.token("a.xueji");
        let originals = records(7, 6);
        let rows: Vec<(String, StudentRecord)> = originals.iter().map(|r| (SCHOOL_A.to_owned(), r.clone())).collect();
        let file = template::write(&rows).expect("template");

        let (status, report) = import(&app, &token, file.clone(), "filename=a.xlsx").await;
        assert_eq!(status, 200, "{label}: {report}");
        assert_eq!((report["rows"].as_u64(), report["imported"].as_u64()), (Some(6), Some(6)), "{label}: {report}");
        let db_records = stored(&w, SCHOOL_A);
        for r in &originals {
            assert_eq!(db_records.get(r.name()), Some(r), "{label}: {} stored exactly", r.name());
        }
        // The same file again: nothing changes.
        let (_, again) = import(&app, &token, file, "filename=a.xlsx").await;
        assert_eq!((again["imported"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(6)), "{label}: {again}");

        // Export, and the export imports back unchanged.
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/students.xlsx"))
                .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let exported = test::read_body(r).await.to_vec();
        let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(Cursor::new(exported.clone())).expect("xlsx");
        let range = wb.worksheet_range("学生基本信息").expect("sheet");
        assert_eq!(range.height(), 7, "{label}: header + 6");
        // The file says who took it out and when, and how many children it holds.
        let record = wb.worksheet_range(template::EXPORT_SHEET).expect("export record");
        let cell = |r: usize| record.get((r, 1)).map(|c| c.to_string()).unwrap_or_default();
        assert!(cell(0).contains("a.xueji"), "{label}: exporter {}", cell(0));
        assert!(cell(2).starts_with(&mealroll::clock::today().to_string()), "{label}: Beijing date {}", cell(2));
        assert_eq!(cell(3), "6", "{label}");
        // Editing is not exporting: a principal and a nutrition officer may not take the file.
        add_user(&w, "a.yyzg", SCHOOL_A, "nutrition_officer");
        for user in ["a.xiaozhang", "a.yyzg"] {
            let r = test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/api/v1/schools/{SCHOOL_A}/students.xlsx"))
                    .insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token(user))))
                    .to_request(),
            )
            .await;
            assert_eq!(r.status(), 403, "{label}: {user}");
        }
        // At most the configured number per file.
        let dir = tempfile::tempdir().expect("dir");
        let out = mealroll_cmd()
            .args(["--db", &w.db.url, "export", "students", "--school", SCHOOL_A, "--out"])
            .arg(dir.path().join("x.xlsx"))
            .env("MEALROLL_REGISTRY__EXPORT_MAX_ROWS", "5")
            .output()
            .expect("run");
        assert!(!out.status.success(), "{label}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("student.export_too_many") && err.contains("按班级"), "{label}: {err}");
        let id_col = template::headers().iter().position(|h| *h == "身份证件号").expect("id col");
        let ids: Vec<String> = range.rows().skip(1).map(|r| r[id_col].to_string()).collect();
        for r in &originals {
            assert!(ids.iter().any(|i| Some(i.as_str()) == r.id_no().or(Some(""))), "{label}: ID kept as text");
        }
        let (_, back) = import(&app, &token, exported, "filename=export.xlsx").await;
        assert_eq!((back["imported"].as_u64(), back["unchanged"].as_u64()), (Some(0), Some(6)), "{label}: {back}");

        // CSV (UTF-8 with BOM) into school B.
        let b_rows: Vec<(String, StudentRecord)> =
            records(11, 4).into_iter().map(|r| (SCHOOL_B.to_owned(), r)).collect();
        let (status, report) = import(&app, &w.token("b.xueji"), csv_of(&b_rows), "filename=b.csv").await;
        assert_eq!(status, 200, "{label}: {report}");
        assert_eq!(report["imported"].as_u64(), Some(4), "{label}");
        let db_b = stored(&w, SCHOOL_B);
        for (_, r) in &b_rows {
            assert_eq!(db_b.get(r.name()), Some(r), "{label}");
        }
        let mut conn = w.conn();
        assert_eq!(audit_count(&mut conn, "student.import"), 4, "{label}: one audit row per committed import");
    }
}

#[actix_web::test]
async fn xls_made_by_libreoffice_imports_too() {
    let Some(soffice) =
        ["/usr/bin/soffice", "/usr/bin/libreoffice"].into_iter().find(|p| std::path::Path::new(p).exists())
    else {
        assert!(
            std::env::var("MEALROLL_REQUIRE_BROWSER").is_err(),
            "LibreOffice is not installed (CI installs libreoffice-calc-nogui)"
        );
        eprintln!("xls test skipped: LibreOffice not installed");
        return;
    };
    let w = World::new(TestDb::sqlite());
    let app = test::init_service(mealroll::app::app(w.state())).await;
    let originals = records(23, 3);
    let rows: Vec<(String, StudentRecord)> = originals.iter().map(|r| (SCHOOL_A.to_owned(), r.clone())).collect();
    let dir = tempfile::tempdir().expect("tmp");
    let xlsx = dir.path().join("students.xlsx");
    std::fs::write(&xlsx, template::write(&rows).expect("template")).expect("write");
    let out = std::process::Command::new(soffice)
        .args(["--headless", "--convert-to", "xls", "--outdir"])
        .arg(dir.path())
        .arg(&xlsx)
        .env("HOME", dir.path())
        .output()
        .expect("soffice");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let xls = std::fs::read(dir.path().join("students.xls")).expect("xls written");
    let (status, report) = import(&app, &w.token("a.xueji"), xls, "filename=students.xls").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"].as_u64(), Some(3));
    let db = stored(&w, SCHOOL_A);
    for r in &originals {
        assert_eq!(db.get(r.name()), Some(r));
    }
}

/// A workbook written cell by cell, so a test can put numbers where text belongs.
fn seeded_file(good: &[StudentRecord]) -> (Vec<u8>, BTreeMap<&'static str, String>) {
    use rust_xlsxwriter::Workbook;
    let headers = template::headers();
    let col = |h: &str| headers.iter().position(|x| *x == h).expect("header");
    let letter = |h: &str| mealroll::exchange::sheet::column_letter(col(h));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("学生基本信息").expect("name");
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("header");
    }
    let put = |ws: &mut rust_xlsxwriter::Worksheet, row: u32, school: &str, r: &StudentRecord| {
        ws.write_string(row, 0, school).expect("school");
        for (c, f) in FIELDS.iter().enumerate() {
            ws.write_string(row, (c + 1) as u16, template::cell_text(r, f.key)).expect("cell");
        }
    };
    // Excel row 2: valid.
    put(ws, 1, SCHOOL_A, &good[0]);
    // Row 3: the ID typed as a number.
    put(ws, 2, SCHOOL_A, &good[1]);
    ws.write_number(2, col("身份证件号") as u16, good[1].id_no().expect("id").parse::<f64>().expect("digits"))
        .expect("num");
    // Row 4: an ethnicity outside the code table.
    put(ws, 3, SCHOOL_A, &good[2]);
    ws.write_string(3, col("民族") as u16, "傈傈族").expect("cell");
    // Row 5: the same ID as row 2.
    put(ws, 4, SCHOOL_A, &good[3]);
    ws.write_string(4, col("身份证件号") as u16, good[0].id_no().expect("id")).expect("cell");
    ws.write_string(4, col("出生日期") as u16, good[0].get("birth_date")).expect("cell");
    ws.write_string(4, col("性别") as u16, good[0].display("sex")).expect("cell");
    // Row 6: another school's row in school A's file.
    put(ws, 5, SCHOOL_B, &good[4]);
    // Row 7: birth date as an Excel serial number; valid.
    put(ws, 6, SCHOOL_A, &good[5]);
    let serial = (good[5].birth_date() - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("epoch")).num_days();
    ws.write_number(6, col("出生日期") as u16, serial as f64).expect("serial");
    // Row 8: full-width digits and stray spaces in the ID; valid.
    put(ws, 7, SCHOOL_A, &good[6]);
    let fw: String = good[6]
        .id_no()
        .expect("id")
        .chars()
        .map(|c| char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap_or(c))
        .collect();
    ws.write_string(7, col("身份证件号") as u16, format!("  {fw} ")).expect("cell");
    let expect = BTreeMap::from([
        ("3", format!("{} 身份证件号|import.id_as_number", letter("身份证件号"))),
        ("4", format!("{} 民族|student.invalid", letter("民族"))),
        ("5", format!("{} 身份证件号|import.duplicate_in_file", letter("身份证件号"))),
        ("6", "A 学校标识码|import.other_school".to_owned()),
    ]);
    (wb.save_to_buffer().expect("xlsx"), expect)
}

#[actix_web::test]
async fn seeded_errors_come_back_exactly_and_nothing_is_half_imported() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let token = w.token("a.xueji");
        let good = records(31, 7);
        let (file, expected) = seeded_file(&good);

        let (status, report) = import(&app, &token, file.clone(), "filename=seeded.xlsx").await;
        assert_eq!(status, 422, "{label}");
        let got: BTreeMap<String, String> = report["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| {
                (
                    e["row"].to_string(),
                    format!("{}|{}", e["column"].as_str().unwrap_or(""), e["code"].as_str().unwrap_or("")),
                )
            })
            .collect();
        let want: BTreeMap<String, String> = expected.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        assert_eq!(got, want, "{label}: {report}");
        assert_eq!(report["errors"].as_array().map(Vec::len), Some(4), "{label}: one error per seeded fault");
        assert!(report["errors"].as_array().expect("e").iter().all(|e| e["sheet"] == "学生基本信息"), "{label}");
        assert_eq!(report["committed"], false, "{label}");
        assert!(stored(&w, SCHOOL_A).is_empty(), "{label}: nothing written");

        // Partial: the three good rows go in; again, nothing changes.
        let (_, partial) = import(&app, &token, file.clone(), "filename=seeded.xlsx&partial=true").await;
        assert_eq!(
            (partial["imported"].as_u64(), partial["rejected"].as_u64()),
            (Some(3), Some(4)),
            "{label}: {partial}"
        );
        let db_a = stored(&w, SCHOOL_A);
        for i in [0, 5, 6] {
            assert_eq!(db_a.get(good[i].name()), Some(&good[i]), "{label}: row {i}");
        }
        let (_, again) = import(&app, &token, file.clone(), "filename=seeded.xlsx&partial=true").await;
        assert_eq!((again["imported"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(3)), "{label}: {again}");

        // The error workbook: the user's layout, the four rows, the cells marked, a reason column.
        let errors: Vec<mealroll::exchange::import::RowError> =
            serde_json::from_value(report["errors"].clone()).expect("errors");
        let wb_bytes = mealroll::exchange::import::error_workbook(&file, "seeded.xlsx", &errors).expect("workbook");
        let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(Cursor::new(wb_bytes)).expect("xlsx");
        let range = wb.worksheet_range("错误行").expect("sheet");
        assert_eq!(range.height(), 5, "{label}: header + 4 rejected rows");
        let last = range.width() - 1;
        assert_eq!(range.get((0, last)), Some(&Data::String("错误说明".into())));
        let reason = range.get((1, last)).map(|d| d.to_string()).unwrap_or_default();
        assert!(reason.contains("第3行") && reason.contains("文本格式"), "{label}: {reason}");
    }
}

#[actix_web::test]
async fn hostile_truncated_and_headerless_files_are_refused_with_a_reason() {
    let w = World::new(TestDb::sqlite());
    let app = test::init_service(mealroll::app::app(w.state())).await;
    let token = w.token("a.xueji");
    let file = template::write(&[]).expect("template");
    let (status, body) = import(&app, &token, file[..file.len() / 2].to_vec(), "filename=x.xlsx").await;
    assert_eq!((status, body["error"].as_str()), (422, Some("file.corrupt")));
    // A renamed header.
    let mut csv = "学校标识码,名字,性别\n".as_bytes().to_vec();
    csv.extend(format!("{SCHOOL_A},王䶮,女\n").as_bytes());
    let (status, body) = import(&app, &token, csv, "filename=x.csv").await;
    assert_eq!(status, 422);
    let missing: Vec<&str> =
        body["errors"].as_array().expect("errors").iter().filter_map(|e| e["message"].as_str()).collect();
    assert!(missing.iter().any(|m| m.contains("缺少必填列“姓名”")), "{missing:?}");
    // A zip bomb.
    let bomb = {
        use std::io::Write;
        let mut buf = Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file("xl/worksheets/sheet1.xml", zip::write::SimpleFileOptions::default()).expect("start");
        z.write_all(&vec![b' '; 40 * 1024 * 1024]).expect("write");
        z.finish().expect("finish");
        buf.into_inner()
    };
    let (status, body) = import(&app, &token, bomb, "filename=bomb.xlsx").await;
    assert_eq!((status, body["error"].as_str()), (422, Some("file.hostile")));
}

#[actix_web::test]
async fn cli_import_reports_json_and_exits_non_zero_on_rejections() {
    let w = World::new(TestDb::sqlite());
    let good = records(41, 7);
    let (file, _) = seeded_file(&good);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("seeded.xlsx");
    std::fs::write(&path, file).expect("write");
    let out = common::mealroll_cmd()
        .args(["--db", &w.db.url, "--json", "import", "students"])
        .arg(&path)
        .args(["--school", SCHOOL_A])
        .env("MEALROLL_DATA_DIR", dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(report["rows"], 7);
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("import.rejected"));
    // `check ids` reads stdin.
    let mut child = common::mealroll_cmd()
        .args(["check", "ids"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{}\n36042619910102009X", good[0].id_no().expect("id")).expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{}\tok", good[0].id_no().expect("id"))), "{text}");
    assert!(text.contains("36042619910102009X\tid.checksum\t"), "{text}");
    assert!(!out.status.success());
}

#[actix_web::test]
async fn the_api_takes_what_the_page_takes_and_refuses_more_in_json() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let token = w.token("a.xueji");
        // Far past actix's default 256 KiB body.
        let rows: Vec<(String, StudentRecord)> =
            records(61, 3_000).into_iter().map(|r| (SCHOOL_A.to_owned(), r)).collect();
        let file = template::write(&rows).expect("template");
        assert!(file.len() > 512 * 1024, "{} bytes", file.len());
        let (status, report) = import(&app, &token, file, "filename=big.xlsx").await;
        assert_eq!(status, 200, "{label}: {report}");
        assert_eq!(report["imported"].as_u64(), Some(3_000), "{label}");
        // Past the page's limit: refused in JSON and Chinese, naming the limit.
        let huge = vec![b'a'; mealroll::exchange::guard::MAX_UPLOAD + 1];
        let (status, body) = import(&app, &token, huge, "filename=huge.csv").await;
        assert_eq!((status, body["error"].as_str()), (422, Some("file.too_large")), "{label}: {body}");
        assert!(body["message"].as_str().unwrap_or_default().contains("64MB"), "{body}");
    }
}

/// A job id nobody started says there is no such job, not that it lies outside the caller's
/// jurisdiction (another user's job reads the same).
#[actix_web::test]
async fn an_unknown_job_says_there_is_none() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/jobs/0123456789abcdef01234567")
                .insert_header((actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("a.xueji"))))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 404, "{label}");
        let html = body_text(r).await;
        assert!(html.contains("没有这个任务") && !html.contains("管辖范围"), "{label}: {html}");
    }
}

/// Two children without an ID number, at one school, with the same name and birth date cannot
/// be told apart: the second row is refused naming the first, never taken for it and dropped.
#[actix_web::test]
async fn a_second_child_without_id_of_the_same_name_and_birth_is_refused_not_dropped() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let today = mealroll::clock::today();
        let good = records(41, 3);
        let without_id = |r: &StudentRecord, like: &StudentRecord| {
            let mut raw = r.values().clone();
            raw.insert("id_type".into(), "Z".into());
            raw.insert("id_no".into(), String::new());
            raw.insert("name".into(), like.name().to_owned());
            raw.insert("birth_date".into(), like.get("birth_date").to_owned());
            StudentRecord::parse(&raw, today).expect("valid without an ID")
        };
        let first = without_id(&good[0], &good[0]);
        let twin = without_id(&good[1], &good[0]);
        let rows: Vec<(String, StudentRecord)> =
            [first.clone(), twin, good[2].clone()].into_iter().map(|r| (SCHOOL_A.to_owned(), r)).collect();
        let (status, report) = import(&app, &w.token("a.xueji"), csv_of(&rows), "filename=twins.csv").await;
        assert_eq!(status, 422, "{label}: {report}");
        let errors = report["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{label}: {report}");
        assert_eq!(
            (errors[0]["row"].as_u64(), errors[0]["code"].as_str()),
            (Some(3), Some("import.duplicate_in_file"))
        );
        assert!(errors[0]["message"].as_str().is_some_and(|m| m.contains("第2行")), "{label}: {report}");
        let (_, partial) = import(&app, &w.token("a.xueji"), csv_of(&rows), "filename=twins.csv&partial=true").await;
        assert_eq!(
            (partial["imported"].as_u64(), partial["rejected"].as_u64()),
            (Some(2), Some(1)),
            "{label}: {partial}"
        );
        assert_eq!(stored(&w, SCHOOL_A).len(), 2, "{label}");
    }
}

/// Imported students are written by the bulk path (COPY on PostgreSQL) with ids taken before
/// the write: each gets its own number, first spell and number history, the ids carry on from
/// the form's, and on SQLite an id once deleted is never handed out again (AUTOINCREMENT's rule).
#[actix_web::test]
async fn imported_students_get_fresh_ids_their_first_spell_and_number_history() {
    use diesel::prelude::*;
    use mealroll::db::schema::{orgs, student_history, student_spells, students};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let token = w.token("a.xueji");
        let file = |seed: u64, n: usize| {
            let rows: Vec<(String, StudentRecord)> =
                records(seed, n).into_iter().map(|r| (SCHOOL_A.to_owned(), r)).collect();
            template::write(&rows).expect("template")
        };
        let ids_of = |w: &World| -> Vec<i64> {
            students::table
                .inner_join(orgs::table)
                .filter(orgs::code.eq(SCHOOL_A))
                .select(students::id)
                .order(students::id.asc())
                .load(&mut w.conn())
                .expect("ids")
        };
        let (status, report) = import(&app, &token, file(31, 4), "filename=a.xlsx").await;
        assert_eq!((status, report["imported"].as_u64()), (200, Some(4)), "{label}: {report}");
        let first = ids_of(&w);
        assert_eq!(first.len(), 4, "{label}");

        // One through the form, then the newest deleted (as resolving a duplicate does).
        let rec = student("表单生", "52232620150301001", "2015-03-01", "1");
        let by_form = mealroll::registry::service::create(&mut w.conn(), &w.caller("a.xueji"), SCHOOL_A, &raw_of(&rec))
            .expect("create");
        assert!(by_form.id > *first.last().expect("ids"), "{label}: the form's id follows the import's");
        {
            let mut c = w.conn();
            diesel::delete(student_history::table.filter(student_history::student_id.eq(by_form.id)))
                .execute(&mut c)
                .expect("history");
            diesel::delete(student_spells::table.filter(student_spells::student_id.eq(by_form.id)))
                .execute(&mut c)
                .expect("spells");
            diesel::delete(students::table.find(by_form.id)).execute(&mut c).expect("student");
        }
        let (status, report) = import(&app, &token, file(32, 3), "filename=b.xlsx").await;
        assert_eq!((status, report["imported"].as_u64()), (200, Some(3)), "{label}: {report}");
        let all = ids_of(&w);
        let new: Vec<i64> = all.iter().copied().filter(|id| !first.contains(id)).collect();
        assert_eq!(new.len(), 3, "{label}: {all:?}");
        assert!(
            new.iter().all(|id| *id > by_form.id),
            "{label}: the deleted id {} is not handed out again: {new:?}",
            by_form.id
        );

        let mut c = w.conn();
        let school_id: i64 =
            orgs::table.filter(orgs::code.eq(SCHOOL_A)).select(orgs::id).first(&mut c).expect("school");
        let mut numbers = std::collections::BTreeSet::new();
        for id in &all {
            let spells: Vec<(i64, Option<chrono::NaiveDate>)> = student_spells::table
                .filter(student_spells::student_id.eq(id))
                .select((student_spells::school_id, student_spells::to_date))
                .load(&mut c)
                .expect("spells");
            assert_eq!(spells, vec![(school_id, None)], "{label}: student {id} has one open spell at the school");
            let history: i64 = student_history::table
                .filter(student_history::student_id.eq(id))
                .filter(student_history::field.eq("student_no"))
                .count()
                .get_result(&mut c)
                .expect("history");
            assert_eq!(history, 1, "{label}: student {id} has its number's history row");
            numbers.insert(student_no_of(&mut c, *id));
        }
        assert_eq!(numbers.len(), all.len(), "{label}: every student has a number of its own: {numbers:?}");
    }
}

/// The import bench, small: it commits every row, and beside its time gives the floor measured
/// on the same file in the same run (parse alone, bare load), leaving no scratch table behind.
#[actix_web::test]
async fn the_import_bench_reports_its_floor_beside_its_time() {
    use diesel::prelude::*;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let r = mealroll::bench::import(&mut w.conn(), 60).expect("bench");
        assert_eq!(r.n, 60, "{label}");
        let d = &r.detail;
        let (parse, load, floor) = (
            d["floor_parse_seconds"].as_f64().unwrap_or(0.0),
            d["floor_load_seconds"].as_f64().unwrap_or(0.0),
            d["floor_seconds"].as_f64().unwrap_or(0.0),
        );
        assert!(parse > 0.0 && load > 0.0, "{label}: both parts measured: {d}");
        assert!((floor - (parse + load)).abs() < 0.002, "{label}: the floor is their sum: {d}");
        let ratio = d["times_floor"].as_f64().unwrap_or(0.0);
        // Both figures are rounded (to 0.01 and 0.001): compared within 5 %.
        let expected = r.seconds / floor;
        assert!(
            (ratio - expected).abs() <= 0.05 * expected,
            "{label}: times_floor is seconds ÷ floor: {} s, {d}",
            r.seconds
        );
        let left = diesel::sql_query("SELECT id FROM bench_rows").execute(&mut w.conn());
        assert!(left.is_err(), "{label}: the scratch table is dropped");
    }
}
