//! Sessions: a signed JWT names a server-side session row, so logout, timeouts, password
//! changes and disabling an account end it at once.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::config::{Keys, Settings};
use crate::db::DbConn;
use crate::db::schema::{orgs, sessions, user_roles, users};
use crate::domain::role::{OrgKind, RoleSet};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sid: String,
    sub: i64,
    iat: i64,
    exp: i64,
}

/// Opens a session for a user who just proved who they are; returns the bearer token.
pub fn open(
    conn: &mut DbConn,
    keys: &Keys,
    settings: &Settings,
    user_id: i64,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<String> {
    let sid = hex::encode(rand::random::<[u8; 16]>());
    let expires = now + Duration::hours(settings.session.absolute_hours);
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&sid),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(expires),
            sessions::ip.eq(ip),
        ))
        .execute(conn)?;
    let claims = Claims { sid, sub: user_id, iat: now.and_utc().timestamp(), exp: expires.and_utc().timestamp() };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&keys.jwt))
        .map_err(AppError::internal)
}

fn expired() -> AppError {
    AppError::new(ErrorKind::Unauthenticated, ErrorCode::AuthSessionExpired, "登录已失效，请重新登录")
}

/// Resolves a token to its caller, or says why it no longer counts.
pub fn authenticate(
    conn: &mut DbConn,
    keys: &Keys,
    settings: &Settings,
    token: &str,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<Caller> {
    // Pinned algorithm: `alg: none` and algorithm switches are refused by the validation.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_exp = false; // the session row decides, against `now`
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&keys.jwt), &validation)
        .map_err(|_| AppError::new(ErrorKind::Unauthenticated, ErrorCode::AuthBadToken, "登录凭证无效，请重新登录"))?
        .claims;
    let session: Option<(i64, NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>)> = sessions::table
        .find(&claims.sid)
        .select((sessions::user_id, sessions::last_seen_at, sessions::expires_at, sessions::revoked_at))
        .first(conn)
        .optional()?;
    let Some((user_id, last_seen, expires_at, revoked)) = session else {
        return Err(expired());
    };
    let idle = Duration::minutes(settings.session.idle_minutes);
    if user_id != claims.sub || revoked.is_some() || now >= expires_at || now - last_seen > idle {
        return Err(expired());
    }
    // Writing on every request would serialise readers on SQLite; a minute's precision is plenty.
    if now - last_seen > Duration::seconds(60) {
        diesel::update(sessions::table.find(&claims.sid)).set(sessions::last_seen_at.eq(now)).execute(conn)?;
    }
    active_user(conn, user_id, Some(claims.sid), ip)?.ok_or_else(expired)
}

/// The caller an active user is (None when the user is disabled, locked or sealed).
pub(crate) fn active_user(
    conn: &mut DbConn,
    user_id: i64,
    session_id: Option<String>,
    ip: &str,
) -> AppResult<Option<Caller>> {
    let (username, display_name, status, must_change, org_id) = users::table
        .find(user_id)
        .select((users::username, users::display_name, users::status, users::must_change_password, users::org_id))
        .first::<(String, String, String, bool, i64)>(conn)?;
    if status != crate::domain::account::AccountStatus::Active.as_str() {
        return Ok(None);
    }
    let (code, name, kind, path) = orgs::table
        .find(org_id)
        .select((orgs::code, orgs::name, orgs::kind, orgs::path))
        .first::<(String, String, String, String)>(conn)?;
    let kind = OrgKind::parse(&kind)
        .ok_or_else(|| AppError::internal_msg(ErrorCode::OrgKind, format!("未知机构类型 {kind}")))?;
    let roles: Vec<String> =
        user_roles::table.filter(user_roles::user_id.eq(user_id)).select(user_roles::role).load(conn)?;
    Ok(Some(Caller::user(
        user_id,
        username,
        display_name,
        (org_id, code, name, kind, path),
        RoleSet::from_stored(&roles),
        session_id,
        must_change,
        ip.to_owned(),
    )))
}

pub fn revoke(conn: &mut DbConn, sid: &str, now: NaiveDateTime) -> AppResult<()> {
    diesel::update(sessions::table.find(sid).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Ends every session of a user (password change, disabling, sealing).
pub fn revoke_all(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> AppResult<usize> {
    Ok(diesel::update(sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)?)
}
