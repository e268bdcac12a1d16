//! The shape check against mail-parser itself: on the corpus and on
//! generated odd structures its counts must never be below what the real
//! parse builds; hostile shapes are refused with the limit they break.

use super::*;
use mail_parser::{Message, PartType};

/// Parts and header fields of a parsed message, nested messages included.
fn actual(raw: &[u8]) -> (usize, usize) {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return (0, 0);
    };
    let (mut parts, mut fields) = (0, 0);
    let mut pending: Vec<&Message<'_>> = vec![&msg];
    while let Some(m) = pending.pop() {
        parts += m.parts.len();
        for p in &m.parts {
            fields += p.headers.len();
            if let PartType::Message(inner) = &p.body {
                pending.push(inner);
            }
        }
    }
    (parts, fields)
}

fn check_bound(what: &str, raw: &[u8]) -> Shape {
    let shape = check(raw).unwrap_or_else(|e| panic!("{what}: refused: {e}"));
    let (parts, fields) = actual(raw);
    assert!(
        shape.parts >= parts,
        "{what}: counted {} parts, mail-parser built {parts}\n{}",
        shape.parts,
        String::from_utf8_lossy(raw)
    );
    assert!(
        shape.header_fields >= fields,
        "{what}: counted {} fields, mail-parser parsed {fields}",
        shape.header_fields
    );
    shape
}

#[test]
fn corpus_counts_bound_the_real_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "eml") {
            let raw = std::fs::read(&path).unwrap();
            let shape = check_bound(&path.display().to_string(), &raw);
            assert_eq!(shape.parts, actual(&raw).0, "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 5, "corpus not found in {dir}");
}

/// A tiny deterministic generator (xorshift), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in data.chunks(3).enumerate() {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out
}

/// One entity (headers + body) of a random odd structure.
fn entity(g: &mut Gen, depth: u32, nl: &str) -> String {
    let mut s = String::new();
    if g.next(4) == 0 {
        s.push_str(&format!("X-Noise: {}{nl}", g.next(1000)));
    }
    let choice = if depth == 0 { 4 + g.next(3) } else { g.next(7) };
    match choice {
        0..=1 => {
            let b = format!("b{}{}", depth, g.next(3));
            let sub = ["mixed", "digest", "alternative", "related"][g.next(4) as usize];
            s.push_str(&format!(
                "Content-Type: multipart/{sub}; boundary=\"{b}\"{nl}{nl}preamble --{b}x{nl}"
            ));
            for _ in 0..g.next(4) {
                s.push_str(&format!("--{b}{nl}"));
                if sub == "digest" && g.next(2) == 0 {
                    s.push_str(nl); // no headers: a message by default
                }
                s.push_str(&entity(g, depth - 1, nl));
                s.push_str(nl);
            }
            match g.next(4) {
                0 => {}                                        // missing close
                1 => s.push_str(&format!("text --{b}--{nl}")), // mid-line
                _ => s.push_str(&format!("--{b}--{nl}epilogue{nl}")),
            }
        }
        2 => {
            s.push_str(&format!("Content-Type: message/rfc822{nl}{nl}"));
            s.push_str(&entity(g, depth - 1, nl));
        }
        3 => {
            let inner = entity(g, depth - 1, nl);
            s.push_str(&format!(
                "Content-Type: message/rfc822{nl}Content-Transfer-Encoding: base64{nl}{nl}{}{nl}",
                base64(inner.as_bytes())
            ));
        }
        4 => s.push_str(&format!("Content-Type: text/plain{nl}{nl}hello{nl}")),
        5 => s.push_str(&format!(
            "Content-Type: application/pdf{nl}Content-Transfer-Encoding: base64{nl}{nl}aGVsbG8={nl}"
        )),
        _ => s.push_str(&format!("Subject: leaf{nl}{nl}-- not a boundary{nl}")),
    }
    s
}

#[test]
fn generated_structures_counts_bound_the_real_parse() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    for i in 0..3000 {
        let nl = if i % 2 == 0 { "\r\n" } else { "\n" };
        let mut raw = format!("From: a@b.example{nl}").into_bytes();
        raw.extend_from_slice(entity(&mut g, 4, nl).as_bytes());
        if i % 7 == 0 {
            let cut = g.next(raw.len() as u64) as usize;
            raw.truncate(cut); // structures cut off anywhere
        }
        check_bound(&format!("case {i}"), &raw);
    }
}

fn refused(raw: &[u8]) -> (&'static str, usize, usize) {
    match check(raw) {
        Err(MailError::TooComplex { what, count, limit }) => (what, count, limit),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn nested_messages_are_refused_by_depth() {
    let mut raw = String::from("From: a@b.example\r\n");
    for _ in 0..50_000 {
        raw.push_str("Content-Type: message/rfc822\r\n\r\n");
    }
    raw.push_str("Subject: core\r\n\r\nhi\r\n");
    let (what, count, limit) = refused(raw.as_bytes());
    assert_eq!(
        (what, count, limit),
        ("levels of MIME nesting", 41, MAX_DEPTH)
    );
}

#[test]
fn many_tiny_parts_are_refused_by_count() {
    let mut raw =
        String::from("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    for _ in 0..100_000 {
        raw.push_str("--b\r\n\r\nx\r\n");
    }
    assert_eq!(refused(raw.as_bytes()).0, "MIME parts");
    assert_eq!(MAX_PARTS, 2_000);
}

/// Regression: 60,000 RFC 2231 continuation pieces in one Content-Type
/// cost mail-parser 39 s of CPU (it merges them quadratically).
#[test]
fn many_parameter_continuations_are_refused_before_the_quadratic_merge() {
    let mut raw = String::from("From: a@b.example\r\nContent-Type: text/plain");
    for i in 0..60_000 {
        raw.push_str(&format!("; k{i}*1=a"));
    }
    raw.push_str("\r\n\r\nbody\r\n");
    let (what, _, limit) = refused(raw.as_bytes());
    assert_eq!(
        (what, limit),
        (
            "header parameters in one header block",
            MAX_PARAMETERS_PER_BLOCK
        )
    );
}

#[test]
fn header_floods_are_refused() {
    let many_lines = format!("From: a@b.example\r\n{}\r\nbody", "X: y\r\n".repeat(10_000));
    assert_eq!(
        refused(many_lines.as_bytes()).0,
        "lines in one header block"
    );

    let huge_to = format!(
        "From: a@b.example\r\nTo: {}\r\n\r\nbody",
        "a@b,".repeat(1_000_000)
    );
    assert_eq!(refused(huge_to.as_bytes()).0, "bytes of headers");

    // Many parts, each with a header block just under the per-block limit.
    let mut total =
        String::from("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    for _ in 0..20 {
        total.push_str("--b\r\n");
        total.push_str(&"X: y\r\n z\r\n z\r\n z\r\n".repeat(1_000));
        total.push_str("\r\nx\r\n");
    }
    assert_eq!(refused(total.as_bytes()).0, "header lines");
}

#[test]
fn missing_boundaries_cannot_make_the_parse_quadratic() {
    // Every part announces a boundary that never comes: mail-parser searches
    // to the end of the mail for each.
    let mut raw =
        String::from("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    for _ in 0..1_900 {
        raw.push_str("--b\r\nContent-Type: multipart/mixed; boundary=nowhere\r\n\r\n");
        raw.push_str(&"filler ".repeat(400));
        raw.push_str("\r\n");
    }
    assert_eq!(
        refused(raw.as_bytes()).0,
        "bytes re-scanned for missing MIME boundaries"
    );
}

#[test]
fn ordinary_shapes_pass() {
    let raw = "From: a@b.example\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhi\r\n--XX\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.example\r\nSubject: fwd\r\n\r\ninner\r\n--XX--\r\n";
    let shape = check_bound("forward", raw.as_bytes());
    assert_eq!(shape.parts, 4);
    assert_eq!(shape.max_depth, 3);
}

#[test]
fn a_value_parser_running_past_the_blank_line_is_counted() {
    // mail-parser's date parser reads an encoded word across a blank line.
    let mut raw = String::from("From: a@b.example\nDate: =?utf-8?q?\n\n");
    raw.push_str(&"body line\n".repeat(200_000));
    assert_eq!(refused(raw.as_bytes()).0, "bytes of headers");
}
