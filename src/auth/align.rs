//! Relaxed identifier alignment (DMARC, RFC 7489 §3.1): two domains are
//! aligned when they share an organisational domain, the registrable
//! domain under the Public Suffix List (the `psl` crate, list compiled
//! in). `mail.example.co.uk` aligns with `example.co.uk`; `a.github.io`
//! does not align with `b.github.io` (the list's private section counts).
//! Pure; a name that is not a plain DNS name aligns with nothing.

/// The domain of an address (after its last `@`), or the value itself
/// when it has no `@` (`smtp.mailfrom=example.com`), normalised.
pub fn domain_of(address_or_domain: &str) -> String {
    let d = address_or_domain
        .rsplit_once('@')
        .map_or(address_or_domain, |(_, d)| d);
    normalise(d)
}

/// Lower-case, without a trailing dot or surrounding angle brackets.
fn normalise(d: &str) -> String {
    d.trim()
        .trim_matches(|c| c == '<' || c == '>')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// A plain DNS name: labels of letters, digits, `-` and `_`, none empty.
fn plausible(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The organisational (registrable) domain of `d`, if the list gives one.
pub fn organisational(d: &str) -> Option<&str> {
    psl::domain_str(d)
}

/// Are `a` and `b` aligned (same domain, or same organisational domain)?
pub fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (normalise(a), normalise(b));
    if !plausible(&a) || !plausible(&b) {
        return false;
    }
    if a == b {
        return true;
    }
    match (organisational(&a), organisational(&b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str, expected: bool) {
        assert_eq!(aligned(a, b), expected, "{a} ~ {b}");
        assert_eq!(aligned(b, a), expected, "{b} ~ {a}");
    }

    #[test]
    fn same_domain_aligns_whatever_the_case_or_trailing_dot() {
        check("example.com", "example.com", true);
        check("Example.COM.", "example.com", true);
    }

    #[test]
    fn subdomains_of_one_organisation_align() {
        check("mail.example.com", "example.com", true);
        check("a.b.example.com", "c.example.com", true);
        check("mail.example.co.uk", "example.co.uk", true);
    }

    #[test]
    fn different_organisations_do_not_align() {
        check("example.com", "example.org", false);
        check("example.com.evil.test", "example.com", false);
        check("evil-example.com", "example.com", false);
        check("example.co.uk", "other.co.uk", false);
        // Public suffixes from the list's private section count too.
        check("alice.github.io", "mallory.github.io", false);
    }

    #[test]
    fn a_public_suffix_aligns_only_with_itself() {
        check("co.uk", "example.co.uk", false);
        check("com", "example.com", false);
    }

    #[test]
    fn names_that_are_not_dns_names_align_with_nothing() {
        check("", "", false);
        check("example..com", "example..com", false);
        check("exa mple.com", "exa mple.com", false);
        check("example.com;dkim=pass", "example.com", false);
    }

    #[test]
    fn domain_of_takes_the_part_after_the_last_at() {
        assert_eq!(domain_of("alice@Example.com"), "example.com");
        assert_eq!(domain_of("\"a@b\"@example.com"), "example.com");
        assert_eq!(domain_of("@example.com"), "example.com");
        assert_eq!(domain_of("example.com."), "example.com");
        assert_eq!(domain_of("<>"), "");
    }
}
