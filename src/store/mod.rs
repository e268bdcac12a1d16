//! SQLite persistence: the only module that speaks SQL.
//!
//! One database file in WAL mode with foreign keys on. Versioned migrations
//! run when the daemon, `ingest`, `quarantine retry` or `db migrate` opens
//! it (`PRAGMA user_version` records the version reached); commands that
//! only read open it read-only with [`Store::open_read_only`], which checks
//! the version and never migrates. Queries
//! are named in domain terms; callers hold a [`rusqlite::Transaction`] or
//! savepoint and pass it in, so everything one message causes (ticket,
//! article, receipt, outbox mail) commits together or not at all.
//!
//! Sub-modules: [`records`] writes and looks up what inbound mail creates,
//! [`safeguards`] holds what keeps robots, typos and forged senders off
//! tickets, [`outbox`] is the durable send queue, [`views`] answers the CLI,
//! [`attempts`] counts processing interrupted by a crash, [`denied`] tells
//! which file or folder refused this user when SQLite cannot say,
//! [`directory`] keeps who is who (agents, groups, queues, customers,
//! customer users, services), [`maintenance`] backs up, restores and checks, [`retention`] forgets
//! raw messages and attachments past their age, [`ticket_fields`] writes a
//! ticket's type, service, category, language and tags, [`history`] keeps
//! who changed which field of a ticket, [`imports`] records how far
//! `postdesk import` went in each archive, [`search`] finds tickets by the
//! words of their mail.

pub mod agent_reply;
pub mod attempts;
pub mod commands;
pub mod denied;
pub mod directory;
pub mod history;
pub mod imports;
pub mod lifecycle;
pub mod machines;
pub mod maintenance;
pub mod marks;
pub mod outbox;
#[cfg(test)]
mod plans;
mod rows;
pub(crate) use rows::first_rows;
pub mod quarantine_fate;
pub mod records;
pub mod redelivery;
pub mod refusals;
pub mod relations;
pub mod retention;
pub mod safeguards;
pub mod search;
pub mod synthetic;
pub mod thread;
pub mod ticket_fields;
pub mod upkeep;
pub mod views;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use rusqlite::{Connection as Db, Transaction};

/// Ordered migrations; index + 1 is the schema version each one reaches.
const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2_robots.sql"),
    include_str!("schema_v3_outbox_claims.sql"),
    include_str!("schema_v4_attempts.sql"),
    include_str!("schema_v5_priority.sql"),
    include_str!("schema_v6_class.sql"),
    include_str!("schema_v7_quote.sql"),
    include_str!("schema_v8_indexes.sql"),
    include_str!("schema_v9_machines.sql"),
    include_str!("schema_v10_directory.sql"),
    include_str!("schema_v11_ticket_fields.sql"),
    include_str!("schema_v12_history.sql"),
    include_str!("schema_v13_import.sql"),
    include_str!("schema_v14_counters.sql"),
    include_str!("schema_v15_search.sql"),
    include_str!("schema_v16_queue_service.sql"),
    include_str!("schema_v17_refusals.sql"),
    include_str!("schema_v18_relations.sql"),
    include_str!("schema_v19_lifecycle.sql"),
    include_str!("schema_v20_follow_up_links.sql"),
    include_str!("schema_v21_search_deferral.sql"),
    include_str!("schema_v22_search_prefixes.sql"),
    include_str!("schema_v23_search_merges.sql"),
    include_str!("schema_v24_random_indexes.sql"),
    include_str!("schema_v25_forgotten_raw.sql"),
    include_str!("schema_v26_outbox_raw.sql"),
];

/// Migrations that rewrite much of a database with history, said before
/// they start (the daemon starts, or `db migrate` returns, after them).
const SLOW_MIGRATIONS: &[(usize, &str)] = &[
    (
        22,
        "rebuilding the search index with prefix lists, about 2 minutes per million mails",
    ),
    (
        24,
        "indexing receipts by raw message, about 10 seconds per million mails",
    ),
    (
        26,
        "moving the outbox's mail into a table of its own, about a minute per million mails sent; it needs free disk space about the outbox's size, given back by `postdesk db vacuum`",
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // The SQLite error is shown, not returned by `source()`, so that a
    // chain printed with `{:#}` says it once.
    #[error("database {path}: {error}")]
    Open {
        path: PathBuf,
        error: rusqlite::Error,
    },
    /// This user may not read (or, with `write`, write) the database:
    /// `culprit` is the file or folder at fault.
    #[error("cannot {} database {path}: {culprit} {denial} by this user{}", if *write { "write" } else { "read" }, denial.why())]
    Denied {
        path: PathBuf,
        culprit: PathBuf,
        denial: denied::Denial,
        write: bool,
    },
    #[error("database {path} has schema version {found}, newer than this postdesk knows ({known}); upgrade postdesk")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database {path} has schema version {found}, older than this postdesk expects ({known}): run `postdesk db migrate` (or start the daemon, which migrates)")]
    TooOld {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database {path} does not exist yet: `postdesk run`, `postdesk ingest` or `postdesk db migrate` creates it")]
    Missing { path: PathBuf },
    #[error("migration to schema version {version} failed: {error}")]
    Migration {
        version: usize,
        error: rusqlite::Error,
    },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error("flushing attachment files to disk: {0}")]
    Sync(std::io::Error),
}

impl StoreError {
    /// Busy, locked, full disk, I/O: worth trying again later.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sql(e) | StoreError::Open { error: e, .. } => is_transient(e),
            StoreError::Sync(_) => true,
            _ => false,
        }
    }
}

/// Busy, locked, full, I/O errors come from the environment, not the data.
pub fn is_transient(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(DatabaseBusy | DatabaseLocked | DiskFull | SystemIoFailure | CannotOpen | OutOfMemory)
    )
}

/// An I/O error where a rusqlite error is expected (permission errors
/// keep their code so [`denied::explain`] can tell them apart).
fn io_error(e: std::io::Error) -> rusqlite::Error {
    let code = match e.kind() {
        std::io::ErrorKind::PermissionDenied => rusqlite::ffi::SQLITE_PERM,
        _ => rusqlite::ffi::SQLITE_CANTOPEN,
    };
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(e.to_string()))
}

/// How hard a connection flushes commits to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on every commit: required before anything is acknowledged
    /// in IMAP, because an acknowledged message exists only here.
    Full,
    /// WAL's NORMAL: survives a process crash, may lose the last commits
    /// on power loss. Used only for marking outbox mail sent, where the
    /// worst case is one mail sent twice after a power cut.
    Normal,
}

/// An open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Page cache of the daemon's side connections, in KiB (see
/// [`Store::set_cache_kib`]).
pub const SIDE_CACHE_KIB: u64 = 256;

/// How long a connection waits for another's lock before SQLite answers
/// BUSY.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Open (creating if needed) and migrate.
    pub fn open(path: &Path, durability: Durability) -> Result<Store, StoreError> {
        Self::open_and_migrate(path, durability).map(|(store, _)| store)
    }

    /// Open for reading only: never creates, never migrates, never writes.
    /// A database at an older schema version is refused with the hint to
    /// run `postdesk db migrate`; a newer one with the hint to upgrade.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let open_err = |e| {
            denied::explain(path, false, e, |error| StoreError::Open {
                path: path.to_path_buf(),
                error,
            })
        };
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => return Err(open_err(io_error(e))),
            Ok(_) => {}
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // The first read is where SQLite needs the -shm file of a WAL
        // database; without it a read-only connection cannot read at all.
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| denied::explain(path, false, e, StoreError::Sql))?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        let known = MIGRATIONS.len() as i64;
        if found < known {
            return Err(StoreError::TooOld {
                path: store.path.clone(),
                found,
                known,
            });
        }
        if found > known {
            return Err(StoreError::TooNew {
                path: store.path.clone(),
                found,
                known,
            });
        }
        Ok(store)
    }

    /// Open (creating if needed) and migrate; also returns the schema
    /// version found before migrating (0 for a new database).
    pub fn open_and_migrate(
        path: &Path,
        durability: Durability,
    ) -> Result<(Store, i64), StoreError> {
        let open_err = |e| {
            denied::explain(path, true, e, |error| StoreError::Open {
                path: path.to_path_buf(),
                error,
            })
        };
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                    path: path.to_path_buf(),
                    error: io_error(e),
                })?;
            }
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        let pragmas = format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA foreign_keys = ON;
             PRAGMA synchronous = {sync};
             PRAGMA temp_store = MEMORY;"
        );
        // Switching a new database to WAL needs its exclusive lock, and
        // SQLite answers BUSY there without calling the busy handler: while
        // another process creates and migrates the same file, wait for it
        // as the busy timeout would.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match conn.execute_batch(&pragmas) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                r => break r.map_err(open_err)?,
            }
        }
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        let found = store.migrate().map_err(|e| match e {
            StoreError::Sql(e) => denied::explain(path, true, e, StoreError::Sql),
            e => e,
        })?;
        Ok((store, found))
    }

    /// The schema version this postdesk knows (the last migration's).
    pub fn known_schema_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    /// Apply pending migrations. The version is read inside an IMMEDIATE
    /// transaction, so two processes opening a new database at once (the
    /// daemon and a CLI command) never both migrate. Returns the version
    /// found.
    fn migrate(&mut self) -> Result<i64, StoreError> {
        // A migration that rebuilds an index rewrites much of the file in
        // one transaction; its statement journal in memory held ~800 MiB
        // at a million mails (migration 22). On disk while migrating.
        self.conn.execute_batch("PRAGMA temp_store = FILE")?;
        let found = self.migrate_in_files()?;
        self.conn.execute_batch("PRAGMA temp_store = MEMORY")?;
        Ok(found)
    }

    fn migrate_in_files(&mut self) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let version = i + 1;
            if let Some((_, what)) = SLOW_MIGRATIONS.iter().find(|(v, _)| *v == version) {
                if found > 0 {
                    tracing::info!(version, "migrating the database: {what}");
                }
            }
            tx.execute_batch(sql)
                .and_then(|_| tx.execute_batch(&format!("PRAGMA user_version = {version}")))
                .map_err(|error| StoreError::Migration { version, error })?;
            tracing::info!(version, "database migrated");
        }
        tx.commit()?;
        Ok(found)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for read-only views and for starting transactions.
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Let SQLite's page cache of this connection grow to `mib` MiB (it
    /// takes pages only as it needs them).
    pub fn set_cache_mib(&mut self, mib: u32) -> Result<(), StoreError> {
        self.set_cache_kib(u64::from(mib) * 1024)
    }

    /// Let SQLite's page cache of this connection grow to `kib` KiB. The
    /// daemon's side connections (outbox marks, health and metrics) read
    /// and write a few pages at a time: [`SIDE_CACHE_KIB`] instead of
    /// SQLite's default 2 MiB each.
    pub fn set_cache_kib(&mut self, kib: u64) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{kib}"))?;
        Ok(())
    }

    /// Schema version in use.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Make sure every configured queue has a row.
    pub fn sync_queues(&mut self, queues: &[crate::config::Queue]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for q in queues {
            tx.execute(
                "INSERT INTO queues (name, agents_address, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET agents_address = excluded.agents_address",
                rusqlite::params![q.name, q.agents_address, now_text()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Where IMAP intake stands for `mailbox`: (source, UIDVALIDITY, last UID).
    pub fn ledger(&self, mailbox: &str) -> Result<Option<(String, u32, u32)>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT source, uid_validity, last_uid FROM mailbox_state WHERE mailbox = ?1",
                [mailbox],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    pub fn set_ledger(
        &mut self,
        mailbox: &str,
        source: &str,
        uid_validity: u32,
        last_uid: u32,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO mailbox_state (mailbox, source, uid_validity, last_uid, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(mailbox) DO UPDATE SET source = excluded.source,
                 uid_validity = excluded.uid_validity,
                 last_uid = excluded.last_uid, updated_at = excluded.updated_at",
            rusqlite::params![mailbox, source, uid_validity, last_uid, now_text()],
        )?;
        Ok(())
    }
}

/// Current time as stored: RFC 3339, UTC, seconds.
pub fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Current time in unix seconds.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn open_migrates_once_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/t.db");
        let s = Store::open(&p, Durability::Full).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(s);
        let s = Store::open(&p, Durability::Normal).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        drop(Store::open(&p, Durability::Full).unwrap());
        let c = Connection::open(&p).unwrap();
        c.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(c);
        let e = Store::open(&p, Durability::Full).err().unwrap();
        assert!(e.to_string().contains("upgrade postdesk"), "{e}");
    }

    #[test]
    fn read_only_open_checks_the_version_and_never_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        let e = Store::open_read_only(&p).err().unwrap();
        assert!(matches!(e, StoreError::Missing { .. }), "{e}");
        assert!(!p.exists(), "a read-only open created the file");
        // An empty database (version 0) is older than this postdesk.
        Connection::open(&p)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL")
            .unwrap();
        let e = Store::open_read_only(&p).err().unwrap();
        assert!(e.to_string().contains("run `postdesk db migrate`"), "{e}");
        let v: i64 = Connection::open(&p)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 0, "the read-only open migrated");
        let (s, found) = Store::open_and_migrate(&p, Durability::Full).unwrap();
        assert_eq!(found, 0);
        drop(s);
        let s = Store::open_read_only(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), Store::known_schema_version());
        drop(s);
        Connection::open(&p)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let e = Store::open_read_only(&p).err().unwrap();
        assert!(matches!(e, StoreError::TooNew { .. }), "{e}");
    }

    /// A new store in `dir` holding one ticket (number "1", queue
    /// "support"), and that ticket's id: the set-up of the store's
    /// per-table tests.
    pub(crate) fn store_with_ticket(dir: &Path) -> (Store, i64) {
        let mut s = Store::open(&dir.join("t.db"), Durability::Full).unwrap();
        let c = s.conn();
        c.execute(
            "INSERT INTO queues (name, created_at) VALUES ('support', 'now')",
            [],
        )
        .unwrap();
        let id = records::insert_ticket(
            c,
            &records::NewTicket {
                number: "1",
                subject: "s",
                state: "posted",
                urgency: 3,
                impact: 3,
                priority: 3,
                priority_explicit: false,
                queue: "support",
                customer_address: "a@x.test",
                customer_name: None,
                support_address: "s@x.test",
                language: "en",
            },
        )
        .unwrap();
        (s, id)
    }

    #[test]
    fn concurrent_first_opens_migrate_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || Store::open(&p, Durability::Full).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    }

    #[test]
    fn ledger_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.db"), Durability::Full).unwrap();
        assert_eq!(s.ledger("m").unwrap(), None);
        s.set_ledger("m", "h/u/INBOX", 7, 42).unwrap();
        s.set_ledger("m", "h/u/INBOX", 7, 43).unwrap();
        assert_eq!(s.ledger("m").unwrap(), Some(("h/u/INBOX".into(), 7, 43)));
    }
}
