//! A ticket's history as data: who changed which field, from what to what.
//! Every writer of ticket fields records its changes the same way — rules
//! today; agents, commands and the scheduler as they arrive — so one table
//! (`ticket_history`) answers "who did this to my ticket, and when". Pure:
//! the apply stage hands these to the store.

use std::fmt;

use serde::Serialize;

/// What kind of actor made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A business rule (`rules/*.toml`), named by the rule's name.
    Rule,
    /// An agent, named by their login or address.
    Agent,
    /// An agent's command in mail, named by the command.
    Command,
    /// A scheduled job (escalation, auto-close), named by the job.
    Scheduler,
    /// postdesk itself (e.g. a customer's reply reopening a ticket).
    System,
}

impl ActorKind {
    pub const ALL: [ActorKind; 5] = [
        ActorKind::Rule,
        ActorKind::Agent,
        ActorKind::Command,
        ActorKind::Scheduler,
        ActorKind::System,
    ];

    /// As stored in `ticket_history.actor_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Rule => "rule",
            ActorKind::Agent => "agent",
            ActorKind::Command => "command",
            ActorKind::Scheduler => "scheduler",
            ActorKind::System => "system",
        }
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field changed by one actor. `old` is None when the field had no
/// value (or, for an addition such as a tag or an observer, when there is
/// nothing to replace); `new` is None when the change cleared it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub actor_kind: ActorKind,
    pub actor: String,
    /// The field's name: `queue`, `urgency`, `priority`, `state`, `type`,
    /// `service`, `category`, `tags`, `language`, `observer`, `auto_reply`,
    /// `forwarded` (an agent forwarded the new value's mail), …
    pub field: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Change {
    /// A change made by the rule named `rule`.
    pub fn by_rule(
        rule: &str,
        field: &'static str,
        old: Option<String>,
        new: Option<String>,
    ) -> Change {
        Change {
            actor_kind: ActorKind::Rule,
            actor: rule.to_string(),
            field,
            old,
            new,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.actor_kind, self.actor, self.field)?;
        match (&self.old, &self.new) {
            (Some(o), Some(n)) => write!(f, " {o} → {n}"),
            (None, Some(n)) => write!(f, " → {n}"),
            (Some(o), None) => write!(f, " {o} → (none)"),
            (None, None) => f.write_str(" (none)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_a_line() {
        let c = Change::by_rule("vip", "urgency", Some("3".into()), Some("4".into()));
        assert_eq!(c.to_string(), "rule vip: urgency 3 → 4");
        let t = Change::by_rule("billing", "tags", None, Some("billing".into()));
        assert_eq!(t.to_string(), "rule billing: tags → billing");
        assert_eq!(ActorKind::ALL.map(ActorKind::as_str).len(), 5);
    }
}
