//! What machines' mail does (issue 7), decided as data. Pure: called by
//! [`super::decide`] once threading has found (or not) the ticket.
//!
//! A delivery report, an auto-reply, a read receipt, an abuse report or a
//! challenge never opens a ticket: on the ticket it concerns it becomes an
//! internal note that changes nothing (no state move, no participant, no
//! auto-reply, no agents' alert); one that concerns no ticket is stored and
//! ignored. A bounce also marks the failed recipients as bouncing (a delay
//! warning does not), and an address that starts bouncing is told to the
//! queue's agents once. List and bulk mail follows its mailbox's
//! `list_policy`. The loop caps ([`loop_cap`]) count automatic mail per
//! address and per ticket over each configured window.

use chrono::{DateTime, Utc};

use super::facts::Facts;
use super::plan::{ArticlePlan, BounceMark, Disposition, Plan, TicketPlan};
use crate::config::{ListPolicy, LoopCap, Mailbox as MailboxConfig};
use crate::mail::{DeliveryOutcome, InboundMail, MailClass};
use crate::store::records::TicketRef;
use crate::tickets::priority::Classification;

/// The recipients a delivery report says failed for good, with the
/// server's reason. When the report names none but returned a message
/// with one To address, that address is the one.
pub fn failed_recipients(mail: &InboundMail) -> Vec<(String, String)> {
    let Some(b) = &mail.class.bounce else {
        return Vec::new();
    };
    if b.outcome != DeliveryOutcome::Failed {
        return Vec::new();
    }
    let mut out: Vec<(String, String)> = b
        .recipients
        .iter()
        .filter(|r| crate::mail::plausible_address(&r.address))
        .map(|r| {
            let reason = [r.status.as_deref(), r.diagnostic.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let reason = if reason.is_empty() {
                mail.class.reason.clone()
            } else {
                reason
            };
            (r.address.clone(), crate::mail::sanitize_line(&reason))
        })
        .collect();
    if out.is_empty() {
        if let Some(o) = &mail.class.original {
            if let [one] = o.to.as_slice() {
                out.push((one.clone(), mail.class.reason.clone()));
            }
        }
    }
    out.truncate(MAX_BOUNCE_RECIPIENTS);
    out
}

/// At most this many addresses of one report are marked bouncing.
pub const MAX_BOUNCE_RECIPIENTS: usize = 20;

/// What a class of machines' mail is called in notes and logs.
fn what(mail: &InboundMail) -> &'static str {
    match mail.class.class {
        MailClass::DeliveryReport => match mail.class.bounce.as_ref().map(|b| b.outcome) {
            Some(DeliveryOutcome::Delayed) => "a delivery delay warning",
            Some(DeliveryOutcome::Delivered) => "a delivery notice",
            _ => "a bounce",
        },
        MailClass::AutoReply => "an auto-reply",
        MailClass::ReadReceipt => "a read receipt",
        MailClass::FeedbackReport => "an abuse/feedback report",
        MailClass::ChallengeResponse => "a challenge-response request (never answered)",
        MailClass::List => "list or bulk mail",
        MailClass::OwnMail => "our own mail come back",
        MailClass::Person => "a person's mail",
    }
}

/// Turn the threaded plan into what machines' mail does. Returns false
/// when the mail is a person's (or list mail that makes a ticket) and the
/// ordinary handling goes on.
pub fn handle(plan: &mut Plan, f: &Facts, mail: &InboundMail, mailbox: &MailboxConfig) -> bool {
    let class = mail.class.class;
    match class {
        MailClass::Person | MailClass::OwnMail => return false,
        MailClass::List => {
            let new = matches!(plan.disposition, Disposition::NewTicket { .. });
            if new && mailbox.list_policy == ListPolicy::Ignore {
                let why = format!(
                    "list or bulk mail ({}): stored and ignored (mailbox {} list_policy = \"ignore\")",
                    mail.class.reason, mailbox.name
                );
                plan.note("machines", why.clone());
                plan.disposition = Disposition::Ignore { reason: why };
            } else {
                plan.note(
                    "machines",
                    "list or bulk mail: handled as mail, without an auto-reply or an agents' alert",
                );
            }
            return plan.disposition.is_ignore();
        }
        _ => {}
    }
    let what = what(mail);
    // The report's own reference to our mail comes first; a tag or
    // Message-ID on the report itself next.
    let found = f
        .original
        .as_ref()
        .map(|o| (o.ticket.clone(), o.by.clone()))
        .or_else(|| {
            f.thread
                .as_ref()
                .map(|t| (t.ticket.clone(), "the ticket it threads to".to_string()))
        });
    let Some((ticket, by)) = found else {
        let why = format!(
            "{what} matching no ticket ({}): stored and ignored, never a ticket",
            mail.class.reason
        );
        plan.note("machines", why.clone());
        plan.disposition = Disposition::Ignore { reason: why };
        return true;
    };
    let reason = format!(
        "{what} on ticket {} (found by {by}): an internal note that changes nothing",
        ticket.number
    );
    plan.note("machines", reason.clone());
    let mut notes = vec![format!("{what} ({}), found by {by}", mail.class.reason)];
    if let Some(b) = &mail.class.bounce {
        if b.outcome == DeliveryOutcome::Delayed {
            notes.push("delivery is only delayed: the address is not marked bouncing".into());
        }
    }
    for (address, why) in failed_recipients(mail) {
        let starts = !f.already_bouncing.contains(&address);
        let said = if starts {
            format!("{address} is now bouncing ({why}): later mail to it is held")
        } else {
            format!("{address} bounced again ({why})")
        };
        plan.note("bounce", said.clone());
        notes.push(said);
        plan.bounces.push(BounceMark {
            address,
            reason: why,
            starts,
        });
    }
    plan.ticket = Some(unchanged(&ticket));
    plan.article = Some(ArticlePlan {
        kind: "machine",
        // Its Message-ID proves nothing: machines' mail grants no right.
        trusted: false,
        unverified: None,
        notes,
        internal: true,
    });
    plan.participants.clear();
    plan.disposition = Disposition::Note { ticket, reason };
    true
}

/// A ticket's fields, left as they are.
fn unchanged(t: &TicketRef) -> TicketPlan {
    TicketPlan {
        subject: t.subject.clone(),
        queue: t.queue.clone(),
        // As stored, even a state no longer configured: a note changes
        // nothing (apply never writes a note's state).
        state: t.state.clone(),
        followed_from: None,
        language: t.language.clone(),
        classification: Classification {
            urgency: t.urgency,
            impact: t.impact,
            priority: t.priority,
            priority_explicit: t.priority_explicit,
        },
        ticket_type: t.ticket_type.as_deref().and_then(|x| x.parse().ok()),
        service: t.service.clone(),
        category: t.category.clone(),
        // Tags are only ever added (through `Plan::changes`), so a note
        // leaves them as they are.
        tags: Default::default(),
    }
}

/// The first cap that `times` (automatic mail already queued, any order)
/// reaches at `now`, as the reason to send nothing more; `whom` names the
/// address or ticket.
pub fn loop_cap(
    caps: &[LoopCap],
    times: &[DateTime<Utc>],
    now: DateTime<Utc>,
    whom: &str,
) -> Option<String> {
    caps.iter().find_map(|c| {
        let since = now - chrono::Duration::seconds(c.window_secs);
        let n = times.iter().filter(|t| **t >= since).count();
        (n >= c.max as usize).then(|| {
            format!(
                "loop cap {} reached: {n} automatic mails to {whom} within the window (system.loop_caps)",
                c.text
            )
        })
    })
}

impl Disposition {
    fn is_ignore(&self) -> bool {
        matches!(self, Disposition::Ignore { .. })
    }
}

#[cfg(test)]
#[path = "machines_tests.rs"]
mod tests;
