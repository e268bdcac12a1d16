//! The bridge stated as data: a mail and a draft plan in, the message the
//! rules see and the edits they make out; and the decide stage with real
//! rule files (the shipped ones among them) at a fixed time.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::mail::Attachment;
use crate::process::decide::tests::{mail, plan, plan_with};
use crate::process::facts::Facts;
use crate::tickets::history::Change;
use crate::tickets::TicketType;

fn set(text: &str) -> RuleSet {
    RuleSet::from_texts(
        Path::new("rules"),
        &[(PathBuf::from("rules/50-test.toml"), text.to_string())],
    )
    .unwrap_or_else(|e| panic!("{}", crate::rules::describe(&e)))
}

/// A Wednesday, 10:00 UTC (11:00 in Lisbon's winter: office hours).
fn office_hours() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap()
}

fn edits(rules: &RuleSet, draft: &Plan, m: &InboundMail) -> Vec<(String, Edit)> {
    Rules::evaluate(rules, draft, m, None, office_hours())
        .edits
        .into_iter()
        .map(|e| (e.rule, e.edit))
        .collect()
}

#[test]
fn the_message_rules_see_is_built_from_the_mail_and_the_draft_plan() {
    let mut m = mail(
        "Ana@Customer.test",
        &["support@example.com", "x@y.test"],
        &["boss@customer.test"],
        "Invoice 12",
    );
    m.from.address = "ana@customer.test".into();
    m.headers = vec![("X-Spam-Flag".into(), "NO".into())];
    m.language = Some("pt".into());
    m.attachments.push(Attachment {
        filename: "a.pdf".into(),
        content_type: "application/pdf".into(),
        content: vec![1, 2, 3],
    });
    // Drafted as a person's mail (a bounce never makes a new ticket), then
    // seen by the rules as a bounce.
    let draft = plan(&Facts::default(), &m, None);
    m.class.class = MailClass::DeliveryReport;
    let to = ["support@example.com", "x@y.test"];
    let cc = ["boss@customer.test"];
    let headers = [("X-Spam-Flag", "NO")];
    let v = message(&draft, &m, Some("Customer Ltd"), &to, &cc, &headers);
    assert_eq!(
        (v.from, v.mailbox, v.address, v.sender_domain),
        (
            "ana@customer.test",
            "support",
            "support@example.com",
            "customer.test"
        )
    );
    assert_eq!((v.to, v.cc), (&to[..], &cc[..]));
    assert_eq!(
        (v.subject, v.body, v.body_new),
        ("Invoice 12", &*m.text, &*m.text)
    );
    assert_eq!(v.header_values("x-spam-flag").collect::<Vec<_>>(), ["NO"]);
    assert!(v.is_new && v.has_attachments);
    assert_eq!(v.customer, Some("Customer Ltd"));
    assert_eq!(
        (v.class, v.size, v.language),
        (Class::Bounce, 1000, Some("pt"))
    );
}

#[test]
fn every_class_of_mail_maps_to_a_rules_class() {
    use MailClass::*;
    let got: Vec<&str> = [
        Person,
        AutoReply,
        ReadReceipt,
        DeliveryReport,
        FeedbackReport,
        ChallengeResponse,
        List,
        OwnMail,
    ]
    .into_iter()
    .map(|c| class(c).as_str())
    .collect();
    assert_eq!(
        got,
        [
            "person",
            "auto_reply",
            "bounce",
            "bounce",
            "robot",
            "auto_reply",
            "list",
            "robot"
        ]
    );
}

#[test]
fn actions_become_edits_names_resolved_later() {
    let rules = set(r#"
[[rule]]
name = "all"
when = { subject = { contains = "invoice" } }
actions = { queue = "billing", group = "finance", agent = "bob", urgency = 4, impact = 2, priority = 5, type = "request", service = "mail", category = "money", tags = ["billing", "q4"], state = "open", language = "pt", observers = ["Boss@Customer.test", "carol"], auto_reply = false }

[[rule]]
name = "never"
when = { subject = { contains = "nothing like this" } }
actions = { ignore = true }
"#);
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Invoice",
    );
    let draft = plan(&Facts::default(), &m, None);
    let want: Vec<(String, Edit)> = [
        Edit::Queue("billing".into()),
        Edit::Group("finance".into()),
        Edit::Agent("bob".into()),
        Edit::Urgency(4),
        Edit::Impact(2),
        Edit::Priority(5),
        Edit::Type(TicketType::Request),
        Edit::Service("mail".into()),
        Edit::Category("money".into()),
        Edit::Tags(vec!["billing".into(), "q4".into()]),
        Edit::State("open".into()),
        Edit::Language("pt".into()),
        Edit::Observer("Boss@Customer.test".into()),
        Edit::ObserverAgent("carol".into()),
        Edit::SuppressAutoReply,
    ]
    .into_iter()
    .map(|e| ("all".to_string(), e))
    .collect();
    assert_eq!(edits(&rules, &draft, &m), want);

    let checks = Rules::evaluate(&rules, &draft, &m, None, office_hours()).checks;
    assert_eq!(checks.len(), 2);
    assert!(checks[0].matched && !checks[1].matched);
    assert_eq!(checks[0].actions.len(), 14);
    assert!(checks[1].actions.is_empty());
    assert_eq!(checks[1].file, "rules/50-test.toml");

    let spam = set("[[rule]]\nname = \"s\"\nwhen = { header = { name = \"X-Spam\", equals = \"yes\" } }\nactions = { spam = \"upstream\" }\n[[rule]]\nname = \"i\"\nwhen = { from = { ends_with = \"@noise.test\" } }\nactions = { ignore = true }\n");
    let mut m = mail("x@noise.test", &["support@example.com"], &[], "hi");
    m.headers = vec![("x-spam".into(), "Yes".into())];
    assert_eq!(
        edits(&spam, &draft, &m),
        [
            ("s".to_string(), Edit::Quarantine("upstream".into())),
            ("i".to_string(), Edit::Ignore("ignore = true".into())),
        ]
    );
}

#[test]
fn decide_applies_rule_files_and_keeps_their_trace() {
    let rules = set(r#"
time_zone = "UTC"

[[rule]]
name = "billing"
when = { subject = { contains = "invoice" } }
actions = { queue = "billing", urgency = 5, tags = ["billing"] }

[[rule]]
name = "night"
when = { time = { between = ["20:00", "06:00"] } }
actions = { auto_reply = false }
"#);
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Invoice",
    );
    let mut f = Facts {
        received_at: office_hours(),
        ..Facts::default()
    };
    let p = plan_with(&f, &m, None, &rules);
    let t = p.ticket.as_ref().unwrap();
    assert_eq!((t.queue.as_str(), t.classification.urgency), ("billing", 5));
    let matched: Vec<(&str, bool)> = p.rules.iter().map(|c| (&*c.rule, c.matched)).collect();
    assert_eq!(matched, [("billing", true), ("night", false)]);
    // What the rules changed is the ticket's history, not article notes.
    assert!(p.article.as_ref().unwrap().notes.is_empty());
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        p.changes,
        [
            Change::by_rule("billing", "queue", s("support"), s("billing")),
            Change::by_rule("billing", "urgency", s("3"), s("5")),
            Change::by_rule("billing", "priority", s("3"), s("4")),
            Change::by_rule("billing", "tags", None, s("billing")),
        ]
    );
    assert!(p.notifications.iter().all(|n| n.suppressed.is_none()));

    // The same mail at night: the time comes from the facts, not a clock.
    f.received_at = Utc.with_ymd_and_hms(2026, 12, 2, 23, 0, 0).unwrap();
    let p = plan_with(&f, &m, None, &rules);
    assert!(p.rules[1].matched);
    let held: Vec<&str> = p
        .notifications
        .iter()
        .filter_map(|n| n.suppressed.as_deref())
        .collect();
    assert_eq!(held, ["suppressed by rule night"]);
}

#[test]
fn the_shipped_rules_act_through_decide() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let rules = RuleSet::load(&dir).unwrap_or_else(|e| panic!("{}", crate::rules::describe(&e)));
    let f = Facts {
        received_at: office_hours(),
        ..Facts::default()
    };
    let mut spam = mail("x@spam.test", &["support@example.com"], &[], "Cheap");
    spam.headers = vec![("X-Spam-Status".into(), "Yes, score=12".into())];
    let p = plan_with(&f, &spam, None, &rules);
    assert_eq!(
        p.disposition,
        Disposition::Quarantine {
            reason: "rule upstream spam flag: flagged as spam by the upstream filter".into()
        }
    );
    assert_eq!(p.rules.len(), 1, "stop = true ends the evaluation");

    let bill = mail(
        "ana@vip.example",
        &["support@example.com"],
        &[],
        "Fatura de março",
    );
    let p = plan_with(&f, &bill, None, &rules);
    let t = p.ticket.as_ref().unwrap();
    assert_eq!((t.queue.as_str(), t.classification.urgency), ("billing", 4));
    let matched: Vec<&str> = p
        .rules
        .iter()
        .filter(|c| c.matched)
        .map(|c| &*c.rule)
        .collect();
    assert_eq!(matched, ["vip customers", "billing words"]);
}

/// Regression: the `customer` criterion never matched, because the bridge
/// showed the rules no customer even when the directory knew the sender's.
#[test]
fn customer_criterion_never_matched_though_the_directory_knew_the_customer() {
    let rules = set(r#"
[[rule]]
name = "acme"
when = { customer = "ACME" }
actions = { urgency = 4 }
"#);
    let m = mail(
        "carl@acme.example",
        &["support@example.com"],
        &[],
        "Printer",
    );
    let mut f = Facts {
        received_at: office_hours(),
        ..Facts::default()
    };
    // Unknown to the directory: no customer, no match.
    let p = plan_with(&f, &m, None, &rules);
    assert_eq!(
        p.rules[0].criteria,
        [("customer equals \"ACME\"".to_string(), false)]
    );
    assert_eq!(p.ticket.as_ref().unwrap().classification.urgency, 3);
    // The directory knows the sender's customer (their customer user's, or
    // the customer of their mail domain): the rule matches.
    f.directory.sender.customer = Some("ACME".into());
    let p = plan_with(&f, &m, None, &rules);
    assert!(p.rules[0].matched, "{:?}", p.rules);
    assert_eq!(p.ticket.as_ref().unwrap().classification.urgency, 4);
}
