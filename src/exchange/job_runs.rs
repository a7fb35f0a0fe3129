//! What each kind of job does: started from its page, or run again from a failed job's kept
//! input. One place builds the work for both, so a re-run is the same job.

use super::import::{self, ImportReport};
use super::jobs::Jobs;
use super::jobs::Summary;
use super::jobs::{JobInput, Outcome};
use super::roster_print;
use crate::auth::Caller;
use crate::domain::calendar::Month;
use crate::domain::money::Fen;
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::inspection::flags;
use crate::ledger::entitlement;
use crate::web::AppState;

/// `launch`, off the async executor (recording the job writes its row, and a big upload's bytes).
pub async fn start(
    st: actix_web::web::Data<AppState>,
    jobs: actix_web::web::Data<Jobs>,
    caller: Caller,
    input: JobInput,
    bytes: Option<Vec<u8>>,
) -> AppResult<String> {
    crate::web::blocking(move || launch(&st, &jobs, caller, input, bytes)).await
}

/// Records the job and starts it; returns its id for the progress page.
pub fn launch(
    st: &AppState,
    jobs: &Jobs,
    caller: Caller,
    input: JobInput,
    bytes: Option<Vec<u8>>,
) -> AppResult<String> {
    let owner = caller.user_id.unwrap_or(0);
    let (runner, jobs, pool) = (jobs, jobs.clone(), st.pool.clone());
    match input {
        JobInput::Import { ref school, ref filename, ref options } => {
            let file = bytes.ok_or_else(|| AppError::invalid(ErrorCode::FileEmpty, "请选择要导入的文件"))?;
            let id = jobs.start(owner, &format!("导入 {filename}"), &input, Some(&file))?;
            let (school, filename, options, job) = (school.clone(), filename.clone(), options.clone(), id.clone());
            runner.run(&id, move || {
                let progress = |done: usize, stage: &str| jobs.progress(&job, done, None, stage);
                let result = pool.get().map_err(AppError::from).and_then(|mut conn| {
                    import::import_students(&mut conn, &caller, school.as_deref(), &file, &filename, options, &progress)
                });
                jobs.finish(&job, result.map(|r| imported(r, &file, &filename)));
            });
            Ok(id)
        }
        JobInput::PrintRosters { ref term } => {
            let t = Term::parse(term).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))?;
            let id = jobs.start(owner, &format!("打印{}受益学生花名册", t.label()), &input, None)?;
            let job = id.clone();
            runner.run(&id, move || {
                let progress = |done: usize, total: usize| jobs.progress(&job, done, Some(total), "生成PDF");
                let result = pool
                    .get()
                    .map_err(AppError::from)
                    .and_then(|mut conn| roster_print::render_all(&mut conn, &caller, t, &progress));
                jobs.finish(
                    &job,
                    result.map(|(name, bytes, n)| Outcome { done: n, file: Some((name, bytes)), ..Outcome::default() }),
                );
            });
            Ok(id)
        }
        JobInput::Entitle { ref org, ref month } => {
            let m = Month::parse(month).map_err(|m| AppError::field("month", ErrorCode::MonthFormat, m))?;
            // Refused at once, on the form, rather than as a failed job.
            let named = entitlement::computable(&mut *pool.get()?, &caller, org)?.name;
            let id = jobs.start(owner, &format!("计算{named} {m} 膳食补助"), &input, None)?;
            let (org, job) = (org.clone(), id.clone());
            runner.run(&id, move || {
                let progress = |done: usize, total: usize| jobs.progress(&job, done, Some(total), "计算");
                let result = pool
                    .get()
                    .map_err(AppError::from)
                    .and_then(|mut conn| entitlement::compute_all_with(&mut conn, &caller, &org, m, &progress));
                jobs.finish(&job, result.map(|periods| computed(&periods, m)));
            });
            Ok(id)
        }
        JobInput::Scan { ref org, ref term } => {
            let t = Term::parse(term).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))?;
            let (asked, county) = flags::county_to_refresh(&mut *pool.get()?, &caller, org)?;
            let id = jobs.start(owner, &format!("扫描{} {}疑点", county.name, t.label()), &input, None)?;
            let job = id.clone();
            runner.run(&id, move || {
                jobs.progress(&job, 0, None, "扫描");
                let result =
                    pool.get().map_err(AppError::from).and_then(|mut conn| flags::refresh(&mut conn, &county, t));
                jobs.finish(&job, result.map(|r| scanned(r, &asked, t)));
            });
            Ok(id)
        }
    }
}

/// A month computed: how many schools, children and yuan, and the month's page.
fn computed(periods: &[entitlement::Period], month: Month) -> Outcome {
    let students: i64 = periods.iter().map(|p| i64::from(p.students)).sum();
    let amount = Fen::new(periods.iter().map(|p| p.amount.fen()).sum());
    let text =
        format!("已计算 {} 所学校 {month} 的膳食补助：受益学生 {students} 人，合计 {amount} 元。", periods.len());
    let summary = Summary { text, href: format!("/entitlements?month={month}"), link: "查看本月补助".into() };
    Outcome { done: periods.len(), summary: Some(summary), ..Outcome::default() }
}

/// A county rescanned: what the scan raised, closed and kept, and the flags' page.
fn scanned(r: flags::Refreshed, org: &str, term: Term) -> Outcome {
    let text = format!(
        "扫描完成：新发现疑点 {} 条，消除后再次出现 {} 条，仍然成立 {} 条，数据更正后自动消除 {} 条。",
        r.raised, r.recurred, r.held, r.closed
    );
    let summary = Summary { text, href: format!("/inspections?org={org}&term={term}"), link: "查看疑点".into() };
    Outcome { done: r.raised + r.recurred + r.held, summary: Some(summary), ..Outcome::default() }
}

/// An import's result, with the rejected rows marked in the user's own layout when there are any.
fn imported(r: ImportReport, file: &[u8], filename: &str) -> Outcome {
    let error_workbook =
        if r.errors.is_empty() { None } else { import::error_workbook(file, filename, &r.errors).ok() };
    Outcome { done: r.rows, report: Some(r), error_workbook, ..Outcome::default() }
}
