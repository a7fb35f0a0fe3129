//! The one error type: a stable code, a message for people (中文), an HTTP status,
//! and, for the log only, the internal cause.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub use crate::domain::error_code::ErrorCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input: the message says where and what.
    Invalid,
    /// A request the handler cannot take as asked (a parameter or field it does not know).
    BadRequest,
    /// Not logged in, or the session is over.
    Unauthenticated,
    /// Logged in, but the role may not do this.
    Forbidden,
    /// Does not exist, or lies outside the caller's scope (the two look the same on purpose).
    NotFound,
    /// Clashes with what is stored (duplicate code, stale state).
    Conflict,
    /// Too many attempts.
    Locked,
    /// Our fault; details go to the log, never to the page.
    Internal,
    /// The database cannot be reached: nothing was done, and it is worth trying again shortly.
    Unavailable,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Locked => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// One problem with one input field, for forms and import reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct FieldError {
    pub field: String,
    pub code: ErrorCode,
    pub message: String,
}

pub struct AppError {
    pub kind: ErrorKind,
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<FieldError>,
    source: Option<anyhow::Error>,
}

pub type AppResult<T> = Result<T, AppError>;

/// A state or kind read back from its text column (`stored_as_text!`): one this version does not
/// know is an internal error, never read as some other state.
pub fn stored<T: TryFrom<String, Error = String>>(s: String) -> AppResult<T> {
    T::try_from(s).map_err(|e| AppError::internal(anyhow::anyhow!(e)))
}

impl AppError {
    pub fn new(kind: ErrorKind, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { kind, code, message: message.into(), fields: Vec::new(), source: None }
    }

    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    /// An input error tied to one field.
    pub fn field(field: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::invalid(code, message.clone());
        e.fields.push(FieldError { field: field.to_owned(), code, message });
        e
    }

    /// Several field errors at once, so a form shows them all.
    pub fn fields(fields: Vec<FieldError>) -> Self {
        let message = fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("；");
        let code = fields.first().map(|f| f.code).unwrap_or(ErrorCode::InputInvalid);
        Self { kind: ErrorKind::Invalid, code, message, fields, source: None }
    }

    pub fn not_found() -> Self {
        Self::new(ErrorKind::NotFound, ErrorCode::NotFound, "记录不存在或不在您的管辖范围内")
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorKind::Forbidden, ErrorCode::Forbidden, "您的角色无权进行此操作")
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorKind::Unauthenticated, ErrorCode::AuthRequired, "请先登录")
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, code, message)
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    pub fn internal<E: Into<anyhow::Error>>(err: E) -> Self {
        Self {
            kind: ErrorKind::Internal,
            code: ErrorCode::Internal,
            message: "系统内部错误，请稍后重试或联系管理员".into(),
            fields: Vec::new(),
            source: Some(err.into()),
        }
    }

    /// The database went away (stopped, restarting, the network between): said plainly, with
    /// the reassurance people need; the pool reconnects by itself once it is back.
    pub fn unavailable() -> Self {
        Self::new(
            ErrorKind::Unavailable,
            ErrorCode::DbUnavailable,
            "数据库暂时无法连接，本次操作未执行。请稍后再试：数据库恢复后系统会自动重新连接，已保存的数据不受影响",
        )
    }

    pub fn internal_msg(code: ErrorCode, message: String) -> Self {
        Self::new(ErrorKind::Internal, code, message)
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody { error: self.code, message: &self.message, fields: &self.fields }
    }
}

/// Every refusal's answer: the code programs match on, the message for people, and each field's problem.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody<'a> {
    pub error: ErrorCode,
    /// 中文说明
    pub message: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    pub fields: &'a [FieldError],
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.kind.status().as_u16(), self.message)?;
        if let Some(src) = &self.source {
            write!(f, "\n  caused by: {src:#}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for AppError {}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::not_found(),
            // A sealed column that did not open says why (wrong key ring, damaged value).
            Error::DeserializationError(inner) if inner.is::<AppError>() => match inner.downcast::<AppError>() {
                Ok(e) => *e,
                Err(other) => AppError::internal(anyhow::anyhow!(other)),
            },
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::conflict(ErrorCode::DbDuplicate, "同一编码的记录已存在")
            }
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                AppError::conflict(ErrorCode::DbInUse, "该记录仍被其他数据引用，不能删除或修改")
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                tracing::warn!(error = %info.message(), "database connection lost");
                AppError::unavailable()
            }
            other => AppError::internal(other),
        }
    }
}

impl From<diesel::r2d2::Error> for AppError {
    fn from(e: diesel::r2d2::Error) -> Self {
        match e {
            diesel::r2d2::Error::ConnectionError(c) => {
                tracing::warn!(error = %c, "database unavailable");
                AppError::unavailable()
            }
            other => AppError::internal(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        // The cause (which host, which port) goes to the log, not to the page.
        tracing::warn!(error = %e, "database unavailable");
        AppError::unavailable()
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::internal(e)
    }
}

/// API handlers answer JSON (`{"error": code, "message": …}`); pages get `web::error_page`.
impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.kind == ErrorKind::Internal {
            tracing::error!(error = ?self, "request failed");
        }
        let mut r = HttpResponse::build(self.status());
        if self.kind == ErrorKind::Unavailable {
            r.insert_header((actix_web::http::header::RETRY_AFTER, "10"));
        }
        r.json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_and_forbidden_have_stable_codes_and_statuses() {
        assert_eq!(AppError::not_found().status(), StatusCode::NOT_FOUND);
        assert_eq!(AppError::not_found().code, ErrorCode::NotFound);
        assert_eq!(AppError::forbidden().status(), StatusCode::FORBIDDEN);
        let e: AppError = diesel::result::Error::NotFound.into();
        assert_eq!(e.code, ErrorCode::NotFound);
    }

    #[test]
    fn internal_errors_hide_their_cause_from_people() {
        let e = AppError::internal(anyhow::anyhow!("secret detail"));
        assert!(!e.message.contains("secret"));
        assert!(format!("{e:?}").contains("secret detail"));
    }
}
