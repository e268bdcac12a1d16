//! The ticket-field actions on the decide stage, stated as data: type,
//! service, category, tags, language and the auto-reply template, on a new
//! ticket and on a follow-up (plans compared field by field, with the
//! history each change leaves).

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};

use super::*;
use crate::notify::Kind;
use crate::process::decide::tests::{answers, mail, plan_with, thread_facts};
use crate::process::facts::Facts;
use crate::tickets::history::{ActorKind, Change};
use crate::tickets::TicketType;

fn set(text: &str) -> RuleSet {
    RuleSet::from_texts(
        Path::new("rules"),
        &[(PathBuf::from("rules/50-test.toml"), text.to_string())],
    )
    .unwrap_or_else(|e| panic!("{}", crate::rules::describe(&e)))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

const FIELDS: &str = r#"
[[rule]]
name = "outlook"
when = { subject = { contains = "outlook" } }
actions = { type = "incident", service = "Email::Outlook", category = "Software", tags = ["email", "vip"], language = "pt", auto_reply = "auto_reply_after_hours" }

[[rule]]
name = "more tags"
when = { subject = { contains = "outlook" } }
actions = { tags = ["email", "urgent"], type = "problem" }
"#;

#[test]
fn field_actions_edit_a_new_tickets_plan() {
    let rules = set(FIELDS);
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Outlook crashes",
    );
    let f = Facts {
        received_at: Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap(),
        ..Facts::default()
    };
    let p = plan_with(&f, &m, None, &rules);
    let t = p.ticket.as_ref().unwrap();
    assert_eq!(
        t.ticket_type,
        Some(TicketType::Problem),
        "the later rule wins"
    );
    assert_eq!(
        (
            t.service.as_deref(),
            t.category.as_deref(),
            t.language.as_str()
        ),
        (Some("Email::Outlook"), Some("Software"), "pt")
    );
    let tags: Vec<&str> = t.tags.iter().map(String::as_str).collect();
    assert_eq!(tags, ["email", "urgent", "vip"], "tags add up, once each");
    assert_eq!(
        p.auto_reply_template.as_deref(),
        Some("auto_reply_after_hours")
    );
    assert_eq!(
        p.changes,
        [
            Change::by_rule("outlook", "type", None, s("incident")),
            Change::by_rule("outlook", "service", None, s("Email::Outlook")),
            Change::by_rule("outlook", "category", None, s("Software")),
            Change::by_rule("outlook", "tags", None, s("email")),
            Change::by_rule("outlook", "tags", None, s("vip")),
            Change::by_rule("outlook", "language", s("en"), s("pt")),
            Change::by_rule("outlook", "auto_reply", None, s("auto_reply_after_hours")),
            // Actions apply in the order of rules/README.md's table.
            Change::by_rule("more tags", "type", s("incident"), s("problem")),
            Change::by_rule("more tags", "tags", None, s("urgent")),
        ]
    );
    assert!(p.changes.iter().all(|c| c.actor_kind == ActorKind::Rule));
    // The notifications follow: the auto-reply with the chosen template,
    // every mail in the rule's language.
    let reply = &p.notifications[0];
    assert_eq!(
        (
            reply.kind,
            reply.template.as_deref(),
            reply.language.as_str()
        ),
        (Kind::AutoReply, Some("auto_reply_after_hours"), "pt")
    );
    assert_eq!(p.notifications[1].template, None);
    assert_eq!(p.notifications[1].language, "pt");
    assert!(p.article.as_ref().unwrap().notes.is_empty());
}

#[test]
fn field_actions_on_a_follow_up_change_only_what_differs() {
    let rules = set(r#"
[[rule]]
name = "tagging"
when = { ticket = "follow_up" }
actions = { tags = ["vip", "billing"], service = "Email::Outlook", language = "en", auto_reply = "auto_reply_after_hours" }
"#);
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Re: [Ticket#2026112210000017] Printer",
    );
    let mut f = thread_facts("open", answers());
    if let Some(t) = f.thread.as_mut() {
        t.tags = vec!["vip".into()];
        t.ticket.service = Some("Email::Outlook".into());
        t.ticket.ticket_type = Some("request".into());
    }
    let p = plan_with(&f, &m, None, &rules);
    let t = p.ticket.as_ref().unwrap();
    assert_eq!(
        t.ticket_type,
        Some(TicketType::Request),
        "kept from the ticket"
    );
    let tags: Vec<&str> = t.tags.iter().map(String::as_str).collect();
    assert_eq!(tags, ["billing", "vip"]);
    // Only the new tag is a change; the same service and language are not.
    assert_eq!(
        p.changes,
        [Change::by_rule("tagging", "tags", None, s("billing"))]
    );
    // A follow-up gets no auto-reply: the template choice is refused, and
    // the article says so.
    assert_eq!(p.auto_reply_template, None);
    assert_eq!(
        p.article.as_ref().unwrap().notes,
        ["rule tagging: auto_reply = \"auto_reply_after_hours\": a follow-up gets no auto-reply"]
    );
}

#[test]
fn field_actions_on_mail_that_makes_no_article_change_nothing() {
    let rules = set(r#"
[[rule]]
name = "spam"
when = { subject = { contains = "pills" } }
actions = { spam = "upstream" }

[[rule]]
name = "tags"
when = {}
actions = { tags = ["x"], type = "change" }
"#);
    let m = mail("x@spam.test", &["support@example.com"], &[], "Cheap pills");
    let p = plan_with(&Facts::default(), &m, None, &rules);
    assert!(p.ticket.is_none() && p.changes.is_empty());
}
