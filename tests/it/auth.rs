//! Login, lockout, sessions, TOTP, CSRF and the separation of the three administrators.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use chrono::Duration;
use common::*;
use mealroll::auth::service::{LoginInput, login};
use mealroll::auth::session;
use mealroll::error::ErrorCode;

fn attempt(
    w: &World,
    username: &str,
    password: &str,
    totp: Option<String>,
    at: chrono::NaiveDateTime,
) -> Result<String, mealroll::error::AppError> {
    let mut conn = w.conn();
    login(
        &mut conn,
        &w.keys,
        &w.settings,
        &LoginInput { username: username.into(), password: password.into(), totp },
        "10.0.0.9",
        at,
    )
}

#[actix_web::test]
async fn sixth_attempt_within_fifteen_minutes_is_refused_even_when_right() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let t0 = mealroll::clock::now();
        let mut messages = Vec::new();
        for i in 0..5 {
            let e = attempt(&w, "a.xueji", "Wrong-password-1", None, t0 + Duration::minutes(i)).expect_err("wrong");
            messages.push(e.message.clone());
        }
        let e = attempt(&w, "a.xueji", PASSWORD, None, t0 + Duration::minutes(6)).expect_err("locked");
        assert_eq!(e.code, ErrorCode::AuthInvalidCredentials, "{label}");
        // Same answer as for an account that does not exist.
        let unknown = attempt(&w, "nobody", PASSWORD, None, t0).expect_err("unknown");
        assert_eq!(unknown.message, e.message, "{label}");
        assert!(messages.iter().all(|m| *m == e.message), "{label}");
        // After the lock window the right password works again.
        attempt(&w, "a.xueji", PASSWORD, None, t0 + Duration::minutes(37)).expect("unlocked after 30 min");
        let mut conn = w.conn();
        assert_eq!(audit_count(&mut conn, "login.failed"), 6, "{label}: 5 wrong + 1 unknown");
        assert_eq!(audit_count(&mut conn, "user.locked"), 1, "{label}");
        assert_eq!(audit_count(&mut conn, "login.refused_locked"), 1, "{label}");
    }
}

#[actix_web::test]
async fn failures_spread_beyond_the_window_do_not_lock() {
    let w = World::new(TestDb::sqlite());
    let t0 = mealroll::clock::now();
    for i in 0..6 {
        let _ = attempt(&w, "b.xueji", "Wrong-password-1", None, t0 + Duration::minutes(i * 4));
    }
    // Failures 1..4 fell in the first window; the 5th started a new one.
    attempt(&w, "b.xueji", PASSWORD, None, t0 + Duration::minutes(25)).expect("not locked");
}

#[actix_web::test]
async fn totp_is_required_for_county_users_and_cannot_be_replayed() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let now = mealroll::clock::now();
        let e = attempt(&w, "yyb", PASSWORD, None, now).expect_err("no totp");
        assert_eq!(e.code, ErrorCode::AuthInvalidCredentials, "{label}");
        let code = w.totp_code("yyb", 0).expect("secret");
        attempt(&w, "yyb", PASSWORD, Some(code.clone()), now).expect("with totp");
        let replay = attempt(&w, "yyb", PASSWORD, Some(code), now).expect_err("replay");
        assert_eq!(replay.code, ErrorCode::AuthInvalidCredentials, "{label}");
        // Officers need it at any level too.
        assert!(w.totp.contains_key("shenji") && w.totp.contains_key("xitong"), "{label}");
        assert!(!w.totp.contains_key("a.xueji"), "{label}");
    }
}

#[actix_web::test]
async fn idle_and_absolute_timeouts_end_sessions() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let t0 = mealroll::clock::now();
        let token = attempt(&w, "a.xueji", PASSWORD, None, t0).expect("login");
        let mut conn = w.conn();
        let auth = |conn: &mut mealroll::db::DbConn, at| {
            session::authenticate(conn, &w.keys, &w.settings, &token, "127.0.0.1", at)
        };
        auth(&mut conn, t0 + Duration::minutes(29)).expect("29 min idle is fine");
        // Activity moved last-seen to t0+29; 31 minutes after that the session is gone.
        let e = auth(&mut conn, t0 + Duration::minutes(29 + 31)).expect_err("idle");
        assert_eq!(e.code, ErrorCode::AuthSessionExpired, "{label}");
        // Absolute: active every 20 minutes, still ends at 12 h.
        let token2 = attempt(&w, "b.xueji", PASSWORD, None, t0).expect("login");
        let mut at = t0;
        while at < t0 + Duration::hours(12) - Duration::minutes(20) {
            at += Duration::minutes(20);
            session::authenticate(&mut conn, &w.keys, &w.settings, &token2, "127.0.0.1", at).expect("active");
        }
        let e = session::authenticate(&mut conn, &w.keys, &w.settings, &token2, "127.0.0.1", t0 + Duration::hours(12))
            .expect_err("absolute");
        assert_eq!(e.code, ErrorCode::AuthSessionExpired, "{label}");
    }
}

#[actix_web::test]
async fn logged_out_token_and_cookie_no_longer_work() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let token = api_token(&app, &w, "a.xueji").await;
        let me = |t: &str| {
            test::TestRequest::get()
                .uri("/api/v1/me")
                .insert_header((header::AUTHORIZATION, format!("Bearer {t}")))
                .to_request()
        };
        assert_eq!(test::call_service(&app, me(&token)).await.status(), 200, "{label}");
        let out = test::TestRequest::post()
            .uri("/api/v1/auth/logout")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        assert_eq!(test::call_service(&app, out).await.status(), 204, "{label}");
        let r = test::call_service(&app, me(&token)).await;
        assert_eq!(r.status(), 401, "{label}");
        assert_eq!(body_json(r).await["error"], "auth.session_expired", "{label}");

        // Pages: log out with the form, then the old cookie leads back to the login page.
        let cookie = format!("mealroll_session={}", w.token("a.xueji"));
        let home = test::call_service(
            &app,
            test::TestRequest::get().uri("/").insert_header((header::COOKIE, cookie.clone())).to_request(),
        )
        .await;
        assert_eq!(home.status(), 200, "{label}");
        let csrf = csrf_of(&body_text(home).await);
        let out = test::TestRequest::post()
            .uri("/logout")
            .insert_header((header::COOKIE, cookie.clone()))
            .set_form([("csrf", csrf.as_str())])
            .to_request();
        assert_eq!(test::call_service(&app, out).await.status(), 303, "{label}");
        let again = test::call_service(
            &app,
            test::TestRequest::get().uri("/schools").insert_header((header::COOKIE, cookie)).to_request(),
        )
        .await;
        assert_eq!(again.status(), 303, "{label}");
        assert_eq!(
            again.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()),
            Some("/login?expired=1&next=%2Fschools"),
            "{label}"
        );
    }
}

#[actix_web::test]
async fn altered_or_foreign_tokens_are_refused() {
    let w = World::new(TestDb::sqlite());
    let app = test::init_service(mealroll::app::app(w.state())).await;
    let token = w.token("a.xueji");
    // Flip one character of the signature.
    let mut altered = token.clone().into_bytes();
    let last = altered.len() - 2;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ascii");
    // A token signed with another key.
    let other_keys = mealroll::config::Keys::from_master(&[1u8; 32]);
    let forged = {
        let mut conn = w.conn();
        session::open(&mut conn, &other_keys, &w.settings, 1, "x", mealroll::clock::now()).expect("open")
    };
    // `alg: none`.
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", token.split('.').nth(1).expect("claims"));
    for t in [altered, forged, none, "garbage".to_owned()] {
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/api/v1/me")
                .insert_header((header::AUTHORIZATION, format!("Bearer {t}")))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 401, "{t}");
        assert_eq!(body_json(r).await["error"], "auth.bad_token");
    }
    // No token at all.
    let r = test::call_service(&app, test::TestRequest::get().uri("/api/v1/me").to_request()).await;
    assert_eq!(r.status(), 401);
    assert_eq!(body_json(r).await["error"], "auth.required");
}

#[actix_web::test]
async fn forms_without_a_valid_csrf_token_or_from_elsewhere_are_refused() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let cookie = format!("mealroll_session={}", w.token("a.xueji"));
        let page = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/schools/{SCHOOL_A}/teachers/new"))
                .insert_header((header::COOKIE, cookie.clone()))
                .to_request(),
        )
        .await;
        let csrf = csrf_of(&body_text(page).await);
        let other_session = csrf_of(
            &body_text(
                test::call_service(
                    &app,
                    test::TestRequest::get()
                        .uri("/")
                        .insert_header((header::COOKIE, format!("mealroll_session={}", w.token("a.xueji"))))
                        .to_request(),
                )
                .await,
            )
            .await,
        );
        let form = |token: &str| {
            vec![("csrf", token.to_owned()), ("staff_no", "0099".into()), ("name", "李𠮷".into()), ("sex", "1".into())]
        };
        for (why, token, origin) in [
            ("missing", String::new(), None),
            ("forged", "00".repeat(32), None),
            ("other session's", other_session.clone(), None),
            ("foreign origin", csrf.clone(), Some("https://evil.example")),
        ] {
            let mut req = test::TestRequest::post()
                .uri(&format!("/schools/{SCHOOL_A}/teachers"))
                .insert_header((header::COOKIE, cookie.clone()));
            if let Some(o) = origin {
                req = req.insert_header((header::ORIGIN, o));
            }
            let r = test::call_service(&app, req.set_form(form(&token)).to_request()).await;
            assert_eq!(r.status(), 403, "{label}: {why}");
            assert!(body_text(r).await.contains("CSRF"), "{label}: {why}");
        }
        let mut conn = w.conn();
        assert_eq!(audit_count(&mut conn, "csrf.rejected"), 4, "{label}");
        assert_eq!(audit_count(&mut conn, "teacher.create"), 3, "{label}: only the fixture's teachers");
        // The right token works.
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/schools/{SCHOOL_A}/teachers"))
                .insert_header((header::COOKIE, cookie.clone()))
                .set_form(form(&csrf))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        assert_eq!(audit_count(&mut conn, "teacher.create"), 4, "{label}");
    }
}

#[actix_web::test]
async fn login_form_needs_its_own_token_and_sets_a_strict_httponly_cookie() {
    let w = World::new(TestDb::sqlite());
    let app = test::init_service(mealroll::app::app(w.state())).await;
    let page = test::call_service(&app, test::TestRequest::get().uri("/login").to_request()).await;
    let login_cookie =
        page.response().cookies().find(|c| c.name() == "mealroll_login_csrf").expect("login cookie").value().to_owned();
    let token = csrf_of(&body_text(page).await);
    let form = |t: &str| {
        [
            ("csrf", t.to_owned()),
            ("username", "a.xueji".to_owned()),
            ("password", PASSWORD.to_owned()),
            ("totp", String::new()),
        ]
    };
    // Without the cookie: refused.
    let r = test::call_service(&app, test::TestRequest::post().uri("/login").set_form(form(&token)).to_request()).await;
    assert_eq!(r.status(), 401);
    // With it: logged in, cookie flags set.
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/login")
            .insert_header((header::COOKIE, format!("mealroll_login_csrf={login_cookie}")))
            .set_form(form(&token))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 303);
    let c = r.response().cookies().find(|c| c.name() == "mealroll_session").expect("session cookie");
    assert_eq!(c.http_only(), Some(true));
    assert_eq!(c.same_site(), Some(actix_web::cookie::SameSite::Strict));
    assert!(c.value().len() > 64);
}

#[actix_web::test]
async fn a_page_asked_for_before_signing_in_opens_after_it_and_only_a_page_of_this_site() {
    let w = World::new(TestDb::sqlite());
    let app = test::init_service(mealroll::app::app(w.state())).await;
    let location = |r: &actix_web::dev::ServiceResponse<_>| {
        r.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    // Opened without a session: to the login, remembering the page.
    let r = test::call_service(&app, test::TestRequest::get().uri("/students?review=pending").to_request()).await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert_eq!(to, "/login?expired=1&next=%2Fstudents%3Freview%3Dpending");
    // A form's post is not repeated after signing in.
    let r = test::call_service(&app, test::TestRequest::post().uri("/ledger").to_request()).await;
    assert!(!location(&r).contains("next="), "{}", location(&r));

    let sign_in = |next: &'static str| {
        let app = &app;
        async move {
            let uri = format!("/login?{}", serde_urlencoded::to_string([("next", next)]).expect("query"));
            let page = test::call_service(app, test::TestRequest::get().uri(&uri).to_request()).await;
            let cookie = page.response().cookies().find(|c| c.name() == "mealroll_login_csrf").expect("cookie");
            let cookie = format!("mealroll_login_csrf={}", cookie.value());
            let html = body_text(page).await;
            let form = [
                ("csrf", csrf_of(&html)),
                ("username", "a.xueji".to_owned()),
                ("password", PASSWORD.to_owned()),
                ("totp", String::new()),
                ("next", next.to_owned()),
            ];
            let r = test::call_service(
                app,
                test::TestRequest::post()
                    .uri("/login")
                    .insert_header((header::COOKIE, cookie))
                    .set_form(form)
                    .to_request(),
            )
            .await;
            assert_eq!(r.status(), 303, "{next}");
            (html.contains("name=\"next\""), location(&r))
        }
    };
    assert_eq!(sign_in("/students?review=pending").await, (true, "/students?review=pending".to_owned()));
    // Never on to another site, however it is spelt.
    for elsewhere in ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\tevil"] {
        assert_eq!(sign_in(elsewhere).await, (false, "/".to_owned()), "{elsewhere}");
    }
}

#[actix_web::test]
async fn three_officers_stay_separate() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let bearer = |u: &str| (header::AUTHORIZATION, format!("Bearer {}", w.token(u)));
        // One account cannot hold two officer roles, nor an officer and a business role.
        for roles in [vec!["sysadmin", "auditadmin"], vec!["secadmin", "nutrition_office"]] {
            let r = test::call_service(
                &app,
                test::TestRequest::post().uri("/api/v1/users").insert_header(bearer("xitong"))
                    .set_json(serde_json::json!({"username": "double", "display_name": "兼任", "org_code": COUNTY, "roles": roles}))
                    .to_request(),
            )
            .await;
            assert_eq!(r.status(), 422, "{label}");
            let body = body_json(r).await;
            assert!(body["message"].as_str().unwrap_or("").contains("三员分立"), "{label}: {body}");
        }
        // The system administrator cannot read the audit log; the audit administrator cannot manage users.
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/api/v1/audit").insert_header(bearer("xitong")).to_request(),
        )
        .await;
        assert_eq!(r.status(), 403, "{label}");
        let r = test::call_service(
            &app,
            test::TestRequest::post().uri("/api/v1/users").insert_header(bearer("shenji"))
                .set_json(serde_json::json!({"username": "sneaky", "display_name": "x", "org_code": COUNTY, "roles": ["registrar"]}))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 403, "{label}");
        // The security administrator cannot edit school data.
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/classes"))
                .insert_header(bearer("anquan"))
                .set_json(serde_json::json!({"class_no": "202605", "grade": "1", "entry_year": "2026"}))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 403, "{label}");
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/api/v1/audit").insert_header(bearer("shenji")).to_request(),
        )
        .await;
        assert_eq!(r.status(), 200, "{label}");
        let rows = body_json(r).await;
        assert!(
            rows.as_array().is_some_and(|a| a.iter().any(|r| r["action"] == "access.denied")),
            "{label}: denials audited"
        );
    }
}

#[actix_web::test]
async fn created_user_must_change_password_and_old_sessions_end_on_change() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let r = test::call_service(
            &app,
            test::TestRequest::post().uri("/api/v1/users").insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token("xitong"))))
                .set_json(serde_json::json!({"username": "a.yyzg", "display_name": "营养专干", "org_code": SCHOOL_A, "roles": ["营养专干"]}))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 201, "{label}");
        let creds = body_json(r).await;
        // Created by a person: waiting for the 安全管理员, and its creator has no password.
        assert_eq!(
            (creds["pending"].as_bool(), creds["password"].as_str()),
            (Some(true), Some("")),
            "{label}: {creds}"
        );
        let id = creds["user_id"].as_i64().expect("id");
        let grant = |who: &str| {
            test::TestRequest::post()
                .uri(&format!("/api/v1/users/{id}/action"))
                .insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token(who))))
                .set_json(serde_json::json!({"action": "grant"}))
                .to_request()
        };
        assert_eq!(
            test::call_service(&app, grant("xitong")).await.status(),
            403,
            "{label}: not the creator's to grant"
        );
        let r = test::call_service(&app, grant("anquan")).await;
        assert_eq!(r.status(), 200, "{label}");
        let granted = body_json(r).await;
        let initial = granted["credentials"]["password"].as_str().expect("password").to_owned();
        let token = attempt(&w, "a.yyzg", &initial, None, mealroll::clock::now()).expect("login");
        // Until the password is changed, pages lead to /password and the API refuses.
        let cookie = format!("mealroll_session={token}");
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/schools").insert_header((header::COOKIE, cookie.clone())).to_request(),
        )
        .await;
        assert_eq!(r.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()), Some("/password"), "{label}");
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/api/v1/me")
                .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 403, "{label}");
        // A weak new password is refused with the rule named.
        let page = test::call_service(
            &app,
            test::TestRequest::get().uri("/password").insert_header((header::COOKIE, cookie.clone())).to_request(),
        )
        .await;
        let csrf = csrf_of(&body_text(page).await);
        let weak = [
            ("csrf", csrf.as_str()),
            ("old_password", initial.as_str()),
            ("new_password", "short1A"),
            ("confirm", "short1A"),
        ];
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/password")
                .insert_header((header::COOKIE, cookie.clone()))
                .set_form(weak)
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert!(body_text(r).await.contains("至少12个字符"), "{label}");
        let good = [
            ("csrf", csrf.as_str()),
            ("old_password", initial.as_str()),
            ("new_password", "Lunch-for-every-child-9"),
            ("confirm", "Lunch-for-every-child-9"),
        ];
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/password")
                .insert_header((header::COOKIE, cookie.clone()))
                .set_form(good)
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        // The session used for the change is over; the new password works.
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/").insert_header((header::COOKIE, cookie)).to_request(),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        attempt(&w, "a.yyzg", "Lunch-for-every-child-9", None, mealroll::clock::now()).expect("new password");
        // No plain password in the database.
        if let Some(path) = w.db.sqlite_path() {
            for file in [path.clone(), format!("{path}-wal")] {
                let bytes = std::fs::read(&file).unwrap_or_default();
                let hay = String::from_utf8_lossy(&bytes);
                assert!(!hay.contains("Lunch-for-every-child-9"), "password stored in clear in {file}");
            }
        }
    }
}

#[actix_web::test]
async fn dormant_accounts_are_sealed_until_the_security_administrator_reactivates_them() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let later = mealroll::clock::now() + Duration::days(181);
        let e = attempt(&w, "a.xueji", PASSWORD, None, later).expect_err("sealed");
        assert_eq!(e.code, ErrorCode::AuthAccountSealed, "{label}");
        let e = attempt(&w, "a.xueji", PASSWORD, None, later).expect_err("still sealed");
        assert_eq!(e.code, ErrorCode::AuthAccountInactive, "{label}");
        let target = {
            use diesel::prelude::*;
            use mealroll::db::schema::users;
            let mut c = w.conn();
            users::table.filter(users::username.eq("a.xueji")).select(users::id).first::<i64>(&mut c).expect("id")
        };
        let mut conn = w.conn();
        use mealroll::auth::service::{AccountAction, act_on_user};
        // The system administrator may not lift a seal; the security administrator may.
        let e = act_on_user(&mut conn, &w.keys, &w.caller("xitong"), target, AccountAction::Enable, later)
            .expect_err("sysadmin");
        assert_eq!(e.code, ErrorCode::Forbidden, "{label}");
        act_on_user(&mut conn, &w.keys, &w.caller("anquan"), target, AccountAction::Enable, later).expect("secadmin");
        attempt(&w, "a.xueji", PASSWORD, None, later + Duration::minutes(1)).expect("reactivated");
    }
}

/// 三员分立 for people, not only for accounts: the 系统管理员 creates an 审计管理员 but cannot
/// grant it, learns no password nor second factor, and cannot disable another officer alone;
/// the holder binds their own second factor at first login.
#[actix_web::test]
async fn the_three_officers_are_three_people() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let api = |who: &str, req: test::TestRequest| {
            req.insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token(who)))).to_request()
        };
        let action = |id: i64, a: &str| {
            test::TestRequest::post()
                .uri(&format!("/api/v1/users/{id}/action"))
                .set_json(serde_json::json!({"action": a}))
        };
        let r = test::call_service(
            &app,
            api(
                "xitong",
                test::TestRequest::post().uri("/api/v1/users").set_json(
                    serde_json::json!({"username": "shenji2", "display_name": "第二审计", "org_code": COUNTY, "roles": ["auditadmin"]}),
                ),
            ),
        )
        .await;
        assert_eq!(r.status(), 201, "{label}");
        let creds = body_json(r).await;
        assert!(creds["totp_secret"].is_null() && creds["password"] == "", "{label}: nothing for the creator: {creds}");
        let id = creds["user_id"].as_i64().expect("id");
        // Pending: no login whatever is tried.
        assert!(attempt(&w, "shenji2", "Whatever-pass-2026", None, mealroll::clock::now()).is_err(), "{label}");
        // The auditor sees the request; only the security administrator grants.
        let r = test::call_service(&app, api("shenji", test::TestRequest::get().uri("/api/v1/account-requests"))).await;
        let open = body_json(r).await;
        assert!(
            open.as_array().is_some_and(|a| a.iter().any(|r| r["username"] == "shenji2" && r["action"] == "grant"))
        );
        assert_eq!(test::call_service(&app, api("xitong", action(id, "grant"))).await.status(), 403, "{label}");
        let r = test::call_service(&app, api("anquan", action(id, "grant"))).await;
        assert_eq!(r.status(), 200, "{label}");
        let granted = body_json(r).await;
        assert!(granted["credentials"]["totp_secret"].is_null(), "{label}: not even the granter sees a secret");
        let initial = granted["credentials"]["password"].as_str().expect("password").to_owned();
        // First login: the password alone opens the one page that binds the holder's own factor.
        let token = attempt(&w, "shenji2", &initial, None, mealroll::clock::now()).expect("first login");
        let cookie = format!("mealroll_session={token}");
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/audit").insert_header((header::COOKIE, cookie.clone())).to_request(),
        )
        .await;
        assert_eq!(r.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()), Some("/password"), "{label}");
        let page = body_text(
            test::call_service(
                &app,
                test::TestRequest::get().uri("/password").insert_header((header::COOKIE, cookie.clone())).to_request(),
            )
            .await,
        )
        .await;
        let secret = page
            .split("id=\"totp-secret\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .expect("the holder is shown a secret")
            .to_owned();
        let token_field = page
            .split("name=\"totp_token\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("token")
            .to_owned();
        let csrf = csrf_of(&page);
        let unix = u64::try_from(mealroll::clock::now().and_utc().timestamp()).expect("time");
        let code = mealroll::auth::totp::code_at(&secret, unix).expect("code");
        let new_password = "Audit-every-yuan-2026";
        let form = [
            ("csrf", csrf.as_str()),
            ("old_password", initial.as_str()),
            ("new_password", new_password),
            ("confirm", new_password),
            ("totp_token", token_field.as_str()),
            ("totp_code", "000000"),
        ];
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/password")
                .insert_header((header::COOKIE, cookie.clone()))
                .set_form(form)
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}: a wrong code binds nothing");
        let form = [
            ("csrf", csrf.as_str()),
            ("old_password", initial.as_str()),
            ("new_password", new_password),
            ("confirm", new_password),
            ("totp_token", token_field.as_str()),
            ("totp_code", code.as_str()),
        ];
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/password")
                .insert_header((header::COOKIE, cookie))
                .set_form(form)
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 303, "{label}");
        // From now on the password alone is not enough.
        assert!(attempt(&w, "shenji2", new_password, None, mealroll::clock::now()).is_err(), "{label}");
        let next = mealroll::auth::totp::code_at(&secret, unix + 30).expect("code");
        attempt(&w, "shenji2", new_password, Some(next), mealroll::clock::now() + Duration::seconds(30))
            .expect("password and the holder's own factor");

        // No officer disables another alone.
        let shenji: i64 = {
            use diesel::prelude::*;
            use mealroll::db::schema::users;
            users::table.filter(users::username.eq("shenji")).select(users::id).first(&mut w.conn()).expect("id")
        };
        let status = |w: &World| -> String {
            use diesel::prelude::*;
            use mealroll::db::schema::users;
            users::table.find(shenji).select(users::status).first(&mut w.conn()).expect("status")
        };
        let r = test::call_service(&app, api("xitong", action(shenji, "disable"))).await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(status(&w), "active", "{label}: asked, not done");
        let r = test::call_service(&app, api("xitong", action(shenji, "confirm_disable"))).await;
        assert_eq!(r.status(), 409, "{label}: not by the one who asked");
        let r = test::call_service(&app, api("shenji", action(shenji, "confirm_disable"))).await;
        assert_eq!(r.status(), 409, "{label}: not by the account itself");
        let r = test::call_service(&app, api("anquan", action(shenji, "confirm_disable"))).await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(status(&w), "disabled", "{label}: a second officer confirmed");
        // A reset second factor is bound again by its holder, never shown to the administrator.
        let r = test::call_service(&app, api("anquan", action(id, "reset_totp"))).await;
        assert_eq!(r.status(), 200, "{label}");
        assert!(body_json(r).await["credentials"].is_null(), "{label}");
        for a in ["user.granted", "user.disable_requested", "user.disable_confirmed", "user.totp_enrolled"] {
            assert_eq!(audit_count(&mut w.conn(), a), 1, "{label}: {a}");
        }
    }
}

/// A failed login under a name nobody has, and the command line's own actions, are kept at the
/// deployment's level, where its audit administrator reads them; logins are throttled per
/// client address as well as per account.
#[actix_web::test]
async fn unknown_names_and_the_command_line_are_audited_where_someone_reads_them_and_addresses_are_throttled() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        // The deployment serves two counties of 黔西南州: its auditor sits at the prefecture.
        add_user(&w, "zhou.shenji", "522300", "auditadmin");
        let before = audit_count(&mut w.conn(), "login.failed");
        assert!(attempt(&w, "nobody.here", "Whatever-pass-2026", None, mealroll::clock::now()).is_err());
        assert_eq!(audit_count(&mut w.conn(), "login.failed"), before + 1, "{label}");
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/api/v1/audit?action=login.failed")
                .insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token("zhou.shenji"))))
                .to_request(),
        )
        .await;
        let rows = body_json(r).await;
        assert!(
            rows.as_array().is_some_and(|a| a.iter().any(|r| r["object_id"] == "nobody.here")),
            "{label}: the unknown name is in the prefecture auditor's view: {rows}"
        );
        let r = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/api/v1/audit?action=user.create")
                .insert_header((header::AUTHORIZATION, format!("Bearer {}", w.token("zhou.shenji"))))
                .to_request(),
        )
        .await;
        let rows = body_json(r).await;
        assert!(
            rows.as_array().is_some_and(|a| a.iter().any(|r| r["actor"] == "命令行")),
            "{label}: the command line's accounts are in the view: {rows}"
        );

        // Twenty failures from one address, under any names, block it (the right password too);
        // another address is not blocked.
        let from = |ip: &str, user: &str, pw: &str| {
            login(
                &mut w.conn(),
                &w.keys,
                &w.settings,
                &LoginInput { username: user.into(), password: pw.into(), totp: None },
                ip,
                mealroll::clock::now(),
            )
        };
        for i in 0..w.settings.lockout.ip_max_failures {
            assert!(from("203.0.113.7", &format!("guess{i}"), "Wrong-password-0").is_err());
        }
        let e = from("203.0.113.7", "a.xueji", PASSWORD).expect_err("blocked");
        assert_eq!(e.code, ErrorCode::AuthInvalidCredentials, "{label}: the same message as any refusal");
        from("198.51.100.2", "a.xueji", PASSWORD).expect("another address logs in");
        assert_eq!(audit_count(&mut w.conn(), "login.ip_blocked"), 1, "{label}");
        assert!(audit_count(&mut w.conn(), "login.refused_ip") >= 1, "{label}");
    }
}

#[actix_web::test]
async fn a_new_password_cannot_be_any_of_the_last_five() {
    use mealroll::auth::service::change_own_password;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let caller = w.caller("a.xueji");
        let mut conn = w.conn();
        let now = mealroll::clock::now();
        let pw = |n: u32| format!("Qiuzhi-{n}-Mima#2026");
        let mut current = PASSWORD.to_owned();
        for n in 1..=5 {
            change_own_password(&mut conn, &w.keys, &caller, &current, &pw(n), None, now)
                .unwrap_or_else(|e| panic!("{label}: change {n}: {}", e.message));
            current = pw(n);
        }
        // The current one and the four before it are refused, each saying why.
        for n in 1..=4 {
            let e = change_own_password(&mut conn, &w.keys, &caller, &current, &pw(n), None, now).expect_err("reused");
            assert_eq!(e.code, ErrorCode::AuthPasswordReused, "{label}: password {n}");
            assert!(e.message.contains("最近5次"), "{label}: {}", e.message);
        }
        let e = change_own_password(&mut conn, &w.keys, &caller, &current, &current, None, now).expect_err("same");
        assert_eq!(e.code, ErrorCode::AuthPasswordReused, "{label}");
        // The sixth back is free again, and only four retired hashes are ever kept.
        change_own_password(&mut conn, &w.keys, &caller, &current, PASSWORD, None, now).expect("sixth back");
        use diesel::prelude::*;
        use mealroll::db::schema::password_history;
        let kept: i64 = password_history::table
            .filter(password_history::user_id.eq(caller.user_id.expect("id")))
            .count()
            .get_result(&mut conn)
            .expect("count");
        assert_eq!(kept, 4, "{label}");
    }
}
