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
//! batches, so its writes never race the processing's.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};

use crate::notify::Templates;
use crate::process::{Incoming, Outcome, Processor};
use crate::rules::RuleSet;
use crate::store::{Store, StoreError};

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
                while let Some(req) = rx.blocking_recv() {
                    match req {
                        Request::Process { items, reply } => {
                            let started = std::time::Instant::now();
                            test_stall_hook(&items);
                            let result =
                                processor
                                    .process_batch_classed(&mut store, &items)
                                    .map(|done| {
                                        crate::ops::metrics::record_batch(&done, started.elapsed());
                                        done.into_iter().map(|d| d.outcome).collect::<Vec<_>>()
                                    });
                            if let Ok(outcomes) = &result {
                                if outcomes.iter().any(|o| {
                                    matches!(
                                        o,
                                        Outcome::Created { .. }
                                            | Outcome::FollowUp { .. }
                                            | Outcome::Note { .. }
                                    )
                                }) {
                                    mail_queued.notify_one();
                                }
                            }
                            let _ = reply.send(result);
                        }
                        Request::Ping { reply } => {
                            let _ = reply.send(Ok(()));
                        }
                        Request::Templates { templates, reply } => {
                            processor.set_templates(templates);
                            let _ = reply.send(Ok(()));
                        }
                        Request::Rules { rules, reply } => {
                            processor.set_rules(rules);
                            let _ = reply.send(Ok(()));
                        }
                        Request::Schedule { reply } => {
                            let result = processor.run_scheduler(&mut store, chrono::Utc::now());
                            if result.as_ref().is_ok_and(|moved| !moved.is_empty()) {
                                mail_queued.notify_one();
                            }
                            let _ = reply.send(result);
                        }
                        Request::Ledger { mailbox, reply } => {
                            let _ = reply.send(store.ledger(&mailbox));
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
                        }
                        Request::SetLedger {
                            mailbox,
                            source,
                            uid_validity,
                            last_uid,
                            reply,
                        } => {
                            let _ = reply.send(store.set_ledger(
                                &mailbox,
                                &source,
                                uid_validity,
                                last_uid,
                            ));
                        }
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
