//! The routes of sign-in, passwords, users and second-officer requests.
//!
//! `crate::app` mounts `pages` at the root and `api` under `/api/v1`. Order matters where a
//! literal segment and a parameter share a place (`/schools/new` before `/schools/{code}`).

use actix_web::web;

use crate::web::api_routes::ApiRoutes;

/// The pages.
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(super::web::login_page))
        .route("/login", web::post().to(super::web::login_submit))
        .route("/logout", web::post().to(super::web::logout))
        .route("/password", web::get().to(super::web::password_page))
        .route("/password", web::post().to(super::web::password_submit))
        .route("/users", web::get().to(super::web::users))
        .route("/users", web::post().to(super::web::user_create))
        .route("/users/new", web::get().to(super::web::user_new))
        .route("/users/{id}/action", web::post().to(super::web::user_action));
}

/// The `/api/v1` routes, each with what the OpenAPI document says of it.
pub fn api(r: &mut ApiRoutes) {
    r.tag("auth");
    r.post("/auth/token", super::web::api_token, "登录，取得令牌 {username, password, totp}");
    r.post("/auth/logout", super::web::api_logout, "注销当前令牌");
    r.get("/me", super::web::api_me, "当前用户");
    r.tag("users");
    r.get("/users", super::web::api_users, "用户列表");
    r.post("/users", super::web::api_user_create, "新建用户 {username, display_name, org_code, roles}");
    r.get("/users/{id}", super::web::api_user, "用户详情");
    r.post(
        "/users/{id}/action",
        super::web::api_user_action,
        "账号操作 {action: reset_password|disable|enable|unlock|reset_totp}",
    );
    r.tag("auth");
    r.get(
        "/account-requests",
        super::web::api_account_requests,
        "待另一名管理员确认的账号事项（授权新账号、停用管理员账号）",
    );
}
