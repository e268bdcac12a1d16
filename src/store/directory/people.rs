//! Agents and customer users in the store: each with their addresses (in
//! order: the first is where mail goes), group access and, for customer
//! users, customer and services. `put_*` replaces an entry with its links.

use rusqlite::{params, Connection, OptionalExtension};

use super::{customer_id, group_id, DirError, Result};
use crate::directory::{Access, Agent, CustomerUser};
use crate::store::now_text;

fn agent_id(c: &Connection, name: &str) -> Result<Option<i64>> {
    Ok(c.prepare_cached("SELECT id FROM agents WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

/// Groups with their access, for an agent or a customer user.
fn access_lists(c: &Connection, sql: &str, id: i64) -> Result<(Vec<String>, Vec<String>)> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let (mut rw, mut ro) = (Vec::new(), Vec::new());
    for row in rows {
        let (g, a) = row?;
        if a == "rw" {
            rw.push(g);
        } else {
            ro.push(g);
        }
    }
    rw.sort();
    ro.sort();
    Ok((rw, ro))
}

pub fn agents(c: &Connection) -> Result<Vec<Agent>> {
    let names: Vec<String> = c
        .prepare_cached("SELECT name FROM agents ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for n in names {
        out.extend(agent(c, &n)?);
    }
    Ok(out)
}

pub fn agent(c: &Connection, name: &str) -> Result<Option<Agent>> {
    let head = c
        .prepare_cached("SELECT id, language, active FROM agents WHERE name = ?1")?
        .query_row([name], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })
        .optional()?;
    let Some((id, language, active)) = head else {
        return Ok(None);
    };
    let addresses = c
        .prepare_cached("SELECT address FROM agent_addresses WHERE agent_id = ?1 ORDER BY rank")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let (rw, ro) = access_lists(
        c,
        "SELECT g.name, a.access FROM agent_group_access a JOIN user_groups g ON g.id = a.group_id
         WHERE a.agent_id = ?1",
        id,
    )?;
    Ok(Some(Agent {
        name: name.to_string(),
        addresses,
        language,
        active,
        rw,
        ro,
    }))
}

/// Insert or replace an agent, its addresses and group access.
pub fn put_agent(c: &Connection, a: &Agent) -> Result<()> {
    let mut a = a.clone();
    a.normalise();
    if let Some(p) = a.check().into_iter().next() {
        return Err(DirError::Invalid(p));
    }
    let what = format!("agent {:?}", a.name);
    let mut links = Vec::new();
    for (groups, access) in [(&a.rw, Access::Rw), (&a.ro, Access::Ro)] {
        for g in groups {
            links.push((group_id(c, g, &what)?, access));
        }
    }
    c.prepare_cached(
        "INSERT INTO agents (name, language, active, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(name) DO UPDATE SET language = excluded.language, active = excluded.active",
    )?
    .execute(params![a.name, a.language, a.active, now_text()])?;
    let id = agent_id(c, &a.name)?
        .ok_or_else(|| DirError::from(rusqlite::Error::QueryReturnedNoRows))?;
    for addr in &a.addresses {
        let owner: Option<String> = c
            .prepare_cached(
                "SELECT g.name FROM agent_addresses x JOIN agents g ON g.id = x.agent_id
                 WHERE x.address = ?1 AND x.agent_id <> ?2",
            )?
            .query_row(params![addr, id], |r| r.get(0))
            .optional()?;
        if let Some(o) = owner {
            return Err(DirError::Invalid(format!(
                "{what}: address {addr} belongs to agent {o:?}"
            )));
        }
    }
    c.prepare_cached("DELETE FROM agent_addresses WHERE agent_id = ?1")?
        .execute([id])?;
    for (rank, addr) in a.addresses.iter().enumerate() {
        c.prepare_cached(
            "INSERT INTO agent_addresses (address, agent_id, rank) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![addr, id, rank as i64])?;
    }
    c.prepare_cached("DELETE FROM agent_group_access WHERE agent_id = ?1")?
        .execute([id])?;
    for (g, access) in links {
        c.prepare_cached(
            "INSERT INTO agent_group_access (agent_id, group_id, access) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, g, access.as_str()])?;
    }
    Ok(())
}

/// Remove an agent; one assigned to tickets stays (deactivate instead).
pub fn remove_agent(c: &Connection, name: &str) -> Result<()> {
    let id =
        agent_id(c, name)?.ok_or_else(|| DirError::NotFound(format!("no agent named {name:?}")))?;
    let assigned = c
        .prepare_cached("SELECT 1 FROM tickets WHERE assigned_agent_id = ?1 LIMIT 1")?
        .exists([id])?;
    if assigned {
        return Err(DirError::InUse(format!(
            "agent {name:?} is assigned to tickets: deactivate instead \
             (postdesk agent update {name:?} --active false)"
        )));
    }
    c.prepare_cached("DELETE FROM agents WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// The id of the customer user with this address (any of theirs).
pub(crate) fn customer_user_id(c: &Connection, address: &str) -> Result<Option<i64>> {
    Ok(
        c.prepare_cached(
            "SELECT customer_user_id FROM customer_user_addresses WHERE address = ?1",
        )?
        .query_row([address.trim().to_lowercase()], |r| r.get(0))
        .optional()?,
    )
}

/// Customer users, by their first address; only `customer`'s if given.
pub fn customer_users(c: &Connection, customer: Option<&str>) -> Result<Vec<CustomerUser>> {
    let ids: Vec<i64> = match customer {
        Some(name) => {
            let Some(cid) = customer_id(c, name)? else {
                return Err(DirError::NotFound(format!("no customer named {name:?}")));
            };
            c.prepare_cached("SELECT id FROM customer_users WHERE customer_id = ?1 ORDER BY login")?
                .query_map([cid], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        }
        None => c
            .prepare_cached("SELECT id FROM customer_users ORDER BY login")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?,
    };
    let mut out = Vec::new();
    for id in ids {
        out.extend(customer_user_by_id(c, id)?);
    }
    Ok(out)
}

pub fn customer_user(c: &Connection, address: &str) -> Result<Option<CustomerUser>> {
    match customer_user_id(c, address)? {
        Some(id) => customer_user_by_id(c, id),
        None => Ok(None),
    }
}

fn customer_user_by_id(c: &Connection, id: i64) -> Result<Option<CustomerUser>> {
    let head = c
        .prepare_cached(
            "SELECT u.name, u.language, c.name FROM customer_users u
             LEFT JOIN customers c ON c.id = u.customer_id WHERE u.id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .optional()?;
    let Some((name, language, customer)) = head else {
        return Ok(None);
    };
    let addresses = c
        .prepare_cached(
            "SELECT address FROM customer_user_addresses WHERE customer_user_id = ?1 ORDER BY rank",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let (rw, ro) = access_lists(
        c,
        "SELECT g.name, a.access FROM customer_user_group_access a
         JOIN user_groups g ON g.id = a.group_id WHERE a.customer_user_id = ?1",
        id,
    )?;
    let services = c
        .prepare_cached(
            "SELECT s.name FROM customer_user_services x JOIN services s ON s.id = x.service_id
             WHERE x.customer_user_id = ?1 ORDER BY s.name",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(CustomerUser {
        addresses,
        name,
        language,
        customer,
        rw,
        ro,
        services,
    }))
}

/// Insert or replace the customer user named by `u`'s first address (or,
/// with `was`, the one that address named before: an update may change
/// the first address).
pub fn put_customer_user(c: &Connection, u: &CustomerUser, was: Option<&str>) -> Result<()> {
    let mut u = u.clone();
    u.normalise();
    if let Some(p) = u.check().into_iter().next() {
        return Err(DirError::Invalid(p));
    }
    let what = format!("customer user {}", u.key());
    let customer = match &u.customer {
        Some(name) => Some(customer_id(c, name)?.ok_or_else(|| {
            DirError::NotFound(format!(
                "{what}: no customer named {name:?} (postdesk customer add {name:?})"
            ))
        })?),
        None => None,
    };
    let mut links = Vec::new();
    for (groups, access) in [(&u.rw, Access::Rw), (&u.ro, Access::Ro)] {
        for g in groups {
            links.push((group_id(c, g, &what)?, access));
        }
    }
    let mut services = Vec::new();
    for s in &u.services {
        let id: Option<i64> = c
            .prepare_cached("SELECT id FROM services WHERE name = ?1")?
            .query_row([s], |r| r.get(0))
            .optional()?;
        services.push(id.ok_or_else(|| {
            DirError::NotFound(format!(
                "{what}: no service named {s:?} (postdesk service add {s:?})"
            ))
        })?);
    }
    let existing = match was {
        Some(w) => customer_user_id(c, w)?,
        None => c
            .prepare_cached("SELECT id FROM customer_users WHERE login = ?1")?
            .query_row([u.key()], |r| r.get(0))
            .optional()?,
    };
    let id: i64 = match existing {
        Some(id) => {
            c.prepare_cached(
                "UPDATE customer_users SET login = ?2, name = ?3, language = ?4, customer_id = ?5
                 WHERE id = ?1",
            )?
            .execute(params![id, u.key(), u.name, u.language, customer])?;
            id
        }
        None => c
            .prepare_cached(
                "INSERT INTO customer_users (login, name, language, customer_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            )?
            .query_row(
                params![u.key(), u.name, u.language, customer, now_text()],
                |r| r.get(0),
            )?,
    };
    for addr in &u.addresses {
        if customer_user_id(c, addr)?.is_some_and(|other| other != id) {
            return Err(DirError::Invalid(format!(
                "{what}: address {addr} belongs to another customer user"
            )));
        }
    }
    c.prepare_cached("DELETE FROM customer_user_addresses WHERE customer_user_id = ?1")?
        .execute([id])?;
    for (rank, addr) in u.addresses.iter().enumerate() {
        c.prepare_cached(
            "INSERT INTO customer_user_addresses (address, customer_user_id, rank) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![addr, id, rank as i64])?;
    }
    c.prepare_cached("DELETE FROM customer_user_group_access WHERE customer_user_id = ?1")?
        .execute([id])?;
    for (g, access) in links {
        c.prepare_cached(
            "INSERT INTO customer_user_group_access (customer_user_id, group_id, access)
             VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, g, access.as_str()])?;
    }
    c.prepare_cached("DELETE FROM customer_user_services WHERE customer_user_id = ?1")?
        .execute([id])?;
    for s in services {
        c.prepare_cached(
            "INSERT INTO customer_user_services (customer_user_id, service_id) VALUES (?1, ?2)",
        )?
        .execute(params![id, s])?;
    }
    Ok(())
}

/// Make a customer user of a sender's first mail, unless the address is
/// already one's (then nothing changes).
pub fn add_customer_user_on_first_mail(
    c: &Connection,
    address: &str,
    name: Option<&str>,
    customer: Option<&str>,
) -> std::result::Result<(), crate::store::StoreError> {
    let address = address.trim().to_lowercase();
    let id: Option<i64> = c
        .prepare_cached(
            "INSERT INTO customer_users (login, name, customer_id, created_at)
             SELECT ?1, ?2, (SELECT id FROM customers WHERE name = ?3), ?4
             WHERE NOT EXISTS (SELECT 1 FROM customer_user_addresses WHERE address = ?1)
               AND NOT EXISTS (SELECT 1 FROM customer_users WHERE login = ?1)
             RETURNING id",
        )?
        .query_row(params![address, name, customer, now_text()], |r| r.get(0))
        .optional()?;
    if let Some(id) = id {
        c.prepare_cached(
            "INSERT INTO customer_user_addresses (address, customer_user_id, rank) VALUES (?1, ?2, 0)",
        )?
        .execute(params![address, id])?;
    }
    Ok(())
}

/// Remove the customer user with this address, with their links.
pub fn remove_customer_user(c: &Connection, address: &str) -> Result<()> {
    let id = customer_user_id(c, address)?
        .ok_or_else(|| DirError::NotFound(format!("no customer user with address {address}")))?;
    c.prepare_cached("DELETE FROM customer_users WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}
