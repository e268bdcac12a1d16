//! What an agent's reply or note needs from the store (issue 11, items 3
//! and 4), read by the facts stage: the ticket's requesters and observers
//! (who a reply is relayed to), the customer's mail on it (what the relay
//! threads to), and the agent the ticket is assigned to. Reads only, each
//! through the ticket's index.

use rusqlite::Connection;

use crate::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// At most this many of the customer's Message-IDs are read (the tail of
/// the thread is what References carry).
pub const MAX_CUSTOMER_IDS: usize = 20;

/// The ticket's participants as (address, role), in the order they came.
pub fn people(c: &Connection, ticket_id: i64) -> Result<Vec<(String, String)>> {
    Ok(c.prepare_cached(
        "SELECT address, role FROM ticket_participants WHERE ticket_id = ?1 ORDER BY rowid",
    )?
    .query_map([ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect::<rusqlite::Result<_>>()?)
}

/// The Message-IDs of the customers' mail on the ticket (inbound articles
/// of kind `customer`), oldest first, the last [`MAX_CUSTOMER_IDS`].
pub fn customer_message_ids(c: &Connection, ticket_id: i64) -> Result<Vec<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT message_id FROM articles WHERE ticket_id = ?1 AND direction = 'in'
         AND kind = 'customer' AND message_id IS NOT NULL ORDER BY id DESC",
    )?;
    let mut ids: Vec<String> =
        super::first_rows(&mut stmt, [ticket_id], MAX_CUSTOMER_IDS, |r| r.get(0))?;
    ids.reverse();
    Ok(ids)
}
