//! Charset repairs mail-parser does not make by itself, done on the raw
//! bytes before parsing ([`prepare`]) and on a text body after it
//! ([`redecode_body`]). mail-parser (built with `full_encoding`) decodes
//! every label encoding_rs knows, CJK included; what is left is mail that
//! breaks the rules:
//!
//! - blank or whitespace lines before the header block are skipped;
//! - binary data is refused as such, not as "no sender";
//! - CR-only line ends (old Mac clients) become CRLF;
//! - raw 8-bit header fields that are not UTF-8 are decoded with the
//!   message's own charset (the top level's, else the first a part
//!   declares), else windows-1252; raw ISO-2022-JP in a header (7-bit
//!   escape sequences) is decoded as such;
//! - adjacent encoded words of one charset whose bytes split a character
//!   are joined into one before decoding (RFC 2047 lets a client cut the
//!   bytes anywhere);
//! - a text body with no charset, or an unknown label, that is not valid
//!   UTF-8 is decoded with the message's charset, else windows-1252.
//!
//! The raw message is stored as received; only the copy handed to the
//! parser is repaired, and it is copied only when a repair is needed.

use super::MailError;
use base64::Engine;
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use mail_parser::{Message, MimeHeaders};
use regex::bytes::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// The raw mail, repaired for parsing: see the module doc.
pub fn prepare(raw: &[u8]) -> Result<Cow<'_, [u8]>, MailError> {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(MailError::Empty)?;
    let raw = &raw[start..];
    let head = &raw[..raw.len().min(1024)];
    let controls = head
        .iter()
        .filter(|&&b| b == 0 || b == 0x7f || (b < 0x20 && !b"\t\r\n\x0c".contains(&b)))
        .count();
    if head.contains(&0) || controls * 20 > head.len() {
        return Err(MailError::Binary);
    }
    let mut mail = Cow::Borrowed(raw);
    let probe = &raw[..raw.len().min(64 * 1024)];
    if probe.contains(&b'\r') && !probe.contains(&b'\n') {
        let mut fixed = Vec::with_capacity(raw.len() + raw.len() / 32);
        for &b in raw {
            fixed.push(b);
            if b == b'\r' {
                fixed.push(b'\n');
            }
        }
        mail = Cow::Owned(fixed);
    }
    if let Some(fixed) = repair_headers(&mail) {
        mail = Cow::Owned(fixed);
    }
    Ok(mail)
}

/// Length of the header block including its blank line (the whole mail
/// when it has no body).
fn header_len(mail: &[u8]) -> usize {
    let mut at = 0;
    for line in mail.split_inclusive(|&b| b == b'\n') {
        at += line.len();
        if line == b"\n" || line == b"\r\n" {
            return at;
        }
    }
    mail.len()
}

/// The header block with 8-bit fields decoded and split encoded words
/// joined, followed by the body; `None` when nothing needed repair.
fn repair_headers(mail: &[u8]) -> Option<Vec<u8>> {
    let len = header_len(mail);
    let head = &mail[..len];
    let eight_bit = head.iter().any(|b| *b >= 0x80) && std::str::from_utf8(head).is_err();
    let jis = memchr_esc(head);
    if !eight_bit && !jis && !ADJACENT_WORDS.is_match(head) {
        return None;
    }
    // The message's own charset: the top level's, else the first a part
    // declares (a multipart's top level has none).
    let body = &mail[len..mail.len().min(len + 64 * 1024)];
    let fallback = header_charset(head)
        .or_else(|| declared_charset(body))
        .unwrap_or(WINDOWS_1252);
    let mut out = Vec::with_capacity(mail.len() + 64);
    let mut changed = false;
    for field in fields(head) {
        let text: Cow<'_, [u8]> = match std::str::from_utf8(field) {
            // Raw ISO-2022-JP is 7-bit, so valid UTF-8, but unreadable.
            Ok(_) if memchr_esc(field) => {
                changed = true;
                Cow::Owned(
                    encoding_rs::ISO_2022_JP
                        .decode_without_bom_handling(field)
                        .0
                        .into_owned()
                        .into_bytes(),
                )
            }
            Ok(_) => Cow::Borrowed(field),
            Err(_) => {
                changed = true;
                Cow::Owned(
                    fallback
                        .decode_without_bom_handling(field)
                        .0
                        .into_owned()
                        .into_bytes(),
                )
            }
        };
        match join_split_words(&text) {
            Some(joined) => {
                changed = true;
                out.extend_from_slice(&joined);
            }
            None => out.extend_from_slice(&text),
        }
    }
    if !changed {
        return None;
    }
    out.extend_from_slice(&mail[len..]);
    Some(out)
}

/// Whether `bytes` hold an ISO-2022-JP escape sequence (ESC `$B`, `$@`,
/// `(J`, `(B`): raw JIS text in a header.
fn memchr_esc(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| w[0] == 0x1b && matches!((w[1], w[2]), (b'$', b'B' | b'@') | (b'(', b'J' | b'B')))
}

/// The first `charset=` declared in the first part headers of a body, if
/// encoding_rs knows it and it is not UTF-8.
fn declared_charset(body: &[u8]) -> Option<&'static Encoding> {
    static DECLARED: LazyLock<Regex> =
        LazyLock::new(|| re(r#"(?i)\bcharset\s*=\s*"?([A-Za-z0-9_.:-]+)"#));
    DECLARED
        .captures_iter(body)
        .filter_map(|c| Encoding::for_label(c.get(1)?.as_bytes()))
        .find(|e| *e != UTF_8)
}

/// Header fields, each with its continuation lines and line ends.
fn fields(head: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let continues = matches!(line.first(), Some(b' ' | b'\t'));
        if !continues && at > start {
            out.push(&head[start..at]);
            start = at;
        }
        at += line.len();
    }
    if at > start {
        out.push(&head[start..at]);
    }
    out
}

/// One RFC 2047 encoded word: charset, encoding, payload.
static WORD: LazyLock<Regex> =
    LazyLock::new(|| re(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?="));

/// Two encoded words with only white space between them.
static ADJACENT_WORDS: LazyLock<Regex> = LazyLock::new(|| re(r"\?=[ \t]*\r?\n?[ \t]*=\?"));

fn re(pattern: &str) -> Regex {
    // Literals of this module, exercised by its tests.
    Regex::new(pattern).expect("charset patterns are valid")
}

/// A field whose runs of same-charset encoded words split a character,
/// rewritten with each such run as one base64 word; `None` if no run does.
fn join_split_words(field: &[u8]) -> Option<Vec<u8>> {
    let words: Vec<_> = WORD.captures_iter(field).collect();
    let mut out = Vec::new();
    let mut copied = 0;
    let mut i = 0;
    let mut changed = false;
    while i < words.len() {
        let charset = &words[i][1];
        let mut j = i + 1;
        while j < words.len()
            && words[j][1].eq_ignore_ascii_case(charset)
            && field[words[j - 1].get(0)?.end()..words[j].get(0)?.start()]
                .iter()
                .all(u8::is_ascii_whitespace)
        {
            j += 1;
        }
        if j - i > 1 {
            if let Some(joined) = joined_word(&words[i..j]) {
                out.extend_from_slice(&field[copied..words[i].get(0)?.start()]);
                out.extend_from_slice(&joined);
                copied = words[j - 1].get(0)?.end();
                changed = true;
            }
        }
        i = j;
    }
    if !changed {
        return None;
    }
    out.extend_from_slice(&field[copied..]);
    Some(out)
}

/// The run as one word, when its words decode badly alone but well together.
fn joined_word(run: &[regex::bytes::Captures<'_>]) -> Option<Vec<u8>> {
    let charset = std::str::from_utf8(&run[0][1]).ok()?;
    let encoding = Encoding::for_label(charset.as_bytes())?;
    let mut all = Vec::new();
    let mut alone_bad = false;
    for w in run {
        let bytes = word_bytes(&w[2], &w[3])?;
        alone_bad |= encoding.decode_without_bom_handling(&bytes).1;
        all.extend_from_slice(&bytes);
    }
    if !alone_bad || encoding.decode_without_bom_handling(&all).1 {
        return None;
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&all);
    Some(format!("=?{charset}?B?{b64}?=").into_bytes())
}

fn word_bytes(kind: &[u8], payload: &[u8]) -> Option<Vec<u8>> {
    if kind.eq_ignore_ascii_case(b"b") {
        return base64::engine::general_purpose::STANDARD
            .decode(payload)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload))
            .ok();
    }
    let mut out = Vec::with_capacity(payload.len());
    let mut k = 0;
    while k < payload.len() {
        match payload[k] {
            b'_' => out.push(b' '),
            b'=' if k + 2 < payload.len() => {
                let hex = std::str::from_utf8(&payload[k + 1..k + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                k += 2;
            }
            b => out.push(b),
        }
        k += 1;
    }
    Some(out)
}

/// The `charset` parameter of the header block's Content-Type, if encoding_rs
/// knows it and it is not UTF-8.
fn header_charset(head: &[u8]) -> Option<&'static Encoding> {
    static CHARSET: LazyLock<Regex> = LazyLock::new(|| {
        re(r#"(?i)\ncontent-type:[^\n]*(?:\n[ \t][^\n]*)*?charset\s*=\s*"?([A-Za-z0-9_.:-]+)"#)
    });
    let mut with_nl = Vec::with_capacity(head.len() + 1);
    with_nl.push(b'\n');
    with_nl.extend_from_slice(head);
    let label = CHARSET.captures(&with_nl)?.get(1)?.as_bytes().to_vec();
    Encoding::for_label(&label).filter(|e| *e != UTF_8)
}

/// The message's own charset: the first known, non-UTF-8 charset any part
/// declares.
fn message_charset(msg: &Message<'_>) -> Option<&'static Encoding> {
    msg.parts.iter().find_map(|p| {
        let label = p.content_type()?.attribute("charset")?;
        Encoding::for_label(label.as_bytes()).filter(|e| *e != UTF_8)
    })
}

/// Text body `index` decoded again from its raw bytes when mail-parser had
/// to guess (no charset, or one it does not know) and the bytes are not
/// UTF-8: with the message's charset, else windows-1252. `None` when the
/// decoded text stands.
pub fn redecode_body(msg: &Message<'_>, index: usize) -> Option<String> {
    let part = msg.parts.get(index)?;
    let mail_parser::PartType::Text(text) = &part.body else {
        return None;
    };
    if !text.contains('\u{FFFD}') {
        return None;
    }
    let declared = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|l| Encoding::for_label(l.as_bytes()));
    if declared.is_some() {
        return None;
    }
    let raw = msg
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    let bytes: Cow<'_, [u8]> = match part.encoding {
        mail_parser::Encoding::Base64 => {
            Cow::Owned(mail_parser::decoders::base64::base64_decode(raw)?)
        }
        mail_parser::Encoding::QuotedPrintable => {
            Cow::Owned(mail_parser::decoders::quoted_printable::quoted_printable_decode(raw)?)
        }
        mail_parser::Encoding::None => Cow::Borrowed(raw),
    };
    if std::str::from_utf8(&bytes).is_ok() {
        return None;
    }
    let encoding = message_charset(msg).unwrap_or(WINDOWS_1252);
    Some(encoding.decode_without_bom_handling(&bytes).0.into_owned())
}

#[cfg(test)]
#[path = "charset_tests.rs"]
mod tests;
