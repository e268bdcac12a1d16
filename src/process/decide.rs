//! The decide stage: facts and a parsed mail in, a [`Plan`] out. Pure: no
//! store, no clock, no I/O, so every rule of handling mail can be stated as
//! data in the tests (`decide_tests.rs`) and `postdesk explain` shows
//! exactly what processing would do.
//!
//! In order: routing (which mailbox, so which queue), redelivery, our own
//! mail coming back, threading and the sender's standing, the draft of the
//! ticket, article and participants (unless the queue refuses the mail:
//! `refuse.rs`; a customer's reply to a closed ticket meets its queue's
//! lifecycle policy: `lifecycle.rs`), then the rules ([`apply_rules`], the
//! one place rule actions change a plan), the service (the queue's default,
//! and whether the customer user is entitled to it: `services.rs`), and
//! last the notifications, so that they follow whatever the rules set
//! (queue, suppression).

pub use super::route::route;

use super::facts::{Facts, Match};
use super::permit::{self, DirectoryFacts};
use super::plan::{ArticlePlan, Disposition, Edit, Plan, RuleEdit, Rules, TicketPlan};
use super::standing::{self, Standing};
use crate::config::{Config, Mailbox as MailboxConfig};
use crate::mail::InboundMail;
use crate::threading::Numbering;
use crate::tickets::priority::Classification;

/// What deciding needs besides the facts and the mail.
pub struct Settings<'a> {
    pub config: &'a Config,
    /// Our own addresses (mailboxes, agents, `system.own_addresses`).
    pub own: &'a crate::config::OwnAddresses,
    pub numbering: &'a Numbering,
    pub rules: &'a dyn Rules,
}

/// Why mail that came back with our loop header makes nothing.
pub const OUR_LOOP: &str =
    "our own notification came back (X-Postdesk-Loop): not turned into a ticket";

/// Decide what `mail` does, given the `facts` about it; `received_by` is
/// the mailbox the copy came through, if known.
pub fn decide(f: &Facts, mail: &InboundMail, received_by: Option<&str>, s: &Settings) -> Plan {
    let route = route(s.config, mail, received_by);
    let mut plan = Plan {
        language: f.language.clone(),
        authenticity: f.authenticity.clone(),
        ..Plan::new(route.clone(), Disposition::NewTicket { quoted: None })
    };
    plan.note("route", route.reason.clone());
    let Some(mailbox) = route.mailbox.as_deref().and_then(|n| s.config.mailbox(n)) else {
        plan.disposition = Disposition::Quarantine {
            reason: route.reason,
        };
        return plan;
    };
    if let Some(d) = &f.duplicate_of {
        plan.note(
            "dedupe",
            format!(
                "already taken in ({}): article {} on ticket {}; recorded as a duplicate, nothing sent",
                d.by,
                d.article_id,
                d.ticket.as_deref().unwrap_or("-")
            ),
        );
        plan.disposition = Disposition::Duplicate {
            ticket_id: d.ticket_id,
            article_id: d.article_id,
            ticket: d.ticket.clone(),
        };
        return plan;
    }
    if mail.our_loop_marker {
        plan.note("loop", OUR_LOOP);
        plan.disposition = Disposition::Ignore {
            reason: OUR_LOOP.into(),
        };
        return plan;
    }
    match &mail.automatic {
        Some(a) => plan.note("classify", format!("automatic mail: {}", a.0)),
        None => plan.note("classify", "a person's mail (no sign of automatic mail)"),
    }
    if super::commands::help(&mut plan, f, mail, s) {
        return plan;
    }
    thread(&mut plan, f, mail, s);
    if let Some(forwarded) = super::forward::handle(&mut plan, f, mail, mailbox, s) {
        return forwarded;
    }
    let machines = super::machines::handle(&mut plan, f, mail, mailbox);
    if !machines && super::refuse::decide(&mut plan, f, mail, mailbox, s) {
        return plan;
    }
    // A customer's reply to a closed ticket: the queue's policy.
    use super::lifecycle::{closed_policy, Closed};
    let closed = if machines {
        Closed::No
    } else {
        closed_policy(&mut plan, f, mail, mailbox, s)
    };
    if closed == Closed::Refused {
        return plan;
    }
    let mut plan = finish(plan, f, mail, mailbox, s, false, machines);
    if let Closed::NewTicket(old) = closed {
        super::lifecycle::follows(&mut plan, old);
    }
    plan
}

/// The rest of deciding once the disposition is known: the draft of the
/// ticket and article, the rules, then the notifications. `released`: an
/// operator chose the disposition (`quarantine release`), so a rule may
/// not turn the mail away again (ignore, quarantine). `machines`: a
/// machine's mail already made its internal note (`machines::handle`).
pub(super) fn finish(
    mut plan: Plan,
    f: &Facts,
    mail: &InboundMail,
    mailbox: &MailboxConfig,
    s: &Settings,
    released: bool,
    machines: bool,
) -> Plan {
    match plan.disposition.clone() {
        _ if machines => {}
        Disposition::FollowUp { ticket, standing } => {
            let tags = f.thread.as_ref().map(|t| t.tags.as_slice()).unwrap_or(&[]);
            draft_follow_up(&mut plan, &ticket, tags, standing, mail, s);
            super::agent::draft(&mut plan, f, mail, s);
            super::commands::run(&mut plan, f, mail, s);
        }
        Disposition::NewTicket { quoted } => {
            draft_new_ticket(&mut plan, f, mail, mailbox, quoted.as_deref(), s);
        }
        _ => {}
    }
    let service_before = plan.ticket.as_ref().and_then(|t| t.service.clone());
    let customer = f.directory.sender.customer.as_deref();
    let outcome = s.rules.evaluate(&plan, mail, customer, f.received_at);
    plan.rules = outcome.checks;
    let mut edits = outcome.edits;
    if released {
        edits.retain(|e| {
            let turns_away = matches!(e.edit, Edit::Ignore(_) | Edit::Quarantine(_));
            if turns_away {
                plan.note(
                    "rules",
                    format!(
                        "rule {}: {:?} not applied: an operator released the mail",
                        e.rule, e.edit
                    ),
                );
            }
            !turns_away
        });
    }
    apply_rules(&mut plan, &edits, s.config, &f.directory);
    super::relations::linked_resolved(&mut plan, f, s);
    if !machines {
        let before = match plan.disposition {
            Disposition::NewTicket { .. } => None,
            _ => service_before,
        };
        super::services::settle(&mut plan, &f.directory, &mail.from.address, before);
    }
    // An empowered agent's reply or note sends its own mail, and no other.
    if plan.makes_article() && !super::agent::notifications(&mut plan, f, mail, s) {
        super::notices::notifications(&mut plan, f, mail, mailbox, s);
    }
    super::lifecycle::mail_state_notice(&mut plan, f, s);
    plan
}

/// **The rules hook.** Apply the rule actions, as plan edits, in the
/// order the rules engine returns them (file-name order, then rule
/// order). Rules change the plan only: never the store.
pub fn apply_rules(plan: &mut Plan, edits: &[RuleEdit], config: &Config, dir: &DirectoryFacts) {
    for e in edits {
        plan.edit(e, config, dir);
    }
}

/// Threading and standing: a follow-up, or a new ticket and why.
fn thread(plan: &mut Plan, f: &Facts, mail: &InboundMail, s: &Settings) {
    for n in f.numbers.iter().filter(|n| !n.found) {
        let why = if !n.current_digit && !n.legacy_digit {
            "its check digit is wrong"
        } else {
            "no ticket was issued under that number and check digit"
        };
        plan.note("thread", format!("subject carries {}: {why}", n.number));
    }
    let Some(t) = &f.thread else {
        let why = if f.referenced.is_empty() {
            "no ticket number in the subject and no In-Reply-To or References"
        } else {
            "no ticket number found and none of its In-Reply-To/References is a ticket's"
        };
        plan.note("thread", format!("new ticket: {why}"));
        return;
    };
    let how = match &t.matched {
        Match::Tag { number } => format!("ticket number {number} in the subject"),
        Match::MessageId { message_id } => format!("answers Message-ID <{message_id}>"),
        Match::Released { quarantine_id } => {
            format!("released into it from quarantine entry {quarantine_id}")
        }
    };
    plan.note("thread", format!("ticket {} by {how}", t.ticket.number));
    if !f.relations.redirected_from.is_empty() {
        let via = f.relations.redirected_from.join(" → ");
        plan.note(
            "thread",
            format!("{via} was merged: the mail lands in {}", t.ticket.number),
        );
    }
    let sf = t.standing;
    let threaded = standing::decide(sf);
    plan.note(
        "standing",
        format!(
            "{threaded:?}: answers the ticket's mail {}, answers an agents' alert {}, \
             From is a participant {}, From is our own address {}",
            yes(sf.answers),
            yes(sf.answers_alert),
            yes(sf.from_participant),
            yes(sf.from_own)
        ),
    );
    // Who may add to the ticket: the directory may grant or take away.
    let standing = permit::standing(plan, threaded, t, &f.directory);
    // Agent powers: an agent of the queue whose mail proves its From.
    let standing = super::agent::gate(plan, standing, t, f, mail);
    let (new_ticket, by) = permit::strangers_get_new_ticket(t, s.config);
    if standing.is_stranger() && new_ticket {
        plan.note(
            "standing",
            format!(
                "{} has no right to ticket {}: filed as a new ticket ({by})",
                mail.from.address, t.ticket.number
            ),
        );
        plan.disposition = Disposition::NewTicket {
            quoted: Some(t.ticket.number.clone()),
        };
    } else {
        if standing.is_stranger() {
            plan.note(
                "standing",
                format!(
                    "{} has no right to ticket {}: recorded on it, unverified, changing nothing ({by})",
                    mail.from.address, t.ticket.number
                ),
            );
        }
        plan.disposition = Disposition::FollowUp {
            ticket: t.ticket.clone(),
            standing,
        };
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn draft_new_ticket(
    plan: &mut Plan,
    f: &Facts,
    mail: &InboundMail,
    mailbox: &MailboxConfig,
    quoted: Option<&str>,
    s: &Settings,
) {
    let mut subject = s.numbering.clean_subject(&mail.subject);
    if subject.is_empty() {
        subject = "(no subject)".into();
    }
    let language = f
        .language_with_templates
        .as_deref()
        .or(mailbox.language.as_deref())
        .unwrap_or(&s.config.system.default_language)
        .to_string();
    plan.ticket = Some(TicketPlan {
        subject,
        queue: mailbox.queue.clone(),
        state: s.config.lifecycle.initial().name.clone(),
        language,
        classification: Classification::new(&s.config.priority),
        ticket_type: None,
        service: None,
        category: None,
        tags: Default::default(),
        followed_from: None,
    });
    let from_own = s.own.contains(&mail.from.address);
    // Our own addresses are never participants (From proves nothing).
    if from_own {
        plan.note(
            "participants",
            "From is one of our own addresses: not a participant",
        );
    } else {
        plan.add_participant(&mail.from.address, mail.from.name.as_deref(), "requester");
    }
    if !from_own && mail.automatic.is_none() {
        permit::first_mail(plan, &mailbox.queue, mail, &f.directory);
    }
    match permit::cc_role(&mailbox.queue, &f.directory) {
        Some(role) => add_cc(plan, mail, s, role),
        None if !mail.cc.is_empty() => plan.note(
            "participants",
            format!(
                "queue {}: Cc's of a new ticket are not observers (cc_observers = false)",
                mailbox.queue
            ),
        ),
        None => {}
    }
    plan.article = Some(ArticlePlan {
        kind: "customer",
        trusted: !from_own,
        unverified: from_own.then(|| standing::FROM_OWN.to_string()),
        internal: false,
        notes: quoted
            .map(|q| {
                format!(
                    "quoted ticket {q}, to which the sender has no right: filed as this new ticket"
                )
            })
            .into_iter()
            .collect(),
    });
}

fn draft_follow_up(
    plan: &mut Plan,
    ticket: &crate::store::records::TicketRef,
    tags: &[String],
    standing: Standing,
    mail: &InboundMail,
    s: &Settings,
) {
    // Knowing a ticket number is not access to the ticket, and a From:
    // header proves nothing (see `standing`). Only a mail answering the
    // ticket's own mail adds people (the sender, the Cc's) as
    // participants; a customer's reply may move the state; the agents'
    // side, our own addresses and strangers (with `stranger_follow_up =
    // "record"`) are recorded unverified and change nothing.
    let new_state = super::lifecycle::customer_reply(plan, ticket, standing, mail, s);
    plan.ticket = Some(TicketPlan {
        subject: ticket.subject.clone(),
        queue: ticket.queue.clone(),
        state: new_state,
        language: ticket.language.clone(),
        classification: Classification {
            urgency: ticket.urgency,
            impact: ticket.impact,
            priority: ticket.priority,
            priority_explicit: ticket.priority_explicit,
        },
        ticket_type: ticket.ticket_type.as_deref().and_then(|x| x.parse().ok()),
        service: ticket.service.clone(),
        category: ticket.category.clone(),
        tags: tags.iter().cloned().collect(),
        followed_from: None,
    });
    let answers = standing == Standing::Answers;
    if answers && mail.automatic.is_none() {
        plan.add_participant(&mail.from.address, mail.from.name.as_deref(), "observer");
        add_cc(plan, mail, s, "observer");
    }
    if standing == Standing::Colleague && mail.automatic.is_none() {
        // A colleague of a requester with rw on the queue's group.
        plan.add_participant(&mail.from.address, mail.from.name.as_deref(), "requester");
    }
    plan.article = Some(ArticlePlan {
        kind: match standing {
            Standing::AgentsSide => "agents_side",
            Standing::Agent => "agent",
            _ => "customer",
        },
        // Its own Message-ID is trusted only if the mail itself was.
        trusted: answers,
        unverified: standing.unverified().map(str::to_string),
        notes: Vec::new(),
        internal: false,
    });
}

/// At most this many Cc addresses of one mail become participants (a mail
/// with a megabyte of Cc is not a conversation).
pub const MAX_CC_PARTICIPANTS: usize = 50;

fn add_cc(plan: &mut Plan, mail: &InboundMail, s: &Settings, role: &'static str) {
    let cc: Vec<_> = mail
        .cc
        .iter()
        .filter(|a| !s.own.contains(&a.address))
        .collect();
    if cc.len() > MAX_CC_PARTICIPANTS {
        plan.note(
            "participants",
            format!(
                "{} Cc addresses: only the first {MAX_CC_PARTICIPANTS} become participants",
                cc.len()
            ),
        );
    }
    for a in cc.into_iter().take(MAX_CC_PARTICIPANTS) {
        plan.add_participant(&a.address, a.name.as_deref(), role);
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
pub(crate) mod tests;
