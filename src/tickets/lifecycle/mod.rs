//! The lifecycle: which states a ticket can be in, which moves each role
//! may make (GLPI's lifecycle matrices, the Moodle tracker's strict mode,
//! or relaxed mode where every state is open to every agent), and the
//! automatic moves — an agent's first action, a customer's reply, the
//! scheduler's validation of resolved tickets. Per queue.
//!
//! Pure: built once from `[lifecycle]` in the config, asked by the decide
//! stage; it names states by their configured names and never touches the
//! store. The default set is the Moodle tracker's (POSTED … TRANSFERED).

mod defaults;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use defaults::{moodle_states, strict_matrix};

/// What kind of state a state is: the familiar aliases `new`, `pending`
/// and `closed` (and `open`) name the first state of their category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    New,
    Open,
    Pending,
    Closed,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::New,
        Category::Open,
        Category::Pending,
        Category::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::New => "new",
            Category::Open => "open",
            Category::Pending => "pending",
            Category::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

/// One state of the configured list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateDef {
    /// Lower-case name, as stored and shown.
    pub name: String,
    pub category: Category,
    /// A final state is left only by reopening (a customer's reply under
    /// the `reopen` policy, or an agent's explicit move).
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// Who asks for a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An agent with write access to the ticket's queue.
    Agent,
    /// The agent the ticket is assigned to (falls back to `agent`'s row
    /// when the matrix has none of its own).
    Assigned,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Assigned => "assigned",
        }
    }
}

/// Relaxed: every agent may move a ticket to any state. Strict: only the
/// moves the matrix lists for the agent's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Relaxed,
    Strict,
}

/// What a customer's reply does to a ticket in a closed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyToClosed {
    /// Back to the first open state (the default).
    Reopen,
    /// A new ticket, linked to the closed one.
    NewTicket,
    /// A templated refusal; the ticket stays closed.
    Refuse,
}

/// One queue's lifecycle settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuePolicy {
    pub mode: Mode,
    pub reply_to_closed: ReplyToClosed,
    /// Days after which a ticket resolved without a customer's reply is
    /// validated by the scheduler; None: never.
    pub validate_after_days: Option<u32>,
}

/// The moves allowed per role in strict mode: role → from → targets.
pub type Matrix = BTreeMap<Role, BTreeMap<String, Vec<String>>>;

/// The checked lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    states: Vec<StateDef>,
    matrix: Matrix,
    default: QueuePolicy,
    queues: BTreeMap<String, QueuePolicy>,
    /// The scheduler's move: from this state to that one.
    validate: (String, String),
}

/// What a customer's reply does to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CustomerReply {
    /// The state stays as it is.
    Stay,
    /// The ticket moves to this state.
    Move { to: String, reason: String },
    /// The reply opens a new ticket linked to this closed one.
    NewTicket { reason: String },
    /// The reply is refused with a template; the ticket stays closed.
    Refuse { reason: String },
}

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle::new(
            moodle_states(),
            strict_matrix(),
            QueuePolicy::default(),
            BTreeMap::new(),
            ("resolved".into(), "validated".into()),
        )
        .expect("the shipped lifecycle is consistent (tested)")
    }
}

impl Default for QueuePolicy {
    fn default() -> QueuePolicy {
        QueuePolicy {
            mode: Mode::Relaxed,
            reply_to_closed: ReplyToClosed::Reopen,
            validate_after_days: None,
        }
    }
}

impl Lifecycle {
    /// Checks a lifecycle: unique well-formed names, a `new` and an `open`
    /// state, a matrix and a validation move naming only known states.
    /// Every problem is listed.
    pub fn new(
        states: Vec<StateDef>,
        matrix: Matrix,
        default: QueuePolicy,
        queues: BTreeMap<String, QueuePolicy>,
        validate: (String, String),
    ) -> Result<Lifecycle, Vec<String>> {
        let mut problems = Vec::new();
        for (i, s) in states.iter().enumerate() {
            let ok = !s.name.is_empty()
                && s.name.len() <= 32
                && s.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !ok {
                problems.push(format!(
                    "states[{i}]: {:?} is not a state name (lower-case letters, digits, - and _, at most 32)",
                    s.name
                ));
            }
            if states[..i].iter().any(|o| o.name == s.name) {
                problems.push(format!("states[{i}]: {:?} is listed twice", s.name));
            }
        }
        for needed in [Category::New, Category::Open] {
            if !states.iter().any(|s| s.category == needed) {
                problems.push(format!(
                    "states: no state of category {:?}: a new ticket and a reopened one need one",
                    needed.as_str()
                ));
            }
        }
        let known = |n: &str| states.iter().any(|s| s.name == n);
        for (role, rows) in &matrix {
            for (from, tos) in rows {
                for n in std::iter::once(from).chain(tos) {
                    if !known(n) {
                        problems.push(format!(
                            "strict.{}.{from}: no state {n:?} in states",
                            role.as_str()
                        ));
                    }
                }
            }
        }
        for (what, n) in [("from", &validate.0), ("to", &validate.1)] {
            if !known(n) {
                problems.push(format!("validate.{what}: no state {n:?} in states"));
            }
        }
        if problems.is_empty() {
            Ok(Lifecycle {
                states,
                matrix,
                default,
                queues,
                validate,
            })
        } else {
            Err(problems)
        }
    }

    pub fn states(&self) -> &[StateDef] {
        &self.states
    }

    /// The state a user typed: a name (any case; the tracker's own
    /// spellings ABANDONNED and TRANSFERED too), else a category alias
    /// (`new`, `open`, `pending`, `closed`: the first state of it).
    pub fn resolve(&self, typed: &str) -> Result<&StateDef, String> {
        let t = typed.trim().to_ascii_lowercase();
        let t = match t.as_str() {
            "abandonned" => "abandoned",
            "transfered" => "transferred",
            other => other,
        };
        if let Some(s) = self.states.iter().find(|s| s.name == t) {
            return Ok(s);
        }
        if let Some(c) = Category::parse(t) {
            if let Some(s) = self.first(c) {
                return Ok(s);
            }
        }
        let names: Vec<&str> = self.states.iter().map(|s| s.name.as_str()).collect();
        Err(format!(
            "no state {typed:?}; the states are {} (or new, open, pending, closed)",
            names.join(", ")
        ))
    }

    /// The first state of a category, in list order.
    pub fn first(&self, c: Category) -> Option<&StateDef> {
        self.states.iter().find(|s| s.category == c)
    }

    /// The configured state named `name` (None: not, or no longer, listed).
    pub fn get(&self, name: &str) -> Option<&StateDef> {
        self.states.iter().find(|s| s.name == name)
    }

    /// A new ticket's state.
    pub fn initial(&self) -> &StateDef {
        self.first(Category::New)
            .expect("checked in Lifecycle::new: a state of category new exists")
    }

    /// The settings of a queue (the defaults unless it has its own).
    pub fn policy(&self, queue: &str) -> &QueuePolicy {
        self.queues.get(queue).unwrap_or(&self.default)
    }

    /// Whether `role` may move a ticket of `queue` from `from` to `to`,
    /// and if not, why (in words an agent's transcript can show).
    pub fn may_move(&self, queue: &str, from: &str, to: &str, role: Role) -> Result<(), String> {
        if self.get(to).is_none() {
            return Err(format!("no state {to:?}"));
        }
        if from == to {
            return Err(format!("the ticket is already {to}"));
        }
        if self.policy(queue).mode == Mode::Relaxed {
            return Ok(());
        }
        let row = |r: Role| self.matrix.get(&r).and_then(|rows| rows.get(from));
        let allowed = match role {
            Role::Assigned => row(Role::Assigned).or_else(|| row(Role::Agent)),
            Role::Agent => row(Role::Agent),
        };
        match allowed {
            Some(tos) if tos.iter().any(|t| t == to) => Ok(()),
            Some(tos) if !tos.is_empty() => Err(format!(
                "queue {queue} is in strict mode: {} may move a ticket in state {from} only to {}",
                if role == Role::Assigned {
                    "the assigned agent"
                } else {
                    "an agent"
                },
                tos.join(", ")
            )),
            _ => Err(format!(
                "queue {queue} is in strict mode: {} may not move a ticket in state {from}",
                if role == Role::Assigned {
                    "the assigned agent"
                } else {
                    "an agent"
                }
            )),
        }
    }

    /// The automatic move on an agent's first action (a reply, a note, a
    /// command): a ticket still in a `new` state opens.
    pub fn on_agent_action(&self, from: &str) -> Option<&StateDef> {
        match self.get(from) {
            Some(s) if s.category == Category::New => self.first(Category::Open),
            _ => None,
        }
    }

    /// What a customer's reply does: a pending ticket opens again; a
    /// closed one follows the queue's policy; others stay.
    pub fn on_customer_reply(&self, queue: &str, from: &str) -> CustomerReply {
        let Some(s) = self.get(from) else {
            // A state no longer configured: bring it back into the list.
            return self.reopen(format!("state {from:?} is no longer configured"));
        };
        match s.category {
            Category::New | Category::Open => CustomerReply::Stay,
            Category::Pending => self.reopen(format!("the customer answered a {from} ticket")),
            Category::Closed => match self.policy(queue).reply_to_closed {
                ReplyToClosed::Reopen => self.reopen(format!(
                    "the customer answered a {from} ticket (queue policy: reopen)"
                )),
                ReplyToClosed::NewTicket => CustomerReply::NewTicket {
                    reason: format!("the ticket is {from} (queue policy: a new ticket, linked)"),
                },
                ReplyToClosed::Refuse => CustomerReply::Refuse {
                    reason: format!("the ticket is {from} (queue policy: refuse)"),
                },
            },
        }
    }

    fn reopen(&self, reason: String) -> CustomerReply {
        let to = self
            .first(Category::Open)
            .expect("checked in Lifecycle::new: a state of category open exists");
        CustomerReply::Move {
            to: to.name.clone(),
            reason,
        }
    }

    /// The scheduler's move for a ticket of `queue` in `state` whose last
    /// customer reply (or its move to `state`) is `idle_days` old: the
    /// target state, when it is due.
    pub fn due_validation(&self, queue: &str, state: &str, idle_days: u32) -> Option<&str> {
        let days = self.policy(queue).validate_after_days?;
        (state == self.validate.0 && idle_days >= days).then_some(self.validate.1.as_str())
    }

    /// The state the scheduler validates from (for the store's query).
    pub fn validate_from(&self) -> &str {
        &self.validate.0
    }
}
