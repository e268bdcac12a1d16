//! SIGHUP and pipe-only operation, against the real mail stack: a reload
//! in the middle of a run loses nothing and brings the new templates in
//! (or keeps the old ones when the new do not load), and a daemon with only
//! pipe mailboxes stays up and delivers what `postdesk ingest` queued.

mod common;

use common::*;

/// The body of the auto-reply `customer` received (the first one).
fn auto_reply_body(customer: &str) -> String {
    let replies = wait_for_mail(customer, "INBOX", 1, 60);
    let msg = mail_parser::MessageParser::default()
        .parse(&replies[0])
        .expect("a parsable auto-reply");
    msg.body_text(0).map(|b| b.to_string()).unwrap_or_default()
}

#[test]
fn sighup_during_a_batch_loses_nothing_and_uses_the_new_templates() {
    const N: usize = 200;
    let mut desk = Desk::new(DeskOptions {
        batch_size: 10,
        auto_reply_limit: 1000,
        agent_alert_limit: 1000,
        ..Default::default()
    });
    let tpl = desk.own_templates("tpl");
    let customer = desk.customer("many");
    for i in 0..N {
        let m = desk.mail(
            &customer,
            &format!("Question {i}"),
            &format!("q{i}"),
            "body",
        );
        smtp_send(&customer, &[&desk.support], &m);
    }
    wait_for_mail(&desk.support, "INBOX", N, 120);
    desk.start();
    wait_for(60, "some tickets", || {
        let n = desk.status()["tickets"].as_u64().unwrap();
        (n >= 20).then_some(())
    });
    std::fs::write(
        tpl.join("en/auto_reply.txt"),
        "Subject: {{ ticket.tag }} {{ ticket.subject }}\n\nReloaded template v2 for {{ ticket.number }}.\n",
    )
    .unwrap();
    desk.signal(libc::SIGHUP);
    let at_hup = desk.status()["tickets"].as_u64().unwrap();
    assert!(
        at_hup < N as u64,
        "the SIGHUP came too late to prove anything"
    );

    // Nothing lost, nothing quarantined, still running.
    desk.wait_tickets(N, 120);
    wait_for(30, "the reload to finish", || {
        desk.log().contains("reload finished").then_some(())
    });
    let log = desk.log();
    assert!(log.contains("reload: templates reloaded"), "{log}");
    let status = desk.status();
    assert_eq!(status["receipts"], N as u64, "{status}");
    assert_eq!(status["quarantine_held"], 0, "{status}");
    assert!(desk.running(), "the daemon died on SIGHUP:\n{log}");
    assert_eq!(desk.tickets().len(), N);

    // Mail taken in after the reload is answered with the new template.
    let late = desk.customer("late");
    let m = desk.mail(&late, "After the reload", "late", "hello");
    smtp_send(&late, &[&desk.support], &m);
    let body = auto_reply_body(&late);
    assert!(body.contains("Reloaded template v2 for"), "{body}");
    desk.wait_sent(2 * (N as u64 + 1), 120);
    assert_eq!(wait_for_mail(&customer, "INBOX", N, 60).len(), N);
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn sighup_with_a_broken_template_or_rule_keeps_the_old_ones() {
    let mut desk = Desk::new(DeskOptions::default());
    let tpl = desk.own_templates("tpl");
    let rules = desk.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("vip.toml"),
        "[[rule]]\nname = \"vip\"\nwhen = { sender_domain = \"vip.example\" }\nactions = { urgency = 4 }\n",
    )
    .unwrap();
    desk.use_rules(&rules);
    desk.start();
    wait_for(30, "the daemon to start", || {
        desk.log().contains("postdesk running").then_some(())
    });

    // A template with a syntax error, a rule file that is not TOML, and a
    // setting that only a restart applies.
    std::fs::write(
        tpl.join("en/auto_reply.txt"),
        "Subject: {{ ticket.tag\n\nBroken\n",
    )
    .unwrap();
    std::fs::write(rules.join("vip.toml"), "name = \n").unwrap();
    let text = std::fs::read_to_string(&desk.config).unwrap();
    std::fs::write(
        &desk.config,
        text.replace("timeout_secs = 5", "timeout_secs = 6"),
    )
    .unwrap();
    desk.signal(libc::SIGHUP);
    wait_for(30, "the reload to finish", || {
        desk.log().contains("reload finished").then_some(())
    });
    let log = desk.log();
    assert!(log.contains("auto_reply.txt"), "{log}");
    assert!(log.contains("the templates in use stay"), "{log}");
    assert!(log.contains("vip.toml"), "{log}");
    assert!(log.contains("the rule files in use stay"), "{log}");
    assert!(
        log.contains("[smtp] changed") && log.contains("needs a restart"),
        "{log}"
    );
    assert!(desk.running(), "{log}");

    // The templates in use (the shipped text) still answer.
    let first = desk.customer("first");
    let m = desk.mail(&first, "During the broken edit", "first", "hello");
    smtp_send(&first, &[&desk.support], &m);
    let body = auto_reply_body(&first);
    assert!(body.contains("Thank you for writing to us"), "{body}");

    // Fixed and reloaded again, with a quieter log level: the new template
    // is used, and the debug lines (each mail sent has one) stop.
    std::fs::write(
        tpl.join("en/auto_reply.txt"),
        "Subject: {{ ticket.tag }}\n\nFixed template for {{ ticket.number }}.\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&desk.config).unwrap();
    assert!(text.contains("level = \"info,postdesk=debug\""));
    std::fs::write(
        &desk.config,
        text.replace("level = \"info,postdesk=debug\"", "level = \"info\""),
    )
    .unwrap();
    desk.wait_sent(2, 30);
    desk.signal(libc::SIGHUP);
    wait_for(30, "the second reload", || {
        (desk.log().matches("reload finished").count() == 2).then_some(())
    });
    let log = desk.log();
    assert_eq!(
        log.matches("reload: templates reloaded").count(),
        1,
        "{log}"
    );
    let second = desk.customer("second");
    let m = desk.mail(&second, "After the fix", "second", "hello");
    smtp_send(&second, &[&desk.support], &m);
    let body = auto_reply_body(&second);
    assert!(body.contains("Fixed template for"), "{body}");
    desk.wait_sent(4, 30);
    let log = desk.log();
    let before = &log[..log.rfind("reload finished").unwrap()];
    let after = &log[log.rfind("reload finished").unwrap()..];
    assert!(before.contains("DEBUG"), "{log}");
    assert!(!after.contains("DEBUG"), "{after}");
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn pipe_only_run_stays_up_and_drains_the_outbox() {
    let mut desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    let out = desk.cli(&["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    desk.start();
    let customers: Vec<String> = (0..3).map(|i| desk.customer(&format!("pipe{i}"))).collect();
    for (i, c) in customers.iter().enumerate() {
        let m = desk.mail(c, &format!("Piped {i}"), &format!("p{i}"), "hello");
        let out = desk.cli_stdin(&["ingest", "--json"], &m);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Between ingests the daemon must not have gone away.
        assert!(desk.running(), "{}", desk.log());
    }
    for c in &customers {
        let replies = wait_for_mail(c, "INBOX", 1, 60);
        assert!(subject(&replies[0]).contains("[Ticket#"));
    }
    desk.wait_sent(6, 60);
    assert!(desk.running(), "{}", desk.log());
    assert!(desk.log().contains("pipe_mailboxes"), "{}", desk.log());
    assert_eq!(desk.stop(), Some(0));
}
