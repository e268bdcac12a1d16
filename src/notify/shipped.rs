//! The shipped templates, compiled into the binary, and the fallback to
//! them. A template of the operator's can load (and pass its sample render)
//! yet fail on a real mail's values; the customer's ticket must not pay for
//! that. [`render_with_fallback`] then renders the shipped template of the
//! same event and language instead, and says why.

use std::path::Path;
use std::sync::OnceLock;

#[cfg(test)]
use super::Kind;
use super::{Context, NotifyError, Source, Templates};

/// The files of `mail-templates/`, as built: (language, name, text).
const SHIPPED: &[(&str, &str, &str)] = &[
    (
        "en",
        "auto_reply",
        include_str!("../../mail-templates/en/auto_reply.txt"),
    ),
    (
        "en",
        "agent_new_ticket",
        include_str!("../../mail-templates/en/agent_new_ticket.txt"),
    ),
    (
        "en",
        "agent_follow_up",
        include_str!("../../mail-templates/en/agent_follow_up.txt"),
    ),
    (
        "en",
        "agent_bouncing",
        include_str!("../../mail-templates/en/agent_bouncing.txt"),
    ),
    (
        "en",
        "auto_reply_after_hours",
        include_str!("../../mail-templates/en/auto_reply_after_hours.txt"),
    ),
    (
        "en",
        "refusal",
        include_str!("../../mail-templates/en/refusal.txt"),
    ),
    (
        "fr",
        "auto_reply",
        include_str!("../../mail-templates/fr/auto_reply.txt"),
    ),
    (
        "fr",
        "agent_new_ticket",
        include_str!("../../mail-templates/fr/agent_new_ticket.txt"),
    ),
    (
        "fr",
        "agent_follow_up",
        include_str!("../../mail-templates/fr/agent_follow_up.txt"),
    ),
    (
        "fr",
        "agent_bouncing",
        include_str!("../../mail-templates/fr/agent_bouncing.txt"),
    ),
    (
        "fr",
        "auto_reply_after_hours",
        include_str!("../../mail-templates/fr/auto_reply_after_hours.txt"),
    ),
    (
        "fr",
        "refusal",
        include_str!("../../mail-templates/fr/refusal.txt"),
    ),
    (
        "pt",
        "auto_reply",
        include_str!("../../mail-templates/pt/auto_reply.txt"),
    ),
    (
        "pt",
        "agent_new_ticket",
        include_str!("../../mail-templates/pt/agent_new_ticket.txt"),
    ),
    (
        "pt",
        "agent_follow_up",
        include_str!("../../mail-templates/pt/agent_follow_up.txt"),
    ),
    (
        "pt",
        "agent_bouncing",
        include_str!("../../mail-templates/pt/agent_bouncing.txt"),
    ),
    (
        "pt",
        "auto_reply_after_hours",
        include_str!("../../mail-templates/pt/auto_reply_after_hours.txt"),
    ),
    (
        "en",
        "agent_reply",
        include_str!("../../mail-templates/en/agent_reply.txt"),
    ),
    (
        "en",
        "agent_note",
        include_str!("../../mail-templates/en/agent_note.txt"),
    ),
    (
        "fr",
        "agent_reply",
        include_str!("../../mail-templates/fr/agent_reply.txt"),
    ),
    (
        "fr",
        "agent_note",
        include_str!("../../mail-templates/fr/agent_note.txt"),
    ),
    (
        "pt",
        "agent_reply",
        include_str!("../../mail-templates/pt/agent_reply.txt"),
    ),
    (
        "pt",
        "agent_note",
        include_str!("../../mail-templates/pt/agent_note.txt"),
    ),
    (
        "pt",
        "refusal",
        include_str!("../../mail-templates/pt/refusal.txt"),
    ),
    (
        "en",
        "merged",
        include_str!("../../mail-templates/en/merged.txt"),
    ),
    (
        "en",
        "transferred",
        include_str!("../../mail-templates/en/transferred.txt"),
    ),
    (
        "en",
        "linked_resolved",
        include_str!("../../mail-templates/en/linked_resolved.txt"),
    ),
    (
        "fr",
        "merged",
        include_str!("../../mail-templates/fr/merged.txt"),
    ),
    (
        "fr",
        "transferred",
        include_str!("../../mail-templates/fr/transferred.txt"),
    ),
    (
        "fr",
        "linked_resolved",
        include_str!("../../mail-templates/fr/linked_resolved.txt"),
    ),
    (
        "pt",
        "merged",
        include_str!("../../mail-templates/pt/merged.txt"),
    ),
    (
        "pt",
        "transferred",
        include_str!("../../mail-templates/pt/transferred.txt"),
    ),
    (
        "pt",
        "linked_resolved",
        include_str!("../../mail-templates/pt/linked_resolved.txt"),
    ),
    (
        "en",
        "state_changed",
        include_str!("../../mail-templates/en/state_changed.txt"),
    ),
    (
        "en",
        "resolved",
        include_str!("../../mail-templates/en/resolved.txt"),
    ),
    (
        "en",
        "follow_up_refused",
        include_str!("../../mail-templates/en/follow_up_refused.txt"),
    ),
    (
        "fr",
        "state_changed",
        include_str!("../../mail-templates/fr/state_changed.txt"),
    ),
    (
        "fr",
        "resolved",
        include_str!("../../mail-templates/fr/resolved.txt"),
    ),
    (
        "fr",
        "follow_up_refused",
        include_str!("../../mail-templates/fr/follow_up_refused.txt"),
    ),
    (
        "pt",
        "state_changed",
        include_str!("../../mail-templates/pt/state_changed.txt"),
    ),
    (
        "pt",
        "resolved",
        include_str!("../../mail-templates/pt/resolved.txt"),
    ),
    (
        "pt",
        "follow_up_refused",
        include_str!("../../mail-templates/pt/follow_up_refused.txt"),
    ),
    (
        "en",
        "command_transcript",
        include_str!("../../mail-templates/en/command_transcript.txt"),
    ),
    (
        "en",
        "command_reference",
        include_str!("../../mail-templates/en/command_reference.txt"),
    ),
    (
        "fr",
        "command_transcript",
        include_str!("../../mail-templates/fr/command_transcript.txt"),
    ),
    (
        "fr",
        "command_reference",
        include_str!("../../mail-templates/fr/command_reference.txt"),
    ),
    (
        "pt",
        "command_transcript",
        include_str!("../../mail-templates/pt/command_transcript.txt"),
    ),
    (
        "pt",
        "command_reference",
        include_str!("../../mail-templates/pt/command_reference.txt"),
    ),
];

fn load_shipped() -> Result<Templates, NotifyError> {
    load_shipped_with_default("en")
}

/// The shipped templates (English as their default language).
pub fn shipped() -> &'static Templates {
    static SHIPPED_TEMPLATES: OnceLock<Templates> = OnceLock::new();
    SHIPPED_TEMPLATES.get_or_init(|| {
        // Cannot fail at run time: the texts are compiled in, and the test
        // `shipped_templates_load_and_render` loads them the same way.
        load_shipped().expect("the shipped mail templates are valid")
    })
}

/// The templates in `dir`, or, when they do not load, the shipped ones
/// with the reason: for `postdesk ingest`, where
/// refusing the mail over a broken template file would leave it to the
/// MTA's retries and, after days, a bounce — the customer's ticket lost.
/// (The daemon refuses to start instead, and a reload keeps the old set.)
pub fn load_or_shipped(
    dir: &Path,
    default_language: &str,
) -> (std::sync::Arc<Templates>, Option<NotifyError>) {
    match Templates::load(dir, default_language) {
        Ok(t) => (std::sync::Arc::new(t), None),
        Err(e) => match load_shipped_with_default(default_language) {
            Ok(t) => (std::sync::Arc::new(t), Some(e)),
            // The default language has no shipped templates: English.
            Err(_) => (std::sync::Arc::new(load_shipped_or_panic()), Some(e)),
        },
    }
}

fn load_shipped_with_default(default_language: &str) -> Result<Templates, NotifyError> {
    let dir = Path::new("(shipped templates)");
    let sources = SHIPPED
        .iter()
        .map(|(lang, name, text)| Source {
            lang: lang.to_string(),
            name: name.to_string(),
            path: dir.join(lang).join(format!("{name}.txt")),
            text: text.to_string(),
        })
        .collect();
    Templates::from_sources(sources, default_language, dir)
}

fn load_shipped_or_panic() -> Templates {
    // Cannot fail: the texts are compiled in and tested (see `shipped`).
    load_shipped().expect("the shipped mail templates are valid")
}

/// A rendered subject and body.
#[derive(Debug, Clone)]
pub struct Text {
    pub subject: String,
    pub body: String,
    /// Set when `fallback` was used: why the first template failed.
    pub fell_back: Option<String>,
}

/// Render the template `name` (a [`Kind::name`](super::Kind::name) or a named auto-reply)
/// with `primary`; if that fails, with `fallback` (the [`shipped`]
/// templates in production). Fails only when both fail.
pub fn render_with_fallback(
    primary: &Templates,
    fallback: &Templates,
    name: &str,
    lang: &str,
    ctx: &Context,
) -> Result<Text, NotifyError> {
    let first = match primary.render_named(name, lang, ctx) {
        Ok((subject, body)) => {
            return Ok(Text {
                subject,
                body,
                fell_back: None,
            })
        }
        Err(e) => e.to_string(),
    };
    match fallback.render_named(name, lang, ctx) {
        Ok((subject, body)) => Ok(Text {
            subject,
            body,
            fell_back: Some(first),
        }),
        Err(e) => Err(NotifyError::FallbackFailed {
            primary: first,
            shipped: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_load_and_render() {
        let t = load_shipped().unwrap_or_else(|e| panic!("{e}"));
        for lang in ["en", "fr", "pt"] {
            for kind in Kind::ALL {
                let (s, b) = t.render(kind, lang, &Context::sample()).unwrap();
                if kind == Kind::CommandReference {
                    // Sent without a ticket, to an agent: every command and form.
                    assert!(!s.contains("Ticket#2026"), "{lang} {s}");
                    for c in [
                        "#state",
                        "#assign",
                        "#transfer",
                        "#note",
                        "Control:",
                        "[state=resolved",
                    ] {
                        assert!(b.contains(c), "{lang} {c}");
                    }
                    continue;
                }
                if kind == Kind::Refusal {
                    // Sent without a ticket: it never names one.
                    assert!(
                        !s.contains("2026112") && !b.contains("2026112"),
                        "{lang} {b}"
                    );
                    continue;
                }
                assert!(s.contains("[Ticket#2026112210000017]"), "{lang} {s}");
                assert!(!b.is_empty());
            }
            // The after-hours auto-reply the shipped rule chooses.
            let (s, b) = t
                .render_named("auto_reply_after_hours", lang, &Context::sample())
                .unwrap();
            assert!(s.contains("[Ticket#2026112210000017]"), "{lang} {s}");
            assert!(b.contains("2026112210000017"), "{lang} {b}");
        }
        assert!(t.has_template("auto_reply_after_hours"));
        assert!(!t.has_template("auto_reply_holidays"));
    }

    #[test]
    fn a_named_template_missing_from_the_folder_falls_back_to_the_shipped_one() {
        let dir = tempfile::tempdir().unwrap();
        let mine = breaks_without_attachments(dir.path(), "Mine");
        assert!(!mine.has_template("auto_reply_after_hours"));
        let t = render_with_fallback(
            &mine,
            shipped(),
            "auto_reply_after_hours",
            "en",
            &Context::sample(),
        )
        .unwrap();
        assert!(t.body.contains("Our office is closed now"), "{}", t.body);
        assert!(t
            .fell_back
            .unwrap()
            .contains("no template auto_reply_after_hours"));
    }

    /// Templates whose auto-reply names the first attachment: fine for the
    /// sample (it has one), broken for a mail without attachments.
    fn breaks_without_attachments(dir: &Path, body: &str) -> Templates {
        std::fs::create_dir_all(dir.join("en")).unwrap();
        for kind in Kind::ALL {
            std::fs::write(
                dir.join("en").join(format!("{}.txt", kind.name())),
                format!("Subject: {{{{ ticket.tag }}}}\n\n{body}\n"),
            )
            .unwrap();
        }
        Templates::load(dir, "en").unwrap_or_else(|e| panic!("{e}"))
    }

    fn no_attachments() -> Context {
        let mut ctx = Context::sample();
        ctx.article.attachments.clear();
        ctx
    }

    #[test]
    fn a_template_broken_by_real_values_falls_back_to_the_shipped_one() {
        let dir = tempfile::tempdir().unwrap();
        let broken = breaks_without_attachments(dir.path(), "File {{ article.attachments.0 }}");
        let t = render_with_fallback(&broken, shipped(), "auto_reply", "pt", &no_attachments())
            .unwrap();
        let why = t.fell_back.expect("fell back");
        assert!(why.contains("auto_reply"), "{why}");
        let (_, shipped_pt) = shipped()
            .render(Kind::AutoReply, "pt", &no_attachments())
            .unwrap();
        assert_eq!(t.body, shipped_pt);
        // With the attachment it renders as written, no fallback.
        let t = render_with_fallback(&broken, shipped(), "auto_reply", "en", &Context::sample())
            .unwrap();
        assert!(t.fell_back.is_none());
        assert_eq!(t.body.trim(), "File photo.jpg");
    }

    #[test]
    fn both_failing_is_an_error_naming_both() {
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let a = breaks_without_attachments(d1.path(), "{{ article.attachments.0 }}");
        let b = breaks_without_attachments(d2.path(), "{{ article.attachments.0 | upper }}");
        let e = render_with_fallback(&a, &b, "agent_new_ticket", "en", &no_attachments())
            .unwrap_err()
            .to_string();
        assert!(e.contains("agent_new_ticket"), "{e}");
        assert!(e.contains("shipped template failed too"), "{e}");
    }
}
