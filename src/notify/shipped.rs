//! The shipped templates, compiled into the binary, and the fallback to
//! them. A template of the operator's can load (and pass its sample render)
//! yet fail on a real mail's values; the customer's ticket must not pay for
//! that. [`render_with_fallback`] then renders the shipped template of the
//! same event and language instead, and says why.

use std::path::Path;
use std::sync::OnceLock;

use super::set::{Origin, Source};
#[cfg(test)]
use super::Kind;
use super::{Context, NotifyError, Templates};

/// The files of `mail-templates/`, as built: (language, file name, text).
/// `build.rs` lists every `<lang>/<name>.txt|html` there, so a new
/// template ships by adding its files.
const SHIPPED: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/shipped_templates.rs"));

/// The shipped files as template sources.
pub(super) fn sources() -> Vec<Source> {
    let dir = Path::new("(shipped templates)");
    SHIPPED
        .iter()
        .map(|(lang, file, text)| Source {
            lang: lang.to_string(),
            file: file.to_string(),
            path: dir.join(lang).join(file),
            text: text.to_string(),
            origin: Origin::Shipped,
        })
        .collect()
}

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
    Templates::from_sources(
        sources(),
        default_language,
        Path::new("(shipped templates)"),
    )
}

fn load_shipped_or_panic() -> Templates {
    // Cannot fail: the texts are compiled in and tested (see `shipped`).
    load_shipped().expect("the shipped mail templates are valid")
}

/// A rendered subject and body (and HTML alternative).
#[derive(Debug, Clone)]
pub struct Text {
    pub subject: String,
    pub body: String,
    /// The HTML alternative, when the template has one.
    pub html: Option<String>,
    /// Set when `fallback` was used: why the first template failed.
    pub fell_back: Option<String>,
}

/// Render the template `name` (a [`Kind::name`](super::Kind::name) or a named auto-reply)
/// with `primary`; if that fails, with the set `fallback` gives (the
/// [`shipped`] templates in production). Fails only when both fail. The
/// fallback is asked for only then: the shipped set, compiled on first
/// use, costs ~1 MiB the daemon need not hold while the operator's set
/// renders.
pub fn render_with_fallback<'f>(
    primary: &Templates,
    fallback: impl FnOnce() -> &'f Templates,
    name: &str,
    lang: &str,
    ctx: &Context,
) -> Result<Text, NotifyError> {
    let first = match primary.render_parts(name, lang, ctx) {
        Ok(p) => {
            return Ok(Text {
                subject: p.subject,
                body: p.body,
                html: p.html,
                fell_back: None,
            })
        }
        Err(e) => e.to_string(),
    };
    match fallback().render_parts(name, lang, ctx) {
        Ok(p) => Ok(Text {
            subject: p.subject,
            body: p.body,
            html: p.html,
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

    /// Every shipped notification, in every language and part, extends its
    /// language's layout and fills only blocks that layout defines (Tera
    /// ignores a misspelt block quietly): a new kind cannot ship as a plain
    /// `Subject: …` file that a restyled `layout.txt` would not reach.
    #[test]
    fn every_shipped_template_extends_the_layout() {
        let parse = |s: &Source| {
            tera::Template::new(&s.file, None, &s.text)
                .unwrap_or_else(|e| panic!("{}: {e}", s.path.display()))
        };
        let sources = sources();
        let mut checked = 0;
        for s in &sources {
            let Some((stem, ext)) = s.file.rsplit_once('.') else {
                panic!("{}: no extension", s.path.display());
            };
            if stem == "layout" {
                continue;
            }
            let layout_file = format!("layout.{ext}");
            let t = parse(s);
            assert_eq!(
                t.parent.as_deref(),
                Some(layout_file.as_str()),
                "{} must begin with {{% extends \"{layout_file}\" %}} and fill the layout's \
                 blocks (see mail-templates/README.md, \"Shape\")",
                s.path.display()
            );
            let layout = sources
                .iter()
                .find(|l| l.lang == s.lang && l.file == layout_file)
                .unwrap_or_else(|| panic!("{}: no {layout_file} in {}", s.path.display(), s.lang));
            let defined = parse(layout).blocks;
            for name in t.blocks.keys() {
                assert!(
                    defined.contains_key(name),
                    "{}: block {name} is not one of {}/{layout_file}'s",
                    s.path.display(),
                    s.lang
                );
            }
            assert!(
                t.blocks.contains_key("body"),
                "{}: no body",
                s.path.display()
            );
            checked += 1;
        }
        // Every kind, in the three shipped languages, at least as text.
        assert!(checked >= 3 * Kind::ALL.len(), "{checked}");
    }

    #[test]
    fn a_named_template_missing_from_the_folder_is_the_shipped_one() {
        let dir = tempfile::tempdir().unwrap();
        let mine = breaks_without_attachments(dir.path(), "Mine");
        // Laid over the shipped set: the shipped after-hours reply is there.
        assert!(mine.has_template("auto_reply_after_hours"));
        assert!(!mine.has_template("auto_reply_holidays"));
        let t = render_with_fallback(
            &mine,
            shipped,
            "auto_reply_after_hours",
            "en",
            &Context::sample(),
        )
        .unwrap();
        assert!(t.body.contains("Our office is closed now"), "{}", t.body);
        assert!(t.fell_back.is_none());
        // One neither has: an error naming it.
        let e = render_with_fallback(
            &mine,
            shipped,
            "auto_reply_holidays",
            "en",
            &Context::sample(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no template auto_reply_holidays"), "{e}");
    }

    /// Templates whose auto-reply names the first attachment: fine for the
    /// sample (it has one), broken for a mail without attachments.
    fn breaks_without_attachments(dir: &Path, body: &str) -> Templates {
        for lang in ["en", "fr", "pt"] {
            std::fs::create_dir_all(dir.join(lang)).unwrap();
            for kind in Kind::ALL {
                std::fs::write(
                    dir.join(lang).join(format!("{}.txt", kind.name())),
                    format!("Subject: {{{{ ticket.tag }}}}\n\n{body}\n"),
                )
                .unwrap();
            }
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
        let t =
            render_with_fallback(&broken, shipped, "auto_reply", "pt", &no_attachments()).unwrap();
        let why = t.fell_back.expect("fell back");
        assert!(why.contains("auto_reply"), "{why}");
        let (_, shipped_pt) = shipped()
            .render(Kind::AutoReply, "pt", &no_attachments())
            .unwrap();
        assert_eq!(t.body, shipped_pt);
        // With the attachment it renders as written, no fallback.
        let t =
            render_with_fallback(&broken, shipped, "auto_reply", "en", &Context::sample()).unwrap();
        assert!(t.fell_back.is_none());
        assert_eq!(t.body.trim(), "File photo.jpg");
    }

    #[test]
    fn the_fallback_is_not_built_while_the_first_set_renders() {
        let dir = tempfile::tempdir().unwrap();
        let mine = breaks_without_attachments(dir.path(), "Mine");
        let t = render_with_fallback(
            &mine,
            || -> &Templates { panic!("the fallback set was asked for") },
            "auto_reply",
            "fr",
            &Context::sample(),
        )
        .unwrap();
        assert_eq!(t.body.trim(), "Mine");
    }

    #[test]
    fn both_failing_is_an_error_naming_both() {
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let a = breaks_without_attachments(d1.path(), "{{ article.attachments.0 }}");
        let b = breaks_without_attachments(d2.path(), "{{ article.attachments.0 | upper }}");
        let e = render_with_fallback(&a, || &b, "agent_new_ticket", "en", &no_attachments())
            .unwrap_err()
            .to_string();
        assert!(e.contains("agent_new_ticket"), "{e}");
        assert!(e.contains("shipped template failed too"), "{e}");
    }
}
