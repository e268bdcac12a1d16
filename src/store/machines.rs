//! What machines' mail leaves in the store (issue 7): internal articles,
//! the addresses our mail bounced from (`bouncing_addresses`), outbox rows
//! held for such an address (status `held`, never claimed by the sender),
//! and the automatic mail counted by the loop caps (`automatic_mail`).
//! Every function takes the caller's transaction (or savepoint).

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{now_text, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// Mark an article internal: never sent or shown to customers.
pub fn mark_internal(c: &Connection, article_id: i64) -> Result<()> {
    c.prepare_cached("UPDATE articles SET internal = 1 WHERE id = ?1")?
        .execute([article_id])?;
    Ok(())
}

/// An address our mail bounced from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bouncing {
    pub address: String,
    pub first_seen: String,
    pub last_seen: String,
    /// Bounces counted since it was first marked.
    pub count: u32,
    pub last_reason: String,
    /// The ticket the last bounce was attached to.
    pub ticket: Option<String>,
}

fn bouncing_row(r: &rusqlite::Row) -> rusqlite::Result<Bouncing> {
    Ok(Bouncing {
        address: r.get(0)?,
        first_seen: r.get(1)?,
        last_seen: r.get(2)?,
        count: r.get(3)?,
        last_reason: r.get(4)?,
        ticket: r.get(5)?,
    })
}

/// The bouncing record of `address` (lower-case), if it is bouncing.
pub fn bouncing(c: &Connection, address: &str) -> Result<Option<Bouncing>> {
    Ok(c.prepare_cached(
        "SELECT b.address, b.first_seen, b.last_seen, b.count, b.last_reason, t.number
             FROM bouncing_addresses b LEFT JOIN tickets t ON t.id = b.ticket_id
             WHERE b.address = ?1",
    )?
    .query_row([address], bouncing_row)
    .optional()?)
}

/// Every bouncing address, most recently bounced first (`postdesk address
/// list --bouncing`; an operator's list, as long as the bounces are).
pub fn list_bouncing(c: &Connection) -> Result<Vec<Bouncing>> {
    let mut stmt = c.prepare(
        "SELECT b.address, b.first_seen, b.last_seen, b.count, b.last_reason, t.number
         FROM bouncing_addresses b LEFT JOIN tickets t ON t.id = b.ticket_id
         ORDER BY b.last_seen DESC, b.address",
    )?;
    let rows = stmt
        .query_map([], bouncing_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Record a bounce from `address`: a first one marks it, a later one
/// counts. Portable upsert (SQLite ≥ 3.24, PostgreSQL).
pub fn mark_bouncing(c: &Connection, address: &str, reason: &str, ticket_id: i64) -> Result<()> {
    let now = now_text();
    c.prepare_cached(
        "INSERT INTO bouncing_addresses (address, first_seen, last_seen, count, last_reason, ticket_id)
         VALUES (?1, ?2, ?2, 1, ?3, ?4)
         ON CONFLICT (address) DO UPDATE SET last_seen = ?2, count = bouncing_addresses.count + 1,
             last_reason = ?3, ticket_id = ?4",
    )?
    .execute(params![address, now, reason, ticket_id])?;
    Ok(())
}

/// Take `address` off the bouncing list; with `send_held`, its held outbox
/// rows become pending again (the sender picks them up), else they stay
/// held. Returns (whether it was bouncing, rows released).
pub fn clear_bouncing(c: &Connection, address: &str, send_held: bool) -> Result<(bool, usize)> {
    let was = c
        .prepare_cached("DELETE FROM bouncing_addresses WHERE address = ?1")?
        .execute([address])?
        > 0;
    let released = if send_held {
        c.prepare_cached(
            "UPDATE outbox SET status = 'pending', held_reason = NULL, next_attempt_at = ?2
             WHERE status = 'held' AND recipients = ?1",
        )?
        .execute(params![address, super::now_unix()])?
    } else {
        0
    };
    Ok((was, released))
}

/// Hold an outbox row just queued: the sender never claims it. A row
/// that failed already (its mail could not be made) stays failed.
pub fn hold_outbox(c: &Connection, outbox_id: i64, reason: &str) -> Result<()> {
    c.prepare_cached(
        "UPDATE outbox SET status = 'held', held_reason = ?2
         WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![outbox_id, reason])?;
    Ok(())
}

/// An outbox row held back, and why.
#[derive(Debug, Clone, Serialize)]
pub struct HeldMail {
    pub id: i64,
    pub ticket: Option<String>,
    pub kind: String,
    pub recipients: String,
    pub reason: String,
    pub created_at: String,
}

/// The `limit` latest held outbox rows, newest first (`postdesk status`).
pub fn held_mail(c: &Connection, limit: u32) -> Result<Vec<HeldMail>> {
    let mut stmt = c.prepare_cached(
        "SELECT o.id, t.number, o.kind, o.recipients, COALESCE(o.held_reason, ''), o.created_at
         FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id
         WHERE o.status = 'held' ORDER BY o.id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok(HeldMail {
                id: r.get(0)?,
                ticket: r.get(1)?,
                kind: r.get(2)?,
                recipients: r.get(3)?,
                reason: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Count one automatic mail queued to `address` on `ticket_id` (None: a
/// refusal, which belongs to no ticket; the loop caps read these back),
/// and forget this address's counts from before
/// `forget_before` (RFC 3339: older than every cap's window, they can no
/// longer decide anything).
pub fn record_automatic_mail(
    c: &Connection,
    ticket_id: Option<i64>,
    address: &str,
    forget_before: &str,
) -> Result<()> {
    c.prepare_cached("DELETE FROM automatic_mail WHERE address = ?1 AND created_at < ?2")?
        .execute(params![address, forget_before])?;
    c.prepare_cached(
        "INSERT INTO automatic_mail (ticket_id, address, created_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![ticket_id, address, now_text()])?;
    Ok(())
}

/// When automatic mail went to `address` since `since` (RFC 3339), newest
/// first, at most `limit` (the largest cap: more cannot change a decision).
pub fn automatic_mail_to(
    c: &Connection,
    address: &str,
    since: &str,
    limit: u32,
) -> Result<Vec<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT created_at FROM automatic_mail WHERE address = ?1 AND created_at >= ?2
         ORDER BY created_at DESC",
    )?;
    Ok(super::first_rows(
        &mut stmt,
        params![address, since],
        limit as usize,
        |r| r.get(0),
    )?)
}

/// When automatic mail went out on `ticket_id` since `since`, newest
/// first, at most `limit`.
pub fn automatic_mail_on(
    c: &Connection,
    ticket_id: i64,
    since: &str,
    limit: u32,
) -> Result<Vec<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT created_at FROM automatic_mail WHERE ticket_id = ?1 AND created_at >= ?2
         ORDER BY created_at DESC",
    )?;
    Ok(super::first_rows(
        &mut stmt,
        params![ticket_id, since],
        limit as usize,
        |r| r.get(0),
    )?)
}

/// Which of our articles carries Message-ID `message_id` (normalised):
/// its id and kind (`auto_reply`, …), when it is one of ours.
pub fn our_article(c: &Connection, message_id: &str) -> Result<Option<(i64, String)>> {
    Ok(c.prepare_cached(
        "SELECT a.id, a.kind FROM message_ids m JOIN articles a ON a.id = m.article_id
             WHERE m.message_id = ?1 AND a.direction = 'out'",
    )?
    .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()?)
}

/// The language of the sender's latest ticket (the customer's known
/// language), if they have one.
pub fn customer_language(c: &Connection, address: &str) -> Result<Option<String>> {
    Ok(c.prepare_cached(
        "SELECT language FROM tickets WHERE customer_address = ?1 ORDER BY id DESC LIMIT 1",
    )?
    .query_row([address], |r| r.get(0))
    .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};

    #[test]
    fn bouncing_marks_count_clear_and_release_held_mail() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("db"), Durability::Full).unwrap();
        let c = s.conn();
        c.execute_batch(
            "INSERT INTO queues (name, created_at) VALUES ('q', 'now');
             INSERT INTO tickets (number, subject, state, priority, queue_id, customer_address,
                 support_address, language, created_at, updated_at)
             VALUES ('n1', 's', 'posted', 3, 1, 'a@x', 's@x', 'pt', 'now', 'now');
             INSERT INTO outbox (ticket_id, kind, envelope_from, recipients, message_id,
                 status, next_attempt_at, created_at)
             VALUES (1, 'auto_reply', '', 'a@x', 'm1', 'pending', 0, 'now');",
        )
        .unwrap();
        assert_eq!(bouncing(c, "a@x").unwrap(), None);
        mark_bouncing(c, "a@x", "5.1.1 no such user", 1).unwrap();
        mark_bouncing(c, "a@x", "5.1.1 still no such user", 1).unwrap();
        let b = bouncing(c, "a@x").unwrap().unwrap();
        assert_eq!(
            (b.count, b.last_reason.as_str(), b.ticket.as_deref()),
            (2, "5.1.1 still no such user", Some("n1"))
        );
        assert_eq!(list_bouncing(c).unwrap().len(), 1);
        hold_outbox(c, 1, "a@x is bouncing").unwrap();
        let held = held_mail(c, 10).unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].reason, "a@x is bouncing");
        assert_eq!(clear_bouncing(c, "a@x", false).unwrap(), (true, 0));
        assert_eq!(held_mail(c, 10).unwrap().len(), 1, "still held");
        mark_bouncing(c, "a@x", "again", 1).unwrap();
        assert_eq!(clear_bouncing(c, "a@x", true).unwrap(), (true, 1));
        assert!(held_mail(c, 10).unwrap().is_empty());
        assert_eq!(clear_bouncing(c, "a@x", true).unwrap(), (false, 0));
        assert_eq!(customer_language(c, "a@x").unwrap().as_deref(), Some("pt"));
        assert_eq!(customer_language(c, "b@x").unwrap(), None);
    }

    #[test]
    fn automatic_mail_is_counted_per_address_and_ticket() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("db"), Durability::Full).unwrap();
        let c = s.conn();
        c.execute_batch(
            "INSERT INTO queues (name, created_at) VALUES ('q', 'now');
             INSERT INTO tickets (number, subject, state, priority, queue_id, customer_address,
                 support_address, language, created_at, updated_at)
             VALUES ('n1', 's', 'posted', 3, 1, 'a@x', 's@x', 'en', 'now', 'now');",
        )
        .unwrap();
        for _ in 0..3 {
            record_automatic_mail(c, Some(1), "a@x", "2000").unwrap();
        }
        assert_eq!(automatic_mail_to(c, "a@x", "2000", 10).unwrap().len(), 3);
        assert_eq!(automatic_mail_to(c, "a@x", "2000", 2).unwrap().len(), 2);
        assert!(automatic_mail_to(c, "a@x", "9999", 10).unwrap().is_empty());
        assert_eq!(automatic_mail_on(c, 1, "2000", 10).unwrap().len(), 3);
        assert!(automatic_mail_to(c, "b@x", "2000", 10).unwrap().is_empty());
        // Counts older than every window are forgotten on the next one.
        record_automatic_mail(c, Some(1), "a@x", "9999").unwrap();
        assert_eq!(automatic_mail_to(c, "a@x", "2000", 10).unwrap().len(), 1);
    }
}
