//! Processing attempts: the last line of defence against a message that
//! kills the process (a parser bug, a stack overflow, the OOM killer). An
//! attempt is committed in its own short transaction before the message is
//! processed and settled (deleted) in the transaction that commits the
//! message's effects, so a row that survives a restart counts a crash.
//! The policy (when to isolate, when to give up) is the caller's; this
//! module only keeps the counts.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now_text, Db, StoreError};

/// Interrupted attempts recorded for each key (0 when none), in order.
pub fn interrupted(db: &Db, keys: &[String]) -> Result<Vec<u32>, StoreError> {
    let mut stmt =
        db.prepare_cached("SELECT interrupted FROM processing_attempts WHERE message_key = ?1")?;
    keys.iter()
        .map(|k| {
            Ok(stmt
                .query_row([k], |r| r.get::<_, u32>(0))
                .optional()?
                .unwrap_or(0))
        })
        .collect()
}

/// Record that processing of `keys` begins, committed before it does.
/// Committed with `synchronous=NORMAL`: in WAL mode that survives a crash
/// of the process, which is what it is for; a power cut losing it costs
/// at most one more attempt. The connection's setting is restored.
pub fn begin(conn: &mut Connection, keys: &[String]) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let result = (|| {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let now = now_text();
            let mut stmt = tx.prepare_cached(
                "INSERT INTO processing_attempts (message_key, interrupted, first_at, last_at)
                 VALUES (?1, 1, ?2, ?2)
                 ON CONFLICT(message_key) DO UPDATE
                 SET interrupted = interrupted + 1, last_at = excluded.last_at",
            )?;
            for k in keys {
                stmt.execute(params![k, now])?;
            }
        }
        tx.commit()
    })();
    conn.pragma_update(None, "synchronous", sync)?;
    Ok(result?)
}

/// Processing of `keys` stopped with an error the caller handled (the
/// database was busy, say): not a crash, so take the attempt back.
pub fn abandon(conn: &mut Connection, keys: &[String]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut dec = tx.prepare_cached(
            "UPDATE processing_attempts SET interrupted = interrupted - 1 WHERE message_key = ?1",
        )?;
        let mut gone = tx.prepare_cached(
            "DELETE FROM processing_attempts WHERE message_key = ?1 AND interrupted <= 0",
        )?;
        for k in keys {
            dec.execute([k])?;
            gone.execute([k])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The messages' effects are committing with this transaction: forget
/// their attempts.
pub fn settle(db: &Db, keys: &[String]) -> Result<(), StoreError> {
    let mut stmt = db.prepare_cached("DELETE FROM processing_attempts WHERE message_key = ?1")?;
    for k in keys {
        stmt.execute([k])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};

    #[test]
    fn attempts_count_until_settled() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db"), Durability::Full).unwrap();
        let keys = vec!["imap:a/1/7".to_string(), "sha256:ff".to_string()];
        assert_eq!(interrupted(store.conn(), &keys).unwrap(), [0, 0]);
        begin(store.conn(), &keys).unwrap();
        begin(store.conn(), &keys[..1]).unwrap();
        assert_eq!(interrupted(store.conn(), &keys).unwrap(), [2, 1]);
        let sync: i64 = store
            .conn()
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL restored after the attempt commit");
        let tx = store.conn().transaction().unwrap();
        settle(&tx, &keys[..1]).unwrap();
        tx.commit().unwrap();
        assert_eq!(interrupted(store.conn(), &keys).unwrap(), [0, 1]);
        begin(store.conn(), &keys).unwrap();
        abandon(store.conn(), &keys).unwrap();
        assert_eq!(interrupted(store.conn(), &keys).unwrap(), [0, 1]);
        let rows: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM processing_attempts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1, "a row back at zero is deleted");
    }
}
