//! An agent's forward in the decide stage, stated as data: a parsed
//! forward and the facts in, whose ticket it makes and what is sent out.

use super::*;
use crate::auth::{Authenticity, Pass};
use crate::config::Config;
use crate::directory::permission::Member;
use crate::directory::Strangers;
use crate::notify::Kind;
use crate::process::decide::tests::{config, thread_facts};
use crate::process::decide::{decide, Settings};
use crate::process::facts::Match;
use crate::process::plan::NoRules;
use crate::store::directory::lookup::QueueFacts;
use crate::threading::Numbering;

const ALICE: &str = "alice@example.com";
const ANA: &str = "ana@client.test";
const NUMBER: &str = "2026112210000017";

const INLINE: &str = "VIP customer, please hurry.\n\n---------- Forwarded message ---------\nFrom: Ana Souza <ana@client.test>\nDate: Mon, 30 Nov 2026 at 10:00\nSubject: Printer on fire\nTo: <alice@example.com>\n\nIt does not print.\n";

/// Alice's mail to the support address forwarding `body`.
fn forward(subject: &str, body: &str) -> InboundMail {
    let raw = format!(
        "From: Alice Martin <{ALICE}>\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <fwd1@example.com>\r\n\r\n{body}"
    );
    crate::mail::parse(raw.as_bytes(), "desk.example.com").expect("test mail parses")
}

fn agent() -> Member {
    Member {
        name: "alice".into(),
        active: true,
        rw: vec!["staff".into()],
        ro: Vec::new(),
    }
}

fn queues() -> Vec<QueueFacts> {
    vec![QueueFacts {
        unknown_senders: Default::default(),
        service: None,
        name: "support".into(),
        group: Some("staff".into()),
        notify: "group".into(),
        notify_to: vec![ALICE.into(), "bert@example.com".into()],
        cc_observers: true,
        strangers: Strangers::System,
        comment_address: None,
    }]
}

/// The facts for `m` from alice (an agent when `is_agent`), proven or
/// not, threaded to the tagged ticket when `tagged`.
fn facts(m: &InboundMail, is_agent: bool, proven: bool, tagged: bool) -> Facts {
    let mut f = if tagged {
        let mut f = thread_facts("open", Default::default());
        if let Some(t) = f.thread.as_mut() {
            t.directory.queue_group = Some("staff".into());
        }
        f
    } else {
        Facts::default()
    };
    f.directory.sender.agent = is_agent.then(agent);
    f.directory.queues = queues();
    f.authenticity = Authenticity {
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
    };
    // What `gather` reads: ana is nobody the directory knows yet.
    f.forward = m
        .forward
        .as_deref()
        .and_then(|x| x.original.as_ref().ok())
        .filter(|_| is_agent)
        .map(|o| ForwardFacts {
            original_from: o.from.address.clone(),
            directory: permit::DirectoryFacts {
                queues: queues(),
                ..Default::default()
            },
            language: Some(crate::process::plan::LanguageChoice {
                code: "pt".into(),
                source: "customer",
            }),
            language_with_templates: Some("pt".into()),
            known: None,
        });
    f
}

fn run(config: &Config, f: &Facts, m: &InboundMail) -> Plan {
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

fn said(p: &Plan, step: &str) -> String {
    p.trace
        .iter()
        .filter(|d| d.step == step)
        .map(|d| d.said.clone())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn an_authenticated_agents_forward_is_the_customers_new_ticket() {
    let m = forward("Fwd: Printer on fire", INLINE);
    let p = run(&config(), &facts(&m, true, true, false), &m);
    assert!(matches!(
        p.disposition,
        Disposition::NewTicket { quoted: None }
    ));
    let t = p.ticket.as_ref().unwrap();
    assert_eq!(t.subject, "Printer on fire");
    assert_eq!(t.language, "pt", "the customer's language, not the agent's");
    assert_eq!(p.participants.len(), 1, "{:?}", p.participants);
    assert_eq!(p.participants[0].address, ANA);
    assert_eq!(p.participants[0].role, "requester");
    assert_eq!(p.participants[0].name.as_deref(), Some("Ana Souza"));
    let a = p.article.as_ref().unwrap();
    assert_eq!(a.kind, "customer");
    assert!(a.trusted && !a.internal && a.unverified.is_none());
    assert!(a
        .notes
        .iter()
        .any(|n| n.contains("forwarded by agent alice")));
    let fp = p.forward.as_ref().expect("the forward is honoured");
    assert_eq!(fp.agent, "alice");
    assert_eq!(fp.original_from, ANA);
    assert_eq!(fp.note.as_deref(), Some("VIP customer, please hurry."));
    assert!(p.agent.is_none(), "nothing is relayed as an agent's reply");
    assert!(
        said(&p, "forward").contains("forward by agent alice of ana@client.test's mail (inline)"),
        "{}",
        said(&p, "forward")
    );
    // The customer gets the auto-reply; the agent gets none.
    let auto: Vec<_> = (p.notifications.iter())
        .filter(|n| n.kind == Kind::AutoReply)
        .collect();
    assert_eq!(auto.len(), 1);
    assert_eq!(auto[0].to, vec![ANA.to_string()]);
    assert_eq!(auto[0].suppressed, None);
    assert!(p
        .notifications
        .iter()
        .all(|n| !n.to.contains(&ALICE.to_string()) || n.kind != Kind::AutoReply));
}

#[test]
fn the_queue_may_keep_the_auto_reply_from_a_forwarded_mails_customer() {
    let mut c = config();
    for q in &mut c.queues {
        q.forward_auto_reply = false;
    }
    let m = forward("Fwd: Printer on fire", INLINE);
    let p = run(&c, &facts(&m, true, true, false), &m);
    assert!(p.forward.is_some());
    let auto = (p.notifications.iter())
        .find(|n| n.kind == Kind::AutoReply)
        .unwrap();
    assert!(
        auto.suppressed
            .as_deref()
            .is_some_and(|s| s.contains("forward_auto_reply = false")),
        "{auto:?}"
    );
}

#[test]
fn an_unauthenticated_or_non_agent_forward_never_impersonates_the_quoted_sender() {
    let m = forward("Fwd: Printer on fire", INLINE);
    for (is_agent, why) in [
        (
            true,
            "not honoured: agent address alice@example.com not proven",
        ),
        (false, "alice@example.com is no agent"),
    ] {
        let p = run(&config(), &facts(&m, is_agent, false, false), &m);
        assert!(p.forward.is_none());
        assert!(said(&p, "forward").contains(why), "{}", said(&p, "forward"));
        assert!(
            p.participants.iter().all(|x| x.address != ANA),
            "{:?}",
            p.participants
        );
        assert!(
            p.participants.iter().any(|x| x.address == ALICE),
            "{:?}",
            p.participants
        );
        assert!(p
            .notifications
            .iter()
            .all(|n| !n.to.contains(&ANA.to_string())));
    }
}

#[test]
fn a_tag_adds_the_forward_to_that_ticket_and_new_makes_one_anyway() {
    let subject = format!("Fwd: [Ticket#{NUMBER}] Printer");
    let m = forward(&subject, INLINE);
    let p = run(&config(), &facts(&m, true, true, true), &m);
    match &p.disposition {
        Disposition::FollowUp { ticket, standing } => {
            assert_eq!(ticket.number, NUMBER);
            assert_eq!(*standing, Standing::Answers);
        }
        d => panic!("{d:?}"),
    }
    assert_eq!(p.article.as_ref().unwrap().kind, "customer");
    assert!(p.forward.is_some());
    assert!(said(&p, "forward").contains(&format!("added to ticket {NUMBER}")));

    let m = forward(&subject, &format!("#new\n{INLINE}"));
    let p = run(&config(), &facts(&m, true, true, true), &m);
    assert!(
        matches!(p.disposition, Disposition::NewTicket { .. }),
        "{:?}",
        p.disposition
    );
    assert!(said(&p, "forward").contains("a new ticket (#new)"));
    assert_eq!(p.participants[0].address, ANA);
}

#[test]
fn an_inline_forward_without_a_readable_from_is_the_agents_ordinary_mail() {
    let body = "See below.\n\n---------- Forwarded message ---------\nFrom: Ana Souza\nSubject: x\n\nIt does not print.\n";
    let m = forward("Fwd: x", body);
    let p = run(&config(), &facts(&m, true, true, false), &m);
    assert!(p.forward.is_none());
    let why = said(&p, "forward");
    assert!(
        why.contains("holds no address") && why.contains("ordinary mail"),
        "{why}"
    );
}

#[test]
fn an_agents_reply_quoting_a_forward_on_a_ticket_is_a_reply_not_a_forward() {
    // Regression: a reply quoting a mail that held a forward (or Outlook's
    // "Original Message" history) must still reach the customer.
    let body = format!(
        "The driver is fixed.\n\nOn Monday Ana wrote:\n> {}",
        INLINE.replace('\n', "\n> ")
    );
    let m = forward(&format!("Re: [Ticket#{NUMBER}] Printer"), &body);
    assert!(
        m.forward.is_some(),
        "the quoted marker is found by the parser"
    );
    let p = run(&config(), &facts(&m, true, true, true), &m);
    assert!(p.forward.is_none());
    assert!(
        said(&p, "forward").contains("no forward prefix"),
        "{}",
        said(&p, "forward")
    );
    assert!(matches!(
        p.agent.as_ref().and_then(|a| a.action.as_ref()),
        Some(crate::process::agent::AgentAction::Reply { .. })
    ));
}

#[test]
fn without_a_tag_the_ticket_holding_the_originals_message_id_takes_the_forward() {
    let inner = "From: Ana Souza <ana@client.test>\r\nSubject: Printer on fire\r\nMessage-ID: <p1@client.test>\r\n\r\nIt does not print.\r\n";
    let body = format!("Content-Type: multipart/mixed; boundary=O\r\n\r\n--O\r\nContent-Type: text/plain\r\n\r\nShe wrote to me too.\r\n--O\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--O--\r\n");
    let raw = format!("From: Alice Martin <{ALICE}>\r\nTo: support@example.com\r\nSubject: Fwd: Printer on fire\r\nMIME-Version: 1.0\r\n{body}");
    let m = crate::mail::parse(raw.as_bytes(), "desk.example.com").unwrap();
    let mut f = facts(&m, true, true, false);
    let mut known = thread_facts("open", Default::default()).thread.unwrap();
    known.directory.queue_group = Some("staff".into());
    known.matched = Match::MessageId {
        message_id: "p1@client.test".into(),
    };
    f.forward.as_mut().unwrap().known = Some(known);
    let p = run(&config(), &f, &m);
    match &p.disposition {
        Disposition::FollowUp { ticket, standing } => {
            assert_eq!(ticket.number, NUMBER);
            assert_eq!(*standing, Standing::Answers);
        }
        d => panic!("{d:?}"),
    }
    assert!(said(&p, "forward").contains("already holds the original's Message-ID"));
    assert_eq!(p.forward.as_ref().unwrap().style, Style::Attached);
    assert_eq!(
        p.forward.as_ref().unwrap().original_message_id.as_deref(),
        Some("p1@client.test")
    );
}

#[test]
fn a_forward_records_who_forwarded_whose_mail_in_the_tickets_history() {
    let row = vec![crate::tickets::history::Change {
        actor_kind: crate::tickets::history::ActorKind::Agent,
        actor: "alice".into(),
        field: "forwarded",
        old: None,
        new: Some(ANA.into()),
    }];
    let forwarded = |p: &Plan| -> Vec<crate::tickets::history::Change> {
        p.changes
            .iter()
            .filter(|c| c.field == "forwarded")
            .cloned()
            .collect()
    };
    // A new ticket, and a tagged one the forward is added to.
    let m = forward("Fwd: Printer on fire", INLINE);
    let p = run(&config(), &facts(&m, true, true, false), &m);
    assert_eq!(forwarded(&p), row);
    let m = forward(&format!("Fwd: [Ticket#{NUMBER}] Printer"), INLINE);
    let p = run(&config(), &facts(&m, true, true, true), &m);
    assert!(matches!(p.disposition, Disposition::FollowUp { .. }));
    assert_eq!(forwarded(&p), row);
    // A forward not honoured records none.
    let m = forward("Fwd: Printer on fire", INLINE);
    let p = run(&config(), &facts(&m, true, false, false), &m);
    assert!(forwarded(&p).is_empty());
}
