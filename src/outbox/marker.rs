//! The sender's store thread: the one connection through which a sender
//! claims due mail, records delivery results, renews its claims' lease
//! and gives them back — never on an async runtime thread, never in
//! SQLite's busy handler while a lane waits.
//!
//! Results of all lanes are committed together in one transaction per
//! burst, into the marks journal beside the database (`store::marks`),
//! which the pipeline's batches never lock. Lanes wait for their result's
//! commit on a channel before their next mail, so at most one mail per lane
//! is between the relay's acceptance and its committed mark: the window in
//! which a crash can make a mail go out twice. The journal is folded into
//! `outbox` as soon as the database is free, and before every claim.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::store::marks::{self, Outcome};
use crate::store::outbox::{self, Outgoing};
use crate::store::{self, Store, StoreError};

/// How long the sender waits for the database when it must fold (before a
/// claim, at shutdown); a fold between batches does not wait.
const BUSY_WAIT: Duration = Duration::from_secs(10);
/// How often the journal is folded when nothing else needs it.
const FOLD_EVERY: Duration = Duration::from_millis(50);

/// What became of one mail.
pub enum Delivery {
    Sent,
    Retry(String),
    Failed(String),
}

/// Work for the store thread.
pub enum Job {
    /// A delivery result to record.
    Result {
        id: i64,
        result: Delivery,
        next_unix: i64,
    },
    /// Answered once every result sent before it is committed.
    Flush(oneshot::Sender<()>),
    /// A question, answered after the results sent before it are committed.
    Ask(Ask),
}

/// Questions to the store thread.
pub enum Ask {
    /// Claim up to this many due mails.
    Claim(usize, oneshot::Sender<Result<Vec<Outgoing>, StoreError>>),
    /// Seconds until something could be claimed.
    NextDue(oneshot::Sender<Result<Option<i64>, StoreError>>),
    /// Give back our claims on unsent mail (shutdown).
    Release(oneshot::Sender<()>),
}

/// How long our claims hold, as the lanes see it: the expiry written by
/// the last claim or renewal that committed.
#[derive(Default)]
pub struct Lease {
    valid_until: AtomicI64,
}

impl Lease {
    /// Whether our claims still hold at unix time `at`.
    pub fn covers(&self, at: i64) -> bool {
        at < self.valid_until.load(Ordering::Acquire)
    }

    fn set(&self, until: i64) {
        self.valid_until.store(until, Ordering::Release);
    }

    fn until(&self) -> i64 {
        self.valid_until.load(Ordering::Acquire)
    }
}

/// Start the store thread for `claimant`. Claims last `lease` and are
/// renewed every eighth of it; lanes need `keep` of it left to start a
/// mail (see [`Thread::renew`]). `predecessor`: a dead sender whose claims
/// are given back first.
pub fn spawn(
    path: std::path::PathBuf,
    claimant: String,
    predecessor: Option<String>,
    lease: Duration,
    keep: Duration,
) -> std::io::Result<(Sender<Job>, Arc<Lease>)> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let shared = Arc::new(Lease::default());
    let lease_state = shared.clone();
    std::thread::Builder::new()
        .name("postdesk-outbox-marks".into())
        .spawn(move || {
            let store = loop {
                let opened = Store::open(&path, store::Durability::Normal).and_then(|mut s| {
                    s.set_cache_kib(store::SIDE_CACHE_KIB)?;
                    marks::attach(s.conn(), &path, store::Durability::Normal)?;
                    Ok(s)
                });
                match opened {
                    Ok(s) => break s,
                    Err(e) => {
                        tracing::error!(
                            "outbox marks: opening the database: {e}; trying again in 1 s"
                        );
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            };
            let mut t = Thread {
                store,
                claimant,
                lease,
                keep,
                state: lease_state,
                quiet_until: Instant::now(),
                renew_quiet_until: Instant::now(),
            };
            // Marks a crashed run left in the journal, before anything
            // could claim their rows again.
            let folded = t.fold(true);
            if let Some(dead) = predecessor.filter(|p| !p.is_empty() && folded) {
                // In the fold's transaction: a claim given back with its
                // mark still in the journal would let the mail go again.
                match t.fold_then(true, |c| outbox::release(c, &dead)) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        claims = n,
                        previous = %dead,
                        "outbox: took back the claims of the previous daemon run"
                    ),
                    Err(e) => tracing::warn!(
                        "outbox: releasing the previous run's claims: {e}; they expire by themselves"
                    ),
                }
            }
            t.serve(rx);
        })?;
    Ok((tx, shared))
}

struct Thread {
    store: Store,
    claimant: String,
    lease: Duration,
    /// What the lease must have left for a lane to start a mail.
    keep: Duration,
    state: Arc<Lease>,
    /// No warning about a failed fold before then.
    quiet_until: Instant,
    /// No warning about a failed renewal before then.
    renew_quiet_until: Instant,
}

impl Thread {
    fn serve(&mut self, rx: Receiver<Job>) {
        let renew_every = self.lease / 8;
        let mut renewed = Instant::now();
        let mut folded = Instant::now();
        let mut unfolded = false;
        loop {
            // Marks waiting in the journal are folded soon, jobs or not.
            let renew_in = renew_every.saturating_sub(renewed.elapsed());
            let wait = if unfolded || renew_in.is_zero() {
                FOLD_EVERY.min(renew_every)
            } else {
                renew_in
            };
            let first = match rx.recv_timeout(wait) {
                Ok(j) => Some(j),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.fold(true);
                    break;
                }
            };
            let mut jobs: Vec<Job> = first.into_iter().collect();
            jobs.extend(rx.try_iter());
            let mut results = Vec::new();
            let mut flushes = Vec::new();
            let mut asks = Vec::new();
            for j in jobs {
                match j {
                    Job::Result {
                        id,
                        result,
                        next_unix,
                    } => results.push((id, result, next_unix)),
                    Job::Flush(done) => flushes.push(done),
                    Job::Ask(a) => asks.push(a),
                }
            }
            // Until it commits: a busy database only delays the marks.
            while !results.is_empty() {
                match self.record(&results) {
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
            // Between the pipeline's batches (or at once when it is idle),
            // a few marks at a time rather than after every mail.
            unfolded |= !results.is_empty();
            if unfolded && folded.elapsed() >= FOLD_EVERY {
                folded = Instant::now();
                unfolded = !self.fold(false);
            }
            for a in asks {
                self.answer(a);
            }
            // Until it is done, tried again every round.
            if renewed.elapsed() >= renew_every && self.renew() {
                renewed = Instant::now();
            }
        }
    }

    fn record(&mut self, results: &[(i64, Delivery, i64)]) -> Result<(), StoreError> {
        let marks: Vec<(i64, Outcome)> = results
            .iter()
            .map(|(id, result, next_unix)| {
                let outcome = match result {
                    Delivery::Sent => Outcome::Sent,
                    Delivery::Retry(e) => Outcome::Retry {
                        error: e.clone(),
                        next_unix: *next_unix,
                    },
                    Delivery::Failed(e) => Outcome::Failed { error: e.clone() },
                };
                (*id, outcome)
            })
            .collect();
        marks::record(self.store.conn(), &self.claimant, &marks)
    }

    /// Fold the marks journal into the outbox; `wait`: for the database's
    /// lock (else a busy database leaves them for the next time).
    /// Whether it did.
    fn fold(&mut self, wait: bool) -> bool {
        match self.fold_then(wait, |_| Ok(())) {
            Ok(()) => true,
            Err(e) => {
                // Said at most every 30 s: a fold is tried every 50 ms.
                if !is_busy(&e) && self.quiet_until <= Instant::now() {
                    self.quiet_until = Instant::now() + Duration::from_secs(30);
                    tracing::warn!(
                        "outbox marks: folding the journal into the outbox: {e}; trying again"
                    );
                }
                false
            }
        }
    }

    /// Fold the journal, then run `then` in the same transaction.
    fn fold_then<T>(
        &mut self,
        wait: bool,
        then: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let c = self.store.conn();
        c.busy_timeout(if wait { BUSY_WAIT } else { Duration::ZERO })?;
        let done = (|| -> Result<_, StoreError> {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let lapsed = marks::fold(&tx)?;
            let out = then(&tx)?;
            tx.commit()?;
            Ok((lapsed, out))
        })();
        c.busy_timeout(BUSY_WAIT)?;
        let (lapsed, out) = done?;
        for l in lapsed {
            if l.sent {
                tracing::warn!(
                    outbox = l.outbox_id,
                    sender = %l.claimant,
                    "sent, but the sender's claim had lapsed: another sender may send it too"
                );
            } else {
                tracing::warn!(outbox = l.outbox_id, sender = %l.claimant, "result not recorded: the sender's claim had lapsed and another sender owns the mail now");
            }
        }
        Ok(out)
    }

    fn answer(&mut self, ask: Ask) {
        let me = self.claimant.clone();
        match ask {
            Ask::Claim(limit, reply) => {
                let now = store::now_unix();
                let until = now + self.lease.as_secs() as i64;
                // In the fold's transaction: no claim sees a row whose mark
                // is still in the journal.
                let r = self.fold_then(true, |c| outbox::claim(c, &me, now, until, limit));
                if matches!(&r, Ok(v) if !v.is_empty()) {
                    self.state.set(until);
                }
                let _ = reply.send(r);
            }
            Ask::NextDue(reply) => {
                // Sent rows still in the journal would look due now.
                let _ = self.fold(false);
                let _ = reply.send(outbox::next_due_in(self.store.conn(), &me));
            }
            Ask::Release(done) => {
                // Claims are given back only with every mark folded; if the
                // database stays busy they simply expire.
                match self.fold_then(true, |c| outbox::release(c, &me)) {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(claims = n, "outbox: gave back the claims on unsent mail")
                    }
                    Err(e) => tracing::warn!(
                        "outbox: giving back our claims: {e}; they expire by themselves"
                    ),
                }
                self.state.set(0);
                let _ = done.send(());
            }
        }
    }

    /// Extend the lease of the claims we hold, unless it has lapsed (then
    /// the lanes have stopped, and the next round claims afresh). Between
    /// the pipeline's batches: while an eighth of the lease more than the
    /// lanes need is left, a busy database leaves it for the next round;
    /// past that it waits for the database's lock. Whether it is done (or
    /// there is nothing to renew); a failure is warned of (at most every
    /// 30 s) and tried again next round.
    fn renew(&mut self) -> bool {
        let now = store::now_unix();
        if !self.state.covers(now) {
            return true;
        }
        let left = self.state.until() - now;
        let wait = left <= (self.keep + self.lease / 8).as_secs() as i64;
        let until = now + self.lease.as_secs() as i64;
        let c = self.store.conn();
        let renewed = c
            .busy_timeout(if wait { BUSY_WAIT } else { Duration::ZERO })
            .map_err(StoreError::from)
            .and_then(|()| outbox::renew(c, &self.claimant, now, until));
        let _ = c.busy_timeout(BUSY_WAIT);
        match renewed {
            Ok(0) => self.state.set(0),
            Ok(_) => self.state.set(until),
            Err(e) => {
                if (wait || !is_busy(&e)) && self.renew_quiet_until <= Instant::now() {
                    self.renew_quiet_until = Instant::now() + Duration::from_secs(30);
                    tracing::warn!(
                        "outbox: renewing our claims: {e}; trying again, they hold until {}",
                        self.state.until()
                    );
                }
                return false;
            }
        }
        true
    }
}

/// Wait until the store thread has committed everything sent to it so far.
pub async fn flush(jobs: &Sender<Job>) {
    let (done, wait) = oneshot::channel();
    if jobs.send(Job::Flush(done)).is_ok() {
        let _ = wait.await;
    }
}

/// Ask the store thread something and wait for the answer.
pub async fn ask<T>(
    jobs: &Sender<Job>,
    make: impl FnOnce(oneshot::Sender<T>) -> Ask,
) -> anyhow::Result<T> {
    let (reply, wait) = oneshot::channel();
    jobs.send(Job::Ask(make(reply)))
        .map_err(|_| anyhow::anyhow!("the outbox store thread is gone"))?;
    wait.await
        .map_err(|_| anyhow::anyhow!("the outbox store thread is gone"))
}

/// Whether `e` says the database was locked by another writer.
fn is_busy(e: &StoreError) -> bool {
    matches!(e, StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
        if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, TransactionBehavior};

    use super::*;

    #[test]
    fn a_renewal_never_waits_for_an_intake_batch_until_the_lease_runs_short() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut store = crate::store::outbox::tests::with_rows(&path, 2);
        marks::attach(store.conn(), &path, store::Durability::Normal).unwrap();
        let now = store::now_unix();
        outbox::claim(store.conn(), "me", now, now + 590, 10).unwrap();
        // A 600 s lease of which lanes need 100 s: renewed without waiting
        // while more than 175 s are left.
        let mut t = Thread {
            store,
            claimant: "me".into(),
            lease: Duration::from_secs(600),
            keep: Duration::from_secs(100),
            state: Arc::new(Lease::default()),
            quiet_until: Instant::now(),
            renew_quiet_until: Instant::now(),
        };
        t.state.set(now + 590);
        let expires = crate::store::outbox::tests::first_expiry;
        // An intake batch holds the database's write lock: not now, and
        // no waiting for it (which would hold back every mark meanwhile).
        let mut intake = Connection::open(&path).unwrap();
        let batch = intake
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        assert!(!t.renew(), "renewed through a held lock");
        assert_eq!(t.state.until(), now + 590);
        batch.commit().unwrap();
        // Free again: renewed, for the whole lease.
        assert!(t.renew());
        assert!(t.state.until() >= now + 600);
        assert_eq!(expires(t.store.conn()), t.state.until());
        // With 150 s left it waits for the lock instead.
        t.state.set(now + 150);
        let (held, locked) = std::sync::mpsc::channel();
        let release = std::thread::spawn(move || {
            let batch = intake
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            held.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            batch.commit().unwrap();
        });
        locked.recv().unwrap();
        assert!(t.renew());
        release.join().unwrap();
        assert!(t.state.until() >= now + 600);
        assert_eq!(expires(t.store.conn()), t.state.until());
    }
}
