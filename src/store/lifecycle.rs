//! What the lifecycle needs from the store (issue 11, item 2): the link
//! from a ticket opened by a reply to a closed one (`followed_from`), the
//! tickets the scheduler may validate with the time since which each is
//! idle, and the states tickets hold (to warn about those no longer
//! configured). Every query goes through an index.

use rusqlite::{params, Connection, OptionalExtension};

use super::records::{ticket_row, TicketRef};
use super::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// Record that `ticket_id` follows the (closed) ticket numbered `from`.
pub fn set_followed_from(c: &Connection, ticket_id: i64, from: &str) -> Result<()> {
    c.prepare_cached(
        "UPDATE tickets SET followed_from = (SELECT id FROM tickets WHERE number = ?2)
         WHERE id = ?1",
    )?
    .execute(params![ticket_id, from])?;
    Ok(())
}

/// The number of the ticket `ticket_id` follows, if any.
pub fn followed_from(c: &Connection, ticket_id: i64) -> Result<Option<String>> {
    Ok(c.prepare_cached(
        "SELECT o.number FROM tickets t JOIN tickets o ON o.id = t.followed_from
         WHERE t.id = ?1",
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
}
