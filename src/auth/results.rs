//! A bounded reader of one `Authentication-Results` header value (RFC 8601
//! §2.2): the authserv-id, its optional version, and each method's result
//! with its reason and properties. Every value is attacker-controlled (a
//! sender can write any such header; only our own MTA's is worth reading),
//! so the reader is a single forward pass over at most
//! [`MAX_VALUE_BYTES`], keeps at most [`MAX_RESULTS`] results of at most
//! [`MAX_PROPERTIES`] properties each, never recurses (comments nest by a
//! counter) and never panics; what it cannot read is an error, not a guess.
//!
//! Written by hand: no maintained crate parses the header (mail-auth, the
//! best-kept Rust mail-authentication crate, only writes it; its own
//! DKIM/SPF verification needs DNS, which is the MTA's job here).
//! Stricter than RFC 8601 at one point: the authserv-id must come first,
//! bare (see [`parse`]). Lenient where real MTAs stray from the grammar in
//! harmless ways:
//! Microsoft 365's `action=none` and `compauth=pass reason=100` (a
//! property without a ptype is kept with an empty ptype), a `;` at the end,
//! and base64 with `=` in `header.b=`.

use serde::Serialize;

/// A longer value is refused (RFC 5322 allows 998 characters per line;
/// a folded header may be longer, but not by this much).
pub const MAX_VALUE_BYTES: usize = 8192;
/// More results than this in one header is not an MTA's work.
pub const MAX_RESULTS: usize = 32;
/// More properties than this on one result is not an MTA's work.
pub const MAX_PROPERTIES: usize = 16;

/// One `Authentication-Results` header, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthResults {
    /// Who wrote it (lower-case): the only part that says whether to
    /// believe the rest.
    pub authserv_id: String,
    /// Each method's result, in header order (empty for `; none`).
    pub results: Vec<MethodResult>,
}

/// `dkim=pass (comment) header.d=example.com …`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodResult {
    /// `dkim`, `spf`, `dmarc`, … (lower-case, version dropped).
    pub method: String,
    /// `pass`, `fail`, `none`, … (lower-case).
    pub result: String,
    pub reason: Option<String>,
    pub properties: Vec<Property>,
}

/// `ptype.property=value`, e.g. `header.d=example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Property {
    /// `smtp`, `header`, `body`, `policy` (lower-case; empty when the
    /// MTA wrote a bare `key=value`).
    pub ptype: String,
    /// `mailfrom`, `d`, `i`, `from`, … (lower-case).
    pub property: String,
    /// As written, quotes removed.
    pub value: String,
}

impl MethodResult {
    /// The value of `ptype.property`, if given.
    pub fn property(&self, ptype: &str, property: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.ptype == ptype && p.property == property)
            .map(|p| p.value.as_str())
    }
}

/// Why a header value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("longer than {MAX_VALUE_BYTES} bytes")]
    TooLong,
    #[error("no authserv-id before the first result (Microsoft 365 writes none)")]
    NoAuthservId,
    #[error("more than {MAX_RESULTS} results")]
    TooManyResults,
    #[error("more than {MAX_PROPERTIES} properties on one result")]
    TooManyProperties,
    #[error("malformed at byte {at}: {what}")]
    Malformed { at: usize, what: &'static str },
}

/// Read one header value (unfolded or not).
pub fn parse(value: &str) -> Result<AuthResults, ParseError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(ParseError::TooLong);
    }
    let mut r = Reader {
        s: value.as_bytes(),
        at: 0,
    };
    // Strict where a forgery could hide: the authserv-id is a plain
    // token, first in the value, followed by white space, `;` or the end
    // (no comment or quotes around it), so the simple pattern an MTA
    // strips forged copies with (`^Authentication-Results:\s*mx\.example\.com`)
    // sees every header this reader would take for ours.
    while r.peek().is_some_and(|b| b.is_ascii_whitespace()) {
        r.at += 1;
    }
    if matches!(r.peek(), Some(b'(' | b'"')) {
        return Err(r.malformed("a comment or quotes around the authserv-id"));
    }
    let id = r.word();
    if id.is_empty() || r.peek() == Some(b'=') {
        return Err(ParseError::NoAuthservId);
    }
    if !matches!(r.peek(), None | Some(b';')) && !r.peek().is_some_and(|b| b.is_ascii_whitespace())
    {
        return Err(r.malformed("the authserv-id runs into a comment or quotes"));
    }
    let authserv_id = id.to_ascii_lowercase();
    r.cfws()?;
    // An optional version: digits before the first ';'.
    if r.peek().is_some_and(|b| b.is_ascii_digit()) {
        let v = r.word();
        if !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(r.malformed("a version must be digits"));
        }
        r.cfws()?;
    }
    let mut results = Vec::new();
    loop {
        r.cfws()?;
        match r.peek() {
            None => break,
            Some(b';') => r.at += 1,
            Some(_) => return Err(r.malformed("expected ';' before a result")),
        }
        r.cfws()?;
        if r.peek().is_none() {
            break; // a trailing ';'
        }
        let method = r.word().to_ascii_lowercase();
        if method.is_empty() {
            return Err(r.malformed("expected a method name"));
        }
        r.cfws()?;
        if method == "none" && results.is_empty() && matches!(r.peek(), None | Some(b';')) {
            continue; // `; none`: no results
        }
        r.expect(b'=', "expected '=' after the method")?;
        r.cfws()?;
        let result = r.word().to_ascii_lowercase();
        if result.is_empty() {
            return Err(r.malformed("expected a result after '='"));
        }
        if results.len() == MAX_RESULTS {
            return Err(ParseError::TooManyResults);
        }
        let method = match method.split_once('/') {
            Some((m, _version)) => m.to_string(),
            None => method,
        };
        let mut m = MethodResult {
            method,
            result,
            reason: None,
            properties: Vec::new(),
        };
        loop {
            r.cfws()?;
            if matches!(r.peek(), None | Some(b';')) {
                break;
            }
            let key = r.word().to_ascii_lowercase();
            if key.is_empty() {
                return Err(r.malformed("expected a property"));
            }
            r.cfws()?;
            r.expect(b'=', "expected '=' after a property name")?;
            r.cfws()?;
            let value = r.value()?;
            if key == "reason" && m.reason.is_none() {
                m.reason = Some(value);
                continue;
            }
            if m.properties.len() == MAX_PROPERTIES {
                return Err(ParseError::TooManyProperties);
            }
            let (ptype, property) = key.split_once('.').unwrap_or(("", &key));
            m.properties.push(Property {
                ptype: ptype.to_string(),
                property: property.to_string(),
                value,
            });
        }
        results.push(m);
    }
    Ok(AuthResults {
        authserv_id,
        results,
    })
}

/// A cursor over the value's bytes; every method consumes or stops.
struct Reader<'a> {
    s: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn malformed(&self, what: &'static str) -> ParseError {
        ParseError::Malformed { at: self.at, what }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.malformed(what))
        }
    }

    /// Skip white space and comments; comments nest (by a counter) and
    /// may hold quoted pairs.
    fn cfws(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() => self.at += 1,
                Some(b'(') => {
                    let mut depth = 0usize;
                    loop {
                        match self.peek() {
                            None => return Err(self.malformed("a comment is not closed")),
                            Some(b'\\') => self.at += 2,
                            Some(b'(') => {
                                depth += 1;
                                self.at += 1;
                            }
                            Some(b')') => {
                                depth -= 1;
                                self.at += 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Some(_) => self.at += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// A name: up to white space, a comment, `;`, `=` or a quote.
    fn word(&mut self) -> String {
        self.run(|b| !matches!(b, b';' | b'=' | b'(' | b')' | b'"'))
    }

    /// A value: a quoted string, or up to white space, a comment or `;`
    /// (`=` allowed: base64 in `header.b=`).
    fn value(&mut self) -> Result<String, ParseError> {
        if self.peek() != Some(b'"') {
            let v = self.run(|b| !matches!(b, b';' | b'(' | b')' | b'"'));
            if v.is_empty() {
                return Err(self.malformed("expected a value"));
            }
            return Ok(v);
        }
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.malformed("a quoted string is not closed")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    if let Some(&b) = self.s.get(self.at + 1) {
                        out.push(b);
                    }
                    self.at += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.at += 1;
                }
            }
        }
    }

    /// The longest run of visible bytes that `keep` allows.
    fn run(&mut self, keep: impl Fn(u8) -> bool) -> String {
        let start = self.at;
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() || b.is_ascii_control() || !keep(b) {
                break;
            }
            self.at += 1;
        }
        // Stops only at ASCII bytes, so the cut is on a char boundary.
        String::from_utf8_lossy(&self.s[start..self.at]).into_owned()
    }
}
