//! DKIM signing (`[smtp] dkim`): an auto-reply read back over IMAP from
//! the real stack carries a DKIM-Signature that mail-auth verifies against
//! the public key of the configured private key (handed to the verifier
//! directly, no DNS); a tampered copy fails; a bad key is a configuration
//! error at `check` and at start.

mod common;

use std::borrow::Borrow;
use std::hash::Hash;
use std::path::PathBuf;

use base64::Engine as _;
use common::*;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;

const DOMAIN: &str = "support.test";
const SELECTOR: &str = "pd2026";

fn key_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dkim/test-rsa2048.pem")
}

/// The DNS TXT record an operator would publish for the key.
fn txt_record() -> String {
    let pem = std::fs::read_to_string(key_file()).unwrap();
    let private = rsa::RsaPrivateKey::from_pkcs1_pem(&pem).unwrap();
    let der = private.to_public_key().to_public_key_der().unwrap();
    let p = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
    format!("v=DKIM1; k=rsa; p={p}")
}

/// A TXT "cache" holding only our record: mail-auth looks there before
/// any DNS query, so the verification never leaves the process.
struct OneRecord(String, Txt);

impl ResolverCache<String, Txt> for OneRecord {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        (self.0.borrow() == name).then(|| self.1.clone())
    }
    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: String, _: Txt, _: std::time::Instant) {}
}

fn verify(raw: &[u8]) -> Vec<DkimResult> {
    verify_with(&txt_record(), raw)
}

/// Verify `raw` against the published record `txt`.
fn verify_with(txt: &str, raw: &[u8]) -> Vec<DkimResult> {
    let record = DomainKey::parse(txt.as_bytes()).unwrap();
    let cache = OneRecord(
        format!("{SELECTOR}._domainkey.{DOMAIN}."),
        Txt::from(record),
    );
    let msg = AuthenticatedMessage::parse(raw).expect("a mail mail-auth can read");
    // A resolver is built but never asked: the record is in the cache.
    let auth = MessageAuthenticator::new_cloudflare().unwrap();
    rt().block_on(auth.verify_dkim(Parameters::new(&msg).with_txt_cache(&cache)))
        .iter()
        .map(|o| o.result().clone())
        .collect()
}

fn with_dkim(desk: &Desk, key: &std::path::Path) {
    let text = std::fs::read_to_string(&desk.config).unwrap();
    let text = text.replace(
        "retry_max_secs = 2\n",
        &format!(
            "retry_max_secs = 2\ndkim = {{ domain = \"{DOMAIN}\", selector = \"{SELECTOR}\", key_file = {:?} }}\n",
            key.display().to_string()
        ),
    );
    std::fs::write(&desk.config, text).unwrap();
}

#[test]
fn dkim_signed_auto_reply_verifies_against_the_public_key() {
    let mut desk = Desk::new(DeskOptions::default());
    with_dkim(&desk, &key_file());
    let out = desk.cli(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    desk.start();
    let customer = desk.customer("signed");
    smtp_send(
        &customer,
        &[&desk.support],
        &desk.mail(&customer, "Signed?", "s1", "Hello."),
    );
    let replies = wait_for_mail(&customer, "INBOX", 1, 30);
    let reply = &replies[0];
    let sig = header(reply, "DKIM-Signature").expect("a DKIM-Signature header");
    assert!(
        sig.contains(&format!("d={DOMAIN}")) && sig.contains(&format!("s={SELECTOR}")),
        "{sig}"
    );
    assert!(
        sig.contains("a=rsa-sha256") && sig.contains("c=relaxed/relaxed"),
        "{sig}"
    );
    // Regression: the HTML alternative's multipart Content-Type sat in
    // lettre's part, outside what its signer saw, and the signature over
    // Content-Type failed. The auto-reply is multipart and verifies.
    assert!(
        header(reply, "Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{}",
        String::from_utf8_lossy(reply)
    );
    assert_eq!(verify(reply), vec![DkimResult::Pass]);

    // The same mail with its subject changed on the way no longer passes.
    let text = String::from_utf8_lossy(reply).into_owned();
    let subject = subject(reply);
    let tampered = text.replacen(&subject, "Something else", 1);
    assert_ne!(tampered, text);
    assert!(matches!(
        verify(tampered.as_bytes())[..],
        [DkimResult::Fail(_)]
    ));
    desk.stop();
}

#[test]
fn a_bad_dkim_key_is_a_configuration_error_at_check_and_start() {
    let desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    let weak = desk.path().join("weak.pem");
    // 512 bits, PKCS#8: read, and refused for its size.
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "rsa",
            "-pkeyopt",
            "rsa_keygen_bits:512",
            "-out",
        ])
        .arg(&weak)
        .output();
    let weak_ok = out.is_ok_and(|o| o.status.success());
    let bad = desk.path().join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    )
    .unwrap();
    let base = std::fs::read_to_string(&desk.config).unwrap();
    let mut cases = vec![
        (bad.clone(), "is not a usable DKIM key"),
        (desk.path().join("missing.pem"), "cannot read"),
    ];
    if weak_ok {
        cases.push((weak, "512 bits"));
    }
    for (key, why) in cases {
        std::fs::write(&desk.config, &base).unwrap();
        with_dkim(&desk, &key);
        let out = desk.cli(&["check"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{text}");
        assert!(
            text.contains("smtp.dkim.key_file") && text.contains(why),
            "{text}"
        );
        assert!(text.contains(&key.display().to_string()), "{text}");
    }
    // The daemon refuses to start on it (78), with the same words.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(&desk.config)
        .arg("run")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = wait_for(30, "the daemon to exit", || child.try_wait().unwrap());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(78), "{err}");
    assert!(err.contains("smtp.dkim.key_file"), "{err}");
}

#[test]
fn an_ed25519_key_signs_what_mail_auth_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let seed = [7u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD;
    std::fs::write(dir.path().join("ed25519.key"), b64.encode(seed)).unwrap();
    let config = dir.path().join("postdesk.toml");
    std::fs::write(
        &config,
        format!(
            "[system]\nfqdn = \"desk.support.test\"\n\
             [storage]\ndatabase = \"db\"\ndata_dir = \"data\"\n\
             [smtp]\nhost = \"localhost\"\ntls = \"none\"\n\
             dkim = {{ domain = \"{DOMAIN}\", selector = \"{SELECTOR}\", key_file = \"ed25519.key\" }}\n\
             [[queue]]\nname = \"support\"\n\
             [[mailbox]]\nname = \"support\"\naddress = \"help@support.test\"\nqueue = \"support\"\n"
        ),
    )
    .unwrap();
    let config = postdesk::config::Config::load(&config).expect("the configuration loads");
    let dkim = config.smtp.dkim.as_ref().expect("a DKIM key");
    assert_eq!(dkim.algorithm, "ed25519-sha256");
    let mail = b"From: Support <help@support.test>\r\nTo: ana@example.com\r\n\
                 Subject: Your ticket\r\nDate: Wed, 02 Dec 2026 01:00:00 +0000\r\n\
                 Message-ID: <1@support.test>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n";
    let signed = dkim.sign(mail).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let public = b64.encode(ring::signature::KeyPair::public_key(&pair));
    let record = format!("v=DKIM1; k=ed25519; p={public}");
    assert_eq!(verify_with(&record, &signed), vec![DkimResult::Pass]);
    let tampered = String::from_utf8(signed)
        .unwrap()
        .replace("Your ticket", "Pay now");
    assert!(matches!(
        verify_with(&record, tampered.as_bytes()).as_slice(),
        [DkimResult::Fail(_)]
    ));
}
