//! Rules over the directory, on the real mail stack: the `customer`
//! criterion matches a sender the directory places in a customer (by mail
//! domain), observers a rule names by agent name become observers at the
//! agent's first address, and a ticket's service comes from the queue's
//! default or a rule, set only when the customer user is entitled to it.

mod common;

use common::*;

const RULES: &str = r#"
[[rule]]
name = "acme"
when = { customer = "ACME" }
actions = { urgency = 4, observers = ["alice", "nobody"] }
"#;

#[test]
fn customer_rules_match_and_observers_by_agent_name_are_added() {
    let mut desk = Desk::new(DeskOptions::default());
    let rules = desk.path().join("my-rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("10-acme.toml"), RULES).unwrap();
    desk.use_rules(&rules);
    let file = desk.path().join("directory.toml");
    std::fs::write(
        &file,
        r#"
[[customer]]
name = "ACME"
domains = ["customer.test"]

[[agent]]
name = "alice"
addresses = ["alice@example.com", "alice.other@example.com"]
"#,
    )
    .unwrap();
    ok(&desk, &["directory", "apply", file.to_str().unwrap()]);
    let ana = desk.customer("ana");
    let mail = desk.mail(&ana, "Printer", "p", "It jams.");
    // `rules test` sees the customer too (the same facts as processing).
    let eml = desk.path().join("printer.eml");
    std::fs::write(&eml, &mail).unwrap();
    let t = desk.json(&["rules", "test", "--json", eml.to_str().unwrap()]);
    assert_eq!(t["rules"][0]["matched"], true, "{t:#}");
    desk.start();
    smtp_send(&ana, &[&desk.support], &mail);
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let t = desk.json(&["ticket", "show", &number, "--json"]);
    assert_eq!(t["urgency"], 4, "{t:#}");
    let observers: Vec<&str> = t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["role"] == "observer")
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    assert_eq!(observers, ["alice@example.com"], "{t:#}");
    let plain = ok(&desk, &["ticket", "show", &number]);
    assert!(
        plain.contains("no active agent named \"nobody\""),
        "{plain}"
    );
}

const SERVICE_RULES: &str = r#"
[[rule]]
name = "outlook"
when = { subject = { contains = "outlook" } }
actions = { service = "Email::Outlook" }
"#;

#[test]
fn services_come_from_the_queue_or_a_rule_only_when_the_customer_user_is_entitled() {
    let mut desk = Desk::new(DeskOptions::default());
    let rules = desk.path().join("my-rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("10-outlook.toml"), SERVICE_RULES).unwrap();
    desk.use_rules(&rules);
    let carol = desk.customer("carol");
    let sam = desk.customer("sam");
    let file = desk.path().join("directory.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[service]]
name = "Email"
default = true

[[service]]
name = "Email::Outlook"

[[service]]
name = "Billing"

[[queue]]
name = "support"
service = "Email"

[[customer_user]]
addresses = ["{carol}"]
services = ["Email::Outlook"]
"#
        ),
    )
    .unwrap();
    ok(&desk, &["directory", "apply", file.to_str().unwrap()]);
    // The queue's default service is in the export, as applied.
    let export = ok(&desk, &["directory", "export"]);
    assert!(export.contains("service = \"Email\""), "{export}");
    desk.start();
    // Carol is entitled to Outlook; sam (no customer user) only to Email.
    smtp_send(
        &carol,
        &[&desk.support],
        &desk.mail(&carol, "Outlook crashes", "c", "again"),
    );
    smtp_send(
        &sam,
        &[&desk.support],
        &desk.mail(&sam, "Outlook crashes too", "s", "here too"),
    );
    let tickets = desk.wait_tickets(2, 30);
    let show = |who: &str| {
        let t = tickets.iter().find(|t| t["customer"] == who).unwrap();
        let n = t["number"].as_str().unwrap().to_string();
        desk.json(&["ticket", "show", &n, "--json"])
    };
    let c = show(&carol);
    assert_eq!(c["service"], "Email::Outlook", "{c:#}");
    let s = show(&sam);
    assert_eq!(s["service"], "Email", "{s:#}");
    let note = s["articles"][0]["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("service not set") && note.contains("not a customer user"),
        "{note}"
    );
    // A phone ticket: a service carol is not entitled to is not set.
    let phone = |service: &str| {
        desk.json(&[
            "ticket",
            "create",
            "--queue",
            "support",
            "--customer-user",
            &carol,
            "--subject",
            "Invoice question",
            "--body",
            "Called about an invoice.",
            "--service",
            service,
            "--json",
        ])
    };
    let v = phone("Billing");
    assert!(v["service"].is_null(), "{v:#}");
    assert!(
        v["service_refused"]
            .as_str()
            .unwrap()
            .contains("not entitled to service \"Billing\""),
        "{v:#}"
    );
    let t = desk.json(&["ticket", "show", v["ticket"].as_str().unwrap(), "--json"]);
    assert_eq!(t["service"], "Email", "the queue's default stays: {t:#}");
    let note = t["articles"][0]["note"].as_str().unwrap_or_default();
    assert!(note.contains("service not set"), "{note}");
    let v = phone("Email::Outlook");
    assert_eq!(v["service"], "Email::Outlook", "{v:#}");
    let t = desk.json(&["ticket", "show", v["ticket"].as_str().unwrap(), "--json"]);
    assert_eq!(t["service"], "Email::Outlook", "{t:#}");
}
