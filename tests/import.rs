//! `postdesk import mbox|maildir`: real mail from `tests/data/` brought in
//! through the pipeline, threading by Message-ID, nothing sent by default,
//! nothing recorded twice (imported again, resumed, or the same mail from
//! the other format), resumption after SIGKILL and after SIGINT, exit codes.
//! Import sends no mail itself (its outbox rows, with --notify, are the
//! daemon's to send), so these tests need no mail stack.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::Value;

fn postdesk(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn import(config: &Path, args: &[&str]) -> Value {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--mailbox", "support", "--json"]);
    let out = postdesk(config, &all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "import {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)
}

fn status(config: &Path) -> Value {
    json_of(&postdesk(config, &["status", "--json"]))
}

/// Every `.eml` under tests/data (the hand-written files and the real
/// mail of `real/`), each ending in a newline, plus a customer's mail and
/// a reply to it that threads by Message-ID.
fn real_messages() -> Vec<Vec<u8>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "eml") {
                out.push(p);
            }
        }
    }
    let mut files = vec![];
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"),
        &mut files,
    );
    files.sort();
    let mut mails: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    mails.push(customer_mail(
        "ann@customer.example",
        "support@example.com",
        "Printer on fire",
        "first@customer.example",
        "It is still burning.",
    ));
    mails.push(
        b"From: Ann <ann@customer.example>\r\nTo: support@example.com\r\n\
Subject: Re: Printer on fire\r\nMessage-ID: <second@customer.example>\r\n\
In-Reply-To: <first@customer.example>\r\nReferences: <first@customer.example>\r\n\
Date: Sun, 22 Nov 2026 11:00:00 +0000\r\n\r\nNow it is out.\r\n"
            .to_vec(),
    );
    for m in &mut mails {
        if !m.ends_with(b"\n") {
            m.push(b'\n');
        }
    }
    mails
}

/// An mboxrd file of `mails`: body lines that begin with "From " (after
/// any '>') get one more '>'.
fn write_mbox(path: &Path, mails: &[Vec<u8>]) {
    let mut out = Vec::new();
    for m in mails {
        out.extend_from_slice(b"From import-test@example.org Thu Jan  1 00:00:00 2026\n");
        for line in m.split_inclusive(|&b| b == b'\n') {
            let rest = &line[line.iter().take_while(|&&b| b == b'>').count()..];
            if rest.starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        out.push(b'\n');
    }
    std::fs::write(path, out).unwrap();
}

fn write_maildir(path: &Path, mails: &[Vec<u8>]) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(path.join(sub)).unwrap();
    }
    for (i, m) in mails.iter().enumerate() {
        // Half read (in cur/ with flags), half new.
        let (sub, name) = if i % 2 == 0 {
            ("cur", format!("17000{i:05}.M{i}P1.host:2,S"))
        } else {
            ("new", format!("17000{i:05}.M{i}P1.host"))
        };
        std::fs::write(path.join(sub).join(name), m).unwrap();
    }
}

fn taken(v: &Value) -> u64 {
    [
        "created",
        "follow_up",
        "notes",
        "duplicate",
        "already_imported",
        "ignored",
        "quarantined",
    ]
    .iter()
    .map(|k| v[k].as_u64().unwrap())
    .sum()
}

#[test]
fn import_mbox_and_maildir_of_real_mail_twice_records_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let mails = real_messages();
    let n = mails.len() as u64;
    let mbox = dir.path().join("archive.mbox");
    write_mbox(&mbox, &mails);

    let first = import(&config, &["mbox", mbox.to_str().unwrap()]);
    assert_eq!(first["read"], n, "{first}");
    assert_eq!(taken(&first), n, "{first}");
    assert_eq!(first["resumed_from"], "start");
    assert!(first["created"].as_u64().unwrap() > 10, "{first}");
    // The reply threads to the customer's ticket by Message-ID.
    assert!(first["follow_up"].as_u64().unwrap() >= 1, "{first}");
    let after_first = status(&config);
    // Nothing sent for history: no auto-reply, no agents' alert queued.
    assert_eq!(after_first["outbox_pending"], 0, "{after_first}");
    let tickets = after_first["tickets"].as_u64().unwrap();
    let receipts = after_first["receipts"].as_u64().unwrap();
    assert_eq!(receipts, n);

    // Again: it resumes at the end and reads nothing.
    let again = import(&config, &["mbox", mbox.to_str().unwrap()]);
    assert_eq!(again["read"], 0, "{again}");
    assert!(again["resumed_from"].as_str().unwrap().starts_with("byte "));
    // From the start: every message is recognised and skipped.
    let whole = import(&config, &["mbox", mbox.to_str().unwrap(), "--from-start"]);
    assert_eq!(whole["read"], n, "{whole}");
    assert_eq!(whole["already_imported"], n, "{whole}");
    // The same mail as a maildir: the same bytes, nothing new.
    let md = dir.path().join("Maildir");
    write_maildir(&md, &mails);
    let from_maildir = import(&config, &["maildir", md.to_str().unwrap()]);
    assert_eq!(from_maildir["read"], n, "{from_maildir}");
    assert_eq!(from_maildir["already_imported"], n, "{from_maildir}");
    let end = status(&config);
    assert_eq!(end["tickets"], tickets, "{end}");
    assert_eq!(end["receipts"], receipts, "{end}");
    assert_eq!(end["outbox_pending"], 0);

    // A maildir into a fresh database makes the same tickets, and twice
    // is still once.
    let dir2 = tempfile::tempdir().unwrap();
    let config2 = standalone_config(dir2.path(), "");
    let md_first = import(&config2, &["maildir", md.to_str().unwrap()]);
    assert_eq!(md_first["created"], first["created"], "{md_first}");
    assert_eq!(md_first["follow_up"], first["follow_up"], "{md_first}");
    let md_again = import(&config2, &["maildir", md.to_str().unwrap()]);
    assert_eq!(md_again["read"], 0, "{md_again}");
    assert!(md_again["resumed_from"]
        .as_str()
        .unwrap()
        .starts_with("after 17000"));
    assert_eq!(status(&config2)["tickets"], tickets);
}

/// `n` distinct customers' mails.
fn generated(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            customer_mail(
                &format!("c{i}@customer.example"),
                "support@example.com",
                &format!("Question {i}"),
                &format!("q{i}@customer.example"),
                &format!("Question number {i}."),
            )
        })
        .collect()
}

/// Start an import of `mbox` in batches of 5 and wait for its first
/// progress line (a batch committed).
fn start_import(config: &Path, mbox: &Path) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(config)
        .args([
            "import",
            "mbox",
            mbox.to_str().unwrap(),
            "--batch",
            "5",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("import ended before its first progress line")
            .unwrap();
        if line.starts_with("import: ") {
            break;
        }
    }
    // Keep draining standard error so the import never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    child
}

#[test]
fn import_killed_or_interrupted_resumes_and_records_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let mbox = dir.path().join("big.mbox");
    let n = 400;
    write_mbox(&mbox, &generated(n));

    // SIGKILL in the middle: the batch in hand is rolled back.
    let mut child = start_import(&config, &mbox);
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = status(&config)["tickets"].as_u64().unwrap();
    assert!(killed_at >= 5, "the first batch was committed");

    // SIGINT: it stops after the batch in hand, says so, exits 75.
    let child = start_import(&config, &mbox);
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let v = json_of(&out);
    if out.status.code() == Some(75) {
        assert_eq!(v["interrupted"], true, "{v}");
    } else {
        // It may have finished the archive before the signal came.
        assert_eq!(out.status.code(), Some(0), "{v}");
    }
    assert!(v["resumed_from"].as_str().unwrap().starts_with("byte "));

    // Run to the end: every mail exactly once.
    let rest = import(&config, &["mbox", mbox.to_str().unwrap()]);
    assert_eq!(rest["interrupted"], false);
    let s = status(&config);
    assert_eq!(s["tickets"], n as u64, "{s}\n{rest}");
    assert_eq!(s["receipts"], n as u64, "{s}");
    assert_eq!(s["quarantine_held"], 0, "{s}");
    assert_eq!(rest["total_messages"], n as u64, "{rest}");
}

#[test]
fn import_notify_queues_replies_and_errors_have_sysexits_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let mbox = dir.path().join("a.mbox");
    write_mbox(&mbox, &generated(3));
    let v = import(&config, &["mbox", mbox.to_str().unwrap(), "--notify"]);
    assert_eq!(v["created"], 3, "{v}");
    // One auto-reply per new ticket, for the daemon to send.
    assert!(status(&config)["outbox_pending"].as_u64().unwrap() >= 3);

    let code = |args: &[&str]| postdesk(&config, args).status.code();
    let missing = dir.path().join("missing.mbox");
    assert_eq!(
        code(&["import", "mbox", missing.to_str().unwrap()]),
        Some(66)
    );
    let not_mbox = dir.path().join("plain.eml");
    std::fs::write(&not_mbox, generated(1).remove(0)).unwrap();
    assert_eq!(
        code(&["import", "mbox", not_mbox.to_str().unwrap()]),
        Some(65)
    );
    assert_eq!(
        code(&["import", "maildir", dir.path().to_str().unwrap()]),
        Some(65)
    );
    assert_eq!(
        code(&[
            "import",
            "mbox",
            mbox.to_str().unwrap(),
            "--mailbox",
            "nope"
        ]),
        Some(64)
    );
    let out = postdesk(
        &config,
        &["import", "mbox", missing.to_str().unwrap(), "--json"],
    );
    let v = json_of(&out);
    assert_eq!(v["code"], 66);
    assert!(v["error"].as_str().unwrap().contains("missing.mbox"), "{v}");
}

#[test]
fn imported_mail_is_found_by_ticket_search() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let mbox = dir.path().join("archive.mbox");
    write_mbox(&mbox, &real_messages());
    import(&config, &["mbox", mbox.to_str().unwrap()]);

    let search = |args: &[&str]| {
        let mut all = vec!["ticket", "search"];
        all.extend_from_slice(args);
        postdesk(&config, &all)
    };
    // The customer's thread: its subject and both mails' text.
    let out = search(&["printer", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let hits = json_of(&out);
    assert_eq!(hits[0]["subject"], "Printer on fire", "{hits}");
    let number = hits[0]["number"].as_str().unwrap().to_string();
    // A word only the follow-up has finds the same ticket.
    let hits = json_of(&search(&["now", "it", "is", "OUT", "--json"]));
    assert_eq!(hits[0]["number"], number.as_str(), "{hits}");
    // Diacritics are ignored: the Portuguese mail of tests/data, in
    // quoted-printable ISO-8859-1, says "Ligação" and "Não".
    let hits = json_of(&search(&["ligacao", "nao", "--json"]));
    assert_eq!(hits[0]["subject"], "Ligação à impressora", "{hits}");
    // Prefix search with '*'.
    let hits = json_of(&search(&["burn*", "--json", "--limit", "1"]));
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["number"], number.as_str());
    // Plain output names the ticket; nothing found is said; no word is a
    // usage error.
    let out = search(&["printer"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&number));
    let out = search(&["zzyzx-never-written"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("no tickets match"));
    assert_eq!(search(&["--", "--"]).status.code(), Some(64));
}
