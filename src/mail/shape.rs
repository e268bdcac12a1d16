//! The shape check: before mail-parser builds a message tree, walk the raw
//! bytes the way it will and count what it would build — MIME parts,
//! nesting depth, header fields, header lines and header bytes — refusing
//! mail whose shape, not size, would cost memory or stack out of proportion
//! (50,000 nested `message/rfc822` parts, millions of empty parts, a header
//! block of a million lines). Refused mail is quarantined with its raw bytes.
//!
//! Faithful by construction: the walk calls the same [`MessageStream`]
//! primitives `MessageParser::parse` calls (header blocks, boundary seeks,
//! part decoding), in the same order, so its counts are those of the tree
//! mail-parser would build (a test checks this against the real parse).
//! Header blocks are measured in bytes and lines *before* mail-parser parses
//! them, so even the check cannot be made to allocate in proportion to a
//! hostile header. The walk is iterative; it recurses only into
//! base64/quoted-printable encoded `message/*` parts, which mail-parser
//! itself stops at [`MAX_ENCODED_NESTING`] levels.
//!
//! mail-parser re-scans to the end of the input for every boundary it fails
//! to find, so a crafted structure makes it quadratic; the walk adds up
//! those re-scans and refuses mail past [`MAX_RESCAN_FACTOR`] times its size.

use mail_parser::parsers::MessageStream;
use mail_parser::{GetHeader, Header, HeaderName, HeaderValue, MessageParser};

use super::MailError;

/// Nesting of multipart and message parts beyond this is not correspondence.
pub const MAX_DEPTH: usize = 40;
/// Parts (containers included) in one mail, nested messages included.
pub const MAX_PARTS: usize = 2_000;
/// Header lines in one header block (a folded field counts each line).
pub const MAX_HEADER_LINES_PER_BLOCK: usize = 5_000;
/// Header lines over all the mail's header blocks.
pub const MAX_HEADER_LINES: usize = 50_000;
/// Header fields over all the mail's header blocks.
pub const MAX_HEADER_FIELDS: usize = 20_000;
/// Bytes of header blocks (mail-parser turns them into many small values:
/// a list of `<a>` Message-IDs costs ~27 times its bytes once parsed).
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;
/// Semicolons in one header block: an upper bound of its parameters
/// (`; name=value`). mail-parser merges RFC 2231 continuations by searching
/// a field's whole parameter list for each piece, quadratic in their
/// number; real mail has a few dozen (DKIM, ARC, Authentication-Results).
pub const MAX_PARAMETERS_PER_BLOCK: usize = 2_000;
/// mail-parser parses base64/QP encoded `message/*` parts this deep.
pub const MAX_ENCODED_NESTING: usize = 3;
/// Bytes re-scanned by failed boundary searches, in multiples of the input.
pub const MAX_RESCAN_FACTOR: usize = 16;

/// What the walk counted (for tests and the error message).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub parts: usize,
    pub max_depth: usize,
    pub header_fields: usize,
    pub header_lines: usize,
    pub header_bytes: usize,
    pub rescanned_bytes: usize,
}

/// Walk `raw` as mail-parser will and refuse it when a limit is exceeded.
pub fn check(raw: &[u8]) -> Result<Shape, MailError> {
    let mut shape = Shape::default();
    let budget = MAX_RESCAN_FACTOR.saturating_mul(raw.len().max(1024 * 1024));
    walk(raw, MAX_ENCODED_NESTING, 0, budget, &mut shape)?;
    Ok(shape)
}

fn refuse(what: &'static str, count: usize, limit: usize) -> MailError {
    MailError::TooComplex { what, count, limit }
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum Kind {
    Multipart { digest: bool },
    Message,
    Other,
}

/// mail-parser's `mime_type`, reduced to what moves the stream.
fn kind(header: Option<&HeaderValue<'_>>, parent: Kind) -> Kind {
    match header.and_then(|h| h.as_content_type()) {
        Some(ct) => match ct.ctype() {
            "multipart" => Kind::Multipart {
                digest: ct.subtype() == Some("digest"),
            },
            "message" if matches!(ct.subtype(), Some("rfc822" | "global")) => Kind::Message,
            _ => Kind::Other,
        },
        None if parent == (Kind::Multipart { digest: true }) => Kind::Message,
        None => Kind::Other,
    }
}

struct State {
    kind: Kind,
    boundary: Option<Vec<u8>>,
}

/// One message (the input, or a decoded encoded `message/*` part), at
/// `base_depth` levels below the top.
fn walk(
    raw: &[u8],
    encoded_left: usize,
    base_depth: usize,
    budget: usize,
    shape: &mut Shape,
) -> Result<(), MailError> {
    let conf = MessageParser::default();
    let mut stream = MessageStream::new(raw);
    let mut state = State {
        kind: Kind::Message,
        boundary: None,
    };
    // (parent state, whether the child is a nested message)
    let mut stack: Vec<(State, bool)> = Vec::new();
    let mut headers: Vec<Header<'_>> = Vec::new();

    'outer: loop {
        let measured_end = measure_header_block(raw, stream.offset(), shape)?;
        headers.clear();
        let complete = stream.parse_headers(&conf, &mut headers);
        if stream.offset() > measured_end {
            // A value parser read on past the blank line (the date parser
            // does, inside an encoded word): those bytes were headers too.
            shape.header_bytes += stream.offset() - measured_end;
            if shape.header_bytes > MAX_HEADER_BYTES {
                return Err(refuse(
                    "bytes of headers",
                    shape.header_bytes,
                    MAX_HEADER_BYTES,
                ));
            }
        }
        shape.header_fields += headers.len();
        if shape.header_fields > MAX_HEADER_FIELDS {
            return Err(refuse(
                "header fields",
                shape.header_fields,
                MAX_HEADER_FIELDS,
            ));
        }
        if !complete {
            // Headers cut off by the end of the input still make a part.
            shape.parts += usize::from(!headers.is_empty());
            break;
        }
        shape.parts += 1;
        if shape.parts > MAX_PARTS {
            return Err(refuse("MIME parts", shape.parts, MAX_PARTS));
        }
        let depth = base_depth + stack.len() + 1;
        shape.max_depth = shape.max_depth.max(depth);
        if depth > MAX_DEPTH {
            return Err(refuse("levels of MIME nesting", depth, MAX_DEPTH));
        }

        let content_type = headers.header_value(&HeaderName::ContentType);
        let mut kind = kind(content_type, state.kind);
        if let Kind::Multipart { .. } = kind {
            let boundary = content_type
                .and_then(|h| h.as_content_type())
                .and_then(|ct| ct.attribute("boundary"))
                .map(|b| b.as_bytes().to_vec());
            if let Some(boundary) = boundary {
                let from = stream.offset();
                if stream.seek_next_part(&boundary) {
                    stack.push((state, false));
                    state = State {
                        kind,
                        boundary: Some(boundary),
                    };
                    stream.skip_crlf();
                    continue;
                }
                rescanned(raw.len() - from, budget, shape)?;
            }
            kind = Kind::Other;
        }

        let encoding = match headers.header_value(&HeaderName::ContentTransferEncoding) {
            Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("base64") => 1,
            Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("quoted-printable") => 2,
            _ => 0,
        };
        if kind == Kind::Message && encoding == 0 {
            let boundary = state.boundary.take();
            stack.push((state, true));
            state = State {
                kind: Kind::Message,
                boundary,
            };
            continue;
        }

        let boundary = state.boundary.as_deref().unwrap_or(b"");
        let from = stream.offset();
        let (offset_end, bytes) = match encoding {
            1 => stream.decode_base64_mime(boundary),
            2 => stream.decode_quoted_printable_mime(boundary),
            _ => stream.mime_part(boundary),
        };
        if offset_end == usize::MAX {
            // mail-parser scanned to the end, then scans again for the end.
            rescanned(raw.len() - from, budget, shape)?;
            let (_, found) = stream.seek_part_end(state.boundary.as_deref());
            if !found {
                state.boundary = None;
            }
        } else if kind == Kind::Message && encoded_left > 0 {
            walk(&bytes, encoded_left - 1, depth, budget, shape)?;
        }
        drop(bytes);

        if state.boundary.is_some() {
            loop {
                if state.kind == Kind::Message {
                    match stack.pop() {
                        Some((mut parent, true)) => {
                            parent.boundary = state.boundary.take();
                            state = parent;
                        }
                        _ => break 'outer,
                    }
                }
                if !stream.is_multipart_end() {
                    break;
                }
                match stack.pop() {
                    Some((parent, _)) => {
                        state = parent;
                        if let Some(b) = &state.boundary {
                            let from = stream.offset();
                            if stream.seek_next_part_offset(b).is_some() {
                                continue;
                            }
                            rescanned(raw.len() - from, budget, shape)?;
                        }
                        break 'outer;
                    }
                    None => break 'outer,
                }
            }
        } else if stream.offset() >= raw.len() {
            break;
        }
    }
    Ok(())
}

fn rescanned(bytes: usize, budget: usize, shape: &mut Shape) -> Result<(), MailError> {
    shape.rescanned_bytes += bytes;
    if shape.rescanned_bytes > budget {
        return Err(refuse(
            "bytes re-scanned for missing MIME boundaries",
            shape.rescanned_bytes,
            budget,
        ));
    }
    Ok(())
}

/// Measure the header block starting at `from` the way mail-parser finds its
/// end (a line of nothing but spaces, tabs and CR), before it is parsed.
/// Looks at most at the header bytes still allowed, so measuring is linear.
/// Returns where the block ends; a value parser that reads past that is
/// counted by the caller.
fn measure_header_block(raw: &[u8], from: usize, shape: &mut Shape) -> Result<usize, MailError> {
    let rest = raw.get(from..).unwrap_or_default();
    let allowed = MAX_HEADER_BYTES.saturating_sub(shape.header_bytes);
    let window = &rest[..rest.len().min(allowed + 1)];
    let mut lines = 0;
    let mut parameters = 0;
    let mut end = None;
    let mut line_start = 0;
    for (i, &b) in window.iter().enumerate() {
        if b == b';' {
            parameters += 1;
            if parameters > MAX_PARAMETERS_PER_BLOCK {
                return Err(refuse(
                    "header parameters in one header block",
                    parameters,
                    MAX_PARAMETERS_PER_BLOCK,
                ));
            }
        }
        if b != b'\n' {
            continue;
        }
        if window[line_start..i]
            .iter()
            .all(|&c| matches!(c, b' ' | b'\t' | b'\r'))
        {
            end = Some(i + 1);
            break;
        }
        lines += 1;
        if lines > MAX_HEADER_LINES_PER_BLOCK {
            return Err(refuse(
                "lines in one header block",
                lines,
                MAX_HEADER_LINES_PER_BLOCK,
            ));
        }
        line_start = i + 1;
    }
    let end = match end {
        Some(end) => end,
        // Ran out of allowance before the block ended.
        None if window.len() < rest.len() => {
            return Err(refuse(
                "bytes of headers",
                shape.header_bytes + window.len(),
                MAX_HEADER_BYTES,
            ))
        }
        None => {
            if line_start < rest.len() {
                lines += 1; // a last line without a newline
            }
            rest.len()
        }
    };
    shape.header_lines += lines;
    shape.header_bytes += end;
    let block_end = from + end;
    if shape.header_lines > MAX_HEADER_LINES {
        return Err(refuse("header lines", shape.header_lines, MAX_HEADER_LINES));
    }
    if shape.header_bytes > MAX_HEADER_BYTES {
        return Err(refuse(
            "bytes of headers",
            shape.header_bytes,
            MAX_HEADER_BYTES,
        ));
    }
    Ok(block_end)
}

#[cfg(test)]
#[path = "shape_tests.rs"]
mod tests;
