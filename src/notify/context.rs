//! What templates see: the [`Context`] of one notification (ticket,
//! article, support address) and the bound on text copied from inbound
//! mail ([`clip`]). Plain data; the apply stage fills it.

use serde::Serialize;

/// What templates can use. Every field is plain text.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub ticket: TicketCtx,
    pub article: ArticleCtx,
    /// The support address and its display name.
    pub support_address: String,
    pub support_name: String,
    /// For `command_transcript` and `command_reference`; empty otherwise.
    pub commands: CommandsCtx,
}

/// What an agent's commands did (`command_transcript`), and the states
/// an agent may name (`command_reference`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CommandsCtx {
    /// Each command line, in the order written.
    pub lines: Vec<CommandLineCtx>,
    /// Whether any line was refused or could not be read.
    pub any_refused: bool,
    /// A colleague who replied to the customer shortly before this agent
    /// (name, address, minutes earlier); empty name when none did.
    pub colleague: String,
    pub colleague_address: String,
    pub colleague_minutes: i64,
    /// The configured states, in order, for the reference.
    pub states: Vec<String>,
}

/// One command line of a transcript.
#[derive(Debug, Clone, Serialize)]
pub struct CommandLineCtx {
    /// As written.
    pub written: String,
    /// `applied`, `unchanged`, `refused` or `invalid`.
    pub status: String,
    /// What was done, or why not.
    pub said: String,
}

impl Context {
    /// Plausible values, for checking templates.
    pub fn sample() -> Context {
        Context {
            ticket: TicketCtx {
                number: "2026112210000017".into(),
                tag: "[Ticket#2026112210000017]".into(),
                subject: "Printer broken".into(),
                state: "posted".into(),
                queue: "support".into(),
                customer: "ana@example.com".into(),
                customer_name: "Ana".into(),
            },
            article: ArticleCtx {
                from: "ana@example.com".into(),
                from_name: "Ana".into(),
                subject: "Printer broken".into(),
                text: "It does not print.".into(),
                attachments: vec!["photo.jpg".into()],
                unverified_sender: true,
                from_our_address: true,
                agents_side: true,
                quoted_ticket: "2026112010000023".into(),
                bouncing: "ana@example.com".into(),
                bouncing_reason: "5.1.1 user unknown".into(),
                refusal: "no_right".into(),
                other_ticket: "2026112010000023".into(),
            },
            support_address: "support@example.com".into(),
            support_name: "Support".into(),
            commands: CommandsCtx {
                lines: vec![
                    CommandLineCtx {
                        written: "#state resolved".into(),
                        status: "applied".into(),
                        said: "state open → resolved".into(),
                    },
                    CommandLineCtx {
                        written: "#assign zoe".into(),
                        status: "refused".into(),
                        said: "no active agent \"zoe\" in the directory".into(),
                    },
                ],
                any_refused: true,
                colleague: "bert".into(),
                colleague_address: "bert@example.com".into(),
                colleague_minutes: 3,
                states: vec!["posted".into(), "open".into(), "resolved".into()],
            },
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TicketCtx {
    pub number: String,
    /// `[Ticket#2026112210000017]`
    pub tag: String,
    pub subject: String,
    pub state: String,
    pub queue: String,
    pub customer: String,
    pub customer_name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ArticleCtx {
    pub from: String,
    pub from_name: String,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<String>,
    /// Set when the sender is not verified: not a participant of the
    /// ticket, or writing from one of our own addresses, or answering an
    /// agents' alert (see the two flags below).
    pub unverified_sender: bool,
    /// The From is one of our own addresses (which proves nothing).
    pub from_our_address: bool,
    /// The mail answers one of our agents' alerts: the agents' side.
    pub agents_side: bool,
    /// A new ticket made from mail that quoted this ticket's number (or
    /// answered its mail) without any right to it; empty otherwise.
    pub quoted_ticket: String,
    /// For `agent_bouncing`: the addresses that started bouncing (comma
    /// separated), and the server's reason; empty otherwise.
    pub bouncing: String,
    pub bouncing_reason: String,
    /// For `refusal`: why the mail was turned away, `unknown_sender` (not a
    /// known customer) or `no_right` (no right to the ticket it names);
    /// empty otherwise.
    pub refusal: String,
    /// For `merged` (the old number), `linked_resolved` (the problem or
    /// change resolved): the other ticket's number; empty otherwise.
    pub other_ticket: String,
}

/// At most this many characters of a display name or a subject taken
/// from inbound mail are copied into outgoing mail.
pub const MAX_COPIED_CHARS: usize = 200;

/// `text` cut to [`MAX_COPIED_CHARS`] characters (with `…` when cut): the
/// one place display names and subjects from inbound mail are bounded
/// before they reach a notification.
pub fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_COPIED_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}
