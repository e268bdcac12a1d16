//! Who a threaded mail's sender is to its ticket, and whether the agents
//! may be alerted about it.
//!
//! Both are decisions over facts gathered from the store (by
//! [`super::facts`]): [`decide`] turns [`Facts`] into a [`Standing`], and
//! [`alert_cap`] turns the alert counts into "go ahead" or the reason to
//! hold the alert back. They are pure, so the tests below state the rules
//! as data; [`super::decide`] calls them.

use serde::Serialize;

use crate::config::Config;

/// What is known about a mail that threads to a ticket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// It references one of the ticket's trusted Message-IDs (ours, or the
    /// customer's original), which only the ticket's recipients know.
    pub answers: bool,
    /// It references one of our agents' alerts on the ticket, which only
    /// the agents' address received.
    pub answers_alert: bool,
    /// Its From is a participant of the ticket (From can be forged).
    pub from_participant: bool,
    /// Its From is one of our own addresses (From can be forged).
    pub from_own: bool,
}

/// What the sender is to the ticket, and so what the mail may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Answers the ticket's mail: may reopen it and bring its sender and
    /// Cc's in as participants.
    Answers,
    /// From a participant: may reopen it, adds nobody.
    Participant,
    /// Answers an agents' alert: recorded as the agents' side, unverified;
    /// no state change, no participants, no customer notification.
    AgentsSide,
    /// From one of our own addresses while answering the ticket's mail:
    /// recorded unverified, changes nothing, the agents are warned.
    OwnAddress,
    /// No right to the ticket: a new ticket of its own by default
    /// (`system.stranger_follow_up`, or the queue's policy).
    Stranger,
    /// The directory: a customer user with rw on the queue's group, of a
    /// requester's customer; becomes a requester and may reopen.
    Colleague,
    /// The directory: an active agent with rw on the queue's group; the
    /// mail is added, without agent powers (the sender is not
    /// authenticated), and changes nothing.
    Agent,
    /// The directory: a customer user with read-only access; treated as a
    /// stranger (the queue's policy).
    ReadOnly,
    /// An active agent with rw on the queue's group whose mail proves its
    /// From (`auth::agent_powers`): a reply relayed to the customers, or
    /// an internal note (`process::agent`).
    AgentWithPowers,
}

impl Standing {
    /// The name logs and `explain` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Answers => "answers",
            Standing::Participant => "participant",
            Standing::AgentsSide => "agents_side",
            Standing::OwnAddress => "own_address",
            Standing::Stranger => "stranger",
            Standing::Colleague => "colleague",
            Standing::Agent => "agent",
            Standing::ReadOnly => "read_only",
            Standing::AgentWithPowers => "agent_with_powers",
        }
    }

    /// Why the article is unverified, for `ticket show`; None = verified.
    pub fn unverified(self) -> Option<&'static str> {
        match self {
            Standing::Answers
            | Standing::Participant
            | Standing::Colleague
            | Standing::AgentWithPowers => None,
            Standing::Agent => Some(
                "from an agent of the queue's group: added without agent powers; the sender is not authenticated",
            ),
            Standing::ReadOnly => Some(
                "the sender has read-only access to the queue's group: recorded, changes nothing",
            ),
            Standing::AgentsSide => Some(
                "answers an agents' alert: recorded as the agents' side; the sender is not authenticated",
            ),
            Standing::OwnAddress => Some(FROM_OWN),
            Standing::Stranger => {
                Some("sender is not a participant and does not answer the ticket's mail")
            }
        }
    }

    /// A customer's reply: may move the ticket's state.
    pub fn is_customer_reply(self) -> bool {
        matches!(
            self,
            Standing::Answers | Standing::Participant | Standing::Colleague
        )
    }

    /// No right to write into the ticket: the policy for strangers applies.
    pub fn is_stranger(self) -> bool {
        matches!(self, Standing::Stranger | Standing::ReadOnly)
    }
}

/// Why mail from one of our own addresses is unverified.
pub const FROM_OWN: &str =
    "From is one of our own addresses, which proves nothing until agents are authenticated";

/// The rules, in order: an answer to an agents' alert is the agents' side
/// whoever sends it; our own addresses never count as participants; an
/// answer to the ticket's mail from our own address is recorded but
/// trusted for nothing.
pub fn decide(f: Facts) -> Standing {
    if f.answers_alert {
        Standing::AgentsSide
    } else if f.from_own {
        if f.answers {
            Standing::OwnAddress
        } else {
            Standing::Stranger
        }
    } else if f.answers {
        Standing::Answers
    } else if f.from_participant {
        Standing::Participant
    } else {
        Standing::Stranger
    }
}

/// Agents' alerts already queued in the last hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertCounts {
    pub on_ticket: u32,
    pub by_sender: u32,
}

/// None: alert. Some(reason): hold the alert back.
pub fn alert_cap(config: &Config, counts: AlertCounts) -> Option<String> {
    let s = &config.system;
    if counts.on_ticket >= s.agent_alert_limit_per_ticket_per_hour {
        Some(format!(
            "agents not alerted: {} alerts on this ticket in the last hour \
             (system.agent_alert_limit_per_ticket_per_hour)",
            counts.on_ticket
        ))
    } else if counts.by_sender >= s.agent_alert_limit_per_sender_per_hour {
        Some(format!(
            "agents not alerted: {} alerts caused by this sender in the last hour \
             (system.agent_alert_limit_per_sender_per_hour)",
            counts.by_sender
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: Facts, expected: Standing) {
        assert_eq!(decide(f), expected, "{f:?}");
    }

    #[test]
    fn standing_rules() {
        let none = Facts::default();
        check(none, Standing::Stranger);
        check(
            Facts {
                answers: true,
                ..none
            },
            Standing::Answers,
        );
        check(
            Facts {
                from_participant: true,
                ..none
            },
            Standing::Participant,
        );
        // An answer to an alert is the agents' side, whoever sends it
        // (the robot on the agents' list, a member, the list itself).
        let alert = Facts {
            answers: true,
            answers_alert: true,
            ..none
        };
        check(alert, Standing::AgentsSide);
        check(
            Facts {
                from_participant: true,
                ..alert
            },
            Standing::AgentsSide,
        );
        check(
            Facts {
                from_own: true,
                ..alert
            },
            Standing::AgentsSide,
        );
        // Our own address is no disguise: never a participant.
        let own = Facts {
            from_own: true,
            ..none
        };
        check(own, Standing::Stranger);
        check(
            Facts {
                from_participant: true,
                ..own
            },
            Standing::Stranger,
        );
        check(
            Facts {
                answers: true,
                ..own
            },
            Standing::OwnAddress,
        );
        assert!(Standing::Answers.is_customer_reply());
        assert!(!Standing::AgentsSide.is_customer_reply());
        assert!(Standing::OwnAddress.unverified().is_some());
        assert!(Standing::Participant.unverified().is_none());
    }

    #[test]
    fn alert_caps() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let env = [
            ("POSTDESK_IMAP_PASSWORD", "x"),
            ("POSTDESK_SMTP_PASSWORD", "y"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::load_with_env(&path, &env).unwrap();
        let c = |on_ticket, by_sender| {
            alert_cap(
                &config,
                AlertCounts {
                    on_ticket,
                    by_sender,
                },
            )
        };
        assert_eq!(c(0, 0), None);
        assert_eq!(c(9, 9), None);
        assert!(c(10, 0).unwrap().contains("on this ticket"));
        assert!(c(0, 10).unwrap().contains("this sender"));
        assert!(c(11, 11).unwrap().contains("per_ticket"));
    }
}
