//! Agents' powers in the decide stage (issue 11, items 3 and 4; issue 8,
//! item 6): an agent's mail on a ticket becomes a reply relayed to the
//! customers, or an internal note to the other agents — but only when the
//! sender is an active agent with rw on the ticket's queue group AND the
//! mail proves it ([`crate::auth::agent_powers`]: our MTA's aligned
//! Authentication-Results, or a valid reply token for this ticket).
//! Otherwise the mail is handled as before (a follow-up without powers),
//! the article says why, and `explain` shows the decision.
//!
//! Pure, like [`super::decide`], which calls [`gate`] while threading,
//! [`draft`] once the follow-up is drafted and `notifications` in place
//! of the usual ones. The facts it needs ([`TicketFacts`]) are read by
//! [`super::facts`]; the apply stage renders what [`AgentPlan`] says.

use serde::Serialize;

use super::decide::Settings;
use super::facts::{Facts, Thread};
use super::permit;
use super::plan::{Disposition, Notification, Plan};
use super::standing::Standing;
use crate::auth::{self, PowerDecision};
use crate::commands::{self, Command};
use crate::directory::permission::Member;
use crate::mail::InboundMail;
use crate::notify::Kind;
use crate::tickets::history::{ActorKind, Change};

/// What the store says about a ticket that an agent's mail needs (read by
/// the facts stage for every threaded mail: three indexed reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TicketFacts {
    /// The ticket's participants as (address, role): who a reply reaches.
    pub people: Vec<(String, String)>,
    /// The customers' Message-IDs on the ticket, oldest first: what a
    /// relayed reply threads to (In-Reply-To the last, References all).
    pub customer_ids: Vec<String>,
    /// The agent the ticket is assigned to (directory name), if any.
    pub assigned_agent: Option<String>,
}

/// An agent's mail on a ticket: who, whether they have powers and why,
/// and what the mail does with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentPlan {
    /// The agent's name in the directory.
    pub name: String,
    /// The name the relayed mail shows ("… via Support"): the mail's
    /// display name, else the directory name.
    pub display_name: String,
    pub powers: PowerDecision,
    /// What the mail does (None: no powers).
    pub action: Option<AgentAction>,
    /// What its commands did (`process::commands`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commands: Option<super::commands::CommandsPlan>,
}

/// What an empowered agent's mail does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "as", rename_all = "snake_case")]
pub enum AgentAction {
    /// Relayed to the requesters and observers.
    Reply {
        /// The new text without quoted history and command lines.
        text: String,
        /// The customer's last mail on the ticket.
        in_reply_to: Option<String>,
        references: Vec<String>,
    },
    /// Internal: to the ticket's other agents only.
    Note {
        text: String,
        /// What made it a note (the comment address, `#note`).
        why: String,
    },
}

impl AgentAction {
    pub fn text(&self) -> &str {
        match self {
            AgentAction::Reply { text, .. } | AgentAction::Note { text, .. } => text,
        }
    }
}

/// **The gate.** Given the standing the threading and the directory gave
/// the mail, decide whether its sender gets agent powers on ticket `t`.
/// Returns the standing to go on with: [`Standing::AgentWithPowers`] when
/// granted, else the one given (the mail is handled as before).
pub fn gate(
    plan: &mut Plan,
    standing: Standing,
    t: &Thread,
    f: &Facts,
    mail: &InboundMail,
) -> Standing {
    let operator = f.commands.as_ref().and_then(|c| c.operator.as_ref());
    let trusted = operator.filter(|o| o.as_agent.is_none()).map(|_| Member {
        name: super::commands::OPERATOR.to_string(),
        active: true,
        rw: t.directory.queue_group.iter().cloned().collect(),
        ro: Vec::new(),
    });
    let Some(agent) = trusted.as_ref().or(f.directory.sender.agent.as_ref()) else {
        return standing;
    };
    let group = t.directory.queue_group.as_deref();
    let refused = if !agent.active {
        Some(format!("agent {} is inactive", agent.name))
    } else if trusted.is_none() && !group.is_some_and(|g| agent.rw.iter().any(|x| x == g)) {
        Some(format!(
            "agent {} has no rw on the queue's group ({})",
            agent.name,
            group.unwrap_or("the queue has none")
        ))
    } else {
        (mail.automatic.as_ref())
            .map(|a| format!("automatic mail ({}) carries no agent powers", a.0))
    };
    let powers = match refused {
        Some(reason) => PowerDecision {
            granted: false,
            reason,
        },
        // The directory matched the From to this agent: it is the one
        // agent address the decision needs.
        // An operator on the command line (`postdesk ticket …`): the
        // machine's account proves who acts; rights are still checked.
        None if operator.is_some() => PowerDecision {
            granted: true,
            reason: match operator.and_then(|o| o.as_agent.as_deref()) {
                Some(a) => format!(
                    "operator's `postdesk {}` as agent {a}",
                    operator.map_or("", |o| o.command)
                ),
                None => format!(
                    "operator's `postdesk {}`",
                    operator.map_or("", |o| o.command)
                ),
            },
        },
        None => auth::agent_powers(
            &f.authenticity,
            &mail.from.address,
            Some(&t.ticket.number),
            std::slice::from_ref(&mail.from.address),
        ),
    };
    let granted = powers.granted;
    plan.note(
        "agent_powers",
        if granted {
            format!("granted: {}", powers.reason)
        } else {
            format!(
                "refused: {}; handled as an ordinary follow-up, nothing relayed",
                powers.reason
            )
        },
    );
    plan.agent = Some(AgentPlan {
        name: agent.name.clone(),
        display_name: mail
            .from
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| agent.name.clone()),
        powers,
        action: None,
        commands: None,
    });
    if granted {
        Standing::AgentWithPowers
    } else {
        standing
    }
}

/// The follow-up of an empowered agent: a reply or an internal note, the
/// ticket opened when still new, and assigned to a replying agent when it
/// has nobody. A refused agent's article carries the reason.
pub fn draft(plan: &mut Plan, f: &Facts, mail: &InboundMail, s: &Settings) {
    let (Some(t), Some(agent)) = (&f.thread, plan.agent.clone()) else {
        return;
    };
    if !agent.powers.granted {
        if let Some(a) = plan.article.as_mut() {
            a.notes
                .push(format!("no agent powers: {}", agent.powers.reason));
            let base = a.unverified.take().unwrap_or_default();
            a.unverified = Some(format!(
                "{base}{}agent powers refused: {}",
                if base.is_empty() { "" } else { "; " },
                agent.powers.reason
            ));
        }
        return;
    }
    let parsed = commands::parse(&mail.subject, mail.new_text());
    let text = parsed.rest.trim().to_string();
    let comment = permit::comment_address(&t.ticket.queue, &f.directory).filter(|c| {
        mail.to
            .iter()
            .chain(&mail.cc)
            .any(|m| m.address.eq_ignore_ascii_case(c))
            || mail.delivered_to.iter().any(|d| d.eq_ignore_ascii_case(c))
    });
    // `#note` anywhere in the command block: the text must never reach
    // a customer by a misplaced line.
    let first_is_note = parsed.commands.iter().any(|c| c.command == Command::Note);
    let note_why = match (comment, first_is_note) {
        (Some(c), _) => Some(format!("sent to the queue's comment address {c}")),
        (None, true) => Some("a command line is #note".to_string()),
        (None, false) => None,
    };
    let action = match note_why {
        Some(why) => AgentAction::Note { text, why },
        None => AgentAction::Reply {
            text,
            in_reply_to: t.agent.customer_ids.last().cloned(),
            references: t.agent.customer_ids.clone(),
        },
    };
    let is_note = matches!(action, AgentAction::Note { .. });
    if let Some(a) = plan.article.as_mut() {
        a.kind = if is_note { "agent_note" } else { "agent_reply" };
        a.internal = is_note;
        a.unverified = None;
    }
    plan.note(
        "agent",
        match &action {
            AgentAction::Note { why, .. } => format!("internal note by {}: {why}", agent.name),
            AgentAction::Reply { .. } => format!("reply by {} to the customers", agent.name),
        },
    );
    let mut changes = Vec::new();
    let by = |field, old: Option<String>, new: String| Change {
        actor_kind: ActorKind::Agent,
        actor: agent.name.clone(),
        field,
        old,
        new: Some(new),
    };
    if let Some(ticket) = plan.ticket.as_mut() {
        let opened = (s.config.lifecycle).on_agent_action(&ticket.state);
        if let Some(to) = opened.filter(|to| to.name != ticket.state) {
            plan.trace.push(super::plan::Decision {
                step: "state",
                said: format!("{} → {}: an agent's first action", ticket.state, to.name),
            });
            changes.push(by("state", Some(ticket.state.clone()), to.name.clone()));
            ticket.state = to.name.clone();
        }
    }
    let switch = s
        .config
        .queue(&t.ticket.queue)
        .is_none_or(|q| q.assign_on_agent_reply);
    if !is_note && t.agent.assigned_agent.is_none() && plan.assign.agent.is_none() {
        if switch {
            plan.note(
                "assign",
                format!("unassigned: assigned to {}, who answered", agent.name),
            );
            plan.assign.agent = Some(agent.name.clone());
            changes.push(by("agent", None, agent.name.clone()));
        } else {
            plan.note(
                "assign",
                format!(
                    "unassigned, and queue {} does not assign to the answering agent \
                     (assign_on_agent_reply = false)",
                    t.ticket.queue
                ),
            );
        }
    }
    plan.changes.extend(changes);
    if let Some(a) = plan.agent.as_mut() {
        a.action = Some(action);
    }
}

/// The mail an empowered agent's reply or note sends, instead of the
/// usual notifications (no auto-reply, no agents' alert). Returns false
/// when the plan is not an empowered agent's, for the usual ones.
pub(super) fn notifications(plan: &mut Plan, f: &Facts, mail: &InboundMail, s: &Settings) -> bool {
    let (Some(ticket), Some(action)) = (
        plan.ticket.clone(),
        plan.agent.as_ref().and_then(|a| a.action.clone()),
    ) else {
        return false;
    };
    let Disposition::FollowUp { ticket: before, .. } = &plan.disposition else {
        return false;
    };
    let Some(from_mailbox) = (s.config.mailboxes.iter())
        .find(|m| m.address == before.support_address)
        .or_else(|| {
            plan.route
                .mailbox
                .as_deref()
                .and_then(|n| s.config.mailbox(n))
        })
    else {
        plan.note("agent", "no mailbox sends for this ticket: nothing relayed");
        return true;
    };
    let author = mail.from.address.to_lowercase();
    plan.note(
        "auto_reply",
        "an agent's mail gets no auto-reply and alerts no agents",
    );
    let (kind, to, nobody) = match &action {
        AgentAction::Reply { text, .. } => {
            // The ticket's people as the mail's commands leave them
            // (`#cc add|remove`).
            let removed = (plan.agent.as_ref())
                .and_then(|a| a.commands.as_ref())
                .map(|c| c.remove_observers.clone())
                .unwrap_or_default();
            let added = (plan.participants.iter()).map(|p| (p.address.clone(), p.role.to_string()));
            let mut to: Vec<String> = Vec::new();
            for (a, role) in f
                .thread
                .iter()
                .flat_map(|t| t.agent.people.clone())
                .chain(added)
            {
                if matches!(role.as_str(), "requester" | "observer" | "cc")
                    && a.to_lowercase() != author
                    && !s.own.contains(&a)
                    && !removed.contains(&a.to_lowercase())
                    && !to.iter().any(|x| x.eq_ignore_ascii_case(&a))
                {
                    to.push(a);
                }
            }
            let nobody = if text.is_empty() {
                Some("the reply has no text of its own (commands or quotes only): nothing relayed")
            } else if to.is_empty() {
                Some("the ticket has no requester or observer to relay the reply to")
            } else {
                None
            };
            (Kind::AgentReply, to, nobody)
        }
        AgentAction::Note { .. } => {
            let to: Vec<String> = match permit::agents_to(&ticket.queue, &f.directory) {
                Some((to, _)) => to,
                None => (s.config.queue(&ticket.queue))
                    .and_then(|q| q.agents_address.clone())
                    .into_iter()
                    .collect(),
            };
            let to: Vec<String> = to
                .into_iter()
                .filter(|a| a.to_lowercase() != author)
                .collect();
            let nobody = to
                .is_empty()
                .then_some("no other agent of the queue to send the note to");
            (Kind::AgentNote, to, nobody)
        }
    };
    plan.note(
        "agent",
        match nobody {
            Some(why) => why.to_string(),
            None => format!("{} to {}", kind.name(), to.join(", ")),
        },
    );
    plan.notifications.push(Notification {
        kind,
        template: None,
        to,
        from_mailbox: from_mailbox.name.clone(),
        language: ticket.language.clone(),
        suppressed: nobody.map(str::to_string),
        held: None,
        note_if_suppressed: true,
        is_agents_alert: false,
    });
    true
}

#[cfg(test)]
#[path = "agent_tests.rs"]
pub(crate) mod tests;
