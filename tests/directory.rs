//! The directory (issue 8): `postdesk agent|group|queue|customer|
//! customer-user|service` and `directory apply|export` on a real
//! installation, and who may add to a ticket, over the real mail stack.

mod common;

use common::*;

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn directory_commands_add_show_update_link_and_remove() {
    let desk = Desk::new(DeskOptions::default());
    ok(
        &desk,
        &["group", "add", "support", "--comment", "first line"],
    );
    ok(&desk, &["group", "add", "sales"]);
    // Adding twice is refused with 65; a missing entry is 66.
    assert_eq!(code(&desk.cli(&["group", "add", "support"])), Some(65));
    assert_eq!(code(&desk.cli(&["group", "show", "nope"])), Some(66));
    let out = desk.cli(&[
        "agent",
        "add",
        "alice",
        "--address",
        "Alice@Example.com",
        "--json",
    ]);
    assert_eq!(
        code(&out),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["addresses"][0], "alice@example.com");
    ok(&desk, &["agent", "link", "alice", "--group", "support"]);
    ok(
        &desk,
        &[
            "agent", "link", "alice", "--group", "sales", "--access", "ro",
        ],
    );
    let a = desk.json(&["agent", "show", "alice", "--json"]);
    assert_eq!(a["rw"], serde_json::json!(["support"]));
    assert_eq!(a["ro"], serde_json::json!(["sales"]));
    // A link to a group that does not exist: 66, naming it.
    let out = desk.cli(&["agent", "link", "alice", "--group", "nope", "--json"]);
    assert_eq!(code(&out), Some(66));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(e["error"].as_str().unwrap().contains("\"nope\""), "{e}");
    // An agent without an address: 65.
    assert_eq!(code(&desk.cli(&["agent", "add", "bob"])), Some(65));
    ok(
        &desk,
        &[
            "queue", "add", "support", "--group", "support", "--notify", "group",
        ],
    );
    let q = ok(&desk, &["queue", "show", "support"]);
    assert!(q.contains("notify = \"group\""), "{q}");
    assert_eq!(
        code(&desk.cli(&["queue", "update", "support", "--notify", "nobody"])),
        Some(64)
    );
    ok(
        &desk,
        &["customer", "add", "ACME", "--domain", "acme.example"],
    );
    ok(&desk, &["service", "add", "Email::Outlook"]);
    ok(
        &desk,
        &[
            "customer-user",
            "add",
            "carol@acme.example",
            "--customer",
            "ACME",
            "--name",
            "Carol",
        ],
    );
    ok(
        &desk,
        &[
            "customer-user",
            "link",
            "carol@acme.example",
            "--group",
            "support",
        ],
    );
    ok(
        &desk,
        &[
            "customer-user",
            "link",
            "carol@acme.example",
            "--service",
            "Email::Outlook",
        ],
    );
    let u = desk.json(&["customer-user", "show", "carol@acme.example", "--json"]);
    assert_eq!(u["customer"], "ACME");
    assert_eq!(u["services"], serde_json::json!(["Email::Outlook"]));
    let list = desk.json(&["customer-user", "list", "--customer", "ACME", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let text = ok(&desk, &["agent", "list"]);
    assert!(text.starts_with("NAME") && text.contains("alice"), "{text}");
    // A group in use by a queue stays: 65, saying how to go on.
    let out = desk.cli(&["group", "remove", "support"]);
    assert_eq!(code(&out), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("queue update"));
    ok(&desk, &["queue", "remove", "support"]);
    ok(&desk, &["group", "remove", "support"]);
    ok(&desk, &["agent", "remove", "alice"]);
    assert_eq!(code(&desk.cli(&["agent", "remove", "alice"])), Some(66));
    for cmd in [
        "agent",
        "group",
        "queue",
        "customer",
        "customer-user",
        "service",
        "directory",
    ] {
        let help = ok(&desk, &[cmd, "--help"]);
        assert!(help.contains("Usage"), "{cmd}: {help}");
    }
}

#[test]
fn directory_apply_twice_changes_nothing_the_second_time() {
    let desk = Desk::new(DeskOptions::default());
    let file = desk.path().join("directory.toml");
    std::fs::write(
        &file,
        r#"
[[group]]
name = "support"

[[customer]]
name = "ACME"
domains = ["acme.example"]

[[agent]]
name = "alice"
addresses = ["alice@example.com"]
rw = ["support"]

[[queue]]
name = "support"
group = "support"
notify = "group"

[[customer_user]]
addresses = ["carol@acme.example"]
customer = "ACME"
rw = ["support"]
"#,
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let dry = ok(&desk, &["directory", "apply", f, "--dry-run"]);
    assert!(dry.contains("would add agent alice"), "{dry}");
    assert!(desk
        .json(&["agent", "list", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
    let first = desk.json(&["directory", "apply", f, "--json"]);
    assert_eq!(first["changes"].as_array().unwrap().len(), 5, "{first}");
    let second = desk.json(&["directory", "apply", f, "--json"]);
    assert_eq!(second["changes"], serde_json::json!([]), "{second}");
    assert!(ok(&desk, &["directory", "apply", f]).starts_with("no changes"));
    // What export writes, apply takes back unchanged.
    let exported = desk.path().join("exported.toml");
    std::fs::write(&exported, ok(&desk, &["directory", "export"])).unwrap();
    let again = desk.json(&[
        "directory",
        "apply",
        exported.to_str().unwrap(),
        "--prune",
        "--json",
    ]);
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
    // A bad file: 65, every problem named, nothing applied.
    std::fs::write(
        &file,
        "[[agent]]\nname = \"x\"\naddresses = [\"bad\"]\nrw = [\"nope\"]\n",
    )
    .unwrap();
    let out = desk.cli(&["directory", "apply", f]);
    assert_eq!(code(&out), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a mail address") && err.contains("no group named"),
        "{err}"
    );
    assert_eq!(
        code(&desk.cli(&["directory", "apply", "/nonexistent.toml"])),
        Some(66)
    );
}

/// Issue 8, item 9: over the real mail stack, with the daemon running.
/// A colleague of the requester with rw on the queue's group writes into
/// the ticket and becomes a requester; a colleague with read-only access
/// and a stranger who both quote the number get tickets of their own.
#[test]
fn colleague_with_rw_is_added_read_only_colleague_and_stranger_get_their_own_ticket() {
    let mut desk = Desk::new(DeskOptions::default());
    let requester = desk.customer("ana");
    let colleague = desk.customer("carl");
    let reader = desk.customer("rita");
    let stranger = desk.customer("sam");
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

[[customer_user]]
addresses = ["{requester}"]
customer = "ACME"
rw = ["staff"]

[[customer_user]]
addresses = ["{colleague}"]
customer = "ACME"
rw = ["staff"]

[[customer_user]]
addresses = ["{reader}"]
customer = "ACME"
ro = ["staff"]
"#
        ),
    )
    .unwrap();
    ok(&desk, &["directory", "apply", file.to_str().unwrap()]);
    desk.start();
    smtp_send(
        &requester,
        &[&desk.support],
        &desk.mail(&requester, "Printer on fire", "a", "it burns"),
    );
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let re = format!("Re: [Ticket#{number}] Printer on fire");
    let carl = desk.mail(&colleague, &re, "c", "I see it too");
    // explain shows the permission decision before the mail is taken in.
    let e = desk.cli_stdin(&["explain", "-"], &carl);
    let text = String::from_utf8_lossy(&e.stdout);
    assert!(
        text.contains("permission") && text.contains("added as a requester"),
        "{text}"
    );
    // And in JSON: the same decision in the plan's trace.
    let e = desk.cli_stdin(&["explain", "--json", "-"], &carl);
    let v: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    let said: Vec<&str> = v["plan"]["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["step"] == "permission")
        .map(|d| d["said"].as_str().unwrap())
        .collect();
    assert!(
        said.len() == 1 && said[0].contains("added as a requester"),
        "{v:#}"
    );
    smtp_send(&colleague, &[&desk.support], &carl);
    smtp_send(
        &reader,
        &[&desk.support],
        &desk.mail(&reader, &re, "r", "me too"),
    );
    smtp_send(
        &stranger,
        &[&desk.support],
        &desk.mail(&stranger, &re, "s", "details?"),
    );
    let tickets = desk.wait_tickets(3, 60);
    let customers: Vec<&str> = tickets
        .iter()
        .map(|t| t["customer"].as_str().unwrap())
        .collect();
    assert!(customers.contains(&reader.as_str()), "{customers:?}");
    assert!(customers.contains(&stranger.as_str()), "{customers:?}");
    let t = wait_for(60, "the colleague's follow-up", || {
        let t = desk.json(&["ticket", "show", &number, "--json"]);
        let inbound = t["articles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["direction"] == "in")
            .count();
        (inbound == 2).then_some(t)
    });
    let requesters: Vec<&str> = t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["role"] == "requester")
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    assert_eq!(requesters.len(), 2, "{requesters:?}");
    assert!(requesters.contains(&colleague.as_str()));
    let plain = ok(&desk, &["ticket", "show", &number]);
    assert!(
        plain.contains("Requesters:") && plain.contains(&colleague),
        "{plain}"
    );
    // The other two are on tickets of their own, each naming the number.
    for who in [&reader, &stranger] {
        let theirs = tickets
            .iter()
            .find(|t| t["customer"] == who.as_str())
            .unwrap();
        let show = desk.json(&[
            "ticket",
            "show",
            theirs["number"].as_str().unwrap(),
            "--json",
        ]);
        let note = show["articles"][0]["note"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            note.contains(&format!("quoted ticket {number}")),
            "{who}: {note}"
        );
    }
    // The stranger wrote to a queue of the directory: now a customer user.
    let sam = desk.json(&["customer-user", "show", &stranger, "--json"]);
    assert_eq!(sam["addresses"][0], stranger.as_str());
    assert_eq!(desk.stop(), Some(0));
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Issue 8, item 7: a phone ticket opened for a customer user is taken in
/// like their mail (the auto-reply with the number reaches them over the
/// real stack), assigned to the agent who took the call, and says so; the
/// queue's agents' alert goes to the rw members of its group.
#[test]
fn phone_ticket_is_opened_for_a_customer_user_and_answered_with_its_number() {
    let mut desk = Desk::new(DeskOptions::default());
    let carol = desk.customer("carol");
    // Alice works the queue: the agents' alerts go to its group's rw agents.
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
    ok(
        &desk,
        &["customer-user", "add", &carol, "--name", "Carol Caller"],
    );
    let args = |agent: &str| {
        vec![
            "ticket".to_string(),
            "create".into(),
            "--queue".into(),
            "support".into(),
            "--customer-user".into(),
            carol.clone(),
            "--subject".into(),
            "Printer on fire (by phone)".into(),
            "--body".into(),
            "Called at 10:00, the printer burns.".into(),
            "--agent".into(),
            agent.into(),
            "--json".into(),
        ]
    };
    // An agent the directory does not know: 66, nothing made.
    let bad = args("nobody@support.test");
    assert_eq!(code(&desk.cli(&refs(&bad))), Some(66));
    assert!(desk.tickets().is_empty());
    let good = args(&alice);
    let v = desk.json(&refs(&good));
    let number = v["ticket"].as_str().unwrap().to_string();
    assert_eq!(v["agent"], "alice");
    let t = desk.json(&["ticket", "show", &number, "--json"]);
    assert_eq!(t["assigned_agent"], "alice");
    assert_eq!(t["customer"], carol.as_str());
    assert_eq!(t["subject"], "Printer on fire (by phone)");
    let note = t["articles"][0]["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("phone ticket: opened by agent alice"),
        "{note}"
    );
    // Unknown queue or customer user: 66.
    let mut q = args(&alice);
    q[3] = "nope".into();
    assert_eq!(code(&desk.cli(&refs(&q))), Some(66));
    let mut u = args(&alice);
    u[5] = "stranger@customer.test".into();
    assert_eq!(code(&desk.cli(&refs(&u))), Some(66));
    // The daemon sends the usual auto-reply with the number.
    desk.start();
    let reply = wait_for_mail(&carol, "INBOX", 1, 30);
    assert_eq!(
        number_in(&subject(&reply[0])).as_deref(),
        Some(number.as_str())
    );
    let alert = wait_for_mail(&alice, "INBOX", 1, 30);
    assert_eq!(
        number_in(&subject(&alert[0])).as_deref(),
        Some(number.as_str())
    );
    // The configuration's agents' address is not used for this queue.
    assert!(imap_messages(&desk.agents, "INBOX").is_empty());
    assert_eq!(desk.stop(), Some(0));
}
