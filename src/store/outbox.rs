//! The durable outbox: rendered mail waiting for SMTP. Rows are written in
//! the same transaction as the ticket that caused them; the sender task
//! takes due rows, and marks each sent, or due again later with its error.

use rusqlite::{params, Connection};

use super::{now_text, now_unix, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

pub struct NewOutgoing<'a> {
    pub ticket_id: i64,
    pub article_id: Option<i64>,
    pub kind: &'a str,
    /// `""` sends with the null reverse-path `<>`.
    pub envelope_from: &'a str,
    pub recipients: &'a [String],
    pub message_id: &'a str,
    pub raw: &'a [u8],
}

pub fn enqueue(c: &Connection, m: &NewOutgoing) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO outbox (ticket_id, article_id, kind, envelope_from, recipients, message_id,
             raw, status, attempts, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?9)",
    )?
    .execute(params![
        m.ticket_id,
        m.article_id,
        m.kind,
        m.envelope_from,
        m.recipients.join(","),
        m.message_id,
        m.raw,
        now_unix(),
        now_text()
    ])?;
    Ok(c.last_insert_rowid())
}

/// A notification that could not even be written (its template failed, and
/// the shipped one too): kept as a `failed` row without a mail, with the
/// error, so `status` and `check` show it.
pub fn record_unrendered(
    c: &Connection,
    ticket_id: i64,
    kind: &str,
    recipients: &[String],
    message_id: &str,
    error: &str,
) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO outbox (ticket_id, article_id, kind, envelope_from, recipients, message_id,
             raw, status, attempts, next_attempt_at, last_error, created_at)
         VALUES (?1, NULL, ?2, '', ?3, ?4, x'', 'failed', 0, ?5, ?6, ?7)",
    )?
    .execute(params![
        ticket_id,
        kind,
        recipients.join(","),
        message_id,
        now_unix(),
        error,
        now_text()
    ])?;
    Ok(c.last_insert_rowid())
}

/// A mail ready to hand to SMTP.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: i64,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
    pub attempts: u32,
    pub created_unix: i64,
}

/// Up to `limit` pending mails due now, oldest first, skipping `busy` ids
/// (those already in flight).
pub fn due(c: &Connection, limit: usize, busy: &[i64]) -> Result<Vec<Outgoing>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, envelope_from, recipients, raw, attempts, CAST(strftime('%s', created_at) AS INTEGER)
         FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1
         ORDER BY next_attempt_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now_unix(), (limit + busy.len()) as i64], |r| {
        let recipients: String = r.get(2)?;
        Ok(Outgoing {
            id: r.get(0)?,
            envelope_from: r.get(1)?,
            recipients: recipients
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            raw: r.get(3)?,
            attempts: r.get(4)?,
            created_unix: r.get::<_, Option<i64>>(5)?.unwrap_or_else(now_unix),
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        if !busy.contains(&row.id) {
            out.push(row);
            if out.len() == limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Seconds until the next pending mail is due (None if nothing pending).
pub fn next_due_in(c: &Connection) -> Result<Option<i64>> {
    let next: Option<i64> = c
        .prepare_cached("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))?;
    Ok(next.map(|t| (t - now_unix()).max(0)))
}

pub fn mark_sent(c: &Connection, id: i64) -> Result<()> {
    c.prepare_cached(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL
         WHERE id = ?1",
    )?
    .execute(params![id, now_text()])?;
    Ok(())
}

/// Try again at `next_unix`, remembering why it failed.
pub fn mark_retry(c: &Connection, id: i64, error: &str, next_unix: i64) -> Result<()> {
    c.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
         WHERE id = ?1",
    )?
    .execute(params![id, error, next_unix])?;
    Ok(())
}

/// Permanent failure (the server refused it for good, or it is too old).
pub fn mark_failed(c: &Connection, id: i64, error: &str) -> Result<()> {
    c.prepare_cached(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
    )?
    .execute(params![id, error])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{records, views, Durability, Store};
    use super::*;

    #[test]
    fn unrendered_notification_is_failed_with_its_error_and_never_due() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        s.sync_queues(&[crate::config::Queue {
            name: "support".into(),
            agents_address: None,
            notify_agents_on_new: true,
            notify_agents_on_follow_up: true,
        }])
        .unwrap();
        let c = s.conn();
        let ticket = records::insert_ticket(
            c,
            &records::NewTicket {
                number: "2026112210000017",
                subject: "Printer",
                state: "posted",
                priority: 3,
                queue: "support",
                customer_address: "ana@example.com",
                customer_name: None,
                support_address: "support@example.com",
                language: "en",
            },
        )
        .unwrap();
        record_unrendered(
            c,
            ticket,
            "auto_reply",
            &["ana@example.com".to_string()],
            "x.1@desk.example.com",
            "rendering auto_reply (en): boom",
        )
        .unwrap();
        assert!(due(c, 10, &[]).unwrap().is_empty());
        let st = views::status(c).unwrap();
        assert_eq!((st.outbox_failed, st.outbox_pending), (1, 0));
        let f = &st.outbox_failed_latest[0];
        assert_eq!(f.ticket.as_deref(), Some("2026112210000017"));
        assert_eq!(f.kind, "auto_reply");
        assert_eq!(f.recipients, "ana@example.com");
        assert!(f.error.contains("boom"), "{}", f.error);
    }
}
