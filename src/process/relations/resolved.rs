//! A problem or change resolved: the requesters of the incidents linked
//! to it are told (`linked_resolved`). Pure.

use super::{mailbox_of, Notice, RelationPlan, Side};
use crate::notify::Kind;
use crate::process::decide::Settings;
use crate::process::facts::Facts;
use crate::process::plan::Plan;
use crate::tickets::lifecycle::Category;

/// **Linked tickets told.** When the plan moves a problem or change into
/// a closed state that is not final (`resolved`, `published` in the
/// shipped lifecycle) from one that was not closed, every incident linked
/// to it (`#link problem|change`) has its requesters told through
/// `linked_resolved`. Always on for problem and change links (parent,
/// child and related links tell nobody): linking an incident to a problem
/// is how an agent says "this will be answered when that is fixed".
pub fn linked_resolved(plan: &mut Plan, f: &Facts, s: &Settings) {
    let (Some(t), Some(after)) = (&f.thread, plan.ticket.clone()) else {
        return;
    };
    if f.relations.incidents.is_empty() {
        return;
    }
    let lc = &s.config.lifecycle;
    let closed = |name: &str| lc.resolve(name).ok().map(|d| (d.category, d.is_final));
    let before = closed(&t.ticket.state);
    let now = closed(after.state.as_str());
    let resolves =
        now == Some((Category::Closed, false)) && before.is_none_or(|(c, _)| c != Category::Closed);
    if !resolves {
        return;
    }
    let problem = Side::of(&t.ticket);
    for (incident, requesters) in &f.relations.incidents {
        let to: Vec<String> = (requesters.iter())
            .filter(|r| !s.own.contains(r))
            .cloned()
            .collect();
        let Ok(mailbox) = mailbox_of(s, incident) else {
            plan.note(
                "relations",
                format!(
                    "ticket {}: no mailbox sends for it, its requesters are not told",
                    incident.number
                ),
            );
            continue;
        };
        plan.note(
            "relations",
            format!(
                "ticket {} is {}: its incident {} is told ({})",
                problem.number,
                after.state,
                incident.number,
                if to.is_empty() {
                    "nobody to tell".to_string()
                } else {
                    to.join(", ")
                }
            ),
        );
        plan.relations.push(RelationPlan::Notice(Notice {
            kind: Kind::LinkedResolved,
            ticket: Side::of(incident),
            other: problem.number.clone(),
            suppressed: to
                .is_empty()
                .then(|| format!("ticket {} has no requester to tell", incident.number)),
            to,
            from_mailbox: mailbox,
            language: incident.language.clone(),
            text: String::new(),
            references: Vec::new(),
        }));
    }
}
