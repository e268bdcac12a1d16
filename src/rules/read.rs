//! Reading one rule file: TOML with spans (toml's `DeTable`, as the
//! configuration reader does), so every problem carries its line; each
//! problem is recorded and reading goes on, so one `check` lists them all.

use std::ops::Range;
use std::path::Path;

use chrono_tz::Tz;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{actions, when, Rule, RuleError};

/// The keys of a file's top level and of one `[[rule]]`.
const FILE_KEYS: [&str; 2] = ["time_zone", "rule"];
const RULE_KEYS: [&str; 6] = ["name", "description", "enabled", "stop", "when", "actions"];

/// Where problems of one file go, and the rule being read.
pub(crate) struct Reader<'t> {
    file: &'t Path,
    text: &'t str,
    rule: Option<String>,
    pub(crate) errors: Vec<RuleError>,
}

impl<'t> Reader<'t> {
    pub(crate) fn new(file: &'t Path, text: &'t str) -> Self {
        Reader {
            file,
            text,
            rule: None,
            errors: Vec::new(),
        }
    }

    /// The 1-based line a span starts on.
    pub(crate) fn line_of(&self, span: &Range<usize>) -> Option<usize> {
        let before = self.text.as_bytes().get(..span.start)?;
        Some(before.iter().filter(|b| **b == b'\n').count() + 1)
    }

    pub(crate) fn error(&mut self, span: Range<usize>, key: &str, reason: impl Into<String>) {
        self.errors.push(RuleError {
            file: self.file.to_path_buf(),
            line: self.line_of(&span),
            rule: self.rule.clone(),
            key: key.to_string(),
            reason: reason.into(),
        });
    }

    /// Report every key of `table` not in `known`, with the nearest one.
    pub(crate) fn unknown_keys(&mut self, table: &DeTable, at: &str, known: &[&str]) {
        for (k, _) in table.iter() {
            let key = k.get_ref().as_ref();
            if known.contains(&key) {
                continue;
            }
            let reason = match nearest(key, known) {
                Some(n) => format!("unknown key; did you mean {n}?"),
                None => format!("unknown key; expected one of {}", known.join(", ")),
            };
            self.error(k.span(), &join(at, key), reason);
        }
    }

    /// A non-empty string.
    pub(crate) fn name(&mut self, v: &Spanned<DeValue>, path: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) if !s.trim().is_empty() => Some(s.to_string()),
            DeValue::String(_) => {
                self.error(v.span(), path, "must not be empty");
                None
            }
            other => {
                self.error(
                    v.span(),
                    path,
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// A non-empty string or a non-empty array of them.
    pub(crate) fn names(&mut self, v: &Spanned<DeValue>, path: &str) -> Option<Vec<String>> {
        match v.get_ref() {
            DeValue::Array(items) if items.is_empty() => {
                self.error(v.span(), path, "the list is empty");
                None
            }
            DeValue::Array(items) => {
                let got: Vec<Option<String>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.name(item, &format!("{path}[{i}]")))
                    .collect();
                got.into_iter().collect()
            }
            _ => self.name(v, path).map(|s| vec![s]),
        }
    }

    /// An integer from 1 to `max`.
    pub(crate) fn level(&mut self, v: &Spanned<DeValue>, path: &str, max: u8) -> Option<u8> {
        match integer(v.get_ref()).and_then(|n| u8::try_from(n).ok()) {
            Some(n) if (1..=max).contains(&n) => Some(n),
            _ => {
                self.error(
                    v.span(),
                    path,
                    format!("expected a whole number from 1 to {max}"),
                );
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, v: &Spanned<DeValue>, path: &str) -> Option<bool> {
        let b = v.get_ref().as_bool();
        if b.is_none() {
            self.error(v.span(), path, "expected true or false");
        }
        b
    }

    /// A time zone name such as `Europe/Lisbon`.
    pub(crate) fn time_zone(&mut self, v: &Spanned<DeValue>, path: &str) -> Option<Tz> {
        let name = self.name(v, path)?;
        match name.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                let known: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
                let hint = match nearest(&name, &known) {
                    Some(n) => format!("; did you mean {n}?"),
                    None => " (an IANA name such as Europe/Lisbon or UTC)".into(),
                };
                self.error(v.span(), path, format!("unknown time zone {name:?}{hint}"));
                None
            }
        }
    }
}

/// `at.key`, or `key` at the top.
pub(crate) fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// The value of a TOML integer (toml keeps its digits and radix).
pub(crate) fn integer(v: &DeValue) -> Option<i64> {
    let n = v.as_integer()?;
    i64::from_str_radix(&n.as_str().replace('_', ""), n.radix()).ok()
}

/// The known name nearest to `given`, if near enough to be a typo.
pub(crate) fn nearest<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(given, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The entries of a table in file order.
pub(crate) fn in_file_order<'a, 'i>(
    table: &'a DeTable<'i>,
) -> Vec<(
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

/// Every rule of one file, in file order, and every problem found.
pub(crate) fn read_file(file: &Path, text: &str) -> (Vec<Rule>, Vec<RuleError>) {
    let mut r = Reader::new(file, text);
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            r.error(span, "", format!("not valid TOML: {}", e.message().trim()));
        }
        return (Vec::new(), r.errors);
    }
    let root = root.get_ref();
    r.unknown_keys(root, "", &FILE_KEYS);
    let tz = match root.get("time_zone") {
        Some(v) => r.time_zone(v, "time_zone").unwrap_or(Tz::UTC),
        None => Tz::UTC,
    };
    let mut rules = Vec::new();
    let Some(list) = root.get("rule") else {
        return (rules, r.errors);
    };
    let DeValue::Array(items) = list.get_ref() else {
        r.error(list.span(), "rule", "expected [[rule]] tables");
        return (rules, r.errors);
    };
    for (i, item) in items.iter().enumerate() {
        let DeValue::Table(t) = item.get_ref() else {
            r.error(
                item.span(),
                &format!("rule[{i}]"),
                "expected a [[rule]] table",
            );
            continue;
        };
        if let Some(rule) = read_rule(&mut r, item.span(), t, tz) {
            rules.push(rule);
        }
        r.rule = None;
    }
    (rules, r.errors)
}

fn read_rule(r: &mut Reader, span: Range<usize>, t: &DeTable, tz: Tz) -> Option<Rule> {
    let before = r.errors.len();
    let name = match t.get("name") {
        Some(v) => r.name(v, "name"),
        None => {
            r.error(span.clone(), "name", "every rule needs a name");
            None
        }
    };
    r.rule = name.clone();
    r.unknown_keys(t, "", &RULE_KEYS);
    let description = match t.get("description") {
        Some(v) => r.name(v, "description").unwrap_or_default(),
        None => String::new(),
    };
    let flag = |r: &mut Reader, key: &str, default: bool| match t.get(key) {
        Some(v) => r.boolean(v, key).unwrap_or(default),
        None => default,
    };
    let enabled = flag(r, "enabled", true);
    let stop = flag(r, "stop", false);
    let criteria = match t.get("when") {
        Some(v) => match v.get_ref() {
            DeValue::Table(w) => when::parse(r, w, "when", tz),
            _ => {
                r.error(v.span(), "when", "expected a table of criteria");
                Vec::new()
            }
        },
        None => {
            r.error(
                span.clone(),
                "when",
                "every rule needs `when` (write `when = {}` to act on every mail)",
            );
            Vec::new()
        }
    };
    let (actions, spans) = match t.get("actions") {
        Some(v) => match v.get_ref() {
            DeValue::Table(a) => actions::parse(r, a),
            _ => {
                r.error(v.span(), "actions", "expected a table of actions");
                (Vec::new(), Default::default())
            }
        },
        None => (Vec::new(), Default::default()),
    };
    if actions.is_empty() && !stop && r.errors.len() == before {
        r.error(
            span.clone(),
            "actions",
            "the rule does nothing: give it actions, or stop = true",
        );
    }
    let queue_line = spans.queue.and_then(|s| r.line_of(&s));
    let auto_reply_line = spans.auto_reply.and_then(|s| r.line_of(&s));
    let state_line = spans.state.and_then(|s| r.line_of(&s));
    (r.errors.len() == before).then(|| Rule {
        name: name.unwrap_or_default(),
        description,
        file: r.file.to_path_buf(),
        line: r.line_of(&span).unwrap_or(1),
        enabled,
        stop,
        criteria,
        actions,
        queue_line,
        auto_reply_line,
        state_line,
    })
}
