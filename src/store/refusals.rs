//! Mail turned away by a queue's policy (issue 8): the `refusals` record
//! (who, which queue, why, the ticket quoted if any, the receipt of the
//! mail) and the refusal's outbox row, which belongs to no ticket and
//! points to its refusal instead. Every function takes the caller's
//! transaction (or savepoint).

use rusqlite::{params, Connection};
use serde::Serialize;

use super::{now_text, now_unix, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// One mail turned away, as the apply stage records it.
pub struct NewRefusal<'a> {
    pub address: &'a str,
    pub mailbox: &'a str,
    pub queue: &'a str,
    /// `unknown_sender` or `no_right`.
    pub reason: &'a str,
    /// The ticket quoted without a right to it.
    pub ticket_id: Option<i64>,
    pub receipt_id: i64,
    pub message_id: Option<&'a str>,
    pub subject: &'a str,
    /// Why no refusal is sent (None: one is queued).
    pub held: Option<&'a str>,
}

pub fn record_refusal(c: &Connection, r: &NewRefusal) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO refusals (address, mailbox, queue, reason, ticket_id, receipt_id, message_id,
             subject, held, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        r.address,
        r.mailbox,
        r.queue,
        r.reason,
        r.ticket_id,
        r.receipt_id,
        r.message_id,
        r.subject,
        r.held,
        now_text()
    ])?;
    Ok(c.last_insert_rowid())
}

/// The refusal mail of refusal `refusal_id`, ready for SMTP: an outbox row
/// without a ticket. Returns its id.
pub fn enqueue(
    c: &Connection,
    refusal_id: i64,
    envelope_from: &str,
    recipients: &[String],
    message_id: &str,
    raw: &[u8],
) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO outbox (ticket_id, article_id, refusal_id, kind, envelope_from, recipients,
             message_id, status, attempts, next_attempt_at, created_at)
         VALUES (NULL, NULL, ?1, 'refusal', ?2, ?3, ?4, 'pending', 0, ?5, ?6)",
    )?
    .execute(params![
        refusal_id,
        envelope_from,
        recipients.join(","),
        message_id,
        now_unix(),
        now_text()
    ])?;
    let id = c.last_insert_rowid();
    super::outbox::put_raw(c, id, raw)?;
    c.prepare_cached("UPDATE refusals SET outbox_id = ?2 WHERE id = ?1")?
        .execute(params![refusal_id, id])?;
    Ok(id)
}

/// A refusal that could not be rendered (its template failed, and the
/// shipped one too): kept as the refusal's reason for sending nothing.
pub fn mark_unsent(c: &Connection, refusal_id: i64, why: &str) -> Result<()> {
    c.prepare_cached("UPDATE refusals SET held = ?2 WHERE id = ?1")?
        .execute(params![refusal_id, why])?;
    Ok(())
}

/// A refused attempt on a ticket, as `ticket show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub address: String,
    pub subject: String,
    pub created_at: String,
    /// Whether the sender got the refusal (else `held` says why not).
    pub answered: bool,
    pub held: Option<String>,
    /// `no_right` (quoted without a right to it) or `follow_up_refused`
    /// (a reply to it while closed, `reply_to_closed = "refuse"`).
    pub reason: String,
}

/// The refused attempts on ticket `ticket_id`, oldest first.
pub fn on_ticket(c: &Connection, ticket_id: i64) -> Result<Vec<Attempt>> {
    let mut stmt = c.prepare_cached(
        "SELECT address, subject, created_at, outbox_id IS NOT NULL, held, reason FROM refusals
         WHERE ticket_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([ticket_id], |r| {
            Ok(Attempt {
                address: r.get(0)?,
                subject: r.get(1)?,
                created_at: r.get(2)?,
                answered: r.get(3)?,
                held: r.get(4)?,
                reason: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};

    #[test]
    fn a_refusal_is_recorded_and_queued_without_a_ticket() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("db"), Durability::Full).unwrap();
        let c = s.conn();
        c.execute_batch(
            "INSERT INTO queues (name, created_at) VALUES ('q', 'now');
             INSERT INTO tickets (number, subject, state, priority, queue_id, customer_address,
                 support_address, language, created_at, updated_at)
             VALUES ('n1', 's', 'posted', 3, 1, 'a@x', 's@x', 'en', 'now', 'now');
             INSERT INTO receipts (source, mailbox, sha256, status, received_at)
             VALUES ('pipe', 'm', 'h', 'refused', 'now');",
        )
        .unwrap();
        let r = |held| NewRefusal {
            address: "eve@y",
            mailbox: "m",
            queue: "q",
            reason: "no_right",
            ticket_id: Some(1),
            receipt_id: 1,
            message_id: Some("e1@y"),
            subject: "[Ticket#n1] give me",
            held,
        };
        let id = record_refusal(c, &r(None)).unwrap();
        let o = enqueue(c, id, "s@x", &["eve@y".into()], "r1@x", b"mail").unwrap();
        record_refusal(c, &r(Some("automatic mail"))).unwrap();
        let (ticket, kind, refusal): (Option<i64>, String, i64) = c
            .query_row(
                "SELECT ticket_id, kind, refusal_id FROM outbox WHERE id = ?1",
                [o],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((ticket, kind.as_str(), refusal), (None, "refusal", id));
        let seen = on_ticket(c, 1).unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[0].answered && seen[0].held.is_none());
        assert!(!seen[1].answered);
        assert_eq!(seen[1].held.as_deref(), Some("automatic mail"));
        assert!(on_ticket(c, 2).unwrap().is_empty());
    }
}
