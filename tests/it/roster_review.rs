//! A roster review that is a review, on both databases: a county may require 审核 and 备案 by two
//! different people (the same person is refused, with the reason on the page and in the API); a
//! roster prints by class — each class from a new page with its 序号 from 1 and its total — and
//! a 36-character name wraps at a readable size instead of shrinking.

use crate::common;
use actix_web::test;
use common::*;
use serde_json::{Value, json};

const LONG_NAME: &str = "阿卜杜热合曼·买买提明·艾合买提江·阿不都热西提·依明江·吐尔逊托合提江";

async fn step<S: TestApp<B>, B: actix_web::body::MessageBody>(
    app: &S,
    who: &Header,
    id: i64,
    step: &str,
) -> (u16, Value) {
    let req = test::TestRequest::post().uri(&format!("/api/v1/rosters/{id}/step")).set_json(json!({"step": step}));
    call(app, req, who).await
}

#[actix_web::test]
async fn a_roster_prints_by_class_a_long_name_stays_readable_and_two_people_review_and_archive() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "yyb3", COUNTY, "nutrition_office");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (term, day) = past_term();
        let yyb = bearer(&w, "yyb");
        school_a_in_programme(&app, &yyb, &term).await;
        second_class(&w);
        class_at_school_a(&w, "202501", "二年级（1）班", 2);
        for (name, id17, class) in [
            ("王一", "52232620190101001", "202601"),
            (LONG_NAME, "52232620190101011", "202601"),
            ("李二", "52232620190101013", "202602"),
            ("张三", "52232620190101015", "202602"),
            ("赵四", "52232620190101017", "202501"),
        ] {
            enrolled_in(&app, &w, SCHOOL_A, class, name, id17).await;
        }
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/rosters")
                .set_json(json!({"school": SCHOOL_A, "term": term, "snapshot_date": day.to_string()})),
            &yyb,
        )
        .await;
        assert_eq!(s, 201, "{label}: {v}");
        let id = v["roster"]["id"].as_i64().or_else(|| v["id"].as_i64()).expect("id");

        // Printed by class (the default): three classes, three pages, each with its own total.
        let pdf_of = |q: &str| test::TestRequest::get().uri(&format!("/api/v1/rosters/{id}/roster.pdf{q}"));
        let r = test::call_service(&app, pdf_of("").insert_header(yyb.clone()).to_request()).await;
        assert_eq!(r.status(), 200, "{label}");
        let pdf = test::read_body(r).await.to_vec();
        // Kept for a person to look at (pdftoppm): the class pages and the long name.
        std::fs::write(
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("roster-by-class-{label}.pdf")),
            &pdf,
        )
        .expect("write");
        let info = pdftool("pdfinfo", &pdf, &[]);
        assert!(info.contains("Pages:           3"), "{label}: a page per class: {info}");
        let text = pdftool("pdftotext", &pdf, &["-layout"]);
        let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
        assert_eq!(pages.len(), 3, "{label}");
        for (page, (class, n, names)) in pages.iter().zip([
            ("一年级(1)班", 2, vec!["王一"]),
            ("一年级（2）班", 2, vec!["李二", "张三"]),
            ("二年级（1）班", 1, vec!["赵四"]),
        ]) {
            assert!(page.contains(&format!("班级：{class}")), "{label}: the class in the heading\n{page}");
            assert!(page.contains(&format!("{class}合计：{n} 人")), "{label}: the class's total\n{page}");
            for name in names {
                assert!(page.contains(name), "{label}: {name} on its class's page");
            }
        }
        assert!(pages[2].contains("全校合计：5 人") && pages[2].contains("学校（盖章）"), "{label}");
        assert!(!pages[1].contains("王一"), "{label}: no class runs into another's page");
        // The 36-character name: whole, in order, wrapped at no less than 80 % of the table's size.
        let raw: String = pdftool("pdftotext", &pdf, &["-raw"]).chars().filter(|c| !c.is_whitespace()).collect();
        assert!(raw.contains(LONG_NAME), "{label}: the long name whole");
        let boxes = pdftool("pdftotext", &pdf, &["-bbox"]);
        let heights: Vec<f32> = boxes
            .lines()
            .filter(|l| l.contains("<word"))
            .filter(|l| {
                let word = l.split('>').nth(1).and_then(|w| w.split('<').next()).unwrap_or_default();
                word.chars().count() >= 3 && LONG_NAME.contains(word)
            })
            .filter_map(|l| {
                let attr = |k: &str| -> Option<f32> {
                    let at = l.find(&format!("{k}=\""))? + k.len() + 2;
                    l[at..].split('"').next()?.parse().ok()
                };
                Some(attr("yMax")? - attr("yMin")?)
            })
            .collect();
        assert!(!heights.is_empty(), "{label}: the long name's words found\n{boxes}");
        assert!(heights.iter().all(|h| *h >= 6.5), "{label}: readable, not shrunk: {heights:?}");
        // Run on: one page of lines.
        let r = test::call_service(&app, pdf_of("?by_class=0").insert_header(yyb.clone()).to_request()).await;
        let text = pdftool("pdftotext", &test::read_body(r).await, &["-layout"]);
        assert!(!text.contains("班级：") && text.contains("全校合计：5 人"), "{label}: {text}");

        // The county asks for two people; the school signs, yyb reviews and may not archive.
        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/rosters/review-rule").set_json(json!({"two_person": true})),
            &bearer(&w, "a.xiaozhang"),
        )
        .await;
        assert_eq!(s, 403, "{label}: a school does not set the county's rule: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/rosters/review-rule").set_json(json!({"two_person": true})),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) = step(&app, &bearer(&w, "a.xiaozhang"), id, "sign").await;
        assert_eq!(s, 200, "{label}: {v}");
        let page = jpeg(40, 60);
        let scans: Vec<Vec<u8>> = (0..3).map(|_| page.clone()).collect();
        let parts: Vec<(&str, Option<&str>, &[u8])> = scans
            .iter()
            .enumerate()
            .map(|(i, b)| ("scan", Some(["p1.jpg", "p2.jpg", "p3.jpg"][i]), b.as_slice()))
            .collect();
        let (s, v) =
            post_multipart(&app, &bearer(&w, "a.xiaozhang"), &format!("/api/v1/rosters/{id}/scan"), &parts).await;
        assert_eq!(s, 201, "{label}: {v}");
        let (s, v) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/rosters/{id}/scan")), &yyb).await;
        assert_eq!(
            (s, v["scan"]["printed_pages"].as_i64()),
            (200, Some(3)),
            "{label}: counted against the pages by class: {v}"
        );
        let (s, v) = step(&app, &yyb, id, "review").await;
        assert_eq!(s, 200, "{label}: {v}");
        let (s, v) = step(&app, &yyb, id, "archive").await;
        assert_eq!((s, v["error"].as_str()), (403, Some("roster.same_person")), "{label}: {v}");
        assert!(v["message"].as_str().unwrap_or_default().contains("须由另一名工作人员备案"), "{label}: {v}");
        // The page says why there is no 备案 button for the reviewer.
        let session = format!("mealroll_session={}", w.token("yyb"));
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/rosters/{id}"))
                .insert_header((actix_web::http::header::COOKIE, session))
                .to_request(),
        )
        .await;
        let html = body_text(r).await;
        assert!(!html.contains("value=\"archive\"") && html.contains("须由另一名工作人员备案"), "{label}: {html}");
        let (s, v) = step(&app, &bearer(&w, "yyb3"), id, "archive").await;
        assert_eq!(s, 200, "{label}: another person archives: {v}");
        assert_eq!(audit_count(&mut w.conn(), "roster.review_rule"), 1, "{label}");
    }
}
