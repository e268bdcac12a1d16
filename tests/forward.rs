//! An agent forwards a customer's mail to the support address, on the
//! real stack (issue 11, items 6 and 12): authenticated by our MTA's
//! Authentication-Results, the forward — inline or attached — becomes the
//! customer's ticket, the agent's lines an internal note, and the
//! customer's later reply to their original mail threads into it; without
//! that proof the forward is an ordinary mail of the agent's and never
//! impersonates the quoted sender.

mod common;

use common::*;
use serde_json::Value;

const MTA: &str = "mx.support.test";

/// A running desk believing our MTA's Authentication-Results, whose queue
/// `support` belongs to group `staff`, worked by alice. Returns (desk,
/// alice).
fn desk_with_agent() -> (Desk, String) {
    let (mut desk, alice) = agent_desk(DeskOptions::default());
    desk.start();
    (desk, alice)
}

/// A desk (not started) whose agent alice (returned) has rw on queue
/// support's group, and which trusts the MTA's authentication results.
fn agent_desk(options: DeskOptions) -> (Desk, String) {
    let desk = Desk::new(options);
    let mut text = std::fs::read_to_string(&desk.config).unwrap();
    text.push_str(&format!("\n[auth]\nauthserv_id = [{MTA:?}]\n"));
    std::fs::write(&desk.config, text).unwrap();
    let alice = format!("alice-{}@support.test", desk.id);
    ok(&desk, &["group", "add", "staff"]);
    ok(&desk, &["agent", "add", "alice", "--address", &alice]);
    ok(&desk, &["agent", "link", "alice", "--group", "staff"]);
    ok(
        &desk,
        &[
            "queue", "add", "support", "--group", "staff", "--notify", "group",
        ],
    );
    (desk, alice)
}

fn show(desk: &Desk, number: &str) -> Value {
    desk.json(&["ticket", "show", number, "--json"])
}

/// The `forwarded` rows of a ticket's history: actor kind, actor, new.
fn forwards(desk: &Desk, number: &str) -> Vec<(String, String, String)> {
    let history = desk.json(&["ticket", "history", number, "--json"]);
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    history["history"]
        .as_array()
        .expect("ticket history --json lists rows")
        .iter()
        .filter(|h| h["field"] == "forwarded")
        .map(|h| (s(&h["actor_kind"]), s(&h["actor"]), s(&h["new"])))
        .collect()
}

fn articles(t: &Value) -> Vec<Value> {
    t["articles"].as_array().unwrap().clone()
}

/// The ticket whose customer is `customer`, once it exists.
fn ticket_of(desk: &Desk, customer: &str) -> Value {
    let number = wait_for(30, &format!("{customer}'s ticket"), || {
        desk.tickets()
            .into_iter()
            .find(|t| t["customer"] == customer)
            .map(|t| t["number"].as_str().unwrap().to_string())
    });
    show(desk, &number)
}

/// Alice's inline forward (Gmail) of `customer`'s mail; `auth`: the
/// Authentication-Results header line, or "".
fn inline_forward(desk: &Desk, alice: &str, customer: &str, auth: &str) -> Vec<u8> {
    format!(
        "{auth}From: Alice Martin <{alice}>\r\nTo: <{support}>\r\nSubject: Fwd: Printer on fire\r\n\
         Message-ID: <fwd-inline-{id}@support.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         VIP customer, she called too.\r\n\r\n\
         ---------- Forwarded message ---------\r\n\
         From: Ana Souza <{customer}>\r\n\
         Date: Mon, 30 Nov 2026 at 10:00\r\n\
         Subject: Printer on fire\r\n\
         To: Alice Martin <{alice}>\r\n\r\n\
         It does not print, and it smokes.\r\n",
        support = desk.support,
        id = desk.id
    )
    .into_bytes()
}

#[test]
fn authenticated_agents_forwards_are_the_customers_tickets_and_their_replies_thread() {
    let (mut desk, alice) = desk_with_agent();
    let auth = format!("Authentication-Results: {MTA}; dkim=pass header.d=support.test\r\n");

    // Inline: the ticket is ana's, alice's lines an internal note.
    let ana = desk.customer("ana");
    smtp_send(
        &alice,
        &[&desk.support],
        &inline_forward(&desk, &alice, &ana, &auth),
    );
    let t = ticket_of(&desk, &ana);
    assert_eq!(t["subject"], "Printer on fire");
    assert_eq!(t["customer_name"], "Ana Souza");
    let a = articles(&t);
    let customer = a
        .iter()
        .find(|x| x["direction"] == "in" && x["kind"] == "customer")
        .expect("the customer's article");
    assert_eq!(customer["from"].as_str().unwrap(), ana);
    assert!(customer["text"]
        .as_str()
        .unwrap()
        .contains("It does not print, and it smokes."));
    assert_eq!(customer["internal"], false);
    let note = a
        .iter()
        .find(|x| x["kind"] == "agent_note")
        .expect("alice's note");
    assert_eq!(note["internal"], true);
    assert_eq!(note["from"].as_str().unwrap(), alice);
    assert_eq!(note["text"], "VIP customer, she called too.");
    // The ticket's history says who forwarded whose mail.
    assert_eq!(
        forwards(&desk, t["number"].as_str().unwrap()),
        [("agent".to_string(), "alice".to_string(), ana.clone())]
    );
    // Ana gets the new ticket's auto-reply (forward_auto_reply defaults
    // to on); alice none.
    let mails = wait_for_mail(&ana, "INBOX", 1, 30);
    assert!(subject(&mails[0]).contains(t["number"].as_str().unwrap()));
    // Nothing to alice: no auto-reply, and no alert of the ticket she made.
    desk.wait_sent(1, 30);
    assert!(imap_messages(&alice, "INBOX").is_empty());
    let out: Vec<_> = a.iter().filter(|x| x["direction"] == "out").collect();
    for o in &out {
        if o["kind"] == "auto_reply" {
            assert_eq!(o["to"], serde_json::json!([ana]), "{o}");
        }
    }

    // Attached (message/rfc822): carl's mail with its Message-ID and
    // attachment; carl's later reply to it, untagged, threads in.
    let carl = desk.customer("carl");
    let original_id = format!("orig-{}@customer.test", desk.id);
    let original = format!(
        "From: Carl Weber <{carl}>\r\nTo: <{alice}>\r\nSubject: Scanner jammed\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{original_id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=I\r\n\r\n\
         --I\r\nContent-Type: text/plain\r\n\r\nThe scanner is jammed.\r\n\
         --I\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=jam.png\r\n\
         Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--I--\r\n"
    );
    let fwd = format!(
        "{auth}From: Alice Martin <{alice}>\r\nTo: <{support}>\r\nSubject: Fwd: Scanner jammed\r\n\
         Message-ID: <fwd-attached-{id}@support.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=O\r\n\r\n\
         --O\r\nContent-Type: text/plain\r\n\r\nHe sent it to me directly.\r\n\
         --O\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=scanner.eml\r\n\r\n\
         {original}\r\n--O--\r\n",
        support = desk.support,
        id = desk.id
    );
    smtp_send(&alice, &[&desk.support], fwd.as_bytes());
    let t = ticket_of(&desk, &carl);
    let number = t["number"].as_str().unwrap().to_string();
    assert_eq!(t["subject"], "Scanner jammed");
    let a = articles(&t);
    let customer = a.iter().find(|x| x["kind"] == "customer").unwrap();
    assert_eq!(customer["message_id"], original_id.as_str());
    assert_eq!(customer["attachments"][0]["filename"], "jam.png");
    assert!(customer["text"]
        .as_str()
        .unwrap()
        .contains("The scanner is jammed."));
    let note = a.iter().find(|x| x["kind"] == "agent_note").unwrap();
    assert_eq!(note["internal"], true);
    assert_eq!(note["text"], "He sent it to me directly.");

    let reply = format!(
        "From: Carl Weber <{carl}>\r\nTo: <{support}>\r\nSubject: Re: Scanner jammed\r\n\
         Message-ID: <carl-2-{id}@customer.test>\r\nIn-Reply-To: <{original_id}>\r\n\
         References: <{original_id}>\r\n\r\nStill jammed this morning.\r\n",
        support = desk.support,
        id = desk.id
    );
    smtp_send(&carl, &[&desk.support], reply.as_bytes());
    // explain shows the decision (on another copy: this one is taken in).
    let again = fwd.replace("fwd-attached-", "fwd-again-");
    let plain = desk.cli_stdin(&["explain", "-"], again.as_bytes());
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(
        plain.contains(&format!(
            "Forward:  forward by agent alice of {carl}'s mail (attached as message/rfc822)"
        )),
        "{plain}"
    );
    let inbound = wait_for(30, "carl's reply on his ticket", || {
        let a: Vec<Value> = articles(&show(&desk, &number))
            .into_iter()
            .filter(|x| x["direction"] == "in")
            .collect();
        (a.len() == 3).then_some(a)
    });
    assert!(inbound[2]["text"]
        .as_str()
        .unwrap()
        .contains("Still jammed this morning."));
    assert_eq!(inbound[2]["kind"], "customer");
    assert_eq!(inbound[2]["unverified"], Value::Null, "{}", inbound[2]);
    assert_eq!(desk.tickets().len(), 2, "no third ticket");

    // A forward whose subject carries the ticket's tag is added to it.
    let tagged = format!(
        "{auth}From: Alice Martin <{alice}>\r\nTo: <{support}>\r\n\
         Subject: Fwd: [Ticket#{number}] Scanner jammed\r\nMessage-ID: <fwd-tagged-{id}@support.test>\r\n\r\n\
         He called again.\r\n\r\n---------- Forwarded message ---------\r\n\
         From: Carl Weber <{carl}>\r\nSubject: Scanner\r\n\r\nNow it smokes too.\r\n",
        support = desk.support,
        id = desk.id
    );
    smtp_send(&alice, &[&desk.support], tagged.as_bytes());
    let inbound = wait_for(30, "the tagged forward on carl's ticket", || {
        let a: Vec<Value> = articles(&show(&desk, &number))
            .into_iter()
            .filter(|x| x["direction"] == "in")
            .collect();
        (a.len() == 5).then_some(a)
    });
    assert_eq!(inbound[3]["kind"], "customer");
    assert_eq!(inbound[3]["from"].as_str().unwrap(), carl);
    assert!(inbound[3]["text"]
        .as_str()
        .unwrap()
        .contains("Now it smokes too."));
    assert_eq!(inbound[4]["kind"], "agent_note");
    assert_eq!(inbound[4]["internal"], true);
    assert_eq!(desk.tickets().len(), 2, "no third ticket");
    // Both forwards are in carl's ticket's history.
    let by_alice = ("agent".to_string(), "alice".to_string(), carl.clone());
    assert_eq!(forwards(&desk, &number), [by_alice.clone(), by_alice]);
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn unauthenticated_forward_does_not_impersonate_the_quoted_sender() {
    let (mut desk, alice) = desk_with_agent();
    let ana = desk.customer("ana");
    // A foreign MTA's header proves nothing.
    let forged = inline_forward(
        &desk,
        &alice,
        &ana,
        "Authentication-Results: mx.evil.test; dkim=pass header.d=support.test\r\n",
    );
    smtp_send(&alice, &[&desk.support], &forged);
    let t = ticket_of(&desk, &alice);
    assert!(desk.tickets().iter().all(|x| x["customer"] != ana.as_str()));
    let participants = t["participants"].as_array().unwrap();
    assert!(
        participants.iter().all(|p| p["address"] != ana.as_str()),
        "{participants:?}"
    );
    let a = articles(&t);
    assert!(a.iter().all(|x| x["kind"] != "agent_note"), "{a:?}");
    assert!(a.iter().all(|x| x["direction"] != "out"
        || x["to"]
            .as_array()
            .unwrap()
            .iter()
            .all(|to| to != ana.as_str())));
    // explain says why.
    let out = desk.cli_stdin(&["explain", "--json", "-"], &forged);
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    let trace = e["plan"]["trace"].to_string();
    assert!(trace.contains("not honoured"), "{trace}");
    assert!(trace.contains("is not taken as its sender"), "{trace}");
    assert_eq!(e["plan"]["forward"], Value::Null);
    assert_eq!(desk.stop(), Some(0));
    assert!(imap_messages(&ana, "INBOX").is_empty());
}

#[test]
fn quarantine_release_of_an_agents_forward_treated_it_as_the_agents_own_mail() {
    // Regression: a released forward became alice's ticket, the
    // customer's mail her text.
    let (desk, alice) = agent_desk(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    // The shipped spam rule holds the forward: X-Spam-Flag: YES.
    let rules = desk.path().join("rules-spam");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/10-spam.toml"),
        rules.join("10-spam.toml"),
    )
    .unwrap();
    desk.use_rules(&rules);
    let ana = desk.customer("ana");
    let auth = format!(
        "X-Spam-Flag: YES\r\nAuthentication-Results: {MTA}; dkim=pass header.d=support.test\r\n"
    );
    let out = desk.cli_stdin(
        &["ingest", "--mailbox", "support", "--json"],
        &inline_forward(&desk, &alice, &ana, &auth),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "quarantined", "{v}");
    let q = v["id"].to_string();

    let v = desk.json(&["quarantine", "release", &q, "--as-new", "--json"]);
    assert_eq!(v["result"]["outcome"], "created", "{v}");
    let number = v["result"]["ticket"].as_str().unwrap();
    let t = show(&desk, number);
    assert_eq!(t["customer"], ana.as_str());
    assert_eq!(t["subject"], "Printer on fire");
    let a = articles(&t);
    let customer = a.iter().find(|x| x["kind"] == "customer").unwrap();
    assert_eq!(customer["from"].as_str().unwrap(), ana);
    let note = a.iter().find(|x| x["kind"] == "agent_note").unwrap();
    assert_eq!(note["internal"], true);
    assert_eq!(note["text"], "VIP customer, she called too.");
    let by_alice = ("agent".to_string(), "alice".to_string(), ana.clone());
    assert_eq!(forwards(&desk, number), std::slice::from_ref(&by_alice));

    // Released onto a ticket, another held forward is added to it as a
    // forward: the customer's article and alice's note.
    let again = String::from_utf8(inline_forward(&desk, &alice, &ana, &auth))
        .unwrap()
        .replace("fwd-inline-", "fwd-again-");
    let out = desk.cli_stdin(
        &["ingest", "--mailbox", "support", "--json"],
        again.as_bytes(),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "quarantined", "{v}");
    let q = v["id"].to_string();
    let v = desk.json(&["quarantine", "release", &q, "--ticket", number, "--json"]);
    assert_eq!(v["result"]["outcome"], "follow_up", "{v}");
    let a = articles(&show(&desk, number));
    let kinds: Vec<&str> = (a.iter())
        .filter(|x| x["direction"] == "in")
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["customer", "agent_note", "customer", "agent_note"],
        "{a:?}"
    );
    assert_eq!(forwards(&desk, number), [by_alice.clone(), by_alice]);
}
