//! Business rules: `rules/*.toml` loaded into a [`RuleSet`] and evaluated
//! against one mail's facts ([`Message`]) into [`Action`]s, with a trace of
//! every rule tried. Pure: no store, no I/O once loaded, deterministic for
//! a given `now`. What the actions do to a ticket is the decide stage's
//! business; which mail reaches here is the pipeline's.
//!
//! Files are evaluated in file-name order, rules in file order. A rule
//! matches when every criterion of its `when` holds; a matching rule's
//! actions are listed in order and, with `stop = true`, end the
//! evaluation. Loading reports every problem of every file at once, each
//! with file, line, rule and key; regexes are compiled here, once. The
//! file format is documented in `rules/README.md`.

mod actions;
mod criteria;
mod message;
mod read;
mod when;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_actions;
#[cfg(test)]
mod tests_shipped;

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::tickets::TicketType;
pub use actions::Action;
pub use message::{Class, Message};

use criteria::Criterion;

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleError {
    pub file: PathBuf,
    /// 1-based; `None` when the problem is the file or folder itself.
    pub line: Option<usize>,
    /// The rule's name, when the problem lies inside a named rule.
    pub rule: Option<String>,
    /// The key path inside the rule (`when.subject.contains`), or inside
    /// the file for file-level keys; empty for the file as a whole.
    pub key: String,
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some(rule) = &self.rule {
            write!(f, "rule {rule:?}: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.reason)
    }
}

/// Every problem of a rules folder, for callers that carry errors up
/// (the daemon's start maps it to EX_CONFIG). Shown on one line, the
/// problems separated by "; ", as a log line wants them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
pub struct RulesError(pub Vec<RuleError>);

/// One checked rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub description: String,
    /// The file it was read from, and the line of its `[[rule]]`.
    pub file: PathBuf,
    pub line: usize,
    /// A disabled rule is loaded and checked but never evaluated.
    pub enabled: bool,
    /// A match ends the evaluation after this rule's actions.
    pub stop: bool,
    /// The top-level criteria (all must hold), each with its description.
    criteria: Vec<(String, Criterion)>,
    pub actions: Vec<Action>,
    /// The line of `actions.queue`, for checking the name against config.
    queue_line: Option<usize>,
    /// The line of `actions.auto_reply`, for checking the template name.
    auto_reply_line: Option<usize>,
    /// The line of `actions.state`, for checking the state's name.
    state_line: Option<usize>,
}

/// Every rule of a folder, in evaluation order.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub dir: PathBuf,
    /// The `*.toml` files read, sorted by name.
    pub files: Vec<PathBuf>,
    pub rules: Vec<Rule>,
}

/// What evaluating the rules for one mail gave.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation<'r> {
    /// The actions of every matching rule, in evaluation order, each with
    /// the name of its rule.
    pub actions: Vec<(&'r str, &'r Action)>,
    /// Each rule evaluated (enabled, and not after a stop), in order.
    pub trace: Vec<RuleTrace<'r>>,
}

/// How one rule fared.
#[derive(Debug, Clone, Serialize)]
pub struct RuleTrace<'r> {
    pub rule: &'r str,
    pub file: &'r Path,
    pub matched: bool,
    /// Each top-level criterion, as it reads, and whether it held.
    pub criteria: Vec<(&'r str, bool)>,
    /// It matched and has `stop = true`: no later rule was evaluated.
    pub stopped: bool,
}

impl RuleSet {
    /// Read and check every `*.toml` file of `dir` (which must exist; it
    /// may be empty). `Err` lists every problem found, in file order.
    pub fn load(dir: &Path) -> Result<RuleSet, Vec<RuleError>> {
        let folder_error = |reason: String| RuleError {
            file: dir.to_path_buf(),
            line: None,
            rule: None,
            key: String::new(),
            reason,
        };
        let entries = std::fs::read_dir(dir).map_err(|e| {
            vec![folder_error(format!(
                "{e} (create the folder; it may stay empty)"
            ))]
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        let mut texts = Vec::new();
        let mut errors = Vec::new();
        for file in &files {
            match std::fs::read_to_string(file) {
                Ok(text) => texts.push((file.clone(), text)),
                Err(e) => errors.push(RuleError {
                    file: file.clone(),
                    ..folder_error(format!("cannot read the file: {e}"))
                }),
            }
        }
        let mut set = RuleSet::from_texts(dir, &texts).unwrap_or_else(|e| {
            errors.extend(e);
            RuleSet::default()
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        set.files = files;
        Ok(set)
    }

    /// Check rule files already read, given as (path, text) in evaluation
    /// order; `dir` names the folder in the set.
    pub fn from_texts(dir: &Path, files: &[(PathBuf, String)]) -> Result<RuleSet, Vec<RuleError>> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut errors = Vec::new();
        for (path, text) in files {
            let (got, errs) = read::read_file(path, text);
            errors.extend(errs);
            for rule in got {
                if let Some(first) = rules.iter().find(|r| r.name == rule.name) {
                    errors.push(RuleError {
                        file: rule.file.clone(),
                        line: Some(rule.line),
                        rule: Some(rule.name.clone()),
                        key: "name".into(),
                        reason: format!(
                            "a rule of this name is already in {}:{}; names must be unique",
                            first.file.display(),
                            first.line
                        ),
                    });
                    continue;
                }
                rules.push(rule);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RuleSet {
            dir: dir.to_path_buf(),
            files: files.iter().map(|(p, _)| p.clone()).collect(),
            rules,
        })
    }

    /// Rules whose `queue` action names a queue not in `known` (the
    /// configured `[[queue]]` names), one problem each.
    pub fn unknown_queues<'k>(
        &self,
        known: impl IntoIterator<Item = &'k str> + Clone,
    ) -> Vec<RuleError> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for a in &rule.actions {
                let Action::SetQueue(q) = a else { continue };
                if known.clone().into_iter().any(|k| k == q) {
                    continue;
                }
                let names: Vec<&str> = known.clone().into_iter().collect();
                let hint = match read::nearest(q, &names) {
                    Some(n) => format!("; did you mean {n}?"),
                    None => format!("; the configured queues are {}", names.join(", ")),
                };
                out.push(RuleError {
                    file: rule.file.clone(),
                    line: rule.queue_line,
                    rule: Some(rule.name.clone()),
                    key: "actions.queue".into(),
                    reason: format!("no [[queue]] is named {q:?}{hint}"),
                });
            }
        }
        out
    }

    /// Rules whose `state` action names no state of `lifecycle` (nor an
    /// alias of one), one problem each: such an action would be refused
    /// on every mail.
    pub fn unknown_states(
        &self,
        lifecycle: &crate::tickets::lifecycle::Lifecycle,
    ) -> Vec<RuleError> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for a in &rule.actions {
                let Action::SetState(s) = a else { continue };
                if let Err(why) = lifecycle.resolve(s) {
                    out.push(RuleError {
                        file: rule.file.clone(),
                        line: rule.state_line,
                        rule: Some(rule.name.clone()),
                        key: "actions.state".into(),
                        reason: format!("{why} (see [lifecycle] in the configuration)"),
                    });
                }
            }
        }
        out
    }

    /// Rules whose `auto_reply` names a template that `exists` does not
    /// know in any language (the configured templates and the shipped
    /// ones), one problem each: such a rule would answer with nothing.
    pub fn unknown_templates(&self, exists: impl Fn(&str) -> bool) -> Vec<RuleError> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for a in &rule.actions {
                let Action::AutoReplyTemplate(name) = a else {
                    continue;
                };
                if exists(name) {
                    continue;
                }
                out.push(RuleError {
                    file: rule.file.clone(),
                    line: rule.auto_reply_line,
                    rule: Some(rule.name.clone()),
                    key: "actions.auto_reply".into(),
                    reason: format!(
                        "no template {name:?} in any language: add mail-templates/<language>/{name}.txt \
                         (at least for the default language)"
                    ),
                });
            }
        }
        out
    }

    /// Evaluate every enabled rule against `m`, handled at `now` (weekday
    /// and time windows read `now` in their time zone).
    pub fn evaluate<'r>(&'r self, m: &Message, now: DateTime<Utc>) -> Evaluation<'r> {
        let mut ev = Evaluation {
            actions: Vec::new(),
            trace: Vec::new(),
        };
        for rule in self.rules.iter().filter(|r| r.enabled) {
            let criteria: Vec<(&str, bool)> = rule
                .criteria
                .iter()
                .map(|(text, c)| (text.as_str(), c.matches(m, now)))
                .collect();
            let matched = criteria.iter().all(|(_, ok)| *ok);
            let stopped = matched && rule.stop;
            if matched {
                ev.actions
                    .extend(rule.actions.iter().map(|a| (rule.name.as_str(), a)));
            }
            ev.trace.push(RuleTrace {
                rule: &rule.name,
                file: &rule.file,
                matched,
                criteria,
                stopped,
            });
            if stopped {
                break;
            }
        }
        ev
    }
}

/// Every problem as one line each.
pub fn describe(errors: &[RuleError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
