//! What pages and the API send for programme settings, as text, and its one parser: a form and
//! a JSON body go through the same checks and get the same messages.

use chrono::NaiveDate;
use serde::Deserialize;

use super::config::{ModelInput, StandardInput};
use crate::domain::calendar::{MealMonth, Month};
use crate::domain::money::Fen;
use crate::domain::programme::{MealModel, Period, PlanType, StandardKind};
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::registry::status::parse_day;

fn optional_day(field: &str, s: &str) -> AppResult<Option<NaiveDate>> {
    if s.trim().is_empty() { Ok(None) } else { parse_day(field, s).map(Some) }
}

fn period(from: &str, to: &str) -> AppResult<Period> {
    let from = parse_day("from_date", from)?;
    Period::new(from, optional_day("to_date", to)?).map_err(|m| AppError::field("to_date", ErrorCode::PeriodOrder, m))
}

pub fn term(s: &str) -> AppResult<Term> {
    Term::parse(s).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct PlanBody {
    pub county: String,
    pub school_year: String,
    pub plan_type: String,
}

impl PlanBody {
    pub fn parse(&self) -> AppResult<(i32, PlanType)> {
        let year = self
            .school_year
            .trim()
            .parse::<i32>()
            .map_err(|_| AppError::field("school_year", ErrorCode::PlanYear, "学年应为四位年份，如2026"))?;
        let plan = PlanType::parse(&self.plan_type).ok_or_else(|| {
            AppError::field(
                "plan_type",
                ErrorCode::PlanType,
                "计划类型应为 national（国家计划县）、local_award、local_no_award 或 other",
            )
        })?;
        Ok((year, plan))
    }
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct JoinBody {
    pub school: String,
    pub from_date: String,
    pub to_date: String,
    /// A form checkbox sends "on"; JSON sends true.
    #[schemars(with = "Option<crate::web::api_doc::BoolOrText>")]
    pub seat_included: Option<serde_json::Value>,
    pub note: String,
}

impl JoinBody {
    pub fn parse(&self) -> AppResult<(Period, bool)> {
        let seat = match &self.seat_included {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => matches!(s.as_str(), "on" | "true" | "1"),
            _ => false,
        };
        Ok((period(&self.from_date, &self.to_date)?, seat))
    }
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct EndBody {
    pub to_date: String,
}

impl EndBody {
    pub fn parse(&self) -> AppResult<NaiveDate> {
        parse_day("to_date", &self.to_date)
    }
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct StandardBody {
    pub kind: String,
    /// Empty: the caller's own org.
    pub org: String,
    pub from_date: String,
    pub to_date: String,
    /// Yuan per student per day, e.g. "1.00".
    pub amount: String,
    pub note: String,
}

impl StandardBody {
    pub fn parse(&self) -> AppResult<StandardInput> {
        let kind = StandardKind::parse(&self.kind)
            .ok_or_else(|| AppError::field("kind", ErrorCode::StandardKind, "请选择标准类别"))?;
        let amount =
            Fen::parse_yuan(&self.amount).map_err(|m| AppError::field("amount", ErrorCode::StandardAmount, m))?;
        Ok(StandardInput {
            kind,
            org_code: Some(self.org.trim().to_owned()).filter(|s| !s.is_empty()),
            period: period(&self.from_date, &self.to_date)?,
            amount,
            note: self.note.clone(),
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct SupplierBody {
    pub name: String,
    pub credit_code: String,
    pub contact: String,
    pub phone: String,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct ModelBody {
    pub model: String,
    pub from_date: String,
    pub to_date: String,
    #[schemars(with = "Option<crate::web::api_doc::NumberOrText>")]
    pub supplier_id: Option<serde_json::Value>,
    /// Class ids; a form sends them comma-separated in `classes`.
    pub class_ids: Vec<i64>,
    pub classes: String,
}

impl ModelBody {
    pub fn parse(&self) -> AppResult<ModelInput> {
        let model = MealModel::parse(&self.model)
            .ok_or_else(|| AppError::field("model", ErrorCode::MealModelKind, "请选择供餐模式"))?;
        let supplier_id =
            match &self.supplier_id {
                Some(serde_json::Value::Number(n)) => n.as_i64(),
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().parse().map_err(|_| {
                    AppError::field("supplier_id", ErrorCode::MealModelSupplierUnknown, "供餐企业无效")
                })?),
                _ => None,
            };
        let mut class_ids = self.class_ids.clone();
        for part in self.classes.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            class_ids.push(
                part.parse().map_err(|_| AppError::field("class_ids", ErrorCode::MealModelClassUnknown, "班级无效"))?,
            );
        }
        Ok(ModelInput { model, period: period(&self.from_date, &self.to_date)?, supplier_id, class_ids })
    }
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct BuildBody {
    pub school: String,
    pub term: String,
    pub snapshot_date: String,
    /// Told that the term's roster is archived, build a new version anyway.
    #[serde(default)]
    pub after_archive: bool,
}

impl BuildBody {
    pub fn parse(&self) -> AppResult<(Term, Option<NaiveDate>)> {
        Ok((term(&self.term)?, optional_day("snapshot_date", &self.snapshot_date)?))
    }

    pub fn after_archive(&self) -> crate::programme::roster::AfterArchive {
        use crate::programme::roster::AfterArchive;
        if self.after_archive { AfterArchive::Confirmed } else { AfterArchive::Refuse }
    }
}

/// A month's meal days as a day list (`1-5,8`).
pub fn month_days(month: &str, days: &str) -> AppResult<MealMonth> {
    let m = Month::parse(month).map_err(|e| AppError::field("month", ErrorCode::CalendarMonth, e))?;
    MealMonth::parse_days(m, days).map_err(|e| AppError::field("days", ErrorCode::CalendarDays, e))
}
