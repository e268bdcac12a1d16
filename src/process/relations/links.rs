//! Links between tickets: how each kind is stored (one row, read "the
//! other is this one's KIND"; a child link is the other's parent link) and
//! recorded in both tickets' history. Pure; [`super::link`] and
//! [`super::unlink`] come here.

use super::{actor, change, other_ticket, rights, this_ticket, RelationPlan, Side};
use crate::commands::LinkKind;
use crate::process::facts::Facts;
use crate::process::plan::Plan;

pub(super) fn link_or_unlink(
    plan: &mut Plan,
    f: &Facts,
    agent: &str,
    kind: LinkKind,
    typed: &str,
    remove: bool,
) -> Result<String, String> {
    let this = this_ticket(f, "link")?;
    let other = other_ticket(f, typed)?;
    if other.ticket.id == this.id {
        return Err(format!("ticket {} cannot be linked to itself", this.number));
    }
    rights(f, agent, &[this, &other.ticket])?;
    let by = actor(plan, agent);
    let (a, b) = (Side::of(this), Side::of(&other.ticket));
    // Stored as "other is ticket's kind"; a child link is its parent link
    // seen from the other side.
    let (ticket, other_side, stored) = match kind {
        LinkKind::Child => (b.clone(), a.clone(), "parent"),
        k => (a.clone(), b.clone(), stored_kind(k)),
    };
    let words = describe(kind, &b.number, &a.number);
    let (old, new) = if remove {
        (Some(format!("{} {}", kind.as_str(), b.number)), None)
    } else {
        (None, Some(format!("{} {}", kind.as_str(), b.number)))
    };
    plan.changes.push(change(&by, "link", old, new));
    let seen_back = back_kind(kind);
    let (old, new) = if remove {
        (Some(format!("{seen_back} {}", a.number)), None)
    } else {
        (None, Some(format!("{seen_back} {}", a.number)))
    };
    plan.relations.push(RelationPlan::History {
        ticket: b.clone(),
        change: change(&by, "link", old, new),
    });
    plan.relations.push(RelationPlan::Link {
        ticket,
        other: other_side,
        kind: stored,
        remove,
        by: by.actor.clone(),
    });
    let said = if remove {
        format!("unlinked: {words} no longer")
    } else {
        format!("linked: {words}")
    };
    plan.note("relations", said.clone());
    Ok(said)
}

/// The stored kind of a link made from this side (not `Child`).
fn stored_kind(k: LinkKind) -> &'static str {
    match k {
        LinkKind::Parent | LinkKind::Child => "parent",
        LinkKind::Problem => "problem",
        LinkKind::Change => "change",
        LinkKind::Related => "related",
    }
}

/// What this ticket is to the other, for the other's history.
fn back_kind(k: LinkKind) -> &'static str {
    match k {
        LinkKind::Parent => "child",
        LinkKind::Child => "parent",
        LinkKind::Problem | LinkKind::Change => "incident",
        LinkKind::Related => "related",
    }
}

fn describe(k: LinkKind, other: &str, this: &str) -> String {
    match k {
        LinkKind::Parent => format!("{other} is the parent of {this}"),
        LinkKind::Child => format!("{other} is a child of {this}"),
        LinkKind::Problem => format!("{this} is an incident of problem {other}"),
        LinkKind::Change => format!("{this} is an incident of change {other}"),
        LinkKind::Related => format!("{this} and {other} are related"),
    }
}
