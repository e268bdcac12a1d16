//! Carrying out a refusal (issue 8): the refusal record (who, which queue,
//! why, the ticket quoted, the mail's receipt) and, unless the plan held
//! it back, the refusal mail queued in the outbox without a ticket and
//! counted by the loop caps, all in the caller's transaction. No ticket,
//! no article: the quoted ticket is untouched, and agents see the attempt
//! in `ticket show`.

use super::super::plan::{Plan, Refusal};
use super::super::{Failure, Processor};
use crate::mail::InboundMail;
use crate::notify;
use crate::store::records::TicketRef;
use crate::store::refusals::{self, NewRefusal};
use crate::store::{machines, Db};

/// What the refusal is about, from the plan's disposition.
pub(super) struct Refused<'a> {
    pub why: Refusal,
    pub queue: &'a str,
    pub quoted: Option<&'a TicketRef>,
    pub receipt_id: i64,
    pub mailbox: &'a str,
}

impl Processor {
    /// Record the refusal and queue its mail (or say why none goes out).
    /// Returns what the outcome says.
    pub(super) fn refuse(
        &self,
        db: &Db,
        plan: &Plan,
        mail: &InboundMail,
        r: &Refused,
        sha: &str,
    ) -> Result<String, Failure> {
        let n = plan.notifications.first();
        let held = match n {
            Some(n) => n.suppressed.clone(),
            None => Some("no refusal in the plan".to_string()),
        };
        let id = refusals::record_refusal(
            db,
            &NewRefusal {
                address: &mail.from.address,
                mailbox: r.mailbox,
                queue: r.queue,
                reason: r.why.as_str(),
                ticket_id: r.quoted.map(|t| t.id),
                receipt_id: r.receipt_id,
                message_id: mail.message_id.as_deref(),
                subject: &notify::clip(&mail.subject),
                held: held.as_deref(),
            },
        )?;
        let said = match r.why {
            Refusal::NoRight => "no right to the ticket it names",
            Refusal::UnknownSender => "not a known customer",
            Refusal::ClosedTicket => "a reply to a closed ticket",
        };
        let n = match (n, held) {
            (Some(n), None) => n,
            (_, why) => {
                let why = why.unwrap_or_default();
                return Ok(format!("{said}; no refusal sent: {why}"));
            }
        };
        let mailbox = self.sending_mailbox(&n.from_mailbox)?;
        // Only a reply to a closed ticket names it: its sender is one of
        // the ticket's customers (the other refusals never name one).
        let named = r.quoted.filter(|_| r.why == Refusal::ClosedTicket);
        let ctx = notify::Context {
            ticket: named
                .map(|t| self.ticket_ctx(t, String::new()))
                .unwrap_or_default(),
            article: notify::ArticleCtx {
                from: mail.from.address.clone(),
                from_name: notify::clip(mail.from.name.as_deref().unwrap_or_default()),
                subject: notify::clip(&mail.subject),
                unverified_sender: true,
                refusal: r.why.as_str().to_string(),
                ..Default::default()
            },
            support_address: mailbox.address.clone(),
            support_name: mailbox.display(),
            commands: notify::CommandsCtx::default(),
        };
        let kind = n.kind.name();
        let text = match self.render(kind, &n.language, &ctx) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(from = %mail.from.address, "refusal not sent: {e}");
                refusals::mark_unsent(db, id, &e.to_string())?;
                return Ok(format!("{said}; the refusal could not be written: {e}"));
            }
        };
        let rendered = self.ticketless_answer(kind, "refusal", mailbox, &n.to, mail, sha, &text)?;
        let outbox_id = refusals::enqueue(
            db,
            id,
            &rendered.envelope_from,
            &rendered.recipients,
            &rendered.message_id,
            &rendered.raw,
        )?;
        if let Some(why) = &n.held {
            machines::hold_outbox(db, outbox_id, why)?;
            return Ok(format!("{said}; refusal held: {why}"));
        }
        // Automatic mail to this address: what the loop caps count.
        self.record_automatic_mail(db, None, &n.to)?;
        Ok(format!("{said}; refusal sent to {}", n.to.join(", ")))
    }
}
