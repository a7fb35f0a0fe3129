//! The API's query and body extractors: like actix's `Query` and `Json`, but a parameter or field
//! the handler does not read is refused (400, naming it) instead of silently ignored — a clerk's
//! misspelt `peroid=2026-10` must not answer with another month's figures.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::error::{AppError, ErrorCode};

/// A query string whose every parameter the handler reads.
pub struct ApiQuery<T>(pub T);

/// A JSON body whose every field the handler reads.
pub struct ApiJson<T>(pub T);

impl<T> ApiQuery<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> ApiJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for ApiQuery<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Deref for ApiJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

fn unknown(what: &str, names: &[String]) -> AppError {
    let listed = names.iter().map(|n| format!("“{n}”")).collect::<Vec<_>>().join("、");
    AppError::bad_request(
        ErrorCode::InputUnknownField,
        format!("{what}{listed}不是本接口的参数，请检查拼写（未知参数不会被忽略）"),
    )
}

/// Deserialises a query string, collecting what `T` does not read.
pub fn strict_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let mut ignored = Vec::new();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    let value: T = serde_ignored::deserialize(de, |path| ignored.push(path.to_string()))
        .map_err(|e| AppError::invalid(ErrorCode::InputMalformedQuery, format!("查询参数有误：{e}")))?;
    if ignored.is_empty() { Ok(value) } else { Err(unknown("查询参数", &ignored)) }
}

/// Deserialises a JSON value, collecting what `T` does not read (nested fields by their path).
pub fn strict_json<T: DeserializeOwned>(json: serde_json::Value) -> Result<T, AppError> {
    let mut ignored = Vec::new();
    let value: T = serde_ignored::deserialize(json, |path| ignored.push(path.to_string())).map_err(|e| {
        AppError::invalid(ErrorCode::InputMalformedJson, format!("请求内容不是有效的JSON或字段类型不符：{e}"))
    })?;
    if ignored.is_empty() { Ok(value) } else { Err(unknown("请求内容中的字段", &ignored)) }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(strict_query(req.query_string()).map(ApiQuery).map_err(Into::into))
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // The body is read as actix's Json reads it (size limit, content type, the Chinese
        // message for bad JSON), then held to the handler's type.
        let body = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let json = body.await?.into_inner();
            strict_json(json).map(ApiJson).map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Filter {
        #[serde(default)]
        org: String,
        #[serde(default, alias = "period")]
        month: String,
    }

    #[test]
    fn a_misspelt_parameter_is_named_and_refused() {
        let e = strict_query::<Filter>("org=522326&peroid=2026-10").expect_err("refused");
        assert_eq!(e.code, ErrorCode::InputUnknownField);
        assert!(e.message.contains("“peroid”"), "{}", e.message);
        let f: Filter = strict_query("org=522326&period=2026-10").expect("period is the month's other name");
        assert_eq!((f.org.as_str(), f.month.as_str()), ("522326", "2026-10"));
    }

    #[test]
    fn an_unknown_body_field_is_named_by_its_path() {
        #[derive(serde::Deserialize, Debug)]
        struct Day {
            #[allow(dead_code)]
            classes: Vec<Class>,
        }
        #[derive(serde::Deserialize, Debug)]
        struct Class {
            #[allow(dead_code)]
            ate: u32,
        }
        let e = strict_json::<Day>(serde_json::json!({"classes": [{"ate": 3, "absnet": []}]})).expect_err("refused");
        assert!(e.message.contains("“classes.0.absnet”"), "{}", e.message);
        assert!(strict_json::<Day>(serde_json::json!({"classes": [{"ate": 3}]})).is_ok());
    }
}
