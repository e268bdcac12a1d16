//! `postdesk fetch --mailbox NAME` against the real mail stack: with a
//! daemon running it is woken (SIGUSR1) and takes the mail in long before
//! its next poll; with none running the command fetches once itself.

mod common;

use common::*;

/// A desk whose mailbox polls once an hour, without IDLE: only a fetch
/// request brings mail in soon.
fn slow_desk() -> Desk {
    let desk = Desk::new(DeskOptions::default());
    let text = std::fs::read_to_string(&desk.config).unwrap();
    let text = text.replace(
        "poll_interval_secs = 2\n",
        "poll_interval_secs = 3600\nidle = false\n",
    );
    std::fs::write(&desk.config, text).unwrap();
    desk
}

#[test]
fn fetch_wakes_the_running_daemon() {
    let mut desk = slow_desk();
    desk.start();
    // The daemon's first look found nothing (its status file says when).
    wait_for(60, "the daemon's first fetch", || {
        desk.status()["live"]["mailboxes"][0]["last_fetch"]
            .is_string()
            .then_some(())
    });
    let customer = desk.customer("fetch");
    let m = desk.mail(&customer, "Fetch me", "f1", "Now, please");
    smtp_send(&customer, &[&desk.support], &m);
    wait_for_mail(&desk.support, "INBOX", 1, 60);

    let out = desk.cli(&["fetch", "--mailbox", "support"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("asked the running daemon"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // An hour before the next poll: only the fetch request explains it.
    desk.wait_tickets(1, 60);
    assert!(desk
        .log()
        .contains("SIGUSR1: looking into every mailbox now"));
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn fetch_without_a_daemon_takes_the_mail_in_itself() {
    let desk = slow_desk();
    let customer = desk.customer("alone");
    let m = desk.mail(&customer, "Nobody home", "a1", "Hello?");
    smtp_send(&customer, &[&desk.support], &m);
    wait_for_mail(&desk.support, "INBOX", 1, 60);
    // The rules act as in the daemon (fetch once processed without them).
    std::fs::write(
        desk.path().join("rules/10-tag.toml"),
        "[[rule]]\nname = \"tag\"\nwhen = {}\nactions = { tags = [\"fetched\"] }\n",
    )
    .unwrap();

    let out = desk.cli(&["fetch", "--mailbox", "support", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mailbox"], "support");
    assert_eq!(v["result"], "fetched");
    // Processed, acknowledged (moved), and its mail queued for a daemon.
    assert_eq!(desk.tickets().len(), 1);
    assert!(imap_messages(&desk.support, "INBOX").is_empty());
    assert_eq!(imap_messages(&desk.support, "Processed").len(), 1);
    assert_eq!(desk.status()["outbox_pending"], 2);
    let tagged = desk.json(&["ticket", "list", "--json", "--tag", "fetched"]);
    assert_eq!(tagged.as_array().unwrap().len(), 1, "{tagged}");

    // Unknown and pipe-only mailboxes are named in the error (66).
    let out = desk.cli(&["fetch", "--mailbox", "nope"]);
    assert_eq!(out.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&out.stderr).contains("there are: support"));
}
