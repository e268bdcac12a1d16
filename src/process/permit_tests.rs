//! The directory in the decide stage, as data: who may add to a ticket,
//! the queue's policies, and the rule actions `group` and `agent`.

use super::*;
use crate::directory::permission::{Member, Ticket};
use crate::process::decide::apply_rules;
use crate::process::decide::tests::{config, mail, plan, thread_facts};
use crate::process::facts::Facts;
use crate::process::plan::{Disposition, Edit, RuleEdit};

fn member(name: &str, rw: &[&str], ro: &[&str]) -> Member {
    Member {
        name: name.into(),
        active: true,
        rw: rw.iter().map(|s| s.to_string()).collect(),
        ro: ro.iter().map(|s| s.to_string()).collect(),
    }
}

/// A follow-up on a ticket of customer ACME in a queue of group staff,
/// from a sender with threading standing `standing` and directory entry
/// `sender`.
fn follow_up(
    standing: crate::process::standing::Facts,
    sender: Sender,
    role: Option<&str>,
) -> Facts {
    let mut f = thread_facts("waiting", standing);
    if let Some(t) = f.thread.as_mut() {
        t.directory = Ticket {
            queue_group: Some("staff".into()),
            requester_customers: vec!["ACME".into()],
            sender_role: role.map(str::to_string),
            strangers: Strangers::System,
        };
    }
    f.directory.sender = sender;
    f
}

fn colleague(rw: &[&str], ro: &[&str]) -> Sender {
    Sender {
        customer_user: Some(member("carl@acme.example", rw, ro)),
        customer: Some("ACME".into()),
        agent: None,
    }
}

fn m() -> crate::mail::InboundMail {
    mail(
        "carl@acme.example",
        &["support@example.com"],
        &[],
        "Re: [Ticket#2026112210000017] Printer",
    )
}

fn standing_of(p: &Plan) -> Option<Standing> {
    match &p.disposition {
        Disposition::FollowUp { standing, .. } => Some(*standing),
        _ => None,
    }
}

#[test]
fn a_colleague_with_rw_is_added_as_a_requester() {
    let p = plan(
        &follow_up(Default::default(), colleague(&["staff"], &[]), None),
        &m(),
        None,
    );
    assert_eq!(standing_of(&p), Some(Standing::Colleague), "{:#?}", p.trace);
    assert_eq!(p.participants.len(), 1);
    assert_eq!(
        (p.participants[0].address.as_str(), p.participants[0].role),
        ("carl@acme.example", "requester")
    );
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
    assert!(p.article.as_ref().unwrap().unverified.is_none());
    assert!(p
        .trace
        .iter()
        .any(|d| d.step == "permission" && d.said.contains("added as a requester")));
}

#[test]
fn a_read_only_colleague_follows_the_policy_even_as_an_observer() {
    let answers = crate::process::standing::Facts {
        answers: true,
        from_participant: true,
        ..Default::default()
    };
    let p = plan(
        &follow_up(answers, colleague(&[], &["staff"]), Some("observer")),
        &m(),
        None,
    );
    // The example configuration files strangers as new tickets.
    assert_eq!(
        p.disposition,
        Disposition::NewTicket {
            quoted: Some("2026112210000017".into())
        },
        "{:#?}",
        p.trace
    );
    assert!(p.trace.iter().any(|d| d.said.contains("read-only access")));
    // With the queue's policy "record": recorded, unverified, no change.
    let mut f = follow_up(answers, colleague(&[], &["staff"]), Some("observer"));
    f.thread.as_mut().unwrap().directory.strangers = Strangers::Record;
    let p = plan(&f, &m(), None);
    assert_eq!(standing_of(&p), Some(Standing::ReadOnly));
    assert!(p.participants.is_empty());
    assert_eq!(p.ticket.as_ref().unwrap().state, "waiting");
    assert!(p.article.as_ref().unwrap().unverified.is_some());
}

#[test]
fn an_agent_with_rw_is_added_without_powers_and_strangers_get_the_policy() {
    let agent = Sender {
        agent: Some(member("alice", &["staff"], &[])),
        ..Sender::default()
    };
    let p = plan(&follow_up(Default::default(), agent, None), &m(), None);
    assert_eq!(standing_of(&p), Some(Standing::Agent));
    let a = p.article.as_ref().unwrap();
    assert_eq!(a.kind, "agent");
    assert!(a
        .unverified
        .as_deref()
        .unwrap()
        .contains("not authenticated"));
    assert!(p.participants.is_empty());
    assert_eq!(p.ticket.as_ref().unwrap().state, "waiting");
    // Another customer's user with rw: a stranger, a ticket of their own.
    let mut other = colleague(&["staff"], &[]);
    other.customer = Some("Globex".into());
    let p = plan(&follow_up(Default::default(), other, None), &m(), None);
    assert!(matches!(
        p.disposition,
        Disposition::NewTicket { quoted: Some(_) }
    ));
    assert!(p
        .trace
        .iter()
        .any(|d| d.step == "permission" && d.said.contains("Globex")));
}

#[test]
fn queues_in_the_directory_choose_observers_and_who_is_alerted() {
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &["bob@customer.test"],
        "Printer",
    );
    let mut f = Facts::default();
    f.directory.queues = vec![QueueFacts {
        name: "support".into(),
        group: Some("staff".into()),
        notify: "group".into(),
        notify_to: vec!["alice@example.com".into(), "bert@example.com".into()],
        cc_observers: false,
        strangers: Strangers::System,
        comment_address: None,
        service: None,
        unknown_senders: Default::default(),
    }];
    let p = plan(&f, &m, None);
    assert_eq!(p.participants.len(), 1, "{:?}", p.participants);
    let alert = p.notifications.iter().find(|n| n.is_agents_alert).unwrap();
    assert_eq!(alert.to, ["alice@example.com", "bert@example.com"]);
    // Not in the directory: the configuration's agents_address, and Cc's
    // are observers.
    let p = plan(&Facts::default(), &m, None);
    assert_eq!(p.participants[1].role, "observer");
    let alert = p.notifications.iter().find(|n| n.is_agents_alert).unwrap();
    assert_eq!(alert.to, ["agents@example.com"]);
}

#[test]
fn rules_assign_a_group_and_an_agent_the_directory_knows() {
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Printer",
    );
    let mut p = plan(&Facts::default(), &m, None);
    let d = DirectoryFacts {
        agents: vec!["alice".into()],
        groups: vec!["staff".into()],
        ..DirectoryFacts::default()
    };
    let edit = |e| RuleEdit {
        rule: "r".into(),
        edit: e,
    };
    apply_rules(
        &mut p,
        &[
            edit(Edit::Group("staff".into())),
            edit(Edit::Agent("alice".into())),
            edit(Edit::Agent("nobody".into())),
        ],
        &config(),
        &d,
    );
    assert_eq!(p.assign.group.as_deref(), Some("staff"));
    assert_eq!(p.assign.agent.as_deref(), Some("alice"));
    let notes = &p.article.as_ref().unwrap().notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("no active agent named \"nobody\"")),
        "{notes:?}"
    );
}

#[test]
fn an_unknown_sender_becomes_a_customer_user_in_a_directory_queue() {
    let m = mail("new@acme.example", &["support@example.com"], &[], "Printer");
    let mut f = Facts::default();
    // Not in the directory: nothing made.
    assert_eq!(plan(&f, &m, None).new_customer_user, None);
    f.directory.queues = vec![QueueFacts {
        name: "support".into(),
        group: None,
        notify: "config".into(),
        notify_to: Vec::new(),
        cc_observers: true,
        comment_address: None,
        strangers: Strangers::System,
        service: None,
        unknown_senders: Default::default(),
    }];
    f.directory.sender.customer = Some("ACME".into());
    let p = plan(&f, &m, None);
    assert_eq!(
        p.new_customer_user,
        Some(NewCustomerUser {
            address: "new@acme.example".into(),
            name: Some("Ana".into()),
            customer: Some("ACME".into()),
        })
    );
    assert!(p
        .trace
        .iter()
        .any(|d| d.step == "directory" && d.said.contains("of ACME")));
    // Known already, or automatic mail: nothing made.
    f.directory.sender = colleague(&[], &[]);
    assert_eq!(plan(&f, &m, None).new_customer_user, None);
}

/// Regression: observers a rule gave by agent name were "not applied yet".
#[test]
fn observers_given_by_agent_name_were_not_applied() {
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Printer",
    );
    let mut p = plan(&Facts::default(), &m, None);
    let d = DirectoryFacts {
        agents: vec!["alice".into()],
        agent_addresses: vec![("alice".into(), "alice@example.com".into())],
        ..DirectoryFacts::default()
    };
    let edit = |e| RuleEdit {
        rule: "r".into(),
        edit: e,
    };
    apply_rules(
        &mut p,
        &[
            edit(Edit::ObserverAgent("alice".into())),
            edit(Edit::ObserverAgent("nobody".into())),
        ],
        &config(),
        &d,
    );
    let observers: Vec<(&str, Option<&str>, &str)> = p
        .participants
        .iter()
        .filter(|x| x.role == "observer")
        .map(|x| (x.address.as_str(), x.name.as_deref(), x.role))
        .collect();
    assert_eq!(
        observers,
        [("alice@example.com", Some("alice"), "observer")]
    );
    assert_eq!(
        p.changes,
        [crate::tickets::history::Change::by_rule(
            "r",
            "observer",
            None,
            Some("alice@example.com".into())
        )]
    );
    assert_eq!(
        p.article.as_ref().unwrap().notes,
        [
            "rule r: observers += [\"nobody\"]: no active agent named \"nobody\" \
          in the directory (nor an address); not added"
        ]
    );
}

/// An agent a rule made an observer writes from that address: an agent's
/// follow-up (changing nothing), not a customer's reply reopening it.
#[test]
fn an_agent_observer_writing_in_is_an_agent_not_a_customer() {
    let participant = crate::process::standing::Facts {
        from_participant: true,
        ..Default::default()
    };
    let agent = |rw: &[&str]| Sender {
        agent: Some(member("alice", rw, &[])),
        customer_user: None,
        customer: None,
    };
    let p = plan(
        &follow_up(participant, agent(&["staff"]), Some("observer")),
        &m(),
        None,
    );
    assert_eq!(standing_of(&p), Some(Standing::Agent), "{:#?}", p.trace);
    assert_eq!(p.ticket.as_ref().unwrap().state, "waiting");
    // Without rw on the queue's group: the threading standing stands.
    let p = plan(
        &follow_up(participant, agent(&[]), Some("observer")),
        &m(),
        None,
    );
    assert_eq!(
        standing_of(&p),
        Some(Standing::Participant),
        "{:#?}",
        p.trace
    );
}
