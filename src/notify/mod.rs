//! Events → rendered mail. Templates are Tera files in
//! `mail-templates/<language>/<name>.txt` (and optionally `<name>.html`,
//! the HTML alternative); the text one renders to a `Subject: …` line, a
//! blank line, then the body — written out, or by extending the
//! language's `layout.txt`, whose blocks (`subject`, `greeting`, `body`,
//! `signature`, `footer`) each template fills. The operator's folder is
//! laid over the shipped templates file by file ([`set`]). A language
//! without a given template falls back to `system.default_language`, then
//! to `en`. Besides one template per [`Kind`], a folder may hold others:
//! auto-replies a rule chooses by name (`auto_reply =
//! "auto_reply_after_hours"`), rendered with the same variables as
//! `auto_reply`.
//!
//! Rendering returns finished RFC 5322 bytes (built by lettre, which
//! encodes and folds headers) plus the envelope, ready for the outbox,
//! with the threading headers of [`chain`] and [`thread_index`].
//! Every value taken from an inbound mail is flattened to one line before
//! it reaches a header, so a hostile subject cannot inject headers.

use std::path::PathBuf;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::Message;
use serde::Serialize;

use crate::mail::{sanitize_line, LOOP_HEADER};

pub mod chain;
mod compose;
mod context;
pub mod set;
mod shipped;
pub mod thread_index;
pub mod vars;
pub use compose::{Compose, Composed, Head, NotMade};
pub use context::{
    clip, ArticleCtx, CommandLineCtx, CommandsCtx, Context, TicketCtx, MAX_COPIED_CHARS,
};
pub use set::{Listed, Origin, Parts, Templates};
pub use shipped::{load_or_shipped, render_with_fallback, shipped, Text};

/// Declares [`Kind`]: one line per notification — its variant, template
/// name and audience — from which the enum, [`Kind::ALL`], [`Kind::name`]
/// and [`Kind::to_agents`] are made. Adding a kind is one line here plus
/// its `mail-templates/{en,fr,pt}/<name>.txt` (and `.html`) files, which
/// `build.rs` ships.
macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $audience:ident; )*) => {
        /// The notifications postdesk sends (serialised as [`Kind::name`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            $( $(#[$doc])* $variant, )*
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: [Kind; [$($name),*].len()] = [$(Kind::$variant),*];

            /// Template file stem, also the outbox `kind`.
            pub fn name(self) -> &'static str {
                match self {
                    $( Kind::$variant => $name, )*
                }
            }

            /// Sent to agents only: mail to customers never names its
            /// Message-ID (in `References`).
            pub fn to_agents(self) -> bool {
                match self {
                    $( Kind::$variant => kinds!(@agents $audience), )*
                }
            }
        }
    };
    (@agents agents) => { true };
    (@agents customers) => { false };
}

kinds! {
    /// To the customer: we got your mail, here is your ticket number.
    AutoReply = "auto_reply", customers;
    /// To the queue's agents: a new ticket arrived.
    AgentNewTicket = "agent_new_ticket", agents;
    /// To the queue's agents: a customer wrote again.
    AgentFollowUp = "agent_follow_up", agents;
    /// To the queue's agents: mail to an address of a ticket bounced; later
    /// mail to it is held (sent once, when the address starts bouncing).
    AgentBouncing = "agent_bouncing", agents;
    /// To the ticket's requesters and observers: an authenticated agent's
    /// reply, relayed "Agent via Support".
    AgentReply = "agent_reply", customers;
    /// To the queue's other agents: an agent's internal note.
    AgentNote = "agent_note", agents;
    /// To a sender turned away (issue 8): not a known customer, or no right
    /// to the ticket the mail names. Says why in plain words, never what a
    /// ticket holds nor whether it exists; sent without a ticket.
    Refusal = "refusal", customers;
    /// To a merged ticket's requesters: it continues under the number of
    /// the ticket it was merged into (`article.other_ticket` is the old).
    Merged = "merged", customers;
    /// To the other side of a transfer: the ticket and its history
    /// (`article.text`), answered by replying. Not our agents: References
    /// never name internal mail.
    Transferred = "transferred", customers;
    /// To an incident's requesters: the problem or change it is linked to
    /// (`article.other_ticket`) was resolved.
    LinkedResolved = "linked_resolved", customers;
    /// To the ticket's customers: an agent, a command or the scheduler
    /// moved the ticket to another state.
    StateChanged = "state_changed", customers;
    /// To the ticket's customers: the ticket is resolved; confirm, or
    /// reply to reopen it.
    Resolved = "resolved", customers;
    /// To a customer answering a closed ticket of a queue whose policy is
    /// `reply_to_closed = "refuse"`: not added; write a new mail.
    FollowUpRefused = "follow_up_refused", customers;
    /// To an agent: what each command line of their mail did, applied or
    /// refused with the reason (and a colleague's reply just before).
    CommandTranscript = "command_transcript", agents;
    /// To an agent whose mail's subject is `help`: every command.
    CommandReference = "command_reference", agents;
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("templates folder {0}: {1}")]
    Folder(PathBuf, std::io::Error),
    #[error("template {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("template {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("template {0}: must start with a 'Subject: …' line followed by a blank line (or extend a layout that does)")]
    NoSubject(PathBuf),
    #[error("template {0}: an HTML template needs the text template of the same name beside it (mail is never sent as HTML alone); add it or remove the .html")]
    HtmlAlone(PathBuf),
    #[error("no template {name} for language {lang:?} nor the fallbacks (looked in {dir})")]
    Missing {
        name: String,
        lang: String,
        dir: PathBuf,
    },
    #[error("rendering {name} ({lang}): {message}")]
    Render {
        name: String,
        lang: String,
        message: String,
    },
    #[error("{primary}; the shipped template failed too: {shipped}")]
    FallbackFailed { primary: String, shipped: String },
    #[error("building mail: {0}")]
    Build(String),
    #[error("address {0}")]
    Address(String),
}

/// Full error chain of a tera error on one line (tera hides the cause).
fn tera_message(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// A rendered mail ready for the outbox.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Without angle brackets.
    pub message_id: String,
    pub subject: String,
    pub body: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
}

/// Headers of one outgoing mail.
#[derive(Default)]
pub struct Envelope<'a> {
    pub from_address: &'a str,
    pub from_name: Option<&'a str>,
    pub to: &'a [String],
    /// Where answers go (an agents' alert: the reply address with the
    /// recipient's token); None: to `from_address`.
    pub reply_to: Option<&'a str>,
    /// `None` sends with the null reverse-path (auto-replies, RFC 3834).
    pub envelope_from: Option<&'a str>,
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    /// `Some("auto-replied")` / `Some("auto-generated")`.
    pub auto_submitted: Option<&'a str>,
    /// `X-Postdesk-Ticket`; empty: no such header (a refusal has no ticket).
    pub ticket_number: &'a str,
    pub fqdn: &'a str,
    /// Sign the mail with this key (`[smtp] dkim`).
    pub dkim: Option<&'a crate::config::Dkim>,
    /// Outlook's `Thread-Topic` (the ticket's subject without `Re:` nor
    /// tags, [`thread_index::thread_topic`]); None: no such header.
    pub thread_topic: Option<&'a str>,
    /// Outlook's `Thread-Index` (base64, [`chain::headers`]); None: no
    /// such header.
    pub thread_index: Option<&'a str>,
}

fn mailbox(address: &str, name: Option<&str>) -> Result<Mailbox, NotifyError> {
    let addr = address
        .parse()
        .map_err(|e| NotifyError::Address(format!("{address:?}: {e}")))?;
    Ok(Mailbox::new(
        name.map(sanitize_line).filter(|n| !n.is_empty()),
        addr,
    ))
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), sanitize_line(&value))
}

/// The multipart/alternative body of `text` and `html`, as the mail's own
/// Content-Type and 7bit body. lettre keeps a multipart's Content-Type in
/// the part, where its DKIM signer does not see it: a signature over
/// `Content-Type` would then not verify. As the mail's header it is signed
/// like any other.
fn alternative(
    text: &str,
    html: &str,
) -> Result<(ContentType, lettre::message::Body), NotifyError> {
    let mp = lettre::message::MultiPart::alternative_plain_html(text.to_string(), html.to_string());
    let formatted = mp.formatted();
    let start = formatted
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| NotifyError::Build("multipart without a header end".into()))?;
    // Each part is 7bit, quoted-printable or base64 (lettre never chooses
    // 8bit): the whole is ASCII in CRLF lines well under 998 characters.
    // (lettre's own 7bit check wants lines under 76, which a
    // quoted-printable part's 76-character lines exceed by their `=`.)
    let parts = formatted[start + 4..].to_vec();
    if !parts.is_ascii() || parts.split(|b| *b == b'\n').any(|l| l.len() > 998) {
        return Err(NotifyError::Build("multipart body is not 7bit".into()));
    }
    let content_type = ContentType::parse(&format!(
        "multipart/alternative; boundary=\"{}\"",
        mp.boundary()
    ))
    .map_err(|e| NotifyError::Build(format!("multipart content type: {e}")))?;
    let body = lettre::message::Body::dangerous_pre_encoded(
        parts,
        lettre::message::header::ContentTransferEncoding::SevenBit,
    );
    Ok((content_type, body))
}

/// Build the RFC 5322 bytes of a plain-text mail.
pub fn build(env: &Envelope, subject: &str, body: &str) -> Result<Rendered, NotifyError> {
    build_alternative(env, subject, body, None)
}

/// Build the RFC 5322 bytes of a mail: plain text, or with `html`
/// multipart/alternative (the text part first, as RFC 2046 orders them
/// from plainest to richest). There is never HTML without the text.
pub fn build_alternative(
    env: &Envelope,
    subject: &str,
    body: &str,
    html: Option<&str>,
) -> Result<Rendered, NotifyError> {
    let mut b = Message::builder()
        .from(mailbox(env.from_address, env.from_name)?)
        .subject(sanitize_line(subject))
        .message_id(Some(format!("<{}>", env.message_id)))
        .date_now()
        .raw_header(header(LOOP_HEADER, env.fqdn.to_string()));
    // A refusal belongs to no ticket: no ticket header then.
    if !env.ticket_number.is_empty() {
        b = b.raw_header(header("X-Postdesk-Ticket", env.ticket_number.to_string()));
    }
    for to in env.to {
        b = b.to(mailbox(to, None)?);
    }
    if let Some(r) = env.reply_to {
        b = b.reply_to(mailbox(r, env.from_name)?);
    }
    if let Some(irt) = env.in_reply_to {
        b = b.in_reply_to(format!("<{irt}>"));
    }
    if !env.references.is_empty() {
        let refs: Vec<String> = env.references.iter().map(|r| format!("<{r}>")).collect();
        b = b.references(refs.join(" "));
    }
    if let Some(topic) = env.thread_topic.filter(|t| !t.is_empty()) {
        b = b.raw_header(header("Thread-Topic", topic.to_string()));
    }
    if let Some(index) = env.thread_index.filter(|t| !t.is_empty()) {
        b = b.raw_header(header("Thread-Index", index.to_string()));
    }
    if let Some(a) = env.auto_submitted {
        b = b
            .raw_header(header("Auto-Submitted", a.to_string()))
            .raw_header(header("X-Auto-Response-Suppress", "All".into()));
    }
    let envelope_from = env.envelope_from.unwrap_or("").to_string();
    let lettre_env = lettre::address::Envelope::new(
        match env.envelope_from {
            Some(f) => Some(
                f.parse()
                    .map_err(|e| NotifyError::Build(format!("address {f:?}: {e}")))?,
            ),
            None => None,
        },
        env.to
            .iter()
            .map(|t| {
                t.parse()
                    .map_err(|e| NotifyError::Address(format!("{t:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?,
    )
    .map_err(|e| NotifyError::Build(e.to_string()))?;
    let b = b
        .envelope(lettre_env)
        .header(lettre::message::header::MIME_VERSION_1_0);
    let msg = match html {
        None => b.header(ContentType::TEXT_PLAIN).body(body.to_string()),
        Some(html) => {
            let (content_type, parts) = alternative(body, html)?;
            b.header(content_type).body(parts)
        }
    }
    .map_err(|e| NotifyError::Build(e.to_string()))?;
    let mut raw = msg.formatted();
    if let Some(d) = env.dkim {
        raw = d.sign(&raw).map_err(NotifyError::Build)?;
    }
    Ok(Rendered {
        message_id: env.message_id.to_string(),
        subject: sanitize_line(subject),
        body: body.to_string(),
        envelope_from,
        recipients: env.to.to_vec(),
        raw,
    })
}

#[cfg(test)]
mod tests;
