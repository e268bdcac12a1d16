//! What machines' mail does, stated as data: facts and a classified mail
//! in, the plan out.

use super::*;
use crate::config::LoopCap;
use crate::mail::{Bounce, Classification, OriginalMessage, Recipient};
use crate::notify::Kind;
use crate::process::decide::tests::{mail, plan, ticket};
use crate::process::facts::{Match, Original, Thread};
use crate::process::plan::Notification;

fn classified(class: MailClass, bounce: Option<Bounce>) -> InboundMail {
    let mut m = mail(
        "mailer-daemon@mx.customer.test",
        &["support@example.com"],
        &[],
        "Undelivered Mail Returned to Sender",
    );
    m.class = Classification {
        class,
        reason: "multipart/report with message/delivery-status".into(),
        bounce,
        original: Some(OriginalMessage {
            message_id: Some("2026112210000017.auto_reply.ab@helpdesk.example.com".into()),
            ..Default::default()
        }),
    };
    m.automatic = m.class.automatic();
    m
}

fn bounce(outcome: DeliveryOutcome) -> Option<Bounce> {
    Some(Bounce {
        outcome,
        recipients: vec![Recipient {
            address: "nobody@customer.test".into(),
            status: Some("5.1.1".into()),
            diagnostic: Some("user unknown".into()),
        }],
    })
}

fn on_ticket() -> Facts {
    Facts {
        original: Some(Original {
            ticket: ticket("open"),
            by: "the returned Message-ID <…>".into(),
        }),
        ..Facts::default()
    }
}

fn sent(p: &Plan) -> Vec<Kind> {
    p.notifications
        .iter()
        .filter(|n| n.suppressed.is_none())
        .map(|n| n.kind)
        .collect()
}

#[test]
fn a_bounce_is_an_internal_note_on_its_ticket_and_marks_the_address() {
    let m = classified(MailClass::DeliveryReport, bounce(DeliveryOutcome::Failed));
    let p = plan(&on_ticket(), &m, Some("support"));
    assert!(
        matches!(&p.disposition, Disposition::Note { ticket, .. } if ticket.id == 7),
        "{:?}",
        p.disposition
    );
    let a = p.article.as_ref().unwrap();
    assert!(a.internal && !a.trusted && a.kind == "machine");
    assert!(p.participants.is_empty());
    assert_eq!(
        p.ticket.as_ref().unwrap().state.as_str(),
        "open",
        "no state move"
    );
    assert_eq!(
        p.bounces,
        vec![BounceMark {
            address: "nobody@customer.test".into(),
            reason: "5.1.1 user unknown".into(),
            starts: true,
        }]
    );
    // The one alert machines' mail may cause: the address starts bouncing.
    assert_eq!(sent(&p), vec![Kind::AgentBouncing]);
    assert_eq!(
        p.notifications[0].to,
        vec!["agents@example.com".to_string()]
    );
}

#[test]
fn a_second_bounce_from_the_same_address_alerts_nobody() {
    let m = classified(MailClass::DeliveryReport, bounce(DeliveryOutcome::Failed));
    let f = Facts {
        already_bouncing: vec!["nobody@customer.test".into()],
        ..on_ticket()
    };
    let p = plan(&f, &m, Some("support"));
    assert!(!p.bounces[0].starts);
    assert!(p.notifications.is_empty(), "{:?}", p.notifications);
}

#[test]
fn a_delay_warning_notes_but_does_not_mark() {
    let m = classified(MailClass::DeliveryReport, bounce(DeliveryOutcome::Delayed));
    let p = plan(&on_ticket(), &m, Some("support"));
    assert!(matches!(p.disposition, Disposition::Note { .. }));
    assert!(p.bounces.is_empty());
    assert!(p.notifications.is_empty());
    assert!(p
        .article
        .unwrap()
        .notes
        .iter()
        .any(|n| n.contains("only delayed")));
}

#[test]
fn machines_mail_matching_no_ticket_is_stored_and_ignored() {
    for class in [
        MailClass::DeliveryReport,
        MailClass::AutoReply,
        MailClass::ReadReceipt,
        MailClass::FeedbackReport,
        MailClass::ChallengeResponse,
    ] {
        let m = classified(class, bounce(DeliveryOutcome::Failed));
        let p = plan(&Facts::default(), &m, Some("support"));
        match &p.disposition {
            Disposition::Ignore { reason } => {
                assert!(reason.contains("never a ticket"), "{reason}")
            }
            d => panic!("{class}: {d:?}"),
        }
        assert!(p.notifications.is_empty(), "{class}");
        assert!(
            p.bounces.is_empty(),
            "{class}: nothing marked without a ticket"
        );
    }
}

#[test]
fn an_auto_reply_on_a_ticket_changes_nothing_and_alerts_nobody() {
    for class in [
        MailClass::AutoReply,
        MailClass::ReadReceipt,
        MailClass::ChallengeResponse,
    ] {
        let m = classified(class, None);
        // Threaded by the ticket tag in its subject, as the facts found it.
        let f = Facts {
            thread: Some(Thread {
                ticket: ticket("open"),
                matched: Match::Tag {
                    number: "2026112210000017".into(),
                },
                standing: Default::default(),
                directory: Default::default(),
                tags: Default::default(),
                alerts_on_ticket: 0,
                agent: Default::default(),
            }),
            ..Facts::default()
        };
        let p = plan(&f, &m, Some("support"));
        assert!(matches!(p.disposition, Disposition::Note { .. }), "{class}");
        assert!(p.article.as_ref().unwrap().internal);
        assert!(p.notifications.is_empty(), "{class}: {:?}", p.notifications);
        assert_eq!(p.ticket.unwrap().state.as_str(), "open");
    }
}

#[test]
fn list_mail_follows_the_mailbox_policy() {
    let mut m = classified(MailClass::List, None);
    m.class.original = None;
    // Default policy: a ticket, without an auto-reply or an agents' alert.
    let p = plan(&Facts::default(), &m, Some("support"));
    assert!(matches!(p.disposition, Disposition::NewTicket { .. }));
    assert!(sent(&p).is_empty(), "{:?}", p.notifications);
    // "ignore": stored, no ticket.
    let mut config = crate::process::decide::tests::config();
    config.mailboxes[0].list_policy = ListPolicy::Ignore;
    let own = config.own_addresses();
    let numbering =
        crate::threading::Numbering::new(&config.system.ticket_tag, config.system.system_id);
    let p = crate::process::decide::decide(
        &Facts::default(),
        &m,
        Some("support"),
        &crate::process::decide::Settings {
            config: &config,
            own: &own,
            numbering: &numbering,
            rules: &crate::process::plan::NoRules,
        },
    );
    assert!(
        matches!(p.disposition, Disposition::Ignore { .. }),
        "{:?}",
        p.disposition
    );
}

#[test]
fn an_auto_reply_to_a_bouncing_address_is_queued_but_held() {
    let m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Printer",
    );
    let f = Facts {
        sender_bouncing: Some("ana@customer.test is bouncing since …".into()),
        ..Facts::default()
    };
    let p = plan(&f, &m, Some("support"));
    let n: &Notification = p
        .notifications
        .iter()
        .find(|n| n.kind == Kind::AutoReply)
        .unwrap();
    assert_eq!(n.suppressed, None);
    assert!(n.held.as_deref().unwrap().contains("bouncing"));
}

fn at(min_ago: i64, now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::minutes(min_ago)
}

#[test]
fn loop_caps_count_each_window() {
    let now = Utc::now();
    let caps: Vec<LoopCap> = [(10, 600), (25, 3600), (40, 86_400)]
        .iter()
        .map(|&(max, window_secs)| LoopCap {
            max,
            window_secs,
            text: format!("{max}/{window_secs}s"),
        })
        .collect();
    let times = |n: usize, every_min: i64| -> Vec<_> {
        (0..n as i64).map(|i| at(i * every_min, now)).collect()
    };
    assert_eq!(loop_cap(&caps, &times(9, 1), now, "a"), None);
    assert!(loop_cap(&caps, &times(10, 1), now, "a")
        .unwrap()
        .contains("10/600s"));
    // Ten spread over 50 minutes: under the 10-minute cap, and under the hour's.
    assert_eq!(loop_cap(&caps, &times(10, 5), now, "a"), None);
    assert!(loop_cap(&caps, &times(25, 2), now, "a")
        .unwrap()
        .contains("25/3600s"));
    assert!(loop_cap(&caps, &times(40, 30), now, "a")
        .unwrap()
        .contains("40/86400s"));
    assert_eq!(loop_cap(&caps, &times(39, 30), now, "a"), None);
}

#[test]
fn the_loop_cap_stops_auto_replies_to_one_address() {
    let now = Utc::now();
    let m = mail(
        "robot@customer.test",
        &["support@example.com"],
        &[],
        "Hello",
    );
    let f = Facts {
        received_at: now,
        automatic_to_sender: (0..10).map(|i| at(i, now)).collect(),
        ..Facts::default()
    };
    let p = plan(&f, &m, Some("support"));
    let n = p
        .notifications
        .iter()
        .find(|n| n.kind == Kind::AutoReply)
        .unwrap();
    assert!(
        n.suppressed.as_deref().unwrap().contains("loop cap 10/10m"),
        "{:?}",
        n.suppressed
    );
}

#[test]
fn failed_recipients_fall_back_to_the_returned_to() {
    let mut m = classified(
        MailClass::DeliveryReport,
        Some(Bounce {
            outcome: DeliveryOutcome::Failed,
            recipients: Vec::new(),
        }),
    );
    assert!(failed_recipients(&m).is_empty());
    m.class.original.as_mut().unwrap().to = vec!["gone@customer.test".into()];
    assert_eq!(
        failed_recipients(&m),
        vec![(
            "gone@customer.test".to_string(),
            "multipart/report with message/delivery-status".to_string()
        )]
    );
}

#[test]
fn the_loop_cap_on_one_ticket_stops_its_alerts() {
    let now = Utc::now();
    let mut m = mail(
        "ana@customer.test",
        &["support@example.com"],
        &[],
        "Re: Printer",
    );
    m.in_reply_to = vec!["x@helpdesk.example.com".into()];
    let f = Facts {
        received_at: now,
        thread: Some(Thread {
            ticket: ticket("open"),
            matched: Match::MessageId {
                message_id: "x@helpdesk.example.com".into(),
            },
            standing: crate::process::standing::Facts {
                answers: true,
                ..Default::default()
            },
            directory: Default::default(),
            tags: Default::default(),
            alerts_on_ticket: 0,
            agent: Default::default(),
        }),
        automatic_on_ticket: (0..10).map(|i| at(i, now)).collect(),
        ..Facts::default()
    };
    let p = plan(&f, &m, Some("support"));
    assert!(matches!(p.disposition, Disposition::FollowUp { .. }));
    let alert = p.notifications.iter().find(|n| n.is_agents_alert).unwrap();
    assert!(
        alert
            .suppressed
            .as_deref()
            .unwrap()
            .contains("to ticket 2026112210000017"),
        "{:?}",
        alert.suppressed
    );
}
