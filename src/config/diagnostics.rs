//! How configuration problems are told: each names where it is (file and
//! line, or the environment variable that set the value), the key path
//! (`mailbox[0].idle`) and what is allowed. Serde's and toml's messages
//! are translated here into that form.

use std::fmt;
use std::path::{Path, PathBuf};

use super::check::{out_of_range, range_of};

/// Where a problem's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The configuration file, at this 1-based line when known.
    File { line: Option<usize> },
    /// A `POSTDESK_<SECTION>__<KEY>` environment variable.
    Env(String),
}

/// One problem: where, which key (empty for the whole file), what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: Place,
    pub key: String,
    pub message: String,
}

/// Every problem found in a configuration, each naming its place and key.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// A problem with the file as a whole (e.g. it cannot be read).
    pub(super) fn whole_file(file: PathBuf, message: String) -> Self {
        ConfigError {
            file,
            problems: vec![Problem {
                place: Place::File { line: None },
                key: String::new(),
                message,
            }],
        }
    }

    /// One problem as a line: `postdesk.toml:12: mailbox[0].tls: …`.
    pub fn line(&self, p: &Problem) -> String {
        line(&self.file, p)
    }
}

/// A problem (or warning) of `file` as a line:
/// `postdesk.toml:12: mailbox[0].tls: …`.
pub(super) fn line(file: &Path, p: &Problem) -> String {
    let place = match &p.place {
        Place::File { line: Some(n) } => format!("{}:{n}", file.display()),
        Place::File { line: None } => file.display().to_string(),
        Place::Env(var) => format!("environment variable {var}"),
    };
    if p.key.is_empty() {
        format!("{place}: {}", p.message)
    } else {
        format!("{place}: {}: {}", p.key, p.message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "configuration {} has {} problem(s):",
            self.file.display(),
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  {}", self.line(p))?;
        }
        Ok(())
    }
}

/// What serde said, sorted by what the reader does next.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SerdeError {
    /// `unknown field `x`, expected one of …`: the known keys.
    UnknownKey(Vec<String>),
    /// `missing field `x``.
    Missing(String),
    /// The value has the wrong type or is not allowed; the text says what is.
    Invalid(String),
}

/// Sort and translate one of serde's messages.
pub(super) fn classify(message: &str, key: &str) -> SerdeError {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return SerdeError::UnknownKey(ticked(rest).into_iter().skip(1).collect());
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let name = ticked(rest).into_iter().next().unwrap_or_default();
        return SerdeError::Missing(name);
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let words = ticked(rest);
        if let Some((given, allowed)) = words.split_first() {
            return SerdeError::Invalid(format!(
                "{given:?} is not valid; expected one of {}",
                allowed.join(", ")
            ));
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: integer ") {
        if let Some((n, ty)) = rest.split_once(", expected ") {
            let n = n.trim_matches('`');
            if let Some(hi) = integer_max(ty) {
                let (lo, hi) = range_of(key).unwrap_or((0, hi));
                return SerdeError::Invalid(out_of_range(n, lo, hi));
            }
        }
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, wanted)) = rest.split_once(", expected ") {
            // A whole number too large even for TOML (`integer `1e20` as i128`).
            if let (Some(n), Some(hi)) = (found.strip_prefix("integer "), integer_max(wanted)) {
                let (lo, hi) = range_of(key).unwrap_or((0, hi));
                let n = ticked(n).into_iter().next().unwrap_or_else(|| n.into());
                return SerdeError::Invalid(out_of_range(n, lo, hi));
            }
            if found == "map" && wanted == "a sequence" {
                return SerdeError::Invalid(format!(
                    "a single table is not allowed here; expected a list (write [[{key}]] for each entry)"
                ));
            }
            return SerdeError::Invalid(format!(
                "{} is not allowed here; expected {}",
                found_text(found),
                wanted_text(wanted)
            ));
        }
    }
    SerdeError::Invalid(message.to_string())
}

/// The words between backticks, in order.
fn ticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn integer_max(ty: &str) -> Option<u64> {
    Some(match ty {
        "u8" => u8::MAX.into(),
        "u16" => u16::MAX.into(),
        "u32" => u32::MAX.into(),
        "u64" => i64::MAX as u64, // TOML integers are i64
        "i32" => i32::MAX as u64,
        "i64" => i64::MAX as u64,
        _ => return None,
    })
}

fn found_text(found: &str) -> String {
    // The value between backticks, or all of it (`integer `5` as i128`).
    let inner = |s: &str| ticked(s).into_iter().next().unwrap_or_else(|| s.into());
    if let Some(s) = found.strip_prefix("string ") {
        format!("the string {s}")
    } else if let Some(n) = found.strip_prefix("integer ") {
        format!("the number {}", inner(n))
    } else if let Some(n) = found.strip_prefix("floating point ") {
        format!("the number {}", inner(n))
    } else if let Some(b) = found.strip_prefix("boolean ") {
        inner(b)
    } else if found == "map" {
        "a table".into()
    } else if found == "sequence" {
        "a list".into()
    } else {
        found.to_string()
    }
}

fn wanted_text(wanted: &str) -> String {
    match wanted {
        "a boolean" => "true or false".into(),
        "a string" => "a string in quotes".into(),
        "a sequence" => "a list [ … ]".into(),
        "a map" => "a table".into(),
        w if w.starts_with("struct ") => "a table".into(),
        w if integer_max(w).is_some() => "a whole number".into(),
        w if w.starts_with("variant identifier") || w.starts_with("enum ") => {
            "one of the values listed in config.example.toml".into()
        }
        w => w.to_string(),
    }
}

/// The known key closest to a misspelt one, if any is close enough to be
/// a likely typo.
pub(super) fn nearest<'a>(given: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(given, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// The message for an unknown key.
pub(super) fn unknown_key(given: &str, known: &[String]) -> String {
    match nearest(given, known) {
        Some(k) => format!("unknown key; did you mean {k}?"),
        None if known.is_empty() => "unknown key; this table takes no keys".into(),
        None => format!("unknown key; expected one of {}", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(message: &str, key: &str, expected: SerdeError) {
        assert_eq!(classify(message, key), expected, "{message}");
    }

    #[test]
    fn serde_messages_become_plain_words() {
        check(
            "unknown variant `ssl`, expected one of `implicit`, `starttls`, `none`",
            "smtp.tls",
            SerdeError::Invalid(
                "\"ssl\" is not valid; expected one of implicit, starttls, none".into(),
            ),
        );
        check(
            "invalid value: integer `70000`, expected u16",
            "smtp.port",
            SerdeError::Invalid("70000 is out of range; expected 1 to 65535".into()),
        );
        check(
            "invalid type: string \"yes\", expected a boolean",
            "mailbox[0].idle",
            SerdeError::Invalid(
                "the string \"yes\" is not allowed here; expected true or false".into(),
            ),
        );
        check(
            "missing field `fqdn`",
            "system",
            SerdeError::Missing("fqdn".into()),
        );
        check(
            "unknown field `hots`, expected one of `host`, `port`",
            "smtp",
            SerdeError::UnknownKey(vec!["host".into(), "port".into()]),
        );
    }

    #[test]
    fn nearest_key() {
        let known: Vec<String> = ["host", "port", "poll_interval_secs", "idle"]
            .map(String::from)
            .to_vec();
        assert_eq!(nearest("hots", &known), Some("host"));
        assert_eq!(
            nearest("poll_intervall_secs", &known),
            Some("poll_interval_secs")
        );
        assert_eq!(nearest("colour", &known), None);
    }
}
