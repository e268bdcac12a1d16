//! What rules set reaches the ticket and the customer over the real mail
//! stack: a rule whose window covers the whole day answers a new mail with
//! the after-hours template (read back over IMAP), another sets the
//! ticket's type, service, category and tags, a follow-up adds a tag, and
//! `ticket show` lists the fields and which rule changed what, with the
//! mail that caused it; `ticket list --tag` finds the ticket.

mod common;

use common::*;

/// The shipped after-hours rule with a window that covers the whole day
/// (two halves, the second running over midnight), so the test never
/// depends on when it runs.
const RULES: &str = r#"
time_zone = "Europe/Lisbon"

[[rule]]
name = "after hours auto-reply"
[rule.when]
ticket = "new"
any = [
    { time = { between = ["00:00", "12:00"] } },
    { time = { between = ["12:00", "00:00"] } },
]
[rule.actions]
auto_reply = "auto_reply_after_hours"

[[rule]]
name = "outlook"
when = { subject = { contains = "outlook" } }
actions = { type = "incident", service = "Email::Outlook", category = "Software", tags = ["email", "vip"] }

[[rule]]
name = "replies"
when = { ticket = "follow_up" }
actions = { tags = ["email", "answered"] }
"#;

#[test]
fn rules_choose_the_after_hours_reply_and_set_the_tickets_fields() {
    let mut desk = Desk::new(DeskOptions::default());
    let rules = desk.path().join("my-rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("10-test.toml"), RULES).unwrap();
    desk.use_rules(&rules);
    let ana = desk.customer("ana");

    // `rules test` shows the same, writing nothing.
    let first = desk.mail(&ana, "Outlook will not start", "first", "It crashes.");
    let file = desk.path().join("first.eml");
    std::fs::write(&file, &first).unwrap();
    let t = desk.json(&["rules", "test", "--json", file.to_str().unwrap()]);
    assert_eq!(t["auto_reply_template"], "auto_reply_after_hours", "{t:#}");
    assert_eq!(t["ticket"]["service"], "Email::Outlook", "{t:#}");
    assert_eq!(t["outcome"]["action"], "new_ticket", "{t:#}");

    smtp_send(&ana, &[&desk.support], &first);
    desk.start();
    let tickets = desk.wait_tickets(1, 30);
    let number = tickets[0]["number"].as_str().unwrap().to_string();

    // The auto-reply, read back over IMAP, is the after-hours text.
    let replies = wait_for_mail(&ana, "INBOX", 1, 30);
    let reply = String::from_utf8_lossy(&replies[0]).to_string();
    assert!(subject(&replies[0]).contains(&number), "{reply}");
    assert!(
        reply.contains("Our office is closed now") && reply.contains(&number),
        "{reply}"
    );

    // A follow-up: the rule for replies adds one tag (email is there).
    let reply = customer_mail(
        &ana,
        &desk.support,
        &format!("Re: [Ticket#{number}] Outlook will not start"),
        &format!("second-{}@customer.test", desk.id),
        "Still crashing.",
    );
    smtp_send(&ana, &[&desk.support], &reply);
    wait_for(30, "the follow-up", || {
        let show = desk.json(&["ticket", "show", &number, "--json"]);
        let inbound = show["articles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["direction"] == "in")
            .count();
        (inbound == 2).then_some(())
    });
    let show = desk.json(&["ticket", "show", &number, "--json"]);
    assert_eq!(
        (
            show["type"].as_str(),
            show["service"].as_str(),
            show["category"].as_str()
        ),
        (Some("incident"), Some("Email::Outlook"), Some("Software")),
        "{show:#}"
    );
    assert_eq!(
        show["tags"],
        serde_json::json!(["answered", "email", "vip"]),
        "{show:#}"
    );
    let history: Vec<(String, String, String, Option<String>)> = show["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            assert_eq!(h["actor_kind"], "rule", "{h}");
            (
                h["actor"].as_str().unwrap().to_string(),
                h["field"].as_str().unwrap().to_string(),
                h["new"].as_str().unwrap_or_default().to_string(),
                h["old"].as_str().map(str::to_string),
            )
        })
        .collect();
    let row = |a: &str, f: &str, n: &str| (a.to_string(), f.to_string(), n.to_string(), None);
    assert_eq!(
        history,
        [
            row(
                "after hours auto-reply",
                "auto_reply",
                "auto_reply_after_hours"
            ),
            row("outlook", "type", "incident"),
            row("outlook", "service", "Email::Outlook"),
            row("outlook", "category", "Software"),
            row("outlook", "tags", "email"),
            row("outlook", "tags", "vip"),
            row("replies", "tags", "answered"),
        ]
    );
    // Each change names the mail that caused it: the first mail, then the
    // follow-up.
    let inbound: Vec<i64> = show["articles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["direction"] == "in")
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    let caused: Vec<i64> = show["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["article_id"].as_i64().unwrap())
        .collect();
    assert_eq!(caused[0], inbound[0]);
    assert_eq!(caused[6], inbound[1]);

    // The text view lists them too; `ticket list --tag` finds the ticket.
    let text = desk.cli(&["ticket", "show", &number]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Fields:   type incident; service Email::Outlook; category Software; tags answered, email, vip")
            && text.contains("rule outlook: service → Email::Outlook"),
        "{text}"
    );
    // `ticket history` lists the same changes, in the same order.
    let history = desk.json(&["ticket", "history", &number, "--json"]);
    assert_eq!(history["ticket"], number.as_str(), "{history:#}");
    assert_eq!(history["history"], show["history"], "{history:#}");
    let text = desk.cli(&["ticket", "history", &number]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines().count() == 8 && text.contains("rule replies: tags → answered (mail #"),
        "{text}"
    );
    let missing = desk.cli(&["ticket", "history", "2026112210000017"]);
    assert_ne!(missing.status.code(), Some(0));
    let tagged = desk.json(&["ticket", "list", "--json", "--tag", "vip"]);
    assert_eq!(tagged.as_array().unwrap().len(), 1, "{tagged}");
    let none = desk.json(&["ticket", "list", "--json", "--tag", "nothing"]);
    assert!(none.as_array().unwrap().is_empty(), "{none}");
    assert_eq!(desk.stop(), Some(0));
}
