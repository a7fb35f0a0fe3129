//! An act that cannot be undone (删除, 结账, 报送, 签章…) asks first on the page: the first post
//! answers with what will happen and changes nothing; the same fields posted again with
//! `confirmed=1` do it.

use crate::common;
use actix_web::http::header::COOKIE;
use actix_web::test;
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{classes, ledger_closings};

#[actix_web::test]
async fn deleting_a_class_and_closing_a_month_ask_first_and_change_nothing_until_confirmed() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        second_class(&w);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let class: i64 = classes::table
            .filter(classes::class_no.eq("202602"))
            .select(classes::id)
            .first(&mut w.conn())
            .expect("class");
        let classes_now = || classes::table.filter(classes::id.eq(class)).count().get_result::<i64>(&mut w.conn());

        let registrar = format!("mealroll_session={}", w.token("a.xueji"));
        let get =
            |cookie: &str, uri: &str| test::TestRequest::get().uri(uri).insert_header((COOKIE, cookie.to_owned()));
        let html =
            body_text(test::call_service(&app, get(&registrar, &format!("/classes/{class}")).to_request()).await).await;
        let csrf = csrf_of(&html);
        let delete = |form: Vec<(&str, &str)>| {
            test::TestRequest::post()
                .uri(&format!("/classes/{class}/delete"))
                .insert_header((COOKIE, registrar.clone()))
                .set_form(form)
                .to_request()
        };
        let r = test::call_service(&app, delete(vec![("csrf", &csrf)])).await;
        assert_eq!(r.status(), 200, "{label}");
        let asked = body_text(r).await;
        assert!(
            asked.contains("删除望谟县王母小学的班级“一年级（2）班”") && asked.contains("不能恢复"),
            "{label}: the act and its consequence are named: {asked}"
        );
        assert!(asked.contains(&format!("action=\"/classes/{class}/delete\"")), "{label}: posts to the same place");
        assert!(asked.contains(&format!("href=\"/classes/{class}\"")), "{label}: 返回 leads back, nothing done");
        assert_eq!(classes_now().expect("n"), 1, "{label}: nothing deleted before the confirmation");
        // A forged token is refused at the confirmation as at the first post.
        let r = test::call_service(&app, delete(vec![("csrf", "forged"), ("confirmed", "1")])).await;
        assert_eq!(r.status(), 403, "{label}");
        let r = test::call_service(&app, delete(vec![("csrf", &csrf), ("confirmed", "1")])).await;
        assert_eq!(r.status(), 303, "{label}");
        assert_eq!(classes_now().expect("n"), 0, "{label}: deleted once confirmed");
        // A teacher's delete asks the same way, naming the teacher.
        let teacher: i64 = mealroll::db::schema::teachers::table
            .inner_join(mealroll::db::schema::orgs::table)
            .filter(mealroll::db::schema::orgs::code.eq(SCHOOL_A))
            .select(mealroll::db::schema::teachers::id)
            .first(&mut w.conn())
            .expect("teacher");
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/teachers/{teacher}/delete"))
                .insert_header((COOKIE, registrar.clone()))
                .set_form([("csrf", csrf.as_str())])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let asked = body_text(r).await;
        assert!(asked.contains("删除教师“王䶮”（工号 0001）") && asked.contains(">确认删除<"), "{label}: {asked}");
        let teachers = mealroll::db::schema::teachers::table.filter(mealroll::db::schema::teachers::id.eq(teacher));
        assert_eq!(teachers.count().get_result::<i64>(&mut w.conn()).expect("n"), 1, "{label}: not deleted");

        // 结账 of the ledger's month: the same step.
        let finance = format!("mealroll_session={}", w.token("caiwu"));
        let html = body_text(test::call_service(&app, get(&finance, "/ledger").to_request()).await).await;
        let csrf = csrf_of(&html);
        let close = |confirmed: &str| {
            test::TestRequest::post()
                .uri("/ledger")
                .insert_header((COOKIE, finance.clone()))
                .set_form([
                    ("csrf", csrf.as_str()),
                    ("action", "close"),
                    ("month", "2026-09"),
                    ("confirmed", confirmed),
                ])
                .to_request()
        };
        let closings = || ledger_closings::table.count().get_result::<i64>(&mut w.conn()).expect("n");
        let r = test::call_service(&app, close("")).await;
        assert_eq!(r.status(), 200, "{label}");
        let asked = body_text(r).await;
        assert!(asked.contains("结账：望谟县资金台账 2026-09") && asked.contains("不能再记入该月"), "{label}: {asked}");
        assert!(asked.contains("name=\"month\" value=\"2026-09\""), "{label}: the month is posted again");
        assert_eq!(closings(), 0, "{label}: not closed before the confirmation");
        let r = test::call_service(&app, close("1")).await;
        assert_eq!(r.status(), 303, "{label}");
        assert_eq!(closings(), 1, "{label}: closed once confirmed");
    }
}
