//! Parse ahead: the pure parse stage of a batch (shape check, MIME parse,
//! classification, quoted-text split, HTML → text, SHA-256) runs on parser
//! threads while the store thread gathers facts, decides and writes the
//! messages before. Parsing is most of the CPU a message costs, so on a
//! machine with two cores or more the store thread only waits for SQLite.
//!
//! What stays as it was: the batch is still one transaction on the store
//! thread; parsing starts only after the crash guard has committed the
//! batch's attempts (a parser that kills the process is attributed to its
//! batch, which is then retried one message at a time, each message parsed
//! alone, so the culprit is isolated); a message already handled is not
//! parsed at all; and memory stays bounded: each parser thread hands its
//! results over a channel of [`AHEAD`] places, so at most
//! `threads × (AHEAD + 1)` parsed mails of the batch exist at once, never
//! a second batch. Parser threads are scoped to the batch: they end with it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::OnceLock;
use std::thread::Scope;

use super::parse::{self, Parsed};
use super::{Failure, Incoming};
use crate::config::Config;

/// Parsed mails a parser thread may hold ready before the store thread
/// takes them: enough to ride over one slow write, small enough that a
/// batch of large mails does not pile up in memory.
pub(super) const AHEAD: usize = 4;

/// Parser threads never run with less stack than the main thread gets:
/// the shape check bounds MIME depth, this keeps the margin it assumed.
const PARSER_STACK: usize = 8 << 20;

/// One parsed message, or why it cannot be processed.
pub(super) type Ahead = Result<Parsed, Failure>;

/// Parser threads to use: one per core besides the store thread's, at
/// least one, at most four (more would only hold more mail in memory).
fn parser_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1))
            .clamp(1, 4)
    })
}

/// The store thread's end: parsed mails in batch order.
pub(super) struct Parses {
    lanes: Vec<Receiver<Ahead>>,
}

impl Parses {
    /// The parse of message `index` of the batch (which must have been
    /// wanted), in batch order; waits for its parser thread. `None` only
    /// if that thread is gone (catching its panics makes that a bug): the
    /// caller then parses the message itself.
    pub(super) fn take(&self, index: usize) -> Option<Ahead> {
        self.lanes[index % self.lanes.len()].recv().ok()
    }
}

/// Start parsing the messages of `batch` whose `wanted` is true, on
/// parser threads living in `scope`. Message `i` goes to thread
/// `i % threads`, so each thread's results come in batch order. `None`
/// when no thread could be started: the store thread then parses.
pub(super) fn start<'scope, 'env>(
    scope: &'scope Scope<'scope, 'env>,
    batch: &'env [Incoming],
    wanted: &'env [bool],
    config: &'env Config,
) -> Option<Parses> {
    let threads = parser_threads().min(wanted.iter().filter(|&&w| w).count().max(1));
    let mut lanes = Vec::with_capacity(threads);
    for lane in 0..threads {
        let (tx, rx) = sync_channel::<Ahead>(AHEAD);
        let spawned = std::thread::Builder::new()
            .name(format!("postdesk-parse-{lane}"))
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, move || {
                for (item, _) in batch
                    .iter()
                    .zip(wanted)
                    .skip(lane)
                    .step_by(threads)
                    .filter(|(_, &w)| w)
                {
                    if tx.send(parse_one(item, config)).is_err() {
                        return; // the store thread gave the batch up
                    }
                }
            });
        if let Err(e) = spawned {
            // Lanes already started see their channel closed and stop.
            tracing::warn!(
                "could not start a parser thread ({e}): this batch is parsed on the store thread"
            );
            return None;
        }
        lanes.push(rx);
    }
    Some(Parses { lanes })
}

/// Parse one message; a panic in the parser becomes its failure (the
/// message is quarantined with it), as it would on the store thread.
fn parse_one(item: &Incoming, config: &Config) -> Ahead {
    match catch_unwind(AssertUnwindSafe(|| parse::parse(item, config))) {
        Ok(result) => result,
        Err(panic) => Err(Failure::Other(super::panic_error(&*panic))),
    }
}
