//! The `tests/data` corpus through parsing, classification and threading.

use postdesk::mail::{parse, DeliveryOutcome, MailClass, MailError};
use postdesk::threading::Numbering;

fn load(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

struct Expect {
    from: &'static str,
    subject: &'static str,
    automatic: bool,
    number: Option<&'static str>,
    attachments: &'static [&'static str],
    text: &'static str,
    language: Option<&'static str>,
}

fn check(name: &str, e: Expect) {
    let m =
        parse(&load(name), "helpdesk.example.com").unwrap_or_else(|err| panic!("{name}: {err}"));
    assert_eq!(m.from.address, e.from, "{name}");
    assert_eq!(m.subject, e.subject, "{name}");
    assert_eq!(
        m.automatic.is_some(),
        e.automatic,
        "{name}: {:?}",
        m.automatic
    );
    let numbers = Numbering::new("Ticket#", 10).numbers_in_subject(&m.subject);
    assert_eq!(numbers.first().map(String::as_str), e.number, "{name}");
    let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(names, e.attachments, "{name}");
    assert!(m.text.contains(e.text), "{name}: {:?}", m.text);
    assert_eq!(m.language.as_deref(), e.language, "{name}");
}

#[test]
fn outlook_portuguese_latin1() {
    check(
        "outlook-pt-latin1.eml",
        Expect {
            from: "joao@empresa.pt",
            subject: "Ligação à impressora",
            automatic: false,
            number: None,
            attachments: &[],
            text: "Não consigo ligar à impressora.",
            language: Some("pt"),
        },
    );
}

#[test]
fn thunderbird_french_reply_with_attachment() {
    let raw = load("thunderbird-fr-reply-attachment.eml");
    let m = parse(&raw, "helpdesk.example.com").unwrap();
    assert_eq!(
        m.in_reply_to,
        vec!["2026112210000017.auto_reply.0123456789abcdef@helpdesk.example.com"]
    );
    assert_eq!(m.references.len(), 2);
    check(
        "thunderbird-fr-reply-attachment.eml",
        Expect {
            from: "claire@societe.fr",
            subject: "Réf. : [Ticket#2026112210000017] Écran noir",
            automatic: false,
            number: Some("2026112210000017"),
            attachments: &["capture d’écran.png"],
            text: "L’écran reste noir",
            language: Some("fr"),
        },
    );
}

#[test]
fn bounce_is_automatic() {
    check(
        "bounce-dsn.eml",
        Expect {
            from: "mailer-daemon@mx.customer.test",
            subject: "Undelivered Mail Returned to Sender",
            automatic: true,
            number: None,
            attachments: &["attachment-1"],
            text: "could not be delivered",
            language: None,
        },
    );
}

#[test]
fn out_of_office_windows_1252() {
    check(
        "out-of-office-cp1252.eml",
        Expect {
            from: "ana@example.pt",
            subject: "Ausente: Impressora",
            automatic: true,
            number: None,
            attachments: &[],
            text: "até segunda-feira – respondo",
            language: None,
        },
    );
}

#[test]
fn newsletter_html_only() {
    let m = parse(&load("newsletter-html-only.eml"), "x").unwrap();
    assert!(m.html.is_some());
    check(
        "newsletter-html-only.eml",
        Expect {
            from: "shop@newsletter.test",
            subject: "Black Friday",
            automatic: true,
            number: None,
            attachments: &[],
            text: "Everything & more € 10",
            language: None,
        },
    );
}

#[test]
fn unknown_charset_is_kept() {
    // An unknown charset cannot be decoded exactly: the bytes that are not
    // UTF-8 become U+FFFD, the rest is kept, nothing is refused.
    check(
        "unknown-charset.eml",
        Expect {
            from: "someone@example.org",
            subject: "caf\u{fffd}",
            automatic: false,
            number: None,
            attachments: &[],
            text: "plain ascii body",
            language: None,
        },
    );
}

#[test]
fn no_sender_is_refused() {
    assert_eq!(
        parse(&load("no-sender.eml"), "x").unwrap_err(),
        MailError::NoSender
    );
}

#[test]
fn hand_written_files_have_their_class() {
    let class = |name: &str| parse(&load(name), "helpdesk.example.com").unwrap().class;
    let c = class("bounce-dsn.eml");
    assert_eq!(c.class, MailClass::DeliveryReport);
    let b = c.bounce.unwrap();
    assert_eq!(b.outcome, DeliveryOutcome::Failed);
    assert_eq!(b.recipients[0].address, "nobody@customer.test");
    assert_eq!(b.recipients[0].status.as_deref(), Some("5.1.1"));
    assert_eq!(
        class("out-of-office-cp1252.eml").class,
        MailClass::AutoReply
    );
    assert_eq!(class("newsletter-html-only.eml").class, MailClass::List);
    for person in [
        "outlook-pt-latin1.eml",
        "thunderbird-fr-reply-attachment.eml",
        "unknown-charset.eml",
    ] {
        assert_eq!(class(person).class, MailClass::Person, "{person}");
    }
}
