//! `postdesk explain` against a real database, and routing of one mail
//! that reaches two support addresses over the real mail stack.

mod common;

use common::*;
use serde_json::Value;

fn ingest(desk: &Desk, mail: &[u8]) -> Value {
    let out = desk.cli_stdin(&["ingest", "--json"], mail);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn explain(desk: &Desk, args: &[&str]) -> Value {
    let mut all = vec!["explain", "--json"];
    all.extend_from_slice(args);
    desk.json(&all)
}

#[test]
fn explain_prints_the_plan_and_writes_nothing() {
    let desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    let ana = desk.customer("ana");
    let mail = desk.mail(&ana, "Printer broken", "first", "It does not print.");
    let file = desk.path().join("first.eml");
    std::fs::write(&file, &mail).unwrap();
    let e = explain(&desk, &[file.to_str().unwrap()]);
    let plan = &e["plan"];
    assert_eq!(plan["disposition"]["action"], "new_ticket");
    assert_eq!(plan["route"]["mailbox"], "support");
    assert_eq!(plan["ticket"]["queue"], "support");
    assert_eq!(plan["ticket"]["classification"]["priority"], 3);
    assert_eq!(plan["participants"][0]["address"], ana.as_str());
    let n = plan["notifications"].as_array().unwrap();
    assert_eq!(n.len(), 2);
    assert_eq!(n[0]["kind"], "auto_reply");
    assert_eq!(n[0]["to"][0], ana.as_str());
    assert_eq!(n[0]["suppressed"], Value::Null);
    assert_eq!(n[1]["kind"], "agent_new_ticket");
    assert_eq!(n[1]["to"][0], desk.agents.as_str());
    assert_eq!(e["facts"]["duplicate_of"], Value::Null);
    // Nothing was written.
    let status = desk.status();
    assert_eq!(
        (status["tickets"].as_u64(), status["receipts"].as_u64()),
        (Some(0), Some(0))
    );

    // Taken in, the same mail is a duplicate; a reply threads by its tag.
    let created = ingest(&desk, &mail);
    let number = created["ticket"].as_str().unwrap().to_string();
    let e = explain(&desk, &[file.to_str().unwrap()]);
    assert_eq!(e["plan"]["disposition"]["action"], "duplicate");
    assert_eq!(e["plan"]["disposition"]["ticket"], number.as_str());
    assert!(e["plan"]["notifications"].as_array().unwrap().is_empty());

    let reply = customer_mail(
        &ana,
        &desk.support,
        &format!("Re: [Ticket#{number}] Printer broken"),
        &format!("reply-{}@customer.test", desk.id),
        "Still broken.",
    );
    let e = desk.cli_stdin(&["explain", "--json", "-"], &reply);
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    let e: Value = serde_json::from_slice(&e.stdout).unwrap();
    let plan = &e["plan"];
    assert_eq!(plan["disposition"]["action"], "follow_up");
    assert_eq!(plan["disposition"]["standing"], "participant");
    assert_eq!(e["facts"]["thread"]["matched"]["by"], "tag");
    assert_eq!(plan["notifications"][0]["kind"], "agent_follow_up");

    // The article already taken in, explained as if it came now.
    let show = desk.json(&["ticket", "show", &number, "--json"]);
    let article = show["articles"][0]["id"].as_i64().unwrap().to_string();
    let e = explain(&desk, &["--article", &article]);
    assert_eq!(e["plan"]["disposition"]["action"], "new_ticket");
    assert_eq!(e["plan"]["route"]["received_by"], "support");
    // The auto-reply just sent counts against the loop brake, not here.
    let plain = desk.cli(&["explain", "--article", &article]);
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.contains("Outcome:  a new ticket"), "{text}");
    assert!(text.contains("Sends:    auto_reply to"), "{text}");
    assert!(text.contains("nothing was written"), "{text}");
    let status = desk.status();
    assert_eq!(status["tickets"], 1);
    assert_eq!(status["receipts"], 1);

    // `ticket show` prints the classification.
    let out = desk.cli(&["ticket", "show", &number]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("priority 3  (urgency 3, impact 3)"), "{text}");
    assert_eq!(show["urgency"], 3);
    assert_eq!(show["impact"], 3);

    // Wrong arguments say what is wrong.
    assert_eq!(
        desk.cli(&["explain", "--article", "999"]).status.code(),
        Some(66)
    );
    let out = desk.cli(&["explain", "--mailbox", "nope", "-"]);
    assert_eq!(out.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(there are: support)"));
    assert_eq!(desk.cli(&["explain"]).status.code(), Some(64));
}

#[test]
fn explain_names_a_mail_that_cannot_be_parsed() {
    let desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    let out = desk.cli_stdin(&["explain", "--json", "-"], b"no header block at all\r\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["plan"]["disposition"]["action"], "quarantine");
    assert_eq!(e["mail"], Value::Null);
}

/// One mail to both support addresses, its copies delivered one at a time
/// so that each order of fetching happens: the queue is the first support
/// address's in To, whichever copy came first.
#[test]
fn one_mail_to_two_support_addresses_goes_to_the_first_in_to_whichever_copy_comes_first() {
    let mut desk = Desk::new(DeskOptions {
        second_mailbox: true,
        ..Default::default()
    });
    desk.start();
    let customer = desk.customer("carla");
    // (To header order, the address whose copy is delivered first,
    // the queue expected)
    let cases = [
        (vec![&desk.support2, &desk.support], &desk.support, "sales"),
        (
            vec![&desk.support, &desk.support2],
            &desk.support2,
            "support",
        ),
    ];
    for (i, (to, first, queue)) in cases.iter().enumerate() {
        let second = if *first == &desk.support {
            &desk.support2
        } else {
            &desk.support
        };
        let to: Vec<&str> = to.iter().map(|s| s.as_str()).collect();
        let mail = format!(
            "From: {customer}\r\nTo: {}\r\nSubject: Both of you {i}\r\nMessage-ID: <both{i}-{}@customer.test>\r\n\r\nHello both.\r\n",
            to.join(", "),
            desk.id
        );
        smtp_send(&customer, &[first], mail.as_bytes());
        let tickets = desk.wait_tickets(i + 1, 30);
        assert_eq!(tickets[0]["queue"], *queue, "case {i}: first copy");
        smtp_send(&customer, &[second], mail.as_bytes());
        wait_for(30, "the second copy recorded as a duplicate", || {
            (desk.status()["receipts_by_status"]["duplicate"].as_u64() == Some(i as u64 + 1))
                .then_some(())
        });
        let tickets = desk.tickets();
        assert_eq!(tickets.len(), i + 1, "case {i}: one ticket per mail");
        assert_eq!(tickets[0]["queue"], *queue, "case {i}");
    }
    assert_eq!(desk.stop(), Some(0));
}
