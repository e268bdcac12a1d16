//! A state typed on the command line (`ticket list --state`, and every
//! later command taking one): the one place the CLI turns what an operator
//! types into a state's name.

use super::exit::{failure, USAGE};

/// The state `typed` names: a configured state or an alias
/// ([`postdesk::tickets::lifecycle::Lifecycle::resolve`]), else a state
/// the database still holds though `[lifecycle]` no longer lists it (such
/// tickets stay listable).
pub fn resolve(
    config: &postdesk::config::Config,
    c: &rusqlite::Connection,
    typed: &str,
) -> anyhow::Result<String> {
    match config.lifecycle.resolve(typed) {
        Ok(s) => Ok(s.name.clone()),
        Err(why) => {
            let lower = typed.trim().to_lowercase();
            let held = postdesk::store::lifecycle::states_in_use(c)?;
            if held.iter().any(|(s, _)| *s == lower) {
                Ok(lower)
            } else {
                Err(failure(USAGE, why))
            }
        }
    }
}
