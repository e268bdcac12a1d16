//! Writing an agent's forward ([`super::super::forward`]): the customer's
//! article is the original mail (the caller writes it like any inbound
//! mail, so its Message-ID joins the message-id index), and the agent's
//! own lines become an internal note by the agent on the same ticket.

use super::super::forward::{note_mail, original_mail};
use super::super::plan::{ArticlePlan, Plan};
use super::super::{Failure, Processor};
use crate::mail::InboundMail;
use crate::store::{records, Db};

/// The mail the customer's article is made of: the forwarded original
/// when the plan honours a forward, else None (the mail itself).
pub(super) fn original(plan: &Plan, mail: &InboundMail) -> Result<Option<InboundMail>, Failure> {
    if plan.forward.is_none() {
        return Ok(None);
    }
    original_mail(mail).map(Some).ok_or_else(|| {
        Failure::Other("internal: a forward planned for a mail that forwards nothing".into())
    })
}

impl Processor {
    /// The forwarding agent's own lines, as an internal note on `ticket`
    /// (nothing when the plan honours no forward or the agent wrote none).
    pub(super) fn insert_forward_note(
        &self,
        db: &Db,
        plan: &Plan,
        mail: &InboundMail,
        ticket: &records::TicketRef,
        raw_id: i64,
    ) -> Result<(), Failure> {
        let Some(fp) = &plan.forward else {
            return Ok(());
        };
        if fp.note.is_none() {
            return Ok(());
        }
        let Some(note) = note_mail(mail) else {
            return Ok(());
        };
        let article = ArticlePlan {
            kind: "agent_note",
            trusted: false,
            unverified: None,
            notes: vec![format!(
                "agent {}'s words on forwarding {}'s mail",
                fp.agent, fp.original_from
            )],
            internal: true,
        };
        self.insert_inbound(db, ticket.id, &note, raw_id, &article)?;
        tracing::info!(ticket = %ticket.number, agent = %fp.agent, original = %fp.original_from,
            "forward: the customer's mail and the agent's note");
        Ok(())
    }
}
