//! The daemon lock: one `postdesk run` per database.
//!
//! `run` holds an exclusive `flock(2)` on `<database>.lock` for its whole
//! life. The kernel drops the lock when the process ends, however it ends
//! (SIGKILL, crash, power cut), so a stale lock cannot block a restart.
//! The file names the holder (pid, host, start time, outbox claimant id),
//! so a second `run` can say who is running, and the next holder can give
//! back the outbox claims of the dead one at once instead of waiting for
//! their lease to expire. CLI commands (`ingest`, `status`, …) never take
//! the lock: they run beside the daemon. `status` only probes it.
//!
//! The lock covers one database file on one host (flock over NFS is not
//! to be trusted). Daemons on several hosts sharing a database server rely
//! on the outbox claims alone ([`crate::store::outbox`]).

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit code of a `run` refused because another one holds the lock:
/// sysexits' EX_TEMPFAIL, "try again later" (once the other one stops).
pub const EXIT_ALREADY_RUNNING: u8 = 75;

/// The lock file's mode: read and write for the daemon's user, read for
/// its group (`postdesk status` probes it), nothing for others.
const LOCK_MODE: u32 = 0o640;

/// Who holds (or last held) the lock, as written in the lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// RFC 3339 start time.
    pub since: String,
    /// The holder's outbox claimant id.
    pub claimant: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pid == 0 {
            return write!(f, "a process that has not written its details yet");
        }
        write!(
            f,
            "pid {} on host {} since {}",
            self.pid, self.host, self.since
        )
    }
}

impl Holder {
    fn to_text(&self) -> String {
        format!(
            "pid={}\nhost={}\nsince={}\nclaimant={}\n",
            self.pid, self.host, self.since, self.claimant
        )
    }

    /// Read what [`Holder::to_text`] wrote; unknown lines are ignored.
    fn parse(text: &str) -> Option<Holder> {
        let mut h = Holder::default();
        for (k, v) in text.lines().filter_map(|l| l.split_once('=')) {
            match k {
                "pid" => h.pid = v.parse().ok()?,
                "host" => h.host = v.to_string(),
                "since" => h.since = v.to_string(),
                "claimant" => h.claimant = v.to_string(),
                _ => {}
            }
        }
        (h.pid != 0).then_some(h)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", held_text(database, lock, holder, *recorded_pid_dead))]
    Held {
        database: PathBuf,
        lock: PathBuf,
        holder: Box<Holder>,
        /// The pid the file names is not running on this host: whoever
        /// holds the lock is not the daemon that wrote it.
        recorded_pid_dead: bool,
    },
    // The I/O error is shown, not returned by `source()`, so that a chain
    // printed with `{:#}` says it once.
    #[error("daemon lock file {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

fn held_text(database: &Path, lock: &Path, holder: &Holder, recorded_pid_dead: bool) -> String {
    let (database, lock) = (database.display(), lock.display());
    if recorded_pid_dead {
        format!(
            "the daemon lock on this database ({database}) is held by another process (the pid \
             recorded, {}, is not running: someone else holds the lock file {lock}; find it with \
             `fuser -v {lock}`)",
            holder.pid
        )
    } else {
        format!(
            "postdesk is already running on this database ({database}): {holder}; stop it first \
             (lock file {lock})"
        )
    }
}

/// Whether `holder` names a process of this host that no longer exists
/// (kill(pid, 0) fails with ESRCH). Unknown (no pid, another host, a pid
/// out of range) counts as alive.
fn recorded_pid_dead(holder: &Holder) -> bool {
    let Ok(pid) = libc::pid_t::try_from(holder.pid) else {
        return false;
    };
    if pid <= 0 || holder.host != hostname() {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
}

/// `<database>.lock`, beside the database's real file: the database (or,
/// before it exists, its folder) is resolved through symlinks, so every
/// path that reaches one database file takes the same lock. Unresolvable
/// (no folder yet), the path is used as given.
pub fn lock_path(database: &Path) -> PathBuf {
    let real = std::fs::canonicalize(database).ok().or_else(|| {
        let name = database.file_name()?;
        let dir = match database.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Some(std::fs::canonicalize(dir).ok()?.join(name))
    });
    let mut p = real
        .unwrap_or_else(|| database.to_path_buf())
        .into_os_string();
    p.push(".lock");
    PathBuf::from(p)
}

/// `flock(fd, op | LOCK_NB)`: Ok(true) taken, Ok(false) held elsewhere.
fn try_flock(file: &File, op: libc::c_int) -> std::io::Result<bool> {
    loop {
        // SAFETY: flock(2) on a descriptor `file` owns and keeps open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    Holder::parse(&text)
}

impl DaemonLock {
    /// Take the lock for `database`, writing `me` into it. Returns the
    /// previous holder (now certainly gone) when the file names one.
    pub fn acquire(
        database: &Path,
        me: &Holder,
    ) -> Result<(DaemonLock, Option<Holder>), LockError> {
        if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| LockError::Io {
                path: lock_path(database),
                error,
            })?;
        }
        let path = lock_path(database);
        let io = |error| LockError::Io {
            path: path.clone(),
            error,
        };
        // Only the daemon's user (and its group, for `status`) may open
        // it: anyone who can open it can flock it and keep `run` out.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(LOCK_MODE)
            .open(&path)
            .map_err(io)?;
        // A file left by an older postdesk may be readable by all. Only its
        // owner may change that: anyone else is told, not stopped.
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & !LOCK_MODE != 0 {
            let narrow = std::fs::Permissions::from_mode(mode & LOCK_MODE);
            if let Err(e) = file.set_permissions(narrow) {
                tracing::warn!(
                    lock = %path.display(),
                    "the daemon lock file has mode {mode:o}, wider than {LOCK_MODE:o}, and cannot be narrowed ({e}): any user who can open it can keep postdesk from starting"
                );
            }
        }
        // `postdesk status` probes with a shared lock for an instant: a
        // few tries tell that apart from a running daemon.
        let mut tries = 0;
        while !try_flock(&file, libc::LOCK_EX).map_err(io)? {
            tries += 1;
            if tries == 20 {
                let holder = read_holder(&mut file).unwrap_or_default();
                return Err(LockError::Held {
                    database: database.to_path_buf(),
                    lock: path.clone(),
                    recorded_pid_dead: recorded_pid_dead(&holder),
                    holder: Box::new(holder),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let previous = read_holder(&mut file);
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(me.to_text().as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok((DaemonLock { _file: file }, previous))
    }

    /// Who runs on `database` now, if anyone (for `postdesk status`).
    pub fn holder(database: &Path) -> std::io::Result<Option<Holder>> {
        let mut file = match File::open(lock_path(database)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if try_flock(&file, libc::LOCK_SH)? {
            // Free: nobody runs. Closing the file drops our shared lock.
            return Ok(None);
        }
        Ok(Some(read_holder(&mut file).unwrap_or_default()))
    }
}

/// This machine's host name ("unknown" if it cannot be read).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname(2) writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The holder record for this process.
pub fn this_process(claimant: &str) -> Holder {
    Holder {
        pid: std::process::id(),
        host: hostname(),
        since: crate::store::now_text(),
        claimant: claimant.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state/p.db");
        assert_eq!(DaemonLock::holder(&db).unwrap(), None);
        let me = this_process("me:1");
        let (lock, previous) = DaemonLock::acquire(&db, &me).unwrap();
        assert_eq!(previous, None);
        assert_eq!(DaemonLock::holder(&db).unwrap(), Some(me.clone()));
        let e = DaemonLock::acquire(&db, &this_process("other")).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("pid {}", me.pid)) && text.contains("stop it first"),
            "{text}"
        );
        drop(lock);
        assert_eq!(DaemonLock::holder(&db).unwrap(), None);
        // The next holder learns who was there before.
        let (_lock, previous) = DaemonLock::acquire(&db, &this_process("next")).unwrap();
        assert_eq!(previous, Some(me));
    }

    #[test]
    fn a_symlinked_folder_takes_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let (_lock, _) = DaemonLock::acquire(&real.join("p.db"), &this_process("a")).unwrap();
        assert_eq!(lock_path(&link.join("p.db")), lock_path(&real.join("p.db")));
        let e = DaemonLock::acquire(&link.join("p.db"), &this_process("b")).unwrap_err();
        assert!(matches!(e, LockError::Held { .. }), "{e}");
        assert!(DaemonLock::holder(&link.join("p.db")).unwrap().is_some());
        // A symlinked database file too, once it exists.
        std::fs::write(real.join("p.db"), b"").unwrap();
        std::os::unix::fs::symlink(real.join("p.db"), dir.path().join("alias.db")).unwrap();
        let e = DaemonLock::acquire(&dir.path().join("alias.db"), &this_process("c")).unwrap_err();
        assert!(matches!(e, LockError::Held { .. }), "{e}");
    }

    #[test]
    fn the_lock_file_is_closed_to_other_users() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        // One left readable by all by an older postdesk is narrowed.
        std::fs::write(lock_path(&db), b"").unwrap();
        std::fs::set_permissions(lock_path(&db), std::fs::Permissions::from_mode(0o666)).unwrap();
        let (_lock, _) = DaemonLock::acquire(&db, &this_process("a")).unwrap();
        let mode = std::fs::metadata(lock_path(&db))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    #[test]
    fn a_lock_held_under_a_dead_pid_says_someone_else_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let dead = Holder {
            pid: child.id(),
            ..this_process("gone")
        };
        std::fs::write(lock_path(&db), dead.to_text()).unwrap();
        // Someone (here: this test) holds the file the dead pid wrote.
        let squatter = File::open(lock_path(&db)).unwrap();
        assert!(try_flock(&squatter, libc::LOCK_EX).unwrap());
        let e = DaemonLock::acquire(&db, &this_process("me")).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("the pid recorded, {}, is not running", dead.pid))
                && text.contains("someone else holds the lock file"),
            "{text}"
        );
        // A live pid is named as the running daemon.
        let alive = LockError::Held {
            database: db.clone(),
            lock: lock_path(&db),
            recorded_pid_dead: recorded_pid_dead(&this_process("x")),
            holder: Box::new(this_process("x")),
        };
        assert!(alive.to_string().contains("already running"), "{alive}");
    }

    #[test]
    fn an_io_error_is_printed_once_in_a_chain() {
        let e = anyhow::Error::from(LockError::Io {
            path: "/x.lock".into(),
            error: std::io::Error::from_raw_os_error(libc::EACCES),
        });
        let text = format!("{e:#}");
        assert_eq!(text.matches("os error 13").count(), 1, "{text}");
    }

    #[test]
    fn holder_text_round_trips() {
        let h = this_process("host:1:2");
        assert_eq!(Holder::parse(&h.to_text()), Some(h));
        assert_eq!(Holder::parse("garbage"), None);
    }
}
