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
        },
        support_address: "support@desk.example.com".into(),
        support_name: "Support".into(),
    }
}

#[test]
fn shipped_templates_render_in_every_language() {
    let t = templates();
    for lang in ["en", "pt", "fr"] {
        assert!(t.has_language(lang), "{lang}");
        for kind in Kind::ALL {
            let (subject, body) = t.render(kind, lang, &ctx("Impressora")).unwrap();
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
