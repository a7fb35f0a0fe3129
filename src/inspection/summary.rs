//! The county-term summary: schools planned and visited, findings by rule, money at stake and
//! recovered, rectifications overdue, and the measured error rate — from the children of the
//! schools drawn at random only (risk-drawn schools would bias it), with its 95 % interval.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;

use super::findings;
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{inspection_plans, inspection_sampled, inspection_visits, ledger_requests, orgs};
use crate::domain::finding::wilson;
use crate::domain::money::Fen;
use crate::domain::sampling::VisitStatus;
use crate::domain::term::Term;
use crate::error::AppResult;
use crate::ledger::fund::RequestKind;

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
#[schemars(rename = "FindingSummary")]
pub struct Summary {
    pub schools_planned: usize,
    pub schools_visited: usize,
    /// (rule, title, count).
    pub by_rule: Vec<(String, &'static str, usize)>,
    pub findings: usize,
    pub closed: usize,
    pub overdue: usize,
    pub at_stake: Fen,
    pub recovered: Fen,
    /// Children checked at the schools drawn at random, and how many of them were not as paid
    /// (absent, not in the class, not eating there, or the guardian did not confirm).
    pub random_children: usize,
    pub random_errors: usize,
    /// The estimated rate of improper payment with its 95 % Wilson interval, percent.
    pub error_rate: Option<(f64, f64, f64)>,
}

impl Summary {
    pub fn rate_text(&self) -> String {
        match self.error_rate {
            Some((p, lo, hi)) => format!(
                "{:.1}%（95%置信区间 {:.1}%–{:.1}%，随机抽查{}人）",
                p * 100.0,
                lo * 100.0,
                hi * 100.0,
                self.random_children
            ),
            None => "尚无随机抽查的核查结果".into(),
        }
    }
}

pub fn of(conn: &mut DbConn, caller: &Caller, org_code: &str, term: Term) -> AppResult<Summary> {
    let (org, list) = findings::list(conn, caller, org_code, term)?;
    let visits: Vec<(i64, String, Option<String>)> = inspection_visits::table
        .inner_join(inspection_plans::table)
        .inner_join(orgs::table.on(orgs::id.eq(inspection_visits::school_id)))
        .filter(inspection_plans::term.eq(term.to_string()))
        .filter(orgs::path.like(format!("{}%", org.path)))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((inspection_visits::id, inspection_visits::status, inspection_visits::risk))
        .load::<(i64, String, Option<String>)>(conn)?
        .into_iter()
        // A school learns of a visit when it happens, not from the plan.
        .filter(|v| caller.org_kind != crate::domain::role::OrgKind::School || v.1 == VisitStatus::Visited.as_str())
        .collect();
    let random: Vec<i64> =
        visits.iter().filter(|v| v.2.is_none() && v.1 == VisitStatus::Visited.as_str()).map(|v| v.0).collect();
    type Ticks = (Option<bool>, Option<bool>, Option<bool>, Option<bool>);
    let ticks: Vec<Ticks> = inspection_sampled::table
        .filter(inspection_sampled::visit_id.eq_any(&random))
        .select((
            inspection_sampled::present,
            inspection_sampled::in_class,
            inspection_sampled::eats_here,
            inspection_sampled::guardian_confirms,
        ))
        .load(conn)?;
    let checked: Vec<_> = ticks.iter().filter(|t| t.0.is_some()).collect();
    let errors = checked.iter().filter(|t| [t.0, t.1, t.2, t.3].contains(&Some(false))).count();
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for f in &list {
        *by.entry(f.rule.clone()).or_default() += 1;
    }
    let linked: Vec<i64> = list.iter().filter_map(|f| f.ledger_request_id).collect();
    // Recovered: the linked recoveries posted and not reversed since.
    let reversed: Vec<Option<i64>> = ledger_requests::table
        .filter(ledger_requests::reverses_request_id.eq_any(&linked))
        .filter(ledger_requests::status.eq("posted"))
        .select(ledger_requests::reverses_request_id)
        .load(conn)?;
    let recovered: i64 = ledger_requests::table
        .filter(ledger_requests::id.eq_any(&linked))
        .filter(ledger_requests::kind.eq(RequestKind::Recovery.as_str()))
        .filter(ledger_requests::status.eq("posted"))
        .filter(ledger_requests::id.nullable().ne_all(reversed))
        .select(ledger_requests::amount_fen)
        .load::<i64>(conn)?
        .into_iter()
        .sum();
    Ok(Summary {
        schools_planned: visits.len(),
        schools_visited: visits.iter().filter(|v| v.1 == VisitStatus::Visited.as_str()).count(),
        by_rule: by
            .into_iter()
            .map(|(r, n)| {
                let title = list.iter().find(|f| f.rule == r).map_or("", |f| f.rule_title);
                (r, title, n)
            })
            .collect(),
        findings: list.len(),
        closed: list.iter().filter(|f| f.status == crate::domain::finding::Status::Verified).count(),
        overdue: list.iter().filter(|f| f.overdue).count(),
        at_stake: Fen::new(
            list.iter().filter_map(|f| f.amount.as_deref()).filter_map(|a| Fen::parse_yuan(a).ok()).map(Fen::fen).sum(),
        ),
        recovered: Fen::new(recovered.abs()),
        random_children: checked.len(),
        random_errors: errors,
        error_rate: wilson(errors, checked.len()),
    })
}
