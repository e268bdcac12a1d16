//! Backup, restore, integrity and vacuum: the SQL side of `postdesk db
//! backup | restore | check | vacuum`. Copying attachment files is left to
//! the caller (`cli::db`); this module names which files a database
//! refers to and checks them.
//!
//! Backups and restores use SQLite's online backup API in one step, so
//! the copy is one consistent snapshot: a backup reads under one read
//! transaction (in WAL mode the daemon keeps writing meanwhile), and a
//! restore writes the live database in one write transaction, so every
//! other connection sees the old database or the new one, never a mix,
//! and a `-wal` file left by the old one can never be replayed onto the
//! new one (as it could after renaming a file over a WAL database).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest as _, Sha256};

use super::{Store, StoreError};

/// One attachment row's file as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentFile {
    /// Content address (hex SHA-256 of the file's bytes).
    pub sha256: String,
    /// Relative to `storage.data_dir`.
    pub path: String,
}

/// What is wrong with one attachment file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileProblem {
    pub path: String,
    /// `missing`, `corrupt` (content does not match the address) or
    /// `unreadable`.
    pub problem: &'static str,
    pub detail: String,
}

/// Copy `from` (a live database) to a new file `to` in one snapshot; the
/// copy is left in rollback-journal mode, one self-contained file.
pub fn backup_database(from: &Connection, to: &Path) -> Result<(), StoreError> {
    let mut dest = Connection::open(to)?;
    copy_all(from, &mut dest)?;
    dest.execute_batch("PRAGMA journal_mode = DELETE")?;
    drop(dest);
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(StoreError::Sync)?;
    Ok(())
}

/// Replace the database at `live` (created if missing) with the contents
/// of the file `from`, in one write transaction.
pub fn restore_database(from: &Path, live: &Path) -> Result<(), StoreError> {
    let src =
        Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|error| {
            StoreError::Open {
                path: from.to_path_buf(),
                error,
            }
        })?;
    let mut dest = Connection::open(live).map_err(|error| StoreError::Open {
        path: live.to_path_buf(),
        error,
    })?;
    dest.busy_timeout(Duration::from_secs(10))?;
    dest.execute_batch("PRAGMA synchronous = FULL")?;
    // Before the copy too: marks about the replaced rows must never be
    // folded into the restored ones, even if this stops half-way.
    super::marks::forget(live)?;
    copy_all(&src, &mut dest)?;
    super::marks::forget(live)
}

/// All pages in one step: a consistent snapshot, whatever others write.
fn copy_all(from: &Connection, to: &mut Connection) -> Result<(), StoreError> {
    let backup = Backup::new(from, to)?;
    let mut waited = 0;
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            // Busy or locked: another connection holds a lock; wait a bit.
            _ if waited < 200 => {
                waited += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {
                return Err(StoreError::Sql(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some("the database stayed locked for 10 s during the copy".into()),
                )))
            }
        }
    }
}

/// What a backup's database file holds, read without changing it.
#[derive(Debug, Clone)]
pub struct BackupFile {
    /// SQLite's integrity findings; empty when sound.
    pub damage: Vec<String>,
    pub schema_version: i64,
    /// The attachment files it refers to.
    pub files: Vec<AttachmentFile>,
}

/// Open a backup's database read-only and say what it holds.
pub fn inspect_backup(path: &Path) -> Result<BackupFile, StoreError> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|error| {
            StoreError::Open {
                path: path.to_path_buf(),
                error,
            }
        })?;
    let damage = integrity_problems(&conn)?;
    let schema_version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    // A damaged file may not list its attachments reliably.
    let files = if damage.is_empty() {
        attachment_files(&conn)?
    } else {
        Vec::new()
    };
    Ok(BackupFile {
        damage,
        schema_version,
        files,
    })
}

/// `PRAGMA integrity_check`: empty when the database is sound, else
/// SQLite's findings (at most 100).
pub fn integrity_problems(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut st = conn.prepare("PRAGMA integrity_check(100)")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    let mut found = Vec::new();
    for row in rows {
        let line = row?;
        if line != "ok" {
            found.push(line);
        }
    }
    Ok(found)
}

/// Every distinct attachment file the database refers to.
pub fn attachment_files(conn: &Connection) -> Result<Vec<AttachmentFile>, StoreError> {
    let mut st =
        conn.prepare("SELECT DISTINCT sha256, path FROM attachments ORDER BY path, sha256")?;
    let rows = st.query_map([], |r| {
        Ok(AttachmentFile {
            sha256: r.get(0)?,
            path: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Hex SHA-256 of a file's content, read in pieces.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Is `file` present under `data_dir` with the content its address says?
pub fn check_attachment(data_dir: &Path, file: &AttachmentFile) -> Option<FileProblem> {
    let full: PathBuf = data_dir.join(&file.path);
    let problem = |problem, detail: String| {
        Some(FileProblem {
            path: full.display().to_string(),
            problem,
            detail,
        })
    };
    match file_sha256(&full) {
        Ok(sha) if sha.eq_ignore_ascii_case(&file.sha256) => None,
        Ok(sha) => problem(
            "corrupt",
            format!("content has SHA-256 {sha}, expected {}", file.sha256),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problem("missing", "no such file".into())
        }
        Err(e) => problem("unreadable", e.to_string()),
    }
}

impl Store {
    /// Rewrite the database file without free pages; returns the file's
    /// size before and after (bytes).
    pub fn vacuum(&mut self) -> Result<(u64, u64), StoreError> {
        let size = |s: &Store| std::fs::metadata(&s.path).map(|m| m.len()).unwrap_or(0);
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        let before = size(self);
        self.conn.execute_batch("VACUUM")?;
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        Ok((before, size(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Durability;

    #[test]
    fn backup_then_restore_round_trips_and_checks_clean() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.db");
        let mut s = Store::open(&live, Durability::Full).unwrap();
        s.set_ledger("m", "h/u/INBOX", 7, 42).unwrap();
        let copy = dir.path().join("copy.db");
        backup_database(s.conn(), &copy).unwrap();
        assert!(!dir.path().join("copy.db-wal").exists());
        let b = inspect_backup(&copy).unwrap();
        assert!(b.damage.is_empty(), "{:?}", b.damage);
        assert_eq!(b.schema_version, Store::known_schema_version());
        assert!(b.files.is_empty());
        s.set_ledger("m", "h/u/INBOX", 7, 99).unwrap();
        drop(s);
        restore_database(&copy, &live).unwrap();
        let mut s = Store::open(&live, Durability::Full).unwrap();
        assert_eq!(s.ledger("m").unwrap(), Some(("h/u/INBOX".into(), 7, 42)));
        assert!(integrity_problems(s.conn()).unwrap().is_empty());
        let (before, after) = s.vacuum().unwrap();
        assert!(before > 0 && after > 0);
    }

    #[test]
    fn attachment_check_tells_missing_from_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let good = b"hello";
        let sha = hex::encode(Sha256::digest(good));
        std::fs::write(dir.path().join("good"), good).unwrap();
        std::fs::write(dir.path().join("bad"), b"tampered").unwrap();
        let f = |path: &str| AttachmentFile {
            sha256: sha.clone(),
            path: path.into(),
        };
        assert_eq!(check_attachment(dir.path(), &f("good")), None);
        assert_eq!(
            check_attachment(dir.path(), &f("bad")).unwrap().problem,
            "corrupt"
        );
        assert_eq!(
            check_attachment(dir.path(), &f("gone")).unwrap().problem,
            "missing"
        );
    }
}
