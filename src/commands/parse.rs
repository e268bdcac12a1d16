//! Reading commands out of a subject and a mail's new text.
//!
//! The command block is the top of the text: blank lines, `#word …` lines
//! and `Control: …` lines, up to the first line of prose. Everything from
//! that line on is [`Parsed::rest`], what a relay may send on. A `#` line
//! whose word is lower-case letters but no command we know is an error,
//! not prose: a mistyped `#stat resolved` must reach the transcript, not
//! the customer. `#Hello` or `#1` starts prose.

use super::{Assignee, Command, CommandError, LinkKind, Located, Source};
use crate::rules::TicketType;

/// Commands read from one mail at most; more are reported, not run.
pub const MAX_COMMANDS: usize = 50;

const OVERFLOW: &str = "more than 50 command lines in one mail: this one and the rest were not run";

/// A command line longer than this is refused (no command needs it).
const MAX_LINE: usize = 1000;

/// Words that can follow `#` (and `Control:`).
const WORDS: [&str; 17] = [
    "state", "assign", "group", "queue", "priority", "urgency", "impact", "service", "type", "tag",
    "cc", "merge", "link", "unlink", "transfer", "note", "new",
];

/// What a mail asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub commands: Vec<Located>,
    pub errors: Vec<CommandError>,
    /// The text after the command block (line ends as given).
    pub rest: String,
    /// The subject without its `[key=value;…]` suffix.
    pub subject: String,
}

impl Parsed {
    /// Whether the mail asked for anything, well or badly written.
    pub fn any(&self) -> bool {
        !self.commands.is_empty() || !self.errors.is_empty()
    }

    fn push(&mut self, source: Source, written: &str, r: Result<Command, String>) {
        let written = written.trim().to_string();
        if self.commands.len() + self.errors.len() >= MAX_COMMANDS {
            if self.errors.last().is_none_or(|e| e.reason != OVERFLOW) {
                self.errors.push(CommandError {
                    source,
                    written,
                    reason: OVERFLOW.into(),
                });
            }
            return;
        }
        match r {
            Ok(command) => self.commands.push(Located {
                command,
                source,
                written,
            }),
            Err(reason) => self.errors.push(CommandError {
                source,
                written,
                reason,
            }),
        }
    }
}

/// Reads the commands of a mail: its subject and its new text (the part
/// above any quoted history).
pub fn parse(subject: &str, text: &str) -> Parsed {
    let mut p = Parsed {
        subject: subject.to_string(),
        ..Parsed::default()
    };
    let bare = subject.trim();
    if bare.eq_ignore_ascii_case("help") {
        p.push(Source::Subject, bare, Ok(Command::Help));
    } else if let Some((kept, suffix)) = subject_suffix(subject) {
        p.subject = kept.to_string();
        for pair in suffix.split([';', ',']).filter(|s| !s.trim().is_empty()) {
            p.push(Source::Subject, pair, subject_pair(pair));
        }
    }
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim();
        let n = i + 1;
        if trimmed.is_empty() {
            offset += line.len();
            continue;
        }
        if let Some(words) = control_line(trimmed) {
            let r = if trimmed.len() > MAX_LINE {
                Err(format!("longer than {MAX_LINE} characters"))
            } else {
                command(words)
            };
            p.push(Source::Control { line: n }, trimmed, r);
        } else if let Some(word) = hash_word(trimmed) {
            let r = if trimmed.len() > MAX_LINE {
                Err(format!("longer than {MAX_LINE} characters"))
            } else if WORDS.contains(&word) {
                command(&trimmed[1..])
            } else {
                Err(format!(
                    "no command #{word}; send a mail with the subject \"help\" for the list"
                ))
            };
            p.push(Source::Body { line: n }, trimmed, r);
        } else {
            break;
        }
        offset += line.len();
    }
    p.rest = text[offset..].to_string();
    p
}

/// `Control: state resolved` → `state resolved`.
fn control_line(line: &str) -> Option<&str> {
    let (head, rest) = line.split_at_checked(8)?;
    head.eq_ignore_ascii_case("control:").then(|| rest.trim())
}

/// The word after `#` when it is lower-case letters only (a command, or a
/// mistyped one); None for prose such as `#1` or `#Hello`.
fn hash_word(line: &str) -> Option<&str> {
    let after = line.strip_prefix('#')?;
    let word = after.split(char::is_whitespace).next().unwrap_or("");
    let ok = !word.is_empty() && word.len() <= 16 && word.bytes().all(|b| b.is_ascii_lowercase());
    ok.then_some(word)
}

/// A trailing `[key=value;…]` of a subject: the subject before it and the
/// pairs. A bracket without `=` (a ticket tag) is not one.
fn subject_suffix(subject: &str) -> Option<(&str, &str)> {
    let s = subject.trim_end();
    let inner_end = s.strip_suffix(']')?;
    let open = inner_end.rfind('[')?;
    let inner = &inner_end[open + 1..];
    if !inner.contains('=') || inner.contains('[') || inner.len() > MAX_LINE {
        return None;
    }
    Some((subject[..open].trim_end(), inner))
}

/// One `key=value` of a subject suffix, in the body's vocabulary.
fn subject_pair(pair: &str) -> Result<Command, String> {
    let (key, value) = pair
        .split_once('=')
        .ok_or_else(|| "expected key=value".to_string())?;
    let key = key.trim().to_ascii_lowercase();
    let key = match key.as_str() {
        "status" => "state",
        "assignedto" | "owner" => "assign",
        k => k,
    };
    let value = value.trim();
    match key {
        "state" | "assign" | "group" | "queue" | "priority" | "urgency" | "impact" | "service"
        | "type" => command(&format!("{key} {value}")),
        "" => Err("a key is missing before =".into()),
        other => Err(format!(
            "{other}= is not a subject command (state, assign, group, queue, priority, urgency, impact, service, type)"
        )),
    }
}

/// `word args…` (without the `#`) → a command.
fn command(words: &str) -> Result<Command, String> {
    let words = words.trim();
    let (word, args) = match words.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (words, ""),
    };
    let word = word.to_ascii_lowercase();
    let one = |what: &str| -> Result<String, String> {
        match args.split_whitespace().collect::<Vec<_>>()[..] {
            [one] => Ok(one.to_string()),
            [] => Err(format!("#{word} needs {what}")),
            _ => Err(format!("#{word} takes one value ({what}), not {args:?}")),
        }
    };
    let named = |what: &str| -> Result<String, String> {
        if args.is_empty() {
            Err(format!("#{word} needs {what}"))
        } else {
            Ok(args.to_string())
        }
    };
    match word.as_str() {
        "state" => Ok(Command::State {
            state: one("a state, e.g. #state resolved")?.to_ascii_lowercase(),
        }),
        "assign" => {
            let who = one("an agent's address, me or nobody")?;
            let to = match who.to_ascii_lowercase().as_str() {
                "me" => Assignee::Me,
                "nobody" | "none" => Assignee::Nobody,
                _ if who.contains('@') => Assignee::Agent(address(&who)?),
                _ => Assignee::Agent(who),
            };
            Ok(Command::Assign { to })
        }
        "group" => Ok(Command::Group {
            name: named("a group's name")?,
        }),
        "queue" => Ok(Command::Queue {
            name: named("a queue's name")?,
        }),
        "service" => Ok(Command::Service {
            name: named("a service, e.g. Email::Outlook")?,
        }),
        "priority" => {
            level(&one("a priority from 1 to 6")?, 6).map(|value| Command::Priority { value })
        }
        "urgency" => {
            level(&one("an urgency from 1 to 5")?, 5).map(|value| Command::Urgency { value })
        }
        "impact" => level(&one("an impact from 1 to 5")?, 5).map(|value| Command::Impact { value }),
        "type" => {
            let t = one("a type: incident, request, problem or change")?.to_ascii_lowercase();
            TicketType::ALL
                .into_iter()
                .find(|x| x.as_str() == t)
                .map(|value| Command::Type { value })
                .ok_or_else(|| format!("no type {t:?}: incident, request, problem or change"))
        }
        "tag" => {
            let (add, tag) = add_remove(&word, args)?;
            Ok(Command::Tag { add, tag })
        }
        "cc" => {
            let (add, who) = add_remove(&word, args)?;
            Ok(Command::Cc {
                add,
                address: address(&who)?,
            })
        }
        "merge" => Ok(Command::Merge {
            into: number(&one("the number of the ticket to merge into")?)?,
        }),
        "link" | "unlink" => match args.split_whitespace().collect::<Vec<_>>()[..] {
            [kind, n] => {
                let kind = LinkKind::ALL
                    .into_iter()
                    .find(|k| k.as_str().eq_ignore_ascii_case(kind))
                    .ok_or_else(|| {
                        format!("no link {kind:?}: problem, change, parent, child or related")
                    })?;
                let ticket = number(n)?;
                Ok(if word == "link" {
                    Command::Link { kind, ticket }
                } else {
                    Command::Unlink { kind, ticket }
                })
            }
            _ => Err(format!(
                "#{word} needs a kind and a number, e.g. #{word} problem 2026112210000017"
            )),
        },
        "transfer" => Ok(Command::Transfer {
            address: address(&one("the address to transfer to")?)?,
        }),
        "note" | "new" => {
            if !args.is_empty() {
                return Err(format!(
                    "#{word} takes nothing after it; write the text on the next line"
                ));
            }
            Ok(if word == "note" {
                Command::Note
            } else {
                Command::New
            })
        }
        _ => Err(format!(
            "no command {word:?}; send a mail with the subject \"help\" for the list"
        )),
    }
}

fn level(s: &str, max: u8) -> Result<u8, String> {
    match s.parse::<u8>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number from 1 to {max}")),
    }
}

fn add_remove(word: &str, args: &str) -> Result<(bool, String), String> {
    match args.split_whitespace().collect::<Vec<_>>()[..] {
        [op, what] => match op.to_ascii_lowercase().as_str() {
            "add" | "+" => Ok((true, what.to_string())),
            "remove" | "rm" | "-" => Ok((false, what.to_string())),
            _ => Err(format!("#{word} {op}: expected add or remove")),
        },
        _ => Err(format!(
            "#{word} needs add or remove and one value, e.g. #{word} add X"
        )),
    }
}

fn address(a: &str) -> Result<String, String> {
    let a = a.trim_matches(|c| c == '<' || c == '>');
    if crate::config::valid_address(a) {
        Ok(a.to_ascii_lowercase())
    } else {
        Err(format!("{a:?} is not a mail address"))
    }
}

/// A ticket number as typed: `2026112210000017`, `#2026…`, `Ticket#2026…`
/// or `[Ticket#2026…]`. The check digit is the decide stage's to verify.
fn number(s: &str) -> Result<String, String> {
    let t = s.trim_matches(|c| c == '[' || c == ']');
    let t = t.rsplit('#').next().unwrap_or(t);
    if !t.is_empty() && t.len() <= 32 && t.bytes().all(|b| b.is_ascii_digit()) {
        Ok(t.to_string())
    } else {
        Err(format!("{s:?} is not a ticket number"))
    }
}
