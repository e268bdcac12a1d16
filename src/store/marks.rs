//! The outbox's delivery marks, journalled beside the database (issue 10).
//!
//! A lane sends its next mail only once the mark of its last one is
//! committed (at most one mail per lane can go out twice after a crash).
//! Written straight into `outbox`, a mark needs the database's one write
//! lock, which the pipeline holds for a whole batch: during intake the
//! lanes waited on every batch, and sending crawled. So the marks are
//! committed into a second SQLite file, `<database>-marks`, attached to the
//! sender's connection as `marks`: a transaction that writes only there
//! takes only that file's lock. They are folded into `outbox` whenever the
//! database's lock is free (between batches, at once when idle) and always
//! in the same transaction as a claim, so no claim ever sees a row whose
//! mark is still in the journal. Every sender on the database attaches the
//! same file, and any of them folds every mark found.
//!
//! The fold runs in the main database's transaction and deletes what it
//! applied in the journal's; SQLite commits the two files one after the
//! other, so a crash between them leaves marks already applied, which a
//! later fold finds finished and drops.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use super::outbox::{self, Claim};
use super::{Durability, StoreError};

/// What became of one mail, to be marked.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent,
    /// Try again at `next_unix`.
    Retry {
        error: String,
        next_unix: i64,
    },
    Failed {
        error: String,
    },
}

/// A mark applied by [`fold`] to a row no longer claimed by its sender.
#[derive(Debug, Clone, PartialEq)]
pub struct Lapsed {
    pub outbox_id: i64,
    /// The sender whose mark it was.
    pub claimant: String,
    /// The mail went out (another sender may send it too).
    pub sent: bool,
}

/// The journal's file for the database at `db`: beside the file itself
/// (symlinks resolved), so every path to the database finds one journal.
pub fn path_for(db: &Path) -> PathBuf {
    let real = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    let mut p = real.into_os_string();
    p.push("-marks");
    PathBuf::from(p)
}

/// Page cache of the attached journal, in KiB.
const MARKS_CACHE_KIB: u64 = 256;

/// Attach the journal of the database at `db` (creating it) to `c` as
/// `marks`, committed with `durability`.
pub fn attach(c: &Connection, db: &Path, durability: Durability) -> Result<(), StoreError> {
    let file = path_for(db);
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    // Errors name the journal's file: it is not the database.
    let named = |error| StoreError::Open {
        path: file.clone(),
        error,
    };
    c.execute("ATTACH DATABASE ?1 AS marks", [file.to_string_lossy()])
        .map_err(named)?;
    // An attached file gets SQLite's default 2 MiB of page cache; the
    // journal holds a burst of marks at a time, a few pages.
    c.execute_batch(&format!(
        "PRAGMA marks.journal_mode = WAL;
         PRAGMA marks.synchronous = {sync};
         PRAGMA marks.cache_size = -{MARKS_CACHE_KIB};
         CREATE TABLE IF NOT EXISTS marks.delivery_marks (
             outbox_id       INTEGER NOT NULL,
             -- Two senders may mark one row (one's claim had lapsed):
             -- both marks are kept and folded.
             claimant        TEXT NOT NULL,
             outcome         TEXT NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed')),
             error           TEXT,
             next_attempt_at INTEGER,
             at              TEXT NOT NULL,
             PRIMARY KEY (outbox_id, claimant)
         );"
    ))
    .map_err(named)?;
    // A journal made by an earlier build, keyed by the row alone, would
    // let one sender's mark replace another's.
    let key: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('delivery_marks', 'marks') WHERE pk > 0",
            [],
            |r| r.get(0),
        )
        .map_err(named)?;
    if key != 2 {
        return Err(named(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some("the outbox marks journal has an unknown layout; stop postdesk and move the file away (marks in it are lost: those mails may be sent again)".into()),
        )));
    }
    Ok(())
}

/// Commit the marks of `claimant`'s mails `(outbox id, outcome)` into the
/// journal, in one transaction that takes only the journal's lock.
pub fn record(
    c: &mut Connection,
    claimant: &str,
    marks: &[(i64, Outcome)],
) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO marks.delivery_marks
                 (outbox_id, claimant, outcome, error, next_attempt_at, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let at = super::now_text();
        for (id, outcome) in marks {
            let (name, error, next) = match outcome {
                Outcome::Sent => ("sent", None, None),
                Outcome::Retry { error, next_unix } => ("retry", Some(error), Some(*next_unix)),
                Outcome::Failed { error } => ("failed", Some(error), None),
            };
            insert.execute(params![id, claimant, name, error, next, at])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Apply every mark of the journal to `outbox` and delete it, in the
/// caller's transaction (which must be able to write both files). Returns
/// the marks whose row had passed to another sender.
pub fn fold(c: &Connection) -> Result<Vec<Lapsed>, StoreError> {
    type Row = (i64, String, String, Option<String>, Option<i64>, String);
    let marks: Vec<Row> = c
        .prepare_cached(
            "SELECT outbox_id, claimant, outcome, error, next_attempt_at, at
             FROM marks.delivery_marks ORDER BY outbox_id, at",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut lapsed = Vec::new();
    for (id, claimant, outcome, error, next, at) in marks {
        // A mark applied before a crash cut the fold short finds its row
        // finished already: nothing to do or say.
        if outbox::finished_as(c, id, &outcome, &claimant)? {
            continue;
        }
        let error = error.unwrap_or_default();
        let claim = match outcome.as_str() {
            "sent" => outbox::mark_sent(c, id, &claimant, &at)?,
            "retry" => outbox::mark_retry(c, id, &claimant, &error, next.unwrap_or(0))?,
            _ => outbox::mark_failed(c, id, &claimant, &error)?,
        };
        if claim == Claim::Lost {
            lapsed.push(Lapsed {
                outbox_id: id,
                claimant: claimant.clone(),
                sent: outcome == "sent",
            });
        }
    }
    c.prepare_cached("DELETE FROM marks.delivery_marks")?
        .execute([])?;
    Ok(lapsed)
}

/// Drop the marks waiting in the journal of the database at `db` (a
/// restore replaced the rows they were about).
pub fn forget(db: &Path) -> Result<(), StoreError> {
    let file = path_for(db);
    if !file.exists() {
        return Ok(());
    }
    let named = |error| StoreError::Open {
        path: file.clone(),
        error,
    };
    let c = Connection::open(&file).map_err(named)?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(named)?;
    let made: bool = c
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_schema WHERE name = 'delivery_marks'",
            [],
            |r| r.get(0),
        )
        .map_err(named)?;
    if made {
        c.execute("DELETE FROM delivery_marks", []).map_err(named)?;
    }
    Ok(())
}

/// Marks waiting in the journal.
pub fn waiting(c: &Connection) -> Result<u64, StoreError> {
    let n: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM marks.delivery_marks")?
        .query_row([], |r| r.get(0))?;
    Ok(n as u64)
}

#[cfg(test)]
#[path = "marks_tests.rs"]
mod tests;
