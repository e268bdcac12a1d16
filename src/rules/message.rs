//! What a rule can look at: a plain view of one mail's facts, borrowed from
//! whoever gathered them (the decide stage, `explain`, a test). Rules never
//! parse mail or read the store; they see only this.

use std::fmt;
use std::str::FromStr;

/// The facts about one inbound mail that rules test. Every string is as
/// the mail or the directory gave it; rules compare without regard to case
/// unless a criterion says otherwise.
#[derive(Debug, Clone, Default)]
pub struct Message<'a> {
    /// The sender's address (From).
    pub from: &'a str,
    /// Every To address.
    pub to: &'a [&'a str],
    /// Every Cc address.
    pub cc: &'a [&'a str],
    /// The name of the mailbox (`[[mailbox]] name`) the mail came in by.
    pub mailbox: &'a str,
    /// The support address that received it (the mailbox's address, or the
    /// recipient address the MTA handed it to).
    pub address: &'a str,
    pub subject: &'a str,
    /// The text the sender wrote this time: quoted earlier messages and
    /// signatures left out. For a new ticket usually the whole text.
    pub body_new: &'a str,
    /// The whole text body.
    pub body: &'a str,
    /// Every header field as (name, value), in mail order; a name may
    /// repeat. Names are compared without regard to case.
    pub headers: &'a [(&'a str, &'a str)],
    /// The domain of the sender's address, lower case.
    pub sender_domain: &'a str,
    /// The customer the sender belongs to, when the directory knows one.
    pub customer: Option<&'a str>,
    /// Whether the mail opens a new ticket (`false`: a follow-up).
    pub is_new: bool,
    pub class: Class,
    pub has_attachments: bool,
    /// Size of the raw mail in bytes.
    pub size: u64,
    /// The mail's language (`en`, `pt`, …), when known.
    pub language: Option<&'a str>,
}

impl Message<'_> {
    /// Every value of the header `name` (any case), in mail order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// What kind of sender wrote the mail, as the classification found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Class {
    /// A human (no sign of automatic mail).
    #[default]
    Person,
    /// An out-of-office or other automatic answer (RFC 3834).
    AutoReply,
    /// A delivery failure or read report.
    Bounce,
    /// Mail from a mailing list.
    List,
    /// Other machine-made mail (noreply@, bulk, robot senders).
    Robot,
}

impl Class {
    pub const ALL: [Class; 5] = [
        Class::Person,
        Class::AutoReply,
        Class::Bounce,
        Class::List,
        Class::Robot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Person => "person",
            Class::AutoReply => "auto_reply",
            Class::Bounce => "bounce",
            Class::List => "list",
            Class::Robot => "robot",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Class {
    type Err = String;
    fn from_str(s: &str) -> Result<Class, String> {
        Class::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown class {s:?}; expected one of {}",
                    Class::ALL.map(Class::as_str).join(", ")
                )
            })
    }
}
