//! Exchange with the centre (跨省查重, issue 22): a province sends, per period, a signed package of
//! its counties' figures and of its children as keyed hashes with the days each was at school and
//! paid for; the centre takes each province's packages in order, finds every child two provinces
//! hold on common days, and sends each province back its own children involved, which the
//! province's anomaly scan names as A01. The rules of the package are `domain::central`.

pub mod centre;
pub mod province;
pub mod routes;
pub mod web;

use chrono::NaiveDate;
use serde::Serialize;

use crate::auth::Caller;
use crate::config::Settings;
use crate::db::DbConn;
use crate::domain::central::{Days, NationalKey, Refusal};
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode};

/// The national key from the settings, or why there is none.
pub fn national_key(settings: &Settings) -> AppResult<NationalKey> {
    let Some(text) = settings.national_key.as_deref() else {
        return Err(AppError::invalid(
            ErrorCode::CentralNoNationalKey,
            "未配置全国统一比对密钥（MEALROLL_NATIONAL_KEY），无法生成或读取交换包",
        ));
    };
    NationalKey::from_hex(text).ok_or_else(|| {
        AppError::invalid(
            ErrorCode::CentralNoNationalKey,
            "全国统一比对密钥（MEALROLL_NATIONAL_KEY）应为至少64个十六进制字符",
        )
    })
}

/// A refusal of the package as the error every caller answers with (nothing was applied).
pub(crate) fn refused(r: Refusal) -> AppError {
    AppError::invalid(r.code(), r.message())
}

/// Who may exchange at which level: a province's office for its province, the centre's
/// (ministry) office for the centre; the command line for both.
pub(crate) fn require_level(conn: &mut DbConn, caller: &Caller, level: OrgKind, what: &str) -> AppResult<()> {
    caller.require(conn, Permission::ExchangeCentral, what)?;
    if caller.is_cli() || caller.org_kind == level {
        return Ok(());
    }
    Err(AppError::invalid(
        ErrorCode::CentralLevel,
        match level {
            OrgKind::Ministry => "只有中心（教育部）营养办可接收各省交换包",
            _ => "交换包由省级营养办生成和接收",
        },
    ))
}

/// Days as stored: a JSON list of `{from, to}`.
pub(crate) fn days_text(days: &[Days]) -> String {
    serde_json::to_string(days).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn days_of(text: &str) -> Vec<Days> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Days counted, and where they start and end.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Extent {
    pub days: i64,
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
}

impl Extent {
    pub fn of(days: &[Days]) -> Self {
        Self {
            days: days.iter().map(Days::count).sum(),
            first: days.first().map(|d| d.from),
            last: days.last().map(|d| d.to),
        }
    }

    /// `2026-11-20至2026-11-30（11天）`, or `—`.
    pub fn label(&self) -> String {
        match (self.first, self.last) {
            (Some(a), Some(b)) => format!("{a}至{b}（{}天）", self.days),
            _ => "—".into(),
        }
    }
}
