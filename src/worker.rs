//! The store worker: one OS thread owns the processing connection to
//! SQLite and runs batches through [`Processor`], so blocking database work
//! never runs on the async workers. Intake tasks talk to it over a bounded
//! channel: when it is busy, they wait, instead of fetching more mail into
//! memory. After each commit that queued mail it wakes the outbox sender.
//! A reload's new templates and rules arrive as requests too, so they take
//! effect between batches, never inside one. So does the watchdog's ping
//! ([`Worker::ping`]): answered only between batches, it proves the worker
//! makes progress. Committed outcomes are counted in the metrics. The
//! lifecycle's scheduler ([`Worker::schedule`]) runs here too, between
//! batches, so its writes never race the processing's. The store's upkeep
//! (the search index's merges, the WAL checkpoint: [`Store::upkeep`]) is
//! owed after each batch or round and done once the thread has had no
//! request for [`QUIET`] — after the outbox has claimed the batch's mail —
//! a step at a time between requests; under a steady stream of batches,
//! after at most [`MAX_PUT_OFF`], within the budget they earned. No mail's
//! commit waits for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

use crate::notify::Templates;
use crate::process::{Incoming, Outcome, Processor};
use crate::rules::RuleSet;
use crate::store::{upkeep, Store, StoreError};

/// **Test only.** When this environment variable is set, the worker stops
/// for good (the thread sleeps for ever) on a batch holding a message whose
/// raw bytes contain its value, so the tests can see a stalled worker stop
/// the watchdog's pings. Never set it in production.
pub const TEST_STALL_ENV: &str = "POSTDESK_TEST_STALL_ON";

/// See [`TEST_STALL_ENV`].
fn test_stall_hook(batch: &[Incoming]) {
    let Some(marker) = std::env::var_os(TEST_STALL_ENV) else {
        return;
    };
    let marker = marker.as_encoded_bytes();
    if !marker.is_empty()
        && batch
            .iter()
            .any(|i| i.raw.windows(marker.len()).any(|w| w == marker))
    {
        eprintln!("postdesk: {TEST_STALL_ENV} marker found: the store worker stalls (test hook)");
        loop {
            std::thread::park();
        }
    }
}

/// Serve one request; true when it wrote (a batch, a scheduler round).
fn serve(req: Request, store: &mut Store, processor: &mut Processor, mail_queued: &Notify) -> bool {
    match req {
        Request::Process { items, reply } => {
            let started = Instant::now();
            test_stall_hook(&items);
            let result = processor.process_batch_classed(store, &items).map(|done| {
                crate::ops::metrics::record_batch(&done, started.elapsed());
                done.into_iter().map(|d| d.outcome).collect::<Vec<_>>()
            });
            if let Ok(outcomes) = &result {
                if outcomes.iter().any(|o| {
                    matches!(
                        o,
                        Outcome::Created { .. } | Outcome::FollowUp { .. } | Outcome::Note { .. }
                    )
                }) {
                    mail_queued.notify_one();
                }
            }
            let _ = reply.send(result);
            true
        }
        Request::Ping { reply } => {
            let _ = reply.send(Ok(()));
            false
        }
        Request::Templates { templates, reply } => {
            processor.set_templates(templates);
            let _ = reply.send(Ok(()));
            false
        }
        Request::Rules { rules, reply } => {
            processor.set_rules(rules);
            let _ = reply.send(Ok(()));
            false
        }
        Request::Schedule { reply } => {
            let result = processor.run_scheduler(store, chrono::Utc::now());
            if result.as_ref().is_ok_and(|moved| !moved.is_empty()) {
                mail_queued.notify_one();
            }
            let _ = reply.send(result);
            true
        }
        Request::Ledger { mailbox, reply } => {
            let _ = reply.send(store.ledger(&mailbox));
            false
        }
        Request::Refetches {
            source,
            uid_validity,
            reply,
        } => {
            let _ = reply.send(crate::store::records::refetch_requests(
                store.conn(),
                &source,
                uid_validity,
            ));
            false
        }
        Request::SetLedger {
            mailbox,
            source,
            uid_validity,
            last_uid,
            reply,
        } => {
            let _ = reply.send(store.set_ledger(&mailbox, &source, uid_validity, last_uid));
            false
        }
    }
}

/// How long the thread waits, after a write, for the next request before
/// it starts the store's upkeep ([`Store::upkeep`]: the search index's
/// merges, the WAL checkpoint). The mail a batch queued is claimed by the
/// outbox's own connection within milliseconds of the commit; upkeep
/// started at once would hold the write lock that claim needs (and
/// SQLite's busy handler sleeps 1, 2, 5, 10… ms between tries).
pub const QUIET: Duration = Duration::from_millis(50);

/// Under a steady stream of batches no quiet moment comes: upkeep is not
/// put off longer than this, and then gets the budget the batches earned.
pub const MAX_PUT_OFF: Duration = Duration::from_secs(1);

/// Upkeep owed since a write.
struct Owed {
    /// The first write not yet followed by upkeep.
    since: Instant,
    /// When the thread starts it if no request comes first.
    due: Instant,
    /// What the writes earned for when requests are waiting
    /// ([`upkeep::budget_after`] each).
    budget: Duration,
}

impl Owed {
    fn new(now: Instant) -> Owed {
        Owed {
            since: now,
            due: now,
            budget: Duration::ZERO,
        }
    }
}

enum Next {
    Request(Request),
    /// No request came by the time upkeep was due.
    Upkeep,
    /// Every handle is gone.
    Closed,
}

/// Nothing waits for the thread (and its handles are not all gone: at
/// shutdown a merge stops after its step).
fn idle(rx: &mpsc::Receiver<Request>) -> bool {
    rx.is_empty() && !rx.is_closed()
}

/// The next request; while upkeep is owed, [`Next::Upkeep`] when it falls
/// due first (polled every 2 ms: the thread is not a runtime's, and the
/// wait is short).
fn next_request(rx: &mut mpsc::Receiver<Request>, owed: Option<&Owed>) -> Next {
    let Some(owed) = owed else {
        return rx.blocking_recv().map_or(Next::Closed, Next::Request);
    };
    loop {
        match rx.try_recv() {
            Ok(req) => return Next::Request(req),
            Err(mpsc::error::TryRecvError::Disconnected) => return Next::Closed,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        let now = Instant::now();
        if now >= owed.due {
            return Next::Upkeep;
        }
        std::thread::sleep((owed.due - now).min(Duration::from_millis(2)));
    }
}

/// The store's upkeep for as long as no request waits, or, when one does,
/// until `budget` is spent (counted from `since`). True when it is all
/// done (or failed: a failure loses nothing, the batches are committed;
/// it is logged, and the next write's upkeep tries again).
fn upkeep(store: &mut Store, since: Instant, budget: Duration, idle: impl Fn() -> bool) -> bool {
    match store.upkeep(|| idle() || since.elapsed() < budget) {
        Ok(done) => {
            if done.merge_steps > 0 || done.wal_frames > 0 {
                tracing::debug!(
                    merge_steps = done.merge_steps,
                    merged_all = done.merged_all,
                    wal_frames = done.wal_frames,
                    checkpointed = done.checkpointed,
                    restarted = done.restarted,
                    took_ms = since.elapsed().as_millis() as u64,
                    "upkeep"
                );
            }
            done.merged_all
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                "search index merge or WAL checkpoint failed; the next write's upkeep tries again"
            );
            true
        }
    }
}

/// Where IMAP intake stands for a mailbox: (source, UIDVALIDITY, last UID).
pub type LedgerEntry = (String, u32, u32);

enum Request {
    Process {
        items: Vec<Incoming>,
        reply: oneshot::Sender<Result<Vec<Outcome>, StoreError>>,
    },
    Ledger {
        mailbox: String,
        reply: oneshot::Sender<Result<Option<LedgerEntry>, StoreError>>,
    },
    Refetches {
        source: String,
        uid_validity: u32,
        reply: oneshot::Sender<Result<Vec<(i64, u32)>, StoreError>>,
    },
    SetLedger {
        mailbox: String,
        source: String,
        uid_validity: u32,
        last_uid: u32,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Answered between batches: the watchdog's proof of progress.
    Ping {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Use these templates from the next batch on.
    Templates {
        templates: Arc<Templates>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Act on these rules from the next batch on.
    Rules {
        rules: Arc<RuleSet>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// One round of the lifecycle's scheduler (between batches).
    Schedule {
        reply: oneshot::Sender<Result<Vec<String>, StoreError>>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("the store worker has stopped")]
    Gone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A handle to the store worker; clone one per intake task.
#[derive(Clone)]
pub struct Worker {
    tx: mpsc::Sender<Request>,
}

impl Worker {
    /// Start the worker thread. It ends when every handle is dropped.
    pub fn spawn(
        mut store: Store,
        mut processor: Processor,
        mail_queued: Arc<Notify>,
    ) -> std::io::Result<(Worker, std::thread::JoinHandle<()>)> {
        let (tx, mut rx) = mpsc::channel::<Request>(2);
        let handle = std::thread::Builder::new()
            .name("postdesk-store".into())
            .spawn(move || {
                if let Err(e) = store.defer_checkpoints() {
                    tracing::warn!(error = %e, "WAL checkpoints stay on the commit path");
                }
                let mut owed: Option<Owed> = None;
                loop {
                    let req = match next_request(&mut rx, owed.as_ref()) {
                        Next::Closed => break,
                        Next::Request(req) => req,
                        Next::Upkeep => {
                            let t = Instant::now();
                            let done = upkeep(&mut store, t, Duration::ZERO, || idle(&rx));
                            // Stopped for a request: resume once it is served.
                            owed = (!done).then(|| Owed::new(Instant::now()));
                            continue;
                        }
                    };
                    let started = Instant::now();
                    if !serve(req, &mut store, &mut processor, &mail_queued) {
                        continue;
                    }
                    crate::memory::give_back();
                    let o = owed.get_or_insert_with(|| Owed::new(started));
                    o.due = Instant::now() + QUIET;
                    o.budget += upkeep::budget_after(started.elapsed());
                    if o.since.elapsed() >= MAX_PUT_OFF {
                        // A steady stream of batches: pay what they earned now.
                        let budget = o.budget;
                        let done = upkeep(&mut store, Instant::now(), budget, || idle(&rx));
                        owed = (!done).then(|| Owed::new(Instant::now()));
                    }
                }
            })?;
        Ok((Worker { tx }, handle))
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, WorkerError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| WorkerError::Gone)?;
        Ok(rx.await.map_err(|_| WorkerError::Gone)??)
    }

    /// Process a batch; outcomes come back only after the commit.
    pub async fn process(&self, items: Vec<Incoming>) -> Result<Vec<Outcome>, WorkerError> {
        self.call(|reply| Request::Process { items, reply }).await
    }

    /// Swap the templates; returns once the worker uses them (after the
    /// batch in hand, if any).
    pub async fn set_templates(&self, templates: Arc<Templates>) -> Result<(), WorkerError> {
        self.call(|reply| Request::Templates { templates, reply })
            .await
    }

    /// Returns once the worker has served every request queued before
    /// this one: `false` when it is gone.
    pub async fn ping(&self) -> bool {
        self.call(|reply| Request::Ping { reply }).await.is_ok()
    }

    /// Swap the rules; returns once the worker acts on them (after the
    /// batch in hand, if any).
    pub async fn set_rules(&self, rules: Arc<RuleSet>) -> Result<(), WorkerError> {
        self.call(|reply| Request::Rules { rules, reply }).await
    }

    /// Run one round of the lifecycle's scheduler; returns the tickets it
    /// moved, once committed.
    pub async fn schedule(&self) -> Result<Vec<String>, WorkerError> {
        self.call(|reply| Request::Schedule { reply }).await
    }

    pub async fn ledger(&self, mailbox: &str) -> Result<Option<LedgerEntry>, WorkerError> {
        let mailbox = mailbox.to_string();
        self.call(|reply| Request::Ledger { mailbox, reply }).await
    }

    /// Quarantined messages of this folder the operator asked to fetch
    /// again: (quarantine entry, UID).
    pub async fn refetches(
        &self,
        source: &str,
        uid_validity: u32,
    ) -> Result<Vec<(i64, u32)>, WorkerError> {
        let source = source.to_string();
        self.call(|reply| Request::Refetches {
            source,
            uid_validity,
            reply,
        })
        .await
    }

    pub async fn set_ledger(
        &self,
        mailbox: &str,
        source: &str,
        uid_validity: u32,
        last_uid: u32,
    ) -> Result<(), WorkerError> {
        let mailbox = mailbox.to_string();
        let source = source.to_string();
        self.call(|reply| Request::SetLedger {
            mailbox,
            source,
            uid_validity,
            last_uid,
            reply,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Origin;
    use crate::store::Durability;

    fn ping() -> (Request, oneshot::Receiver<Result<(), StoreError>>) {
        let (reply, rx) = oneshot::channel();
        (Request::Ping { reply }, rx)
    }

    #[test]
    fn a_waiting_request_comes_before_owed_upkeep_and_upkeep_when_none_came() {
        let (tx, mut rx) = mpsc::channel::<Request>(2);
        let now = Instant::now();
        let owed = Owed::new(now);
        tx.try_send(ping().0).unwrap();
        assert!(matches!(
            next_request(&mut rx, Some(&owed)),
            Next::Request(Request::Ping { .. })
        ));
        // Nothing waiting, upkeep not yet due: the thread waits for it.
        let later = Owed {
            due: Instant::now() + Duration::from_millis(30),
            ..Owed::new(now)
        };
        let t = Instant::now();
        assert!(matches!(next_request(&mut rx, Some(&later)), Next::Upkeep));
        assert!(
            t.elapsed() >= Duration::from_millis(25),
            "{:?}",
            t.elapsed()
        );
        assert!(idle(&rx));
        drop(tx);
        // Every handle gone: upkeep stops after its step (shutdown).
        assert!(!idle(&rx));
        assert!(matches!(next_request(&mut rx, None), Next::Closed));
    }

    fn segments(path: &std::path::Path) -> i64 {
        Store::open(path, Durability::Full)
            .unwrap()
            .index_segments()
    }

    fn mail(n: usize) -> Incoming {
        let raw = format!(
            "From: Ana <ana{n}@customer.test>\r\nTo: support@example.com\r\n\
             Subject: Printer {n} jammed\r\nMessage-ID: <m{n}@customer.test>\r\n\
             Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nThe printer in room {n} is jammed.\r\n"
        )
        .into_bytes();
        Incoming {
            origin: Origin::Pipe { mailbox: None },
            size: raw.len() as u64,
            raw,
            fetch_error: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_answer_first_and_the_index_is_merged_once_the_thread_is_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let config = Arc::new(crate::process::decide::tests::config());
        let mut store = Store::open(&path, Durability::Full).unwrap();
        store.sync_queues(&config.queues).unwrap();
        let templates = Arc::new(
            Templates::load(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-templates"),
                "en",
            )
            .unwrap(),
        );
        let processor = Processor::new(config, templates);
        let (worker, thread) = Worker::spawn(store, processor, Arc::new(Notify::new())).unwrap();
        for n in 0..16 {
            let out = worker.process(vec![mail(n)]).await.unwrap();
            assert!(matches!(out[..], [Outcome::Created { .. }]), "{out:?}");
        }
        // Sixteen segments were written; the merge waits for a quiet moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        while segments(&path) != 1 {
            assert!(
                Instant::now() < deadline,
                "never merged: {} segments",
                segments(&path)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The merged index answers as the segments did.
        let hits = crate::store::search::search(
            Store::open(&path, Durability::Full).unwrap().conn(),
            "jammed",
            0,
        )
        .unwrap();
        assert_eq!(hits.len(), 16);
        assert!(worker.ping().await);
        drop(worker);
        thread.join().unwrap();
    }
}
