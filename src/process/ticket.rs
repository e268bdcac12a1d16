//! New tickets and follow-ups: the ticket row, its inbound article with
//! attachments (content-addressed files, flushed once per batch), its
//! participants, and the notifications they cause. Runs inside the
//! caller's savepoint; see the parent module for the batch.

use std::io::Write;
use std::path::Path;

use super::standing::{self, Standing};
use super::{sha256_hex, Failure, Processor, MAX_ATTACHMENTS};
use crate::config::Mailbox as MailboxConfig;
use crate::mail::{self, InboundMail};
use crate::notify::{self, Kind};
use crate::store::{records, safeguards, Db};
use crate::threading;
use crate::tickets::{State, DEFAULT_PRIORITY};

impl Processor {
    pub(super) fn insert_inbound(
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
        records::set_new_text_end(db, article_id, mail.quote_start)?;
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
    pub(super) fn save_attachment(&self, content: &[u8]) -> Result<(String, String), Failure> {
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

    pub(super) fn language_for(&self, mail: &InboundMail, mailbox: &MailboxConfig) -> String {
        mail.language
            .as_deref()
            .filter(|l| self.templates.has_language(l))
            .or(mailbox.language.as_deref())
            .unwrap_or(&self.config.system.default_language)
            .to_string()
    }

    pub(super) fn new_ticket(
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

    pub(super) fn follow_up(
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
    pub(super) fn next_number(&self, db: &Db) -> Result<String, Failure> {
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

    pub(super) fn add_cc_participants(
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
pub(super) fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
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
