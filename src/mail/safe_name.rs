//! Attachment names are attacker-controlled: turn them into a single,
//! harmless path component.

/// Longest name kept, in bytes (most file systems allow 255).
const MAX_LEN: usize = 120;

/// The last path component of `name`, with control characters, path
/// separators, characters Windows forbids and leading dots removed,
/// truncated on a character boundary (keeping the extension where it can).
/// An empty result, `.` or `..` becomes `fallback`.
pub fn safe_filename(name: &str, fallback: &str) -> String {
    let last = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !"<>:\"|?*".contains(*c))
        .collect::<String>();
    let trimmed = last
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        return fallback.to_string();
    }
    if trimmed.len() <= MAX_LEN {
        return trimmed.to_string();
    }
    // Keep a short extension, cut the stem.
    let (stem, ext) = match trimmed.rsplit_once('.') {
        Some((s, e)) if !e.is_empty() && e.len() <= 10 => (s, format!(".{e}")),
        _ => (trimmed, String::new()),
    };
    let mut cut = MAX_LEN - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &stem[..cut], ext)
}

#[cfg(test)]
mod tests {
    use super::safe_filename;

    fn check(input: &str, expected: &str) {
        assert_eq!(safe_filename(input, "attachment-1"), expected, "{input:?}");
    }

    #[test]
    fn names() {
        check("report.pdf", "report.pdf");
        check("../../etc/passwd", "passwd");
        check("..\\..\\windows\\system.ini", "system.ini");
        check("..", "attachment-1");
        check("", "attachment-1");
        check(".bashrc", "bashrc");
        check("a\r\nb.txt", "ab.txt");
        check("what?<>.txt", "what.txt");
        check("fatura março.pdf", "fatura março.pdf");
        check("trailing. . ", "trailing");
    }

    #[test]
    fn long_names_keep_extension_and_utf8() {
        let long = format!("{}.pdf", "é".repeat(200));
        let out = safe_filename(&long, "x");
        assert!(out.len() <= 120);
        assert!(out.ends_with(".pdf"));
    }
}
