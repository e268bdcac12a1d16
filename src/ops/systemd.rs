//! systemd's notify protocol (`Type=notify`), with the `sd-notify` crate:
//! `READY=1` once the store is open and every IMAP mailbox has had its
//! first connection attempt; `STATUS=` lines saying what the daemon does
//! (every few seconds, when they change); `RELOADING=1` … `READY=1` around
//! a SIGHUP reload; `STOPPING=1` at shutdown; and `WATCHDOG=1` fed by the
//! store worker's answers, never by a timer alone: each ping first waits
//! for the worker to answer a request queued behind the batches in hand,
//! so a stalled worker stops the pings and systemd restarts the daemon
//! (`WatchdogSec=`); `EXTEND_TIMEOUT_USEC=` every 20 s while the database
//! is opened and migrated, so a long migration outlasts `TimeoutStartSec=`.
//! Without `NOTIFY_SOCKET` every call does nothing.

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

/// How often [`while_starting`] tells systemd that start-up goes on.
const STARTING_EVERY: Duration = Duration::from_secs(20);

/// Run `work`, part of the daemon's start (opening and migrating the
/// database), telling systemd every 20 s that start-up goes on:
/// `EXTEND_TIMEOUT_USEC` for a minute more, so that a migration longer
/// than `TimeoutStartSec=` is not killed half way, and `STATUS=what`.
/// Nothing is said of work that ends sooner.
pub fn while_starting<T>(what: &str, work: impl FnOnce() -> T) -> T {
    while_starting_with(what, STARTING_EVERY, send, work)
}

fn while_starting_with<T>(
    what: &str,
    every: Duration,
    tell: fn(&[NotifyState]),
    work: impl FnOnce() -> T,
) -> T {
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let line = what.to_string();
    let teller = std::thread::spawn(move || {
        // Until `done` is dropped (the channel disconnects).
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(every) {
            let extend = (every * 3).as_micros().try_into().unwrap_or(u32::MAX);
            tell(&[
                NotifyState::ExtendTimeoutUsec(extend),
                NotifyState::Status(&line),
            ]);
        }
    });
    let out = work();
    drop(done);
    let _ = teller.join();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    static TOLD: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn remember(states: &[NotifyState]) {
        let line: Vec<String> = states.iter().map(|s| s.to_string()).collect();
        TOLD.lock().unwrap().push(line.join("\n"));
    }

    #[test]
    fn long_start_up_work_extends_the_start_timeout_until_it_ends() {
        let out = while_starting_with("migrating", Duration::from_millis(20), remember, || {
            std::thread::sleep(Duration::from_millis(300));
            7
        });
        assert_eq!(out, 7);
        let told = std::mem::take(&mut *TOLD.lock().unwrap());
        assert!(!told.is_empty());
        for t in &told {
            assert_eq!(t, "EXTEND_TIMEOUT_USEC=60000\nSTATUS=migrating");
        }
        // Nothing more once the work is done; nothing at all for quick work.
        std::thread::sleep(Duration::from_millis(60));
        assert!(TOLD.lock().unwrap().is_empty());
        while_starting_with("quick", Duration::from_secs(20), remember, || ());
        assert!(TOLD.lock().unwrap().is_empty());
    }

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
