//! The daemon's scheduler task: every `lifecycle.scheduler_interval_secs`
//! it asks the store worker for one round of the lifecycle's scheduled
//! moves ([`crate::process::scheduled`]: resolved tickets validated after
//! their queue's days). It keeps no state of its own: each round decides
//! from stored times, so a restart (or a round missed while the daemon was
//! down) loses nothing — the next round catches up. The first round runs
//! soon after start; rounds wait for the batch in hand, never interrupt it.

use std::time::Duration;

use tokio::sync::watch;

use crate::worker::{Worker, WorkerError};

/// The first round runs this long after start (or after one interval, if
/// shorter), so start-up stays quick.
const FIRST_AFTER: Duration = Duration::from_secs(5);

/// Run rounds every `every` until shutdown.
pub async fn run(every: Duration, worker: Worker, mut shutdown: watch::Receiver<bool>) {
    let mut wait = FIRST_AFTER.min(every);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = every;
        match worker.schedule().await {
            Ok(moved) if moved.is_empty() => {}
            Ok(moved) => tracing::info!(
                tickets = %moved.join(", "),
                "scheduler: {} ticket(s) validated",
                moved.len()
            ),
            Err(WorkerError::Gone) => return,
            Err(e) => tracing::error!("scheduler: round failed, tried again next round: {e}"),
        }
    }
}
