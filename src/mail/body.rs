//! The text and HTML bodies of a parsed mail, taken out of mail-parser's
//! message rather than copied (the message is dropped right after), and
//! cut at [`MAX_BODY_BYTES`]: a body is decoded to UTF-8 (up to three
//! times its encoded size) and then held by the mail and by SQLite at once,
//! so an uncapped body would make memory grow with the charset, not the
//! size limit. The raw message is always kept whole. HTML becomes text and
//! is sanitised through [`super::html`].

use super::html;
use mail_parser::decoders::html::text_to_html;
use mail_parser::{Message, PartType};

/// Longer text or HTML bodies are cut (with a warning); 4 MiB of text is
/// some two thousand pages.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// (text, html, warnings). Text: the first text body (converted when it is
/// HTML). HTML: the first HTML body, sanitised, only when the mail has a
/// real HTML part (mail-parser fills the gaps by converting).
pub fn take(msg: &mut Message<'_>) -> (String, Option<String>, Vec<String>) {
    let want_html = msg
        .html_bodies()
        .any(|p| matches!(p.body, PartType::Html(_)));
    let text_at = msg.text_body.first().map(|&i| i as usize);
    let html_at = msg.html_body.first().map(|&i| i as usize);
    let shared = want_html && text_at == html_at;
    let mut warnings = Vec::new();
    // HTML is cut before it is converted or sanitised, so neither works on
    // more than MAX_BODY_BYTES (a charset may have tripled the body).
    let mut html_cut = None;
    let redecoded = text_at.and_then(|i| super::charset::redecode_body(msg, i));
    let text = match text_at
        .and_then(|i| msg.parts.get_mut(i))
        .map(|p| &mut p.body)
    {
        Some(PartType::Html(h)) => {
            html_cut = over(h);
            html::to_text(prefix(h))
        }
        _ if redecoded.is_some() => redecoded.unwrap_or_default(),
        Some(PartType::Text(t)) if shared => t.to_string(),
        Some(PartType::Text(t)) => std::mem::take(t).into_owned(),
        _ => String::new(),
    };
    let html = if want_html {
        match html_at
            .and_then(|i| msg.parts.get_mut(i))
            .map(|p| &mut p.body)
        {
            Some(PartType::Html(h)) => {
                let h = std::mem::take(h);
                html_cut = html_cut.or(over(&h));
                Some(html::sanitize(prefix(&h)))
            }
            Some(PartType::Text(t)) => Some(text_to_html(t)),
            _ => None,
        }
    } else {
        None
    };
    if let Some((len, at)) = html_cut {
        warnings.push(format!(
            "HTML body of {len} bytes cut at {at} before conversion (the raw message is kept whole)"
        ));
    }
    let text = cut(text, "text", &mut warnings);
    let html = html.map(|h| cut(h, "HTML", &mut warnings));
    (text, html, warnings)
}

/// (length, where it is cut) of an over-long body.
fn over(s: &str) -> Option<(usize, usize)> {
    (s.len() > MAX_BODY_BYTES).then(|| (s.len(), prefix(s).len()))
}

/// At most [`MAX_BODY_BYTES`] of `s`, ending on a character boundary.
fn prefix(s: &str) -> &str {
    let mut at = s.len().min(MAX_BODY_BYTES);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
}

fn cut(mut s: String, what: &str, warnings: &mut Vec<String>) -> String {
    if s.len() > MAX_BODY_BYTES {
        let mut at = MAX_BODY_BYTES;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        warnings.push(format!(
            "{what} body of {} bytes cut at {at} (the raw message is kept whole)",
            s.len()
        ));
        s.truncate(at);
        s.shrink_to_fit();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn bodies(raw: &str) -> (String, Option<String>, Vec<String>) {
        let mut msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
        take(&mut msg)
    }

    fn check(raw: &str, text: &str, html: Option<&str>) {
        let (t, h, w) = bodies(raw);
        assert_eq!((t.as_str(), h.as_deref()), (text, html), "{raw}");
        assert!(w.is_empty());
    }

    #[test]
    fn text_and_sanitised_html() {
        check("From: a@b.co\r\n\r\nplain\r\n", "plain\r\n", None);
        check(
            "From: a@b.co\r\nContent-Type: text/html\r\n\r\n<p>only <b>html</b><script>x</script></p>\r\n",
            "only html",
            Some("<p>only <b>html</b></p>\n"),
        );
        check(
            "From: a@b.co\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nthe text\r\n--x\r\nContent-Type: text/html\r\n\r\n<p onclick=\"x\">the html</p>\r\n--x--\r\n",
            "the text",
            Some("<p>the html</p>"),
        );
    }

    #[test]
    fn huge_bodies_are_cut_on_a_char_boundary() {
        let raw = format!("From: a@b.co\r\n\r\n{}\r\n", "é".repeat(MAX_BODY_BYTES));
        let (text, _, warnings) = bodies(&raw);
        assert_eq!(text.len(), MAX_BODY_BYTES);
        assert!(warnings[0].contains("cut at"), "{warnings:?}");
    }

    #[test]
    fn huge_html_is_cut_before_conversion() {
        let raw = format!(
            "From: a@b.co\r\nContent-Type: text/html\r\n\r\n<p>{}</p>\r\n",
            "é".repeat(MAX_BODY_BYTES)
        );
        let (text, html, warnings) = bodies(&raw);
        assert!(text.len() <= MAX_BODY_BYTES && text.starts_with("éé"));
        assert!(html.is_some_and(|h| h.len() <= MAX_BODY_BYTES));
        assert!(warnings[0].contains("before conversion"), "{warnings:?}");
    }
}
