//! The directory in the decide stage (issue 8): who may add to a ticket,
//! what a queue in the directory changes (Cc's as observers, the policy
//! for strangers, where agents' notifications go), and the rule actions
//! `group` and `agent`.
//!
//! [`gather`] reads what the directory says about a mail (facts stage,
//! reads only); the rest is pure and called by [`super::decide`], which
//! keeps the order of the stages. A queue the directory does not manage
//! behaves as the configuration says, as before the directory existed.

use serde::Serialize;

use super::facts::Thread;
use super::plan::{NewCustomerUser, Plan};
use super::standing::Standing;
use crate::config::{Config, StrangerFollowUp};
use crate::directory::permission::{self, Grant, Sender};
use crate::directory::Strangers;
use crate::mail::InboundMail;
use crate::store::directory::lookup::{self, Entitlement, QueueFacts};
use crate::store::{Db, StoreError};

/// What the directory says about one mail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirectoryFacts {
    /// Who the sender is.
    pub sender: Sender,
    /// The directory's queues (few; every one, since rules may move the
    /// ticket to another).
    pub queues: Vec<QueueFacts>,
    /// Active agents and groups by name (for the rule actions).
    pub agents: Vec<String>,
    pub groups: Vec<String>,
    /// Active agents' first addresses by name (a rule's observers given
    /// by agent name).
    pub agent_addresses: Vec<(String, String)>,
    /// What the ticket's customer user may have as its service (the
    /// sender's, and the followed-up ticket's customer's); None: the
    /// directory lists no services, so a service is not checked.
    pub services: Option<Vec<Entitlement>>,
}

impl DirectoryFacts {
    /// The first address of the active agent `name`.
    pub fn agent_address(&self, name: &str) -> Option<&str> {
        self.agent_addresses
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.as_str())
    }

    pub fn queue(&self, name: &str) -> Option<&QueueFacts> {
        self.queues.iter().find(|q| q.name == name)
    }
}

/// Read what the directory says about a mail from `from` (on a ticket
/// whose customer is `customer`, for a follow-up). Reads only.
pub fn gather(db: &Db, from: &str, customer: Option<&str>) -> Result<DirectoryFacts, StoreError> {
    let (agents, groups) = lookup::names(db)?;
    let services = if lookup::has_services(db)? {
        let mut v = vec![lookup::entitlement(db, from)?];
        if let Some(c) = customer.filter(|c| !c.eq_ignore_ascii_case(from.trim())) {
            v.push(lookup::entitlement(db, c)?);
        }
        Some(v)
    } else {
        None
    };
    Ok(DirectoryFacts {
        services,
        sender: lookup::sender(db, from)?,
        queues: lookup::queues(db)?,
        agents,
        groups,
        agent_addresses: lookup::agent_addresses(db)?,
    })
}

/// What the directory says about the ticket a mail threads to.
pub fn gather_ticket(
    db: &Db,
    ticket_id: i64,
    queue: &str,
    from: &str,
) -> Result<permission::Ticket, StoreError> {
    lookup::ticket(db, ticket_id, queue, from)
}

/// The permission decision over the threading standing: it may grant a
/// colleague or an agent a right, or take an ro customer user's away.
/// Standings about our own mail (an agents' alert answered, our own
/// address) are not the directory's to change.
pub fn standing(plan: &mut Plan, standing: Standing, t: &Thread, d: &DirectoryFacts) -> Standing {
    if !matches!(
        standing,
        Standing::Answers | Standing::Participant | Standing::Stranger
    ) {
        return standing;
    }
    // An agent at a participant's address (a rule's observer given by
    // agent name) is still an agent: From proves nothing, and their mail
    // is not a customer's reply; the directory decides as for a stranger.
    let has_right = match standing {
        Standing::Stranger => false,
        Standing::Participant => d.sender.agent.is_none(),
        _ => true,
    };
    let (grant, why) = permission::decide(has_right, &d.sender, &t.directory);
    plan.note("permission", why);
    match grant {
        Grant::Standing => standing,
        Grant::Colleague { .. } => Standing::Colleague,
        Grant::Agent { .. } => Standing::Agent,
        Grant::ReadOnly { .. } => Standing::ReadOnly,
    }
}

/// Whether a sender without a right to the ticket gets a ticket of their
/// own (else the mail is recorded on the ticket, unverified), and which
/// setting says so.
pub fn strangers_get_new_ticket(t: &Thread, config: &Config) -> (bool, &'static str) {
    match t.directory.strangers {
        Strangers::NewTicket => (true, "the queue's strangers policy"),
        // Refused later (`refuse::decide`), once machines' mail is set apart.
        Strangers::Record | Strangers::Refuse => (false, "the queue's strangers policy"),
        Strangers::System => (
            config.system.stranger_follow_up == StrangerFollowUp::NewTicket,
            "system.stranger_follow_up",
        ),
    }
}

/// The role the Cc's of a new ticket in `queue` take, or None when the
/// queue says they are not actors.
pub fn cc_role(queue: &str, d: &DirectoryFacts) -> Option<&'static str> {
    match d.queue(queue) {
        Some(q) if !q.cc_observers => None,
        _ => Some("observer"),
    }
}

/// Where the agents' notification for `queue` goes when the directory
/// decides it (notify = group or an address), with why; None: the
/// configuration's `agents_address`.
pub fn agents_to(queue: &str, d: &DirectoryFacts) -> Option<(Vec<String>, String)> {
    let q = d.queue(queue)?;
    match q.notify.as_str() {
        "config" => None,
        "group" => Some((
            q.notify_to.clone(),
            format!(
                "queue {}: the active rw members of group {}",
                q.name,
                q.group.as_deref().unwrap_or("-")
            ),
        )),
        _ => Some((
            q.notify_to.clone(),
            format!("queue {}: notify address", q.name),
        )),
    }
}

/// The comment address of `queue` in the directory (mail to it from an
/// empowered agent is an internal note), if it has one.
pub fn comment_address<'a>(queue: &str, d: &'a DirectoryFacts) -> Option<&'a str> {
    d.queue(queue)?.comment_address.as_deref()
}

/// A new ticket in a queue the directory manages, from a sender it does
/// not know (neither agent nor customer user): the sender becomes a
/// customer user, of the customer whose mail domain the address is at.
pub fn first_mail(plan: &mut Plan, queue: &str, mail: &InboundMail, d: &DirectoryFacts) {
    if d.queue(queue).is_none() || d.sender.agent.is_some() || d.sender.customer_user.is_some() {
        return;
    }
    let address = mail.from.address.trim().to_lowercase();
    plan.note(
        "directory",
        match &d.sender.customer {
            Some(c) => format!("{address} becomes a customer user of {c} (its mail domain)"),
            None => format!("{address} becomes a customer user (no customer has its mail domain)"),
        },
    );
    plan.new_customer_user = Some(NewCustomerUser {
        address,
        name: mail.from.name.clone(),
        customer: d.sender.customer.clone(),
    });
}

/// A rule's `group = "…"` or `agent = "…"`: assigned when the directory
/// knows the name, else a note why not. Returns what is said.
pub fn assign(
    plan: &mut Plan,
    rule: &str,
    group: Option<&str>,
    agent: Option<&str>,
    d: &DirectoryFacts,
) -> String {
    match (group, agent) {
        (Some(g), _) if d.groups.iter().any(|x| x == g) => {
            plan.assign.group = Some(g.to_string());
            format!("rule {rule}: assigned group {g}")
        }
        (Some(g), _) => format!("rule {rule}: no group named {g:?} in the directory; not assigned"),
        (_, Some(a)) if d.agents.iter().any(|x| x == a) => {
            plan.assign.agent = Some(a.to_string());
            format!("rule {rule}: assigned agent {a}")
        }
        (_, Some(a)) => {
            format!("rule {rule}: no active agent named {a:?} in the directory; not assigned")
        }
        (None, None) => format!("rule {rule}: nothing to assign"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(notify: &str, to: &[&str], cc: bool) -> QueueFacts {
        QueueFacts {
            name: "support".into(),
            group: Some("staff".into()),
            notify: notify.into(),
            notify_to: to.iter().map(|s| s.to_string()).collect(),
            cc_observers: cc,
            strangers: Strangers::System,
            comment_address: None,
            service: None,
            unknown_senders: Default::default(),
        }
    }

    #[test]
    fn queues_in_the_directory_decide_cc_and_notifications() {
        let none = DirectoryFacts::default();
        assert_eq!(cc_role("support", &none), Some("observer"));
        assert_eq!(agents_to("support", &none), None);
        let d = DirectoryFacts {
            queues: vec![queue("group", &["a@x.example", "b@x.example"], false)],
            ..DirectoryFacts::default()
        };
        assert_eq!(cc_role("support", &d), None);
        assert_eq!(cc_role("other", &d), Some("observer"));
        let (to, why) = agents_to("support", &d).unwrap();
        assert_eq!(to, ["a@x.example", "b@x.example"]);
        assert!(why.contains("group staff"), "{why}");
        let d = DirectoryFacts {
            queues: vec![queue("config", &[], true)],
            ..DirectoryFacts::default()
        };
        assert_eq!(agents_to("support", &d), None);
    }
}

#[cfg(test)]
#[path = "permit_tests.rs"]
mod decide_tests;
