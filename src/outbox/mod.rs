//! The outbox sender: takes due mail from the store's outbox and hands it
//! to the SMTP relay with lettre over pooled, reused connections. Each mail
//! is marked sent right after the relay accepts it. A temporary failure
//! (relay down, 4xx) is retried with exponential backoff, so an outage
//! delays mail and loses none; a permanent refusal (5xx) or a mail older
//! than `smtp.give_up_after_hours` is marked failed with the relay's words.
//!
//! Mail queued by another process (`postdesk ingest`, `quarantine retry`)
//! is found by polling the outbox every few seconds; mail queued by this
//! daemon's own worker wakes the sender at once.

pub mod smtp;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::store::{self, outbox, Store};
use smtp::{Lane, Relay};

/// Longest sleep between outbox scans when nothing wakes the sender.
const IDLE_SCAN: Duration = Duration::from_secs(5);
/// How long mail in flight may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Mails taken per round.
const CHUNK: usize = 256;

/// Check the SMTP settings without connecting.
pub fn check_settings(config: &Config) -> anyhow::Result<()> {
    Relay::new(&config.smtp, &config.system.fqdn).map(|_| ())
}

/// Seconds to wait before attempt number `attempts + 1`.
pub fn backoff(attempts: u32, max: Duration) -> Duration {
    let secs = 2u64.saturating_pow(attempts.min(20)).saturating_mul(1);
    Duration::from_secs(secs).min(max)
}

enum Delivery {
    Sent,
    Retry(String),
    Failed(String),
}

/// Run the sender until `shutdown`; mail in flight is finished first.
/// Database trouble is logged and retried, never ends the sender.
pub async fn run(
    config: Arc<Config>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let relay = Relay::new(&config.smtp, &config.system.fqdn)?;
    let mut lanes: Vec<Lane> = (0..config.smtp.max_connections.max(1))
        .map(|_| Lane::default())
        .collect();
    let db = loop {
        match Store::open(&config.storage.database, store::Durability::Normal) {
            Ok(s) => break Mutex::new(s),
            Err(e) => {
                tracing::error!("outbox: opening the database: {e}; trying again in 5 s");
                tokio::select! {
                    _ = tokio::time::sleep(IDLE_SCAN) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
            }
        }
    };
    let marks = spawn_marker(config.storage.database.clone())
        .map_err(|e| anyhow::anyhow!("starting the outbox marker thread: {e}"))?;
    loop {
        if *shutdown.borrow() {
            break;
        }
        // On shutdown, mail in flight gets SHUTDOWN_GRACE to finish; a relay
        // that hangs is then abandoned (the mail stays pending).
        let mut stop = shutdown.clone();
        let result = tokio::select! {
            r = round(&config, &relay, &mut lanes, &db, &marks, &shutdown) => r,
            _ = async {
                let _ = stop.wait_for(|s| *s).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!("outbox: the relay did not finish within {}s of shutdown; unsent mail stays queued", SHUTDOWN_GRACE.as_secs());
                Ok(Round::Idle(Duration::ZERO))
            }
        };
        // The next round must see this round's marks, or it would send again.
        flush(&marks).await;
        let pause = match result {
            Ok(Round::Sent { failures: 0 }) => continue,
            // Relay trouble: don't spin; due times decide the next try.
            Ok(Round::Sent { .. }) => Duration::from_millis(500),
            Ok(Round::Idle(wait)) => wait,
            Err(e) => {
                tracing::error!("outbox: {e:#}; trying again in 5 s");
                IDLE_SCAN
            }
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
    futures::future::join_all(lanes.iter_mut().map(|l| l.close())).await;
    tracing::info!("outbox sender stopped");
    Ok(())
}

enum Round {
    /// Mail was handed to the relay; `failures` were deferred.
    Sent { failures: usize },
    /// Nothing due: wait this long (or until woken).
    Idle(Duration),
}

/// Lock the sender's connection. Poisoned only if a holder panicked; the
/// connection itself is still usable.
fn lock(db: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    db.lock().unwrap_or_else(|p| p.into_inner())
}

/// One round: send every due mail (up to CHUNK), one queue shared by the
/// lanes (one connection each). Results go to the marker thread.
async fn round(
    config: &Config,
    relay: &Relay,
    lanes: &mut [Lane],
    db: &Mutex<Store>,
    marks: &std::sync::mpsc::Sender<Mark>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Round> {
    let batch = outbox::due(lock(db).conn(), CHUNK, &[])?;
    if batch.is_empty() {
        let next = outbox::next_due_in(lock(db).conn())?;
        let wait = next
            .map(|s| Duration::from_secs(s.max(0) as u64).max(Duration::from_millis(200)))
            .unwrap_or(IDLE_SCAN)
            .min(IDLE_SCAN);
        return Ok(Round::Idle(wait));
    }
    let give_up = config.smtp.give_up_after;
    let retry_max = config.smtp.retry_max;
    let queue = Mutex::new(VecDeque::from(batch));
    let failures = std::sync::atomic::AtomicUsize::new(0);
    let lane_work = lanes.iter_mut().map(|lane| {
        let (queue, failures) = (&queue, &failures);
        async move {
            loop {
                // On shutdown, mail not yet started stays pending for the
                // next run; mail in flight is finished and marked.
                if *shutdown.borrow() {
                    break;
                }
                let Some(m) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
                    break;
                };
                let r = match send_one(relay, lane, &m).await {
                    Ok(()) => Delivery::Sent,
                    Err((msg, true)) => Delivery::Failed(msg),
                    Err((msg, false)) => {
                        let age = store::now_unix() - m.created_unix;
                        if age > give_up.as_secs() as i64 {
                            Delivery::Failed(format!("giving up after {}h: {msg}", age / 3600))
                        } else {
                            Delivery::Retry(msg)
                        }
                    }
                };
                let next_unix = store::now_unix() + backoff(m.attempts, retry_max).as_secs() as i64;
                match &r {
                    Delivery::Sent => tracing::debug!(outbox = m.id, "sent"),
                    Delivery::Retry(e) => {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(
                            outbox = m.id,
                            attempts = m.attempts + 1,
                            "SMTP delivery deferred: {e}"
                        );
                    }
                    Delivery::Failed(e) => {
                        tracing::error!(outbox = m.id, "SMTP delivery failed for good: {e}")
                    }
                }
                let down = matches!(r, Delivery::Retry(_)) && lane_is_down(lane);
                if marks
                    .send(Mark::Result {
                        id: m.id,
                        result: r,
                        next_unix,
                    })
                    .is_err()
                {
                    tracing::error!(outbox = m.id, "the outbox marker thread is gone");
                }
                // No next mail on this lane before this one's mark is
                // committed: a crash can then repeat at most one mail per
                // lane. The wait is on a channel, never on SQLite.
                flush(marks).await;
                // The relay is unreachable: leave the rest for later.
                if down {
                    break;
                }
            }
        }
    });
    futures::future::join_all(lane_work).await;
    Ok(Round::Sent {
        failures: failures.into_inner(),
    })
}

/// After a deferral, a lane without a connection could not even connect.
fn lane_is_down(lane: &Lane) -> bool {
    !lane.is_connected()
}

/// Send one mail: Err((message, permanent)).
async fn send_one(
    relay: &Relay,
    lane: &mut Lane,
    m: &outbox::Outgoing,
) -> Result<(), (String, bool)> {
    let from = if m.envelope_from.is_empty() {
        None
    } else {
        Some(m.envelope_from.parse().map_err(|e| {
            (
                format!("bad envelope sender {:?}: {e}", m.envelope_from),
                true,
            )
        })?)
    };
    let to = m
        .recipients
        .iter()
        .map(|r| {
            r.parse()
                .map_err(|e| (format!("bad recipient {r:?}: {e}"), true))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = lettre::address::Envelope::new(from, to).map_err(|e| (e.to_string(), true))?;
    lane.send(relay, &envelope, &m.raw).await
}

/// Log in to the relay (for `postdesk check --connect`).
pub async fn test_connection(config: &Config) -> anyhow::Result<()> {
    Relay::new(&config.smtp, &config.system.fqdn)?.test().await
}

/// A delivery result on its way to the database.
enum Mark {
    Result {
        id: i64,
        result: Delivery,
        next_unix: i64,
    },
    /// Answered once every result sent before it is committed.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The marker: a thread with its own connection that records delivery
/// results, those of all lanes together in one transaction. Lanes wait for
/// their result's commit on a channel (never in SQLite's busy handler on a
/// runtime thread) before sending their next mail, so at most one mail per
/// lane is between the relay's acceptance and its committed mark: the
/// window in which a crash can make a mail go out twice.
fn spawn_marker(path: std::path::PathBuf) -> std::io::Result<std::sync::mpsc::Sender<Mark>> {
    let (tx, rx) = std::sync::mpsc::channel::<Mark>();
    std::thread::Builder::new()
        .name("postdesk-outbox-marks".into())
        .spawn(move || {
            let mut store = loop {
                match Store::open(&path, store::Durability::Normal) {
                    Ok(s) => break s,
                    Err(e) => {
                        tracing::error!(
                            "outbox marks: opening the database: {e}; trying again in 1 s"
                        );
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            };
            while let Ok(first) = rx.recv() {
                let mut results = Vec::new();
                let mut flushes = Vec::new();
                let mut take = |m: Mark| match m {
                    Mark::Result {
                        id,
                        result,
                        next_unix,
                    } => results.push((id, result, next_unix)),
                    Mark::Flush(done) => flushes.push(done),
                };
                take(first);
                while let Ok(m) = rx.try_recv() {
                    take(m);
                }
                // Until it commits: a busy database only delays the marks.
                while !results.is_empty() {
                    match record(&mut store, &results) {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::error!("outbox marks: {e}; trying again");
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                }
                for f in flushes {
                    let _ = f.send(());
                }
            }
        })?;
    Ok(tx)
}

fn record(store: &mut Store, results: &[(i64, Delivery, i64)]) -> Result<(), store::StoreError> {
    let tx = store.conn().transaction()?;
    for (id, result, next_unix) in results {
        match result {
            Delivery::Sent => outbox::mark_sent(&tx, *id)?,
            Delivery::Retry(e) => outbox::mark_retry(&tx, *id, e, *next_unix)?,
            Delivery::Failed(e) => outbox::mark_failed(&tx, *id, e)?,
        }
    }
    tx.commit()?;
    Ok(())
}

/// Wait until the marker has committed everything sent to it so far.
async fn flush(marks: &std::sync::mpsc::Sender<Mark>) {
    let (done, wait) = tokio::sync::oneshot::channel();
    if marks.send(Mark::Flush(done)).is_ok() {
        let _ = wait.await;
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_grows_and_caps() {
        let max = Duration::from_secs(600);
        assert_eq!(backoff(0, max), Duration::from_secs(1));
        assert_eq!(backoff(3, max), Duration::from_secs(8));
        assert_eq!(backoff(30, max), max);
    }
}
