//! Writing a planned new ticket or follow-up: the ticket row, its inbound
//! article with attachments (content-addressed files, flushed once per
//! batch) and its participants. Runs inside the caller's savepoint.

use std::io::Write;
use std::path::Path;

use super::super::plan::{ArticlePlan, Plan};
use super::super::{sha256_hex, Failure, Processor, MAX_ATTACHMENTS};
use crate::config::Mailbox as MailboxConfig;
use crate::mail::{self, InboundMail};
use crate::store::{machines, records, safeguards, Db};
use crate::threading;

impl Processor {
    pub(super) fn insert_inbound(
        &self,
        db: &Db,
        ticket_id: i64,
        mail: &InboundMail,
        raw_id: i64,
        article: &ArticlePlan,
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
                trusted: article.trusted,
                direction: "in",
                kind: article.kind,
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
                class: Some(mail.class.class.as_str()),
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
        if let Some(why) = &article.unverified {
            safeguards::mark_unverified(db, article_id, why)?;
        }
        for note in &article.notes {
            safeguards::add_note(db, article_id, note)?;
        }
        if article.internal {
            machines::mark_internal(db, article_id)?;
        }
        Ok(article_id)
    }

    /// Machines' mail as `plan` says: an internal article on `ticket`,
    /// which changes nothing else, and the addresses it says bounce.
    pub(super) fn insert_note(
        &self,
        db: &Db,
        mail: &InboundMail,
        plan: &Plan,
        ticket: &records::TicketRef,
        raw_id: i64,
    ) -> Result<i64, Failure> {
        let Some(article) = &plan.article else {
            return Err(Failure::Other(
                "internal: a note planned without its article".into(),
            ));
        };
        let article_id = self.insert_inbound(db, ticket.id, mail, raw_id, article)?;
        for b in &plan.bounces {
            machines::mark_bouncing(db, &b.address, &b.reason, ticket.id)?;
            tracing::warn!(ticket = %ticket.number, address = %b.address,
                "address bounces: later mail to it is held ({})", b.reason);
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

    /// A new ticket as `plan` says: the ticket row (with a fresh number),
    /// its participants and its inbound article. Returns the ticket.
    pub(super) fn insert_new_ticket(
        &self,
        db: &Db,
        mail: &InboundMail,
        plan: &Plan,
        mailbox: &MailboxConfig,
        raw_id: i64,
    ) -> Result<(records::TicketRef, i64), Failure> {
        let (Some(t), Some(article)) = (&plan.ticket, &plan.article) else {
            return Err(Failure::Other(
                "internal: a new ticket planned without its ticket or article".into(),
            ));
        };
        let number = self.next_number(db)?;
        let c = &t.classification;
        let ticket_id = records::insert_ticket(
            db,
            &records::NewTicket {
                number: &number,
                subject: &t.subject,
                state: t.state.as_str(),
                urgency: c.urgency,
                impact: c.impact,
                priority: c.priority,
                priority_explicit: c.priority_explicit,
                queue: &t.queue,
                customer_address: &mail.from.address,
                customer_name: mail.from.name.as_deref(),
                support_address: &mailbox.address,
                language: &t.language,
            },
        )?;
        self.add_participants(db, ticket_id, plan)?;
        assign(db, ticket_id, plan)?;
        if let Some(u) = &plan.new_customer_user {
            crate::store::directory::people::add_customer_user_on_first_mail(
                db,
                &u.address,
                u.name.as_deref(),
                u.customer.as_deref(),
            )?;
        }
        let article_id = self.insert_inbound(db, ticket_id, mail, raw_id, article)?;
        let ticket = records::ticket_by_number(db, &number)?
            .ok_or_else(|| Failure::Other("ticket vanished inside its own transaction".into()))?;
        tracing::info!(ticket = %number, from = %mail.from.address, queue = %t.queue, "new ticket");
        Ok((ticket, article_id))
    }

    /// A follow-up as `plan` says: the ticket's state (and queue and
    /// classification, when the plan changed them), its inbound article
    /// and any participants. Returns the ticket as it is now.
    pub(super) fn insert_follow_up(
        &self,
        db: &Db,
        mail: &InboundMail,
        plan: &Plan,
        before: &records::TicketRef,
        raw_id: i64,
    ) -> Result<(records::TicketRef, i64), Failure> {
        let (Some(t), Some(article)) = (&plan.ticket, &plan.article) else {
            return Err(Failure::Other(
                "internal: a follow-up planned without its ticket or article".into(),
            ));
        };
        records::touch_ticket(db, before.id, t.state.as_str())?;
        let c = t.classification;
        let mut after = before.clone();
        after.state = t.state.as_str().to_string();
        if t.queue != before.queue
            || (c.urgency, c.impact, c.priority, c.priority_explicit)
                != (
                    before.urgency,
                    before.impact,
                    before.priority,
                    before.priority_explicit,
                )
        {
            records::set_ticket_fields(
                db,
                before.id,
                &records::TicketFields {
                    queue: &t.queue,
                    urgency: c.urgency,
                    impact: c.impact,
                    priority: c.priority,
                    priority_explicit: c.priority_explicit,
                },
            )?;
            after.queue = t.queue.clone();
            (
                after.urgency,
                after.impact,
                after.priority,
                after.priority_explicit,
            ) = (c.urgency, c.impact, c.priority, c.priority_explicit);
        }
        let article_id = self.insert_inbound(db, before.id, mail, raw_id, article)?;
        if let Some(why) = &article.unverified {
            tracing::warn!(ticket = %before.number, from = %mail.from.address,
                "follow-up recorded as unverified: {why}");
        }
        self.add_participants(db, before.id, plan)?;
        assign(db, before.id, plan)?;
        tracing::info!(ticket = %before.number, from = %mail.from.address, kind = article.kind, "follow-up");
        Ok((after, article_id))
    }

    fn add_participants(&self, db: &Db, ticket_id: i64, plan: &Plan) -> Result<(), Failure> {
        for p in &plan.participants {
            records::add_participant(db, ticket_id, &p.address, p.name.as_deref(), p.role)?;
        }
        Ok(())
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
}

/// The assigned agent and group a rule set (names the decide stage
/// found in the directory).
fn assign(db: &Db, ticket_id: i64, plan: &Plan) -> Result<(), Failure> {
    let a = &plan.assign;
    if a.agent.is_some() || a.group.is_some() {
        crate::store::directory::actors::assign(
            db,
            ticket_id,
            a.agent.as_deref(),
            a.group.as_deref(),
        )?;
    }
    Ok(())
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
pub(in crate::process) fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
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
