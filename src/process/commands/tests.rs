//! Commands in the decide stage, stated as data: an agent's mail with
//! command lines in, the plan's changes, lines and mail out.

use std::collections::BTreeMap;

use super::*;
use crate::config::Config;
use crate::process::agent::tests::{agent_mail, evidence, facts, run, ALICE};
use crate::process::decide::tests::{config, mail};
use crate::process::plan::Plan;
use crate::store::commands::AgentRights;
use crate::tickets::history::{ActorKind, Change};
use crate::tickets::lifecycle::{self, Lifecycle, Mode, QueuePolicy};

fn rights(name: &str, address: &str, rw: &[&str]) -> AgentRights {
    AgentRights {
        name: name.into(),
        addresses: vec![address.into()],
        rw: rw.iter().map(|s| s.to_string()).collect(),
        language: (name == "alice").then(|| "pt".to_string()),
    }
}

/// Alice (rw on staff) on ticket in `state` of queue support (group
/// staff); bert has rw on staff, carl on nothing; groups staff and
/// billing-team; queue billing belongs to billing-team.
fn agent_facts(state: &str) -> Facts {
    let mut f = facts(state, evidence(true));
    f.directory.groups = vec!["billing-team".into(), "staff".into()];
    let mut billing = f.directory.queues[0].clone();
    billing.name = "billing".into();
    billing.group = Some("billing-team".into());
    billing.comment_address = None;
    f.directory.queues.push(billing);
    f.commands = Some(CommandFacts {
        agents: vec![
            rights("alice", ALICE, &["staff"]),
            rights("bert", "bert@example.com", &["staff"]),
            rights("carl", "carl@example.com", &[]),
        ],
        last_reply: None,
        operator: None,
    });
    f
}

fn commands_of(p: &Plan) -> &CommandsPlan {
    p.agent
        .as_ref()
        .and_then(|a| a.commands.as_ref())
        .expect("commands ran")
}

/// (written, status) of each transcript line.
fn lines(p: &Plan) -> Vec<(String, Status)> {
    commands_of(p)
        .lines
        .iter()
        .map(|l| (l.written.clone(), l.status))
        .collect()
}

fn said(p: &Plan, i: usize) -> String {
    commands_of(p).lines[i].said.clone()
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

fn sent(p: &Plan) -> Vec<(Kind, Vec<String>)> {
    p.notifications
        .iter()
        .filter(|n| n.suppressed.is_none())
        .map(|n| (n.kind, n.to.clone()))
        .collect()
}

fn strict(config: &mut Config) {
    let mut queues = BTreeMap::new();
    queues.insert(
        "support".to_string(),
        QueuePolicy {
            mode: Mode::Strict,
            ..QueuePolicy::default()
        },
    );
    config.lifecycle = Lifecycle::new(
        lifecycle::moodle_states(),
        lifecycle::strict_matrix(),
        QueuePolicy::default(),
        queues,
        ("resolved".into(), "validated".into()),
    )
    .unwrap();
}

#[test]
fn commands_only_change_the_ticket_relay_nothing_and_get_a_transcript() {
    let text = "#state resolved\n#priority 5\n#tag add printer\n#type incident\n";
    let p = run(&config(), &agent_facts("open"), &agent_mail(text, None));
    assert_eq!(
        lines(&p),
        [
            ("#state resolved".to_string(), Status::Applied),
            ("#priority 5".to_string(), Status::Applied),
            ("#tag add printer".to_string(), Status::Applied),
            ("#type incident".to_string(), Status::Applied),
        ]
    );
    let t = p.ticket.as_ref().unwrap();
    assert_eq!(t.state, "resolved");
    assert_eq!(t.classification.priority, 5);
    assert!(t.classification.priority_explicit);
    assert!(t.tags.contains("printer"));
    // The agent's reply without text: assigned to her, as any reply.
    assert_eq!(
        p.changes,
        [
            Change {
                actor_kind: ActorKind::Agent,
                ..by_command("agent", None, Some("alice"))
            },
            by_command("state", Some("open"), Some("resolved")),
            by_command("priority", Some("3"), Some("5")),
            by_command("tags", None, Some("printer")),
            by_command("type", None, Some("incident")),
        ]
    );
    // No relayed reply (it has no text); one transcript to the agent. The
    // customers hear of the move itself only: `resolved`, asking them to
    // confirm or reopen (process::lifecycle's notice).
    assert_eq!(
        sent(&p),
        [
            (Kind::CommandTranscript, vec![ALICE.to_string()]),
            (
                Kind::Resolved,
                vec![
                    "ana@customer.test".to_string(),
                    "carl@customer.test".to_string()
                ]
            )
        ]
    );
    assert!(p.notifications.iter().any(|n| n.kind == Kind::AgentReply
        && n.suppressed
            .as_deref()
            .is_some_and(|w| w.contains("no text of its own"))));
}

#[test]
fn strict_mode_refuses_a_forbidden_move_and_says_why() {
    let mut c = config();
    strict(&mut c);
    // The strict matrix lets an agent move an open ticket on, but never
    // straight to validated.
    let p = run(
        &c,
        &agent_facts("open"),
        &agent_mail("#state validated\n", None),
    );
    assert_eq!(
        lines(&p),
        [("#state validated".to_string(), Status::Refused)]
    );
    let why = said(&p, 0);
    assert!(why.contains("strict mode"), "{why}");
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
    assert!(!p.changes.iter().any(|c| c.field == "state"));
    // Relaxed (the default): the same move is applied.
    let p = run(
        &config(),
        &agent_facts("open"),
        &agent_mail("#state validated\n", None),
    );
    assert_eq!(
        lines(&p),
        [("#state validated".to_string(), Status::Applied)]
    );
    // A state that does not exist, and the one it is in already.
    let p = run(
        &config(),
        &agent_facts("open"),
        &agent_mail("#state nirvana\n#state open\n", None),
    );
    assert_eq!(
        lines(&p),
        [
            ("#state nirvana".to_string(), Status::Refused),
            ("#state open".to_string(), Status::Unchanged),
        ]
    );
    assert!(said(&p, 0).contains("the states are"), "{}", said(&p, 0));
}

#[test]
fn assign_needs_an_active_agent_with_rw_on_the_queues_group() {
    let text = "#assign zoe@example.com\n#assign carl\n#assign bert@example.com\n";
    let p = run(&config(), &agent_facts("open"), &agent_mail(text, None));
    assert_eq!(
        lines(&p),
        [
            ("#assign zoe@example.com".to_string(), Status::Refused),
            ("#assign carl".to_string(), Status::Refused),
            ("#assign bert@example.com".to_string(), Status::Applied),
        ]
    );
    assert!(said(&p, 1).contains("no rw"), "{}", said(&p, 1));
    assert_eq!(p.assign.agent.as_deref(), Some("bert"));
    // The reply's own assignment to alice came first, then bert's.
    assert!(p
        .changes
        .contains(&by_command("agent", Some("alice"), Some("bert"))));
    let mut f = agent_facts("open");
    f.thread.as_mut().unwrap().agent.assigned_agent = Some("bert".into());
    let p = run(&config(), &f, &agent_mail("#assign me\n", None));
    assert_eq!(p.assign.agent.as_deref(), Some("alice"));
    let p = run(&config(), &f, &agent_mail("#assign nobody\n", None));
    assert!(commands_of(&p).unassign);
    assert_eq!(p.changes, [by_command("agent", Some("bert"), None)]);
}

#[test]
fn queue_and_group_moves_are_checked_against_the_directory() {
    let text = "#queue billing\n#queue nowhere\n#group billing-team\n#group ghosts\n";
    let p = run(&config(), &agent_facts("open"), &agent_mail(text, None));
    assert_eq!(
        lines(&p),
        [
            ("#queue billing".to_string(), Status::Refused),
            ("#queue nowhere".to_string(), Status::Refused),
            ("#group billing-team".to_string(), Status::Applied),
            ("#group ghosts".to_string(), Status::Refused),
        ]
    );
    assert!(said(&p, 0).contains("no rw on the group of queue billing"));
    let mut f = agent_facts("open");
    f.directory
        .sender
        .agent
        .as_mut()
        .unwrap()
        .rw
        .push("billing-team".into());
    let p = run(&config(), &f, &agent_mail("#queue billing\n", None));
    assert_eq!(p.ticket.as_ref().unwrap().queue, "billing");
    assert!(p
        .changes
        .contains(&by_command("queue", Some("support"), Some("billing"))));
}

#[test]
fn urgency_and_impact_recompute_the_priority_through_the_matrix() {
    let c = config();
    let p = run(
        &c,
        &agent_facts("open"),
        &agent_mail("#urgency 5\n#impact 5\n", None),
    );
    let cl = p.ticket.as_ref().unwrap().classification;
    let mut expected = crate::tickets::priority::Classification::new(&c.priority);
    expected.set_urgency(5, &c.priority);
    expected.set_impact(5, &c.priority);
    assert_eq!(cl, expected);
    assert!(!cl.priority_explicit);
    assert!(p
        .changes
        .contains(&by_command("urgency", Some("3"), Some("5"))));
}

#[test]
fn cc_and_tags_add_and_remove_and_the_reply_follows() {
    let mut f = agent_facts("open");
    f.thread.as_mut().unwrap().tags = vec!["old".into()];
    let text = "#cc add dora@customer.test\n#cc remove carl@customer.test\n\
                #cc remove ana@customer.test\n#tag remove old\n#tag remove never\n\nHello all.\n";
    let p = run(&config(), &f, &agent_mail(text, None));
    assert_eq!(
        lines(&p),
        [
            ("#cc add dora@customer.test".to_string(), Status::Applied),
            ("#cc remove carl@customer.test".to_string(), Status::Applied),
            ("#cc remove ana@customer.test".to_string(), Status::Refused),
            ("#tag remove old".to_string(), Status::Applied),
            ("#tag remove never".to_string(), Status::Unchanged),
        ]
    );
    let c = commands_of(&p);
    assert_eq!(c.remove_observers, ["carl@customer.test"]);
    assert_eq!(c.remove_tags, ["old"]);
    // The reply reaches the requester and the new observer, not carl.
    let reply = p
        .notifications
        .iter()
        .find(|n| n.kind == Kind::AgentReply)
        .unwrap();
    assert_eq!(reply.to, ["ana@customer.test", "dora@customer.test"]);
    assert!(reply.suppressed.is_none());
}

#[test]
fn an_unauthenticated_agents_commands_change_nothing_and_mail_nobody() {
    let mut f = agent_facts("open");
    f.authenticity = evidence(false);
    let p = run(
        &config(),
        &f,
        &agent_mail("#state resolved\n#assign me\n", None),
    );
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.assign.agent, None);
    assert!(p.agent.as_ref().unwrap().commands.is_none());
    assert!(!p
        .notifications
        .iter()
        .any(|n| n.kind == Kind::CommandTranscript));
    let notes = &p.article.as_ref().unwrap().notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("2 command line(s) not run")),
        "{notes:?}"
    );
}

#[test]
fn mistyped_and_unavailable_commands_are_listed_with_the_reason() {
    let text = "#stat resolved\n#merge 2026112010000023\nControl: priority 9\n";
    let p = run(&config(), &agent_facts("open"), &agent_mail(text, None));
    assert_eq!(
        lines(&p),
        [
            ("#stat resolved".to_string(), Status::Invalid),
            ("#merge 2026112010000023".to_string(), Status::Refused),
            ("Control: priority 9".to_string(), Status::Invalid),
        ]
    );
    assert!(commands_of(&p).any_refused());
    assert_eq!(
        sent(&p),
        [(Kind::CommandTranscript, vec![ALICE.to_string()])]
    );
}

#[test]
fn a_colleagues_reply_minutes_earlier_is_told_and_both_are_relayed() {
    let mut f = agent_facts("open");
    let at = |minutes: i64| {
        (f.received_at - chrono::Duration::minutes(minutes))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let bert = |at: String| {
        Some(LastReply {
            from_address: "bert@example.com".into(),
            from_name: Some("Bert B.".into()),
            at,
        })
    };
    f.commands.as_mut().unwrap().last_reply = bert(at(3));
    let p = run(&config(), &f, &agent_mail("It works now.\n", None));
    let c = commands_of(&p).colleague.clone().unwrap();
    assert_eq!((c.name.as_str(), c.minutes), ("bert", 3));
    assert_eq!(
        sent(&p),
        [
            (Kind::CommandTranscript, vec![ALICE.to_string()]),
            (
                Kind::AgentReply,
                vec!["ana@customer.test".into(), "carl@customer.test".into()]
            ),
        ]
    );
    // Long ago, or her own earlier reply: nothing to tell.
    f.commands.as_mut().unwrap().last_reply = bert(at(COLLEAGUE_WINDOW_MINUTES + 5));
    let p = run(&config(), &f, &agent_mail("It works now.\n", None));
    assert_eq!(commands_of(&p).colleague, None);
    assert_eq!(sent(&p).len(), 1);
    let mut own = bert(at(1)).unwrap();
    own.from_address = ALICE.into();
    f.commands.as_mut().unwrap().last_reply = Some(own);
    let p = run(&config(), &f, &agent_mail("It works now.\n", None));
    assert_eq!(commands_of(&p).colleague, None);
}

#[test]
fn help_from_an_agent_gets_the_reference_and_no_ticket() {
    let mut f = agent_facts("open");
    f.thread = None;
    let mut m = mail(ALICE, &["support@example.com"], &[], "  HELP ");
    m.text = "\n".into();
    let p = run(&config(), &f, &m);
    assert_eq!(
        p.disposition,
        Disposition::Ignore {
            reason: HELP.into()
        }
    );
    assert_eq!(
        sent(&p),
        [(Kind::CommandReference, vec![ALICE.to_string()])]
    );
    // A customer asking for help gets a ticket, as any mail.
    f.directory.sender.agent = None;
    let mut m = mail("ana@customer.test", &["support@example.com"], &[], "help");
    m.text = "My printer!\n".into();
    let p = run(&config(), &f, &m);
    assert!(matches!(p.disposition, Disposition::NewTicket { .. }));
}

#[test]
fn a_trusted_operator_moves_a_ticket_without_rights_but_not_past_the_lifecycle() {
    let mut c = config();
    strict(&mut c);
    let mut f = agent_facts("open");
    f.directory.sender.agent = None;
    f.commands.as_mut().unwrap().operator = Some(Operator {
        as_agent: None,
        command: "ticket set",
    });
    f.authenticity = evidence(false);
    let mut m = agent_mail("#state validated\n#queue billing\n#assign me\n", None);
    m.from.address = "support@example.com".into();
    let p = run(&c, &f, &m);
    assert_eq!(
        lines(&p),
        [
            ("#state validated".to_string(), Status::Refused),
            ("#queue billing".to_string(), Status::Applied),
            ("#assign me".to_string(), Status::Refused),
        ]
    );
    assert_eq!(p.changes[0].actor, OPERATOR);
    // The CLI prints the outcome: no transcript mail.
    assert!(!p
        .notifications
        .iter()
        .any(|n| n.kind == Kind::CommandTranscript));
}

#[test]
fn a_note_line_below_other_commands_still_keeps_the_mail_from_the_customer() {
    let text = "#state resolved\n#note\nShe is a VIP.\n";
    let p = run(&config(), &agent_facts("open"), &agent_mail(text, None));
    assert_eq!(
        lines(&p),
        [
            ("#state resolved".to_string(), Status::Applied),
            ("#note".to_string(), Status::Applied),
        ]
    );
    assert!(p.article.as_ref().unwrap().internal);
    assert!(!p.notifications.iter().any(|n| n.kind == Kind::AgentReply));
    assert!(p.notifications.iter().any(|n| n.kind == Kind::AgentNote));
}
