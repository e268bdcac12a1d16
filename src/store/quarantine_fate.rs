//! What an operator decides about a quarantined message beyond `retry`
//! and `drop`: `quarantine release` marks the entry released into its
//! ticket. The entry stays, with its raw copy and error, for the record.

use rusqlite::{params, Connection};

use super::{now_text, StoreError};

/// Mark a held entry released into ticket `ticket_id`. False when the
/// entry is not held (released, retried, dropped, waiting for a refetch,
/// or unknown): nothing changes then.
pub fn mark_released(c: &Connection, id: i64, ticket_id: i64) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE quarantine SET status = 'released', ticket_id = ?2, updated_at = ?3
             WHERE id = ?1 AND status = 'held'",
        )?
        .execute(params![id, ticket_id, now_text()])?;
    Ok(n == 1)
}
