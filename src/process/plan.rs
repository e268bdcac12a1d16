//! The plan: what handling one mail will do, as data. [`super::decide`]
//! makes it from the facts, rules edit it ([`Edit`], through
//! [`super::decide::apply_rules`]), the apply stage carries it out and
//! `postdesk explain` prints it. Nothing here touches the store.

use std::collections::BTreeSet;

use serde::Serialize;

use super::standing::Standing;

#[path = "plan_edits.rs"]
mod edits;
use crate::config::Config;
use crate::notify::Kind;
use crate::store::records::TicketRef;
use crate::tickets::history::Change;
use crate::tickets::priority::Classification;
use crate::tickets::TicketType;
pub use edits::{Edit, NoRules, RuleCheck, RuleEdit, Rules, RulesOutcome};

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
}
