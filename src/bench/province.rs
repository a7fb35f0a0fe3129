//! `mealroll bench province`: a province you can measure (issue 22). Generates, with the same
//! set-based paths as the county benches, `children` children (6,000,000 by default) in up to 90
//! counties of 贵州省 (520000) in schools of 1,000, each county with a year of entitlements and
//! of canteen purchases and expenditure requests; then measures, at province, prefecture, county
//! and school level, the student list and its count, the county report, a roll-up, the
//! reconciliation, one county's anomaly scan, the month's entitlement for the whole province, and
//! the list pages under `clients` concurrent clients each pausing between requests. A database
//! that holds the generated province already is measured again without generating it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;

use super::{BenchResult, canteen_year, county_with_a_year, peak_rss_mb, percentile, reset_peak_rss, timestamp_sql};
use crate::auth::Caller;
use crate::config::{Keys, Settings};
use crate::db::schema::{orgs, students, users};
use crate::db::{DbConn, Pool};
use crate::domain::calendar::{MealMonth, Month, Span};
use crate::domain::role::OrgKind;
use crate::error::{AppError, AppResult, ErrorCode};

const PROVINCE: &str = "520000";
const MAX_COUNTIES: usize = 90;
/// County `i`'s schools are coded `3000ii0000` up: a prefix of their own per county.
const FIRST_SCHOOL: i64 = 3_000_000_000;

fn first_school(i: usize) -> i64 {
    FIRST_SCHOOL + (i as i64) * 10_000
}

/// The province's counties, in code order (at most 90).
fn counties(conn: &mut DbConn) -> AppResult<Vec<(String, String)>> {
    let province_path: String = orgs::table.filter(orgs::code.eq(PROVINCE)).select(orgs::path).first(conn)?;
    let mut all: Vec<(String, String)> = orgs::table
        .filter(orgs::kind.eq(OrgKind::County.as_str()))
        .filter(orgs::path.like(format!("{province_path}%")))
        .order(orgs::code.asc())
        .select((orgs::code, orgs::path))
        .load(conn)?;
    all.truncate(MAX_COUNTIES);
    Ok(all)
}

/// Generates the province unless it is there; returns the school year booked and whether it was
/// generated now.
fn generate(conn: &mut DbConn, counties: &[(String, String)], children: usize) -> AppResult<(i32, bool)> {
    let done: i64 = orgs::table.filter(orgs::code.like("3000%")).count().get_result(conn)?;
    let year = crate::domain::term::Term::of_day(crate::clock::today()).school_year() - 1;
    if done > 0 {
        eprintln!("数据库中已有生成的省份数据，直接测量。");
        return Ok((year, false));
    }
    let per = children.div_ceil(counties.len().max(1));
    let started = Instant::now();
    for (i, (county, _)) in counties.iter().enumerate() {
        let t = Instant::now();
        let first = first_school(i);
        county_with_a_year(conn, county, first, per)?;
        canteen_year(conn, &first.to_string()[..6], year)?;
        eprintln!(
            "生成：第 {}/{} 个县 {county}，{per} 名学生，{:.1} 秒（累计 {:.0} 秒）",
            i + 1,
            counties.len(),
            t.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
    crate::db::at_rest::seal_plain_numbers(conn)?;
    diesel::sql_query("ANALYZE").execute(conn)?;
    Ok((year, true))
}

/// The people the measures act as: the province's, a prefecture's and a county's nutrition
/// offices and a school's registrar, each with a session. (level, org code, token).
fn people(
    conn: &mut DbConn,
    settings: &Settings,
    keys: &Keys,
    counties: &[(String, String)],
) -> AppResult<Vec<(&'static str, String, String)>> {
    let county = &counties.first().ok_or_else(|| AppError::invalid(ErrorCode::BenchFull, "省内没有县"))?.0;
    let county_path = &counties[0].1;
    // A path is the codes from the top: /province/prefecture/county/.
    let prefecture = county_path
        .split('/')
        .filter(|s| !s.is_empty())
        .rev()
        .nth(1)
        .ok_or_else(|| AppError::invalid(ErrorCode::BenchFull, "县的上级不是地市"))?
        .to_owned();
    let school = first_school(0).to_string();
    let hash = crate::auth::hashing::hash(&format!("bench-{}", rand::random::<u64>()))?;
    let stamp = timestamp_sql(conn, crate::clock::now());
    let levels = [
        ("province", PROVINCE.to_owned(), "nutrition_office"),
        ("prefecture", prefecture, "nutrition_office"),
        ("county", county.clone(), "nutrition_office"),
        ("school", school, "registrar"),
    ];
    let at = crate::clock::now();
    let mut out = Vec::new();
    for (level, code, role) in levels {
        let username = format!("pvbench.{level}");
        let id: Option<i64> =
            users::table.filter(users::username.eq(&username)).select(users::id).first(conn).optional()?;
        let id = match id {
            Some(id) => id,
            None => {
                diesel::sql_query(format!(
                    "INSERT INTO users (username, display_name, org_id, password_hash, must_change_password, status, \
                         failed_count, totp_last_step, password_changed_at, created_at, created_by) \
                     SELECT '{username}', '省级基准', id, '{hash}', FALSE, 'active', 0, 0, {stamp}, {stamp}, 'bench' \
                     FROM orgs WHERE code = '{code}'"
                ))
                .execute(conn)?;
                let id: i64 = users::table.filter(users::username.eq(&username)).select(users::id).first(conn)?;
                diesel::sql_query(format!("INSERT INTO user_roles (user_id, role) VALUES ({id}, '{role}')"))
                    .execute(conn)?;
                id
            }
        };
        let token = crate::auth::session::open(conn, keys, settings, id, "127.0.0.1", at)?;
        out.push((level, code, token));
    }
    Ok(out)
}

/// Milliseconds of the first run and the median of `again` more.
fn timed<T>(again: usize, mut f: impl FnMut() -> AppResult<T>) -> AppResult<(f64, f64, T)> {
    let t = Instant::now();
    let first = f()?;
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut runs: Vec<f64> = Vec::new();
    for _ in 0..again {
        let t = Instant::now();
        f()?;
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    runs.sort_by(f64::total_cmp);
    let median = runs.get(runs.len() / 2).copied().unwrap_or(first_ms);
    Ok((round1(first_ms), round1(median), first))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub struct Options {
    pub children: usize,
    pub clients: usize,
    pub pause_ms: u64,
    /// Requests each client makes.
    pub requests: usize,
}

pub fn run(pool: &Pool, settings: &Settings, keys: &Keys, o: &Options) -> AppResult<BenchResult> {
    let mut conn = pool.get()?;
    let counties = counties(&mut conn)?;
    let gen_start = Instant::now();
    let (year, generated) = generate(&mut conn, &counties, o.children)?;
    let generate_seconds = gen_start.elapsed().as_secs_f64();
    let people = people(&mut conn, settings, keys, &counties)?;
    let callers: Vec<(&str, String, Caller)> = people
        .iter()
        .map(|(level, code, token)| {
            let c =
                crate::auth::session::authenticate(&mut conn, keys, settings, token, "127.0.0.1", crate::clock::now())?;
            Ok((*level, code.clone(), c))
        })
        .collect::<AppResult<_>>()?;
    let children: i64 = students::table.filter(students::county_code.like("52%")).count().get_result(&mut conn)?;
    let cli = Caller::cli(&mut conn)?;
    let county = counties[0].0.clone();
    let year_span = Span::parse(&year.to_string()).map_err(|m| AppError::invalid(ErrorCode::PeriodFormat, m))?;
    reset_peak_rss();

    // One request at a time, at every level: the list with its count.
    let mut lists = serde_json::Map::new();
    for (level, _, caller) in &callers {
        let filter = crate::registry::service::StudentFilter::default();
        let (first, median, (_, count)) = timed(3, || crate::registry::service::list(&mut conn, caller, &filter))?;
        lists.insert((*level).to_owned(), json!({"first_ms": first, "median_ms": median, "count": count}));
        eprintln!("学生名单（{level}）：{count} 人，首次 {first} ms，中位 {median} ms");
    }
    let county_caller = &callers[2].2;
    let (report_first, report_median, _) = timed(2, || {
        let req = crate::reports::service::Request {
            name: "county-regular".into(),
            org: county.clone(),
            period: year_span.clone(),
            date: None,
        };
        crate::reports::service::run(&mut conn, county_caller, &req)
    })?;
    eprintln!("县级常规报表：首次 {report_first} ms，中位 {report_median} ms");
    // The roll-up: the same report for the province, a row per county.
    let province_caller = &callers[0].2;
    let (rollup_first, rollup_median, _) = timed(2, || {
        let req = crate::reports::service::Request {
            name: "county-regular".into(),
            org: PROVINCE.into(),
            period: year_span.clone(),
            date: None,
        };
        crate::reports::service::run(&mut conn, province_caller, &req)
    })?;
    eprintln!("全省县级常规报表（按县汇总）：首次 {rollup_first} ms，中位 {rollup_median} ms");
    let (recon_first, recon_median, _) = timed(2, || {
        crate::ledger::reconcile::county_period(
            &mut conn,
            county_caller,
            &county,
            &year_span,
            crate::domain::ledger::Fund::Meal,
        )
    })?;
    eprintln!("县级资金对账（学年）：首次 {recon_first} ms，中位 {recon_median} ms");
    let (scan_first, scan_median, scan) =
        timed(1, || crate::inspection::scan::scan(&mut conn, &cli, &county, &year_span, &[]))?;
    eprintln!("一个县的异常扫描：首次 {scan_first} ms，中位 {scan_median} ms，{} 条预警", scan.flags.len());

    // The province's month of entitlements, every school.
    let month = Month::of(crate::clock::today()).prev();
    let term = crate::domain::term::Term::of_day(month.first_day());
    let (term_start, term_end) = term.customary_dates();
    let school_path = format!("{}{}/", counties[0].1, first_school(0));
    if crate::registry::terms::terms_for(&mut conn, &school_path)?.iter().all(|t| t.term != term) {
        crate::registry::terms::set_term(&mut conn, &cli, term, term_start, term_end)?;
    }
    let dates = crate::registry::terms::terms_for(&mut conn, &school_path)?;
    let meal_month = MealMonth::working_days_in_terms(month, &dates);
    for (code, _) in &counties {
        crate::programme::calendar::set_month(&mut conn, &cli, code, &meal_month)?;
    }
    let t = Instant::now();
    let periods = crate::ledger::entitlement::compute_all_with(&mut conn, &cli, PROVINCE, month, &|done, all| {
        if done % 500 == 0 || done == all {
            eprintln!("全省{month}补助核算：{done}/{all} 所学校");
        }
    })?;
    let entitle_seconds = t.elapsed().as_secs_f64();
    let entitled: i64 = periods.iter().map(|p| i64::from(p.students)).sum();
    eprintln!("全省{month}补助核算：{entitled} 人，{entitle_seconds:.1} 秒");
    drop(conn);

    // The list pages under concurrent clients, every level in turn.
    let addr = super::serve(pool, settings, keys)?;
    let targets: Arc<Vec<(&'static str, String)>> =
        Arc::new(people.iter().map(|(level, _, token)| (*level, token.clone())).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let total = o.clients.clamp(1, 1000) * o.requests.max(1);
    let pause = o.pause_ms;
    let start = Instant::now();
    let workers: Vec<_> = (0..o.clients.clamp(1, 1000))
        .map(|_| {
            let (targets, next) = (targets.clone(), next.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let mut samples: Vec<(&'static str, f64, bool)> = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let (level, token) = &targets[i % targets.len()];
                    let t = Instant::now();
                    let r = agent
                        .get(&format!("http://{addr}/students"))
                        .header("Cookie", &format!("mealroll_session={token}"))
                        .call();
                    let ok = matches!(&r, Ok(r) if r.status() == 200);
                    samples.push((level, t.elapsed().as_secs_f64() * 1000.0, ok));
                    if pause > 0 {
                        std::thread::sleep(Duration::from_millis(pause));
                    }
                }
                samples
            })
        })
        .collect();
    let mut samples: Vec<(&'static str, f64, bool)> = Vec::new();
    for w in workers {
        samples
            .extend(w.join().map_err(|_| AppError::internal_msg(ErrorCode::BenchClient, "客户端线程异常退出".into()))?);
    }
    let pages_seconds = start.elapsed().as_secs_f64();
    let mut pages = serde_json::Map::new();
    for (level, _) in targets.iter() {
        let mut ms: Vec<f64> = samples.iter().filter(|s| s.0 == *level).map(|s| s.1).collect();
        ms.sort_by(f64::total_cmp);
        let errors = samples.iter().filter(|s| s.0 == *level && !s.2).count();
        pages.insert(
            (*level).to_owned(),
            json!({"requests": ms.len(), "errors": errors, "p50_ms": round1(percentile(&ms, 0.5)),
                "p95_ms": round1(percentile(&ms, 0.95)), "max_ms": round1(ms.last().copied().unwrap_or(0.0))}),
        );
    }
    Ok(BenchResult {
        bench: "province",
        n: children as usize,
        seconds: entitle_seconds,
        peak_rss_mb: peak_rss_mb(),
        detail: json!({
            "province": PROVINCE, "counties": counties.len(), "schools": periods.len(), "school_year": year,
            "generated": generated, "generate_seconds": round1(generate_seconds),
            "list_and_count": lists,
            "county_report_ms": {"first": report_first, "median": report_median},
            "rollup_ms": {"first": rollup_first, "median": rollup_median},
            "reconciliation_ms": {"first": recon_first, "median": recon_median},
            "county_scan_ms": {"first": scan_first, "median": scan_median, "flags": scan.flags.len()},
            "province_month_entitlement": {"month": month.to_string(), "seconds": round1(entitle_seconds),
                "children": entitled},
            "list_pages": {"clients": o.clients, "pause_ms": pause, "seconds": round1(pages_seconds), "levels": pages},
            "targets": "PostgreSQL、2核：各级名单页 p95 ≤ 100 ms；全省一个月补助核算 ≤ 3 分钟；一个县的扫描 ≤ 2 秒；内存 ≤ 500 MB",
        }),
    })
}
