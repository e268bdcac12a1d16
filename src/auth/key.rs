//! The reply-token key: 32 random bytes (from the operating system's
//! generator) kept as hex in `storage.data_dir/reply-token.key`, made
//! with mode 0600 on first use and never rewritten. The one part of
//! `auth` that touches the file system. Losing the file only makes the
//! reply addresses in earlier alerts stop proving anything; `postdesk db
//! backup` copies it and `db restore` puts it back.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The key file's name in `storage.data_dir`.
pub const KEY_FILE: &str = "reply-token.key";

/// The secret behind reply tokens. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplyKey([u8; 32]);

impl fmt::Debug for ReplyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyKey(…)")
    }
}

impl ReplyKey {
    pub fn from_bytes(b: [u8; 32]) -> ReplyKey {
        ReplyKey(b)
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading the reply-token key {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("creating the reply-token key {0}: {1}")]
    Create(PathBuf, std::io::Error),
    #[error("the operating system gave no random bytes for the reply-token key: {0}")]
    Random(String),
    #[error("{0} is not a reply-token key (64 hex digits expected); restore it from a backup, or remove it to make a new one (the reply addresses in earlier alerts then stop verifying)")]
    Damaged(PathBuf),
}

/// Where the key lives for a data folder.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// The key at `path`, or None if there is none yet.
pub fn load(path: &Path) -> Result<Option<ReplyKey>, KeyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(KeyError::Read(path.into(), e)),
    };
    let mut b = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut b).map_err(|_| KeyError::Damaged(path.into()))?;
    Ok(Some(ReplyKey(b)))
}

/// The key at `path`, made first (mode 0600, its folder too) if there is
/// none. Two processes racing to make it agree: only one file is made.
pub fn load_or_create(path: &Path) -> Result<ReplyKey, KeyError> {
    if let Some(k) = load(path)? {
        return Ok(k);
    }
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| KeyError::Create(path.into(), e))?;
    }
    // Written to a private temporary file, then linked in place: the key
    // file never exists half-written, and an existing one is never
    // replaced (hard_link fails if the name is taken).
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let made = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        writeln!(f, "{}", hex::encode(b))?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match made {
        Ok(()) => Ok(ReplyKey(b)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load(path)?
            .ok_or_else(|| KeyError::Read(path.into(), std::io::ErrorKind::NotFound.into())),
        Err(e) => Err(KeyError::Create(path.into(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_key_is_made_once_private_and_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir.path().join("data"));
        assert_eq!(load(&p).unwrap(), None);
        let k = load_or_create(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load(&p).unwrap(), Some(k.clone()));
        assert_eq!(load_or_create(&p).unwrap(), k, "never rewritten");
        assert_eq!(format!("{k:?}"), "ReplyKey(…)");
        let left: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_damaged_key_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        std::fs::write(&p, "not hex\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains(KEY_FILE) && e.contains("64 hex digits"), "{e}");
        assert!(
            load_or_create(&p).is_err(),
            "a damaged key is never replaced"
        );
    }
}
