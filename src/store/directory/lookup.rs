//! What processing reads from the directory per message (the facts
//! stage): who a sender is, what the directory says about a ticket's
//! queue and actors, and the directory's queues with where their agents'
//! notifications go. Reads only, each through a key or an index.

use rusqlite::{Connection, OptionalExtension};

use crate::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;
use crate::directory::permission::{Member, Sender, Ticket};
use crate::directory::{domain_of, Notify, Strangers, UnknownSenders};

/// A directory queue as deciding needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueFacts {
    pub name: String,
    pub group: Option<String>,
    pub notify: String,
    /// Where agents' notifications go when `notify` is `group` or an
    /// address: the rw members' first addresses (active agents only), or
    /// the address.
    pub notify_to: Vec<String>,
    pub cc_observers: bool,
    pub strangers: Strangers,
    /// Mail to it from an empowered agent is an internal note.
    pub comment_address: Option<String>,
    /// The service a new ticket in the queue gets (when its customer user
    /// is entitled to it).
    pub service: Option<String>,
    /// A new ticket's sender the directory does not know: made a customer
    /// user, or refused.
    pub unknown_senders: UnknownSenders,
}

fn access(c: &Connection, sql: &str, id: i64) -> Result<(Vec<String>, Vec<String>)> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let (mut rw, mut ro) = (Vec::new(), Vec::new());
    for row in rows {
        let (g, a) = row?;
        if a == "rw" {
            rw.push(g)
        } else {
            ro.push(g)
        }
    }
    Ok((rw, ro))
}

/// The customer an address belongs to: its customer user's, else the one
/// whose mail domain it is.
pub fn customer_of(c: &Connection, address: &str) -> Result<Option<String>> {
    let address = address.trim().to_lowercase();
    let by_user: Option<Option<String>> = c
        .prepare_cached(
            "SELECT c.name FROM customer_user_addresses x
             JOIN customer_users u ON u.id = x.customer_user_id
             LEFT JOIN customers c ON c.id = u.customer_id WHERE x.address = ?1",
        )?
        .query_row([&address], |r| r.get(0))
        .optional()?;
    if let Some(Some(name)) = by_user {
        return Ok(Some(name));
    }
    let Some(domain) = domain_of(&address) else {
        return Ok(None);
    };
    Ok(c.prepare_cached(
        "SELECT c.name FROM customer_domains d JOIN customers c ON c.id = d.customer_id
             WHERE d.domain = ?1",
    )?
    .query_row([domain], |r| r.get(0))
    .optional()?)
}

/// Who `address` is in the directory.
pub fn sender(c: &Connection, address: &str) -> Result<Sender> {
    let address = address.trim().to_lowercase();
    let agent = c
        .prepare_cached(
            "SELECT g.id, g.name, g.active FROM agent_addresses x JOIN agents g ON g.id = x.agent_id
             WHERE x.address = ?1",
        )?
        .query_row([&address], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?))
        })
        .optional()?;
    let agent = match agent {
        Some((id, name, active)) => {
            let (rw, ro) = access(
                c,
                "SELECT g.name, a.access FROM agent_group_access a
                 JOIN user_groups g ON g.id = a.group_id WHERE a.agent_id = ?1",
                id,
            )?;
            Some(Member {
                name,
                active,
                rw,
                ro,
            })
        }
        None => None,
    };
    let user = c
        .prepare_cached(
            "SELECT u.id, u.login FROM customer_user_addresses x
             JOIN customer_users u ON u.id = x.customer_user_id WHERE x.address = ?1",
        )?
        .query_row([&address], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?;
    let customer_user = match user {
        Some((id, login)) => {
            let (rw, ro) = access(
                c,
                "SELECT g.name, a.access FROM customer_user_group_access a
                 JOIN user_groups g ON g.id = a.group_id WHERE a.customer_user_id = ?1",
                id,
            )?;
            Some(Member {
                name: login,
                active: true,
                rw,
                ro,
            })
        }
        None => None,
    };
    Ok(Sender {
        agent,
        customer_user,
        customer: customer_of(c, &address)?,
    })
}

/// What the directory says about ticket `ticket_id` (in queue `queue`)
/// for a mail from `sender`.
pub fn ticket(c: &Connection, ticket_id: i64, queue: &str, sender: &str) -> Result<Ticket> {
    let q = c
        .prepare_cached(
            "SELECT g.name, q.strangers FROM queues q LEFT JOIN user_groups g ON g.id = q.group_id
             WHERE q.name = ?1 AND q.in_directory = 1",
        )?
        .query_row([queue], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?;
    let (queue_group, strangers) = match q {
        Some((g, s)) => (g, Strangers::parse(&s).unwrap_or(Strangers::System)),
        None => (None, Strangers::System),
    };
    let mut requester_customers = Vec::new();
    let mut sender_role = None;
    let sender = sender.trim().to_lowercase();
    let actors: Vec<(String, String)> = c
        .prepare_cached("SELECT address, role FROM ticket_participants WHERE ticket_id = ?1")?
        .query_map([ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (address, role) in actors {
        if address.to_lowercase() == sender {
            sender_role = Some(role.clone());
        }
        if role == "requester" {
            if let Some(cu) = customer_of(c, &address)? {
                if !requester_customers.contains(&cu) {
                    requester_customers.push(cu);
                }
            }
        }
    }
    Ok(Ticket {
        queue_group,
        requester_customers,
        sender_role,
        strangers,
    })
}

/// The directory's queues, with where their agents' notifications go.
pub fn queues(c: &Connection) -> Result<Vec<QueueFacts>> {
    let mut out = Vec::new();
    for q in super::queues::queues(c)? {
        let notify_to = match &q.notify {
            Notify::Config => Vec::new(),
            Notify::Address(a) => vec![a.clone()],
            Notify::Group => match &q.group {
                Some(g) => rw_members(c, g)?,
                None => Vec::new(),
            },
        };
        out.push(QueueFacts {
            name: q.name,
            group: q.group,
            notify: q.notify.as_text().to_string(),
            notify_to,
            cc_observers: q.cc_observers,
            strangers: q.strangers,
            comment_address: q.comment_address.map(|a| a.to_lowercase()),
            service: q.service,
            unknown_senders: q.unknown_senders,
        });
    }
    Ok(out)
}

/// The first address of each active agent with rw on group `name`.
pub fn rw_members(c: &Connection, name: &str) -> Result<Vec<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT x.address FROM user_groups g
         JOIN agent_group_access a ON a.group_id = g.id AND a.access = 'rw'
         JOIN agents ag ON ag.id = a.agent_id AND ag.active = 1
         JOIN agent_addresses x ON x.agent_id = ag.id AND x.rank = 0
         WHERE g.name = ?1 ORDER BY x.address",
    )?;
    let rows = stmt.query_map([name], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The names of the directory's active agents and of its groups (what
/// the rule actions `agent` and `group` may name).
pub fn names(c: &Connection) -> Result<(Vec<String>, Vec<String>)> {
    let agents = c
        .prepare_cached("SELECT name FROM agents WHERE active = 1 ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let groups = c
        .prepare_cached("SELECT name FROM user_groups ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok((agents, groups))
}

/// Each active agent's name and first address (rank 0), by name.
pub fn agent_addresses(c: &Connection) -> Result<Vec<(String, String)>> {
    Ok(c.prepare_cached(
        "SELECT g.name, x.address FROM agents g
             JOIN agent_addresses x ON x.agent_id = g.id AND x.rank = 0
             WHERE g.active = 1 ORDER BY g.name",
    )?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect::<rusqlite::Result<_>>()?)
}

/// The services a customer user may have on a ticket: theirs and the
/// default ones (only the default ones for an address that is no customer
/// user's).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Entitlement {
    /// The address asked about (lower case).
    pub address: String,
    /// The customer user it is, if any.
    pub customer_user: Option<String>,
    /// The services it is entitled to, by name.
    pub services: Vec<String>,
}

/// Whether the directory lists any service at all (then a ticket's
/// service must be one its customer user is entitled to).
pub fn has_services(c: &Connection) -> Result<bool> {
    Ok(c.prepare_cached("SELECT EXISTS (SELECT 1 FROM services)")?
        .query_row([], |r| r.get(0))?)
}

/// What `address` is entitled to.
pub fn entitlement(c: &Connection, address: &str) -> Result<Entitlement> {
    let address = address.trim().to_lowercase();
    let customer_user = c
        .prepare_cached(
            "SELECT u.login FROM customer_user_addresses x
             JOIN customer_users u ON u.id = x.customer_user_id WHERE x.address = ?1",
        )?
        .query_row([&address], |r| r.get(0))
        .optional()?;
    let services = c
        .prepare_cached(
            "SELECT name FROM services WHERE is_default = 1
             UNION
             SELECT s.name FROM customer_user_addresses x
             JOIN customer_user_services cs ON cs.customer_user_id = x.customer_user_id
             JOIN services s ON s.id = cs.service_id WHERE x.address = ?1
             ORDER BY 1",
        )?
        .query_map([&address], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Entitlement {
        address,
        customer_user,
        services,
    })
}
