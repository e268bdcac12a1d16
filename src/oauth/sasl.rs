//! The two SASL mechanisms that carry a bearer token: Google's and
//! Microsoft's `XOAUTH2` and RFC 7628's `OAUTHBEARER`, as the initial
//! client response, and as an `async-imap` [`Authenticator`] that answers
//! a server's error challenge the way each mechanism requires (an empty
//! line for XOAUTH2, `%x01` for OAUTHBEARER), so the server ends the
//! exchange with a tagged NO that carries its reason.

use async_imap::Authenticator;

use crate::config::Mechanism;

/// The initial client response (not yet base64) for `user` and `token`;
/// `host` and `port` are OAUTHBEARER's optional fields.
pub fn initial_response(
    mechanism: Mechanism,
    user: &str,
    token: &str,
    host: &str,
    port: u16,
) -> String {
    match mechanism {
        Mechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
        Mechanism::Oauthbearer => format!(
            "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01",
            saslname(user)
        ),
    }
}

/// RFC 5801's saslname: `,` and `=` escaped.
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// IMAP `AUTHENTICATE` with a bearer token.
pub struct Bearer {
    mechanism: Mechanism,
    first: Option<String>,
}

impl Bearer {
    pub fn new(mechanism: Mechanism, user: &str, token: &str, host: &str, port: u16) -> Bearer {
        Bearer {
            mechanism,
            first: Some(initial_response(mechanism, user, token, host, port)),
        }
    }
}

impl Authenticator for Bearer {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(first) => first.into_bytes(),
            // The server's error challenge (JSON): answered as the
            // mechanism asks, so the NO with the reason follows.
            None => match self.mechanism {
                Mechanism::Xoauth2 => Vec::new(),
                Mechanism::Oauthbearer => vec![0x01],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoauth2_is_googles_format() {
        assert_eq!(
            initial_response(Mechanism::Xoauth2, "a@b.test", "tok", "h", 1),
            "user=a@b.test\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn oauthbearer_is_rfc_7628_with_an_escaped_name() {
        assert_eq!(
            initial_response(
                Mechanism::Oauthbearer,
                "a,=b@c.test",
                "tok",
                "imap.c.test",
                993
            ),
            "n,a=a=2C=3Db@c.test,\x01host=imap.c.test\x01port=993\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn an_error_challenge_is_answered_as_each_mechanism_asks() {
        let mut x = Bearer::new(Mechanism::Xoauth2, "u", "t", "h", 1);
        assert!(x.process(b"").starts_with(b"user=u"));
        assert_eq!(x.process(b"{\"status\":\"401\"}"), b"");
        let mut o = Bearer::new(Mechanism::Oauthbearer, "u", "t", "h", 1);
        assert!(o.process(b"").starts_with(b"n,a=u"));
        assert_eq!(o.process(b"{\"status\":\"invalid_token\"}"), [1]);
    }
}
