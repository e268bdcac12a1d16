//! The CLI's way in (`postdesk ticket merge|link|transfer`): the ticket's
//! facts read by number, a plan made by the same pure functions the
//! agents' commands use ([`super::merge`], [`super::link`],
//! [`super::transfer`]), and the usual apply (state, history, relations,
//! their mail), in one transaction. A small entry of its own; the lead
//! folds it into `process/operator.rs` (the CLI's `ticket set|note|reply`).

use chrono::Utc;

use super::super::facts::{self, Facts, Match};
use super::super::permit;
use super::super::plan::{Disposition, Plan, Route, TicketPlan};
use super::super::standing::Standing;
use super::super::{sha256_hex, Processor};
use super::{RelationPlan, OPERATOR};
use crate::commands::LinkKind;
use crate::mail::{Classification, MailClass};
use crate::mail::{InboundMail, Mailbox};
use crate::store::{records, relations, ticket_fields, Store, StoreError};
use crate::tickets::history::Change;
use crate::tickets::priority;

/// What an operator asks of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Merge {
        into: String,
    },
    Link {
        kind: LinkKind,
        other: String,
        remove: bool,
    },
    Transfer {
        to: String,
    },
}

/// Why an operator's action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("no ticket {0} (see `postdesk ticket list`)")]
    NoTicket(String),
    #[error("no active agent named {0:?} in the directory (see `postdesk agent list`)")]
    NoAgent(String),
    /// Refused for want of rights.
    #[error("refused: {0}")]
    Forbidden(String),
    /// Refused: the other ticket does not exist.
    #[error("refused: {0}")]
    NoOther(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for OperatorError {
    fn from(e: rusqlite::Error) -> Self {
        OperatorError::Store(StoreError::Sql(e))
    }
}

/// What was done: the transcript line, the ticket acted on and the plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Done {
    pub ticket: String,
    pub done: String,
    pub changes: Vec<Change>,
    pub relations: Vec<RelationPlan>,
}

impl Processor {
    /// Carry out `action` on ticket `number` for `agent` (a directory name;
    /// None: the operator, who needs no rights), in one transaction.
    pub fn relate(
        &self,
        store: &mut Store,
        number: &str,
        agent: Option<&str>,
        action: &Action,
    ) -> Result<Done, OperatorError> {
        let tx = store
            .conn()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let ticket = records::ticket_by_number(&tx, number)?
            .ok_or_else(|| OperatorError::NoTicket(number.to_string()))?;
        let (ticket, via) = relations::follow_merges(&tx, ticket)?;
        let all = permit::gather(&tx, &ticket.support_address, None)?;
        let from = match agent {
            Some(a) => all
                .agent_address(a)
                .ok_or_else(|| OperatorError::NoAgent(a.to_string()))?
                .to_string(),
            None => ticket.support_address.clone(),
        };
        let acting = agent.unwrap_or(OPERATOR);
        let mail = stand_in(&from, acting, &self.numbering.subject_tag(&ticket.number));
        let has_language = |l: &str| self.templates.has_language(l);
        let lookup = self.lookup(&has_language, None);
        let mut f = Facts {
            received_at: Utc::now(),
            ..Facts::default()
        };
        f.directory = permit::gather(&tx, &from, Some(&ticket.customer_address))?;
        let matched = Match::Tag {
            number: ticket.number.clone(),
        };
        f.thread = Some(facts::thread_to(
            &tx,
            ticket.clone(),
            matched,
            &mail,
            &f,
            &lookup,
        )?);
        f.relations.redirected_from = via;
        f.relations.operator = agent.is_none();
        let (typed, merge, transfer) = match action {
            Action::Merge { into } => (vec![into.clone()], true, false),
            Action::Link { other, .. } => (vec![other.clone()], false, false),
            Action::Transfer { .. } => (Vec::new(), false, true),
        };
        super::facts::for_action(&tx, &mut f, &typed, merge, transfer)?;
        let tags = ticket_fields::tags(&tx, ticket.id)?;
        let mut plan = operator_plan(&self.config, &ticket, tags);
        let s = self.settings();
        let said = match action {
            Action::Merge { into } => super::merge(&mut plan, &f, &s, acting, into),
            Action::Link {
                kind,
                other,
                remove: false,
            } => super::link(&mut plan, &f, &s, acting, *kind, other),
            Action::Link {
                kind,
                other,
                remove: true,
            } => super::unlink(&mut plan, &f, &s, acting, *kind, other),
            Action::Transfer { to } => super::transfer(&mut plan, &f, &s, acting, to),
        }
        .map_err(refusal)?;
        // The stand-in mail's "hash": unique per action, so each one's
        // mail has a Message-ID of its own.
        let sha = sha256_hex(
            format!(
                "operator/{}/{action:?}/{}",
                ticket.number,
                f.received_at.timestamp_nanos_opt().unwrap_or_default()
            )
            .as_bytes(),
        );
        self.apply_operator(&tx, &plan, &ticket, &mail, &sha)
            .map_err(|e| OperatorError::Failed(e.to_string()))?;
        tx.commit()?;
        Ok(Done {
            ticket: ticket.number,
            done: said,
            changes: plan.changes,
            relations: plan.relations,
        })
    }
}

/// The plan made for this ticket in tests (as an operator's starts).
#[cfg(test)]
pub(super) fn tests_plan(t: &records::TicketRef) -> Plan {
    operator_plan(&crate::process::decide::tests::config(), t, Vec::new())
}

/// The plan an operator's action starts from: the ticket as it is,
/// followed up by an agent with powers, nothing else.
fn operator_plan(
    config: &crate::config::Config,
    t: &records::TicketRef,
    tags: Vec<String>,
) -> Plan {
    {
        let mailbox = (config.mailboxes.iter())
            .find(|m| m.address == t.support_address)
            .or_else(|| config.mailboxes.iter().find(|m| m.queue == t.queue));
        Plan {
            route: Route {
                mailbox: mailbox.map(|m| m.name.clone()),
                address: mailbox.map(|m| m.address.clone()),
                received_by: None,
                reason: "an operator's action at the command line".into(),
            },
            disposition: Disposition::FollowUp {
                ticket: t.clone(),
                standing: Standing::AgentWithPowers,
            },
            ticket: Some(TicketPlan {
                subject: t.subject.clone(),
                queue: t.queue.clone(),
                state: t.state.clone(),
                language: t.language.clone(),
                classification: priority::Classification {
                    urgency: t.urgency,
                    impact: t.impact,
                    priority: t.priority,
                    priority_explicit: t.priority_explicit,
                },
                ticket_type: t.ticket_type.as_deref().and_then(|x| x.parse().ok()),
                service: t.service.clone(),
                category: t.category.clone(),
                tags: tags.into_iter().collect(),
                followed_from: None,
            }),
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

/// The pure functions' refusal, sorted for the exit code.
fn refusal(why: String) -> OperatorError {
    if why.starts_with("no ticket") {
        OperatorError::NoOther(why)
    } else if why.contains(" no rw ")
        || why.contains("is not an agent")
        || why.contains("is inactive")
        || why.contains("no agent has rights")
    {
        OperatorError::Forbidden(why)
    } else {
        OperatorError::Refused(why)
    }
}

/// The mail an operator's action stands in for: from the acting agent's
/// address (or the ticket's support address for the operator), tagged
/// with the ticket. Never stored; the relations' mail is rendered with it.
fn stand_in(from: &str, name: &str, tag: &str) -> InboundMail {
    InboundMail {
        message_id: None,
        subject: format!("{tag} ({name} at the command line)"),
        from: Mailbox {
            name: Some(name.to_string()),
            address: from.to_string(),
        },
        reply_to: None,
        to: Vec::new(),
        cc: Vec::new(),
        delivered_to: Vec::new(),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        text: String::new(),
        quote_start: None,
        html: None,
        attachments: Vec::new(),
        language: None,
        class: Classification {
            class: MailClass::Person,
            reason: "an operator's action".into(),
            bounce: None,
            original: None,
        },
        automatic: None,
        our_loop_marker: false,
        warnings: Vec::new(),
        headers: Vec::new(),
        size: 0,
        forward: None,
    }
}
