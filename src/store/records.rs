//! What inbound mail writes and looks up: tickets, articles, Message-IDs,
//! participants, attachments, raw messages, receipts and quarantine.
//! Every function takes the caller's transaction (or savepoint).

use rusqlite::{params, Connection, OptionalExtension};

use super::{now_text, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// A ticket as processing needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TicketRef {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub state: String,
    pub queue: String,
    pub customer_address: String,
    pub language: String,
    pub support_address: String,
    pub urgency: u8,
    pub impact: u8,
    pub priority: u8,
    pub priority_explicit: bool,
    /// `incident`, `request`, `problem` or `change`; None = not set.
    pub ticket_type: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

pub(super) const TICKET_COLS: &str =
    "t.id, t.number, t.subject, t.state, q.name, t.customer_address, \
     t.language, t.support_address, t.urgency, t.impact, t.priority, t.priority_explicit, \
     t.ticket_type, t.service, t.category";

pub(super) fn ticket_row(r: &rusqlite::Row) -> rusqlite::Result<TicketRef> {
    Ok(TicketRef {
        id: r.get(0)?,
        number: r.get(1)?,
        subject: r.get(2)?,
        state: r.get(3)?,
        queue: r.get(4)?,
        customer_address: r.get(5)?,
        language: r.get(6)?,
        support_address: r.get(7)?,
        urgency: r.get(8)?,
        impact: r.get(9)?,
        priority: r.get(10)?,
        priority_explicit: r.get(11)?,
        ticket_type: r.get(12)?,
        service: r.get(13)?,
        category: r.get(14)?,
    })
}

/// The number of the ticket with this id.
pub fn ticket_number(c: &Connection, ticket_id: i64) -> Result<Option<String>> {
    Ok(
        c.prepare_cached("SELECT number FROM tickets WHERE id = ?1")?
            .query_row([ticket_id], |r| r.get(0))
            .optional()?,
    )
}

pub fn ticket_by_number(c: &Connection, number: &str) -> Result<Option<TicketRef>> {
    let sql = format!(
        "SELECT {TICKET_COLS} FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.number = ?1"
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([number], ticket_row)
        .optional()?)
}

/// The ticket holding any of `ids` (tried in order).
pub fn ticket_by_message_ids(c: &Connection, ids: &[String]) -> Result<Option<TicketRef>> {
    let sql = format!(
        "SELECT {TICKET_COLS} FROM message_ids m JOIN tickets t ON t.id = m.ticket_id
         JOIN queues q ON q.id = t.queue_id WHERE m.message_id = ?1"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    for id in ids {
        if let Some(t) = stmt.query_row([id], ticket_row).optional()? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// Hand out the next counter for `day` (`YYYYMMDD`).
pub fn next_ticket_counter(c: &Connection, day: &str) -> Result<u64> {
    let n: i64 = c
        .prepare_cached(
            "INSERT INTO ticket_counters (day, last) VALUES (?1, 1)
             ON CONFLICT(day) DO UPDATE SET last = last + 1 RETURNING last",
        )?
        .query_row([day], |r| r.get(0))?;
    Ok(n as u64)
}

pub struct NewTicket<'a> {
    pub number: &'a str,
    pub subject: &'a str,
    pub state: &'a str,
    pub urgency: u8,
    pub impact: u8,
    pub priority: u8,
    pub priority_explicit: bool,
    pub queue: &'a str,
    pub customer_address: &'a str,
    pub customer_name: Option<&'a str>,
    pub support_address: &'a str,
    pub language: &'a str,
}

pub fn insert_ticket(c: &Connection, t: &NewTicket) -> Result<i64> {
    let now = now_text();
    c.prepare_cached(
        "INSERT INTO tickets (number, subject, state, priority, queue_id, customer_address,
             customer_name, support_address, language, created_at, updated_at, urgency, impact,
             priority_explicit)
         VALUES (?1, ?2, ?3, ?4, (SELECT id FROM queues WHERE name = ?5), ?6, ?7, ?8, ?9, ?10, ?10,
             ?11, ?12, ?13)",
    )?
    .execute(params![
        t.number,
        t.subject,
        t.state,
        t.priority,
        t.queue,
        t.customer_address,
        t.customer_name,
        t.support_address,
        t.language,
        now,
        t.urgency,
        t.impact,
        t.priority_explicit
    ])?;
    Ok(c.last_insert_rowid())
}

/// A ticket's queue and classification as a follow-up's plan leaves them.
pub struct TicketFields<'a> {
    pub queue: &'a str,
    pub urgency: u8,
    pub impact: u8,
    pub priority: u8,
    pub priority_explicit: bool,
}

/// Set a ticket's queue and classification.
pub fn set_ticket_fields(c: &Connection, ticket_id: i64, f: &TicketFields) -> Result<()> {
    c.prepare_cached(
        "UPDATE tickets SET queue_id = (SELECT id FROM queues WHERE name = ?2), urgency = ?3,
             impact = ?4, priority = ?5, priority_explicit = ?6, updated_at = ?7
         WHERE id = ?1",
    )?
    .execute(params![
        ticket_id,
        f.queue,
        f.urgency,
        f.impact,
        f.priority,
        f.priority_explicit,
        now_text()
    ])?;
    Ok(())
}

pub fn touch_ticket(c: &Connection, ticket_id: i64, state: &str) -> Result<()> {
    c.prepare_cached("UPDATE tickets SET state = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![ticket_id, state, now_text()])?;
    Ok(())
}

pub struct NewArticle<'a> {
    pub ticket_id: i64,
    /// Whether its Message-ID may later prove a reply's right to the ticket.
    pub trusted: bool,
    pub direction: &'a str,
    pub kind: &'a str,
    pub from_address: &'a str,
    pub from_name: Option<&'a str>,
    pub to: &'a str,
    pub cc: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub automatic: Option<&'a str>,
    /// For inbound mail: its `mail::MailClass` (`auto-reply`, …).
    pub class: Option<&'a str>,
    pub raw_id: Option<i64>,
}

/// Record where the new part of an inbound article's text ends (a byte
/// offset into its text, see `mail::quote`); `None` leaves the whole text
/// new and writes nothing.
pub fn set_new_text_end(c: &Connection, article_id: i64, end: Option<usize>) -> Result<()> {
    if let Some(end) = end {
        c.prepare_cached("UPDATE articles SET new_text_end = ?1 WHERE id = ?2")?
            .execute(params![end as i64, article_id])?;
    }
    Ok(())
}

/// Insert an article and register its Message-ID on the ticket.
pub fn insert_article(c: &Connection, a: &NewArticle) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO articles (ticket_id, direction, kind, from_address, from_name, to_addresses,
             cc_addresses, subject, body_text, body_html, message_id, in_reply_to, automatic,
             raw_id, created_at, class)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        a.ticket_id,
        a.direction,
        a.kind,
        a.from_address,
        a.from_name,
        a.to,
        a.cc,
        a.subject,
        a.text,
        a.html,
        a.message_id,
        a.in_reply_to,
        a.automatic,
        a.raw_id,
        now_text(),
        a.class
    ])?;
    let id = c.last_insert_rowid();
    if let Some(mid) = a.message_id {
        add_message_id(c, mid, a.ticket_id, Some(id), a.trusted)?;
    }
    Ok(id)
}

/// The text of outbound article `id`, written with its mail still to be
/// made (`process/apply/deferred.rs`); `message_id` must match, so an id
/// reused after a rolled-back message is left alone.
pub fn set_outbound_text(
    c: &Connection,
    id: i64,
    message_id: &str,
    subject: &str,
    text: &str,
    html: Option<&str>,
) -> Result<usize> {
    Ok(c.prepare_cached(
        "UPDATE articles SET subject = ?3, body_text = ?4, body_html = ?5
         WHERE id = ?1 AND message_id = ?2 AND direction = 'out'",
    )?
    .execute(params![id, message_id, subject, text, html])?)
}

/// Remember that `message_id` belongs to `ticket_id` (first ticket wins).
pub fn add_message_id(
    c: &Connection,
    message_id: &str,
    ticket_id: i64,
    article_id: Option<i64>,
    trusted: bool,
) -> Result<()> {
    c.prepare_cached(
        "INSERT OR IGNORE INTO message_ids (message_id, ticket_id, article_id, trusted)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![message_id, ticket_id, article_id, trusted])?;
    Ok(())
}

pub fn add_participant(
    c: &Connection,
    ticket_id: i64,
    address: &str,
    name: Option<&str>,
    role: &str,
) -> Result<()> {
    c.prepare_cached(
        "INSERT OR IGNORE INTO ticket_participants (ticket_id, address, name, role)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![ticket_id, address, name, role])?;
    Ok(())
}

pub fn is_participant(c: &Connection, ticket_id: i64, address: &str) -> Result<bool> {
    Ok(
        c.prepare_cached(
            "SELECT 1 FROM ticket_participants WHERE ticket_id = ?1 AND address = ?2",
        )?
        .exists(params![ticket_id, address])?,
    )
}

/// Whether `message_id` is among the IDs already recorded on `ticket_id`.
/// Whether `message_id` is a *trusted* ID of `ticket_id` (ours, or of an
/// authorised mail).
pub fn ticket_has_trusted_id(c: &Connection, ticket_id: i64, message_id: &str) -> Result<bool> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM message_ids WHERE ticket_id = ?1 AND message_id = ?2 AND trusted = 1",
    )?
    .exists(params![ticket_id, message_id])?)
}

pub fn insert_attachment(
    c: &Connection,
    article_id: i64,
    filename: &str,
    content_type: &str,
    size: usize,
    sha256: &str,
    path: &str,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO attachments (article_id, filename, content_type, size, sha256, path)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        article_id,
        filename,
        content_type,
        size as i64,
        sha256,
        path
    ])?;
    Ok(())
}

/// Store the raw bytes once per content; returns the row id.
pub fn store_raw(c: &Connection, sha256: &str, raw: &[u8]) -> Result<i64> {
    if let Some(id) = c
        .prepare_cached("SELECT id FROM raw_messages WHERE sha256 = ?1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    c.prepare_cached(
        "INSERT INTO raw_messages (sha256, size, content, received_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![sha256, raw.len() as i64, raw, now_text()])?;
    Ok(c.last_insert_rowid())
}

pub fn raw_message(c: &Connection, raw_id: i64) -> Result<Option<Vec<u8>>> {
    Ok(
        c.prepare_cached("SELECT content FROM raw_messages WHERE id = ?1")?
            .query_row([raw_id], |r| r.get(0))
            .optional()?,
    )
}

pub struct NewReceipt<'a> {
    pub source: &'a str,
    pub mailbox: &'a str,
    pub imap_source: Option<&'a str>,
    pub uid_validity: Option<u32>,
    pub uid: Option<u32>,
    pub message_id: Option<&'a str>,
    pub sha256: &'a str,
    pub raw_id: Option<i64>,
    pub status: &'a str,
    pub ticket_id: Option<i64>,
    pub article_id: Option<i64>,
    pub error: Option<&'a str>,
}

pub fn insert_receipt(c: &Connection, r: &NewReceipt) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO receipts (source, mailbox, uid_validity, uid, message_id, sha256, raw_id,
             status, ticket_id, article_id, error, received_at, imap_source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        r.source,
        r.mailbox,
        r.uid_validity,
        r.uid,
        r.message_id,
        r.sha256,
        r.raw_id,
        r.status,
        r.ticket_id,
        r.article_id,
        r.error,
        now_text(),
        r.imap_source
    ])?;
    Ok(c.last_insert_rowid())
}

pub struct NewQuarantine<'a> {
    pub receipt_id: i64,
    pub mailbox: &'a str,
    pub uid_validity: Option<u32>,
    pub uid: Option<u32>,
    pub raw_id: Option<i64>,
    pub size: u64,
    pub message_id: Option<&'a str>,
    pub from_address: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub error: &'a str,
}

pub fn insert_quarantine(c: &Connection, q: &NewQuarantine) -> Result<i64> {
    let now = now_text();
    c.prepare_cached(
        "INSERT INTO quarantine (receipt_id, mailbox, uid_validity, uid, raw_id, size, message_id,
             from_address, subject, error, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'held', ?11, ?11)",
    )?
    .execute(params![
        q.receipt_id,
        q.mailbox,
        q.uid_validity,
        q.uid,
        q.raw_id,
        q.size as i64,
        q.message_id,
        q.from_address,
        q.subject,
        q.error,
        now
    ])?;
    Ok(c.last_insert_rowid())
}

/// A held quarantine entry, for retry.
#[derive(Debug, Clone)]
pub struct HeldMessage {
    pub id: i64,
    pub mailbox: String,
    pub raw_id: Option<i64>,
    pub status: String,
}

pub fn quarantine_entry(c: &Connection, id: i64) -> Result<Option<HeldMessage>> {
    Ok(
        c.prepare_cached("SELECT id, mailbox, raw_id, status FROM quarantine WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(HeldMessage {
                    id: r.get(0)?,
                    mailbox: r.get(1)?,
                    raw_id: r.get(2)?,
                    status: r.get(3)?,
                })
            })
            .optional()?,
    )
}

/// Record the result of a retry: released to a ticket, or still held with
/// a fresh error.
pub fn quarantine_retried(
    c: &Connection,
    id: i64,
    ticket_id: Option<i64>,
    error: Option<&str>,
) -> Result<()> {
    let status = if error.is_some() { "held" } else { "retried" };
    // A retry that failed again is "held" again (also after a refetch).
    c.execute(
        "UPDATE quarantine SET status = ?2, ticket_id = ?3, error = COALESCE(?4, error),
             attempts = attempts + 1, updated_at = ?5 WHERE id = ?1",
        params![id, status, ticket_id, error, now_text()],
    )?;
    Ok(())
}

/// Auto-replies queued to `address` since `since` (RFC 3339), for the
/// loop brake.
pub fn auto_replies_since(c: &Connection, address: &str, since: &str) -> Result<u32> {
    Ok(c.prepare_cached(
        "SELECT COUNT(*) FROM outbox WHERE recipients = ?1 AND kind = 'auto_reply' AND created_at >= ?2",
    )?
    .query_row(params![address, since], |r| r.get(0))?)
}

/// What `quarantine drop` did to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// Now `dropped`: hidden from the list, kept for the record.
    Done,
    NotFound,
    /// Not held (retried, dropped, or waiting for a refetch): unchanged.
    NotHeld(String),
}

/// Drop a held quarantine entry: it stays in the database (raw copy,
/// receipt and error, for the record) with status `dropped`, and leaves
/// the list of held messages.
pub fn drop_quarantined(c: &Connection, id: i64) -> Result<Dropped> {
    let n = c.execute(
        "UPDATE quarantine SET status = 'dropped', updated_at = ?2
         WHERE id = ?1 AND status = 'held'",
        params![id, now_text()],
    )?;
    if n == 1 {
        return Ok(Dropped::Done);
    }
    Ok(match quarantine_entry(c, id)? {
        None => Dropped::NotFound,
        Some(e) => Dropped::NotHeld(e.status),
    })
}

/// Ask the daemon to fetch a message again that was quarantined without a
/// copy. False when the entry has no IMAP location.
pub fn request_refetch(c: &Connection, id: i64) -> Result<bool> {
    let n = c.execute(
        "UPDATE quarantine SET status = 'refetch', updated_at = ?2
         WHERE id = ?1 AND status = 'held' AND raw_id IS NULL AND uid IS NOT NULL",
        params![id, now_text()],
    )?;
    Ok(n == 1)
}

/// Messages of this IMAP folder waiting to be fetched again: (entry, UID).
pub fn refetch_requests(
    c: &Connection,
    imap_source: &str,
    uid_validity: u32,
) -> Result<Vec<(i64, u32)>> {
    let mut stmt = c.prepare_cached(
        "SELECT q.id, q.uid FROM quarantine q JOIN receipts r ON r.id = q.receipt_id
         WHERE q.status = 'refetch' AND r.imap_source = ?1 AND q.uid_validity = ?2
         ORDER BY q.id",
    )?;
    let rows = stmt.query_map(params![imap_source, uid_validity], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
