//! A ticket's service in the decide stage (issue 8, item 8): a new ticket
//! gets its queue's default service unless a rule set one, and a service
//! is set only when the ticket's customer user is entitled to it (their
//! services in the directory, or a default one; an address the directory
//! does not know has only the default ones). One that is not stays unset
//! (or as it was) and a note on the article says why. While the directory
//! lists no services at all, a service is free text and not checked.
//! Pure: the entitlements are facts ([`DirectoryFacts::services`]).

use super::permit::DirectoryFacts;
use super::plan::{Disposition, Plan};
use crate::tickets::history::{ActorKind, Change};

/// Whether the customer user at `address` may have `service`; Err says
/// why not.
pub fn entitled(d: &DirectoryFacts, address: &str, service: &str) -> Result<(), String> {
    let Some(all) = &d.services else {
        return Ok(());
    };
    let address = address.trim().to_lowercase();
    let e = all.iter().find(|e| e.address == address);
    if e.is_some_and(|e| e.services.iter().any(|s| s == service)) {
        return Ok(());
    }
    let has = match e.map(|e| e.services.join(", ")) {
        Some(list) if !list.is_empty() => list,
        _ => "none".to_string(),
    };
    Err(match e.and_then(|e| e.customer_user.as_deref()) {
        Some(user) => format!(
            "customer user {user} is not entitled to service {service:?} (theirs and the \
             default ones: {has})"
        ),
        None => format!(
            "{address} is not a customer user of the directory, so only the default services \
             apply ({has}), not {service:?}"
        ),
    })
}

/// Settle the plan's service once the rules have run: `before` is the
/// service the ticket had (None for a new ticket). A service a rule set
/// must be one the ticket's customer user is entitled to, else it goes
/// back to `before` and the article says why; then a new ticket still
/// without one takes its queue's default, under the same condition.
pub fn settle(plan: &mut Plan, d: &DirectoryFacts, from: &str, before: Option<String>) {
    let customer = match &plan.disposition {
        Disposition::NewTicket { .. } => from.to_string(),
        Disposition::FollowUp { ticket, .. } => ticket.customer_address.clone(),
        _ => return,
    };
    let new_ticket = matches!(plan.disposition, Disposition::NewTicket { .. });
    let Some(t) = plan.ticket.as_mut() else {
        return;
    };
    let mut said = Vec::new();
    if let Some(service) = t.service.clone().filter(|s| Some(s) != before.as_ref()) {
        if let Err(why) = entitled(d, &customer, &service) {
            t.service = before;
            // A rule's change that did not happen is no history.
            plan.changes.retain(|c| c.field != "service");
            said.push(format!("service not set: {why}"));
        }
    }
    let default = d.queue(&t.queue).and_then(|q| q.service.clone());
    if let (true, None, Some(service)) = (new_ticket, &t.service, default) {
        let q = t.queue.clone();
        match entitled(d, &customer, &service) {
            Ok(()) => {
                t.service = Some(service.clone());
                plan.changes.push(Change {
                    actor_kind: ActorKind::System,
                    actor: format!("queue {q}"),
                    field: "service",
                    old: None,
                    new: Some(service.clone()),
                });
                plan.note("service", format!("service {service}: queue {q}'s default"));
            }
            Err(why) => said.push(format!("queue {q}'s default service not set: {why}")),
        }
    }
    for s in said {
        if let Some(a) = plan.article.as_mut() {
            a.notes.push(s.clone());
        }
        plan.note("service", s);
    }
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
