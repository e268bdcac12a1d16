//! Relations between tickets (issue 11, items 7 and 8): merging a ticket
//! into another, links (parent/child, GLPI's problem and change ↔
//! incident, related) and transferring a ticket with its history to
//! another address or helpdesk.
//!
//! Pure, like [`super::decide`]: [`merge`], [`link`] (and [`unlink`]) and
//! [`transfer`] read the [`Facts`] (the other ticket, found by the facts
//! stage: [`gather`]) and add to the [`Plan`] — [`RelationPlan`] entries
//! the apply stage writes in the message's one transaction, history rows,
//! a state move, and the mail each sends ([`RelationPlan::Notice`]).
//! [`linked_resolved`] tells the incidents' requesters when their problem
//! or change is resolved. Commands by mail (`#merge`, `#link`,
//! `#transfer`, `#unlink`) and the CLI (`ticket merge|link|transfer`,
//! written as those commands through `Processor::operate`) both come here. Each returns the transcript line (Ok) or why it was
//! refused (Err), and refuses before changing anything.

pub(in crate::process) mod facts;
mod links;
mod resolved;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use facts::{gather, OtherLookup, OtherTicket, RelationFacts};
pub use resolved::linked_resolved;

use super::decide::Settings;
use super::facts::Facts;
use super::plan::Plan;
use crate::commands::LinkKind;
use crate::notify::Kind;
use crate::store::records::TicketRef;
use crate::tickets::history::{ActorKind, Change};
use crate::tickets::lifecycle::Role;

/// The name the CLI acts under without `--as`: the operator, who can
/// write the database anyway and needs no rights in the directory.
pub const OPERATOR: &str = "operator";

/// One ticket of a relation: its id and number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    #[serde(skip)]
    pub id: i64,
    pub number: String,
}

impl Side {
    fn of(t: &TicketRef) -> Side {
        Side {
            id: t.id,
            number: t.number.clone(),
        }
    }
}

/// What the apply stage writes for a relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum RelationPlan {
    /// Move `from`'s articles, Message-IDs and participants to `into` and
    /// mark `from` merged.
    Merge { from: Side, into: Side },
    /// Record (or remove) "`other` is `ticket`'s `kind`" (`parent`,
    /// `problem`, `change`, `related`: the stored direction).
    Link {
        ticket: Side,
        other: Side,
        kind: &'static str,
        remove: bool,
        by: String,
    },
    /// Make `address` a participant of role `transfer`: its answers to
    /// the transfer are accepted on the ticket.
    Transfer { ticket: Side, address: String },
    /// A history row on a ticket other than the plan's own.
    History { ticket: Side, change: Change },
    /// A mail a relation sends, rendered on `ticket`.
    Notice(Notice),
}

/// A mail a relation sends: which ticket it is rendered on (its tag and
/// number), to whom, and what it says besides the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub kind: Kind,
    pub ticket: Side,
    /// The other ticket's number (`other_ticket` in templates).
    pub other: String,
    pub to: Vec<String>,
    /// The mailbox it comes from (the ticket's support address's).
    pub from_mailbox: String,
    pub language: String,
    /// What the template shows as `article.text` (a transfer's history).
    pub text: String,
    /// The mail it answers, oldest first (In-Reply-To the last): a merged
    /// ticket's customers' mail, so the notice sits in their thread.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Held back, and why; None = sent.
    pub suppressed: Option<String>,
}

/// The role a transfer's other side has on the ticket.
pub const TRANSFER_ROLE: &str = "transfer";

/// **Merge** the plan's ticket into ticket `into` (as typed), for `agent`.
/// A merged target is followed to the ticket it was merged into.
pub fn merge(
    plan: &mut Plan,
    f: &Facts,
    s: &Settings,
    agent: &str,
    into: &str,
) -> Result<String, String> {
    let this = this_ticket(f, "merge")?;
    let other = other_ticket(f, into)?;
    if other.ticket.id == this.id {
        return Err(if other.merged_via.is_empty() {
            format!("ticket {} cannot be merged into itself", this.number)
        } else {
            format!(
                "ticket {into} was merged into {} already: merging {} into it would make a loop",
                this.number, this.number
            )
        });
    }
    rights(f, agent, &[this, &other.ticket])?;
    let mailbox = mailbox_of(s, &other.ticket)?;
    let by = actor(plan, agent);
    let (a, b) = (Side::of(this), Side::of(&other.ticket));
    plan.changes
        .push(change(&by, "merged_into", None, Some(b.number.clone())));
    plan.relations.push(RelationPlan::History {
        ticket: b.clone(),
        change: change(&by, "merged_from", None, Some(a.number.clone())),
    });
    plan.relations.push(RelationPlan::Merge {
        from: a.clone(),
        into: b.clone(),
    });
    let to: Vec<String> = (f.relations.requesters.iter())
        .filter(|r| !s.own.contains(r))
        .cloned()
        .collect();
    let suppressed = to
        .is_empty()
        .then(|| format!("ticket {} has no requester to tell", a.number));
    plan.relations.push(RelationPlan::Notice(Notice {
        kind: Kind::Merged,
        ticket: b.clone(),
        other: a.number.clone(),
        to,
        from_mailbox: mailbox,
        language: this.language.clone(),
        text: String::new(),
        references: (f.thread.iter())
            .flat_map(|t| t.agent.customer_ids.iter().cloned())
            .collect(),
        suppressed,
    }));
    let via = match other.merged_via.as_slice() {
        [] => String::new(),
        v => format!(" (ticket {} was merged into it)", v.join(", ")),
    };
    let said = format!(
        "merged ticket {} into ticket {}{via}: its articles and people are there now, \
         mail quoting {} lands there, its requesters are told the new number",
        a.number, b.number, a.number
    );
    plan.note("relations", said.clone());
    Ok(said)
}

/// **Link** the plan's ticket to ticket `other` (as typed): the other is
/// this one's `kind` (its parent or child, the problem or change it is an
/// incident of, or related).
pub fn link(
    plan: &mut Plan,
    f: &Facts,
    _s: &Settings,
    agent: &str,
    kind: LinkKind,
    other: &str,
) -> Result<String, String> {
    links::link_or_unlink(plan, f, agent, kind, other, false)
}

/// Remove the link [`link`] makes (`ticket link … --remove`).
pub fn unlink(
    plan: &mut Plan,
    f: &Facts,
    _s: &Settings,
    agent: &str,
    kind: LinkKind,
    other: &str,
) -> Result<String, String> {
    links::link_or_unlink(plan, f, agent, kind, other, true)
}

/// **Transfer** the plan's ticket to `address`: one mail with its history
/// (customers' mail and agents' replies, never internal notes) from the
/// queue's address with the ticket's tag and our Message-ID; the ticket
/// moves to `transferred` (when the lifecycle has it and allows the move)
/// and the address becomes a participant of role `transfer`, so its
/// answers thread back in and alert the agents.
pub fn transfer(
    plan: &mut Plan,
    f: &Facts,
    s: &Settings,
    agent: &str,
    address: &str,
) -> Result<String, String> {
    let this = this_ticket(f, "transfer")?;
    let address = address.trim().to_lowercase();
    if address.parse::<lettre::Address>().is_err() {
        return Err(format!(
            "{address:?} is not a mail address to transfer ticket {} to",
            this.number
        ));
    }
    if s.own.contains(&address) {
        return Err(format!(
            "{address} is one of our own addresses: a transfer goes to another helpdesk"
        ));
    }
    rights(f, agent, &[this])?;
    let mailbox = mailbox_of(s, this)?;
    let lc = &s.config.lifecycle;
    let by = actor(plan, agent);
    // The move to `transferred`, if the lifecycle has such a state, from
    // the state the plan leaves (an agent's first action may have moved it).
    let from = (plan.ticket.as_ref())
        .map(|t| t.state.to_string())
        .unwrap_or_else(|| this.state.clone());
    let mut moved = None;
    if let Ok(def) = lc.resolve("transferred") {
        if def.name != from {
            let role = role_of(f, agent);
            lc.may_move(&this.queue, &from, &def.name, role)
                .map_err(|why| format!("ticket {} cannot be transferred: {why}", this.number))?;
            moved = Some(def.name.clone());
        }
    }
    if let (Some(to), Some(t)) = (&moved, plan.ticket.as_mut()) {
        plan.changes.push(change(
            &by,
            "state",
            Some(t.state.clone()),
            Some(to.clone()),
        ));
        t.state = to.clone();
    }
    plan.changes
        .push(change(&by, "transferred_to", None, Some(address.clone())));
    let a = Side::of(this);
    plan.relations.push(RelationPlan::Transfer {
        ticket: a.clone(),
        address: address.clone(),
    });
    plan.relations.push(RelationPlan::Notice(Notice {
        kind: Kind::Transferred,
        ticket: a.clone(),
        other: String::new(),
        to: vec![address.clone()],
        from_mailbox: mailbox,
        language: this.language.clone(),
        text: history_text(&f.relations.history),
        references: Vec::new(),
        suppressed: None,
    }));
    let state = match &moved {
        Some(st) => format!("; state {from} → {st}"),
        None if lc.resolve("transferred").is_err() => {
            "; the lifecycle has no state \"transferred\": the state stays".to_string()
        }
        None => String::new(),
    };
    let said = format!(
        "transferred ticket {} to {address} with {} article(s) of its history{state}; \
         their answers come back into it",
        a.number,
        f.relations.history.len()
    );
    plan.note("relations", said.clone());
    Ok(said)
}

/// The ticket the plan is about (the mail's, or the CLI's first number).
fn this_ticket<'a>(f: &'a Facts, what: &str) -> Result<&'a TicketRef, String> {
    let t = f
        .thread
        .as_ref()
        .map(|t| &t.ticket)
        .ok_or_else(|| format!("#{what} needs a ticket: the mail names none"))?;
    if let Some(first) = f.relations.redirected_from.first() {
        return Err(format!(
            "ticket {first} was merged into {} already: {what} that one instead",
            t.number
        ));
    }
    Ok(t)
}

/// The other ticket as the facts stage found it by the number typed.
fn other_ticket<'a>(f: &'a Facts, typed: &str) -> Result<&'a OtherTicket, String> {
    let key = facts::number_key(typed);
    if key.is_empty() {
        return Err(format!("{typed:?} is not a ticket number"));
    }
    (f.relations.others.iter())
        .find(|o| o.typed == key)
        .and_then(|o| o.found.as_ref())
        .ok_or_else(|| format!("no ticket {key}"))
}

/// The agent may act on every one of `tickets`: rw on each queue's group.
/// The operator (the CLI without `--as`) may act on any.
fn rights(f: &Facts, agent: &str, tickets: &[&TicketRef]) -> Result<(), String> {
    if agent == OPERATOR && f.relations.operator {
        return Ok(());
    }
    // The acting agent is the mail's sender (the CLI's `--as` makes the
    // agent's address the stand-in mail's sender).
    let member = (f.directory.sender.agent.as_ref())
        .filter(|m| m.name == agent)
        .ok_or_else(|| format!("{agent} is not an agent in the directory"))?;
    if !member.active {
        return Err(format!("agent {agent} is inactive"));
    }
    for t in tickets {
        let group = f.directory.queue(&t.queue).and_then(|q| q.group.clone());
        match group {
            Some(g) if member.rw.contains(&g) => {}
            Some(g) => {
                return Err(format!(
                    "agent {agent} has no rw on group {g} of queue {} (ticket {})",
                    t.queue, t.number
                ))
            }
            None => {
                return Err(format!(
                    "queue {} (ticket {}) has no group in the directory: no agent has rights on it",
                    t.queue, t.number
                ))
            }
        }
    }
    Ok(())
}

/// The role the lifecycle's strict matrix knows the agent by.
fn role_of(f: &Facts, agent: &str) -> Role {
    let assigned = f
        .thread
        .as_ref()
        .and_then(|t| t.agent.assigned_agent.as_deref());
    if assigned == Some(agent) {
        Role::Assigned
    } else {
        Role::Agent
    }
}

/// The mailbox whose address a ticket's mail comes from.
fn mailbox_of(s: &Settings, t: &TicketRef) -> Result<String, String> {
    (s.config.mailboxes.iter())
        .find(|m| m.address == t.support_address)
        .or_else(|| s.config.mailboxes.iter().find(|m| m.queue == t.queue))
        .map(|m| m.name.clone())
        .ok_or_else(|| {
            format!(
                "no [[mailbox]] sends for ticket {} ({}, queue {})",
                t.number, t.support_address, t.queue
            )
        })
}

/// Who the history names: a command in mail (the plan has an article),
/// else the agent (or operator) at the CLI.
fn actor(plan: &Plan, agent: &str) -> Change {
    Change {
        actor_kind: if plan.article.is_some() {
            ActorKind::Command
        } else {
            ActorKind::Agent
        },
        actor: agent.to_string(),
        field: "",
        old: None,
        new: None,
    }
}

fn change(by: &Change, field: &'static str, old: Option<String>, new: Option<String>) -> Change {
    Change {
        actor_kind: by.actor_kind,
        actor: by.actor.clone(),
        field,
        old,
        new,
    }
}

/// The history a transfer sends, as plain text, oldest first.
fn history_text(h: &[crate::store::relations::HistoryArticle]) -> String {
    let mut out = String::new();
    for a in h {
        let arrow = if a.direction == "in" {
            "From"
        } else {
            "Answered by"
        };
        out.push_str(&format!(
            "----- {} {} — {}\nSubject: {}\n\n{}\n\n",
            a.created_at,
            arrow,
            a.from,
            a.subject,
            a.text.trim_end()
        ));
    }
    out
}
