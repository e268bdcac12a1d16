//! Outlook's conversation headers: `Thread-Index` (the conversation index
//! of [MS-OXOMSG] 2.2.1.3, base64) and `Thread-Topic`. Outlook groups a
//! conversation by the index's 22-byte header block and orders it by the
//! 5-byte child blocks after it; without them its conversation view splits a
//! ticket whose subject changed, or joins unrelated mail with one subject.
//!
//! The header block is one reserved byte `0x01` (in practice the top byte of
//! a FILETIME, which is `0x01` for any date between 1827 and 2056), the next
//! five bytes of the FILETIME (100 ns ticks since 1601, big-endian, the low
//! two bytes dropped), then a 16-byte GUID. A child block is one bit saying
//! how the time delta is scaled, 31 bits of the time since the header's
//! time, four random bits and a four-bit sequence count.
//!
//! Pure: the caller says which times and which GUID (for a ticket: the time
//! of its first mail and a GUID derived from its number), so the same ticket
//! always gets the same header and its mails line up in Outlook.

use base64::Engine;
use chrono::{DateTime, Utc};

/// Bytes of the header block.
const HEADER_LEN: usize = 22;
/// Bytes of one child block.
const CHILD_LEN: usize = 5;
/// At most this many child blocks are written: a longer ticket's later mails
/// share the depth of the last one (Outlook still groups them by the header).
pub const MAX_CHILDREN: usize = 30;
/// 100 ns ticks between 1601-01-01 and 1970-01-01.
const FILETIME_UNIX_EPOCH: i64 = 116_444_736_000_000_000;

/// A parsed or built conversation index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadIndex {
    header: [u8; HEADER_LEN],
    children: Vec<[u8; CHILD_LEN]>,
}

impl ThreadIndex {
    /// A conversation's first mail: its time and the conversation's GUID.
    pub fn root(time: DateTime<Utc>, guid: [u8; 16]) -> ThreadIndex {
        let ft = filetime(time).to_be_bytes();
        let mut header = [0u8; HEADER_LEN];
        // The top six bytes of the FILETIME; the first is the reserved 0x01
        // for every date this software will see.
        header[..6].copy_from_slice(&ft[..6]);
        header[0] = 0x01;
        header[6..].copy_from_slice(&guid);
        ThreadIndex {
            header,
            children: Vec::new(),
        }
    }

    /// A `Thread-Index` header's value; None when it is not one (not
    /// base64, not 22 + 5·n bytes, or not starting with the reserved byte).
    pub fn parse(value: &str) -> Option<ThreadIndex> {
        let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .ok()?;
        if bytes.len() < HEADER_LEN
            || (bytes.len() - HEADER_LEN) % CHILD_LEN != 0
            || bytes[0] != 0x01
        {
            return None;
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&bytes[..HEADER_LEN]);
        let children = bytes[HEADER_LEN..]
            .chunks_exact(CHILD_LEN)
            .map(|c| {
                let mut b = [0u8; CHILD_LEN];
                b.copy_from_slice(c);
                b
            })
            .collect();
        Some(ThreadIndex { header, children })
    }

    /// The time in the header block (the conversation's first mail),
    /// precise to 6.5 ms.
    pub fn header_time(&self) -> DateTime<Utc> {
        let mut ft = [0u8; 8];
        ft[..6].copy_from_slice(&self.header[..6]);
        let ticks = i64::from_be_bytes(ft) - FILETIME_UNIX_EPOCH;
        DateTime::from_timestamp(ticks.div_euclid(10_000_000), 0)
            .map(|t| t + chrono::Duration::nanoseconds(ticks.rem_euclid(10_000_000) * 100))
            .unwrap_or_default()
    }

    /// The conversation's GUID.
    pub fn guid(&self) -> [u8; 16] {
        let mut g = [0u8; 16];
        g.copy_from_slice(&self.header[6..]);
        g
    }

    /// How many child blocks follow the header (the mail's depth).
    pub fn depth(&self) -> usize {
        self.children.len()
    }

    /// This index with a child block for a mail sent at `time` answering
    /// the mail this index belongs to. `random` is the block's four random
    /// bits (pass something derived from the mail, to stay
    /// deterministic); the sequence count is 0, as Outlook writes it. Past
    /// [`MAX_CHILDREN`] blocks the index is returned as it is.
    pub fn child(&self, time: DateTime<Utc>, random: u8) -> ThreadIndex {
        let mut next = self.clone();
        if next.children.len() >= MAX_CHILDREN {
            return next;
        }
        let mut header_ft = [0u8; 8];
        header_ft[..6].copy_from_slice(&self.header[..6]);
        let delta = (filetime(time) - i64::from_be_bytes(header_ft)).max(0) as u64;
        // Below 2^49 ticks (about 1.8 years), bits 18–48; beyond, bits
        // 23–53 with the high bit set; capped at the largest value.
        let word: u32 = if delta < 1 << 49 {
            (delta >> 18) as u32
        } else {
            0x8000_0000 | ((delta >> 23).min(0x7fff_ffff) as u32)
        };
        let mut block = [0u8; CHILD_LEN];
        block[..4].copy_from_slice(&word.to_be_bytes());
        block[4] = (random & 0x0f) << 4;
        next.children.push(block);
        next
    }

    /// The header's value: base64 of the header and child blocks.
    pub fn encode(&self) -> String {
        let mut bytes = self.header.to_vec();
        for c in &self.children {
            bytes.extend_from_slice(c);
        }
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

/// 100 ns ticks since 1601-01-01 (Windows FILETIME).
fn filetime(time: DateTime<Utc>) -> i64 {
    time.timestamp() * 10_000_000
        + i64::from(time.timestamp_subsec_nanos() / 100)
        + FILETIME_UNIX_EPOCH
}

/// `subject` as Outlook's `Thread-Topic`: without leading reply and
/// forward prefixes (`Re:`, `Fw:`, `Fwd:`, `AW:`, `WG:`, `RE :`, `Réf.`…)
/// and without bracketed tags (`[Ticket#…]`, `[list]`), on one line.
pub fn thread_topic(subject: &str) -> String {
    let mut rest = crate::mail::sanitize_line(subject);
    loop {
        let trimmed = rest.trim_start();
        let before = trimmed.len();
        let mut next = trimmed;
        if let Some(after) = next.strip_prefix('[') {
            if let Some(end) = after.find(']') {
                next = &after[end + 1..];
            }
        } else if let Some(colon) = next.find(':') {
            let word = next[..colon].trim_end().trim_end_matches('.');
            let prefix = word.to_ascii_lowercase();
            if matches!(
                prefix.as_str(),
                "re" | "fw"
                    | "fwd"
                    | "aw"
                    | "wg"
                    | "sv"
                    | "vs"
                    | "tr"
                    | "rv"
                    | "enc"
                    | "res"
                    | "ref"
                    | "réf"
                    | "antw"
            ) {
                next = &next[colon + 1..];
            }
        }
        if next.len() == before {
            return trimmed.trim_end().to_string();
        }
        rest = next.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thread-Index values of real Outlook mails in `tests/data/real`, with
    /// the Date of the mail that started each conversation.
    const REAL: &[(&str, &str, &str)] = &[
        (
            "person/bounce_email-tt_1234210666.eml",
            "AcmK80zS8L6DgfKxTMON80Obs/ge4QAAAAOa",
            "2009-02-09T20:16:32Z",
        ),
        (
            "person/flufl-groupwise_03.eml",
            "AdFuZ6XxOH+qH5H+R76f2odV/Vn8MQ==",
            "2016-02-23T18:26:01Z",
        ),
        (
            "delivery-report/flufl-dsn_16.eml",
            "Aci4Qafw1YeAmx2mRI2jVZKbY8YZ5A==",
            "2008-05-17T17:15:51Z",
        ),
        (
            "delivery-report/flufl-dsn_13.eml",
            "AcZN8UUquG7RRuNcRMi8iWyyngQ2bQ==",
            "2006-03-22T20:43:26Z",
        ),
        (
            "delivery-report/flufl-simple_29.eml",
            "Aci1Kmbra/4UZFszTWaO4wdczWcBCQ==",
            "2008-05-13T18:51:47Z",
        ),
    ];

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn real_outlook_indexes_parse_to_their_mails_date_and_encode_back() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/real");
        for (file, value, date) in REAL {
            let raw = std::fs::read_to_string(root.join(file)).unwrap();
            assert!(
                raw.to_ascii_lowercase()
                    .contains(&format!("thread-index: {}", value.to_ascii_lowercase())),
                "{file} carries {value}"
            );
            let t = ThreadIndex::parse(value).unwrap_or_else(|| panic!("{file}"));
            assert_eq!(t.encode(), *value, "{file}");
            let off = (t.header_time() - at(date)).num_seconds().abs();
            assert!(off <= 3, "{file}: {} vs {date}", t.header_time());
            // Built again from its time and GUID, the header is the same
            // bytes (the header keeps 6.5 ms: nothing is lost).
            let again = ThreadIndex::root(t.header_time(), t.guid());
            assert_eq!(again.encode()[..28], value[..28], "{file}");
        }
    }

    use std::path::Path;

    #[test]
    fn a_real_child_block_decodes_to_its_delta() {
        // The bounce answers its original within a few hundred ms: one
        // child block, delta 3 units of 2^18 ticks, random 9, sequence 10.
        let t = ThreadIndex::parse("AcmK80zS8L6DgfKxTMON80Obs/ge4QAAAAOa").unwrap();
        assert_eq!(t.depth(), 1);
        assert_eq!(t.children[0], [0, 0, 0, 3, 0x9a]);
        let parent = ThreadIndex {
            header: t.header,
            children: Vec::new(),
        };
        let again = parent.child(
            t.header_time() + chrono::Duration::microseconds(3 * (1 << 18) / 10 + 1),
            9,
        );
        assert_eq!(again.children[0][..4], [0, 0, 0, 3]);
        assert_eq!(again.children[0][4] >> 4, 9);
    }

    #[test]
    fn children_scale_beyond_two_years_and_stop_at_the_cap() {
        let start = at("2026-01-01T00:00:00Z");
        let r = ThreadIndex::root(start, [7; 16]);
        let near = r.child(start + chrono::Duration::hours(1), 0);
        let word = u32::from_be_bytes(near.children[0][..4].try_into().unwrap());
        assert_eq!(word, (36_000_000_000u64 >> 18) as u32);
        let far = r.child(start + chrono::Duration::days(800), 0);
        let word = u32::from_be_bytes(far.children[0][..4].try_into().unwrap());
        assert_eq!(word >> 31, 1);
        assert_eq!(
            word & 0x7fff_ffff,
            ((800 * 864_000_000_000u64) >> 23) as u32
        );
        // A time before the header counts as no time at all.
        let before = r.child(start - chrono::Duration::hours(1), 0);
        assert_eq!(before.children[0], [0; 5]);
        let mut deep = r.clone();
        for _ in 0..MAX_CHILDREN + 5 {
            deep = deep.child(start, 1);
        }
        assert_eq!(deep.depth(), MAX_CHILDREN);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(deep.encode())
            .unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + CHILD_LEN * MAX_CHILDREN);
    }

    #[test]
    fn not_an_index_is_none() {
        for bad in [
            "",
            "not base64!",
            "AQID",                                 // 3 bytes
            "AcmK80zS8L6DgfKxTMON80Obs/ge4QAAAA==", // 22 + 4 bytes
            "AsmK80zS8L6DgfKxTMON80Obs/ge4Q==",     // first byte 0x02
        ] {
            assert_eq!(ThreadIndex::parse(bad), None, "{bad}");
        }
        // Folded over two lines, it still parses.
        assert!(ThreadIndex::parse("AcmK80zS8L6DgfKx\r\n TMON80Obs/ge4QAAAAOa").is_some());
    }

    #[test]
    fn thread_topic_drops_reply_prefixes_and_tags() {
        for (subject, topic) in [
            ("Printer broken", "Printer broken"),
            (
                "Re: [Ticket#2026112210000017] Printer broken",
                "Printer broken",
            ),
            ("RE: Fwd: AW: Printer", "Printer"),
            ("[support] Re : Réf. : Imprimante", "Imprimante"),
            ("Re:Re: broken: again", "broken: again"),
            ("Note: the printer", "Note: the printer"),
            ("[unclosed tag", "[unclosed tag"),
            ("", ""),
        ] {
            assert_eq!(thread_topic(subject), topic, "{subject}");
        }
    }
}
