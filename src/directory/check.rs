//! Checking directory entries: every problem of a directory at once,
//! each naming its entry (`directory apply`), and one entry's problems
//! (the CLI, the store's `put_*`).

use std::collections::BTreeSet;

use super::{Agent, Customer, CustomerUser, Directory, Notify, Queue};

impl Directory {
    /// Every problem of a (normalised) directory, each naming its entry.
    pub fn check(&self) -> Vec<String> {
        let mut p = Vec::new();
        let groups: BTreeSet<&str> = self.group.iter().map(|g| g.name.as_str()).collect();
        let services: BTreeSet<&str> = self.service.iter().map(|s| s.name.as_str()).collect();
        let customers: BTreeSet<&str> = self.customer.iter().map(|c| c.name.as_str()).collect();
        dupes(&mut p, "group", self.group.iter().map(|g| g.name.as_str()));
        dupes(
            &mut p,
            "service",
            self.service.iter().map(|s| s.name.as_str()),
        );
        dupes(
            &mut p,
            "customer",
            self.customer.iter().map(|c| c.name.as_str()),
        );
        dupes(&mut p, "agent", self.agent.iter().map(|a| a.name.as_str()));
        dupes(&mut p, "queue", self.queue.iter().map(|q| q.name.as_str()));
        for g in &self.group {
            p.extend(check_name("group", &g.name));
        }
        for s in &self.service {
            p.extend(check_service_name(&s.name));
        }
        let mut agent_addresses = BTreeSet::new();
        for a in &self.agent {
            p.extend(a.check());
            let what = format!("agent {:?}", a.name);
            for g in a.rw.iter().chain(&a.ro) {
                if !groups.contains(g.as_str()) {
                    p.push(format!("{what}: no group named {g:?}"));
                }
            }
            for addr in &a.addresses {
                if !agent_addresses.insert(addr.as_str()) {
                    p.push(format!("{what}: address {addr} belongs to another agent"));
                }
            }
        }
        for q in &self.queue {
            p.extend(q.check());
            if let Some(g) = &q.group {
                if !groups.contains(g.as_str()) {
                    p.push(format!("queue {:?}: no group named {g:?}", q.name));
                }
            }
        }
        let mut domains = BTreeSet::new();
        for c in &self.customer {
            p.extend(c.check());
            for d in &c.domains {
                if !domains.insert(d.as_str()) {
                    p.push(format!(
                        "customer {:?}: domain {d} belongs to another customer",
                        c.name
                    ));
                }
            }
        }
        let mut user_addresses = BTreeSet::new();
        for u in &self.customer_user {
            p.extend(u.check());
            let what = format!("customer user {}", u.key());
            if let Some(c) = &u.customer {
                if !customers.contains(c.as_str()) {
                    p.push(format!("{what}: no customer named {c:?}"));
                }
            }
            for g in u.rw.iter().chain(&u.ro) {
                if !groups.contains(g.as_str()) {
                    p.push(format!("{what}: no group named {g:?}"));
                }
            }
            for s in &u.services {
                if !services.contains(s.as_str()) {
                    p.push(format!("{what}: no service named {s:?}"));
                }
            }
            for addr in &u.addresses {
                if !user_addresses.insert(addr.as_str()) {
                    p.push(format!(
                        "{what}: address {addr} belongs to another customer user"
                    ));
                }
            }
        }
        p
    }
}

fn dupes<'a>(p: &mut Vec<String>, kind: &str, names: impl Iterator<Item = &'a str>) {
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            p.push(format!("{kind} {n:?} is listed twice"));
        }
    }
}

/// A name: not empty, one line.
pub fn check_name(kind: &str, name: &str) -> Option<String> {
    if name.is_empty() {
        Some(format!("{kind}: the name must not be empty"))
    } else if name.chars().any(char::is_control) {
        Some(format!("{kind} {name:?}: the name must be one line"))
    } else {
        None
    }
}

/// A service name: `::`-separated parts, none empty (`Email::Outlook`).
pub fn check_service_name(name: &str) -> Option<String> {
    check_name("service", name).or_else(|| {
        name.split("::")
            .any(|part| part.trim().is_empty() || part != part.trim())
            .then(|| {
                format!(
                    "service {name:?}: parts are separated by \"::\", none empty \
                     and none with spaces at its ends (e.g. \"Email::Outlook\")"
                )
            })
    })
}

fn check_address(what: &str, a: &str) -> Option<String> {
    (!crate::config::valid_address(a)).then(|| format!("{what}: {a:?} is not a mail address"))
}

fn check_language(what: &str, l: &Option<String>) -> Option<String> {
    l.as_deref()
        .filter(|l| l.is_empty() || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(|l| format!("{what}: language {l:?} is not a language tag such as \"en\" or \"de\""))
}

impl Agent {
    pub fn check(&self) -> Vec<String> {
        let what = format!("agent {:?}", self.name);
        let mut p: Vec<String> = check_name("agent", &self.name).into_iter().collect();
        if self.addresses.is_empty() {
            p.push(format!("{what}: give at least one address"));
        }
        p.extend(
            self.addresses
                .iter()
                .filter_map(|a| check_address(&what, a)),
        );
        p.extend(check_language(&what, &self.language));
        p
    }
}

impl Queue {
    pub fn check(&self) -> Vec<String> {
        let what = format!("queue {:?}", self.name);
        let mut p: Vec<String> = check_name("queue", &self.name).into_iter().collect();
        for a in [&self.support_address, &self.comment_address]
            .into_iter()
            .flatten()
        {
            p.extend(check_address(&what, a));
        }
        if self.notify == Notify::Group && self.group.is_none() {
            p.push(format!(
                "{what}: notify = \"group\" needs a group (set the queue's group)"
            ));
        }
        if let Some(v) = &self.service {
            p.extend(check_service_name(v).map(|e| format!("{what}: {e}")));
        }
        p
    }
}

impl Customer {
    pub fn check(&self) -> Vec<String> {
        let mut p: Vec<String> = check_name("customer", &self.name).into_iter().collect();
        for d in &self.domains {
            if d.is_empty() || !d.contains('.') && d != "localhost" || d.contains(['@', ' ']) {
                p.push(format!(
                    "customer {:?}: {d:?} is not a mail domain such as \"example.com\"",
                    self.name
                ));
            }
        }
        p
    }
}

impl CustomerUser {
    pub fn check(&self) -> Vec<String> {
        let what = format!("customer user {}", self.key());
        let mut p = Vec::new();
        if self.addresses.is_empty() {
            p.push("customer user: give at least one address".to_string());
        }
        p.extend(
            self.addresses
                .iter()
                .filter_map(|a| check_address(&what, a)),
        );
        p.extend(check_language(&what, &self.language));
        p
    }
}
