//! Agent authenticity: what proves that a mail claiming an agent's From
//! really comes from that agent. Two proofs count (issue 8, item 6):
//!
//! 1. an `Authentication-Results` header written by the operator's own MTA
//!    (its authserv-id listed in `[auth] authserv_id`) that says
//!    `dkim=pass` with `header.d` (or `header.i`) aligned to the From
//!    domain, or `spf=pass` with `smtp.mailfrom` aligned
//!    ([`align`]: same organisational domain). Only the topmost headers
//!    count: reading from the top, every header up to the first foreign
//!    (or unreadable) one; that one and all below it are ignored, and the
//!    evidence says so. No authserv-id configured: no header counts.
//! 2. a reply address carrying a [`token`] that postdesk put in this
//!    agent's alert for this ticket.
//!
//! Pure: [`Checker::check`] turns the mail's headers and recipients into
//! [`Authenticity`] evidence (computed by the facts stage, carried by the
//! plan, printed by `explain`), and [`powers::agent_powers`] is the one
//! decision the decide stage asks. Only [`key`] touches a file.

pub mod align;
pub mod key;
pub mod powers;
pub mod results;
pub mod token;

use serde::Serialize;

pub use key::ReplyKey;
pub use powers::{agent_powers, PowerDecision};

/// At most this many `Authentication-Results` headers are read per mail.
pub const MAX_HEADERS_READ: usize = 16;

/// What the checks found for one mail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Authenticity {
    /// The From address the evidence is about (lower-case).
    pub from: String,
    /// Each `Authentication-Results` header, top first, and what was made
    /// of it.
    pub headers: Vec<HeaderCheck>,
    /// The aligned pass that authenticates the From's domain, if any.
    pub authenticated: Option<Pass>,
    /// In one line: what authenticates the From, or why nothing does.
    pub summary: String,
    /// A reply-address token among the recipients, and whether it verifies.
    pub token: Option<TokenCheck>,
}

/// One `Authentication-Results` header and its fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderCheck {
    /// 1 = the topmost header of its name.
    pub position: usize,
    /// Who wrote it (None: unreadable).
    pub authserv_id: Option<String>,
    /// It was believed.
    pub counted: bool,
    /// Its authserv-id is not ours (or it could not be read).
    pub foreign: bool,
    /// What was made of it.
    pub said: String,
}

/// A method that passed, aligned with the From's domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pass {
    /// Which header (1 = topmost).
    pub position: usize,
    pub authserv_id: String,
    /// `dkim` or `spf`.
    pub method: String,
    /// The authenticated domain (`header.d`/`header.i`, `smtp.mailfrom`).
    pub domain: String,
    pub from_domain: String,
}

/// A reply-address token found among the recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenCheck {
    /// The recipient address that carried it.
    pub address: String,
    /// The ticket number it names.
    pub ticket: String,
    /// The address it was checked for (the From).
    pub agent: String,
    pub valid: bool,
    pub said: String,
}

/// What the check needs besides the mail.
#[derive(Debug, Clone, Default)]
pub struct Checker {
    /// `[auth] authserv_id`, lower-case: the MTAs whose headers count.
    pub trusted: Vec<String>,
    /// The mailboxes' support addresses, lower-case: where a reply
    /// address may point.
    pub support: Vec<String>,
}

/// The reply-token key as the check sees it.
pub enum KeyState<'a> {
    Ready(&'a ReplyKey),
    /// No key file yet: no token was ever issued.
    Missing,
    /// The key file could not be read (the message says why).
    Broken(String),
}

impl Checker {
    /// The evidence for a mail from `from` with these top-level `headers`
    /// (name, value; as `mail::InboundMail::headers`) and `recipients`
    /// (To, Cc, Delivered-To …).
    pub fn check<'r>(
        &self,
        from: &str,
        headers: &[(String, String)],
        recipients: impl IntoIterator<Item = &'r str>,
        key: &KeyState,
    ) -> Authenticity {
        let from = from.trim().to_lowercase();
        let mut a = Authenticity {
            from: from.clone(),
            ..Authenticity::default()
        };
        check_headers(&mut a, &self.trusted, headers);
        a.token = recipients
            .into_iter()
            .filter_map(token::parse_reply_address)
            .find(|t| self.support.contains(&t.base))
            .map(|t| check_token(&from, &t, key));
        a
    }
}

fn check_headers(a: &mut Authenticity, trusted: &[String], headers: &[(String, String)]) {
    let from_domain = align::domain_of(&a.from);
    let mut counting = true;
    let all = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Authentication-Results"));
    let mut seen = 0;
    for (i, (_, value)) in all.enumerate() {
        let position = i + 1;
        if i == MAX_HEADERS_READ {
            a.headers.push(HeaderCheck {
                position,
                authserv_id: None,
                counted: false,
                foreign: false,
                said: format!("more than {MAX_HEADERS_READ} headers: the rest are not read"),
            });
            break;
        }
        seen += 1;
        let h = read_header(position, value, trusted, &mut counting);
        let Some(results) = h.1 else {
            a.headers.push(h.0);
            continue;
        };
        let mut h = h.0;
        let id = h.authserv_id.clone().unwrap_or_default();
        let mut said = Vec::new();
        for r in results.results.iter().filter(|r| r.result == "pass") {
            let domain = match r.method.as_str() {
                "dkim" => r
                    .property("header", "d")
                    .or_else(|| r.property("header", "i"))
                    .map(align::domain_of),
                "spf" => r.property("smtp", "mailfrom").map(align::domain_of),
                _ => continue,
            };
            let Some(domain) = domain.filter(|d| !d.is_empty()) else {
                said.push(format!("{}=pass names no domain", r.method));
                continue;
            };
            if align::aligned(&domain, &from_domain) {
                said.push(format!(
                    "{}=pass for {domain}, aligned with the From domain {from_domain}",
                    r.method
                ));
                a.authenticated.get_or_insert(Pass {
                    position,
                    authserv_id: id.clone(),
                    method: r.method.clone(),
                    domain,
                    from_domain: from_domain.clone(),
                });
            } else {
                said.push(format!(
                    "{}=pass for {domain}, not aligned with the From domain {from_domain:?}",
                    r.method
                ));
            }
        }
        if said.is_empty() {
            said.push("no dkim or spf pass".into());
        }
        h.said = format!("trusted ({id}): {}", said.join("; "));
        a.headers.push(h);
    }
    a.summary = match &a.authenticated {
        Some(p) => format!(
            "authenticated: {}=pass for {} (aligned with {}) in the Authentication-Results of {}",
            p.method, p.domain, p.from_domain, p.authserv_id
        ),
        None if trusted.is_empty() => "not authenticated: no [auth] authserv_id is configured, so no Authentication-Results header is believed".into(),
        None if seen == 0 => "not authenticated: the mail has no Authentication-Results header".into(),
        None if a.headers.iter().all(|h| !h.counted) => "not authenticated: no Authentication-Results header of ours at the top".into(),
        None => format!(
            "not authenticated: no dkim or spf pass aligned with the From domain {from_domain:?} in our Authentication-Results"
        ),
    };
}

/// One header's check, and its results if it is believed.
fn read_header(
    position: usize,
    value: &str,
    trusted: &[String],
    counting: &mut bool,
) -> (HeaderCheck, Option<results::AuthResults>) {
    let mut h = HeaderCheck {
        position,
        authserv_id: None,
        counted: false,
        foreign: false,
        said: String::new(),
    };
    // `mail::headers` cuts long values: a cut header could say anything.
    if value.chars().count() >= crate::mail::MAX_HEADER_VALUE_CHARS {
        h.foreign = *counting;
        h.said = format!(
            "longer than {} characters (cut when read): not believed, nor any header below it",
            crate::mail::MAX_HEADER_VALUE_CHARS
        );
        *counting = false;
        return (h, None);
    }
    let parsed = match results::parse(value) {
        Ok(r) => r,
        Err(e) => {
            h.foreign = *counting;
            h.said = if *counting {
                format!("unreadable ({e}): not believed, nor any header below it")
            } else {
                format!("unreadable ({e}), and below a foreign header: ignored")
            };
            *counting = false;
            return (h, None);
        }
    };
    let id = parsed.authserv_id.clone();
    h.authserv_id = Some(id.clone());
    let ours = trusted.contains(&id);
    if !ours {
        h.foreign = true;
        h.said = if trusted.is_empty() {
            format!("authserv-id {id}: ignored (no [auth] authserv_id is configured)")
        } else if *counting {
            format!("authserv-id {id} is not ours: ignored, and every header below it")
        } else {
            format!("authserv-id {id} is not ours: ignored")
        };
        *counting = false;
        return (h, None);
    }
    if !*counting {
        h.said = format!(
            "authserv-id {id} is ours, but the header is below a foreign or unreadable one: ignored"
        );
        return (h, None);
    }
    h.counted = true;
    (h, Some(parsed))
}

fn check_token(from: &str, t: &token::Tagged, key: &KeyState) -> TokenCheck {
    let (valid, said) = match key {
        KeyState::Ready(k) if token::verify(k, &t.ticket, from, &t.token) => (
            true,
            format!("valid: issued for ticket {} to {from}", t.ticket),
        ),
        KeyState::Ready(_) => (
            false,
            format!(
                "invalid: not a token issued for ticket {} to {from} (another ticket, another address, or made up)",
                t.ticket
            ),
        ),
        KeyState::Missing => (
            false,
            "invalid: no reply-token key exists yet, so no token was ever issued".into(),
        ),
        KeyState::Broken(e) => (false, format!("not checked: {e}")),
    };
    TokenCheck {
        address: match t.base.split_once('@') {
            Some((local, domain)) => format!("{local}+t{}-{}@{domain}", t.ticket, t.token),
            None => t.base.clone(),
        },
        ticket: t.ticket.clone(),
        agent: from.to_string(),
        valid,
        said,
    }
}

impl Authenticity {
    /// What deserves a warning in the log: a foreign or unreadable header,
    /// an invalid token.
    pub fn warnings(&self) -> Vec<String> {
        let mut w: Vec<String> = self
            .headers
            .iter()
            .filter(|h| h.foreign)
            .map(|h| format!("Authentication-Results #{}: {}", h.position, h.said))
            .collect();
        if let Some(t) = self.token.as_ref().filter(|t| !t.valid) {
            w.push(format!(
                "reply-address token for ticket {}: {}",
                t.ticket, t.said
            ));
        }
        w
    }
}

#[cfg(test)]
mod tests;
