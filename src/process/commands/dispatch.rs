//! One command against the plan: its checks (the lifecycle through
//! `s.config.lifecycle`, the agent's rights on queues, the directory, the
//! customer's entitlement to a service) and, when they pass, its change
//! to the plan with a history row. Returns the transcript's status and
//! words. `#merge`, `#link` and `#transfer` are the relations module's.

use super::super::decide::Settings;
use super::super::facts::Facts;
use super::super::plan::{Disposition, Plan};
use super::super::relations;
use super::{Actor, CommandFacts, CommandsPlan, Status};
use crate::commands::{Assignee, Command};
use crate::tickets::history::{ActorKind, Change};
use crate::tickets::lifecycle::Role;

type Said = (Status, String);

fn applied(said: impl Into<String>) -> Said {
    (Status::Applied, said.into())
}

fn refused(said: impl Into<String>) -> Said {
    (Status::Refused, said.into())
}

fn unchanged(said: impl Into<String>) -> Said {
    (Status::Unchanged, said.into())
}

/// Longest tag a command may add.
const MAX_TAG: usize = 64;

/// Check and apply `command` to `plan`.
pub(super) fn one(
    plan: &mut Plan,
    f: &Facts,
    s: &Settings,
    actor: &Actor,
    cf: &CommandFacts,
    out: &mut CommandsPlan,
    command: &Command,
) -> Said {
    let Some(t) = &f.thread else {
        return refused("the mail is on no ticket");
    };
    let by = |field: &'static str, old: Option<String>, new: Option<String>| Change {
        actor_kind: ActorKind::Command,
        actor: actor.name.clone(),
        field,
        old,
        new,
    };
    let assigned_before = plan
        .assign
        .agent
        .clone()
        .or_else(|| t.agent.assigned_agent.clone());
    let Some(ticket) = plan.ticket.as_mut() else {
        return refused("the mail changes no ticket");
    };
    let mut changes = Vec::new();
    let said = match command {
        Command::State { state } => {
            let lc = &s.config.lifecycle;
            let def = match lc.resolve(state) {
                Ok(d) => d,
                Err(why) => return refused(why),
            };
            let from = ticket.state.clone();
            let from = from.as_str();
            if from == def.name {
                return unchanged(format!("the ticket is already {from}"));
            }
            let role = if assigned_before.as_deref() == Some(actor.name.as_str()) {
                Role::Assigned
            } else {
                Role::Agent
            };
            if let Err(why) = lc.may_move(&ticket.queue, from, &def.name, role) {
                return refused(why);
            }
            let to = def.name.clone();
            changes.push(by("state", Some(from.to_string()), Some(to.clone())));
            ticket.state = to.clone();
            applied(format!("state {from} → {to}"))
        }
        Command::Assign { to } => {
            let name = match to {
                Assignee::Me if actor.trusted => {
                    return refused("#assign me: the operator is no agent (use --as AGENT)")
                }
                Assignee::Me => actor.name.clone(),
                Assignee::Nobody => {
                    if assigned_before.is_none() {
                        return unchanged("the ticket is assigned to nobody already");
                    }
                    plan.assign.agent = None;
                    out.unassign = true;
                    changes.push(by("agent", assigned_before, None));
                    plan.changes.extend(changes);
                    return applied("assigned to nobody");
                }
                Assignee::Agent(who) => {
                    let who_l = who.to_lowercase();
                    match cf
                        .agents
                        .iter()
                        .find(|a| a.name == *who || a.addresses.contains(&who_l))
                    {
                        Some(a) => a.name.clone(),
                        None => {
                            return refused(format!(
                                "no active agent {who:?} in the directory (postdesk agent list)"
                            ))
                        }
                    }
                }
            };
            let group = f
                .directory
                .queue(&ticket.queue)
                .and_then(|q| q.group.clone());
            let rights = cf.agents.iter().find(|a| a.name == name);
            let may = group
                .as_ref()
                .is_some_and(|g| rights.is_some_and(|a| a.rw.contains(g)));
            if !may {
                return refused(format!(
                    "agent {name} has no rw on the group of queue {} ({})",
                    ticket.queue,
                    group.as_deref().unwrap_or("the queue has none")
                ));
            }
            if assigned_before.as_deref() == Some(name.as_str()) {
                return unchanged(format!("the ticket is assigned to {name} already"));
            }
            plan.assign.agent = Some(name.clone());
            out.unassign = false;
            changes.push(by("agent", assigned_before, Some(name.clone())));
            applied(format!("assigned to {name}"))
        }
        Command::Group { name } => {
            if !f.directory.groups.iter().any(|g| g == name) {
                return refused(format!(
                    "no group named {name:?} in the directory (postdesk group list)"
                ));
            }
            let old = plan.assign.group.clone();
            plan.assign.group = Some(name.clone());
            changes.push(by("group", old, Some(name.clone())));
            applied(format!("group {name}"))
        }
        Command::Queue { name } => {
            if s.config.queue(name).is_none() {
                let names: Vec<&str> = s.config.queues.iter().map(|q| q.name.as_str()).collect();
                return refused(format!(
                    "no queue named {name:?}; the queues are {}",
                    names.join(", ")
                ));
            }
            if *name == ticket.queue {
                return unchanged(format!("the ticket is in queue {name} already"));
            }
            let group = f.directory.queue(name).and_then(|q| q.group.clone());
            if !actor.trusted && !group.as_ref().is_some_and(|g| actor.rw.contains(g)) {
                return refused(format!(
                    "you have no rw on the group of queue {name} ({})",
                    group.as_deref().unwrap_or("the queue has none")
                ));
            }
            changes.push(by("queue", Some(ticket.queue.clone()), Some(name.clone())));
            ticket.queue = name.clone();
            applied(format!("queue {name}"))
        }
        Command::Priority { value } | Command::Urgency { value } | Command::Impact { value } => {
            let c = &mut ticket.classification;
            let before = *c;
            let m = &s.config.priority;
            match command {
                Command::Priority { .. } => c.set_priority(*value),
                Command::Urgency { .. } => c.set_urgency(*value, m),
                _ => c.set_impact(*value, m),
            }
            let after = *c;
            for (field, old, new) in [
                ("urgency", before.urgency, after.urgency),
                ("impact", before.impact, after.impact),
                ("priority", before.priority, after.priority),
            ] {
                if old != new {
                    changes.push(by(field, Some(old.to_string()), Some(new.to_string())));
                }
            }
            if changes.is_empty() {
                return unchanged(format!(
                    "urgency {}, impact {}, priority {} already",
                    after.urgency, after.impact, after.priority
                ));
            }
            applied(format!(
                "urgency {}, impact {}, priority {}{}",
                after.urgency,
                after.impact,
                after.priority,
                if after.priority_explicit {
                    " (set explicitly)"
                } else {
                    " (from the matrix)"
                }
            ))
        }
        Command::Service { name } => {
            if ticket.service.as_deref() == Some(name.as_str()) {
                return unchanged(format!("the service is {name} already"));
            }
            if let Err(why) =
                super::super::services::entitled(&f.directory, &t.ticket.customer_address, name)
            {
                return refused(why);
            }
            changes.push(by("service", ticket.service.clone(), Some(name.clone())));
            ticket.service = Some(name.clone());
            applied(format!("service {name}"))
        }
        Command::Type { value } => {
            if ticket.ticket_type == Some(*value) {
                return unchanged(format!("the type is {value} already"));
            }
            let old = ticket.ticket_type.map(|x| x.to_string());
            changes.push(by("type", old, Some(value.to_string())));
            ticket.ticket_type = Some(*value);
            applied(format!("type {value}"))
        }
        Command::Tag { add, tag } => {
            if tag.chars().count() > MAX_TAG || tag.chars().any(char::is_control) {
                return refused(format!("a tag is at most {MAX_TAG} printable characters"));
            }
            if *add {
                if !ticket.tags.insert(tag.clone()) {
                    return unchanged(format!("already tagged {tag}"));
                }
                out.remove_tags.retain(|x| x != tag);
                changes.push(by("tags", None, Some(tag.clone())));
                applied(format!("tag {tag} added"))
            } else {
                if !ticket.tags.remove(tag) {
                    return unchanged(format!("not tagged {tag}"));
                }
                out.remove_tags.push(tag.clone());
                changes.push(by("tags", Some(tag.clone()), None));
                applied(format!("tag {tag} removed"))
            }
        }
        Command::Cc { add, address } => {
            let a = address.to_lowercase();
            let known = (t.agent.people.iter())
                .find(|(p, _)| p.eq_ignore_ascii_case(&a))
                .map(|(_, role)| role.clone())
                .filter(|_| !out.remove_observers.contains(&a))
                .or_else(|| {
                    (plan.participants.iter())
                        .find(|p| p.address.eq_ignore_ascii_case(&a))
                        .map(|p| p.role.to_string())
                });
            if *add {
                if s.own.contains(&a) {
                    return refused(format!("{a} is one of our own addresses"));
                }
                if let Some(role) = known {
                    return unchanged(format!("{a} is a {role} of the ticket already"));
                }
                out.remove_observers.retain(|x| *x != a);
                plan.add_participant(&a, None, "observer");
                changes.push(by("observer", None, Some(a.clone())));
                applied(format!("observer {a} added"))
            } else {
                match known.as_deref() {
                    None => return unchanged(format!("{a} is not on the ticket")),
                    Some("requester") => {
                        return refused(format!(
                            "{a} is a requester; #cc remove takes off observers only"
                        ))
                    }
                    Some(_) => {}
                }
                plan.participants
                    .retain(|p| !p.address.eq_ignore_ascii_case(&a));
                out.remove_observers.push(a.clone());
                changes.push(by("observer", Some(a.clone()), None));
                applied(format!("observer {a} removed"))
            }
        }
        Command::Merge { into } => {
            return outcome(relations::merge(plan, f, s, &actor.name, into));
        }
        Command::Link { kind, ticket } => {
            return outcome(relations::link(plan, f, s, &actor.name, *kind, ticket));
        }
        Command::Unlink { kind, ticket } => {
            return outcome(relations::unlink(plan, f, s, &actor.name, *kind, ticket));
        }
        Command::Transfer { address } => {
            return outcome(relations::transfer(plan, f, s, &actor.name, address));
        }
        Command::Note => {
            let note = plan
                .agent
                .as_ref()
                .and_then(|a| a.action.as_ref())
                .is_some_and(|a| matches!(a, super::super::agent::AgentAction::Note { .. }));
            return if note {
                applied("this mail is an internal note: agents only")
            } else {
                refused("#note must come first for the mail to be a note")
            };
        }
        Command::New => {
            let number = match &plan.disposition {
                Disposition::FollowUp { ticket, .. } => ticket.number.clone(),
                _ => String::new(),
            };
            return unchanged(format!(
                "#new opens a ticket for a forwarded customer's mail; this mail is on ticket {number}"
            ));
        }
        Command::Help => {
            return unchanged("send a mail with only the subject \"help\" for the reference")
        }
    };
    plan.changes.extend(changes);
    said
}

fn outcome(r: Result<String, String>) -> Said {
    match r {
        Ok(said) => applied(said),
        Err(why) => refused(why),
    }
}
