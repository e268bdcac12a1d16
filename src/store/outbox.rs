//! The durable outbox: rendered mail waiting for SMTP. Rows are written in
//! the same transaction as the ticket that caused them.
//!
//! Senders share the rows through claims: [`claim`] takes due rows for one
//! claimant (a sender instance's id) until a lease expiry, in ONE
//! statement, so two senders — two daemons on one database file, or later
//! several daemons on one database server — never hand the same row to
//! SMTP. A claim is renewed while its sender lives ([`renew`]), given back
//! at shutdown ([`release`]), and taken over by anyone once it has expired
//! (a crashed sender). Results ([`mark_sent`], [`mark_retry`],
//! [`mark_failed`]) apply only while the claim is still the marker's own.
//! The SQL is portable (SQLite ≥ 3.35, PostgreSQL): `UPDATE … RETURNING`,
//! no `MAX(a, b)`, no SQLite-only upsert.

use rusqlite::{params, Connection, OptionalExtension};

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
    /// The mail; None when it comes later in this transaction
    /// ([`set_mail`], or the row fails: [`fail_unmade`]).
    pub raw: Option<&'a [u8]>,
}

pub fn enqueue(c: &Connection, m: &NewOutgoing) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO outbox (ticket_id, article_id, kind, envelope_from, recipients, message_id,
             status, attempts, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?8)",
    )?
    .execute(params![
        m.ticket_id,
        m.article_id,
        m.kind,
        m.envelope_from,
        m.recipients.join(","),
        m.message_id,
        now_unix(),
        now_text()
    ])?;
    let id = c.last_insert_rowid();
    if let Some(raw) = m.raw {
        put_raw(c, id, raw)?;
    }
    Ok(id)
}

/// The mail of outbox row `id`, just inserted by this transaction. Every
/// writer of a sendable row calls this (the bytes live in `outbox_raw`,
/// migration 26).
pub(super) fn put_raw(c: &Connection, id: i64, raw: &[u8]) -> Result<()> {
    c.prepare_cached("INSERT INTO outbox_raw (outbox_id, raw) VALUES (?1, ?2)")?
        .execute(params![id, raw])?;
    Ok(())
}

/// Put the mail of row `id`, enqueued without it in this transaction and
/// made on another thread (see `process/apply/deferred.rs`); `message_id` must
/// match, so a row id reused after a rolled-back message is left alone.
/// A row held back in the meantime (a bouncing address) gets its mail
/// too: released, it is sent as made.
pub fn set_mail(c: &Connection, id: i64, message_id: &str, raw: &[u8]) -> Result<usize> {
    Ok(c.prepare_cached(
        "INSERT INTO outbox_raw (outbox_id, raw)
         SELECT id, ?3 FROM outbox
         WHERE id = ?1 AND message_id = ?2 AND status IN ('pending', 'held')",
    )?
    .execute(params![id, message_id, raw])?)
}

/// Row `id`'s mail could not be made: failed with `error`, never sent
/// without it.
pub fn fail_unmade(c: &Connection, id: i64, message_id: &str, error: &str) -> Result<usize> {
    Ok(c.prepare_cached(
        "UPDATE outbox SET status = 'failed', last_error = ?3
         WHERE id = ?1 AND message_id = ?2 AND status IN ('pending', 'held')",
    )?
    .execute(params![id, message_id, error])?)
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
             status, attempts, next_attempt_at, last_error, created_at)
         VALUES (?1, NULL, ?2, '', ?3, ?4, 'failed', 0, ?5, ?6, ?7)",
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
    /// When it was due; claims come back in this order.
    pub due_unix: i64,
}

/// The claim, in one statement. The inner SELECT picks due rows that are
/// free, ours already (left over from our last round) or whose claim has
/// expired, oldest due first, on the `outbox_due` index. The outer WHERE
/// repeats the test: on a database server where two claims race, the
/// second one re-checks each row after the first commits (PostgreSQL's
/// READ COMMITTED re-evaluates the UPDATE's own WHERE, not a subquery's
/// result) and skips what the first took. SQLite runs one writer at a time.
/// ?1 claimant, ?2 expiry, ?3 now, ?4 limit.
const CLAIM_SQL: &str = "UPDATE outbox SET claimed_by = ?1, claim_expires = ?2
     WHERE id IN (SELECT id FROM outbox
                  WHERE status = 'pending' AND next_attempt_at <= ?3
                    AND (claimed_by IS NULL OR claimed_by = ?1 OR claim_expires < ?3)
                  ORDER BY next_attempt_at, id LIMIT ?4)
       AND status = 'pending' AND next_attempt_at <= ?3
       AND (claimed_by IS NULL OR claimed_by = ?1 OR claim_expires < ?3)
     RETURNING id, envelope_from, recipients, attempts,
               CAST(strftime('%s', created_at) AS INTEGER), next_attempt_at";

/// Claim up to `limit` mails due at `now` for `claimant` until `expires`
/// (unix seconds); oldest due first.
pub fn claim(
    c: &Connection,
    claimant: &str,
    now: i64,
    expires: i64,
    limit: usize,
) -> Result<Vec<Outgoing>> {
    let mut stmt = c.prepare_cached(CLAIM_SQL)?;
    let rows = stmt.query_map(params![claimant, expires, now, limit as i64], |r| {
        let recipients: String = r.get(2)?;
        Ok(Outgoing {
            id: r.get(0)?,
            envelope_from: r.get(1)?,
            recipients: recipients
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            raw: Vec::new(),
            attempts: r.get(3)?,
            created_unix: r.get::<_, Option<i64>>(4)?.unwrap_or(now),
            due_unix: r.get(5)?,
        })
    })?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    drop(stmt);
    let mut bytes = c.prepare_cached("SELECT raw FROM outbox_raw WHERE outbox_id = ?1")?;
    let mut missing = Vec::new();
    for m in &mut out {
        match bytes.query_row([m.id], |r| r.get(0)).optional()? {
            Some(raw) => m.raw = raw,
            None => missing.push(m.id),
        }
    }
    // A pending row always has its mail (see `NewOutgoing::raw`); one
    // without is failed rather than sent empty.
    for id in &missing {
        tracing::error!(
            outbox_id = id,
            "outbox row {id} has no mail in outbox_raw: failed instead of sent (please report)"
        );
        c.prepare_cached(
            "UPDATE outbox SET status = 'failed', claimed_by = NULL, claim_expires = NULL,
                 last_error = 'its mail is missing from outbox_raw (please report)'
             WHERE id = ?1",
        )?
        .execute([id])?;
    }
    out.retain(|m| !missing.contains(&m.id));
    // RETURNING promises no order.
    out.sort_by_key(|m| (m.due_unix, m.id));
    Ok(out)
}

/// Extend `claimant`'s live claims on pending rows to `expires`; returns
/// how many it still holds. Lapsed claims are not revived: another sender
/// may have taken them over.
pub fn renew(c: &Connection, claimant: &str, now: i64, expires: i64) -> Result<usize> {
    Ok(c.prepare_cached(
        "UPDATE outbox SET claim_expires = ?3
         WHERE claimed_by = ?1 AND status = 'pending' AND claim_expires >= ?2",
    )?
    .execute(params![claimant, now, expires])?)
}

/// Give back `claimant`'s claims on pending rows (shutdown, or the claims
/// of a daemon known dead); returns how many. Retries, whose claims are
/// given up already, are not counted.
pub fn release(c: &Connection, claimant: &str) -> Result<usize> {
    Ok(c.prepare_cached(
        "UPDATE outbox SET claimed_by = NULL, claim_expires = NULL
         WHERE claimed_by = ?1 AND status = 'pending' AND claim_expires <> 0",
    )?
    .execute(params![claimant])?)
}

/// Seconds until `claimant` could claim a pending mail (None if nothing
/// is pending): its due time, or the expiry of another sender's claim.
pub fn next_due_in(c: &Connection, claimant: &str) -> Result<Option<i64>> {
    let next: Option<i64> = c
        .prepare_cached(
            "SELECT MIN(CASE WHEN claimed_by IS NULL OR claimed_by = ?1
                                  OR claim_expires < next_attempt_at
                             THEN next_attempt_at ELSE claim_expires END)
             FROM outbox WHERE status = 'pending'",
        )?
        .query_row(params![claimant], |r| r.get(0))?;
    Ok(next.map(|t| (t - now_unix()).max(0)))
}

/// Pending mails under a live claim (for `postdesk status`).
pub fn claimed_count(c: &Connection) -> Result<u64> {
    let n: i64 = c
        .prepare_cached(
            "SELECT COUNT(*) FROM outbox
             WHERE status = 'pending' AND claimed_by IS NOT NULL AND claim_expires >= ?1",
        )?
        .query_row(params![now_unix()], |r| r.get(0))?;
    Ok(n as u64)
}

/// Whether a mark found the row still claimed by the marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Ours,
    /// The claim had lapsed and the row passed to another sender (or was
    /// already finished by one).
    Lost,
}

/// The relay accepted the mail. Recorded even when our claim had lapsed
/// (the mail did go out; a `sent` row is never sent again), but then
/// reported as [`Claim::Lost`], because the other sender may send it too.
/// `at`: when the relay took it (RFC 3339).
pub fn mark_sent(c: &Connection, id: i64, claimant: &str, at: &str) -> Result<Claim> {
    let holder: Option<Option<String>> = c
        .prepare_cached(
            "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2,
                 last_error = NULL
             WHERE id = ?1 AND status = 'pending' RETURNING claimed_by",
        )?
        .query_row(params![id, at], |r| r.get(0))
        .optional()?;
    Ok(match holder {
        Some(Some(h)) if h == claimant => Claim::Ours,
        _ => Claim::Lost,
    })
}

/// Try again at `next_unix`, remembering why it failed. The claim is given
/// up — it lapses at once (`claim_expires` 0), so any sender may take the
/// retry — but the claimant stays on the row: a fold repeated after a
/// crash knows by it that this retry was applied ([`finished_as`]).
pub fn mark_retry(
    c: &Connection,
    id: i64,
    claimant: &str,
    error: &str,
    next_unix: i64,
) -> Result<Claim> {
    let n = c
        .prepare_cached(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3,
                 claim_expires = 0
             WHERE id = ?1 AND claimed_by = ?4 AND status = 'pending' AND claim_expires <> 0",
        )?
        .execute(params![id, error, next_unix, claimant])?;
    Ok(if n == 1 { Claim::Ours } else { Claim::Lost })
}

/// Permanent failure (the server refused it for good, or it is too old).
pub fn mark_failed(c: &Connection, id: i64, claimant: &str, error: &str) -> Result<Claim> {
    let n = c
        .prepare_cached(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2
             WHERE id = ?1 AND claimed_by = ?3 AND status = 'pending'",
        )?
        .execute(params![id, error, claimant])?;
    Ok(if n == 1 { Claim::Ours } else { Claim::Lost })
}

/// Whether row `id` is finished as `outcome` says (`sent`, `failed`, or
/// `retry`: pending, its claim given up by [`mark_retry`]) under
/// `claimant`'s claim. A retry whose row another sender has claimed since
/// is not recognised.
pub fn finished_as(c: &Connection, id: i64, outcome: &str, claimant: &str) -> Result<bool> {
    let row: Option<(String, Option<String>, Option<i64>)> = c
        .prepare_cached("SELECT status, claimed_by, claim_expires FROM outbox WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(row.is_some_and(|(status, by, expires)| {
        by.as_deref() == Some(claimant)
            && if outcome == "retry" {
                status == "pending" && expires == Some(0)
            } else {
                status == outcome
            }
    }))
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
pub(crate) mod tests;
