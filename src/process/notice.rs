//! Notifications: which agents' address to alert, the auto-reply limit,
//! the template context, and rendering a mail into an outbound article and
//! an outbox row in the caller's transaction.

use super::standing::Standing;
use super::{sha256_hex, Failure, Processor};
use crate::config::Mailbox as MailboxConfig;
use crate::mail::InboundMail;
use crate::notify::{self, Kind};
use crate::store::{outbox, records, Db};
use crate::threading;

impl Processor {
    /// The agents' address to alert, if the queue wants this alert. Mail
    /// from the agents' address itself is alerted too (with a warning):
    /// From proves nothing, and the alert caps stop any loop.
    pub(super) fn agents_for(&self, queue: &str, new: bool) -> Option<String> {
        let q = self.config.queue(queue)?;
        let wanted = if new {
            q.notify_agents_on_new
        } else {
            q.notify_agents_on_follow_up
        };
        q.agents_address.clone().filter(|_| wanted)
    }

    pub(super) fn over_auto_reply_limit(&self, db: &Db, address: &str) -> Result<bool, Failure> {
        let since = (chrono::Utc::now() - chrono::Duration::hours(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let n = records::auto_replies_since(db, address, &since)?;
        Ok(n >= self.config.system.auto_reply_limit_per_hour)
    }

    /// What the templates see. Display names and subjects from the mail
    /// are clipped here ([`notify::clip`]), the one place they enter
    /// outgoing mail.
    pub(super) fn context(
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
                text: truncate(mail.new_text(), 20_000),
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
    pub(super) fn send(
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
