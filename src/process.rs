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
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

mod standing;

use crate::config::{Config, Mailbox as MailboxConfig, StrangerFollowUp};
use crate::mail::{self, InboundMail, MailError};
use crate::notify::{self, Kind, Templates};
use crate::store::{self, outbox, records, safeguards, Db, Store, StoreError};
use crate::threading::{self, Numbering};
use crate::tickets::{State, DEFAULT_PRIORITY};
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

    fn insert_inbound(
        &self,
        db: &Db,
        ticket_id: i64,
        mail: &InboundMail,
        raw_id: i64,
        trusted: bool,
        kind: &str,
    ) -> Result<i64, Failure> {
        if mail.attachments.len() > MAX_ATTACHMENTS {
            return Err(Failure::Other(format!(
                "{} attachments: more than the {MAX_ATTACHMENTS} postdesk accepts in one mail",
                mail.attachments.len()
            )));
        }
        let join = |v: &[mail::Mailbox]| {
            v.iter()
                .map(|a| a.address.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let article_id = records::insert_article(
            db,
            &records::NewArticle {
                ticket_id,
                trusted,
                direction: "in",
                kind,
                from_address: &mail.from.address,
                from_name: mail.from.name.as_deref(),
                to: &join(&mail.to),
                cc: &join(&mail.cc),
                subject: &mail.subject,
                text: &mail.text,
                html: mail.html.as_deref(),
                message_id: mail.message_id.as_deref(),
                in_reply_to: mail.in_reply_to.first().map(String::as_str),
                automatic: mail.automatic.as_ref().map(|a| a.0.as_str()),
                raw_id: Some(raw_id),
            },
        )?;
        for a in &mail.attachments {
            let (sha, rel) = self.save_attachment(&a.content)?;
            records::insert_attachment(
                db,
                article_id,
                &a.filename,
                &a.content_type,
                a.content.len(),
                &sha,
                &rel,
            )?;
        }
        Ok(article_id)
    }

    /// Content-addressed: `attachments/ab/abcdef…`. The name on disk is a
    /// hash, never the sender's file name, so no name can escape the folder;
    /// the sanitised name is kept in the database. Files are flushed (one
    /// `syncfs` per batch) before the transaction that refers to them
    /// commits; the raw message in the database holds the bytes as well.
    fn save_attachment(&self, content: &[u8]) -> Result<(String, String), Failure> {
        let sha = sha256_hex(content);
        let rel = format!("attachments/{}/{}", &sha[..2], sha);
        let dir = self.attachments_dir.join(&sha[..2]);
        let path = dir.join(&sha);
        if !path.exists() {
            write_file(&dir, &path, content).map_err(Failure::Attachment)?;
            self.files_written.set(true);
        }
        Ok((sha, rel))
    }

    fn language_for(&self, mail: &InboundMail, mailbox: &MailboxConfig) -> String {
        mail.language
            .as_deref()
            .filter(|l| self.templates.has_language(l))
            .or(mailbox.language.as_deref())
            .unwrap_or(&self.config.system.default_language)
            .to_string()
    }

    fn new_ticket(
        &self,
        db: &Db,
        mail: &InboundMail,
        mailbox: &MailboxConfig,
        raw_id: i64,
        sha: &str,
        quoted: Option<&str>,
    ) -> Result<(i64, String, i64), Failure> {
        let number = self.next_number(db)?;
        let mut subject = self.numbering.clean_subject(&mail.subject);
        if subject.is_empty() {
            subject = "(no subject)".into();
        }
        let language = self.language_for(mail, mailbox);
        let ticket_id = records::insert_ticket(
            db,
            &records::NewTicket {
                number: &number,
                subject: &subject,
                state: State::Posted.as_str(),
                priority: DEFAULT_PRIORITY,
                queue: &mailbox.queue,
                customer_address: &mail.from.address,
                customer_name: mail.from.name.as_deref(),
                support_address: &mailbox.address,
                language: &language,
            },
        )?;
        let from_own = self.own.contains(&mail.from.address);
        // Our own addresses are never participants (From proves nothing).
        if !from_own {
            records::add_participant(
                db,
                ticket_id,
                &mail.from.address,
                mail.from.name.as_deref(),
                "requester",
            )?;
        }
        self.add_cc_participants(db, ticket_id, mail)?;
        let article_id = self.insert_inbound(db, ticket_id, mail, raw_id, !from_own, "customer")?;
        if from_own {
            safeguards::mark_unverified(db, article_id, standing::FROM_OWN)?;
        }
        if let Some(q) = quoted {
            let note = format!(
                "quoted ticket {q}, to which the sender has no right: filed as this new ticket"
            );
            safeguards::add_note(db, article_id, &note)?;
        }
        let ticket = records::ticket_by_number(db, &number)?
            .ok_or_else(|| Failure::Other("ticket vanished inside its own transaction".into()))?;
        tracing::info!(ticket = %number, from = %mail.from.address, queue = %mailbox.queue, "new ticket");

        let ctx = self.context(&ticket, mail, mailbox, None, quoted);
        // Auto-reply, unless the mail is machine-made, from one of our own
        // addresses, or the sender already had too many this hour.
        let skip = if let Some(a) = &mail.automatic {
            Some(format!("automatic mail ({})", a.0))
        } else if from_own {
            Some("sender is one of our own addresses".into())
        } else if self.over_auto_reply_limit(db, &mail.from.address)? {
            Some(format!(
                "more than {} auto-replies to this address in the last hour",
                self.config.system.auto_reply_limit_per_hour
            ))
        } else {
            None
        };
        match skip {
            Some(why) => tracing::info!(ticket = %number, "no auto-reply: {why}"),
            None => {
                let sent = self.send(
                    db,
                    Kind::AutoReply,
                    &ticket,
                    mailbox,
                    mail,
                    &ctx,
                    std::slice::from_ref(&mail.from.address),
                    sha,
                );
                match sent {
                    // The sender's address is one lettre cannot write into
                    // a mail: the ticket stands, without an auto-reply.
                    Err(Failure::Notify(notify::NotifyError::Address(e))) => {
                        tracing::warn!(ticket = %number, "no auto-reply: {e}")
                    }
                    other => other?,
                }
            }
        }
        if let Some(agents) = self.agents_for(&ticket.queue, true) {
            self.alert(
                db,
                Kind::AgentNewTicket,
                &ticket,
                mailbox,
                mail,
                &ctx,
                agents,
                article_id,
                sha,
            )?;
        }
        Ok((ticket_id, number, article_id))
    }

    fn follow_up(
        &self,
        db: &Db,
        mail: &InboundMail,
        ticket: &records::TicketRef,
        standing: Standing,
        raw_id: i64,
        sha: &str,
    ) -> Result<i64, Failure> {
        // Knowing a ticket number is not access to the ticket, and a From:
        // header proves nothing (see `standing`). Only a mail answering
        // the ticket's own mail adds people (the sender, the Cc's) as
        // participants; a customer's reply may move the state; the agents'
        // side, our own addresses and strangers (with `stranger_follow_up =
        // "record"`) are recorded unverified and change nothing.
        let state: State = ticket.state.parse().map_err(Failure::Other)?;
        let new_state = if standing.is_customer_reply() && mail.automatic.is_none() {
            state.after_customer_reply()
        } else {
            state
        };
        records::touch_ticket(db, ticket.id, new_state.as_str())?;
        let kind = if standing == Standing::AgentsSide {
            "agents_side"
        } else {
            "customer"
        };
        // Its own Message-ID is trusted only if the mail itself was.
        let answers = standing == Standing::Answers;
        let article_id = self.insert_inbound(db, ticket.id, mail, raw_id, answers, kind)?;
        if let Some(why) = standing.unverified() {
            safeguards::mark_unverified(db, article_id, why)?;
            tracing::warn!(ticket = %ticket.number, from = %mail.from.address,
                "follow-up recorded as unverified: {why}");
        }
        if answers && mail.automatic.is_none() {
            records::add_participant(
                db,
                ticket.id,
                &mail.from.address,
                mail.from.name.as_deref(),
                "cc",
            )?;
            self.add_cc_participants(db, ticket.id, mail)?;
        }
        tracing::info!(ticket = %ticket.number, from = %mail.from.address, ?standing, "follow-up");

        let mailbox = self
            .config
            .mailboxes
            .iter()
            .find(|m| m.address == ticket.support_address)
            .or_else(|| self.config.mailboxes.first())
            .ok_or_else(|| Failure::Other("no [[mailbox]] is configured".into()))?;
        let mut t = ticket.clone();
        t.state = new_state.as_str().to_string();
        if mail.automatic.is_none() {
            if let Some(agents) = self.agents_for(&ticket.queue, false) {
                let ctx = self.context(&t, mail, mailbox, Some(standing), None);
                self.alert(
                    db,
                    Kind::AgentFollowUp,
                    &t,
                    mailbox,
                    mail,
                    &ctx,
                    agents,
                    article_id,
                    sha,
                )?;
            }
        }
        Ok(article_id)
    }

    /// A fresh ticket number: today's date, our system id, the keyed
    /// permutation of today's counter, Damm's check digit. A number of the
    /// old scheme can share the format, so a taken one is skipped.
    fn next_number(&self, db: &Db) -> Result<String, Failure> {
        let day = chrono::Utc::now().format("%Y%m%d").to_string();
        let key = safeguards::ticket_number_key(db)?;
        loop {
            let counter = records::next_ticket_counter(db, &day)?;
            let number = self
                .numbering
                .number(&day, threading::serial(key.as_bytes(), &day, counter));
            if !safeguards::number_taken(db, &number)? {
                return Ok(number);
            }
        }
    }

    fn add_cc_participants(
        &self,
        db: &Db,
        ticket_id: i64,
        mail: &InboundMail,
    ) -> Result<(), Failure> {
        for a in &mail.cc {
            if !self.own.contains(&a.address) {
                records::add_participant(db, ticket_id, &a.address, a.name.as_deref(), "cc")?;
            }
        }
        Ok(())
    }

    /// The agents' address to alert, if the queue wants this alert. Mail
    /// from the agents' address itself is alerted too (with a warning):
    /// From proves nothing, and the alert caps stop any loop.
    fn agents_for(&self, queue: &str, new: bool) -> Option<String> {
        let q = self.config.queue(queue)?;
        let wanted = if new {
            q.notify_agents_on_new
        } else {
            q.notify_agents_on_follow_up
        };
        q.agents_address.clone().filter(|_| wanted)
    }

    fn over_auto_reply_limit(&self, db: &Db, address: &str) -> Result<bool, Failure> {
        let since = (chrono::Utc::now() - chrono::Duration::hours(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let n = records::auto_replies_since(db, address, &since)?;
        Ok(n >= self.config.system.auto_reply_limit_per_hour)
    }

    /// What the templates see. Display names and subjects from the mail
    /// are clipped here ([`notify::clip`]), the one place they enter
    /// outgoing mail.
    fn context(
        &self,
        ticket: &records::TicketRef,
        mail: &InboundMail,
        mailbox: &MailboxConfig,
        standing: Option<Standing>,
        quoted: Option<&str>,
    ) -> notify::Context {
        let from_own = self.own.contains(&mail.from.address);
        let from_name = notify::clip(mail.from.name.as_deref().unwrap_or_default());
        notify::Context {
            ticket: notify::TicketCtx {
                number: ticket.number.clone(),
                tag: self.numbering.subject_tag(&ticket.number),
                subject: notify::clip(&ticket.subject),
                state: ticket.state.clone(),
                queue: ticket.queue.clone(),
                customer: ticket.customer_address.clone(),
                customer_name: if ticket.customer_address == mail.from.address {
                    from_name.clone()
                } else {
                    String::new()
                },
            },
            article: notify::ArticleCtx {
                from: mail.from.address.clone(),
                from_name,
                subject: notify::clip(&mail.subject),
                text: truncate(&mail.text, 20_000),
                attachments: mail
                    .attachments
                    .iter()
                    .map(|a| notify::clip(&a.filename))
                    .collect(),
                unverified_sender: from_own || standing.is_some_and(|s| s.unverified().is_some()),
                from_our_address: from_own,
                agents_side: standing == Some(Standing::AgentsSide),
                quoted_ticket: quoted.unwrap_or_default().to_string(),
            },
            support_address: mailbox.address.clone(),
            support_name: mailbox
                .display_name
                .clone()
                .unwrap_or_else(|| mailbox.address.clone()),
        }
    }

    /// Render, record as an outbound article, and queue in the outbox, all
    /// in the caller's transaction.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        db: &Db,
        kind: Kind,
        ticket: &records::TicketRef,
        mailbox: &MailboxConfig,
        mail: &InboundMail,
        ctx: &notify::Context,
        to: &[String],
        sha: &str,
    ) -> Result<(), Failure> {
        // Deterministic per (inbound message, kind): unique, and the same
        // on a re-run of a rolled-back attempt.
        let message_id = format!(
            "{}.{}.{}@{}",
            ticket.number,
            kind.name(),
            &sha256_hex(format!("{sha}/{}", kind.name()).as_bytes())[..16],
            self.config.system.fqdn
        );
        // A template problem never costs the customer their ticket: the
        // shipped template stands in, and if even that fails the mail
        // waits in the outbox as failed, with its error.
        let text = match notify::render_with_fallback(
            &self.templates,
            notify::shipped(),
            kind,
            &ticket.language,
            ctx,
        ) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(ticket = %ticket.number, kind = kind.name(),
                    "notification not sent: {e}");
                outbox::record_unrendered(
                    db,
                    ticket.id,
                    kind.name(),
                    to,
                    &message_id,
                    &e.to_string(),
                )?;
                return Ok(());
            }
        };
        if let Some(why) = &text.fell_back {
            tracing::warn!(ticket = %ticket.number, kind = kind.name(),
                "template failed, the shipped one was used instead (fix the template, then reload): {why}");
        }
        let (mut subject, body) = (text.subject, text.body);
        let tag = self.numbering.subject_tag(&ticket.number);
        if !subject.contains(&tag) {
            subject = format!("{tag} {subject}");
        }
        // The tail of the customer's References (bounded) plus their mail.
        let skip = mail
            .references
            .len()
            .saturating_sub(threading::MAX_REFERENCES);
        let mut references: Vec<String> = mail
            .references
            .iter()
            .skip(skip)
            .map(|r| threading::normalize_message_id(r))
            .filter(|r| !r.is_empty())
            .collect();
        if let Some(mid) = &mail.message_id {
            references.push(mid.clone());
        }
        let env = notify::Envelope {
            from_address: &mailbox.address,
            from_name: mailbox.display_name.as_deref(),
            to,
            envelope_from: None,
            message_id: &message_id,
            in_reply_to: mail.message_id.as_deref(),
            references: &references,
            auto_submitted: Some(match kind {
                Kind::AutoReply => "auto-replied",
                _ => "auto-generated",
            }),
            ticket_number: &ticket.number,
            fqdn: &self.config.system.fqdn,
        };
        let rendered = notify::build(&env, &subject, &body)?;
        let article_id = records::insert_article(
            db,
            &records::NewArticle {
                ticket_id: ticket.id,
                trusted: true,
                direction: "out",
                kind: kind.name(),
                from_address: &mailbox.address,
                from_name: mailbox.display_name.as_deref(),
                to: &to.join(","),
                cc: "",
                subject: &rendered.subject,
                text: &rendered.body,
                html: None,
                message_id: Some(&message_id),
                in_reply_to: mail.message_id.as_deref(),
                automatic: None,
                raw_id: None,
            },
        )?;
        outbox::enqueue(
            db,
            &outbox::NewOutgoing {
                ticket_id: ticket.id,
                article_id: Some(article_id),
                kind: kind.name(),
                envelope_from: &rendered.envelope_from,
                recipients: &rendered.recipients,
                message_id: &message_id,
                raw: &rendered.raw,
            },
        )?;
        Ok(())
    }

    /// Record a message that could not be processed.
    pub(crate) fn quarantine(
        &self,
        db: &Db,
        item: &Incoming,
        error: &str,
    ) -> Result<Outcome, StoreError> {
        let mailbox = self.mailbox_name(&item.origin);
        if let Origin::Retry { quarantine_id, .. } = &item.origin {
            records::quarantine_retried(db, *quarantine_id, None, Some(error))?;
            tracing::warn!(quarantine = quarantine_id, "retry failed again: {error}");
            return Ok(Outcome::Quarantined {
                id: *quarantine_id,
                error: error.to_string(),
                raw_kept: !item.raw.is_empty(),
            });
        }
        let (imap_source, uid_validity, uid) = match &item.origin {
            Origin::Imap {
                source,
                uid_validity,
                uid,
                ..
            } => (Some(source.as_str()), Some(*uid_validity), Some(*uid)),
            _ => (None, None, None),
        };
        let raw_kept = !item.raw.is_empty();
        let sha = sha256_hex(&item.raw);
        let raw_id = if raw_kept {
            Some(records::store_raw(db, &sha, &item.raw)?)
        } else {
            None
        };
        // Best effort: whatever headers can be read, for the operator.
        let head = &item.raw[..item.raw.len().min(64 * 1024)];
        let parsed = catch_unwind(|| mail_parser::MessageParser::default().parse_headers(head))
            .ok()
            .flatten();
        let from = parsed
            .as_ref()
            .and_then(|m| m.from())
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(mail::sanitize_line);
        let subject = parsed
            .as_ref()
            .and_then(|m| m.subject())
            .map(mail::sanitize_line);
        let message_id = parsed
            .as_ref()
            .and_then(|m| m.message_id())
            .map(threading::normalize_message_id);
        let receipt_id = records::insert_receipt(
            db,
            &records::NewReceipt {
                source: item.origin.source(),
                mailbox: &mailbox,
                imap_source,
                uid_validity,
                uid,
                message_id: message_id.as_deref(),
                sha256: &sha,
                raw_id,
                status: "quarantined",
                ticket_id: None,
                article_id: None,
                error: Some(error),
            },
        )?;
        let id = records::insert_quarantine(
            db,
            &records::NewQuarantine {
                receipt_id,
                mailbox: &mailbox,
                uid_validity,
                uid,
                raw_id,
                size: item.size.max(item.raw.len() as u64),
                message_id: message_id.as_deref(),
                from_address: from.as_deref(),
                subject: subject.as_deref(),
                error,
            },
        )?;
        tracing::warn!(%mailbox, uid, message_id = message_id.as_deref(), quarantine = id, "message quarantined: {error}");
        Ok(Outcome::Quarantined {
            id,
            error: error.to_string(),
            raw_kept,
        })
    }

    /// Process a quarantined message again (`postdesk quarantine retry`).
    pub fn retry(&self, store: &mut Store, id: i64) -> Result<Outcome, RetryError> {
        let entry = records::quarantine_entry(store.conn(), id)?.ok_or(RetryError::NotFound(id))?;
        if entry.status != "held" {
            return Err(RetryError::NotHeld(id, entry.status));
        }
        let Some(raw_id) = entry.raw_id else {
            // Too large to fetch before: the daemon fetches it again from
            // its mailbox (with the limit in force then).
            if !records::request_refetch(store.conn(), id)? {
                return Err(RetryError::NoRaw(id));
            }
            return Ok(Outcome::RefetchRequested {
                id,
                mailbox: entry.mailbox,
            });
        };
        let raw = records::raw_message(store.conn(), raw_id)?.ok_or(RetryError::NoRaw(id))?;
        let item = Incoming {
            size: raw.len() as u64,
            fetch_error: None,
            raw,
            origin: Origin::Retry {
                quarantine_id: id,
                mailbox: self.config.mailbox(&entry.mailbox).map(|m| m.name.clone()),
            },
        };
        self.process_batch(store, std::slice::from_ref(&item))?
            .pop()
            .ok_or_else(|| RetryError::Store(StoreError::Sql(rusqlite::Error::QueryReturnedNoRows)))
    }
}

/// A retried message went through: the quarantine entry is released and
/// points at its ticket.
fn release(db: &Db, quarantine_id: i64, outcome: &Outcome) -> Result<(), StoreError> {
    let ticket = match outcome {
        Outcome::Created { ticket } | Outcome::FollowUp { ticket } => Some(ticket.as_str()),
        Outcome::Duplicate { ticket } => ticket.as_deref(),
        _ => None,
    };
    let ticket_id = match ticket {
        Some(n) => records::ticket_by_number(db, n)?.map(|t| t.id),
        None => None,
    };
    records::quarantine_retried(db, quarantine_id, ticket_id, None)
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no quarantine entry {0} (see `postdesk quarantine list --all`)")]
    NotFound(i64),
    #[error("quarantine entry {0} is {1}, not held: nothing to retry")]
    NotHeld(i64, String),
    #[error("quarantine entry {0} has no stored copy and no IMAP location to fetch it from again")]
    NoRaw(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// More attachments than this in one mail is abuse, not correspondence:
/// the mail is quarantined (each attachment costs a synced file write).
pub const MAX_ATTACHMENTS: usize = 500;

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n[… truncated]", &s[..cut])
}

/// Write via a temporary file and rename (never a half-written file under
/// the final name). Durability comes from [`sync_filesystem`].
fn write_file(dir: &Path, path: &Path, content: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::File::create(&tmp)?.write_all(content)?;
    std::fs::rename(&tmp, path)
}

/// Flush everything written to the file system holding `dir` (files and
/// renames): one call per batch instead of an fsync per file and folder.
fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(dir)?;
    // SAFETY: `f` is an open file descriptor for the whole call; syncfs
    // only reads it.
    if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Open the store for processing (full durability) and sync queues.
pub fn open_store(config: &Config) -> Result<Store, StoreError> {
    let mut s = Store::open(&config.storage.database, store::Durability::Full)?;
    s.sync_queues(&config.queues)?;
    Ok(s)
}
