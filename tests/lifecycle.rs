//! The lifecycle on the real stack (issue 11, items 1, 2, 9 and 12): a
//! customer's reply to a resolved ticket under each queue policy (reopen;
//! a new ticket that follows the old one; the follow_up_refused mail,
//! read back over IMAP), a reply opening a waiting ticket, the scheduler
//! validating a resolved ticket (also across a restart), and an
//! operator's own list of states used end to end. Tickets are put in a
//! state by a rule matching the new ticket's subject (the agents' ways to
//! move them are other tests').

mod common;

use common::*;
use serde_json::Value;

/// A desk with `lifecycle` appended to its configuration and a rule
/// setting new tickets whose subject contains `[to STATE]` to STATE.
fn desk(lifecycle: &str, states: &[&str]) -> Desk {
    let desk = Desk::new(DeskOptions {
        agent_alert_limit: 1000,
        ..DeskOptions::default()
    });
    let mut text = std::fs::read_to_string(&desk.config).unwrap();
    text.push_str(lifecycle);
    std::fs::write(&desk.config, text).unwrap();
    let rules: String = states
        .iter()
        .map(|s| {
            format!(
                "[[rule]]\nname = \"to {s}\"\nwhen = {{ ticket = \"new\", subject = {{ contains = \"[to {s}]\" }} }}\nactions = {{ state = \"{s}\" }}\n\n"
            )
        })
        .collect();
    std::fs::write(desk.path().join("rules/10-states.toml"), rules).unwrap();
    desk
}

/// Ana opens a ticket put in `state` by the rule; returns (ana, number).
fn ticket_in(desk: &mut Desk, state: &str) -> (String, String) {
    let ana = desk.customer("ana");
    desk.start();
    smtp_send(
        &ana,
        &[&desk.support],
        &desk.mail(
            &ana,
            &format!("Printer [to {state}]"),
            "p1",
            "It does not print.",
        ),
    );
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    // The auto-reply reached her: the ticket is in place.
    wait_for_mail(&ana, "INBOX", 1, 30);
    (ana, number)
}

/// Ana answers ticket `number` (its tag in the subject).
fn reply(desk: &Desk, ana: &str, number: &str, tag: &str) {
    smtp_send(
        ana,
        &[&desk.support],
        &desk.mail(
            ana,
            &format!("Re: [Ticket#{number}] Printer"),
            tag,
            "Still broken.",
        ),
    );
}

fn show(desk: &Desk, number: &str) -> Value {
    desk.json(&["ticket", "show", number, "--json"])
}

/// The ticket's history as (actor_kind, actor, field, old, new).
fn history(desk: &Desk, number: &str) -> Vec<(String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    desk.json(&["ticket", "history", number, "--json"])["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                s(&h["actor_kind"]),
                s(&h["actor"]),
                s(&h["field"]),
                s(&h["old"]),
                s(&h["new"]),
            )
        })
        .collect()
}

fn row(
    kind: &str,
    actor: &str,
    field: &str,
    old: &str,
    new: &str,
) -> (String, String, String, String, String) {
    (
        kind.into(),
        actor.into(),
        field.into(),
        old.into(),
        new.into(),
    )
}

fn body(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    text.split_once("\n\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// Wait until ticket `number` is in `state`.
fn wait_state(desk: &Desk, number: &str, state: &str) -> Value {
    wait_for(30, &format!("ticket {number} {state}"), || {
        let t = show(desk, number);
        (t["state"] == state).then_some(t)
    })
}

#[test]
fn reply_to_a_resolved_ticket_reopens_it_by_default() {
    let mut desk = desk("", &["resolved"]);
    let (ana, number) = ticket_in(&mut desk, "resolved");
    assert_eq!(show(&desk, &number)["state"], "resolved");
    reply(&desk, &ana, &number, "p2");
    wait_state(&desk, &number, "open");
    assert_eq!(
        history(&desk, &number),
        [
            row("rule", "to resolved", "state", "posted", "resolved"),
            row("system", "lifecycle", "state", "resolved", "open"),
        ]
    );
    assert_eq!(desk.tickets().len(), 1);
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn reply_to_a_resolved_ticket_opens_a_new_ticket_following_it() {
    let mut desk = desk(
        "\n[lifecycle.queue.support]\nreply_to_closed = \"new_ticket\"\n",
        &["resolved"],
    );
    let (ana, old) = ticket_in(&mut desk, "resolved");
    reply(&desk, &ana, &old, "p2");
    let tickets = desk.wait_tickets(2, 30);
    let new = tickets
        .iter()
        .map(|t| t["number"].as_str().unwrap().to_string())
        .find(|n| *n != old)
        .unwrap();
    // The old one stays resolved; the new one, opened by her reply, says
    // which it follows, and she got its auto-reply.
    assert_eq!(show(&desk, &old)["state"], "resolved");
    assert_eq!(show(&desk, &new)["state"], "posted");
    assert_eq!(show(&desk, &new)["followed_from"], old.as_str());
    // The follow-up is a ticket link, listed both ways.
    let link = |number: &str| {
        let links = show(&desk, number)["links"].as_array().unwrap().clone();
        assert_eq!(links.len(), 1, "{links:?}");
        let l = &links[0];
        (
            l["role"].as_str().unwrap().to_string(),
            l["number"].as_str().unwrap().to_string(),
            l["created_by"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        link(&new),
        (
            "follow_up".to_string(),
            old.clone(),
            "lifecycle".to_string()
        )
    );
    assert_eq!(
        link(&old),
        (
            "followed_up_by".to_string(),
            new.clone(),
            "lifecycle".to_string()
        )
    );
    assert_eq!(
        history(&desk, &new),
        [row("system", "lifecycle", "followed_from", "-", &old)]
    );
    let mails = wait_for_mail(&ana, "INBOX", 2, 30);
    assert!(mails.iter().any(|m| subject(m).contains(&new)));
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn reply_to_a_resolved_ticket_is_refused_with_the_follow_up_refused_mail() {
    let mut desk = desk(
        "\n[lifecycle.queue.support]\nreply_to_closed = \"refuse\"\n",
        &["resolved"],
    );
    let (ana, number) = ticket_in(&mut desk, "resolved");
    let articles = |d: &Desk| show(d, &number)["articles"].as_array().unwrap().len();
    let before = articles(&desk);
    reply(&desk, &ana, &number, "p2");
    let mails = wait_for_mail(&ana, "INBOX", 2, 30);
    // Found by its Message-ID (`refusal.…`): its words are in the
    // ticket's language, whichever the detection chose.
    let refusal = mails
        .iter()
        .find(|m| header(m, "Message-ID").is_some_and(|id| id.starts_with("<refusal.")))
        .unwrap_or_else(|| {
            panic!(
                "no refusal: {:?}",
                mails.iter().map(|m| subject(m)).collect::<Vec<_>>()
            )
        });
    assert!(subject(refusal).contains(&format!("[Ticket#{number}]")));
    let text = body(refusal);
    assert!(
        text.contains(&number) && text.contains("resolved"),
        "{text}"
    );
    assert_eq!(
        header(refusal, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    // Untouched: still resolved, no article, one ticket.
    let t = show(&desk, &number);
    assert_eq!(t["state"], "resolved");
    assert_eq!(articles(&desk), before);
    assert_eq!(t["refused"][0]["reason"], "follow_up_refused", "{t}");
    assert_eq!(desk.tickets().len(), 1);
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn a_customer_reply_opens_a_waiting_ticket() {
    let mut desk = desk("", &["waiting"]);
    let (ana, number) = ticket_in(&mut desk, "waiting");
    reply(&desk, &ana, &number, "p2");
    wait_state(&desk, &number, "open");
    assert_eq!(
        history(&desk, &number).last().unwrap(),
        &row("system", "lifecycle", "state", "waiting", "open")
    );
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn the_scheduler_validates_a_resolved_ticket_and_tells_the_customer_even_after_a_restart() {
    // First run: nothing validates; the ticket is resolved.
    let mut desk = desk(
        "\n[lifecycle]\nscheduler_interval_secs = 1\n",
        &["resolved"],
    );
    let (ana, number) = ticket_in(&mut desk, "resolved");
    assert_eq!(desk.stop(), Some(0));
    assert_eq!(show(&desk, &number)["state"], "resolved");
    // Restarted with validation after 0 days: the stored times decide.
    let text = std::fs::read_to_string(&desk.config).unwrap();
    let text = text.replace(
        "scheduler_interval_secs = 1\n",
        "scheduler_interval_secs = 1\nvalidate_after_days = 0\n",
    );
    std::fs::write(&desk.config, text).unwrap();
    desk.start();
    wait_state(&desk, &number, "validated");
    assert_eq!(
        history(&desk, &number).last().unwrap(),
        &row("scheduler", "validation", "state", "resolved", "validated")
    );
    let mails = wait_for_mail(&ana, "INBOX", 2, 30);
    let told = mails
        .iter()
        .find(|m| header(m, "Message-ID").is_some_and(|id| id.contains(".state_changed.")))
        .expect("the state_changed mail reached her");
    assert!(subject(told).contains("validated"), "{}", subject(told));
    assert!(body(told).contains("validated"), "{}", body(told));
    // A customer's mail: the layout's HTML alternative goes with the text.
    assert!(header(told, "Content-Type")
        .unwrap()
        .starts_with("multipart/alternative"));
    let html = mail_parser::MessageParser::default()
        .parse(told.as_slice())
        .and_then(|m| m.body_html(0).map(|h| h.into_owned()))
        .unwrap_or_default();
    assert!(html.contains("<b>validated</b>"), "{html}");
    assert!(header(told, "In-Reply-To")
        .unwrap()
        .contains(&format!("p1-{}@customer.test", desk.id)));
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn an_operators_own_states_work_end_to_end() {
    let mut desk = desk(
        r#"
[lifecycle]
states = [
  { name = "fresh", category = "new" },
  { name = "doing", category = "open" },
  { name = "on-hold", category = "pending" },
  { name = "done", category = "closed" },
  { name = "archived", category = "closed", final = true },
]
"#,
        &["pending"],
    );
    let (ana, number) = ticket_in(&mut desk, "pending");
    let t = show(&desk, &number);
    assert_eq!(
        t["state"], "on-hold",
        "the alias names the first pending state"
    );
    for typed in ["pending", "On-Hold"] {
        let list = desk.json(&["ticket", "list", "--state", typed, "--json"]);
        assert_eq!(list.as_array().unwrap().len(), 1, "--state {typed}");
    }
    let out = desk.cli(&["ticket", "list", "--state", "waiting"]);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fresh, doing, on-hold, done, archived"),
        "{err}"
    );
    reply(&desk, &ana, &number, "p2");
    wait_state(&desk, &number, "doing");
    assert_eq!(
        history(&desk, &number),
        [
            row("rule", "to pending", "state", "fresh", "on-hold"),
            row("system", "lifecycle", "state", "on-hold", "doing"),
        ]
    );
    assert_eq!(desk.stop(), Some(0));
    // A state the configuration no longer lists: the ticket stays
    // readable, `db check` says so.
    let text = std::fs::read_to_string(&desk.config).unwrap();
    std::fs::write(
        &desk.config,
        text.replace(
            "{ name = \"doing\", category = \"open\" }",
            "{ name = \"busy\", category = \"open\" }",
        ),
    )
    .unwrap();
    assert_eq!(show(&desk, &number)["state"], "doing");
    let out = desk.cli(&["db", "check"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("1 ticket(s) in state \"doing\", which [lifecycle] no longer lists"),
        "{said}"
    );
    let out = desk.cli(&["check"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("1 ticket(s) are in state \"doing\""),
        "{said}"
    );
    let list = desk.json(&["ticket", "list", "--state", "doing", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
}
