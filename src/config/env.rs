//! Environment overrides: `POSTDESK_<SECTION>__<KEY>=value` sets
//! `section.key` (`POSTDESK_MAILBOX__0__PASSWORD` sets
//! `mailbox[0].password`). Other `POSTDESK_*` variables (`POSTDESK_CONFIG`,
//! test settings) have no `__` and are not keys. A value is a string
//! unless the key wants a number, a boolean or a list, in which case it is
//! read as TOML (`2525`, `false`, `["a@example.com"]`); so a password
//! `007` stays `007`.

use std::collections::BTreeMap;

use super::document::{KeyPath, Seg};

/// One `POSTDESK_…__…` variable.
pub(super) struct Override {
    /// The variable's name, for messages.
    pub(super) var: String,
    pub(super) path: KeyPath,
    pub(super) value: String,
}

/// The override variables in `env`, in name order.
pub(super) fn overrides(env: &BTreeMap<String, String>) -> Vec<Override> {
    env.iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix("POSTDESK_")?;
            rest.contains("__").then(|| Override {
                var: k.clone(),
                path: KeyPath(
                    rest.split("__")
                        .map(|s| match s.parse() {
                            Ok(i) => Seg::Index(i),
                            Err(_) => Seg::Key(s.to_lowercase()),
                        })
                        .collect(),
                ),
                value: v.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_double_underscore_variables_are_keys() {
        let env: BTreeMap<String, String> = [
            ("POSTDESK_CONFIG", "/x"),
            ("POSTDESK_SMTP__PORT", "2525"),
            ("POSTDESK_MAILBOX__0__PASSWORD", "pw"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        let o = overrides(&env);
        let paths: Vec<String> = o.iter().map(|o| o.path.to_string()).collect();
        assert_eq!(paths, ["mailbox[0].password", "smtp.port"]);
        assert_eq!(o[1].var, "POSTDESK_SMTP__PORT");
    }
}
