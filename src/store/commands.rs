//! What agents' commands (issue 11, item 5) need from the store beyond
//! what every mail reads: the active agents with their addresses and the
//! groups they have rw on (who `#assign` may name), the last agent's reply
//! on a ticket (two agents answering at once), and the writes the apply
//! stage makes for a command that takes something away — a tag, an
//! observer, the assigned agent — plus the command reference sent without
//! a ticket. Each through a key or an index.

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::{now_text, now_unix, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// An active agent: what `#assign` checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AgentRights {
    pub name: String,
    /// Lower case, the first (rank 0) first.
    pub addresses: Vec<String>,
    /// The groups the agent has rw on.
    pub rw: Vec<String>,
    /// The language the agent reads (their transcripts), if set.
    pub language: Option<String>,
}

/// Every active agent, by name, with addresses and rw groups (the staff:
/// a few rows).
pub fn active_agents(c: &Connection) -> Result<Vec<AgentRights>> {
    let mut out: Vec<AgentRights> = Vec::new();
    let rows = c
        .prepare_cached(
            "SELECT g.name, x.address, g.language FROM agents g
             JOIN agent_addresses x ON x.agent_id = g.id
             WHERE g.active = 1 ORDER BY g.name, x.rank",
        )?
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (name, address, language) in rows {
        match out.last_mut() {
            Some(a) if a.name == name => a.addresses.push(address.to_lowercase()),
            _ => out.push(AgentRights {
                name,
                addresses: vec![address.to_lowercase()],
                rw: Vec::new(),
                language,
            }),
        }
    }
    let access = c
        .prepare_cached(
            "SELECT a.name, u.name FROM agent_group_access x
             JOIN agents a ON a.id = x.agent_id AND a.active = 1
             JOIN user_groups u ON u.id = x.group_id
             WHERE x.access = 'rw' ORDER BY u.name",
        )?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (agent, group) in access {
        if let Some(a) = out.iter_mut().find(|a| a.name == agent) {
            a.rw.push(group);
        }
    }
    Ok(out)
}

/// An agent's reply already on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastReply {
    pub from_address: String,
    pub from_name: Option<String>,
    /// As stored (RFC 3339, UTC).
    pub at: String,
}

/// The newest inbound article of kind `agent_reply` on the ticket.
pub fn last_agent_reply(c: &Connection, ticket_id: i64) -> Result<Option<LastReply>> {
    Ok(c.prepare_cached(
        "SELECT from_address, from_name, created_at FROM articles
         WHERE ticket_id = ?1 AND direction = 'in' AND kind = 'agent_reply'
         ORDER BY id DESC LIMIT 1",
    )?
    .query_row([ticket_id], |r| {
        Ok(LastReply {
            from_address: r.get(0)?,
            from_name: r.get(1)?,
            at: r.get(2)?,
        })
    })
    .optional()?)
}

/// An agent's reply or note already on the ticket under this Message-ID
/// from this address (a copy that came another way, its bytes changed on
/// the road): the article's id. A mail client never reuses a Message-ID.
pub fn same_agent_mail(
    c: &Connection,
    ticket_id: i64,
    message_id: &str,
    from: &str,
) -> Result<Option<i64>> {
    Ok(c.prepare_cached(
        "SELECT a.id FROM message_ids m JOIN articles a ON a.id = m.article_id
         WHERE m.message_id = ?1 AND a.ticket_id = ?2 AND a.direction = 'in'
           AND a.from_address = ?3 AND a.kind IN ('agent_reply', 'agent_note')",
    )?
    .query_row(params![message_id, ticket_id, from], |r| r.get(0))
    .optional()?)
}

/// Take `tags` off the ticket.
pub fn remove_tags(c: &Connection, ticket_id: i64, tags: &[String]) -> Result<()> {
    let mut stmt = c.prepare_cached("DELETE FROM ticket_tags WHERE ticket_id = ?1 AND tag = ?2")?;
    for t in tags {
        stmt.execute(params![ticket_id, t])?;
    }
    Ok(())
}

/// Take the observers at `addresses` off the ticket (requesters stay: the
/// decide stage refuses to remove one).
pub fn remove_observers(c: &Connection, ticket_id: i64, addresses: &[String]) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "DELETE FROM ticket_participants WHERE ticket_id = ?1 AND address = ?2
         AND role <> 'requester'",
    )?;
    for a in addresses {
        stmt.execute(params![ticket_id, a])?;
    }
    Ok(())
}

/// The ticket is assigned to no agent.
pub fn unassign_agent(c: &Connection, ticket_id: i64) -> Result<()> {
    c.prepare_cached("UPDATE tickets SET assigned_agent_id = NULL WHERE id = ?1")?
        .execute([ticket_id])?;
    Ok(())
}

/// A mail that belongs to no ticket (the command reference an agent asked
/// for), ready for SMTP. Returns its outbox row.
pub fn enqueue_without_ticket(
    c: &Connection,
    kind: &str,
    envelope_from: &str,
    recipients: &[String],
    message_id: &str,
    raw: &[u8],
) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO outbox (ticket_id, article_id, kind, envelope_from, recipients, message_id,
             status, attempts, next_attempt_at, created_at)
         VALUES (NULL, NULL, ?1, ?2, ?3, ?4, 'pending', 0, ?5, ?6)",
    )?
    .execute(params![
        kind,
        envelope_from,
        recipients.join(","),
        message_id,
        now_unix(),
        now_text()
    ])?;
    let id = c.last_insert_rowid();
    super::outbox::put_raw(c, id, raw)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::store_with_ticket;

    #[test]
    fn removals_take_off_only_what_they_name() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, ticket_id) = store_with_ticket(dir.path());
        let c = store.conn();
        crate::store::ticket_fields::add_tags(c, ticket_id, &["a", "b"]).unwrap();
        remove_tags(c, ticket_id, &["a".into()]).unwrap();
        assert_eq!(
            crate::store::ticket_fields::tags(c, ticket_id).unwrap(),
            ["b"]
        );
        crate::store::records::add_participant(c, ticket_id, "o@x.test", None, "observer").unwrap();
        crate::store::records::add_participant(c, ticket_id, "r@x.test", None, "requester")
            .unwrap();
        remove_observers(c, ticket_id, &["o@x.test".into(), "r@x.test".into()]).unwrap();
        assert!(!crate::store::records::is_participant(c, ticket_id, "o@x.test").unwrap());
        assert!(crate::store::records::is_participant(c, ticket_id, "r@x.test").unwrap());
        assert_eq!(last_agent_reply(c, ticket_id).unwrap(), None);
        assert!(active_agents(c).unwrap().is_empty());
    }
}
