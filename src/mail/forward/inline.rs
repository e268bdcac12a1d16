//! Inline forwards: a marker line (or, under a forward's subject prefix,
//! Outlook's rule or bare header block), then the original's header block
//! ("From: … Date: … Subject: … To: …" in the client's language), a blank
//! line, and the original's text.

use std::sync::LazyLock;

use regex::Regex;

use super::{Forward, Original, Style};
use crate::mail::{plausible_address, sanitize_line, InboundMail, Mailbox};

/// Only this many lines from the top are searched for a forward.
pub const MAX_SCAN_LINES: usize = 2000;

/// A forwarded header block is at most this many lines.
pub const MAX_BLOCK_LINES: usize = 30;

/// Lines longer than this are never a marker or a header line.
const MAX_MARKER_CHARS: usize = 300;

fn re(pattern: &str) -> Regex {
    // The patterns are literals of this module, checked by its tests.
    Regex::new(pattern).expect("forward patterns are valid")
}

/// The separators clients put above a forwarded mail, in English, French
/// and Portuguese.
static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?ix)^[\s>*]*(
        [-_=]{2,}\s*(forwarded\s+message|message\s+transféré|mensagem\s+encaminhada
          |mensagem\s+reencaminhada)\s*[-_=]*
      | (begin\s+forwarded\s+message|début\s+du\s+message\s+réexpédié|début\s+du\s+message\s+transféré
          |início\s+da\s+mensagem\s+reencaminhada|inicio\s+da\s+mensagem\s+reencaminhada
          |começo\s+da\s+mensagem\s+encaminhada|início\s+da\s+mensagem\s+encaminhada)\s*:
    )[\s*]*$")
});

/// The "original message" separator Outlook and old Thunderbird put above
/// a forward — and above a reply's history too: a forward's only under a
/// forward's subject prefix.
static ORIGINAL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?ix)^[\s>*]*[-_=]{2,}\s*(original\s+message|message\s+d'origine|message\s+original
          |mensagem\s+original)\s*[-_=]*[\s*]*$",
    )
});

/// "On …, "Name" <a@b> wrote:" (Outlook for Mac forwards this way), in
/// English, French and Portuguese: a forward only under a forward's
/// subject prefix, and only with an address on the line.
static ATTRIBUTION: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*(on|le|em)\s.{4,}@.{2,}\b(wrote|a\s+écrit|escreveu)\s*:\s*$"));

/// Outlook's rule above its header block.
static RULE: LazyLock<Regex> = LazyLock::new(|| re(r"^[\s>]*_{10,}\s*$"));

/// A field of a forwarded header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    From,
    Date,
    Subject,
    To,
    Cc,
    MessageId,
    Other,
}

/// `Key: value` of a forwarded header block, in the languages clients
/// write them in (`De :`, `Envoyé :`, `Assunto:`, bold `*From:*`, …).
pub(super) fn header_line(line: &str) -> Option<(Field, &str)> {
    if line.chars().count() > MAX_MARKER_CHARS * 4 {
        return None;
    }
    let line = line.trim_start_matches(|c: char| c.is_whitespace() || c == '>');
    let (key, value) = line.split_once([':', '：'])?;
    let key = key
        .trim_matches(|c: char| c.is_whitespace() || c == '*')
        .to_lowercase();
    if key.is_empty() || key.chars().count() > 20 {
        return None;
    }
    let field = match key.as_str() {
        "from" | "de" | "von" => Field::From,
        "date" | "sent" | "envoyé" | "enviado" | "enviada" | "data" | "datum" | "gesendet" => {
            Field::Date
        }
        "subject" | "objet" | "sujet" | "assunto" | "betreff" => Field::Subject,
        "to" | "à" | "a" | "para" | "pour" | "an" => Field::To,
        "cc" => Field::Cc,
        "message-id" => Field::MessageId,
        "reply-to" | "répondre à" | "responder a" | "importance" | "priorité" | "prioridade" => {
            Field::Other
        }
        _ => return None,
    };
    Some((
        field,
        value.trim_matches(|c: char| c.is_whitespace() || c == '*'),
    ))
}

/// One line of the text with the byte offset it starts at.
struct Line<'a> {
    start: usize,
    text: &'a str,
}

fn lines_of(text: &str, max: usize) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split_inclusive('\n').take(max) {
        out.push(Line {
            start,
            text: piece.trim_end_matches(['\n', '\r']),
        });
        start += piece.len();
    }
    out
}

fn blank(l: &Line<'_>) -> bool {
    l.text
        .trim_matches(|c: char| c.is_whitespace() || c == '>')
        .is_empty()
}

/// The inline forward in `mail`, if any.
pub(super) fn find(mail: &InboundMail) -> Option<Forward> {
    let text = &mail.text;
    let lines = lines_of(text, MAX_SCAN_LINES + MAX_BLOCK_LINES + 2);
    let prefixed = super::has_forward_prefix(&mail.subject);
    let scan = lines.len().min(MAX_SCAN_LINES);
    let (at, block) = (0..scan).find_map(|i| {
        let l = lines[i].text;
        if l.chars().count() > MAX_MARKER_CHARS {
            return None;
        }
        if MARKER.is_match(l) || (prefixed && (ORIGINAL.is_match(l) || RULE.is_match(l))) {
            let next = (i + 1..lines.len()).find(|&j| !blank(&lines[j]));
            return Some((i, next));
        }
        // Outlook's block without a rule: From then a date line.
        let bare = prefixed
            && matches!(header_line(l), Some((Field::From, _)))
            && (i + 1..lines.len().min(i + 4))
                .any(|j| matches!(header_line(lines[j].text), Some((Field::Date, _))));
        if bare {
            return Some((i, Some(i)));
        }
        (prefixed && ATTRIBUTION.is_match(l)).then_some((i, None))
    })?;
    let marker = lines[at].text.trim().to_string();
    let own_text = text[..lines[at].start].trim().to_string();
    let original = match block {
        Some(b) => read_block(text, &lines, b, &marker, mail),
        None if ATTRIBUTION.is_match(&marker) => attributed(text, &lines, at, &marker, mail),
        None => Err(format!(
            "nothing follows the forward marker {marker:?}: no From line to take the sender from"
        )),
    };
    Some(Forward {
        style: Style::Inline,
        marker,
        own_text,
        original,
        own_attachments: Vec::new(),
    })
}

/// The header block starting at line `b` and the text under it.
fn read_block(
    text: &str,
    lines: &[Line<'_>],
    b: usize,
    marker: &str,
    mail: &InboundMail,
) -> Result<Original, String> {
    let mut fields: Vec<(Field, String)> = Vec::new();
    let mut j = b;
    while j < lines.len() && j - b < MAX_BLOCK_LINES {
        let l = &lines[j];
        if blank(l) {
            // One blank line inside the block (HTML turned into text)
            // when a field not yet seen follows.
            let next = lines.get(j + 1).and_then(|n| header_line(n.text));
            match next {
                Some((f, _)) if f != Field::Other && !fields.iter().any(|(g, _)| *g == f) => {
                    j += 1;
                    continue;
                }
                _ => break,
            }
        }
        match header_line(l.text) {
            Some((f, v)) => fields.push((f, v.to_string())),
            // Only address lists wrap; anything else under the block is
            // the text (Outlook puts no blank line before it).
            None => match fields.last_mut() {
                Some((Field::To | Field::Cc | Field::Other, v)) => {
                    v.push(' ');
                    v.push_str(l.text.trim());
                }
                _ => break,
            },
        }
        j += 1;
    }
    let get = |f: Field| {
        fields
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, v)| sanitize_line(v))
    };
    let Some(from_line) = get(Field::From) else {
        return Err(format!(
            "no From line under the forward marker {marker:?}: the sender cannot be told"
        ));
    };
    let Some(from) = parse_from(&from_line) else {
        return Err(format!(
            "the forwarded From line {from_line:?} holds no address"
        ));
    };
    let body_start = (j..lines.len())
        .find(|&k| !blank(&lines[k]))
        .map_or(text.len(), |k| lines[k].start);
    Ok(Original {
        from,
        date: get(Field::Date),
        subject: get(Field::Subject).unwrap_or_default(),
        message_id: get(Field::MessageId)
            .map(|m| crate::threading::normalize_message_id(&m))
            .filter(|m| !m.is_empty()),
        text: unquote(text[body_start..].trim_end()),
        html: None,
        attachments: (mail.attachments.iter())
            .filter(|a| !a.content_type.eq_ignore_ascii_case("message/rfc822"))
            .cloned()
            .collect(),
    })
}

/// A forward under an attribution line: the sender from that line, the
/// subject the forward's own without its prefix, the text the lines under
/// it, indentation removed.
fn attributed(
    text: &str,
    lines: &[Line<'_>],
    at: usize,
    marker: &str,
    mail: &InboundMail,
) -> Result<Original, String> {
    let mut from = parse_from(marker)
        .ok_or_else(|| format!("the attribution line {marker:?} holds no address"))?;
    let before = marker.split('<').next().unwrap_or("");
    from.name = quoted_name(before);
    let start = (at + 1..lines.len())
        .find(|&k| !blank(&lines[k]))
        .map_or(text.len(), |k| lines[k].start);
    Ok(Original {
        from,
        date: None,
        subject: super::strip_forward_prefix(&mail.subject).to_string(),
        message_id: None,
        text: dedent(text.get(start..).unwrap_or("")),
        html: None,
        attachments: (mail.attachments.iter())
            .filter(|a| !a.content_type.eq_ignore_ascii_case("message/rfc822"))
            .cloned()
            .collect(),
    })
}

/// The last name in quotes ("…", « … ») in `s`.
fn quoted_name(s: &str) -> Option<String> {
    let end = s.rfind(['"', '»'])?;
    let head = s.get(..end)?;
    let open = head.rfind(['"', '«'])?;
    let skip = head.get(open..)?.chars().next()?.len_utf8();
    let name = sanitize_line(head.get(open + skip..)?);
    (!name.is_empty()).then_some(name)
}

/// Remove the indentation every non-blank line shares.
fn dedent(text: &str) -> String {
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let common = (text.lines())
        .filter(|l| !l.trim().is_empty())
        .map(indent)
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| {
            l.get(common.min(indent(l))..)
                .unwrap_or(l)
                .trim_end_matches('\r')
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

/// The address and display name in a forwarded From line: `Name
/// <a@b>`, `"Name" <a@b>`, Outlook's `Name [mailto:a@b]`, a bare address.
pub(super) fn parse_from(v: &str) -> Option<Mailbox> {
    let cleaned: String = v
        .chars()
        .map(|c| if "<>[]()\"',;".contains(c) { ' ' } else { c })
        .collect();
    let address = cleaned.split_whitespace().find_map(|t| {
        let t = t
            .strip_prefix("mailto:")
            .unwrap_or(t)
            .trim_matches(['*', '.']);
        let t = t.to_lowercase();
        (t.contains('@') && plausible_address(&t)).then_some(t)
    })?;
    let cut = v
        .find(['<', '[', '('])
        .or_else(|| v.to_lowercase().find(&address))
        .unwrap_or(v.len());
    let name = v
        .get(..cut)
        .unwrap_or("")
        .trim_matches(|c: char| c.is_whitespace() || "\"'*".contains(c));
    let name = sanitize_line(name);
    Some(Mailbox {
        name: (!name.is_empty() && !name.eq_ignore_ascii_case(&address)).then_some(name),
        address,
    })
}

/// A forward quoted with `>` on every line loses one level of it.
fn unquote(text: &str) -> String {
    let quoted = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .all(|l| l.trim_start().starts_with('>'));
    if !quoted || text.trim().is_empty() {
        return text.to_string();
    }
    text.lines()
        .map(|l| {
            let t = l.trim_start();
            let t = t.strip_prefix('>').unwrap_or(t);
            t.strip_prefix(' ').unwrap_or(t)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
