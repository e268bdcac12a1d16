//! Sending a plan's notifications: the template context, rendering a mail
//! into an outbound article and an outbox row in the caller's
//! transaction, counting agents' alerts, and noting held-back ones.

use super::super::plan::{Disposition, Plan};
use super::super::standing::Standing;
use super::super::{sha256_hex, Failure, Processor};
use crate::config::Mailbox as MailboxConfig;
use crate::mail::InboundMail;
use crate::notify::{self, Kind};
use crate::store::{outbox, records, safeguards, Db};
use crate::threading;

impl Processor {
    /// Send the plan's notifications, or note why each held-back one was
    /// held back, all in the caller's transaction. `ticket` is the ticket
    /// as the plan left it.
    pub(super) fn notify_plan(
        &self,
        db: &Db,
        plan: &Plan,
        ticket: &records::TicketRef,
        mail: &InboundMail,
        article_id: i64,
        sha: &str,
    ) -> Result<(), Failure> {
        let (standing, quoted) = match &plan.disposition {
            Disposition::FollowUp { standing, .. } => (Some(*standing), None),
            Disposition::NewTicket { quoted } => (None, quoted.as_deref()),
            _ => (None, None),
        };
        for n in &plan.notifications {
            if let Some(why) = &n.suppressed {
                if n.note_if_suppressed {
                    tracing::warn!(ticket = %ticket.number, from = %mail.from.address, "{why}");
                    safeguards::add_note(db, article_id, why)?;
                } else {
                    tracing::info!(ticket = %ticket.number, "no {}: {why}", n.kind.name());
                }
                continue;
            }
            let mailbox = self.config.mailbox(&n.from_mailbox).ok_or_else(|| {
                Failure::Other(format!("no [[mailbox]] named {:?}", n.from_mailbox))
            })?;
            let ctx = self.context(ticket, mail, mailbox, standing, quoted);
            let template = n.template.as_deref().unwrap_or(n.kind.name());
            let sent = self.send(
                db, n.kind, template, ticket, mailbox, mail, &ctx, &n.to, sha,
            );
            match sent {
                // The sender's address is one lettre cannot write into a
                // mail: the ticket stands, without an auto-reply.
                Err(Failure::Notify(notify::NotifyError::Address(e)))
                    if n.kind == Kind::AutoReply =>
                {
                    tracing::warn!(ticket = %ticket.number, "no auto-reply: {e}")
                }
                other => other?,
            }
            if n.is_agents_alert {
                safeguards::record_agent_alert(db, ticket.id, &mail.from.address)?;
            }
        }
        Ok(())
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

    /// Render `template` (the kind's own, or a rule's named auto-reply),
    /// record it as an outbound article, and queue it in the outbox, all in
    /// the caller's transaction.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        db: &Db,
        kind: Kind,
        template: &str,
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
            template,
            &ticket.language,
            ctx,
        ) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(ticket = %ticket.number, kind = kind.name(), template,
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
            tracing::warn!(ticket = %ticket.number, kind = kind.name(), template,
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
                class: None,
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
