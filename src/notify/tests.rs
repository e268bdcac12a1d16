//! Tests of template loading and of the outgoing mail built from them
//! (headers, encoding, what hostile values cannot do).

use super::*;
use std::path::Path;

fn templates() -> Templates {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-templates");
    Templates::load(&dir, "en").unwrap_or_else(|e| panic!("{e}"))
}

fn ctx(subject: &str) -> Context {
    Context {
        ticket: TicketCtx {
            number: "2026112210000017".into(),
            tag: "[Ticket#2026112210000017]".into(),
            subject: subject.into(),
            state: "posted".into(),
            queue: "support".into(),
            customer: "ana@example.pt".into(),
            customer_name: "Ana".into(),
        },
        article: ArticleCtx {
            from: "ana@example.pt".into(),
            from_name: "Ana".into(),
            subject: subject.into(),
            text: "Bom dia".into(),
            attachments: vec![],
            unverified_sender: false,
            from_our_address: false,
            agents_side: false,
            quoted_ticket: String::new(),
            bouncing: String::new(),
            bouncing_reason: String::new(),
            refusal: String::new(),
            other_ticket: String::new(),
        },
        support_address: "support@desk.example.com".into(),
        support_name: "Support".into(),
        commands: Default::default(),
    }
}

#[test]
fn shipped_templates_render_in_every_language() {
    let t = templates();
    for lang in ["en", "pt", "fr"] {
        assert!(t.has_language(lang), "{lang}");
        for kind in Kind::ALL {
            let (subject, body) = t.render(kind, lang, &ctx("Impressora")).unwrap();
            if kind == Kind::CommandReference {
                // Sent without a ticket, to an agent: every command and form.
                assert!(!subject.contains("Ticket#2026"), "{lang} {subject}");
                for c in [
                    "#state",
                    "#assign",
                    "#transfer",
                    "#note",
                    "Control:",
                    "[state=resolved",
                ] {
                    assert!(body.contains(c), "{lang} {c}");
                }
                continue;
            }
            if kind == Kind::Refusal {
                // Sent without a ticket: it never names one.
                assert!(!subject.contains("Ticket#") && !body.contains("2026112"));
                assert!(body.contains("support@desk.example.com"), "{lang} {body}");
                continue;
            }
            assert!(
                subject.contains("[Ticket#2026112210000017]"),
                "{lang} {subject}"
            );
            assert!(!body.is_empty());
        }
    }
    // Unknown language falls back to the default.
    let (s, _) = t.render(Kind::AutoReply, "xx", &ctx("x")).unwrap();
    assert!(s.contains("Ticket#"));
}

#[test]
fn hostile_subject_cannot_add_headers() {
    let t = templates();
    let (subject, body) = t
        .render(Kind::AutoReply, "en", &ctx("hi\r\nBcc: victim@example.com"))
        .unwrap();
    let env = Envelope {
        reply_to: Some("support+t2026112210000017-abcdefghij@desk.example.com"),
        from_address: "support@desk.example.com",
        from_name: Some("Support\r\nX-Evil: 1"),
        to: &["ana@example.pt".to_string()],
        envelope_from: None,
        message_id: "x.1@desk.example.com",
        in_reply_to: Some("a1@example.pt"),
        references: &["a0@example.pt".into(), "a1@example.pt".into()],
        auto_submitted: Some("auto-replied"),
        ticket_number: "2026112210000017",
        fqdn: "desk.example.com",
        dkim: None,
        thread_topic: Some("hi\r\nBcc: topic@example.com"),
        thread_index: Some("AcmK80zS8L6DgfKxTMON80Obs/ge4QAAAAOa\r\nX-Evil: 2"),
    };
    let r = build(&env, &subject, &body).unwrap();
    let text = String::from_utf8_lossy(&r.raw);
    let head = text.split("\r\n\r\n").next().unwrap();
    assert!(!head.lines().any(|l| l.starts_with("Bcc:")), "{head}");
    assert!(!head.lines().any(|l| l.starts_with("X-Evil")), "{head}");
    assert!(head.contains("Auto-Submitted: auto-replied"), "{head}");
    assert!(head.contains("MIME-Version: 1.0"), "{head}");
    assert!(head.contains("In-Reply-To: <a1@example.pt>"), "{head}");
    assert!(
        head.contains("Message-ID: <x.1@desk.example.com>"),
        "{head}"
    );
    assert_eq!(r.envelope_from, "");
    assert!(head.lines().any(|l| l.starts_with("Reply-To:")), "{head}");
    assert!(
        head.contains("<support+t2026112210000017-abcdefghij@desk.example.com>"),
        "{head}"
    );
}

#[test]
fn clip_bounds_names_and_subjects() {
    assert_eq!(clip("short"), "short");
    let long = "é".repeat(5000);
    let c = clip(&long);
    assert_eq!(c.chars().count(), MAX_COPIED_CHARS + 1);
    assert!(c.ends_with('…'));
    assert_eq!(clip(&"x".repeat(MAX_COPIED_CHARS)).len(), MAX_COPIED_CHARS);
}

#[test]
fn malformed_templates_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("en")).unwrap();
    std::fs::write(dir.path().join("en/auto_reply.txt"), "no subject line").unwrap();
    let e = Templates::load(dir.path(), "en").err().unwrap().to_string();
    assert!(e.contains("auto_reply.txt"), "{e}");
    std::fs::write(
        dir.path().join("en/auto_reply.txt"),
        "Subject: {{ x\n\nbody",
    )
    .unwrap();
    let e = Templates::load(dir.path(), "en").err().unwrap().to_string();
    assert!(e.contains("auto_reply.txt"), "{e}");
    // The other templates are the shipped ones: the folder loads.
    std::fs::write(dir.path().join("en/auto_reply.txt"), "Subject: x\n\nbody").unwrap();
    let t = Templates::load(dir.path(), "en").unwrap_or_else(|e| panic!("{e}"));
    assert!(t.has_template("agent_new_ticket"));
    // An unknown variable is caught at load, naming the file.
    std::fs::write(
        dir.path().join("en/auto_reply.txt"),
        "Subject: x\n\n{{ ticket.nope }}",
    )
    .unwrap();
    let e = Templates::load(dir.path(), "en").err().unwrap().to_string();
    assert!(e.contains("auto_reply.txt"), "{e}");
}

#[test]
fn html_goes_as_multipart_alternative_with_the_text_first() {
    let env = Envelope {
        from_address: "support@desk.example.com",
        to: &["ana@example.pt".to_string()],
        message_id: "x.2@desk.example.com",
        ticket_number: "2026112210000017",
        fqdn: "desk.example.com",
        thread_topic: Some("Impressão avariada"),
        thread_index: Some("AcmK80zS8L6DgfKxTMON80Obs/ge4QAAAAOa"),
        ..Default::default()
    };
    let text = "Olá Ana, é só um teste.\n";
    let html = "<p>Olá Ana, é <b>só</b> um teste.</p>\n";
    let r = build_alternative(&env, "Teste", text, Some(html)).unwrap();
    let raw = String::from_utf8_lossy(&r.raw).into_owned();
    let head = raw.split("\r\n\r\n").next().unwrap();
    // The Content-Type is the mail's own header (so DKIM signs what is
    // sent), and the body is 7bit.
    assert!(
        head.contains("Content-Type: multipart/alternative;"),
        "{head}"
    );
    assert!(head.contains("Content-Transfer-Encoding: 7bit"), "{head}");
    assert!(head.contains("Thread-Topic: =?utf-8?"), "{head}");
    assert!(
        head.contains("Thread-Index: AcmK80zS8L6DgfKxTMON80Obs/ge4QAAAAOa"),
        "{head}"
    );
    assert!(r.raw.is_ascii());
    let msg = mail_parser::MessageParser::default().parse(&r.raw).unwrap();
    // RFC 2047-encoded by lettre ("Impressão" in UTF-8, base64).
    assert_eq!(
        msg.header_raw("Thread-Topic").map(str::trim),
        Some("=?utf-8?b?SW1wcmVzc8Ojbw==?= avariada")
    );
    assert_eq!(msg.body_text(0).unwrap().trim_end(), text.trim_end());
    assert_eq!(msg.body_html(0).unwrap().trim_end(), html.trim_end());
    let text_at = raw.find("Content-Type: text/plain").unwrap();
    let html_at = raw.find("Content-Type: text/html").unwrap();
    assert!(text_at < html_at);
    // Without HTML: one text/plain part, as before.
    let r = build_alternative(&env, "Teste", text, None).unwrap();
    let raw = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(
        raw.contains("Content-Type: text/plain; charset=utf-8"),
        "{raw}"
    );
    assert!(!raw.contains("multipart"));
}

#[test]
fn a_long_html_line_still_goes_as_7bit_multipart() {
    let env = Envelope {
        from_address: "support@desk.example.com",
        to: &["ana@example.pt".to_string()],
        message_id: "x.3@desk.example.com",
        fqdn: "desk.example.com",
        ..Default::default()
    };
    let html = format!("<p style=\"{}\">é</p>", "color: #222222; ".repeat(20));
    let r = build_alternative(&env, "Teste", &"x".repeat(300), Some(&html)).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&r.raw).unwrap();
    assert_eq!(msg.body_html(0).unwrap().trim_end(), html);
    assert_eq!(msg.body_text(0).unwrap().trim_end(), "x".repeat(300));
}
