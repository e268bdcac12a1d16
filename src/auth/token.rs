//! Reply tokens: an HMAC-SHA256 over (ticket number, agent address
//! lower-cased) under the secret [`ReplyKey`], cut to [`TOKEN_CHARS`]
//! base32 characters (50 bits), carried in a plus-address of the
//! mailbox's support address: `support+t2026112210000017-k7f3qx2m9a@example.com`.
//! postdesk puts it in the Reply-To of the alerts it sends an agent, so a
//! reply from that agent's mailbox to that address proves the agent read
//! that alert. A token for another ticket or another address does not
//! verify; comparison is constant-time. Pure (the key comes from
//! [`super::key`]).

use data_encoding::{Encoding, Specification};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::key::ReplyKey;

/// Characters of base32 in a token: 50 bits.
pub const TOKEN_CHARS: usize = 10;

/// A ticket number longer than this is not one of ours.
const MAX_NUMBER_DIGITS: usize = 40;

/// What the MAC is computed over, so a token can never be mistaken for
/// another use of the same key.
const DOMAIN: &[u8] = b"postdesk reply token v1\0";

/// RFC 4648 base32 in lower case, no padding (local parts are matched
/// without regard to case; lower case reads better).
fn base32() -> Encoding {
    let mut spec = Specification::new();
    spec.symbols.push_str("abcdefghijklmnopqrstuvwxyz234567");
    // The specification above is a valid one (32 distinct ASCII symbols).
    spec.encoding().expect("a valid base32 specification")
}

/// The token for `ticket` and `agent` (any case: it is lower-cased).
pub fn mint(key: &ReplyKey, ticket: &str, agent: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC accepts a key of any length");
    mac.update(DOMAIN);
    mac.update(ticket.as_bytes());
    mac.update(b"\0");
    mac.update(agent.trim().to_lowercase().as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut s = base32().encode(&tag[..7]);
    s.truncate(TOKEN_CHARS);
    s
}

/// Does `token` (any case) belong to `ticket` and `agent`? Constant time
/// in the token's content.
pub fn verify(key: &ReplyKey, ticket: &str, agent: &str, token: &str) -> bool {
    let expected = mint(key, ticket, agent);
    let given = token.to_ascii_lowercase();
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The reply address for `ticket` and `agent` under `support`
/// (`local@domain` → `local+t<ticket>-<token>@domain`).
pub fn reply_address(key: &ReplyKey, support: &str, ticket: &str, agent: &str) -> Option<String> {
    let (local, domain) = support.rsplit_once('@')?;
    let local = local.split_once('+').map_or(local, |(l, _)| l);
    let token = mint(key, ticket, agent);
    Some(format!("{local}+t{ticket}-{token}@{domain}"))
}

/// A reply address taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// The address without its tag, lower-case (`support@example.com`).
    pub base: String,
    /// The ticket number in the tag.
    pub ticket: String,
    /// The token as written (lower-cased).
    pub token: String,
}

/// Take `address` apart if its `+tag` has the reply-token shape
/// (`t<digits>-<10 base32 characters>`); None for any other address.
pub fn parse_reply_address(address: &str) -> Option<Tagged> {
    let address = address.trim().to_lowercase();
    let (local, domain) = address.rsplit_once('@')?;
    let (base, tag) = local.split_once('+')?;
    let (ticket, token) = tag.strip_prefix('t')?.split_once('-')?;
    let number = !ticket.is_empty()
        && ticket.len() <= MAX_NUMBER_DIGITS
        && ticket.bytes().all(|b| b.is_ascii_digit());
    let token_shape = token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    if !number || !token_shape || base.is_empty() || domain.is_empty() {
        return None;
    }
    Some(Tagged {
        base: format!("{base}@{}", domain.trim_end_matches('.')),
        ticket: ticket.to_string(),
        token: token.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> ReplyKey {
        ReplyKey::from_bytes([b; 32])
    }

    const T: &str = "2026112210000017";

    #[test]
    fn a_token_verifies_for_its_ticket_and_agent_only() {
        let k = key(7);
        let t = mint(&k, T, "alice@example.com");
        assert_eq!(t.len(), TOKEN_CHARS);
        assert!(verify(&k, T, "alice@example.com", &t));
        assert!(!verify(&k, "2026112210000025", "alice@example.com", &t));
        assert!(!verify(&k, T, "bob@example.com", &t));
        assert!(!verify(&key(8), T, "alice@example.com", &t), "another key");
    }

    #[test]
    fn case_of_the_address_and_the_token_does_not_matter() {
        let k = key(7);
        let t = mint(&k, T, "Alice@Example.COM");
        assert_eq!(t, mint(&k, T, "alice@example.com"));
        assert!(verify(&k, T, "ALICE@example.com", &t.to_uppercase()));
    }

    #[test]
    fn a_tampered_token_fails() {
        let k = key(7);
        let t = mint(&k, T, "alice@example.com");
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let tampered = String::from_utf8(b).unwrap();
            assert!(!verify(&k, T, "alice@example.com", &tampered), "{tampered}");
        }
        assert!(!verify(&k, T, "alice@example.com", &t[..9]));
        assert!(!verify(&k, T, "alice@example.com", &format!("{t}a")));
        assert!(!verify(&k, T, "alice@example.com", ""));
    }

    #[test]
    fn reply_address_round_trips() {
        let k = key(1);
        let a = reply_address(&k, "support@example.com", T, "alice@example.com").unwrap();
        let p = parse_reply_address(&a).unwrap();
        assert_eq!(p.base, "support@example.com");
        assert_eq!(p.ticket, T);
        assert!(verify(&k, &p.ticket, "alice@example.com", &p.token));
        assert!(a.starts_with(&format!("support+t{T}-")), "{a}");
        // A support address that carries a tag already keeps only its base.
        let b = reply_address(&k, "support+desk@example.com", T, "x@y.z").unwrap();
        assert!(b.starts_with("support+t"), "{b}");
    }

    #[test]
    fn other_plus_addresses_are_not_reply_addresses() {
        for a in [
            "support@example.com",
            "support+news@example.com",
            "support+t2026-short@example.com",
            "support+t-abcdefghij@example.com",
            "support+tx026-abcdefghij@example.com",
            "support+t2026-abcdefgh1j@example.com", // 1 is not base32
            "support+t2026-abcdefghijk@example.com",
            "+t2026-abcdefghij@example.com",
            "support+t2026-abcdefghij@",
            "support+t2026-abcdefghij",
        ] {
            assert_eq!(parse_reply_address(a), None, "{a}");
        }
        let long = format!("s+t{}-abcdefghij@example.com", "1".repeat(41));
        assert_eq!(parse_reply_address(&long), None);
    }
}
