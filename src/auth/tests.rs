//! The parser on the headers real MTAs write, and the check on trusted,
//! foreign, forged and hostile headers. The samples keep each MTA's
//! exact layout (comments, folding, property order, its quirks); names,
//! addresses and signatures are replaced by example ones.

use super::results::{self, ParseError};
use super::*;

/// Gmail (mx.google.com), as on mail received at a Gmail address.
const GMAIL: &str = "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 header.b=Q2xxm4cZ;\r\n       spf=pass (google.com: domain of alice@example.com designates 209.85.220.41 as permitted sender) smtp.mailfrom=alice@example.com;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com";

/// Microsoft 365 (Exchange Online Protection): no authserv-id at all.
const M365: &str = "spf=pass (sender IP is 40.107.22.56) smtp.mailfrom=example.com; dkim=pass (signature was verified) header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass reason=100";

/// Postfix + OpenDKIM (milter), one header per milter.
const OPENDKIM: &str = "mx.example.com;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=example.com header.i=@example.com header.a=rsa-sha256 header.s=mail header.b=AbC/1+x=";
/// Postfix + OpenDMARC.
const OPENDMARC: &str = "mx.example.com; dmarc=pass (p=reject dis=none) header.from=example.com";
/// Postfix + OpenDMARC's SPF check.
const OPENDMARC_SPF: &str = "mx.example.com; spf=pass smtp.mailfrom=example.com";

/// rspamd (milter_headers, authentication-results routine).
const RSPAMD: &str = "mx.example.com;\r\n\tdkim=pass header.d=example.com header.s=dkim header.b=kQ9Jx0Rb;\r\n\tspf=pass (mx.example.com: domain of alice@example.com designates 192.0.2.10 as permitted sender) smtp.mailfrom=alice@example.com;\r\n\tdmarc=pass reason=\"SPF and DKIM are aligned\" header.from=example.com (policy=reject)";

fn h(values: &[&str]) -> Vec<(String, String)> {
    // As `mail::headers` keeps them: unfolded, one line.
    let mut v = vec![("Received".to_string(), "from x by y".to_string())];
    v.extend(values.iter().map(|s| {
        (
            "Authentication-Results".to_string(),
            crate::mail::sanitize_line(s),
        )
    }));
    v.push(("From".into(), "alice@example.com".into()));
    v
}

fn checker() -> Checker {
    Checker {
        trusted: vec!["mx.example.com".into()],
        support: vec!["support@example.com".into()],
    }
}

fn check(from: &str, headers: &[&str]) -> Authenticity {
    checker().check(from, &h(headers), [], &KeyState::Missing)
}

#[test]
fn gmail_header_is_read() {
    let r = results::parse(GMAIL).unwrap();
    assert_eq!(r.authserv_id, "mx.google.com");
    let m: Vec<(&str, &str)> = r.results.iter().map(|m| (&*m.method, &*m.result)).collect();
    assert_eq!(m, [("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]);
    assert_eq!(r.results[0].property("header", "i"), Some("@example.com"));
    assert_eq!(r.results[0].property("header", "d"), None);
    assert_eq!(
        r.results[1].property("smtp", "mailfrom"),
        Some("alice@example.com")
    );
    // Gmail as our MTA: header.i's domain counts for DKIM.
    let c = Checker {
        trusted: vec!["mx.google.com".into()],
        ..checker()
    };
    let a = c.check("alice@example.com", &h(&[GMAIL]), [], &KeyState::Missing);
    let p = a.authenticated.unwrap();
    assert_eq!((&*p.method, &*p.domain), ("dkim", "example.com"));
}

#[test]
fn microsoft_365_header_has_no_authserv_id_and_is_never_believed() {
    assert_eq!(results::parse(M365), Err(ParseError::NoAuthservId));
    let a = check("alice@example.com", &[M365]);
    assert_eq!(a.authenticated, None);
    assert!(a.headers[0].foreign && !a.headers[0].counted);
    assert!(
        a.headers[0].said.contains("no authserv-id"),
        "{:?}",
        a.headers
    );
}

#[test]
fn opendkim_and_opendmarc_headers_are_read_and_all_count() {
    let r = results::parse(OPENDKIM).unwrap();
    assert_eq!(r.results[0].property("header", "d"), Some("example.com"));
    assert_eq!(r.results[0].property("header", "b"), Some("AbC/1+x="));
    assert_eq!(
        results::parse(OPENDMARC).unwrap().results[0].method,
        "dmarc"
    );
    let a = check("alice@example.com", &[OPENDMARC, OPENDMARC_SPF, OPENDKIM]);
    assert!(a.headers.iter().all(|h| h.counted), "{:?}", a.headers);
    let p = a.authenticated.unwrap();
    assert_eq!(
        (p.position, &*p.method),
        (2, "spf"),
        "the first aligned pass"
    );
}

#[test]
fn rspamd_header_is_read() {
    let r = results::parse(RSPAMD).unwrap();
    assert_eq!(r.results.len(), 3);
    assert_eq!(
        r.results[2].reason.as_deref(),
        Some("SPF and DKIM are aligned")
    );
    let a = check("alice@example.com", &[RSPAMD]);
    assert_eq!(a.authenticated.unwrap().method, "dkim");
    assert!(
        a.summary.starts_with("authenticated: dkim=pass"),
        "{}",
        a.summary
    );
}

#[test]
fn grammar_corners() {
    let r = results::parse("example.org 1; none").unwrap();
    assert_eq!(
        (r.authserv_id.as_str(), r.results.len()),
        ("example.org", 0)
    );
    let r = results::parse(
        " Example.ORG (c (nested) \\) x); DKIM/1 = Pass (ok) Header.D = example.org ;",
    )
    .unwrap();
    assert_eq!(r.authserv_id, "example.org");
    assert_eq!(
        (&*r.results[0].method, &*r.results[0].result),
        ("dkim", "pass")
    );
    // `Header . D` is not a property name: CFWS inside it is not allowed.
    assert!(results::parse("x; dkim=pass header . d=a").is_err());
    for bad in [
        "",
        ";",
        "x; dkim",
        "x; dkim=",
        "x; dkim=pass header.d",
        "x; dkim=pass header.d=",
        "x; dkim=pass (unclosed",
        "x; dkim=pass header.d=\"unclosed",
        "x dkim=pass",
        "x 1a; none",
        // A comment or quotes around the authserv-id: a forgery could hide
        // from the MTA's stripping pattern that way.
        "(c) mx.example.com; dkim=pass header.d=example.com",
        "\"mx.example.com\"; dkim=pass header.d=example.com",
        "mx.example.com(c); dkim=pass header.d=example.com",
        "mx.example.com\"x\"; dkim=pass header.d=example.com",
    ] {
        assert!(results::parse(bad).is_err(), "{bad:?} was read");
    }
}

#[test]
fn no_authserv_id_configured_means_no_header_counts() {
    let c = Checker::default();
    let a = c.check("alice@example.com", &h(&[RSPAMD]), [], &KeyState::Missing);
    assert_eq!(a.authenticated, None);
    assert!(
        a.summary.contains("no [auth] authserv_id is configured"),
        "{}",
        a.summary
    );
}

#[test]
fn a_foreign_header_on_top_hides_ours_below() {
    let foreign = RSPAMD.replace("mx.example.com", "mx.evil.test");
    let a = check("alice@example.com", &[&foreign, RSPAMD]);
    assert_eq!(a.authenticated, None);
    assert!(a.headers[0].foreign && a.headers[0].said.contains("every header below it"));
    assert!(!a.headers[1].counted && a.headers[1].said.contains("below a foreign"));
    assert_eq!(a.warnings().len(), 1, "{:?}", a.warnings());
}

#[test]
fn a_foreign_header_below_ours_is_ignored_and_warned_about() {
    let forged = "mx.evil.test; dkim=pass header.d=example.com";
    let a = check("alice@example.com", &[OPENDMARC, forged]);
    assert_eq!(a.authenticated, None, "only dmarc in ours");
    assert!(a.headers[1].foreign && !a.headers[1].counted);
    assert!(
        a.warnings()[0].contains("mx.evil.test is not ours"),
        "{:?}",
        a.warnings()
    );
}

#[test]
fn a_pass_for_another_domain_does_not_align() {
    let a = check(
        "alice@example.com",
        &["mx.example.com; dkim=pass header.d=example.com.evil.test; spf=pass smtp.mailfrom=bounce@evil.test"],
    );
    assert_eq!(a.authenticated, None);
    assert!(
        a.headers[0].said.contains("not aligned"),
        "{:?}",
        a.headers[0]
    );
    // Relaxed alignment: a subdomain of the From's organisation aligns.
    let a = check(
        "alice@example.com",
        &["mx.example.com; spf=pass smtp.mailfrom=bounces@mail.example.com"],
    );
    assert_eq!(a.authenticated.unwrap().domain, "mail.example.com");
}

#[test]
fn only_pass_counts() {
    for result in [
        "fail",
        "neutral",
        "softfail",
        "temperror",
        "permerror",
        "none",
        "policy",
    ] {
        let a = check(
            "alice@example.com",
            &[&format!("mx.example.com; dkim={result} header.d=example.com; spf={result} smtp.mailfrom=example.com")],
        );
        assert_eq!(a.authenticated, None, "{result}");
    }
    // dmarc=pass alone is not one of the two proofs.
    assert_eq!(check("alice@example.com", &[OPENDMARC]).authenticated, None);
}

#[test]
fn hostile_headers_are_bounded_and_never_panic() {
    let long = format!(
        "mx.example.com; dkim=pass header.d=example.com {}",
        "x=y ".repeat(3000)
    );
    assert_eq!(results::parse(&long), Err(ParseError::TooLong));
    let many = format!("mx.example.com{}", "; spf=fail".repeat(40));
    assert_eq!(results::parse(&many), Err(ParseError::TooManyResults));
    let props = format!("mx.example.com; dkim=pass{}", " a.b=c".repeat(20));
    assert_eq!(results::parse(&props), Err(ParseError::TooManyProperties));
    let deep = format!(
        "mx.example.com; dkim=pass {}x{}",
        "(".repeat(4000),
        ")".repeat(4000)
    );
    assert!(results::parse(&deep).is_ok());
    for s in [
        "(((",
        "\\",
        "\"\\",
        "x; a=b c.d=\"\\",
        "x;(",
        "é; dkim=pass",
        "x; dkim=pass header.d=é.com",
        "\u{0}; a=b",
    ] {
        let _ = results::parse(s);
    }
    // Every prefix of every sample: no panic, whatever is cut.
    for s in [GMAIL, M365, OPENDKIM, RSPAMD] {
        for cut in (0..s.len()).filter(|c| s.is_char_boundary(*c)) {
            let _ = results::parse(&s[..cut]);
        }
    }
    // Random strings over the grammar's own characters: no panic, and a
    // read header keeps within its limits.
    let mut rng = fastrand::Rng::with_seed(8);
    let alphabet: Vec<char> = "ab.=;()\\\" @/é\t\r\n1".chars().collect();
    for _ in 0..5000 {
        let len = rng.usize(0..120);
        let s: String = (0..len)
            .map(|_| alphabet[rng.usize(0..alphabet.len())])
            .collect();
        if let Ok(r) = results::parse(&s) {
            assert!(r.results.len() <= results::MAX_RESULTS, "{s:?}");
        }
    }
    // A cut value (as `mail::headers` cuts them) is never believed.
    let cut = format!(
        "mx.example.com; dkim=pass header.d=example.com header.s={}",
        "s".repeat(1000)
    );
    let cut: String = cut
        .chars()
        .take(crate::mail::MAX_HEADER_VALUE_CHARS)
        .collect();
    let a = check("alice@example.com", &[&cut]);
    assert_eq!(a.authenticated, None);
    assert!(
        a.headers[0].said.contains("cut when read"),
        "{:?}",
        a.headers[0]
    );
    // More headers than are read.
    let mut many = vec![OPENDMARC; MAX_HEADERS_READ + 5];
    many.push(OPENDKIM);
    let a = check("alice@example.com", &many);
    assert_eq!(a.headers.len(), MAX_HEADERS_READ + 1);
    assert_eq!(a.authenticated, None);
}

#[test]
fn an_injected_result_in_a_property_value_does_not_count() {
    // A sender controls smtp.mailfrom; quoted, a ';' in it stays a value.
    let a = check(
        "alice@example.com",
        &["mx.example.com; spf=pass smtp.mailfrom=\"x;dkim=pass header.d=example.com\"@evil.test"],
    );
    assert_eq!(a.authenticated, None, "{:?}", a.headers);
}

#[test]
fn encoded_words_in_a_header_are_not_decoded_into_results() {
    // mail-parser keeps unknown headers raw: an encoded word cannot smuggle
    // a `;` into our MTA's header.
    let raw = "Authentication-Results: mx.example.com; spf=pass smtp.mailfrom==?utf-8?q?x=3B_dkim=3Dpass_header.d=3Dexample.com?=@evil.test\r\nFrom: alice@example.com\r\nTo: support@example.com\r\nSubject: x\r\n\r\nbody";
    let m = crate::mail::parse(raw.as_bytes(), "desk.example.com").unwrap();
    let a = checker().check(&m.from.address, &m.headers, [], &KeyState::Missing);
    assert_eq!(a.authenticated, None, "{:?}", a.headers);
}

#[test]
fn tokens_among_the_recipients_are_checked_for_the_from() {
    let k = ReplyKey::from_bytes([3; 32]);
    let t = "2026112210000017";
    let to = token::reply_address(&k, "support@example.com", t, "alice@example.com").unwrap();
    let c = checker();
    let a = c.check(
        "Alice@example.com",
        &[],
        [to.as_str()],
        &KeyState::Ready(&k),
    );
    let tc = a.token.clone().unwrap();
    assert!(
        tc.valid && tc.ticket == t && tc.agent == "alice@example.com",
        "{tc:?}"
    );
    assert_eq!(tc.address, to);
    assert!(a.warnings().is_empty());
    // Another agent using alice's reply address.
    let a = c.check("bob@example.com", &[], [to.as_str()], &KeyState::Ready(&k));
    assert!(!a.token.as_ref().unwrap().valid);
    assert!(a.warnings()[0].contains("invalid"), "{:?}", a.warnings());
    // No key yet, or a tag under an address that is not a support address.
    let a = c.check("alice@example.com", &[], [to.as_str()], &KeyState::Missing);
    assert!(!a.token.unwrap().valid);
    let elsewhere = to
        .replace("support@", "other@")
        .replace("support+", "other+");
    let a = c.check(
        "alice@example.com",
        &[],
        [elsewhere.as_str()],
        &KeyState::Ready(&k),
    );
    assert_eq!(a.token, None);
}
