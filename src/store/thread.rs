//! A ticket's mail in order, for the threading headers of the mail we send
//! (`References`, Outlook's `Thread-Index`): each article's Message-ID,
//! time, kind and whether it is internal. The notify side decides which of
//! them a recipient may see named.

use rusqlite::Connection;

use super::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// One article of a ticket that has a Message-ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMessage {
    /// Without angle brackets.
    pub message_id: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`, as the article was stored.
    pub created_at: String,
    /// The article's kind (`customer`, `auto_reply`, `agent_new_ticket`, …).
    pub kind: String,
    /// Never shown to customers.
    pub internal: bool,
    /// The raw mail it was made from (inbound mail); None for ours.
    pub raw_id: Option<i64>,
}

/// The ticket's articles with a Message-ID, oldest first.
pub fn thread_messages(c: &Connection, ticket_id: i64) -> Result<Vec<ThreadMessage>> {
    let mut stmt = c.prepare_cached(
        "SELECT message_id, created_at, kind, internal, raw_id FROM articles
         WHERE ticket_id = ?1 AND message_id IS NOT NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([ticket_id], |r| {
        Ok(ThreadMessage {
            message_id: r.get(0)?,
            created_at: r.get(1)?,
            kind: r.get(2)?,
            internal: r.get::<_, i64>(3)? != 0,
            raw_id: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
