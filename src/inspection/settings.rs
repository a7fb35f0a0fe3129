//! The rules' thresholds and severities as provinces and counties set them (SPEC §10): a county
//! may tighten or loosen a threshold for its schools, a province sets both for its counties and
//! decides how severe each rule is. Rows are only added; the newest row of the nearest org wins.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{anomaly_settings, orgs};
use crate::db::{DbConn, write_tx};
use crate::domain::anomaly::{Rule, Severity};
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::ancestor_paths;
use crate::org::service::org_in_scope;

/// One stored setting, as the history lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Setting {
    pub id: i64,
    pub org: String,
    pub org_name: String,
    #[serde(skip)]
    path: String,
    pub rule: String,
    pub threshold: Option<String>,
    pub severity: Option<Severity>,
    pub note: String,
    pub set_by: String,
    pub set_at: NaiveDateTime,
}

/// The settings that bear on an org's subtree: its ancestors' and its descendants'.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    rows: Vec<Setting>,
}

impl Settings {
    pub fn load(conn: &mut DbConn, path: &str) -> AppResult<Self> {
        type Row = (i64, String, String, String, String, Option<String>, Option<String>, String, String, NaiveDateTime);
        let rows: Vec<Row> = anomaly_settings::table
            .inner_join(orgs::table)
            .filter(orgs::path.eq_any(ancestor_paths(path)).or(orgs::path.like(format!("{path}%"))))
            .order(anomaly_settings::id.asc())
            .select((
                anomaly_settings::id,
                orgs::code,
                orgs::name,
                orgs::path,
                anomaly_settings::rule,
                anomaly_settings::threshold,
                anomaly_settings::severity,
                anomaly_settings::note,
                anomaly_settings::set_by,
                anomaly_settings::set_at,
            ))
            .load(conn)?;
        Ok(Self {
            rows: rows
                .into_iter()
                .map(|(id, org, org_name, path, rule, threshold, severity, note, set_by, set_at)| Setting {
                    id,
                    org,
                    org_name,
                    path,
                    rule,
                    threshold,
                    severity: severity.as_deref().and_then(Severity::parse),
                    note,
                    set_by,
                    set_at,
                })
                .collect(),
        })
    }

    /// The newest value `pick` finds among the settings of `path` and its ancestors, the nearest
    /// org first.
    fn nearest<T>(&self, rule: Rule, path: &str, pick: impl Fn(&Setting) -> Option<T>) -> Option<T> {
        self.rows
            .iter()
            .filter(|s| s.rule == rule.code() && path.starts_with(&s.path))
            .filter_map(|s| pick(s).map(|v| (s.path.len(), s.id, v)))
            .max_by_key(|(depth, id, _)| (*depth, *id))
            .map(|(_, _, v)| v)
    }

    /// The threshold in force for a school (or county) at `path`: its county's, else its
    /// province's, else the rule's default.
    pub fn threshold(&self, rule: Rule, path: &str) -> Decimal {
        let default = rule.threshold().map_or(Decimal::ZERO, |t| t.default);
        self.nearest(rule, path, |s| s.threshold.as_deref().and_then(|t| t.parse::<Decimal>().ok())).unwrap_or(default)
    }

    /// The severity the province of `path` set for the rule, else its default.
    pub fn severity(&self, rule: Rule, path: &str) -> Severity {
        self.nearest(rule, path, |s| s.severity).unwrap_or(rule.info().severity)
    }

    /// Every setting of one org and its ancestors, newest first: the history.
    pub fn history_of(&self, path: &str) -> Vec<Setting> {
        let mut out: Vec<Setting> = self.rows.iter().filter(|s| path.starts_with(&s.path)).cloned().collect();
        out.reverse();
        out
    }
}

/// A rule's standing for an org, for the settings page.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Standing {
    pub code: &'static str,
    pub title: &'static str,
    pub threshold: Option<String>,
    pub unit: &'static str,
    pub threshold_label: &'static str,
    pub default_threshold: Option<String>,
    pub severity: Severity,
    pub severity_label: &'static str,
}

/// Every rule's threshold and severity in force at an org.
pub fn standing(conn: &mut DbConn, caller: &Caller, org_code: &str) -> AppResult<(Vec<Standing>, Vec<Setting>)> {
    caller.require(conn, Permission::ViewAnomalies, "anomaly_settings")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let settings = Settings::load(conn, &org.path)?;
    let rows = Rule::ALL
        .iter()
        .map(|r| {
            let spec = r.threshold();
            let sev = settings.severity(*r, &org.path);
            Standing {
                code: r.code(),
                title: r.info().title,
                threshold: spec.map(|_| settings.threshold(*r, &org.path).normalize().to_string()),
                unit: spec.map_or("", |t| t.unit),
                threshold_label: spec.map_or("", |t| t.label),
                default_threshold: spec.map(|t| t.default.normalize().to_string()),
                severity: sev,
                severity_label: sev.label(),
            }
        })
        .collect();
    Ok((rows, settings.history_of(&org.path)))
}

/// What someone asks to set for one rule at their org.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub rule: String,
    pub threshold: Option<String>,
    pub severity: Option<String>,
    pub note: String,
}

/// Sets a rule's threshold (a province or county) and/or severity (a province) at the caller's
/// own org. Out-of-range values, a severity below province level and an empty reason are refused.
/// Who sets the rules: a province or a county that configures anomalies, for its own org. The
/// rules page of the caller's own org offers the form on this rule.
pub fn may_set(caller: &Caller) -> AppResult<()> {
    if !caller.may(Permission::ConfigureAnomalies) {
        return Err(AppError::forbidden());
    }
    if !matches!(caller.org_kind, OrgKind::Province | OrgKind::County) {
        return Err(AppError::field("org", ErrorCode::AnomalyLevel, "规则阈值由省或县设置，严重程度由省设置"));
    }
    Ok(())
}

pub fn set(conn: &mut DbConn, caller: &Caller, change: &Change) -> AppResult<Setting> {
    caller.require(conn, Permission::ConfigureAnomalies, "anomaly_settings_set")?;
    may_set(caller)?;
    let org = org_in_scope(conn, caller.scope(), &caller.org_code)?;
    let rule = Rule::parse(&change.rule).ok_or_else(|| {
        AppError::field(
            "rule",
            ErrorCode::AnomalyRule,
            format!("没有规则“{}”：规则编号为 A01 至 {}", change.rule, Rule::LAST),
        )
    })?;
    let threshold = match change.threshold.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => {
            let spec = rule.threshold().ok_or_else(|| {
                AppError::field(
                    "threshold",
                    ErrorCode::AnomalyNoThreshold,
                    format!("规则{}没有可设置的阈值", rule.code()),
                )
            })?;
            Some(spec.parse(rule, t).map_err(|m| AppError::field("threshold", ErrorCode::AnomalyThreshold, m))?)
        }
    };
    let severity = match change.severity.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(s) => {
            if org.kind != OrgKind::Province {
                return Err(AppError::field("severity", ErrorCode::AnomalySeverityLevel, "规则的严重程度由省级设置"));
            }
            Some(Severity::parse(s).ok_or_else(|| {
                AppError::field("severity", ErrorCode::AnomalySeverity, format!("严重程度“{s}”应为 提示、预警 或 拒付"))
            })?)
        }
    };
    if threshold.is_none() && severity.is_none() {
        return Err(AppError::field("threshold", ErrorCode::AnomalyNothing, "请填写阈值或选择严重程度"));
    }
    let note: String = change.note.trim().chars().take(200).collect();
    if note.is_empty() {
        return Err(AppError::field("note", ErrorCode::AnomalyReason, "调整规则须注明依据"));
    }
    let at = caller.now();
    let threshold = threshold.map(|t| t.normalize().to_string());
    write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(anomaly_settings::table)
            .values((
                anomaly_settings::org_id.eq(org.id),
                anomaly_settings::rule.eq(rule.code()),
                anomaly_settings::threshold.eq(&threshold),
                anomaly_settings::severity.eq(severity.map(Severity::as_str)),
                anomaly_settings::note.eq(&note),
                anomaly_settings::set_by.eq(&caller.username),
                anomaly_settings::set_at.eq(at),
            ))
            .returning(anomaly_settings::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("anomaly.setting", "rule", rule.code()).after(&serde_json::json!({
                "org": org.code, "threshold": threshold, "severity": severity.map(Severity::as_str), "note": note,
            })),
        )?;
        Ok(Setting {
            id,
            org: org.code.clone(),
            org_name: org.name.clone(),
            path: org.path.clone(),
            rule: rule.code().to_owned(),
            threshold: threshold.clone(),
            severity,
            note: note.clone(),
            set_by: caller.username.clone(),
            set_at: at,
        })
    })
}
