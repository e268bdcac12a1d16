//! Templated refusals (issue 8, items 3 and 5) over the real mail stack: a
//! queue that refuses strangers or unknown senders answers them with the
//! refusal (read back over IMAP), makes no ticket and leaves the quoted
//! one untouched; a robot is answered up to the loop cap, then no more.

mod common;

use common::*;

/// A directory with customer ACME, its user `known` and queue `support`
/// with these policies.
fn directory(desk: &Desk, known: &str, strangers: &str, unknown: &str) {
    let file = desk.path().join("directory.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[group]]
name = "staff"

[[customer]]
name = "ACME"

[[queue]]
name = "support"
group = "staff"
strangers = "{strangers}"
unknown_senders = "{unknown}"

[[customer_user]]
addresses = ["{known}"]
customer = "ACME"
rw = ["staff"]
"#
        ),
    )
    .unwrap();
    ok(desk, &["directory", "apply", file.to_str().unwrap()]);
}

/// Refused mail counted by the status (`receipts_by_status.refused`).
fn refused(desk: &Desk) -> u64 {
    desk.status()["receipts_by_status"]["refused"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_stranger_quoting_a_ticket_in_a_refuse_queue_gets_the_refusal_and_the_ticket_is_untouched() {
    let mut desk = Desk::new(DeskOptions::default());
    let ana = desk.customer("ana");
    let eve = desk.customer("eve");
    directory(&desk, &ana, "refuse", "create");
    let export = ok(&desk, &["directory", "export"]);
    assert!(export.contains("strangers = \"refuse\""), "{export}");
    desk.start();
    smtp_send(
        &ana,
        &[&desk.support],
        &desk.mail(
            &ana,
            "Printer on fire",
            "a",
            "the secret plans are in tray 2",
        ),
    );
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for_mail(&ana, "INBOX", 1, 30);
    let before = desk.json(&["ticket", "show", &number, "--json"]);
    let quoting = desk.mail(
        &eve,
        &format!("Re: [Ticket#{number}] hi"),
        "e",
        "send me it",
    );
    // explain shows the refusal before the mail is taken in.
    let e = desk.cli_stdin(&["explain", "-"], &quoting);
    let text = String::from_utf8_lossy(&e.stdout);
    assert!(
        text.contains("refused by queue support (no_right)"),
        "{text}"
    );
    smtp_send(&eve, &[&desk.support], &quoting);
    let got = wait_for_mail(&eve, "INBOX", 1, 60);
    let (subject, body) = (subject(&got[0]), String::from_utf8_lossy(&got[0]));
    assert!(subject.starts_with("Not accepted"), "{subject}");
    // It says why, and nothing of the ticket.
    assert!(body.contains("no right to the ticket"), "{body}");
    assert!(
        !body.contains("Printer on fire") && !body.contains("tray 2"),
        "{body}"
    );
    assert_eq!(
        header(&got[0], "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(header(&got[0], "X-Postdesk-Ticket"), None);
    wait_for(30, "the refusal counted", || {
        (refused(&desk) == 1).then_some(())
    });
    assert_eq!(desk.tickets().len(), 1);
    let after = desk.json(&["ticket", "show", &number, "--json"]);
    assert_eq!(after["articles"], before["articles"]);
    assert_eq!(after["state"], before["state"]);
    assert_eq!(after["participants"], before["participants"]);
    // The agents see the attempt.
    assert_eq!(after["refused"][0]["address"], eve.as_str());
    assert_eq!(after["refused"][0]["answered"], true);
    let plain = ok(&desk, &["ticket", "show", &number]);
    assert!(plain.contains("Refused") && plain.contains(&eve), "{plain}");
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn an_unknown_sender_in_a_refuse_queue_gets_the_refusal_and_no_ticket() {
    let mut desk = Desk::new(DeskOptions::default());
    let ana = desk.customer("ana");
    let bob = desk.customer("bob");
    directory(&desk, &ana, "system", "refuse");
    let q = ok(&desk, &["queue", "show", "support"]);
    assert!(q.contains("unknown_senders = \"refuse\""), "{q}");
    desk.start();
    smtp_send(
        &bob,
        &[&desk.support],
        &desk.mail(&bob, "Let me in", "b", "hello"),
    );
    let got = wait_for_mail(&bob, "INBOX", 1, 60);
    let body = String::from_utf8_lossy(&got[0]).into_owned();
    assert!(body.contains("answers known customers only"), "{body}");
    wait_for(30, "the refusal counted", || {
        (refused(&desk) == 1).then_some(())
    });
    assert!(desk.tickets().is_empty());
    // Not made a customer user either.
    assert_eq!(
        desk.cli(&["customer-user", "show", &bob]).status.code(),
        Some(66)
    );
    // A known customer user is served as before.
    smtp_send(
        &ana,
        &[&desk.support],
        &desk.mail(&ana, "Printer", "a", "broken"),
    );
    desk.wait_tickets(1, 30);
    let reply = wait_for_mail(&ana, "INBOX", 1, 30);
    assert!(subject(&reply[0]).contains("Ticket#"));
    // `create` again: bob gets a ticket and becomes a customer user.
    ok(
        &desk,
        &["queue", "update", "support", "--unknown-senders", "create"],
    );
    smtp_send(
        &bob,
        &[&desk.support],
        &desk.mail(&bob, "Let me in, please", "b2", "hello again"),
    );
    desk.wait_tickets(2, 30);
    ok(&desk, &["customer-user", "show", &bob]);
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn a_robot_is_refused_until_the_loop_cap_then_no_more() {
    let mut desk = Desk::new(DeskOptions {
        // The loop cap: 3 automatic mails to one address per 10 minutes.
        auto_reply_limit: 3,
        ..DeskOptions::default()
    });
    let ana = desk.customer("ana");
    let robot = desk.customer("robot");
    directory(&desk, &ana, "system", "refuse");
    desk.start();
    // A robot that does not say it is one: it looks like a person.
    for i in 0..5 {
        smtp_send(
            &robot,
            &[&desk.support],
            &desk.mail(&robot, &format!("Report {i}"), &format!("r{i}"), "numbers"),
        );
    }
    wait_for(60, "5 refused mails", || {
        (refused(&desk) == 5).then_some(())
    });
    desk.wait_sent(3, 60);
    let got = wait_for_mail(&robot, "INBOX", 3, 60);
    assert_eq!(got.len(), 3);
    assert!(desk.tickets().is_empty());
    let s = desk.status();
    assert_eq!(s["outbox_sent"], 3, "{s}");
    assert!(desk.log().contains("loop cap"), "{}", desk.log());
    assert_eq!(desk.stop(), Some(0));
}
