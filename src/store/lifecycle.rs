//! What the lifecycle needs from the store (issue 11, item 2): the link
//! from a ticket opened by a reply to a closed one (a `follow_up` row of
//! `ticket_links`, migration 20; `tickets.followed_from` of migration 19
//! is no longer used), the
//! tickets the scheduler may validate with the time since which each is
//! idle, and the states tickets hold (to warn about those no longer
//! configured). Every query goes through an index.

use rusqlite::{params, Connection, OptionalExtension};

use super::records::{ticket_row, TicketRef};
use super::{now_text, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// Record that `ticket_id` follows the (closed) ticket numbered `from`:
/// a `follow_up` link from it to the old one (migration 20), made by the
/// lifecycle. Nothing is written when no ticket has that number.
pub fn set_followed_from(c: &Connection, ticket_id: i64, from: &str) -> Result<()> {
    c.prepare_cached(
        "INSERT OR IGNORE INTO ticket_links (ticket_id, other_id, kind, created_at, created_by)
         SELECT ?1, id, 'follow_up', ?3, ?4 FROM tickets WHERE number = ?2",
    )?
    .execute(params![ticket_id, from, now_text(), FOLLOW_UP_BY])?;
    Ok(())
}

/// Who a follow-up link is recorded as made by.
pub const FOLLOW_UP_BY: &str = "lifecycle";

/// The number of the ticket `ticket_id` follows (its `follow_up` link),
/// if any.
pub fn followed_from(c: &Connection, ticket_id: i64) -> Result<Option<String>> {
    Ok(c.prepare_cached(
        "SELECT o.number FROM ticket_links l JOIN tickets o ON o.id = l.other_id
         WHERE l.ticket_id = ?1 AND l.kind = 'follow_up' ORDER BY l.rowid LIMIT 1",
    )?
    .query_row([ticket_id], |r| r.get(0))
    .optional()?)
}

/// A ticket the scheduler may validate, and when it last moved: its last
/// state change or customer's mail, whichever is later (else its last
/// update, for a ticket older than its history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idle {
    pub ticket: TicketRef,
    /// As stored (`%Y-%m-%dT%H:%M:%SZ`).
    pub since: String,
}

/// Tickets in `state`, oldest first, after ticket id `after`, at most
/// `limit`: the scheduler's candidates, read page by page.
pub fn idle_in_state(c: &Connection, state: &str, after: i64, limit: u32) -> Result<Vec<Idle>> {
    let mut st = c.prepare_cached(
        "SELECT t.id, t.number, t.subject, t.state, q.name, t.customer_address,
             t.language, t.support_address, t.urgency, t.impact, t.priority, t.priority_explicit,
             t.ticket_type, t.service, t.category, t.updated_at,
             (SELECT MAX(h.at) FROM ticket_history h
                 WHERE h.ticket_id = t.id AND h.field = 'state'),
             (SELECT MAX(a.created_at) FROM articles a
                 WHERE a.ticket_id = t.id AND a.direction = 'in' AND a.kind = 'customer')
         FROM tickets t JOIN queues q ON q.id = t.queue_id
         WHERE t.state = ?1 AND t.id > ?2 ORDER BY t.id LIMIT ?3",
    )?;
    let rows = st.query_map(params![state, after, limit], |r| {
        let ticket = ticket_row(r)?;
        let updated: String = r.get(15)?;
        let moved: Option<String> = r.get(16)?;
        let wrote: Option<String> = r.get(17)?;
        let since = match (moved, wrote) {
            (Some(m), Some(w)) => m.max(w),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => updated,
        };
        Ok(Idle { ticket, since })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The states tickets are in, each with how many (one pass over the
/// state index).
pub fn states_in_use(c: &Connection) -> Result<Vec<(String, i64)>> {
    Ok(
        c.prepare_cached("SELECT state, COUNT(*) FROM tickets GROUP BY state ORDER BY state")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::store_with_ticket;

    #[test]
    fn a_resolved_ticket_is_idle_since_its_last_move_and_a_follow_up_links_back() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, id) = store_with_ticket(dir.path());
        let c = s.conn();
        let number: String = c
            .query_row("SELECT number FROM tickets WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        c.execute("UPDATE tickets SET state = 'resolved' WHERE id = ?1", [id])
            .unwrap();
        let idle = idle_in_state(c, "resolved", 0, 10).unwrap();
        assert_eq!(idle.len(), 1);
        assert_eq!(idle[0].ticket.number, number);
        assert!(idle_in_state(c, "resolved", id, 10).unwrap().is_empty());
        assert_eq!(states_in_use(c).unwrap(), vec![("resolved".to_string(), 1)]);
        assert_eq!(followed_from(c, id).unwrap(), None);
        set_followed_from(c, id, &number).unwrap();
        assert_eq!(followed_from(c, id).unwrap(), Some(number));
    }

    fn ticket(c: &Connection, number: &str) -> i64 {
        crate::store::records::insert_ticket(
            c,
            &crate::store::records::NewTicket {
                number,
                subject: "s",
                state: "closed",
                urgency: 3,
                impact: 3,
                priority: 3,
                priority_explicit: false,
                queue: "support",
                customer_address: "a@x.test",
                customer_name: None,
                support_address: "s@x.test",
                language: "en",
            },
        )
        .unwrap()
    }

    #[test]
    fn migration_20_turns_followed_from_into_follow_up_links_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        let c = Connection::open(&p).unwrap();
        for sql in &crate::store::MIGRATIONS[..19] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch(
            "PRAGMA user_version = 19;
             INSERT INTO queues (name, created_at) VALUES ('support', 'now');",
        )
        .unwrap();
        let (old, new, other) = (ticket(&c, "1"), ticket(&c, "2"), ticket(&c, "3"));
        c.execute(
            "UPDATE tickets SET followed_from = ?1 WHERE id = ?2",
            [old, new],
        )
        .unwrap();
        crate::store::relations::link(&c, other, old, "related", "alice").unwrap();
        drop(c);

        let mut s = crate::store::Store::open(&p, crate::store::Durability::Full).unwrap();
        let c = s.conn();
        assert_eq!(followed_from(c, new).unwrap().as_deref(), Some("1"));
        assert_eq!(followed_from(c, old).unwrap(), None);
        let roles = |id| -> Vec<(String, String, String)> {
            crate::store::relations::links_of(c, id)
                .unwrap()
                .into_iter()
                .map(|l| (l.role, l.number, l.created_by))
                .collect()
        };
        let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(roles(new), vec![t("follow_up", "1", "lifecycle")]);
        let mut back = roles(old);
        back.sort();
        assert_eq!(
            back,
            vec![
                t("followed_up_by", "2", "lifecycle"),
                t("related", "3", "alice")
            ]
        );
        // The rebuilt table keeps its CHECK and its index.
        let bad = c.execute(
            "INSERT INTO ticket_links (ticket_id, other_id, kind, created_at, created_by)
             VALUES (?1, ?2, 'bogus', 'now', 'x')",
            [old, new],
        );
        assert!(bad.is_err());
        let index: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'ticket_links_other'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 1);
        // A new follow-up is a link too, made once.
        set_followed_from(c, other, "1").unwrap();
        set_followed_from(c, other, "1").unwrap();
        assert_eq!(followed_from(c, other).unwrap().as_deref(), Some("1"));
        assert_eq!(roles(old).len(), 3);
    }
}
