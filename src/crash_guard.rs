//! The crash guard around batch processing: the last line of defence that
//! does not depend on finding every bug that can kill the process. Before a
//! batch is processed, an attempt is committed for each of its messages
//! (keyed by IMAP source/UIDVALIDITY/UID, or by the SHA-256 of piped or
//! retried bytes); the commit that holds a message's effects settles it.
//! An attempt still recorded when the message comes back means the process
//! died while it was in hand — a parser crash, a stack overflow, the OOM
//! killer — where nothing could be caught.
//!
//! A batch holding such a message is processed one message at a time, each
//! attempt recorded just before its message, so the culprit is isolated
//! and the innocent mail of its batch goes through. A message interrupted
//! [`CRASH_LIMIT`] times is quarantined raw without being parsed, with the
//! error "processing crashed"; it is then acknowledged like any mail
//! quarantined with a copy, and intake goes on.

use rusqlite::TransactionBehavior;

use crate::process::{sha256_hex, Done, Incoming, Origin, Outcome, Processor, Then};
use crate::store::{attempts, Store, StoreError};

/// Interrupted attempts after which a message is quarantined unparsed.
pub const CRASH_LIMIT: u32 = 3;

/// **Test only.** When this environment variable is set, processing aborts
/// the whole process (`std::process::abort`, which nothing can catch) on a
/// message whose raw bytes contain its value, so the tests can make a real
/// crash happen. It fires where a parser crash would: in the parse stage,
/// on a parser thread (`process::parse_ahead`), after the batch's attempts
/// were committed. Only debug builds (the tests') honour it; release builds
/// ignore it.
pub const TEST_ABORT_ENV: &str = "POSTDESK_TEST_ABORT_ON";

/// How the error of a message quarantined by the guard begins.
pub const CRASHED: &str = "processing crashed";

/// What a message's attempts are recorded under.
pub fn message_key(item: &Incoming) -> String {
    match &item.origin {
        Origin::Imap {
            source,
            uid_validity,
            uid,
            ..
        } => format!("imap:{source}/{uid_validity}/{uid}"),
        Origin::Pipe { .. } | Origin::Import { .. } | Origin::Retry { .. } => {
            format!("sha256:{}", sha256_hex(&item.raw))
        }
    }
}

impl Processor {
    /// Process a batch in one transaction (outcomes in input order), under
    /// the crash guard described in this module.
    pub fn process_batch(
        &self,
        store: &mut Store,
        batch: &[Incoming],
    ) -> Result<Vec<Outcome>, StoreError> {
        self.process_batch_then(store, batch, None)
    }

    /// [`Processor::process_batch`], each outcome with the class the
    /// parse stage gave its mail (what the metrics count by).
    pub fn process_batch_classed(
        &self,
        store: &mut Store,
        batch: &[Incoming],
    ) -> Result<Vec<Done>, StoreError> {
        self.guarded(store, batch, None)
    }

    /// [`Processor::process_batch`], with `then` written in the batch's
    /// transaction after its messages (an import's progress). When the
    /// batch has to be taken one message at a time, `then` is written
    /// after the last, in a transaction of its own.
    pub fn process_batch_then(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        then: Option<&Then<'_>>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let done = self.guarded(store, batch, then)?;
        Ok(done.into_iter().map(|d| d.outcome).collect())
    }

    fn guarded(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        then: Option<&Then<'_>>,
    ) -> Result<Vec<Done>, StoreError> {
        let keys: Vec<String> = batch.iter().map(message_key).collect();
        let interrupted = attempts::interrupted(store.conn(), &keys)?;
        if interrupted.iter().all(|&n| n == 0) {
            return self.attempt(store, batch, &keys, then);
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for ((item, key), earlier) in batch.iter().zip(&keys).zip(interrupted) {
            let one = std::slice::from_ref(key);
            if earlier >= CRASH_LIMIT && !self.handled_before(store, item)? {
                outcomes.push(Done {
                    outcome: self.quarantine_crashed(store, item, key, earlier)?,
                    class: crate::process::UNKNOWN_CLASS,
                });
                continue;
            }
            if earlier > 0 {
                tracing::warn!(
                    key,
                    interrupted = earlier,
                    "processing of this message was interrupted before (the process died); trying it alone"
                );
            }
            outcomes.extend(self.attempt(store, std::slice::from_ref(item), one, None)?);
        }
        if let Some(then) = then {
            let tx = store
                .conn()
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            then(&tx)?;
            tx.commit()?;
        }
        Ok(outcomes)
    }

    /// One recorded attempt at `batch`. An error that comes back (rather
    /// than killing us) is not a crash: the attempt is taken back.
    fn attempt(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        keys: &[String],
        then: Option<&Then<'_>>,
    ) -> Result<Vec<Done>, StoreError> {
        attempts::begin(store.conn(), keys)?;
        let result = self.run_batch(store, batch, keys, then);
        if result.is_err() {
            if let Err(e) = attempts::abandon(store.conn(), keys) {
                tracing::warn!(
                    "could not take back the processing attempts of a failed batch ({e}); \
                     its messages count one interrupted attempt more"
                );
            }
        }
        result
    }

    /// An IMAP message whose receipt exists is only missing its
    /// acknowledgement: processing answers that without parsing it.
    fn handled_before(&self, store: &mut Store, item: &Incoming) -> Result<bool, StoreError> {
        match &item.origin {
            Origin::Imap {
                source,
                uid_validity,
                uid,
                ..
            } => Ok(crate::store::redelivery::receipt_for_uid(
                store.conn(),
                source,
                *uid_validity,
                *uid,
            )?
            .is_some()),
            _ => Ok(false),
        }
    }

    fn quarantine_crashed(
        &self,
        store: &mut Store,
        item: &Incoming,
        key: &str,
        earlier: u32,
    ) -> Result<Outcome, StoreError> {
        let error = format!(
            "{CRASHED}: the process died {earlier} times while handling this message \
             (kept raw, not parsed again; see the log of those runs)"
        );
        tracing::error!(key, "{error}");
        let tx = store
            .conn()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outcome = self.quarantine(&tx, item, &error)?;
        attempts::settle(&tx, &[key.to_string()])?;
        tx.commit()?;
        Ok(outcome)
    }
}

/// See [`TEST_ABORT_ENV`]; called by the parse stage.
pub(crate) fn test_abort_hook(batch: &[Incoming]) {
    // Release builds (what operators run) never abort on request.
    if !cfg!(debug_assertions) {
        return;
    }
    let Some(marker) = std::env::var_os(TEST_ABORT_ENV) else {
        return;
    };
    let marker = marker.as_encoded_bytes();
    if marker.is_empty() {
        return;
    }
    if batch
        .iter()
        .any(|i| i.raw.windows(marker.len()).any(|w| w == marker))
    {
        eprintln!(
            "postdesk: {TEST_ABORT_ENV} marker found on thread {}: aborting (test hook)",
            std::thread::current().name().unwrap_or("unnamed")
        );
        std::process::abort();
    }
}
