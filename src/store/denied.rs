//! Why SQLite refused this user: which file or folder, and what it lacks.
//!
//! SQLite says only "attempt to write a readonly database" or "unable to
//! open database file". When the error is one of those, the file system
//! tells which path is at fault: the database file (not readable, not
//! writable), its `-shm` file, or its folder — a WAL database can be read
//! only where its `-shm` and `-wal` files exist and are readable or can be
//! created, so reading needs a writable folder while no other connection
//! (a running daemon) keeps them. The caller (the CLI) names the owner and
//! what to do; this module only finds the culprit.

use std::ffi::CString;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use super::StoreError;

/// What this user lacks on the culprit path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// A folder on the way cannot be entered (no search permission).
    FolderClosed,
    /// The database's folder is not writable, and SQLite must create the
    /// `-shm`/`-wal` files there.
    FolderNotWritable,
    /// The file (database or `-shm`) cannot be read.
    NotReadable,
    /// The database file cannot be written.
    NotWritable,
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Denial::FolderClosed => "cannot be entered",
            Denial::FolderNotWritable | Denial::NotWritable => "is not writable",
            Denial::NotReadable => "is not readable",
        })
    }
}

impl Denial {
    /// Why it matters, where that is not plain (", and …"), else "".
    pub fn why(&self) -> &'static str {
        match self {
            Denial::FolderNotWritable => {
                ", and SQLite must create the -shm and -wal files of a WAL database there \
                 (they exist only while some process, such as a running daemon, has it open)"
            }
            _ => "",
        }
    }
}

/// Whether this process may access `path` with `mode` (access(2)).
fn access(path: &Path, mode: libc::c_int) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path; access() only reads it.
    unsafe { libc::access(c.as_ptr(), mode) == 0 }
}

/// The folder SQLite keeps the database's companion files in.
fn folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` with `suffix` appended to its file name (`db.sqlite-shm`).
fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Which path denies this user what opening `path` needs (`write`: for
/// writing too), judged from the file system alone.
pub(super) fn culprit(path: &Path, write: bool) -> Option<(PathBuf, Denial)> {
    let dir = folder(path);
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return Some((dir, Denial::FolderClosed))
        }
        Err(_) => return None,
        Ok(_) => {}
    }
    if !access(path, libc::R_OK) {
        return Some((path.to_path_buf(), Denial::NotReadable));
    }
    if write && !access(path, libc::W_OK) {
        return Some((path.to_path_buf(), Denial::NotWritable));
    }
    let shm = companion(path, "-shm");
    if shm.exists() && !access(&shm, libc::R_OK) {
        return Some((shm, Denial::NotReadable));
    }
    // Reading needs the folder only when the -shm file must be created.
    if (write || !shm.exists()) && !access(&dir, libc::W_OK) {
        return Some((dir, Denial::FolderNotWritable));
    }
    None
}

/// `error` from opening or first reading `path`, told apart: a refusal of
/// this user becomes [`StoreError::Denied`], anything else `fallback`.
pub(super) fn explain(
    path: &Path,
    write: bool,
    error: rusqlite::Error,
    fallback: impl FnOnce(rusqlite::Error) -> StoreError,
) -> StoreError {
    let refusal = matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied)
    );
    match refusal.then(|| culprit(path, write)).flatten() {
        Some((culprit, denial)) => StoreError::Denied {
            path: path.to_path_buf(),
            culprit,
            denial,
            write,
        },
        None => fallback(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readable_database_in_a_writable_folder_has_no_culprit() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("db.sqlite");
        assert_eq!(culprit(&db, true), None, "missing: not a permission matter");
        std::fs::write(&db, b"").unwrap();
        assert_eq!(culprit(&db, false), None);
        assert_eq!(culprit(&db, true), None);
        assert_eq!(companion(&db, "-shm"), d.path().join("db.sqlite-shm"));
        assert_eq!(folder(Path::new("db.sqlite")), PathBuf::from("."));
    }

    #[test]
    fn an_open_error_is_printed_once_in_a_chain() {
        let ro = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
            Some("attempt to write a readonly database".into()),
        );
        let e = anyhow::Error::from(StoreError::Open {
            path: "x.db".into(),
            error: ro,
        });
        let text = format!("{e:#}");
        assert_eq!(text.matches("readonly database").count(), 1, "{text}");
    }

    #[test]
    fn other_errors_are_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let e = explain(&d.path().join("db"), false, busy, StoreError::Sql);
        assert!(matches!(e, StoreError::Sql(_)), "{e}");
    }
}
