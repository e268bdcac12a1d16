//! The apply stage: carries out a [`Plan`] in the caller's savepoint. The
//! only stage of message processing that writes to the store (besides
//! [`super::quarantine`], the failure path): the raw bytes, the receipt,
//! the ticket, its article, attachments and participants, the fields and
//! history rules changed (`fields.rs`), the outbound articles and their
//! outbox rows, refusals with their mail (`refusal.rs`), and an agent's
//! forward as the customer's article and the agent's note (`forward.rs`). It decides nothing the plan did not.

mod article;
mod commands;
mod deferred;
mod fields;
mod forward;
mod notice;
mod refusal;
mod relations;
mod scheduled;
mod thread;
mod ticketless;

pub(in crate::process) use article::sync_filesystem;
pub(in crate::process) use deferred::{write_made, write_ready, Making};

use super::parse::Parsed;
use super::plan::{Disposition, Plan};
use super::{Failure, Incoming, Outcome, Processor};
use crate::notify;
use crate::store::{machines, records, Db};

impl Processor {
    /// The `[[mailbox]]` a notification goes out from.
    fn sending_mailbox(&self, name: &str) -> Result<&crate::config::Mailbox, Failure> {
        self.config
            .mailbox(name)
            .ok_or_else(|| Failure::Other(format!("no [[mailbox]] named {name:?}")))
    }

    /// Render the template `name` in `lang` with the operator's templates,
    /// the shipped ones standing in when that fails (see
    /// [`notify::render_with_fallback`]).
    fn render(
        &self,
        name: &str,
        lang: &str,
        ctx: &notify::Context,
    ) -> Result<notify::Text, notify::NotifyError> {
        notify::render_with_fallback(&self.templates, notify::shipped, name, lang, ctx)
    }

    /// What templates know of `ticket` (`customer_name`: the mail's sender's
    /// name when the sender is its customer, else empty).
    fn ticket_ctx(&self, ticket: &records::TicketRef, customer_name: String) -> notify::TicketCtx {
        notify::TicketCtx {
            number: ticket.number.clone(),
            tag: self.numbering.subject_tag(&ticket.number),
            subject: notify::clip(&ticket.subject),
            state: ticket.state.clone(),
            queue: ticket.queue.clone(),
            customer: ticket.customer_address.clone(),
            customer_name,
        }
    }

    /// Count one automatic mail queued to each of `to` on `ticket_id`
    /// (None: a refusal), what the loop caps read back, and forget these
    /// addresses' counts older than the longest cap's window.
    fn record_automatic_mail(
        &self,
        db: &Db,
        ticket_id: Option<i64>,
        to: &[String],
    ) -> Result<(), crate::store::StoreError> {
        let longest = (self.config.system.loop_caps.iter())
            .map(|c| c.window_secs)
            .max()
            .unwrap_or(0);
        let forget_before = (chrono::Utc::now() - chrono::Duration::seconds(longest))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        for address in to {
            machines::record_automatic_mail(db, ticket_id, address, &forget_before)?;
        }
        Ok(())
    }

    /// Write what `plan` says about the parsed `item`.
    pub(super) fn apply(
        &self,
        db: &Db,
        item: &Incoming,
        parsed: &Parsed,
        plan: &Plan,
    ) -> Result<Outcome, Failure> {
        let mail = &parsed.mail;
        let raw_id = records::store_raw(db, &parsed.sha, &item.raw)?;
        let (imap_source, uid_validity, uid) = item.origin.imap_position();
        let mailbox_name = plan
            .route
            .received_by
            .as_deref()
            .or(plan.route.mailbox.as_deref())
            .unwrap_or_default();
        let receipt =
            |status: &str, ticket_id: Option<i64>, article_id: Option<i64>, error: Option<&str>| {
                records::insert_receipt(
                    db,
                    &records::NewReceipt {
                        source: item.origin.source(),
                        mailbox: mailbox_name,
                        imap_source,
                        uid_validity,
                        uid,
                        message_id: mail.message_id.as_deref(),
                        sha256: &parsed.sha,
                        raw_id: Some(raw_id),
                        status,
                        ticket_id,
                        article_id,
                        error,
                    },
                )
            };
        let outcome = match &plan.disposition {
            // Rolled back and quarantined raw by the batch, like any failure.
            Disposition::Quarantine { reason } => return Err(Failure::Other(reason.clone())),
            Disposition::Duplicate {
                ticket_id,
                article_id,
                ticket,
            } => {
                receipt("duplicate", Some(*ticket_id), Some(*article_id), None)?;
                tracing::info!(
                    ticket = ticket.as_deref(),
                    message_id = mail.message_id.as_deref(),
                    "duplicate delivery recorded, nothing sent"
                );
                return Ok(Outcome::Duplicate {
                    ticket: ticket.clone(),
                });
            }
            Disposition::Ignore { reason } => {
                receipt("ignored", None, None, Some(reason))?;
                if let Some(said) = self.send_reference(db, plan, mail, &parsed.sha)? {
                    tracing::info!(from = %mail.from.address, "{said}");
                    return Ok(Outcome::Ignored {
                        reason: format!("{reason}: {said}"),
                    });
                }
                tracing::warn!(
                    mailbox = mailbox_name,
                    message_id = mail.message_id.as_deref(),
                    "{reason}"
                );
                return Ok(Outcome::Ignored {
                    reason: reason.clone(),
                });
            }
            Disposition::Refuse { why, queue, quoted } => {
                let receipt_id = receipt("refused", None, None, Some(why.as_str()))?;
                let refused = refusal::Refused {
                    why: *why,
                    queue,
                    quoted: quoted.as_ref(),
                    receipt_id,
                    mailbox: mailbox_name,
                };
                let reason = self.refuse(db, plan, mail, &refused, &parsed.sha)?;
                tracing::warn!(from = %mail.from.address, queue = %queue,
                    quoted = quoted.as_ref().map(|t| t.number.as_str()), "mail refused: {reason}");
                return Ok(Outcome::Refused { reason });
            }
            Disposition::NewTicket { quoted } => {
                if let Some(q) = quoted {
                    tracing::warn!(quoted = %q, from = %mail.from.address,
                        "mail threads to a ticket its sender has no right to: filed as a new ticket");
                }
                let routed = plan
                    .route
                    .mailbox
                    .as_deref()
                    .and_then(|n| self.config.mailbox(n))
                    .ok_or_else(|| Failure::Other(plan.route.reason.clone()))?;
                let original = forward::original(plan, mail)?;
                let article_mail = original.as_ref().unwrap_or(mail);
                let (mut ticket, article_id) =
                    self.insert_new_ticket(db, article_mail, plan, routed, raw_id)?;
                self.insert_forward_note(db, plan, mail, &ticket, raw_id)?;
                fields::write(db, plan, &mut ticket, article_id)?;
                self.notify_plan(db, plan, &ticket, article_mail, article_id, &parsed.sha)?;
                receipt("created", Some(ticket.id), Some(article_id), None)?;
                Outcome::Created {
                    ticket: ticket.number,
                }
            }
            Disposition::Note { ticket, reason } => {
                let article_id = self.insert_note(db, mail, plan, ticket, raw_id)?;
                self.notify_plan(db, plan, ticket, mail, article_id, &parsed.sha)?;
                receipt("note", Some(ticket.id), Some(article_id), None)?;
                tracing::info!(ticket = %ticket.number, from = %mail.from.address, "{reason}");
                Outcome::Note {
                    ticket: ticket.number.clone(),
                }
            }
            Disposition::FollowUp { ticket, .. } => {
                let original = forward::original(plan, mail)?;
                let article_mail = original.as_ref().unwrap_or(mail);
                let (mut after, article_id) =
                    self.insert_follow_up(db, article_mail, plan, ticket, raw_id)?;
                self.insert_forward_note(db, plan, mail, &after, raw_id)?;
                fields::write(db, plan, &mut after, article_id)?;
                commands::write(db, plan, &after)?;
                self.notify_plan(db, plan, &after, article_mail, article_id, &parsed.sha)?;
                self.apply_relations(db, plan, mail, &parsed.sha)?;
                receipt("follow_up", Some(ticket.id), Some(article_id), None)?;
                Outcome::FollowUp {
                    ticket: after.number,
                }
            }
        };
        for w in &mail.warnings {
            tracing::warn!(
                mailbox = mailbox_name,
                message_id = mail.message_id.as_deref(),
                "{w}"
            );
        }
        Ok(outcome)
    }
}
