//! Who is who: agents, groups, queues, customers, customer users and
//! services (issue 8), as plain data, and the pure decisions over them.
//!
//! The entities here are what the store keeps (`store::directory`), what
//! the CLI adds, shows and updates, and what `postdesk directory apply`
//! reads and `export` writes: one shape for all three, so a file exported
//! is taken back by `apply` unchanged. [`Directory::normalise`] puts every
//! entry in its one written form (addresses and domains in lower case,
//! lists sorted), and [`Directory::check`] lists every problem at once.
//! [`mod@file`] compares two directories into the changes `apply` makes;
//! [`permission`] decides who may add to a ticket. Nothing here does I/O.

mod check;
pub mod file;

pub use check::{check_name, check_service_name};
pub mod permission;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Read-only or read-write access to a group's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Ro,
    Rw,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Ro => "ro",
            Access::Rw => "rw",
        }
    }

    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "ro" => Some(Access::Ro),
            "rw" => Some(Access::Rw),
            _ => None,
        }
    }
}

/// A group of agents (and of customer users, OTRS-style) that queues
/// belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Someone who works the tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Unique; how the CLI, rules (`agent = "…"`) and files name the agent.
    pub name: String,
    /// The agent's mail addresses; the first is where notifications go.
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// An inactive agent keeps its history but gets no notifications and
    /// no access.
    #[serde(default = "yes")]
    pub active: bool,
    /// Groups with read-write access (may answer and be assigned).
    #[serde(default)]
    pub rw: Vec<String>,
    /// Groups with read-only access.
    #[serde(default)]
    pub ro: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Where a queue's agents' notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notify {
    /// The configured `[[queue]] agents_address` (the queue's default).
    Config,
    /// One address (a list, a shared mailbox).
    Address(String),
    /// Each active agent with rw on the queue's group, at their first
    /// address.
    Group,
}

impl Notify {
    /// The file's and the CLI's spelling: `config`, `group` or an address.
    pub fn as_text(&self) -> &str {
        match self {
            Notify::Config => "config",
            Notify::Group => "group",
            Notify::Address(a) => a,
        }
    }

    pub fn parse(s: &str) -> Result<Notify, String> {
        match s.trim() {
            "" | "config" => Ok(Notify::Config),
            "group" => Ok(Notify::Group),
            a if crate::config::valid_address(a) => Ok(Notify::Address(a.to_lowercase())),
            a => Err(format!(
                "notify {a:?}: expected \"group\" (the rw members of the queue's group), \
                 \"config\" (the [[queue]] agents_address) or a mail address"
            )),
        }
    }
}

impl Serialize for Notify {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_text())
    }
}

impl<'de> Deserialize<'de> for Notify {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Notify::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a queue does with mail from someone with no right to the ticket
/// it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strangers {
    /// `system.stranger_follow_up` decides (the default).
    System,
    /// A new ticket of their own; the agents' alert names the number.
    NewTicket,
    /// Recorded on the ticket, unverified, changing nothing.
    Record,
    /// Turned away: the sender gets the refusal, no ticket is made and the
    /// ticket is untouched; the attempt is recorded for the agents.
    Refuse,
}

impl Strangers {
    pub fn as_str(self) -> &'static str {
        match self {
            Strangers::System => "system",
            Strangers::NewTicket => "new_ticket",
            Strangers::Record => "record",
            Strangers::Refuse => "refuse",
        }
    }

    pub fn parse(s: &str) -> Option<Strangers> {
        match s {
            "system" => Some(Strangers::System),
            "new_ticket" => Some(Strangers::NewTicket),
            "record" => Some(Strangers::Record),
            "refuse" => Some(Strangers::Refuse),
            _ => None,
        }
    }
}

/// What a queue does with a new ticket's sender the directory does not
/// know (neither agent nor customer user).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSenders {
    /// They become a customer user (of the customer whose mail domain the
    /// address is at) and get their ticket (the default).
    #[default]
    Create,
    /// Only known customer users are served: others get the refusal and no
    /// ticket.
    Refuse,
}

impl UnknownSenders {
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownSenders::Create => "create",
            UnknownSenders::Refuse => "refuse",
        }
    }

    pub fn parse(s: &str) -> Option<UnknownSenders> {
        match s {
            "create" => Some(UnknownSenders::Create),
            "refuse" => Some(UnknownSenders::Refuse),
            _ => None,
        }
    }
}

/// A queue as the directory knows it. Mailboxes feed queues by name
/// (`[[mailbox]] queue`); a queue named in the configuration but not here
/// keeps the configuration's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub name: String,
    /// The group whose members work it (and whose rw customer users may
    /// write into their colleagues' tickets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The address customers write to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_address: Option<String>,
    /// The address for internal notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_address: Option<String>,
    /// Where agents' notifications go.
    #[serde(default = "notify_config")]
    pub notify: Notify,
    /// Cc addresses of a new ticket become its observers.
    #[serde(default = "yes")]
    pub cc_observers: bool,
    /// Mail quoting a ticket its sender has no right to.
    #[serde(default = "strangers_system")]
    pub strangers: Strangers,
    /// The service a new ticket in the queue gets, when its customer user
    /// is entitled to it (a service of the directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// A new ticket's sender the directory does not know.
    #[serde(default)]
    pub unknown_senders: UnknownSenders,
}

fn notify_config() -> Notify {
    Notify::Config
}

fn strangers_system() -> Strangers {
    Strangers::System
}

impl Queue {
    /// A queue with every setting at its default.
    pub fn named(name: &str) -> Queue {
        Queue {
            name: name.to_string(),
            group: None,
            support_address: None,
            comment_address: None,
            notify: Notify::Config,
            cc_observers: true,
            strangers: Strangers::System,
            service: None,
            unknown_senders: UnknownSenders::Create,
        }
    }
}

/// An organisation: its users write from its mail domains.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub name: String,
    /// Senders at these domains belong to the customer.
    #[serde(default)]
    pub domains: Vec<String>,
}

/// Someone who writes to the helpdesk on a customer's behalf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerUser {
    /// The first names the customer user (CLI, files); all are theirs.
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Groups whose queues' tickets of their customer they may write in.
    #[serde(default)]
    pub rw: Vec<String>,
    /// Groups whose tickets they may follow, not write in.
    #[serde(default)]
    pub ro: Vec<String>,
    /// Services they are entitled to (besides the default ones).
    #[serde(default)]
    pub services: Vec<String>,
}

impl CustomerUser {
    /// The address that names the customer user.
    pub fn key(&self) -> &str {
        self.addresses.first().map(String::as_str).unwrap_or("")
    }
}

/// A service, named hierarchically (`Email::Outlook`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// Every customer user has it.
    #[serde(default)]
    pub default: bool,
}

/// The whole directory: what `directory export` writes and `apply` reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group: Vec<Group>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<Service>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer: Vec<Customer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent: Vec<Agent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<Queue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_user: Vec<CustomerUser>,
}

fn lower_sorted(v: &mut Vec<String>) {
    for s in v.iter_mut() {
        *s = s.trim().to_lowercase();
    }
    v.sort();
    v.dedup();
}

fn trimmed_sorted(v: &mut Vec<String>) {
    for s in v.iter_mut() {
        *s = s.trim().to_string();
    }
    v.sort();
    v.dedup();
}

fn lower_keep_order(v: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    v.retain_mut(|s| {
        *s = s.trim().to_lowercase();
        seen.insert(s.clone())
    });
}

impl Agent {
    pub fn normalise(&mut self) {
        self.name = self.name.trim().to_string();
        lower_keep_order(&mut self.addresses);
        trimmed_sorted(&mut self.rw);
        trimmed_sorted(&mut self.ro);
        self.ro.retain(|g| !self.rw.contains(g));
    }
}

impl Queue {
    pub fn normalise(&mut self) {
        self.name = self.name.trim().to_string();
        for a in [&mut self.support_address, &mut self.comment_address]
            .into_iter()
            .flatten()
        {
            *a = a.trim().to_lowercase();
        }
        if let Some(v) = &mut self.service {
            *v = v.trim().to_string();
        }
    }
}

impl CustomerUser {
    pub fn normalise(&mut self) {
        lower_keep_order(&mut self.addresses);
        trimmed_sorted(&mut self.rw);
        trimmed_sorted(&mut self.ro);
        self.ro.retain(|g| !self.rw.contains(g));
        trimmed_sorted(&mut self.services);
    }
}

impl Customer {
    pub fn normalise(&mut self) {
        self.name = self.name.trim().to_string();
        lower_sorted(&mut self.domains);
        for d in &mut self.domains {
            *d = d.trim_start_matches('@').trim_end_matches('.').to_string();
        }
    }
}

impl Directory {
    /// Every entry in its one written form, entries sorted by name.
    pub fn normalise(&mut self) {
        for g in &mut self.group {
            g.name = g.name.trim().to_string();
        }
        for s in &mut self.service {
            s.name = s.name.trim().to_string();
        }
        self.agent.iter_mut().for_each(Agent::normalise);
        self.queue.iter_mut().for_each(Queue::normalise);
        self.customer.iter_mut().for_each(Customer::normalise);
        self.customer_user
            .iter_mut()
            .for_each(CustomerUser::normalise);
        self.group.sort_by(|a, b| a.name.cmp(&b.name));
        self.service.sort_by(|a, b| a.name.cmp(&b.name));
        self.customer.sort_by(|a, b| a.name.cmp(&b.name));
        self.agent.sort_by(|a, b| a.name.cmp(&b.name));
        self.queue.sort_by(|a, b| a.name.cmp(&b.name));
        self.customer_user.sort_by(|a, b| a.key().cmp(b.key()));
    }
}

/// The domain of an address, lower case, without a trailing dot.
pub fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('.').to_lowercase())
        .filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests;
