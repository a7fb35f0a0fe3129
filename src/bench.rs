//! `mealroll bench …`: builds its own data, times only the measured work, reports peak memory.

mod meal_days;
mod province;

pub use meal_days::run as meal_days;
pub use province::{Options as ProvinceOptions, run as province};

use std::time::Instant;

use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::orgs;
use crate::demo::{COUNTY, StudentFactory};
use crate::domain::student::StudentRecord;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::exchange::{import, template};
use crate::org::model::{ClassInput, SchoolInput};
use crate::org::service as org;

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub bench: &'static str,
    pub n: usize,
    pub seconds: f64,
    pub peak_rss_mb: u64,
    /// Bench-specific figures (pages, bytes per page …).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in MB.
pub fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

/// Latency percentiles, in milliseconds, of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The product's own server for an HTTP bench, on a free local port, two workers (the cores a
/// county's server has); runs until the process ends.
fn serve(
    pool: &crate::db::Pool,
    settings: &crate::config::Settings,
    keys: &crate::config::Keys,
) -> AppResult<std::net::SocketAddr> {
    let state = crate::app::Shared {
        state: actix_web::web::Data::new(crate::web::AppState::new(pool.clone(), settings.clone(), keys.clone())?),
        jobs: actix_web::web::Data::new(crate::exchange::jobs::Jobs::new(
            pool.clone(),
            "bench",
            std::time::Duration::from_secs(3600),
        )),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let sys = actix_web::rt::System::new();
        sys.block_on(async move {
            let server =
                match actix_web::HttpServer::new(move || crate::app::app(state.clone())).workers(2).bind("127.0.0.1:0")
                {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
            let _ = tx.send(Ok(server.addrs()[0]));
            let _ = server.run().await;
        });
    });
    rx.recv()
        .map_err(|e| AppError::internal_msg(ErrorCode::BenchServe, e.to_string()))?
        .map_err(|e| AppError::internal_msg(ErrorCode::BenchServe, e))
}

/// Starts the peak-memory mark afresh, so it covers the measured work and not the making of
/// its input (Linux: writing 5 to `clear_refs` resets `VmHWM`).
fn reset_peak_rss() {
    // Where the kernel refuses, the figure stays a (higher) whole-process peak.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A new school under the demo county with classes enough for `rows` students (six grades,
/// ≤ 45 a class). Returns its code and its classes as (班号, grade).
pub fn prepare_school(conn: &mut DbConn, rows: usize) -> AppResult<(String, Vec<(String, i32)>)> {
    let cli = Caller::cli(conn)?;
    let taken: Vec<String> = orgs::table.filter(orgs::code.like("215232690%")).select(orgs::code).load(conn)?;
    let code = (0..100)
        .map(|i| format!("21523269{i:02}"))
        .find(|c| !taken.contains(c))
        .ok_or_else(|| AppError::invalid(ErrorCode::BenchFull, "基准测试学校代码已用完，请换一个数据库"))?;
    let year = StudentFactory::new(0).school_year();
    org::create_school(
        conn,
        &cli,
        &SchoolInput {
            code: code.clone(),
            name: format!("基准测试学校{}", &code[8..]),
            parent_code: COUNTY.into(),
            sponsor_type: "1".into(),
            urban_rural: "220".into(),
            school_type: "211".into(),
            ..SchoolInput::default()
        },
    )?;
    let per_grade = rows.div_ceil(6 * 45).max(1);
    let mut classes = Vec::new();
    for grade in 1..=6 {
        let entry = year - (grade - 1);
        for k in 1..=per_grade {
            let class_no = format!("{entry}{k:03}");
            org::create_class(
                conn,
                &cli,
                &code,
                &ClassInput {
                    class_no: class_no.clone(),
                    grade: grade.to_string(),
                    entry_year: entry.to_string(),
                    ..ClassInput::default()
                },
            )?;
            classes.push((class_no, grade));
        }
    }
    Ok((code, classes))
}

/// A filled registry template of `rows` generated students spread over `classes`, streamed
/// into the workbook so the input never sits in memory as records.
pub fn template_file(code: &str, classes: &[(String, i32)], rows: usize) -> AppResult<Vec<u8>> {
    let mut factory = StudentFactory::new(rows as u64);
    let today = factory.today;
    let mut failed = None;
    let records = (0..rows).map_while(|i| {
        let (class_no, grade) = &classes[i % classes.len()];
        let raw = factory.raw(class_no, *grade, false);
        match StudentRecord::parse(&raw, today) {
            Ok(r) => Some((code.to_owned(), r)),
            Err(issues) => {
                failed = Some(crate::registry::service::issues_to_error(issues));
                None
            }
        }
    });
    let bytes = template::write_iter(records, rows, None)?;
    match failed {
        Some(e) => Err(e),
        None => Ok(bytes),
    }
}

/// A generated template of `rows` students for a new school, imported in full
/// (validated, deduplicated, committed). Only the import is timed.
pub fn import(conn: &mut DbConn, rows: usize) -> AppResult<BenchResult> {
    let cli = Caller::cli(conn)?;
    let (code, classes) = prepare_school(conn, rows)?;
    let bytes = template_file(&code, &classes, rows)?;
    reset_peak_rss();

    let start = Instant::now();
    let report =
        import::import_students(conn, &cli, Some(&code), &bytes, "bench.xlsx", Default::default(), &|_, _| {})?;
    let seconds = start.elapsed().as_secs_f64();
    if !report.committed || report.imported != rows {
        return Err(AppError::internal_msg(
            ErrorCode::BenchImport,
            format!("基准导入未全部写入：{} 行，新增 {}，错误 {}", report.rows, report.imported, report.errors.len()),
        ));
    }
    let peak = peak_rss_mb();
    let worker_peak = crate::exchange::worker::peak_rss_mb();
    let floor = import_floor(conn, &bytes)?;
    let detail = serde_json::json!({
        "parse_worker_peak_rss_mb": worker_peak,
        "floor_parse_seconds": round3(floor.parse),
        "floor_load_seconds": round3(floor.load),
        "floor_seconds": round3(floor.parse + floor.load),
        "times_floor": (seconds / (floor.parse + floor.load) * 100.0).round() / 100.0,
    });
    Ok(BenchResult { bench: "import", n: rows, seconds, peak_rss_mb: peak, detail })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The hardware's part of an import, measured in the same run on the same file (SPEC §13:
/// "within 1.5 × the floor"): the parse alone (the same sandboxed reader, rows discarded), and
/// the bare load (each row's cells, unchecked and unsealed, written by the backend's bulk path:
/// COPY on PostgreSQL, one prepared INSERT per row on SQLite) into a table made for the purpose
/// in the database itself (a temporary one would skip the write-ahead log), committed as the
/// import commits, then dropped.
struct Floor {
    parse: f64,
    load: f64,
}

diesel::table! {
    bench_rows (id) {
        id -> BigInt,
        line -> Text,
    }
}

#[derive(Insertable)]
#[diesel(table_name = bench_rows, treat_none_as_default_value = false)]
struct BenchRow {
    id: i64,
    line: String,
}

fn import_floor(conn: &mut DbConn, bytes: &[u8]) -> AppResult<Floor> {
    use crate::exchange::{guard, sheet};
    let kind = guard::check(bytes, "bench.xlsx")?;
    let start = Instant::now();
    sheet::read_rows(bytes, kind, |_, _, _| Ok(()))?;
    let parse = start.elapsed().as_secs_f64();

    let mut lines: Vec<BenchRow> = Vec::new();
    sheet::read_rows(bytes, kind, |_, row, cells| {
        let line = cells.iter().map(sheet::Cell::text).collect::<Vec<_>>().join("\t");
        lines.push(BenchRow { id: i64::from(row), line });
        Ok(())
    })?;
    // A run killed between its commit and its drop leaves the table behind.
    diesel::sql_query("DROP TABLE IF EXISTS bench_rows").execute(conn)?;
    let start = Instant::now();
    conn.transaction(|conn| {
        diesel::sql_query("CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, line TEXT NOT NULL)").execute(conn)?;
        crate::insert_bulk!(&mut *conn, bench_rows::table, &lines)
    })?;
    let load = start.elapsed().as_secs_f64();
    diesel::sql_query("DROP TABLE bench_rows").execute(conn)?;
    Ok(Floor { parse, load })
}

/// A new programme school of `rows` confirmed students; times building its roster for the
/// current term and printing it as PDF (SPEC §13: 3,000 students ≤ 2 s, ≤ 30 KB a page).
pub fn roster(conn: &mut DbConn, rows: usize) -> AppResult<BenchResult> {
    use crate::domain::programme::Period;
    use crate::domain::roster::default_snapshot;
    use crate::domain::term::Term;
    use crate::exchange::roster_print::{self, Kind};
    use crate::programme::{config, roster};

    let cli = Caller::cli(conn)?;
    let (code, classes) = prepare_school(conn, rows)?;
    let bytes = template_file(&code, &classes, rows)?;
    import::import_students(conn, &cli, Some(&code), &bytes, "bench.xlsx", Default::default(), &|_, _| {})?;
    let school_id: i64 = orgs::table.filter(orgs::code.eq(&code)).select(orgs::id).first(conn)?;
    let ids: Vec<i64> = crate::db::schema::students::table
        .filter(crate::db::schema::students::school_id.eq(school_id))
        .select(crate::db::schema::students::id)
        .load(conn)?;
    crate::registry::service::confirm(conn, &cli, &ids)?;
    let today = crate::clock::today();
    let term = Term::new(crate::domain::key_lock::school_year_of(today), 1)
        .map_err(|m| AppError::internal_msg(ErrorCode::BenchTerm, m))?;
    let start_day = chrono::NaiveDate::from_ymd_opt(2011, 9, 1).unwrap_or_default();
    config::join(conn, &cli, &code, Period { from: start_day, to: None }, false, "基准测试")?;
    let day = default_snapshot(term);
    reset_peak_rss();

    let start = Instant::now();
    let built = roster::build(conn, &cli, &code, term, Some(day), roster::AfterArchive::Refuse)?;
    let (head, lines) = roster::get(conn, &cli, built.roster.id)?;
    let pdf = roster_print::pdf(&head, &lines, Kind::Signed, true, "2026-09-15 08:00")?;
    let seconds = start.elapsed().as_secs_f64();
    let pages = roster_print::page_count(&lines, Kind::Signed, true);
    if lines.len() != rows {
        return Err(AppError::internal_msg(
            ErrorCode::BenchRoster,
            format!("花名册应有 {rows} 人，实有 {}", lines.len()),
        ));
    }
    Ok(BenchResult {
        bench: "roster",
        n: rows,
        seconds,
        peak_rss_mb: peak_rss_mb(),
        detail: serde_json::json!({"pages": pages, "pdf_bytes": pdf.len(), "kb_per_page": (pdf.len() as f64 / pages as f64 / 1024.0 * 10.0).round() / 10.0}),
    })
}

/// Literals the two backends read alike in an `INSERT … SELECT` (PostgreSQL types a bare
/// string literal as text there).
fn date_sql(conn: &DbConn, d: chrono::NaiveDate) -> String {
    match conn {
        #[cfg(feature = "postgres")]
        DbConn::Pg(_) => format!("DATE '{d}'"),
        DbConn::Sqlite(_) => format!("'{d}'"),
    }
}

fn timestamp_sql(conn: &DbConn, t: chrono::NaiveDateTime) -> String {
    let t = t.format("%Y-%m-%d %H:%M:%S");
    match conn {
        #[cfg(feature = "postgres")]
        DbConn::Pg(_) => format!("TIMESTAMP '{t}'"),
        DbConn::Sqlite(_) => format!("'{t}'"),
    }
}

/// Bench schools hold this many children each (a large rural central school).
const BENCH_SCHOOL_SIZE: usize = 1_000;

/// Generates `rows` confirmed children in schools of 1,000 under `county` (school codes from
/// `first_code`), in six grades, at school since `since`, every school in the programme; with
/// set-based SQL, so making the input stays out of the way. Refuses a database that has them.
fn generate_county(
    conn: &mut DbConn,
    county: &str,
    first_code: i64,
    rows: usize,
    since: chrono::NaiveDate,
) -> AppResult<()> {
    use crate::clock::now;
    use crate::domain::term::Term;

    let prefix = &first_code.to_string()[..6];
    let taken: i64 = orgs::table.filter(orgs::code.like(format!("{prefix}%"))).count().get_result(conn)?;
    if taken > 0 {
        return Err(AppError::invalid(ErrorCode::BenchFull, "该数据库已有这项基准测试的学校，请换一个新数据库"));
    }
    let (county_id, county_path): (i64, String) =
        orgs::table.filter(orgs::code.eq(county)).select((orgs::id, orgs::path)).first(conn)?;
    let schools = rows.div_ceil(BENCH_SCHOOL_SIZE).max(1);
    let per_school = rows / schools;
    let term = Term::of_day(since);
    let stamp = timestamp_sql(conn, now());
    // Generated children have no record: one sealed empty record serves them all.
    let empty = crate::db::at_rest::seal::<crate::db::at_rest::Record>("{}")?;
    let since = date_sql(conn, since);
    let joined = date_sql(conn, chrono::NaiveDate::from_ymd_opt(2011, 9, 1).unwrap_or_default());
    let birth = date_sql(conn, chrono::NaiveDate::from_ymd_opt(2016, 3, 1).unwrap_or_default());
    let bench_schools = format!("SELECT id FROM orgs WHERE code LIKE '{prefix}%'");
    let statements = [
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {last}) \
             INSERT INTO orgs (code, name, kind, parent_id, path, created_at) \
             SELECT CAST({first_code} + i AS TEXT), '基准测试学校' || CAST(i AS TEXT), 'school', {county_id}, \
                    '{county_path}' || CAST({first_code} + i AS TEXT) || '/', {stamp} FROM s",
            last = schools - 1
        ),
        format!(
            "INSERT INTO schools (org_id, sponsor_type, urban_rural, school_type, updated_at) \
             SELECT id, '1', '220', '211', {stamp} FROM orgs WHERE code LIKE '{prefix}%'"
        ),
        format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 6) \
             INSERT INTO classes (school_id, class_no, name, grade, entry_year, updated_at) \
             SELECT o.id, CAST({year} - n + 1 AS TEXT) || '001', CAST(n AS TEXT) || '年级1班', n, {year} - n + 1, {stamp} \
             FROM orgs o, g WHERE o.code LIKE '{prefix}%'",
            year = term.school_year()
        ),
        format!(
            "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < {last}) \
             INSERT INTO students (school_id, class_id, county_code, student_no_sealed, name, sex, birth_date, id_type, \
                 attendance, yibu, left_behind, migrant, status, review, record_sealed, version, created_at, updated_at) \
             SELECT c.school_id, c.id, '{county}', 'B' || CAST(c.id * 1000 + k.n AS TEXT), '基准学生' || CAST(k.n AS TEXT), \
                 CASE WHEN k.n % 2 = 0 THEN '1' ELSE '2' END, {birth}, '1', \
                 CASE WHEN k.n % 5 = 0 THEN '2' ELSE '1' END, k.n % 10 = 0, CASE WHEN k.n % 3 = 0 THEN '1' ELSE '0' END, \
                 k.n % 20 = 0, 'enrolled', 'confirmed', '{empty}', 1, {stamp}, {stamp} \
             FROM classes c, k WHERE c.school_id IN ({bench_schools}) AND k.n < ({per_school} + 6 - c.grade) / 6",
            last = per_school.div_ceil(6)
        ),
        format!(
            "INSERT INTO student_spells (student_id, state, school_id, class_id, from_date, to_date, cause) \
             SELECT id, 'at_school', school_id, class_id, {since}, NULL, 'bench' FROM students \
             WHERE school_id IN ({bench_schools})"
        ),
        format!(
            "INSERT INTO programme_schools (school_id, from_date, to_date, seat_included, note, set_by, set_at) \
             SELECT id, {joined}, NULL, FALSE, '基准测试', 'cli', {stamp} FROM orgs WHERE code LIKE '{prefix}%'"
        ),
    ];
    fill(conn, &statements)
}

/// `rows` confirmed children in schools of 1,000 under the demo county, all in the programme,
/// at school since the start of the term, and the county's calendar for last month; times
/// computing that month for the whole county (SPEC §13: 1,000,000 children on PostgreSQL
/// ≤ 60 s). Only the computation is measured.
pub fn entitle(conn: &mut DbConn, rows: usize) -> AppResult<BenchResult> {
    use crate::clock::today;
    use crate::domain::calendar::{MealMonth, Month};
    use crate::domain::term::Term;
    use crate::ledger::entitlement;
    use crate::programme::calendar;
    use crate::registry::terms;

    let cli = Caller::cli(conn)?;
    let county_path: String = orgs::table.filter(orgs::code.eq(COUNTY)).select(orgs::path).first(conn)?;
    let month = Month::of(today()).prev();
    let term = Term::of_day(month.first_day());
    let (term_start, term_end) = term.customary_dates();
    generate_county(conn, COUNTY, 2_152_900_000, rows, term_start)?;
    if terms::terms_for(conn, &format!("{county_path}2152900000/"))?.iter().all(|t| t.term != term) {
        terms::set_term(conn, &cli, term, term_start, term_end)?;
    }
    let dates = terms::terms_for(conn, &format!("{county_path}2152900000/"))?;
    calendar::set_month(conn, &cli, COUNTY, &MealMonth::working_days_in_terms(month, &dates))?;
    reset_peak_rss();

    let start = Instant::now();
    let periods = entitlement::compute_all(conn, &cli, COUNTY, month)?;
    let seconds = start.elapsed().as_secs_f64();
    let students: i64 = periods.iter().map(|p| i64::from(p.students)).sum();
    let days: i64 = periods.iter().map(|p| i64::from(p.beneficiary_days)).sum();
    let amount: i64 = periods.iter().map(|p| p.amount.fen()).sum();
    Ok(BenchResult {
        bench: "entitle",
        n: students as usize,
        seconds,
        peak_rss_mb: peak_rss_mb(),
        detail: serde_json::json!({
            "month": month.to_string(), "schools": periods.len(), "beneficiary_days": days,
            "amount": crate::domain::money::Fen::new(amount).to_string(),
        }),
    })
}

/// `rows` children in schools of 1,000 under `county`, at school all of last school year, with
/// that year's entitlements booked (ten months of 20 days at 5.00, a line per child and month).
/// Returns the school year.
fn county_with_a_year(conn: &mut DbConn, county: &str, first_school: i64, rows: usize) -> AppResult<i32> {
    use crate::clock::{now, today};
    use crate::domain::calendar::Month;
    use crate::domain::term::Term;

    let year = Term::of_day(today()).school_year() - 1;
    let start = chrono::NaiveDate::from_ymd_opt(year, 9, 1).unwrap_or_default();
    generate_county(conn, county, first_school, rows, start)?;
    let months: Vec<String> = (0..10)
        .scan(Month::of(start), |m, _| {
            let this = *m;
            *m = m.next();
            Some(format!("({})", this.key()))
        })
        .collect();
    let stamp = timestamp_sql(conn, now());
    let prefix = &first_school.to_string()[..6];
    let bench_schools = format!("SELECT id FROM orgs WHERE code LIKE '{prefix}%'");
    let statements = [
        format!(
            "WITH m(k) AS (VALUES {months}) \
             INSERT INTO entitlement_periods (school_id, county_code, month, rule, status, students, beneficiary_days, \
                 amount_fen, adjustment_fen, computed_by, computed_at) \
             SELECT o.id, '{county}', m.k, 'day', 'closed', c.n, c.n * 20, c.n * 10000, 0, 'bench', {stamp} \
             FROM orgs o JOIN (SELECT school_id, COUNT(*) AS n FROM students GROUP BY school_id) c ON c.school_id = o.id, m \
             WHERE o.code LIKE '{prefix}%'",
            months = months.join(", ")
        ),
        format!(
            "INSERT INTO entitlement_lines (period_id, student_id, kind, for_month, days, day_list, amount_fen) \
             SELECT p.id, s.id, 'base', p.month, 20, '1-20', 10000 FROM entitlement_periods p \
             JOIN students s ON s.school_id = p.school_id WHERE p.school_id IN ({bench_schools})"
        ),
    ];
    fill(conn, &statements)?;
    Ok(year)
}

/// County 册亨县 for the report bench: a second county, so the report covers only its children.
const REPORT_COUNTY: &str = "522327";

/// `rows` children in schools of 1,000 under a county, at school all of last school year, with
/// that year's entitlements booked (ten months of 20 days at 5.00, a line per child and month);
/// times the 县级常规统计报表 over that year (SPEC §13: 100,000 children ≤ 300 ms). `seconds`
/// is the first drawing; the detail gives the median of five more.
pub fn report(conn: &mut DbConn, rows: usize) -> AppResult<BenchResult> {
    use crate::domain::calendar::Span;
    use crate::reports::service::{self, Request};

    let year = county_with_a_year(conn, REPORT_COUNTY, 2_152_790_000, rows)?;
    let cli = Caller::cli(conn)?;
    let req = Request {
        name: "county-regular".into(),
        org: REPORT_COUNTY.into(),
        period: Span::parse(&year.to_string()).map_err(|m| AppError::invalid(ErrorCode::PeriodFormat, m))?,
        date: None,
    };
    reset_peak_rss();
    let first = Instant::now();
    let r = service::run(conn, &cli, &req)?;
    let seconds = first.elapsed().as_secs_f64();
    let mut again: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            service::run(conn, &cli, &req).map(|_| t.elapsed().as_secs_f64())
        })
        .collect::<AppResult<_>>()?;
    again.sort_by(f64::total_cmp);
    let students = r.totals.get(2).map(|v| v.text()).unwrap_or_default();
    Ok(BenchResult {
        bench: "report",
        n: rows,
        seconds,
        peak_rss_mb: peak_rss_mb(),
        detail: serde_json::json!({
            "report": r.report, "period": r.period, "date": r.date.to_string(), "schools": r.rows.len(),
            "beneficiaries": students, "subsidy_total": r.totals.get(8).map(|v| v.text()),
            "median_seconds": again.get(2),
        }),
    })
}

/// A year of a county's canteens for the scan bench, written in bulk: each school buys four
/// foods on the first of every month (an expenditure with its purchase, invoice and line) and
/// pays one bill with nothing behind it (for A30), its kitchen uses each food on its 200 meal
/// days, and its monthly returns count 20 meals a child — what A19, A27, A28 and A30 read.
fn canteen_year(conn: &mut DbConn, prefix: &str, year: i32) -> AppResult<()> {
    use crate::clock::now;
    use crate::domain::calendar::Month;

    let stamp = timestamp_sql(conn, now());
    let first = Month::of(chrono::NaiveDate::from_ymd_opt(year, 9, 1).unwrap_or_default());
    let months: Vec<Month> = (0..10).scan(first, |m, _| Some(std::mem::replace(m, m.next()))).collect();
    let month_rows: Vec<String> =
        months.iter().map(|m| format!("({}, {})", m.key(), date_sql(conn, m.first_day()))).collect();
    let day_rows: Vec<String> = months
        .iter()
        .flat_map(|m| (0..20u64).map(move |d| m.first_day() + chrono::Days::new(d)))
        .map(|d| format!("({})", date_sql(conn, d)))
        .collect();
    let schools = format!("SELECT id FROM orgs WHERE code LIKE '{prefix}%' AND kind = 'school'");
    let foods = "f(code, price, cat) AS (VALUES ('101', 420, '粮油'), ('201', 2800, '肉蛋奶'), ('301', 300, '蔬菜水果'), ('401', 600, '其他食品'))";
    let months_cte = format!("m(k, d) AS (VALUES {})", month_rows.join(", "));
    let attachment: i64 = diesel::insert_into(crate::db::schema::attachments::table)
        .values((
            crate::db::schema::attachments::sha256.eq("bench"),
            crate::db::schema::attachments::filename.eq("发票.jpg"),
            crate::db::schema::attachments::content_type.eq("image/jpeg"),
            crate::db::schema::attachments::bytes.eq(vec![0xFFu8, 0xD8, 0xFF]),
            crate::db::schema::attachments::uploaded_by.eq("bench"),
            crate::db::schema::attachments::uploaded_at.eq(now()),
        ))
        .returning(crate::db::schema::attachments::id)
        .get_result(conn)?;
    let statements = [
        format!(
            "INSERT INTO fund_accounts (code, org_id, supplier_id, fund, head_seq, head_hash, balance_fen, created_at) \
             SELECT o.code || ':meal', o.id, NULL, 'meal', 0, '{genesis}', 0, {stamp} FROM orgs o \
             WHERE o.id IN ({schools}) AND NOT EXISTS (SELECT 1 FROM fund_accounts a WHERE a.code = o.code || ':meal')",
            genesis = crate::domain::chain::GENESIS
        ),
        format!(
            "WITH {foods}, {months_cte} \
             INSERT INTO ledger_requests (idempotency_key, kind, fund, from_account_id, amount_fen, value_date, category, \
                 voucher_no, memo, status, maker, made_at) \
             SELECT 'bench:' || a.id || ':' || m.k || ':' || f.code, 'expenditure', 'meal', a.id, \
                 (f.price + a.org_id % 7) * 100, m.d, f.cat, 'ZC-' || f.code, '', 'posted', 'bench', {stamp} \
             FROM fund_accounts a, m, f WHERE a.org_id IN ({schools}) AND a.supplier_id IS NULL AND a.fund = 'meal'"
        ),
        format!(
            "INSERT INTO purchases (idempotency_key, mode, school_id, request_id, supplier_name, delivered_on, invoice_no, \
                 amount_fen, memo, recorded_by, recorded_at) \
             SELECT r.idempotency_key, 'paid', a.org_id, r.id, '供应商' || (a.org_id % 3), r.value_date, r.voucher_no, \
                 r.amount_fen, '', 'bench', {stamp} \
             FROM ledger_requests r JOIN fund_accounts a ON a.id = r.from_account_id \
             WHERE a.org_id IN ({schools}) AND r.maker = 'bench'"
        ),
        // And one bill a school with nothing behind it, for A30.
        format!(
            "INSERT INTO ledger_requests (idempotency_key, kind, fund, from_account_id, amount_fen, value_date, category, \
                 voucher_no, memo, status, maker, made_at) \
             SELECT 'bench-bare:' || a.id, 'expenditure', 'meal', a.id, 12345, {day}, '其他食品', 'ZC-bare', '', 'posted', \
                 'bench-bare', {stamp} \
             FROM fund_accounts a WHERE a.org_id IN ({schools}) AND a.supplier_id IS NULL AND a.fund = 'meal'",
            day = date_sql(conn, first.first_day() + chrono::Days::new(40))
        ),
        format!(
            "INSERT INTO purchase_lines (purchase_id, seq, food, category, qty_milli, price_fen, amount_fen, spec) \
             SELECT p.id, 1, substr(p.invoice_no, 4), r.category, 100000, p.amount_fen / 100, p.amount_fen, '' \
             FROM purchases p JOIN ledger_requests r ON r.id = p.request_id WHERE p.school_id IN ({schools})"
        ),
        format!(
            "INSERT INTO purchase_documents (purchase_id, attachment_id, kind, pages) \
             SELECT p.id, {attachment}, 'invoice', 1 FROM purchases p WHERE p.school_id IN ({schools})"
        ),
        format!(
            "WITH {foods} INSERT INTO stock_items (school_id, food, balance_milli) \
             SELECT o.id, f.code, 0 FROM orgs o, f WHERE o.id IN ({schools})"
        ),
        format!(
            "INSERT INTO stock_entries (item_id, day, qty_milli, purchase_id, note, recorded_by, recorded_at) \
             SELECT i.id, p.delivered_on, l.qty_milli, p.id, '', 'bench', {stamp} \
             FROM purchases p JOIN purchase_lines l ON l.purchase_id = p.id \
             JOIN stock_items i ON i.school_id = p.school_id AND i.food = l.food WHERE p.school_id IN ({schools})"
        ),
        format!(
            "WITH d(day) AS (VALUES {days}) \
             INSERT INTO stock_entries (item_id, day, qty_milli, purchase_id, note, recorded_by, recorded_at) \
             SELECT i.id, d.day, -2500, NULL, '', 'bench', {stamp} FROM stock_items i, d WHERE i.school_id IN ({schools})",
            days = day_rows.join(", ")
        ),
        format!(
            "UPDATE stock_items SET balance_milli = \
             (SELECT COALESCE(SUM(e.qty_milli), 0) FROM stock_entries e WHERE e.item_id = stock_items.id) \
             WHERE school_id IN ({schools})"
        ),
        format!(
            "WITH {months_cte} INSERT INTO meals_served (school_id, month, days_served, meals, recorded_by, recorded_at) \
             SELECT c.school_id, m.k, 20, c.n * 20, 'bench', {stamp} \
             FROM (SELECT school_id, COUNT(*) AS n FROM students WHERE school_id IN ({schools}) GROUP BY school_id) c, m"
        ),
    ];
    fill(conn, &statements)?;
    crate::db::at_rest::seal_plain_numbers(conn)?;
    Ok(())
}

/// Runs bulk statements in one transaction, then gathers statistics: a working database has
/// them, a freshly filled one must gather them before anything is timed.
fn fill(conn: &mut DbConn, statements: &[String]) -> AppResult<()> {
    crate::db::write_tx(conn, |conn| {
        for sql in statements {
            diesel::sql_query(sql).execute(conn)?;
        }
        Ok(())
    })?;
    diesel::sql_query("ANALYZE").execute(conn)?;
    Ok(())
}

/// County 安龙县 for the scan bench: `rows` children with a year of entitlements (one in twenty
/// suspended in January, after the money was booked) and of canteen purchases and stock,
/// scanned over that school year with every rule (issue 17: 100,000 children ≤ 2 s). `seconds`
/// is the first scan; the detail gives the median of three more.
pub fn scan(conn: &mut DbConn, rows: usize) -> AppResult<BenchResult> {
    use crate::domain::calendar::Span;
    use crate::inspection::scan;

    const SCAN_COUNTY: &str = "522328";
    let year = county_with_a_year(conn, SCAN_COUNTY, 2_152_890_000, rows)?;
    canteen_year(conn, "215289", year)?;
    give_valid_ids(conn, SCAN_COUNTY)?;
    // One child in twenty suspended from 5 January after the year's entitlements were booked:
    // the movers whose paid days the scan must read day by day (and A03 finds).
    let day = date_sql(conn, chrono::NaiveDate::from_ymd_opt(year + 1, 1, 5).unwrap_or_default());
    let movers = format!("SELECT id FROM students WHERE county_code = '{SCAN_COUNTY}' AND id % 20 = 0");
    crate::db::write_tx(conn, |conn| {
        diesel::sql_query(format!(
            "UPDATE student_spells SET to_date = {day} WHERE to_date IS NULL AND student_id IN ({movers})"
        ))
        .execute(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO student_spells (student_id, state, school_id, class_id, from_date, to_date, cause) \
             SELECT student_id, 'suspended', school_id, class_id, {day}, NULL, '11' FROM student_spells \
             WHERE to_date = {day} AND student_id IN ({movers})"
        ))
        .execute(conn)?;
        Ok(())
    })?;
    let cli = Caller::cli(conn)?;
    let span = Span::parse(&year.to_string()).map_err(|m| AppError::invalid(ErrorCode::PeriodFormat, m))?;
    reset_peak_rss();
    let first = Instant::now();
    let found = scan::scan(conn, &cli, SCAN_COUNTY, &span, &[])?;
    let seconds = first.elapsed().as_secs_f64();
    let mut again: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            scan::scan(conn, &cli, SCAN_COUNTY, &span, &[]).map(|_| t.elapsed().as_secs_f64())
        })
        .collect::<AppResult<_>>()?;
    again.sort_by(f64::total_cmp);
    Ok(BenchResult {
        bench: "scan",
        n: rows,
        seconds,
        peak_rss_mb: peak_rss_mb(),
        detail: serde_json::json!({
            "period": found.period, "rules": found.rules, "flags": found.flags.len(), "median_seconds": again.get(1),
        }),
    })
}

/// Real resident ID numbers for a generated county's children (the generator leaves them
/// empty): the county's region code, the birth date moved a day per thousand children (ages
/// stay the same) and a sequence, so every number is distinct and passes the checksum.
fn give_valid_ids(conn: &mut DbConn, county: &str) -> AppResult<()> {
    use crate::db::schema::students;
    let kids: Vec<(i64, chrono::NaiveDate)> = students::table
        .filter(students::county_code.eq(county))
        .order(students::id.asc())
        .select((students::id, students::birth_date))
        .load(conn)?;
    crate::db::write_tx(conn, |conn| {
        for (i, (id, birth)) in kids.iter().enumerate() {
            let born = *birth + chrono::Days::new((i / 1000) as u64);
            let body = format!("{county}{}{:03}", born.format("%Y%m%d"), i % 1000);
            let check = crate::domain::id_card::check_char(&body).unwrap_or('0');
            let id_no = format!("{body}{check}");
            diesel::update(students::table.find(id))
                .set((
                    students::id_no_sealed.eq(crate::db::at_rest::seal::<crate::db::at_rest::IdNo>(&id_no)?),
                    students::id_no_hash.eq(crate::db::at_rest::id_hash(&id_no)?),
                    students::birth_date.eq(born),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}
