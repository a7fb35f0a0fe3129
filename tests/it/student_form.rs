//! The per-class student information form: one page per student, every field, rare characters
//! printed (checked with pdftotext), a line for the guardian's signature; scope and rights.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use common::*;
use diesel::prelude::*;

#[actix_web::test]
async fn class_forms_print_one_page_per_student_with_every_name_intact() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let school = (header::AUTHORIZATION, format!("Bearer {}", w.token("a.xueji")));
        for (name, body) in [("王䶮", "52232620200309002"), ("刘𠮷芳", "52232620190511004")] {
            let birth = format!("{}-{}-{}", &body[6..10], &body[10..12], &body[12..14]);
            let r = test::call_service(
                &app,
                test::TestRequest::post()
                    .uri(&format!("/api/v1/schools/{SCHOOL_A}/students"))
                    .insert_header(school.clone())
                    .set_json(student(name, body, &birth, "女"))
                    .to_request(),
            )
            .await;
            assert_eq!(r.status(), 201, "{label}");
        }
        let class_id: i64 = {
            use mealroll::db::schema::{classes, orgs};
            classes::table
                .inner_join(orgs::table)
                .filter(orgs::code.eq(SCHOOL_A))
                .select(classes::id)
                .first(&mut w.conn())
                .expect("class")
        };
        let get = |who: &str| {
            test::TestRequest::get()
                .uri(&format!("/api/v1/classes/{class_id}/student-forms.pdf"))
                .insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token(who))))
                .to_request()
        };
        let r = test::call_service(&app, get("a.xueji")).await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(r.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some("application/pdf"));
        let pdf = test::read_body(r).await.to_vec();
        let info = pdftool("pdfinfo", &pdf, &[]);
        assert!(info.lines().any(|l| l.starts_with("Pages:") && l.ends_with(" 2")), "{label}: {info}");
        let fonts = pdftool("pdffonts", &pdf, &[]);
        assert!(fonts.contains("NotoSansCJKsc-Regular"), "{label}: {fonts}");
        let text = pdftool("pdftotext", &pdf, &["-layout"]);
        for expected in
            ["王䶮", "刘𠮷芳", &with_check("52232620200309002"), "布依族", "监护人签字", "家庭成员信息", "王国华"]
        {
            assert!(text.contains(expected), "{label}: {expected} missing from\n{text}");
        }
        assert!(pdf.len() / 2 < 60 * 1024, "{label}: {} bytes for 2 pages", pdf.len());
        if let Ok(dir) = std::env::var("MEALROLL_SCREENSHOT_DIR") {
            std::fs::write(format!("{dir}/student_forms_{label}.pdf"), &pdf).expect("keep pdf");
        }
        assert_eq!(audit_count(&mut w.conn(), "student.print_forms"), 1, "{label}");

        // Another county sees no such class; an inspector may not print full ID numbers.
        assert_eq!(test::call_service(&app, get("yyb2")).await.status(), 404, "{label}");
        assert_eq!(test::call_service(&app, get("ducha")).await.status(), 403, "{label}");
    }
}
