//! Carrying out what agents' commands planned beyond the usual fields
//! (`process::commands`): what a command takes away — a tag, an observer,
//! the assigned agent — the transcript's context, and the command
//! reference, which belongs to no ticket. In the caller's transaction.

use super::super::plan::Plan;
use super::super::{Failure, Processor};
use crate::mail::InboundMail;
use crate::notify::{self, Kind};
use crate::store::{commands, records, Db};

/// Take off the ticket what the plan's commands removed.
pub(super) fn write(db: &Db, plan: &Plan, ticket: &records::TicketRef) -> Result<(), Failure> {
    let Some(c) = plan.agent.as_ref().and_then(|a| a.commands.as_ref()) else {
        return Ok(());
    };
    if !c.remove_tags.is_empty() {
        commands::remove_tags(db, ticket.id, &c.remove_tags)?;
    }
    if !c.remove_observers.is_empty() {
        commands::remove_observers(db, ticket.id, &c.remove_observers)?;
    }
    if c.unassign {
        commands::unassign_agent(db, ticket.id)?;
    }
    Ok(())
}

/// What the transcript template sees of the plan's commands.
pub(super) fn context(plan: &Plan, states: Vec<String>) -> notify::CommandsCtx {
    let Some(c) = plan.agent.as_ref().and_then(|a| a.commands.as_ref()) else {
        return notify::CommandsCtx {
            states,
            ..Default::default()
        };
    };
    let colleague = c.colleague.as_ref();
    notify::CommandsCtx {
        lines: (c.lines.iter())
            .map(|l| notify::CommandLineCtx {
                written: notify::clip(&l.written),
                status: l.status.as_str().to_string(),
                said: l.said.clone(),
            })
            .collect(),
        any_refused: c.any_refused(),
        colleague: colleague.map(|c| notify::clip(&c.name)).unwrap_or_default(),
        colleague_address: colleague.map(|c| c.address.clone()).unwrap_or_default(),
        colleague_minutes: colleague.map(|c| c.minutes).unwrap_or_default(),
        states,
    }
}

impl Processor {
    /// The configured states' names, for the templates.
    pub(super) fn state_names(&self) -> Vec<String> {
        (self.config.lifecycle.states().iter())
            .map(|s| s.name.clone())
            .collect()
    }

    /// The command reference the plan sends (an agent's mail titled
    /// `help`), queued without a ticket. Returns what the outcome says.
    pub(super) fn send_reference(
        &self,
        db: &Db,
        plan: &Plan,
        mail: &InboundMail,
        sha: &str,
    ) -> Result<Option<String>, Failure> {
        let Some(n) = (plan.notifications.iter()).find(|n| n.kind == Kind::CommandReference) else {
            return Ok(None);
        };
        let mailbox = self.sending_mailbox(&n.from_mailbox)?;
        let ctx = notify::Context {
            // No ticket: the reference answers a mail of its own.
            ticket: notify::TicketCtx::default(),
            article: notify::ArticleCtx {
                from: mail.from.address.clone(),
                from_name: notify::clip(mail.from.name.as_deref().unwrap_or_default()),
                subject: notify::clip(&mail.subject),
                ..Default::default()
            },
            support_address: mailbox.address.clone(),
            support_name: mailbox.display(),
            commands: notify::CommandsCtx {
                states: self.state_names(),
                ..Default::default()
            },
        };
        let kind = n.kind.name();
        let text = self.render(kind, &n.language, &ctx)?;
        let rendered = self.ticketless_answer(kind, kind, mailbox, &n.to, mail, sha, &text)?;
        commands::enqueue_without_ticket(
            db,
            kind,
            &rendered.envelope_from,
            &rendered.recipients,
            &rendered.message_id,
            &rendered.raw,
        )?;
        Ok(Some(format!(
            "command reference sent to {}",
            n.to.join(", ")
        )))
    }
}
