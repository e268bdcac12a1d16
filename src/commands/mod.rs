//! Agents' commands by mail: `#state resolved` lines at the top of a mail,
//! Debbugs-style `Control:` lines and a Roundup-style `[state=resolved;
//! priority=4]` suffix on the subject, read into [`Command`]s.
//!
//! Pure and bounded: this module only reads text. Whether a command may
//! run — the sender's authenticity and rights, the lifecycle — is the
//! decide stage's business, and so is what it changes; a command here is
//! only what the agent asked for, with the line it came from so that the
//! transcript can quote it. Text that looks like a command but is not one
//! (`#stat resolved`) is an [`CommandError`], never silently relayed to a
//! customer as prose.

mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;

use crate::rules::TicketType;

pub use parse::{parse, Parsed, MAX_COMMANDS};

/// One thing an agent asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Move the ticket to this state (a name or alias, checked later
    /// against the queue's lifecycle).
    State {
        state: String,
    },
    Assign {
        to: Assignee,
    },
    Group {
        name: String,
    },
    Queue {
        name: String,
    },
    Priority {
        value: u8,
    },
    Urgency {
        value: u8,
    },
    Impact {
        value: u8,
    },
    Service {
        name: String,
    },
    Type {
        value: TicketType,
    },
    Tag {
        add: bool,
        tag: String,
    },
    Cc {
        add: bool,
        address: String,
    },
    /// Merge this ticket into ticket `into`.
    Merge {
        into: String,
    },
    Link {
        kind: LinkKind,
        ticket: String,
    },
    /// Take a link of that kind to that ticket away.
    Unlink {
        kind: LinkKind,
        ticket: String,
    },
    /// Hand the ticket and its history to another address or helpdesk.
    Transfer {
        address: String,
    },
    /// The mail is an internal note, never sent to customers.
    Note,
    /// Open a new ticket even though the mail names one.
    New,
    /// Send the command reference.
    Help,
}

/// Who `#assign` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Assignee {
    /// The agent who sent the mail.
    Me,
    /// Nobody: unassign.
    Nobody,
    /// An agent by address or name.
    Agent(String),
}

/// How two tickets are related (GLPI's problems and changes, parent and
/// child tickets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// The other ticket is a problem this one is an incident of.
    Problem,
    /// The other ticket is a change that addresses this one.
    Change,
    Parent,
    Child,
    /// Related, without a direction.
    Related,
}

impl LinkKind {
    pub const ALL: [LinkKind; 5] = [
        LinkKind::Problem,
        LinkKind::Change,
        LinkKind::Parent,
        LinkKind::Child,
        LinkKind::Related,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Problem => "problem",
            LinkKind::Change => "change",
            LinkKind::Parent => "parent",
            LinkKind::Child => "child",
            LinkKind::Related => "related",
        }
    }
}

/// Where a command was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum Source {
    /// A `#…` line of the body (1-based line of the text given).
    Body { line: usize },
    /// A `Control:` line of the body.
    Control { line: usize },
    /// The `[key=value;…]` suffix of the subject.
    Subject,
}

/// A command with where it came from and the words as written, which the
/// transcript quotes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    pub command: Command,
    pub source: Source,
    pub written: String,
}

/// Something written as a command that is not one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    pub source: Source,
    pub written: String,
    pub reason: String,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Body { line } | Source::Control { line } => write!(f, "line {line}"),
            Source::Subject => f.write_str("subject"),
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}: {}", self.source, self.written, self.reason)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |add: &bool| if *add { "add" } else { "remove" };
        match self {
            Command::State { state } => write!(f, "#state {state}"),
            Command::Assign { to } => match to {
                Assignee::Me => f.write_str("#assign me"),
                Assignee::Nobody => f.write_str("#assign nobody"),
                Assignee::Agent(a) => write!(f, "#assign {a}"),
            },
            Command::Group { name } => write!(f, "#group {name}"),
            Command::Queue { name } => write!(f, "#queue {name}"),
            Command::Priority { value } => write!(f, "#priority {value}"),
            Command::Urgency { value } => write!(f, "#urgency {value}"),
            Command::Impact { value } => write!(f, "#impact {value}"),
            Command::Service { name } => write!(f, "#service {name}"),
            Command::Type { value } => write!(f, "#type {}", value.as_str()),
            Command::Tag { add, tag } => write!(f, "#tag {} {tag}", on(add)),
            Command::Cc { add, address } => write!(f, "#cc {} {address}", on(add)),
            Command::Merge { into } => write!(f, "#merge {into}"),
            Command::Link { kind, ticket } => write!(f, "#link {} {ticket}", kind.as_str()),
            Command::Unlink { kind, ticket } => write!(f, "#unlink {} {ticket}", kind.as_str()),
            Command::Transfer { address } => write!(f, "#transfer {address}"),
            Command::Note => f.write_str("#note"),
            Command::New => f.write_str("#new"),
            Command::Help => f.write_str("help"),
        }
    }
}

/// The command reference an agent gets for a mail whose subject is `help`
/// (the template wraps it; this is the vocabulary, one line each).
pub const REFERENCE: &[(&str, &str)] = &[
    (
        "#state STATE",
        "move the ticket (e.g. open, waiting, resolved; aliases new, pending, closed)",
    ),
    (
        "#assign ADDRESS|me|nobody",
        "assign the ticket to an agent, to yourself, or to nobody",
    ),
    ("#group NAME", "give the ticket to a group"),
    ("#queue NAME", "move the ticket to another queue"),
    (
        "#priority 1-6",
        "set the priority (6 = major); it is no longer computed",
    ),
    (
        "#urgency 1-5",
        "set the urgency; the priority follows the matrix",
    ),
    (
        "#impact 1-5",
        "set the impact; the priority follows the matrix",
    ),
    ("#service NAME", "set the service (e.g. Email::Outlook)"),
    (
        "#type incident|request|problem|change",
        "set the ticket's type",
    ),
    ("#tag add|remove TAG", "add or remove a tag"),
    ("#cc add|remove ADDRESS", "add or remove an observer"),
    ("#merge NUMBER", "merge this ticket into ticket NUMBER"),
    (
        "#link problem|change|parent|child|related NUMBER",
        "link this ticket to another",
    ),
    (
        "#transfer ADDRESS",
        "hand the ticket and its history to another helpdesk",
    ),
    (
        "#note",
        "keep this mail internal: agents only, never the customer",
    ),
    ("#new", "open a new ticket even though the mail names one"),
];
