//! The lifecycle in the decide stage (issue 11, items 2 and 3): what a
//! customer's reply does to the state of the ticket it answers (a pending
//! ticket opens; a closed one follows its queue's `reply_to_closed`
//! policy: reopen, a new ticket that follows the closed one, or a
//! templated refusal), and the mail telling the customers that an agent,
//! a command or the scheduler changed the state ("state changed", or
//! "resolved — please confirm, or reply to reopen").
//!
//! Pure, like [`super::decide`]: the questions go to
//! `s.config.lifecycle` ([`crate::tickets::lifecycle::Lifecycle`]), the
//! answers are plan edits, notes in the trace and history rows
//! ([`Change`]). The scheduler's own planning is in [`super::scheduled`].

use super::decide::Settings;
use super::facts::Facts;
use super::plan::{Disposition, Notification, Plan, Refusal};
use super::standing::Standing;
use crate::config::Mailbox as MailboxConfig;
use crate::mail::InboundMail;
use crate::notify::Kind;
use crate::store::records::TicketRef;
use crate::tickets::history::{ActorKind, Change};
use crate::tickets::lifecycle::{Category, CustomerReply, ReplyToClosed};

/// The actor named in the history of the moves postdesk makes itself.
pub const ACTOR: &str = "lifecycle";

/// What the closed-ticket policy made of a customer's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Closed {
    /// Nothing: handle the mail as a follow-up.
    No,
    /// The plan is a refusal, complete.
    Refused,
    /// The plan is now a new ticket that follows this (closed) one.
    NewTicket(String),
}

/// Whether `standing` and `mail` make a customer's reply that may move
/// the state (a person's mail from the ticket's customers).
fn moves_state(standing: Standing, mail: &InboundMail) -> bool {
    standing.is_customer_reply() && mail.automatic.is_none()
}

/// **The closed-ticket policy.** A customer's reply to a ticket in a
/// closed state, in a queue whose `reply_to_closed` is `new_ticket` or
/// `refuse`: the plan becomes a new ticket or a refusal (the policy
/// `reopen` is a state move, made by [`customer_reply`]).
pub(super) fn closed_policy(
    plan: &mut Plan,
    f: &Facts,
    mail: &InboundMail,
    mailbox: &MailboxConfig,
    s: &Settings,
) -> Closed {
    let Disposition::FollowUp { ticket, standing } = plan.disposition.clone() else {
        return Closed::No;
    };
    if !moves_state(standing, mail) {
        return Closed::No;
    }
    match s
        .config
        .lifecycle
        .on_customer_reply(&ticket.queue, &ticket.state)
    {
        CustomerReply::NewTicket { reason } => {
            plan.note(
                "lifecycle",
                format!(
                    "{reason}: the reply opens a new ticket that follows {}",
                    ticket.number
                ),
            );
            plan.disposition = Disposition::NewTicket { quoted: None };
            Closed::NewTicket(ticket.number)
        }
        CustomerReply::Refuse { reason } => {
            plan.note(
                "lifecycle",
                format!("{reason}: the reply is refused, the ticket is untouched"),
            );
            let queue = ticket.queue.clone();
            let from_mailbox = (s.config.mailboxes.iter())
                .find(|m| m.address == ticket.support_address)
                .unwrap_or(mailbox);
            let n = refusal(f, mail, from_mailbox, &ticket, s);
            plan.disposition = Disposition::Refuse {
                why: Refusal::ClosedTicket,
                queue,
                quoted: Some(ticket),
            };
            plan.ticket = None;
            plan.article = None;
            plan.participants.clear();
            plan.new_customer_user = None;
            plan.note("rules", "not evaluated: the mail was refused");
            plan.note(
                "refusal",
                match (&n.suppressed, &n.held) {
                    (Some(why), _) => format!("no refusal sent: {why}"),
                    (None, Some(why)) => format!("refusal queued but held: {why}"),
                    (None, None) => format!("follow_up_refused to {}", n.to.join(", ")),
                },
            );
            plan.notifications.push(n);
            Closed::Refused
        }
        CustomerReply::Stay | CustomerReply::Move { .. } => Closed::No,
    }
}

/// The new ticket a customer's reply to closed ticket `old` opened
/// follows it: a `follow_up` link to the old ticket (written by the
/// apply stage), and a history row.
pub(super) fn follows(plan: &mut Plan, old: String) {
    let Some(t) = plan.ticket.as_mut() else {
        return;
    };
    t.followed_from = Some(old.clone());
    plan.changes.push(Change {
        actor_kind: ActorKind::System,
        actor: ACTOR.into(),
        field: "followed_from",
        old: None,
        new: Some(old),
    });
}

/// The refusal of a reply to a closed ticket, or why none is sent: never
/// to machines or our own addresses, and under the loop caps.
fn refusal(
    f: &Facts,
    mail: &InboundMail,
    mailbox: &MailboxConfig,
    ticket: &TicketRef,
    s: &Settings,
) -> Notification {
    let from = &mail.from.address;
    let skip = super::refuse::why_no_refusal(f, mail, s);
    Notification {
        kind: Kind::FollowUpRefused,
        template: None,
        to: vec![from.clone()],
        from_mailbox: mailbox.name.clone(),
        language: ticket.language.clone(),
        held: skip.is_none().then(|| f.sender_bouncing.clone()).flatten(),
        suppressed: skip,
        note_if_suppressed: false,
        is_agents_alert: false,
    }
}

/// **A customer's reply and the state.** The state the ticket takes when
/// `mail` follows it up with `standing`: a pending ticket opens again, a
/// closed one reopens (queue policy `reopen`), others stay. The move is
/// noted and recorded in the history (actor kind `system`).
pub(super) fn customer_reply(
    plan: &mut Plan,
    ticket: &TicketRef,
    standing: Standing,
    mail: &InboundMail,
    s: &Settings,
) -> String {
    let lc = &s.config.lifecycle;
    if lc.get(&ticket.state).is_none() {
        plan.note(
            "lifecycle",
            format!(
                "ticket {} is in state {:?}, which [lifecycle] no longer lists: \
                 kept readable; a customer's reply reopens it",
                ticket.number, ticket.state
            ),
        );
    }
    if !moves_state(standing, mail) {
        return ticket.state.clone();
    }
    match lc.on_customer_reply(&ticket.queue, &ticket.state) {
        CustomerReply::Move { to, reason } if to != ticket.state => {
            plan.note("state", format!("{} → {to}: {reason}", ticket.state));
            plan.changes.push(Change {
                actor_kind: ActorKind::System,
                actor: ACTOR.into(),
                field: "state",
                old: Some(ticket.state.clone()),
                new: Some(to.clone()),
            });
            to
        }
        _ => ticket.state.clone(),
    }
}

/// **State-change mail.** When the plan leaves a followed-up ticket in
/// another state than it found it, by an agent, a command or the
/// scheduler (not a customer's own reply, not the automatic opening on an
/// agent's first action): tell the ticket's requesters and observers —
/// `resolved` for the state the scheduler validates from (when the
/// queue's `reply_to_closed` is `reopen`, as that mail says), else
/// `state_changed`. `people` are the ticket's participants as (address,
/// role); `automatic_on_ticket` the automatic mail the loop caps count.
pub fn state_notice(
    plan: &mut Plan,
    before: &TicketRef,
    people: &[(String, String)],
    automatic_on_ticket: &[chrono::DateTime<chrono::Utc>],
    now: chrono::DateTime<chrono::Utc>,
    s: &Settings,
) {
    let Some(after) = plan.ticket.clone() else {
        return;
    };
    let by = plan
        .changes
        .iter()
        .rev()
        .find(|c| c.field == "state" && c.new.as_deref() == Some(after.state.as_str()));
    let Some(by) = by.map(|c| c.actor_kind) else {
        return;
    };
    let moved = Moved {
        before,
        to: &after.state,
        language: &after.language,
        by,
    };
    if let Some((n, said)) = notice_of(&moved, people, automatic_on_ticket, now, s) {
        plan.note("lifecycle", said);
        plan.notifications.push(n);
    }
}

/// A state move: the ticket before it, the state after, the ticket's
/// language and who made it.
pub struct Moved<'a> {
    pub before: &'a TicketRef,
    pub to: &'a str,
    pub language: &'a str,
    pub by: ActorKind,
}

/// The customers' mail a move sends (or why it is held back) and the line
/// saying so; None when the move tells nobody.
pub fn notice_of(
    m: &Moved,
    people: &[(String, String)],
    automatic_on_ticket: &[chrono::DateTime<chrono::Utc>],
    now: chrono::DateTime<chrono::Utc>,
    s: &Settings,
) -> Option<(Notification, String)> {
    let before = m.before;
    if m.to == before.state {
        return None;
    }
    let lc = &s.config.lifecycle;
    let automatic_open = lc
        .get(&before.state)
        .is_some_and(|d| d.category == Category::New)
        && lc.on_agent_action(&before.state).map(|d| d.name.as_str()) == Some(m.to);
    let by_person_or_scheduler = matches!(
        m.by,
        ActorKind::Agent | ActorKind::Command | ActorKind::Scheduler
    );
    if !by_person_or_scheduler || automatic_open {
        return None;
    }
    // "Resolved: confirm, or reply to reopen" only where a reply reopens.
    let reopens = lc.policy(&before.queue).reply_to_closed == ReplyToClosed::Reopen;
    let kind = if m.to == lc.validate_from() && reopens {
        Kind::Resolved
    } else {
        Kind::StateChanged
    };
    let mailbox = (s.config.mailboxes.iter())
        .find(|mb| mb.address == before.support_address)
        .or_else(|| s.config.mailboxes.first())?;
    let to: Vec<String> = people
        .iter()
        .filter(|(a, role)| {
            matches!(role.as_str(), "requester" | "observer" | "cc") && !s.own.contains(a)
        })
        .map(|(a, _)| a.clone())
        .collect();
    let suppressed = if to.is_empty() {
        Some("the ticket has no requester or observer to tell".to_string())
    } else {
        super::machines::loop_cap(
            &s.config.system.loop_caps,
            automatic_on_ticket,
            now,
            &format!("ticket {}", before.number),
        )
    };
    let said = match &suppressed {
        Some(why) => format!("no {} mail: {why}", kind.name()),
        None => format!(
            "{} → {}: {} to {}",
            before.state,
            m.to,
            kind.name(),
            to.join(", ")
        ),
    };
    let n = Notification {
        kind,
        template: None,
        to,
        from_mailbox: mailbox.name.clone(),
        language: m.language.to_string(),
        suppressed,
        held: None,
        note_if_suppressed: true,
        is_agents_alert: false,
    };
    Some((n, said))
}

/// [`state_notice`] for a plan made from a mail: the ticket as the
/// threading found it, its people and counters from the facts.
pub(super) fn mail_state_notice(plan: &mut Plan, f: &Facts, s: &Settings) {
    let (Disposition::FollowUp { ticket, .. }, Some(t)) = (plan.disposition.clone(), &f.thread)
    else {
        return;
    };
    state_notice(
        plan,
        &ticket,
        &t.agent.people,
        &f.automatic_on_ticket,
        f.received_at,
        s,
    );
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
