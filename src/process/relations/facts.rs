//! What the relations need from the store, read by the facts stage (reads
//! only): the other tickets an agent's `#merge`/`#link` commands name
//! (found by number, merges followed), the requesters a merge tells, the
//! history a transfer forwards, and the incidents linked to a followed-up
//! ticket (told when it is resolved). The CLI fills the same facts for
//! the numbers it is given (`operator.rs`).

use serde::Serialize;

use super::super::facts::Facts;
use crate::commands::{self, Command};
use crate::mail::InboundMail;
use crate::store::records::{self, TicketRef};
use crate::store::relations::{self, HistoryArticle};
use crate::store::{Db, StoreError};

/// The relations' facts (part of [`Facts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RelationFacts {
    /// Each ticket number a command names, as its digits, and what it found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<OtherLookup>,
    /// The CLI without `--as`: the operator acts, needing no rights.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub operator: bool,
    /// The mail named a ticket that was merged: these numbers, in order,
    /// were followed to the ticket it threads to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirected_from: Vec<String>,
    /// The ticket's requesters (read for a merge, which tells them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requesters: Vec<String>,
    /// The ticket's history a transfer forwards.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryArticle>,
    /// Tickets linked to this one as its incidents (it is their problem
    /// or change), with their requesters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<(TicketRef, Vec<String>)>,
}

/// A number a command typed and the ticket it leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherLookup {
    pub typed: String,
    pub found: Option<OtherTicket>,
}

/// The ticket a typed number leads to, after following merges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherTicket {
    pub ticket: TicketRef,
    /// The numbers passed through (the typed one first) when it was merged.
    pub merged_via: Vec<String>,
}

/// The number in what an agent typed (`2026…`, `[Ticket#2026…]`): its
/// first run of digits; empty when there is none.
pub fn number_key(typed: &str) -> String {
    typed
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect()
}

/// Gather the relations' facts of a threaded mail: the incidents linked to
/// its ticket, and for an agent's commands the tickets they name, the
/// requesters (`#merge`) and the history (`#transfer`). Reads only.
pub fn gather(db: &Db, mail: &InboundMail, f: &mut Facts) -> Result<(), StoreError> {
    let Some(id) = f.thread.as_ref().map(|t| t.ticket.id) else {
        return Ok(());
    };
    f.relations.incidents = relations::linked_incidents(db, id)?;
    // Only an agent's mail carries commands.
    if f.directory.sender.agent.is_none() {
        return Ok(());
    }
    for_commands(db, mail, f)
}

/// The facts the commands of `mail` (an agent's, or the operator's at the
/// CLI) need: the tickets they name, the requesters (`#merge`), the
/// history (`#transfer`).
pub fn for_commands(db: &Db, mail: &InboundMail, f: &mut Facts) -> Result<(), StoreError> {
    let parsed = commands::parse(&mail.subject, mail.new_text());
    let (mut typed, mut merge, mut transfer) = (Vec::new(), false, false);
    for c in parsed.commands {
        match c.command {
            Command::Merge { into } => {
                typed.push(into);
                merge = true;
            }
            Command::Link { ticket, .. } | Command::Unlink { ticket, .. } => typed.push(ticket),
            Command::Transfer { .. } => transfer = true,
            _ => {}
        }
    }
    for_action(db, f, &typed, merge, transfer)
}

/// The facts for an action on the facts' ticket: the tickets `typed`
/// names, its requesters (`merge`) and its history (`transfer`).
pub fn for_action(
    db: &Db,
    f: &mut Facts,
    typed: &[String],
    merge: bool,
    transfer: bool,
) -> Result<(), StoreError> {
    let Some(id) = f.thread.as_ref().map(|t| t.ticket.id) else {
        return Ok(());
    };
    for t in typed {
        let key = number_key(t);
        if key.is_empty() || f.relations.others.iter().any(|o| o.typed == key) {
            continue;
        }
        let found = match records::ticket_by_number(db, &key)? {
            Some(t) => {
                let (ticket, merged_via) = relations::follow_merges(db, t)?;
                Some(OtherTicket { ticket, merged_via })
            }
            None => None,
        };
        f.relations.others.push(OtherLookup { typed: key, found });
    }
    if merge {
        f.relations.requesters = relations::requesters(db, id)?;
    }
    if transfer {
        f.relations.history = relations::transfer_history(db, id)?;
    }
    Ok(())
}
