//! `mealroll bench meal-days`: a province's morning of 就餐日报. `schools` generated schools of
//! ten classes of 30 children each, each with its nutrition officer logged in; then every
//! school posts the day (all ten classes) through the HTTP API, `clients` at a time, each
//! client pausing `pause_ms` between its requests (issue 18: 10,000 schools, 50 clients on
//! PostgreSQL, p95 ≤ 100 ms, no error; the clients pause a second, as issue 22's do, which is
//! still 35 times a province's real morning of 10,000 schools in two hours; `--pause-ms 0` shows
//! the server saturated). Only the posting is timed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::{BenchResult, date_sql, peak_rss_mb, percentile, reset_peak_rss, timestamp_sql};
use crate::auth::Caller;
use crate::config::{Keys, Settings};
use crate::db::Pool;
use crate::db::schema::{orgs, users};
use crate::domain::calendar::{MealMonth, Month};
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};

/// The county the bench's schools sit under, and the first school code.
const COUNTY: &str = "522325";
const FIRST_SCHOOL: i64 = 2_152_500_000;
const CLASSES: usize = 10;
const CHILDREN: usize = 30;

/// The day posted: the latest weekday up to today.
fn bench_day() -> chrono::NaiveDate {
    use chrono::Datelike;
    let mut d = crate::clock::today();
    while d.weekday().number_from_monday() > 5 {
        d = d.pred_opt().unwrap_or(d);
    }
    d
}

/// Schools, classes, children, officers and their sessions; the county's calendar for the
/// day's month. Returns each school's code with its officer's bearer token.
fn generate(
    conn: &mut crate::db::DbConn,
    settings: &Settings,
    keys: &Keys,
    schools: usize,
) -> AppResult<Vec<(String, String)>> {
    use crate::clock::now;
    let prefix = &FIRST_SCHOOL.to_string()[..6];
    let taken: i64 = orgs::table.filter(orgs::code.like(format!("{prefix}%"))).count().get_result(conn)?;
    if taken > 0 {
        return Err(AppError::invalid(ErrorCode::BenchFull, "该数据库已有这项基准测试的学校，请换一个新数据库"));
    }
    let (county_id, county_path): (i64, String) =
        orgs::table.filter(orgs::code.eq(COUNTY)).select((orgs::id, orgs::path)).first(conn)?;
    let day = bench_day();
    let term = Term::of_day(day);
    let (term_start, term_end) = term.customary_dates();
    let stamp = timestamp_sql(conn, now());
    // Generated children have no record: one sealed empty record serves them all.
    let empty = crate::db::at_rest::seal::<crate::db::at_rest::Record>("{}")?;
    let since = date_sql(conn, term_start);
    let joined = date_sql(conn, chrono::NaiveDate::from_ymd_opt(2011, 9, 1).unwrap_or_default());
    let birth = date_sql(conn, chrono::NaiveDate::from_ymd_opt(2016, 3, 1).unwrap_or_default());
    let ours = format!("SELECT id FROM orgs WHERE code LIKE '{prefix}%'");
    // One password hash for every officer: the bench logs in by opening sessions directly.
    let hash = crate::auth::hashing::hash(&format!("bench-{}", rand::random::<u64>()))?;
    let statements = [
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {last}) \
             INSERT INTO orgs (code, name, kind, parent_id, path, created_at) \
             SELECT CAST({FIRST_SCHOOL} + i AS TEXT), '日报基准学校' || CAST(i AS TEXT), 'school', {county_id}, \
                    '{county_path}' || CAST({FIRST_SCHOOL} + i AS TEXT) || '/', {stamp} FROM s",
            last = schools - 1
        ),
        format!(
            "INSERT INTO schools (org_id, sponsor_type, urban_rural, school_type, updated_at) \
             SELECT id, '1', '220', '211', {stamp} FROM orgs WHERE code LIKE '{prefix}%'"
        ),
        format!(
            "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {last}) \
             INSERT INTO classes (school_id, class_no, name, grade, entry_year, updated_at) \
             SELECT o.id, CAST({year} - (n % 6) AS TEXT) || '0' || CAST(10 + n AS TEXT), \
                    CAST(n % 6 + 1 AS TEXT) || '年级' || CAST(n / 6 + 1 AS TEXT) || '班', n % 6 + 1, {year} - (n % 6), {stamp} \
             FROM orgs o, g WHERE o.code LIKE '{prefix}%'",
            last = CLASSES - 1,
            year = term.school_year()
        ),
        format!(
            "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < {last}) \
             INSERT INTO students (school_id, class_id, county_code, student_no_sealed, name, sex, birth_date, id_type, \
                 attendance, yibu, left_behind, migrant, status, review, record_sealed, version, created_at, updated_at) \
             SELECT c.school_id, c.id, '{COUNTY}', 'M' || CAST(c.id * 100 + k.n AS TEXT), '日报学生' || CAST(k.n AS TEXT), \
                 CASE WHEN k.n % 2 = 0 THEN '1' ELSE '2' END, {birth}, '1', '1', FALSE, '0', FALSE, \
                 'enrolled', 'confirmed', '{empty}', 1, {stamp}, {stamp} \
             FROM classes c, k WHERE c.school_id IN ({ours})",
            last = CHILDREN - 1
        ),
        format!(
            "INSERT INTO student_spells (student_id, state, school_id, class_id, from_date, to_date, cause) \
             SELECT id, 'at_school', school_id, class_id, {since}, NULL, 'bench' FROM students \
             WHERE school_id IN ({ours})"
        ),
        format!(
            "INSERT INTO programme_schools (school_id, from_date, to_date, seat_included, note, set_by, set_at) \
             SELECT id, {joined}, NULL, FALSE, '基准测试', 'cli', {stamp} FROM orgs WHERE code LIKE '{prefix}%'"
        ),
        format!(
            "INSERT INTO users (username, display_name, org_id, password_hash, must_change_password, status, \
                 failed_count, totp_last_step, password_changed_at, created_at, created_by) \
             SELECT 'mdbench' || code, '日报基准专干', id, '{hash}', FALSE, 'active', 0, 0, {stamp}, {stamp}, 'bench' \
             FROM orgs WHERE code LIKE '{prefix}%'"
        ),
        "INSERT INTO user_roles (user_id, role) SELECT id, 'nutrition_officer' FROM users WHERE username LIKE 'mdbench%'"
            .to_owned(),
    ];
    crate::db::write_tx(conn, |conn| {
        for sql in &statements {
            diesel::sql_query(sql).execute(conn)?;
        }
        Ok(())
    })?;
    crate::db::at_rest::seal_plain_numbers(conn)?;
    let cli = Caller::cli(conn)?;
    let school_path = format!("{county_path}{FIRST_SCHOOL}/");
    if crate::registry::terms::terms_for(conn, &school_path)?.iter().all(|t| t.term != term) {
        crate::registry::terms::set_term(conn, &cli, term, term_start, term_end)?;
    }
    let dates = crate::registry::terms::terms_for(conn, &school_path)?;
    let working = MealMonth::working_days_in_terms(Month::of(day), &dates);
    let month = MealMonth::new(Month::of(day), working.days().chain([chrono::Datelike::day(&day)]))
        .map_err(|m| AppError::invalid(ErrorCode::BenchCalendar, m))?;
    crate::programme::calendar::set_month(conn, &cli, COUNTY, &month)?;
    diesel::sql_query("ANALYZE").execute(conn)?;
    let officers: Vec<(i64, String)> = users::table
        .inner_join(orgs::table)
        .filter(users::username.like("mdbench%"))
        .order(orgs::code.asc())
        .select((users::id, orgs::code))
        .load(conn)?;
    let at = now();
    crate::db::write_tx(conn, |conn| {
        officers
            .iter()
            .map(|(id, code)| {
                Ok((code.clone(), crate::auth::session::open(conn, keys, settings, *id, "127.0.0.1", at)?))
            })
            .collect()
    })
}

/// The bench: generate, serve on a free local port, post every school's day.
pub fn run(
    pool: &Pool,
    settings: &Settings,
    keys: &Keys,
    schools: usize,
    clients: usize,
    pause_ms: u64,
) -> AppResult<BenchResult> {
    let schools = schools.max(1);
    let clients = clients.clamp(1, 1000);
    let mut conn = pool.get()?;
    let tokens = Arc::new(generate(&mut conn, settings, keys, schools)?);
    drop(conn);
    let day = bench_day();

    let addr = super::serve(pool, settings, keys)?;

    // The same body for every school: ten classes, a few children absent in each.
    let body = serde_json::json!({
        "classes": (0..CLASSES).map(|n| serde_json::json!({
            "class": format!("{}0{}", Term::of_day(day).school_year() - (n as i32 % 6), 10 + n),
            "ate": CHILDREN - 1 - n % 3,
        })).collect::<Vec<_>>(),
    });
    let next = Arc::new(AtomicUsize::new(0));
    reset_peak_rss();
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (tokens, next, body) = (tokens.clone(), next.clone(), body.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let mut samples = Vec::new();
                let mut errors: Vec<String> = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((school, token)) = tokens.get(i) else { break };
                    let url = format!("http://{addr}/api/v1/schools/{school}/meal-days/{day}");
                    let t = Instant::now();
                    let answer = agent.post(&url).header("Authorization", &format!("Bearer {token}")).send_json(&body);
                    samples.push(t.elapsed().as_secs_f64() * 1000.0);
                    match answer {
                        Ok(r) if r.status() == 200 => {}
                        Ok(mut r) => errors.push(format!(
                            "{school}: {} {}",
                            r.status(),
                            r.body_mut().read_to_string().unwrap_or_default()
                        )),
                        Err(e) => errors.push(format!("{school}: {e}")),
                    }
                    if pause_ms > 0 {
                        std::thread::sleep(Duration::from_millis(pause_ms));
                    }
                }
                (samples, errors)
            })
        })
        .collect();
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    for w in workers {
        let (s, e) =
            w.join().map_err(|_| AppError::internal_msg(ErrorCode::BenchClient, "客户端线程异常退出".into()))?;
        samples.extend(s);
        errors.extend(e);
    }
    let seconds = start.elapsed().as_secs_f64();
    samples.sort_by(f64::total_cmp);
    let mut conn = pool.get()?;
    let written: i64 = crate::db::schema::daily_meals::table
        .filter(crate::db::schema::daily_meals::day.eq(day))
        .filter(crate::db::schema::daily_meals::recorded_by.like("mdbench%"))
        .count()
        .get_result(&mut conn)?;
    Ok(BenchResult {
        bench: "meal-days",
        n: schools,
        seconds,
        peak_rss_mb: peak_rss_mb(),
        detail: serde_json::json!({
            "day": day, "clients": clients, "pause_ms": pause_ms, "requests": samples.len(),
            "class_records": written, "errors": errors.len(), "first_errors": errors.iter().take(3).collect::<Vec<_>>(),
            "p50_ms": percentile(&samples, 0.50), "p95_ms": percentile(&samples, 0.95),
            "p99_ms": percentile(&samples, 0.99), "max_ms": samples.last().copied().unwrap_or(0.0),
            "requests_per_second": samples.len() as f64 / seconds.max(1e-9),
            "target": "p95 ≤ 100 ms（PostgreSQL，50 个并发客户端）",
        }),
    })
}
