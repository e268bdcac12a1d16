//! The directory in the store (issue 8): groups, services, customers here;
//! agents and customer users in [`people`], queues in [`queues`], the
//! reads processing does per message in [`lookup`], and a ticket's
//! assigned agent and group in [`actors`].
//!
//! Each entity has `list`, `get`, `put` (insert or replace, with its
//! links) and `remove`, over the shapes of [`crate::directory`], so the
//! CLI and `directory apply` share them. Callers pass a transaction;
//! a `put` naming a group, customer or service that does not exist fails
//! with [`DirError::NotFound`] and changes nothing the caller commits.

pub mod actors;
pub mod lookup;
pub mod people;
pub mod queues;

use rusqlite::{params, Connection, OptionalExtension};

use super::{now_text, StoreError};
use crate::directory::file::{Change, Entry};
use crate::directory::{Customer, Directory, Group, Service};

/// Why a directory change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// Something named does not exist (exit 66).
    #[error("{0}")]
    NotFound(String),
    /// The entry is not acceptable as given (exit 65).
    #[error("{0}")]
    Invalid(String),
    /// Still referred to by tickets or other entries (exit 65).
    #[error("{0}")]
    InUse(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for DirError {
    fn from(e: rusqlite::Error) -> Self {
        DirError::Store(StoreError::Sql(e))
    }
}

pub type Result<T> = std::result::Result<T, DirError>;

/// The id of the group `name`, or NotFound naming `what` refers to it.
pub(crate) fn group_id(c: &Connection, name: &str, what: &str) -> Result<i64> {
    c.prepare_cached("SELECT id FROM user_groups WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| {
            DirError::NotFound(format!(
                "{what}: no group named {name:?} (postdesk group add {name:?})"
            ))
        })
}

pub fn groups(c: &Connection) -> Result<Vec<Group>> {
    let mut stmt = c.prepare_cached("SELECT name, comment FROM user_groups ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok(Group {
            name: r.get(0)?,
            comment: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn group(c: &Connection, name: &str) -> Result<Option<Group>> {
    Ok(
        c.prepare_cached("SELECT name, comment FROM user_groups WHERE name = ?1")?
            .query_row([name], |r| {
                Ok(Group {
                    name: r.get(0)?,
                    comment: r.get(1)?,
                })
            })
            .optional()?,
    )
}

pub fn put_group(c: &Connection, g: &Group) -> Result<()> {
    if let Some(p) = crate::directory::check_name("group", &g.name) {
        return Err(DirError::Invalid(p));
    }
    c.prepare_cached(
        "INSERT INTO user_groups (name, comment, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(name) DO UPDATE SET comment = excluded.comment",
    )?
    .execute(params![g.name, g.comment, now_text()])?;
    Ok(())
}

/// Remove a group: its members' and customer users' links go with it; a
/// queue or a ticket still assigned to it keeps it.
pub fn remove_group(c: &Connection, name: &str) -> Result<()> {
    let id = group_id(c, name, "group remove")?;
    let queue: Option<String> = c
        .prepare_cached("SELECT name FROM queues WHERE group_id = ?1 LIMIT 1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    if let Some(q) = queue {
        return Err(DirError::InUse(format!(
            "group {name:?} is queue {q:?}'s group: give the queue another group first \
             (postdesk queue update {q:?} --group …)"
        )));
    }
    let tickets = c
        .prepare_cached("SELECT 1 FROM tickets WHERE assigned_group_id = ?1 LIMIT 1")?
        .exists([id])?;
    if tickets {
        return Err(DirError::InUse(format!(
            "group {name:?} is assigned to tickets: it stays so their history keeps it"
        )));
    }
    c.prepare_cached("DELETE FROM user_groups WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

pub fn services(c: &Connection) -> Result<Vec<Service>> {
    let mut stmt = c.prepare_cached("SELECT name, is_default FROM services ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok(Service {
            name: r.get(0)?,
            default: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn service(c: &Connection, name: &str) -> Result<Option<Service>> {
    Ok(
        c.prepare_cached("SELECT name, is_default FROM services WHERE name = ?1")?
            .query_row([name], |r| {
                Ok(Service {
                    name: r.get(0)?,
                    default: r.get(1)?,
                })
            })
            .optional()?,
    )
}

pub fn put_service(c: &Connection, s: &Service) -> Result<()> {
    if let Some(p) = crate::directory::check_service_name(&s.name) {
        return Err(DirError::Invalid(p));
    }
    c.prepare_cached(
        "INSERT INTO services (name, is_default, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(name) DO UPDATE SET is_default = excluded.is_default",
    )?
    .execute(params![s.name, s.default, now_text()])?;
    Ok(())
}

/// Remove a service and its entitlements.
pub fn remove_service(c: &Connection, name: &str) -> Result<()> {
    let n = c
        .prepare_cached("DELETE FROM services WHERE name = ?1")?
        .execute([name])?;
    if n == 0 {
        return Err(DirError::NotFound(format!("no service named {name:?}")));
    }
    Ok(())
}

pub fn customers(c: &Connection) -> Result<Vec<Customer>> {
    let names: Vec<String> = c
        .prepare_cached("SELECT name FROM customers ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for n in names {
        out.extend(customer(c, &n)?);
    }
    Ok(out)
}

pub fn customer(c: &Connection, name: &str) -> Result<Option<Customer>> {
    let Some(id) = customer_id(c, name)? else {
        return Ok(None);
    };
    let domains = c
        .prepare_cached(
            "SELECT domain FROM customer_domains WHERE customer_id = ?1 ORDER BY domain",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(Customer {
        name: name.to_string(),
        domains,
    }))
}

pub(crate) fn customer_id(c: &Connection, name: &str) -> Result<Option<i64>> {
    Ok(
        c.prepare_cached("SELECT id FROM customers WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?,
    )
}

/// Insert or replace a customer and its domains; a domain of another
/// customer is refused.
pub fn put_customer(c: &Connection, cu: &Customer) -> Result<()> {
    let mut cu = cu.clone();
    cu.normalise();
    if let Some(p) = cu.check().into_iter().next() {
        return Err(DirError::Invalid(p));
    }
    c.prepare_cached(
        "INSERT INTO customers (name, created_at) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
    )?
    .execute(params![cu.name, now_text()])?;
    let id = customer_id(c, &cu.name)?
        .ok_or_else(|| DirError::Store(StoreError::Sql(rusqlite::Error::QueryReturnedNoRows)))?;
    for d in &cu.domains {
        let owner: Option<String> = c
            .prepare_cached(
                "SELECT c.name FROM customer_domains d JOIN customers c ON c.id = d.customer_id
                 WHERE d.domain = ?1 AND d.customer_id <> ?2",
            )?
            .query_row(params![d, id], |r| r.get(0))
            .optional()?;
        if let Some(o) = owner {
            return Err(DirError::Invalid(format!(
                "customer {:?}: domain {d} belongs to customer {o:?}",
                cu.name
            )));
        }
    }
    c.prepare_cached("DELETE FROM customer_domains WHERE customer_id = ?1")?
        .execute([id])?;
    for d in &cu.domains {
        c.prepare_cached("INSERT INTO customer_domains (domain, customer_id) VALUES (?1, ?2)")?
            .execute(params![d, id])?;
    }
    Ok(())
}

/// Remove a customer and its domains; its customer users stay, without a
/// customer.
pub fn remove_customer(c: &Connection, name: &str) -> Result<()> {
    let id = customer_id(c, name)?
        .ok_or_else(|| DirError::NotFound(format!("no customer named {name:?}")))?;
    c.prepare_cached("UPDATE customer_users SET customer_id = NULL WHERE customer_id = ?1")?
        .execute([id])?;
    c.prepare_cached("DELETE FROM customers WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// The whole directory, normalised (what `directory export` writes).
pub fn load(c: &Connection) -> Result<Directory> {
    let mut d = Directory {
        group: groups(c)?,
        service: services(c)?,
        customer: customers(c)?,
        agent: people::agents(c)?,
        queue: queues::queues(c)?,
        customer_user: people::customer_users(c, None)?,
    };
    d.normalise();
    Ok(d)
}

/// Carry out `directory apply`'s changes, in order, in the caller's
/// transaction (the first refusal stops it; the caller rolls back).
pub fn apply(c: &Connection, changes: &[Change]) -> Result<()> {
    for ch in changes {
        match ch {
            Change::Add { entry } | Change::Update { entry, .. } => match entry {
                Entry::Group(x) => put_group(c, x)?,
                Entry::Service(x) => put_service(c, x)?,
                Entry::Customer(x) => put_customer(c, x)?,
                Entry::Agent(x) => people::put_agent(c, x)?,
                Entry::Queue(x) => queues::put_queue(c, x)?,
                Entry::CustomerUser { user, was } => {
                    people::put_customer_user(c, user, was.as_deref())?
                }
            },
            Change::Remove { kind, name } => match *kind {
                "group" => remove_group(c, name)?,
                "service" => remove_service(c, name)?,
                "customer" => remove_customer(c, name)?,
                "agent" => people::remove_agent(c, name)?,
                "queue" => queues::remove_queue(c, name)?,
                _ => people::remove_customer_user(c, name)?,
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
