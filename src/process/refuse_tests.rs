//! The refusal policies in the decide stage, as data: who is refused, what
//! the plan then holds (no ticket, no article, one refusal), and when the
//! refusal is held back (machines' mail, our own addresses, the loop caps).

use super::*;
use crate::directory::permission::{Member, Ticket};
use crate::mail::Automatic;
use crate::process::decide::tests::{config, mail, plan, thread_facts};
use crate::process::facts::Facts;
use crate::process::plan::Disposition;
use crate::process::standing::Standing;
use crate::store::directory::lookup::QueueFacts;

fn queue(strangers: Strangers, unknown: UnknownSenders) -> QueueFacts {
    QueueFacts {
        comment_address: None,
        service: None,
        name: "support".into(),
        group: None,
        notify: "config".into(),
        notify_to: Vec::new(),
        cc_observers: true,
        strangers,
        unknown_senders: unknown,
    }
}

/// Mail quoting ticket 2026112210000017 from someone with no right to it,
/// the ticket's queue having strangers policy `strangers`.
fn stranger(strangers: Strangers) -> (Facts, crate::mail::InboundMail) {
    let mut f = thread_facts("open", Default::default());
    if let Some(t) = f.thread.as_mut() {
        t.directory = Ticket {
            strangers,
            ..Ticket::default()
        };
    }
    let m = mail(
        "eve@elsewhere.test",
        &["support@example.com"],
        &[],
        "Re: [Ticket#2026112210000017] Printer",
    );
    (f, m)
}

fn refusal(p: &Plan) -> Option<(Refusal, Option<String>)> {
    match &p.disposition {
        Disposition::Refuse { why, quoted, .. } => {
            Some((*why, quoted.as_ref().map(|t| t.number.clone())))
        }
        _ => None,
    }
}

/// The plan's one notification: (kind, to, suppressed).
fn only_notice(p: &Plan) -> (Kind, Vec<String>, Option<String>) {
    assert_eq!(p.notifications.len(), 1, "{:#?}", p.notifications);
    let n = &p.notifications[0];
    (n.kind, n.to.clone(), n.suppressed.clone())
}

#[test]
fn a_stranger_quoting_a_ticket_in_a_refuse_queue_gets_the_refusal_and_no_ticket() {
    let (f, m) = stranger(Strangers::Refuse);
    let p = plan(&f, &m, None);
    assert_eq!(
        refusal(&p),
        Some((Refusal::NoRight, Some("2026112210000017".into()))),
        "{:#?}",
        p.trace
    );
    assert_eq!((p.ticket.as_ref(), p.article.as_ref()), (None, None));
    assert!(p.participants.is_empty() && p.changes.is_empty());
    assert_eq!(
        only_notice(&p),
        (Kind::Refusal, vec!["eve@elsewhere.test".to_string()], None)
    );
    assert!(p.trace.iter().any(|d| d.step == "refusal"));
}

#[test]
fn the_other_strangers_policies_refuse_nothing() {
    for (policy, new_ticket) in [
        (Strangers::Record, false),
        (Strangers::NewTicket, true),
        (Strangers::System, true), // the example configuration: new_ticket
    ] {
        let (f, m) = stranger(policy);
        let p = plan(&f, &m, None);
        assert_eq!(refusal(&p), None, "{policy:?}");
        assert_eq!(
            matches!(p.disposition, Disposition::NewTicket { .. }),
            new_ticket,
            "{policy:?}: {:?}",
            p.disposition
        );
        assert!(p.notifications.iter().all(|n| n.kind != Kind::Refusal));
    }
}

#[test]
fn a_participant_in_a_refuse_queue_is_not_refused() {
    let (mut f, m) = stranger(Strangers::Refuse);
    if let Some(t) = f.thread.as_mut() {
        t.standing.answers = true;
    }
    let p = plan(&f, &m, None);
    assert!(matches!(
        p.disposition,
        Disposition::FollowUp {
            standing: Standing::Answers,
            ..
        }
    ));
}

fn new_mail() -> crate::mail::InboundMail {
    mail("who@nowhere.test", &["support@example.com"], &[], "Hello")
}

#[test]
fn an_unknown_sender_in_a_refuse_queue_gets_the_refusal_and_no_customer_user() {
    let mut f = Facts::default();
    f.directory.queues = vec![queue(Strangers::System, UnknownSenders::Refuse)];
    let p = plan(&f, &new_mail(), None);
    assert_eq!(refusal(&p), Some((Refusal::UnknownSender, None)));
    assert_eq!(p.new_customer_user, None);
    assert_eq!((p.ticket.as_ref(), p.article.as_ref()), (None, None));
    let (kind, to, suppressed) = only_notice(&p);
    assert_eq!(
        (kind, to[0].as_str(), suppressed),
        (Kind::Refusal, "who@nowhere.test", None)
    );
    assert_eq!(
        p.notifications[0].language,
        config().system.default_language
    );
}

#[test]
fn known_senders_and_create_queues_get_their_ticket() {
    let member = Member {
        name: "who@nowhere.test".into(),
        active: true,
        ..Member::default()
    };
    let mut f = Facts::default();
    f.directory.queues = vec![queue(Strangers::System, UnknownSenders::Refuse)];
    f.directory.sender.customer_user = Some(member.clone());
    assert!(matches!(
        plan(&f, &new_mail(), None).disposition,
        Disposition::NewTicket { .. }
    ));
    f.directory.sender.customer_user = None;
    f.directory.sender.agent = Some(member.clone());
    assert_eq!(refusal(&plan(&f, &new_mail(), None)), None);
    // An inactive customer user is not a known one.
    f.directory.sender.agent = None;
    f.directory.sender.customer_user = Some(Member {
        active: false,
        ..member
    });
    assert!(refusal(&plan(&f, &new_mail(), None)).is_some());
    // `create` (the default) and queues outside the directory: as before.
    f.directory.sender.customer_user = None;
    f.directory.queues = vec![queue(Strangers::System, UnknownSenders::Create)];
    let p = plan(&f, &new_mail(), None);
    assert!(p.new_customer_user.is_some(), "{:#?}", p.trace);
    f.directory.queues.clear();
    assert_eq!(refusal(&plan(&f, &new_mail(), None)), None);
}

#[test]
fn machines_and_our_own_addresses_never_get_a_refusal() {
    let mut f = Facts::default();
    f.directory.queues = vec![queue(Strangers::System, UnknownSenders::Refuse)];
    let mut m = new_mail();
    m.automatic = Some(Automatic("Auto-Submitted: auto-replied".into()));
    m.class.class = MailClass::AutoReply;
    let p = plan(&f, &m, None);
    // A machine's mail matching no ticket is ignored before any policy;
    // list mail (handled as mail) is refused, silently.
    assert_eq!(refusal(&p), None, "{:?}", p.disposition);
    m.class.class = MailClass::List;
    m.class.reason = "List-Id".into();
    let p = plan(&f, &m, None);
    assert!(refusal(&p).is_some(), "{:#?}", p.trace);
    let (_, _, suppressed) = only_notice(&p);
    assert!(suppressed.unwrap().contains("machines get no refusal"));
    let mut own = new_mail();
    own.from.address = "support@example.com".into();
    let p = plan(&f, &own, None);
    assert!(refusal(&p).is_some(), "{:#?}", p.trace);
    let (_, _, suppressed) = only_notice(&p);
    assert_eq!(
        suppressed.as_deref(),
        Some("sender is one of our own addresses")
    );
}

#[test]
fn a_robot_stops_at_the_loop_cap() {
    let mut f = Facts::default();
    f.directory.queues = vec![queue(Strangers::System, UnknownSenders::Refuse)];
    let caps = config().system.loop_caps;
    let first = caps
        .first()
        .expect("the example configuration has loop caps");
    f.automatic_to_sender = vec![f.received_at; first.max as usize - 1];
    let (_, _, suppressed) = only_notice(&plan(&f, &new_mail(), None));
    assert_eq!(suppressed, None);
    f.automatic_to_sender.push(f.received_at);
    let p = plan(&f, &new_mail(), None);
    assert!(refusal(&p).is_some());
    let (_, _, suppressed) = only_notice(&p);
    assert!(
        suppressed.unwrap().starts_with("loop cap"),
        "{:#?}",
        p.trace
    );
}

#[test]
fn a_bouncing_sender_s_refusal_is_queued_but_held() {
    let mut f = Facts::default();
    f.directory.queues = vec![queue(Strangers::System, UnknownSenders::Refuse)];
    f.sender_bouncing = Some("who@nowhere.test is bouncing".into());
    let p = plan(&f, &new_mail(), None);
    let n = &p.notifications[0];
    assert_eq!((n.suppressed.as_deref(), n.held.is_some()), (None, true));
}
