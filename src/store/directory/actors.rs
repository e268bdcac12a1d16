//! A ticket's assigned actors (GLPI): the agent and the group, by their
//! names in the directory. Requesters and observers are the ticket's
//! participants (`records`).

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// Assign `ticket_id` to the agent and/or group named (a name the
/// directory does not know leaves that part as it is; the decide stage
/// has already said so).
pub fn assign(
    c: &Connection,
    ticket_id: i64,
    agent: Option<&str>,
    group: Option<&str>,
) -> Result<()> {
    if let Some(a) = agent {
        c.prepare_cached(
            "UPDATE tickets SET assigned_agent_id = (SELECT id FROM agents WHERE name = ?2)
             WHERE id = ?1 AND EXISTS (SELECT 1 FROM agents WHERE name = ?2)",
        )?
        .execute(params![ticket_id, a])?;
    }
    if let Some(g) = group {
        c.prepare_cached(
            "UPDATE tickets SET assigned_group_id = (SELECT id FROM user_groups WHERE name = ?2)
             WHERE id = ?1 AND EXISTS (SELECT 1 FROM user_groups WHERE name = ?2)",
        )?
        .execute(params![ticket_id, g])?;
    }
    Ok(())
}

/// The names of the agent and the group `ticket_id` is assigned to.
pub fn assigned(c: &Connection, ticket_id: i64) -> Result<(Option<String>, Option<String>)> {
    Ok(c.prepare_cached(
        "SELECT a.name, g.name FROM tickets t
             LEFT JOIN agents a ON a.id = t.assigned_agent_id
             LEFT JOIN user_groups g ON g.id = t.assigned_group_id WHERE t.id = ?1",
    )?
    .query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()?
    .unwrap_or((None, None)))
}

/// A phone ticket (`postdesk ticket create`), right after the pipeline
/// made it: assign the agent who took the call (by name) and note on the
/// ticket's first article who opened it and how. Returns false when there
/// is no such ticket.
pub fn mark_phone_ticket(
    c: &Connection,
    number: &str,
    agent: Option<&str>,
    note: &str,
) -> Result<bool> {
    let first: Option<(i64, Option<i64>)> = c
        .prepare_cached(
            "SELECT t.id, (SELECT MIN(a.id) FROM articles a WHERE a.ticket_id = t.id)
             FROM tickets t WHERE t.number = ?1",
        )?
        .query_row([number], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((ticket_id, article)) = first else {
        return Ok(false);
    };
    assign(c, ticket_id, agent, None)?;
    if let Some(a) = article {
        crate::store::safeguards::add_note(c, a, note)?;
    }
    Ok(true)
}

/// Set phone ticket `number`'s service, chosen by whoever opened it
/// (`agent`, else postdesk itself), with its history row on the ticket's
/// first article. Returns false when there is no such ticket.
pub fn set_phone_service(
    c: &Connection,
    number: &str,
    service: &str,
    agent: Option<&str>,
) -> Result<bool> {
    use crate::tickets::history::{ActorKind, Change};
    let row: Option<(i64, Option<String>, Option<i64>)> = c
        .prepare_cached(
            "SELECT t.id, t.service, (SELECT MIN(a.id) FROM articles a WHERE a.ticket_id = t.id)
             FROM tickets t WHERE t.number = ?1",
        )?
        .query_row([number], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((ticket_id, old, article)) = row else {
        return Ok(false);
    };
    if old.as_deref() == Some(service) {
        return Ok(true);
    }
    c.prepare_cached("UPDATE tickets SET service = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![ticket_id, service, crate::store::now_text()])?;
    let (actor_kind, actor) = match agent {
        Some(a) => (ActorKind::Agent, a.to_string()),
        None => (ActorKind::System, "postdesk ticket create".to_string()),
    };
    crate::store::history::record(
        c,
        ticket_id,
        article,
        &Change {
            actor_kind,
            actor,
            field: "service",
            old,
            new: Some(service.to_string()),
        },
    )?;
    Ok(true)
}
