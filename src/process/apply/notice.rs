//! Sending a plan's notifications: the template context, rendering a mail
//! into an outbound article and an outbox row in the caller's
//! transaction, counting agents' alerts, and noting held-back ones.

use super::super::agent::AgentAction;
use super::super::plan::{Disposition, Plan};
use super::super::standing::Standing;
use super::super::{sha256_hex, Failure, Processor};
use crate::auth;
use crate::config::Mailbox as MailboxConfig;
use crate::mail::InboundMail;
use crate::notify::{self, Kind};
use crate::store::{machines, outbox, records, safeguards, Db};

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
            let mailbox = self.sending_mailbox(&n.from_mailbox)?;
            let mut ctx = self.context(ticket, mail, mailbox, standing, quoted);
            if n.kind == Kind::CommandTranscript {
                ctx.commands = super::commands::context(plan, self.state_names());
            }
            if n.kind == Kind::AgentBouncing {
                let starting: Vec<&str> = plan
                    .bounces
                    .iter()
                    .filter(|b| b.starts)
                    .map(|b| b.address.as_str())
                    .collect();
                ctx.article.bouncing = starting.join(", ");
                ctx.article.bouncing_reason = plan
                    .bounces
                    .iter()
                    .find(|b| b.starts)
                    .map(|b| notify::clip(&b.reason))
                    .unwrap_or_default();
            }
            // An empowered agent's reply or note: its own text (no quoted
            // history, no command lines) under the agent's name.
            let agent = plan
                .agent
                .as_ref()
                .and_then(|a| Some((a, a.action.as_ref()?)));
            let relay = matches!(n.kind, Kind::AgentReply | Kind::AgentNote);
            let mut from_name = None;
            let mut thread = None;
            if let (true, Some((a, action))) = (relay, agent) {
                ctx.article.text = truncate(action.text(), 20_000);
                ctx.article.from_name = notify::clip(&a.display_name);
                if let AgentAction::Reply {
                    in_reply_to,
                    references,
                    ..
                } = action
                {
                    from_name = Some(format!(
                        "{} via {}",
                        ctx.article.from_name,
                        mailbox.display_name.as_deref().unwrap_or("Support")
                    ));
                    thread = Some((in_reply_to.clone(), references.clone()));
                }
            }
            let template = n.template.as_deref().unwrap_or(n.kind.name());
            // Agents get the reply address with their own token, so their
            // answer proves itself.
            let groups = if n.is_agents_alert || n.kind == Kind::AgentNote {
                self.alert_recipients(ticket, mailbox, &n.to)
            } else {
                vec![(n.to.clone(), None)]
            };
            let split = groups.len() > 1;
            let to_agents = n.is_agents_alert || n.kind == Kind::AgentNote;
            // A customer's Outlook index is continued in mail back to the
            // customers; an agent's mail started from our alert, not theirs.
            let their_index = (!to_agents && !relay && standing != Some(Standing::AgentsSide))
                .then(|| super::thread::thread_index_of(mail))
                .flatten();
            for (to, reply_to) in &groups {
                // One mail per recipient when each gets its own token:
                // each then needs its own Message-ID.
                let salt = if split { to.join(",") } else { String::new() };
                let out = Outgoing {
                    to,
                    reply_to: reply_to.as_deref(),
                    salt: &salt,
                    from_name: from_name.as_deref(),
                    thread: thread.as_ref(),
                    to_agents,
                    their_index,
                };
                let sent = self.send(db, n.kind, template, ticket, mailbox, mail, &ctx, &out, sha);
                let outbox_id = match sent {
                    // The sender's address is one lettre cannot write into a
                    // mail: the ticket stands, without an auto-reply.
                    Err(Failure::Notify(notify::NotifyError::Address(e)))
                        if n.kind == Kind::AutoReply =>
                    {
                        tracing::warn!(ticket = %ticket.number, "no auto-reply: {e}");
                        None
                    }
                    other => other?,
                };
                if let (Some(id), Some(why)) = (outbox_id, &n.held) {
                    // A row that failed already (its mail could not be
                    // made) stays failed; the note says what was decided,
                    // wherever the mail is made.
                    machines::hold_outbox(db, id, why)?;
                    safeguards::add_note(
                        db,
                        article_id,
                        &format!("{} held: {why}", n.kind.name()),
                    )?;
                    tracing::warn!(ticket = %ticket.number, "{} held: {why}", n.kind.name());
                } else if outbox_id.is_some() && n.kind != Kind::AgentReply {
                    // Automatic mail: what the loop caps count (per address,
                    // per ticket). An agent's reply is a person's mail.
                    self.record_automatic_mail(db, Some(ticket.id), to)?;
                }
            }
            if n.is_agents_alert {
                safeguards::record_agent_alert(db, ticket.id, &mail.from.address)?;
            }
        }
        Ok(())
    }

    /// An agents' alert's recipients, each alone with the reply address
    /// carrying its token for this ticket (an answer from that mailbox to
    /// that address proves the alert was received: `auth::token`). If no
    /// key can be had, all of them together without a Reply-To.
    fn alert_recipients(
        &self,
        ticket: &records::TicketRef,
        mailbox: &MailboxConfig,
        to: &[String],
    ) -> Vec<(Vec<String>, Option<String>)> {
        let key = match self.reply_key_for_minting() {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(ticket = %ticket.number, "agents' alert sent without a reply token: {e}");
                return vec![(to.to_vec(), None)];
            }
        };
        with_reply_tokens(key, &mailbox.address, &ticket.number, to)
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
            ticket: self.ticket_ctx(
                ticket,
                if ticket.customer_address == mail.from.address {
                    from_name.clone()
                } else {
                    String::new()
                },
            ),
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
                ..Default::default()
            },
            support_address: mailbox.address.clone(),
            support_name: mailbox.display(),
            commands: notify::CommandsCtx::default(),
        }
    }

    /// Render `template` (the kind's own, or a rule's named auto-reply),
    /// record it as an outbound article, and queue it in the outbox, all in
    /// the caller's transaction. Returns the outbox row (failed, with an
    /// article saying so, when the mail could not be made).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send(
        &self,
        db: &Db,
        kind: Kind,
        template: &str,
        ticket: &records::TicketRef,
        mailbox: &MailboxConfig,
        mail: &InboundMail,
        ctx: &notify::Context,
        out: &Outgoing,
        sha: &str,
    ) -> Result<Option<i64>, Failure> {
        let to = out.to;
        // Deterministic per (inbound message, kind[, recipient]): unique,
        // and the same on a re-run of a rolled-back attempt.
        let message_id = format!(
            "{}.{}.{}@{}",
            ticket.number,
            kind.name(),
            &sha256_hex(format!("{sha}/{}{}", kind.name(), out.salt).as_bytes())[..16],
            self.config.system.fqdn
        );
        // An agent's reply threads to the customer's mail on the ticket,
        // anything else to the mail that caused it; References name the
        // ticket's mail in order (what the recipients may see).
        let in_reply_to = match out.thread {
            Some((irt, _)) => irt.as_deref(),
            None => mail.message_id.as_deref(),
        };
        let chain = super::thread::chain_headers(
            db,
            ticket,
            out.to_agents,
            in_reply_to,
            out.their_index,
            &message_id,
        )?;
        let head = notify::Head {
            from_address: mailbox.address.clone(),
            from_name: out
                .from_name
                .or(mailbox.display_name.as_deref())
                .map(String::from),
            to: to.to_vec(),
            // Answers go to the queue's address (or, for agents, to the
            // one carrying their token).
            reply_to: Some(out.reply_to.unwrap_or(&mailbox.address).to_string()),
            message_id: message_id.clone(),
            in_reply_to: in_reply_to.map(String::from),
            references: chain.references,
            // An agent's reply is a person's mail, not an automatic one.
            auto_submitted: match kind {
                Kind::AutoReply => Some("auto-replied"),
                // A transfer is an agent's hand-over to another helpdesk,
                // which may drop automatic mail.
                Kind::AgentReply | Kind::Transferred => None,
                _ => Some("auto-generated"),
            },
            ticket_number: ticket.number.clone(),
            fqdn: self.config.system.fqdn.clone(),
            thread_topic: Some(notify::thread_index::thread_topic(&ticket.subject)),
            thread_index: Some(chain.thread_index),
        };
        let compose = notify::Compose {
            templates: self.templates.clone(),
            template: template.to_string(),
            lang: ticket.language.clone(),
            ctx: ctx.clone(),
            tag: self.numbering.subject_tag(&ticket.number),
            head,
        };
        // An address lettre cannot write into a mail is found before
        // anything is written, wherever the mail is made.
        compose.head.check_addresses()?;
        // An agent's reply is made here: its text is history a `#transfer`
        // later in the batch forwards (`store::relations::transfer_history`).
        // Anything else, during a batch with parser threads, is made on a
        // parser thread and written before the commit (`deferred.rs`).
        let deferred = self.making_deferred() && kind != Kind::AgentReply;
        // A template problem never costs the customer their ticket: the
        // shipped template stands in, and if even that fails (or the mail
        // cannot be built) the row waits in the outbox as failed, with
        // its error, and the article says it was not sent, as when it is
        // made on a parser thread.
        let (made, failed) = if deferred {
            (None, None)
        } else {
            match compose.make(self.config.smtp.dkim.as_ref()) {
                Ok(made) => (Some(made), None),
                // An agent's reply that cannot be made is not written as
                // one: its text is history a `#transfer` forwards. A
                // template that fails waits as a failed row; a mail that
                // cannot be built (signed) fails the agent's message,
                // which the operator can retry from the quarantine.
                Err(notify::NotMade::Render(e)) if kind == Kind::AgentReply => {
                    tracing::error!(ticket = %ticket.number, kind = kind.name(), template,
                        "notification not sent: {e}");
                    let why = e.to_string();
                    outbox::record_unrendered(db, ticket.id, kind.name(), to, &message_id, &why)?;
                    return Ok(None);
                }
                Err(notify::NotMade::Build(e)) if kind == Kind::AgentReply => return Err(e.into()),
                Err(e) => (None, Some(e.to_string())),
            }
        };
        if let Some(why) = made.as_ref().and_then(|m| m.fell_back.as_ref()) {
            tracing::warn!(ticket = %ticket.number, kind = kind.name(), template,
                "template failed, the shipped one was used instead (fix the template, then reload): {why}");
        }
        let article_id = self.outbound_article(
            db,
            kind,
            ticket,
            mailbox,
            &message_id,
            &compose.head,
            made.as_ref(),
        )?;
        let raw = made.as_ref().map(|m| m.raw.as_slice());
        let id = self.queue_mail(db, kind, ticket, article_id, &message_id, to, raw)?;
        if deferred {
            self.defer_making(id, article_id, &message_id, compose);
        } else if let Some(why) = failed {
            let what = format!("{template} on ticket {}", ticket.number);
            super::deferred::fail_now(db, id, article_id, &message_id, what, &why)?;
        }
        Ok(Some(id))
    }

    /// The outbound article of a notification: with its text when `made`,
    /// else empty until the parser threads have made it.
    #[allow(clippy::too_many_arguments)]
    fn outbound_article(
        &self,
        db: &Db,
        kind: Kind,
        ticket: &records::TicketRef,
        mailbox: &MailboxConfig,
        message_id: &str,
        head: &notify::Head,
        made: Option<&notify::Composed>,
    ) -> Result<i64, Failure> {
        let article_id = records::insert_article(
            db,
            &records::NewArticle {
                ticket_id: ticket.id,
                trusted: true,
                direction: "out",
                kind: kind.name(),
                from_address: &mailbox.address,
                from_name: mailbox.display_name.as_deref(),
                to: &head.to.join(","),
                cc: "",
                subject: made.map_or("", |m| &m.subject),
                text: made.map_or("", |m| &m.body),
                html: made.and_then(|m| m.html.as_deref()),
                message_id: Some(message_id),
                in_reply_to: head.in_reply_to.as_deref(),
                automatic: None,
                class: None,
                raw_id: None,
            },
        )?;
        if matches!(kind, Kind::AgentNote | Kind::CommandTranscript) {
            // A note to the agents is never shown to customers.
            machines::mark_internal(db, article_id)?;
        }
        Ok(article_id)
    }

    /// The outbox row of a notification (null sender: RFC 3834); `raw`
    /// None when the parser threads make it.
    #[allow(clippy::too_many_arguments)]
    fn queue_mail(
        &self,
        db: &Db,
        kind: Kind,
        ticket: &records::TicketRef,
        article_id: i64,
        message_id: &str,
        to: &[String],
        raw: Option<&[u8]>,
    ) -> Result<i64, Failure> {
        Ok(outbox::enqueue(
            db,
            &outbox::NewOutgoing {
                ticket_id: ticket.id,
                article_id: Some(article_id),
                kind: kind.name(),
                envelope_from: "",
                recipients: to,
                message_id,
                raw,
            },
        )?)
    }
}

/// Each of `to` alone, with the reply address under `support` carrying
/// its token for `ticket`.
fn with_reply_tokens(
    key: &auth::ReplyKey,
    support: &str,
    ticket: &str,
    to: &[String],
) -> Vec<(Vec<String>, Option<String>)> {
    to.iter()
        .map(|a| {
            let r = auth::token::reply_address(key, support, ticket, a);
            (vec![a.clone()], r)
        })
        .collect()
}

/// One mail's recipients and Reply-To.
pub(super) struct Outgoing<'a> {
    pub(super) to: &'a [String],
    pub(super) reply_to: Option<&'a str>,
    /// Added to the Message-ID's hash when one notification is split.
    pub(super) salt: &'a str,
    /// The From display name instead of the mailbox's ("Agent via Support").
    pub(super) from_name: Option<&'a str>,
    /// In-Reply-To instead of the inbound mail's (an agent's reply threads
    /// to the customer's mail); its References are not used: every mail
    /// names the ticket's own ([`super::thread::chain_headers`]).
    pub(super) thread: Option<&'a (Option<String>, Vec<String>)>,
    /// Sent to agents: References may name internal mail.
    pub(super) to_agents: bool,
    /// The inbound mail's `Thread-Index`, to continue in this mail.
    pub(super) their_index: Option<&'a str>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_alert_recipient_gets_a_mail_with_a_token_of_its_own() {
        let key = auth::ReplyKey::from_bytes([9; 32]);
        let to = vec![
            "alice@example.com".to_string(),
            "bob@example.com".to_string(),
        ];
        let groups = with_reply_tokens(&key, "support@example.com", "2026112210000017", &to);
        assert_eq!(groups.len(), 2);
        for ((alone, reply_to), agent) in groups.iter().zip(&to) {
            assert_eq!(alone, &vec![agent.clone()]);
            let t = auth::token::parse_reply_address(reply_to.as_deref().unwrap()).unwrap();
            assert_eq!(t.base, "support@example.com");
            assert!(auth::token::verify(
                &key,
                "2026112210000017",
                agent,
                &t.token
            ));
        }
        assert_ne!(groups[0].1, groups[1].1);
    }
}
