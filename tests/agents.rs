//! Agents working from their mail client, on the real stack (issue 11,
//! items 3 and 4; issue 8, item 6): an agent's reply through the reply
//! address of their alert reaches the customer's mailbox, threaded to the
//! customer's mail, without quoted history or command lines; an internal
//! note reaches the other agents and never the customer; an "agent" reply
//! with a forged From (no token, no trusted header) relays nothing, nor
//! one vouched for by a foreign MTA, while our MTA's aligned dkim=pass
//! empowers a reply sent to the plain support address.

mod common;

use common::*;
use serde_json::Value;

/// A desk whose queue `support` belongs to group `staff`, worked by alice
/// and bert (the agents' alerts go to both), with a ticket opened by ana.
/// Returns (desk, ana, alice, bert, the ticket number).
fn desk_with_ticket() -> (Desk, String, String, String, String) {
    desk_with_ticket_trusting(None)
}

/// As [`desk_with_ticket`], believing the Authentication-Results of
/// `our_mta` if given.
fn desk_with_ticket_trusting(our_mta: Option<&str>) -> (Desk, String, String, String, String) {
    let config = our_mta
        .map(|mta| format!("\n[auth]\nauthserv_id = [{mta:?}]\n"))
        .unwrap_or_default();
    let (desk, ana, alice, bert) =
        staffed_desk(DeskOptions::default(), &config, "It does not print.");
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    (desk, ana, alice, bert, number)
}

fn show(desk: &Desk, number: &str) -> Value {
    desk.json(&["ticket", "show", number, "--json"])
}

/// The ticket's articles of `direction`.
fn articles(desk: &Desk, number: &str, direction: &str) -> Vec<Value> {
    show(desk, number)["articles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["direction"] == direction)
        .cloned()
        .collect()
}

fn body(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    text.split_once("\n\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn agent_reply_reaches_the_customer_threaded_and_a_note_only_the_other_agents() {
    let (mut desk, ana, alice, bert, number) = desk_with_ticket();
    // Ana has her auto-reply; alice her alert, with her reply address.
    wait_for_mail(&ana, "INBOX", 1, 30);
    let alert = wait_for_mail(&alice, "INBOX", 1, 30).remove(0);
    wait_for_mail(&bert, "INBOX", 1, 30);
    let reply_to = angle_address(&header(&alert, "Reply-To").expect("the alert has a Reply-To"));
    let alert_id = header(&alert, "Message-ID").unwrap();

    // Alice answers from her mail client: a command, her text, the quote.
    let reply = format!(
        "From: Alice Martin <{alice}>\r\nTo: <{reply_to}>\r\nSubject: Re: [Ticket#{number}] Printer\r\n\
         Message-ID: <reply-{id}@support.test>\r\nIn-Reply-To: {alert_id}\r\n\r\n\
         #priority 2\r\n\r\nThe driver is fixed, please try again.\r\n\r\n\
         > It does not print.\r\n> (quoted history)\r\n",
        id = desk.id
    );
    smtp_send(&alice, &[&reply_to], reply.as_bytes());
    let mails = wait_for_mail(&ana, "INBOX", 2, 30);
    let relayed = mails
        .iter()
        .find(|m| body(m).contains("The driver is fixed"))
        .expect("the agent's reply reached the customer");
    let text = body(relayed);
    assert!(!text.contains("#priority"), "{text}");
    assert!(!text.contains("quoted history"), "{text}");
    let from = header(relayed, "From").unwrap();
    assert!(from.contains("Alice Martin via"), "{from}");
    assert!(from.contains(&desk.support), "{from}");
    assert!(subject(relayed).contains(&format!("[Ticket#{number}]")));
    let customer_id = format!("p1-{}@customer.test", desk.id);
    assert!(
        header(relayed, "In-Reply-To")
            .unwrap()
            .contains(&customer_id),
        "threaded to the customer's mail"
    );
    assert!(header(relayed, "References")
        .unwrap()
        .contains(&customer_id));
    assert_eq!(header(relayed, "Auto-Submitted"), None);

    // On the ticket: the reply, assigned to alice, open; no agents' alert
    // and no auto-reply for it.
    let t = show(&desk, &number);
    assert_eq!(t["assigned_agent"], "alice", "{t}");
    assert_eq!(t["state"], "open", "{t}");
    let inbound = articles(&desk, &number, "in");
    assert_eq!(inbound[1]["kind"], "agent_reply", "{inbound:?}");
    assert_eq!(inbound[1]["unverified"], Value::Null);
    let kinds = |d: &Desk| -> Vec<String> {
        articles(d, &number, "out")
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        kinds(&desk),
        [
            "auto_reply",
            "agent_new_ticket",
            "agent_new_ticket",
            // Alice's `#priority 2`: her transcript, internal.
            "command_transcript",
            "agent_reply"
        ]
    );

    // An internal note by alice: bert gets it, ana never does.
    let note = reply.replace("reply-", "note-").replace(
        "#priority 2\r\n\r\nThe driver is fixed, please try again.",
        "#note\r\nShe is a VIP, keep her posted.",
    );
    smtp_send(&alice, &[&reply_to], note.as_bytes());
    let to_bert = wait_for_mail(&bert, "INBOX", 2, 30);
    assert!(
        to_bert
            .iter()
            .any(|m| body(m).contains("She is a VIP, keep her posted.")),
        "the note reached the other agent"
    );
    let inbound = articles(&desk, &number, "in");
    assert_eq!(inbound[2]["kind"], "agent_note");
    assert_eq!(inbound[2]["internal"], true);
    let out = articles(&desk, &number, "out");
    let last = out.last().unwrap();
    assert_eq!(
        (&last["kind"], &last["internal"]),
        (&Value::from("agent_note"), &Value::from(true))
    );
    assert_eq!(last["to"], serde_json::json!([bert]));
    // The note was queued with the same commit as any mail to ana would
    // have been: ana still has her two mails, none of them the note.
    let ana_mail = imap_messages(&ana, "INBOX");
    assert_eq!(ana_mail.len(), 2);
    assert!(ana_mail.iter().all(|m| !body(m).contains("VIP")));
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn unauthenticated_agent_reply_relays_nothing() {
    let (mut desk, ana, alice, _bert, number) = desk_with_ticket();
    wait_for_mail(&ana, "INBOX", 1, 30);
    // Alice's From, forged: to the plain support address, no token, no
    // Authentication-Results of our MTA.
    let forged = format!(
        "From: Alice Martin <{alice}>\r\nTo: <{support}>\r\nSubject: Re: [Ticket#{number}] Printer\r\n\
         Message-ID: <forged-{id}@evil.test>\r\n\r\nYour refund is ready: https://evil.test/\r\n",
        support = desk.support,
        id = desk.id
    );
    smtp_send(&ana, &[&desk.support], forged.as_bytes());
    let inbound = wait_for(30, "the forged mail on the ticket", || {
        let a = articles(&desk, &number, "in");
        (a.len() == 2).then_some(a)
    });
    assert_eq!(inbound[1]["kind"], "agent", "{inbound:?}");
    let unverified = inbound[1]["unverified"].as_str().unwrap_or_default();
    assert!(unverified.contains("agent powers refused"), "{unverified}");
    // Nothing relayed to the customer; the ticket is unchanged.
    let out = articles(&desk, &number, "out");
    assert!(out.iter().all(|a| a["kind"] != "agent_reply"), "{out:?}");
    let t = show(&desk, &number);
    assert_eq!(t["state"], "posted");
    assert_eq!(t["assigned_agent"], Value::Null);
    wait_for(30, "the warning in the log", || {
        desk.log()
            .lines()
            .find(|l| l.contains("WARN") && l.contains("agent powers refused"))
            .map(str::to_string)
    });
    assert_eq!(imap_messages(&ana, "INBOX").len(), 1);
    // explain shows the power decision and why.
    let out = desk.cli_stdin(&["explain", "--json", "-"], forged.as_bytes());
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["plan"]["agent"]["powers"]["granted"], false, "{e}");
    let plain = desk.cli_stdin(&["explain", "-"], forged.as_bytes());
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(
        plain.contains("Agent:    alice (NO powers): agent address"),
        "{plain}"
    );
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn agent_authenticated_by_our_mtas_header_replies_through_the_support_address() {
    let mta = "mx.support.test";
    let (mut desk, ana, alice, _bert, number) = desk_with_ticket_trusting(Some(mta));
    wait_for_mail(&ana, "INBOX", 1, 30);
    let reply = |auth: &str, id: &str, text: &str| {
        format!(
            "{auth}From: Alice Martin <{alice}>\r\nTo: <{support}>\r\n\
             Subject: Re: [Ticket#{number}] Printer\r\nMessage-ID: <{id}-{n}@support.test>\r\n\r\n{text}\r\n",
            support = desk.support,
            n = desk.id
        )
    };
    // A foreign MTA's header proves nothing: no powers, nothing relayed.
    let foreign = reply(
        "Authentication-Results: mx.evil.test; dkim=pass header.d=support.test\r\n",
        "foreign",
        "Refund ready.",
    );
    smtp_send(&alice, &[&desk.support], foreign.as_bytes());
    wait_for(30, "the foreign-header mail on the ticket", || {
        (articles(&desk, &number, "in").len() == 2).then_some(())
    });
    assert_eq!(articles(&desk, &number, "in")[1]["kind"], "agent");
    // Our MTA's aligned dkim=pass: the reply reaches ana.
    let ours = reply(
        &format!("Authentication-Results: {mta}; dkim=pass header.d=support.test\r\n"),
        "ours",
        "Your printer works again.",
    );
    smtp_send(&alice, &[&desk.support], ours.as_bytes());
    let mails = wait_for_mail(&ana, "INBOX", 2, 30);
    assert!(mails
        .iter()
        .any(|m| body(m).contains("Your printer works again.")));
    assert!(mails.iter().all(|m| !body(m).contains("Refund ready.")));
    assert_eq!(articles(&desk, &number, "in")[2]["kind"], "agent_reply");
    assert_eq!(show(&desk, &number)["assigned_agent"], "alice");
    assert_eq!(desk.stop(), Some(0));
}
