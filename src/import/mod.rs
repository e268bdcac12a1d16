//! `postdesk import`: bringing an existing archive (an mbox file or a
//! maildir) in through the same pipeline as live mail — parse, facts,
//! decide, apply — so it threads by Message-ID and ticket tags exactly as
//! intake does. Each batch is one transaction (through
//! [`Processor::process_batch_then`], under the crash guard), and the
//! archive's progress (mbox byte offset, maildir file name) is written in
//! that same transaction ([`crate::store::imports`]): an import that is
//! interrupted, however, resumes after its last commit, and since every
//! message is also recognised by its bytes and Message-ID, nothing is ever
//! recorded twice. By default nothing is sent for imported mail
//! (`Origin::Import { notify: false }`).
//!
//! Knows no terminal: the CLI draws progress from the [`Tick`]s it is given.

pub mod maildir;
pub mod mbox;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::process::{Incoming, Origin, Outcome, Processor};
use crate::store::imports::{self, Progress};
use crate::store::{Store, StoreError};

/// What kind of archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Mbox,
    Maildir,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mbox => "mbox",
            Kind::Maildir => "maildir",
        }
    }
}

/// What to import and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub kind: Kind,
    pub path: PathBuf,
    /// The `[[mailbox]]` the mail counts as received by when its
    /// recipients name none (as `ingest --mailbox`).
    pub mailbox: Option<String>,
    /// Send auto-replies and agents' alerts as for live mail.
    pub notify: bool,
    /// Messages per transaction.
    pub batch_size: usize,
    /// Raw bytes per transaction (a batch ends at whichever comes first).
    pub batch_bytes: u64,
    /// Ignore the recorded progress and read the archive from its start
    /// (what was taken in before is recognised and skipped).
    pub from_start: bool,
    /// Messages larger than this are quarantined without a copy
    /// (`system.max_message_bytes`).
    pub max_message_bytes: u64,
}

/// What an import run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// The archive's canonical path.
    pub source: String,
    pub kind: Option<Kind>,
    /// Where this run began: "start", "byte N" or "after NAME".
    pub resumed_from: String,
    /// Messages read from the archive in this run.
    pub read: u64,
    pub created: u64,
    pub follow_up: u64,
    /// Machines' mail (bounces, auto-replies, receipts) filed as an
    /// internal note on its ticket.
    pub notes: u64,
    /// Copies of mail already in the database (another address's copy).
    pub duplicate: u64,
    /// The same bytes were taken in before (an earlier import or intake).
    pub already_imported: u64,
    pub ignored: u64,
    pub quarantined: u64,
    /// Maildir files that vanished between listing and reading.
    pub vanished: u64,
    /// Messages taken in from this archive over all runs.
    pub total_messages: u64,
    /// Stopped by a signal before the end (run again to resume).
    pub interrupted: bool,
    pub seconds: f64,
}

/// How far the run is, after each committed batch.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    /// Bytes (mbox) or files (maildir) done, of `total`.
    pub done: u64,
    pub total: u64,
    /// Messages read in this run.
    pub messages: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: no such file or folder", .0.display())]
    NotFound(PathBuf),
    #[error("{}: {why}", path.display())]
    NotAnArchive { path: PathBuf, why: String },
    #[error("reading {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Import the archive `o` describes. `stop` is checked between batches
/// (a signal sets it); `tick` is called after each commit.
pub fn run(
    processor: &Processor,
    store: &mut Store,
    o: &Options,
    stop: &AtomicBool,
    tick: &mut dyn FnMut(&Summary, Tick),
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let source = std::fs::canonicalize(&o.path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => ImportError::NotFound(o.path.clone()),
        _ => ImportError::Io {
            path: o.path.clone(),
            error,
        },
    })?;
    let key = source.to_string_lossy().into_owned();
    if o.from_start {
        imports::forget(store.conn(), &key).map_err(StoreError::from)?;
    }
    let before = imports::progress(store.conn(), &key)
        .map_err(StoreError::from)?
        .unwrap_or_default();
    let mut run = Run {
        processor,
        o,
        key,
        summary: Summary {
            source: source.to_string_lossy().into_owned(),
            kind: Some(o.kind),
            total_messages: before.messages,
            ..Summary::default()
        },
        stop,
        tick,
    };
    match o.kind {
        Kind::Mbox => run.mbox(store, &source, before)?,
        Kind::Maildir => run.maildir(store, &source, before)?,
    }
    run.summary.seconds = started.elapsed().as_secs_f64();
    Ok(run.summary)
}

/// One import run in progress.
struct Run<'a> {
    processor: &'a Processor,
    o: &'a Options,
    /// What progress is recorded under.
    key: String,
    summary: Summary,
    stop: &'a AtomicBool,
    tick: &'a mut dyn FnMut(&Summary, Tick),
}

impl Run<'_> {
    fn incoming(&self, raw: Vec<u8>, size: u64) -> Incoming {
        // Too large: quarantined without a copy, as intake does (the
        // archive still holds it).
        let raw = if size > self.o.max_message_bytes {
            Vec::new()
        } else {
            raw
        };
        Incoming {
            origin: Origin::Import {
                mailbox: self.o.mailbox.clone(),
                notify: self.o.notify,
            },
            raw,
            size,
            fetch_error: None,
        }
    }

    fn mbox(
        &mut self,
        store: &mut Store,
        path: &Path,
        before: Progress,
    ) -> Result<(), ImportError> {
        let io = |error| ImportError::Io {
            path: path.to_path_buf(),
            error,
        };
        let mut at = before.position;
        let mut reader = match mbox::Mbox::open(path, at) {
            Err(mbox::OpenError::NotAMessage { offset }) if offset > 0 => {
                tracing::warn!(
                    file = %path.display(),
                    "the recorded progress (byte {offset}) is no message start: the file changed since; reading it from the start (mail taken in before is recognised and skipped)"
                );
                at = 0;
                mbox::Mbox::open(path, 0)
            }
            other => other,
        }
        .map_err(|e| match e {
            mbox::OpenError::Io(error) => io(error),
            mbox::OpenError::NotAMessage { .. } => ImportError::NotAnArchive {
                path: path.to_path_buf(),
                why: "not an mbox file: it does not begin with a \"From \" line".into(),
            },
        })?;
        self.summary.resumed_from = if at == 0 {
            "start".into()
        } else {
            format!("byte {at}")
        };
        let total = reader.file_len();
        loop {
            let mut batch = Vec::new();
            let mut bytes = 0;
            while batch.len() < self.o.batch_size && bytes < self.o.batch_bytes {
                let Some(entry) = reader.next_entry() else {
                    break;
                };
                let entry = entry.map_err(io)?;
                at = entry.next;
                bytes += entry.raw.len() as u64;
                let size = entry.raw.len() as u64;
                batch.push(self.incoming(entry.raw, size));
            }
            if batch.is_empty() {
                return Ok(());
            }
            let progress = Progress {
                position: at,
                last_name: None,
                messages: self.summary.total_messages + batch.len() as u64,
            };
            self.commit(store, &batch, &progress)?;
            (self.tick)(
                &self.summary,
                Tick {
                    done: at,
                    total,
                    messages: self.summary.read,
                },
            );
            if self.stop.load(Ordering::Relaxed) {
                self.summary.interrupted = true;
                return Ok(());
            }
        }
    }

    fn maildir(
        &mut self,
        store: &mut Store,
        path: &Path,
        before: Progress,
    ) -> Result<(), ImportError> {
        if !maildir::is_maildir(path) {
            return Err(ImportError::NotAnArchive {
                path: path.to_path_buf(),
                why: "not a maildir: it has neither cur/ nor new/".into(),
            });
        }
        let io = |error| ImportError::Io {
            path: path.to_path_buf(),
            error,
        };
        let after = before.last_name;
        self.summary.resumed_from = match &after {
            Some(name) => format!("after {name}"),
            None => "start".into(),
        };
        let files = maildir::list(path, after.as_deref()).map_err(io)?;
        let total = files.len() as u64;
        let mut done = 0;
        let mut rest = files.as_slice();
        while !rest.is_empty() {
            let mut batch = Vec::new();
            let mut bytes = 0;
            let mut last = None;
            while let Some((file, tail)) = rest.split_first() {
                if batch.len() >= self.o.batch_size || bytes >= self.o.batch_bytes {
                    break;
                }
                rest = tail;
                done += 1;
                last = Some(file.unique().to_string());
                let Some((raw, size)) = self.read_file(path, file)? else {
                    self.summary.vanished += 1;
                    continue;
                };
                bytes += size;
                batch.push(self.incoming(raw, size));
            }
            let progress = Progress {
                position: 0,
                last_name: last,
                messages: self.summary.total_messages + batch.len() as u64,
            };
            self.commit(store, &batch, &progress)?;
            (self.tick)(
                &self.summary,
                Tick {
                    done,
                    total,
                    messages: self.summary.read,
                },
            );
            if self.stop.load(Ordering::Relaxed) && !rest.is_empty() {
                self.summary.interrupted = true;
                return Ok(());
            }
        }
        Ok(())
    }

    /// A maildir file's bytes and size (only the size when it is over the
    /// limit); None when it vanished and cannot be found again (a mail
    /// client moves a file from new/ to cur/ and renames it when it marks
    /// the mail read).
    fn read_file(
        &self,
        dir: &Path,
        file: &maildir::File,
    ) -> Result<Option<(Vec<u8>, u64)>, ImportError> {
        let read = |p: &Path| -> std::io::Result<(Vec<u8>, u64)> {
            let size = std::fs::metadata(p)?.len();
            if size > self.o.max_message_bytes {
                return Ok((Vec::new(), size));
            }
            let raw = std::fs::read(p)?;
            let size = raw.len() as u64;
            Ok((raw, size))
        };
        let path = file.path(dir);
        let err = |error| ImportError::Io {
            path: path.clone(),
            error,
        };
        match read(&path) {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let again = maildir::list(dir, None)
                    .map_err(err)?
                    .into_iter()
                    .find(|f| f.unique() == file.unique());
                match again {
                    Some(f) => read(&f.path(dir)).map(Some).map_err(err),
                    None => {
                        tracing::warn!(file = %path.display(), "skipped: the file vanished while importing");
                        Ok(None)
                    }
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Process `batch` and record `progress` in its transaction.
    fn commit(
        &mut self,
        store: &mut Store,
        batch: &[Incoming],
        progress: &Progress,
    ) -> Result<(), ImportError> {
        let kind = self.o.kind.name();
        let key = self.key.as_str();
        let then = |db: &crate::store::Db| -> Result<(), StoreError> {
            imports::set_progress(db, key, kind, progress)?;
            Ok(())
        };
        let outcomes = self
            .processor
            .process_batch_then(store, batch, Some(&then))?;
        // The index's merges between batches, not inside one (the batch is
        // committed: a failure here is told and left to the next batch).
        if let Err(e) = store.upkeep(|| !self.stop.load(Ordering::Relaxed)) {
            tracing::warn!(error = %e, "search index merge failed; the next batch tries again");
        }
        self.summary.total_messages = progress.messages;
        let s = &mut self.summary;
        s.read += batch.len() as u64;
        for o in outcomes {
            match o {
                Outcome::Created { .. } => s.created += 1,
                Outcome::FollowUp { .. } => s.follow_up += 1,
                Outcome::Note { .. } => s.notes += 1,
                Outcome::Duplicate { .. } => s.duplicate += 1,
                Outcome::AlreadyHandled => s.already_imported += 1,
                // Stored without a ticket, like ignored mail.
                Outcome::Ignored { .. } | Outcome::Refused { .. } => s.ignored += 1,
                Outcome::Quarantined { .. } | Outcome::RefetchRequested { .. } => {
                    s.quarantined += 1
                }
            }
        }
        Ok(())
    }
}
