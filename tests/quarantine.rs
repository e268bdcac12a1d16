//! Quarantine handling an operator can finish: `quarantine drop` hides an
//! entry from the list and keeps it for the record; listings show when
//! each message was quarantined.

mod common;

use common::*;

/// Pipe a mail no ticket can be made of; returns its quarantine id.
fn quarantined(desk: &Desk, subject: &str) -> String {
    let raw = format!("Subject: {subject}\r\n\r\nno sender at all\r\n");
    let out = desk.cli_stdin(&["ingest", "--json"], raw.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "quarantined", "{v}");
    v["id"].to_string()
}

fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].to_string())
        .collect()
}

#[test]
fn quarantine_drop_hides_an_entry_and_keeps_it_for_the_record() {
    let desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    let first = quarantined(&desk, "first");
    let second = quarantined(&desk, "second");

    // The plain listing says when each was quarantined.
    let out = desk.cli(&["quarantine", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let dated = regex::Regex::new(r"(?m)^\s+\d+ held\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ").unwrap();
    assert_eq!(dated.find_iter(&text).count(), 2, "{text}");

    let out = desk.cli(&["quarantine", "drop", &first]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(&format!("{first}: dropped")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        ids(&desk.json(&["quarantine", "list", "--json"])),
        vec![second.clone()]
    );
    let all = desk.json(&["quarantine", "list", "--all", "--json"]);
    assert_eq!(ids(&all), vec![first.clone(), second.clone()]);
    assert_eq!(all[0]["status"], "dropped");
    assert_eq!(desk.status()["quarantine_held"], 1);

    // Kept for the record: shown, its raw copy still there, not retried.
    let show = desk.cli(&["quarantine", "show", &first]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("[dropped]") && text.contains("Quarantined: 20"),
        "{text}"
    );
    let raw = desk.cli(&["quarantine", "show", &first, "--raw"]);
    assert!(String::from_utf8_lossy(&raw.stdout).contains("Subject: first"));
    assert_eq!(
        desk.cli(&["quarantine", "retry", &first]).status.code(),
        Some(1)
    );

    // Dropping again changes nothing (1); an unknown entry is 66; with
    // --json each entry has its result.
    let out = desk.cli(&["quarantine", "drop", &first]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not held but dropped"));
    assert_eq!(
        desk.cli(&["quarantine", "drop", "999999"]).status.code(),
        Some(66)
    );
    // Only an unknown entry failed: 66, as for `retry`.
    let out = desk.cli(&["quarantine", "drop", &second, "999999", "--json"]);
    assert_eq!(out.status.code(), Some(66));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[1]["ok"], false);
    assert_eq!(desk.status()["quarantine_held"], 0);
}

/// A mail whose MIME nesting the shape check refuses (deeper than
/// `mail::shape::MAX_DEPTH`): quarantined before the parser runs.
fn too_deep(from: &str, to: &str, subject: &str) -> Vec<u8> {
    let mut raw = format!(
        "From: Deep <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@deep.test>\r\nMIME-Version: 1.0\r\n"
    );
    for i in 0..60 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\nthe bottom\r\n");
    for i in (0..60).rev() {
        raw.push_str(&format!("--b{i}--\r\n"));
    }
    raw.into_bytes()
}

fn ingest(desk: &Desk, raw: &[u8]) -> serde_json::Value {
    let out = desk.cli_stdin(&["ingest", "--mailbox", "support", "--json"], raw);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn quarantine_release_files_a_held_mail_on_a_ticket_or_as_new_with_its_notifications() {
    let mut desk = Desk::new(DeskOptions {
        agent_alert_limit: 1000,
        ..Default::default()
    });
    desk.start();
    let ann = desk.customer("ann");
    let bob = desk.customer("bob");
    let v = ingest(
        &desk,
        &desk.mail(&ann, "Printer broken", "first", "It jams."),
    );
    let number = v["ticket"].as_str().unwrap().to_string();
    desk.wait_sent(2, 30); // auto-reply + agents' alert

    // Refused by the shape check: quarantined, never parsed.
    let deep = ingest(&desk, &too_deep(&bob, &desk.support, "deep-one"));
    assert_eq!(deep["outcome"], "quarantined", "{deep}");
    assert!(deep["error"]
        .as_str()
        .unwrap()
        .starts_with("mail too complex"));
    let q1 = deep["id"].to_string();
    let q2 = ingest(&desk, &too_deep(&bob, &desk.support, "deep-two"))["id"].to_string();
    let q3 = ingest(&desk, &too_deep(&bob, &desk.support, "deep-three"))["id"].to_string();

    // 1. Into Ann's ticket as a follow-up: the article says why it was
    // not read, carries the original as .eml, and the agents are alerted.
    let out = desk.cli(&["quarantine", "release", &q1, "--ticket", &number, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"]["outcome"], "follow_up", "{v}");
    assert_eq!(v["result"]["ticket"], number.as_str());
    let t = desk.json(&["ticket", "show", &number, "--json"]);
    let articles = t["articles"].as_array().unwrap();
    let a = articles
        .iter()
        .find(|a| a["subject"] == "deep-one")
        .unwrap_or_else(|| panic!("no released article: {t}"));
    assert_eq!(a["from"], bob.as_str());
    let text = a["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("quarantine (entry {q1})")) && text.contains("mail too complex"),
        "{text}"
    );
    assert_eq!(
        a["attachments"][0]["filename"],
        format!("quarantined-{q1}.eml")
    );
    assert_eq!(a["attachments"][0]["content_type"], "message/rfc822");
    // Bob is no participant: recorded unverified, the state unchanged.
    assert!(a["unverified"].is_string(), "{a}");
    desk.wait_sent(3, 30);
    let alerts = wait_for_mail(&desk.agents, "INBOX", 2, 30);
    assert!(
        alerts.iter().all(|m| subject(m).contains(&number)),
        "{:?}",
        alerts.iter().map(|m| subject(m)).collect::<Vec<_>>()
    );

    // 2. As a new ticket: Bob gets the auto-reply, the agents the alert.
    let v = desk.json(&["quarantine", "release", &q2, "--as-new", "--json"]);
    assert_eq!(v["result"]["outcome"], "created", "{v}");
    let new_number = v["result"]["ticket"].as_str().unwrap().to_string();
    assert_ne!(new_number, number);
    let t = desk.json(&["ticket", "show", &new_number, "--json"]);
    assert_eq!(t["subject"], "deep-two");
    assert_eq!(t["customer"], bob.as_str());
    desk.wait_sent(5, 30);
    let replies = wait_for_mail(&bob, "INBOX", 1, 30);
    assert!(
        subject(&replies[0]).contains(&new_number),
        "{}",
        subject(&replies[0])
    );

    // 3. --no-notify: a ticket, no mail.
    let sent_before = desk.status()["outbox_sent"].as_u64().unwrap();
    let out = desk.cli(&["quarantine", "release", &q3, "--as-new", "--no-notify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("{q3}: released: created ticket")),
        "{text}"
    );
    let s = desk.status();
    assert_eq!(s["outbox_pending"], 0, "{s}");
    assert_eq!(s["outbox_sent"].as_u64().unwrap(), sent_before);
    assert_eq!(desk.tickets().len(), 3);

    // Released entries leave the list and keep their fate for the record.
    assert_eq!(
        desk.json(&["quarantine", "list", "--json"]),
        serde_json::json!([])
    );
    let all = desk.json(&["quarantine", "list", "--all", "--json"]);
    assert_eq!(all[0]["status"], "released");
    assert_eq!(all[0]["ticket"], number.as_str());
    assert_eq!(all[1]["ticket"], new_number.as_str());
    let out = desk.cli(&["quarantine", "list", "--all"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("→ ticket {number}")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Twice is refused, saying where it went; nothing changes.
    let out = desk.cli(&["quarantine", "release", &q1, "--as-new"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("already released (ticket {number})")),
        "{err}"
    );
    assert_eq!(desk.tickets().len(), 3);
    desk.stop();
}

#[test]
fn quarantine_release_of_an_unknown_entry_or_ticket_exits_with_sysexits_codes() {
    let desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    let v = ingest(
        &desk,
        &desk.mail(&desk.customer("ann"), "Hello", "first", "Hi."),
    );
    let number = v["ticket"].as_str().unwrap().to_string();
    let q = quarantined(&desk, "no sender");
    let code = |args: &[&str]| desk.cli(args).status.code();

    assert_eq!(
        code(&["quarantine", "release", "999999", "--as-new"]),
        Some(66)
    );
    assert_eq!(
        code(&["quarantine", "release", &q, "--ticket", "12x"]),
        Some(65)
    );
    // A well-formed number (right check digit) that no ticket has: 66.
    let body = &number[..number.len() - 1];
    let bumped = format!(
        "{}{}",
        &body[..body.len() - 1],
        (body.as_bytes()[body.len() - 1] - b'0' + 1) % 10
    );
    let unknown = (0..10)
        .map(|d| format!("{bumped}{d}"))
        .find(|n| code(&["ticket", "show", n]) == Some(66))
        .expect("one check digit fits");
    assert_eq!(
        code(&["quarantine", "release", &q, "--ticket", &unknown]),
        Some(66)
    );
    assert_eq!(
        code(&["quarantine", "release", &q, "--as-new", "--mailbox", "nope"]),
        Some(66)
    );
    // Neither --ticket nor --as-new, or both: a usage error.
    assert_eq!(code(&["quarantine", "release", &q]), Some(64));
    assert_eq!(
        code(&["quarantine", "release", &q, "--as-new", "--ticket", &number]),
        Some(64)
    );
    assert_eq!(
        desk.json(&["quarantine", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A mail without any sender (parsing fails again): kept as an article
    // from the placeholder sender, with nobody to auto-reply to.
    let v = desk.json(&["quarantine", "release", &q, "--as-new", "--json"]);
    let t = desk.json(&[
        "ticket",
        "show",
        v["result"]["ticket"].as_str().unwrap(),
        "--json",
    ]);
    assert_eq!(t["customer"], "unknown-sender@unknown.invalid");
    assert!(t["articles"][0]["text"]
        .as_str()
        .unwrap()
        .contains("no sender"));
    // Ann's auto-reply and alert, and this one's agents' alert only.
    assert_eq!(desk.status()["outbox_pending"], 3);
}

#[test]
fn quarantine_release_of_rule_quarantined_spam_parses_it_and_the_rule_cannot_hold_it_again() {
    let desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    // The shipped spam rule: X-Spam-Flag: YES quarantines.
    let rules = desk.path().join("rules-spam");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/10-spam.toml"),
        rules.join("10-spam.toml"),
    )
    .unwrap();
    desk.use_rules(&rules);
    let carol = desk.customer("carol");
    let mut raw = desk.mail(&carol, "Not spam at all", "fp", "Please call me back.");
    raw.splice(0..0, b"X-Spam-Flag: YES\r\n".iter().copied());
    let v = ingest(&desk, &raw);
    assert_eq!(v["outcome"], "quarantined", "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("upstream spam flag"),
        "{v}"
    );
    let q = v["id"].to_string();

    // A false positive: released as new, the mail is parsed as usual (its
    // text, not a notice), and the rule's quarantine is not applied again.
    let v = desk.json(&["quarantine", "release", &q, "--as-new", "--json"]);
    assert_eq!(v["result"]["outcome"], "created", "{v}");
    let t = desk.json(&[
        "ticket",
        "show",
        v["result"]["ticket"].as_str().unwrap(),
        "--json",
    ]);
    assert_eq!(t["subject"], "Not spam at all");
    assert_eq!(t["customer"], carol.as_str());
    let a = &t["articles"][0];
    assert!(
        a["text"].as_str().unwrap().contains("Please call me back."),
        "{a}"
    );
    assert_eq!(a["attachments"], serde_json::json!([]));
    // Its auto-reply and the agents' alert are queued as for any new ticket.
    assert_eq!(desk.status()["outbox_pending"], 2);
}
