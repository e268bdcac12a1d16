//! Ticket numbers and finding the ticket a mail belongs to.
//!
//! A number is `YYYYMMDD` + two-digit system id + a daily counter of at
//! least five digits + one check digit, e.g. `2026120110483726`, in the
//! spirit of OTRS's DateChecksum generator. The serial is a keyed
//! permutation of the daily counter (it does not tell how many tickets a
//! day saw) and the check digit is Damm's, which catches every single-digit
//! typo and every adjacent transposition; see [`number`]. A number whose
//! check digit is wrong matches nothing.
//!
//! Matching order: the bracketed tag in the subject,
//! wherever it stands among `Re:`/`AW:`/`Fwd:`/other bracket tags, then the
//! Message-IDs in `In-Reply-To` and `References`. Looking the candidates up
//! is the store's job; this module only extracts them.

pub mod number;

use regex::Regex;

pub use number::{check_digit, is_legacy_valid, is_valid, serial, Serial};

/// Builds and recognises ticket numbers and subject tags.
#[derive(Debug, Clone)]
pub struct Numbering {
    tag: String,
    system_id: u32,
    subject_re: Regex,
}

impl Numbering {
    pub fn new(tag: &str, system_id: u32) -> Numbering {
        // `(?i)` so `[ticket#…]` typed by hand still matches. The tag is
        // escaped: an operator's tag is text, not a pattern.
        let pattern = format!(r"(?i)\[\s*{}\s*([0-9]{{15,24}})\s*\]", regex::escape(tag));
        Numbering {
            tag: tag.to_string(),
            system_id,
            // The pattern is built from an escaped literal and a fixed
            // suffix, so it always compiles.
            subject_re: Regex::new(&pattern).expect("escaped tag makes a valid regex"),
        }
    }

    /// The number for `serial` on `date` (`YYYYMMDD`), with its Damm
    /// check digit.
    pub fn number(&self, date: &str, serial: Serial) -> String {
        let body = format!(
            "{date}{:02}{:0width$}",
            self.system_id,
            serial.value,
            width = serial.width
        );
        let check = check_digit(&body);
        format!("{body}{check}")
    }

    /// `[Ticket#2026112210000017]`
    pub fn subject_tag(&self, number: &str) -> String {
        format!("[{}{}]", self.tag, number)
    }

    /// Every well-formed number tagged in `subject` (Damm check digit, or
    /// the old one: the store accepts that only for tickets issued under
    /// the old scheme), in order of appearance.
    pub fn numbers_in_subject(&self, subject: &str) -> Vec<String> {
        self.subject_re
            .captures_iter(subject)
            .filter_map(|c| c.get(1))
            .map(|m| m.as_str().to_string())
            .filter(|n| is_valid(n) || is_legacy_valid(n))
            .collect()
    }

    /// A number as a person typed or pasted it (`2026112210000017`, or a
    /// whole `[Ticket#2026112210000017]` tag): the number, or why it is none.
    pub fn typed_number(&self, input: &str) -> Result<String, TypedNumberError> {
        let input = input.trim();
        let number = match self.subject_re.captures(input).and_then(|c| c.get(1)) {
            Some(m) => m.as_str(),
            None => input,
        };
        if !(16..=24).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TypedNumberError::Malformed);
        }
        // A number issued before the Damm digit keeps its old digit: such
        // a number is only a candidate here; the lookup decides (a store
        // holds an old-digit number only for a ticket issued with it).
        if !is_valid(number) && !is_legacy_valid(number) {
            return Err(TypedNumberError::WrongCheckDigit);
        }
        Ok(number.to_string())
    }

    /// The subject with our tag(s) removed and reply/forward prefixes
    /// stripped, for a new ticket's title.
    pub fn clean_subject(&self, subject: &str) -> String {
        let without = self.subject_re.replace_all(subject, " ");
        let mut s = without.split_whitespace().collect::<Vec<_>>().join(" ");
        loop {
            let lower = s.to_lowercase();
            let prefix = REPLY_PREFIXES
                .iter()
                .find(|p| lower.starts_with(*p))
                .map(|p| p.len());
            match prefix {
                Some(n) => s = s[n..].trim_start().to_string(),
                None => break,
            }
        }
        s
    }
}

/// Why a typed ticket number is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedNumberError {
    /// Not 16 to 24 digits (nor a tag holding them).
    Malformed,
    /// Well formed, but the check digit does not match: a typo.
    WrongCheckDigit,
}

/// Prefixes that mail clients put in front of a subject, in many languages.
const REPLY_PREFIXES: &[&str] = &[
    "re:", "aw:", "sv:", "vs:", "antw:", "res:", "r:", "ref:", "fwd:", "fw:", "tr:", "wg:", "enc:",
    "rv:", "odp:", "réf.:", "réf:", "rif:",
];

/// At most this many Message-IDs are taken from `References` (the newest):
/// enough for any real thread, and a hostile header cannot make threading
/// slow.
pub const MAX_REFERENCES: usize = 50;

/// Message-IDs named in `In-Reply-To` and `References`, normalised
/// (without angle brackets), most specific first, without repeats, at most
/// `MAX_REFERENCES + 1`.
pub fn referenced_ids(in_reply_to: &[String], references: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = Vec::new();
    // In-Reply-To names the parent; References lists ancestors oldest
    // first, so the newest ancestor comes next.
    for id in in_reply_to
        .iter()
        .take(1)
        .chain(references.iter().rev().take(MAX_REFERENCES))
    {
        let id = normalize_message_id(id);
        if !id.is_empty() && seen.insert(id.clone()) {
            out.push(id);
        }
    }
    out
}

/// `<abc@x>` → `abc@x`; whitespace removed. IDs are compared exactly
/// (RFC 5322 says they are case-sensitive).
/// Angle brackets inside, whitespace and control characters are removed so
/// the ID is safe to echo in our own `In-Reply-To`/`References`; an ID over
/// 250 bytes (no real one is) becomes empty and is ignored.
pub fn normalize_message_id(id: &str) -> String {
    let id: String = id
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && *c != '<' && *c != '>')
        .collect();
    if id.len() > 250 {
        String::new()
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Numbering {
        Numbering::new("Ticket#", 10)
    }

    fn s(value: u64) -> Serial {
        Serial { value, width: 5 }
    }

    #[test]
    fn number_format_and_tag() {
        let number = n().number("20261122", s(48372));
        assert_eq!(&number[..15], "202611221048372");
        assert!(is_valid(&number));
        assert_eq!(n().subject_tag(&number), format!("[Ticket#{number}]"));
    }

    #[test]
    fn wrong_check_digit_matches_nothing() {
        let good = n().number("20261122", s(42));
        let last = good.chars().last().unwrap().to_digit(10).unwrap();
        for d in (0..10u32).filter(|d| *d != last) {
            let bad = format!("{}{d}", &good[..good.len() - 1]);
            if is_legacy_valid(&bad) {
                // Still a candidate: the store accepts it only for a
                // ticket issued under the old scheme.
                continue;
            }
            assert!(n()
                .numbers_in_subject(&format!("Re: [Ticket#{bad}] x"))
                .is_empty());
        }
    }

    #[test]
    fn numbers_issued_under_the_old_digit_are_still_found() {
        // 2026112210000017 carries the old weighted digit.
        assert!(is_legacy_valid("2026112210000017"));
        check("Re: [Ticket#2026112210000017] x", &["2026112210000017"]);
    }

    #[test]
    fn serial_beyond_five_digits_widens() {
        let big = n().number(
            "20261122",
            Serial {
                value: 23_456,
                width: 6,
            },
        );
        assert_eq!(big.len(), 17);
        assert_eq!(&big[10..16], "023456");
        assert!(is_valid(&big));
        assert_eq!(
            n().numbers_in_subject(&format!("[Ticket#{big}]")),
            vec![big]
        );
    }

    fn check(subject: &str, expected: &[&str]) {
        assert_eq!(n().numbers_in_subject(subject), expected, "{subject}");
    }

    #[test]
    fn tag_found_among_prefixes() {
        let t = "2026112210000017";
        check(&format!("[Ticket#{t}] Printer"), &[t]);
        check(&format!("Re: [Ticket#{t}] Printer"), &[t]);
        check(&format!("RE: AW: Fwd: [Ticket#{t}] Printer"), &[t]);
        check(&format!("TR: [EXT] RES: Enc: [Ticket#{t}] x"), &[t]);
        check(&format!("[SPAM] [ticket# {t} ] x"), &[t]);
        check(&format!("x [Ticket#{t}]"), &[t]);
        check("Re: Printer", &[]);
        check(&format!("Ticket#{t} without brackets"), &[]);
    }

    #[test]
    fn typed_numbers_are_told_apart() {
        let n = n();
        let t = "2026112210000017";
        assert_eq!(n.typed_number(t), Ok(t.to_string()));
        assert_eq!(n.typed_number(&format!(" [Ticket#{t}] ")), Ok(t.into()));
        assert_eq!(
            n.typed_number(&format!("Re: [ticket# {t}] x")),
            Ok(t.into())
        );
        use TypedNumberError::*;
        assert_eq!(n.typed_number("2026112210000018"), Err(WrongCheckDigit));
        assert_eq!(
            n.typed_number("[Ticket#2026112210000018]"),
            Err(WrongCheckDigit)
        );
        for bad in ["", "12345", "2026-11-22-1000001", "abc", "[Ticket#123]"] {
            assert_eq!(n.typed_number(bad), Err(Malformed), "{bad}");
        }
    }

    #[test]
    fn tag_with_regex_characters_is_literal() {
        let n = Numbering::new("Req.*+", 10);
        let t = n.number("20261122", s(3));
        assert_eq!(
            n.numbers_in_subject(&format!("[Req.*+{t}]")),
            vec![t.clone()]
        );
        assert!(n.numbers_in_subject(&format!("[ReqXX{t}]")).is_empty());
    }

    #[test]
    fn clean_subject_strips_prefixes_and_tag() {
        let n = n();
        assert_eq!(
            n.clean_subject("Re: RE: Fwd: Printer broken"),
            "Printer broken"
        );
        assert_eq!(
            n.clean_subject("Re: [Ticket#2026112210000017] Impressora avariada"),
            "Impressora avariada"
        );
        assert_eq!(n.clean_subject("TR: Réf.: Imprimante"), "Imprimante");
        assert_eq!(n.clean_subject("Reunion"), "Reunion");
    }

    #[test]
    fn references_most_specific_first() {
        let ids = referenced_ids(
            &["<c@x>".into()],
            &["<a@x>".into(), "<b@x>".into(), "<c@x>".into()],
        );
        assert_eq!(ids, vec!["c@x", "b@x", "a@x"]);
        assert_eq!(normalize_message_id(" <a b@x>\r\n"), "ab@x");
        // A hostile References header is bounded.
        let many: Vec<String> = (0..100_000).map(|i| format!("<{i}@x>")).collect();
        let ids = referenced_ids(&[], &many);
        assert_eq!(ids.len(), MAX_REFERENCES);
        assert_eq!(ids[0], "99999@x");
        assert_eq!(normalize_message_id("<a>\r\nBcc: <x@y>"), "aBcc:x@y");
        assert_eq!(normalize_message_id(&"x".repeat(300)), "");
    }
}
