//! Where `postdesk import` stands in each archive: a row per source (its
//! canonical path) with the byte offset reached in an mbox, or the last
//! file name taken from a maildir. Written in the transaction of the batch
//! it follows, so what it says is always what was committed.

use rusqlite::{params, Connection, OptionalExtension};

use super::now_text;

/// How far an earlier import of one source went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// mbox: byte offset of the next message.
    pub position: u64,
    /// maildir: the unique name of the last file taken in.
    pub last_name: Option<String>,
    /// Messages taken in from it so far, over all runs.
    pub messages: u64,
}

/// The recorded progress of `source`, if it was imported before.
pub fn progress(c: &Connection, source: &str) -> rusqlite::Result<Option<Progress>> {
    c.prepare_cached("SELECT position, last_name, messages FROM import_progress WHERE source = ?1")?
        .query_row([source], |r| {
            Ok(Progress {
                position: r.get::<_, i64>(0)?.max(0) as u64,
                last_name: r.get(1)?,
                messages: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })
        .optional()
}

/// Record that `source` (an archive of `kind`) stands at `p`.
pub fn set_progress(
    c: &Connection,
    source: &str,
    kind: &str,
    p: &Progress,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO import_progress (source, kind, position, last_name, messages, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(source) DO UPDATE SET kind = excluded.kind,
             position = excluded.position, last_name = excluded.last_name,
             messages = excluded.messages, updated_at = excluded.updated_at",
    )?
    .execute(params![
        source,
        kind,
        p.position as i64,
        p.last_name,
        p.messages as i64,
        now_text()
    ])?;
    Ok(())
}

/// Forget the progress of `source` (`import --from-start`).
pub fn forget(c: &Connection, source: &str) -> rusqlite::Result<()> {
    c.prepare_cached("DELETE FROM import_progress WHERE source = ?1")?
        .execute([source])?;
    Ok(())
}

/// Were these exact bytes taken in before, whatever became of them
/// (an article, a duplicate, ignored, quarantined), kept or since
/// forgotten by `db prune`? An import skips them, so importing an archive
/// twice records nothing twice.
pub fn bytes_seen(c: &Connection, sha256: &str) -> rusqlite::Result<bool> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM raw_messages r JOIN receipts c ON c.raw_id = r.id WHERE r.sha256 = ?1
         UNION ALL
         SELECT 1 FROM forgotten_raw WHERE sha256 = ?1
         LIMIT 1",
    )?
    .query_row([sha256], |_| Ok(()))
    .optional()?
    .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};

    #[test]
    fn progress_round_trip_and_forget() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.db"), Durability::Full).unwrap();
        let c = s.conn();
        assert_eq!(progress(c, "/a.mbox").unwrap(), None);
        let p = Progress {
            position: 4096,
            last_name: None,
            messages: 3,
        };
        set_progress(c, "/a.mbox", "mbox", &p).unwrap();
        let q = Progress {
            position: 8192,
            messages: 7,
            ..p
        };
        set_progress(c, "/a.mbox", "mbox", &q).unwrap();
        assert_eq!(progress(c, "/a.mbox").unwrap(), Some(q));
        forget(c, "/a.mbox").unwrap();
        assert_eq!(progress(c, "/a.mbox").unwrap(), None);
    }
}
