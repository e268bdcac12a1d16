//! Raw bytes → [`InboundMail`]: decoded subject and addresses, a text body
//! (derived from HTML when the mail has no text part), attachments with safe
//! names, and the header facts later stages decide on. Pure and panic-free:
//! malformed mail is data, and parsing keeps what it can. Only mail with
//! nothing usable (no header block, no sender) is refused, with a
//! [`MailError`] that says why, so the caller can quarantine it; a report
//! from a mail system without a sender address gets [`PLACEHOLDER_SENDER`].
//! Every mail is classified on the way ([`classify`]).
//!
//! Charsets are decoded by mail-parser built with `full_encoding`
//! (encoding_rs: every WHATWG label, CJK included); `charset` repairs what
//! breaks the rules (raw 8-bit headers, split encoded words, bodies without
//! a charset, CR-only line ends, blank lines before the headers). A part
//! that still cannot be decoded is kept as lossy UTF-8 and noted in
//! [`InboundMail::warnings`]. Quoted history is found by [`quote`], HTML
//! turned into text and sanitised by `html`.

mod body;
mod charset;
mod classify;
pub mod forward;
mod headers;
mod html;
mod peek;
pub mod quote;
mod safe_name;
pub mod shape;
mod tnef;

pub use body::MAX_BODY_BYTES;
pub use classify::{
    classify, Automatic, Bounce, Classification, DeliveryOutcome, MailClass, OriginalMessage,
    Recipient,
};
pub use headers::{MAX_HEADER_FIELDS, MAX_HEADER_VALUE_CHARS};
pub use peek::{peek, Peek};
pub use safe_name::safe_filename;

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

/// Why a mail cannot become a ticket or an article.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("empty message")]
    Empty,
    #[error("not a mail: no header block could be parsed")]
    Unparseable,
    #[error("no sender: no From address (the mail has no From or Sender header)")]
    NoSender,
    /// The From header is there but holds nothing that looks like an
    /// address; carries the header, flattened and cut.
    #[error("no sender: the From header holds no valid address: {0:?}")]
    BadSender(String),
    #[error("not a mail: binary data (NUL or control bytes where the headers should be)")]
    Binary,
    #[error("message of {size} bytes exceeds system.max_message_bytes ({limit})")]
    TooLarge { size: u64, limit: u64 },
    /// The MIME structure would cost memory or stack out of proportion to
    /// the size (see [`shape`]); the raw mail is kept in quarantine.
    #[error(
        "mail too complex to parse safely: {count} {what}, more than the {limit} postdesk accepts"
    )]
    TooComplex {
        what: &'static str,
        count: usize,
        limit: usize,
    },
}

/// An address with its display name, both decoded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mailbox {
    pub name: Option<String>,
    /// Lower-cased address.
    pub address: String,
}

/// A decoded attachment.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// Safe to use as a file name: see [`safe_filename`].
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// Everything later stages need from one inbound mail.
#[derive(Debug, Clone)]
pub struct InboundMail {
    pub message_id: Option<String>,
    pub subject: String,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// Envelope-ish recipients from `Delivered-To`/`X-Original-To`, for
    /// picking the support address of a piped mail.
    pub delivered_to: Vec<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub text: String,
    /// Byte offset in `text` where the new part ends and quoted history or
    /// a signature begins (see [`quote`]); `None` when all of it is new.
    /// The full text is kept; notifications and agent views use
    /// [`InboundMail::new_text`].
    pub quote_start: Option<usize>,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// `Content-Language`, first tag, lower-case (`pt`, `fr`, …).
    pub language: Option<String>,
    /// What kind of sender wrote it, why we think so, and for reports what
    /// they are about (see [`classify`]).
    pub class: Classification,
    /// Set when the mail is machine-made (auto-reply, bounce, list, …):
    /// `class.automatic()`, kept for the stages that only ask "machine?".
    pub automatic: Option<Automatic>,
    /// Our own loop header was present: this is our mail coming back.
    pub our_loop_marker: bool,
    /// Things parsing had to paper over (unknown charset, …).
    pub warnings: Vec<String>,
    /// Every top-level header field as (name, value), in mail order, for
    /// criteria on any header (at most [`MAX_HEADER_FIELDS`] fields).
    pub headers: Vec<(String, String)>,
    /// Size of the raw mail in bytes.
    pub size: u64,
    /// The mail this one forwards, inline or attached (see [`forward`]);
    /// None for machines' mail. Only an authenticated agent's counts.
    pub forward: Option<Box<forward::Forward>>,
}

impl InboundMail {
    /// The new part of the text: what precedes quoted history and the
    /// signature (all of it when nothing is quoted).
    pub fn new_text(&self) -> &str {
        match self.quote_start {
            Some(end) if self.text.is_char_boundary(end) => &self.text[..end],
            _ => &self.text,
        }
    }
}

/// Header carrying our FQDN on every mail we send.
pub const LOOP_HEADER: &str = "X-Postdesk-Loop";

/// The sender recorded for a report (bounce, read receipt, feedback) that
/// names no sender address at all (`From: <>`, `From: MAILER-DAEMON`, or
/// no From): reports come from mail systems, and this address (in the
/// reserved `.invalid` domain) can never receive mail.
pub const PLACEHOLDER_SENDER: &str = "mailer-daemon@unknown.invalid";

/// Parse `raw`. `own_fqdn` recognises our own loop header.
pub fn parse(raw: &[u8], own_fqdn: &str) -> Result<InboundMail, MailError> {
    let mut mail = parse_one(raw, own_fqdn)?;
    if mail.automatic.is_none() {
        // An attached message is parsed without looking for forwards in
        // it: nesting stops at one level.
        mail.forward = forward::find(&mail, &|inner| parse_one(inner, own_fqdn)).map(Box::new);
    }
    Ok(mail)
}

/// Parse `raw` without looking for a forwarded mail in it.
fn parse_one(raw: &[u8], own_fqdn: &str) -> Result<InboundMail, MailError> {
    let raw = charset::prepare(raw)?;
    shape::check(&raw)?;
    let mut msg = MessageParser::default()
        .parse(&raw[..])
        .ok_or(MailError::Unparseable)?;
    let result = build(&mut msg, own_fqdn).map(|mut m| {
        m.size = raw.len() as u64;
        m
    });
    dismantle(msg);
    result
}

/// Drop a parsed message without recursion: mail-parser nests each
/// `message/rfc822` part as a `Message` inside its parent, and dropping that
/// tree recurses once per level. The shape check bounds the depth already;
/// this keeps a drop from ever depending on it.
fn dismantle(msg: Message<'_>) {
    let mut pending = vec![msg];
    while let Some(mut m) = pending.pop() {
        for part in &mut m.parts {
            if let PartType::Message(inner) = std::mem::take(&mut part.body) {
                pending.push(inner);
            }
        }
    }
}

fn build(msg: &mut Message<'_>, own_fqdn: &str) -> Result<InboundMail, MailError> {
    if msg.headers().is_empty() {
        return Err(MailError::Unparseable);
    }

    // Before the bodies are taken: reports are read from their parts.
    let class = classify(msg, own_fqdn);
    let mut warnings = Vec::new();
    let from = match first_mailbox(msg.from()).or_else(|| first_mailbox(msg.sender())) {
        Some(from) => from,
        None if matches!(
            class.class,
            MailClass::DeliveryReport | MailClass::ReadReceipt | MailClass::FeedbackReport
        ) =>
        {
            warnings.push(format!(
                "no sender address: recorded as {PLACEHOLDER_SENDER} ({})",
                class.class
            ));
            Mailbox {
                name: msg
                    .header_raw("From")
                    .map(sanitize_line)
                    .filter(|n| !n.is_empty() && n != "<>"),
                address: PLACEHOLDER_SENDER.to_string(),
            }
        }
        None => {
            return Err(match msg.header_raw("From").map(sanitize_line) {
                Some(v) if !v.is_empty() => MailError::BadSender(truncate_chars(&v, 100)),
                _ => MailError::NoSender,
            })
        }
    };

    let mut attachments = Vec::new();
    for (i, part) in msg.attachments().enumerate() {
        if part.is_encoding_problem {
            warnings.push(format!(
                "attachment {i}: content could not be fully decoded"
            ));
        }
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let content = match &part.body {
            PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
            PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
            PartType::Message(m) => m.raw_message().to_vec(),
            PartType::Multipart(_) => continue,
        };
        // An inline image (`cid:` in the HTML) often has no file name: name
        // it after its Content-ID so the article's list says what it is.
        let fallback = match (part.content_id(), part.content_type()) {
            (Some(cid), Some(ct)) if ct.ctype().eq_ignore_ascii_case("image") => {
                let ext = match ct.subtype().unwrap_or("img") {
                    "jpeg" | "pjpeg" => "jpg",
                    "svg+xml" => "svg",
                    other => other,
                };
                let stem = cid.trim_matches(['<', '>']).split('@').next().unwrap_or("");
                format!("{stem}.{ext}")
            }
            _ => format!("attachment-{}", i + 1),
        };
        attachments.push(Attachment {
            filename: safe_filename(part.attachment_name().unwrap_or(""), &fallback),
            content_type: sanitize_line(&content_type),
            content,
        });
    }
    let attachments = tnef::expand(attachments, &mut warnings);
    for p in msg.text_bodies().chain(msg.html_bodies()) {
        if p.is_encoding_problem {
            warnings.push("a body part has an unknown or broken charset; decoded lossily".into());
            break;
        }
    }

    let headers = headers::collect(msg);
    let (text, html, cut) = body::take(msg);
    warnings.extend(cut);
    let msg = &*msg;

    let language = msg
        .header_raw("Content-Language")
        .and_then(|v| v.split([',', ' ']).map(str::trim).find(|s| !s.is_empty()))
        .and_then(|tag| tag.split('-').next())
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| s.len() <= 8 && s.chars().all(|c| c.is_ascii_alphabetic()));

    let our_loop_marker = msg.header_values(LOOP_HEADER).any(|v| {
        v.as_text()
            .map(|t| t.trim().eq_ignore_ascii_case(own_fqdn))
            .unwrap_or(false)
    });

    let mut delivered_to = Vec::new();
    for h in ["Delivered-To", "X-Original-To", "Envelope-To"] {
        for v in msg.header_values(h) {
            if let Some(t) = v.as_text() {
                delivered_to.push(t.trim().trim_matches(['<', '>']).to_lowercase());
            }
        }
    }

    Ok(InboundMail {
        message_id: msg
            .message_id()
            .map(crate::threading::normalize_message_id)
            .filter(|s| !s.is_empty()),
        subject: truncate_chars(
            &sanitize_line(msg.subject().unwrap_or("")),
            MAX_SUBJECT_CHARS,
        ),
        reply_to: first_mailbox(msg.reply_to()),
        to: mailboxes(msg.to()),
        cc: mailboxes(msg.cc()),
        delivered_to,
        in_reply_to: text_list(msg.in_reply_to()),
        references: text_list(msg.references()),
        automatic: class.automatic(),
        class,
        from,
        quote_start: quote::new_part_end(&text),
        text,
        html,
        attachments,
        language,
        our_loop_marker,
        warnings,
        headers,
        size: 0,
        forward: None,
    })
}

/// Loose check for an inbound address: one `@` with something on both
/// sides, no whitespace, control or list characters. Looser than what we
/// accept in configuration: a sender lettre cannot write to still gets a
/// ticket (without an auto-reply).
pub fn plausible_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    // RFC 5321: a local part of 64 and a domain of 255 octets at most.
    a.len() <= MAX_ADDRESS_BYTES
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;".contains(c))
}

/// Longest address taken in (RFC 5321's limits: 64 + 1 + 255).
pub const MAX_ADDRESS_BYTES: usize = 320;

/// Longer subjects are cut (RFC 5322 lines stop at 998 characters anyway).
pub const MAX_SUBJECT_CHARS: usize = 500;

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// Replace control characters (CR, LF, NUL, TAB …) with spaces and trim:
/// what comes out is safe to place in a header of a mail we send.
pub fn sanitize_line(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn to_mailbox(name: Option<&str>, address: Option<&str>) -> Option<Mailbox> {
    let address = sanitize_line(address?).to_lowercase();
    if !plausible_address(&address) {
        return None;
    }
    Some(Mailbox {
        name: name.map(sanitize_line).filter(|n| !n.is_empty()),
        address,
    })
}

fn first_mailbox(a: Option<&Address>) -> Option<Mailbox> {
    a?.iter().find_map(|a| to_mailbox(a.name(), a.address()))
}

fn mailboxes(a: Option<&Address>) -> Vec<Mailbox> {
    match a {
        Some(a) => a
            .iter()
            .filter_map(|a| to_mailbox(a.name(), a.address()))
            .collect(),
        None => Vec::new(),
    }
}

fn text_list(v: &HeaderValue) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(raw: &str) -> InboundMail {
        parse(raw.as_bytes(), "desk.example.com").unwrap()
    }

    #[test]
    fn plain_mail() {
        let m = p("From: Ana <Ana@Example.PT>\r\nTo: support@desk.example.com\r\nSubject: Olá\r\nMessage-ID: <a1@example.pt>\r\n\r\nBom dia\r\n");
        assert_eq!(m.from.address, "ana@example.pt");
        assert_eq!(m.from.name.as_deref(), Some("Ana"));
        assert_eq!(m.subject, "Olá");
        assert_eq!(m.message_id.as_deref(), Some("a1@example.pt"));
        assert_eq!(m.text.trim(), "Bom dia");
        assert!(m.automatic.is_none());
    }

    #[test]
    fn encoded_words_and_latin1_body() {
        let raw = b"From: =?ISO-8859-1?Q?Fran=E7ois?= <f@example.fr>\r\nSubject: =?iso-8859-1?q?Probl=E8me_d'imprimante?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nL'imprimante ne r\xe9pond pas.\r\n";
        let m = parse(raw, "x").unwrap();
        assert_eq!(m.from.name.as_deref(), Some("François"));
        assert_eq!(m.subject, "Problème d'imprimante");
        assert!(m.text.contains("répond"), "{}", m.text);
    }

    #[test]
    fn html_only_mail_gets_a_text_body() {
        let m = p("From: a@b.co\r\nSubject: h\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello <b>there</b></p><script>x</script></body></html>\r\n");
        assert!(m.text.contains("Hello"), "{}", m.text);
        assert!(m.text.contains("there"));
        assert!(!m.text.contains("<b>"));
        assert!(m.html.is_some());
    }

    #[test]
    fn hostile_headers_are_flattened() {
        let m = p("From: \"Evil\r\n Bcc: x@y.z\" <e@evil.example>\r\nSubject: hi\r\n\tBcc: victim@example.com\r\n\r\nx");
        assert!(!m.subject.contains(['\r', '\n', '\t']));
        assert!(!m.from.name.unwrap_or_default().contains(['\r', '\n']));
    }

    #[test]
    fn attachment_names_are_safe() {
        let raw = "From: a@b.co\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\n";
        let m = p(raw);
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename, "passwd");
        assert_eq!(m.attachments[0].content, b"hello");
    }

    #[test]
    fn inline_cid_images_are_attachments_named_after_their_content_id() {
        let raw = "From: a@b.co\r\nSubject: s\r\nContent-Type: multipart/related; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>hi <img src=\"cid:logo@x\"></p>\r\n--x\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--x--\r\n";
        let m = p(raw);
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename, "logo.png");
        assert_eq!(m.attachments[0].content, b"hello");
        assert!(m.html.unwrap().contains("cid:logo@x"));
    }

    #[test]
    fn html_only_replies_have_their_new_part_found() {
        for (html, new) in [
            (
                r#"<div dir="ltr">Thanks, it works now.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, 1 Jan 2024 at 10:00, Support &lt;support@desk.example&gt; wrote:<br></div><blockquote class="gmail_quote">Please restart it.<br></blockquote></div>"#,
                "Thanks, it works now.",
            ),
            (
                r#"<p>Merci, c'est réglé.</p><hr><div id="divRplyFwdMsg"><b>De :</b> Support &lt;support@desk.example&gt;<br><b>Envoyé :</b> lundi 1 janvier 2024 10:00<br><b>À :</b> Jean<br><b>Objet :</b> Imprimante</div><p>Redémarrez-la.</p>"#,
                "Merci, c'est réglé.",
            ),
        ] {
            let raw = format!("From: a@b.co\r\nSubject: s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n");
            let m = p(&raw);
            assert_eq!(m.new_text(), new, "text:\n{}", m.text);
        }
    }

    #[test]
    fn unknown_charset_is_kept() {
        let m = p("From: a@b.co\r\nSubject: s\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nqapla\r\n");
        assert!(m.text.contains("qapla"));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b"", "x").unwrap_err(), MailError::Empty);
        assert_eq!(parse(b"  \r\n", "x").unwrap_err(), MailError::Empty);
        assert_eq!(
            parse(b"Subject: no sender\r\n\r\nbody", "x").unwrap_err(),
            MailError::NoSender
        );
        assert_eq!(
            parse(b"From: not an address\r\n\r\nbody", "x").unwrap_err(),
            MailError::BadSender("not an address".into())
        );
        // Binary garbage has no header block at all.
        assert!(parse(&[0xff, 0xfe, 0x00, 0x01, 0x02], "x").is_err());
    }

    #[test]
    fn an_address_longer_than_smtp_allows_is_no_sender() {
        let raw = format!(
            "From: {}@example.com\r\nSubject: s\r\n\r\nx",
            "a".repeat(60_000)
        );
        assert!(matches!(
            parse(raw.as_bytes(), "x").unwrap_err(),
            MailError::BadSender(_)
        ));
        let ok = format!("From: {}@example.com\r\n\r\nx", "a".repeat(64));
        assert!(parse(ok.as_bytes(), "x").is_ok());
    }

    #[test]
    fn report_without_a_sender_gets_the_placeholder() {
        let dsn = "From: <>\r\nSubject: Delivery Status Notification\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n--B--\r\n";
        let m = p(dsn);
        assert_eq!(m.from.address, PLACEHOLDER_SENDER);
        assert_eq!(m.class.class, MailClass::DeliveryReport);
        assert!(m.automatic.is_some());
        assert!(m.warnings.iter().any(|w| w.contains("no sender address")));
        // Without From at all, too.
        let m = p(&dsn.replacen("From: <>\r\n", "", 1));
        assert_eq!(m.from.address, PLACEHOLDER_SENDER);
        // A null From is itself the sign of a mail system…
        let m = p("From: <>\r\nSubject: hi\r\n\r\nbody");
        assert_eq!(m.class.class, MailClass::DeliveryReport);
        // …but ordinary mail without a sender is still refused.
        assert_eq!(
            parse(b"Subject: hi\r\n\r\nbody", "x").unwrap_err(),
            MailError::NoSender
        );
    }

    #[test]
    fn huge_subject_is_cut() {
        let raw = format!("From: a@b.co\r\nSubject: {}\r\n\r\nx", "é".repeat(5000));
        let m = parse(raw.as_bytes(), "x").unwrap();
        assert_eq!(m.subject.chars().count(), MAX_SUBJECT_CHARS);
    }

    #[test]
    fn loop_marker_and_language() {
        let m = p("From: a@b.co\r\nX-Postdesk-Loop: desk.example.com\r\nContent-Language: pt-BR\r\nSubject: s\r\n\r\nx");
        assert!(m.our_loop_marker);
        assert_eq!(m.language.as_deref(), Some("pt"));
        let m = p("From: a@b.co\r\nX-Postdesk-Loop: other.example.com\r\nSubject: s\r\n\r\nx");
        assert!(!m.our_loop_marker);
    }
}
