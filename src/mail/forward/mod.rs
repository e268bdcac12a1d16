//! Forwarded mail: find, in a parsed mail, the mail it forwards — inline
//! (Gmail's "---------- Forwarded message ---------", Thunderbird's
//! "-------- Original Message --------", Apple Mail's "Begin forwarded
//! message:", Outlook's "From: … Sent: … To: … Subject:" block, in
//! English, French and Portuguese) or attached as `message/rfc822` — and
//! take out the original: its sender, date, subject, Message-ID when the
//! forward carries it, text and attachments, and the forwarder's own lines.
//!
//! Outlook's "Original Message" separator, rule and bare header block,
//! and an "On … wrote:" line, also start a reply's quoted history: they
//! count only under a forward's subject prefix ([`has_forward_prefix`]).
//!
//! Pure, bounded and panic-free like the rest of [`crate::mail`]: only the
//! first [`MAX_SCAN_LINES`] lines are searched for a marker, a header block
//! is at most [`MAX_BLOCK_LINES`] lines, and an attached message is parsed
//! once, without looking for forwards inside it. Whether a forward counts
//! (only an authenticated agent's does) is the decide stage's business
//! (`process/forward.rs`); this module only reads.

#[cfg(test)]
mod corpus_tests;
mod inline;
#[cfg(test)]
mod tests;

use serde::Serialize;

use super::{Attachment, InboundMail, Mailbox};

pub use inline::{MAX_BLOCK_LINES, MAX_SCAN_LINES};

/// How the original travels in the forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Quoted in the text under a marker or a header block.
    Inline,
    /// As a `message/rfc822` attachment.
    Attached,
}

impl std::fmt::Display for Style {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Style::Inline => "inline",
            Style::Attached => "attached as message/rfc822",
        })
    }
}

/// A forward found in a mail.
#[derive(Debug, Clone)]
pub struct Forward {
    pub style: Style,
    /// What showed it: the marker line, or the attachment's name.
    pub marker: String,
    /// The forwarder's own lines, above the forwarded mail (trimmed).
    pub own_text: String,
    /// The original, or why it cannot be read (no parsable From).
    pub original: Result<Original, String>,
    /// For an attached forward: the forwarder's other attachments (the
    /// original's are in [`Original::attachments`]).
    pub own_attachments: Vec<Attachment>,
}

/// The forwarded mail, as far as the forward shows it.
#[derive(Debug, Clone)]
pub struct Original {
    pub from: Mailbox,
    /// The date as the forward writes it (not parsed: clients write it in
    /// their user's language).
    pub date: Option<String>,
    pub subject: String,
    /// Present when attached, or when an inline forward shows one.
    pub message_id: Option<String>,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Subject prefixes of a forward (Fwd, Fw, TR, Enc, RV, WG): an Outlook
/// header block without a marker line is a forward only under one of
/// these (the same block starts Outlook's quoted history in a reply).
pub fn has_forward_prefix(subject: &str) -> bool {
    let s = subject.trim_start();
    // "[Ticket#…] Fwd: …" as well as "Fwd: [Ticket#…] …".
    let s = match s.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((_, rest)) => rest.trim_start(),
        None => s,
    };
    let head: String = s.chars().take(6).collect::<String>().to_lowercase();
    [
        "fwd:", "fwd :", "fw:", "fw :", "tr:", "tr :", "enc:", "enc :", "rv:", "wg:",
    ]
    .iter()
    .any(|p| head.starts_with(p))
}

/// `subject` without its forward prefixes ("Fwd: TR: x" → "x").
pub fn strip_forward_prefix(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let lower = s.to_lowercase();
        let Some(p) = ["fwd", "fw", "tr", "enc", "rv", "wg"]
            .iter()
            .find(|p| lower.starts_with(*p) && lower[p.len()..].trim_start().starts_with(':'))
        else {
            return s;
        };
        let rest = s.get(p.len()..).unwrap_or("").trim_start();
        s = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    }
}

/// Find the forward in `mail`, if it is one. `parse_attached` parses an
/// attached message (the caller's parser, without forward detection, so
/// that nesting stops at one level). An attached message wins over an
/// inline marker when both are there and the attached one has a sender.
pub fn find(
    mail: &InboundMail,
    parse_attached: &dyn Fn(&[u8]) -> Result<InboundMail, super::MailError>,
) -> Option<Forward> {
    let attached = attached(mail, parse_attached);
    if let Some(f) = &attached {
        if f.original.is_ok() {
            return attached;
        }
    }
    inline::find(mail).or(attached)
}

/// The first `message/rfc822` attachment, parsed.
fn attached(
    mail: &InboundMail,
    parse_attached: &dyn Fn(&[u8]) -> Result<InboundMail, super::MailError>,
) -> Option<Forward> {
    let i = mail
        .attachments
        .iter()
        .position(|a| a.content_type.eq_ignore_ascii_case("message/rfc822"))?;
    let a = &mail.attachments[i];
    let original = match parse_attached(&a.content) {
        Ok(m) if m.from.address == super::PLACEHOLDER_SENDER => Err(format!(
            "the attached message {} names no sender",
            a.filename
        )),
        Ok(m) => Ok(Original {
            date: m
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("Date"))
                .map(|(_, v)| v.clone()),
            from: m.from,
            subject: m.subject,
            message_id: m.message_id,
            text: m.text,
            html: m.html,
            attachments: m.attachments,
        }),
        Err(e) => Err(format!(
            "the attached message {} could not be read: {e}",
            a.filename
        )),
    };
    let own_attachments = (mail.attachments.iter().enumerate())
        .filter(|(j, _)| *j != i)
        .map(|(_, a)| a.clone())
        .collect();
    Some(Forward {
        style: Style::Attached,
        marker: format!("attachment {} (message/rfc822)", a.filename),
        own_text: mail.new_text().trim().to_string(),
        original,
        own_attachments,
    })
}
