//! The dashboard of an org (school, county, or any level above): the last twelve months of
//! beneficiaries, the money entitled, allocated and spent (county and school: from the
//! reconciliation itself), and the schools late with their rosters and regular reports; charts
//! as SVG drawn here, so they print.

use diesel::prelude::*;
use serde::Serialize;

use super::chart::{self, Series};
use super::submission;
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{entitlement_periods, orgs};
use crate::domain::calendar::{Month, Span};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::term::Term;
use crate::error::AppResult;
use crate::ledger::reconcile;
use crate::org::service::org_in_scope;
use crate::programme::roster;

/// A school behind on something, with where to look.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Late {
    pub code: String,
    pub name: String,
    pub what: &'static str,
    pub href: String,
}

/// An org directly below a prefecture or province, with how its schools stand this term:
/// each links to its own dashboard.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Below {
    pub code: String,
    pub name: String,
    /// Schools whose roster is late / whose regular report is late or missing.
    pub rosters_late: usize,
    pub reports_late: usize,
    pub href: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Dashboard {
    pub org: String,
    pub org_name: String,
    pub is_school: bool,
    pub months: Vec<String>,
    /// Children with an entitlement, per month.
    pub beneficiaries: Vec<i64>,
    /// Entitled, allocated, spent per month in yuan (county and school only).
    pub money: Option<[Vec<f64>; 3]>,
    pub term: String,
    /// Schools owing a roster / a regular report this term: (on time, late).
    pub rosters: (usize, usize),
    pub reports: (usize, usize),
    pub late: Vec<Late>,
    /// Above a county: the orgs directly below, lateness summed per org (the school list is
    /// the county's to read).
    pub below: Vec<Below>,
    #[serde(skip)]
    pub charts: Vec<String>,
}

/// The dashboard of `org_code` (the caller's own org when empty), in the caller's scope.
pub fn build(conn: &mut DbConn, caller: &Caller, org_code: &str) -> AppResult<Dashboard> {
    caller.require(conn, Permission::ViewReports, "dashboard")?;
    let org = org_in_scope(conn, caller.scope(), if org_code.is_empty() { &caller.org_code } else { org_code })?;
    let last = Month::of(caller.today()).prev();
    let mut months = vec![last];
    while months.len() < 12 {
        months.push(months[months.len() - 1].prev());
    }
    months.reverse();
    let keys: Vec<i32> = months.iter().map(|m| m.key()).collect();
    let rows: Vec<(i32, i32)> = entitlement_periods::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(format!("{}%", org.path)))
        .filter(entitlement_periods::month.eq_any(&keys))
        .select((entitlement_periods::month, entitlement_periods::students))
        .load(conn)?;
    let beneficiaries: Vec<i64> =
        keys.iter().map(|k| rows.iter().filter(|(m, _)| m == k).map(|(_, n)| i64::from(*n)).sum()).collect();
    // Money from the reconciliation (the same figures finance staff see), for a county or school.
    let level = org.kind;
    let money = if matches!(level, OrgKind::County | OrgKind::School) && caller.may(Permission::ViewLedger) {
        let mut m: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for month in &months {
            let r = reconcile::county_month(conn, caller, &org.code, *month)?;
            let yuan = |f: crate::domain::money::Fen| f.fen() as f64 / 100.0;
            m[0].push(yuan(r.total.entitled));
            m[1].push(yuan(r.total.allocated));
            m[2].push(yuan(r.total.spent));
        }
        Some(m)
    } else {
        None
    };
    let term = Term::of_day(caller.today());
    // The overviews cover the caller's whole scope; keep the schools under this org.
    let paths: std::collections::HashMap<String, String> = orgs::table
        .filter(orgs::path.like(format!("{}%", org.path)))
        .select((orgs::code, orgs::path))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let under: std::collections::HashSet<&String> = paths.keys().collect();
    let mut late = Vec::new();
    let rosters = if caller.may(Permission::ViewStudents) {
        let all: Vec<_> =
            roster::overview(conn, caller, term)?.into_iter().filter(|r| under.contains(&r.school_code)).collect();
        for r in all.iter().filter(|r| r.late) {
            late.push(Late {
                code: r.school_code.clone(),
                name: r.school_name.clone(),
                what: "花名册未按时签章",
                href: format!("/rosters?term={term}"),
            });
        }
        (all.iter().filter(|r| !r.late).count(), all.iter().filter(|r| r.late).count())
    } else {
        (0, 0)
    };
    let span = Span::of_term(term);
    let owed: Vec<_> = submission::overview(conn, caller, "school-regular", &span)?
        .into_iter()
        .filter(|o| under.contains(&o.org))
        .collect();
    for o in owed.iter().filter(|o| o.late) {
        late.push(Late {
            code: o.org.clone(),
            name: o.org_name.clone(),
            what: if o.latest.is_some() { "常规统计报表逾期报送" } else { "常规统计报表未报送" },
            href: format!("/reports/submissions?report=school-regular&period={term}"),
        });
    }
    let reports = (owed.iter().filter(|o| !o.late).count(), owed.iter().filter(|o| o.late).count());
    let below = if matches!(level, OrgKind::County | OrgKind::School | OrgKind::Township) {
        Vec::new()
    } else {
        let children: Vec<(String, String, String)> = orgs::table
            .filter(orgs::parent_id.eq(org.id))
            .order(orgs::code.asc())
            .select((orgs::code, orgs::name, orgs::path))
            .load(conn)?;
        let late_under = |path: &str, what: &str| {
            late.iter()
                .filter(|l| l.what.contains(what) && paths.get(&l.code).is_some_and(|p| p.starts_with(path)))
                .count()
        };
        children
            .into_iter()
            .map(|(code, name, path)| Below {
                rosters_late: late_under(&path, "花名册"),
                reports_late: late_under(&path, "报表"),
                href: format!("/dashboard?org={code}"),
                code,
                name,
            })
            .collect()
    };

    let labels: Vec<String> = months.iter().map(|m| m.to_string()).collect();
    let mut charts = vec![chart::bars(
        "chart-beneficiaries",
        "受益学生人数（按月实名核算）",
        "人",
        &labels,
        &[Series { name: "受益学生", color: "#2b6cb0", values: beneficiaries.iter().map(|n| *n as f64).collect() }],
    )];
    if let Some([entitled, allocated, spent]) = &money {
        charts.push(chart::bars(
            "chart-money",
            "膳食补助：核定、拨付与支出（按月）",
            "元",
            &labels,
            &[
                Series { name: "核定", color: "#718096", values: entitled.clone() },
                Series { name: "已拨付", color: "#2f855a", values: allocated.clone() },
                Series { name: "已支出", color: "#dd6b20", values: spent.clone() },
            ],
        ));
    }
    charts.push(chart::bars(
        "chart-late",
        &format!("{} 花名册与常规统计报表", term.label()),
        "所",
        &["受益花名册".to_owned(), "常规统计报表".to_owned()],
        &[
            Series { name: "按时", color: "#2f855a", values: vec![rosters.0 as f64, reports.0 as f64] },
            Series { name: "逾期或未报", color: "#c53030", values: vec![rosters.1 as f64, reports.1 as f64] },
        ],
    ));
    Ok(Dashboard {
        org: org.code.clone(),
        org_name: org.name.clone(),
        is_school: level == OrgKind::School,
        months: labels,
        beneficiaries,
        money,
        term: term.to_string(),
        rosters,
        reports,
        late,
        below,
        charts,
    })
}
