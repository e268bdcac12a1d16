//! Retention: forgetting raw messages and attachments past the ages in
//! `[retention]`, for `postdesk db prune` and, once a day, the daemon.
//!
//! [`crate::store::retention`] decides in SQL what may go (keeping what
//! held quarantine entries and young articles still need) and deletes the
//! rows in one transaction; the attachment files no row refers to any
//! more are removed here, after that commit, so a failed prune never
//! leaves a row pointing at a removed file. Ages are read when the daemon
//! starts: a change takes effect at the next start.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::Config;
use crate::store::retention::{Cutoffs, Pruned};
use crate::store::{Durability, Store};

/// What one prune did (or, dry, would do).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// Raw messages received before this went; `None`: all kept.
    pub raw_messages_before: Option<String>,
    /// Attachments of articles created before this went; `None`: all kept.
    pub attachments_before: Option<String>,
    #[serde(flatten)]
    pub pruned: Pruned,
    /// Files removed from `storage.data_dir` (0 on a dry run).
    pub files_removed: usize,
    /// Files that could not be removed, with why (their rows are gone:
    /// remove them by hand).
    pub files_failed: Vec<String>,
}

/// The first daily prune runs this long after the daemon starts, so a
/// restart loop does not prune in a loop and start-up stays quick.
const FIRST_AFTER: Duration = Duration::from_secs(10 * 60);
const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// The cut-off `days` before now, written as stored timestamps are.
fn days_ago(days: Option<u32>) -> Option<String> {
    days.map(|d| {
        (chrono::Utc::now() - chrono::Duration::days(i64::from(d)))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    })
}

/// Is any age configured?
pub fn configured(config: &Config) -> bool {
    config.retention.raw_messages_days.is_some() || config.retention.attachments_days.is_some()
}

/// Prune now as `[retention]` says (blocking).
pub fn prune(config: &Config, dry_run: bool) -> Result<Report, crate::store::StoreError> {
    let cut = Cutoffs {
        raw_messages: days_ago(config.retention.raw_messages_days),
        attachments: days_ago(config.retention.attachments_days),
    };
    let mut report = Report {
        dry_run,
        raw_messages_before: cut.raw_messages.clone(),
        attachments_before: cut.attachments.clone(),
        ..Report::default()
    };
    if cut == Cutoffs::default() {
        return Ok(report);
    }
    let mut store = Store::open(&config.storage.database, Durability::Full)?;
    report.pruned = crate::store::retention::prune(store.conn(), &cut, dry_run)?;
    if dry_run {
        return Ok(report);
    }
    for rel in &report.pruned.files {
        let path = config.storage.data_dir.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => report.files_removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => report
                .files_failed
                .push(format!("removing {}: {e}", path.display())),
        }
    }
    Ok(report)
}

/// The daemon's daily prune; returns at once when no age is configured.
pub async fn daily(config: Arc<Config>, mut shutdown: watch::Receiver<bool>) {
    if !configured(&config) {
        return;
    }
    let mut wait = FIRST_AFTER;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = EVERY;
        let c = config.clone();
        match tokio::task::spawn_blocking(move || prune(&c, false)).await {
            Ok(Ok(r)) => {
                tracing::info!(
                    raw_messages = r.pruned.raw_messages,
                    raw_bytes = r.pruned.raw_bytes,
                    sent_mail = r.pruned.sent_mail,
                    sent_bytes = r.pruned.sent_bytes,
                    attachment_rows = r.pruned.attachment_rows,
                    files_removed = r.files_removed,
                    "daily prune done"
                );
                for f in &r.files_failed {
                    tracing::warn!("daily prune: {f}; its rows are gone, remove it by hand");
                }
            }
            Ok(Err(e)) => tracing::warn!("daily prune failed, trying again tomorrow: {e}"),
            Err(e) => tracing::error!("daily prune task failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, days: Option<u32>) -> Arc<Config> {
        let mut c = crate::process::decide::tests::config();
        c.storage.database = dir.join("t.db");
        c.storage.data_dir = dir.to_path_buf();
        c.retention.raw_messages_days = days;
        c.retention.attachments_days = days;
        Arc::new(c)
    }

    fn raw_count(dir: &std::path::Path) -> i64 {
        let mut s = Store::open(&dir.join("t.db"), Durability::Full).unwrap();
        crate::store::retention::raw_message_count(s.conn()).unwrap()
    }

    fn old_raw(dir: &std::path::Path) {
        let mut s = Store::open(&dir.join("t.db"), Durability::Full).unwrap();
        crate::store::retention::insert_raw_received_at(s.conn(), "r", "2000-01-01T00:00:00Z")
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_daemon_prunes_after_a_while_and_stops_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        old_raw(dir.path());
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(daily(config(dir.path(), Some(30)), rx));
        tokio::time::sleep(FIRST_AFTER / 2).await;
        assert_eq!(raw_count(dir.path()), 1, "pruned before FIRST_AFTER");
        // Past the first run: spawn_blocking runs on a real thread, so
        // wait (up to a minute) for its effect.
        tokio::time::sleep(FIRST_AFTER).await;
        for _ in 0..6000 {
            if raw_count(dir.path()) == 0 {
                break;
            }
            tokio::task::yield_now().await;
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(raw_count(dir.path()), 0);
        tx.send(true).unwrap();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn without_ages_the_daemon_task_ends_at_once_and_prune_keeps_all() {
        let dir = tempfile::tempdir().unwrap();
        old_raw(dir.path());
        let (_tx, rx) = watch::channel(false);
        daily(config(dir.path(), None), rx).await;
        let r = prune(&config(dir.path(), None), false).unwrap();
        assert_eq!(r.pruned, Pruned::default());
        assert_eq!(raw_count(dir.path()), 1);
    }
}
