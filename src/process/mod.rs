//! Processing: one raw message in, its effects out, inside the caller's
//! transaction, in four stages, a module each: `parse` (pure: bytes →
//! mail and its classification), [`facts`] (reads only: what the store
//! knows about it), [`decide`] (pure: facts → [`plan::Plan`], where rules
//! act) and `apply` (the only stage that writes). `postdesk explain`
//! ([`explain`]) runs all but the last.
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

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub mod agent;
mod apply;
pub mod commands;
pub mod decide;
pub mod explain;
pub mod facts;
pub mod forward;
mod import;
mod incoming;
mod language;
pub mod lifecycle;
mod machine_facts;
pub mod machines;
mod notices;
pub mod operator;
mod parse;
mod parse_ahead;
pub mod permit;
pub mod plan;
mod quarantine;
mod refuse;
pub mod relations;
mod release;
mod route;
mod rules_bridge;
pub mod scheduled;
pub mod services;
pub mod standing;

use apply::sync_filesystem;
pub use incoming::{Incoming, Origin};
use quarantine::release;
pub use quarantine::RetryError;
pub use release::{Release, ReleaseError, Target as ReleaseTarget};

use crate::config::Config;
use crate::mail::MailError;
use crate::notify::{self, Templates};
use crate::store::{self, Db, Store, StoreError};
use crate::threading::Numbering;

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
    /// Machines' mail kept as an internal note on a ticket (a bounce, an
    /// auto-reply, a read receipt): nothing changed.
    Note {
        ticket: String,
    },
    Duplicate {
        ticket: Option<String>,
    },
    /// This IMAP UID was handled in an earlier run (for an import: these
    /// exact bytes were taken in before); nothing is recorded again.
    AlreadyHandled,
    Quarantined {
        id: i64,
        error: String,
        raw_kept: bool,
    },
    Ignored {
        reason: String,
    },
    /// Turned away by the queue's policy (issue 8): stored, no ticket; the
    /// sender got the refusal unless `reason` says why not.
    Refused {
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
            Outcome::Note { ticket } => write!(f, "internal note on ticket {ticket}"),
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
            Outcome::Refused { reason } => write!(f, "refused: {reason}"),
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
    own: crate::config::OwnAddresses,
    attachments_dir: PathBuf,
    /// What rule actions come from: the rules folder's `RuleSet` once the
    /// caller sets it (daemon, `ingest`, `explain`), else none.
    rules: Arc<dyn plan::Rules + Send + Sync>,
    /// Set when the batch in progress wrote attachment files: they are
    /// flushed with one `syncfs` before the batch commits.
    files_written: std::cell::Cell<bool>,
    /// Agent authenticity: trusted authserv-ids and support addresses.
    auth: crate::auth::Checker,
    /// `storage.data_dir/reply-token.key`, read (or made, to mint a
    /// token) once and kept.
    reply_key_path: PathBuf,
    reply_key: std::cell::OnceCell<crate::auth::ReplyKey>,
    /// The parser threads (see `parse_ahead`), started with the first
    /// batch; none on one core.
    parsers: std::cell::OnceCell<Option<parse_ahead::Pool>>,
    /// During a batch with parser threads: the outbox rows and outbound
    /// articles written without their mail, which the parser threads are
    /// making (`apply/deferred.rs`). None: notifications are made as they
    /// are sent.
    deferred: std::cell::RefCell<Option<apply::Making>>,
}

impl Processor {
    pub fn new(config: Arc<Config>, templates: Arc<Templates>) -> Processor {
        Processor {
            numbering: Numbering::new(&config.system.ticket_tag, config.system.system_id),
            own: config.own_addresses(),
            attachments_dir: config.storage.data_dir.join("attachments"),
            files_written: std::cell::Cell::new(false),
            rules: Arc::new(plan::NoRules),
            auth: crate::auth::Checker {
                trusted: config.auth.authserv_id.clone(),
                support: config.mailboxes.iter().map(|m| m.address.clone()).collect(),
            },
            reply_key_path: crate::auth::key::path(&config.storage.data_dir),
            reply_key: std::cell::OnceCell::new(),
            parsers: std::cell::OnceCell::new(),
            deferred: std::cell::RefCell::new(None),
            config,
            templates,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Take rule actions from `rules` from the next message on.
    pub fn set_rules(&mut self, rules: Arc<dyn plan::Rules + Send + Sync>) {
        self.rules = rules;
    }

    /// What the decide stage needs besides facts and mail.
    fn settings(&self) -> decide::Settings<'_> {
        decide::Settings {
            config: &self.config,
            own: &self.own,
            numbering: &self.numbering,
            rules: &*self.rules,
        }
    }

    /// What the facts stage needs besides the store and the mail.
    fn lookup<'a>(
        &'a self,
        has_language: &'a dyn Fn(&str) -> bool,
        except_article: Option<i64>,
    ) -> facts::Lookup<'a> {
        facts::Lookup {
            numbering: &self.numbering,
            own: &self.own,
            has_language,
            detected_language: None,
            except_article,
            auth: &self.auth,
            reply_key: self.reply_key_state(),
            loop_caps: &self.config.system.loop_caps,
        }
    }

    /// The reply-token key for checking a token: read, never made (a
    /// missing key means no token was ever issued).
    fn reply_key_state(&self) -> crate::auth::KeyState<'_> {
        use crate::auth::{key, KeyState};
        if let Some(k) = self.reply_key.get() {
            return KeyState::Ready(k);
        }
        match key::load(&self.reply_key_path) {
            Ok(Some(k)) => KeyState::Ready(self.reply_key.get_or_init(|| k)),
            Ok(None) => KeyState::Missing,
            Err(e) => KeyState::Broken(e.to_string()),
        }
    }

    /// The reply-token key for minting a token, made on first use.
    fn reply_key_for_minting(&self) -> Result<&crate::auth::ReplyKey, crate::auth::key::KeyError> {
        if let Some(k) = self.reply_key.get() {
            return Ok(k);
        }
        let k = crate::auth::key::load_or_create(&self.reply_key_path)?;
        Ok(self.reply_key.get_or_init(|| k))
    }

    /// Use `templates` from the next batch on (a reload: the worker calls
    /// this between batches).
    pub fn set_templates(&mut self, templates: Arc<Templates>) {
        self.templates = templates;
    }

    /// Process a batch in one transaction; outcomes in input order. The
    /// processing attempts in `settle` are forgotten in the same commit
    /// (callers go through [`Processor::process_batch`], in `crash_guard`).
    /// `then` writes in the same transaction, after the messages (an
    /// import's progress).
    pub(crate) fn run_batch(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        settle: &[String],
        then: Option<&Then<'_>>,
    ) -> Result<Vec<Done>, StoreError> {
        // IMMEDIATE: take the write lock up front, so a concurrent writer
        // makes us wait (busy_timeout) instead of failing the upgrade.
        let mut tx = store
            .conn()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Parse ahead on other threads (see `parse_ahead`): every message
        // except those handled before, which must not be parsed again.
        let wanted: Vec<bool> = batch
            .iter()
            .map(|item| Ok(self.seen_before(&tx, item)?.is_none()))
            .collect::<Result<_, StoreError>>()?;
        let pool = self
            .parsers
            .get_or_init(|| parse_ahead::Pool::start(&self.config));
        let mut parses = pool.as_ref().map(|p| p.batch(batch, &wanted));
        // The batch's mail is indexed for search in one go before the
        // commit (see migration 21).
        store::search::defer_indexing(&tx)?;
        // The parser threads make this batch's notifications too (render,
        // build, sign: see `apply/deferred.rs`); the store thread writes
        // them between messages and before the commit. Set only while the
        // batch's messages run, so nothing after the batch defers what no
        // batch would write.
        *self.deferred.borrow_mut() = pool.is_some().then(apply::Making::default);
        let outcomes = self.run_messages(&mut tx, batch, &wanted, pool.as_ref(), &mut parses);
        drop(parses);
        let making = self.deferred.borrow_mut().take();
        let outcomes = outcomes?;
        store::search::index_deferred(&tx)?;
        if let (Some(pool), Some(making)) = (pool, making) {
            apply::write_made(&tx, pool, making)?;
        }
        if self.files_written.replace(false) {
            sync_filesystem(&self.attachments_dir).map_err(StoreError::Sync)?;
        }
        store::attempts::settle(&tx, settle)?;
        if let Some(then) = then {
            then(&tx)?;
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// The messages of the batch, in order; between two, the mail the
    /// parser threads have made so far is written (`apply/deferred.rs`).
    fn run_messages(
        &self,
        tx: &mut rusqlite::Transaction<'_>,
        batch: &[Incoming],
        wanted: &[bool],
        pool: Option<&parse_ahead::Pool>,
        parses: &mut Option<parse_ahead::Parses<'_>>,
    ) -> Result<Vec<Done>, StoreError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for (index, item) in batch.iter().enumerate() {
            let parsed = match parses {
                Some(p) if wanted[index] => p.take(index),
                _ => None,
            };
            outcomes.push(self.run_one(tx, item, parsed)?);
            if let (Some(pool), Some(making)) = (pool, self.deferred.borrow_mut().as_mut()) {
                apply::write_ready(tx, pool, making)?;
            }
        }
        Ok(outcomes)
    }

    /// One message of the batch in its own savepoint: its outcome and
    /// class, or the batch's end (trouble from the environment).
    fn run_one(
        &self,
        tx: &mut rusqlite::Transaction<'_>,
        item: &Incoming,
        parsed: Option<parse_ahead::Ahead>,
    ) -> Result<Done, StoreError> {
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
        let mut class = UNKNOWN_CLASS;
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.process_one(&sp, item, parsed, &mut class)
        }));
        let error = match result {
            Ok(Ok(outcome)) => {
                if let Origin::Retry { quarantine_id, .. } = &item.origin {
                    release(&sp, *quarantine_id, &outcome)?;
                }
                sp.commit()?;
                self.message_done(true);
                return Ok(Done { outcome, class });
            }
            Ok(Err(Failure::Store(e))) if e.is_transient() => return Err(e),
            Ok(Err(e)) => e.to_string(),
            Err(panic) => panic_error(&*panic),
        };
        drop(sp); // rolls the savepoint back
        self.message_done(false);
        Ok(Done::unclassed(self.quarantine(tx, item, &error)?))
    }

    /// The message run is done: the notifications whose making it
    /// deferred are `kept` with it, or rolled back.
    fn message_done(&self, kept: bool) {
        if let Some(making) = self.deferred.borrow_mut().as_mut() {
            making.message_done(kept);
        }
    }

    fn mailbox_name(&self, origin: &Origin) -> String {
        match origin {
            Origin::Imap { mailbox, .. } => mailbox.clone(),
            Origin::Pipe { mailbox } | Origin::Retry { mailbox, .. } => {
                mailbox.clone().unwrap_or_else(|| "pipe".into())
            }
            Origin::Import { mailbox, .. } => mailbox.clone().unwrap_or_else(|| "import".into()),
        }
    }

    /// The outcome of a message handled in an earlier run (IMAP: its UID
    /// has a receipt; import: its bytes were taken in), decided without
    /// parsing it: it may be exactly the mail a parser must not see twice.
    fn seen_before(&self, db: &Db, item: &Incoming) -> Result<Option<Outcome>, StoreError> {
        if let Origin::Imap {
            source,
            uid_validity,
            uid,
            ..
        } = &item.origin
        {
            if let Some(prior) =
                store::redelivery::receipt_for_uid(db, source, *uid_validity, *uid)?
            {
                // Handled in an earlier run; only the acknowledgement
                // is missing. A message we could not keep must stay.
                if prior.status == "quarantined" && prior.raw_id.is_none() {
                    return Ok(Some(Outcome::Quarantined {
                        id: 0,
                        error: "quarantined earlier without a copy: left in the mailbox".into(),
                        raw_kept: false,
                    }));
                }
                return Ok(Some(Outcome::AlreadyHandled));
            }
        }
        if let Origin::Import { .. } = &item.origin {
            if store::imports::bytes_seen(db, &sha256_hex(&item.raw))? {
                return Ok(Some(Outcome::AlreadyHandled));
            }
        }
        Ok(None)
    }

    /// `parsed`: the parse stage's result when it ran ahead; `None` when
    /// it did not (no parser thread), and the message is parsed here.
    fn process_one(
        &self,
        db: &Db,
        item: &Incoming,
        parsed: Option<parse_ahead::Ahead>,
        class: &mut &'static str,
    ) -> Result<Outcome, Failure> {
        if let Some(outcome) = self.seen_before(db, item)? {
            return Ok(outcome);
        }
        let parsed = match parsed {
            Some(ahead) => ahead?,
            None => parse::parse(item, &self.config)?,
        };
        *class = parsed.mail.class.class.as_str();
        tracing::Span::current().record("message_id", parsed.mail.message_id.as_deref());
        let has_language = |l: &str| self.templates.has_language(l);
        let lookup = facts::Lookup {
            detected_language: Some(parsed.language),
            ..self.lookup(&has_language, None)
        };
        let facts = facts::gather(db, &parsed.mail, &parsed.sha, &lookup)?;
        for w in facts.authenticity.warnings() {
            tracing::warn!(from = %parsed.mail.from.address, "{w}");
        }
        let mut plan = decide::decide(
            &facts,
            &parsed.mail,
            item.origin.received_by(),
            &self.settings(),
        );
        if let Origin::Import { notify: false, .. } = &item.origin {
            import::hold_back_notifications(&mut plan);
        }
        self.apply(db, item, &parsed, &plan)
    }
}

/// The class label of a message that was not parsed (quarantined, seen
/// before): see [`Done::class`].
pub const UNKNOWN_CLASS: &str = "unknown";

/// A message's outcome and what the parse stage classified it as, for the
/// metrics: carried from the parse, so nothing is parsed twice.
#[derive(Debug, Clone)]
pub struct Done {
    pub outcome: Outcome,
    /// `crate::mail::Class::as_str` of the parsed mail, or
    /// [`UNKNOWN_CLASS`] when it was not parsed (or failed after parsing:
    /// its effects were rolled back).
    pub class: &'static str,
}

impl Done {
    fn unclassed(outcome: Outcome) -> Done {
        Done {
            outcome,
            class: UNKNOWN_CLASS,
        }
    }
}

/// The error a message is quarantined with when processing it panicked.
fn panic_error(panic: &(dyn std::any::Any + Send)) -> String {
    format!(
        "internal error while processing (please report): {}",
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into())
    )
}

/// Writes a caller adds to a batch's transaction, after its messages.
pub type Then<'a> = dyn Fn(&Db) -> Result<(), StoreError> + 'a;

/// More attachments than this in one mail is abuse, not correspondence:
/// the mail is quarantined (each attachment costs a synced file write).
pub const MAX_ATTACHMENTS: usize = 500;

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Open the store for processing (full durability) and sync queues.
pub fn open_store(config: &Config) -> Result<Store, StoreError> {
    let mut s = Store::open(&config.storage.database, store::Durability::Full)?;
    s.set_cache_mib(config.storage.cache_mib)?;
    s.sync_queues(&config.queues)?;
    Ok(s)
}
