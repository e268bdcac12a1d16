//! The threading headers of one mail we send on a ticket: `References`
//! (the ticket's Message-IDs in order, bounded, the first one kept as RFC
//! 5322 §3.6.4 suggests), and Outlook's `Thread-Index` — the ticket's own
//! conversation index (header from the ticket's first mail and a GUID
//! derived from its number, one child block per earlier mail, one for this
//! one), or, when the mail we answer carried a `Thread-Index`, that chain
//! continued. Pure: the caller reads the ticket's mail from the store and
//! says which of it the recipients may see named.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::thread_index::{ThreadIndex, MAX_CHILDREN};

/// At most this many Message-IDs in `References`: the first and the latest
/// ones (a ticket of hundreds of mails would otherwise grow its headers past
/// what servers accept).
pub const MAX_REFERENCES_SENT: usize = 20;

/// A ticket as the threading headers need it.
pub struct TicketThread<'a> {
    pub number: &'a str,
    /// When the ticket's first mail arrived: the time in the index header.
    pub started: DateTime<Utc>,
    /// The ticket's mail the recipients may see named, oldest first:
    /// (Message-ID without brackets, when it was stored).
    pub earlier: &'a [(String, DateTime<Utc>)],
}

/// What [`headers`] computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHeaders {
    pub references: Vec<String>,
    pub thread_index: String,
}

/// The ticket's conversation header: its first mail's time and a GUID
/// derived from its number, so every mail on it shares one.
pub fn ticket_root(number: &str, started: DateTime<Utc>) -> ThreadIndex {
    let digest = Sha256::digest(format!("postdesk thread {number}").as_bytes());
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&digest[..16]);
    ThreadIndex::root(started, guid)
}

/// Four bits derived from a Message-ID: a child block's "random" bits,
/// the same each time the block is computed.
fn nibble(message_id: &str) -> u8 {
    Sha256::digest(message_id.as_bytes())[0] & 0x0f
}

/// `References` and `Thread-Index` for our mail `message_id` sent at `now`
/// on `ticket`, answering `in_reply_to` (put last in `References`), whose
/// `Thread-Index` header was `their_index` (continued when it parses).
pub fn headers(
    ticket: &TicketThread,
    in_reply_to: Option<&str>,
    their_index: Option<&str>,
    message_id: &str,
    now: DateTime<Utc>,
) -> ChainHeaders {
    let mut refs: Vec<String> = Vec::new();
    for (id, _) in ticket.earlier {
        if id != message_id && Some(id.as_str()) != in_reply_to && !refs.contains(id) {
            refs.push(id.clone());
        }
    }
    if let Some(parent) = in_reply_to.filter(|p| !p.is_empty()) {
        refs.push(parent.to_string());
    }
    if refs.len() > MAX_REFERENCES_SENT {
        let cut = refs.len() - (MAX_REFERENCES_SENT - 1);
        refs.drain(1..cut);
    }
    let index = match their_index.and_then(ThreadIndex::parse) {
        Some(theirs) => theirs.child(now, nibble(message_id)),
        None => {
            let mut index = ticket_root(ticket.number, ticket.started);
            // The first mail is the header itself; each later one a child.
            for (id, at) in ticket.earlier.iter().skip(1).take(MAX_CHILDREN - 1) {
                if id != message_id {
                    index = index.child(*at, nibble(id));
                }
            }
            index.child(now, nibble(message_id))
        }
    };
    ChainHeaders {
        references: refs,
        thread_index: index.encode(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::minutes(min)
    }

    fn mails(n: usize) -> Vec<(String, DateTime<Utc>)> {
        (0..n)
            .map(|i| (format!("m{i}@example.com"), at(i as i64)))
            .collect()
    }

    fn ticket(earlier: &[(String, DateTime<Utc>)]) -> TicketThread<'_> {
        TicketThread {
            number: "2026120110000017",
            started: at(0),
            earlier,
        }
    }

    #[test]
    fn references_name_the_ticket_in_order_with_the_parent_last() {
        let m = mails(3);
        let h = headers(&ticket(&m), Some("m1@example.com"), None, "ours@x", at(5));
        assert_eq!(
            h.references,
            ["m0@example.com", "m2@example.com", "m1@example.com"]
        );
        // A parent the store does not know is still named last.
        let h = headers(&ticket(&m), Some("other@y"), None, "ours@x", at(5));
        assert_eq!(h.references.last().unwrap(), "other@y");
        assert_eq!(h.references.len(), 4);
    }

    #[test]
    fn a_long_ticket_keeps_the_first_reference_and_the_latest() {
        let m = mails(60);
        let h = headers(&ticket(&m), Some("m59@example.com"), None, "ours@x", at(99));
        assert_eq!(h.references.len(), MAX_REFERENCES_SENT);
        assert_eq!(h.references[0], "m0@example.com");
        assert_eq!(h.references[1], "m41@example.com");
        assert_eq!(h.references.last().unwrap(), "m59@example.com");
    }

    #[test]
    fn every_mail_of_a_ticket_extends_the_index_of_the_one_before() {
        let m = mails(4);
        let first = headers(&ticket(&m[..1]), None, None, "m1@example.com", at(1));
        let second = headers(&ticket(&m[..2]), None, None, "m2@example.com", at(2));
        let third = headers(&ticket(&m[..3]), None, None, "m3@example.com", at(3));
        let b = |s: &str| ThreadIndex::parse(s).unwrap();
        assert_eq!(b(&first.thread_index).depth(), 1);
        assert_eq!(b(&second.thread_index).depth(), 2);
        assert_eq!(b(&third.thread_index).depth(), 3);
        // Same 22-byte header (base64 of 21 bytes = 28 characters), and
        // each a prefix of the next.
        assert!(third.thread_index.starts_with(&first.thread_index[..28]));
        let bytes = |s: &str| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(s).unwrap()
        };
        assert!(bytes(&third.thread_index).starts_with(&bytes(&second.thread_index)));
        assert!(bytes(&second.thread_index).starts_with(&bytes(&first.thread_index)));
        // Another ticket: another GUID.
        let other = TicketThread {
            number: "2026120110000025",
            ..ticket(&m[..1])
        };
        let o = headers(&other, None, None, "m1@example.com", at(1));
        assert_ne!(b(&o.thread_index).guid(), b(&first.thread_index).guid());
        assert!(
            (b(&o.thread_index).header_time() - at(0))
                .num_milliseconds()
                .abs()
                < 7
        );
    }

    #[test]
    fn an_outlook_customers_index_is_continued() {
        let m = mails(2);
        let theirs = "AcmK80zS8L6DgfKxTMON80Obs/ge4QAAAAOa";
        let h = headers(
            &ticket(&m),
            Some("m1@example.com"),
            Some(theirs),
            "ours@x",
            at(3),
        );
        let t = ThreadIndex::parse(&h.thread_index).unwrap();
        assert_eq!(t.depth(), 2);
        assert!(h.thread_index.starts_with(&theirs[..32]));
        // Not an index: ours instead.
        let h = headers(&ticket(&m), None, Some("garbage"), "ours@x", at(3));
        let t = ThreadIndex::parse(&h.thread_index).unwrap();
        assert!((t.header_time() - at(0)).num_milliseconds().abs() < 7);
    }
}
