//! An operator's action on a ticket from the command line (`postdesk
//! ticket set/note/reply`, issue 11 item 11), handled exactly as an
//! agent's mail: the action is written as the mail an agent would send —
//! command lines (`#state resolved`), `#note` and the text — on the
//! ticket's tag, and goes through the same stages: the facts of the
//! ticket, the decide stage with its command checks (the lifecycle, and
//! the agent's rights when `--as` names one), the same history and the
//! same notifications (a reply reaches the customer through
//! `agent_reply`), applied by the usual apply stage in one transaction.
//!
//! What differs from mail is only who vouches for the sender: the
//! operator's account on the machine, instead of our MTA's
//! Authentication-Results or a reply token. Without `--as` the operator
//! is trusted (no rights are checked) and recorded as `operator`. The
//! command line wants all or nothing: when any command is refused,
//! nothing is written and the reasons are returned.

use serde::Serialize;

use super::commands::{self, CommandsPlan, Operator};
use super::plan::{Disposition, Plan};
use super::{decide, facts, parse, Incoming, Origin, Processor};
use crate::store::directory::people;
use crate::store::{records, Store, StoreError};

/// What the operator asks for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The ticket's number (its check digit included).
    pub number: String,
    /// The agent to act as (name or address); None: the operator.
    pub as_agent: Option<String>,
    /// Command lines, as an agent would write them (`#state resolved`).
    pub lines: Vec<String>,
    /// The text: a reply to the customers, or (with `note`) a note.
    pub text: Option<String>,
    pub note: bool,
    /// The CLI command, for the trace (`ticket set`).
    pub command: &'static str,
}

/// What came of it.
#[derive(Debug, Clone, Serialize)]
pub struct Operated {
    pub ticket: String,
    /// The agent acted as, or `operator`.
    pub actor: String,
    /// Each command line, applied or not and why.
    pub commands: CommandsPlan,
    /// Mail queued, as (kind, recipients); held-back ones with the reason.
    pub sent: Vec<(String, Vec<String>)>,
    pub held: Vec<(String, String)>,
    /// Whether anything was written (false when a command was refused).
    pub applied: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("no ticket {0} (postdesk ticket list)")]
    NoTicket(String),
    #[error("no agent {0:?} in the directory (postdesk agent list)")]
    NoAgent(String),
    #[error("agent {0:?} is inactive")]
    Inactive(String),
    /// The acting agent has no powers on the ticket.
    #[error("{0}")]
    NoPowers(String),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Processor {
    /// Carry out `req` on its ticket in one transaction. A refused
    /// command leaves everything as it was (`Operated::applied` false).
    pub fn operate(&self, store: &mut Store, req: &Request) -> Result<Operated, OperatorError> {
        let tx = store
            .conn()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::Sql)?;
        let ticket = records::ticket_by_number(&tx, req.number.trim())?
            .ok_or_else(|| OperatorError::NoTicket(req.number.clone()))?;
        let (actor, from) = match &req.as_agent {
            Some(who) => {
                let agent = find_agent(&tx, who)?;
                if !agent.active {
                    return Err(OperatorError::Inactive(agent.name));
                }
                let from = agent.addresses.first().cloned().ok_or_else(|| {
                    OperatorError::NoAgent(format!("{who} (the agent has no address)"))
                })?;
                (agent.name.clone(), (from, agent.name))
            }
            None => (
                commands::OPERATOR.to_string(),
                (ticket.support_address.clone(), "Operator".to_string()),
            ),
        };
        let mailbox = (self.config.mailboxes.iter())
            .find(|m| m.address == ticket.support_address)
            .map(|m| m.name.clone());
        let raw = self.operator_mail(&ticket, &from, req)?;
        let item = Incoming {
            origin: Origin::Pipe { mailbox },
            size: raw.len() as u64,
            raw,
            fetch_error: None,
        };
        let parsed = parse::parse(&item, &self.config).map_err(|e| fail(&e))?;
        let has_language = |l: &str| self.templates.has_language(l);
        let mut f = facts::gather(
            &tx,
            &parsed.mail,
            &parsed.sha,
            &self.lookup(&has_language, None),
        )?;
        let mut cf = commands::gather(&tx, ticket.id)?;
        cf.operator = Some(Operator {
            as_agent: req.as_agent.as_ref().map(|_| actor.clone()),
            command: req.command,
        });
        f.commands = Some(cf);
        if req.as_agent.is_none() {
            // The operator is trusted with the tickets a relation names,
            // and mails from the support address, which the facts stage
            // does not take for an agent's.
            f.relations.operator = true;
            super::relations::facts::for_commands(&tx, &parsed.mail, &mut f)?;
        }
        let plan = decide::decide(
            &f,
            &parsed.mail,
            item.origin.received_by(),
            &self.settings(),
        );
        let out = outcome(&plan, &ticket.number, &actor)?;
        if out.commands.any_refused() {
            return Ok(out);
        }
        // Dropping the transaction on an error rolls everything back.
        self.apply(&tx, &item, &parsed, &plan)
            .map_err(|e| fail(&e))?;
        tx.commit().map_err(StoreError::Sql)?;
        Ok(Operated {
            applied: true,
            ..out
        })
    }

    /// The action as the mail an agent would send on the ticket.
    fn operator_mail(
        &self,
        ticket: &records::TicketRef,
        (from, name): &(String, String),
        req: &Request,
    ) -> Result<Vec<u8>, OperatorError> {
        let address = |a: &str| {
            a.parse::<lettre::Address>()
                .map_err(|e| OperatorError::Failed(format!("address {a}: {e}")))
        };
        let mut body = String::new();
        if req.note {
            body.push_str("#note\n");
        }
        for l in &req.lines {
            body.push_str(l.trim());
            body.push('\n');
        }
        if let Some(t) = &req.text {
            body.push('\n');
            body.push_str(t);
        }
        let id = format!(
            "<operator-{}-{}@{}>",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            fastrand::u64(..),
            self.config.system.fqdn
        );
        let subject = format!(
            "{} {}",
            self.numbering.subject_tag(&ticket.number),
            ticket.subject
        );
        let m = lettre::Message::builder()
            .from(lettre::message::Mailbox::new(
                Some(name.clone()),
                address(from)?,
            ))
            .to(lettre::message::Mailbox::new(
                None,
                address(&ticket.support_address)?,
            ))
            .subject(subject)
            .message_id(Some(id))
            .body(body)
            .map_err(|e| OperatorError::Failed(format!("writing the action as mail: {e}")))?;
        Ok(m.formatted())
    }
}

/// The agent named `who` (a name, else an address).
fn find_agent(
    c: &rusqlite::Connection,
    who: &str,
) -> Result<crate::directory::Agent, OperatorError> {
    if let Some(a) = people::agent(c, who.trim()).map_err(|e| fail(&e))? {
        return Ok(a);
    }
    let by_address = crate::store::directory::lookup::sender(c, who)?.agent;
    match by_address {
        Some(m) => people::agent(c, &m.name)
            .map_err(|e| fail(&e))?
            .ok_or_else(|| OperatorError::NoAgent(who.into())),
        None => Err(OperatorError::NoAgent(who.into())),
    }
}

fn fail(e: &dyn std::fmt::Display) -> OperatorError {
    OperatorError::Failed(e.to_string())
}

/// What the plan says, before it is applied; an error when the action
/// would not be taken as the acting agent's at all.
fn outcome(plan: &Plan, number: &str, actor: &str) -> Result<Operated, OperatorError> {
    // The permission decision took the agent's mail for a stranger's: no
    // right to the ticket (not a participant, no rw on its queue's group).
    if matches!(
        plan.disposition,
        Disposition::NewTicket { quoted: Some(_) } | Disposition::Refuse { .. }
    ) {
        return Err(OperatorError::NoPowers(format!(
            "{actor} may not act on ticket {number}: no rw on its queue's group \
             and not one of its participants"
        )));
    }
    if !matches!(plan.disposition, Disposition::FollowUp { .. }) {
        let why = match &plan.disposition {
            Disposition::Quarantine { reason }
            | Disposition::Ignore { reason }
            | Disposition::Refuse {
                why: _,
                queue: reason,
                ..
            } => reason.clone(),
            other => format!("{other:?}"),
        };
        return Err(OperatorError::Failed(format!(
            "ticket {number}: the action was not taken as a follow-up: {why}"
        )));
    }
    let Some(agent) = plan.agent.as_ref().filter(|a| a.powers.granted) else {
        let why = plan
            .agent
            .as_ref()
            .map(|a| a.powers.reason.clone())
            .unwrap_or_else(|| "not an agent".into());
        return Err(OperatorError::NoPowers(format!(
            "{actor} may not act on ticket {number}: {why}"
        )));
    };
    let sent = (plan.notifications.iter())
        .filter(|n| n.suppressed.is_none())
        .map(|n| (n.kind.name().to_string(), n.to.clone()))
        .collect();
    let held = (plan.notifications.iter())
        .filter_map(|n| Some((n.kind.name().to_string(), n.suppressed.clone()?)))
        .collect();
    Ok(Operated {
        ticket: number.to_string(),
        actor: actor.to_string(),
        commands: agent.commands.clone().unwrap_or_default(),
        sent,
        held,
        applied: false,
    })
}
