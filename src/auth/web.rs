//! Login, logout, password change, and account management: pages and their `/api/v1` twins.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::csrf;
use crate::auth::extract::{ApiUser, CsrfForm, PageUser, SESSION_COOKIE, client_ip};
use crate::auth::service::{self, AccountAction, Credentials, LoginInput, NewUser, UserFilter, UserView};
use crate::domain::account::AccountStatus;
use crate::domain::role::{ALL_ROLES, Permission, Role};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::web::api_doc::{Body, Created, NoContent, Reply};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::{AppState, FormErrors, Layout, PageResult, local_path, see_other};

// ---------------------------------------------------------------- login

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    csrf: String,
    username: String,
    error: String,
    notice: String,
    /// The page to go on to after signing in (a local path), or "".
    next: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    ok: Option<String>,
    #[serde(default)]
    next: String,
}

fn login_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(csrf::LOGIN_COOKIE, token.to_owned())
        .path("/login")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

fn render_login(st: &AppState, username: String, error: String, notice: String, next: &str) -> HttpResponse {
    let token = csrf::new_login_token();
    let next = if local_path(next) { next.to_owned() } else { String::new() };
    let page = LoginPage { csrf: token.clone(), username, error: error.clone(), notice, next };
    let status =
        if error.is_empty() { actix_web::http::StatusCode::OK } else { actix_web::http::StatusCode::UNAUTHORIZED };
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .cookie(login_cookie(&token, st.settings.session.cookie_secure))
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => actix_web::ResponseError::error_response(&AppError::from(e)),
    }
}

pub async fn login_page(st: web::Data<AppState>, q: web::Query<LoginQuery>) -> HttpResponse {
    let notice = if q.expired.is_some() {
        "登录已失效或尚未登录，请重新登录".to_owned()
    } else if q.ok.as_deref() == Some("password") {
        "密码已修改，请用新密码重新登录".to_owned()
    } else {
        String::new()
    };
    render_login(&st, String::new(), String::new(), notice, &q.next)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

pub async fn login_submit(req: HttpRequest, st: web::Data<AppState>, form: web::Form<LoginForm>) -> HttpResponse {
    let form = form.into_inner();
    // Double-submit check: the form's token must equal the cookie set with the form.
    let cookie = req.cookie(csrf::LOGIN_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    if cookie.is_empty() || !csrf::same(&cookie, &form.csrf) || !crate::auth::extract::same_origin(&req) {
        return render_login(&st, form.username, "登录页面已过期，请重新输入后登录".into(), String::new(), &form.next);
    }
    let input = LoginInput { username: form.username.clone(), password: form.password, totp: Some(form.totp) };
    let ip = client_ip(&req);
    let st2 = st.clone();
    let res =
        st.run(move |conn| service::login(conn, &st2.keys, &st2.settings, &input, &ip, crate::clock::now())).await;
    match res {
        Ok(token) => HttpResponse::SeeOther()
            .cookie(
                Cookie::build(SESSION_COOKIE, token)
                    .path("/")
                    .http_only(true)
                    .secure(st.settings.session.cookie_secure)
                    .same_site(SameSite::Strict)
                    .finish(),
            )
            .insert_header(("Location", if local_path(&form.next) { form.next.as_str() } else { "/" }))
            .finish(),
        Err(e) => render_login(&st, form.username, e.message, String::new(), &form.next),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(st: web::Data<AppState>, f: CsrfForm<Empty>) -> PageResult<HttpResponse> {
    let caller = f.user;
    st.run(move |conn| service::logout(conn, &caller, caller.now())).await?;
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    Ok(HttpResponse::SeeOther().cookie(gone).insert_header(("Location", "/login")).finish())
}

// ---------------------------------------------------------------- own password

#[derive(Template, WebTemplate)]
#[template(path = "auth/password.html")]
pub struct PasswordPage {
    layout: Layout,
    forced: bool,
    errors: FormErrors,
    /// A second factor to bind: the secret shown to the holder alone, its otpauth address and
    /// the token the form carries it in.
    enrol: Option<(String, String, String)>,
}

/// The password page; when the account must bind a second factor, a fresh secret for it.
async fn password_page_for(
    st: &AppState,
    caller: &crate::auth::Caller,
    errors: FormErrors,
) -> PageResult<PasswordPage> {
    let c = caller.clone();
    let needs = st.run(move |conn| service::needs_enrolment(conn, &c)).await?;
    let enrol = if needs {
        let (secret, token) = service::enrolment_secret(&st.keys)?;
        let url =
            format!("otpauth://totp/mealroll:{}?secret={secret}&issuer=mealroll&period=30&digits=6", caller.username);
        Some((secret, url, token))
    } else {
        None
    };
    Ok(PasswordPage {
        forced: caller.must_change_password, layout: Layout::new(caller, st, "修改密码"), errors, enrol
    })
}

pub async fn password_page(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<HttpResponse> {
    let page = password_page_for(&st, &caller, FormErrors::none()).await?;
    let mut r = html(page.render().map_err(AppError::from)?);
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(r)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    totp_token: String,
    #[serde(default)]
    totp_code: String,
}

pub async fn password_submit(st: web::Data<AppState>, f: CsrfForm<PasswordForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let result = if form.new_password != form.confirm {
        Err(AppError::field("confirm", ErrorCode::AuthConfirmMismatch, "两次输入的新密码不一致"))
    } else {
        let caller = user.clone();
        let st2 = st.clone();
        st.run(move |conn| {
            let enrolment = service::Enrolment { token: &form.totp_token, code: &form.totp_code };
            service::change_own_password(
                conn,
                &st2.keys,
                &caller,
                &form.old_password,
                &form.new_password,
                Some(enrolment),
                caller.now(),
            )
        })
        .await
    };
    match result {
        Ok(()) => Ok(see_other("/login?ok=password")),
        Err(e) if e.kind == crate::error::ErrorKind::Invalid => {
            let page = password_page_for(&st, &user, FormErrors::from_error(&e)).await?;
            Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(page.render().map_err(AppError::from)?))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- accounts (pages)

#[derive(Template, WebTemplate)]
#[template(path = "auth/users.html")]
pub struct UsersPage {
    layout: Layout,
    users: Vec<UserView>,
    q: String,
    can_create: bool,
    me: i64,
    me_name: String,
    requests: Vec<service::AccountRequest>,
}

pub async fn users(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<UserFilter>,
) -> PageResult<UsersPage> {
    let f = q.into_inner();
    let c = caller.clone();
    let q = f.q.clone();
    let officer = caller.roles.has_officer();
    let (users, requests) = st
        .run(move |conn| {
            let requests = if officer { service::open_requests(conn, &c)? } else { Vec::new() };
            Ok((service::list_users(conn, &c, &f)?, requests))
        })
        .await?;
    Ok(UsersPage {
        requests,
        layout: Layout::new(&caller, &st, "用户管理"),
        users,
        q,
        can_create: caller.may(Permission::ManageUsers),
        me: caller.user_id.unwrap_or(0),
        me_name: caller.username.clone(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/user_form.html")]
pub struct UserFormPage {
    layout: Layout,
    form: NewUser,
    roles: Vec<(&'static str, &'static str, bool)>,
    errors: FormErrors,
}

fn role_choices(selected: &[String]) -> Vec<(&'static str, &'static str, bool)> {
    ALL_ROLES.iter().map(|r| (r.as_str(), r.label(), selected.iter().any(|s| s == r.as_str()))).collect()
}

pub async fn user_new(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<UserFormPage> {
    if !caller.may(Permission::ManageUsers) {
        let c = caller.clone();
        st.run(move |conn| c.require(conn, Permission::ManageUsers, "user_form")).await?;
    }
    let form = NewUser { org_code: caller.org_code.clone(), ..NewUser::default() };
    Ok(UserFormPage {
        layout: Layout::new(&caller, &st, "新建用户"),
        form,
        roles: role_choices(&[]),
        errors: FormErrors::none(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/credentials.html")]
pub struct CredentialsPage {
    layout: Layout,
    creds: Credentials,
    otpauth: String,
}

fn credentials_page(caller: &crate::auth::Caller, st: &AppState, creds: Credentials) -> CredentialsPage {
    let otpauth = creds
        .totp_secret
        .as_ref()
        .map(|s| format!("otpauth://totp/mealroll:{}?secret={s}&issuer=mealroll&period=30&digits=6", creds.username))
        .unwrap_or_default();
    CredentialsPage { layout: Layout::new(caller, st, "账号凭据"), creds, otpauth }
}

pub async fn user_create(st: web::Data<AppState>, f: CsrfForm<Vec<(String, String)>>) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let input = NewUser {
        username: get("username"),
        display_name: get("display_name"),
        org_code: get("org_code"),
        roles: form.iter().filter(|(n, _)| n == "roles").map(|(_, v)| v.clone()).collect(),
        password: None,
    };
    let c = caller.clone();
    let i = input.clone();
    let st2 = st.clone();
    match st.run(move |conn| service::create_user(conn, &st2.keys, &c, &i, c.now())).await {
        Ok(creds) => Ok(html(credentials_page(&caller, &st, creds).render().map_err(AppError::from)?)),
        Err(e) if e.kind == crate::error::ErrorKind::Invalid => {
            let page = UserFormPage {
                layout: Layout::new(&caller, &st, "新建用户"),
                roles: role_choices(&input.roles),
                form: input,
                errors: FormErrors::from_error(&e),
            };
            Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .body(page.render().map_err(AppError::from)?))
        }
        Err(e) => Err(e.into()),
    }
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ActionForm {
    action: AccountAction,
}

pub async fn user_action(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<ActionForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let id = path.into_inner();
    let c = caller.clone();
    let st2 = st.clone();
    let creds = st.run(move |conn| service::act_on_user(conn, &st2.keys, &c, id, form.action, c.now())).await?;
    match creds {
        Some(creds) => Ok(html(credentials_page(&caller, &st, creds).render().map_err(AppError::from)?)),
        None => Ok(see_other("/users?ok=saved")),
    }
}

// ---------------------------------------------------------------- API

pub async fn api_token(
    req: HttpRequest,
    st: web::Data<AppState>,
    body: ApiJson<LoginInput>,
) -> AppResult<Reply<impl Body>> {
    let input = body.into_inner();
    let ip = client_ip(&req);
    let st2 = st.clone();
    let token =
        st.run(move |conn| service::login(conn, &st2.keys, &st2.settings, &input, &ip, crate::clock::now())).await?;
    Ok(Reply(Token { token }))
}

/// A bearer token for `Authorization: Bearer …`.
#[derive(Serialize, JsonSchema)]
pub struct Token {
    token: String,
}

pub async fn api_logout(st: web::Data<AppState>, ApiUser(caller): ApiUser) -> AppResult<NoContent> {
    st.run(move |conn| service::logout(conn, &caller, caller.now())).await?;
    Ok(NoContent)
}

pub async fn api_me(ApiUser(caller): ApiUser) -> Reply<impl Body> {
    Reply(Me {
        user_id: caller.user_id,
        username: caller.username,
        display_name: caller.display_name,
        org: MyOrg { code: caller.org_code, name: caller.org_name, kind: caller.org_kind.as_str() },
        roles: caller.roles.iter().map(Role::as_str).collect(),
    })
}

/// Who the token belongs to.
#[derive(Serialize, JsonSchema)]
pub struct Me {
    /// None for the command line's own caller.
    user_id: Option<i64>,
    username: String,
    display_name: String,
    org: MyOrg,
    roles: Vec<&'static str>,
}

#[derive(Serialize, JsonSchema)]
pub struct MyOrg {
    code: String,
    name: String,
    kind: &'static str,
}

pub async fn api_users(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<UserFilter>,
) -> AppResult<Reply<impl Body>> {
    let f = q.into_inner();
    let users = st.run(move |conn| service::list_users(conn, &caller, &f)).await?;
    Ok(Reply(users))
}

pub async fn api_user(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let user = st.run(move |conn| service::get_user(conn, &caller, id)).await?;
    Ok(Reply(user))
}

pub async fn api_user_create(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    body: ApiJson<NewUser>,
) -> AppResult<Created<impl Body>> {
    let input = body.into_inner();
    let st2 = st.clone();
    let creds = st.run(move |conn| service::create_user(conn, &st2.keys, &caller, &input, caller.now())).await?;
    Ok(Created::new(creds))
}

/// The steps on accounts waiting for another officer (grants, disabling an officer).
pub async fn api_account_requests(st: web::Data<AppState>, ApiUser(caller): ApiUser) -> AppResult<Reply<impl Body>> {
    Ok(Reply(st.run(move |conn| service::open_requests(conn, &caller)).await?))
}

pub async fn api_user_action(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ActionForm>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let action = body.into_inner().action;
    let st2 = st.clone();
    let creds = st.run(move |conn| service::act_on_user(conn, &st2.keys, &caller, id, action, caller.now())).await?;
    Ok(Reply(Acted { ok: true, credentials: creds }))
}

/// An action on an account; a reset gives the new credentials once.
#[derive(Serialize, JsonSchema)]
pub struct Acted {
    ok: bool,
    credentials: Option<Credentials>,
}
