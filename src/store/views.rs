//! Read-only views for the CLI (`ticket list/show`, `quarantine list/show`,
//! `status`). Their serde shapes are the documented `--json` output.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Serialize)]
pub struct TicketSummary {
    pub number: String,
    pub subject: String,
    pub state: String,
    pub priority: u8,
    pub queue: String,
    pub customer: String,
    pub articles: u32,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Default)]
pub struct TicketFilter {
    pub state: Option<String>,
    pub queue: Option<String>,
    pub customer: Option<String>,
    /// Only tickets with this tag.
    pub tag: Option<String>,
    pub limit: u32,
}

/// The select list of `ticket list`, before its WHERE (see [`tickets_sql`]).
pub(super) const TICKETS_SELECT: &str =
    "SELECT t.number, t.subject, t.state, t.priority, q.name, t.customer_address,
            (SELECT COUNT(*) FROM articles a WHERE a.ticket_id = t.id), t.created_at, t.updated_at
     FROM tickets t JOIN queues q ON q.id = t.queue_id";

/// The `ticket list` query for the filters `f` sets: only the filters
/// given appear in the WHERE, so each one can use its index
/// (`tickets_state_id`, `tickets_queue_id`, `tickets_customer_id`) and
/// rows come out newest first without sorting. Parameters: ?1 state,
/// ?2 queue, ?3 customer, ?4 limit, ?5 tag (unused ones are bound and
/// ignored). A tag filter reads `ticket_tags_tag` newest first and joins
/// each ticket by its id.
pub(super) fn tickets_sql(f: &TicketFilter) -> String {
    let mut conds = Vec::new();
    if f.state.is_some() {
        conds.push("t.state = ?1");
    }
    if f.queue.is_some() {
        conds.push("t.queue_id = (SELECT id FROM queues WHERE name = ?2)");
    }
    if f.customer.is_some() {
        conds.push("t.customer_address = ?3");
    }
    if f.tag.is_some() {
        conds.push("t.id IN (SELECT g.ticket_id FROM ticket_tags g WHERE g.tag = ?5)");
    }
    // ?1..?3 must appear for the four parameters to bind; a filter not
    // given is a no-op comparison of the parameter with NULL.
    let unused = [
        ("?1", f.state.is_none()),
        ("?2", f.queue.is_none()),
        ("?3", f.customer.is_none()),
        ("?5", f.tag.is_none()),
    ]
    .iter()
    .filter(|(_, unused)| *unused)
    .map(|(p, _)| format!("{p} IS NULL"))
    .collect::<Vec<_>>();
    let mut all: Vec<String> = conds.iter().map(|s| s.to_string()).collect();
    all.extend(unused);
    format!(
        "{TICKETS_SELECT} WHERE {} ORDER BY t.id DESC LIMIT ?4",
        all.join(" AND ")
    )
}

pub fn tickets(c: &Connection, f: &TicketFilter) -> Result<Vec<TicketSummary>> {
    let mut stmt = c.prepare(&tickets_sql(f))?;
    let rows = stmt.query_map(
        params![
            f.state,
            f.queue,
            f.customer.as_ref().map(|s| s.to_lowercase()),
            if f.limit == 0 { -1 } else { f.limit as i64 },
            f.tag
        ],
        |r| {
            Ok(TicketSummary {
                number: r.get(0)?,
                subject: r.get(1)?,
                state: r.get(2)?,
                priority: r.get(3)?,
                queue: r.get(4)?,
                customer: r.get(5)?,
                articles: r.get(6)?,
                created_at: r.get(7)?,
                updated_at: r.get(8)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Names of the queues the database knows (configured now or earlier).
pub fn queue_names(c: &Connection) -> Result<Vec<String>> {
    let mut stmt = c.prepare("SELECT name FROM queues ORDER BY name")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[derive(Debug, Serialize)]
pub struct TicketDetail {
    pub number: String,
    pub subject: String,
    pub state: String,
    pub priority: u8,
    /// 1–5; with `impact`, gives the priority through the priority matrix.
    pub urgency: u8,
    pub impact: u8,
    /// The priority was set explicitly: urgency and impact no longer move it.
    pub priority_explicit: bool,
    pub queue: String,
    pub customer: String,
    pub customer_name: Option<String>,
    pub support_address: String,
    pub language: String,
    /// `incident`, `request`, `problem` or `change`; null when not set.
    #[serde(rename = "type")]
    pub ticket_type: Option<String>,
    /// A hierarchical name such as `Email::Outlook`; null when not set.
    pub service: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Requesters and observers (the ticket's actors with an address).
    pub participants: Vec<Participant>,
    /// The assigned agent and group (names in the directory).
    pub assigned_agent: Option<String>,
    pub assigned_group: Option<String>,
    pub articles: Vec<ArticleView>,
    /// Who changed which field, oldest first (rules today).
    pub history: Vec<super::history::Entry>,
    /// Mail refused that quoted this ticket without a right to it
    /// (`strangers = "refuse"`), oldest first.
    pub refused: Vec<super::refusals::Attempt>,
    /// Links to other tickets, both ways (what the other is to this one).
    pub links: Vec<super::relations::LinkView>,
    /// The ticket this one was merged into (its mail lands there).
    pub merged_into: Option<String>,
    /// The closed ticket whose customer's reply opened this one (its
    /// `follow_up` link, also in `links`).
    pub followed_from: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Participant {
    pub address: String,
    pub name: Option<String>,
    pub role: String,
}

#[derive(Debug, Serialize)]
pub struct ArticleView {
    pub id: i64,
    pub direction: String,
    pub kind: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub message_id: Option<String>,
    /// Why the mail counts as machine-made (the classification's reason).
    pub automatic: Option<String>,
    /// Inbound mail: what kind of sender wrote it (`person`, `auto-reply`,
    /// `delivery-report`, …); null for outbound and older articles.
    pub class: Option<String>,
    pub created_at: String,
    pub text: String,
    /// Byte offset in `text` where the new part of an inbound mail ends
    /// (quoted history and signature follow); null when all of it is new.
    pub new_text_end: Option<usize>,
    pub attachments: Vec<AttachmentView>,
    /// Never sent or shown to customers (machines' mail kept as a note).
    pub internal: bool,
    /// For outbound mail: pending | sent | failed | held.
    pub delivery: Option<String>,
    /// Why the sender is not verified (From is one of our own addresses,
    /// the mail answers an agents' alert, …); null when verified or ours.
    pub unverified: Option<String>,
    /// What was held back on this article's account and why (e.g. an
    /// agents' alert over the cap); null when nothing was.
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AttachmentView {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// Relative to `storage.data_dir`.
    pub path: String,
}

fn split_list(s: String) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

pub fn ticket(c: &Connection, number: &str) -> Result<Option<TicketDetail>> {
    let head = c
        .query_row(
            "SELECT t.id, t.number, t.subject, t.state, t.priority, q.name, t.customer_address,
                    t.customer_name, t.support_address, t.language, t.created_at, t.updated_at,
                    t.urgency, t.impact, t.priority_explicit, t.ticket_type, t.service, t.category
             FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.number = ?1",
            [number],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    TicketDetail {
                        number: r.get(1)?,
                        subject: r.get(2)?,
                        state: r.get(3)?,
                        priority: r.get(4)?,
                        queue: r.get(5)?,
                        customer: r.get(6)?,
                        customer_name: r.get(7)?,
                        support_address: r.get(8)?,
                        language: r.get(9)?,
                        created_at: r.get(10)?,
                        updated_at: r.get(11)?,
                        urgency: r.get(12)?,
                        impact: r.get(13)?,
                        priority_explicit: r.get(14)?,
                        ticket_type: r.get(15)?,
                        service: r.get(16)?,
                        category: r.get(17)?,
                        tags: Vec::new(),
                        participants: Vec::new(),
                        assigned_agent: None,
                        assigned_group: None,
                        articles: Vec::new(),
                        history: Vec::new(),
                        refused: Vec::new(),
                        links: Vec::new(),
                        merged_into: None,
                        followed_from: None,
                    },
                ))
            },
        )
        .optional()?;
    let Some((id, mut t)) = head else {
        return Ok(None);
    };
    (t.assigned_agent, t.assigned_group) = super::directory::actors::assigned(c, id)?;
    t.links = super::relations::links_of(c, id)?;
    t.merged_into = match super::relations::merged_into(c, id)? {
        Some(m) => super::records::ticket_number(c, m)?,
        None => None,
    };
    t.followed_from = super::lifecycle::followed_from(c, id)?;
    let mut stmt = c.prepare(
        "SELECT address, name, role FROM ticket_participants WHERE ticket_id = ?1 ORDER BY role DESC, address",
    )?;
    t.participants = stmt
        .query_map([id], |r| {
            Ok(Participant {
                address: r.get(0)?,
                name: r.get(1)?,
                role: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = c.prepare(
        "SELECT a.id, a.direction, a.kind, a.from_address, a.to_addresses, a.cc_addresses, a.subject,
                a.message_id, a.automatic, a.created_at, a.body_text,
                (SELECT o.status FROM outbox o WHERE o.article_id = a.id), a.unverified, a.note,
                a.class, a.new_text_end, a.internal
         FROM articles a WHERE a.ticket_id = ?1 ORDER BY a.id",
    )?;
    let mut articles: Vec<ArticleView> = stmt
        .query_map([id], |r| {
            Ok(ArticleView {
                id: r.get(0)?,
                direction: r.get(1)?,
                kind: r.get(2)?,
                from: r.get(3)?,
                to: split_list(r.get(4)?),
                cc: split_list(r.get(5)?),
                subject: r.get(6)?,
                message_id: r.get(7)?,
                automatic: r.get(8)?,
                created_at: r.get(9)?,
                text: r.get(10)?,
                new_text_end: r.get::<_, Option<i64>>(15)?.map(|n| n as usize),
                attachments: Vec::new(),
                delivery: r.get(11)?,
                unverified: r.get(12)?,
                note: r.get(13)?,
                class: r.get(14)?,
                internal: r.get(16)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = c.prepare(
        "SELECT filename, content_type, size, path FROM attachments WHERE article_id = ?1 ORDER BY id",
    )?;
    for a in &mut articles {
        a.attachments = stmt
            .query_map([a.id], |r| {
                Ok(AttachmentView {
                    filename: r.get(0)?,
                    content_type: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    path: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    t.articles = articles;
    t.tags = super::ticket_fields::tags(c, id)?;
    t.history = super::history::for_ticket(c, id)?;
    t.refused = super::refusals::on_ticket(c, id)?;
    Ok(Some(t))
}

#[derive(Debug, Serialize)]
pub struct QuarantineEntry {
    pub id: i64,
    pub status: String,
    pub mailbox: String,
    pub uid_validity: Option<u32>,
    pub uid: Option<u32>,
    pub size: u64,
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub error: String,
    pub attempts: u32,
    /// Set once a retry turned it into a ticket or follow-up.
    pub ticket: Option<String>,
    /// False when the message was too large to fetch: it is still in IMAP.
    pub raw_kept: bool,
    pub created_at: String,
    pub updated_at: String,
}

pub fn quarantine(c: &Connection, all: bool) -> Result<Vec<QuarantineEntry>> {
    quarantine_query(c, if all { None } else { Some("held") }, None)
}

pub fn quarantine_one(c: &Connection, id: i64) -> Result<Option<QuarantineEntry>> {
    Ok(quarantine_query(c, None, Some(id))?.into_iter().next())
}

/// The select list of `quarantine list/show`, before its WHERE.
pub(super) const QUARANTINE_SELECT: &str =
    "SELECT q.id, q.status, q.mailbox, q.uid_validity, q.uid, q.size, q.message_id,
            q.from_address, q.subject, q.error, q.attempts, t.number, q.raw_id IS NOT NULL,
            q.created_at, q.updated_at
     FROM quarantine q LEFT JOIN tickets t ON t.id = q.ticket_id";

/// The quarantine query with only the filters given in its WHERE, so that
/// one status (`quarantine_status`) or one id is found by index.
/// Parameters: ?1 status, ?2 id.
pub(super) fn quarantine_sql(status: bool, id: bool) -> String {
    let status = if status {
        "q.status = ?1"
    } else {
        "?1 IS NULL"
    };
    let id = if id { "q.id = ?2" } else { "?2 IS NULL" };
    format!("{QUARANTINE_SELECT} WHERE {status} AND {id} ORDER BY q.id")
}

fn quarantine_query(
    c: &Connection,
    status: Option<&str>,
    id: Option<i64>,
) -> Result<Vec<QuarantineEntry>> {
    let mut stmt = c.prepare(&quarantine_sql(status.is_some(), id.is_some()))?;
    let rows = stmt.query_map(params![status, id], |r| {
        Ok(QuarantineEntry {
            id: r.get(0)?,
            status: r.get(1)?,
            mailbox: r.get(2)?,
            uid_validity: r.get(3)?,
            uid: r.get(4)?,
            size: r.get::<_, i64>(5)? as u64,
            message_id: r.get(6)?,
            from: r.get(7)?,
            subject: r.get(8)?,
            error: r.get(9)?,
            attempts: r.get(10)?,
            ticket: r.get(11)?,
            raw_kept: r.get(12)?,
            created_at: r.get(13)?,
            updated_at: r.get(14)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Raw bytes of a quarantined message.
pub fn quarantine_raw(c: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(c.query_row(
        "SELECT r.content FROM quarantine q JOIN raw_messages r ON r.id = q.raw_id WHERE q.id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()?)
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub schema_version: i64,
    pub tickets: u64,
    pub articles: u64,
    pub receipts: u64,
    pub receipts_by_status: std::collections::BTreeMap<String, u64>,
    pub quarantine_held: u64,
    pub outbox_pending: u64,
    pub outbox_sent: u64,
    pub outbox_failed: u64,
    /// The latest failed outbox rows, newest first, with their errors.
    pub outbox_failed_latest: Vec<FailedMail>,
    /// Mail held for a bouncing address (never sent until released).
    pub outbox_held: u64,
    /// The latest held outbox rows, newest first, with the reason.
    pub outbox_held_latest: Vec<super::machines::HeldMail>,
    pub mailboxes: Vec<MailboxLedger>,
}

/// An outbox row that will not be sent, and why.
#[derive(Debug, Serialize)]
pub struct FailedMail {
    pub id: i64,
    /// Ticket number, when the row belongs to a ticket.
    pub ticket: Option<String>,
    pub kind: String,
    pub recipients: String,
    pub error: String,
    pub created_at: String,
}

/// The `limit` latest failed outbox rows, newest first.
pub fn failed_mail(c: &Connection, limit: u32) -> Result<Vec<FailedMail>> {
    let mut stmt = c.prepare(
        "SELECT o.id, t.number, o.kind, o.recipients, COALESCE(o.last_error, ''), o.created_at
         FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id
         WHERE o.status = 'failed' ORDER BY o.id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok(FailedMail {
                id: r.get(0)?,
                ticket: r.get(1)?,
                kind: r.get(2)?,
                recipients: r.get(3)?,
                error: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[derive(Debug, Serialize)]
pub struct MailboxLedger {
    pub mailbox: String,
    pub uid_validity: u32,
    pub last_uid: u32,
    pub updated_at: String,
}

/// The operator's overview. Totals come from the `counters` rows the
/// triggers of migration 14 keep (one row each, however large the
/// tables); only the held quarantine is counted, through its index.
pub fn status(c: &Connection) -> Result<Status> {
    let mut by_status = std::collections::BTreeMap::new();
    let mut outbox = std::collections::HashMap::new();
    let (mut tickets, mut articles) = (0, 0);
    let mut stmt = c.prepare_cached("SELECT name, value FROM counters")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (name, n) = row?;
        let n = n.max(0) as u64;
        match name.split_once('.') {
            _ if name == "tickets" => tickets = n,
            _ if name == "articles" => articles = n,
            Some(("receipts", s)) if n > 0 => {
                by_status.insert(s.to_string(), n);
            }
            Some(("outbox", s)) => {
                outbox.insert(s.to_string(), n);
            }
            _ => {}
        }
    }
    let mut stmt = c.prepare(
        "SELECT mailbox, uid_validity, last_uid, updated_at FROM mailbox_state ORDER BY mailbox",
    )?;
    let mailboxes = stmt
        .query_map([], |r| {
            Ok(MailboxLedger {
                mailbox: r.get(0)?,
                uid_validity: r.get(1)?,
                last_uid: r.get(2)?,
                updated_at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Status {
        schema_version: c.query_row("PRAGMA user_version", [], |r| r.get(0))?,
        tickets,
        articles,
        receipts: by_status.values().sum(),
        receipts_by_status: by_status,
        quarantine_held: c.query_row(
            "SELECT COUNT(*) FROM quarantine WHERE status = 'held'",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64,
        outbox_pending: *outbox.get("pending").unwrap_or(&0),
        outbox_sent: *outbox.get("sent").unwrap_or(&0),
        outbox_failed: *outbox.get("failed").unwrap_or(&0),
        outbox_failed_latest: failed_mail(c, 10)?,
        outbox_held: *outbox.get("held").unwrap_or(&0),
        outbox_held_latest: super::machines::held_mail(c, 10)?,
        mailboxes,
    })
}

/// Where an article came from, for `postdesk explain --article`.
#[derive(Debug)]
pub struct ArticleSource {
    /// `in` or `out`.
    pub direction: String,
    /// The raw mail (None for our own outbound articles).
    pub raw: Option<Vec<u8>>,
    /// The mailbox its receipt names.
    pub mailbox: Option<String>,
}

pub fn article_source(c: &Connection, article_id: i64) -> Result<Option<ArticleSource>> {
    Ok(c.query_row(
        "SELECT a.direction, r.content,
                (SELECT mailbox FROM receipts WHERE article_id = a.id ORDER BY id LIMIT 1)
         FROM articles a LEFT JOIN raw_messages r ON r.id = a.raw_id WHERE a.id = ?1",
        [article_id],
        |r| {
            Ok(ArticleSource {
                direction: r.get(0)?,
                raw: r.get(1)?,
                mailbox: r.get(2)?,
            })
        },
    )
    .optional()?)
}

/// What waits: the outbox's pending mail and the quarantine, for health,
/// metrics and `status`. Cheap enough to run on every scrape: the outbox
/// count and the oldest row run on `outbox_due` (status first).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Backlog {
    /// Outbox rows still to be sent (`pending`).
    pub outbox_pending: u64,
    /// When the oldest pending row was queued (unix seconds).
    pub outbox_oldest_unix: Option<i64>,
    /// Quarantined messages still held.
    pub quarantine_held: u64,
}

pub fn backlog(c: &Connection) -> Result<Backlog> {
    let (pending, oldest): (i64, Option<i64>) = c.query_row(
        "SELECT COUNT(*), MIN(CAST(strftime('%s', created_at) AS INTEGER))
         FROM outbox WHERE status = 'pending'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let held: i64 = c.query_row(
        "SELECT COUNT(*) FROM quarantine WHERE status = 'held'",
        [],
        |r| r.get(0),
    )?;
    Ok(Backlog {
        outbox_pending: pending as u64,
        outbox_oldest_unix: oldest,
        quarantine_held: held as u64,
    })
}
