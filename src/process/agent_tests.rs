//! Agents' powers in the decide stage, stated as data: facts and a mail
//! in, the plan's agent decision, article, changes and mail out.

use super::*;
use crate::auth::{Authenticity, Pass, TokenCheck};
use crate::config::Config;
use crate::directory::permission::Member;
use crate::directory::Strangers;
use crate::process::decide::tests::{config, mail, thread_facts};
use crate::process::decide::{decide, Settings};
use crate::process::plan::{NoRules, Notification};
use crate::process::standing;
use crate::store::directory::lookup::QueueFacts;
use crate::threading::Numbering;

pub(crate) const ALICE: &str = "alice@example.com";
pub(crate) const NUMBER: &str = "2026112210000017";

pub(crate) fn evidence(proven: bool) -> Authenticity {
    Authenticity {
        from: ALICE.into(),
        summary: "not authenticated: no Authentication-Results header".into(),
        authenticated: proven.then(|| Pass {
            position: 1,
            authserv_id: "mx.example.com".into(),
            method: "dkim".into(),
            domain: "example.com".into(),
            from_domain: "example.com".into(),
        }),
        ..Authenticity::default()
    }
}

/// Alice, an agent with rw on `staff`, writes on a ticket of queue
/// `support` (group `staff`, notified: alice and bert) in `state`, whose
/// requester is ana and observer carl.
pub(crate) fn facts(state: &str, evidence: Authenticity) -> Facts {
    let mut f = thread_facts(
        state,
        standing::Facts {
            answers: true,
            answers_alert: true,
            ..Default::default()
        },
    );
    let t = f.thread.as_mut().unwrap();
    t.directory.queue_group = Some("staff".into());
    t.agent = TicketFacts {
        people: vec![
            ("ana@customer.test".into(), "requester".into()),
            ("carl@customer.test".into(), "observer".into()),
        ],
        customer_ids: vec!["c1@customer.test".into(), "c2@customer.test".into()],
        assigned_agent: None,
    };
    f.directory.sender.agent = Some(Member {
        name: "alice".into(),
        active: true,
        rw: vec!["staff".into()],
        ro: Vec::new(),
    });
    f.directory.queues = vec![QueueFacts {
        unknown_senders: Default::default(),
        service: None,
        name: "support".into(),
        group: Some("staff".into()),
        notify: "group".into(),
        notify_to: vec![ALICE.into(), "bert@example.com".into()],
        cc_observers: true,
        strangers: Strangers::System,
        comment_address: Some("support-comment@example.com".into()),
    }];
    f.authenticity = evidence;
    f
}

pub(crate) fn agent_mail(text: &str, quote_start: Option<usize>) -> InboundMail {
    let mut m = mail(
        ALICE,
        &["support@example.com"],
        &[],
        &format!("Re: [Ticket#{NUMBER}] Printer"),
    );
    m.from.name = Some("Alice Martin".into());
    m.text = text.into();
    m.quote_start = quote_start;
    m
}

pub(crate) fn run(config: &Config, f: &Facts, m: &InboundMail) -> Plan {
    let own = config.own_addresses();
    let numbering = Numbering::new(&config.system.ticket_tag, config.system.system_id);
    decide(
        f,
        m,
        Some("support"),
        &Settings {
            config,
            own: &own,
            numbering: &numbering,
            rules: &NoRules,
        },
    )
}

fn notice(kind: Kind, to: &[&str], suppressed: Option<&str>) -> Notification {
    Notification {
        kind,
        template: None,
        to: to.iter().map(|s| s.to_string()).collect(),
        from_mailbox: "support".into(),
        language: "en".into(),
        suppressed: suppressed.map(str::to_string),
        held: None,
        note_if_suppressed: true,
        is_agents_alert: false,
    }
}

fn change(field: &'static str, old: Option<&str>, new: &str) -> Change {
    Change {
        actor_kind: ActorKind::Agent,
        actor: "alice".into(),
        field,
        old: old.map(str::to_string),
        new: Some(new.into()),
    }
}

#[test]
fn an_authenticated_agents_reply_is_relayed_without_quotes_or_commands() {
    let text = "#priority 2\n\nThe driver is fixed.\nTry again.\n\nOn Monday Ana wrote:\n> It does not print.\n";
    let quote = text.find("On Monday").unwrap();
    let p = run(
        &config(),
        &facts("posted", evidence(true)),
        &agent_mail(text, Some(quote)),
    );
    assert!(
        matches!(
            p.disposition,
            Disposition::FollowUp {
                standing: Standing::AgentWithPowers,
                ..
            }
        ),
        "{:?}",
        p.disposition
    );
    let a = p.agent.clone().unwrap();
    assert!(a.powers.granted, "{:?}", a.powers);
    assert_eq!(a.display_name, "Alice Martin");
    assert_eq!(
        a.action,
        Some(AgentAction::Reply {
            text: "The driver is fixed.\nTry again.".into(),
            in_reply_to: Some("c2@customer.test".into()),
            references: vec!["c1@customer.test".into(), "c2@customer.test".into()],
        })
    );
    let article = p.article.clone().unwrap();
    assert_eq!(
        (article.kind, article.internal, article.unverified),
        ("agent_reply", false, None)
    );
    // The relay and the agent's transcript of `#priority 2`: no
    // auto-reply, no agents' alert.
    assert_eq!(
        p.notifications,
        vec![
            notice(Kind::CommandTranscript, &[ALICE], None),
            notice(
                Kind::AgentReply,
                &["ana@customer.test", "carl@customer.test"],
                None
            )
        ]
    );
    // Posted opens on the agent's first action; unassigned: assigned to
    // the agent who answered; both in the history as the agent's.
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
    assert_eq!(p.assign.agent.as_deref(), Some("alice"));
    assert_eq!(
        p.changes,
        vec![
            change("state", Some("posted"), "open"),
            change("agent", None, "alice"),
            Change {
                actor_kind: ActorKind::Command,
                ..change("priority", Some("3"), "2")
            },
        ]
    );
}

#[test]
fn a_valid_reply_token_grants_powers_too() {
    let mut e = evidence(false);
    e.token = Some(TokenCheck {
        address: format!("support+t{NUMBER}-abcdefghij@example.com"),
        ticket: NUMBER.into(),
        agent: ALICE.into(),
        valid: true,
        said: "valid".into(),
    });
    let p = run(&config(), &facts("open", e), &agent_mail("Done.", None));
    let a = p.agent.unwrap();
    assert!(a.powers.reason.contains("reply-address token"), "{a:?}");
    assert_eq!(p.notifications[0].kind, Kind::AgentReply);
    // Already open: no state change.
    assert_eq!(p.changes, vec![change("agent", None, "alice")]);
}

#[test]
fn a_forged_agents_reply_gets_no_powers_and_relays_nothing() {
    let p = run(
        &config(),
        &facts("posted", evidence(false)),
        &agent_mail("Done.", None),
    );
    let a = p.agent.clone().unwrap();
    assert!(!a.powers.granted);
    assert_eq!(a.action, None);
    assert!(matches!(
        p.disposition,
        Disposition::FollowUp {
            standing: Standing::AgentsSide,
            ..
        }
    ));
    let article = p.article.unwrap();
    assert_eq!(article.kind, "agents_side");
    assert!(
        article
            .unverified
            .as_deref()
            .unwrap()
            .contains("agent powers refused"),
        "{article:?}"
    );
    assert!(
        article.notes[0].starts_with("no agent powers: agent address alice@example.com not proven")
    );
    // Handled as today: nothing to the customers, nothing changed.
    assert!(p.notifications.iter().all(|n| n.kind != Kind::AgentReply));
    assert!(p.notifications.iter().all(|n| n.is_agents_alert));
    assert_eq!(p.changes, vec![]);
    assert_eq!(p.assign.agent, None);
    let said = &p
        .trace
        .iter()
        .find(|d| d.step == "agent_powers")
        .unwrap()
        .said;
    assert!(said.starts_with("refused: agent address"), "{said}");
}

#[test]
fn an_agent_without_rw_or_an_automatic_mail_gets_no_powers() {
    let mut f = facts("open", evidence(true));
    f.directory.sender.agent.as_mut().unwrap().rw = vec!["sales".into()];
    let p = run(&config(), &f, &agent_mail("Done.", None));
    let reason = p.agent.unwrap().powers.reason;
    assert_eq!(reason, "agent alice has no rw on the queue's group (staff)");

    let mut m = agent_mail("I am away.", None);
    m.automatic = Some(crate::mail::Automatic(
        "Auto-Submitted: auto-replied".into(),
    ));
    let p = run(&config(), &facts("open", evidence(true)), &m);
    assert!(p.agent.unwrap().powers.reason.starts_with("automatic mail"));
}

#[test]
fn a_note_goes_to_the_other_agents_only_and_is_internal() {
    let p = run(
        &config(),
        &facts("posted", evidence(true)),
        &agent_mail("#note\nCustomer is a VIP, be quick.\n", None),
    );
    assert_eq!(
        p.agent.unwrap().action,
        Some(AgentAction::Note {
            text: "Customer is a VIP, be quick.".into(),
            why: "a command line is #note".into(),
        })
    );
    let article = p.article.unwrap();
    assert_eq!((article.kind, article.internal), ("agent_note", true));
    assert_eq!(
        p.notifications,
        vec![notice(Kind::AgentNote, &["bert@example.com"], None)]
    );
    // A note opens a new ticket, and assigns nobody.
    assert_eq!(p.changes, vec![change("state", Some("posted"), "open")]);
    assert_eq!(p.assign.agent, None);
}

#[test]
fn mail_to_the_comment_address_is_a_note() {
    let mut m = agent_mail("Checked the logs.", None);
    m.to = vec![crate::mail::Mailbox {
        name: None,
        address: "Support-Comment@example.com".into(),
    }];
    let p = run(&config(), &facts("open", evidence(true)), &m);
    assert_eq!(
        p.agent.unwrap().action,
        Some(AgentAction::Note {
            text: "Checked the logs.".into(),
            why: "sent to the queue's comment address support-comment@example.com".into(),
        })
    );
}

#[test]
fn assignment_follows_the_queue_switch_and_an_existing_owner() {
    let mut config = config();
    for q in &mut config.queues {
        q.assign_on_agent_reply = false;
    }
    let p = run(
        &config,
        &facts("open", evidence(true)),
        &agent_mail("Done.", None),
    );
    assert_eq!((p.assign.agent, p.changes), (None, vec![]));

    let mut f = facts("open", evidence(true));
    f.thread.as_mut().unwrap().agent.assigned_agent = Some("bert".into());
    let p = run(
        &super::super::decide::tests::config(),
        &f,
        &agent_mail("Done.", None),
    );
    assert_eq!((p.assign.agent, p.changes), (None, vec![]));
}

#[test]
fn a_reply_of_commands_only_relays_nothing_and_says_why() {
    let p = run(
        &config(),
        &facts("open", evidence(true)),
        &agent_mail("#priority 2\n", None),
    );
    let n = &p.notifications[1];
    assert_eq!(n.kind, Kind::AgentReply);
    assert_eq!(
        n.suppressed.as_deref(),
        Some("the reply has no text of its own (commands or quotes only): nothing relayed")
    );
}
