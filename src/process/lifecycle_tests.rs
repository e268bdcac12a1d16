//! The lifecycle in the decide stage, as data: a customer's reply to a
//! waiting or closed ticket under each queue policy, and the state-change
//! mail an agent's, a command's or the scheduler's move sends.

use super::*;
use crate::config::Config;
use crate::process::decide::tests::{answers, config, mail, thread_facts};
use crate::process::decide::{decide, Settings};
use crate::process::plan::NoRules;
use crate::threading::Numbering;
use crate::tickets::lifecycle::{Lifecycle, QueuePolicy, ReplyToClosed};

/// The example configuration whose `support` queue answers replies to
/// closed tickets with `policy`.
fn config_with(policy: ReplyToClosed) -> Config {
    let mut c = config();
    let queues = [(
        "support".to_string(),
        QueuePolicy {
            reply_to_closed: policy,
            ..QueuePolicy::default()
        },
    )];
    let d = Lifecycle::default();
    c.lifecycle = Lifecycle::new(
        d.states().to_vec(),
        crate::tickets::lifecycle::strict_matrix(),
        QueuePolicy::default(),
        queues.into_iter().collect(),
        ("resolved".into(), "validated".into()),
    )
    .unwrap();
    c
}

fn run(c: &Config, state: &str) -> Plan {
    let own = c.own_addresses();
    let numbering = Numbering::new(&c.system.ticket_tag, c.system.system_id);
    let s = Settings {
        config: c,
        own: &own,
        numbering: &numbering,
        rules: &NoRules,
    };
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Re: [Ticket#2026112210000017] Printer",
    );
    decide(&thread_facts(state, answers()), &m, Some("support"), &s)
}

fn state_changes(p: &Plan) -> Vec<(ActorKind, Option<String>, Option<String>)> {
    p.changes
        .iter()
        .filter(|c| c.field == "state")
        .map(|c| (c.actor_kind, c.old.clone(), c.new.clone()))
        .collect()
}

#[test]
fn a_customer_reply_opens_a_waiting_ticket_and_says_so_in_the_history() {
    let p = run(&config(), "waiting");
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
    assert_eq!(
        state_changes(&p),
        [(
            ActorKind::System,
            Some("waiting".into()),
            Some("open".into())
        )]
    );
    assert!(p.notifications.iter().all(|n| n.kind != Kind::StateChanged));
}

#[test]
fn a_reply_to_a_resolved_ticket_follows_the_queue_policy() {
    let p = run(&config_with(ReplyToClosed::Reopen), "resolved");
    assert!(matches!(p.disposition, Disposition::FollowUp { .. }));
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
    assert_eq!(
        state_changes(&p),
        [(
            ActorKind::System,
            Some("resolved".into()),
            Some("open".into())
        )]
    );

    let p = run(&config_with(ReplyToClosed::NewTicket), "resolved");
    assert_eq!(p.disposition, Disposition::NewTicket { quoted: None });
    let t = p.ticket.as_ref().unwrap();
    assert_eq!(t.state, "posted");
    assert_eq!(t.followed_from.as_deref(), Some("2026112210000017"));
    assert!(p
        .changes
        .iter()
        .any(|c| c.field == "followed_from" && c.new.as_deref() == Some("2026112210000017")));
    assert!(p.notifications.iter().any(|n| n.kind == Kind::AutoReply));

    let p = run(&config_with(ReplyToClosed::Refuse), "validated");
    let Disposition::Refuse { why, quoted, .. } = &p.disposition else {
        panic!("{:?}", p.disposition)
    };
    assert_eq!(*why, Refusal::ClosedTicket);
    assert_eq!(quoted.as_ref().unwrap().number, "2026112210000017");
    assert!(p.ticket.is_none() && p.article.is_none());
    let n = &p.notifications[..];
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].kind, Kind::FollowUpRefused);
    assert_eq!(n[0].to, ["ana@customer.test"]);
    assert_eq!(n[0].suppressed, None);
}

#[test]
fn a_state_no_longer_configured_is_kept_readable_and_reopened() {
    let p = run(&config(), "archived");
    assert!(matches!(p.disposition, Disposition::FollowUp { .. }));
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
    assert!(p.trace.iter().any(|d| d.said.contains("no longer lists")));
}

#[test]
fn a_move_by_an_agent_tells_the_customers_and_resolved_asks_them_to_confirm() {
    let c = config();
    let own = c.own_addresses();
    let numbering = Numbering::new(&c.system.ticket_tag, c.system.system_id);
    let s = Settings {
        config: &c,
        own: &own,
        numbering: &numbering,
        rules: &NoRules,
    };
    let before = crate::process::decide::tests::ticket("open");
    let people = vec![
        ("ana@customer.test".to_string(), "requester".to_string()),
        ("support@example.com".to_string(), "observer".to_string()),
        ("alice@example.com".to_string(), "agent".to_string()),
    ];
    let now = chrono::Utc::now();
    for (to, by, kind) in [
        ("resolved", ActorKind::Command, Some(Kind::Resolved)),
        ("waiting", ActorKind::Agent, Some(Kind::StateChanged)),
        ("validated", ActorKind::Scheduler, Some(Kind::StateChanged)),
        ("resolved", ActorKind::Rule, None),
        ("resolved", ActorKind::System, None),
    ] {
        let mut p = run(&c, "open");
        p.ticket.as_mut().unwrap().state = to.into();
        p.changes.push(Change {
            actor_kind: by,
            actor: "alice".into(),
            field: "state",
            old: Some("open".into()),
            new: Some(to.into()),
        });
        p.notifications.clear();
        state_notice(&mut p, &before, &people, &[], now, &s);
        let got: Vec<(Kind, Vec<String>)> = p
            .notifications
            .iter()
            .map(|n| (n.kind, n.to.clone()))
            .collect();
        let want: Vec<(Kind, Vec<String>)> = kind
            .map(|k| (k, vec!["ana@customer.test".to_string()]))
            .into_iter()
            .collect();
        assert_eq!(got, want, "{to} by {by}");
    }
    // Where a reply does not reopen, `resolved` would promise too much.
    let refusing = config_with(ReplyToClosed::Refuse);
    let s2 = Settings {
        config: &refusing,
        own: &own,
        numbering: &numbering,
        rules: &NoRules,
    };
    let mut p = run(&refusing, "open");
    p.ticket.as_mut().unwrap().state = "resolved".into();
    p.changes.push(Change {
        actor_kind: ActorKind::Command,
        actor: "alice".into(),
        field: "state",
        old: Some("open".into()),
        new: Some("resolved".into()),
    });
    p.notifications.clear();
    state_notice(&mut p, &before, &people, &[], now, &s2);
    assert_eq!(p.notifications[0].kind, Kind::StateChanged);
    // The loop caps of the ticket hold it back.
    let mut p = run(&c, "open");
    p.ticket.as_mut().unwrap().state = "resolved".into();
    p.changes.push(Change {
        actor_kind: ActorKind::Command,
        actor: "alice".into(),
        field: "state",
        old: Some("open".into()),
        new: Some("resolved".into()),
    });
    p.notifications.clear();
    let many = vec![now; 1000];
    state_notice(&mut p, &before, &people, &many, now, &s);
    assert!(p.notifications[0]
        .suppressed
        .as_deref()
        .unwrap()
        .contains("loop cap"));
}

#[test]
fn an_agents_first_action_opens_without_telling_the_customer() {
    let c = config();
    let own = c.own_addresses();
    let numbering = Numbering::new(&c.system.ticket_tag, c.system.system_id);
    let s = Settings {
        config: &c,
        own: &own,
        numbering: &numbering,
        rules: &NoRules,
    };
    let before = crate::process::decide::tests::ticket("posted");
    let mut p = run(&c, "posted");
    p.ticket.as_mut().unwrap().state = "open".into();
    p.changes.push(Change {
        actor_kind: ActorKind::Agent,
        actor: "alice".into(),
        field: "state",
        old: Some("posted".into()),
        new: Some("open".into()),
    });
    p.notifications.clear();
    let people = vec![("ana@customer.test".to_string(), "requester".to_string())];
    state_notice(&mut p, &before, &people, &[], chrono::Utc::now(), &s);
    assert!(p.notifications.is_empty());
}
