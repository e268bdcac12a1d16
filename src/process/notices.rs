//! The decide stage's notifications: which mail a plan that makes an
//! article sends, to whom, and what is held back or suppressed and why —
//! the auto-reply (or a rule's named one), the agents' alerts under their
//! caps and the loop caps, and the one alert for an address that starts
//! bouncing. Pure, like the rest of [`super::decide`].

use super::decide::Settings;
use super::facts::Facts;
use super::permit;
use super::plan::{Disposition, Notification, Plan};
use super::standing::{self, AlertCounts};
use crate::config::Mailbox as MailboxConfig;
use crate::mail::InboundMail;
use crate::notify::Kind;

/// The notifications of a plan that makes an article.
pub(super) fn notifications(
    plan: &mut Plan,
    f: &Facts,
    mail: &InboundMail,
    routed: &MailboxConfig,
    s: &Settings,
) {
    let Some(ticket) = plan.ticket.clone() else {
        return;
    };
    if let Disposition::Note { ticket: t, .. } = &plan.disposition {
        // Machines' mail alerts nobody, but for an address that starts
        // bouncing (once).
        let from_mailbox = s
            .config
            .mailboxes
            .iter()
            .find(|m| m.address == t.support_address)
            .unwrap_or(routed);
        bounce_alert(plan, f, &ticket.queue, &ticket.language, from_mailbox, s);
        return;
    }
    let new = matches!(plan.disposition, Disposition::NewTicket { .. });
    let sys = &s.config.system;
    // Follow-ups are answered from the ticket's own support address.
    let from_mailbox = match &plan.disposition {
        Disposition::FollowUp { ticket, .. } => s
            .config
            .mailboxes
            .iter()
            .find(|m| m.address == ticket.support_address)
            .unwrap_or(routed),
        _ => routed,
    };
    let template = plan.auto_reply_template.clone();
    let notice = |kind, to: Vec<String>, suppressed, alert| Notification {
        template: if kind == Kind::AutoReply {
            template.clone()
        } else {
            None
        },
        kind,
        to,
        from_mailbox: from_mailbox.name.clone(),
        language: ticket.language.clone(),
        suppressed,
        held: None,
        note_if_suppressed: alert,
        is_agents_alert: alert,
    };
    if new {
        // Auto-reply, unless the mail is machine-made, from one of our own
        // addresses, the sender already had too many this hour, or a rule
        // said no.
        let skip = if let Some(a) = &mail.automatic {
            Some(format!("automatic mail ({})", a.0))
        } else if s.own.contains(&mail.from.address) {
            Some("sender is one of our own addresses".into())
        } else if f.auto_replies_to_sender >= sys.auto_reply_limit_per_hour {
            Some(format!(
                "more than {} auto-replies to this address in the last hour",
                sys.auto_reply_limit_per_hour
            ))
        } else if let Some(why) = super::machines::loop_cap(
            &sys.loop_caps,
            &f.automatic_to_sender,
            f.received_at,
            &mail.from.address,
        ) {
            Some(why)
        } else {
            plan.auto_reply_suppressed.clone()
        };
        // A cap's reason goes on the article (`ticket show`): a loop the
        // agents may want to look at.
        let capped = skip.as_deref().is_some_and(|w| {
            w.starts_with("loop cap") || w.contains("auto-replies to this address in the last hour")
        });
        // Mail to a bouncing address is queued but held.
        let held = skip.is_none().then(|| f.sender_bouncing.clone()).flatten();
        plan.note(
            "auto_reply",
            match (&skip, &held) {
                (Some(why), _) => format!("no auto-reply: {why}"),
                (None, Some(why)) => format!("auto-reply queued but held: {why}"),
                (None, None) => {
                    format!("auto-reply to {} ({})", mail.from.address, ticket.language)
                }
            },
        );
        let mut n = notice(
            Kind::AutoReply,
            vec![mail.from.address.clone()],
            skip,
            false,
        );
        n.held = held;
        n.note_if_suppressed = capped;
        plan.notifications.push(n);
    }
    if mail.automatic.is_some() {
        plan.note("agents_alert", "automatic mail: the agents are not alerted");
        return;
    }
    let kind = if new {
        Kind::AgentNewTicket
    } else {
        Kind::AgentFollowUp
    };
    // The agents' address to alert, if the queue wants this alert. Mail
    // from the agents' address itself is alerted too (with a warning):
    // From proves nothing, and the alert caps stop any loop.
    let Some(q) = s.config.queue(&ticket.queue) else {
        plan.note(
            "agents_alert",
            format!("queue {} is not configured: no alert", ticket.queue),
        );
        return;
    };
    let agents = match permit::agents_to(&q.name, &f.directory) {
        Some((to, _)) if !to.is_empty() => to,
        Some((_, why)) => {
            plan.note("agents_alert", format!("{why}: nobody to alert"));
            return;
        }
        None => match q.agents_address.clone() {
            Some(a) => vec![a],
            None => {
                plan.note(
                    "agents_alert",
                    format!("queue {} has no agents_address: no alert", q.name),
                );
                return;
            }
        },
    };
    if !(if new {
        q.notify_agents_on_new
    } else {
        q.notify_agents_on_follow_up
    }) {
        plan.note(
            "agents_alert",
            format!("queue {} does not alert on this", q.name),
        );
        return;
    }
    let on_ticket = match (&f.thread, new) {
        (Some(t), false) => t.alerts_on_ticket,
        _ => 0,
    };
    let cap = standing::alert_cap(
        s.config,
        AlertCounts {
            on_ticket,
            by_sender: f.alerts_by_sender,
        },
    )
    .or_else(|| match (&f.thread, new) {
        // The loop caps on one ticket: all automatic mail about it.
        (Some(t), false) => super::machines::loop_cap(
            &sys.loop_caps,
            &f.automatic_on_ticket,
            f.received_at,
            &format!("ticket {}", t.ticket.number),
        ),
        _ => None,
    });
    plan.note(
        "agents_alert",
        match &cap {
            Some(why) => why.clone(),
            None => format!("{} to {}", kind.name(), agents.join(", ")),
        },
    );
    plan.notifications.push(notice(kind, agents, cap, true));
}

/// The agents' alert for addresses that start bouncing: once per address
/// (later bounces from it only count), under the usual alert caps.
fn bounce_alert(
    plan: &mut Plan,
    f: &Facts,
    queue: &str,
    language: &str,
    from_mailbox: &MailboxConfig,
    s: &Settings,
) {
    let starting: Vec<&str> = plan
        .bounces
        .iter()
        .filter(|b| b.starts)
        .map(|b| b.address.as_str())
        .collect();
    if starting.is_empty() {
        plan.note("agents_alert", "machines' mail: the agents are not alerted");
        return;
    }
    let Some(agents) = s.config.queue(queue).and_then(|q| q.agents_address.clone()) else {
        plan.note(
            "agents_alert",
            format!(
                "queue {queue} has no agents_address: nobody to tell that {} bounces",
                starting.join(", ")
            ),
        );
        return;
    };
    let cap = standing::alert_cap(
        s.config,
        AlertCounts {
            on_ticket: f.thread.as_ref().map_or(0, |t| t.alerts_on_ticket),
            by_sender: f.alerts_by_sender,
        },
    );
    plan.note(
        "agents_alert",
        match &cap {
            Some(why) => why.clone(),
            None => format!(
                "{} to {agents}: {} now bouncing",
                Kind::AgentBouncing.name(),
                starting.join(", ")
            ),
        },
    );
    plan.notifications.push(Notification {
        kind: Kind::AgentBouncing,
        to: vec![agents],
        from_mailbox: from_mailbox.name.clone(),
        language: language.to_string(),
        suppressed: cap,
        held: None,
        note_if_suppressed: true,
        is_agents_alert: true,
        template: None,
    });
}
