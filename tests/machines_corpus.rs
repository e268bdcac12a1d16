//! What each class of real mail does (issue 7, item 2), over every file of
//! `tests/data/real/`: the decide stage run on the parsed mail, once as if
//! it concerned no ticket and once as if it concerned one. No machine
//! opens a ticket, gets an auto-reply or alerts the agents (but for the one
//! "address is bouncing" alert); on a ticket it is an internal note. The
//! per-class figures are printed (`--nocapture`) for BENCHMARKS.md.

#[allow(unused_imports)] // the test desk is not used here
mod common;

use std::collections::BTreeMap;
use std::path::Path;

use postdesk::config::Config;
use postdesk::mail::{parse, MailClass};
use postdesk::notify::Kind;
use postdesk::process::decide::{decide, Settings};
use postdesk::process::facts::{Facts, Original};
use postdesk::process::plan::{Disposition, NoRules, Plan};
use postdesk::store::records::TicketRef;
use postdesk::threading::Numbering;

fn ticket() -> TicketRef {
    TicketRef {
        id: 1,
        number: "2026112210000017".into(),
        subject: "Printer".into(),
        state: "open".into(),
        queue: "support".into(),
        customer_address: "ana@example.com".into(),
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

#[derive(Default)]
struct Tally {
    files: usize,
    tickets: usize,
    auto_replies: usize,
    alerts: usize,
    notes_on_ticket: usize,
    bouncing_marked: usize,
}

fn sends(p: &Plan, kind: Kind) -> bool {
    p.notifications
        .iter()
        .any(|n| n.kind == kind && n.suppressed.is_none())
}

#[test]
fn every_real_machines_mail_does_what_its_class_says() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::standalone_config(dir.path(), "");
    let env = [("POSTDESK_QUEUE__0__AGENTS_ADDRESS", "agents@example.com")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::load_with_env(&path, &env).unwrap_or_else(|e| panic!("{e}"));
    let own = config.own_addresses();
    let numbering = Numbering::new(&config.system.ticket_tag, config.system.system_id);
    let s = Settings {
        config: &config,
        own: &own,
        numbering: &numbering,
        rules: &NoRules,
    };
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/real");
    let mut tally: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for class_dir in std::fs::read_dir(&real).unwrap() {
        let class_dir = class_dir.unwrap().path();
        if !class_dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&class_dir).unwrap() {
            let file = file.unwrap().path();
            let Ok(mail) = parse(&std::fs::read(&file).unwrap(), "desk.example.com") else {
                continue; // refused mail is quarantined: no ticket either
            };
            let class = mail.class.class;
            let alone = decide(&Facts::default(), &mail, Some("support"), &s);
            let on_ticket = decide(
                &Facts {
                    original: Some(Original {
                        ticket: ticket(),
                        by: "test".into(),
                    }),
                    ..Facts::default()
                },
                &mail,
                Some("support"),
                &s,
            );
            let t = tally.entry(class.as_str()).or_default();
            t.files += 1;
            t.tickets += usize::from(matches!(alone.disposition, Disposition::NewTicket { .. }));
            t.auto_replies += usize::from(sends(&alone, Kind::AutoReply));
            t.alerts += usize::from(
                sends(&alone, Kind::AgentNewTicket) || sends(&on_ticket, Kind::AgentFollowUp),
            );
            t.notes_on_ticket +=
                usize::from(matches!(on_ticket.disposition, Disposition::Note { .. }));
            t.bouncing_marked += usize::from(!on_ticket.bounces.is_empty());
            let name = file.display();
            if class != MailClass::Person {
                assert!(
                    !sends(&alone, Kind::AutoReply),
                    "{name}: auto-reply to {class}"
                );
                assert!(
                    !sends(&alone, Kind::AgentNewTicket) && !sends(&on_ticket, Kind::AgentFollowUp),
                    "{name}: {class} alerted the agents"
                );
            }
            if !matches!(class, MailClass::Person | MailClass::List) {
                assert!(
                    matches!(alone.disposition, Disposition::Ignore { .. }),
                    "{name}: {class} without a ticket: {:?}",
                    alone.disposition
                );
            }
            if !matches!(
                class,
                MailClass::Person | MailClass::List | MailClass::OwnMail
            ) {
                let note = on_ticket.article.as_ref().expect("a note");
                assert!(note.internal, "{name}");
                assert!(
                    matches!(on_ticket.disposition, Disposition::Note { .. }),
                    "{name}"
                );
            }
        }
    }
    println!("class | files | new tickets | auto-replies | agents alerted | internal notes (on a ticket) | addresses marked bouncing");
    for (class, t) in &tally {
        println!(
            "{class} | {} | {} | {} | {} | {} | {}",
            t.files, t.tickets, t.auto_replies, t.alerts, t.notes_on_ticket, t.bouncing_marked
        );
    }
    assert!(tally["delivery-report"].files > 50, "the corpus is there");
}
