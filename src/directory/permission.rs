//! Who may add to a ticket (issue 8, item 5): a pure decision over what
//! the directory says about a follow-up's sender and the ticket.
//!
//! The threading standing (`process::standing`) comes first: a mail that
//! answers the ticket's own mail, or whose From is an actor, keeps its
//! right — except a customer user with only read access to the queue's
//! group, who is an observer: notified, never writing. A sender with no
//! such right may still write when the directory says so: a customer user
//! with rw on the queue's group in the same customer as one of the
//! ticket's requesters (they become a requester), or an active agent with
//! rw on the queue's group (added as a follow-up; agent *powers* need
//! authentication, which this decision does not grant). Anyone else gets
//! the queue's policy for strangers.

use serde::Serialize;

use super::Strangers;

/// What the directory says about a sender.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sender {
    /// The agent with this address, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<Member>,
    /// The customer user with this address, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_user: Option<Member>,
    /// The customer the address belongs to (the customer user's, else the
    /// one whose mail domain it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

/// An agent or a customer user, with their group access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The agent's name, or the customer user's first address.
    pub name: String,
    pub active: bool,
    pub rw: Vec<String>,
    pub ro: Vec<String>,
}

/// What the directory says about the ticket a follow-up threads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    /// The group of the ticket's queue (None: the queue has none).
    pub queue_group: Option<String>,
    /// The customers of the ticket's requesters.
    pub requester_customers: Vec<String>,
    /// The sender's role on the ticket, if they are an actor.
    pub sender_role: Option<String>,
    /// What the ticket's queue does with strangers.
    pub strangers: Strangers,
}

impl Default for Ticket {
    fn default() -> Self {
        Ticket {
            queue_group: None,
            requester_customers: Vec::new(),
            sender_role: None,
            strangers: Strangers::System,
        }
    }
}

/// The decision, beyond the threading standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "grant", rename_all = "snake_case")]
pub enum Grant {
    /// The threading standing stands (an actor, or one answering the
    /// ticket's mail; or a stranger the directory knows no better of).
    Standing,
    /// A colleague of a requester with rw on the queue's group: added as
    /// a requester.
    Colleague { customer: String },
    /// An active agent with rw on the queue's group: added as a
    /// follow-up, without agent powers.
    Agent { name: String },
    /// A customer user with only read access: not added (the queue's
    /// policy for strangers applies).
    ReadOnly { group: String },
}

/// Decide. `has_right`: the threading standing already lets the mail in
/// (answers the ticket's mail, or From is an actor). Returns the grant and
/// why, for the trace and `explain`.
pub fn decide(has_right: bool, s: &Sender, t: &Ticket) -> (Grant, String) {
    let group = t.queue_group.as_deref();
    let has = |m: &Member, list: fn(&Member) -> &Vec<String>| {
        m.active && group.is_some_and(|g| list(m).iter().any(|x| x == g))
    };
    let rw = |m: &Member| has(m, |m| &m.rw);
    let ro_only = |m: &Member| has(m, |m| &m.ro) && !rw(m);
    if let Some(u) = &s.customer_user {
        let requester = t.sender_role.as_deref() == Some("requester");
        if ro_only(u) && !requester {
            let g = group.unwrap_or_default().to_string();
            return (
                Grant::ReadOnly { group: g.clone() },
                format!(
                    "customer user {} has read-only access to group {g:?}: notified as an \
                     observer, may not write",
                    u.name
                ),
            );
        }
    }
    if has_right {
        return (
            Grant::Standing,
            "the sender's standing on the ticket lets the mail in".into(),
        );
    }
    if let Some(u) = s.customer_user.as_ref().filter(|u| rw(u)) {
        if let Some(c) = s
            .customer
            .as_ref()
            .filter(|c| t.requester_customers.contains(c))
        {
            return (
                Grant::Colleague {
                    customer: c.clone(),
                },
                format!(
                    "customer user {} has rw on group {:?} and belongs to customer {c:?}, \
                     as a requester does: added as a requester",
                    u.name,
                    group.unwrap_or_default()
                ),
            );
        }
    }
    if let Some(a) = s.agent.as_ref().filter(|a| rw(a)) {
        return (
            Grant::Agent {
                name: a.name.clone(),
            },
            format!(
                "agent {} has rw on group {:?}: added as a follow-up (agent powers need \
                 an authenticated mail)",
                a.name,
                group.unwrap_or_default()
            ),
        );
    }
    let why = match (&s.agent, &s.customer_user, group) {
        (_, _, None) => "the ticket's queue has no group in the directory".to_string(),
        (Some(a), _, Some(g)) if !a.active => format!("agent {} is inactive (group {g:?})", a.name),
        (Some(a), _, Some(g)) => format!("agent {} has no rw on group {g:?}", a.name),
        (_, Some(u), Some(g)) if !rw(u) => {
            format!("customer user {} has no rw on group {g:?}", u.name)
        }
        (_, Some(u), Some(_)) => format!(
            "customer user {} belongs to {}, none of the ticket's requesters' customers",
            u.name,
            s.customer.as_deref().unwrap_or("no customer")
        ),
        (None, None, Some(_)) => "the sender is not in the directory".to_string(),
    };
    (
        Grant::Standing,
        format!("no grant from the directory: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, rw: &[&str], ro: &[&str]) -> Member {
        Member {
            name: name.into(),
            active: true,
            rw: rw.iter().map(|s| s.to_string()).collect(),
            ro: ro.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn ticket() -> Ticket {
        Ticket {
            queue_group: Some("support".into()),
            requester_customers: vec!["ACME".into()],
            sender_role: None,
            strangers: Strangers::System,
        }
    }

    fn check(has_right: bool, s: &Sender, t: &Ticket, expected: Grant) {
        let (g, why) = decide(has_right, s, t);
        assert_eq!(g, expected, "{why}");
        assert!(!why.is_empty());
    }

    #[test]
    fn who_may_add_to_a_ticket() {
        let t = ticket();
        let colleague = Sender {
            customer_user: Some(member("c@acme.example", &["support"], &[])),
            customer: Some("ACME".into()),
            ..Sender::default()
        };
        check(
            false,
            &colleague,
            &t,
            Grant::Colleague {
                customer: "ACME".into(),
            },
        );
        // Same rights, another customer: nothing.
        let other = Sender {
            customer: Some("Globex".into()),
            ..colleague.clone()
        };
        check(false, &other, &t, Grant::Standing);
        // rw on another group: nothing.
        let elsewhere = Sender {
            customer_user: Some(member("c@acme.example", &["sales"], &[])),
            ..colleague.clone()
        };
        check(false, &elsewhere, &t, Grant::Standing);
        // Read-only: not even as an actor (observer) or answering.
        let ro = Sender {
            customer_user: Some(member("c@acme.example", &[], &["support"])),
            ..colleague.clone()
        };
        let ro_grant = Grant::ReadOnly {
            group: "support".into(),
        };
        check(false, &ro, &t, ro_grant.clone());
        let observer = Ticket {
            sender_role: Some("observer".into()),
            ..ticket()
        };
        check(true, &ro, &observer, ro_grant);
        // …but a requester keeps their own ticket.
        let requester = Ticket {
            sender_role: Some("requester".into()),
            ..ticket()
        };
        check(true, &ro, &requester, Grant::Standing);
        // An agent with rw on the queue's group; not when inactive or ro.
        let agent = Sender {
            agent: Some(member("alice", &["support"], &[])),
            ..Sender::default()
        };
        check(
            false,
            &agent,
            &t,
            Grant::Agent {
                name: "alice".into(),
            },
        );
        let mut inactive = agent.clone();
        if let Some(a) = inactive.agent.as_mut() {
            a.active = false;
        }
        check(false, &inactive, &t, Grant::Standing);
        let ro_agent = Sender {
            agent: Some(member("bob", &[], &["support"])),
            ..Sender::default()
        };
        check(false, &ro_agent, &t, Grant::Standing);
        // A queue without a group grants nothing.
        let no_group = Ticket {
            queue_group: None,
            ..ticket()
        };
        check(false, &colleague, &no_group, Grant::Standing);
        check(false, &agent, &no_group, Grant::Standing);
        // Strangers stay strangers; rights from threading stand.
        check(false, &Sender::default(), &t, Grant::Standing);
        check(true, &Sender::default(), &t, Grant::Standing);
    }
}
