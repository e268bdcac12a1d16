//! `postdesk db backup | restore | check | prune`: a backup taken while
//! mail is piped in restores to a consistent database with its
//! attachments, `check` finds missing and damaged attachment files,
//! `restore` refuses while the daemon runs, `prune --dry-run` changes
//! nothing and a real prune leaves a database that checks clean.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// A mail with one attachment whose content is `attachment`.
fn mail_with_attachment(desk: &Desk, tag: &str, attachment: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(attachment);
    format!(
        "From: Customer <{from}>\r\nTo: {to}\r\nSubject: Backup {tag}\r\nMessage-ID: <{tag}-{id}@customer.test>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the file {tag}.\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{tag}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n",
        from = desk.customer(tag),
        to = desk.support,
        id = desk.id,
    )
    .into_bytes()
}

fn pipe_desk() -> Desk {
    Desk::new(DeskOptions {
        pipe_only: true,
        ..DeskOptions::default()
    })
}

fn ingest(config: &Path, mail: &[u8]) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(config)
        .arg("ingest")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(mail).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ingest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_json(desk: &Desk, args: &[&str]) -> (Option<i32>, Value) {
    let out = desk.cli(args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "postdesk {args:?}: bad JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

fn numbers(tickets: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = tickets
        .iter()
        .map(|t| t["number"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

fn db_strings(db: &Path, sql: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare(sql).unwrap();
    let rows = st.query_map([], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn state(desk: &Desk) -> PathBuf {
    desk.path().join("state")
}

#[test]
fn backup_taken_while_ingest_runs_restores_consistently() {
    const MAILS: usize = 36;
    let desk = pipe_desk();
    let mails: Vec<Vec<u8>> = (0..MAILS)
        // Every third mail repeats an earlier file: content-addressed.
        .map(|i| mail_with_attachment(&desk, &format!("m{i}"), &format!("file {}", i - i % 3)))
        .collect();
    let config = desk.config.clone();
    let feeder = std::thread::spawn(move || {
        for m in &mails {
            ingest(&config, m);
        }
    });
    wait_for(120, "some tickets before the backup", || {
        (desk.tickets().len() >= 4).then_some(())
    });
    let dest = desk.path().join("backup-1");
    let (code, v) = run_json(&desk, &["db", "backup", dest.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{v}");
    feeder.join().unwrap();
    assert_eq!(desk.tickets().len(), MAILS);

    // The backup is one snapshot: every ticket whole, every file there.
    let backup_db = dest.join("postdesk.db");
    let backed_up = db_strings(&backup_db, "SELECT number FROM tickets ORDER BY number");
    assert!(backed_up.len() >= 4, "{backed_up:?}");
    assert_eq!(
        db_strings(
            &backup_db,
            "SELECT number FROM tickets t WHERE NOT EXISTS
                 (SELECT 1 FROM articles a JOIN attachments f ON f.article_id = a.id
                  WHERE a.ticket_id = t.id)"
        ),
        Vec::<String>::new(),
        "a ticket in the backup lacks its attachment"
    );
    assert_eq!(v["attachments"].as_u64().unwrap() as usize, {
        db_strings(&backup_db, "SELECT DISTINCT path FROM attachments").len()
    });
    assert!(!desk.path().join("backup-1.partial").exists());
    // The reply-token key (made by the first agents' alert) is in the
    // backup, private, and restored with it.
    let key = std::fs::read(state(&desk).join("reply-token.key")).unwrap();
    assert_eq!(std::fs::read(dest.join("reply-token.key")).unwrap(), key);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dest.join("reply-token.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Restored into a fresh installation: the same tickets, files intact.
    let other = pipe_desk();
    let (code, v) = run_json(&other, &["db", "restore", dest.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(numbers(&other.tickets()), backed_up);
    assert_eq!(
        std::fs::read(state(&other).join("reply-token.key")).unwrap(),
        key
    );
    let (code, v) = run_json(&other, &["db", "check", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["attachments_checked"], v_attachments(&backup_db));

    // A backup folder that exists already is not overwritten.
    let (code, v) = run_json(&desk, &["db", "backup", dest.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(73), "{v}");
}

fn v_attachments(db: &Path) -> Value {
    Value::from(db_strings(db, "SELECT DISTINCT path FROM attachments").len())
}

#[test]
fn db_check_finds_a_missing_and_a_corrupted_attachment() {
    let desk = pipe_desk();
    ingest(
        &desk.config,
        &mail_with_attachment(&desk, "a", "first file"),
    );
    ingest(
        &desk.config,
        &mail_with_attachment(&desk, "b", "second file"),
    );
    let (code, v) = run_json(&desk, &["db", "check", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["attachments_checked"], 2);
    let paths = db_strings(
        &state(&desk).join("postdesk.db"),
        "SELECT path FROM attachments ORDER BY id",
    );
    std::fs::remove_file(state(&desk).join(&paths[0])).unwrap();
    std::fs::write(state(&desk).join(&paths[1]), "tampered").unwrap();
    let (code, v) = run_json(&desk, &["db", "check", "--json"]);
    assert_eq!(code, Some(65), "{v}");
    assert_eq!(v["ok"], false);
    let mut found: Vec<(String, String)> = v["attachment_problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let path = p["path"].as_str().unwrap();
            let which = if path.ends_with(&paths[0]) { "a" } else { "b" };
            (
                which.to_string(),
                p["problem"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("a".into(), "missing".into()),
            ("b".into(), "corrupt".into())
        ]
    );
    // A backup skips them and says so (exit 65), and restoring it checks clean.
    let dest = desk.path().join("backup-damaged");
    let (code, v) = run_json(&desk, &["db", "backup", dest.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(65), "{v}");
    assert_eq!(v["problems"].as_array().unwrap().len(), 2);
    let other = pipe_desk();
    let (code, v) = run_json(&other, &["db", "restore", dest.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(65), "a backup lacking files was restored: {v}");
    assert!(
        other.tickets().is_empty(),
        "a refused restore changed the database"
    );
}

#[test]
fn restore_refuses_while_the_daemon_holds_the_lock() {
    let mut desk = Desk::new(DeskOptions::default());
    ingest(&desk.config, &mail_with_attachment(&desk, "r", "kept"));
    let dest = desk.path().join("backup");
    let (code, v) = run_json(&desk, &["db", "backup", dest.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{v}");
    desk.start();
    wait_for(30, "the daemon to hold its lock", || {
        (!desk.status()["daemon"].is_null()).then_some(())
    });
    let (code, v) = run_json(&desk, &["db", "restore", dest.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(75), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("stop the daemon"),
        "{v}"
    );
    assert_eq!(desk.stop(), Some(0));
    let (code, v) = run_json(&desk, &["db", "restore", dest.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{v}");
}

#[test]
fn prune_dry_run_changes_nothing_and_prune_leaves_a_sound_database() {
    let desk = pipe_desk();
    let old = mail_with_attachment(&desk, "old", "old file");
    ingest(&desk.config, &old);
    ingest(
        &desk.config,
        &mail_with_attachment(&desk, "new", "new file"),
    );
    let db = state(&desk).join("postdesk.db");
    // Age the first mail by ten years.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "UPDATE raw_messages SET received_at = '2016-01-01T00:00:00Z' WHERE id = 1;
             UPDATE receipts SET received_at = '2016-01-01T00:00:00Z' WHERE raw_id = 1;
             UPDATE articles SET created_at = '2016-01-01T00:00:00Z' WHERE raw_id = 1;
             UPDATE outbox SET status = 'sent', sent_at = '2016-01-01T00:00:00Z'
             WHERE ticket_id = (SELECT ticket_id FROM articles WHERE raw_id = 1);",
        )
        .unwrap();
    let text = std::fs::read_to_string(&desk.config).unwrap();
    std::fs::write(
        &desk.config,
        format!("{text}\n[retention]\nraw_messages_days = 30\nattachments_days = 30\n"),
    )
    .unwrap();
    let count = |sql: &str| db_strings(&db, &format!("SELECT CAST(({sql}) AS TEXT)"));
    let before = (
        count("SELECT count(*) FROM raw_messages"),
        count("SELECT count(*) FROM attachments"),
    );
    let (code, v) = run_json(&desk, &["db", "prune", "--dry-run", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["raw_messages"], 1);
    assert_eq!(v["attachment_rows"], 1);
    assert_eq!(v["files"].as_array().unwrap().len(), 1);
    // The old ticket's mail, sent ten years ago, loses its bytes.
    let sent_long_ago = count("SELECT count(*) FROM outbox WHERE sent_at < '2017'");
    assert_ne!(sent_long_ago, ["0"]);
    assert_eq!(v["sent_mail"].to_string(), sent_long_ago[0], "{v}");
    let after = (
        count("SELECT count(*) FROM raw_messages"),
        count("SELECT count(*) FROM attachments"),
    );
    assert_eq!(before, after, "--dry-run changed the database");
    let file = state(&desk).join(v["files"][0].as_str().unwrap());
    assert!(file.exists(), "--dry-run removed a file");

    let (code, v) = run_json(&desk, &["db", "prune", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert!(!file.exists());
    assert_eq!(count("SELECT count(*) FROM raw_messages"), ["1"]);
    assert_eq!(
        count(
            "SELECT count(*) FROM outbox_raw r JOIN outbox o ON o.id = r.outbox_id
             WHERE o.sent_at < '2017'"
        ),
        ["0"]
    );
    assert_eq!(
        count("SELECT count(*) FROM outbox WHERE sent_at < '2017'"),
        sent_long_ago,
        "the rows stay"
    );
    let (code, v) = run_json(&desk, &["db", "check", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["attachments_checked"], 1);
    let (code, v) = run_json(&desk, &["db", "vacuum", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(desk.tickets().len(), 2);
    // The forgotten mail's bytes are still known: delivered again, it is
    // a duplicate of its article, no new ticket.
    ingest(&desk.config, &old);
    assert_eq!(desk.tickets().len(), 2);
    assert_eq!(
        count("SELECT status FROM receipts ORDER BY id DESC LIMIT 1"),
        ["duplicate"]
    );
    assert_eq!(count("SELECT count(*) FROM forgotten_raw"), ["1"]);
}
