//! `postdesk check`'s storage part: can the user running it write the
//! database (and the folder SQLite keeps its `-wal`/`-shm` files in) and
//! the data folder? When not, say whose they are and what to do — the
//! usual cause is running `check` as root or as oneself while the daemon
//! runs as `postdesk`. [`explain_denied`] words the same refusal for the
//! other commands (exit 77, EX_NOPERM), naming the owner and the command
//! to run as them.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// One storage verdict: what was checked, whether it is fine, and why.
pub(super) struct Verdict {
    pub(super) check: &'static str,
    pub(super) ok: bool,
    pub(super) detail: String,
}

/// Whether this process may write `path` (access(2) with W_OK).
fn writable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path; access() only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// The login name of `uid`, or `uid N` when it has none.
fn user_name(uid: u32) -> String {
    let mut pw: libc::passwd = unsafe {
        // SAFETY: passwd is plain data (integers and pointers); all-zero is
        // a valid value that getpwuid_r overwrites.
        std::mem::zeroed()
    };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buf.len()` is the
    // buffer's true size; `found` is null or points at `pw`.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || pw.pw_name.is_null() {
        return format!("uid {uid}");
    }
    // SAFETY: getpwuid_r succeeded, so pw_name points at a NUL-terminated
    // string inside `buf`, which is still alive.
    unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }
        .to_string_lossy()
        .into_owned()
}

/// Who runs this check.
pub(super) fn me() -> String {
    // SAFETY: geteuid cannot fail and touches no memory.
    user_name(unsafe { libc::geteuid() })
}

/// `path` (which exists) is not writable: whose it is and what to do.
fn not_writable(path: &Path, what: &str) -> String {
    let owner = std::fs::metadata(path)
        .map(|m| user_name(m.uid()))
        .unwrap_or_else(|_| "an unknown user".into());
    format!(
        "{} ({what}) is not writable by {}; it belongs to {owner}: run postdesk as {owner} \
         (e.g. sudo -u {owner} postdesk check) or give the daemon's user write access (chown/chmod)",
        path.display(),
        me()
    )
}

/// The owner of `path` (or of its nearest existing folder).
fn owner_of(path: &Path) -> String {
    existing_ancestor(path)
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| user_name(m.uid()))
        .unwrap_or_else(|| "an unknown user".into())
}

/// This command line, to rerun as another user (`postdesk ticket list`).
fn this_command() -> String {
    let quote = |a: String| {
        let plain = !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b));
        if plain {
            a
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    std::iter::once("postdesk".to_string())
        .chain(std::env::args().skip(1).map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

/// "run as the daemon's user, e.g. `sudo -u OWNER postdesk …`".
fn run_as(owner: &str) -> String {
    format!(
        "run as the daemon's user, e.g. `sudo -u {owner} {}` (or give {} access with chown/chmod)",
        this_command(),
        me()
    )
}

/// A database or lock refusal of this user, told with its owner and what
/// to do (exit 77); other errors pass unchanged.
pub(super) fn explain_denied(e: anyhow::Error) -> anyhow::Error {
    use postdesk::lock::LockError;
    use postdesk::store::StoreError;
    let message = if let Some(StoreError::Denied {
        path,
        culprit,
        denial,
        write,
    }) = e.chain().find_map(|c| c.downcast_ref::<StoreError>())
    {
        let what = if culprit == path {
            "it".to_string()
        } else if path.parent() == Some(culprit.as_path()) {
            format!("its folder {}", culprit.display())
        } else {
            culprit.display().to_string()
        };
        let owner = owner_of(culprit);
        format!(
            "cannot {} database {}: {what} {denial} by {} (owner {owner}){}; {}",
            if *write { "write" } else { "read" },
            path.display(),
            me(),
            denial.why(),
            run_as(&owner)
        )
    } else if let Some(LockError::Io { path, error }) =
        e.chain().find_map(|c| c.downcast_ref::<LockError>())
    {
        if error.kind() != std::io::ErrorKind::PermissionDenied {
            return e;
        }
        let (what, owner) = if path.exists() {
            ("it", owner_of(path))
        } else {
            let dir = path.parent().unwrap_or(Path::new("."));
            ("its folder", owner_of(dir))
        };
        format!(
            "cannot take the daemon lock {}: {what} is not writable by {} (owner {owner}); {}",
            path.display(),
            me(),
            run_as(&owner)
        )
    } else {
        return e;
    };
    super::exit::failure(super::exit::NOPERM, message)
}

/// The nearest existing folder at or above `path`.
fn existing_ancestor(path: &Path) -> Option<&Path> {
    path.ancestors().find(|a| a.exists())
}

/// A path that is created at first start when missing: its nearest
/// existing folder must be writable.
fn creatable(path: &Path, what: &str) -> Result<String, String> {
    match existing_ancestor(path) {
        Some(a) if writable(a) => Ok(format!("{} will be created at first start", path.display())),
        Some(a) => Err(format!(
            "{} cannot be created: {}",
            path.display(),
            not_writable(a, &format!("the folder {what} would be created in"))
        )),
        None => Err(format!("{}: no existing parent folder", path.display())),
    }
}

/// The database file and its folder.
pub(super) fn database(db: &Path) -> Verdict {
    let result = if db.exists() {
        let folder = db.parent().unwrap_or(Path::new("/"));
        if !writable(db) {
            Err(not_writable(db, "the database"))
        } else if !writable(folder) {
            Err(not_writable(
                folder,
                "the database's folder, where SQLite writes its -wal and -shm files",
            ))
        } else {
            Ok(format!("{} is writable", db.display()))
        }
    } else {
        creatable(db, "the database")
    };
    verdict("database", result)
}

/// The data folder (attachments live under it).
pub(super) fn data_dir(dir: &Path) -> Verdict {
    let attachments = dir.join("attachments");
    let result = if !dir.exists() {
        creatable(dir, "the data folder")
    } else if !dir.is_dir() {
        Err(format!("{} is not a folder", dir.display()))
    } else if !writable(dir) {
        Err(not_writable(dir, "the data folder"))
    } else if attachments.exists() && !writable(&attachments) {
        Err(not_writable(&attachments, "the attachments folder"))
    } else {
        Ok(format!("{} is writable", dir.display()))
    };
    verdict("data_dir", result)
}

fn verdict(check: &'static str, result: Result<String, String>) -> Verdict {
    let ok = result.is_ok();
    Verdict {
        check,
        ok,
        detail: result.unwrap_or_else(|e| e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denied_database_exits_77_naming_the_folder_and_its_owner() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("db.sqlite");
        let e = explain_denied(
            postdesk::store::StoreError::Denied {
                path: db.clone(),
                culprit: d.path().to_path_buf(),
                denial: postdesk::store::denied::Denial::FolderNotWritable,
                write: false,
            }
            .into(),
        );
        assert_eq!(super::super::exit::code_of(&e), super::super::exit::NOPERM);
        let text = e.to_string();
        let expected = format!(
            "cannot read database {}: its folder {} is not writable by {} (owner {})",
            db.display(),
            d.path().display(),
            me(),
            me()
        );
        assert!(text.starts_with(&expected), "{text}");
        assert!(
            text.contains(&format!("sudo -u {} postdesk", me())),
            "{text}"
        );
        let other = explain_denied(anyhow::anyhow!("something else"));
        assert_eq!(other.to_string(), "something else");
    }

    #[test]
    fn names_are_found_for_the_current_user() {
        // SAFETY: geteuid cannot fail.
        let uid = unsafe { libc::geteuid() };
        assert!(!user_name(uid).is_empty());
        assert_eq!(user_name(4_000_000_000), "uid 4000000000");
    }

    #[test]
    fn writable_folders_pass_and_refusals_name_the_owner() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        assert!(data_dir(&data).ok, "a missing folder in a writable one");
        std::fs::create_dir(&data).unwrap();
        assert!(data_dir(&data).ok);
        assert!(database(&d.path().join("db.sqlite")).ok);
        // Who owns it is read from the file system (the refusal itself is
        // exercised by tests/cli.rs as another user).
        let text = not_writable(&data, "the data folder");
        assert!(text.contains(&format!("it belongs to {}", me())), "{text}");
        assert!(
            text.contains("(the data folder) is not writable by"),
            "{text}"
        );
    }
}
