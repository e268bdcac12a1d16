//! What keeps robots, typos and forged senders off tickets: the ticket
//! number key, number lookups that respect the check-digit scheme a
//! ticket was issued under, recognising answers to our agents' alerts,
//! the agents' alert counts behind the caps, and the marks an inbound
//! article carries when its sender is unverified or something was held
//! back. Every function takes the caller's transaction (or savepoint).

use rusqlite::{params, Connection, OptionalExtension};

use super::records::TicketRef;
use super::{now_text, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// The secret behind the ticket numbers' serials (made at migration).
pub fn ticket_number_key(c: &Connection) -> Result<String> {
    Ok(
        c.prepare_cached("SELECT key FROM ticket_number_key WHERE id = 1")?
            .query_row([], |r| r.get(0))?,
    )
}

/// Whether any ticket has this number (a freshly made number is checked
/// before use: numbers of the old scheme share the format).
pub fn number_taken(c: &Connection, number: &str) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM tickets WHERE number = ?1")?
        .exists([number])?)
}

/// The ticket with this tagged number, if the number's check digit is the
/// one its ticket was issued with: `current` (Damm's) for tickets issued
/// since the switch, `legacy` (the old weighted digit) only for tickets
/// issued before it. So the old, weaker digit can never reach a new ticket.
pub fn ticket_by_tagged_number(
    c: &Connection,
    number: &str,
    current: bool,
    legacy: bool,
) -> Result<Option<TicketRef>> {
    if !current && !legacy {
        return Ok(None);
    }
    let Some(is_legacy) = c
        .prepare_cached("SELECT legacy_number FROM tickets WHERE number = ?1")?
        .query_row([number], |r| r.get::<_, bool>(0))
        .optional()?
    else {
        return Ok(None);
    };
    if (is_legacy && legacy) || (!is_legacy && current) {
        super::records::ticket_by_number(c, number)
    } else {
        Ok(None)
    }
}

/// Whether one of `ids` is the Message-ID of an agents' alert we sent on
/// `ticket_id`: only the agents' address received those.
pub fn answers_agents_alert(c: &Connection, ticket_id: i64, ids: &[String]) -> Result<bool> {
    let mut stmt = c.prepare_cached(
        "SELECT 1 FROM message_ids m JOIN articles a ON a.id = m.article_id
         WHERE m.message_id = ?1 AND m.ticket_id = ?2 AND a.direction = 'out'
           AND a.kind IN ('agent_new_ticket', 'agent_follow_up')",
    )?;
    for id in ids {
        if stmt.exists(params![id, ticket_id])? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Agents' alerts queued since `since` (RFC 3339): (on this ticket,
/// caused by mail from this sender).
pub fn agent_alerts_since(
    c: &Connection,
    ticket_id: i64,
    sender: &str,
    since: &str,
) -> Result<(u32, u32)> {
    let on_ticket = c
        .prepare_cached(
            "SELECT COUNT(*) FROM agent_alerts WHERE ticket_id = ?1 AND created_at >= ?2",
        )?
        .query_row(params![ticket_id, since], |r| r.get(0))?;
    let by_sender = c
        .prepare_cached("SELECT COUNT(*) FROM agent_alerts WHERE sender = ?1 AND created_at >= ?2")?
        .query_row(params![sender, since], |r| r.get(0))?;
    Ok((on_ticket, by_sender))
}

/// Agents' alerts queued since `since` (RFC 3339) caused by mail from
/// `sender`, on any ticket.
pub fn agent_alerts_by_sender_since(c: &Connection, sender: &str, since: &str) -> Result<u32> {
    Ok(c.prepare_cached(
        "SELECT COUNT(*) FROM agent_alerts WHERE sender = ?1 AND created_at >= ?2",
    )?
    .query_row(params![sender, since], |r| r.get(0))?)
}

/// Count one agents' alert (for the caps).
pub fn record_agent_alert(c: &Connection, ticket_id: i64, sender: &str) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO agent_alerts (ticket_id, sender, created_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![ticket_id, sender, now_text()])?;
    Ok(())
}

/// Mark an article's sender as unverified, saying why.
pub fn mark_unverified(c: &Connection, article_id: i64, why: &str) -> Result<()> {
    c.prepare_cached("UPDATE articles SET unverified = ?2 WHERE id = ?1")?
        .execute(params![article_id, why])?;
    Ok(())
}

/// Add a note to an article (what was held back on its account and why);
/// notes accumulate, one per line.
pub fn add_note(c: &Connection, article_id: i64, note: &str) -> Result<()> {
    c.prepare_cached(
        "UPDATE articles SET note = CASE WHEN note IS NULL THEN ?2 ELSE note || char(10) || ?2 END
         WHERE id = ?1",
    )?
    .execute(params![article_id, note])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};

    fn plan(c: &Connection, sql: &str) -> String {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        rows.join("; ")
    }

    #[test]
    fn per_message_queries_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("db"), Durability::Full).unwrap();
        let c = s.conn();
        let p = plan(
            c,
            "SELECT COUNT(*) FROM agent_alerts WHERE ticket_id = 1 AND created_at >= 'x'",
        );
        assert!(p.contains("agent_alerts_ticket"), "{p}");
        let p = plan(
            c,
            "SELECT COUNT(*) FROM agent_alerts WHERE sender = 'a' AND created_at >= 'x'",
        );
        assert!(p.contains("agent_alerts_sender"), "{p}");
        let p = plan(c, "SELECT legacy_number FROM tickets WHERE number = 'x'");
        assert!(p.contains("INDEX"), "{p}");
    }

    #[test]
    fn numbers_issued_before_the_switch_stay_valid_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            // A database of schema version 1 with a ticket in it.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(include_str!("schema_v1.sql")).unwrap();
            c.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO queues (name, created_at) VALUES ('q', 'now');
                 INSERT INTO tickets (number, subject, state, priority, queue_id,
                     customer_address, support_address, language, created_at, updated_at)
                 VALUES ('2026112210000017', 's', 'posted', 3, 1, 'a@x', 's@x', 'en', 'now', 'now');",
            )
            .unwrap();
        }
        let mut s = Store::open(&path, Durability::Full).unwrap();
        let c = s.conn();
        // Found under its old digit, as stored …
        let t = ticket_by_tagged_number(c, "2026112210000017", false, true).unwrap();
        assert_eq!(t.unwrap().number, "2026112210000017");
        // … and a ticket issued after the switch is not marked legacy.
        c.execute(
            "INSERT INTO tickets (number, subject, state, priority, queue_id,
                 customer_address, support_address, language, created_at, updated_at)
             VALUES ('n2', 's', 'posted', 3, 1, 'a@x', 's@x', 'en', 'now', 'now')",
            [],
        )
        .unwrap();
        assert!(ticket_by_tagged_number(c, "n2", false, true)
            .unwrap()
            .is_none());
    }

    #[test]
    fn key_is_made_once_and_counts_and_marks_work() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let key = {
            let mut s = Store::open(&path, Durability::Full).unwrap();
            ticket_number_key(s.conn()).unwrap()
        };
        assert_eq!(key.len(), 64);
        let mut s = Store::open(&path, Durability::Full).unwrap();
        assert_eq!(
            ticket_number_key(s.conn()).unwrap(),
            key,
            "kept, not remade"
        );
        let c = s.conn();
        c.execute(
            "INSERT INTO queues (name, created_at) VALUES ('q', 'now')",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO tickets (number, subject, state, priority, queue_id, customer_address,
                 support_address, language, created_at, updated_at)
             VALUES ('n1', 's', 'posted', 3, 1, 'a@x', 's@x', 'en', 'now', 'now')",
            [],
        )
        .unwrap();
        record_agent_alert(c, 1, "a@x").unwrap();
        record_agent_alert(c, 1, "b@x").unwrap();
        assert_eq!(agent_alerts_since(c, 1, "a@x", "2000").unwrap(), (2, 1));
        assert_eq!(agent_alerts_since(c, 1, "a@x", "9999").unwrap(), (0, 0));
        // A new ticket is not legacy: only the current digit finds it.
        assert!(ticket_by_tagged_number(c, "n1", true, false)
            .unwrap()
            .is_some());
        assert!(ticket_by_tagged_number(c, "n1", false, true)
            .unwrap()
            .is_none());
        c.execute("UPDATE tickets SET legacy_number = 1", [])
            .unwrap();
        assert!(ticket_by_tagged_number(c, "n1", false, true)
            .unwrap()
            .is_some());
        assert!(ticket_by_tagged_number(c, "n1", true, false)
            .unwrap()
            .is_none());
    }
}
