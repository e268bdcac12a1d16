//! A broken notification template never costs a customer their ticket:
//! one that fails on a real mail falls back to the shipped template, and a
//! file that does not load at all does not stop `ingest`.

mod common;

use common::*;

#[test]
fn a_template_failing_on_real_mail_falls_back_to_the_shipped_one() {
    let mut desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("tpl");
    // A template that passes the start-up check (rendered with sample
    // values, which have an attachment) but fails on a real mail without
    // attachments (there is no first attachment to name).
    let tdir = desk.own_templates("tpl");
    std::fs::write(
        tdir.join("en/auto_reply.txt"),
        "Subject: {{ ticket.tag }}\n\nYour file: {{ article.attachments.0 }}\n",
    )
    .unwrap();

    let mail = desk.mail(&customer, "No attachment here", "tpl", "hello");
    let out = desk.cli_stdin(&["ingest", "--json"], &mail);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The customer keeps their ticket: the template problem is not the
    // mail's, so nothing is quarantined.
    assert_eq!(v["outcome"], "created", "{v}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the shipped one was used"), "{stderr}");
    assert!(stderr.contains("auto_reply"), "{stderr}");
    assert_eq!(desk.tickets().len(), 1);
    assert_eq!(desk.status()["quarantine_held"], 0);

    // The daemon delivers the shipped auto-reply.
    desk.start();
    let replies = wait_for_mail(&customer, "INBOX", 1, 60);
    let msg = mail_parser::MessageParser::default()
        .parse(&replies[0])
        .unwrap();
    let body = msg.body_text(0).unwrap().to_string();
    assert!(body.contains("Thank you for writing to us"), "{body}");
    assert!(subject(&replies[0]).contains("[Ticket#"));
    desk.wait_sent(2, 30);
    assert_eq!(desk.status()["outbox_failed"], 0);
    assert_eq!(desk.stop(), Some(0));
}

/// Regression: a template file with a syntax error made every `ingest`
/// exit 75, so the MTA deferred every mail until someone fixed the file
/// (and bounced it after days).
#[test]
fn a_template_file_that_does_not_load_does_not_stop_ingest() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("broken");
    let tdir = desk.own_templates("tpl");
    std::fs::write(tdir.join("en/auto_reply.txt"), "Subject: x\n\n{{ broken\n").unwrap();
    let mail = desk.mail(&customer, "Broken template", "broken", "hello");
    let out = desk.cli_stdin(&["ingest", "--json"], &mail);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "created", "{v}");
    assert!(
        stderr.contains("auto_reply.txt") && stderr.contains("shipped templates"),
        "{stderr}"
    );
    // `check` still fails on the file.
    assert_eq!(desk.cli(&["check"]).status.code(), Some(78));
}
