//! The plan: what handling one mail will do, as data. [`super::decide`]
//! makes it from the facts, rules edit it ([`Edit`], through
//! [`super::decide::apply_rules`]), the apply stage carries it out and
//! `postdesk explain` prints it. Nothing here touches the store.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::standing::Standing;
use crate::config::Config;
use crate::notify::Kind;
use crate::store::records::TicketRef;
use crate::tickets::history::Change;
use crate::tickets::priority::Classification;
use crate::tickets::TicketType;

/// What handling one mail will do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Which mailbox the mail counts as received by, and why.
    pub route: Route,
    pub disposition: Disposition,
    /// The ticket as the plan leaves it: a new ticket's fields, or a
    /// followed-up ticket's after the change. None for a duplicate, an
    /// ignored or a quarantined mail.
    pub ticket: Option<TicketPlan>,
    /// The inbound article the mail becomes (None as for `ticket`).
    pub article: Option<ArticlePlan>,
    /// People added to the ticket.
    pub participants: Vec<NewParticipant>,
    /// The assigned agent and group a rule sets (names in the directory).
    pub assign: Assignment,
    /// A sender the directory does not know, who becomes a customer user
    /// with this first mail (queues in the directory).
    pub new_customer_user: Option<NewCustomerUser>,
    /// Mail to send, and mail held back with the reason.
    pub notifications: Vec<Notification>,
    /// Set by a rule: no auto-reply, for this reason.
    pub auto_reply_suppressed: Option<String>,
    /// Set by a rule: the auto-reply template to answer with
    /// (`mail-templates/<lang>/<name>.txt`) instead of `auto_reply`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_reply_template: Option<String>,
    /// Every field the rules changed, with the old and new value: the
    /// ticket's history (`ticket_history`, `ticket show`).
    pub changes: Vec<Change>,
    /// Each rule evaluated, in order: whether it matched and why.
    pub rules: Vec<RuleCheck>,
    /// Addresses a delivery report says our mail bounced from (marked
    /// bouncing when the plan is applied).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bounces: Vec<BounceMark>,
    /// The mail's language and where it came from (what rules test).
    pub language: Option<LanguageChoice>,
    /// Every decision taken, in order, with its reason.
    pub trace: Vec<Decision>,
    /// Whether the From is proven (from the facts): what agent powers
    /// rest on (`auth::agent_powers`).
    pub authenticity: crate::auth::Authenticity,
    /// An agent's mail on a ticket: whether they have powers and why, and
    /// the reply or note it makes (`process::agent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<super::agent::AgentPlan>,
    /// Merges, links, transfers and the mail they send
    /// (`process::relations`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<super::relations::RelationPlan>,
    /// An authenticated agent's forward of a customer's mail: the ticket
    /// is the original sender's, the agent's lines an internal note
    /// (`process::forward`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<super::forward::ForwardPlan>,
}

impl Plan {
    /// A plan that routes by `route` and does `disposition`, nothing more
    /// (no ticket, article, mail, change or trace yet).
    pub fn new(route: Route, disposition: Disposition) -> Plan {
        Plan {
            route,
            disposition,
            ticket: None,
            article: None,
            participants: Vec::new(),
            assign: Default::default(),
            new_customer_user: None,
            notifications: Vec::new(),
            auto_reply_suppressed: None,
            auto_reply_template: None,
            changes: Vec::new(),
            rules: Vec::new(),
            bounces: Vec::new(),
            language: None,
            trace: Vec::new(),
            authenticity: Default::default(),
            agent: None,
            relations: Vec::new(),
            forward: None,
        }
    }
}

/// Which mailbox serves the mail: its queue, its address (the ticket's
/// support address and the sender of our replies) and its language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The `[[mailbox]]` name (None: no mailbox could be chosen).
    pub mailbox: Option<String>,
    /// That mailbox's support address (what rules call `address`).
    pub address: Option<String>,
    /// The mailbox the copy at hand came through (IMAP, `--mailbox`).
    pub received_by: Option<String>,
    pub reason: String,
}

/// What becomes of the mail.
// One plan per mail, made and dropped in turn: the follow-up's ticket
// inline costs nothing, while a box would cost every match on it.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Disposition {
    /// A copy of a mail already taken in: a receipt, nothing else.
    Duplicate {
        ticket_id: i64,
        article_id: i64,
        ticket: Option<String>,
    },
    /// Stored as received, no ticket, no mail.
    Ignore { reason: String },
    /// Kept raw in quarantine for an operator.
    Quarantine { reason: String },
    /// A new ticket (its number is drawn when the plan is applied).
    NewTicket {
        /// A ticket the sender quoted without a right to it.
        quoted: Option<String>,
    },
    /// An article on an existing ticket (as it was before this mail).
    FollowUp {
        ticket: TicketRef,
        standing: Standing,
    },
    /// Machines' mail on a ticket (a bounce, an auto-reply, a read
    /// receipt, a challenge): an internal note that changes nothing.
    Note { ticket: TicketRef, reason: String },
    /// Turned away by the queue's policy (issue 8): stored, no ticket, no
    /// article; the sender gets the refusal (its notification in
    /// [`Plan::notifications`], or why it is held back) and the attempt is
    /// recorded for the agents.
    Refuse {
        why: Refusal,
        /// The queue whose policy refused it.
        queue: String,
        /// The ticket quoted without a right to it (recorded for the
        /// agents, never named to the sender).
        quoted: Option<TicketRef>,
    },
}

pub use super::refuse::Refusal;

/// An address a delivery report says our mail could not reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BounceMark {
    pub address: String,
    /// The server's status and words.
    pub reason: String,
    /// It was not bouncing yet: the agents are told (once).
    pub starts: bool,
}

/// The mail's language, and which source gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanguageChoice {
    pub code: String,
    /// `customer` (their earlier tickets), `content-language`, `detected`.
    pub source: &'static str,
}

/// A ticket's fields as the plan leaves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketPlan {
    pub subject: String,
    pub queue: String,
    /// A configured state's name (`[lifecycle]`).
    pub state: String,
    pub language: String,
    pub classification: Classification,
    /// The ITIL type; None = not set (`type` in JSON, as in `ticket show`).
    #[serde(rename = "type")]
    pub ticket_type: Option<TicketType>,
    /// A hierarchical name such as `Email::Outlook`; None = not set.
    pub service: Option<String>,
    pub category: Option<String>,
    /// All its tags: those it had, and those the rules add.
    pub tags: BTreeSet<String>,
    /// A new ticket opened by a reply to this closed one (queue policy
    /// `reply_to_closed = "new_ticket"`): its number. Stored as a
    /// `follow_up` link (`ticket_links`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followed_from: Option<String>,
}

/// Who the ticket is assigned to (GLPI's assigned actors); None leaves
/// it as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub agent: Option<String>,
    pub group: Option<String>,
}

/// A customer user made on first mail: the sender, attached to the
/// customer whose mail domain the address is at (if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewCustomerUser {
    pub address: String,
    pub name: Option<String>,
    pub customer: Option<String>,
}

/// The inbound article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArticlePlan {
    /// `customer`, `agents_side`, `agent` (no powers), `agent_reply`,
    /// `agent_note` or `machine` (machines' mail kept as a note).
    pub kind: &'static str,
    /// Its Message-ID may later prove a reply's right to the ticket.
    pub trusted: bool,
    /// Why its sender is unverified; None = verified.
    pub unverified: Option<String>,
    /// Notes for `ticket show` (what was held back and why).
    pub notes: Vec<String>,
    /// Never sent or shown to customers (machines' mail kept as a note).
    pub internal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewParticipant {
    pub address: String,
    pub name: Option<String>,
    /// `requester` or `observer` (`cc` on tickets from before the
    /// directory).
    pub role: &'static str,
}

/// One notification, to be sent or held back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub kind: Kind,
    /// The template to render instead of the kind's own (a rule's
    /// `auto_reply = "name"`); None = `<kind>.txt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    pub to: Vec<String>,
    /// The mailbox whose address it comes from.
    pub from_mailbox: String,
    pub language: String,
    /// Held back, and why; None = sent.
    pub suppressed: Option<String>,
    /// Queued but held in the outbox (its address is bouncing), and why.
    pub held: Option<String>,
    /// The reason it was held back goes on the inbound article as a note.
    pub note_if_suppressed: bool,
    /// Counts toward the agents' alert caps when sent.
    pub is_agents_alert: bool,
}

/// One step of the decision and its reason, for logs and `explain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub step: &'static str,
    pub said: String,
}

/// A change a rule makes to the plan (the rules engine turns its actions
/// into these; see [`super::decide::apply_rules`]).
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
    pub(super) fn note(&mut self, step: &'static str, said: impl Into<String>) {
        self.trace.push(Decision {
            step,
            said: said.into(),
        });
    }

    /// Add a participant unless the address is one already.
    pub(super) fn add_participant(
        &mut self,
        address: &str,
        name: Option<&str>,
        role: &'static str,
    ) {
        if !self.participants.iter().any(|p| p.address == address) {
            self.participants.push(NewParticipant {
                address: address.to_string(),
                name: name.map(str::to_string),
                role,
            });
        }
    }

    /// The mail makes no article after all.
    fn drop_article(&mut self, d: Disposition) {
        self.disposition = d;
        self.ticket = None;
        self.article = None;
        self.participants.clear();
        self.notifications.clear();
    }

    /// Whether the mail becomes an article (new ticket, follow-up or note).
    pub fn makes_article(&self) -> bool {
        matches!(
            self.disposition,
            Disposition::NewTicket { .. } | Disposition::FollowUp { .. } | Disposition::Note { .. }
        )
    }

    /// Apply one rule's edit, recording it (or why it was refused) in the
    /// trace, and each field it changed in [`Plan::changes`]. Edits only
    /// apply to a mail that becomes an article; what the plan cannot do
    /// (an unknown queue, group or agent) is also a note on
    /// the article, so `ticket show` says why it did not happen.
    pub fn edit(&mut self, e: &RuleEdit, config: &Config, dir: &super::permit::DirectoryFacts) {
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
                let said = super::permit::assign(self, by, Some(g), None, dir);
                refused = self.assign.group.as_deref() != Some(g.as_str());
                change("group", old, self.assign.group.clone());
                said
            }
            Edit::Agent(a) => {
                let old = self.assign.agent.clone();
                let said = super::permit::assign(self, by, None, Some(a), dir);
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
