//! Secrets of the configuration (passwords): given inline, in a file
//! (recommended: the file can be readable by the daemon's user only) or in
//! an environment variable, exactly one of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::check::absolute;

/// The secret of the table at `key` from `password`, `password_file` or
/// `password_env`; None when none is set or it cannot be read (then a
/// problem says why).
pub(super) fn secret(
    key: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
    var: Option<String>,
    base: &Path,
    env: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Option<String> {
    let given = inline.is_some() as u8 + file.is_some() as u8 + var.is_some() as u8;
    if given > 1 {
        problems.push(format!(
            "{key}: set only one of password, password_file, password_env"
        ));
        return None;
    }
    if let Some(p) = inline {
        return Some(p);
    }
    if let Some(f) = file {
        let f = absolute(base, &f);
        return match std::fs::read_to_string(&f) {
            Ok(s) => Some(s.trim_end_matches(['\r', '\n']).to_string()),
            Err(e) => {
                problems.push(format!(
                    "{key}.password_file: cannot read {}: {e}",
                    f.display()
                ));
                None
            }
        };
    }
    if let Some(v) = var {
        return match env.get(&v) {
            Some(s) => Some(s.clone()),
            None => {
                problems.push(format!(
                    "{key}.password_env: environment variable {v} is not set"
                ));
                None
            }
        };
    }
    None
}
