//! Reading the file into the raw struct while collecting *every* problem,
//! not only serde's first. Serde stops at the first error, so the reader
//! runs it again and again on the parsed document: each time it records
//! the error (with its span, hence its line and key path) and takes the
//! bad value out — a key with a default then gets the default, a required
//! key gets a placeholder of the wanted type — until the document reads.
//! Values touched that way are remembered so the checks that follow do
//! not complain about the stand-ins. Before that: a file toml cannot
//! parse is reported as such (a duplicate key by its full path and first
//! line), and a one-table section written as a list (`[[smtp]]`) is told
//! so and read from its first table.

use std::borrow::Cow;

use toml::de::{DeTable, DeValue};

use super::diagnostics::{classify, unknown_key, Place, Problem, SerdeError};
use super::document::{parse_value, Doc, KeyPath, Seg};
use super::env::Override;
use super::raw::RawConfig;

/// Enough rounds for every key of a large file to be wrong once.
const MAX_ROUNDS: usize = 1000;

/// What reading found.
pub(super) struct Read<'i> {
    /// The raw configuration, when every problem could be stepped over.
    pub(super) raw: Option<RawConfig>,
    pub(super) problems: Vec<Problem>,
    /// Keys whose values were taken out or stood in for.
    pub(super) touched: Vec<KeyPath>,
    pub(super) doc: Doc<'i>,
    overrides: &'i [Override],
}

impl Read<'_> {
    /// Where a key's value came from: the variable that set it (or that
    /// made its table, absent from the file, by setting a key inside it),
    /// else its line (the span's when known, else the key's or its
    /// table's).
    pub(super) fn place(&self, path: &KeyPath, span: Option<&std::ops::Range<usize>>) -> Place {
        let made_by = |o: &&Override| {
            path.within(&o.path)
                || (!path.0.is_empty() && o.path.within(path) && !self.doc.in_file(path))
        };
        if let Some(o) = self.overrides.iter().find(made_by) {
            return Place::Env(o.var.clone());
        }
        let line = span
            .and_then(|s| self.doc.line_of(s))
            .or_else(|| self.doc.line_for(path));
        Place::File { line }
    }

    fn push_at(&mut self, line: Option<usize>, key: String, message: String) {
        self.problems.push(Problem {
            place: Place::File { line },
            key,
            message,
        });
    }

    fn push(&mut self, path: &KeyPath, span: Option<&std::ops::Range<usize>>, message: String) {
        let place = self.place(path, span);
        self.problems.push(Problem {
            place,
            key: path.to_string(),
            message,
        });
    }
}

/// Parse `text`, apply `overrides`, and read the raw configuration.
pub(super) fn read<'i>(text: &'i str, overrides: &'i [Override]) -> Read<'i> {
    let (root, errors) = DeTable::parse_recoverable(text);
    let mut r = Read {
        raw: None,
        problems: Vec::new(),
        touched: Vec::new(),
        doc: Doc::new(text, root),
        overrides,
    };
    if !errors.is_empty() {
        let mut twice: Vec<KeyPath> = Vec::new();
        for e in errors {
            let line = e.span().and_then(|s| r.doc.line_of(&s));
            let duplicate = e.message() == "duplicate key";
            let (key, message) = match e.span().filter(|_| duplicate) {
                Some(span) => {
                    let Some(path) = r.doc.path_at(&span) else {
                        let name = text.get(span).unwrap_or_default();
                        r.push_at(line, name.to_string(), "defined twice".into());
                        continue;
                    };
                    // The keys of a table defined twice are not news.
                    if twice.iter().any(|t| path.within(t) && path != *t) {
                        continue;
                    }
                    // A table defined twice has the second's span.
                    let first = r
                        .doc
                        .node_span(&path)
                        .and_then(|s| r.doc.line_of(&s))
                        .filter(|n| Some(*n) != line)
                        .or_else(|| r.doc.header_line(&path).filter(|n| Some(*n) != line));
                    twice.push(path.clone());
                    let message = match first {
                        Some(n) => format!("defined twice (first on line {n})"),
                        None => "defined twice".into(),
                    };
                    (path.to_string(), message)
                }
                None => (String::new(), format!("not valid TOML: {}", e.message())),
            };
            r.push_at(line, key, message);
        }
        return r;
    }
    one_table_sections(&mut r);
    // Typed readings of environment values, tried when a string is refused.
    let mut typed: Vec<(KeyPath, Option<DeValue<'i>>)> = Vec::new();
    for o in overrides {
        match r.doc.set(&o.path, DeValue::String(Cow::Borrowed(&o.value))) {
            Ok(()) => typed.push((
                o.path.clone(),
                parse_value(&o.value).filter(|v| !v.is_str()),
            )),
            Err(why) => r.problems.push(Problem {
                place: Place::Env(o.var.clone()),
                key: o.path.to_string(),
                message: format!("cannot be set: {why}"),
            }),
        }
    }
    // Required keys standing in with a placeholder, and its attempts.
    let mut standing_in: Vec<(KeyPath, usize)> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let de = toml::de::Deserializer::from(r.doc.root.clone());
        let e = match serde::Deserialize::deserialize(de) {
            Ok(raw) => {
                r.raw = Some(raw);
                return r;
            }
            Err(e) => e,
        };
        let span = e.span();
        let Some(path) = span.as_ref().and_then(|s| r.doc.find(s)) else {
            let line = span.as_ref().and_then(|s| r.doc.line_of(s));
            r.problems.push(Problem {
                place: Place::File { line },
                key: String::new(),
                message: e.message().to_string(),
            });
            return r;
        };
        let key = path.to_string();
        let kind = classify(e.message(), &key);
        let held = standing_in.iter_mut().find(|(p, _)| *p == path);
        if let (Some((held, tries)), false) = (held, matches!(kind, SerdeError::Missing(_))) {
            // The placeholder had the wrong type: take the one serde wants.
            *tries += 1;
            let held = held.clone();
            if *tries > 3 {
                r.push(&held, None, format!("cannot be read: {}", e.message()));
                return r;
            }
            let value = placeholder_for(e.message());
            if !set_or_stop(&mut r, &held, value) {
                return r;
            }
            continue;
        }
        if let Some((_, alt)) = typed.iter_mut().find(|(p, _)| *p == path) {
            if e.message().starts_with("invalid type: string") {
                if let Some(v) = alt.take() {
                    if !set_or_stop(&mut r, &path, v) {
                        return r;
                    }
                    continue;
                }
            }
        }
        match kind {
            SerdeError::UnknownKey(known) => {
                let given = path.last_key().unwrap_or_default().to_string();
                r.push(&path, span.as_ref(), unknown_key(&given, &known));
                r.doc.remove(&path);
                r.touched.push(path);
            }
            SerdeError::Missing(name) => {
                let full = path.child(&name);
                let explained = r.touched.iter().any(|t| full.within(t))
                    || standing_in.iter().any(|(p, _)| path.within(p));
                if !explained {
                    r.push(
                        &full,
                        None,
                        "is required but missing (see config.example.toml)".into(),
                    );
                }
                standing_in.push((full.clone(), 0));
                r.touched.push(full.clone());
                if !set_or_stop(&mut r, &full, DeValue::String(Cow::Borrowed(""))) {
                    return r;
                }
            }
            SerdeError::Invalid(message) => {
                if path.0.is_empty() {
                    r.push(&path, span.as_ref(), message);
                    return r;
                }
                r.push(&path, span.as_ref(), message);
                r.doc.remove(&path);
                let mut whole = path;
                while matches!(whole.0.last(), Some(Seg::Index(_))) {
                    whole.0.pop();
                }
                r.touched.push(whole);
            }
        }
    }
    r.problems.push(Problem {
        place: Place::File { line: None },
        key: String::new(),
        message: format!("more than {MAX_ROUNDS} problems; fix these and run check again"),
    });
    r
}

/// The sections that are one table each (the other top-level keys are
/// lists of tables). Keep in step with `RawConfig`.
const ONE_TABLE: [&str; 9] = [
    "system",
    "storage",
    "paths",
    "log",
    "smtp",
    "priority",
    "retention",
    "auth",
    "lifecycle",
];

/// A one-table section written as a list of tables (`[[smtp]]`) is told
/// so, and its first table read in its place: serde would read the list
/// as the section's fields in order and talk about the first field.
fn one_table_sections(r: &mut Read) {
    for name in ONE_TABLE {
        let path = KeyPath::default().child(name);
        if r.doc.first_of_list(&path) {
            r.push(
                &path,
                None,
                format!("write [{name}] (one table), not [[{name}]]"),
            );
        }
    }
}

/// Set a value; if the document refuses, the reading cannot go on and the
/// problems so far are what is reported.
fn set_or_stop<'i>(r: &mut Read<'i>, path: &KeyPath, value: DeValue<'i>) -> bool {
    match r.doc.set(path, value) {
        Ok(()) => true,
        Err(why) => {
            r.push(path, None, format!("cannot be read further: {why}"));
            false
        }
    }
}

/// A stand-in of the type serde asked for in `message`.
fn placeholder_for(message: &str) -> DeValue<'static> {
    let wanted = message.split(", expected ").nth(1).unwrap_or_default();
    if let Some(first) = wanted.split('`').nth(1) {
        // An enum: its first variant.
        return DeValue::String(Cow::Owned(first.to_string()));
    }
    let text = if wanted.contains("boolean") {
        "false"
    } else if wanted.starts_with("struct") || wanted.contains("map") {
        "{}"
    } else if wanted.contains("sequence") {
        "[]"
    } else if wanted.starts_with('u') || wanted.starts_with('i') || wanted.contains("integer") {
        "0"
    } else {
        "\"\""
    };
    parse_value(text).unwrap_or(DeValue::Boolean(false))
}
