//! `[lifecycle]`: the states (name, category, final), the strict matrix
//! per role, the default policy and each queue's own (`[lifecycle.queue.
//! NAME]`: mode, reply_to_closed, validate_after_days), and how often the
//! daemon's scheduler looks for tickets to validate. Read by serde into
//! [`RawLifecycle`], checked here into a
//! [`crate::tickets::lifecycle::Lifecycle`]; every problem is named by its
//! key (`lifecycle.states[3]`, `lifecycle.strict.agent.open`, …) so the
//! reader gives it its line.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::tickets::lifecycle::{
    moodle_states, strict_matrix, Category, Lifecycle, Matrix, Mode, QueuePolicy, ReplyToClosed,
    Role, StateDef,
};

/// The longest `validate_after_days` (ten years).
pub(super) const MAX_DAYS: u64 = 3650;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLifecycle {
    /// Absent: the Moodle tracker's states.
    pub(super) states: Option<Vec<RawState>>,
    /// role (`agent`, `assigned`) → from → the states it may move to.
    /// Absent: the shipped matrix with the shipped states, none otherwise.
    pub(super) strict: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
    /// The scheduler's move (defaults: `resolved` → `validated`, else the
    /// first closed state that is not final → the first final one).
    pub(super) validate_from: Option<String>,
    pub(super) validate_to: Option<String>,
    /// The policy of every queue without its own.
    #[serde(default = "default_mode")]
    pub(super) mode: Mode,
    #[serde(default = "default_reply_to_closed")]
    pub(super) reply_to_closed: ReplyToClosed,
    pub(super) validate_after_days: Option<u32>,
    /// Queues' own policies, by queue name; an absent key is the default's.
    #[serde(default)]
    pub(super) queue: BTreeMap<String, RawQueuePolicy>,
    /// How often the daemon looks for tickets due for validation.
    #[serde(default = "default_every")]
    pub(super) scheduler_interval_secs: u64,
}

impl Default for RawLifecycle {
    fn default() -> Self {
        RawLifecycle {
            states: None,
            strict: None,
            validate_from: None,
            validate_to: None,
            mode: default_mode(),
            reply_to_closed: default_reply_to_closed(),
            validate_after_days: None,
            queue: BTreeMap::new(),
            scheduler_interval_secs: default_every(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    pub(super) name: String,
    pub(super) category: Category,
    #[serde(default, rename = "final")]
    pub(super) is_final: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueuePolicy {
    pub(super) mode: Option<Mode>,
    pub(super) reply_to_closed: Option<ReplyToClosed>,
    pub(super) validate_after_days: Option<u32>,
}

fn default_mode() -> Mode {
    Mode::Relaxed
}
fn default_reply_to_closed() -> ReplyToClosed {
    ReplyToClosed::Reopen
}
fn default_every() -> u64 {
    300
}

/// The checked lifecycle and the scheduler's interval; problems are
/// pushed as `key: message`.
pub(super) fn check(
    raw: RawLifecycle,
    queues: &[&str],
    problems: &mut Vec<String>,
) -> (Lifecycle, Duration) {
    let every = Duration::from_secs(raw.scheduler_interval_secs);
    let days = |key: &str, d: Option<u32>, problems: &mut Vec<String>| {
        if let Some(d) = d.filter(|d| u64::from(*d) > MAX_DAYS) {
            problems.push(format!(
                "{key}: {}",
                super::check::out_of_range(d, 0, MAX_DAYS)
            ));
        }
    };
    days(
        "lifecycle.validate_after_days",
        raw.validate_after_days,
        problems,
    );
    let default = QueuePolicy {
        mode: raw.mode,
        reply_to_closed: raw.reply_to_closed,
        validate_after_days: raw.validate_after_days,
    };
    let mut policies = BTreeMap::new();
    for (name, q) in raw.queue {
        let key = format!("lifecycle.queue.{name}");
        if !queues.contains(&name.as_str()) {
            problems.push(format!(
                "{key}: no [[queue]] is named {name:?}; the queues are {}",
                queues.join(", ")
            ));
        }
        days(
            &format!("{key}.validate_after_days"),
            q.validate_after_days,
            problems,
        );
        let policy = QueuePolicy {
            mode: q.mode.unwrap_or(default.mode),
            reply_to_closed: q.reply_to_closed.unwrap_or(default.reply_to_closed),
            validate_after_days: q.validate_after_days.or(default.validate_after_days),
        };
        policies.insert(name, policy);
    }
    let shipped = raw.states.is_none();
    let states: Vec<StateDef> = match raw.states {
        None => moodle_states(),
        Some(list) => list
            .into_iter()
            .map(|s| StateDef {
                name: s.name,
                category: s.category,
                is_final: s.is_final,
            })
            .collect(),
    };
    let matrix = match raw.strict {
        None if shipped => strict_matrix(),
        None => Matrix::new(),
        Some(roles) => {
            let mut m = Matrix::new();
            for (role, rows) in roles {
                let role = match role.as_str() {
                    "agent" => Role::Agent,
                    "assigned" => Role::Assigned,
                    other => {
                        problems.push(format!(
                            "lifecycle.strict.{other}: not a role; the roles are agent and assigned"
                        ));
                        continue;
                    }
                };
                m.insert(role, rows);
            }
            m
        }
    };
    let validates = default.validate_after_days.is_some()
        || policies.values().any(|p| p.validate_after_days.is_some());
    let mut pick = |given: Option<String>, to: bool| {
        given
            .or_else(|| default_validate(&states, to))
            .unwrap_or_else(|| {
                if validates {
                    let key = if to { "validate_to" } else { "validate_from" };
                    problems.push(format!(
                        "lifecycle.{key}: name the state the scheduler validates {} \
                         (no {} state to default to)",
                        if to { "to" } else { "from" },
                        if to {
                            "final closed"
                        } else {
                            "closed, not final,"
                        }
                    ));
                }
                // Never used without validate_after_days.
                states.first().map(|s| s.name.clone()).unwrap_or_default()
            })
    };
    let validate = (pick(raw.validate_from, false), pick(raw.validate_to, true));
    let lifecycle =
        Lifecycle::new(states, matrix, default, policies, validate).unwrap_or_else(|found| {
            problems.extend(found.into_iter().map(|p| {
                let p = p.replacen("validate.from:", "validate_from:", 1).replacen(
                    "validate.to:",
                    "validate_to:",
                    1,
                );
                format!("lifecycle.{p}")
            }));
            Lifecycle::default()
        });
    if !(1..=86_400).contains(&raw.scheduler_interval_secs) {
        problems.push(format!(
            "lifecycle.scheduler_interval_secs: {}",
            super::check::out_of_range(raw.scheduler_interval_secs, 1, 86_400)
        ));
    }
    (lifecycle, every)
}

/// The scheduler's default move among `states`: `resolved` → `validated`
/// when listed, else the first closed state that is not final → the first
/// final closed one (`to`); None when there is no such state.
fn default_validate(states: &[StateDef], to: bool) -> Option<String> {
    let named = if to { "validated" } else { "resolved" };
    let closed = |s: &&StateDef| s.category == Category::Closed && s.is_final == to;
    states
        .iter()
        .find(|s| s.name == named)
        .or_else(|| states.iter().find(closed))
        .map(|s| s.name.clone())
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
