//! Machines facing the desk, on the real mail stack (issue 7): a real
//! Postfix bounce of our own auto-reply, an out-of-office reply to it, an
//! autoresponder answering every auto-reply, and a real Gmail reply.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// The articles of ticket `number`.
fn articles(desk: &Desk, number: &str) -> Vec<Value> {
    desk.json(&["ticket", "show", number, "--json"])["articles"]
        .as_array()
        .unwrap()
        .clone()
}

/// An extra Postfix instance on `port` for the desk's outbound mail, with
/// more main.cf lines. Stop it with `postfix-stop`.
fn extra_postfix(name: &str, port: u16, extra: &str) {
    let st = stack();
    let out = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/mailstack/mailstack.sh"
        ))
        .args([
            "postfix-start",
            &st.dir.display().to_string(),
            name,
            &port.to_string(),
        ])
        .env("MAILSTACK_POSTFIX_EXTRA", extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "postfix-start: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Wait up to `secs` for more than `n` mails in `user`'s INBOX; the count.
fn more_mail_than(user: &str, n: usize, secs: u64) -> usize {
    for _ in 0..secs * 4 {
        let now = imap_messages(user, "INBOX").len();
        if now > n {
            return now;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    imap_messages(user, "INBOX").len()
}

#[test]
fn postfix_bounce_of_our_auto_reply_attaches_to_its_ticket_and_opens_none() {
    // Our relay bounces every address outside `.test` as unknown. Our
    // auto-replies go out with the null sender (RFC 3834), so Postfix
    // sends its bounce, with our mail inside, as a double bounce to the
    // postmaster: here the support address, as an operator would alias it.
    let name = unique("bouncer");
    let port = free_port();
    let mut desk = Desk::new(DeskOptions {
        smtp_port: Some(port),
        ..Default::default()
    });
    extra_postfix(
        &name,
        port,
        &format!(
            "default_transport = error:5.1.1 no such user here\n\
             notify_classes = 2bounce\n\
             2bounce_notice_recipient = {}\n",
            desk.support
        ),
    );
    let gone = format!("nobody-{}@nowhere.example", desk.id);
    desk.start();
    let first = desk.mail(&gone, "Printer on fire", "first", "It burns.");
    smtp_send(&gone, &[&desk.support], &first);
    let tickets = desk.wait_tickets(1, 30);
    let number = tickets[0]["number"].as_str().unwrap().to_string();

    // The bounce comes back and becomes an internal note on the ticket.
    let note = wait_for(60, "the bounce on the ticket", || {
        articles(&desk, &number)
            .into_iter()
            .find(|a| a["class"] == "delivery-report")
    });
    assert_eq!(note["internal"], true, "{note}");
    assert_eq!(note["kind"], "machine");
    // It names the mail that bounced: our auto-reply.
    let explained = desk.json(&["explain", "--json", "--article", &note["id"].to_string()]);
    assert!(
        explained["facts"]["original"]["by"]
            .as_str()
            .unwrap()
            .contains("our auto_reply"),
        "{}",
        explained["facts"]
    );
    assert!(
        note["note"].as_str().unwrap().contains("is now bouncing"),
        "{note}"
    );
    assert_eq!(desk.tickets().len(), 1, "the bounce opened no ticket");
    assert_eq!(
        tickets[0]["state"],
        desk.tickets()[0]["state"],
        "no state move"
    );

    // The address is marked bouncing, and the agents were told once.
    let bouncing = desk.json(&["address", "list", "--bouncing", "--json"]);
    let list = bouncing.as_array().unwrap();
    assert_eq!(list.len(), 1, "{bouncing}");
    assert_eq!(list[0]["address"], gone.as_str());
    assert_eq!(list[0]["ticket"], number.as_str());
    let alerts = wait_for_mail(&desk.agents, "INBOX", 2, 30);
    assert!(
        alerts
            .iter()
            .any(|a| subject(a).contains("bounced") && subject(a).contains(&gone)),
        "{:?}",
        alerts.iter().map(|a| subject(a)).collect::<Vec<_>>()
    );

    // Later mail to the address is held, with the reason, in `status`.
    let second = desk.mail(&gone, "Still burning", "second", "Hello?");
    smtp_send(&gone, &[&desk.support], &second);
    desk.wait_tickets(2, 30);
    let status = wait_for(30, "a held mail", || {
        let s = desk.status();
        (s["outbox_held"] == 1).then_some(s)
    });
    let held = &status["outbox_held_latest"][0];
    assert_eq!(held["recipients"], gone.as_str());
    assert!(
        held["reason"].as_str().unwrap().contains("bouncing"),
        "{held}"
    );

    // The operator clears it; the held mail goes out.
    let cleared = desk.json(&["address", "clear", &gone, "--send-held", "--json"]);
    assert_eq!(cleared["released"], 1, "{cleared}");
    assert_eq!(desk.status()["outbox_held"], 0);
    // Clearing an address that is not bouncing, or listing without saying
    // which list, fails as such. (The released mail may bounce again at
    // any moment, so not `gone`.)
    let again = desk.cli(&["address", "clear", "never@nowhere.example"]);
    assert_eq!(again.status.code(), Some(66), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not bouncing"));
    assert_eq!(desk.cli(&["address", "list"]).status.code(), Some(64));
    assert_eq!(desk.stop(), Some(0));
    mailstack(&["postfix-stop", &stack().dir.display().to_string(), &name]);
}

#[test]
fn out_of_office_reply_to_our_auto_reply_starts_no_exchange() {
    let mut desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("away");
    desk.start();
    let first = desk.mail(&customer, "Invoice", "first", "Where is my invoice?");
    smtp_send(&customer, &[&desk.support], &first);
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let auto = &wait_for_mail(&customer, "INBOX", 1, 30)[0];
    desk.wait_sent(2, 30); // the auto-reply and the agents' alert

    // The customer's out-of-office answers our auto-reply.
    let ooo = format!(
        "From: {customer}\r\nTo: {}\r\nSubject: Out of office: {}\r\nIn-Reply-To: {}\r\n\
         Auto-Submitted: auto-replied\r\nMessage-ID: <ooo-{}@customer.test>\r\n\r\n\
         I am away until Monday.\r\n",
        desk.support,
        subject(auto),
        header(auto, "Message-ID").unwrap(),
        desk.id
    );
    smtp_send(&customer, &[&desk.support], ooo.as_bytes());
    let note = wait_for(30, "the out-of-office on the ticket", || {
        articles(&desk, &number)
            .into_iter()
            .find(|a| a["class"] == "auto-reply")
    });
    assert_eq!(note["internal"], true, "{note}");
    // Nothing answered it and nobody was alerted: still the first two mails.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let s = desk.status();
    assert_eq!(
        (s["outbox_sent"].as_u64(), s["outbox_pending"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(imap_messages(&customer, "INBOX").len(), 1);
    assert_eq!(imap_messages(&desk.agents, "INBOX").len(), 1);
    assert_eq!(desk.tickets().len(), 1);
    assert_eq!(desk.tickets()[0]["state"], "posted", "no state move");
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn two_autoresponders_facing_each_other_stop_at_the_cap() {
    // A robot without any machine header that answers every mail with a
    // fresh one (no tag, no In-Reply-To): each of its mails is a new
    // ticket, so only the loop cap (3 in 10 minutes here) stops us.
    let mut desk = Desk::new(DeskOptions {
        auto_reply_limit: 1000,
        agent_alert_limit: 1000,
        ..Default::default()
    });
    let robot = desk.customer("robot");
    desk.start_with_env(&[("POSTDESK_SYSTEM__LOOP_CAPS", r#"["3/10m", "40/1d"]"#)]);
    let mut sent = 0;
    let mut answered = 0;
    loop {
        let m = desk.mail(
            &robot,
            "Thank you for your message",
            &format!("robot{sent}"),
            "We received your message and will answer soon.",
        );
        smtp_send(&robot, &[&desk.support], &m);
        sent += 1;
        desk.wait_tickets(sent, 30);
        desk.wait_sent((answered + sent) as u64, 30); // auto-replies + alerts
        let inbox = more_mail_than(&robot, answered, 10);
        if inbox == answered {
            break; // no answer: the robot has nothing to answer
        }
        answered = inbox;
        assert!(sent < 10, "the cap did not stop the loop");
    }
    assert_eq!(answered, 3, "exactly the cap");
    assert_eq!(sent, 4);
    // The held-back auto-reply says why on the article.
    let last = desk.tickets()[0]["number"].as_str().unwrap().to_string();
    let a = &articles(&desk, &last)[0];
    assert!(
        a["note"].as_str().unwrap_or("").contains("loop cap 3/10m"),
        "{a}"
    );
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn gmail_reply_stores_just_the_new_text() {
    let mut desk = Desk::new(DeskOptions::default());
    desk.start();
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/real/person/talon-gmail.eml"
    ))
    .unwrap();
    // Delivered to the support mailbox as it is (its To is not ours: the
    // mailbox it came through serves it).
    smtp_send("xxx@gmail.com", &[&desk.support], &raw);
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let a = &articles(&desk, &number)[0];
    let text = a["text"].as_str().unwrap();
    let end = a["new_text_end"].as_u64().expect("a quote was found") as usize;
    assert_eq!(text[..end].trim(), "Hello", "{text:?}");
    assert!(text.contains("> Hi"), "the full text is kept");
    assert_eq!(desk.stop(), Some(0));
}
