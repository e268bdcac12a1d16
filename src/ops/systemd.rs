//! systemd's notify protocol (`Type=notify`), with the `sd-notify` crate:
//! `READY=1` once the store is open and every IMAP mailbox has had its
//! first connection attempt; `STATUS=` lines saying what the daemon does
//! (every few seconds, when they change); `RELOADING=1` … `READY=1` around
//! a SIGHUP reload; `STOPPING=1` at shutdown; and `WATCHDOG=1` fed by the
//! store worker's answers, never by a timer alone: each ping first waits
//! for the worker to answer a request queued behind the batches in hand,
//! so a stalled worker stops the pings and systemd restarts the daemon
//! (`WatchdogSec=`). Without `NOTIFY_SOCKET` every call does nothing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::watch;

use super::StoreReader;

/// How often `STATUS=` (and the status file) are refreshed.
pub const STATUS_EVERY: Duration = Duration::from_secs(5);

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("systemd notify: {e}");
    }
}

pub fn status(line: &str) {
    send(&[NotifyState::Status(line)]);
}

/// `RELOADING=1` with the monotonic time systemd wants next to it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// `READY=1` (after start or a reload), with a status line.
pub fn ready(line: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(line)]);
}

/// `READY=1` after a reload (`STATUS=` follows with the next refresh).
pub fn reloaded() {
    send(&[NotifyState::Ready]);
}

pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: finishing the work in hand"),
    ]);
}

/// Tell systemd `READY=1` once every mailbox has been tried, then keep
/// `STATUS=` and the status file current until `shutdown`.
pub async fn report_status(reader: Arc<StoreReader>, mut shutdown: watch::Receiver<bool>) {
    tokio::select! {
        _ = super::ops().all_attempted() => {}
        _ = shutdown.changed() => return,
    }
    let mut last = String::new();
    let mut first = true;
    loop {
        let line = match reader.backlog().await {
            Ok(b) => {
                let report = reader.report(&b, crate::store::now_unix());
                reader.write_status_file(&report).await;
                super::health::status_line(&report)
            }
            Err(e) => format!("cannot read the database: {e:#}"),
        };
        if first {
            tracing::info!(status = %line, "ready");
            ready(&line);
            first = false;
        } else if line != last {
            status(&line);
        }
        last = line;
        tokio::select! {
            _ = tokio::time::sleep(STATUS_EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The watchdog interval systemd asked for (`WATCHDOG_USEC`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}

/// Feed the watchdog until `shutdown`: every half `interval`, wait for
/// `alive` (the worker's answer) and only then `ping`. A stalled `alive`
/// stops the pings.
pub async fn feed_watchdog<F, P>(
    interval: Duration,
    mut alive: impl FnMut() -> F,
    mut ping: P,
    mut shutdown: watch::Receiver<bool>,
) where
    F: Future<Output = bool>,
    P: FnMut(),
{
    let every = interval / 2;
    loop {
        let ok = tokio::select! {
            ok = alive() => ok,
            _ = shutdown.changed() => return,
        };
        if !ok {
            // The worker is gone: the daemon is stopping; stay silent.
            return;
        }
        ping();
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// `WATCHDOG=1`.
pub fn watchdog_ping() {
    send(&[NotifyState::Watchdog]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_stalled_worker_stops_the_watchdog_pings() {
        let pings = Arc::new(AtomicUsize::new(0));
        let answers = Arc::new(AtomicUsize::new(0));
        let (_tx, rx) = watch::channel(false);
        let (p, a) = (pings.clone(), answers.clone());
        // The worker answers three times, then stalls for ever.
        let task = tokio::spawn(feed_watchdog(
            Duration::from_secs(10),
            move || {
                let n = a.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n >= 3 {
                        std::future::pending::<()>().await;
                    }
                    true
                }
            },
            move || {
                p.fetch_add(1, Ordering::SeqCst);
            },
            rx,
        ));
        // Paused time: the sleeps advance instantly, a whole hour of them.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(pings.load(Ordering::SeqCst), 3);
        assert_eq!(answers.load(Ordering::SeqCst), 4);
        assert!(!task.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn a_live_worker_pings_every_half_interval_until_shutdown() {
        let pings = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = watch::channel(false);
        let p = pings.clone();
        let task = tokio::spawn(feed_watchdog(
            Duration::from_secs(10),
            || async { true },
            move || {
                p.fetch_add(1, Ordering::SeqCst);
            },
            rx,
        ));
        tokio::time::sleep(Duration::from_secs(52)).await;
        // At 0, 5, 10, … 50 s.
        assert_eq!(pings.load(Ordering::SeqCst), 11);
        tx.send(true).unwrap();
        task.await.unwrap();
    }
}
