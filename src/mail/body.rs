//! The text and HTML bodies of a parsed mail, taken out of mail-parser's
//! message rather than copied (the message is dropped right after), and
//! cut at [`MAX_BODY_BYTES`]: a body is decoded to UTF-8 (up to three
//! times its encoded size) and then held by the mail and by SQLite at once,
//! so an uncapped body would make memory grow with the charset, not the
//! size limit. The raw message is always kept whole.

use mail_parser::decoders::html::{html_to_text, text_to_html};
use mail_parser::{Message, PartType};

/// Longer text or HTML bodies are cut (with a warning); 4 MiB of text is
/// some two thousand pages.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// (text, html, warnings). Text: the first text body (converted when it is
/// HTML). HTML: the first HTML body, only when the mail has a real HTML
/// part (mail-parser fills the gaps by converting).
pub fn take(msg: &mut Message<'_>) -> (String, Option<String>, Vec<String>) {
    let want_html = msg
        .html_bodies()
        .any(|p| matches!(p.body, PartType::Html(_)));
    let text_at = msg.text_body.first().map(|&i| i as usize);
    let html_at = msg.html_body.first().map(|&i| i as usize);
    let shared = want_html && text_at == html_at;
    let text = match text_at
        .and_then(|i| msg.parts.get_mut(i))
        .map(|p| &mut p.body)
    {
        Some(PartType::Html(h)) => html_to_text(h),
        Some(PartType::Text(t)) if shared => t.to_string(),
        Some(PartType::Text(t)) => std::mem::take(t).into_owned(),
        _ => String::new(),
    };
    let html = if want_html {
        match html_at
            .and_then(|i| msg.parts.get_mut(i))
            .map(|p| &mut p.body)
        {
            Some(PartType::Html(h)) => Some(std::mem::take(h).into_owned()),
            Some(PartType::Text(t)) => Some(text_to_html(t)),
            _ => None,
        }
    } else {
        None
    };
    let mut warnings = Vec::new();
    let text = cut(text, "text", &mut warnings);
    let html = html.map(|h| cut(h, "HTML", &mut warnings));
    (text, html, warnings)
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

    #[test]
    fn same_bodies_as_mail_parser_gives() {
        for raw in [
            "From: a@b.co\r\n\r\nplain\r\n",
            "From: a@b.co\r\nContent-Type: text/html\r\n\r\n<p>only <b>html</b></p>\r\n",
            "From: a@b.co\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nthe text\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>the html</p>\r\n--x--\r\n",
            "From: a@b.co\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>second</p>\r\n--x--\r\n",
        ] {
            let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
            let text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
            let html = msg
                .html_bodies()
                .any(|p| matches!(p.body, PartType::Html(_)))
                .then(|| msg.body_html(0).map(|h| h.into_owned()))
                .flatten();
            let (t, h, w) = bodies(raw);
            assert_eq!((t, h), (text, html), "{raw}");
            assert!(w.is_empty());
        }
    }

    #[test]
    fn huge_bodies_are_cut_on_a_char_boundary() {
        let raw = format!("From: a@b.co\r\n\r\n{}\r\n", "é".repeat(MAX_BODY_BYTES));
        let (text, _, warnings) = bodies(&raw);
        assert_eq!(text.len(), MAX_BODY_BYTES);
        assert!(warnings[0].contains("cut at"), "{warnings:?}");
    }
}
