//! Student photos: real JPEGs (rendered by pdftoppm) checked against SPEC §4, one at a time and
//! as a ZIP named by ID number or 学校标识码_班号_姓名, with a reason for every refused file.

use crate::common;

use std::io::Write;

use actix_web::http::header;
use actix_web::test;
use common::*;
use serde_json::Value;

/// A one-page PDF of `w`×`h` points with a filled box, as pdftoppm's input.
fn pdf(w: f64, h: f64) -> Vec<u8> {
    let stream = b"0.2 0.4 0.8 rg 10 10 50 70 re f";
    let objs = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Contents 4 0 R >>"),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    offsets.push(out.len());
    out.extend(format!("4 0 obj\n<< /Length {} >>\nstream\n", stream.len()).as_bytes());
    out.extend(stream);
    out.extend(b"\nendstream\nendobj\n");
    let xref = out.len();
    out.extend(b"xref\n0 5\n0000000000 65535 f \n");
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(format!("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes());
    out
}

/// A real JPEG of a `w_mm`×`h_mm` page at `dpi` (pdftoppm writes the density into JFIF).
fn jpeg(w_mm: f64, h_mm: f64, dpi: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("p.pdf");
    std::fs::write(&input, pdf(w_mm / 25.4 * 72.0, h_mm / 25.4 * 72.0)).expect("write");
    let status = std::process::Command::new("pdftoppm")
        .args(["-jpeg", "-r", &dpi.to_string(), "-singlefile"])
        .arg(&input)
        .arg(dir.path().join("out"))
        .status()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(status.success());
    std::fs::read(dir.path().join("out.jpg")).expect("jpg")
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    for (name, bytes) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default()).expect("start");
        z.write_all(bytes).expect("write");
    }
    z.finish().expect("finish");
    buf.into_inner()
}

#[actix_web::test]
async fn photos_are_checked_matched_and_stored_one_by_one_and_by_zip() {
    let good = jpeg(26.0, 32.0, 150);
    let square = jpeg(30.0, 30.0, 150);
    let coarse = jpeg(26.0, 32.0, 96);
    assert!(good.len() < 60 * 1024);
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let school = (header::AUTHORIZATION, format!("Bearer {}", w.token("a.xueji")));
        let call = |req: test::TestRequest| test::call_service(&app, req.to_request());

        let mut students = Vec::new();
        for (name, body) in
            [("王小花", "52232620200309002"), ("李小草", "52232620190511004"), ("张三妹", "52232620190707006")]
        {
            let birth = format!("{}-{}-{}", &body[6..10], &body[10..12], &body[12..14]);
            let r = call(
                test::TestRequest::post()
                    .uri(&format!("/api/v1/schools/{SCHOOL_A}/students"))
                    .insert_header(school.clone())
                    .set_json(student(name, body, &birth, "女")),
            )
            .await;
            assert_eq!(r.status(), 201, "{label}");
            students.push((body_json(r).await["id"].as_i64().expect("id"), with_check(body), name));
        }

        // One at a time.
        let put = |id: i64, bytes: Vec<u8>| {
            test::TestRequest::put().uri(&format!("/api/v1/students/{id}/photo")).set_payload(bytes)
        };
        let r = call(put(students[0].0, square.clone()).insert_header(school.clone())).await;
        assert_eq!(r.status(), 422, "{label}");
        assert_eq!(body_json(r).await["error"], "photo.proportion", "{label}");
        // A photo of 366 KB is reported at its own size.
        let mut heavy = good.clone();
        heavy.truncate(heavy.len() - 2);
        heavy.extend(std::iter::repeat_n(0u8, 366 * 1024 - heavy.len() - 2));
        heavy.extend([0xFF, 0xD9]);
        let r = call(put(students[0].0, heavy.clone()).insert_header(school.clone())).await;
        assert_eq!(r.status(), 422, "{label}");
        let e = body_json(r).await;
        assert!(e["message"].as_str().unwrap_or_default().contains("366.0KB"), "{label}: {e}");
        // A phone photo carries where it was taken (EXIF GPS): stored re-encoded, without it.
        let exif = {
            let mut seg = b"Exif\0\0MM\0*GPSLatitude 25.18 N GPSLongitude 106.09 E".to_vec();
            let len = u16::try_from(seg.len() + 2).expect("len").to_be_bytes();
            let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1, len[0], len[1]];
            out.append(&mut seg);
            out.extend_from_slice(&good[2..]);
            out
        };
        let r = call(put(students[0].0, exif.clone()).insert_header(school.clone())).await;
        assert_eq!(r.status(), 200, "{label}");
        let info = body_json(r).await;
        assert_eq!(info["dpi"], 150.0, "{label}");
        let r = call(
            test::TestRequest::get()
                .uri(&format!("/api/v1/students/{}/photo", students[0].0))
                .insert_header(school.clone()),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let stored = test::read_body(r).await.to_vec();
        assert!(!stored.windows(3).any(|w| w == b"GPS"), "{label}: the position is gone");
        assert!(!stored.windows(4).any(|w| w == b"Exif"), "{label}: no EXIF at all");
        let checked = mealroll::domain::photo::inspect(&stored).expect("the stored photo passes the rules");
        let sent = mealroll::domain::photo::inspect(&good).expect("sent");
        assert_eq!((checked.width, checked.height, checked.dpi), (sent.width, sent.height, sent.dpi), "{label}");
        let r = call(
            test::TestRequest::get()
                .uri(&format!("/api/v1/students/{}/photo", students[0].0))
                .insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token("yyb2")))),
        )
        .await;
        assert_eq!(r.status(), 404, "{label}: another county sees nothing");

        // A ZIP: two good files by both naming rules, and one refusal of each kind.
        let by_id = format!("{}.jpg", students[1].1);
        let by_class = format!("照片/{SCHOOL_A}_202601_{}.jpg", students[2].2);
        let archive = zip(&[
            (&by_id, &good),
            (&by_class, &good),
            (&format!("{}.jpg", students[0].1), &square),
            (&format!("{SCHOOL_A}_202601_王小花.jpg"), &coarse),
            ("王小花.jpg", &good),
            ("52232620100101001X.jpg", &good),
            (&format!("{SCHOOL_A}_202601_李小草.png"), &good),
            ("__MACOSX/._x.jpg", b"junk"),
            (&format!("{SCHOOL_A}_202601_重照片.jpg"), &heavy),
        ]);
        let r =
            call(test::TestRequest::post().uri("/api/v1/photos").insert_header(school.clone()).set_payload(archive))
                .await;
        assert_eq!(r.status(), 200, "{label}");
        let report = body_json(r).await;
        assert_eq!(report["files"], 8, "{label}: {report}");
        assert_eq!(report["accepted"], 2, "{label}: {report}");
        let code_of = |file: &str| -> String {
            report["results"]
                .as_array()
                .expect("results")
                .iter()
                .find(|r| r["file"] == file)
                .map(|r: &Value| r["code"].as_str().unwrap_or("").to_owned())
                .unwrap_or_else(|| panic!("{file} listed"))
        };
        assert_eq!(code_of(&by_id), "", "{label}");
        assert_eq!(code_of(&by_class), "", "{label}");
        assert_eq!(code_of(&format!("{}.jpg", students[0].1)), "photo.proportion", "{label}");
        assert_eq!(code_of(&format!("{SCHOOL_A}_202601_王小花.jpg")), "photo.low_dpi", "{label}");
        assert_eq!(code_of("王小花.jpg"), "photo.bad_name", "{label}");
        assert_eq!(code_of("52232620100101001X.jpg"), "photo.no_student", "{label}");
        assert_eq!(code_of(&format!("{SCHOOL_A}_202601_李小草.png")), "photo.not_jpeg", "{label}");
        let heavy_reason = report["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|r| r["file"] == format!("{SCHOOL_A}_202601_重照片.jpg"))
            .map(|r| r["reason"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        assert!(heavy_reason.contains("366.0KB"), "{label}: {heavy_reason}");
        for (id, _, name) in &students[1..] {
            let r = call(
                test::TestRequest::get().uri(&format!("/api/v1/students/{id}/photo")).insert_header(school.clone()),
            )
            .await;
            assert_eq!(r.status(), 200, "{label}: {name} stored");
        }
        assert_eq!(audit_count(&mut w.conn(), "photo.upload"), 2, "{label}: one single, one zip");

        // A school's registrar cannot place photos on another school's students.
        let r = call(
            put(students[0].0, good.clone())
                .insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token("b.xueji")))),
        )
        .await;
        assert_eq!(r.status(), 404, "{label}");
    }
}
