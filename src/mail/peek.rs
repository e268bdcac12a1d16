//! A glance at a message's From, Subject and Message-ID for the operator's
//! quarantine list, by a plain, bounded scan of the header block: no MIME
//! parser runs on the whole message, so a mail that is quarantined because
//! it is hostile (or because processing it crashed) costs nothing more
//! here. Each value is capped before anything decodes it.

/// How much of the message's start is looked at.
const HEAD_BYTES: usize = 64 * 1024;
/// Longest value kept (after unfolding).
const VALUE_BYTES: usize = 998;

/// What could be read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Peek {
    pub from: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
}

/// The first From, Subject and Message-ID of `raw`'s header block. With
/// `decode`, RFC 2047 words in the subject and the From are decoded (by
/// mail-parser, on that one short header alone); without, values are
/// kept as they are (lossy UTF-8), for a message that killed the process.
pub fn peek(raw: &[u8], decode: bool) -> Peek {
    let head = &raw[..raw.len().min(HEAD_BYTES)];
    let mut out = Peek::default();
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break; // end of the header block
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, v)) = fields.last_mut() {
                if v.len() < VALUE_BYTES {
                    v.push(b' ');
                    v.extend_from_slice(line.trim_ascii());
                }
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon])
                .trim()
                .to_ascii_lowercase();
            if matches!(name.as_str(), "from" | "subject" | "message-id") {
                fields.push((name, line[colon + 1..].trim_ascii().to_vec()));
            } else {
                // Keep folding lines of other fields away from ours.
                fields.push((String::new(), Vec::new()));
            }
        }
    }
    for (name, mut value) in fields {
        value.truncate(VALUE_BYTES);
        let slot = match name.as_str() {
            "from" => &mut out.from,
            "subject" => &mut out.subject,
            "message-id" => &mut out.message_id,
            _ => continue,
        };
        if slot.is_some() {
            continue;
        }
        *slot = Some(match (decode, name.as_str()) {
            (true, "subject") => decoded(b"Subject", &value)
                .and_then(|m| m.subject().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&value).into_owned()),
            (true, "from") => decoded(b"From", &value)
                .and_then(|m| {
                    m.from()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| String::from_utf8_lossy(&value).into_owned()),
            _ => String::from_utf8_lossy(&value).into_owned(),
        });
    }
    out.from = out
        .from
        .map(|f| super::sanitize_line(&f))
        .filter(|f| !f.is_empty());
    out.subject = out.subject.map(|s| super::sanitize_line(&s));
    out.message_id = out
        .message_id
        .map(|m| crate::threading::normalize_message_id(&m))
        .filter(|m| !m.is_empty());
    out
}

/// One header, alone, through mail-parser (a few hundred bytes at most).
fn decoded(name: &[u8], value: &[u8]) -> Option<mail_parser::Message<'static>> {
    let mut one = Vec::with_capacity(name.len() + value.len() + 6);
    one.extend_from_slice(name);
    one.extend_from_slice(b": ");
    one.extend_from_slice(value);
    one.extend_from_slice(b"\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse_headers(&one)
        .map(|m| m.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, decode: bool, expected: (Option<&str>, Option<&str>, Option<&str>)) {
        let p = peek(raw.as_bytes(), decode);
        assert_eq!(
            (
                p.from.as_deref(),
                p.subject.as_deref(),
                p.message_id.as_deref()
            ),
            expected,
            "{raw:?}"
        );
    }

    #[test]
    fn headers_are_read_without_parsing_the_message() {
        let raw = "Received: x\r\n\tfolded from: nobody\r\nFrom: =?utf-8?q?Jo=C3=A3o?= <joao@example.pt>\r\nSubject: =?utf-8?q?Impressora_n=C3=A3o?=\r\n funciona\r\nMessage-ID: <a@b>\r\n\r\nFrom: body@example.com\r\n";
        check(
            raw,
            true,
            (
                Some("joao@example.pt"),
                Some("Impressora não funciona"),
                Some("a@b"),
            ),
        );
        // Not decoded: kept as written (one line).
        check(
            raw,
            false,
            (
                Some("=?utf-8?q?Jo=C3=A3o?= <joao@example.pt>"),
                Some("=?utf-8?q?Impressora_n=C3=A3o?= funciona"),
                Some("a@b"),
            ),
        );
    }

    #[test]
    fn hostile_heads_stay_bounded() {
        check("", true, (None, None, None));
        check("\r\n\r\nFrom: a@b\r\n", true, (None, None, None));
        let long = format!("Subject: {}\r\n\r\n", "x".repeat(100_000));
        let p = peek(long.as_bytes(), true);
        assert!(p.subject.unwrap().len() <= VALUE_BYTES);
        let folded = format!("Subject: a\r\n{}\r\n", " b\r\n".repeat(100_000));
        let p = peek(folded.as_bytes(), false);
        assert!(p.subject.unwrap().len() <= VALUE_BYTES + 2);
        check(
            "From: <>\r\nSubject:\r\n\r\n",
            true,
            (Some("<>"), Some(""), None),
        );
    }
}
