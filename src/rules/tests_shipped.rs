//! The example rules shipped in `rules/` work as they are: each is loaded
//! from the folder and tried on representative mail, compared as data.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};

use super::tests::mail;
use super::*;

fn shipped() -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    RuleSet::load(&dir).unwrap_or_else(|e| panic!("{}", describe(&e)))
}

/// A plain new mail from an ordinary customer, nothing any example acts
/// on, at a time inside office hours.
fn plain() -> Message<'static> {
    Message {
        subject: "Printer on floor 2",
        body_new: "It jams.",
        body: "It jams.\n> Earlier: your invoice is attached",
        headers: &[("X-Spam-Flag", "NO"), ("X-Spam-Status", "No, score=0.1")],
        sender_domain: "client.example",
        ..mail()
    }
}

/// Tuesday 1 December 2026 10:30 UTC (10:30 in Lisbon, winter time).
fn office() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 30, 0).unwrap()
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Each case: what, the mail, when, and the actions as `rule: action`.
fn check(cases: Vec<(&str, Message, DateTime<Utc>, Vec<&str>)>) {
    let set = shipped();
    let wrong: Vec<String> = cases
        .into_iter()
        .filter_map(|(what, m, now, expected)| {
            let ev = set.evaluate(&m, now);
            let got: Vec<String> = ev
                .actions
                .iter()
                .map(|(r, a)| format!("{r}: {a}"))
                .collect();
            (got != expected).then(|| format!("{what}: expected {expected:#?}\n got {got:#?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn shipped_rules_load_in_file_name_order() {
    let set = shipped();
    let names: Vec<(&str, bool)> = set
        .rules
        .iter()
        .map(|r| (r.name.as_str(), r.enabled))
        .collect();
    assert_eq!(
        names,
        [
            ("upstream spam flag", true),
            ("vip customers", true),
            ("billing words", true),
            ("after hours auto-reply", true),
        ]
    );
    // The example configuration has the queue the billing rule names.
    assert!(set
        .unknown_queues(["support", "ventes", "billing"])
        .is_empty());
}

#[test]
fn spam_flagged_upstream_is_quarantined_and_stops() {
    const SPAM: &str = r#"upstream spam flag: spam = "flagged as spam by the upstream filter""#;
    check(vec![
        ("nothing applies", plain(), office(), vec![]),
        (
            "SpamAssassin flag",
            Message {
                headers: &[("X-Spam-Flag", "YES")],
                ..plain()
            },
            office(),
            vec![SPAM],
        ),
        (
            "SpamAssassin status",
            Message {
                headers: &[("x-spam-status", "Yes, score=9.3 required=5.0")],
                ..plain()
            },
            office(),
            vec![SPAM],
        ),
        (
            "rspamd, at night, from a VIP: the stop wins",
            Message {
                headers: &[("X-Spam", "yes")],
                sender_domain: "vip.example",
                ..plain()
            },
            at(2026, 12, 5, 23, 0),
            vec![SPAM],
        ),
        (
            "a status that says no",
            Message {
                headers: &[("X-Spam-Status", "No, score=-1.0 (mentions Yes,)")],
                ..plain()
            },
            office(),
            vec![],
        ),
    ]);
}

#[test]
fn vip_domain_gets_urgency_4() {
    check(vec![
        (
            "VIP domain",
            Message {
                sender_domain: "vip.example",
                ..plain()
            },
            office(),
            vec![
                "vip customers: urgency = 4",
                r#"vip customers: tags += ["vip"]"#,
            ],
        ),
        (
            "a look-alike domain",
            Message {
                sender_domain: "notvip.example",
                ..plain()
            },
            office(),
            vec![],
        ),
    ]);
}

#[test]
fn billing_words_in_three_languages_route_to_billing() {
    let billing = vec![
        r#"billing words: queue = "billing""#,
        r#"billing words: tags += ["billing"]"#,
    ];
    let subject = |s: &'static str| Message {
        subject: s,
        ..plain()
    };
    let body = |s: &'static str| Message {
        body_new: s,
        body: s,
        ..plain()
    };
    check(vec![
        (
            "en subject",
            subject("Invoice 2026-118 overdue"),
            office(),
            billing.clone(),
        ),
        (
            "en refund",
            subject("Where is my REFUND?"),
            office(),
            billing.clone(),
        ),
        (
            "pt subject",
            subject("Fatura de novembro"),
            office(),
            billing.clone(),
        ),
        (
            "pt accented",
            subject("Dúvida sobre a cobrança"),
            office(),
            billing.clone(),
        ),
        (
            "fr subject",
            subject("Question sur ma facture"),
            office(),
            billing.clone(),
        ),
        (
            "fr body",
            body("Je n'ai pas reçu mon remboursement."),
            office(),
            billing.clone(),
        ),
        (
            "pt body",
            body("O pagamento não foi registado."),
            office(),
            billing.clone(),
        ),
        (
            "only a word's start",
            subject("Billy's printer"),
            office(),
            vec![],
        ),
        ("only in the quoted text", plain(), office(), vec![]),
    ]);
}

#[test]
fn outside_office_hours_new_tickets_get_the_after_hours_reply() {
    const AFTER: &str = r#"after hours auto-reply: auto_reply = "auto_reply_after_hours""#;
    let follow_up = Message {
        is_new: false,
        ..plain()
    };
    check(vec![
        ("Tuesday 10:30", plain(), office(), vec![]),
        (
            "Tuesday 08:59 Lisbon",
            plain(),
            at(2026, 12, 1, 8, 59),
            vec![AFTER],
        ),
        (
            "Tuesday 09:00 Lisbon",
            plain(),
            at(2026, 12, 1, 9, 0),
            vec![],
        ),
        (
            "Tuesday 18:00 Lisbon",
            plain(),
            at(2026, 12, 1, 18, 0),
            vec![AFTER],
        ),
        (
            "Saturday noon",
            plain(),
            at(2026, 12, 5, 12, 0),
            vec![AFTER],
        ),
        (
            "a follow-up at night",
            follow_up,
            at(2026, 12, 1, 23, 0),
            vec![],
        ),
        // Summer time: Lisbon is UTC+1.
        (
            "July, 08:30 UTC = 09:30 Lisbon",
            plain(),
            at(2026, 7, 1, 8, 30),
            vec![],
        ),
        (
            "July, 17:30 UTC = 18:30 Lisbon",
            plain(),
            at(2026, 7, 1, 17, 30),
            vec![AFTER],
        ),
    ]);
}
