//! The outbox sender: claims due mail from the store's outbox and hands it
//! to the SMTP relay with lettre over reused connections (lanes). Each mail
//! is marked sent right after the relay accepts it. A temporary failure
//! (relay down, 4xx) is retried later, so an outage delays mail and loses
//! none; a permanent refusal (5xx) or a mail older than
//! `smtp.give_up_after_hours` is marked failed with the relay's words.
//!
//! Mail is claimed before it is sent (owner + lease, one statement, see
//! [`crate::store::outbox`]), so several senders on one database never
//! send one row twice; a lane starts a mail only while the lease will
//! outlast the longest possible hand-off (the lease, in `marker.rs`).
//!
//! Mail queued by another process (`postdesk ingest`, `quarantine retry`)
//! is found by polling the outbox every few seconds; mail queued by this
//! daemon's own worker wakes the sender at once.

mod marker;
pub mod smtp;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::store::{self, outbox};
use marker::{Ask, Delivery, Job, Lease};
use smtp::{Lane, Relay};

/// Longest sleep between outbox scans when nothing wakes the sender.
const IDLE_SCAN: Duration = Duration::from_secs(5);
/// How long mail in flight may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Mails claimed per round: their bytes are held until sent, so a round
/// of 256 held ~0.65 MiB of the benchmark's auto-replies at the daemon's
/// peak; 64 keep four lanes busy for 16 mails each between claims (more
/// lanes claim four mails each).
const CHUNK: usize = 64;

/// Who this sender is in the outbox's claims.
#[derive(Debug, Clone)]
pub struct Claimant {
    /// Unique per sender instance: `host:pid:nanoseconds`.
    pub id: String,
    /// The claimant of a sender known to be dead (the previous holder of
    /// the daemon lock): its claims are given back at start instead of
    /// waiting for their lease to run out.
    pub predecessor: Option<String>,
}

impl Claimant {
    /// A fresh id for a sender in this process.
    pub fn new(predecessor: Option<String>) -> Claimant {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Claimant {
            id: format!("{}:{}:{nanos}", crate::lock::hostname(), std::process::id()),
            predecessor,
        }
    }
}

/// Check the SMTP settings without connecting.
pub fn check_settings(config: &Config) -> anyhow::Result<()> {
    Relay::new(&config.smtp, &config.system.fqdn).map(|_| ())
}

/// Seconds to wait before attempt number `attempts + 1` after the relay
/// refused a mail for now (4xx): doubling up to `max`.
pub fn backoff(attempts: u32, max: Duration) -> Duration {
    let secs = 2u64.saturating_pow(attempts.min(20));
    Duration::from_secs(secs).min(max)
}

/// The longest one hand-off can take with SMTP timeout `t`: two
/// connection attempts (TCP, TLS, greeting and login: up to 4 t each) and
/// two sends (4 t each).
fn longest_send(t: Duration) -> Duration {
    t * 16
}

/// How long a claim holds: renewed every eighth of it (between intake
/// batches, see `marker::Thread::renew`, waiting for one only when an
/// eighth more than [`longest_send`] is left), so a lane always has more
/// than [`longest_send`] left when it starts a mail.
fn lease(t: Duration) -> Duration {
    (t * 24).max(Duration::from_secs(300))
}

/// Run the sender until `shutdown`; mail in flight is finished first, and
/// claims on mail not started are given back. Database trouble is logged
/// and retried, never ends the sender.
pub async fn run(
    config: Arc<Config>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    claimant: Claimant,
) -> anyhow::Result<()> {
    let relay = Relay::new(&config.smtp, &config.system.fqdn)?;
    let mut lanes: Vec<Lane> = (0..config.smtp.max_connections.max(1))
        .map(|_| Lane::default())
        .collect();
    let (jobs, lease_state) = marker::spawn(
        config.storage.database.clone(),
        claimant.id.clone(),
        claimant.predecessor.clone(),
        lease(config.smtp.timeout),
        longest_send(config.smtp.timeout),
    )
    .map_err(|e| anyhow::anyhow!("starting the outbox store thread: {e}"))?;
    tracing::info!(claimant = %claimant.id, "outbox sender running");
    let mut s = Sender {
        config: &config,
        relay: &relay,
        jobs: &jobs,
        lease: &lease_state,
        relay_failures: 0,
    };
    loop {
        if *shutdown.borrow() {
            break;
        }
        // On shutdown, mail in flight gets SHUTDOWN_GRACE to finish; a relay
        // that hangs is then abandoned (the mail stays pending).
        let mut stop = shutdown.clone();
        let result = tokio::select! {
            r = s.round(&mut lanes, &shutdown) => r,
            _ = async {
                let _ = stop.wait_for(|s| *s).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!("outbox: the relay did not finish within {}s of shutdown; unsent mail stays queued", SHUTDOWN_GRACE.as_secs());
                Ok(Round::Idle(Duration::ZERO))
            }
        };
        // The next round must see this round's marks, or it would send again.
        marker::flush(&jobs).await;
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
    if let Err(e) = marker::ask(&jobs, Ask::Release).await {
        tracing::warn!("outbox: {e}; our claims expire by themselves");
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

/// One sender's state across rounds.
struct Sender<'a> {
    config: &'a Config,
    relay: &'a Relay,
    jobs: &'a std::sync::mpsc::Sender<Job>,
    lease: &'a Lease,
    /// Consecutive rounds in which the relay could not be reached: the
    /// reconnect schedule ([`crate::backoff`]), reset by a sent mail.
    relay_failures: u32,
}

impl Sender<'_> {
    /// One round: claim due mail (up to CHUNK) and send it, one queue
    /// shared by the lanes (one connection each). Results go to the store
    /// thread.
    async fn round(
        &mut self,
        lanes: &mut [Lane],
        shutdown: &watch::Receiver<bool>,
    ) -> anyhow::Result<Round> {
        let chunk = CHUNK.max(4 * lanes.len());
        let batch = marker::ask(self.jobs, |r| Ask::Claim(chunk, r)).await??;
        if batch.is_empty() {
            let next = marker::ask(self.jobs, Ask::NextDue).await??;
            let wait = next
                .map(|s| Duration::from_secs(s.max(0) as u64).max(Duration::from_millis(200)))
                .unwrap_or(IDLE_SCAN)
                .min(IDLE_SCAN);
            return Ok(Round::Idle(wait));
        }
        let queue = Mutex::new(VecDeque::from(batch));
        let failures = AtomicUsize::new(0);
        let sent = AtomicUsize::new(0);
        let relay_down = AtomicBool::new(false);
        let lapsed = AtomicBool::new(false);
        let longest = longest_send(self.config.smtp.timeout).as_secs() as i64;
        let this = &*self;
        let lane_work = lanes.iter_mut().map(|lane| {
            let (queue, failures, sent, relay_down, lapsed) =
                (&queue, &failures, &sent, &relay_down, &lapsed);
            async move {
                loop {
                    // On shutdown, mail not yet started stays pending for the
                    // next run; mail in flight is finished and marked.
                    if *shutdown.borrow() {
                        break;
                    }
                    // Never start a mail our claim may not outlast: another
                    // sender could take it over meanwhile.
                    if !this.lease.covers(store::now_unix() + longest) {
                        lapsed.store(true, Ordering::Relaxed);
                        break;
                    }
                    let Some(m) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
                    else {
                        break;
                    };
                    let r = this.deliver(lane, &m).await;
                    let down = matches!(r, Delivery::Retry(_)) && !lane.is_connected();
                    let next_unix = store::now_unix()
                        + if down {
                            // The relay is unreachable: retry on the
                            // reconnect schedule, capped near 30 s.
                            crate::backoff::delay(this.relay_failures, fastrand::f64())
                        } else {
                            backoff(m.attempts, this.config.smtp.retry_max)
                        }
                        .as_secs() as i64;
                    match &r {
                        Delivery::Sent => {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Delivery::Retry(_) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        Delivery::Failed(_) => {}
                    }
                    if this
                        .jobs
                        .send(Job::Result {
                            id: m.id,
                            result: r,
                            next_unix,
                        })
                        .is_err()
                    {
                        tracing::error!(outbox = m.id, "the outbox store thread is gone");
                    }
                    // No next mail on this lane before this one's mark is
                    // committed: a crash can then repeat at most one mail per
                    // lane. The wait is on a channel, never on SQLite.
                    marker::flush(this.jobs).await;
                    // The relay is unreachable: leave the rest for later.
                    if down {
                        relay_down.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            }
        });
        futures::future::join_all(lane_work).await;
        if lapsed.into_inner() {
            tracing::warn!("outbox: our claims were about to lapse (the database did not take the renewal); the rest waits for the next round");
        }
        if sent.into_inner() > 0 {
            self.relay_failures = 0;
        } else if relay_down.into_inner() {
            self.relay_failures = self.relay_failures.saturating_add(1);
        }
        Ok(Round::Sent {
            failures: failures.into_inner(),
        })
    }

    /// Hand one mail to the relay and decide what becomes of it.
    async fn deliver(&self, lane: &mut Lane, m: &outbox::Outgoing) -> Delivery {
        match send_one(self.relay, lane, m).await {
            Ok(()) => {
                crate::ops::ops().smtp_sent();
                tracing::debug!(outbox = m.id, "sent");
                Delivery::Sent
            }
            Err((msg, true)) => {
                crate::ops::ops().smtp_failed(&msg, true);
                tracing::error!(outbox = m.id, "SMTP delivery failed for good: {msg}");
                Delivery::Failed(msg)
            }
            Err((msg, false)) => {
                let age = store::now_unix() - m.created_unix;
                let give_up = age > self.config.smtp.give_up_after.as_secs() as i64;
                crate::ops::ops().smtp_failed(&msg, give_up);
                if give_up {
                    let msg = format!("giving up after {}h: {msg}", age / 3600);
                    tracing::error!(outbox = m.id, "SMTP delivery failed for good: {msg}");
                    Delivery::Failed(msg)
                } else {
                    tracing::warn!(
                        outbox = m.id,
                        attempts = m.attempts + 1,
                        "SMTP delivery deferred: {msg}"
                    );
                    Delivery::Retry(msg)
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let max = Duration::from_secs(600);
        assert_eq!(backoff(0, max), Duration::from_secs(1));
        assert_eq!(backoff(3, max), Duration::from_secs(8));
        assert_eq!(backoff(30, max), max);
    }

    #[test]
    fn a_lane_always_has_time_for_its_longest_send() {
        for t in [1, 5, 30, 120, 600] {
            let t = Duration::from_secs(t);
            // Renewed every eighth without waiting, and waited for when
            // an eighth more than a send is left: before that is reached.
            assert!(
                lease(t) * 7 / 8 > longest_send(t) + lease(t) / 8,
                "timeout {t:?}"
            );
        }
    }
}
