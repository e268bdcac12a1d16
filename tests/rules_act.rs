//! Rules acting on mail over the real mail stack: a rule routes by subject
//! to a second queue, another quarantines what an upstream filter flagged
//! as spam, the ticket's history keeps which rules acted, `explain` shows each rule's
//! trace, and a SIGHUP brings a new rule into force between batches.

mod common;

use common::*;

const RULES: &str = r#"
[[rule]]
name = "spam header"
stop = true
when = { header = { name = "X-Spam-Flag", equals = "YES" } }
actions = { spam = "flagged by the upstream filter" }

[[rule]]
name = "invoices to sales"
when = { subject = { contains = "invoice" } }
actions = { queue = "sales", urgency = 5, tags = ["billing"] }
"#;

fn raw(from: &str, to: &str, subject: &str, id: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@customer.test>\r\n{extra}\r\nHello.\r\n"
    )
    .into_bytes()
}

#[test]
fn rules_route_by_subject_quarantine_spam_and_show_in_explain() {
    let mut desk = Desk::new(DeskOptions {
        second_mailbox: true,
        ..Default::default()
    });
    let rules = desk.path().join("my-rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("10-test.toml"), RULES).unwrap();
    desk.use_rules(&rules);
    let ana = desk.customer("ana");
    let invoice = raw(
        &ana,
        &desk.support,
        "Invoice 42 is wrong",
        &format!("inv-{}", desk.id),
        "",
    );
    let spam = raw(
        &ana,
        &desk.support,
        "Cheap invoice pills",
        &format!("spam-{}", desk.id),
        "X-Spam-Flag: YES\r\n",
    );

    // explain: the trace of each rule, matched or not, and the plan.
    let file = desk.path().join("invoice.eml");
    std::fs::write(&file, &invoice).unwrap();
    let e = desk.json(&["explain", "--json", file.to_str().unwrap()]);
    let trace = e["plan"]["rules"].as_array().unwrap();
    let seen: Vec<(&str, bool)> = trace
        .iter()
        .map(|r| (r["rule"].as_str().unwrap(), r["matched"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("spam header", false), ("invoices to sales", true)],
        "{e:#}"
    );
    assert_eq!(
        trace[1]["actions"],
        serde_json::json!(["queue = \"sales\"", "urgency = 5", "tags += [\"billing\"]"])
    );
    assert_eq!(trace[1]["criteria"][0][1], true);
    assert_eq!(e["plan"]["ticket"]["queue"], "sales");
    let text = desk.cli(&["explain", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Rule:     invoices to sales")
            && text.contains("Change:   rule invoices to sales: tags → billing"),
        "{text}"
    );

    smtp_send(&ana, &[&desk.support], &invoice);
    smtp_send(&ana, &[&desk.support], &spam);
    desk.start();
    let tickets = desk.wait_tickets(1, 30);
    wait_for(30, "both mails processed", || {
        imap_messages(&desk.support, "INBOX")
            .is_empty()
            .then_some(())
    });
    let number = tickets[0]["number"].as_str().unwrap();
    let show = desk.json(&["ticket", "show", number, "--json"]);
    assert_eq!(show["queue"], "sales");
    assert_eq!(
        (show["urgency"].as_u64(), show["priority"].as_u64()),
        (Some(5), Some(4))
    );
    assert_eq!(show["tags"], serde_json::json!(["billing"]), "{show:#}");
    let changed: Vec<(&str, &str, &str)> = show["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["actor"].as_str().unwrap(),
                h["field"].as_str().unwrap(),
                h["new"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            ("invoices to sales", "queue", "sales"),
            ("invoices to sales", "urgency", "5"),
            ("invoices to sales", "priority", "4"),
            ("invoices to sales", "tags", "billing"),
        ],
        "{show:#}"
    );
    let q = desk.json(&["quarantine", "list", "--json"]);
    let q = q.as_array().unwrap();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["subject"], "Cheap invoice pills");
    assert!(
        q[0]["error"]
            .as_str()
            .unwrap()
            .contains("rule spam header: flagged by the upstream filter"),
        "{q:?}"
    );

    // A reload brings a new rule into force for the next batch.
    std::fs::write(
        rules.join("20-urgent.toml"),
        "[[rule]]\nname = \"urgent words\"\nwhen = { subject = { contains = \"urgent\" } }\nactions = { impact = 5 }\n",
    )
    .unwrap();
    desk.signal(libc::SIGHUP);
    wait_for(30, "the reload to finish", || {
        desk.log().contains("reload finished").then_some(())
    });
    assert!(
        desk.log().contains("reload: rules reloaded"),
        "{}",
        desk.log()
    );
    let urgent = raw(
        &ana,
        &desk.support2,
        "Urgent: the server is down",
        &format!("urgent-{}", desk.id),
        "",
    );
    smtp_send(&ana, &[&desk.support2], &urgent);
    let tickets = desk.wait_tickets(2, 30);
    let t = tickets
        .iter()
        .find(|t| t["subject"] == "Urgent: the server is down")
        .unwrap();
    let show = desk.json(&["ticket", "show", t["number"].as_str().unwrap(), "--json"]);
    assert_eq!(
        (show["queue"].as_str(), show["impact"].as_u64()),
        (Some("sales"), Some(5))
    );
    assert_eq!(desk.stop(), Some(0));
}
