//! Processing: one raw message in, its effects out, inside the caller's
//! transaction. This is where parse → classify → thread → authorise →
//! apply → notify meet; the stages themselves live in their modules.
//!
//! A batch commits in one transaction; each message runs in its own
//! savepoint, so a message that fails is rolled back alone and quarantined
//! (raw bytes kept) while the rest of the batch commits. Only trouble from
//! the environment (database busy, disk full) aborts the whole batch, which
//! is then retried later without anything having been acknowledged.
//!
//! Redelivery is harmless: the same IMAP UID, the same bytes, or the same
//! Message-ID from the same sender with the same subject is recorded as a
//! duplicate and makes neither a ticket nor a mail.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

mod notice;
mod quarantine;
mod standing;
mod ticket;

use quarantine::release;
pub use quarantine::RetryError;
use ticket::sync_filesystem;

use crate::config::{Config, Mailbox as MailboxConfig, StrangerFollowUp};
use crate::mail::{self, InboundMail, MailError};
use crate::notify::{self, Templates};
use crate::store::{self, records, safeguards, Db, Store, StoreError};
use crate::threading::{self, Numbering};
use standing::Standing;

/// Where a raw message came from.
#[derive(Debug, Clone)]
pub enum Origin {
    Imap {
        mailbox: String,
        /// `host:port/user/folder`: what the UID is relative to.
        source: String,
        uid_validity: u32,
        uid: u32,
    },
    /// `postdesk ingest`; `mailbox` None = pick by recipient.
    Pipe { mailbox: Option<String> },
    /// `postdesk quarantine retry`; `mailbox` None = pick by recipient
    /// (a piped mail without --mailbox, or a mailbox since renamed).
    Retry {
        quarantine_id: i64,
        mailbox: Option<String>,
    },
}

impl Origin {
    fn source(&self) -> &'static str {
        match self {
            Origin::Imap { .. } => "imap",
            Origin::Pipe { .. } => "pipe",
            Origin::Retry { .. } => "retry",
        }
    }
}

/// One message to process.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub origin: Origin,
    /// Empty when the message was too large to fetch.
    pub raw: Vec<u8>,
    /// Size as reported by the server (or `raw.len()`).
    pub size: u64,
    /// Set when the server would not hand the message over; it is then
    /// quarantined without a copy and left where it is.
    pub fetch_error: Option<String>,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Created {
        ticket: String,
    },
    FollowUp {
        ticket: String,
    },
    Duplicate {
        ticket: Option<String>,
    },
    /// This IMAP UID was handled in an earlier run.
    AlreadyHandled,
    Quarantined {
        id: i64,
        error: String,
        raw_kept: bool,
    },
    Ignored {
        reason: String,
    },
    /// `quarantine retry` of a message kept only in IMAP: the daemon will
    /// fetch it again on its next scan of `mailbox`.
    RefetchRequested {
        id: i64,
        mailbox: String,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Created { ticket } => write!(f, "created ticket {ticket}"),
            Outcome::FollowUp { ticket } => write!(f, "follow-up on ticket {ticket}"),
            Outcome::Duplicate { ticket } => write!(
                f,
                "duplicate of a message already taken in (ticket {})",
                ticket.as_deref().unwrap_or("-")
            ),
            Outcome::AlreadyHandled => write!(f, "already handled"),
            Outcome::Quarantined { id, error, .. } => write!(
                f,
                "quarantined as {id}: {error} (see `postdesk quarantine show {id}`)"
            ),
            Outcome::Ignored { reason } => write!(f, "ignored: {reason}"),
            Outcome::RefetchRequested { id, mailbox } => write!(
                f,
                "entry {id} will be fetched again from mailbox {mailbox} by the running daemon (with the size limit then in force)"
            ),
        }
    }
}

impl Outcome {
    /// May intake move/flag/delete the message now? Everything committed
    /// may be, except a message we could not keep a copy of.
    pub fn may_remove_from_server(&self) -> bool {
        !matches!(
            self,
            Outcome::Quarantined {
                raw_kept: false,
                ..
            }
        )
    }
}

/// Why one message failed (it will be quarantined).
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notify(#[from] notify::NotifyError),
    #[error("attachment could not be saved: {0}")]
    Attachment(std::io::Error),
    #[error("{0}")]
    Other(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Store(StoreError::Sql(e))
    }
}

/// Everything processing needs besides the database.
pub struct Processor {
    config: Arc<Config>,
    templates: Arc<Templates>,
    numbering: Numbering,
    own: HashSet<String>,
    attachments_dir: PathBuf,
    /// Set when the batch in progress wrote attachment files: they are
    /// flushed with one `syncfs` before the batch commits.
    files_written: std::cell::Cell<bool>,
}

impl Processor {
    pub fn new(config: Arc<Config>, templates: Arc<Templates>) -> Processor {
        Processor {
            numbering: Numbering::new(&config.system.ticket_tag, config.system.system_id),
            own: config.own_addresses(),
            attachments_dir: config.storage.data_dir.join("attachments"),
            files_written: std::cell::Cell::new(false),
            config,
            templates,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Use `templates` from the next batch on (a reload: the worker calls
    /// this between batches).
    pub fn set_templates(&mut self, templates: Arc<Templates>) {
        self.templates = templates;
    }

    /// Process a batch in one transaction; outcomes in input order. The
    /// processing attempts in `settle` are forgotten in the same commit
    /// (callers go through [`Processor::process_batch`], in `crash_guard`).
    pub(crate) fn run_batch(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        settle: &[String],
    ) -> Result<Vec<Outcome>, StoreError> {
        // IMMEDIATE: take the write lock up front, so a concurrent writer
        // makes us wait (busy_timeout) instead of failing the upgrade.
        let mut tx = store
            .conn()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for item in batch {
            // Every log line about this message carries its mailbox, UID
            // and (once parsed) Message-ID: journal fields under systemd.
            let _span = tracing::info_span!(
                "message",
                mailbox = %self.mailbox_name(&item.origin),
                uid = match &item.origin {
                    Origin::Imap { uid, .. } => Some(*uid),
                    _ => None,
                },
                message_id = tracing::field::Empty,
            )
            .entered();
            let sp = tx.savepoint()?;
            let result = catch_unwind(AssertUnwindSafe(|| self.process_one(&sp, item)));
            let error = match result {
                Ok(Ok(outcome)) => {
                    if let Origin::Retry { quarantine_id, .. } = &item.origin {
                        release(&sp, *quarantine_id, &outcome)?;
                    }
                    sp.commit()?;
                    outcomes.push(outcome);
                    continue;
                }
                Ok(Err(Failure::Store(e))) if e.is_transient() => return Err(e),
                Ok(Err(e)) => e.to_string(),
                Err(panic) => format!(
                    "internal error while processing (please report): {}",
                    panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".into())
                ),
            };
            drop(sp); // rolls the savepoint back
            outcomes.push(self.quarantine(&tx, item, &error)?);
        }
        if self.files_written.replace(false) {
            sync_filesystem(&self.attachments_dir).map_err(StoreError::Sync)?;
        }
        store::attempts::settle(&tx, settle)?;
        tx.commit()?;
        Ok(outcomes)
    }

    /// The mailbox configuration a message belongs to.
    fn mailbox_for(
        &self,
        origin: &Origin,
        mail: Option<&InboundMail>,
    ) -> Result<&MailboxConfig, Failure> {
        let named = match origin {
            Origin::Imap { mailbox, .. } => Some(mailbox.as_str()),
            Origin::Pipe { mailbox } | Origin::Retry { mailbox, .. } => mailbox.as_deref(),
        };
        if let Some(name) = named {
            return self.config.mailbox(name).ok_or_else(|| {
                Failure::Other(format!(
                    "no [[mailbox]] named {name:?} in {} (was it renamed?)",
                    self.config.source.display()
                ))
            });
        }
        // A piped mail: the support address it was sent to.
        if let Some(m) = mail {
            let candidates = m
                .delivered_to
                .iter()
                .chain(m.to.iter().map(|a| &a.address))
                .chain(m.cc.iter().map(|a| &a.address));
            for c in candidates {
                if let Some(mb) = self.config.mailboxes.iter().find(|mb| &mb.address == c) {
                    return Ok(mb);
                }
            }
        }
        self.config
            .mailboxes
            .first()
            .ok_or_else(|| Failure::Other("no [[mailbox]] is configured".into()))
    }

    fn mailbox_name(&self, origin: &Origin) -> String {
        match origin {
            Origin::Imap { mailbox, .. } => mailbox.clone(),
            Origin::Pipe { mailbox } | Origin::Retry { mailbox, .. } => {
                mailbox.clone().unwrap_or_else(|| "pipe".into())
            }
        }
    }

    fn process_one(&self, db: &Db, item: &Incoming) -> Result<Outcome, Failure> {
        let (imap_source, uid_validity, uid) = match &item.origin {
            Origin::Imap {
                source,
                uid_validity,
                uid,
                ..
            } => {
                if let Some(prior) = records::receipt_for_uid(db, source, *uid_validity, *uid)? {
                    // Handled in an earlier run; only the acknowledgement
                    // is missing. A message we could not keep must stay.
                    if prior.status == "quarantined" && prior.raw_id.is_none() {
                        return Ok(Outcome::Quarantined {
                            id: 0,
                            error: "quarantined earlier without a copy: left in the mailbox".into(),
                            raw_kept: false,
                        });
                    }
                    return Ok(Outcome::AlreadyHandled);
                }
                (Some(source.as_str()), Some(*uid_validity), Some(*uid))
            }
            _ => (None, None, None),
        };
        if let Some(e) = &item.fetch_error {
            return Err(Failure::Other(e.clone()));
        }
        let limit = self.config.system.max_message_bytes;
        if item.raw.is_empty() && item.size > 0
            || item.size > limit
            || item.raw.len() as u64 > limit
        {
            return Err(MailError::TooLarge {
                size: item.size.max(item.raw.len() as u64),
                limit,
            }
            .into());
        }
        let sha = sha256_hex(&item.raw);
        let raw_id = records::store_raw(db, &sha, &item.raw)?;
        let mail = mail::parse(&item.raw, &self.config.system.fqdn)?;
        tracing::Span::current().record("message_id", mail.message_id.as_deref());
        let mailbox = self.mailbox_for(&item.origin, Some(&mail))?;

        let receipt =
            |status: &str, ticket_id: Option<i64>, article_id: Option<i64>, error: Option<&str>| {
                records::insert_receipt(
                    db,
                    &records::NewReceipt {
                        source: item.origin.source(),
                        mailbox: &mailbox.name,
                        imap_source,
                        uid_validity,
                        uid,
                        message_id: mail.message_id.as_deref(),
                        sha256: &sha,
                        raw_id: Some(raw_id),
                        status,
                        ticket_id,
                        article_id,
                        error,
                    },
                )
            };

        // Redelivery: same bytes, or same Message-ID, sender and subject
        // (a copy that reached a second support address).
        let mut duplicate_of = records::receipt_for_content(db, &sha)?
            .and_then(|p| Some((p.ticket_id?, p.article_id?)));
        if duplicate_of.is_none() {
            if let Some(mid) = &mail.message_id {
                if let Some((aid, tid)) = records::same_inbound_article(
                    db,
                    mid,
                    &mail.from.address,
                    &mail.subject,
                    &mail.text,
                )? {
                    duplicate_of = Some((tid, aid));
                }
            }
        }
        if let Some((ticket_id, article_id)) = duplicate_of {
            receipt("duplicate", Some(ticket_id), Some(article_id), None)?;
            let number: Option<String> = db
                .prepare_cached("SELECT number FROM tickets WHERE id = ?1")?
                .query_row([ticket_id], |r| r.get(0))
                .ok();
            tracing::info!(
                ticket = number.as_deref(),
                message_id = mail.message_id.as_deref(),
                "duplicate delivery recorded, nothing sent"
            );
            return Ok(Outcome::Duplicate { ticket: number });
        }

        if mail.our_loop_marker {
            let reason =
                "our own notification came back (X-Postdesk-Loop): not turned into a ticket";
            receipt("ignored", None, None, Some(reason))?;
            tracing::warn!(mailbox = %mailbox.name, message_id = mail.message_id.as_deref(), "{reason}");
            return Ok(Outcome::Ignored {
                reason: reason.into(),
            });
        }

        // Threading: the tagged number first, then the Message-IDs.
        let mut found = None;
        // A number is found only under the check digit its ticket was
        // issued with (the old digit only for tickets issued before Damm).
        for n in self.numbering.numbers_in_subject(&mail.subject) {
            let (current, legacy) = (threading::is_valid(&n), threading::is_legacy_valid(&n));
            if let Some(t) = safeguards::ticket_by_tagged_number(db, &n, current, legacy)? {
                found = Some(t);
                break;
            }
        }
        let referenced = threading::referenced_ids(&mail.in_reply_to, &mail.references);
        if found.is_none() {
            found = records::ticket_by_message_ids(db, &referenced)?;
        }

        // Mail from someone with no right to the ticket it threads to is
        // never recorded on it: by default it opens a ticket of its own,
        // and the agents' alert names the ticket it quoted.
        let mut quoted = None;
        let found = match found {
            Some(ticket) => {
                let standing = self.standing(db, &mail, &ticket, &referenced)?;
                if standing == Standing::Stranger
                    && self.config.system.stranger_follow_up == StrangerFollowUp::NewTicket
                {
                    tracing::warn!(quoted = %ticket.number, from = %mail.from.address,
                        "mail threads to a ticket its sender has no right to: filed as a new ticket");
                    quoted = Some(ticket.number);
                    None
                } else {
                    Some((ticket, standing))
                }
            }
            None => None,
        };

        let outcome = match found {
            Some((ticket, standing)) => {
                let article_id = self.follow_up(db, &mail, &ticket, standing, raw_id, &sha)?;
                receipt("follow_up", Some(ticket.id), Some(article_id), None)?;
                Outcome::FollowUp {
                    ticket: ticket.number,
                }
            }
            None => {
                let (ticket_id, number, article_id) =
                    self.new_ticket(db, &mail, mailbox, raw_id, &sha, quoted.as_deref())?;
                receipt("created", Some(ticket_id), Some(article_id), None)?;
                Outcome::Created { ticket: number }
            }
        };
        for w in &mail.warnings {
            tracing::warn!(mailbox = %mailbox.name, message_id = mail.message_id.as_deref(), "{w}");
        }
        Ok(outcome)
    }
}

/// More attachments than this in one mail is abuse, not correspondence:
/// the mail is quarantined (each attachment costs a synced file write).
pub const MAX_ATTACHMENTS: usize = 500;

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Open the store for processing (full durability) and sync queues.
pub fn open_store(config: &Config) -> Result<Store, StoreError> {
    let mut s = Store::open(&config.storage.database, store::Durability::Full)?;
    s.sync_queues(&config.queues)?;
    Ok(s)
}
