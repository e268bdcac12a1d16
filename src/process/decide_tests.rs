//! The decide stage stated as data: facts and a mail in, the plan out.

use super::*;
use crate::config::StrangerFollowUp;
use crate::mail::{Automatic, Mailbox};
use crate::notify::Kind;
use crate::process::facts::{Duplicate, NumberLookup, Thread};
use crate::process::plan::{Edit, NewParticipant, NoRules, Notification, RulesOutcome};
use crate::store::records::TicketRef;

pub(crate) fn config() -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let env = [
        ("POSTDESK_IMAP_PASSWORD", "x"),
        ("POSTDESK_SMTP_PASSWORD", "y"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Config::load_with_env(&path, &env).unwrap()
}

fn addr(a: &str) -> Mailbox {
    Mailbox {
        name: None,
        address: a.into(),
    }
}

pub(crate) fn mail(from: &str, to: &[&str], cc: &[&str], subject: &str) -> InboundMail {
    InboundMail {
        message_id: Some("m1@customer.test".into()),
        subject: subject.into(),
        from: Mailbox {
            name: Some("Ana".into()),
            address: from.into(),
        },
        reply_to: None,
        to: to.iter().map(|a| addr(a)).collect(),
        cc: cc.iter().map(|a| addr(a)).collect(),
        delivered_to: Vec::new(),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        text: "It does not print.".into(),
        quote_start: None,
        html: None,
        attachments: Vec::new(),
        language: None,
        automatic: None,
        class: Default::default(),
        our_loop_marker: false,
        warnings: Vec::new(),
        headers: Vec::new(),
        size: 1000,
        forward: None,
    }
}

/// Decide with the example configuration and `rules`.
pub(crate) fn plan_with(
    f: &Facts,
    m: &InboundMail,
    received: Option<&str>,
    rules: &dyn Rules,
) -> Plan {
    let config = config();
    let own = config.own_addresses();
    let numbering = Numbering::new(&config.system.ticket_tag, config.system.system_id);
    decide(
        f,
        m,
        received,
        &Settings {
            config: &config,
            own: &own,
            numbering: &numbering,
            rules,
        },
    )
}

pub(crate) fn plan(f: &Facts, m: &InboundMail, received: Option<&str>) -> Plan {
    plan_with(f, m, received, &NoRules)
}

pub(crate) fn ticket(state: &str) -> TicketRef {
    TicketRef {
        id: 7,
        number: "2026112210000017".into(),
        subject: "Printer".into(),
        state: state.into(),
        queue: "support".into(),
        customer_address: "ana@customer.test".into(),
        language: "en".into(),
        support_address: "support@example.com".into(),
        urgency: 3,
        impact: 3,
        priority: 3,
        priority_explicit: false,
        ticket_type: None,
        service: None,
        category: None,
    }
}

pub(crate) fn thread_facts(state: &str, standing: standing::Facts) -> Facts {
    Facts {
        numbers: vec![NumberLookup {
            number: "2026112210000017".into(),
            current_digit: true,
            legacy_digit: false,
            found: true,
        }],
        thread: Some(Thread {
            ticket: ticket(state),
            matched: Match::Tag {
                number: "2026112210000017".into(),
            },
            standing,
            directory: Default::default(),
            alerts_on_ticket: 0,
            tags: Vec::new(),
            agent: Default::default(),
        }),
        ..Facts::default()
    }
}

pub(crate) fn answers() -> standing::Facts {
    standing::Facts {
        answers: true,
        ..Default::default()
    }
}

fn sent(p: &Plan) -> Vec<(Kind, Vec<String>)> {
    p.notifications
        .iter()
        .filter(|n| n.suppressed.is_none())
        .map(|n| (n.kind, n.to.clone()))
        .collect()
}

fn held(p: &Plan) -> Vec<(Kind, String)> {
    p.notifications
        .iter()
        .filter_map(|n| n.suppressed.clone().map(|s| (n.kind, s)))
        .collect()
}

#[test]
fn new_ticket_plan_as_data() {
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &["bob@customer.test", "agents@example.com"],
        "Re: Printer",
    );
    let p = plan(&Facts::default(), &m, Some("support"));
    let notice = |kind, to: &str, alert| Notification {
        kind,
        template: None,
        to: vec![to.into()],
        from_mailbox: "support".into(),
        language: "en".into(),
        suppressed: None,
        held: None,
        note_if_suppressed: alert,
        is_agents_alert: alert,
    };
    let expected = Plan {
        bounces: Vec::new(),
        language: None,
        route: p.route.clone(),
        disposition: Disposition::NewTicket { quoted: None },
        ticket: Some(TicketPlan {
            subject: "Printer".into(),
            queue: "support".into(),
            state: "posted".into(),
            language: "en".into(),
            classification: Classification {
                urgency: 3,
                impact: 3,
                priority: 3,
                priority_explicit: false,
            },
            ticket_type: None,
            service: None,
            category: None,
            tags: Default::default(),
            followed_from: None,
        }),
        article: Some(ArticlePlan {
            kind: "customer",
            trusted: true,
            unverified: None,
            notes: Vec::new(),
            internal: false,
        }),
        participants: vec![
            NewParticipant {
                address: "ana@customer.test".into(),
                name: Some("Ana".into()),
                role: "requester",
            },
            // Our agents' address in Cc is never a participant.
            NewParticipant {
                address: "bob@customer.test".into(),
                name: None,
                role: "observer",
            },
        ],
        assign: Default::default(),
        new_customer_user: None,
        notifications: vec![
            notice(Kind::AutoReply, "ana@customer.test", false),
            notice(Kind::AgentNewTicket, "agents@example.com", true),
        ],
        auto_reply_suppressed: None,
        auto_reply_template: None,
        changes: Vec::new(),
        rules: Vec::new(),
        trace: p.trace.clone(),
        authenticity: Default::default(),
        agent: None,
        relations: Vec::new(),
        forward: None,
    };
    assert_eq!(p, expected);
    assert_eq!(p.route.mailbox.as_deref(), Some("support"));
    let steps: Vec<&str> = p.trace.iter().map(|d| d.step).collect();
    assert_eq!(
        steps,
        ["route", "classify", "thread", "auto_reply", "agents_alert"]
    );
}

#[test]
fn duplicate_and_our_own_mail_make_nothing() {
    let m = mail("ana@customer.test", &["support@example.com"], &[], "Hi");
    let f = Facts {
        duplicate_of: Some(Duplicate {
            ticket_id: 7,
            article_id: 9,
            ticket: Some("2026112210000017".into()),
            by: "same bytes",
        }),
        ..Facts::default()
    };
    let p = plan(&f, &m, Some("support"));
    assert_eq!(
        p.disposition,
        Disposition::Duplicate {
            ticket_id: 7,
            article_id: 9,
            ticket: Some("2026112210000017".into())
        }
    );
    assert!(p.notifications.is_empty() && p.ticket.is_none());

    let mut back = m.clone();
    back.our_loop_marker = true;
    let p = plan(&Facts::default(), &back, Some("support"));
    assert_eq!(
        p.disposition,
        Disposition::Ignore {
            reason: OUR_LOOP.into()
        }
    );
    assert!(p.notifications.is_empty());
}

#[test]
fn answer_from_the_customer_reopens_and_brings_in_the_cc() {
    let m = mail(
        "carl@customer.test",
        &["support@example.com"],
        &["dora@customer.test"],
        "Re: [Ticket#2026112210000017] Printer",
    );
    let p = plan(&thread_facts("resolved", answers()), &m, Some("support"));
    assert!(matches!(
        p.disposition,
        Disposition::FollowUp {
            standing: Standing::Answers,
            ..
        }
    ));
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
    let who: Vec<&str> = p.participants.iter().map(|x| x.address.as_str()).collect();
    assert_eq!(who, ["carl@customer.test", "dora@customer.test"]);
    assert!(p.article.as_ref().unwrap().trusted);
    assert_eq!(
        sent(&p),
        [(Kind::AgentFollowUp, vec!["agents@example.com".to_string()])]
    );
}

#[test]
fn participant_reopens_but_adds_nobody_and_automatic_mail_moves_nothing() {
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &["dora@customer.test"],
        "Re: [Ticket#2026112210000017] Printer",
    );
    let participant = standing::Facts {
        from_participant: true,
        ..Default::default()
    };
    let p = plan(&thread_facts("waiting", participant), &m, Some("support"));
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
    assert!(p.participants.is_empty());
    assert!(!p.article.as_ref().unwrap().trusted);

    let mut auto = m.clone();
    auto.automatic = Some(Automatic("Auto-Submitted: auto-replied".into()));
    let p = plan(&thread_facts("waiting", answers()), &auto, Some("support"));
    assert_eq!(p.ticket.as_ref().unwrap().state, "waiting");
    assert!(p.participants.is_empty());
    assert!(p.notifications.is_empty(), "no alert for automatic mail");
}

#[test]
fn stranger_gets_a_ticket_of_their_own_or_is_recorded_unverified() {
    let m = mail(
        "eve@elsewhere.test",
        &["support@example.com"],
        &[],
        "[Ticket#2026112210000017] let me in",
    );
    let f = thread_facts("open", standing::Facts::default());
    let p = plan(&f, &m, Some("support"));
    assert_eq!(
        p.disposition,
        Disposition::NewTicket {
            quoted: Some("2026112210000017".into())
        }
    );
    assert!(p.article.as_ref().unwrap().notes[0].contains("quoted ticket 2026112210000017"));

    let mut config = config();
    config.system.stranger_follow_up = StrangerFollowUp::Record;
    let own = config.own_addresses();
    let numbering = Numbering::new(&config.system.ticket_tag, config.system.system_id);
    let s = Settings {
        config: &config,
        own: &own,
        numbering: &numbering,
        rules: &NoRules,
    };
    let p = decide(&f, &m, Some("support"), &s);
    assert!(matches!(
        p.disposition,
        Disposition::FollowUp {
            standing: Standing::Stranger,
            ..
        }
    ));
    let a = p.article.as_ref().unwrap();
    assert!(a.unverified.is_some() && !a.trusted);
    assert!(p.participants.is_empty());
    assert_eq!(p.ticket.as_ref().unwrap().state, "open");
}

#[test]
fn answer_to_an_agents_alert_is_the_agents_side() {
    let m = mail(
        "agents@example.com",
        &["support@example.com"],
        &[],
        "Re: [Ticket#2026112210000017] New ticket",
    );
    let f = thread_facts(
        "waiting",
        standing::Facts {
            answers: true,
            answers_alert: true,
            from_own: true,
            ..Default::default()
        },
    );
    let p = plan(&f, &m, Some("support"));
    let a = p.article.as_ref().unwrap();
    assert_eq!(a.kind, "agents_side");
    assert!(a.unverified.is_some());
    assert_eq!(p.ticket.as_ref().unwrap().state, "waiting");
    assert!(p.participants.is_empty());
}

#[test]
fn auto_reply_is_held_back_for_robots_our_addresses_and_over_the_limit() {
    let to = ["support@example.com"];
    let mut robot = mail("ana@customer.test", &to, &[], "Out of office");
    robot.automatic = Some(Automatic("Precedence: bulk".into()));
    let p = plan(&Facts::default(), &robot, None);
    assert!(held(&p)[0]
        .1
        .starts_with("automatic mail (Precedence: bulk)"));

    let ours = mail("agents@example.com", &to, &[], "Hi");
    let p = plan(&Facts::default(), &ours, None);
    assert_eq!(held(&p)[0].1, "sender is one of our own addresses");
    let a = p.article.as_ref().unwrap();
    assert_eq!(a.unverified.as_deref(), Some(standing::FROM_OWN));
    assert!(p.participants.is_empty());

    let busy = Facts {
        auto_replies_to_sender: 10,
        ..Facts::default()
    };
    let p = plan(&busy, &mail("ana@customer.test", &to, &[], "Hi"), None);
    assert!(held(&p)[0].1.contains("more than 10 auto-replies"));
    // The agents are still alerted.
    assert_eq!(sent(&p)[0].0, Kind::AgentNewTicket);
}

#[test]
fn agents_alert_over_the_cap_is_held_back_with_a_note() {
    let m = mail("ana@customer.test", &["support@example.com"], &[], "Hi");
    let f = Facts {
        alerts_by_sender: 10,
        ..Facts::default()
    };
    let p = plan(&f, &m, None);
    let alert = p.notifications.iter().find(|n| n.is_agents_alert).unwrap();
    assert!(alert.note_if_suppressed);
    assert!(alert.suppressed.as_ref().unwrap().contains("this sender"));
}

#[test]
fn language_of_the_mail_when_templates_exist_else_the_mailbox() {
    let mut m = mail(
        "ana@customer.test",
        &["ventes@example.com"],
        &[],
        "Imprimante",
    );
    let p = plan(&Facts::default(), &m, None);
    assert_eq!(p.ticket.as_ref().unwrap().language, "fr", "the mailbox's");
    m.language = Some("pt".into());
    let f = Facts {
        language_with_templates: Some("pt".into()),
        ..Facts::default()
    };
    let p = plan(&f, &m, None);
    assert_eq!(p.ticket.as_ref().unwrap().language, "pt");
    assert!(p.notifications.iter().all(|n| n.language == "pt"));
}
/// A rules engine stand-in: fixed edits for new tickets.
struct Fixed(Vec<Edit>);

impl Rules for Fixed {
    fn evaluate(
        &self,
        draft: &Plan,
        _: &InboundMail,
        _: Option<&str>,
        _: chrono::DateTime<chrono::Utc>,
    ) -> RulesOutcome {
        if !matches!(draft.disposition, Disposition::NewTicket { .. }) {
            return RulesOutcome::default();
        }
        RulesOutcome {
            edits: self
                .0
                .iter()
                .map(|e| RuleEdit {
                    rule: "test".into(),
                    edit: e.clone(),
                })
                .collect(),
            checks: Vec::new(),
        }
    }
}

#[test]
fn rules_edit_the_plan_before_the_notifications_are_chosen() {
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Invoice",
    );
    let rules = Fixed(vec![
        Edit::Queue("ventes".into()),
        Edit::Urgency(5),
        Edit::Impact(4),
        Edit::Observer("Boss@Customer.test".into()),
        Edit::SuppressAutoReply,
        Edit::Queue("nope".into()),
    ]);
    let p = plan_with(&Facts::default(), &m, None, &rules);
    let t = p.ticket.as_ref().unwrap();
    assert_eq!(t.queue, "ventes", "an unknown queue is refused");
    assert_eq!(
        (t.classification.urgency, t.classification.priority),
        (5, 5)
    );
    assert_eq!(p.participants[1].address, "boss@customer.test");
    assert_eq!(p.participants[1].role, "observer");
    assert_eq!(held(&p)[0].1, "suppressed by rule test");
    // The alert goes to the queue the rule chose.
    assert_eq!(
        sent(&p),
        [(
            Kind::AgentNewTicket,
            vec!["ventes-agents@example.com".to_string()]
        )]
    );
    assert!(p
        .trace
        .iter()
        .any(|d| d.step == "rules" && d.said.contains("no [[queue]] named \"nope\"")));

    let p = plan_with(
        &Facts::default(),
        &m,
        None,
        &Fixed(vec![
            Edit::Priority(6),
            Edit::Urgency(1),
            Edit::Quarantine("spam".into()),
        ]),
    );
    assert_eq!(
        p.disposition,
        Disposition::Quarantine {
            reason: "rule test: spam".into()
        }
    );
    assert!(p.ticket.is_none() && p.notifications.is_empty());
}

#[test]
fn explicit_priority_stays_when_urgency_changes() {
    let m = mail("ana@customer.test", &["support@example.com"], &[], "x");
    let p = plan_with(
        &Facts::default(),
        &m,
        None,
        &Fixed(vec![Edit::Priority(6), Edit::Urgency(1), Edit::Impact(1)]),
    );
    let c = p.ticket.unwrap().classification;
    assert_eq!(
        (c.urgency, c.impact, c.priority, c.priority_explicit),
        (1, 1, 6, true)
    );
}

#[test]
fn rules_cannot_edit_a_mail_that_makes_no_article() {
    let m = mail("ana@customer.test", &["support@example.com"], &[], "Hi");
    let mut back = m.clone();
    back.our_loop_marker = true;
    let mut p = plan(&Facts::default(), &back, None);
    let before = p.disposition.clone();
    apply_rules(
        &mut p,
        &[RuleEdit {
            rule: "vip".into(),
            edit: Edit::Urgency(5),
        }],
        &config(),
        &Default::default(),
    );
    assert_eq!(p.disposition, before);
    assert!(p.ticket.is_none());
    let last = p.trace.last().unwrap();
    assert_eq!(last.step, "rules");
    assert!(
        last.said.contains("the mail makes no article"),
        "{}",
        last.said
    );
}

#[test]
fn the_plan_carries_the_authenticity_evidence_of_the_facts() {
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Printer",
    );
    let f = Facts {
        authenticity: crate::auth::Authenticity {
            from: "ana@customer.test".into(),
            summary: "not authenticated: the mail has no Authentication-Results header".into(),
            ..Default::default()
        },
        ..Facts::default()
    };
    assert_eq!(plan(&f, &m, Some("support")).authenticity, f.authenticity);
}
