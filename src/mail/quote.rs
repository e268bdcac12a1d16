//! Where the new part of a reply ends. The full body is always kept; this
//! module only finds the byte offset after which the text is quoted history
//! (an attribution line, a client's header block, a forwarded-message
//! separator, a `>` block) or a signature (`-- `, "Sent from my iPhone" and
//! its translations). Notifications and agent views show the part before
//! it.
//!
//! It works on decoded text (so quoted-printable soft breaks no longer split
//! attribution lines) and line by line, with regexes compiled once.
//! Deliberately conservative: a `>` block followed by more unquoted text is
//! a bottom-posted or inline reply and is kept; a forward is kept whole
//! (what was forwarded is what the sender wants read); a mail whose new
//! part would be empty (a mail that is only a quote) keeps its text; and a
//! "Sent from…" line counts only as the last line of the new part.

use regex::Regex;
use std::sync::LazyLock;

/// Byte offset in `text` where the new part ends (trailing blank lines
/// excluded), or `None` when the whole text is new.
pub fn new_part_end(text: &str) -> Option<usize> {
    let lines = Lines::of(text);
    let quote = quote_start(&lines);
    let upto = quote.map_or(lines.len(), |q| q + 1);
    if let Some(end) = (0..upto).find_map(|k| inline_attribution(&lines, k)) {
        return Some(end);
    }
    let end_line = quote.unwrap_or(lines.len());
    let end_line = signature_start(&lines, end_line).unwrap_or(end_line);
    if end_line >= lines.len() {
        return None;
    }
    let end = lines.start(end_line);
    let kept = text[..end].trim_end();
    if kept.is_empty() {
        // A bare forward or a mail that is only a quote keeps its text.
        return None;
    }
    Some(kept.len())
}

/// "reply On … wrote:" with a quote under it: the reply and the attribution
/// share a line (some clients and mailing-list digests). Returns the byte
/// offset where the reply on that line ends.
fn inline_attribution(lines: &Lines<'_>, k: usize) -> Option<usize> {
    static INLINE: LazyLock<Regex> =
        LazyLock::new(|| re(r"(?i)^(.*?\S)[\s-]*\bon\s.{4,}\bwrote\s*:\s*$"));
    let line = lines.line(k);
    if line.len() > 600 || LEADING.is_match(line) {
        return None;
    }
    let prefix = INLINE.captures(line)?.get(1)?;
    let quoted_next = lines.next_filled(k + 1).is_some_and(|j| lines.quoted(j));
    quoted_next.then(|| lines.start(k) + prefix.end())
}

/// The new part of `text` (all of it when nothing is quoted).
pub fn new_part(text: &str) -> &str {
    match new_part_end(text) {
        Some(end) => &text[..end],
        None => text.trim_end(),
    }
}

/// Only the first lines are searched: the new part of a reply is at the
/// top, and a body of millions of short lines must not cost a vector entry
/// each. A mail whose quote starts further down is taken as all new.
const MAX_LINES: usize = 5_000;

/// The text split into lines, with each line's byte offset.
struct Lines<'a> {
    all: Vec<(usize, &'a str)>,
}

impl<'a> Lines<'a> {
    fn of(text: &'a str) -> Lines<'a> {
        let mut owned = Vec::new();
        let mut at = 0;
        for raw in text.split_inclusive('\n').take(MAX_LINES) {
            owned.push((at, raw.trim_end_matches(['\n', '\r'])));
            at += raw.len();
        }
        Lines { all: owned }
    }
    fn len(&self) -> usize {
        self.all.len()
    }
    fn start(&self, i: usize) -> usize {
        self.all[i].0
    }
    fn line(&self, i: usize) -> &'a str {
        self.all.get(i).map(|l| l.1).unwrap_or("")
    }
    fn blank(&self, i: usize) -> bool {
        self.line(i).trim().is_empty()
    }
    fn quoted(&self, i: usize) -> bool {
        self.line(i).trim_start().starts_with('>')
    }
    /// Index of the next non-blank line at or after `i`.
    fn next_filled(&self, i: usize) -> Option<usize> {
        (i..self.len()).find(|&j| !self.blank(j))
    }
}

fn re(pattern: &str) -> Regex {
    // The patterns are literals of this module, checked by its tests.
    Regex::new(pattern).expect("quote patterns are valid")
}

/// "On … wrote:" and its translations (Gmail, Apple Mail, Thunderbird,
/// Outlook on the web), tested on one line or two or three joined lines.
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?ix)^\s*(
        on\s.{4,}\bwrote\s*:
      | le\s.{4,}\ba\s+écrit\s*:
      | em\s.{4,}\bescreveu\s*:
      | el\s.{4,}\bescribió\s*:
      | il\s.{4,}\bha\s+scritto\s*:
      | am\s.{4,}\bschrieb\b.*:
      | op\s.{4,}\bschreef\b.*:
      | den\s.{4,}\bskrev\b.*:
      | on\s.{4,}\bsent\s*:
      | op\s.{4,}\bgeschreven\b.*:
      | på\s.{4,}\bskrev\b.*:
      | w\s+dniu\s.{4,}\bnapisał\b.*:
      | vào\s.{4,}\bđã\s+viết\s*:
      | \d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\s.{0,200}@\S+?>?\s*:?
      | .{2,}\s(wrote|a\s+écrit|escreveu|escribió|ha\s+scritto|schrieb|schreef|skrev|napisał|napisała|пише|написал|написала|написав|kirjoitti|napsal|yazdı)\s*:
    )\s*$")
});

/// The first line of a header block quoted by Outlook and others.
static HEADER_FROM: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*\*?(from|de|von|da|van|od|fra|från)\*?\s*:\*?\s*\S"));

/// Further lines of such a block.
static HEADER_OTHER: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^\s*\*?(sent|date|envoyé|enviado|enviada|gesendet|datum|data|verzonden|to|à|a|para|an|aan|cc|subject|objet|assunto|asunto|betreff|oggetto|onderwerp|reply-to|répondre à|ogg|sendt|til|emne|skickat|till|ämne|wysłano|do|temat)\*?\s*:",
    )
});

/// Forwarded-message and original-message separators.
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?ix)^\s*(
        [-_=]{2,}\s*(original\s+message|reply\s+message|message\s+original|antwort\s+nachricht|oprindelig\s+meddelelse|ursprungligt\s+meddelande|forwarded\s+message|message\s+d'origine|message\s+transféré
          |mensagem\s+original|mensagem\s+encaminhada|mensaje\s+original|mensaje\s+reenviado
          |ursprüngliche\s+nachricht|weitergeleitete\s+nachricht|messaggio\s+originale
          |messaggio\s+inoltrato|oorspronkelijk\s+bericht|doorgestuurd\s+bericht)\s*[-_=]*
      | (begin\s+forwarded\s+message|début\s+du\s+message\s+réexpédié|inicio\s+del\s+mensaje\s+reenviado
          |início\s+da\s+mensagem\s+reencaminhada|anfang\s+der\s+weitergeleiteten\s+nachricht
          |inizio\s+messaggio\s+inoltrato|begin\s+doorgestuurd\s+bericht)\s*:
    )\s*$")
});

/// Forwarded-message separators: a forward is kept whole, since what was
/// forwarded is what the sender wants us to read.
static FORWARD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(forwarded\s+message|message\s+transféré|mensagem\s+encaminhada|mensaje\s+reenviado|weitergeleitete\s+nachricht|messaggio\s+inoltrato|doorgestuurd\s+bericht|begin\s+forwarded|début\s+du\s+message\s+réexpédié|inicio\s+del\s+mensaje\s+reenviado|início\s+da\s+mensagem\s+reencaminhada|anfang\s+der\s+weitergeleiteten|inizio\s+messaggio\s+inoltrato|begin\s+doorgestuurd)",
    )
});

/// "---- Ana wrote ----" (Android) and "-----On … wrote-----".
static DASHED_ATTRIBUTION: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*-{2,}\s*.{1,200}\bwrote\s*:?\s*-{2,}\s*$"));

/// Outlook's rule above its header block.
static RULE: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*_{10,}\s*$"));

/// A mobile client's signature line: "Sent from my iPhone", "Envoyé de mon
/// iPad", "Von meinem iPhone gesendet", "Get Outlook for Android", …
static MOBILE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^\s*(sent\s+(from|with|via)|envoyé\s+(de|depuis|à\s+partir\s+de)|enviado\s+(do|de|desde|a\s+partir\s+do)|enviada\s+(do|de|desde)|von\s+meinem|gesendet\s+von|inviato\s+da|verzonden\s+(met|vanaf|van)|verstuurd\s+(met|vanaf|van)|get\s+outlook\s+for|obtenir\s+outlook\s+pour|obter\s+o\s+outlook\s+para|obtener\s+outlook\s+para)\b[^,;:.!?]{0,60}[.!]?\s*$",
    )
});

/// How an attribution starts in each language: only such a line may be
/// joined with the next ones (or a date, for "2014-10-17 … <a@b>:").
static LEADING: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*(on|le|em|el|il|am|op|den|dnia|w\s+dniu|på|vào)\s"));

/// A line that starts with a date, as Gmail's "2014-10-17 11:28 GMT Ana <a@b>:".
static DATED: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*\d{1,4}[-/. ]"));

fn attribution_at(lines: &Lines<'_>, i: usize) -> bool {
    let first = lines.line(i);
    if first.trim().is_empty() || first.trim_start().starts_with('>') || first.len() > 300 {
        return false;
    }
    let mut joined = first.trim().to_string();
    for k in 0..3 {
        if k > 0 {
            if !LEADING.is_match(first) && !DATED.is_match(first) {
                return false;
            }
            let next = lines.line(i + k);
            if next.trim().is_empty() || next.trim_start().starts_with('>') {
                return false;
            }
            joined.push(' ');
            joined.push_str(next.trim());
        }
        if ATTRIBUTION.is_match(&joined) {
            return attribution_plausible(lines, i, k, &joined);
        }
    }
    false
}

/// A bare "… wrote:" line (no leading "On") counts only when a quote
/// follows it; the full "On … wrote:" forms stand alone.
fn attribution_plausible(lines: &Lines<'_>, i: usize, extra: usize, joined: &str) -> bool {
    if LEADING.is_match(joined) {
        return true;
    }
    lines
        .next_filled(i + extra + 1)
        .is_some_and(|j| lines.quoted(j) || header_block_at(lines, j))
}

/// Header fields that, after a `Date:` line, show it heads a quoted mail.
static HEADER_PARTY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^\s*\*?(from|to|subject|cc|de|von|à|para|an|objet|assunto|asunto|betreff)\*?\s*:")
});

fn header_block_at(lines: &Lines<'_>, i: usize) -> bool {
    let next = i + 1..(i + 6).min(lines.len());
    if HEADER_FROM.is_match(lines.line(i)) {
        return next
            .into_iter()
            .any(|j| HEADER_OTHER.is_match(lines.line(j)));
    }
    // Thunderbird and some web mail start the block with the date.
    HEADER_DATE.is_match(lines.line(i))
        && next
            .take_while(|&j| !lines.blank(j))
            .any(|j| HEADER_PARTY.is_match(lines.line(j)))
}

static HEADER_DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*\*?(date|sent|datum|data|envoyé|enviado)\*?\s*:\s*\S"));

/// The line where quoted history starts, if any.
fn quote_start(lines: &Lines<'_>) -> Option<usize> {
    let mut i = 0;
    while i < lines.len() {
        if lines.blank(i) {
            i += 1;
            continue;
        }
        if SEPARATOR.is_match(lines.line(i)) {
            if FORWARD.is_match(lines.line(i)) {
                return None;
            }
            return Some(i);
        }
        if header_block_at(lines, i) || DASHED_ATTRIBUTION.is_match(lines.line(i)) {
            return Some(i);
        }
        if RULE.is_match(lines.line(i)) {
            if let Some(j) = lines.next_filled(i + 1) {
                if header_block_at(lines, j) {
                    return Some(i);
                }
            }
        }
        if attribution_at(lines, i) {
            match quoted_block_end(lines, i + 1) {
                Some(after) if has_new_text(lines, after) => i = after,
                _ => return Some(i),
            }
            continue;
        }
        if lines.quoted(i) {
            let after = quoted_block_end(lines, i).unwrap_or(lines.len());
            if !has_new_text(lines, after) {
                return Some(i);
            }
            i = after;
            continue;
        }
        i += 1;
    }
    None
}

/// After an attribution (or at a `>` line): the index just past the `>`
/// block that follows, or `None` when no `>` block follows.
fn quoted_block_end(lines: &Lines<'_>, from: usize) -> Option<usize> {
    let mut j = lines.next_filled(from)?;
    // Skip the rest of a wrapped attribution.
    while j < lines.len() && !lines.quoted(j) && j < from + 2 {
        j += 1;
    }
    if !lines.quoted(j) {
        return None;
    }
    loop {
        while j < lines.len() && (lines.quoted(j) || lines.blank(j)) {
            j += 1;
        }
        // A lone word or two between quoted lines is the quote's own
        // wrapped link, not an inline answer.
        if j + 1 < lines.len()
            && lines.quoted(j + 1)
            && lines.line(j).split_whitespace().count() <= 2
        {
            j += 1;
            continue;
        }
        return Some(j);
    }
}

/// Whether unquoted text other than a signature follows line `from`.
fn has_new_text(lines: &Lines<'_>, from: usize) -> bool {
    match lines.next_filled(from) {
        None => false,
        Some(j) => !is_signature_delimiter(lines.line(j)) && !mobile_signature_at(lines, j),
    }
}

fn is_signature_delimiter(line: &str) -> bool {
    matches!(line.trim_end_matches('\r'), "-- " | "--" | "--\u{a0}")
}

/// A "Sent from my …" line with nothing but blank lines after it.
fn mobile_signature_at(lines: &Lines<'_>, i: usize) -> bool {
    is_mobile_signature(lines.line(i)) && lines.next_filled(i + 1).is_none()
}

fn is_mobile_signature(line: &str) -> bool {
    MOBILE.is_match(line) && line.split_whitespace().count() <= 8
}

/// The line where a signature at the end of the new part starts, if any.
fn signature_start(lines: &Lines<'_>, end: usize) -> Option<usize> {
    let last = (0..end).rev().find(|&j| !lines.blank(j))?;
    // `last` is the last filled line before `end`, so only its own form
    // needs checking.
    if is_mobile_signature(lines.line(last)) {
        return Some(last);
    }
    // A `-- ` line, with at most 12 lines of signature under it.
    (last.saturating_sub(12)..=last)
        .find(|&j| is_signature_delimiter(lines.line(j)))
        .filter(|&j| j > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(new_part(input), expected, "input:\n{input}");
    }

    #[test]
    fn plain_text_is_all_new() {
        check("Hello\n\nthanks\n", "Hello\n\nthanks");
        check("", "");
    }

    #[test]
    fn gmail_and_apple_attributions() {
        check(
            "Yes please.\n\nOn Mon, 1 Jan 2024 at 10:00, Ana <ana@example.pt> wrote:\n> Shall I?\n",
            "Yes please.",
        );
        check(
            "Yes.\n\nOn Jan 1, 2024, at 10:00, Ana <ana@example.pt> wrote:\n\n> Shall I?\n",
            "Yes.",
        );
    }

    #[test]
    fn attribution_wrapped_over_two_lines() {
        check(
            "Merci.\n\nLe lun. 1 janv. 2024 à 10:00, Jean Dupont <jean@example.fr>\na écrit :\n> Bonjour\n",
            "Merci.",
        );
        check(
            "Obrigado.\n\nEm seg., 1 de jan. de 2024 às 10:00, Ana <ana@example.pt>\nescreveu:\n> Olá\n",
            "Obrigado.",
        );
    }

    #[test]
    fn attributions_in_other_languages() {
        for a in [
            "Am 01.01.2024 um 10:00 schrieb Hans Müller <h@example.de>:",
            "El lun, 1 ene 2024 a las 10:00, Ana (<ana@example.es>) escribió:",
            "Il giorno lun 1 gen 2024 alle ore 10:00 Anna <a@example.it> ha scritto:",
            "Op ma 1 jan. 2024 om 10:00 schreef Jan <jan@example.nl>:",
            "Le 01/01/2024 à 10:00, Jean a écrit :",
        ] {
            check(&format!("New text\n\n{a}\n> old\n"), "New text");
        }
    }

    #[test]
    fn outlook_header_blocks() {
        check(
            "Done.\n\n________________________________\nFrom: Ana <ana@example.pt>\nSent: Monday, 1 January 2024 10:00\nTo: Support\nSubject: Printer\n\nIt is broken.\n",
            "Done.",
        );
        check(
            "Fait.\n\nDe : Jean <j@example.fr>\nEnvoyé : lundi 1 janvier 2024 10:00\nÀ : Support\nObjet : Imprimante\n\nCassée.\n",
            "Fait.",
        );
        check(
            "Feito.\n\nDe: Ana\nEnviado: segunda-feira\nPara: Suporte\nAssunto: x\n\nold\n",
            "Feito.",
        );
        check(
            "Erledigt.\n\nVon: Hans\nGesendet: Montag\nAn: Support\nBetreff: x\n\nalt\n",
            "Erledigt.",
        );
    }

    #[test]
    fn separators() {
        check(
            "See below\n\n-----Original Message-----\nFrom: a@b.c\n\nold\n",
            "See below",
        );
        check(
            "Voir plus bas\n\n-----Message d'origine-----\nDe : a@b.c\n\nold\n",
            "Voir plus bas",
        );
        check("Thanks\n\n---- Ana wrote ----\n\n> old\n", "Thanks");
    }

    #[test]
    fn forwards_are_kept_whole() {
        for fwd in [
            "FYI\n\n---------- Forwarded message ---------\nFrom: a@b.c\nDate: x\n\nthe problem",
            "Look\n\nBegin forwarded message:\n\nFrom: a\n\nthe problem",
            "Voir\n\n-------- Message transféré --------\nDe : a\n\nle problème",
        ] {
            check(fwd, fwd);
        }
    }

    #[test]
    fn a_bare_forward_or_quote_keeps_its_text() {
        let fwd = "---------- Forwarded message ---------\nFrom: a@b.c\nDate: x\n\nthe body";
        check(fwd, fwd);
        let quote = "> only\n> quoted";
        check(quote, quote);
    }

    #[test]
    fn bottom_posted_reply_keeps_new_text() {
        check(
            "On Mon, Ana wrote:\n> Shall I?\n\nYes, please do.\n",
            "On Mon, Ana wrote:\n> Shall I?\n\nYes, please do.",
        );
        check(
            "> question one\nanswer one\n> question two\nanswer two\n",
            "> question one\nanswer one\n> question two\nanswer two",
        );
    }

    #[test]
    fn signatures() {
        check("Thanks\n\n-- \nAna\nACME\n", "Thanks");
        check("Thanks\n\nSent from my iPhone\n", "Thanks");
        check(
            "Thanks\n\nEnvoyé de mon iPhone\n\nLe 1 janv. Jean a écrit :\n> x\n",
            "Thanks",
        );
        check("Thanks\n\nVon meinem iPhone gesendet", "Thanks");
        // Not a signature: a sentence that starts the same way.
        check(
            "Here\n\nSent from my desk, is much easier then my mobile phone.",
            "Here\n\nSent from my desk, is much easier then my mobile phone.",
        );
    }

    #[test]
    fn a_sentence_with_on_is_not_an_attribution() {
        check(
            "On Monday I will call.\nPlease wait.\n",
            "On Monday I will call.\nPlease wait.",
        );
        check(
            "Bob wrote: the spec\nis fine\n",
            "Bob wrote: the spec\nis fine",
        );
    }

    #[test]
    fn many_lines_are_searched_only_at_the_top() {
        let quoted = format!("New\n\nOn Mon, Ana wrote:\n{}", "> x\n".repeat(1_000_000));
        assert_eq!(new_part(&quoted), "New");
        let late = format!("{}On Mon, Ana wrote:\n> x\n", "line\n".repeat(MAX_LINES));
        assert_eq!(new_part_end(&late), None);
    }

    #[test]
    fn reply_and_attribution_on_one_line() {
        check("Sure. On Wed, Apr 4, 2012, Bob wrote:\n> Hi", "Sure.");
        check("a\nb-b - c--- On Wed, Bob wrote:\n> Hi", "a\nb-b - c");
        // Not an attribution: text follows "wrote:" (the `>` block under it
        // is cut as a quote all the same).
        check(
            "I met him. On Monday Bob wrote: fine\n> x",
            "I met him. On Monday Bob wrote: fine",
        );
    }

    #[test]
    fn crlf_offsets_are_byte_offsets() {
        let t = "Yes.\r\n\r\nOn Mon, Ana wrote:\r\n> x\r\n";
        assert_eq!(new_part_end(t), Some(4));
    }
}
