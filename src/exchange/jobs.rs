//! Long work in the background with progress: imports and county-wide printing started from a
//! page run on a worker thread; the page polls the job (a refresh every second, no JavaScript).
//!
//! Jobs are rows (`jobs`), so every server on the database shows them, and a job outlives the
//! process that ran it: a server marks its own running jobs failed when it starts again, and a
//! job whose server stopped beating is reported failed by whoever looks. What a job was asked
//! to do (its input, with the uploaded file) is kept with it, so a job cut short can be run
//! again. Results and inputs are dropped `keep` after the job ends; the row stays as history.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::import::{ImportOptions, ImportReport};
use crate::db::at_rest::{self, JOB_ERRORS as ERRORS, JOB_FILE as FILE, JOB_INPUT as INPUT};
use crate::db::schema::jobs;
use crate::db::{DbConn, Pool};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};

/// What a job was asked to do: enough to do it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobInput {
    /// A registry template (its bytes kept beside).
    Import { school: Option<String>, filename: String, options: ImportOptions },
    /// Every programme school's newest roster of a term as one PDF.
    PrintRosters { term: String },
    /// A month's meal subsidy computed again for every programme school under an org.
    Entitle { org: String, month: String },
    /// A county's term scanned by the anomaly rules: flags raised, closed and kept.
    Scan { org: String, term: String },
}

impl JobInput {
    fn kind(&self) -> JobKind {
        match self {
            JobInput::Import { .. } => JobKind::Import,
            JobInput::PrintRosters { .. } => JobKind::PrintRosters,
            JobInput::Entitle { .. } => JobKind::Entitle,
            JobInput::Scan { .. } => JobKind::Scan,
        }
    }
}

/// What kind of work a job does, as its row names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    Import,
    PrintRosters,
    Entitle,
    Scan,
}

impl JobKind {
    const ALL: [JobKind; 4] = [JobKind::Import, JobKind::PrintRosters, JobKind::Entitle, JobKind::Scan];

    fn as_str(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::PrintRosters => "print_rosters",
            JobKind::Entitle => "entitle",
            JobKind::Scan => "scan",
        }
    }

    fn parse(s: &str) -> Option<JobKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What a job of this kind leaves saying when its server stopped mid-way: what of the work
    /// stands depends on how the kind writes (an import in one transaction, a month school by
    /// school, a print nothing at all).
    fn cut_short(kind: Option<JobKind>) -> String {
        let stands = match kind {
            Some(JobKind::Import) => "导入要么全部生效、要么全部不生效，本次未写入任何数据；可点“重新运行”再做一次",
            Some(JobKind::Entitle) => {
                "每所学校的补助单独一次写完：已算完的学校已保存，其余学校仍是上次的结果；\
                 可点“重新运行”把全部学校重新计算一遍"
            }
            Some(JobKind::Scan) => "扫描结果一次写入，本次未改变任何疑点；可点“重新运行”再扫描一次",
            Some(JobKind::PrintRosters) | None => "未生成文件；可点“重新运行”再做一次",
        };
        format!("运行此任务的服务器中途停止（重启或故障），任务已中断。{stands}")
    }
}

/// A finished job's result in words, with where to look at it (a month's subsidies, the flags).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "JobSummary")]
pub struct Summary {
    pub text: String,
    pub href: String,
    pub link: String,
}

/// What a job's `report_json` holds: an import's report, or another kind's summary.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Stored {
    Import(ImportReport),
    Summary(Summary),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Done,
    Failed,
}

impl JobStatus {
    fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> JobStatus {
        match s {
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            _ => JobStatus::Failed,
        }
    }
}

/// A job as its page shows it (its files are fetched on their own).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct JobState {
    pub id: String,
    /// Who started it: only they see it.
    pub owner: i64,
    pub title: String,
    pub status: JobStatus,
    pub stage: String,
    pub done: usize,
    /// How many units the job has, when known: the page then shows a proportional bar.
    pub total: Option<usize>,
    pub finished: bool,
    pub error: Option<String>,
    pub report: Option<ImportReport>,
    pub summary: Option<Summary>,
    pub has_error_workbook: bool,
    /// The name of what the job made for download.
    pub file_name: Option<String>,
    /// Its results (and input) were let go after the keeping time.
    pub expired: bool,
    /// It failed and its input is still kept: it can be run again.
    pub restartable: bool,
    pub started_at: String,
}

impl JobState {
    /// Per cent done, when the total is known.
    pub fn percent(&self) -> Option<usize> {
        self.total.filter(|t| *t > 0).map(|t| (self.done * 100 / t).min(100))
    }
}

/// What a page answers for a job that is not there or not the caller's: both read the same,
/// so ids reveal nothing.
pub fn gone() -> AppError {
    AppError::new(ErrorKind::NotFound, ErrorCode::JobGone, "没有这个任务（任务只对发起人可见）")
}

/// How long a running job may go without a heartbeat before it is taken for dead.
const STALE: Duration = Duration::from_secs(120);
const BEAT: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct Jobs {
    pool: Pool,
    /// This server (stable across its restarts: it names its own jobs on the next start).
    server: Arc<str>,
    keep: Duration,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = jobs)]
struct Row {
    id: String,
    owner_id: i64,
    kind: String,
    title: String,
    state: String,
    stage: String,
    done: i64,
    total: Option<i64>,
    error: Option<String>,
    report_json: Option<String>,
    file_name: Option<String>,
    started_at: NaiveDateTime,
    heartbeat_at: NaiveDateTime,
    finished_at: Option<NaiveDateTime>,
    expired: bool,
}

/// What a finished job hands back.
#[derive(Default)]
pub struct Outcome {
    pub done: usize,
    pub report: Option<ImportReport>,
    pub summary: Option<Summary>,
    pub error_workbook: Option<Vec<u8>>,
    pub file: Option<(String, Vec<u8>)>,
}

fn ago(d: Duration) -> NaiveDateTime {
    crate::clock::now() - chrono::Duration::from_std(d).unwrap_or_default()
}

impl Jobs {
    pub fn new(pool: Pool, server: &str, keep: Duration) -> Self {
        Self { pool, server: server.into(), keep }
    }

    fn conn(&self) -> AppResult<crate::db::PooledConn> {
        Ok(self.pool.get()?)
    }

    /// Records a new job, running, with what it was asked to do.
    pub fn start(&self, owner: i64, title: &str, input: &JobInput, bytes: Option<&[u8]>) -> AppResult<String> {
        let id = hex::encode(rand::random::<[u8; 12]>());
        let conn = &mut self.conn()?;
        self.expire(conn)?;
        let now = crate::clock::now();
        let input_json = serde_json::to_string(input)
            .map_err(|e| AppError::internal_msg(ErrorCode::JobInput, format!("任务参数无法保存: {e}")))?;
        diesel::insert_into(jobs::table)
            .values((
                jobs::id.eq(&id),
                jobs::owner_id.eq(owner),
                jobs::kind.eq(input.kind().as_str()),
                jobs::title.eq(title),
                jobs::state.eq(JobStatus::Running.as_str()),
                jobs::stage.eq("排队"),
                jobs::done.eq(0i64),
                jobs::input_json.eq(input_json),
                jobs::input_bytes.eq(sealed(&id, INPUT, bytes)?),
                jobs::server_id.eq(&*self.server),
                jobs::started_at.eq(now),
                jobs::heartbeat_at.eq(now),
                jobs::expired.eq(false),
            ))
            .execute(conn)?;
        Ok(id)
    }

    /// Runs `work` on its own thread, beating while it runs. Should it panic, the job ends with
    /// an error instead of showing progress forever.
    pub fn run(&self, id: &str, work: impl FnOnce() + Send + 'static) {
        let (jobs, id) = (self.clone(), id.to_owned());
        let running = Arc::new(AtomicBool::new(true));
        let beating = (jobs.clone(), id.clone(), running.clone());
        std::thread::spawn(move || {
            let (jobs, id, running) = beating;
            while running.load(Ordering::Relaxed) {
                std::thread::sleep(BEAT);
                if running.load(Ordering::Relaxed) {
                    jobs.beat(&id);
                }
            }
        });
        std::thread::spawn(move || {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
                jobs.fail(&id, "任务意外中止，未保存任何更改；请重试，如仍失败请联系系统管理员");
            }
            running.store(false, Ordering::Relaxed);
        });
    }

    fn beat(&self, id: &str) {
        let r = self.conn().and_then(|mut c| {
            diesel::update(jobs::table.find(id).filter(jobs::state.eq("running")))
                .set(jobs::heartbeat_at.eq(crate::clock::now()))
                .execute(&mut c)
                .map_err(AppError::from)
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, job = id, "job heartbeat not recorded");
        }
    }

    /// Progress, as the work reports it (a failure to record it does not stop the work).
    pub fn progress(&self, id: &str, done: usize, total: Option<usize>, stage: &str) {
        let r = self.conn().and_then(|mut c| {
            diesel::update(jobs::table.find(id).filter(jobs::state.eq("running")))
                .set((
                    jobs::done.eq(done as i64),
                    jobs::total.eq(total.map(|t| t as i64)),
                    jobs::stage.eq(stage),
                    jobs::heartbeat_at.eq(crate::clock::now()),
                ))
                .execute(&mut c)
                .map_err(AppError::from)
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, job = id, "job progress not recorded");
        }
    }

    /// The job ended: its result, or why it failed.
    pub fn finish(&self, id: &str, result: AppResult<Outcome>) {
        let outcome = match result {
            Ok(o) => o,
            Err(e) => return self.fail(id, &e.message),
        };
        let stored = match (outcome.report, outcome.summary) {
            (Some(r), _) => Some(Stored::Import(r)),
            (None, s) => s.map(Stored::Summary),
        };
        let report_json = stored.and_then(|r| serde_json::to_string(&r).ok());
        let (file_name, file_bytes) = outcome.file.map_or((None, None), |(n, b)| (Some(n), Some(b)));
        let files = sealed(id, FILE, file_bytes.as_deref())
            .and_then(|f| Ok((f, sealed(id, ERRORS, outcome.error_workbook.as_deref())?)));
        let (file_bytes, error_workbook) = match files {
            Ok(files) => files,
            Err(e) => return self.fail(id, &e.message),
        };
        let r = self.conn().and_then(|mut c| {
            diesel::update(jobs::table.find(id))
                .set((
                    jobs::state.eq(JobStatus::Done.as_str()),
                    jobs::stage.eq("完成"),
                    jobs::done.eq(outcome.done as i64),
                    jobs::report_json.eq(report_json),
                    jobs::error_workbook.eq(error_workbook),
                    jobs::file_name.eq(file_name),
                    jobs::file_bytes.eq(file_bytes),
                    jobs::finished_at.eq(crate::clock::now()),
                    // Done: nothing to run again.
                    jobs::input_bytes.eq(None::<Vec<u8>>),
                ))
                .execute(&mut c)
                .map_err(AppError::from)
        });
        if let Err(e) = r {
            tracing::error!(error = %e, job = id, "job result not recorded");
        }
    }

    pub fn fail(&self, id: &str, reason: &str) {
        let r = self.conn().and_then(|mut c| mark_failed(&mut c, id, reason));
        if let Err(e) = r {
            tracing::error!(error = %e, job = id, "job failure not recorded");
        }
    }

    /// At a server's start: its jobs still marked running died with its previous process.
    pub fn recover(&self) -> AppResult<usize> {
        let conn = &mut self.conn()?;
        let mine: Vec<(String, String)> = jobs::table
            .filter(jobs::state.eq("running"))
            .filter(jobs::server_id.eq(self.server.to_string()))
            .select((jobs::id, jobs::kind))
            .load(conn)?;
        let mut n = 0;
        for (id, kind) in &mine {
            n += mark_failed(conn, id, &JobKind::cut_short(JobKind::parse(kind)))?;
        }
        Ok(n)
    }

    /// The job, if `owner` started it; else [`gone`]. A running job whose server stopped beating
    /// is marked failed here, by whichever server looks.
    pub fn get(&self, id: &str, owner: i64) -> AppResult<JobState> {
        let conn = &mut self.conn()?;
        let (row, has_input, has_error_workbook) = self.row(conn, id, owner)?;
        if row.state == "running" && row.heartbeat_at < ago(STALE) {
            mark_failed(conn, id, &JobKind::cut_short(JobKind::parse(&row.kind)))?;
            return self.get(id, owner);
        }
        let status = JobStatus::parse(&row.state);
        let (report, summary) = match row.report_json.and_then(|j| serde_json::from_str(&j).ok()) {
            Some(Stored::Import(r)) => (Some(r), None),
            Some(Stored::Summary(s)) => (None, Some(s)),
            None => (None, None),
        };
        // Past its keeping time it reads as expired at once; the bytes go at the next sweep
        // (a page polled every second does not write).
        let expired = row.expired || row.finished_at.is_some_and(|t| t < ago(self.keep));
        Ok(JobState {
            owner: row.owner_id,
            title: row.title,
            status,
            stage: row.stage,
            done: row.done.max(0) as usize,
            total: row.total.map(|t| t.max(0) as usize),
            finished: status != JobStatus::Running,
            error: row.error,
            report,
            summary,
            has_error_workbook: has_error_workbook && !expired,
            file_name: row.file_name,
            expired,
            restartable: status == JobStatus::Failed && !expired && has_input,
            started_at: crate::clock::shown(&row.started_at),
            id: row.id,
        })
    }

    /// The owner's job, with whether it still holds its input (an import's file) and an error
    /// workbook, in one query.
    fn row(&self, conn: &mut DbConn, id: &str, owner: i64) -> AppResult<(Row, bool, bool)> {
        jobs::table
            .find(id)
            .filter(jobs::owner_id.eq(owner))
            .select((
                Row::as_select(),
                jobs::input_bytes.is_not_null().or(jobs::kind.ne(JobKind::Import.as_str())),
                jobs::error_workbook.is_not_null(),
            ))
            .first(conn)
            .optional()?
            .ok_or_else(gone)
    }

    /// What the job made for download.
    pub fn file(&self, id: &str, owner: i64) -> AppResult<(String, Vec<u8>)> {
        let conn = &mut self.conn()?;
        self.row(conn, id, owner)?;
        self.expire(conn)?;
        let (name, bytes): (Option<String>, Option<Vec<u8>>) =
            jobs::table.find(id).select((jobs::file_name, jobs::file_bytes)).first(conn)?;
        name.zip(opened(id, FILE, bytes)?).ok_or_else(expired_or_none)
    }

    /// The rejected rows as a workbook in the user's layout.
    pub fn error_workbook(&self, id: &str, owner: i64) -> AppResult<Vec<u8>> {
        let conn = &mut self.conn()?;
        self.row(conn, id, owner)?;
        self.expire(conn)?;
        let bytes: Option<Vec<u8>> = jobs::table.find(id).select(jobs::error_workbook).first(conn)?;
        opened(id, ERRORS, bytes)?.ok_or_else(expired_or_none)
    }

    /// A failed job's input, to run it again (its owner only).
    pub fn input(&self, id: &str, owner: i64) -> AppResult<(JobInput, Option<Vec<u8>>)> {
        let state = self.get(id, owner)?;
        if !state.restartable {
            return Err(AppError::conflict(
                ErrorCode::JobNotRestartable,
                "只有中断或失败、且未过保留期的任务可以重新运行",
            ));
        }
        let conn = &mut self.conn()?;
        let (json, bytes): (String, Option<Vec<u8>>) =
            jobs::table.find(id).select((jobs::input_json, jobs::input_bytes)).first(conn)?;
        let input = serde_json::from_str(&json)
            .map_err(|e| AppError::internal_msg(ErrorCode::JobInput, format!("任务参数无法读出: {e}")))?;
        Ok((input, opened(id, INPUT, bytes)?))
    }

    /// Lets go of results and inputs of jobs that ended longer than `keep` ago.
    fn expire(&self, conn: &mut DbConn) -> AppResult<()> {
        diesel::update(jobs::table.filter(jobs::finished_at.lt(ago(self.keep))).filter(jobs::expired.eq(false)))
            .set((
                jobs::expired.eq(true),
                jobs::file_bytes.eq(None::<Vec<u8>>),
                jobs::error_workbook.eq(None::<Vec<u8>>),
                jobs::input_bytes.eq(None::<Vec<u8>>),
            ))
            .execute(conn)?;
        Ok(())
    }
}

fn expired_or_none() -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        ErrorCode::JobExpired,
        "结果文件已过保留期被删除（或本任务没有该文件），请重新操作",
    )
}

/// A running job ends as failed, saying why (a job already ended keeps its end).
fn mark_failed(conn: &mut DbConn, id: &str, reason: &str) -> AppResult<usize> {
    Ok(diesel::update(jobs::table.find(id).filter(jobs::state.eq("running")))
        .set((
            jobs::state.eq(JobStatus::Failed.as_str()),
            jobs::stage.eq("中断"),
            jobs::error.eq(reason),
            jobs::finished_at.eq(crate::clock::now()),
        ))
        .execute(conn)?)
}

// An upload kept for a restart, a result file and a rejected-rows workbook hold children's
// identities as the user's files did: each is sealed with the field key, bound to its job.
fn sealed(job: &str, part: &str, bytes: Option<&[u8]>) -> AppResult<Option<Vec<u8>>> {
    bytes.map(|b| at_rest::seal_file(&at_rest::job_field(job, part), b)).transpose()
}

fn opened(job: &str, part: &str, bytes: Option<Vec<u8>>) -> AppResult<Option<Vec<u8>>> {
    bytes.map(|b| at_rest::open_file(&at_rest::job_field(job, part), b)).transpose()
}
