//! Template filters for what every page shows alike. Templates name them by path
//! (`{{ t|crate::web::filters::beijing }}`), so no page module needs its own `filters`.

use askama::{Result, Values};
use chrono::NaiveDateTime;

/// A stored UTC instant, however many references deep a template holds it.
pub trait Stored {
    fn utc(&self) -> NaiveDateTime;
}

impl Stored for NaiveDateTime {
    fn utc(&self) -> NaiveDateTime {
        *self
    }
}

impl<T: Stored + ?Sized> Stored for &T {
    fn utc(&self) -> NaiveDateTime {
        (**self).utc()
    }
}

/// A stored UTC instant as Beijing time, `2026-12-02 07:30`.
#[askama::filter_fn]
pub fn beijing(at: impl Stored, _: &dyn Values) -> Result<String> {
    Ok(crate::clock::shown(&at.utc()))
}

/// A stored UTC instant as its Beijing day, `2026-12-02`.
#[askama::filter_fn]
pub fn beijing_day(at: impl Stored, _: &dyn Values) -> Result<String> {
    Ok(crate::clock::local(at.utc()).format("%Y-%m-%d").to_string())
}

/// A stored UTC instant as Beijing time with seconds (the audit log).
#[askama::filter_fn]
pub fn beijing_seconds(at: impl Stored, _: &dyn Values) -> Result<String> {
    Ok(crate::clock::local(at.utc()).format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A ticked box as people read it: 是, 否, or blank before anyone ticked.
#[askama::filter_fn]
pub fn yes_no(v: &Option<bool>, _: &dyn Values) -> Result<&'static str> {
    Ok(match v {
        Some(true) => "是",
        Some(false) => "否",
        None => "",
    })
}
