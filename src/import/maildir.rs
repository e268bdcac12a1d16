//! Listing a maildir for import: the files of `cur/` and `new/`, in byte
//! order of their unique names (the part before the `:2,` flags, which a
//! mail client changes when it marks a mail read), so an interrupted import
//! resumes after the last name it committed. Maildir names begin with the
//! delivery time, so mail delivered later sorts later.
//!
//! Written here rather than with mail-parser's maildir iterator, which
//! walks the folders in the file system's order: a resumable import needs
//! an order that does not change between runs.

use std::io;
use std::path::{Path, PathBuf};

/// One message file, kept small: an import lists every file of the
/// archive before it reads the first (to go in a stable order it can
/// resume in), so a million files cost ~60 MB with the name alone, where
/// a full path and a second copy of the name made it ~200 MB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// In `new/` (else `cur/`).
    in_new: bool,
    name: Box<str>,
}

impl File {
    /// Where the file is, in the maildir at `maildir`.
    pub fn path(&self, maildir: &Path) -> PathBuf {
        maildir
            .join(if self.in_new { "new" } else { "cur" })
            .join(&*self.name)
    }

    /// The name without its flags: what progress is recorded by.
    pub fn unique(&self) -> &str {
        unique_name(&self.name)
    }
}

/// The unique part of a maildir file name.
pub fn unique_name(name: &str) -> &str {
    name.split_once(':').map_or(name, |(u, _)| u)
}

/// Is `path` a maildir (has `cur/` or `new/`)?
pub fn is_maildir(path: &Path) -> bool {
    path.join("cur").is_dir() || path.join("new").is_dir()
}

/// The message files of the maildir at `path`, sorted by unique name,
/// those after `after` only. Hidden files (`.`) are skipped; `tmp/` holds
/// deliveries in progress and is never read.
pub fn list(path: &Path, after: Option<&str>) -> io::Result<Vec<File>> {
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        let dir = path.join(sub);
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                tracing::warn!(file = ?entry.path(), "skipped: a maildir file name that is not UTF-8");
                continue;
            };
            if name.starts_with('.') || !entry.file_type()?.is_file() {
                continue;
            }
            if after.is_some_and(|a| unique_name(&name) <= a) {
                continue;
            }
            files.push(File {
                in_new: sub == "new",
                name: name.into_boxed_str(),
            });
        }
    }
    files.sort_by(|a, b| a.unique().cmp(b.unique()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_unique_name_across_cur_and_new_and_resumable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_maildir(dir.path()));
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        assert!(is_maildir(dir.path()));
        for (sub, name) in [
            ("cur", "1700000002.M2P1.host:2,S"),
            ("new", "1700000003.M3P1.host"),
            ("cur", "1700000001.M1P1.host:2,RS"),
            ("cur", ".hidden"),
            ("tmp", "1700000000.M0P1.host"),
        ] {
            std::fs::write(dir.path().join(sub).join(name), b"x").unwrap();
        }
        let names = |after| -> Vec<String> {
            list(dir.path(), after)
                .unwrap()
                .into_iter()
                .map(|f| f.unique().to_string())
                .collect()
        };
        assert_eq!(
            names(None),
            [
                "1700000001.M1P1.host",
                "1700000002.M2P1.host",
                "1700000003.M3P1.host"
            ]
        );
        assert_eq!(
            names(Some("1700000002.M2P1.host")),
            ["1700000003.M3P1.host"]
        );
        assert_eq!(unique_name("a.b:2,S"), "a.b");
        let first = &list(dir.path(), None).unwrap()[0];
        assert_eq!(
            first.path(dir.path()),
            dir.path().join("cur").join("1700000001.M1P1.host:2,RS")
        );
    }
}
