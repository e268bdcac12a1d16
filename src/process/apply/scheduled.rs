//! Carrying out the scheduler's validation of a ticket
//! ([`super::super::scheduled::Scheduled`]) in the caller's transaction:
//! the state, the history row (actor kind `scheduler`, no mail caused
//! it), and the customers' mail as an outbound article and outbox row,
//! threaded to their last mail and counted by the loop caps. It decides
//! nothing the plan did not; it only checks that nobody moved the ticket
//! since it was read.

use super::super::scheduled::Scheduled;
use super::super::{sha256_hex, Failure, Processor};
use crate::notify;
use crate::store::{agent_reply, history, outbox, records, Db};

impl Processor {
    /// Write `p`. Returns false (nothing written) when the ticket is no
    /// longer in the state it was read in.
    pub(in crate::process) fn apply_scheduled(
        &self,
        db: &Db,
        p: &Scheduled,
    ) -> Result<bool, Failure> {
        let Some(mut ticket) = records::ticket_by_number(db, &p.ticket.number)? else {
            return Ok(false);
        };
        if ticket.state != p.ticket.state {
            return Ok(false);
        }
        records::touch_ticket(db, ticket.id, &p.to)?;
        history::record(db, ticket.id, None, &p.change)?;
        ticket.state = p.to.clone();
        let Some(n) = &p.notification else {
            return Ok(true);
        };
        if let Some(why) = &n.suppressed {
            tracing::info!(ticket = %ticket.number, "no {}: {why}", n.kind.name());
            return Ok(true);
        }
        let mailbox = self.sending_mailbox(&n.from_mailbox)?;
        let support_name = mailbox.display();
        let ctx = notify::Context {
            ticket: self.ticket_ctx(&ticket, String::new()),
            article: notify::ArticleCtx {
                from: mailbox.address.clone(),
                from_name: support_name.clone(),
                subject: notify::clip(&ticket.subject),
                from_our_address: true,
                ..Default::default()
            },
            support_address: mailbox.address.clone(),
            support_name,
            commands: Default::default(),
        };
        let kind = n.kind.name();
        let stamp = chrono::Utc::now().to_rfc3339();
        let message_id = format!(
            "{}.{kind}.{}@{}",
            ticket.number,
            &sha256_hex(format!("scheduler/{}/{}/{stamp}", ticket.number, p.to).as_bytes())[..16],
            self.config.system.fqdn
        );
        let text = match self.render(kind, &ticket.language, &ctx) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(ticket = %ticket.number, kind, "notification not sent: {e}");
                outbox::record_unrendered(db, ticket.id, kind, &n.to, &message_id, &e.to_string())?;
                return Ok(true);
            }
        };
        let mut subject = text.subject;
        let tag = self.numbering.subject_tag(&ticket.number);
        if !subject.contains(&tag) {
            subject = format!("{tag} {subject}");
        }
        // In the customers' thread: answering their last mail, with the
        // ticket's References and Outlook's Thread-Topic/Thread-Index.
        let last = agent_reply::customer_message_ids(db, ticket.id)?.pop();
        let chain =
            super::thread::chain_headers(db, &ticket, false, last.as_deref(), None, &message_id)?;
        let topic = notify::thread_index::thread_topic(&ticket.subject);
        let env = notify::Envelope {
            from_address: &mailbox.address,
            from_name: mailbox.display_name.as_deref(),
            to: &n.to,
            reply_to: Some(&mailbox.address),
            envelope_from: None,
            message_id: &message_id,
            in_reply_to: last.as_deref(),
            references: &chain.references,
            auto_submitted: Some("auto-generated"),
            ticket_number: &ticket.number,
            fqdn: &self.config.system.fqdn,
            dkim: self.config.smtp.dkim.as_ref(),
            thread_topic: Some(&topic),
            thread_index: Some(&chain.thread_index),
        };
        let rendered = notify::build_alternative(&env, &subject, &text.body, text.html.as_deref())?;
        let article_id = records::insert_article(
            db,
            &records::NewArticle {
                ticket_id: ticket.id,
                trusted: true,
                direction: "out",
                kind,
                from_address: &mailbox.address,
                from_name: mailbox.display_name.as_deref(),
                to: &n.to.join(","),
                cc: "",
                subject: &rendered.subject,
                text: &rendered.body,
                html: None,
                message_id: Some(&message_id),
                in_reply_to: env.in_reply_to,
                automatic: None,
                class: None,
                raw_id: None,
            },
        )?;
        outbox::enqueue(
            db,
            &outbox::NewOutgoing {
                ticket_id: ticket.id,
                article_id: Some(article_id),
                kind,
                envelope_from: &rendered.envelope_from,
                recipients: &rendered.recipients,
                message_id: &message_id,
                raw: Some(&rendered.raw),
            },
        )?;
        self.record_automatic_mail(db, Some(ticket.id), &n.to)?;
        Ok(true)
    }
}
