//! What the pipeline takes in: a raw message and where it came from.

/// Where a raw message came from.
#[derive(Debug, Clone)]
pub enum Origin {
    Imap {
        mailbox: String,
        /// `host:port/user/folder`: what the UID is relative to.
        source: String,
        uid_validity: u32,
        uid: u32,
    },
    /// `postdesk ingest`; `mailbox` None = pick by recipient.
    Pipe { mailbox: Option<String> },
    /// `postdesk import`: a message from an mbox or maildir archive;
    /// `mailbox` None = pick by recipient. Without `notify` nothing is
    /// sent (no auto-reply, no agents' alert): the mail is history.
    Import {
        mailbox: Option<String>,
        notify: bool,
    },
    /// `postdesk quarantine retry`; `mailbox` None = pick by recipient
    /// (a piped mail without --mailbox, or a mailbox since renamed).
    Retry {
        quarantine_id: i64,
        mailbox: Option<String>,
    },
}

impl Origin {
    pub(super) fn source(&self) -> &'static str {
        match self {
            Origin::Imap { .. } => "imap",
            Origin::Pipe { .. } => "pipe",
            Origin::Import { .. } => "import",
            Origin::Retry { .. } => "retry",
        }
    }

    /// The mailbox the message came through, when known.
    pub fn received_by(&self) -> Option<&str> {
        match self {
            Origin::Imap { mailbox, .. } => Some(mailbox),
            Origin::Pipe { mailbox }
            | Origin::Import { mailbox, .. }
            | Origin::Retry { mailbox, .. } => mailbox.as_deref(),
        }
    }

    /// (server/user/folder, UIDVALIDITY, UID) of an IMAP message.
    pub(super) fn imap_position(&self) -> (Option<&str>, Option<u32>, Option<u32>) {
        match self {
            Origin::Imap {
                source,
                uid_validity,
                uid,
                ..
            } => (Some(source), Some(*uid_validity), Some(*uid)),
            _ => (None, None, None),
        }
    }
}

/// One message to process.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub origin: Origin,
    /// Empty when the message was too large to fetch.
    pub raw: Vec<u8>,
    /// Size as reported by the server (or `raw.len()`).
    pub size: u64,
    /// Set when the server would not hand the message over; it is then
    /// quarantined without a copy and left where it is.
    pub fetch_error: Option<String>,
}
