//! The count beside 首页 on every page: how many things wait for the signed-in person's decision.
//! The to-do counts it (the app installs the counter: the kit knows no area); it is kept a minute
//! per session and forgotten when the person acts, so the page after an act counts again.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::AppState;
use crate::auth::Caller;
use crate::db::DbConn;
use crate::error::AppResult;

pub type Counter = fn(&mut DbConn, &Caller) -> AppResult<usize>;

static COUNTER: OnceLock<Counter> = OnceLock::new();
static COUNTS: OnceLock<Mutex<HashMap<String, (usize, Instant)>>> = OnceLock::new();

/// How long a count stands before the next page counts again.
const FRESH: Duration = Duration::from_secs(60);

/// Sets how the count is made (once per process; later calls keep the first).
pub fn install(counter: Counter) {
    let _ = COUNTER.set(counter);
}

fn counts() -> std::sync::MutexGuard<'static, HashMap<String, (usize, Instant)>> {
    COUNTS.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The session's count while it is fresh.
pub fn count(session: &str) -> Option<usize> {
    counts().get(session).filter(|(_, at)| at.elapsed() < FRESH).map(|(n, _)| *n)
}

/// Keeps a count just made (the home page and the to-do API make it anyway).
pub fn remember(session: &str, n: usize) {
    let mut all = counts();
    // Sessions long gone are dropped as new counts come in.
    all.retain(|_, (_, at)| at.elapsed() < FRESH * 10);
    all.insert(session.to_owned(), (n, Instant::now()));
}

/// The person acted: what waits for them may have changed.
pub fn forget(session: &str) {
    counts().remove(session);
}

/// Counts for the caller's session unless a fresh count is kept. A failure leaves the menu
/// without its count (logged); the page itself goes on.
pub async fn refresh(st: &AppState, caller: &Caller) {
    let (Some(session), Some(counter)) = (caller.session_id.clone(), COUNTER.get().copied()) else { return };
    if count(&session).is_some() {
        return;
    }
    let c = caller.clone();
    match st.run(move |conn| counter(conn, &c)).await {
        Ok(n) => remember(&session, n),
        Err(e) => tracing::warn!(code = %e.code, "the menu's to-do count could not be made"),
    }
}
