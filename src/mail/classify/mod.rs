//! What kind of sender wrote this mail: a person, or one of the machines
//! that answer mail (auto-replies, read receipts, delivery reports, abuse
//! feedback, challenge-response filters, lists and bulk senders), or our
//! own mail come back. Every decision carries the reason that made it, in
//! words an agent understands; `ticket show` prints it.
//!
//! Pure: it reads a parsed [`Message`] and returns data. What each class
//! *does* (no ticket for a bounce, no auto-reply to a machine, …) is
//! decided by processing. Signals are tried strongest first: our own loop
//! header, the structure of a `multipart/report`, `X-Failed-Recipients`,
//! challenge-response headers, plain-text bounce prose, RFC 3834 and the
//! vendors' auto-reply headers, list headers and `Precedence`, robot and
//! null senders, and last the subject in six languages.
//!
//! For delivery reports the failed recipients and what is known of the
//! returned message (its Message-ID, subject, references, and whether it
//! carried our loop header) are extracted, from `message/delivery-status`,
//! `X-Failed-Recipients`, the returned `message/rfc822` or
//! `text/rfc822-headers` part, or the bounce's own prose.

mod bounce_text;
mod headers;
mod report;
mod subject;
#[cfg(test)]
mod tests;

use mail_parser::Message;
use serde::Serialize;

/// The kinds of inbound mail processing tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailClass {
    /// Written by a person (no machine signal found).
    Person,
    /// An out-of-office or other automatic answer (RFC 3834 and kin).
    AutoReply,
    /// A read receipt (MDN, RFC 8098, or its subject-line cousins).
    ReadReceipt,
    /// A delivery report: bounce, delay warning or success notice (DSN).
    DeliveryReport,
    /// An abuse or spam feedback report (ARF, RFC 5965).
    FeedbackReport,
    /// A challenge-response filter asking the sender to prove it is human.
    ChallengeResponse,
    /// List or bulk mail, and other machine notices that answer nothing.
    List,
    /// Our own mail come back (it carries our loop header).
    OwnMail,
}

impl MailClass {
    /// The name stored in the database and printed (`delivery-report`).
    pub fn as_str(self) -> &'static str {
        match self {
            MailClass::Person => "person",
            MailClass::AutoReply => "auto-reply",
            MailClass::ReadReceipt => "read-receipt",
            MailClass::DeliveryReport => "delivery-report",
            MailClass::FeedbackReport => "feedback-report",
            MailClass::ChallengeResponse => "challenge-response",
            MailClass::List => "list",
            MailClass::OwnMail => "own-mail",
        }
    }

    /// Every class but [`MailClass::Person`] is made by a machine.
    pub fn is_automatic(self) -> bool {
        self != MailClass::Person
    }
}

impl std::fmt::Display for MailClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of classifying one mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub class: MailClass,
    /// What decided the class ("Auto-Submitted: auto-replied",
    /// "multipart/report with message/delivery-status", …).
    pub reason: String,
    /// For [`MailClass::DeliveryReport`]: the outcome and the recipients.
    pub bounce: Option<Bounce>,
    /// For reports (delivery, read, feedback): what is known of the message
    /// reported on, so it can be matched to its ticket.
    pub original: Option<OriginalMessage>,
}

/// What a delivery report says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryOutcome {
    /// Delivery failed for good (a bounce).
    Failed,
    /// Delivery is late and still being tried (a warning).
    Delayed,
    /// Delivered or relayed (a success notice someone asked for).
    Delivered,
}

/// The delivery part of a delivery report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bounce {
    pub outcome: DeliveryOutcome,
    /// The recipients the report is about (lower-case addresses); may be
    /// empty when the report names none we could read.
    pub recipients: Vec<Recipient>,
}

/// One recipient of a delivery report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// Lower-cased address.
    pub address: String,
    /// DSN `Status` (`5.1.1`), when given.
    pub status: Option<String>,
    /// DSN `Diagnostic-Code` or the server's words, one line, when given.
    pub diagnostic: Option<String>,
}

/// The message a report is about, as far as the report shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OriginalMessage {
    /// Normalised Message-ID (no angle brackets).
    pub message_id: Option<String>,
    /// Decoded subject; carries our ticket tag when it was our mail (find it
    /// with `threading::Numbering::numbers_in_subject`).
    pub subject: Option<String>,
    /// Its In-Reply-To and References, normalised.
    pub references: Vec<String>,
    /// Its To addresses (lower-case).
    pub to: Vec<String>,
    /// It carried our loop header: the report is about mail we sent.
    pub ours: bool,
}

impl OriginalMessage {
    fn is_empty(&self) -> bool {
        self == &OriginalMessage::default()
    }

    /// Fill what `self` lacks from `other`.
    fn merge(&mut self, other: OriginalMessage) {
        if self.message_id.is_none() {
            self.message_id = other.message_id;
        }
        if self.subject.is_none() {
            self.subject = other.subject;
        }
        if self.references.is_empty() {
            self.references = other.references;
        }
        if self.to.is_empty() {
            self.to = other.to;
        }
        self.ours |= other.ours;
    }
}

/// Why a mail counts as machine-made: the reason of a [`Classification`]
/// other than [`MailClass::Person`]. Processing decides on this today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Automatic(pub String);

impl Default for Classification {
    /// A person's mail: what a mail without any machine signal is.
    fn default() -> Self {
        Classification::new(MailClass::Person, "no sign of a machine")
    }
}

impl Classification {
    /// `Some(reason)` for every class but [`MailClass::Person`].
    pub fn automatic(&self) -> Option<Automatic> {
        self.class
            .is_automatic()
            .then(|| Automatic(self.reason.clone()))
    }

    fn new(class: MailClass, reason: impl Into<String>) -> Self {
        Classification {
            class,
            reason: reason.into(),
            bounce: None,
            original: None,
        }
    }
}

/// Classify `msg`. `own_fqdn` recognises our own loop header
/// ([`super::LOOP_HEADER`]) on the mail and inside returned mail.
pub fn classify(msg: &Message, own_fqdn: &str) -> Classification {
    if headers::carries_our_loop_header(msg, own_fqdn) {
        return Classification::new(
            MailClass::OwnMail,
            format!("our own loop header {}", super::LOOP_HEADER),
        );
    }
    if let Some(c) = report::classify(msg, own_fqdn) {
        return c;
    }
    if let Some(list) = headers::raw(msg, "X-Failed-Recipients") {
        return bounce_text::delivery_report(msg, own_fqdn, "X-Failed-Recipients header", &list);
    }
    if let Some(why) = headers::challenge(msg) {
        return Classification::new(MailClass::ChallengeResponse, why);
    }
    if let Some(why) = bounce_text::looks_like_bounce(msg) {
        return bounce_text::delivery_report(msg, own_fqdn, &why, "");
    }
    let subject = msg.subject().unwrap_or("");
    if let Some((why, certain)) = headers::auto_reply(msg) {
        if let Some(s) = subject::challenge(subject) {
            return Classification::new(MailClass::ChallengeResponse, format!("{why}, {s}"));
        }
        if let Some(s) = subject::read_receipt(subject) {
            return Classification::new(MailClass::ReadReceipt, format!("{why}, {s}"));
        }
        let class = if certain {
            MailClass::AutoReply
        } else {
            headers::reply_or_notice(msg, subject)
        };
        return Classification::new(class, why);
    }
    if let Some(why) = headers::list(msg) {
        // Vacation programs often say `Precedence: bulk` and nothing else.
        if let Some(s) = subject::auto_reply(subject) {
            return Classification::new(MailClass::AutoReply, format!("{why}, {s}"));
        }
        return Classification::new(MailClass::List, why);
    }
    if let Some(c) = headers::sender(msg, own_fqdn, subject) {
        return c;
    }
    // Last resort: the subject alone.
    if let Some(s) = subject::bounce(subject) {
        return bounce_text::delivery_report(msg, own_fqdn, &s, "");
    }
    if let Some(s) = subject::auto_reply(subject) {
        return Classification::new(MailClass::AutoReply, s);
    }
    if let Some(s) = subject::read_receipt(subject) {
        return Classification::new(MailClass::ReadReceipt, s);
    }
    if let Some(s) = subject::challenge(subject) {
        return Classification::new(MailClass::ChallengeResponse, s);
    }
    Classification::default()
}
