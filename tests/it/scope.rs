//! A school user sees and changes only their own school, through the pages and the API;
//! a county user sees their county and nothing beyond it.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{classes, orgs, teachers, users};

fn ids_of(w: &World, school: &str) -> (i64, i64) {
    let mut conn = w.conn();
    let class_id: i64 = classes::table
        .inner_join(orgs::table)
        .filter(orgs::code.eq(school))
        .select(classes::id)
        .first(&mut conn)
        .expect("class");
    let teacher_id: i64 = teachers::table
        .inner_join(orgs::table)
        .filter(orgs::code.eq(school))
        .select(teachers::id)
        .first(&mut conn)
        .expect("teacher");
    (class_id, teacher_id)
}

#[actix_web::test]
async fn school_user_cannot_reach_another_school_through_api() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let token = w.token("a.xueji");
        let (own_class, own_teacher) = ids_of(&w, SCHOOL_A);
        let (b_class, b_teacher) = ids_of(&w, SCHOOL_B);
        let b_user: i64 = {
            let mut c = w.conn();
            users::table.filter(users::username.eq("b.xueji")).select(users::id).first(&mut c).expect("id")
        };
        let get = |uri: String| {
            test::TestRequest::get()
                .uri(&uri)
                .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
                .to_request()
        };

        // Own school: readable.
        let r = test::call_service(&app, get(format!("/api/v1/classes/{own_class}"))).await;
        assert_eq!(r.status(), 200, "{label}");
        let r = test::call_service(&app, get(format!("/api/v1/teachers/{own_teacher}"))).await;
        assert_eq!(r.status(), 200, "{label}");

        // The other school: not found, and its data is not in the body.
        for uri in [
            format!("/api/v1/classes/{b_class}"),
            format!("/api/v1/teachers/{b_teacher}"),
            format!("/api/v1/schools/{SCHOOL_B}"),
            format!("/api/v1/schools/{SCHOOL_B}/classes"),
            format!("/api/v1/schools/{SCHOOL_B}/teachers"),
        ] {
            let r = test::call_service(&app, get(uri.clone())).await;
            assert_eq!(r.status(), 404, "{label} {uri}");
            let body = body_text(r).await;
            assert!(!body.contains("纳包"), "{label} {uri}: {body}");
        }
        // Users: a registrar may not list or read accounts at all.
        let r = test::call_service(&app, get(format!("/api/v1/users/{b_user}"))).await;
        assert!(r.status() == 404 || r.status() == 403, "{label}");

        // Changes to the other school are refused and change nothing.
        let put = test::TestRequest::put()
            .uri(&format!("/api/v1/classes/{b_class}"))
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .set_json(serde_json::json!({"class_no": "202699", "grade": "1", "entry_year": "2026"}))
            .to_request();
        assert_eq!(test::call_service(&app, put).await.status(), 404, "{label}");
        let del = test::TestRequest::delete()
            .uri(&format!("/api/v1/teachers/{b_teacher}"))
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        assert_eq!(test::call_service(&app, del).await.status(), 404, "{label}");
        let post = test::TestRequest::post()
            .uri(&format!("/api/v1/schools/{SCHOOL_B}/classes"))
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .set_json(serde_json::json!({"class_no": "202602", "grade": "1", "entry_year": "2026"}))
            .to_request();
        assert_eq!(test::call_service(&app, post).await.status(), 404, "{label}");
        let mut conn = w.conn();
        let still: String = classes::table.find(b_class).select(classes::class_no).first(&mut conn).expect("class");
        assert_eq!(still, "202601", "{label}");
        let n: i64 = teachers::table.find(b_teacher).count().get_result(&mut conn).expect("count");
        assert_eq!(n, 1, "{label}");

        // The school list holds exactly the own school.
        let r = test::call_service(&app, get("/api/v1/schools".into())).await;
        let body = body_json(r).await;
        assert_eq!(body["total"], 1, "{label}");
        assert_eq!(body["items"][0]["code"], SCHOOL_A, "{label}");
    }
}

#[actix_web::test]
async fn school_user_cannot_reach_another_school_through_pages() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let cookie = format!("mealroll_session={}", w.token("a.xueji"));
        let (own_class, _) = ids_of(&w, SCHOOL_A);
        let (b_class, b_teacher) = ids_of(&w, SCHOOL_B);
        let get = |uri: String| {
            test::TestRequest::get().uri(&uri).insert_header((header::COOKIE, cookie.clone())).to_request()
        };

        let r = test::call_service(&app, get(format!("/classes/{own_class}"))).await;
        assert_eq!(r.status(), 200, "{label}");
        let own_page = body_text(r).await;
        assert!(own_page.contains("一年级(1)班"), "{label}");
        let csrf = csrf_of(&own_page);

        for uri in [
            format!("/classes/{b_class}"),
            format!("/schools/{SCHOOL_B}"),
            format!("/teachers/{b_teacher}/edit"),
            format!("/orgs/{SCHOOL_B}"),
        ] {
            let r = test::call_service(&app, get(uri.clone())).await;
            assert_eq!(r.status(), 404, "{label} {uri}");
            assert!(!body_text(r).await.contains("纳包"), "{label} {uri}");
        }
        // A valid CSRF token does not open another school's class.
        let post = test::TestRequest::post()
            .uri(&format!("/classes/{b_class}/delete"))
            .insert_header((header::COOKIE, cookie.clone()))
            .set_form([("csrf", csrf.as_str())])
            .to_request();
        assert_eq!(test::call_service(&app, post).await.status(), 404, "{label}");
        let mut conn = w.conn();
        assert_eq!(classes::table.find(b_class).count().get_result::<i64>(&mut conn).expect("n"), 1, "{label}");

        // The user pages are for administrators only.
        let r = test::call_service(&app, get("/users".into())).await;
        assert_eq!(r.status(), 403, "{label}");
        assert!(common::audit_count(&mut conn, "access.denied") >= 1, "{label}: denial audited");
    }
}

#[actix_web::test]
async fn county_user_sees_its_county_and_not_the_next() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let token = w.token("yyb");
        let get = |uri: &str| {
            test::TestRequest::get()
                .uri(uri)
                .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
                .to_request()
        };
        let body = body_json(test::call_service(&app, get("/api/v1/schools")).await).await;
        assert_eq!(body["total"], 2, "{label}: {body}");
        assert_eq!(
            test::call_service(&app, get(&format!("/api/v1/schools/{SCHOOL_B}"))).await.status(),
            200,
            "{label}"
        );
        assert_eq!(
            test::call_service(&app, get(&format!("/api/v1/schools/{SCHOOL_C}"))).await.status(),
            404,
            "{label}"
        );
        assert_eq!(
            test::call_service(&app, get(&format!("/api/v1/orgs/{OTHER_COUNTY}"))).await.status(),
            404,
            "{label}"
        );
        // The county's own tree lists its schools.
        let tree = body_json(test::call_service(&app, get(&format!("/api/v1/orgs/{COUNTY}"))).await).await;
        let children: Vec<&str> =
            tree["children"].as_array().expect("children").iter().filter_map(|c| c["org"]["code"].as_str()).collect();
        assert!(children.contains(&SCHOOL_A) && children.contains(&SCHOOL_B), "{label}: {children:?}");
    }
}
