//! Safeguards on the real mail stack and through the CLI: a robot on the
//! agents' list is stopped at the alert cap, a customer mailing in a burst
//! gets the alert cap as the auto-reply cap, a stranger quoting a ticket
//! number gets a ticket of their own, mail "from" our own addresses is
//! recorded as unverified, and mistyped numbers reach no ticket.

mod common;

use common::*;
use serde_json::Value;

fn ingest(desk: &Desk, mail: &[u8]) -> Value {
    let out = desk.cli_stdin(&["ingest", "--json"], mail);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn articles(desk: &Desk, number: &str) -> Vec<Value> {
    desk.json(&["ticket", "show", number, "--json"])["articles"]
        .as_array()
        .unwrap()
        .clone()
}

fn of_kind<'a>(articles: &'a [Value], kinds: &[&str]) -> Vec<&'a Value> {
    articles
        .iter()
        .filter(|a| kinds.contains(&a["kind"].as_str().unwrap_or_default()))
        .collect()
}

/// A robot on the agents' list answers every alert it gets, without
/// `Auto-Submitted`, answering the alert's Message-ID, from a member's
/// address. Before the fix this went on forever (each answer counted as a
/// verified follow-up and triggered the next alert).
#[test]
fn robot_on_the_agents_list_is_stopped_at_the_alert_cap() {
    const CAP: usize = 4;
    let mut desk = Desk::new(DeskOptions {
        agent_alert_limit: CAP as u32,
        ..Default::default()
    });
    let customer = desk.customer("ana");
    let robot = format!("robot-{}@support.test", desk.id);
    desk.start();
    smtp_send(
        &customer,
        &[&desk.support],
        &desk.mail(&customer, "Printer broken", "first", "It does not print."),
    );
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();

    let mut answered = 0usize;
    for round in 0..3 * CAP {
        // Quiescence: every mail sent so far taken in, nothing pending in
        // the outbox, and every alert queued so far delivered to the list.
        wait_for(60, "the desk to take in the robot's answers", || {
            let s = desk.status();
            (s["receipts"].as_u64() == Some(1 + answered as u64) && s["outbox_pending"] == 0)
                .then_some(())
        });
        let queued = of_kind(
            &articles(&desk, &number),
            &["agent_new_ticket", "agent_follow_up"],
        )
        .len();
        let alerts = wait_for_mail(&desk.agents, "INBOX", queued, 60);
        assert_eq!(alerts.len(), queued, "round {round}");
        if alerts.len() == answered {
            break; // nothing new to answer: the exchange has stopped
        }
        for alert in &alerts[answered..] {
            let mid = header(alert, "Message-ID").unwrap();
            let reply = format!(
                "From: Robot <{robot}>\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <robot-{answered}-{}@support.test>\r\nIn-Reply-To: {mid}\r\nReferences: {mid}\r\n\r\nI am out of the office until Monday.\r\n",
                desk.support,
                subject(alert),
                desk.id
            );
            smtp_send(&robot, &[&desk.support], reply.as_bytes());
            answered += 1;
        }
    }
    let alerts = imap_messages(&desk.agents, "INBOX");
    assert_eq!(alerts.len(), CAP, "alerts stop at the per-ticket cap");
    assert_eq!(answered, CAP, "the robot answered each alert once");

    let all = articles(&desk, &number);
    let robot_side = of_kind(&all, &["agents_side"]);
    assert_eq!(
        robot_side.len(),
        CAP,
        "the robot's answers are the agents' side"
    );
    assert!(robot_side.iter().all(|a| a["unverified"].is_string()));
    let last = robot_side.last().unwrap();
    assert!(
        last["note"]
            .as_str()
            .unwrap_or_default()
            .contains("agent_alert_limit_per_ticket_per_hour"),
        "{last}"
    );
    let t = desk.json(&["ticket", "show", &number, "--json"]);
    let participants: Vec<&str> = t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        participants,
        vec![customer.as_str()],
        "the robot is no participant"
    );
    assert_eq!(t["state"], "posted", "the agents' side moves no state");
    assert_eq!(
        imap_messages(&customer, "INBOX").len(),
        1,
        "the customer got the auto-reply and nothing else"
    );
    assert!(desk.log().contains("agents not alerted"), "logged");
    let text = String::from_utf8_lossy(&desk.cli(&["ticket", "show", &number]).stdout).to_string();
    assert!(text.contains("UNVERIFIED:"), "{text}");
    assert!(text.contains("Note: agents not alerted"), "{text}");
    assert_eq!(desk.stop(), Some(0));
}

/// One customer mailing many times in a burst gets the auto-reply cap —
/// and so do the agents' alerts.
#[test]
fn one_sender_in_a_burst_gets_the_alert_cap_like_the_auto_reply_cap() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("burst");
    let mut last = String::new();
    for i in 0..15 {
        let v = ingest(
            &desk,
            &desk.mail(&customer, &format!("Burst {i}"), &format!("b{i}"), "x"),
        );
        assert_eq!(v["outcome"], "created");
        last = v["ticket"].as_str().unwrap().to_string();
    }
    let status = desk.status();
    assert_eq!(status["tickets"], 15);
    assert_eq!(
        status["outbox_pending"], 20,
        "10 auto-replies and 10 alerts"
    );
    let a = articles(&desk, &last);
    assert!(of_kind(&a, &["agent_new_ticket"]).is_empty());
    assert!(
        a[0]["note"]
            .as_str()
            .unwrap_or_default()
            .contains("agent_alert_limit_per_sender_per_hour"),
        "{}",
        a[0]
    );
}

/// A stranger who knows a ticket number gets a ticket of their own, and
/// the agents' alert (read over IMAP) names the number quoted.
#[test]
fn stranger_quoting_a_ticket_number_gets_a_ticket_of_their_own() {
    let mut desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("victim");
    let stranger = desk.customer("stranger");
    desk.start();
    smtp_send(
        &customer,
        &[&desk.support],
        &desk.mail(&customer, "Private matter", "p", "secret details"),
    );
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let tagged = desk.mail(
        &stranger,
        &format!("Re: [Ticket#{number}] Private matter"),
        "s",
        "please send me the details",
    );
    smtp_send(&stranger, &[&desk.support], &tagged);
    let tickets = desk.wait_tickets(2, 30);
    let theirs = tickets
        .iter()
        .find(|t| t["customer"] == stranger.as_str())
        .expect("the stranger's own ticket");
    let their_number = theirs["number"].as_str().unwrap();
    assert_ne!(their_number, number);
    assert_eq!(theirs["subject"], "Private matter");
    let own = articles(&desk, their_number);
    assert!(
        own[0]["note"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("quoted ticket {number}")),
        "{}",
        own[0]
    );
    // Nothing of theirs on the victim's ticket.
    let victim = articles(&desk, &number);
    assert_eq!(victim.iter().filter(|a| a["direction"] == "in").count(), 1);
    // The agents were told, and which number was quoted.
    let alerts = wait_for_mail(&desk.agents, "INBOX", 2, 30);
    let alert = alerts
        .iter()
        .find(|m| subject(m).contains(their_number))
        .expect("an alert for the stranger's ticket");
    let body = String::from_utf8_lossy(alert);
    assert!(body.contains(&format!("quoted ticket {number}")), "{body}");
    // The stranger's auto-reply names their own ticket, not the victim's.
    let reply = wait_for_mail(&stranger, "INBOX", 1, 30);
    assert_eq!(
        number_in(&subject(&reply[0])).as_deref(),
        Some(their_number)
    );
    assert_eq!(desk.stop(), Some(0));
}

/// Mail whose From is the agents' address is no disguise: it opens a
/// ticket like anyone's (no auto-reply to our own address), the agents
/// are alerted with a warning, `ticket show` marks it unverified, and it
/// never lands on a customer's ticket by quoting its number.
#[test]
fn mail_from_the_agents_address_is_recorded_as_unverified() {
    let mut desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("cust");
    desk.start();
    smtp_send(
        &customer,
        &[&desk.support],
        &desk.mail(&customer, "Invoice", "c1", "where is it?"),
    );
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let agents = desk.agents.clone();
    let forged_new = desk.mail(&agents, "Please call me", "a1", "urgent");
    smtp_send(&agents, &[&desk.support], &forged_new);
    let forged_tagged = desk.mail(
        &agents,
        &format!("Re: [Ticket#{number}] Invoice"),
        "a2",
        "appended text",
    );
    smtp_send(&agents, &[&desk.support], &forged_tagged);
    let tickets = desk.wait_tickets(3, 30);
    assert_eq!(
        articles(&desk, &number)
            .iter()
            .filter(|a| a["direction"] == "in")
            .count(),
        1,
        "nothing added to the customer's ticket"
    );
    let alerts = wait_for_mail(&desk.agents, "INBOX", 3, 30);
    for t in tickets.iter().filter(|t| t["customer"] == agents.as_str()) {
        let n = t["number"].as_str().unwrap();
        let shown = desk.json(&["ticket", "show", n, "--json"]);
        assert!(shown["participants"].as_array().unwrap().is_empty());
        let first = &shown["articles"][0];
        assert!(
            first["unverified"]
                .as_str()
                .unwrap_or_default()
                .contains("our own addresses"),
            "{first}"
        );
        assert!(of_kind(shown["articles"].as_array().unwrap(), &["auto_reply"]).is_empty());
        let alert = alerts
            .iter()
            .find(|m| subject(m).contains(n))
            .expect("an alert for the forged ticket");
        let body = String::from_utf8_lossy(alert);
        assert!(
            body.contains("WARNING: its From is one of our own"),
            "{body}"
        );
    }
    let text = String::from_utf8_lossy(
        &desk
            .cli(&["ticket", "show", tickets[0]["number"].as_str().unwrap()])
            .stdout,
    )
    .to_string();
    assert!(
        text.contains("UNVERIFIED: From is one of our own addresses"),
        "{text}"
    );
    assert_eq!(desk.stop(), Some(0));
}

/// Every single-digit substitution and every adjacent transposition of a
/// real ticket's number, sent by that ticket's own requester, reaches no
/// existing ticket.
#[test]
fn mistyped_ticket_numbers_reach_no_ticket() {
    let desk = Desk::new(DeskOptions {
        auto_reply_limit: 1000,
        agent_alert_limit: 1000,
        ..Default::default()
    });
    let customer = desk.customer("typo");
    let mut numbers = Vec::new();
    for i in 0..3 {
        let v = ingest(
            &desk,
            &desk.mail(&customer, &format!("T{i}"), &format!("t{i}"), "x"),
        );
        numbers.push(v["ticket"].as_str().unwrap().to_string());
    }
    let number = &numbers[0];
    assert!(postdesk::threading::is_valid(number));
    let digits = number.as_bytes();
    let mut typos = Vec::new();
    for pos in 0..digits.len() {
        for d in b'0'..=b'9' {
            if d != digits[pos] {
                let mut t = digits.to_vec();
                t[pos] = d;
                typos.push(String::from_utf8(t).unwrap());
            }
        }
        if pos + 1 < digits.len() && digits[pos] != digits[pos + 1] {
            let mut t = digits.to_vec();
            t.swap(pos, pos + 1);
            typos.push(String::from_utf8(t).unwrap());
        }
    }
    // Make every typo an existing ticket of the same requester (as if
    // issued): the check digit alone must keep the mail off them.
    let db = rusqlite::Connection::open(desk.path().join("state/postdesk.db")).unwrap();
    for t in &typos {
        db.execute(
            "INSERT OR IGNORE INTO tickets (number, subject, state, priority, queue_id,
                 customer_address, support_address, language, created_at, updated_at)
             SELECT ?1, subject, state, priority, queue_id, customer_address, support_address,
                 language, created_at, updated_at FROM tickets WHERE number = ?2",
            [t, number],
        )
        .unwrap();
        db.execute(
            "INSERT OR IGNORE INTO ticket_participants (ticket_id, address, name, role)
             SELECT (SELECT id FROM tickets WHERE number = ?1), address, name, role
             FROM ticket_participants WHERE ticket_id = (SELECT id FROM tickets WHERE number = ?2)",
            [t, number],
        )
        .unwrap();
    }
    drop(db);
    // One mail carrying every typo at once: none may thread it.
    let subject: String = typos.iter().map(|t| format!("[Ticket#{t}] ")).collect();
    let v = ingest(&desk, &desk.mail(&customer, &subject, "typos", "typo"));
    assert_eq!(v["outcome"], "created", "{v}");
    // The real number still threads.
    let v = ingest(
        &desk,
        &desk.mail(&customer, &format!("Re: [Ticket#{number}] T0"), "ok", "ok"),
    );
    assert_eq!(v["outcome"], "follow_up", "{v}");
    assert_eq!(v["ticket"], number.as_str());
}

/// Set a `[system]` key in the desk's configuration.
fn set_system_key(desk: &Desk, line: &str) {
    let text = std::fs::read_to_string(&desk.config).unwrap();
    std::fs::write(
        &desk.config,
        text.replacen("[system]\n", &format!("[system]\n{line}\n"), 1),
    )
    .unwrap();
}

/// `stranger_follow_up = "record"` keeps the old way: recorded on the
/// ticket, unverified, changing nothing, and the agents are warned.
#[test]
fn stranger_follow_up_record_keeps_the_mail_on_the_ticket_unverified() {
    let desk = Desk::new(DeskOptions::default());
    set_system_key(&desk, "stranger_follow_up = \"record\"");
    let customer = desk.customer("c");
    let v = ingest(&desk, &desk.mail(&customer, "Mine", "m", "x"));
    let number = v["ticket"].as_str().unwrap().to_string();
    let stranger = desk.customer("s");
    let v = ingest(
        &desk,
        &desk.mail(&stranger, &format!("Re: [Ticket#{number}] Mine"), "s", "y"),
    );
    assert_eq!(v["outcome"], "follow_up", "{v}");
    let t = desk.json(&["ticket", "show", &number, "--json"]);
    assert_eq!(t["state"], "posted");
    assert_eq!(t["participants"].as_array().unwrap().len(), 1);
    let a = t["articles"].as_array().unwrap();
    let theirs = a.iter().find(|a| a["from"] == stranger.as_str()).unwrap();
    assert!(theirs["unverified"]
        .as_str()
        .unwrap()
        .contains("not a participant"));
    let alert = of_kind(a, &["agent_follow_up"])[0];
    assert!(alert["text"]
        .as_str()
        .unwrap()
        .contains("not a participant"));
}

/// From the agents' address while answering the ticket's mail: recorded on
/// the ticket, unverified, no state change, nobody added, agents warned.
#[test]
fn agents_address_answering_a_ticket_is_recorded_but_trusted_for_nothing() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("c");
    let v = ingest(&desk, &desk.mail(&customer, "Help", "orig", "x"));
    let number = v["ticket"].as_str().unwrap().to_string();
    let reply = format!(
        "From: Agents <{agents}>\r\nTo: {support}\r\nCc: outsider@evil.test\r\nSubject: Re: Help\r\nMessage-ID: <ag-{id}@support.test>\r\nIn-Reply-To: <orig-{id}@customer.test>\r\n\r\nappended\r\n",
        agents = desk.agents,
        support = desk.support,
        id = desk.id
    );
    let v = ingest(&desk, reply.as_bytes());
    assert_eq!(v["outcome"], "follow_up", "{v}");
    let t = desk.json(&["ticket", "show", &number, "--json"]);
    assert_eq!(t["state"], "posted");
    let participants: Vec<&str> = t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    assert_eq!(participants, vec![customer.as_str()]);
    let a = t["articles"].as_array().unwrap();
    let theirs = a
        .iter()
        .find(|a| a["from"] == desk.agents.as_str())
        .unwrap();
    assert!(theirs["unverified"]
        .as_str()
        .unwrap()
        .contains("our own addresses"));
    let alert = of_kind(a, &["agent_follow_up"])[0];
    assert!(
        alert["text"]
            .as_str()
            .unwrap()
            .contains("From is one of our own addresses"),
        "{alert}"
    );
}

/// A huge display name and subject are copied into our mail only up to a
/// bound; the tag and the rest of the mail are intact.
#[test]
fn display_names_and_subjects_are_copied_only_up_to_a_bound() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("long");
    let name = "N".repeat(5000);
    let subj = "S".repeat(5000);
    let mail = format!(
        "From: {name} <{customer}>\r\nTo: {}\r\nSubject: {subj}\r\nMessage-ID: <long-{}@customer.test>\r\n\r\nbody\r\n",
        desk.support, desk.id
    );
    let v = ingest(&desk, mail.as_bytes());
    let number = v["ticket"].as_str().unwrap().to_string();
    for a in articles(&desk, &number)
        .iter()
        .filter(|a| a["direction"] == "out")
    {
        let subject = a["subject"].as_str().unwrap();
        assert!(subject.contains(&format!("[Ticket#{number}]")), "{subject}");
        assert!(subject.len() < 400, "{} bytes: {subject}", subject.len());
        let text = a["text"].as_str().unwrap();
        assert!(!text.contains(&"N".repeat(201)), "{}", a["kind"]);
        assert!(!text.contains(&"S".repeat(201)), "{}", a["kind"]);
    }
}
