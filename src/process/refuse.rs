//! Templated refusals in the decide stage (issue 8, items 3 and 5): a
//! queue may turn away someone who quotes a ticket they have no right to
//! (`strangers = "refuse"`) or a new ticket's sender the directory does
//! not know (`unknown_senders = "refuse"`). The plan then makes no ticket
//! and no article: its disposition is [`Disposition::Refuse`] and its one
//! notification the refusal to the sender — or the reason none is sent:
//! machines' mail (auto-replies, bounces, lists) and our own addresses
//! never get one, and the loop caps per address count refusals like any
//! automatic mail, so a robot cannot make us answer forever. Pure, like
//! the rest of [`super::decide`]; the apply stage stores the mail, the
//! refusal record and its outbox row.

use super::decide::Settings;
use super::facts::Facts;
use super::plan::{Disposition, Notification, Plan};
use crate::config::Mailbox as MailboxConfig;
use crate::directory::{Strangers, UnknownSenders};
use crate::mail::{InboundMail, MailClass};
use crate::notify::Kind;
use serde::Serialize;

/// Why a mail is refused (what the refusal template says, in plain words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Not a known customer (`unknown_senders = "refuse"`).
    UnknownSender,
    /// No right to the ticket the mail names (`strangers = "refuse"`).
    NoRight,
    /// A reply to a closed ticket (`reply_to_closed = "refuse"`).
    ClosedTicket,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownSender => "unknown_sender",
            Refusal::NoRight => "no_right",
            Refusal::ClosedTicket => "follow_up_refused",
        }
    }
}

/// Turn the threaded plan into a refusal when the queue's policy says so.
/// Returns whether it did (the plan is then complete: no rules, no other
/// notification). Machines' mail is set apart before (`machines::handle`).
pub(super) fn decide(
    plan: &mut Plan,
    f: &Facts,
    mail: &InboundMail,
    mailbox: &MailboxConfig,
    s: &Settings,
) -> bool {
    let from = mail.from.address.as_str();
    let (why, queue, quoted) = match plan.disposition.clone() {
        Disposition::FollowUp { ticket, standing }
            if standing.is_stranger()
                && f.thread
                    .as_ref()
                    .is_some_and(|t| t.directory.strangers == Strangers::Refuse) =>
        {
            plan.note(
                "refusal",
                format!(
                    "{from} has no right to ticket {}: refused, the ticket is untouched \
                     (queue {} strangers = \"refuse\")",
                    ticket.number, ticket.queue
                ),
            );
            (Refusal::NoRight, ticket.queue.clone(), Some(ticket))
        }
        Disposition::NewTicket { .. } if unknown_refused(f, &mailbox.queue) => {
            plan.note(
                "refusal",
                format!(
                    "{from} is neither a customer user nor an agent: refused, no ticket \
                     (queue {} unknown_senders = \"refuse\")",
                    mailbox.queue
                ),
            );
            (Refusal::UnknownSender, mailbox.queue.clone(), None)
        }
        _ => return false,
    };
    plan.disposition = Disposition::Refuse { why, queue, quoted };
    plan.ticket = None;
    plan.article = None;
    plan.participants.clear();
    plan.new_customer_user = None;
    plan.note("rules", "not evaluated: the mail was refused");
    let n = notice(f, mail, mailbox, s, plan);
    plan.notifications.push(n);
    true
}

/// A new ticket's sender that queue `queue` refuses: the directory manages
/// the queue, refuses unknown senders, and knows the sender as neither an
/// agent nor an active customer user.
fn unknown_refused(f: &Facts, queue: &str) -> bool {
    let d = &f.directory;
    let refuses = d
        .queue(queue)
        .is_some_and(|q| q.unknown_senders == UnknownSenders::Refuse);
    let known =
        d.sender.agent.is_some() || d.sender.customer_user.as_ref().is_some_and(|u| u.active);
    refuses && !known
}

/// Why a refusal would not go to the sender of `mail`: automatic mail,
/// machines and our own addresses get none, and the loop caps hold.
/// None: it goes.
pub(super) fn why_no_refusal(f: &Facts, mail: &InboundMail, s: &Settings) -> Option<String> {
    let from = &mail.from.address;
    if let Some(a) = &mail.automatic {
        Some(format!("automatic mail ({}): machines get no refusal", a.0))
    } else if s.own.contains(from) {
        Some("sender is one of our own addresses".into())
    } else if mail.class.class != MailClass::Person {
        Some(format!("{}: machines get no refusal", mail.class.reason))
    } else {
        super::machines::loop_cap(
            &s.config.system.loop_caps,
            &f.automatic_to_sender,
            f.received_at,
            from,
        )
    }
}

/// The refusal to the sender, or why it is held back.
fn notice(
    f: &Facts,
    mail: &InboundMail,
    mailbox: &MailboxConfig,
    s: &Settings,
    plan: &mut Plan,
) -> Notification {
    let from = &mail.from.address;
    let skip = why_no_refusal(f, mail, s);
    let held = skip.is_none().then(|| f.sender_bouncing.clone()).flatten();
    let language = f
        .language_with_templates
        .as_deref()
        .or(mailbox.language.as_deref())
        .unwrap_or(&s.config.system.default_language)
        .to_string();
    plan.note(
        "refusal",
        match (&skip, &held) {
            (Some(why), _) => format!("no refusal sent: {why}"),
            (None, Some(why)) => format!("refusal queued but held: {why}"),
            (None, None) => format!("refusal to {from} ({language})"),
        },
    );
    Notification {
        kind: Kind::Refusal,
        template: None,
        to: vec![from.clone()],
        from_mailbox: mailbox.name.clone(),
        language,
        suppressed: skip,
        held,
        note_if_suppressed: false,
        is_agents_alert: false,
    }
}

#[cfg(test)]
#[path = "refuse_tests.rs"]
mod tests;
