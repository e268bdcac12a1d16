//! Forwarded mail (issue 11, item 6): an authenticated agent who forwards
//! a customer's mail to a support address — inline or attached, as
//! [`crate::mail::forward`] finds it — opens the ticket for the original
//! sender: the requester is the original From, the subject the original's,
//! the customer's article the original's text, attachments and Message-ID
//! (so the customer's later replies thread to it), and the agent's own
//! lines an internal note by the agent. `#new` or no ticket tag makes a new
//! ticket; a ticket tag adds the forward to that ticket (on a ticket, only
//! under a forward's subject prefix: an agent's reply quoting a forward
//! stays a reply). Without a tag, a ticket that already holds the
//! original's Message-ID takes the forward, so the customer's replies and
//! the forward meet on one ticket.
//!
//! Only an active agent with rw on the queue's group whose mail proves its
//! From ([`crate::auth::agent_powers`]; a reply token cannot exist for a
//! new ticket) is honoured. Anyone else's forward, an unproven agent's,
//! and an inline forward without a readable sender are ordinary mail, and
//! the trace says why: a forward never impersonates the quoted sender
//! unless an agent vouches for it.
//!
//! Whether the customer gets the new ticket's auto-reply is the queue's
//! `forward_auto_reply` (default on: like a phone ticket in OTRS, the
//! customer learns the ticket's number, so their answers carry its tag).
//! The forwarding agent never gets one. The ticket's history records the
//! forward (field `forwarded`, by the agent, new value the original
//! sender) on the ticket it makes or adds to.
//!
//! `handle` is pure and runs inside [`super::decide`]; [`gather`] is the
//! facts stage's part (the directory facts of the original sender, not
//! only of the From); [`original_mail`] is what the apply stage writes as
//! the customer's article.

use serde::Serialize;

use super::decide::Settings;
use super::facts::Facts;
use super::plan::{Disposition, Plan};
use super::standing::Standing;
use super::{agent::AgentPlan, permit};
use crate::auth::{self, PowerDecision};
use crate::commands::{self, Command};
use crate::config::Mailbox as MailboxConfig;
use crate::directory::permission::Member;
use crate::mail::forward::{has_forward_prefix, Style};
use crate::mail::{quote, InboundMail};
use crate::store::{records, Db, StoreError};
use crate::tickets::history::{ActorKind, Change};

/// What the store says about a forward's original sender.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ForwardFacts {
    /// The original's From (lower-case).
    pub original_from: String,
    /// The directory facts for that address, as for any sender.
    pub directory: permit::DirectoryFacts,
    /// The original's language (the customer's known one, else detected
    /// in its text), and the first with templates.
    pub language: Option<super::plan::LanguageChoice>,
    pub language_with_templates: Option<String>,
    /// The ticket that already holds the original's Message-ID (the
    /// customer wrote to us too, or it was forwarded before), as the
    /// thread facts of the original on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<super::facts::Thread>,
}

/// An honoured forward, as the plan carries it (`explain`, apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardPlan {
    /// The forwarding agent's name in the directory.
    pub agent: String,
    /// The agent's address (the internal note's author).
    pub agent_address: String,
    pub style: Style,
    /// The original's sender, who is the ticket's customer.
    pub original_from: String,
    pub original_message_id: Option<String>,
    pub original_date: Option<String>,
    /// The agent's own lines, stored as an internal note (None: nothing
    /// but the forward).
    pub note: Option<String>,
}

/// The facts stage's part: the directory facts of a forward's original
/// sender. Read only when the mail is an agent's and forwards a mail with
/// a readable sender (a few indexed reads).
pub fn gather(
    db: &Db,
    mail: &InboundMail,
    f: &Facts,
    l: &super::facts::Lookup,
) -> Result<Option<ForwardFacts>, StoreError> {
    let Some(original) = original_mail(mail) else {
        return Ok(None);
    };
    if f.directory.sender.agent.is_none() {
        return Ok(None);
    }
    let (language, language_with_templates) = super::machine_facts::language(db, &original, l)?;
    let mut known = None;
    if let Some(mid) = &original.message_id {
        if let Some(t) = records::ticket_by_message_ids(db, std::slice::from_ref(mid))? {
            let matched = super::facts::Match::MessageId {
                message_id: mid.clone(),
            };
            known = Some(super::facts::thread_to(db, t, matched, &original, f, l)?);
        }
    }
    Ok(Some(ForwardFacts {
        original_from: original.from.address.clone(),
        directory: permit::gather(db, &original.from.address, None)?,
        language,
        language_with_templates,
        known,
    }))
}

/// The customer's mail inside the forward, as an inbound mail of its own:
/// its sender, subject, Message-ID, text and attachments; routing and
/// header facts from the forward. None when `mail` forwards nothing
/// readable.
pub fn original_mail(mail: &InboundMail) -> Option<InboundMail> {
    let o = mail.forward.as_deref()?.original.as_ref().ok()?;
    Some(InboundMail {
        message_id: o.message_id.clone(),
        subject: o.subject.clone(),
        from: o.from.clone(),
        reply_to: None,
        to: mail.to.clone(),
        // The agent's Cc's are not the customer's.
        cc: Vec::new(),
        delivered_to: mail.delivered_to.clone(),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        quote_start: quote::new_part_end(&o.text),
        text: o.text.clone(),
        html: o.html.clone(),
        attachments: o.attachments.clone(),
        // The agent's client's Content-Language says nothing of the
        // customer's.
        language: None,
        class: mail.class.clone(),
        automatic: None,
        our_loop_marker: false,
        warnings: Vec::new(),
        headers: mail.headers.clone(),
        size: mail.size,
        forward: None,
    })
}

/// The forward's own part of the mail as the agent's note: its text and
/// the agent's own attachments, nothing of the original.
pub fn note_mail(mail: &InboundMail) -> Option<InboundMail> {
    let f = mail.forward.as_deref()?;
    Some(InboundMail {
        text: f.own_text.clone(),
        quote_start: None,
        html: None,
        attachments: f.own_attachments.clone(),
        forward: None,
        ..mail.clone()
    })
}

/// **The forward.** Called by [`super::decide`] once threading is known:
/// when `mail` is an empowered agent's forward with a readable sender,
/// returns the whole plan (new ticket or follow-up for the original
/// sender); otherwise notes why not and returns None (an ordinary mail).
pub(super) fn handle(
    plan: &mut Plan,
    f: &Facts,
    mail: &InboundMail,
    mailbox: &MailboxConfig,
    s: &Settings,
) -> Option<Plan> {
    let fwd = mail.forward.as_deref()?;
    let quoted = match &fwd.original {
        Ok(o) => o.from.address.clone(),
        Err(_) => "the quoted sender".into(),
    };
    let Some(agent) = &f.directory.sender.agent else {
        plan.note(
            "forward",
            format!(
                "forwards a mail ({}), but {} is no agent: an ordinary mail, {quoted} is not \
                 taken as its sender",
                fwd.style, mail.from.address
            ),
        );
        return None;
    };
    let wants_new = commands::parse(&mail.subject, &fwd.own_text)
        .commands
        .iter()
        .any(|c| c.command == Command::New);
    // Only the ticket tag in the subject adds a forward to a ticket.
    let tagged = f
        .thread
        .as_ref()
        .is_some_and(|t| matches!(t.matched, super::facts::Match::Tag { .. }));
    let target = match &plan.disposition {
        Disposition::FollowUp { ticket, .. } if tagged && !wants_new => Some(ticket.clone()),
        _ => None,
    };
    // Without a tag, the ticket already holding the original's
    // Message-ID (where the customer's replies thread) takes the forward.
    let known = (f.forward.as_ref())
        .and_then(|ff| ff.known.as_ref())
        .filter(|_| target.is_none() && !wants_new);
    // On a ticket, an agent's reply quotes history that may look like a
    // forward: only a forward's subject prefix makes it one there.
    if let Some(t) = target
        .as_ref()
        .filter(|_| !has_forward_prefix(&mail.subject))
    {
        plan.note(
            "forward",
            format!(
                "quotes a mail ({}), but its subject has no forward prefix (Fwd:, FW:, TR:, \
                 ENC:): handled as {}'s mail on ticket {}, not a forward",
                fwd.style, agent.name, t.number
            ),
        );
        return None;
    }
    // Powers: on a tagged ticket the gate has decided already (a reply
    // token for it counts); for a new ticket, decide here.
    let powers = match (&target, plan.agent.as_ref(), known) {
        (Some(_), Some(a), _) => a.powers.clone(),
        (Some(_), None, _) => refused(format!("{} has no powers on the ticket", agent.name)),
        (None, _, Some(k)) => new_ticket_powers(f, mail, &k.ticket.queue),
        (None, _, None) => new_ticket_powers(f, mail, &mailbox.queue),
    };
    if !powers.granted {
        plan.note(
            "forward",
            format!(
                "forward ({}) by {} not honoured: {}; an ordinary mail, {quoted} is not taken \
                 as its sender",
                fwd.style, agent.name, powers.reason
            ),
        );
        if target.is_none() && plan.agent.is_none() {
            plan.agent = Some(agent_plan(&agent.name, mail, powers));
        }
        return None;
    }
    honour(
        plan,
        f,
        mail,
        mailbox,
        s,
        Chosen {
            agent,
            target,
            known,
            wants_new,
            powers,
            released: false,
        },
    )
}

/// Where a quarantined forward goes and who vouches for it, when an
/// operator releases it (`quarantine release`, [`super::release`]): the
/// operator's ticket (`Some`) or a new one. The agent's powers are those
/// of a new ticket's forward (an active agent with rw on the queue's group
/// whose From is proven); on a ticket, only a mail under a forward's
/// subject prefix is a forward, as for any mail. None: not an honoured
/// forward, and `plan`'s trace says why; the caller goes on as for any
/// released mail.
pub(super) fn released(
    plan: &mut Plan,
    f: &Facts,
    mail: &InboundMail,
    mailbox: &MailboxConfig,
    s: &Settings,
    target: Option<records::TicketRef>,
) -> Option<Plan> {
    let fwd = mail.forward.as_deref()?;
    let Some(agent) = &f.directory.sender.agent else {
        plan.note(
            "forward",
            format!(
                "forwards a mail ({}), but {} is no agent: released as an ordinary mail",
                fwd.style, mail.from.address
            ),
        );
        return None;
    };
    if let Some(t) = target
        .as_ref()
        .filter(|_| !has_forward_prefix(&mail.subject))
    {
        plan.note(
            "forward",
            format!(
                "quotes a mail ({}), but its subject has no forward prefix: released as {}'s \
                 mail on ticket {}, not a forward",
                fwd.style, agent.name, t.number
            ),
        );
        return None;
    }
    let queue = target
        .as_ref()
        .map_or(mailbox.queue.as_str(), |t| t.queue.as_str());
    let powers = new_ticket_powers(f, mail, queue);
    if !powers.granted {
        plan.note(
            "forward",
            format!(
                "forward ({}) by {} not honoured: {}; released as an ordinary mail",
                fwd.style, agent.name, powers.reason
            ),
        );
        return None;
    }
    honour(
        plan,
        f,
        mail,
        mailbox,
        s,
        Chosen {
            agent,
            target,
            known: None,
            wants_new: false,
            powers,
            released: true,
        },
    )
}

/// What [`handle`] or [`released`] chose for an empowered agent's forward.
struct Chosen<'a> {
    agent: &'a Member,
    /// The ticket it is added to (tagged, or the operator's).
    target: Option<records::TicketRef>,
    /// Else the ticket already holding the original's Message-ID.
    known: Option<&'a super::facts::Thread>,
    wants_new: bool,
    powers: PowerDecision,
    /// An operator released it from quarantine.
    released: bool,
}

/// The plan of an honoured forward: the original's sender's ticket (new,
/// or `c`'s target or known one), the customer's article the original,
/// the agent's lines a note, the history row. None when the original has
/// no readable sender or its facts were not gathered (an ordinary mail).
fn honour(
    plan: &mut Plan,
    f: &Facts,
    mail: &InboundMail,
    mailbox: &MailboxConfig,
    s: &Settings,
    c: Chosen,
) -> Option<Plan> {
    let fwd = mail.forward.as_deref()?;
    let Chosen {
        agent,
        target,
        known,
        wants_new,
        powers,
        released,
    } = c;
    let original = match &fwd.original {
        Ok(o) => o,
        Err(why) => {
            plan.note(
                "forward",
                format!(
                    "forward by agent {} ({}): {why}; handled as the agent's ordinary mail",
                    agent.name, fwd.style
                ),
            );
            return None;
        }
    };
    // original_mail is Some whenever the original is readable.
    let orig = original_mail(mail)?;
    let Some(ff) = &f.forward else {
        plan.note(
            "forward",
            "the directory facts of the original sender were not gathered: an ordinary mail",
        );
        return None;
    };
    let mut f2 = f.clone();
    f2.directory = ff.directory.clone();
    f2.language = ff.language.clone();
    f2.language_with_templates = ff.language_with_templates.clone();
    let mut p = plan.clone();
    p.agent = None;
    p.language = ff.language.clone();
    let ticket_said = match (target, known) {
        (None, Some(k)) => {
            let said = format!(
                "added to ticket {}, which already holds the original's Message-ID",
                k.ticket.number
            );
            f2.thread = Some(k.clone());
            p.disposition = Disposition::FollowUp {
                ticket: k.ticket.clone(),
                standing: Standing::Answers,
            };
            said
        }
        (Some(ticket), _) => {
            let why = if released {
                "released into it by an operator"
            } else {
                "tagged in the subject"
            };
            let said = format!("added to ticket {} ({why})", ticket.number);
            p.disposition = Disposition::FollowUp {
                ticket,
                // The agent vouches for the customer's mail: it is theirs.
                standing: Standing::Answers,
            };
            said
        }
        (None, None) => {
            f2.thread = None;
            p.disposition = Disposition::NewTicket { quoted: None };
            let auto = s
                .config
                .queue(&mailbox.queue)
                .is_none_or(|q| q.forward_auto_reply);
            if !auto {
                p.auto_reply_suppressed = Some(format!(
                    "queue {}: the customer of a forwarded mail gets no auto-reply \
                     (forward_auto_reply = false)",
                    mailbox.queue
                ));
            }
            if released {
                "a new ticket (released by an operator)".to_string()
            } else if wants_new {
                "a new ticket (#new)".to_string()
            } else {
                "a new ticket (no ticket tag)".to_string()
            }
        }
    };
    p.note(
        "forward",
        format!(
            "forward by agent {} of {}'s mail ({}): {ticket_said}; {}",
            agent.name, original.from.address, fwd.style, powers.reason
        ),
    );
    let note = Some(fwd.own_text.clone()).filter(|t| !t.trim().is_empty());
    let mut p = super::decide::finish(p, &f2, &orig, mailbox, s, released, false);
    if let Some(a) = p.article.as_mut() {
        a.notes.push(format!(
            "forwarded by agent {} ({}{})",
            agent.name,
            fwd.style,
            original
                .date
                .as_deref()
                .map(|d| format!(", sent {d}"))
                .unwrap_or_default()
        ));
    }
    // The forwarding agent knows: their alert would tell them nothing.
    for n in p.notifications.iter_mut().filter(|n| n.is_agents_alert) {
        n.to.retain(|a| !a.eq_ignore_ascii_case(&mail.from.address));
        if n.to.is_empty() && n.suppressed.is_none() {
            n.suppressed = Some(format!(
                "the agents' alert would reach only {}, who forwarded the mail",
                agent.name
            ));
            n.note_if_suppressed = false;
        }
    }
    if p.makes_article() {
        // The ticket's history says who forwarded whose mail.
        p.changes.push(Change {
            actor_kind: ActorKind::Agent,
            actor: agent.name.clone(),
            field: "forwarded",
            old: None,
            new: Some(original.from.address.clone()),
        });
        p.forward = Some(ForwardPlan {
            agent: agent.name.clone(),
            agent_address: mail.from.address.clone(),
            style: fwd.style,
            original_from: original.from.address.clone(),
            original_message_id: original.message_id.clone(),
            original_date: original.date.clone(),
            note,
        });
    }
    Some(p)
}

/// Whether the sender may open a ticket for someone else in `queue`: an
/// active agent with rw on the queue's group whose From is proven (no
/// ticket, so no reply token).
fn new_ticket_powers(f: &Facts, mail: &InboundMail, queue: &str) -> PowerDecision {
    let Some(agent) = &f.directory.sender.agent else {
        return refused(format!("{} is no agent", mail.from.address));
    };
    let group = f.directory.queue(queue).and_then(|q| q.group.as_deref());
    if !agent.active {
        refused(format!("agent {} is inactive", agent.name))
    } else if !group.is_some_and(|g| agent.rw.iter().any(|x| x == g)) {
        refused(format!(
            "agent {} has no rw on queue {queue}'s group ({})",
            agent.name,
            group.unwrap_or("the queue has none")
        ))
    } else if let Some(a) = &mail.automatic {
        refused(format!("automatic mail ({}) carries no agent powers", a.0))
    } else {
        auth::agent_powers(
            &f.authenticity,
            &mail.from.address,
            None,
            std::slice::from_ref(&mail.from.address),
        )
    }
}

fn refused(reason: String) -> PowerDecision {
    PowerDecision {
        granted: false,
        reason,
    }
}

fn agent_plan(name: &str, mail: &InboundMail, powers: PowerDecision) -> AgentPlan {
    AgentPlan {
        name: name.to_string(),
        display_name: mail
            .from
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| name.to_string()),
        powers,
        action: None,
        commands: None,
    }
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
