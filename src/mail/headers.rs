//! Every header field of a mail's top level, kept for the criteria that
//! test a header by name (rules: `header = { name = "X-Spam-Flag", … }`).
//! Bounded: at most [`MAX_HEADER_FIELDS`] fields, each value flattened to
//! one line and cut at [`MAX_HEADER_VALUE_CHARS`] characters, so a mail of
//! a million header lines costs no more than a normal one later on.

use mail_parser::Message;

use super::{sanitize_line, truncate_chars};

/// Fields past this many are not kept (a real mail has a few dozen).
pub const MAX_HEADER_FIELDS: usize = 200;

/// A longer value is cut (RFC 5322's line limit).
pub const MAX_HEADER_VALUE_CHARS: usize = 998;

/// (name, value) of each top-level header field, in mail order. A value
/// mail-parser decoded as text (encoded words undone) is taken decoded;
/// any other (addresses, dates, …) as it stands in the mail, unfolded.
pub(super) fn collect(msg: &Message<'_>) -> Vec<(String, String)> {
    let raw = msg.raw_message();
    msg.headers()
        .iter()
        .take(MAX_HEADER_FIELDS)
        .map(|h| {
            let value = match h.value.as_text() {
                Some(t) => sanitize_line(t),
                None => {
                    let (a, b) = (h.offset_start as usize, h.offset_end as usize);
                    raw.get(a..b)
                        .map(|v| sanitize_line(&String::from_utf8_lossy(v)))
                        .unwrap_or_default()
                }
            };
            (
                truncate_chars(&sanitize_line(h.name.as_str()), 100),
                truncate_chars(&value, MAX_HEADER_VALUE_CHARS),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(raw: &str) -> Vec<(String, String)> {
        crate::mail::parse(raw.as_bytes(), "x").unwrap().headers
    }

    fn value<'h>(h: &'h [(String, String)], name: &str) -> Vec<&'h str> {
        h.iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn every_field_in_order_decoded_and_unfolded() {
        let h = headers(
            "From: Ana <ana@example.pt>\r\nX-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.1\r\n\ttests=BAYES_99\r\nSubject: =?utf-8?q?Ol=C3=A1?=\r\nX-Spam-Flag: second\r\n\r\nbody",
        );
        let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "From",
                "X-Spam-Flag",
                "X-Spam-Status",
                "Subject",
                "X-Spam-Flag"
            ]
        );
        assert_eq!(value(&h, "x-spam-flag"), ["YES", "second"]);
        assert_eq!(
            value(&h, "X-Spam-Status"),
            ["Yes, score=9.1 tests=BAYES_99"]
        );
        assert_eq!(value(&h, "Subject"), ["Olá"]);
        assert_eq!(value(&h, "From"), ["Ana <ana@example.pt>"]);
    }

    #[test]
    fn header_fields_are_bounded_in_number_and_length() {
        let mut raw = String::from("From: a@b.co\r\n");
        for i in 0..300 {
            raw.push_str(&format!("X-Filler-{i}: {}\r\n", "v".repeat(1500)));
        }
        raw.push_str("\r\nbody");
        let h = headers(&raw);
        assert_eq!(h.len(), MAX_HEADER_FIELDS);
        assert!(h
            .iter()
            .all(|(_, v)| v.chars().count() <= MAX_HEADER_VALUE_CHARS));
        assert_eq!(h[1].1.chars().count(), MAX_HEADER_VALUE_CHARS);
    }
}
