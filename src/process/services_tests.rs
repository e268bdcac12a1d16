//! The service of a ticket, stated as plans: the queue's default, a
//! rule's, and what happens when the customer user is not entitled.

use super::*;
use crate::directory::Strangers;
use crate::mail::InboundMail;
use crate::process::decide::tests::{answers, mail, plan_with, thread_facts};
use crate::process::facts::Facts;
use crate::process::plan::{Edit, RuleEdit, Rules, RulesOutcome};
use crate::store::directory::lookup::{Entitlement, QueueFacts};

/// Rules that set `service` on every mail.
struct SetService(Option<&'static str>);

impl Rules for SetService {
    fn evaluate(
        &self,
        _: &Plan,
        _: &InboundMail,
        _: Option<&str>,
        _: chrono::DateTime<chrono::Utc>,
    ) -> RulesOutcome {
        RulesOutcome {
            edits: self
                .0
                .iter()
                .map(|s| RuleEdit {
                    rule: "svc".into(),
                    edit: Edit::Service(s.to_string()),
                })
                .collect(),
            checks: Vec::new(),
        }
    }
}

fn entitlement(address: &str, user: Option<&str>, services: &[&str]) -> Entitlement {
    Entitlement {
        address: address.into(),
        customer_user: user.map(str::to_string),
        services: services.iter().map(|s| s.to_string()).collect(),
    }
}

/// The directory: queue `support` with default service `queue_service`,
/// and what ana is entitled to.
fn facts(queue_service: Option<&str>, ana: Option<Entitlement>) -> Facts {
    let mut f = Facts::default();
    f.directory.queues = vec![QueueFacts {
        unknown_senders: Default::default(),
        comment_address: None,
        name: "support".into(),
        group: None,
        notify: "config".into(),
        notify_to: Vec::new(),
        cc_observers: true,
        strangers: Strangers::System,
        service: queue_service.map(str::to_string),
    }];
    f.directory.services = ana.map(|e| vec![e]);
    f
}

fn ana() -> InboundMail {
    mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Printer",
    )
}

fn outcome(p: &Plan) -> (Option<&str>, Vec<String>, Vec<String>) {
    (
        p.ticket.as_ref().and_then(|t| t.service.as_deref()),
        p.changes.iter().map(|c| c.to_string()).collect(),
        p.article.as_ref().unwrap().notes.clone(),
    )
}

#[test]
fn a_new_ticket_gets_its_queues_default_service_when_entitled() {
    let f = facts(
        Some("Email"),
        Some(entitlement("ana@customer.test", None, &["Email"])),
    );
    let p = plan_with(&f, &ana(), None, &SetService(None));
    assert_eq!(
        outcome(&p),
        (
            Some("Email"),
            vec!["system queue support: service → Email".to_string()],
            vec![]
        )
    );
    assert!(p
        .trace
        .iter()
        .any(|d| d.step == "service" && d.said == "service Email: queue support's default"));
}

#[test]
fn an_unknown_customer_user_gets_only_default_services() {
    // `Email::Outlook` is no default service and ana is not in the
    // directory: the queue's default is not set, and the article says why.
    let f = facts(
        Some("Email::Outlook"),
        Some(entitlement("ana@customer.test", None, &["Email"])),
    );
    let p = plan_with(&f, &ana(), None, &SetService(None));
    assert_eq!(
        outcome(&p),
        (
            None,
            vec![],
            vec![
                "queue support's default service not set: ana@customer.test is not a customer \
                 user of the directory, so only the default services apply (Email), not \
                 \"Email::Outlook\""
                    .to_string()
            ]
        )
    );
}

#[test]
fn a_rules_service_is_set_only_when_the_customer_user_is_entitled() {
    let known = entitlement("ana@customer.test", Some("ana@customer.test"), &["Billing"]);
    // Entitled: the rule's service wins over the queue's default.
    let f = facts(Some("Email"), Some(known.clone()));
    let p = plan_with(&f, &ana(), None, &SetService(Some("Billing")));
    assert_eq!(
        outcome(&p),
        (
            Some("Billing"),
            vec!["rule svc: service → Billing".to_string()],
            vec![]
        )
    );
    // Not entitled: the rule's service is not set, no history, a note; the
    // queue's default (`Email`, not Billing's) is not ana's either.
    let p = plan_with(&f, &ana(), None, &SetService(Some("Email::Outlook")));
    assert_eq!(
        outcome(&p),
        (
            None,
            vec![],
            vec![
                "service not set: customer user ana@customer.test is not entitled to service \
                 \"Email::Outlook\" (theirs and the default ones: Billing)"
                    .to_string(),
                "queue support's default service not set: customer user ana@customer.test is \
                 not entitled to service \"Email\" (theirs and the default ones: Billing)"
                    .to_string()
            ]
        )
    );
    // With `Email` a default service, the refused rule falls back to it.
    let f = facts(
        Some("Email"),
        Some(entitlement(
            "ana@customer.test",
            Some("ana@customer.test"),
            &["Billing", "Email"],
        )),
    );
    let p = plan_with(&f, &ana(), None, &SetService(Some("Email::Outlook")));
    let (service, changes, notes) = outcome(&p);
    assert_eq!(
        (service, changes, notes.len()),
        (
            Some("Email"),
            vec!["system queue support: service → Email".to_string()],
            1
        )
    );
}

#[test]
fn without_services_in_the_directory_a_service_is_not_checked() {
    let f = facts(None, None);
    let p = plan_with(&f, &ana(), None, &SetService(Some("Anything::Goes")));
    assert_eq!(
        outcome(&p),
        (
            Some("Anything::Goes"),
            vec!["rule svc: service → Anything::Goes".to_string()],
            vec![]
        )
    );
}

#[test]
fn a_follow_up_keeps_its_service_when_a_rule_sets_one_the_customer_is_not_entitled_to() {
    // The ticket's customer (ana@customer.test, the ticket's) decides, not
    // the queue's default (a follow-up keeps what it had).
    let mut f = thread_facts("open", answers());
    if let Some(t) = f.thread.as_mut() {
        t.ticket.service = Some("Email".into());
    }
    f.directory = facts(
        Some("Billing"),
        Some(entitlement("ana@customer.test", None, &["Email"])),
    )
    .directory;
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Re: [Ticket#2026112210000017] Printer",
    );
    let p = plan_with(&f, &m, None, &SetService(Some("Billing")));
    let (service, changes, notes) = outcome(&p);
    assert_eq!((service, changes), (Some("Email"), vec![]));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("service not set: ana@customer.test is not a customer user"));
}
