//! Relations between tickets over the real mail stack (issue 11, items 7,
//! 8 and 12): after `ticket merge`, the merged ticket's requester gets the
//! new number and their reply to the old number lands in the new ticket;
//! links show on both tickets; resolving a problem tells its incidents'
//! requesters; a transfer's mail reaches the other helpdesk's mailbox and
//! its answer threads back into the ticket and alerts the agents.

mod common;

use common::*;
use serde_json::Value;

fn show(desk: &Desk, number: &str) -> Value {
    desk.json(&["ticket", "show", number, "--json"])
}

/// The mail in `user`'s inbox whose subject contains all of `words`.
fn wait_mail_with(user: &str, words: &[&str], secs: u64) -> Vec<u8> {
    wait_for(secs, &format!("mail to {user} with {words:?}"), || {
        imap_messages(user, "INBOX")
            .into_iter()
            .find(|m| words.iter().all(|w| subject(m).contains(w)))
    })
}

/// A started desk with two tickets: ana's (returned first) and bob's.
fn desk_with_two_tickets(rules: Option<&str>) -> (Desk, String, String, String, String) {
    let mut desk = Desk::new(DeskOptions {
        agent_alert_limit: 1000,
        ..Default::default()
    });
    if let Some(text) = rules {
        let dir = desk.path().join("my-rules");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("10-test.toml"), text).unwrap();
        desk.use_rules(&dir);
    }
    desk.start();
    let (ana, bob) = (desk.customer("ana"), desk.customer("bob"));
    smtp_send(
        &ana,
        &[&desk.support],
        &desk.mail(&ana, "Printer", "a1", "It does not print."),
    );
    let first = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    smtp_send(
        &bob,
        &[&desk.support],
        &desk.mail(&bob, "Every printer down", "b1", "Nothing prints."),
    );
    let second = wait_for(30, "bob's ticket", || {
        desk.tickets()
            .iter()
            .map(|t| t["number"].as_str().unwrap().to_string())
            .find(|n| *n != first)
    });
    (desk, ana, bob, first, second)
}

#[test]
fn after_a_merge_a_reply_to_the_old_number_lands_in_the_new_ticket() {
    let (desk, ana, _bob, a, b) = desk_with_two_tickets(None);
    let done = desk.json(&["ticket", "merge", &a, "--into", &b, "--json"]);
    assert_eq!(done["ticket"], a.as_str());
    assert!(done["done"].as_str().unwrap().contains(&b));

    // Ana is told the new number, from the support address.
    let merged = wait_mail_with(&ana, &[&format!("[Ticket#{b}]")], 60);
    let text = String::from_utf8_lossy(&merged).into_owned();
    assert!(text.contains(&a) && text.contains(&b), "{text}");
    assert!(header(&merged, "From").unwrap().contains(&desk.support));

    // Her reply quoting the old number lands in the new ticket.
    smtp_send(
        &ana,
        &[&desk.support],
        &desk.mail(
            &ana,
            &format!("Re: [Ticket#{a}] Printer"),
            "a2",
            "Still broken.",
        ),
    );
    let t = wait_for(60, "ana's reply in the new ticket", || {
        let t = show(&desk, &b);
        let arts = t["articles"].as_array().unwrap().clone();
        arts.iter()
            .any(|x| {
                x["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Still broken")
            })
            .then_some(t)
    });
    // Both tickets' mail is in the new ticket, ana among its people.
    let texts: Vec<String> = t["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        texts.iter().any(|x| x.contains("It does not print")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|x| x.contains("Nothing prints")),
        "{texts:?}"
    );
    assert!(t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["address"] == ana.as_str()));
    // And a reply answering her first mail, without any number, too.
    let answer = format!(
        "From: Customer <{ana}>\r\nTo: {}\r\nSubject: Re: Printer\r\n\
         Message-ID: <a3-{id}@customer.test>\r\nIn-Reply-To: <a1-{id}@customer.test>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nAnd the toner.\r\n",
        desk.support,
        id = desk.id
    );
    smtp_send(&ana, &[&desk.support], answer.as_bytes());
    wait_for(60, "ana's untagged reply in the new ticket", || {
        show(&desk, &b)["articles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["text"].as_str().unwrap_or_default().contains("toner"))
            .then_some(())
    });
    assert_eq!(desk.tickets().len(), 2, "no new ticket");
    let old = show(&desk, &a);
    assert_eq!(old["merged_into"], b.as_str());
    assert!(old["articles"].as_array().unwrap().is_empty());
    let history = |t: &Value, field: &str| {
        t["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["field"] == field)
    };
    assert!(history(&old, "merged_into") && history(&t, "merged_from"));

    // Refused: into itself, an unknown ticket, an unknown agent.
    let code = |args: &[&str]| desk.cli(args).status.code();
    assert_eq!(code(&["ticket", "merge", &b, "--into", &a]), Some(65));
    let unknown = (0..100)
        .map(|i| format!("{}{i:02}", &b[..b.len() - 2]))
        .find(|n| postdesk::threading::is_valid(n) && *n != a && *n != b)
        .unwrap();
    assert_eq!(code(&["ticket", "merge", &b, "--into", &unknown]), Some(66));
    assert_eq!(
        code(&["ticket", "merge", &b, "--into", &a, "--as", "nobody"]),
        Some(66)
    );
}

#[test]
fn links_show_on_both_tickets() {
    let (desk, _ana, _bob, a, b) = desk_with_two_tickets(None);
    let said = ok(&desk, &["ticket", "link", &a, "--problem", &b]);
    assert!(
        said.contains(&format!("{a} is an incident of problem {b}")),
        "{said}"
    );
    let role = |n: &str| -> Vec<(String, String)> {
        show(&desk, n)["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["role"].as_str().unwrap().to_string(),
                    l["number"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(role(&a), vec![("problem".to_string(), b.clone())]);
    assert_eq!(role(&b), vec![("incident".to_string(), a.clone())]);
    ok(&desk, &["ticket", "link", &b, "--child", &a]);
    assert!(role(&a).contains(&("parent".to_string(), b.clone())));
    assert!(role(&b).contains(&("child".to_string(), a.clone())));
    let plain = ok(&desk, &["ticket", "show", &b]);
    assert!(
        plain.contains("Links:") && plain.contains(&format!("incident {a}")),
        "{plain}"
    );
    ok(&desk, &["ticket", "link", &a, "--problem", &b, "--remove"]);
    ok(&desk, &["ticket", "link", &b, "--child", &a, "--remove"]);
    assert!(role(&a).is_empty() && role(&b).is_empty());
    assert_eq!(
        desk.cli(&["ticket", "link", &a, "--related", &a])
            .status
            .code(),
        Some(65)
    );
    assert_eq!(desk.cli(&["ticket", "link", &a]).status.code(), Some(64));
    // An agent needs rw on the queue's group (here: none in the directory).
    let alice = format!("alice-{}@support.test", desk.id);
    ok(&desk, &["agent", "add", "alice", "--address", &alice]);
    let out = desk.cli(&[
        "ticket",
        "link",
        &a,
        "--related",
        &b,
        "--as",
        &alice,
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(77),
        "{}",
        String::from_utf8_lossy(&[out.stdout.clone(), out.stderr.clone()].concat())
    );
    assert!(role(&a).is_empty());
}

const RESOLVE_RULE: &str = r#"
[[rule]]
name = "resolve on request"
when = { subject = { contains = "RESOLVED" } }
actions = { state = "resolved" }
"#;

#[test]
fn resolving_a_problem_tells_the_requesters_of_its_incidents() {
    let (desk, ana, bob, a, b) = desk_with_two_tickets(Some(RESOLVE_RULE));
    ok(&desk, &["ticket", "link", &a, "--problem", &b]);
    // Bob's ticket, the problem, is resolved (a rule sets the state).
    smtp_send(
        &bob,
        &[&desk.support],
        &desk.mail(&bob, &format!("Re: [Ticket#{b}] RESOLVED"), "b2", "Fixed."),
    );
    // (In ana's ticket's language, whichever the detection chose.)
    wait_for(60, "linked_resolved to ana", || {
        imap_messages(&ana, "INBOX").into_iter().find(|m| {
            subject(m).contains(&format!("[Ticket#{a}]")) && String::from_utf8_lossy(m).contains(&b)
        })
    });
    assert_eq!(show(&desk, &b)["state"], "resolved");
}

#[test]
fn a_transfer_reaches_the_other_helpdesk_and_its_answer_comes_back() {
    let (desk, _ana, _bob, a, _b) = desk_with_two_tickets(None);
    let vendor = desk.customer("vendor");
    let said = ok(&desk, &["ticket", "transfer", &a, "--to", &vendor]);
    // The operator's action is an agent's first: posted → open → transferred.
    assert!(said.contains("→ transferred"), "{said}");
    let sent = wait_mail_with(&vendor, &[&format!("[Ticket#{a}]")], 60);
    let text = String::from_utf8_lossy(&sent).into_owned();
    assert!(text.contains("It does not print"), "{text}");
    assert!(header(&sent, "From").unwrap().contains(&desk.support));
    let ours = header(&sent, "Message-ID").unwrap();
    let t = show(&desk, &a);
    assert_eq!(t["state"], "transferred");
    // The CLI goes through the mail pipeline's stages: the customer hears
    // of the move (the lifecycle's state notice).
    assert!(
        t["articles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "state_changed"),
        "{t}"
    );
    assert!(t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["address"] == vendor.as_str() && p["role"] == "transfer"));

    // Their answer, replying to our mail, comes back into the ticket.
    let alerts_before = imap_messages(&desk.agents, "INBOX").len();
    let answer = format!(
        "From: Vendor <{vendor}>\r\nTo: {}\r\nSubject: Re: [Ticket#{a}] Transferred to you\r\n\
         Message-ID: <v1-{}@customer.test>\r\nIn-Reply-To: {ours}\r\nReferences: {ours}\r\n\
         Date: Sun, 22 Nov 2026 11:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         We replaced the fuser.\r\n",
        desk.support, desk.id
    );
    smtp_send(&vendor, &[&desk.support], answer.as_bytes());
    wait_for(60, "the vendor's answer on the ticket", || {
        show(&desk, &a)["articles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| {
                x["from"] == vendor.as_str()
                    && x["text"].as_str().unwrap_or_default().contains("fuser")
                    && x["unverified"].is_null()
            })
            .then_some(())
    });
    // The agents are alerted, and no new ticket was made.
    wait_for(60, "the agents' alert", || {
        imap_messages(&desk.agents, "INBOX")
            .iter()
            .skip(alerts_before)
            .any(|m| subject(m).contains(&a))
            .then_some(())
    });
    assert_eq!(desk.tickets().len(), 2);
}

#[test]
fn an_agents_link_command_finds_the_other_ticket_in_the_facts() {
    let (desk, _ana, _bob, a, b) = desk_with_two_tickets(None);
    let alice = format!("alice-{}@support.test", desk.id);
    ok(&desk, &["group", "add", "staff"]);
    ok(&desk, &["agent", "add", "alice", "--address", &alice]);
    ok(&desk, &["agent", "link", "alice", "--group", "staff"]);
    // A merged ticket is followed: the command names the old number.
    ok(&desk, &["ticket", "merge", &b, "--into", &a]);
    let file = desk.path().join("merge.eml");
    std::fs::write(
        &file,
        format!(
            "From: Alice <{alice}>\r\nTo: {}\r\nSubject: Re: [Ticket#{a}] Printer\r\n\
             Message-ID: <m-{}@support.test>\r\n\r\n#link related [Ticket#{b}]\r\n\r\nSee there.\r\n",
            desk.support, desk.id
        ),
    )
    .unwrap();
    let e = desk.json(&["explain", "--json", file.to_str().unwrap()]);
    let others = &e["facts"]["relations"]["others"];
    assert_eq!(others[0]["typed"], b.as_str(), "{e}");
    assert_eq!(others[0]["found"]["ticket"]["number"], a.as_str());
    assert_eq!(others[0]["found"]["merged_via"][0], b.as_str());
}
