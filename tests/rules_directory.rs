//! Rules over the directory, on the real mail stack: the `customer`
//! criterion matches a sender the directory places in a customer (by mail
//! domain), observers a rule names by agent name become observers at the
//! agent's first address, and a ticket's service comes from the queue's
//! default or a rule, set only when the customer user is entitled to it.

mod common;

use common::*;

fn ok(desk: &Desk, args: &[&str]) -> String {
    let out = desk.cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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
