//! Bounces in prose: the plain-text reports of qmail ("failure notice"),
//! Exim and Gmail (`X-Failed-Recipients`), Exchange ("Undeliverable:"),
//! Lotus Notes, old Sendmail and their kin. Finds whether a mail is one,
//! the recipients it names, and the returned message's headers in its text.

use super::report::{clip, describe, describe_headers};
use super::{
    headers, subject, Bounce, Classification, DeliveryOutcome, MailClass, OriginalMessage,
    Recipient,
};
use mail_parser::{Message, MimeHeaders, PartType};
use regex::Regex;
use std::sync::LazyLock;

/// More recipients than any report of ours is about; the rest are ignored.
pub(super) const MAX_RECIPIENTS: usize = 50;
/// The prose of a bounce comes first; this much is enough to read it.
const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Words mail systems write in their bounces (lower case).
const MARKERS: &[&str] = &[
    "this is the mail system at host",
    "this is the qmail-send program",
    "this message was created automatically by mail delivery software",
    "delivery to the following recipient failed",
    "delivery to the following recipients failed",
    "delivery to the following recipient has been delayed",
    "the following addresses had permanent fatal errors",
    "----- transcript of session follows -----",
    "the original message was received at",
    "your message did not reach some or all of the intended recipients",
    "delivery has failed to these recipients or groups",
    "your message couldn't be delivered",
    "your message wasn't delivered",
    "your message could not be delivered",
    "i'm afraid i wasn't able to deliver your message",
    "sorry, we were unable to deliver your message",
    "unable to deliver your message",
    "could not be delivered to one or more",
    "could not be delivered to the following",
    "has not yet been delivered",
    "was not delivered to",
    "message could not be delivered",
    "permanent fatal errors",
    "delivery status notification",
    "mail delivery failed",
    "undeliverable message",
    "recipient address rejected",
    "user unknown",
    "mailbox unavailable",
    "no such user",
    "cannot be delivered",
    "could not be delivered",
    "not been delivered",
    "undeliverable to",
    "did not reach the following recipient",
    "delivery failure",
];

/// Lines that start the returned message (or its headers) in the text.
const RETURNED: &[&str] = &[
    "this is a copy of the message",
    "below this line is a copy of the message",
    "original message follows",
    "unsent message follows",
    "returned message",
    "original message headers",
    "original message header",
    "header of the original message",
    "headers of the original message",
    "- original message -",
    "-- original message --",
    "message headers follow",
    "a copy of the original message",
];

/// Why `msg` reads as a bounce: a mail-system sender, or bounce prose
/// together with another machine signal.
pub(super) fn looks_like_bounce(msg: &Message) -> Option<String> {
    if let Some(why) = headers::daemon_sender(msg) {
        return Some(why);
    }
    // The cheap signals first: most mail has none, and its text is not read.
    let subject = msg.subject().unwrap_or("");
    let other = if let Some(s) = subject::bounce(subject) {
        s
    } else if headers::null_return_path(msg) {
        "empty Return-Path".into()
    } else if let Some((why, _)) = headers::auto_reply(msg) {
        why
    } else {
        return None;
    };
    let text = text(msg);
    let prose = split_returned(&text).0.to_lowercase();
    let marker = MARKERS.iter().find(|m| prose.contains(**m))?;
    Some(format!("bounce text \"{marker}\", {other}"))
}

/// A delivery report for `msg`, which `why` showed to be one; `listed`
/// holds addresses the mail names in a header (`X-Failed-Recipients`).
pub(super) fn delivery_report(
    msg: &Message,
    own_fqdn: &str,
    why: &str,
    listed: &str,
) -> Classification {
    let mut original = OriginalMessage::default();
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        if let PartType::Message(inner) = &part.body {
            original.merge(describe(inner, own_fqdn));
        } else if sub == "rfc822-headers" {
            original.merge(describe_headers(part.contents(), own_fqdn));
        }
    }
    let text = text(msg);
    original.merge(returned_in_text(&text, own_fqdn));
    let mut recipients = prose_recipients(msg, &text, listed);
    if recipients.is_empty() {
        recipients = original
            .to
            .iter()
            .map(|a| Recipient {
                address: a.clone(),
                status: None,
                diagnostic: Some("recipient of the returned message".into()),
            })
            .collect();
    }
    let prose = split_returned(&text).0.to_lowercase();
    let delayed = subject::is_delay(msg.subject().unwrap_or(""))
        || [
            "has not yet been delivered",
            "has been delayed",
            "delivery is delayed",
            "delivery has been delayed",
            "this is a warning message only",
            "will continue to try",
            "will keep trying",
            "will retry",
            "still trying",
        ]
        .iter()
        .any(|p| prose.contains(p));
    let outcome = if delayed {
        DeliveryOutcome::Delayed
    } else {
        DeliveryOutcome::Failed
    };
    Classification {
        class: MailClass::DeliveryReport,
        reason: why.to_string(),
        bounce: Some(Bounce {
            outcome,
            recipients,
        }),
        original: (!original.is_empty()).then_some(original),
    }
}

/// The mail's own text (not that of mail it carries), cut to a size.
pub(super) fn text(msg: &Message) -> String {
    let mut out = String::new();
    // `body_text` turns an HTML part into text when there is no plain one.
    for i in 0..msg.text_body.len() {
        if let Some(t) = msg.body_text(i) {
            out.push_str(&t);
            out.push('\n');
        }
        if out.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    if out.len() > MAX_TEXT_BYTES {
        let mut cut = MAX_TEXT_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// `(prose, returned)`: the text before and after the line that starts
/// the returned message, or before the first `Received:`/`Return-Path:`.
fn split_returned(text: &str) -> (&str, Option<&str>) {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let l = line.trim().to_lowercase();
        if RETURNED.iter().any(|m| l.contains(m)) {
            return (&text[..at], Some(&text[at + line.len()..]));
        }
        if l.starts_with("received: ") || l.starts_with("return-path:") {
            return (&text[..at], Some(&text[at..]));
        }
        at += line.len();
    }
    (text, None)
}

/// The returned message's headers, read from the bounce's `text`.
pub(super) fn returned_in_text(text: &str, own_fqdn: &str) -> OriginalMessage {
    let Some(returned) = split_returned(text).1 else {
        return OriginalMessage::default();
    };
    // From its first header line, dedented by that line's indent.
    let mut lines = returned.lines().skip_while(|l| !HEADER_LINE.is_match(l));
    let Some(first) = lines.next() else {
        return OriginalMessage::default();
    };
    // ASCII blanks only, so every cut falls on a character boundary.
    let blank = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let indent = blank(first);
    let mut block = String::new();
    for line in std::iter::once(first).chain(lines) {
        if line.trim().is_empty() {
            break;
        }
        let cut = blank(line);
        block.push_str(&line[cut.min(indent)..]);
        block.push_str("\r\n");
    }
    block.push_str("\r\n");
    describe_headers(block.as_bytes(), own_fqdn)
}

static HEADER_LINE: LazyLock<Regex> = LazyLock::new(|| {
    // A literal pattern: it compiles.
    Regex::new(r"^\s*[A-Za-z][A-Za-z0-9-]*:\s").expect("valid regex")
});

const ADDR: &str = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+";

/// Patterns that name a failed recipient in bounce prose, each with the
/// address as group 1.
static RECIPIENT_LINES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Leading the line: "  ann@example.com", "<ann@example.com>:",
        // "ann@example.com (ann@example.com)", "* [ann@example.com]: 550 …",
        // "-- ann@example.com", "ann@example.com on Fri, …".
        format!(r#"(?i)^\s*(?:[*>-]+\s*)?(?:rcpt to:\s*)?[<"'(\[]?(?:mailto:|smtp:)?({ADDR})(?:[>"')\]]|\s|:|$)"#),
        // Gmail, Exchange, Lotus: "… wasn't delivered to ann@example.com".
        format!(r#"(?i)\b(?:deliver(?:ed|y)?|undeliverable|addressed)\s+(?:\S+\s+){{0,4}}?to:?\s+[<"'\[]?({ADDR})"#),
        format!(r#"(?i)\byour message to:?\s+[<"']?({ADDR})"#),
        // "Delivery failed for …", "Quota violation for …", "Error-for: …".
        format!(r#"(?i)\b(?:failed|failure|rejected|violation|error-for|unknown)\s*(?:for|to|:)?\s*(?:\d+\s+attempts:\s*)?:?\s*[<"'\[]?({ADDR})"#),
        format!(r#"(?i)\bfailed\s+\d+\s+attempts:\s*<?({ADDR})"#),
        // "Intended recipient: …", "Recipient: [SMTP:…]", "userid: …".
        format!(r#"(?i)\b(?:recipient(?:\(s\))?|recipient address|address|userid)\s*:\s*[<"'\[]?(?:smtp:)?({ADDR})"#),
        format!(r#"(?i)\b(?:mailbox|generated from|expanded from:?)\s+[<"'\[]?({ADDR})"#),
        format!(r"(?i)\bsmtp=({ADDR})"),
        format!(r"(?i)(?:full|unavailable|unknown|not found)\W+<({ADDR})>"),
        // Sendmail transcripts: "550 5.1.1 <ann@example.com>... User unknown".
        format!(r"(?i)<({ADDR})>\.\.\.\s"),
        format!(r"(?i)rcpt to:\s*<({ADDR})>"),
    ]
    .iter()
    // Literal patterns: they compile.
    .map(|p| Regex::new(p).expect("valid regex"))
    .collect()
});

static STATUS: LazyLock<Regex> = LazyLock::new(|| {
    // A literal pattern: it compiles.
    Regex::new(r"\b([245]\.[0-9]{1,3}\.[0-9]{1,3})\b").expect("valid regex")
});

/// Recipients from `listed` (a comma-separated header value) and from the
/// prose of the bounce's `text`, without the bounce's own parties and mail systems.
pub(super) fn prose_recipients(msg: &Message, text: &str, listed: &str) -> Vec<Recipient> {
    let mut exclude: Vec<String> = Vec::new();
    for a in [msg.from(), msg.to(), msg.cc()].into_iter().flatten() {
        exclude.extend(a.iter().filter_map(|a| a.address()).map(str::to_lowercase));
    }
    let mut found: Vec<String> = listed
        .split([',', ';', ' ', '\t', '\r', '\n'])
        .map(|a| a.trim().trim_matches(['<', '>']).to_lowercase())
        .filter(|a| crate::mail::plausible_address(a))
        .collect();
    let (prose, _) = split_returned(text);
    let mut status = None;
    let mut diagnostic = None;
    for line in prose.lines() {
        if status.is_none() {
            status = STATUS.captures(line).map(|c| c[1].to_string());
            if status.is_some() {
                diagnostic = Some(clip(line, 300));
            }
        }
        for re in RECIPIENT_LINES.iter() {
            for c in re.captures_iter(line) {
                found.push(c[1].trim_end_matches('.').to_lowercase());
            }
        }
    }
    let mut out: Vec<Recipient> = Vec::new();
    for address in found {
        let local = address.split('@').next().unwrap_or("");
        let robot = [
            "postmaster",
            "mailer-daemon",
            "mailer_daemon",
            "mail-daemon",
        ]
        .contains(&local);
        if robot || exclude.contains(&address) || out.iter().any(|r| r.address == address) {
            continue;
        }
        out.push(Recipient {
            address,
            status: None,
            diagnostic: None,
        });
        if out.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    if let [only] = out.as_mut_slice() {
        only.status = status;
        only.diagnostic = diagnostic;
    }
    out
}
