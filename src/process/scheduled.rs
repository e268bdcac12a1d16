//! The scheduler's validation (issue 11, item 2): a ticket left in the
//! lifecycle's `validate_from` state (`resolved`) for its queue's
//! `validate_after_days` without a customer's reply moves to
//! `validate_to` (`validated`), with a history row of actor kind
//! `scheduler` and the customers' `state_changed` mail.
//!
//! It survives restarts because it keeps nothing: each round reads the
//! stored times (the ticket's last state change or customer's mail,
//! whichever is later: [`crate::store::lifecycle::idle_in_state`]) and
//! decides from them. As for mail, deciding is pure ([`plan`]: facts in,
//! a [`Scheduled`] out) and writing is the apply stage's
//! (`apply/scheduled.rs`), one ticket per transaction. The daemon runs a
//! round every `lifecycle.scheduler_interval_secs` on the store worker.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::decide::Settings;
use super::lifecycle::{notice_of, Moved};
use super::plan::Notification;
use super::{Failure, Processor};
use crate::store::records::TicketRef;
use crate::store::{agent_reply, lifecycle as stored, machines, Store, StoreError};
use crate::tickets::history::{ActorKind, Change};

/// The actor named in the history of the scheduler's moves.
pub const ACTOR: &str = "validation";

/// Tickets read per page of a round.
const PAGE: u32 = 200;

/// What the scheduler does to one ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scheduled {
    /// The ticket as it was read.
    pub ticket: TicketRef,
    /// The state it moves to.
    pub to: String,
    /// The history row.
    pub change: Change,
    /// The customers' mail, sent or held back with why; None: nobody to
    /// tell.
    pub notification: Option<Notification>,
    /// What was decided and why, for the log.
    pub said: Vec<String>,
}

/// **Deciding.** Whether `ticket`, idle since `since`, is due for
/// validation at `now`, and what that does. Pure.
pub fn plan(
    ticket: &TicketRef,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    people: &[(String, String)],
    automatic_on_ticket: &[DateTime<Utc>],
    s: &Settings,
) -> Option<Scheduled> {
    let idle = u32::try_from((now - since).num_days().max(0)).unwrap_or(u32::MAX);
    let lc = &s.config.lifecycle;
    let to = lc.due_validation(&ticket.queue, &ticket.state, idle)?;
    if to == ticket.state {
        return None;
    }
    let days = lc.policy(&ticket.queue).validate_after_days.unwrap_or(0);
    let mut said = vec![format!(
        "{} → {to}: {idle} day(s) without a customer's reply (queue {} validates after {days})",
        ticket.state, ticket.queue
    )];
    let moved = Moved {
        before: ticket,
        to,
        language: &ticket.language,
        by: ActorKind::Scheduler,
    };
    let notification = notice_of(&moved, people, automatic_on_ticket, now, s).map(|(n, line)| {
        said.push(line);
        n
    });
    Some(Scheduled {
        ticket: ticket.clone(),
        to: to.to_string(),
        change: Change {
            actor_kind: ActorKind::Scheduler,
            actor: ACTOR.into(),
            field: "state",
            old: Some(ticket.state.clone()),
            new: Some(to.to_string()),
        },
        notification,
        said,
    })
}

/// A stored time (`%Y-%m-%dT%H:%M:%SZ`) as an instant.
fn instant(stored: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(stored)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Processor {
    /// **One round.** Validate every ticket due at `now`, each in its own
    /// transaction; returns the numbers of those moved. A ticket that
    /// fails to be written is logged and left for the next round; only
    /// trouble from the database (busy, disk full) ends the round early.
    pub fn run_scheduler(
        &self,
        store: &mut Store,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let lc = &self.config.lifecycle;
        let validates =
            (self.config.queues.iter()).any(|q| lc.policy(&q.name).validate_after_days.is_some());
        if !validates {
            return Ok(Vec::new());
        }
        let from = lc.validate_from().to_string();
        let caps = &self.config.system.loop_caps;
        let longest = caps.iter().map(|c| c.window_secs).max().unwrap_or(0);
        let most = caps.iter().map(|c| c.max).max().unwrap_or(0);
        let window = (now - chrono::Duration::seconds(longest))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let settings = self.settings();
        let mut moved = Vec::new();
        let mut after = 0;
        loop {
            let page = stored::idle_in_state(store.conn(), &from, after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.ticket.id;
            for idle in page {
                let t = &idle.ticket;
                let Some(since) = instant(&idle.since) else {
                    tracing::warn!(ticket = %t.number, since = %idle.since,
                        "scheduler: the ticket's last change has no readable time; skipped");
                    continue;
                };
                let people = agent_reply::people(store.conn(), t.id)?;
                let auto: Vec<DateTime<Utc>> = if most > 0 {
                    machines::automatic_mail_on(store.conn(), t.id, &window, most)?
                        .iter()
                        .filter_map(|s| instant(s))
                        .collect()
                } else {
                    Vec::new()
                };
                let Some(p) = plan(t, since, now, &people, &auto, &settings) else {
                    continue;
                };
                let tx = store
                    .conn()
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                match self.apply_scheduled(&tx, &p) {
                    Ok(true) => {
                        tx.commit()?;
                        for line in &p.said {
                            tracing::info!(ticket = %t.number, "scheduler: {line}");
                        }
                        moved.push(t.number.clone());
                    }
                    // Moved by someone else since it was read.
                    Ok(false) => {}
                    Err(Failure::Store(e)) if e.is_transient() => return Err(e),
                    Err(e) => {
                        tracing::error!(ticket = %t.number,
                            "scheduler: validation not written, tried again next round: {e}");
                    }
                }
            }
        }
        Ok(moved)
    }
}

#[cfg(test)]
#[path = "scheduled_tests.rs"]
mod tests;
