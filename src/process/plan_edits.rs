//! What rules do to a plan: their edits ([`Edit`]), what the rules made
//! of one mail ([`RulesOutcome`], [`RuleCheck`]), where the rules come
//! from ([`Rules`]) and how one edit changes the plan ([`Plan::edit`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::*;

/// A change a rule makes to the plan (the rules engine turns its actions
/// into these; see [`crate::process::decide::apply_rules`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "set", content = "to", rename_all = "snake_case")]
pub enum Edit {
    Queue(String),
    Urgency(u8),
    Impact(u8),
    Priority(u8),
    /// A state as written (a name or an alias), resolved when applied.
    State(String),
    /// Add an observer (a participant who is not the requester).
    Observer(String),
    /// Add an agent of the directory, given by name, as an observer (at
    /// the agent's first address).
    ObserverAgent(String),
    /// Assign the ticket to a group of the directory.
    Group(String),
    /// Assign the ticket to an agent of the directory.
    Agent(String),
    /// No auto-reply.
    SuppressAutoReply,
    /// Store the mail, make no ticket and send nothing.
    Ignore(String),
    /// Quarantine the mail (e.g. spam), with the reason.
    Quarantine(String),
    Type(TicketType),
    Service(String),
    Category(String),
    /// Add tags (the ticket's tags are a set).
    Tags(Vec<String>),
    /// The ticket's language, and so its mail's.
    Language(String),
    /// Answer a new ticket with this auto-reply template.
    AutoReplyTemplate(String),
}

/// An edit and the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleEdit {
    pub rule: String,
    pub edit: Edit,
}

/// How one rule fared against the mail, for `explain` and the logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCheck {
    pub rule: String,
    /// The rule file it comes from.
    pub file: String,
    pub matched: bool,
    /// Each top-level criterion, as it reads, and whether it held.
    pub criteria: Vec<(String, bool)>,
    /// The actions it asked for (empty when it did not match).
    pub actions: Vec<String>,
    /// It matched with `stop = true`: no later rule was evaluated.
    pub stopped: bool,
}

/// What the rules made of one mail: the edits in order, and every rule
/// evaluated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesOutcome {
    pub edits: Vec<RuleEdit>,
    pub checks: Vec<RuleCheck>,
}

/// Where rule actions come from: the rules engine implements this (see
/// `process/rules_bridge.rs`); it sees the draft plan (new ticket or
/// follow-up, queue, …), the mail, the sender's customer as the directory
/// knows it (`customer`), and when it is handled (`now`, taken from the
/// facts, so deciding stays pure).
pub trait Rules {
    fn evaluate(
        &self,
        draft: &Plan,
        mail: &crate::mail::InboundMail,
        customer: Option<&str>,
        now: DateTime<Utc>,
    ) -> RulesOutcome;
}

/// No rules: the plan stays as decided.
pub struct NoRules;

impl Rules for NoRules {
    fn evaluate(
        &self,
        _: &Plan,
        _: &crate::mail::InboundMail,
        _: Option<&str>,
        _: DateTime<Utc>,
    ) -> RulesOutcome {
        RulesOutcome::default()
    }
}

impl Plan {
    /// Apply one rule's edit, recording it (or why it was refused) in the
    /// trace, and each field it changed in [`Plan::changes`]. Edits only
    /// apply to a mail that becomes an article; what the plan cannot do
    /// (an unknown queue, group or agent) is also a note on
    /// the article, so `ticket show` says why it did not happen.
    pub fn edit(
        &mut self,
        e: &RuleEdit,
        config: &Config,
        dir: &crate::process::permit::DirectoryFacts,
    ) {
        let by = &e.rule;
        if !self.makes_article() {
            self.note(
                "rules",
                format!(
                    "rule {by}: {:?} not applied: the mail makes no article",
                    e.edit
                ),
            );
            return;
        }
        let note_only = matches!(self.disposition, Disposition::Note { .. })
            && !matches!(e.edit, Edit::Ignore(_) | Edit::Quarantine(_));
        if note_only {
            let said = format!(
                "rule {by}: {:?} not applied: machines' mail is an internal note that changes nothing",
                e.edit
            );
            if let Some(a) = self.article.as_mut() {
                a.notes.push(said.clone());
            }
            self.note("rules", said);
            return;
        }
        let new_ticket = matches!(self.disposition, Disposition::NewTicket { .. });
        let (Some(t), Some(_)) = (self.ticket.as_mut(), self.article.as_ref()) else {
            return;
        };
        let mut changes: Vec<Change> = Vec::new();
        let mut change = |field: &'static str, old: Option<String>, new: Option<String>| {
            if old != new {
                changes.push(Change::by_rule(by, field, old, new));
            }
        };
        let m = &config.priority;
        let c = &mut t.classification;
        let before = *c;
        let mut refused = false;
        let said = match &e.edit {
            Edit::Queue(q) if config.queue(q).is_none() => {
                refused = true;
                format!(
                    "rule {by}: no [[queue]] named {q:?}; the queue stays {}",
                    t.queue
                )
            }
            Edit::Queue(q) => {
                change("queue", Some(t.queue.clone()), Some(q.clone()));
                t.queue = q.clone();
                format!("rule {by}: queue {q}")
            }
            Edit::Urgency(u) => {
                c.set_urgency(*u, m);
                format!("rule {by}: urgency {} (priority {})", c.urgency, c.priority)
            }
            Edit::Impact(i) => {
                c.set_impact(*i, m);
                format!("rule {by}: impact {} (priority {})", c.impact, c.priority)
            }
            Edit::Priority(p) => {
                c.set_priority(*p);
                format!("rule {by}: priority {} (set explicitly)", c.priority)
            }
            Edit::State(typed) => match config.lifecycle.resolve(typed) {
                Ok(s) => {
                    change("state", Some(t.state.clone()), Some(s.name.clone()));
                    t.state = s.name.clone();
                    format!("rule {by}: state {}", s.name)
                }
                Err(why) => {
                    refused = true;
                    format!("rule {by}: {why}; the state stays {}", t.state)
                }
            },
            Edit::Type(ty) => {
                let old = t.ticket_type.map(|x| x.to_string());
                change("type", old, Some(ty.to_string()));
                t.ticket_type = Some(*ty);
                format!("rule {by}: type {ty}")
            }
            Edit::Service(v) => {
                change("service", t.service.clone(), Some(v.clone()));
                t.service = Some(v.clone());
                format!("rule {by}: service {v}")
            }
            Edit::Category(v) => {
                change("category", t.category.clone(), Some(v.clone()));
                t.category = Some(v.clone());
                format!("rule {by}: category {v}")
            }
            Edit::Tags(tags) => {
                for tag in tags {
                    if t.tags.insert(tag.clone()) {
                        change("tags", None, Some(tag.clone()));
                    }
                }
                format!("rule {by}: tags += {}", tags.join(", "))
            }
            Edit::Language(l) => {
                change("language", Some(t.language.clone()), Some(l.clone()));
                t.language = l.clone();
                format!("rule {by}: language {l}")
            }
            Edit::Observer(a) => {
                let a = a.to_lowercase();
                if !self.participants.iter().any(|p| p.address == a) {
                    change("observer", None, Some(a.clone()));
                }
                self.add_participant(&a, None, "observer");
                format!("rule {by}: observer {a}")
            }
            Edit::ObserverAgent(name) => match dir.agent_address(name) {
                Some(a) => {
                    let a = a.to_lowercase();
                    if !self.participants.iter().any(|p| p.address == a) {
                        change("observer", None, Some(a.clone()));
                    }
                    self.add_participant(&a, Some(name), "observer");
                    format!("rule {by}: observer {a} (agent {name})")
                }
                None => {
                    refused = true;
                    format!(
                        "rule {by}: observers += [{name:?}]: no active agent named {name:?} \
                         in the directory (nor an address); not added"
                    )
                }
            },
            Edit::Group(g) => {
                let old = self.assign.group.clone();
                let said = crate::process::permit::assign(self, by, Some(g), None, dir);
                refused = self.assign.group.as_deref() != Some(g.as_str());
                change("group", old, self.assign.group.clone());
                said
            }
            Edit::Agent(a) => {
                let old = self.assign.agent.clone();
                let said = crate::process::permit::assign(self, by, None, Some(a), dir);
                refused = self.assign.agent.as_deref() != Some(a.as_str());
                change("agent", old, self.assign.agent.clone());
                said
            }
            Edit::SuppressAutoReply if !new_ticket => {
                refused = true;
                format!("rule {by}: auto_reply = false: a follow-up gets no auto-reply anyway")
            }
            Edit::SuppressAutoReply => {
                change(
                    "auto_reply",
                    self.auto_reply_template.clone(),
                    Some("off".into()),
                );
                self.auto_reply_suppressed = Some(format!("suppressed by rule {by}"));
                format!("rule {by}: no auto-reply")
            }
            Edit::AutoReplyTemplate(name) if !new_ticket => {
                refused = true;
                format!("rule {by}: auto_reply = {name:?}: a follow-up gets no auto-reply")
            }
            Edit::AutoReplyTemplate(name) => {
                change(
                    "auto_reply",
                    self.auto_reply_template.clone(),
                    Some(name.clone()),
                );
                self.auto_reply_template = Some(name.clone());
                format!("rule {by}: auto-reply template {name}")
            }
            Edit::Ignore(why) => {
                self.drop_article(Disposition::Ignore {
                    reason: format!("rule {by}: {why}"),
                });
                format!("rule {by}: ignore ({why})")
            }
            Edit::Quarantine(why) => {
                self.drop_article(Disposition::Quarantine {
                    reason: format!("rule {by}: {why}"),
                });
                format!("rule {by}: quarantine ({why})")
            }
        };
        if let Some(after) = self.ticket.as_ref().map(|t| t.classification) {
            for (field, old, new) in [
                ("urgency", before.urgency, after.urgency),
                ("impact", before.impact, after.impact),
                ("priority", before.priority, after.priority),
            ] {
                change(field, Some(old.to_string()), Some(new.to_string()));
            }
        }
        self.changes.extend(changes);
        // What the plan could not do stays on the article (`ticket show`);
        // what it did is the ticket's history.
        if refused {
            if let Some(a) = self.article.as_mut() {
                a.notes.push(said.clone());
            }
        }
        self.note("rules", said);
    }
}
