//! The ticket domain: states and what a customer's mail does to them, the
//! priority matrix ([`priority`]), the descriptive fields (type, service,
//! category, tags: [`fields`]) and the history of changes ([`history`]).
//! Pure; the store persists what this module decides.
//!
//! The states are the Moodle tracker's (POSTED … TRANSFERED), which every
//! later lifecycle rule (strict/relaxed modes, role permissions) builds on.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

pub mod fields;
pub mod history;
pub mod lifecycle;
pub mod priority;

pub use fields::TicketType;

/// Life-cycle state of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Just arrived, nobody has looked at it.
    Posted,
    Open,
    Resolving,
    /// Waiting for the customer.
    Waiting,
    Resolved,
    /// Given up (Moodle spells it ABANDONNED).
    Abandoned,
    Testing,
    Published,
    Validated,
    /// Handed to another tracker.
    Transferred,
}

impl State {
    pub const ALL: [State; 10] = [
        State::Posted,
        State::Open,
        State::Resolving,
        State::Waiting,
        State::Resolved,
        State::Abandoned,
        State::Testing,
        State::Published,
        State::Validated,
        State::Transferred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Posted => "posted",
            State::Open => "open",
            State::Resolving => "resolving",
            State::Waiting => "waiting",
            State::Resolved => "resolved",
            State::Abandoned => "abandoned",
            State::Testing => "testing",
            State::Published => "published",
            State::Validated => "validated",
            State::Transferred => "transferred",
        }
    }

    /// The state after a customer writes again: a ticket waiting for the
    /// customer, or one already closed, needs an agent's eyes again.
    pub fn after_customer_reply(self) -> State {
        match self {
            State::Waiting | State::Resolved | State::Abandoned | State::Validated => State::Open,
            other => other,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<State, String> {
        let lower = s.to_ascii_lowercase();
        // Accept Moodle's own spellings too.
        let lower = match lower.as_str() {
            "abandonned" => "abandoned".to_string(),
            "transfered" => "transferred".to_string(),
            _ => lower,
        };
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == lower)
            .ok_or_else(|| format!("unknown ticket state {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
        }
        assert_eq!("ABANDONNED".parse::<State>().unwrap(), State::Abandoned);
        assert_eq!("TRANSFERED".parse::<State>().unwrap(), State::Transferred);
        assert!("closed?".parse::<State>().is_err());
    }

    #[test]
    fn customer_reply_reopens() {
        assert_eq!(State::Resolved.after_customer_reply(), State::Open);
        assert_eq!(State::Waiting.after_customer_reply(), State::Open);
        assert_eq!(State::Posted.after_customer_reply(), State::Posted);
        assert_eq!(
            State::Transferred.after_customer_reply(),
            State::Transferred
        );
    }
}
