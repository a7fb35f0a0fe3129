//! Logging in and out, passwords, and the accounts a system administrator manages.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Actor, Entry};
use crate::auth::account_actions::{self, AccountActions, OpenRequest};
use crate::auth::{Caller, hashing, session, totp};
use crate::config::{Keys, Settings};
use crate::db::schema::{account_requests, login_throttle, orgs, password_history, user_roles, users};
use crate::db::{DbConn, write_tx};
use crate::domain::account::{AccountStatus, RequestAction, RequestStatus};
use crate::domain::password;
use crate::domain::role::{OrgKind, Permission, Role, RoleSet};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct LoginInput {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub totp: Option<String>,
}

/// One message for every refused login, so it reveals neither whether the account exists
/// nor whether it is locked.
fn refused() -> AppError {
    AppError::new(
        ErrorKind::Unauthenticated,
        ErrorCode::AuthInvalidCredentials,
        "用户名、密码或动态口令错误，或账号已被临时锁定（连续5次错误将锁定30分钟）",
    )
}

enum Outcome {
    Ok(String),
    Refused(AppError),
}

/// Checks the credentials and opens a session; every attempt leaves an audit row.
pub fn login(
    conn: &mut DbConn,
    keys: &Keys,
    settings: &Settings,
    input: &LoginInput,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<String> {
    let username = input.username.trim().to_owned();
    if let Some(until) = ip_blocked(conn, ip, now)? {
        let path = audit::service::instance_path(conn)?;
        audit::record_alone(
            conn,
            &Actor::anonymous(ip, &path),
            Entry::new("login.refused_ip", "user", &username)
                .result("denied")
                .after(&serde_json::json!({"blocked_until": until})),
        )?;
        return Err(refused());
    }
    // The slow hash runs outside the transaction, against a decoy for unknown names.
    let row: Option<(i64, String)> = users::table
        .filter(users::username.eq(&username))
        .select((users::id, users::password_hash))
        .first(conn)
        .optional()?;
    let password_ok =
        hashing::verify(&input.password, row.as_ref().map(|(_, h)| h.as_str()).unwrap_or_else(|| hashing::decoy()));
    let outcome = write_tx(conn, |conn| {
        let Some((user_id, _)) = row else {
            let path = audit::service::instance_path(conn)?;
            audit::record(
                conn,
                &Actor::anonymous(ip, &path),
                Entry::new("login.failed", "user", &username).result("failed"),
            )?;
            ip_failed(conn, settings, ip, now)?;
            return Ok(Outcome::Refused(refused()));
        };
        let outcome = attempt(conn, keys, settings, user_id, &username, password_ok, input.totp.as_deref(), ip, now)?;
        if matches!(outcome, Outcome::Refused(_)) && !password_ok {
            ip_failed(conn, settings, ip, now)?;
        }
        Ok(outcome)
    })?;
    match outcome {
        Outcome::Ok(token) => Ok(token),
        Outcome::Refused(e) => Err(e),
    }
}

/// Until when a client address is blocked, if it is.
fn ip_blocked(conn: &mut DbConn, ip: &str, now: NaiveDateTime) -> AppResult<Option<NaiveDateTime>> {
    let until: Option<Option<NaiveDateTime>> =
        login_throttle::table.find(ip).select(login_throttle::blocked_until).first(conn).optional()?;
    Ok(until.flatten().filter(|t| *t > now))
}

/// Counts a failed login against its client address; past the limit within the window the
/// address is blocked (audited). In the login's transaction.
fn ip_failed(conn: &mut DbConn, settings: &Settings, ip: &str, now: NaiveDateTime) -> AppResult<()> {
    let window = Duration::minutes(settings.lockout.window_minutes);
    let row: Option<(i32, NaiveDateTime)> = login_throttle::table
        .find(ip)
        .select((login_throttle::failures, login_throttle::first_failed_at))
        .first(conn)
        .optional()?;
    let (count, since) = match row {
        Some((n, t)) if now - t <= window => (n + 1, t),
        _ => (1, now),
    };
    let block =
        (count >= settings.lockout.ip_max_failures).then(|| now + Duration::minutes(settings.lockout.ip_block_minutes));
    diesel::delete(login_throttle::table.find(ip)).execute(conn)?;
    diesel::insert_into(login_throttle::table)
        .values((
            login_throttle::ip.eq(ip),
            login_throttle::failures.eq(if block.is_some() { 0 } else { count }),
            login_throttle::first_failed_at.eq(since),
            login_throttle::blocked_until.eq(block),
        ))
        .execute(conn)?;
    if block.is_some() {
        let path = audit::service::instance_path(conn)?;
        audit::record(
            conn,
            &Actor::anonymous(ip, &path),
            Entry::new("login.ip_blocked", "ip", ip).result("denied").after(&serde_json::json!({"failures": count})),
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn attempt(
    conn: &mut DbConn,
    keys: &Keys,
    settings: &Settings,
    user_id: i64,
    username: &str,
    password_ok: bool,
    totp_code: Option<&str>,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<Outcome> {
    #[allow(clippy::type_complexity)]
    let (status, failed, first_failed, locked_until, totp_enc, last_step, last_login, created, org_id, must_change): (
        String,
        i32,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<String>,
        i64,
        Option<NaiveDateTime>,
        NaiveDateTime,
        i64,
        bool,
    ) = users::table
        .find(user_id)
        .select((
            users::status,
            users::failed_count,
            users::first_failed_at,
            users::locked_until,
            users::totp_secret_enc,
            users::totp_last_step,
            users::last_login_at,
            users::created_at,
            users::org_id,
            users::must_change_password,
        ))
        .first(conn)?;
    let (org_path, kind): (String, String) = orgs::table.find(org_id).select((orgs::path, orgs::kind)).first(conn)?;
    let actor = Actor { user_id: Some(user_id), name: username.to_owned(), org_path, ip: ip.to_owned() };
    let entry = |action| Entry::new(action, "user", user_id);

    if locked_until.is_some_and(|t| t > now) {
        audit::record(conn, &actor, entry("login.refused_locked").result("denied"))?;
        return Ok(Outcome::Refused(refused()));
    }

    // The second factor is checked only with a right password, and counts as a failure when wrong.
    let roles: Vec<String> =
        user_roles::table.filter(user_roles::user_id.eq(user_id)).select(user_roles::role).load(conn)?;
    let kind = OrgKind::parse(&kind).unwrap_or(OrgKind::School);
    let needs_totp = RoleSet::from_stored(&roles).needs_totp(kind);
    let mut new_step = last_step;
    let mut factor_ok = password_ok;
    // Not yet enrolled (a new account, a reset): the holder logs in with the password alone
    // into the one page that sets a password and binds their own second factor.
    let enrolling = needs_totp && totp_enc.is_none() && must_change;
    if password_ok && needs_totp && !enrolling {
        factor_ok = match (&totp_enc, totp_code.filter(|c| !c.trim().is_empty())) {
            (Some(enc), Some(code)) => {
                let secret = totp::decrypt(&keys.totp, enc)?;
                let unix = u64::try_from(now.and_utc().timestamp()).unwrap_or(0);
                match totp::accept(&secret, code, unix, last_step)? {
                    Some(step) => {
                        new_step = step;
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        };
    }

    if !factor_ok {
        let window = Duration::minutes(settings.lockout.window_minutes);
        let (count, since) = match first_failed {
            Some(t) if now - t <= window => (failed + 1, t),
            _ => (1, now),
        };
        let lock =
            (count >= settings.lockout.max_failures).then(|| now + Duration::minutes(settings.lockout.lock_minutes));
        diesel::update(users::table.find(user_id))
            .set((
                users::failed_count.eq(if lock.is_some() { 0 } else { count }),
                users::first_failed_at.eq(if lock.is_some() { None } else { Some(since) }),
                users::locked_until.eq(lock.or(locked_until)),
            ))
            .execute(conn)?;
        let why = if password_ok { "totp" } else { "password" };
        audit::record(
            conn,
            &actor,
            Entry::new("login.failed", "user", user_id)
                .result("failed")
                .after(&serde_json::json!({"factor": why, "count": count})),
        )?;
        if lock.is_some() {
            audit::record(conn, &actor, entry("user.locked").result("denied"))?;
        }
        return Ok(Outcome::Refused(refused()));
    }

    // Right credentials: the account's own state may still stop the login, and now it may say why.
    let dormant_since = last_login.unwrap_or(created);
    if status == AccountStatus::Active.as_str() && now - dormant_since > Duration::days(settings.accounts.dormant_days)
    {
        diesel::update(users::table.find(user_id))
            .set(users::status.eq(AccountStatus::Sealed.as_str()))
            .execute(conn)?;
        audit::record(conn, &actor, entry("user.sealed_dormant").result("denied"))?;
        return Ok(Outcome::Refused(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::AuthAccountSealed,
            format!("账号已超过{}天未使用，已被封存，请联系安全管理员重新启用", settings.accounts.dormant_days),
        )));
    }
    if status != AccountStatus::Active.as_str() {
        audit::record(conn, &actor, entry("login.refused_inactive").result("denied"))?;
        return Ok(Outcome::Refused(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::AuthAccountInactive,
            "账号已停用或封存，请联系安全管理员",
        )));
    }
    if needs_totp && totp_enc.is_none() && !enrolling {
        audit::record(conn, &actor, entry("login.refused_no_totp").result("denied"))?;
        return Ok(Outcome::Refused(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::AuthTotpMissing,
            "该账号须使用动态口令登录，但尚未绑定，请联系安全管理员",
        )));
    }
    diesel::update(users::table.find(user_id))
        .set((
            users::failed_count.eq(0),
            users::first_failed_at.eq(None::<NaiveDateTime>),
            users::locked_until.eq(None::<NaiveDateTime>),
            users::last_login_at.eq(now),
            users::totp_last_step.eq(new_step),
        ))
        .execute(conn)?;
    let token = session::open(conn, keys, settings, user_id, ip, now)?;
    audit::record(conn, &actor, entry("login.ok"))?;
    Ok(Outcome::Ok(token))
}

pub fn logout(conn: &mut DbConn, caller: &Caller, now: NaiveDateTime) -> AppResult<()> {
    write_tx(conn, |conn| {
        if let Some(sid) = &caller.session_id {
            session::revoke(conn, sid, now)?;
        }
        audit::record(conn, &caller.actor(), Entry::new("logout", "user", caller.user_id.unwrap_or(0)))
    })
}

/// A second factor being bound by its holder: the secret (shown only to them, carried through
/// the form encrypted under the server's key) and the code their authenticator shows for it.
pub struct Enrolment<'a> {
    pub token: &'a str,
    pub code: &'a str,
}

/// Whether the caller must bind a second factor now (it needs one and has none).
pub fn needs_enrolment(conn: &mut DbConn, caller: &Caller) -> AppResult<bool> {
    let Some(user_id) = caller.user_id else { return Ok(false) };
    let has: bool = users::table.find(user_id).select(users::totp_secret_enc.is_not_null()).first(conn)?;
    Ok(!has && caller.roles.needs_totp(caller.org_kind))
}

/// A fresh secret for the holder's own page, and the token the form carries it in.
pub fn enrolment_secret(keys: &Keys) -> AppResult<(String, String)> {
    let secret = totp::new_secret();
    let token = totp::encrypt(&keys.totp, &secret)?;
    Ok((secret, token))
}

/// The caller changes their own password; every session of theirs ends. An account that
/// needs a second factor and has none binds it here, with a code from the secret only the
/// holder has seen.
pub fn change_own_password(
    conn: &mut DbConn,
    keys: &Keys,
    caller: &Caller,
    old: &str,
    new: &str,
    enrolment: Option<Enrolment<'_>>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let user_id = caller.user_id.ok_or_else(AppError::forbidden)?;
    let totp = if needs_enrolment(conn, caller)? {
        let e = enrolment.filter(|e| !e.token.is_empty()).ok_or_else(|| {
            AppError::field(
                "totp_code",
                ErrorCode::AuthTotpEnrol,
                "请用手机验证器添加本页显示的密钥，并填写其显示的6位动态口令",
            )
        })?;
        let secret = totp::decrypt(&keys.totp, e.token)
            .map_err(|_| AppError::field("totp_code", ErrorCode::AuthTotpEnrol, "页面已过期，请刷新后重新添加密钥"))?;
        let unix = u64::try_from(now.and_utc().timestamp()).unwrap_or(0);
        let step = totp::accept(&secret, e.code.trim(), unix, 0)?.ok_or_else(|| {
            AppError::field("totp_code", ErrorCode::AuthTotpCode, "动态口令不正确，请确认验证器中添加的是本页的密钥")
        })?;
        Some((e.token.to_owned(), step))
    } else {
        None
    };
    let stored: String = users::table.find(user_id).select(users::password_hash).first(conn)?;
    if !hashing::verify(old, &stored) {
        return Err(AppError::field("old_password", ErrorCode::AuthWrongPassword, "原密码不正确"));
    }
    if old == new {
        return Err(AppError::field("new_password", ErrorCode::AuthPasswordReused, "新密码不能与原密码相同"));
    }
    password::check(new, &caller.username)
        .map_err(|m| AppError::field("new_password", ErrorCode::AuthPasswordPolicy, m))?;
    let earlier: Vec<String> = password_history::table
        .filter(password_history::user_id.eq(user_id))
        .order(password_history::id.desc())
        .limit(password::REMEMBERED - 1)
        .select(password_history::password_hash)
        .load(conn)?;
    if earlier.iter().any(|h| hashing::verify(new, h)) {
        return Err(AppError::field(
            "new_password",
            ErrorCode::AuthPasswordReused,
            format!("新密码不能与最近{}次使用过的密码相同", password::REMEMBERED),
        ));
    }
    let hash = hashing::hash(new)?;
    write_tx(conn, |conn| {
        retire_password(conn, user_id, &stored, now)?;
        diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(&hash),
                users::must_change_password.eq(false),
                users::password_changed_at.eq(now),
            ))
            .execute(conn)?;
        if let Some((enc, step)) = &totp {
            diesel::update(users::table.find(user_id))
                .set((users::totp_secret_enc.eq(Some(enc)), users::totp_last_step.eq(step)))
                .execute(conn)?;
            audit::record(conn, &caller.actor(), Entry::new("user.totp_enrolled", "user", user_id))?;
        }
        session::revoke_all(conn, user_id, now)?;
        audit::record(conn, &caller.actor(), Entry::new("user.password_changed", "user", user_id))
    })
}

/// Keeps a password being replaced among the remembered ones, and only as many as needed.
fn retire_password(conn: &mut DbConn, user_id: i64, hash: &str, now: NaiveDateTime) -> AppResult<()> {
    diesel::insert_into(password_history::table)
        .values((
            password_history::user_id.eq(user_id),
            password_history::password_hash.eq(hash),
            password_history::retired_at.eq(now),
        ))
        .execute(conn)?;
    let kept: Vec<i64> = password_history::table
        .filter(password_history::user_id.eq(user_id))
        .order(password_history::id.desc())
        .limit(password::REMEMBERED - 1)
        .select(password_history::id)
        .load(conn)?;
    diesel::delete(
        password_history::table.filter(password_history::user_id.eq(user_id)).filter(password_history::id.ne_all(kept)),
    )
    .execute(conn)?;
    Ok(())
}

// ---------------------------------------------------------------- accounts

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub org_code: String,
    pub org_name: String,
    pub roles: Vec<String>,
    pub role_labels: String,
    pub status: AccountStatus,
    pub locked: bool,
    pub has_totp: bool,
    pub last_login_at: Option<NaiveDateTime>,
    /// What the caller may do with it now.
    pub actions: AccountActions,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub org_code: String,
    pub roles: Vec<String>,
    /// When absent a strong one is generated and shown once.
    #[serde(default)]
    pub password: Option<String>,
}

/// What the creator is shown once: the initial password and, where needed, the TOTP secret.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Credentials {
    pub user_id: i64,
    pub username: String,
    pub password: String,
    pub totp_secret: Option<String>,
    /// Created by a person: waits for the 安全管理员's grant, and nobody has its password yet.
    #[serde(default)]
    pub pending: bool,
}

fn parse_username(s: &str) -> AppResult<String> {
    let s = s.trim().to_owned();
    let ok = (3..=32).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(s)
    } else {
        Err(AppError::field("username", ErrorCode::UserBadUsername, "用户名应为3–32位小写字母、数字或 _ . -"))
    }
}

/// A random password that satisfies the policy for `username` (a draw that happens to
/// contain the username, such as “yyb”, is drawn again).
pub fn generate_password(username: &str) -> String {
    const ALPHA: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    loop {
        let mut s: String = (0..12).map(|_| ALPHA[rand::random_range(0..ALPHA.len())] as char).collect();
        // Guarantee three classes whatever the draw.
        s.push_str(&format!("-{}a{}", rand::random_range(2..10), rand::random_range(2..10)));
        s.insert(0, 'K');
        if password::check(&s, username).is_ok() {
            return s;
        }
    }
}

pub fn create_user(
    conn: &mut DbConn,
    keys: &Keys,
    caller: &Caller,
    input: &NewUser,
    now: NaiveDateTime,
) -> AppResult<Credentials> {
    caller.require(conn, Permission::ManageUsers, "create_user")?;
    let username = parse_username(&input.username)?;
    let display_name = crate::domain::text::required("姓名", &input.display_name, 30)
        .map_err(|m| AppError::field("display_name", ErrorCode::UserBadName, m))?;
    let (org_id, org_path, kind): (i64, String, String) = orgs::table
        .filter(orgs::code.eq(input.org_code.trim()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((orgs::id, orgs::path, orgs::kind))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::field("org_code", ErrorCode::UserBadOrg, "所属单位不存在或不在您的管辖范围内"))?;
    let kind = OrgKind::parse(&kind).unwrap_or(OrgKind::School);
    let mut roles = Vec::new();
    for r in &input.roles {
        roles.push(
            Role::parse(r).ok_or_else(|| AppError::field("roles", ErrorCode::UserBadRole, format!("未知角色“{r}”")))?,
        );
    }
    let roles = RoleSet::new(roles, kind).map_err(|m| AppError::field("roles", ErrorCode::UserBadRoles, m))?;
    // 三员分立 for people: an account a person creates waits for the 安全管理员's grant, and
    // its creator learns neither its password (set at the grant) nor its second factor (bound
    // by the holder at first login). The command line, the machine's operator, sets up at once.
    let pending = !caller.is_cli();
    if pending && input.password.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(AppError::field(
            "password",
            ErrorCode::UserPasswordByGrant,
            "初始密码在安全管理员授权时生成，创建时不能指定",
        ));
    }
    let (password, must_change) = match input.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => {
            password::check(p, &username).map_err(|m| AppError::field("password", ErrorCode::AuthPasswordPolicy, m))?;
            (p.to_owned(), false)
        }
        None => (generate_password(&username), true),
    };
    let hash = hashing::hash(&password)?;
    let totp_secret = (!pending && roles.needs_totp(kind)).then(totp::new_secret);
    let totp_enc = totp_secret.as_deref().map(|s| totp::encrypt(&keys.totp, s)).transpose()?;
    let user_id = write_tx(conn, |conn| {
        let exists: i64 = users::table.filter(users::username.eq(&username)).count().get_result(conn)?;
        if exists > 0 {
            return Err(AppError::field("username", ErrorCode::UserDuplicate, format!("用户名“{username}”已被使用")));
        }
        let id: i64 = diesel::insert_into(users::table)
            .values((
                users::username.eq(&username),
                users::display_name.eq(&display_name),
                users::org_id.eq(org_id),
                users::password_hash.eq(&hash),
                users::must_change_password.eq(must_change),
                users::status.eq(if pending { AccountStatus::Pending } else { AccountStatus::Active }.as_str()),
                users::totp_secret_enc.eq(&totp_enc),
                users::password_changed_at.eq(now),
                users::created_at.eq(now),
                users::created_by.eq((!caller.is_cli()).then_some(caller.username.as_str())),
            ))
            .returning(users::id)
            .get_result(conn)?;
        if pending {
            open_request(conn, id, RequestAction::Grant, &caller.username, now)?;
        }
        for r in roles.iter() {
            diesel::insert_into(user_roles::table)
                .values((user_roles::user_id.eq(id), user_roles::role.eq(r.as_str())))
                .execute(conn)?;
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("user.create", "user", id).after(&serde_json::json!({
                "username": username, "display_name": display_name, "org": org_path,
                "roles": roles.iter().map(Role::as_str).collect::<Vec<_>>(),
            })),
        )?;
        Ok(id)
    })?;
    if pending {
        return Ok(Credentials { user_id, username, password: String::new(), totp_secret: None, pending: true });
    }
    Ok(Credentials { user_id, username, password, totp_secret, pending: false })
}

/// Opens a step one officer asks for and another decides. In the caller's transaction.
fn open_request(conn: &mut DbConn, user_id: i64, action: RequestAction, by: &str, now: NaiveDateTime) -> AppResult<()> {
    diesel::insert_into(account_requests::table)
        .values((
            account_requests::user_id.eq(user_id),
            account_requests::action.eq(action.as_str()),
            account_requests::requested_by.eq(by),
            account_requests::requested_at.eq(now),
            account_requests::status.eq(RequestStatus::Pending.as_str()),
        ))
        .execute(conn)
        .map_err(|e| match AppError::from(e) {
            e if e.code == ErrorCode::DbDuplicate => {
                AppError::conflict(ErrorCode::UserRequestOpen, "该账号已有待另一管理员确认的同类申请")
            }
            e => e,
        })?;
    Ok(())
}

/// A step on an account waiting for another officer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AccountRequest {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub action: RequestAction,
    pub action_label: &'static str,
    pub requested_by: String,
    pub requested_at: NaiveDateTime,
    /// What the caller may do with it now.
    pub actions: account_actions::RequestActions,
}

/// The open requests on accounts in the caller's scope (for the three officers).
pub fn open_requests(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<AccountRequest>> {
    if !caller.roles.has_officer() && !caller.is_cli() {
        return Err(AppError::forbidden());
    }
    let rows: Vec<(i64, i64, String, String, String, NaiveDateTime)> = account_requests::table
        .inner_join(users::table.inner_join(orgs::table))
        .filter(account_requests::status.eq(RequestStatus::Pending.as_str()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((
            account_requests::id,
            account_requests::user_id,
            users::username,
            account_requests::action,
            account_requests::requested_by,
            account_requests::requested_at,
        ))
        .order(account_requests::id.asc())
        .load(conn)?;
    rows.into_iter()
        .map(|(id, user_id, username, action, requested_by, requested_at)| {
            let action = crate::error::stored::<RequestAction>(action)?;
            Ok(AccountRequest {
                id,
                user_id,
                username,
                action_label: action.label(),
                actions: account_actions::of_request(
                    caller,
                    &OpenRequest { user_id, action, requested_by: &requested_by },
                ),
                action,
                requested_by,
                requested_at,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct UserFilter {
    #[serde(default)]
    pub q: String,
}

pub fn list_users(conn: &mut DbConn, caller: &Caller, f: &UserFilter) -> AppResult<Vec<UserView>> {
    query_users(conn, caller, f, None)
}

fn query_users(conn: &mut DbConn, caller: &Caller, f: &UserFilter, only: Option<i64>) -> AppResult<Vec<UserView>> {
    // The three officers see the accounts (the audit administrator confirms steps on them).
    if !(caller.may(Permission::ManageUsers)
        || caller.may(Permission::ManageSecurity)
        || caller.may(Permission::ViewAudit))
    {
        caller.require(conn, Permission::ManageUsers, "list_users")?;
    }
    let mut q = users::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((
            users::id,
            users::username,
            users::display_name,
            orgs::code,
            orgs::name,
            users::status,
            users::locked_until,
            users::totp_secret_enc.is_not_null(),
            users::last_login_at,
        ))
        .order(users::username.asc())
        .limit(500)
        .into_boxed();
    if let Some(id) = only {
        q = q.filter(users::id.eq(id));
    }
    let term = crate::audit::service::escape_like(f.q.trim());
    if !term.is_empty() {
        let pat = format!("%{term}%");
        q = q.filter(
            users::username.like(pat.clone()).or(users::display_name.like(pat.clone())).or(orgs::name.like(pat)),
        );
    }
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        i64,
        String,
        String,
        String,
        String,
        String,
        Option<NaiveDateTime>,
        bool,
        Option<NaiveDateTime>,
    )> = q.load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let role_rows: Vec<(i64, String)> = user_roles::table
        .filter(user_roles::user_id.eq_any(&ids))
        .select((user_roles::user_id, user_roles::role))
        .load(conn)?;
    let now = caller.now();
    rows.into_iter()
        .map(|(id, username, display_name, org_code, org_name, status, locked_until, has_totp, last_login_at)| {
            let roles: Vec<String> = role_rows.iter().filter(|(u, _)| *u == id).map(|(_, r)| r.clone()).collect();
            let role_labels = RoleSet::from_stored(&roles).labels();
            let mut view = UserView {
                id,
                username,
                display_name,
                org_code,
                org_name,
                roles,
                role_labels,
                status: crate::error::stored::<AccountStatus>(status)?,
                locked: locked_until.is_some_and(|t| t > now),
                has_totp,
                last_login_at,
                actions: AccountActions::default(),
            };
            view.actions = account_actions::of(caller, &view);
            Ok(view)
        })
        .collect()
}

/// One user in the caller's scope (404 outside it).
pub fn get_user(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<UserView> {
    query_users(conn, caller, &UserFilter::default(), Some(id))?.into_iter().next().ok_or_else(AppError::not_found)
}

/// What an administrator can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountAction {
    /// 系统管理员: a new random password, to be changed at next login.
    ResetPassword,
    /// 系统管理员: stop the account; its sessions end.
    Disable,
    /// 系统管理员 (disabled) or 安全管理员 (sealed): let it log in again.
    Enable,
    /// 安全管理员: lift a lockout.
    Unlock,
    /// 安全管理员: the second factor is bound again by the holder at next login (never shown to
    /// the administrator).
    ResetTotp,
    /// 安全管理员: let an account a person created log in; its initial password is made now.
    Grant,
    /// Another officer (not who asked, not the account itself): carry out the disabling of an
    /// officer's account that a 系统管理员 asked for.
    ConfirmDisable,
    /// The same officer: refuse a pending grant or disabling.
    RefuseRequest,
}

/// Applies an account action; returns the new credentials where the action made any.
pub fn act_on_user(
    conn: &mut DbConn,
    keys: &Keys,
    caller: &Caller,
    id: i64,
    action: AccountAction,
    now: NaiveDateTime,
) -> AppResult<Option<Credentials>> {
    let target = get_user(conn, caller, id)?;
    let target_is_officer = target.roles.iter().any(|r| Role::parse(r).is_some_and(Role::is_officer));
    if matches!(action, AccountAction::ConfirmDisable | AccountAction::RefuseRequest) {
        return decide_request(conn, caller, &target, action == AccountAction::ConfirmDisable, now).map(|_| None);
    }
    caller.require(conn, account_actions::needed(&target, action), "user_action")?;
    account_actions::may_act(caller, &target, action)?;
    // No officer disables another alone: the request waits for a second officer.
    if action == AccountAction::Disable && target_is_officer && !caller.is_cli() {
        write_tx(conn, |conn| {
            open_request(conn, id, RequestAction::Disable, &caller.username, now)?;
            audit::record(
                conn,
                &caller.actor(),
                Entry::new("user.disable_requested", "user", id)
                    .after(&serde_json::json!({"username": target.username})),
            )
        })?;
        return Ok(None);
    }
    if action == AccountAction::Grant {
        return grant(conn, caller, &target, now).map(Some);
    }
    let mut creds = None;
    let (password_hash, totp_enc) = match action {
        AccountAction::ResetPassword => {
            let pw = generate_password(&target.username);
            let hash = hashing::hash(&pw)?;
            creds = Some(Credentials {
                user_id: id,
                username: target.username.clone(),
                password: pw,
                totp_secret: None,
                pending: false,
            });
            (Some(hash), None::<String>)
        }
        _ => (None, None),
    };
    let _ = keys;
    let label = format!("{action:?}");
    write_tx(conn, |conn| {
        let t = users::table.find(id);
        match action {
            AccountAction::ResetPassword => {
                let stored: String = t.select(users::password_hash).first(conn)?;
                retire_password(conn, id, &stored, now)?;
                diesel::update(t)
                    .set((
                        users::password_hash.eq(password_hash.unwrap_or_default()),
                        users::must_change_password.eq(true),
                        users::password_changed_at.eq(now),
                    ))
                    .execute(conn)?;
                session::revoke_all(conn, id, now)?;
            }
            AccountAction::Disable => {
                diesel::update(t).set(users::status.eq(AccountStatus::Disabled.as_str())).execute(conn)?;
                session::revoke_all(conn, id, now)?;
            }
            AccountAction::Enable => {
                // Reactivation counts as use, so the account is not sealed again at once.
                diesel::update(t)
                    .set((users::status.eq(AccountStatus::Active.as_str()), users::last_login_at.eq(now)))
                    .execute(conn)?;
            }
            AccountAction::Unlock => {
                diesel::update(t)
                    .set((
                        users::locked_until.eq(None::<NaiveDateTime>),
                        users::failed_count.eq(0),
                        users::first_failed_at.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)?;
            }
            AccountAction::ResetTotp => {
                // The holder binds a new factor at next login (with their password, which they
                // then change); the administrator never sees the secret.
                diesel::update(t)
                    .set((
                        users::totp_secret_enc.eq(totp_enc),
                        users::totp_last_step.eq(0i64),
                        users::must_change_password.eq(true),
                    ))
                    .execute(conn)?;
                session::revoke_all(conn, id, now)?;
            }
            AccountAction::Grant | AccountAction::ConfirmDisable | AccountAction::RefuseRequest => {}
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("user.action", "user", id)
                .before(&serde_json::json!({"status": target.status, "locked": target.locked}))
                .after(&serde_json::json!({"action": label})),
        )
    })?;
    Ok(creds)
}

/// The 安全管理员 grants an account a person created: it may log in, with an initial password
/// made now and shown to the granting officer alone (the holder changes it and binds their own
/// second factor at first login). The creator cannot grant (and holds no 安全管理员 role).
fn grant(conn: &mut DbConn, caller: &Caller, target: &UserView, now: NaiveDateTime) -> AppResult<Credentials> {
    let created_by: Option<String> = users::table.find(target.id).select(users::created_by).first(conn)?;
    account_actions::may_grant(caller, created_by.as_deref())?;
    let password = generate_password(&target.username);
    let hash = hashing::hash(&password)?;
    write_tx(conn, |conn| {
        let n = diesel::update(users::table.find(target.id).filter(users::status.eq(AccountStatus::Pending.as_str())))
            .set((
                users::status.eq(AccountStatus::Active.as_str()),
                users::password_hash.eq(&hash),
                users::must_change_password.eq(true),
                users::password_changed_at.eq(now),
                users::last_login_at.eq(now),
            ))
            .execute(conn)?;
        if n != 1 {
            return Err(AppError::conflict(ErrorCode::UserNotPending, "该账号不在待授权状态"));
        }
        close_request(conn, target.id, RequestAction::Grant, &caller.username, RequestStatus::Approved, now)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("user.granted", "user", target.id).after(
                &serde_json::json!({"username": target.username, "roles": target.roles, "created_by": created_by}),
            ),
        )
    })?;
    Ok(Credentials {
        user_id: target.id,
        username: target.username.clone(),
        password,
        totp_secret: None,
        pending: false,
    })
}

/// Another officer decides a pending grant or disabling: never the one who asked, never the
/// account itself; a grant only by a 安全管理员 (refusing one, too).
fn decide_request(
    conn: &mut DbConn,
    caller: &Caller,
    target: &UserView,
    approve: bool,
    now: NaiveDateTime,
) -> AppResult<()> {
    if !caller.roles.has_officer() {
        return Err(AppError::forbidden());
    }
    let open: Option<(i64, String, String)> = account_requests::table
        .filter(account_requests::user_id.eq(target.id))
        .filter(account_requests::status.eq(RequestStatus::Pending.as_str()))
        .select((account_requests::id, account_requests::action, account_requests::requested_by))
        .order(account_requests::id.asc())
        .first(conn)
        .optional()?;
    let Some((_, action, requested_by)) = open else {
        return Err(AppError::conflict(ErrorCode::UserNoRequest, "该账号没有待确认的申请"));
    };
    let action = crate::error::stored::<RequestAction>(action)?;
    account_actions::may_decide(
        caller,
        &OpenRequest { user_id: target.id, action, requested_by: &requested_by },
        approve,
    )?;
    write_tx(conn, |conn| {
        if approve {
            diesel::update(users::table.find(target.id))
                .set(users::status.eq(AccountStatus::Disabled.as_str()))
                .execute(conn)?;
            session::revoke_all(conn, target.id, now)?;
        }
        close_request(conn, target.id, action, &caller.username, RequestStatus::decided(approve), now)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new(if approve { "user.disable_confirmed" } else { "user.request_refused" }, "user", target.id)
                .after(&serde_json::json!({"action": action, "requested_by": requested_by})),
        )
    })
}

fn close_request(
    conn: &mut DbConn,
    user_id: i64,
    action: RequestAction,
    by: &str,
    status: RequestStatus,
    now: NaiveDateTime,
) -> AppResult<()> {
    diesel::update(
        account_requests::table
            .filter(account_requests::user_id.eq(user_id))
            .filter(account_requests::action.eq(action.as_str()))
            .filter(account_requests::status.eq(RequestStatus::Pending.as_str())),
    )
    .set((
        account_requests::status.eq(status.as_str()),
        account_requests::decided_by.eq(by),
        account_requests::decided_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}
