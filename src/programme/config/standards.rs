//! Subsidy standards (补助标准): the national floor and what provinces and counties add, per
//! period, without overlaps; and the central government's share of each.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{central_shares, orgs, subsidy_standards};
use crate::db::{DbConn, write_tx};
use crate::domain::money::Fen;
use crate::domain::programme::{self, Period, PlanType, StandardKind};
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::{Org, ancestor_paths};
use crate::org::service::org_in_scope;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StandardRow {
    pub id: i64,
    pub kind: &'static str,
    pub kind_label: &'static str,
    /// Empty for the national standard.
    pub org_code: String,
    pub org_name: String,
    pub from_date: NaiveDate,
    pub to_date: Option<NaiveDate>,
    pub amount: Fen,
    pub note: String,
}

pub struct StandardInput {
    pub kind: StandardKind,
    /// The org the standard belongs to; `None` means the caller's own (ignored for national).
    pub org_code: Option<String>,
    pub period: Period,
    pub amount: Fen,
    pub note: String,
}

/// Adds a dated standard. The national basic standard is the ministry's (or the operator's at
/// the command line); top-ups belong to a province, county or school in scope; 一补 rates to a
/// province. A period overlapping one already set for the same kind and org is refused.
pub fn add_standard(conn: &mut DbConn, caller: &Caller, input: StandardInput) -> AppResult<i64> {
    caller.require(conn, Permission::ConfigureProgramme, "add_standard")?;
    if input.amount.fen() <= 0 || input.amount.fen() > 100_000 {
        return Err(AppError::field("amount", ErrorCode::StandardAmount, "标准应大于0且不超过1000元/天"));
    }
    let org: Option<Org> = if input.kind.is_national() {
        if !(caller.is_cli() || caller.org_kind == OrgKind::Ministry) {
            return Err(AppError::new(
                crate::error::ErrorKind::Forbidden,
                ErrorCode::StandardNational,
                "国家基础标准只能由教育部（或系统管理员在命令行）设置",
            ));
        }
        None
    } else {
        if !caller.org_kind.is_county_or_above() && !caller.is_cli() {
            return Err(AppError::forbidden());
        }
        let code = input.org_code.clone().unwrap_or_else(|| caller.org_code.clone());
        let org = org_in_scope(conn, caller.scope(), &code)?;
        let kind = org.kind;
        let fits = match input.kind {
            StandardKind::MealTopUp => matches!(kind, OrgKind::Province | OrgKind::County | OrgKind::School),
            _ => kind == OrgKind::Province,
        };
        if !fits {
            return Err(AppError::field(
                "org",
                ErrorCode::StandardOrgLevel,
                format!(
                    "{}应由{}设置，“{}”不适用",
                    input.kind.label(),
                    if input.kind == StandardKind::MealTopUp { "省、县或学校" } else { "省级" },
                    org.name
                ),
            ));
        }
        Some(org)
    };
    let note: String = input.note.trim().chars().take(200).collect();
    write_tx(conn, |conn| {
        let mut q = subsidy_standards::table.filter(subsidy_standards::kind.eq(input.kind.as_str())).into_boxed();
        q = match &org {
            Some(o) => q.filter(subsidy_standards::org_id.eq(o.id)),
            None => q.filter(subsidy_standards::org_id.is_null()),
        };
        let existing: Vec<(NaiveDate, Option<NaiveDate>)> =
            q.select((subsidy_standards::from_date, subsidy_standards::to_date)).load(conn)?;
        let existing: Vec<Period> = existing.into_iter().map(|(from, to)| Period { from, to }).collect();
        let whose = org.as_ref().map(|o| o.name.clone()).unwrap_or_else(|| "全国".into());
        programme::check_no_overlap(&existing, &input.period, &format!("{whose}的{}", input.kind.label()))
            .map_err(|m| AppError::field("from_date", ErrorCode::StandardOverlap, m))?;
        let id: i64 = diesel::insert_into(subsidy_standards::table)
            .values((
                subsidy_standards::org_id.eq(org.as_ref().map(|o| o.id)),
                subsidy_standards::kind.eq(input.kind.as_str()),
                subsidy_standards::from_date.eq(input.period.from),
                subsidy_standards::to_date.eq(input.period.to),
                subsidy_standards::amount_fen.eq(input.amount.fen()),
                subsidy_standards::note.eq(&note),
                subsidy_standards::set_by.eq(&caller.username),
                subsidy_standards::set_at.eq(caller.now()),
            ))
            .returning(subsidy_standards::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("programme.standard", "standard", id).after(&serde_json::json!({
                "kind": input.kind.as_str(), "org": org.as_ref().map(|o| &o.code), "from": input.period.from,
                "to": input.period.to, "amount": input.amount.to_string(), "note": note,
            })),
        )?;
        Ok(id)
    })
}

/// Gives an open (or later-ending) standard its last day, so a new one can follow it.
pub fn end_standard(conn: &mut DbConn, caller: &Caller, id: i64, last_day: NaiveDate) -> AppResult<()> {
    caller.require(conn, Permission::ConfigureProgramme, "end_standard")?;
    write_tx(conn, |conn| {
        let (org_id, kind, from, to): (Option<i64>, String, NaiveDate, Option<NaiveDate>) = subsidy_standards::table
            .find(id)
            .select((
                subsidy_standards::org_id,
                subsidy_standards::kind,
                subsidy_standards::from_date,
                subsidy_standards::to_date,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(AppError::not_found)?;
        let allowed = match org_id {
            None => caller.is_cli() || caller.org_kind == OrgKind::Ministry,
            Some(o) => {
                let path: String = orgs::table.find(o).select(orgs::path).first(conn)?;
                caller.scope().contains(&path) && (caller.org_kind.is_county_or_above() || caller.is_cli())
            }
        };
        if !allowed {
            return Err(AppError::forbidden());
        }
        if last_day < from || to.is_some_and(|t| last_day > t) {
            return Err(AppError::field(
                "to_date",
                ErrorCode::StandardEndDate,
                format!("结束日期应不早于开始日期{from}"),
            ));
        }
        diesel::update(subsidy_standards::table.find(id))
            .set(subsidy_standards::to_date.eq(Some(last_day)))
            .execute(conn)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("programme.standard_end", "standard", id)
                .before(&to)
                .after(&serde_json::json!({"kind": kind, "to": last_day})),
        )
    })
}

/// Standards that bear on the caller: national, its ancestors' and its subtree's.
pub fn standards(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<StandardRow>> {
    caller.require(conn, Permission::ViewOrgs, "list_standards")?;
    type Row = (i64, Option<i64>, String, NaiveDate, Option<NaiveDate>, i64, String);
    let rows: Vec<Row> = subsidy_standards::table
        .select((
            subsidy_standards::id,
            subsidy_standards::org_id,
            subsidy_standards::kind,
            subsidy_standards::from_date,
            subsidy_standards::to_date,
            subsidy_standards::amount_fen,
            subsidy_standards::note,
        ))
        .order((subsidy_standards::kind.asc(), subsidy_standards::from_date.asc()))
        .load(conn)?;
    let org_ids: Vec<i64> = rows.iter().filter_map(|r| r.1).collect();
    let org_rows: Vec<(i64, String, String, String)> = orgs::table
        .filter(orgs::id.eq_any(&org_ids))
        .select((orgs::id, orgs::code, orgs::name, orgs::path))
        .load(conn)?;
    let near = ancestor_paths(caller.org_path());
    let orgs_by_id: BTreeMap<i64, (String, String, String)> =
        org_rows.into_iter().map(|(id, c, n, p)| (id, (c, n, p))).collect();
    Ok(rows
        .into_iter()
        .filter_map(|(id, org_id, kind, from_date, to_date, fen, note)| {
            let kind = StandardKind::parse(&kind)?;
            let (org_code, org_name) = match org_id {
                None => (String::new(), "全国".to_owned()),
                Some(o) => {
                    let (c, n, p) = orgs_by_id.get(&o)?;
                    if !(caller.scope().contains(p) || near.contains(p)) {
                        return None;
                    }
                    (c.clone(), n.clone())
                }
            };
            Some(StandardRow {
                id,
                kind: kind.as_str(),
                kind_label: kind.label(),
                org_code,
                org_name,
                from_date,
                to_date,
                amount: Fen::new(fen),
                note,
            })
        })
        .collect())
}

/// The meal standards that bear on a school between two days, loaded once: the national rows
/// and the top-ups on its path. `on(day)` applies `domain::programme::daily_standard`.
pub struct MealStandards {
    base: Vec<(Period, Fen)>,
    top_ups: Vec<(Period, Fen)>,
}

impl MealStandards {
    pub fn load(conn: &mut DbConn, school_path: &str, from: NaiveDate, to: NaiveDate) -> AppResult<Self> {
        let paths = ancestor_paths(school_path);
        type Row = (Option<String>, String, NaiveDate, Option<NaiveDate>, i64);
        let rows: Vec<Row> = subsidy_standards::table
            .left_join(orgs::table.on(orgs::id.nullable().eq(subsidy_standards::org_id)))
            .filter(subsidy_standards::kind.eq_any([StandardKind::MealBase.as_str(), StandardKind::MealTopUp.as_str()]))
            .filter(subsidy_standards::from_date.le(to))
            .filter(subsidy_standards::to_date.is_null().or(subsidy_standards::to_date.ge(from)))
            .select((
                orgs::path.nullable(),
                subsidy_standards::kind,
                subsidy_standards::from_date,
                subsidy_standards::to_date,
                subsidy_standards::amount_fen,
            ))
            .load(conn)?;
        let mut out = Self { base: Vec::new(), top_ups: Vec::new() };
        for (path, kind, from, to, fen) in rows {
            let row = (Period { from, to }, Fen::new(fen));
            if kind == StandardKind::MealBase.as_str() {
                out.base.push(row);
            } else if path.is_some_and(|p| paths.contains(&p)) {
                out.top_ups.push(row);
            }
        }
        Ok(out)
    }

    pub fn on(&self, day: NaiveDate) -> Option<Fen> {
        programme::daily_standard(&self.base, &self.top_ups, day)
    }
}

/// A school's daily meal standard on one day. `None` before any national standard.
pub fn meal_standard(conn: &mut DbConn, school_path: &str, day: NaiveDate) -> AppResult<Option<Fen>> {
    Ok(MealStandards::load(conn, school_path, day, day)?.on(day))
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ShareRow {
    pub plan_type: &'static str,
    pub label: &'static str,
    pub from_date: NaiveDate,
    /// 全额 / 定额奖补 x 元 / 不奖补.
    pub rule: String,
}

pub fn central_shares(conn: &mut DbConn) -> AppResult<Vec<ShareRow>> {
    let rows: Vec<(String, NaiveDate, String, i64)> = central_shares::table
        .select((
            central_shares::plan_type,
            central_shares::from_date,
            central_shares::mode,
            central_shares::amount_fen,
        ))
        .order((central_shares::plan_type.asc(), central_shares::from_date.asc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(p, from_date, mode, fen)| {
            let p = PlanType::parse(&p)?;
            let rule = match mode.as_str() {
                "all" => "中央财政全额承担".to_owned(),
                "fixed" => format!("中央定额奖补{}元/生·天", Fen::new(fen)),
                _ => "中央不奖补，地方承担".to_owned(),
            };
            Some(ShareRow { plan_type: p.as_str(), label: p.label(), from_date, rule })
        })
        .collect())
}
