//! The token file of one account, `data_dir/oauth/<account>.json`: the
//! access token with its expiry and the refresh token with the time it
//! was issued. Written only whole (a temporary file in the same folder,
//! `fsync`, rename, `fsync` of the folder), created 0600 in a 0700
//! folder, so a crash leaves the old tokens or the new ones, never half
//! of each, and no other user reads them. A refresh holds an `flock` on
//! `<account>.json.lock` so two processes (the daemon and `postdesk fetch`,
//! say) never spend one refresh token twice.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::os::unix::io::AsRawFd as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// What a token file holds.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    /// The account (`postdesk oauth login` name), for a reader of the file.
    pub account: String,
    /// The token endpoint and client the tokens belong to: a refresh
    /// token is good only there.
    pub token_url: String,
    pub client_id: String,
    pub access_token: String,
    /// When the access token expires (unix s); None: the server said not.
    pub access_expires_unix: Option<i64>,
    pub refresh_token: Option<String>,
    /// When the refresh token in hand was issued (unix s): at login, or
    /// when a refresh rotated it. Its age is what lapses.
    pub refresh_token_since_unix: i64,
    /// When the file was last written (unix s).
    pub updated_unix: i64,
    /// The scopes asked for at login.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The token endpoint refused the refresh token (`invalid_grant`):
    /// its words. Nothing is asked of the endpoint again until a new
    /// login writes the file afresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl fmt::Debug for Tokens {
    // Hand-written so no token reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("account", &self.account)
            .field("access_expires_unix", &self.access_expires_unix)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("refresh_token_since_unix", &self.refresh_token_since_unix)
            .finish_non_exhaustive()
    }
}

/// Read the tokens; `Ok(None)` when there is no file (never logged in).
pub fn load(path: &Path) -> anyhow::Result<Option<Tokens>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "reading the token file {} (run as the daemon's user)",
                    path.display()
                )
            })
        }
    };
    let t = serde_json::from_str(&text).with_context(|| {
        format!(
            "the token file {} is damaged; remove it and log in again",
            path.display()
        )
    })?;
    Ok(Some(t))
}

/// Write the tokens atomically with mode 0600 (the folder made 0700).
pub fn save(path: &Path, tokens: &Tokens) -> anyhow::Result<()> {
    let dir = folder(path)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let text = serde_json::to_string_pretty(tokens).context("encoding the tokens")?;
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // A file left by an older umask keeps its mode through `open`.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing the token file {}", path.display()));
    }
    Ok(())
}

/// Remove the token file (`postdesk oauth logout`); `false`: there was none.
pub fn remove(path: &Path) -> anyhow::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// The token file's folder, made 0700 if missing.
fn folder(path: &Path) -> anyhow::Result<PathBuf> {
    let dir = path
        .parent()
        .context("internal: a token file has a folder")?
        .to_path_buf();
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(dir)
}

/// An exclusive `flock` on `<token file>.lock`, released on drop.
pub struct RefreshLock {
    _file: File,
}

impl RefreshLock {
    /// Wait for the lock (blocking: call off the async workers).
    pub fn acquire(token_file: &Path) -> anyhow::Result<RefreshLock> {
        folder(token_file)?;
        let mut name = token_file.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        loop {
            // SAFETY: flock(2) on a descriptor `file` owns and keeps open.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(RefreshLock { _file: file });
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens {
            account: "support".into(),
            token_url: "http://127.0.0.1:1/token".into(),
            client_id: "c".into(),
            access_token: "secret-access".into(),
            access_expires_unix: Some(100),
            refresh_token: Some("secret-refresh".into()),
            refresh_token_since_unix: 50,
            updated_unix: 60,
            scopes: vec!["s".into()],
            refused: None,
        }
    }

    #[test]
    fn saved_tokens_read_back_with_mode_0600_in_a_0700_folder() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("oauth").join("support.json");
        assert_eq!(load(&path).unwrap(), None);
        save(&path, &tokens()).unwrap();
        let mut t = tokens();
        assert_eq!(load(&path).unwrap(), Some(t.clone()));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        t.access_token = "other".into();
        save(&path, &t).unwrap();
        assert_eq!(load(&path).unwrap(), Some(t));
        // Nothing but the file itself is left in the folder.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["support.json"]);
        assert!(remove(&path).unwrap());
        assert!(!remove(&path).unwrap());
    }

    #[test]
    fn debug_output_shows_no_token() {
        let text = format!("{:?}", tokens());
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn a_damaged_file_says_what_to_do() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("x.json");
        std::fs::write(&path, "{").unwrap();
        let e = format!("{:#}", load(&path).unwrap_err());
        assert!(e.contains("remove it and log in again"), "{e}");
    }
}
