//! `postdesk rules test`: explain focused on the rules, from the command
//! line, with no mail stack. The shipped examples checked as data (spam
//! stops the evaluation and quarantines, a VIP's billing mail gets urgency
//! 4, a tag and the billing queue), nothing written, and the exit codes of
//! its failures (sysexits). Also: a rule naming an auto-reply template no
//! language has is refused by `rules check` and `check` with file and line.

mod common;

use common::standalone_config;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn postdesk(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// A configuration with a billing queue and the shipped rules.
fn shipped_desk(dir: &Path) -> PathBuf {
    let config = standalone_config(dir, "\n[[queue]]\nname = \"billing\"\n");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for f in std::fs::read_dir(&shipped).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&f, dir.join("rules").join(f.file_name().unwrap())).unwrap();
        }
    }
    config
}

fn test_mail(config: &Path, dir: &Path, name: &str, mail: &str) -> Value {
    let file = dir.join(name);
    std::fs::write(&file, mail.replace('\n', "\r\n")).unwrap();
    let out = postdesk(config, &["rules", "test", "--json", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn evaluated(v: &Value) -> Vec<(String, bool)> {
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["matched"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn rules_test_shows_the_shipped_rules_acting_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let config = shipped_desk(dir.path());

    let spam = test_mail(
        &config,
        dir.path(),
        "spam.eml",
        "From: x@spam.test\nTo: support@example.com\nSubject: Cheap pills\nX-Spam-Flag: YES\nMessage-ID: <s@spam.test>\n\nBuy.\n",
    );
    assert_eq!(
        evaluated(&spam),
        [("upstream spam flag".to_string(), true)],
        "stop = true ends the evaluation: {spam:#}"
    );
    assert_eq!(spam["rules"][0]["stopped"], true);
    assert_eq!(
        spam["outcome"],
        json!({"action": "quarantine", "reason": "rule upstream spam flag: flagged as spam by the upstream filter"})
    );
    assert_eq!(spam["ticket"], Value::Null);
    assert_eq!(spam["database"], false, "no database yet: taken as new");

    let bill = test_mail(
        &config,
        dir.path(),
        "bill.eml",
        "From: Ana <ana@vip.example>\nTo: support@example.com\nSubject: Fatura de março\nMessage-ID: <b@vip.example>\n\nA fatura está errada.\n",
    );
    let seen = evaluated(&bill);
    assert_eq!(
        seen[..3],
        [
            ("upstream spam flag".to_string(), false),
            ("vip customers".to_string(), true),
            ("billing words".to_string(), true),
        ],
        "{bill:#}"
    );
    // The fourth, after hours, depends on the clock: it is evaluated.
    assert_eq!(seen[3].0, "after hours auto-reply");
    assert_eq!(
        bill["rules"][1]["criteria"],
        json!([[
            "sender_domain in [\"vip.example\", \"bigclient.example\"]",
            true
        ]]),
        "{bill:#}"
    );
    assert_eq!(
        bill["rules"][1]["actions"],
        json!(["urgency = 4", "tags += [\"vip\"]"])
    );
    assert_eq!(
        bill["edits"].as_array().unwrap()[..4],
        [
            json!("rule vip customers: urgency 4 (priority 4)"),
            json!("rule vip customers: tags += vip"),
            json!("rule billing words: queue billing"),
            json!("rule billing words: tags += billing"),
        ]
    );
    let changes: Vec<(&str, &str, Option<&str>, &str)> = bill["changes"]
        .as_array()
        .unwrap()
        .iter()
        .take(5)
        .map(|c| {
            (
                c["actor"].as_str().unwrap(),
                c["field"].as_str().unwrap(),
                c["old"].as_str(),
                c["new"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("vip customers", "urgency", Some("3"), "4"),
            ("vip customers", "priority", Some("3"), "4"),
            ("vip customers", "tags", None, "vip"),
            ("billing words", "queue", Some("support"), "billing"),
            ("billing words", "tags", None, "billing"),
        ]
    );
    let t = &bill["ticket"];
    assert_eq!(
        (&t["queue"], &t["classification"]["urgency"], &t["tags"]),
        (&json!("billing"), &json!(4), &json!(["billing", "vip"]))
    );

    // The text view says the same, and that nothing was written.
    let file = dir.path().join("bill.eml");
    let out = postdesk(&config, &["rules", "test", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Rule:     vip customers (")
            && text.contains("Edit:     rule billing words: queue billing")
            && text.contains("Change:   rule billing words: queue support → billing")
            && text.ends_with("(nothing was written)\n"),
        "{text}"
    );
    assert!(!dir.path().join("db.sqlite").exists(), "nothing written");
}

#[test]
fn rules_test_fails_with_sysexits_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = shipped_desk(dir.path());
    let help = postdesk(&config, &["rules", "test", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in ["--mailbox", "--rules", "--json"] {
        assert!(help.contains(flag), "{help}");
    }
    let missing = postdesk(&config, &["rules", "test", "/nonexistent/mail.eml"]);
    assert_eq!(missing.status.code(), Some(66), "EX_NOINPUT");
    let mail = dir.path().join("m.eml");
    std::fs::write(&mail, "From: a@b.test\r\nSubject: hi\r\n\r\nx\r\n").unwrap();
    let m = mail.to_str().unwrap();
    let out = postdesk(&config, &["rules", "test", "--mailbox", "nope", m]);
    assert_eq!(out.status.code(), Some(66), "EX_NOINPUT");
    let out = postdesk(
        &config,
        &["rules", "test", "--json", "--rules", "/nonexistent", m],
    );
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        err["error"].as_str().unwrap().contains("/nonexistent"),
        "{err}"
    );
}

#[test]
fn an_auto_reply_template_no_language_has_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let bad = dir.path().join("rules/50-holidays.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nname = \"holidays\"\nwhen = {}\n[rule.actions]\nauto_reply = \"auto_reply_holidays\"\n",
    )
    .unwrap();
    let want = format!(
        "{}:5: rule \"holidays\": actions.auto_reply: no template \"auto_reply_holidays\" in any \
         language: add mail-templates/<language>/auto_reply_holidays.txt (at least for the \
         default language)",
        bad.display()
    );
    let out = postdesk(&config, &["rules", "check"]);
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&want));
    let out = postdesk(&config, &["check", "--json"]);
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["check"] == "rules" && c["ok"] == false && c["detail"] == want.as_str()),
        "{v:#}"
    );
    // The shipped after-hours template is known, in the folder or not.
    std::fs::write(
        &bad,
        "[[rule]]\nname = \"holidays\"\nwhen = {}\n[rule.actions]\nauto_reply = \"auto_reply_after_hours\"\n",
    )
    .unwrap();
    let out = postdesk(
        &config,
        &[
            "rules",
            "check",
            "--dir",
            bad.parent().unwrap().to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `quarantine retry` once processed mail without the rules folder: a
/// released mail opened a ticket no rule had seen.
#[test]
fn quarantine_retry_applies_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let rules = dir.path().join("rules/10.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"hold\"\nwhen = { subject = { contains = \"printer\" } }\nactions = { spam = \"held for the test\" }\n",
    )
    .unwrap();
    let mail = "From: ana@customer.test\r\nTo: support@example.com\r\nSubject: Printer broken\r\nMessage-ID: <p1@customer.test>\r\n\r\nIt does not print.\r\n";
    let ingest = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(&config)
        .args(["ingest", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(mail.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(ingest.status.success(), "{ingest:?}");
    let held = postdesk(&config, &["quarantine", "list", "--json"]);
    let held: Value = serde_json::from_slice(&held.stdout).unwrap();
    assert_eq!(held.as_array().unwrap().len(), 1, "{held}");
    let id = held[0]["id"].to_string();

    // The operator changes the rules and releases the mail: the new rules act.
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"printers\"\nwhen = { subject = { contains = \"printer\" } }\nactions = { tags = [\"printer\"], service = \"Hardware::Printer\" }\n",
    )
    .unwrap();
    let out = postdesk(&config, &["quarantine", "retry", "--json", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let list = postdesk(&config, &["ticket", "list", "--json", "--tag", "printer"]);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let number = list[0]["number"].as_str().unwrap();
    let show = postdesk(&config, &["ticket", "show", "--json", number]);
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["service"], "Hardware::Printer", "{show:#}");
    assert_eq!(show["history"][0]["actor"], "printers", "{show:#}");
}
