//! Long work in the background with progress: imports and county-wide printing started from a
//! page run on a worker thread; the page polls the job (a refresh every second, no JavaScript).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
}

impl JobState {
    /// Per cent done, when the total is known.
    pub fn percent(&self) -> Option<usize> {
        self.total.filter(|t| *t > 0).map(|t| (self.done * 100 / t).min(100))
    }
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
        };
        self.lock().insert(id.clone(), state);
        id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobState>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn update(&self, id: &str, f: impl FnOnce(&mut JobState)) {
        if let Some(s) = self.lock().get_mut(id) {
            f(s);
        }
    }

    /// The job, if `owner` started it.
    pub fn get(&self, id: &str, owner: i64) -> Option<JobState> {
        self.lock().get(id).filter(|s| s.owner == owner).cloned()
    }
}
