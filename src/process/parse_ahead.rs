//! Parse ahead: the pure parse stage of a batch (shape check, MIME parse,
//! classification, quoted-text split, HTML → text, language, SHA-256)
//! runs on parser threads while the store thread gathers facts, decides
//! and writes the messages before. Parsing is a large part of the CPU a
//! message costs, so on a machine with two cores or more the store thread
//! mostly waits for SQLite only.
//!
//! What stays as it was: the batch is still one transaction on the store
//! thread; parsing starts only after the crash guard has committed the
//! batch's attempts (a parser that kills the process is attributed to its
//! batch, which is then retried one message at a time, each message parsed
//! alone, so the culprit is isolated); a message already handled is not
//! parsed at all; and memory stays bounded: the store thread hands a
//! parser a copy of a message only [`AHEAD`] messages before it needs the
//! result, so at most `threads × AHEAD` messages and their parses are in
//! flight, never a second batch.
//!
//! The parser threads live as long as their [`Processor`](super::Processor):
//! a thread per batch would leave each regex of the parse stage a cache
//! per thread that ever ran it (the regex crate keeps them), ~9 MiB more
//! memory after a few hundred batches.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use super::parse::{self, Parsed};
use super::{Failure, Incoming};
use crate::config::Config;
use crate::notify;

/// Messages a parser thread is given before the store thread needs their
/// parse: enough to ride over one slow write, few enough that a batch of
/// large mails does not pile up in memory.
pub(super) const AHEAD: usize = 4;

/// Parser threads never run with less stack than the main thread gets:
/// the shape check bounds MIME depth, this keeps the margin it assumed.
const PARSER_STACK: usize = 8 << 20;

/// How long the store thread waits for the next notification of its batch.
const MAKE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// One parsed message, or why it cannot be processed.
pub(super) type Ahead = Result<Parsed, Failure>;

/// Work for a parser thread, tagged with its batch.
struct Job {
    batch: u64,
    work: Work,
}

enum Work {
    /// Parse message `index` of the batch.
    Parse { index: usize, item: Incoming },
    /// Make mail number `seq` (of this pool): render, build, DKIM-sign.
    Make {
        seq: u64,
        compose: Box<notify::Compose>,
    },
}

/// A made mail, or why it could not be made.
pub(super) struct Made {
    batch: u64,
    /// What [`Pool::make`] returned for it.
    pub seq: u64,
    pub made: Result<notify::Composed, String>,
}

/// A parse, tagged like its job.
struct Done {
    batch: u64,
    index: usize,
    parsed: Ahead,
}

/// One parser thread's two ends.
struct Lane {
    jobs: Sender<Job>,
    done: Receiver<Done>,
}

/// The parser threads of one [`Processor`](super::Processor); they stop
/// when it is dropped (their job channels close).
pub(super) struct Pool {
    lanes: Vec<Lane>,
    /// Made mail, from every lane, in no particular order.
    made: Receiver<Made>,
    /// Mails asked for so far: the next one's number, and (modulo the
    /// lanes) the lane it goes to.
    makes: std::cell::Cell<u64>,
    /// Batches started so far: a batch given up half way (an error from
    /// the store) leaves parses behind, which the next batch skips.
    batches: std::cell::Cell<u64>,
}

/// Parser threads for this machine: one per core besides the store
/// thread's, at most four (more would only hold more mail in memory);
/// none on one core, where they would only take turns with the store
/// thread.
fn parser_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .min(4)
}

impl Pool {
    /// Start the parser threads. `None` on one core, or when no thread
    /// could be started (the store thread then parses, as it did before).
    pub(super) fn start(config: &Arc<Config>) -> Option<Pool> {
        Pool::with_threads(config, parser_threads())
    }

    /// [`Pool::start`] with `threads` parser threads.
    pub(super) fn with_threads(config: &Arc<Config>, threads: usize) -> Option<Pool> {
        let mut lanes = Vec::new();
        let (made_tx, made) = channel::<Made>();
        for lane in 0..threads {
            let (jobs, job_rx) = channel::<Job>();
            let (done_tx, done) = channel::<Done>();
            let config = config.clone();
            let made_tx = made_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("postdesk-parse-{lane}"))
                .stack_size(PARSER_STACK)
                .spawn(move || {
                    for job in job_rx {
                        let sent = match job.work {
                            Work::Parse { index, item } => done_tx
                                .send(Done {
                                    batch: job.batch,
                                    index,
                                    parsed: parse_one(&item, &config),
                                })
                                .is_ok(),
                            Work::Make { seq, compose } => made_tx
                                .send(Made {
                                    batch: job.batch,
                                    seq,
                                    made: make_one(&compose, &config),
                                })
                                .is_ok(),
                        };
                        if !sent {
                            return;
                        }
                    }
                });
            match spawned {
                Ok(_) => lanes.push(Lane { jobs, done }),
                Err(e) => {
                    tracing::warn!(
                        "could not start a parser thread ({e}): messages are parsed on the store thread"
                    );
                    break;
                }
            }
        }
        (!lanes.is_empty()).then(|| Pool {
            lanes,
            made,
            makes: std::cell::Cell::new(0),
            batches: std::cell::Cell::new(0),
        })
    }

    /// Have a mail of the current batch made; it comes back from
    /// [`Pool::made`] under the number returned. Numbers are never
    /// reused, so a mail asked for by a message that was then rolled
    /// back is known for what it is.
    pub(super) fn make(&self, compose: notify::Compose) -> u64 {
        let seq = self.makes.get();
        self.makes.set(seq + 1);
        let lane = (seq % self.lanes.len() as u64) as usize;
        let job = Job {
            batch: self.batches.get(),
            work: Work::Make {
                seq,
                compose: Box::new(compose),
            },
        };
        // A lane whose thread is gone: the mail never comes back, and
        // its row fails with that error.
        let _ = self.lanes[lane].jobs.send(job);
        seq
    }

    /// The next mail made for the current batch: one already made, or
    /// (`wait`) the next to be, waiting at most [`MAKE_WAIT`] for it (one
    /// takes a tenth of a millisecond, a millisecond with a DKIM key).
    /// None when none is ready, a parser thread is gone, or the wait ran
    /// out: the caller then fails the rows still waiting rather than wait
    /// for ever.
    pub(super) fn made(&self, wait: bool) -> Option<Made> {
        let batch = self.batches.get();
        loop {
            let next = if wait {
                self.made.recv_timeout(MAKE_WAIT).ok()
            } else {
                self.made.try_recv().ok()
            };
            match next {
                Some(m) if m.batch == batch => return Some(m),
                Some(_) => continue, // a batch given up before
                None => return None,
            }
        }
    }

    /// Begin parsing the messages of `batch` whose `wanted` is true.
    pub(super) fn batch<'b>(&'b self, batch: &'b [Incoming], wanted: &[bool]) -> Parses<'b> {
        let id = self.batches.get() + 1;
        self.batches.set(id);
        let mut parses = Parses {
            pool: self,
            batch,
            id,
            order: (0..batch.len()).filter(|&i| wanted[i]).collect(),
            fed: 0,
            taken: 0,
        };
        parses.feed();
        parses
    }
}

/// The store thread's end of one batch: parses in batch order.
pub(super) struct Parses<'b> {
    pool: &'b Pool,
    batch: &'b [Incoming],
    id: u64,
    /// The indexes of the wanted messages, in order; the k-th goes to
    /// lane k % lanes, so each lane's parses come back in batch order.
    order: Vec<usize>,
    /// Of `order`: how many were handed out, how many taken back.
    fed: usize,
    taken: usize,
}

impl Parses<'_> {
    /// Hand out messages until [`AHEAD`] per lane are in flight.
    fn feed(&mut self) {
        let lanes = self.pool.lanes.len();
        while self.fed < self.order.len() && self.fed < self.taken + AHEAD * lanes {
            let index = self.order[self.fed];
            let job = Job {
                batch: self.id,
                work: Work::Parse {
                    index,
                    item: self.batch[index].clone(),
                },
            };
            // A lane whose thread is gone: its parse is missed in `take`,
            // and the store thread parses that message itself.
            let _ = self.pool.lanes[self.fed % lanes].jobs.send(job);
            self.fed += 1;
        }
    }

    /// The parse of message `index` of the batch, which must be the next
    /// wanted one; waits for its parser thread. `None` if that thread is
    /// gone (catching its panics makes that a bug): the caller then parses
    /// the message itself.
    pub(super) fn take(&mut self, index: usize) -> Option<Ahead> {
        debug_assert_eq!(self.order.get(self.taken), Some(&index));
        let lane = &self.pool.lanes[self.taken % self.pool.lanes.len()];
        self.taken += 1;
        let found = loop {
            match lane.done.recv() {
                // What a batch given up before left behind.
                Ok(d) if d.batch != self.id => continue,
                Ok(d) if d.index == index => break Some(d.parsed),
                Ok(_) => break None,
                Err(_) => break None,
            }
        };
        self.feed();
        found
    }
}

/// Make one mail (signed with the configured key, if any); a panic
/// becomes the error.
fn make_one(compose: &notify::Compose, config: &Config) -> Result<notify::Composed, String> {
    catch_unwind(AssertUnwindSafe(|| {
        compose
            .make(config.smtp.dkim.as_ref())
            .map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|panic| Err(super::panic_error(&*panic)))
}

/// Parse one message; a panic in the parser becomes its failure (the
/// message is quarantined with it), as it would on the store thread.
fn parse_one(item: &Incoming, config: &Config) -> Ahead {
    match catch_unwind(AssertUnwindSafe(|| parse::parse(item, config))) {
        Ok(result) => result,
        Err(panic) => Err(Failure::Other(super::panic_error(&*panic))),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::process::Origin;

    fn mail(n: usize) -> Incoming {
        let raw = format!(
            "From: c{n}@example.com\r\nTo: support@example.com\r\nSubject: mail {n}\r\n\
             Message-ID: <{n}@example.com>\r\n\r\nHello {n}\r\n"
        );
        Incoming {
            origin: Origin::Pipe { mailbox: None },
            size: raw.len() as u64,
            raw: raw.into_bytes(),
            fetch_error: None,
        }
    }

    fn subject(a: Option<Ahead>) -> String {
        a.expect("a parse").expect("parsed").mail.subject
    }

    #[test]
    fn parses_come_back_in_batch_order_and_a_given_up_batch_leaves_nothing_behind() {
        let config = Arc::new(crate::process::decide::tests::config());
        let pool = Pool::with_threads(&config, 2).expect("parser threads start");
        // A batch given up after two of its ten messages: the parser
        // threads still hold (or are parsing) some of the rest.
        let first: Vec<Incoming> = (0..10).map(mail).collect();
        let mut parses = pool.batch(&first, &[true; 10]);
        assert_eq!(subject(parses.take(0)), "mail 0");
        assert_eq!(subject(parses.take(1)), "mail 1");
        drop(parses);
        // The next batch, with messages 102 and 104 not wanted (handled
        // before): each parse is its own message's.
        let second: Vec<Incoming> = (100..106).map(mail).collect();
        let wanted = [true, true, false, true, false, true];
        let mut parses = pool.batch(&second, &wanted);
        for (i, _) in wanted.iter().enumerate().filter(|(_, w)| **w) {
            assert_eq!(subject(parses.take(i)), format!("mail {}", 100 + i));
        }
    }

    /// An auto-reply to `to` on ticket 2026120110000017.
    pub(in crate::process) fn compose(to: &str) -> notify::Compose {
        // Loaded once: loading takes a debug build a fifth of a second.
        static SHIPPED: std::sync::OnceLock<Arc<notify::Templates>> = std::sync::OnceLock::new();
        let templates = SHIPPED
            .get_or_init(|| notify::load_or_shipped(std::path::Path::new("/nonexistent"), "en").0);
        notify::Compose {
            templates: templates.clone(),
            template: "auto_reply".into(),
            lang: "en".into(),
            ctx: notify::Context {
                ticket: notify::TicketCtx {
                    number: "2026120110000017".into(),
                    tag: "[Ticket#2026120110000017]".into(),
                    subject: "Printer".into(),
                    state: "posted".into(),
                    queue: "support".into(),
                    customer: to.into(),
                    customer_name: String::new(),
                },
                article: Default::default(),
                support_address: "support@example.com".into(),
                support_name: "Support".into(),
                commands: Default::default(),
            },
            tag: "[Ticket#2026120110000017]".into(),
            head: notify::Head {
                from_address: "support@example.com".into(),
                to: vec![to.into()],
                message_id: format!("{to}.auto_reply@desk.example.com"),
                ticket_number: "2026120110000017".into(),
                fqdn: "desk.example.com".into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn made_mail_comes_back_for_its_batch_only() {
        let config = Arc::new(crate::process::decide::tests::config());
        let pool = Pool::with_threads(&config, 2).expect("parser threads start");
        let _first = pool.batch(&[], &[]);
        let given_up = pool.make(compose("one@example.com"));
        // The first batch is given up before its mail is taken.
        let _second = pool.batch(&[], &[]);
        let good = pool.make(compose("two@example.com"));
        let bad = pool.make(compose("bad address"));
        assert!(given_up < good && good < bad, "numbers are never reused");
        let mut got: Vec<(u64, Result<String, String>)> = std::iter::from_fn(|| pool.made(true))
            .take(2)
            .map(|m| {
                let made = m.made.map(|c| {
                    assert!(c.subject.starts_with("[Ticket#2026120110000017]"));
                    String::from_utf8(c.raw).unwrap()
                });
                (m.seq, made)
            })
            .collect();
        got.sort_by_key(|g| g.0);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, good);
        let raw = got[0].1.as_ref().unwrap();
        assert!(raw.contains("To: two@example.com"), "{raw}");
        assert_eq!(got[1].0, bad);
        let err = got[1].1.as_ref().unwrap_err();
        assert!(err.contains("bad address"), "{err}");
        // Nothing else is left for this batch.
        assert!(pool.made(false).is_none());
    }

    #[test]
    fn a_message_that_cannot_be_fetched_is_its_own_failure() {
        let config = Arc::new(crate::process::decide::tests::config());
        let pool = Pool::with_threads(&config, 1).expect("a parser thread starts");
        let mut batch = vec![mail(1), mail(2)];
        batch[0].fetch_error = Some("NO [UNAVAILABLE] try later".into());
        let mut parses = pool.batch(&batch, &[true, true]);
        assert!(matches!(parses.take(0), Some(Err(_))));
        assert_eq!(subject(parses.take(1)), "mail 2");
    }
}
