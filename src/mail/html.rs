//! HTML bodies: readable text for HTML-only mail (html2text), and the HTML
//! kept for the record made safe (ammonia). Text: paragraphs, headings,
//! list items and table cells on their own lines, links as their text
//! followed by `<URL>`, no script or style text. Sanitised HTML: no
//! scripts, event handlers or forms, and no remote loads — only `cid:` and
//! `data:` images stay; links stay clickable but carry `rel="noopener
//! noreferrer"`.
//!
//! html2text builds a DOM, which costs a multiple of the input; above
//! [`MAX_RICH_HTML`] the text comes from mail-parser's streaming converter
//! instead (plainer, but linear), and the kept HTML is that text escaped, so hostile mail cannot make the DOM the
//! largest thing in memory. html2text's time also grows with the square of
//! the nesting depth, so HTML nested deeper than [`MAX_RICH_DEPTH`] takes
//! the linear path too.

use html2text::render::TextDecorator;
use std::collections::HashSet;

/// Larger HTML is converted by mail-parser's linear converter.
pub const MAX_RICH_HTML: usize = 1024 * 1024;

/// Deeper nesting (as [`nesting_depth`] estimates it) is converted by
/// mail-parser's linear converter; real mail stays far below it.
pub const MAX_RICH_DEPTH: usize = 256;

/// Lines are not wrapped: the text is stored, and readers wrap it.
const NO_WRAP: usize = 100_000;

/// Readable text of an HTML body.
pub fn to_text(html: &str) -> String {
    if html.len() > MAX_RICH_HTML || nesting_depth(html) > MAX_RICH_DEPTH {
        return mail_parser::decoders::html::html_to_text(html);
    }
    match html2text::config::with_decorator(LinkDecorator::default())
        .raw_mode(true)
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), NO_WRAP)
    {
        Ok(text) => tidy(&text),
        // html2text reports errors only for impossible widths or I/O on a
        // slice; fall back rather than lose the body.
        Err(_) => mail_parser::decoders::html::html_to_text(html),
    }
}

/// Deepest element nesting, estimated in one pass over the tags: void
/// elements, self-closed tags, and elements the HTML parser closes by itself
/// when the next one opens (`p`, `li`, `td`, …) do not count.
fn nesting_depth(html: &str) -> usize {
    const FLAT: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "p", "li", "td", "th", "tr", "dd", "dt", "option",
    ];
    let b = html.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        i += off + 1;
        let closing = b.get(i) == Some(&b'/');
        let start = if closing { i + 1 } else { i };
        let len = b[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if len == 0 || !b[start].is_ascii_alphabetic() {
            continue;
        }
        let name = html[start..start + len].to_ascii_lowercase();
        if FLAT.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
            continue;
        }
        let end = b[start..]
            .iter()
            .position(|&c| c == b'>')
            .map(|e| start + e);
        if end.is_some_and(|e| e > 0 && b[e - 1] == b'/') {
            continue;
        }
        depth += 1;
        deepest = deepest.max(depth);
    }
    deepest
}

/// Trailing spaces off every line, at most one blank line in a row.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    out
}

/// HTML safe to keep and show: see the module doc. HTML too large or too
/// deeply nested for a DOM (see [`to_text`]) is kept as its text, escaped
/// into HTML.
pub fn sanitize(html: &str) -> String {
    if html.len() > MAX_RICH_HTML || nesting_depth(html) > MAX_RICH_DEPTH {
        let text = mail_parser::decoders::html::html_to_text(html);
        return mail_parser::decoders::html::text_to_html(&text);
    }
    let schemes: HashSet<&str> = ["http", "https", "mailto", "tel", "cid", "data"].into();
    ammonia::Builder::default()
        .url_schemes(schemes)
        .attribute_filter(|element, attribute, value| {
            let loads = matches!(
                (element, attribute),
                ("img", "src") | ("img", "srcset") | (_, "background")
            );
            if loads && !(value.starts_with("cid:") || value.starts_with("data:image/")) {
                None
            } else {
                Some(value.into())
            }
        })
        .clean(html)
        .to_string()
}

/// Plain text with links as "text <URL>"; no other decoration.
#[derive(Clone, Default)]
struct LinkDecorator {
    links: Vec<String>,
}

impl TextDecorator for LinkDecorator {
    type Annotation = ();

    fn decorate_link_start(&mut self, url: &str) -> (String, ()) {
        self.links.push(url.to_string());
        (String::new(), ())
    }
    fn decorate_link_end(&mut self) -> String {
        match self.links.pop() {
            Some(url) if url.starts_with("http") || url.starts_with("mailto:") => {
                format!(" <{}>", url.trim_start_matches("mailto:"))
            }
            _ => String::new(),
        }
    }
    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_em_end(&self) -> String {
        String::new()
    }
    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strong_end(&self) -> String {
        String::new()
    }
    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }
    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_code_end(&self) -> String {
        String::new()
    }
    fn decorate_preformat_first(&self) {}
    fn decorate_preformat_cont(&self) {}
    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        let title = title.trim();
        if title.is_empty() {
            (String::new(), ())
        } else {
            (format!("[{title}]"), ())
        }
    }
    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }
    fn quote_prefix(&self) -> String {
        "> ".into()
    }
    fn unordered_item_prefix(&self) -> String {
        "- ".into()
    }
    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }
    fn make_subblock_decorator(&self) -> Self {
        LinkDecorator::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(to_text(input), expected, "input: {input}");
    }

    #[test]
    fn blocks_on_their_own_lines() {
        check(
            "<h1>Order</h1><p>First <b>paragraph</b>.</p><p>Second.</p>",
            "Order\n\nFirst paragraph.\n\nSecond.",
        );
        check(
            "<ul><li>one</li><li>two</li></ul><ol><li>three</li></ol>",
            "- one\n- two\n1. three",
        );
        check(
            "<table><tr><td>Name</td><td>Ana</td></tr><tr><td>Order</td><td>42</td></tr></table>",
            "Name\nAna\nOrder\n42",
        );
        check("line<br>break", "line\nbreak");
    }

    #[test]
    fn links_keep_text_and_url() {
        check(
            r#"<p>See <a href="https://example.com/x">the page</a>.</p>"#,
            "See the page <https://example.com/x>.",
        );
        check(
            r#"<a href="mailto:ana@example.pt">Ana</a>"#,
            "Ana <ana@example.pt>",
        );
    }

    #[test]
    fn no_script_or_style_text() {
        check(
            "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body><p>Hi</p><script>x()</script></body></html>",
            "Hi",
        );
    }

    #[test]
    fn deep_nesting_neither_overflows_nor_loses_text() {
        let html = format!("{}deep{}", "<div>".repeat(50_000), "</div>".repeat(50_000));
        assert!(to_text(&html).contains("deep"));
        assert_eq!(nesting_depth(&html), 50_000);
    }

    #[test]
    fn nesting_depth_ignores_flat_and_void_elements() {
        assert_eq!(
            nesting_depth("<p>a<p>b<br><img src=x/><div><span>c</span></div>"),
            2
        );
        assert_eq!(nesting_depth("<!-- <div> --> 1 < 2 </x>"), 1);
    }

    #[test]
    fn deep_nesting_is_sanitised_without_overflow() {
        let html = format!(
            "{}deep<script>x</script>{}",
            "<div>".repeat(50_000),
            "</div>".repeat(50_000)
        );
        let clean = sanitize(&html);
        assert!(
            clean.contains("deep") && !clean.contains("<script"),
            "{clean}"
        );
    }

    #[test]
    fn sanitised_html_has_no_scripts_or_remote_loads() {
        let clean = sanitize(
            r#"<p onclick="x()">Hi<script>alert(1)</script><img src="https://track.example/p.gif"><img src="cid:logo@x"><a href="javascript:alert(1)">j</a><a href="https://example.com">ok</a></p><style>body{background:url(https://x)}</style>"#,
        );
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("track.example"), "{clean}");
        assert!(!clean.contains("javascript"), "{clean}");
        assert!(!clean.contains("url(https"), "{clean}");
        assert!(clean.contains("cid:logo@x"), "{clean}");
        assert!(clean.contains("https://example.com"), "{clean}");
    }
}
