//! The parsed TOML document with its spans: key paths (`mailbox[0].idle`),
//! finding the node an error's span points at, the line a key is on, and
//! the edits the reader makes (remove a bad value, put a placeholder or an
//! environment value in). Knows nothing of postdesk's keys.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// A key path such as `mailbox[0].idle`; empty for the whole document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct KeyPath(pub(super) Vec<Seg>);

impl KeyPath {
    pub(super) fn child(&self, key: &str) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.to_string()));
        p
    }

    fn index(&self, i: usize) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    pub(super) fn parent(&self) -> KeyPath {
        let mut p = self.clone();
        p.0.pop();
        p
    }

    /// Whether `self` is `other` or lies inside it.
    pub(super) fn within(&self, other: &KeyPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// The last key name (not index) on the path.
    pub(super) fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
    }

    /// Parse the form [`fmt::Display`] writes (`mailbox[0].idle`).
    pub(super) fn parse(text: &str) -> KeyPath {
        let mut segs = Vec::new();
        for part in text.split('.').filter(|p| !p.is_empty()) {
            let mut pieces = part.split('[');
            if let Some(k) = pieces.next().filter(|k| !k.is_empty()) {
                segs.push(Seg::Key(k.to_string()));
            }
            for idx in pieces {
                match idx.trim_end_matches(']').parse() {
                    Ok(i) => segs.push(Seg::Index(i)),
                    Err(_) => segs.push(Seg::Key(idx.to_string())),
                }
            }
        }
        KeyPath(segs)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The document being read, and the source of fresh spans for values that
/// do not come from the file (environment values, placeholders): they lie
/// past the end of the text, so they never point at a line.
pub(super) struct Doc<'i> {
    pub(super) text: &'i str,
    pub(super) root: Spanned<DeTable<'i>>,
    next_span: usize,
}

impl<'i> Doc<'i> {
    pub(super) fn new(text: &'i str, root: Spanned<DeTable<'i>>) -> Self {
        Doc {
            text,
            root,
            next_span: text.len() + 1,
        }
    }

    /// A span no other node has.
    pub(super) fn fresh_span(&mut self) -> Range<usize> {
        self.next_span += 2;
        self.next_span..self.next_span + 1
    }

    /// The 1-based line a span starts on, if it lies in the file.
    pub(super) fn line_of(&self, span: &Range<usize>) -> Option<usize> {
        (span.start <= self.text.len() && span != &(0..0))
            .then(|| self.text[..span.start].matches('\n').count() + 1)
    }

    /// The deepest node whose key or value carries `span`.
    pub(super) fn find(&self, span: &Range<usize>) -> Option<KeyPath> {
        if &self.root.span() == span {
            return Some(KeyPath::default());
        }
        let mut best = None;
        find_in_table(self.root.get_ref(), &KeyPath::default(), span, &mut best);
        best
    }

    /// The span of `path`'s own key (of the element, for an index), if
    /// the document has that node.
    pub(super) fn node_span(&self, path: &KeyPath) -> Option<Range<usize>> {
        let mut table = self.root.get_ref();
        let mut value: Option<&Spanned<DeValue>> = None;
        let mut span = None;
        for seg in &path.0 {
            match seg {
                Seg::Key(k) => {
                    if let Some(v) = value {
                        let DeValue::Table(t) = v.get_ref() else {
                            return None;
                        };
                        table = t;
                    }
                    let (key, v) = table.get_key_value(k.as_str())?;
                    span = Some(key.span());
                    value = Some(v);
                }
                Seg::Index(i) => {
                    let DeValue::Array(a) = value?.get_ref() else {
                        return None;
                    };
                    let v = a.get(*i)?;
                    span = Some(v.span());
                    value = Some(v);
                }
            }
        }
        span
    }

    /// Whether `path` is written in the file (not only set from outside).
    pub(super) fn in_file(&self, path: &KeyPath) -> bool {
        self.node_span(path)
            .is_some_and(|s| self.line_of(&s).is_some())
    }

    /// The full path of the key whose last part is written at `span` (as
    /// toml's `duplicate key` error points): the table header in force
    /// there, or the header itself, and the dotted key up to the span.
    /// Simple keys only (no dots inside quotes); `None` when unsure.
    pub(super) fn path_at(&self, span: &Range<usize>) -> Option<KeyPath> {
        let line_start = self
            .text
            .get(..span.start)?
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let written = self.text.get(line_start..span.end)?.trim_start();
        if let Some(header) = written.strip_prefix('[') {
            let (array, header) = match header.strip_prefix('[') {
                Some(h) => (true, h),
                None => (false, header),
            };
            return Some(self.header_path(&split_key(header)?, array, line_start));
        }
        let mut path = self.table_at(line_start);
        path.0.extend(split_key(written)?.into_iter().map(Seg::Key));
        Some(path)
    }

    /// The line of the first `[…]` header naming the table at `path`.
    pub(super) fn header_line(&self, path: &KeyPath) -> Option<usize> {
        let mut at = 0;
        for (n, line) in self.text.split('\n').enumerate() {
            if let Some((keys, array)) = header_of(line) {
                if self.header_path(&keys, array, at) == *path {
                    return Some(n + 1);
                }
            }
            at += line.len() + 1;
        }
        None
    }

    /// The table whose keys are written at byte `at`: the last header
    /// before it, or the root.
    fn table_at(&self, at: usize) -> KeyPath {
        let mut start = at;
        while let Some(nl) = self.text[..start.saturating_sub(1)].rfind('\n') {
            start = nl + 1;
            if let Some((keys, array)) = header_of(&self.text[start..]) {
                return self.header_path(&keys, array, start);
            }
        }
        match header_of(self.text) {
            Some((keys, array)) if at > 0 => self.header_path(&keys, array, 0),
            _ => KeyPath::default(),
        }
    }

    /// A header's path, with the index of each array of tables on the way
    /// (counted from the `[[…]]` headers before byte `at`).
    fn header_path(&self, keys: &[String], array: bool, at: usize) -> KeyPath {
        let before: Vec<Vec<String>> = self.text[..at]
            .split('\n')
            .filter_map(header_of)
            .filter_map(|(k, array)| array.then_some(k))
            .collect();
        let mut path = KeyPath::default();
        for n in 1..=keys.len() {
            path.0.push(Seg::Key(keys[n - 1].clone()));
            let count = before.iter().filter(|h| h[..] == keys[..n]).count()
                + usize::from(array && n == keys.len());
            if count > 0 {
                path.0.push(Seg::Index(count - 1));
            }
        }
        path
    }

    /// The line of `path`'s key, or of the nearest enclosing table that is
    /// in the file (a missing key is reported where it belongs).
    pub(super) fn line_for(&self, path: &KeyPath) -> Option<usize> {
        let mut spans = Vec::new();
        let mut table = self.root.get_ref();
        let mut value: Option<&Spanned<DeValue>> = None;
        for seg in &path.0 {
            let next = match (seg, value.map(|v| v.get_ref())) {
                (Seg::Key(k), None) => table.get_key_value(k.as_str()),
                (Seg::Key(k), Some(DeValue::Table(t))) => {
                    table = t;
                    t.get_key_value(k.as_str())
                }
                (Seg::Index(i), Some(DeValue::Array(a))) => {
                    match a.get(*i) {
                        Some(v) => spans.push(v.span()),
                        None => break,
                    }
                    value = a.get(*i);
                    continue;
                }
                _ => None,
            };
            let Some((k, v)) = next else { break };
            spans.push(k.span());
            value = Some(v);
        }
        spans.iter().rev().find_map(|s| self.line_of(s))
    }

    /// Replace the list of tables at `path` by its first table (keeping
    /// that table's span); whether there was such a list.
    pub(super) fn first_of_list(&mut self, path: &KeyPath) -> bool {
        let Some(Seg::Key(k)) = path.0.last() else {
            return false;
        };
        let Some(v) = self
            .table_mut(&path.parent())
            .and_then(|t| t.get_mut(k.as_str()))
        else {
            return false;
        };
        let first = match v.get_ref() {
            DeValue::Array(a) if a.iter().all(|e| matches!(e.get_ref(), DeValue::Table(_))) => {
                a.first().cloned()
            }
            _ => None,
        };
        let Some(first) = first else { return false };
        *v = first;
        true
    }

    /// Remove the value at `path` (an array element removes its array).
    pub(super) fn remove(&mut self, path: &KeyPath) {
        let mut path = path.clone();
        while matches!(path.0.last(), Some(Seg::Index(_))) {
            path.0.pop();
        }
        let Some(Seg::Key(k)) = path.0.last().cloned() else {
            return;
        };
        if let Some(t) = self.table_mut(&path.parent()) {
            t.remove(k.as_str());
        }
    }

    /// Set the value at `path`, creating missing tables on the way.
    /// `Err` says why it cannot (a non-table in the way, no such element).
    pub(super) fn set(&mut self, path: &KeyPath, value: DeValue<'i>) -> Result<(), String> {
        let Some(Seg::Key(last)) = path.0.last().cloned() else {
            return Err("not a key".into());
        };
        let parent = path.parent();
        for depth in 0..parent.0.len() {
            if matches!(parent.0.get(depth + 1), Some(Seg::Index(_))) {
                continue; // the array itself is not a table; its element is
            }
            let prefix = KeyPath(parent.0[..=depth].to_vec());
            if self.table_mut(&prefix).is_some() {
                continue;
            }
            let Seg::Key(k) = &parent.0[depth] else {
                return Err(format!("there is no {prefix} in the file"));
            };
            let key_span = self.fresh_span();
            let value_span = self.fresh_span();
            let up = KeyPath(parent.0[..depth].to_vec());
            let t = self
                .table_mut(&up)
                .ok_or_else(|| format!("{up} is not a table"))?;
            if t.contains_key(k.as_str()) {
                return Err(format!("{prefix} is not a table"));
            }
            t.insert(
                Spanned::new(key_span, Cow::Owned(k.clone())),
                Spanned::new(value_span, DeValue::Table(DeTable::new())),
            );
        }
        let key_span = self.fresh_span();
        let value_span = self.fresh_span();
        let t = self
            .table_mut(&parent)
            .ok_or_else(|| format!("{parent} is not a table"))?;
        t.insert(
            Spanned::new(key_span, Cow::Owned(last)),
            Spanned::new(value_span, value),
        );
        Ok(())
    }

    fn table_mut(&mut self, path: &KeyPath) -> Option<&mut DeTable<'i>> {
        let mut table = self.root.get_mut();
        let mut segs = path.0.iter().peekable();
        while let Some(seg) = segs.next() {
            let Seg::Key(k) = seg else { return None };
            let mut value = table.get_mut(k.as_str())?.get_mut();
            while let Some(Seg::Index(i)) = segs.peek() {
                let DeValue::Array(a) = value else {
                    return None;
                };
                value = a.get_mut(*i)?.get_mut();
                segs.next();
            }
            let DeValue::Table(t) = value else {
                return None;
            };
            table = t;
        }
        Some(table)
    }
}

/// The keys of a `[a.b]` or `[[a.b]]` header at the start of `line`.
fn header_of(line: &str) -> Option<(Vec<String>, bool)> {
    let line = line.split('\n').next()?.trim();
    let inner = line.strip_prefix('[')?;
    let (array, inner) = match inner.strip_prefix('[') {
        Some(i) => (true, i),
        None => (false, inner),
    };
    let end = inner.find(']')?;
    Some((split_key(&inner[..end])?, array))
}

/// `a . "b".c` → `[a, b, c]`; `None` unless every part is a bare or
/// quoted key.
fn split_key(text: &str) -> Option<Vec<String>> {
    text.split('.')
        .map(|part| {
            let part = part.trim();
            let bare = !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let quoted = ['"', '\'']
                .iter()
                .find_map(|q| part.strip_prefix(*q)?.strip_suffix(*q));
            match (bare, quoted) {
                (true, _) => Some(part.to_string()),
                (false, Some(q)) => Some(q.to_string()),
                _ => None,
            }
        })
        .collect()
}

fn find_in_table(t: &DeTable, at: &KeyPath, span: &Range<usize>, best: &mut Option<KeyPath>) {
    for (k, v) in t.iter() {
        let here = at.child(k.get_ref());
        if &k.span() == span {
            *best = Some(here.clone());
        }
        find_in_value(v, &here, span, best);
    }
}

fn find_in_value(
    v: &Spanned<DeValue>,
    at: &KeyPath,
    span: &Range<usize>,
    best: &mut Option<KeyPath>,
) {
    if &v.span() == span {
        // Deeper matches are found later and win (an array of tables
        // shares its first element's span).
        *best = Some(at.clone());
    }
    match v.get_ref() {
        DeValue::Table(t) => find_in_table(t, at, span, best),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                find_in_value(item, &at.index(i), span, best);
            }
        }
        _ => {}
    }
}

/// A TOML value parsed from text that lives as long as the document
/// (placeholders, environment values).
pub(super) fn parse_value(text: &str) -> Option<DeValue<'_>> {
    DeValue::parse(text).ok().map(Spanned::into_inner)
}
