//! Running postdesk as a user who may not use the daemon's files: every
//! command says which file or folder refuses whom, who owns it and how to
//! run as them, with exit 77 (EX_NOPERM), and prints each cause once. Also
//! the daemon lock held by a stranger, and `check` on an older database.
//! As root, "another user" is nobody (uid 65534); otherwise the folder is
//! made read-only for the user running the tests.

mod common;

use common::standalone_config;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

fn postdesk(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
    cmd.arg("--config").arg(config).args(args);
    cmd
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// (the user the refused commands run as, the owner they are told of).
fn users() -> (String, String) {
    if is_root() {
        ("nobody".into(), "root".into())
    } else {
        let me = std::env::var("USER").unwrap_or_default();
        (me.clone(), me)
    }
}

/// Run `cmd` as a user who may read `dir` but not write it.
fn as_other_user(mut cmd: Command, dir: &Path, stdin: &[u8]) -> Output {
    use std::io::Write;
    if is_root() {
        cmd.uid(65534).gid(65534);
    } else {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn migrate(config: &Path) {
    let out = postdesk(config, &["db", "migrate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn read_commands_as_a_user_who_cannot_write_the_database_folder_exit_77_naming_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    migrate(&config);
    let (user, owner) = users();
    let folder = dir.path().display().to_string();
    // No daemon has the database open: its -shm file would have to be
    // created in a folder this user may not write.
    for args in [&["ticket", "list"][..], &["status"]] {
        let out = as_other_user(postdesk(&config, args), dir.path(), b"");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(77), "{args:?}: {err}");
        for part in [
            format!("its folder {folder} is not writable by {user} (owner {owner})"),
            format!("e.g. `sudo -u {owner} postdesk --config"),
            args.join(" "),
        ] {
            assert!(err.contains(&part), "{args:?}: no {part:?} in {err}");
        }
    }
    let out = as_other_user(postdesk(&config, &["check", "--json"]), dir.path(), b"");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "schema")
        .unwrap_or_else(|| panic!("no schema check: {report:#}"));
    assert_eq!(schema["ok"], false, "{schema}");
    let detail = schema["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("its folder {folder} is not writable by {user}")),
        "{detail}"
    );

    // While another connection (a running daemon) keeps the -shm and -wal
    // files, reading works for anyone who may read them.
    let db = dir.path().join("db.sqlite");
    let daemon = rusqlite::Connection::open(&db).unwrap();
    let _: i64 = daemon
        .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
        .unwrap();
    let out = as_other_user(postdesk(&config, &["ticket", "list"]), dir.path(), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no tickets"));
}

#[test]
fn run_and_ingest_as_a_user_who_cannot_write_say_so_once_naming_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    migrate(&config);
    let (user, owner) = users();
    let lock = std::fs::canonicalize(dir.path())
        .unwrap()
        .join("db.sqlite.lock");
    let out = as_other_user(postdesk(&config, &["run"]), dir.path(), b"");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{err}");
    assert!(
        err.contains(&format!(
            "cannot take the daemon lock {}: its folder is not writable by {user} (owner {owner})",
            lock.display()
        )) && err.contains(&format!("sudo -u {owner} postdesk --config")),
        "{err}"
    );
    assert!(!err.contains("os error 13): Permission denied"), "{err}");

    let mail = b"From: a@example.net\r\nTo: support@example.com\r\nSubject: x\r\n\r\nhi\r\n";
    let out = as_other_user(postdesk(&config, &["ingest"]), dir.path(), mail);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "the MTA keeps the mail: {err}");
    assert!(
        err.contains(&format!("is not writable by {user} (owner {owner})")),
        "{err}"
    );
    assert_eq!(err.matches("readonly database").count(), 0, "{err}");
}

#[test]
fn run_refused_by_a_lock_held_under_a_dead_pid_says_someone_else_holds_it() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let lock = std::fs::canonicalize(dir.path())
        .unwrap()
        .join("db.sqlite.lock");
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    let dead = child.id();
    let host = postdesk::lock::hostname();
    std::fs::write(
        &lock,
        format!("pid={dead}\nhost={host}\nsince=2026-12-01T00:00:00Z\nclaimant=x\n"),
    )
    .unwrap();
    // The stranger holding the file: this test.
    let file = std::fs::File::open(&lock).unwrap();
    // SAFETY: flock(2) on a descriptor `file` owns and keeps open.
    assert_eq!(
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let out = postdesk(&config, &["run"]).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(
        err.contains(&format!(
            "held by another process (the pid recorded, {dead}, is not running: someone else holds the lock file {}",
            lock.display()
        )),
        "{err}"
    );
}

#[test]
fn check_on_an_older_database_does_not_also_warn_about_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    rusqlite::Connection::open(dir.path().join("db.sqlite"))
        .unwrap()
        .execute_batch("PRAGMA journal_mode = WAL")
        .unwrap();
    let out = postdesk(&config, &["check", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let schema = checks.iter().find(|c| c["check"] == "schema").unwrap();
    assert!(
        schema["detail"]
            .as_str()
            .unwrap()
            .contains("the daemon migrates it"),
        "{schema}"
    );
    assert!(!checks.iter().any(|c| c["check"] == "outbox"), "{report:#}");
}
