//! A ticket's descriptive fields beyond state and priority: its ITIL type,
//! the service it concerns (a hierarchical name such as `Email::Outlook`),
//! its category and its tags. Pure: the checks rule files and the store
//! share, so a value that passed one is valid for the other.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// ITIL's ticket types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketType {
    Incident,
    Request,
    Problem,
    Change,
}

impl TicketType {
    pub const ALL: [TicketType; 4] = [
        TicketType::Incident,
        TicketType::Request,
        TicketType::Problem,
        TicketType::Change,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketType::Incident => "incident",
            TicketType::Request => "request",
            TicketType::Problem => "problem",
            TicketType::Change => "change",
        }
    }
}

impl fmt::Display for TicketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketType {
    type Err = String;
    fn from_str(s: &str) -> Result<TicketType, String> {
        TicketType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!("unknown ticket type {s:?}; expected incident, request, problem or change")
            })
    }
}

/// The separator of a hierarchical name's levels (`Email::Outlook`).
pub const LEVEL_SEPARATOR: &str = "::";

/// At most this many characters in a service, category or tag.
pub const MAX_NAME_CHARS: usize = 200;

/// Why `name` is not a valid hierarchical name (service, category): each
/// level non-empty, without spaces around it or control characters.
pub fn check_hierarchical(name: &str) -> Result<(), String> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("longer than {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("holds a control character".into());
    }
    for level in name.split(LEVEL_SEPARATOR) {
        if level.is_empty() {
            return Err(format!(
                "an empty level: write levels joined by {LEVEL_SEPARATOR}, as in Email{LEVEL_SEPARATOR}Outlook"
            ));
        }
        if level.trim() != level {
            return Err(format!("level {level:?} starts or ends with a space"));
        }
    }
    Ok(())
}

/// Why `tag` is not a valid tag: one non-empty word-like text without
/// control characters, commas or surrounding spaces.
pub fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("an empty tag".into());
    }
    if tag.chars().count() > MAX_NAME_CHARS {
        return Err(format!("longer than {MAX_NAME_CHARS} characters"));
    }
    if tag.trim() != tag {
        return Err("starts or ends with a space".into());
    }
    if tag.chars().any(|c| c.is_control() || c == ',') {
        return Err("holds a comma or a control character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip() {
        for t in TicketType::ALL {
            assert_eq!(t.as_str().parse::<TicketType>().unwrap(), t);
        }
        assert!("bug".parse::<TicketType>().is_err());
    }

    #[test]
    fn hierarchical_names() {
        assert_eq!(check_hierarchical("Email::Outlook"), Ok(()));
        assert_eq!(check_hierarchical("Printers"), Ok(()));
        assert!(check_hierarchical("Email::").is_err());
        assert!(check_hierarchical("::Outlook").is_err());
        assert!(check_hierarchical("Email:: Outlook").is_err());
        assert!(check_hierarchical("a\nb").is_err());
        assert!(check_hierarchical(&"x".repeat(201)).is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(check_tag("billing"), Ok(()));
        assert_eq!(check_tag("needs review"), Ok(()));
        for bad in ["", " x", "a,b", "a\tb"] {
            assert!(check_tag(bad).is_err(), "{bad:?}");
        }
    }
}
