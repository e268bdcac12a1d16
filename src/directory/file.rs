//! `postdesk directory apply`: what it takes to bring the directory in the
//! store to what a file says, as a list of changes (pure; the store
//! carries them out in one transaction, `--dry-run` prints them).
//!
//! Entries are matched by name (customer users by their first address, or
//! failing that by any address they share, so a customer user's first
//! address can change). An entry equal to the stored one makes no change,
//! which is what makes `apply` idempotent. Entries the file does not name
//! are kept unless `prune` is asked for: then they are removed (queues
//! leave the directory and fall back to the configuration).

use serde::Serialize;

use super::{Agent, Customer, CustomerUser, Directory, Group, Queue, Service};

/// One entry, whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Group(Group),
    Service(Service),
    Customer(Customer),
    Agent(Agent),
    Queue(Queue),
    CustomerUser {
        #[serde(flatten)]
        user: CustomerUser,
        /// The first address it had in the store, when that changes.
        #[serde(skip_serializing_if = "Option::is_none")]
        was: Option<String>,
    },
}

/// One change to the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    Add { entry: Entry },
    Update { entry: Entry, fields: Vec<String> },
    Remove { kind: &'static str, name: String },
}

impl Change {
    /// One line for `--dry-run` and the command's report.
    pub fn describe(&self) -> String {
        match self {
            Change::Add { entry } => format!("add {}", entry.describe()),
            Change::Update { entry, fields } => {
                format!("update {}: {}", entry.describe(), fields.join(", "))
            }
            Change::Remove { kind, name } => format!("remove {kind} {name}"),
        }
    }
}

impl Entry {
    pub fn kind(&self) -> &'static str {
        match self {
            Entry::Group(_) => "group",
            Entry::Service(_) => "service",
            Entry::Customer(_) => "customer",
            Entry::Agent(_) => "agent",
            Entry::Queue(_) => "queue",
            Entry::CustomerUser { .. } => "customer-user",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Entry::Group(x) => &x.name,
            Entry::Service(x) => &x.name,
            Entry::Customer(x) => &x.name,
            Entry::Agent(x) => &x.name,
            Entry::Queue(x) => &x.name,
            Entry::CustomerUser { user, .. } => user.key(),
        }
    }

    fn describe(&self) -> String {
        format!("{} {}", self.kind(), self.name())
    }
}

/// The fields in which two entries differ, by their written names.
fn differing<T: Serialize>(a: &T, b: &T) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return vec!["(all)".into()];
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// Changes for entries matched by name.
fn by_name<T: Clone + PartialEq + Serialize>(
    out: &mut Vec<Change>,
    current: &[T],
    desired: &[T],
    name: fn(&T) -> &str,
    wrap: fn(T) -> Entry,
) {
    for d in desired {
        match current.iter().find(|c| name(c) == name(d)) {
            None => out.push(Change::Add {
                entry: wrap(d.clone()),
            }),
            Some(c) if c != d => out.push(Change::Update {
                entry: wrap(d.clone()),
                fields: differing(c, d),
            }),
            Some(_) => {}
        }
    }
}

fn removed<T>(
    out: &mut Vec<Change>,
    kind: &'static str,
    current: &[T],
    kept: impl Fn(&T) -> bool,
    name: fn(&T) -> &str,
) {
    for c in current.iter().filter(|c| !kept(c)) {
        out.push(Change::Remove {
            kind,
            name: name(c).to_string(),
        });
    }
}

/// The changes that make `current` into `desired` (both normalised), in
/// the order they can be made: what others refer to is added first and
/// removed last.
pub fn changes(current: &Directory, desired: &Directory, prune: bool) -> Vec<Change> {
    let mut out = Vec::new();
    by_name(
        &mut out,
        &current.group,
        &desired.group,
        |x| &x.name,
        Entry::Group,
    );
    by_name(
        &mut out,
        &current.service,
        &desired.service,
        |x| &x.name,
        Entry::Service,
    );
    by_name(
        &mut out,
        &current.customer,
        &desired.customer,
        |x| &x.name,
        Entry::Customer,
    );
    by_name(
        &mut out,
        &current.agent,
        &desired.agent,
        |x| &x.name,
        Entry::Agent,
    );
    by_name(
        &mut out,
        &current.queue,
        &desired.queue,
        |x| &x.name,
        Entry::Queue,
    );
    let matching = |d: &CustomerUser| {
        current
            .customer_user
            .iter()
            .find(|c| c.key() == d.key())
            .or_else(|| {
                current
                    .customer_user
                    .iter()
                    .find(|c| c.addresses.iter().any(|a| d.addresses.contains(a)))
            })
    };
    for d in &desired.customer_user {
        match matching(d) {
            None => out.push(Change::Add {
                entry: Entry::CustomerUser {
                    user: d.clone(),
                    was: None,
                },
            }),
            Some(c) if c != d => out.push(Change::Update {
                entry: Entry::CustomerUser {
                    user: d.clone(),
                    was: (c.key() != d.key()).then(|| c.key().to_string()),
                },
                fields: differing(c, d),
            }),
            Some(_) => {}
        }
    }
    if prune {
        removed(
            &mut out,
            "customer-user",
            &current.customer_user,
            |c| {
                desired.customer_user.iter().any(|d| {
                    d.key() == c.key() || c.addresses.iter().any(|a| d.addresses.contains(a))
                })
            },
            CustomerUser::key,
        );
        let names = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
        let queues = names(desired.queue.iter().map(|x| x.name.as_str()).collect());
        removed(
            &mut out,
            "queue",
            &current.queue,
            |c| queues.contains(&c.name),
            |x| &x.name,
        );
        let agents = names(desired.agent.iter().map(|x| x.name.as_str()).collect());
        removed(
            &mut out,
            "agent",
            &current.agent,
            |c| agents.contains(&c.name),
            |x| &x.name,
        );
        let customers = names(desired.customer.iter().map(|x| x.name.as_str()).collect());
        removed(
            &mut out,
            "customer",
            &current.customer,
            |c| customers.contains(&c.name),
            |x| &x.name,
        );
        let services = names(desired.service.iter().map(|x| x.name.as_str()).collect());
        removed(
            &mut out,
            "service",
            &current.service,
            |c| services.contains(&c.name),
            |x| &x.name,
        );
        let groups = names(desired.group.iter().map(|x| x.name.as_str()).collect());
        removed(
            &mut out,
            "group",
            &current.group,
            |c| groups.contains(&c.name),
            |x| &x.name,
        );
    }
    out
}

/// Read a directory file: TOML in the shape of [`Directory`], normalised
/// and checked. Every problem is listed.
pub fn read(text: &str) -> Result<Directory, Vec<String>> {
    let mut d: Directory = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
    d.normalise();
    let problems = d.check();
    if problems.is_empty() {
        Ok(d)
    } else {
        Err(problems)
    }
}

/// Write a directory as the TOML `read` takes back.
pub fn write(d: &Directory) -> Result<String, toml::ser::Error> {
    toml::to_string(d)
}
