//! The relations as data: an agent's facts in, the plan's relations,
//! history and state out (and every refusal before anything changes).

use super::*;
use crate::config::Config;
use crate::directory::permission::Member;
use crate::directory::Strangers;
use crate::process::decide::tests::{config, thread_facts, ticket};
use crate::process::decide::Settings;
use crate::process::plan::NoRules;
use crate::process::plan::{Disposition, Route, TicketPlan};
use crate::process::standing;
use crate::process::standing::Standing;
use crate::store::directory::lookup::QueueFacts;
use crate::store::records;
use crate::store::relations::HistoryArticle;
use crate::threading::Numbering;
use crate::tickets::priority;

const A: &str = "2026112210000017";
const B: &str = "2026112210000025";

fn queue(name: &str, group: &str) -> QueueFacts {
    QueueFacts {
        unknown_senders: Default::default(),
        service: None,
        name: name.into(),
        group: Some(group.into()),
        notify: "group".into(),
        notify_to: Vec::new(),
        cc_observers: true,
        strangers: Strangers::System,
        comment_address: None,
    }
}

/// Ticket A (queue support, group staff, requester ana) followed up by
/// alice, an agent with rw on `rw`; ticket B (queue ventes, group sales)
/// found under the number typed.
fn facts(rw: &[&str]) -> Facts {
    let mut f = thread_facts(
        "open",
        standing::Facts {
            answers: true,
            ..Default::default()
        },
    );
    f.directory.sender.agent = Some(Member {
        name: "alice".into(),
        active: true,
        rw: rw.iter().map(|g| g.to_string()).collect(),
        ro: Vec::new(),
    });
    f.directory.queues = vec![queue("support", "staff"), queue("ventes", "sales")];
    f.relations.others = vec![OtherLookup {
        typed: B.into(),
        found: Some(OtherTicket {
            ticket: other(),
            merged_via: Vec::new(),
        }),
    }];
    f.relations.requesters = vec!["ana@customer.test".into()];
    f
}

fn other() -> TicketRef {
    TicketRef {
        id: 9,
        number: B.into(),
        subject: "Printer again".into(),
        queue: "ventes".into(),
        support_address: "ventes@example.com".into(),
        language: "fr".into(),
        ..ticket("open")
    }
}

/// A follow-up plan of ticket A (as decide leaves an agent's mail: with
/// its article), before any relation.
fn plan() -> Plan {
    let mut p = operator_plan(
        &crate::process::decide::tests::config(),
        &ticket("open"),
        Vec::new(),
    );
    p.article = Some(crate::process::plan::ArticlePlan {
        kind: "agent_reply",
        trusted: true,
        unverified: None,
        notes: Vec::new(),
        internal: false,
    });
    p
}

fn with<T>(config: &Config, run: impl FnOnce(&Settings) -> T) -> T {
    let own = config.own_addresses();
    let numbering = Numbering::new(&config.system.ticket_tag, config.system.system_id);
    run(&Settings {
        config,
        own: &own,
        numbering: &numbering,
        rules: &NoRules,
    })
}

fn side(id: i64, number: &str) -> Side {
    Side {
        id,
        number: number.into(),
    }
}

fn by_command(field: &'static str, old: Option<&str>, new: Option<&str>) -> Change {
    Change {
        actor_kind: ActorKind::Command,
        actor: "alice".into(),
        field,
        old: old.map(str::to_string),
        new: new.map(str::to_string),
    }
}

#[test]
fn merge_moves_the_ticket_and_tells_its_requesters_the_new_number() {
    let mut f = facts(&["staff", "sales"]);
    f.thread.as_mut().unwrap().agent.customer_ids = vec!["c1@customer.test".into()];
    let mut p = plan();
    let said = with(&config(), |s| merge(&mut p, &f, s, "alice", B)).unwrap();
    assert!(
        said.starts_with(&format!("merged ticket {A} into ticket {B}")),
        "{said}"
    );
    assert_eq!(p.changes, vec![by_command("merged_into", None, Some(B))]);
    assert_eq!(
        p.relations,
        vec![
            RelationPlan::History {
                ticket: side(9, B),
                change: by_command("merged_from", None, Some(A)),
            },
            RelationPlan::Merge {
                from: side(7, A),
                into: side(9, B),
            },
            RelationPlan::Notice(Notice {
                kind: Kind::Merged,
                ticket: side(9, B),
                other: A.into(),
                to: vec!["ana@customer.test".into()],
                from_mailbox: "ventes".into(),
                language: "en".into(),
                text: String::new(),
                references: vec!["c1@customer.test".into()],
                suppressed: None,
            }),
        ]
    );
}

#[test]
fn merge_refusals_change_nothing() {
    let config = config();
    let check = |f: &Facts, into: &str, expected: &str| {
        let mut p = plan();
        let before = p.clone();
        let why = with(&config, |s| merge(&mut p, f, s, "alice", into)).unwrap_err();
        assert!(why.contains(expected), "{why}");
        assert_eq!(p, before);
    };
    // Into itself (typed, or a ticket that was merged into this one).
    let mut f = facts(&["staff", "sales"]);
    f.relations.others.push(OtherLookup {
        typed: A.into(),
        found: Some(OtherTicket {
            ticket: ticket("open"),
            merged_via: Vec::new(),
        }),
    });
    check(&f, A, "cannot be merged into itself");
    f.relations.others[0].found.as_mut().unwrap().ticket = ticket("open");
    f.relations.others[0].found.as_mut().unwrap().merged_via = vec![B.into()];
    check(&f, B, "would make a loop");
    // An unknown number, and words that are none.
    let mut f = facts(&["staff", "sales"]);
    f.relations.others[0].found = None;
    check(&f, B, &format!("no ticket {B}"));
    check(&f, "soon", "is not a ticket number");
    // No rw on the other ticket's queue group.
    check(
        &facts(&["staff"]),
        B,
        "no rw on group sales of queue ventes",
    );
    // This ticket was merged away already.
    let mut f = facts(&["staff", "sales"]);
    f.relations.redirected_from = vec!["2026112010000023".into()];
    check(&f, B, "was merged into");
}

#[test]
fn merging_into_a_merged_ticket_follows_it() {
    let mut f = facts(&["staff", "sales"]);
    f.relations.others[0].typed = "2026112010000023".into();
    f.relations.others[0].found.as_mut().unwrap().merged_via = vec!["2026112010000023".into()];
    let mut p = plan();
    let said = with(&config(), |s| {
        merge(&mut p, &f, s, "alice", "[Ticket#2026112010000023]")
    })
    .unwrap();
    assert!(
        said.contains(&format!(
            "into ticket {B} (ticket 2026112010000023 was merged into it)"
        )),
        "{said}"
    );
    assert!(p.relations.contains(&RelationPlan::Merge {
        from: side(7, A),
        into: side(9, B),
    }));
}

#[test]
fn links_are_stored_one_way_and_recorded_on_both_tickets() {
    let config = config();
    let link_as = |kind: LinkKind, remove: bool| {
        let f = facts(&["staff", "sales"]);
        let mut p = plan();
        let said = with(&config, |s| {
            if remove {
                unlink(&mut p, &f, s, "alice", kind, B)
            } else {
                link(&mut p, &f, s, "alice", kind, B)
            }
        })
        .unwrap();
        (said, p)
    };
    let (said, p) = link_as(LinkKind::Problem, false);
    assert_eq!(said, format!("linked: {A} is an incident of problem {B}"));
    assert_eq!(
        p.changes,
        vec![by_command("link", None, Some(&format!("problem {B}")))]
    );
    assert_eq!(
        p.relations,
        vec![
            RelationPlan::History {
                ticket: side(9, B),
                change: by_command("link", None, Some(&format!("incident {A}"))),
            },
            RelationPlan::Link {
                ticket: side(7, A),
                other: side(9, B),
                kind: "problem",
                remove: false,
                by: "alice".into(),
            },
        ]
    );
    // A child link is the other's parent link.
    let (said, p) = link_as(LinkKind::Child, false);
    assert_eq!(said, format!("linked: {B} is a child of {A}"));
    assert!(p.relations.contains(&RelationPlan::Link {
        ticket: side(9, B),
        other: side(7, A),
        kind: "parent",
        remove: false,
        by: "alice".into(),
    }));
    let (said, p) = link_as(LinkKind::Related, true);
    assert_eq!(said, format!("unlinked: {A} and {B} are related no longer"));
    assert_eq!(
        p.changes,
        vec![by_command("link", Some(&format!("related {B}")), None)]
    );
    assert!(matches!(
        p.relations[1],
        RelationPlan::Link {
            remove: true,
            kind: "related",
            ..
        }
    ));
}

#[test]
fn a_link_needs_rights_on_both_tickets_and_two_tickets() {
    let config = config();
    let mut p = plan();
    let why = with(&config, |s| {
        link(&mut p, &facts(&["sales"]), s, "alice", LinkKind::Parent, B)
    })
    .unwrap_err();
    assert!(
        why.contains("no rw on group staff of queue support"),
        "{why}"
    );
    let mut f = facts(&["staff", "sales"]);
    f.relations.others[0].found.as_mut().unwrap().ticket = ticket("open");
    let why = with(&config, |s| {
        link(&mut p, &f, s, "alice", LinkKind::Parent, B)
    })
    .unwrap_err();
    assert!(why.contains("cannot be linked to itself"), "{why}");
    assert!(p.relations.is_empty() && p.changes.is_empty());
}

#[test]
fn the_operator_needs_no_rights_an_unknown_agent_has_none() {
    let config = config();
    let mut f = facts(&[]);
    f.directory.sender.agent = None;
    let mut p = plan();
    let why = with(&config, |s| {
        link(&mut p, &f, s, OPERATOR, LinkKind::Parent, B)
    })
    .unwrap_err();
    assert!(why.contains("operator is not an agent"), "{why}");
    f.relations.operator = true;
    with(&config, |s| {
        link(&mut p, &f, s, OPERATOR, LinkKind::Parent, B)
    })
    .unwrap();
}

#[test]
fn transfer_sends_the_history_and_moves_the_ticket_to_transferred() {
    let mut f = facts(&["staff"]);
    f.relations.history = vec![HistoryArticle {
        created_at: "2026-11-22T10:00:00Z".into(),
        direction: "in".into(),
        from: "ana@customer.test".into(),
        subject: "Printer".into(),
        text: "It does not print.\n".into(),
    }];
    let mut p = plan();
    let said = with(&config(), |s| {
        transfer(&mut p, &f, s, "alice", "Help@Vendor.test")
    })
    .unwrap();
    assert_eq!(
        said,
        format!(
            "transferred ticket {A} to help@vendor.test with 1 article(s) of its history; \
             state open → transferred; their answers come back into it"
        )
    );
    assert_eq!(p.ticket.as_ref().unwrap().state, "transferred");
    assert_eq!(
        p.changes,
        vec![
            by_command("state", Some("open"), Some("transferred")),
            by_command("transferred_to", None, Some("help@vendor.test")),
        ]
    );
    assert_eq!(
        p.relations,
        vec![
            RelationPlan::Transfer {
                ticket: side(7, A),
                address: "help@vendor.test".into(),
            },
            RelationPlan::Notice(Notice {
                kind: Kind::Transferred,
                ticket: side(7, A),
                other: String::new(),
                to: vec!["help@vendor.test".into()],
                from_mailbox: "support".into(),
                language: "en".into(),
                text: "----- 2026-11-22T10:00:00Z From — ana@customer.test\nSubject: Printer\n\n\
                       It does not print.\n\n"
                    .into(),
                references: Vec::new(),
                suppressed: None,
            }),
        ]
    );
}

#[test]
fn transfer_refuses_what_is_no_other_helpdesk() {
    let config = config();
    let f = facts(&["staff"]);
    for (to, expected) in [
        ("nobody", "is not a mail address"),
        ("support@example.com", "one of our own addresses"),
    ] {
        let mut p = plan();
        let why = with(&config, |s| transfer(&mut p, &f, s, "alice", to)).unwrap_err();
        assert!(why.contains(expected), "{to}: {why}");
        assert!(p.relations.is_empty() && p.changes.is_empty());
    }
    let mut p = plan();
    let why = with(&config, |s| {
        transfer(&mut p, &facts(&["sales"]), s, "alice", "x@vendor.test")
    })
    .unwrap_err();
    assert!(why.contains("no rw on group staff"), "{why}");
}

/// Ticket A, a problem, resolved with incident B (requester bob) linked.
fn resolving(from: &str, to: &str, incidents: bool) -> Plan {
    let mut f = facts(&["staff"]);
    f.thread.as_mut().unwrap().ticket.state = from.into();
    if incidents {
        f.relations.incidents = vec![(other(), vec!["bob@customer.test".into()])];
    }
    let mut p = plan();
    p.ticket.as_mut().unwrap().state = to.to_string();
    with(&config(), |s| linked_resolved(&mut p, &f, s));
    p
}

#[test]
fn resolving_a_problem_tells_its_incidents_requesters() {
    let p = resolving("open", "resolved", true);
    assert_eq!(
        p.relations,
        vec![RelationPlan::Notice(Notice {
            kind: Kind::LinkedResolved,
            ticket: side(9, B),
            other: A.into(),
            to: vec!["bob@customer.test".into()],
            from_mailbox: "ventes".into(),
            language: "fr".into(),
            text: String::new(),
            references: Vec::new(),
            suppressed: None,
        })]
    );
    // Not again when it was resolved already, not for a final state
    // (abandoned), not without incidents, not for a move that resolves
    // nothing.
    assert!(resolving("resolved", "resolved", true).relations.is_empty());
    assert!(resolving("open", "abandoned", true).relations.is_empty());
    assert!(resolving("open", "resolved", false).relations.is_empty());
    assert!(resolving("open", "waiting", true).relations.is_empty());
}

#[test]
fn typed_numbers_are_their_digits() {
    assert_eq!(facts::number_key(" [Ticket#2026112210000017] "), A);
    assert_eq!(facts::number_key(A), A);
    assert_eq!(facts::number_key("soon"), "");
}

#[test]
fn transfer_moves_from_the_state_the_plan_leaves() {
    // The ticket was posted; the agent's mail opened it (first action).
    let mut f = facts(&["staff"]);
    f.thread.as_mut().unwrap().ticket.state = "posted".into();
    let mut p = plan();
    let said = with(&config(), |s| {
        transfer(&mut p, &f, s, "alice", "x@vendor.test")
    })
    .unwrap();
    assert!(said.contains("state open → transferred"), "{said}");
    assert_eq!(
        p.changes[0],
        by_command("state", Some("open"), Some("transferred"))
    );
}

/// The plan an operator's action on `t` starts from in these tests: the
/// ticket as it is, followed up by an agent with powers, nothing else.
fn operator_plan(
    config: &crate::config::Config,
    t: &records::TicketRef,
    tags: Vec<String>,
) -> Plan {
    {
        let mailbox = (config.mailboxes.iter())
            .find(|m| m.address == t.support_address)
            .or_else(|| config.mailboxes.iter().find(|m| m.queue == t.queue));
        Plan {
            ticket: Some(TicketPlan {
                subject: t.subject.clone(),
                queue: t.queue.clone(),
                state: t.state.clone(),
                language: t.language.clone(),
                classification: priority::Classification {
                    urgency: t.urgency,
                    impact: t.impact,
                    priority: t.priority,
                    priority_explicit: t.priority_explicit,
                },
                ticket_type: t.ticket_type.as_deref().and_then(|x| x.parse().ok()),
                service: t.service.clone(),
                category: t.category.clone(),
                tags: tags.into_iter().collect(),
                followed_from: None,
            }),
            ..Plan::new(
                Route {
                    mailbox: mailbox.map(|m| m.name.clone()),
                    address: mailbox.map(|m| m.address.clone()),
                    received_by: None,
                    reason: "an operator's action at the command line".into(),
                },
                Disposition::FollowUp {
                    ticket: t.clone(),
                    standing: Standing::AgentWithPowers,
                },
            )
        }
    }
}
