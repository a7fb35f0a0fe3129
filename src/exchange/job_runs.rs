//! What each kind of job does: started from its page, or run again from a failed job's kept
//! input. One place builds the work for both, so a re-run is the same job.

use super::import::{self, ImportReport};
use super::jobs::{JobInput, Outcome};
use super::roster_print;
use crate::auth::Caller;
use crate::domain::term::Term;
use crate::error::{AppError, AppResult};
use crate::web::AppState;

/// Records the job and starts it; returns its id for the progress page.
pub fn launch(st: &AppState, caller: Caller, input: JobInput, bytes: Option<Vec<u8>>) -> AppResult<String> {
    let owner = caller.user_id.unwrap_or(0);
    let (jobs, pool) = (st.jobs.clone(), st.pool.clone());
    match input {
        JobInput::Import { ref school, ref filename, ref options } => {
            let file = bytes.ok_or_else(|| AppError::invalid("file.empty", "请选择要导入的文件"))?;
            let id = jobs.start(owner, &format!("导入 {filename}"), &input, Some(&file))?;
            let (school, filename, options, job) = (school.clone(), filename.clone(), options.clone(), id.clone());
            st.jobs.run(&id, move || {
                let progress = |done: usize, stage: &str| jobs.progress(&job, done, None, stage);
                let result = pool.get().map_err(AppError::from).and_then(|mut conn| {
                    import::import_students(&mut conn, &caller, school.as_deref(), &file, &filename, options, &progress)
                });
                jobs.finish(&job, result.map(|r| imported(r, &file, &filename)));
            });
            Ok(id)
        }
        JobInput::PrintRosters { ref term } => {
            let t = Term::parse(term).map_err(|m| AppError::field("term", "term.format", m))?;
            let id = jobs.start(owner, &format!("打印{}受益学生花名册", t.label()), &input, None)?;
            let job = id.clone();
            st.jobs.run(&id, move || {
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
    }
}

/// An import's result, with the rejected rows marked in the user's own layout when there are any.
fn imported(r: ImportReport, file: &[u8], filename: &str) -> Outcome {
    let error_workbook =
        if r.errors.is_empty() { None } else { import::error_workbook(file, filename, &r.errors).ok() };
    Outcome { done: r.rows, report: Some(r), error_workbook, file: None }
}
