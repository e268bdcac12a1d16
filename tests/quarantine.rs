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
