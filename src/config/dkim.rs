//! `[smtp] dkim = { domain, selector, key_file }`: the key everything
//! postdesk sends is signed with (DKIM, RFC 6376), read and checked when
//! the configuration is (`postdesk check`, daemon start, `ingest`), so a
//! bad key is a configuration error naming the file, never a failure at
//! the first mail. The DNS record is not looked up: publishing it is the
//! operator's business.
//!
//! Keys: RSA in PEM, PKCS#1 (`BEGIN RSA PRIVATE KEY`, `openssl genrsa`)
//! or PKCS#8 (`BEGIN PRIVATE KEY`, `openssl genpkey -algorithm rsa`), at
//! least 1024 bits (RFC 8301; 2048 recommended); or Ed25519 (RFC 8463) as
//! the base64 of its 32-byte seed. Signing is mail-auth's, with ring (the
//! rsa crate's arithmetic, which lettre's signer uses, took ~2.8 ms per
//! RSA-2048 signature: four times the CPU of the rest of a message's
//! handling; BENCHMARKS.md "DKIM").

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256 as DkimSha256, SigningKey};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

/// `[smtp] dkim` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDkim {
    pub(super) domain: String,
    pub(super) selector: String,
    pub(super) key_file: PathBuf,
}

/// The header fields signed (one of each; an absent one is signed as
/// absent, so it cannot be added on the way).
const SIGNED: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// RSA keys shorter than this are refused (RFC 8301).
const MIN_RSA_BITS: usize = 1024;

/// A checked DKIM key, ready to sign.
#[derive(Clone)]
pub struct Dkim {
    pub domain: String,
    pub selector: String,
    pub key_file: PathBuf,
    /// `rsa-sha256` or `ed25519-sha256`.
    pub algorithm: &'static str,
    signer: Arc<Signer>,
    /// SHA-256 of the key file: a reload compares keys by it.
    key_digest: [u8; 32],
}

/// The signer for the key's algorithm, relaxed/relaxed, [`SIGNED`].
enum Signer {
    Rsa(DkimSigner<RsaKey<DkimSha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

impl Dkim {
    /// `message` (a whole mail, CRLF line ends) with its DKIM-Signature
    /// field in front.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let signature = match &*self.signer {
            Signer::Rsa(s) => s.sign(message),
            Signer::Ed25519(s) => s.sign(message),
        }
        .map_err(|e| format!("DKIM signing with {}: {e}", self.key_file.display()))?;
        let mut signed = signature.to_header().into_bytes();
        signed.extend_from_slice(message);
        Ok(signed)
    }
}

impl PartialEq for Dkim {
    fn eq(&self, o: &Self) -> bool {
        (
            &self.domain,
            &self.selector,
            &self.key_file,
            self.key_digest,
        ) == (&o.domain, &o.selector, &o.key_file, o.key_digest)
    }
}

impl std::fmt::Debug for Dkim {
    // Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dkim")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("key_file", &self.key_file)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// Check `raw` (paths relative to `base`); every problem goes to
/// `problems`, keyed `smtp.dkim.…`.
pub(super) fn check(raw: RawDkim, base: &Path, problems: &mut Vec<String>) -> Option<Dkim> {
    let before = problems.len();
    let domain = raw.domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if !is_domain(&domain) {
        problems.push(format!(
            "smtp.dkim.domain: {:?} is not a domain name (e.g. \"example.com\", the domain of your From addresses)",
            raw.domain
        ));
    }
    if raw.selector.is_empty()
        || !raw.selector.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    {
        problems.push(format!(
            "smtp.dkim.selector: {:?} is not a selector (letters, digits, '-' and '_', e.g. \"postdesk2026\")",
            raw.selector
        ));
    }
    let key_file = if raw.key_file.is_absolute() {
        raw.key_file
    } else {
        base.join(raw.key_file)
    };
    let text = match std::fs::read_to_string(&key_file) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!(
                "smtp.dkim.key_file: cannot read {}: {e} (the daemon's user must be able to read it)",
                key_file.display()
            ));
            return None;
        }
    };
    let (key, algorithm) = match signing_key(text.trim()) {
        Ok(k) => k,
        Err(why) => {
            problems.push(format!(
                "smtp.dkim.key_file: {} is not a usable DKIM key: {why}",
                key_file.display()
            ));
            return None;
        }
    };
    if problems.len() > before {
        return None;
    }
    let signer = match key {
        Key::Rsa(k) => Signer::Rsa(signer(k, &domain, &raw.selector)),
        Key::Ed25519(k) => Signer::Ed25519(signer(k, &domain, &raw.selector)),
    };
    Some(Dkim {
        domain,
        selector: raw.selector,
        key_file,
        algorithm,
        signer: Arc::new(signer),
        key_digest: Sha256::digest(text.as_bytes()).into(),
    })
}

/// The signer of `key` for `domain` and `selector`: relaxed/relaxed,
/// the fields of [`SIGNED`].
fn signer<T: SigningKey>(key: T, domain: &str, selector: &str) -> DkimSigner<T, Done> {
    DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(SIGNED.iter().copied())
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}

/// A key read from its file.
enum Key {
    Rsa(RsaKey<DkimSha256>),
    Ed25519(Ed25519Key),
}

/// The key in `text`, or what is wrong with it.
fn signing_key(text: &str) -> Result<(Key, &'static str), String> {
    const HINT: &str = "expected an RSA private key in PEM (`openssl genrsa -out dkim.pem 2048`) \
                        or an Ed25519 seed in base64";
    if text.starts_with("-----BEGIN") {
        let rsa = if text.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            rsa::RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| format!("{e}; {HINT}"))?
        } else if text.starts_with("-----BEGIN PRIVATE KEY-----") {
            rsa::RsaPrivateKey::from_pkcs8_pem(text)
                .map_err(|e| format!("not an RSA key in PKCS#8 ({e}); {HINT}"))?
        } else {
            return Err(format!(
                "{:?} is not a private key; {HINT}",
                text.lines().next().unwrap_or_default()
            ));
        };
        let bits = rsa.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "an RSA key of {bits} bits: at least {MIN_RSA_BITS} are needed (RFC 8301), 2048 recommended"
            ));
        }
        let der = rsa.to_pkcs1_der().map_err(|e| e.to_string())?;
        let der = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.as_bytes()));
        let key = RsaKey::<DkimSha256>::from_key_der(der).map_err(|e| format!("{e}; {HINT}"))?;
        return Ok((Key::Rsa(key), "rsa-sha256"));
    }
    let not_seed = |why: String| format!("not PEM, and not an Ed25519 seed ({why}); {HINT}");
    let seed = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| not_seed(e.to_string()))?;
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|_| not_seed(format!("{} bytes where a seed has 32", seed.len())))?;
    let public = ring::signature::KeyPair::public_key(&pair);
    let key = Ed25519Key::from_seed_and_public_key(&seed, public.as_ref())
        .map_err(|e| not_seed(e.to_string()))?;
    Ok((Key::Ed25519(key), "ed25519-sha256"))
}

fn is_domain(d: &str) -> bool {
    d.contains('.')
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_key(text: &str) -> Result<&'static str, String> {
        signing_key(text).map(|(_, a)| a)
    }

    #[test]
    fn keys_are_read_or_refused_with_the_reason() {
        // A real 2048-bit key is generated by the integration test; here
        // the refusals and the Ed25519 seed.
        assert_eq!(
            check_key("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="),
            Ok("ed25519-sha256")
        );
        let e = check_key("not a key").unwrap_err();
        assert!(e.contains("not PEM"), "{e}");
        let e =
            check_key("-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----").unwrap_err();
        assert!(e.contains("is not a private key"), "{e}");
        let e = check_key("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----")
            .unwrap_err();
        assert!(e.contains("openssl genrsa"), "{e}");
    }

    #[test]
    fn domains_and_selectors_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        std::fs::write(&key, "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=").unwrap();
        let mut problems = Vec::new();
        let raw = |domain: &str, selector: &str| RawDkim {
            domain: domain.into(),
            selector: selector.into(),
            key_file: "k".into(),
        };
        let d = check(raw("Example.COM.", "s1"), dir.path(), &mut problems).unwrap();
        assert_eq!(
            (d.domain.as_str(), d.algorithm),
            ("example.com", "ed25519-sha256")
        );
        assert!(problems.is_empty());
        assert!(check(raw("localhost", "a b"), dir.path(), &mut problems).is_none());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("smtp.dkim.domain:"));
        assert!(problems[1].starts_with("smtp.dkim.selector:"));
        problems.clear();
        let mut missing = raw("example.com", "s1");
        missing.key_file = "nope".into();
        assert!(check(missing, dir.path(), &mut problems).is_none());
        assert!(problems[0].contains("cannot read"), "{problems:?}");
    }
}
