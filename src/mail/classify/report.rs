//! Structured reports (RFC 6522 `multipart/report`): delivery status
//! (RFC 3464, and RFC 6533's `global-` form), disposition notifications
//! (RFC 8098) and feedback reports (RFC 5965), with the returned message or
//! its headers. A report whose closing boundary is missing still counts:
//! mail-parser keeps the parts it found, and the root's `report-type`
//! names the kind when no part could be read.

use super::{
    bounce_text, headers, Bounce, Classification, DeliveryOutcome, MailClass, OriginalMessage,
    Recipient,
};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// More than any report's machine-readable part needs.
const MAX_FIELDS_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Delivery,
    Disposition,
    Feedback,
}

/// One DSN recipient block as read.
struct Block {
    recipient: Recipient,
    action: Option<String>,
}

/// A report found in `msg`'s own parts (not in mail it carries).
pub(super) fn classify(msg: &Message, own_fqdn: &str) -> Option<Classification> {
    let mut kind = None;
    let mut blocks = Vec::new();
    let mut original = OriginalMessage::default();
    let mut detail = None;
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let ctype = ct.ctype().to_ascii_lowercase();
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        match (ctype.as_str(), sub.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                kind.get_or_insert(Kind::Delivery);
                blocks.extend(delivery_blocks(part.contents()));
            }
            ("message", "disposition-notification" | "global-disposition-notification") => {
                kind.get_or_insert(Kind::Disposition);
                let f = fields(part.contents()).concat();
                original.message_id = field(&f, "original-message-id")
                    .map(|v| crate::threading::normalize_message_id(&v))
                    .filter(|v| !v.is_empty());
                detail = field(&f, "disposition").map(|d| clip(&d, 80));
            }
            ("message", "feedback-report") => {
                kind.get_or_insert(Kind::Feedback);
                let f = fields(part.contents()).concat();
                detail = field(&f, "feedback-type").map(|d| clip(&d, 80));
            }
            ("message", "rfc822" | "global") => {
                if let PartType::Message(inner) = &part.body {
                    original.merge(describe(inner, own_fqdn));
                }
            }
            ("text" | "message", "rfc822-headers" | "global-headers") => {
                original.merge(describe_headers(part.contents(), own_fqdn));
            }
            _ => {}
        }
    }
    let root_type = msg.root_part().content_type().filter(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let report_type = root_type
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    let kind = kind.or(match report_type.as_deref() {
        Some("delivery-status" | "global-delivery-status") => Some(Kind::Delivery),
        Some("disposition-notification" | "global-disposition-notification") => {
            Some(Kind::Disposition)
        }
        Some("feedback-report") => Some(Kind::Feedback),
        _ => None,
    })?;
    let (class, what) = match kind {
        Kind::Delivery => (MailClass::DeliveryReport, "message/delivery-status"),
        Kind::Disposition => (MailClass::ReadReceipt, "message/disposition-notification"),
        Kind::Feedback => (MailClass::FeedbackReport, "message/feedback-report"),
    };
    let container = if root_type.is_some() {
        "multipart/report"
    } else {
        "report part"
    };
    let mut c = Classification::new(class, format!("{container} with {what}"));
    if kind == Kind::Delivery {
        let outcome = outcome(&blocks);
        let mut recipients: Vec<Recipient> = blocks.into_iter().map(|b| b.recipient).collect();
        if recipients.is_empty() || original.is_empty() {
            let text = bounce_text::text(msg);
            if recipients.is_empty() {
                let listed = headers::raw(msg, "X-Failed-Recipients").unwrap_or_default();
                recipients = bounce_text::prose_recipients(msg, &text, &listed);
            }
            if original.is_empty() {
                original = bounce_text::returned_in_text(&text, own_fqdn);
            }
        }
        let first = recipients.first().and_then(|r| r.status.clone());
        let word = match outcome {
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Delayed => "delayed",
            DeliveryOutcome::Delivered => "delivered",
        };
        c.reason = match first {
            Some(st) => format!("{} ({word}, {st})", c.reason),
            None => format!("{} ({word})", c.reason),
        };
        c.bounce = Some(Bounce {
            outcome,
            recipients,
        });
    } else if let Some(d) = detail {
        c.reason = format!("{} ({d})", c.reason);
    }
    if !original.is_empty() {
        c.original = Some(original);
    }
    Some(c)
}

/// Failed if any recipient failed, delayed if any is delayed, delivered
/// when every one was; a report saying nothing readable counts as failed.
fn outcome(blocks: &[Block]) -> DeliveryOutcome {
    let kinds: Vec<DeliveryOutcome> = blocks
        .iter()
        .map(|b| {
            let action = b.action.as_deref().unwrap_or("");
            let status = b.recipient.status.as_deref().unwrap_or("");
            if action.starts_with("delayed") || (action.is_empty() && status.starts_with('4')) {
                DeliveryOutcome::Delayed
            } else if ["delivered", "relayed", "expanded"]
                .iter()
                .any(|a| action.starts_with(a))
                || (action.is_empty() && status.starts_with('2'))
            {
                DeliveryOutcome::Delivered
            } else {
                DeliveryOutcome::Failed
            }
        })
        .collect();
    if kinds.is_empty() || kinds.contains(&DeliveryOutcome::Failed) {
        DeliveryOutcome::Failed
    } else if kinds.contains(&DeliveryOutcome::Delayed) {
        DeliveryOutcome::Delayed
    } else {
        DeliveryOutcome::Delivered
    }
}

/// The per-recipient blocks of a `message/delivery-status` body.
fn delivery_blocks(body: &[u8]) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for f in fields(body) {
        // The address as we wrote it (Original-Recipient) before where it
        // ended up; one with a dotted domain before a host-local name.
        let candidates: Vec<String> = [
            "original-recipient",
            "final-recipient",
            "x-actual-recipient",
        ]
        .iter()
        .filter_map(|n| field(&f, n))
        .map(|v| typed_address(&v))
        .filter(|a| crate::mail::plausible_address(a))
        .collect();
        let address = candidates
            .iter()
            .find(|a| a.rsplit_once('@').is_some_and(|(_, d)| d.contains('.')))
            .or(candidates.first())
            .cloned();
        let Some(address) = address else {
            continue;
        };
        if out.iter().any(|b| b.recipient.address == address) {
            continue;
        }
        out.push(Block {
            recipient: Recipient {
                address,
                status: field(&f, "status").map(|s| clip(&s, 32)),
                diagnostic: field(&f, "diagnostic-code").map(|d| clip(untyped(&d), 300)),
            },
            action: field(&f, "action").map(|a| a.to_ascii_lowercase()),
        });
        if out.len() >= bounce_text::MAX_RECIPIENTS {
            break;
        }
    }
    out
}

/// `rfc822; <Ann@Example.com>` → `ann@example.com`.
fn typed_address(v: &str) -> String {
    untyped(v)
        .trim()
        .trim_matches(['<', '>', '"'])
        .trim()
        .to_lowercase()
}

/// Drop an RFC 3464 type prefix (`rfc822;`, `smtp;`).
fn untyped(v: &str) -> &str {
    match v.split_once(';') {
        Some((t, rest)) if !t.contains(['@', ' ']) => rest.trim(),
        _ => v.trim(),
    }
}

/// One line, at most `max` characters.
pub(super) fn clip(s: &str, max: usize) -> String {
    let one: String = crate::mail::sanitize_line(s);
    match one.char_indices().nth(max) {
        Some((i, _)) => one[..i].to_string(),
        None => one,
    }
}

/// Header-like fields grouped in blank-line separated blocks, names
/// lower-cased, folded lines joined.
fn fields(body: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_FIELDS_BYTES)]);
    let mut blocks: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        let block = blocks
            .last_mut()
            .expect("blocks starts non-empty and only grows");
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(Vec::new());
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = block.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            block.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    blocks
}

fn field(f: &[(String, String)], name: &str) -> Option<String> {
    f.iter()
        .find(|(n, v)| n == name && !v.is_empty())
        .map(|(_, v)| v.clone())
}

/// What a returned message says about itself.
pub(super) fn describe(m: &Message, own_fqdn: &str) -> OriginalMessage {
    let ids = |v: &mail_parser::HeaderValue| -> Vec<String> {
        let list: Vec<String> = match v {
            mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
            mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        };
        list.iter()
            .map(|id| crate::threading::normalize_message_id(id))
            .filter(|id| !id.is_empty())
            .collect()
    };
    let mut references = ids(m.in_reply_to());
    references.extend(ids(m.references()));
    references.dedup();
    OriginalMessage {
        message_id: m
            .message_id()
            .map(crate::threading::normalize_message_id)
            .filter(|s| !s.is_empty()),
        subject: m.subject().map(|s| clip(s, crate::mail::MAX_SUBJECT_CHARS)),
        references,
        to: m
            .to()
            .map(|a| {
                a.iter()
                    .filter_map(|a| a.address())
                    .map(str::to_lowercase)
                    .filter(|a| crate::mail::plausible_address(a))
                    .collect()
            })
            .unwrap_or_default(),
        ours: !own_fqdn.is_empty() && headers::carries_our_loop_header(m, own_fqdn),
    }
}

/// [`describe`] for a header block given as text (`text/rfc822-headers`,
/// or the copy in a plain-text bounce).
pub(super) fn describe_headers(raw: &[u8], own_fqdn: &str) -> OriginalMessage {
    let raw = &raw[..raw.len().min(MAX_FIELDS_BYTES)];
    match MessageParser::default().parse_headers(raw) {
        Some(m) => describe(&m, own_fqdn),
        None => OriginalMessage::default(),
    }
}
