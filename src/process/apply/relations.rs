//! Writing a plan's relations (`process::relations`): merges, links, a
//! transfer's participant, history rows on the other ticket, and the mail
//! relations send (`merged`, `transferred`, `linked_resolved`), each
//! rendered on its own ticket. Runs inside the caller's transaction, after
//! the plan's own ticket and article are written.

use super::super::plan::Plan;
use super::super::relations::{Notice, RelationPlan, TRANSFER_ROLE};
use super::super::{Failure, Processor};
use super::notice::Outgoing;
use crate::mail::InboundMail;
use crate::store::{history, records, relations, Db};

impl Processor {
    /// Carry out `plan.relations` in order. `mail` and `sha` are the mail
    /// (or the CLI's stand-in) the plan was made for: the relations' mail
    /// takes its Message-ID from them.
    pub(in crate::process) fn apply_relations(
        &self,
        db: &Db,
        plan: &Plan,
        mail: &InboundMail,
        sha: &str,
    ) -> Result<(), Failure> {
        for r in &plan.relations {
            match r {
                RelationPlan::Merge { from, into } => {
                    relations::merge(db, from.id, into.id)?;
                    tracing::info!(ticket = %from.number, into = %into.number, "ticket merged");
                }
                RelationPlan::Link {
                    ticket,
                    other,
                    kind,
                    remove,
                    by,
                } => {
                    let changed = if *remove {
                        relations::unlink(db, ticket.id, other.id, kind)?
                    } else {
                        relations::link(db, ticket.id, other.id, kind, by)?
                    };
                    tracing::info!(ticket = %ticket.number, other = %other.number, kind,
                        remove, changed, "ticket link");
                }
                RelationPlan::Transfer { ticket, address } => {
                    records::add_participant(db, ticket.id, address, None, TRANSFER_ROLE)?;
                    tracing::info!(ticket = %ticket.number, to = %address, "ticket transferred");
                }
                RelationPlan::History { ticket, change } => {
                    history::record(db, ticket.id, None, change)?;
                }
                RelationPlan::Notice(n) => self.send_notice(db, n, mail, sha)?,
            }
        }
        Ok(())
    }

    fn send_notice(
        &self,
        db: &Db,
        n: &Notice,
        mail: &InboundMail,
        sha: &str,
    ) -> Result<(), Failure> {
        if let Some(why) = &n.suppressed {
            tracing::info!(ticket = %n.ticket.number, "no {}: {why}", n.kind.name());
            return Ok(());
        }
        let mut ticket = relations::ticket_by_id(db, n.ticket.id)?.ok_or_else(|| {
            Failure::Other(format!(
                "ticket {} vanished inside its own transaction",
                n.ticket.number
            ))
        })?;
        let mailbox = self.sending_mailbox(&n.from_mailbox)?;
        // The language of the people it goes to.
        ticket.language = n.language.clone();
        let mut ctx = self.context(&ticket, mail, mailbox, None, None);
        ctx.article.other_ticket = n.other.clone();
        ctx.article.text = n.text.clone();
        // Not an answer to the mail that asked for it (an agent's command
        // or the CLI): in the thread of the mail it names, else its own.
        let thread = (n.references.last().cloned(), n.references.clone());
        let out = Outgoing {
            to: &n.to,
            reply_to: None,
            salt: &n.other,
            from_name: None,
            thread: Some(&thread),
            // To customers or another helpdesk: nothing internal named.
            to_agents: false,
            their_index: None,
        };
        self.send(
            db,
            n.kind,
            n.kind.name(),
            &ticket,
            mailbox,
            mail,
            &ctx,
            &out,
            sha,
        )?;
        Ok(())
    }
}
