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
      | .{2,}\s(wrote|a\s+écrit|escreveu|escribió|ha\s+scritto|schrieb|schreef|skrev|napisał|napisała|пише|написал|написала|написав|kirjoitti|napsal|yazdı)\s*:
    )\s*$")
});

/// Gmail's dated attribution, "2014-10-17 11:28 GMT+02:00 Ana <a@b>:",
/// with at most 200 characters between the date and the address (counted
/// in [`is_attribution`]: a bounded repeat of `.` compiles into 200
/// copies of a UTF-8 automaton, ~220 KB of memory for this one pattern).
static ATTRIBUTION_DATED: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^\s*[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}\s(?P<between>.*?)@\S+?>?\s*:?\s*$")
});

/// Whether `text` is an attribution line ([`ATTRIBUTION`], or
/// [`ATTRIBUTION_DATED`] within its bound).
fn is_attribution(text: &str) -> bool {
    ATTRIBUTION.is_match(text)
        || ATTRIBUTION_DATED
            .captures(text)
            .is_some_and(|c| c["between"].chars().count() <= 200)
}

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

/// "---- Ana wrote ----" (Android) and "-----On … wrote-----", with at
/// most 200 characters before "wrote" (counted in [`is_dashed_attribution`],
/// as for [`ATTRIBUTION_DATED`]).
static DASHED_ATTRIBUTION: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*-{2,}\s*(?P<who>.+?)\bwrote\s*:?\s*-{2,}\s*$"));

fn is_dashed_attribution(line: &str) -> bool {
    DASHED_ATTRIBUTION
        .captures(line)
        .is_some_and(|c| c["who"].chars().count() <= 200)
}

/// Outlook's rule above its header block.
static RULE: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*_{10,}\s*$"));

/// A mobile client's signature line: "Sent from my iPhone", "Envoyé de mon
/// iPad", "Von meinem iPhone gesendet", "Get Outlook for Android", …
/// with at most 60 characters after the client's words (counted in
/// [`is_mobile_signature`], as for [`ATTRIBUTION_DATED`]).
static MOBILE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^\s*(sent\s+(from|with|via)|envoyé\s+(de|depuis|à\s+partir\s+de)|enviado\s+(do|de|desde|a\s+partir\s+do)|enviada\s+(do|de|desde)|von\s+meinem|gesendet\s+von|inviato\s+da|verzonden\s+(met|vanaf|van)|verstuurd\s+(met|vanaf|van)|get\s+outlook\s+for|obtenir\s+outlook\s+pour|obter\s+o\s+outlook\s+para|obtener\s+outlook\s+para)\b(?P<rest>[^,;:.!?]*?)\s*[.!]?\s*$",
    )
});

/// How an attribution starts in each language: only such a line may be
/// joined with the next ones (or a date, for "2014-10-17 … <a@b>:").
static LEADING: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*(on|le|em|el|il|am|op|den|dnia|w\s+dniu|på|vào)\s"));

/// A line that starts with a date, as Gmail's "2014-10-17 11:28 GMT Ana <a@b>:".
static DATED: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*[0-9]{1,4}[-/. ]"));

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
        if is_attribution(&joined) {
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
        if header_block_at(lines, i) || is_dashed_attribution(lines.line(i)) {
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
    line.split_whitespace().count() <= 8
        && MOBILE
            .captures(line)
            .is_some_and(|c| c["rest"].chars().count() <= 60)
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
#[path = "quote_tests.rs"]
mod tests;
