//! The operator's folder over the shipped set (file by file, the layout
//! too), the HTML alternative and its escaping, and the listing.

use super::*;
use crate::notify::{shipped, Kind};

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn load(dir: &tempfile::TempDir) -> Templates {
    Templates::load(dir.path(), "en").unwrap_or_else(|e| panic!("{e}"))
}

fn origin(t: &Templates, lang: &str, name: &str, part: &str) -> Option<Origin> {
    t.list()
        .into_iter()
        .find(|l| l.lang == lang && l.name == name && l.part == part)
        .map(|l| l.origin)
}

#[test]
fn every_kind_ships_text_in_english_french_and_portuguese() {
    let t = shipped();
    for kind in Kind::ALL {
        for lang in ["en", "fr", "pt"] {
            assert_eq!(
                origin(t, lang, kind.name(), "txt"),
                Some(Origin::Shipped),
                "{lang}/{}.txt",
                kind.name()
            );
        }
    }
    for lang in ["en", "fr", "pt"] {
        for name in ["auto_reply", "agent_reply", "layout"] {
            assert_eq!(
                origin(t, lang, name, "html"),
                Some(Origin::Shipped),
                "{lang}/{name}"
            );
        }
    }
}

#[test]
fn shipped_text_keeps_the_layouts_shape() {
    let p = shipped()
        .render_parts("auto_reply", "en", &Context::sample())
        .unwrap();
    assert_eq!(p.subject, "[Ticket#2026112210000017] Printer broken");
    assert_eq!(
        p.body,
        "Hello Ana,\n\n\
         Thank you for writing to us. Your request has been received and filed as\n\
         ticket 2026112210000017. An agent will get back to you as soon as possible.\n\n\
         -- \nSupport <support@example.com>\n\
         To add to ticket 2026112210000017, reply to this message keeping \
         [Ticket#2026112210000017] in the subject.\n\
         This is an automatic reply.\n"
    );
    let html = p.html.expect("auto_reply has HTML");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<b>2026112210000017</b>"), "{html}");
    // Agents' alerts have no HTML: plain text only.
    let p = shipped()
        .render_parts("agent_new_ticket", "pt", &Context::sample())
        .unwrap();
    assert!(p.html.is_none());
    assert!(
        p.body.starts_with("Novo pedido 2026112210000017"),
        "{}",
        p.body
    );
}

#[test]
fn html_escapes_values_and_text_does_not() {
    let mut ctx = Context::sample();
    ctx.ticket.customer_name = "<script>alert(1)</script> & co".into();
    ctx.article.text = "line <1>\nline \"2\"".into();
    ctx.article.from_name = "Zé <admin>".into();
    let p = shipped().render_parts("auto_reply", "pt", &ctx).unwrap();
    assert!(
        p.body.contains("Olá <script>alert(1)</script> & co,"),
        "{}",
        p.body
    );
    let html = p.html.unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt; &amp; co"),
        "{html}"
    );
    let p = shipped().render_parts("agent_reply", "fr", &ctx).unwrap();
    let html = p.html.unwrap();
    assert!(
        html.contains("line &lt;1&gt;<br>line &quot;2&quot;"),
        "{html}"
    );
    assert!(html.contains("Zé &lt;admin&gt;"), "{html}");
}

#[test]
fn an_operator_file_replaces_that_file_only() {
    let dir = folder(&[(
        "en/auto_reply.txt",
        "Subject: Got it {{ ticket.tag }}\n\nWe have your mail.\n",
    )]);
    let t = load(&dir);
    let p = t
        .render_parts("auto_reply", "en", &Context::sample())
        .unwrap();
    assert_eq!(p.subject, "Got it [Ticket#2026112210000017]");
    assert_eq!(p.body, "We have your mail.\n");
    // Their text without their HTML: no shipped HTML saying something else.
    assert_eq!(p.html, None);
    assert_eq!(
        origin(&t, "en", "auto_reply", "txt"),
        Some(Origin::Operator)
    );
    assert_eq!(origin(&t, "en", "auto_reply", "html"), None);
    // Everything else is the shipped set, HTML included.
    assert_eq!(
        origin(&t, "en", "agent_reply", "html"),
        Some(Origin::Shipped)
    );
    assert_eq!(
        origin(&t, "fr", "auto_reply", "html"),
        Some(Origin::Shipped)
    );
    assert_eq!(origin(&t, "en", "layout", "txt"), Some(Origin::Shipped));
    let (_, body) = t
        .render(Kind::AgentReply, "en", &Context::sample())
        .unwrap();
    let (_, shipped_body) = shipped()
        .render(Kind::AgentReply, "en", &Context::sample())
        .unwrap();
    assert_eq!(body, shipped_body);
    let listed = t.list();
    let mine = listed
        .iter()
        .find(|l| l.origin == Origin::Operator)
        .unwrap();
    assert_eq!(mine.path, dir.path().join("en/auto_reply.txt"));
}

#[test]
fn an_operator_layout_alone_restyles_every_shipped_template_of_its_language() {
    let dir = folder(&[(
        "en/layout.txt",
        "Subject: {% block subject %}{{ ticket.tag }} {{ ticket.subject }}{% endblock subject %}\n\n\
         {% block greeting %}Dear customer,\n\n{% endblock greeting %}{% block body %}{% endblock body %}\
         {% block signature %}ACME support desk\n{% endblock signature %}{% block footer %}{% endblock footer %}",
    )]);
    let t = load(&dir);
    let (s, body) = t.render(Kind::AutoReply, "en", &Context::sample()).unwrap();
    assert_eq!(s, "[Ticket#2026112210000017] Printer broken");
    assert!(
        body.starts_with("Dear customer,\n\nThank you for writing"),
        "{body}"
    );
    // auto_reply's footer calls super(): now the operator's empty footer.
    assert!(
        body.ends_with("ACME support desk\nThis is an automatic reply.\n"),
        "{body}"
    );
    // Templates overriding the signature keep their own.
    let (_, reply) = t
        .render(Kind::AgentReply, "en", &Context::sample())
        .unwrap();
    assert!(
        reply.contains("Ana, Support <support@example.com>"),
        "{reply}"
    );
    // Other languages keep their shipped layouts.
    let (_, fr) = t.render(Kind::AutoReply, "fr", &Context::sample()).unwrap();
    assert!(fr.starts_with("Bonjour Ana"), "{fr}");
    assert_eq!(origin(&t, "en", "layout", "txt"), Some(Origin::Operator));
    assert_eq!(origin(&t, "en", "auto_reply", "txt"), Some(Origin::Shipped));
}

#[test]
fn a_new_language_extends_the_default_languages_layout() {
    let dir = folder(&[(
        "de/auto_reply.txt",
        "{% extends \"layout.txt\" %}{% block greeting %}Hallo,\n\n{% endblock greeting %}\
         {% block body %}Danke.\n{% endblock body %}",
    )]);
    let t = load(&dir);
    let (_, body) = t.render(Kind::AutoReply, "de", &Context::sample()).unwrap();
    assert!(
        body.starts_with("Hallo,\n\nDanke.\n\n-- \nSupport"),
        "{body}"
    );
    // German has no other template: English, the default, stands in.
    let (s, _) = t
        .render(Kind::AgentNewTicket, "de", &Context::sample())
        .unwrap();
    assert!(s.contains("New ticket"), "{s}");
}

#[test]
fn an_operator_html_goes_with_their_text_and_never_alone() {
    let dir = folder(&[
        (
            "en/auto_reply.txt",
            "Subject: {{ ticket.tag }}\n\nText part\n",
        ),
        (
            "en/auto_reply.html",
            "<p>HTML part for {{ ticket.customer_name }}</p>",
        ),
    ]);
    let p = load(&dir)
        .render_parts("auto_reply", "en", &Context::sample())
        .unwrap();
    assert_eq!(p.body, "Text part\n");
    assert_eq!(p.html.as_deref(), Some("<p>HTML part for Ana</p>"));
    let dir = folder(&[("en/holiday.html", "<p>closed</p>")]);
    let e = Templates::load(dir.path(), "en").err().unwrap().to_string();
    assert!(
        e.contains("holiday.html") && e.contains("never sent as HTML alone"),
        "{e}"
    );
}

#[test]
fn a_broken_layout_or_a_missing_parent_names_the_file() {
    let dir = folder(&[("en/layout.txt", "Subject: {% block subject %}x\n\n")]);
    let e = Templates::load(dir.path(), "en").err().unwrap().to_string();
    assert!(e.contains("layout.txt"), "{e}");
    let dir = folder(&[(
        "en/auto_reply.txt",
        "{% extends \"base.txt\" %}{% block body %}x{% endblock body %}",
    )]);
    let e = Templates::load(dir.path(), "en").err().unwrap().to_string();
    assert!(
        e.contains("auto_reply.txt") && e.contains("base.txt"),
        "{e}"
    );
    // A layout that loses the Subject line: every template extending it
    // is refused, naming one.
    let dir = folder(&[(
        "en/layout.txt",
        "{% block greeting %}{% endblock greeting %}{% block body %}{% endblock body %}",
    )]);
    let e = Templates::load(dir.path(), "en").err().unwrap().to_string();
    assert!(e.contains("Subject"), "{e}");
}

#[test]
fn an_operator_file_naming_unknown_variables_loads_with_a_warning() {
    let dir = folder(&[(
        "en/auto_reply.txt",
        "Subject: {{ ticket.tag }}\n\n{% if ticket.priorty %}urgent{% endif %}\n",
    )]);
    let t = load(&dir);
    assert_eq!(t.warnings().len(), 1, "{:?}", t.warnings());
    assert!(t.warnings()[0].contains("auto_reply.txt"));
    assert!(t.warnings()[0].contains("ticket.priorty"));
    assert!(shipped().warnings().is_empty());
}
