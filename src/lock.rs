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
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit code of a `run` refused because another one holds the lock:
/// sysexits' EX_TEMPFAIL, "try again later" (once the other one stops).
pub const EXIT_ALREADY_RUNNING: u8 = 75;

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
    #[error("postdesk is already running on this database ({database}): {holder}; stop it first (lock file {lock})")]
    Held {
        database: PathBuf,
        lock: PathBuf,
        holder: Box<Holder>,
    },
    #[error("daemon lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
}

/// `<database>.lock`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut p = database.as_os_str().to_owned();
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
        let path = lock_path(database);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // `postdesk status` probes with a shared lock for an instant: a
        // few tries tell that apart from a running daemon.
        let mut tries = 0;
        while !try_flock(&file, libc::LOCK_EX).map_err(io)? {
            tries += 1;
            if tries == 20 {
                return Err(LockError::Held {
                    database: database.to_path_buf(),
                    lock: path.clone(),
                    holder: Box::new(read_holder(&mut file).unwrap_or_default()),
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
    fn holder_text_round_trips() {
        let h = this_process("host:1:2");
        assert_eq!(Holder::parse(&h.to_text()), Some(h));
        assert_eq!(Holder::parse("garbage"), None);
    }
}
