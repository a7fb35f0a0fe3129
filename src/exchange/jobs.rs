//! Long work in the background with progress: imports and county-wide printing started from a
//! page run on a worker thread; the page polls the job (a refresh every second, no JavaScript).
//! A finished job is kept for its owner for an hour, and finished jobs together hold at most
//! `MAX_KEPT_BYTES` (the oldest go first): its files live in memory, and a server that kept every
//! county's printed rosters would run out of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{AppError, ErrorKind};

use serde::Serialize;

use super::import::ImportReport;

#[derive(Debug, Clone, Serialize)]
pub struct JobState {
    pub id: String,
    /// Who started it: only they see it.
    pub owner: i64,
    pub title: String,
    pub stage: String,
    pub done: usize,
    /// How many units the job has, when known: the page then shows a proportional bar.
    pub total: Option<usize>,
    pub finished: bool,
    pub error: Option<String>,
    pub report: Option<ImportReport>,
    /// The rejected rows as a workbook in the user's layout, when there are any.
    #[serde(skip)]
    pub error_workbook: Option<Vec<u8>>,
    /// What the job made for download: (file name, bytes).
    #[serde(skip)]
    pub file: Option<(String, Vec<u8>)>,
    /// When it finished: kept for `KEEP` from then.
    #[serde(skip)]
    finished_at: Option<Instant>,
}

/// How long a finished job's result stays for its owner.
pub const KEEP: Duration = Duration::from_secs(3600);
/// What finished jobs may hold in memory together.
pub const MAX_KEPT_BYTES: usize = 256 << 20;

impl JobState {
    /// Per cent done, when the total is known.
    pub fn percent(&self) -> Option<usize> {
        self.total.filter(|t| *t > 0).map(|t| (self.done * 100 / t).min(100))
    }

    /// Roughly what it holds in memory.
    fn bytes(&self) -> usize {
        let rows = self.report.as_ref().map_or(0, |r| r.errors.len() * 256);
        rows + self.error_workbook.as_ref().map_or(0, Vec::len) + self.file.as_ref().map_or(0, |(_, b)| b.len())
    }
}

/// What a page answers for a job that is not there: it ended and its result was let go, or the
/// server restarted (jobs live in memory). Another user's job reads the same, so ids reveal nothing.
pub fn gone() -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        "job.gone",
        "该任务已结束，结果已不再保留（任务完成后保留1小时；服务重启后不保留）。导入要么全部生效、要么全部未生效，\
         请在学生名单或审计记录中查看；如需结果文件，请重新操作",
    )
}

#[derive(Clone, Default)]
pub struct Jobs(Arc<Mutex<HashMap<String, JobState>>>);

impl Jobs {
    pub fn start(&self, owner: i64, title: &str) -> String {
        let id = hex::encode(rand::random::<[u8; 12]>());
        let state = JobState {
            id: id.clone(),
            owner,
            title: title.to_owned(),
            stage: "排队".into(),
            done: 0,
            total: None,
            finished: false,
            error: None,
            report: None,
            error_workbook: None,
            file: None,
            finished_at: None,
        };
        let mut jobs = self.lock();
        evict(&mut jobs, Instant::now());
        jobs.insert(id.clone(), state);
        id
    }

    /// Runs `work` on its own thread. Should it panic, the job ends with an error instead of
    /// showing progress forever.
    pub fn run(&self, id: &str, work: impl FnOnce() + Send + 'static) {
        let (jobs, id) = (self.clone(), id.to_owned());
        std::thread::spawn(move || {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
                jobs.update(&id, |s| {
                    s.finished = true;
                    s.stage = "中止".into();
                    s.error = Some("任务意外中止，未保存任何更改；请重试，如仍失败请联系系统管理员".into());
                });
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobState>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn update(&self, id: &str, f: impl FnOnce(&mut JobState)) {
        let mut jobs = self.lock();
        if let Some(s) = jobs.get_mut(id) {
            f(s);
            if s.finished && s.finished_at.is_none() {
                s.finished_at = Some(Instant::now());
                evict(&mut jobs, Instant::now());
            }
        }
    }

    /// The job, if `owner` started it and it is still kept; else [`gone`].
    pub fn get(&self, id: &str, owner: i64) -> Result<JobState, AppError> {
        let mut jobs = self.lock();
        evict(&mut jobs, Instant::now());
        jobs.get(id).filter(|s| s.owner == owner).cloned().ok_or_else(gone)
    }
}

/// Lets go of finished jobs past `KEEP`, then of the oldest finished ones while together they
/// hold more than `MAX_KEPT_BYTES`. Running jobs stay.
fn evict(jobs: &mut HashMap<String, JobState>, now: Instant) {
    jobs.retain(|_, s| s.finished_at.is_none_or(|t| now.duration_since(t) < KEEP));
    let mut finished: Vec<(Instant, String, usize)> =
        jobs.iter().filter_map(|(id, s)| s.finished_at.map(|t| (t, id.clone(), s.bytes()))).collect();
    let mut held: usize = finished.iter().map(|f| f.2).sum();
    finished.sort();
    for (_, id, bytes) in finished {
        if held <= MAX_KEPT_BYTES {
            break;
        }
        jobs.remove(&id);
        held -= bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished_with(jobs: &Jobs, owner: i64, bytes: usize) -> String {
        let id = jobs.start(owner, "打印");
        jobs.update(&id, |s| {
            s.finished = true;
            s.file = Some(("x.pdf".into(), vec![0; bytes]));
        });
        id
    }

    #[test]
    fn finished_jobs_past_the_byte_cap_go_oldest_first_and_running_ones_stay() {
        let jobs = Jobs::default();
        let running = jobs.start(1, "导入");
        let old = finished_with(&jobs, 1, MAX_KEPT_BYTES / 2);
        let mid = finished_with(&jobs, 1, MAX_KEPT_BYTES / 2);
        assert!(jobs.get(&old, 1).is_ok() && jobs.get(&mid, 1).is_ok(), "at the cap both stay");
        let new = finished_with(&jobs, 1, 1024);
        assert_eq!(jobs.get(&old, 1).err().map(|e| e.code), Some("job.gone"));
        assert!(jobs.get(&mid, 1).is_ok() && jobs.get(&new, 1).is_ok());
        assert!(jobs.get(&running, 1).is_ok(), "a running job is never let go");
    }

    #[test]
    fn a_finished_job_goes_after_an_hour() {
        let jobs = Jobs::default();
        let id = finished_with(&jobs, 1, 10);
        let mut held = jobs.lock();
        evict(&mut held, Instant::now() + KEEP - Duration::from_secs(1));
        assert!(held.contains_key(&id));
        evict(&mut held, Instant::now() + KEEP);
        assert!(!held.contains_key(&id));
    }

    #[test]
    fn another_owners_job_reads_as_gone_and_a_panicking_job_ends_with_an_error() {
        let jobs = Jobs::default();
        let id = jobs.start(1, "导入");
        assert_eq!(jobs.get(&id, 2).err().map(|e| e.code), Some("job.gone"));
        jobs.run(&id, || panic!("parser bug"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !jobs.get(&id, 1).is_ok_and(|s| s.finished) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let s = jobs.get(&id, 1).expect("kept");
        assert!(s.finished && s.error.as_deref().is_some_and(|e| e.contains("意外中止")), "{:?}", s.error);
    }
}
