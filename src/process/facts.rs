//! The facts stage: everything the decision needs from the store, gathered
//! by reads only (duplicate receipts, the ticket a mail threads to and how
//! it was found, who the sender is to it, the counters behind the loop and
//! alert brakes). [`gather`] never writes, so `postdesk explain` runs it on
//! a read-only connection.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{permit, standing};
use crate::mail::InboundMail;
use crate::store::records::{self, TicketRef};
use crate::store::{agent_reply, safeguards, ticket_fields, Db, StoreError};
use crate::threading::{self, Numbering};

/// What the store says about one parsed mail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// An earlier copy of this mail that made an article.
    pub duplicate_of: Option<Duplicate>,
    /// Each ticket number in the subject, in order, and what it found.
    pub numbers: Vec<NumberLookup>,
    /// The Message-IDs the mail refers to (In-Reply-To, References).
    pub referenced: Vec<String>,
    /// The ticket the mail threads to, how, and the sender's standing facts.
    pub thread: Option<Thread>,
    /// Auto-replies queued to the sender in the last hour.
    pub auto_replies_to_sender: u32,
    /// Agents' alerts caused by the sender's mail in the last hour.
    pub alerts_by_sender: u32,
    /// What the directory says about the sender and the queues.
    pub directory: permit::DirectoryFacts,
    /// The mail's language, if templates exist for it: the first of the
    /// customer's known language, Content-Language and the language
    /// detected in the new text that has templates.
    pub language_with_templates: Option<String>,
    /// Whether the From is proven (our MTA's Authentication-Results, a
    /// reply-address token): what agent powers will rest on.
    pub authenticity: crate::auth::Authenticity,
    /// The mail's language, templates or not, and its source.
    pub language: Option<super::plan::LanguageChoice>,
    /// For reports (delivery, read, feedback): the ticket of the message
    /// reported on, and how it was found.
    pub original: Option<Original>,
    /// The recipients a bounce names that are already bouncing.
    pub already_bouncing: Vec<String>,
    /// The sender's address is bouncing: why (mail to it is held).
    pub sender_bouncing: Option<String>,
    /// Automatic mail queued to the sender, and on the ticket the mail
    /// threads to, within the longest loop-cap window.
    #[serde(serialize_with = "count")]
    pub automatic_to_sender: Vec<DateTime<Utc>>,
    #[serde(serialize_with = "count")]
    pub automatic_on_ticket: Vec<DateTime<Utc>>,
    /// What an agent's commands need (an agent's mail on a ticket only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commands: Option<super::commands::CommandFacts>,
    /// When the mail is handled: what rules with a weekday or time window
    /// read (the decide stage itself reads no clock).
    #[serde(serialize_with = "rfc3339")]
    pub received_at: DateTime<Utc>,
    /// Merges, links and transfers: the other tickets, requesters,
    /// history and linked incidents they need (`process::relations`).
    pub relations: super::relations::RelationFacts,
    /// An agent's forward: the directory facts of the original sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<super::forward::ForwardFacts>,
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn count<S: serde::Serializer>(v: &[DateTime<Utc>], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(v.len() as u64)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    pub ticket_id: i64,
    pub article_id: i64,
    pub ticket: Option<String>,
    /// `same bytes` or `same Message-ID, sender, subject and text`.
    pub by: &'static str,
}

/// A number found in the subject and whether it leads to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberLookup {
    pub number: String,
    /// Its check digit is Damm's (numbers issued since the switch).
    pub current_digit: bool,
    /// Its check digit is the old weighted one (legacy tickets only).
    pub legacy_digit: bool,
    pub found: bool,
}

/// How the mail was matched to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Match {
    Tag {
        number: String,
    },
    MessageId {
        message_id: String,
    },
    /// An operator released the mail from quarantine into the ticket
    /// (`postdesk quarantine release ID --ticket NUMBER`).
    Released {
        quarantine_id: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thread {
    pub ticket: TicketRef,
    pub matched: Match,
    pub standing: standing::Facts,
    /// What the directory says about the ticket (its queue's group and
    /// policy, its requesters' customers, the sender's role on it).
    pub directory: crate::directory::permission::Ticket,
    /// Agents' alerts on this ticket in the last hour.
    pub alerts_on_ticket: u32,
    /// The ticket's tags (rules add to them; the plan keeps the set).
    pub tags: Vec<String>,
    /// Who an agent's reply reaches, what it threads to, who is assigned.
    pub agent: super::agent::TicketFacts,
}

/// The ticket a report is about, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Original {
    pub ticket: TicketRef,
    /// "the returned Message-ID <…>", "the ticket number in the returned subject", …
    pub by: String,
}

/// What the gathering needs besides the store and the mail.
pub struct Lookup<'a> {
    pub numbering: &'a Numbering,
    /// Our own addresses (mailboxes, agents, `system.own_addresses`).
    pub own: &'a crate::config::OwnAddresses,
    /// Whether templates exist in a language.
    pub has_language: &'a dyn Fn(&str) -> bool,
    /// The language detected in the mail's new text, when the parse stage
    /// detected it already (on a parser thread); `None`: detect it here.
    pub detected_language: Option<Option<&'static str>>,
    /// `explain --article ID`: that article and its receipt are not
    /// counted as an earlier copy (the question is what the mail would do
    /// if it came now).
    pub except_article: Option<i64>,
    /// Agent authenticity: whose headers to believe, where reply
    /// addresses point, and the reply-token key.
    pub auth: &'a crate::auth::Checker,
    pub reply_key: crate::auth::KeyState<'a>,
    /// The loop caps (their longest window bounds what is read).
    pub loop_caps: &'a [crate::config::LoopCap],
}

/// An hour before `now`, as stored.
fn hour_before(now: DateTime<Utc>) -> String {
    (now - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The thread facts of `mail` on `ticket` (found by `matched`): who its
/// sender is to the ticket and the ticket's recent alerts. `f` gives the
/// mail's referenced Message-IDs and the time it is handled.
pub fn thread_to(
    db: &Db,
    ticket: TicketRef,
    matched: Match,
    mail: &InboundMail,
    f: &Facts,
    l: &Lookup,
) -> Result<Thread, StoreError> {
    let since = hour_before(f.received_at);
    let mut answers = false;
    for id in &f.referenced {
        if records::ticket_has_trusted_id(db, ticket.id, id)? {
            answers = true;
            break;
        }
    }
    let standing = standing::Facts {
        answers,
        answers_alert: answers && safeguards::answers_agents_alert(db, ticket.id, &f.referenced)?,
        from_participant: records::is_participant(db, ticket.id, &mail.from.address)?,
        from_own: l.own.contains(&mail.from.address),
    };
    let (alerts_on_ticket, _) =
        safeguards::agent_alerts_since(db, ticket.id, &mail.from.address, &since)?;
    let directory = permit::gather_ticket(db, ticket.id, &ticket.queue, &mail.from.address)?;
    let agent = super::agent::TicketFacts {
        people: agent_reply::people(db, ticket.id)?,
        customer_ids: agent_reply::customer_message_ids(db, ticket.id)?,
        assigned_agent: crate::store::directory::actors::assigned(db, ticket.id)?.0,
    };
    Ok(Thread {
        agent,
        tags: ticket_fields::tags(db, ticket.id)?,
        ticket,
        matched,
        standing,
        directory,
        alerts_on_ticket,
    })
}

/// Gather the facts about `mail` (whose raw bytes hash to `sha`). Reads only.
pub fn gather(db: &Db, mail: &InboundMail, sha: &str, l: &Lookup) -> Result<Facts, StoreError> {
    let mut f = Facts {
        received_at: Utc::now(),
        ..Facts::default()
    };
    let since = hour_before(f.received_at);
    let not_excepted = |article_id: i64| Some(article_id) != l.except_article;

    // Redelivery: same bytes, or same Message-ID, sender, subject and text
    // (a copy that reached a second support address).
    if let Some(p) = crate::store::redelivery::receipt_for_content(db, sha)? {
        if let (Some(t), Some(a)) = (p.ticket_id, p.article_id) {
            if not_excepted(a) {
                f.duplicate_of = Some(Duplicate {
                    ticket_id: t,
                    article_id: a,
                    ticket: None,
                    by: "same bytes",
                });
            }
        }
    }
    if f.duplicate_of.is_none() {
        if let Some(mid) = &mail.message_id {
            let same = crate::store::redelivery::same_inbound_article(
                db,
                mid,
                &mail.from.address,
                &mail.subject,
                &mail.text,
            )?;
            if let Some((a, t)) = same.filter(|(a, _)| not_excepted(*a)) {
                f.duplicate_of = Some(Duplicate {
                    ticket_id: t,
                    article_id: a,
                    ticket: None,
                    by: "same Message-ID, sender, subject and text",
                });
            }
        }
    }
    if let Some(d) = &mut f.duplicate_of {
        d.ticket = records::ticket_number(db, d.ticket_id)?;
    }

    // Threading: the tagged number first (found only under the check digit
    // its ticket was issued with), then the Message-IDs.
    let mut found = None;
    for n in l.numbering.numbers_in_subject(&mail.subject) {
        let (current, legacy) = (threading::is_valid(&n), threading::is_legacy_valid(&n));
        let t = if found.is_none() {
            safeguards::ticket_by_tagged_number(db, &n, current, legacy)?
        } else {
            None
        };
        f.numbers.push(NumberLookup {
            number: n.clone(),
            current_digit: current,
            legacy_digit: legacy,
            found: t.is_some(),
        });
        if let Some(t) = t {
            found = Some((t, Match::Tag { number: n }));
        }
    }
    f.referenced = threading::referenced_ids(&mail.in_reply_to, &mail.references);
    if found.is_none() {
        for id in &f.referenced {
            if let Some(t) = records::ticket_by_message_ids(db, std::slice::from_ref(id))? {
                found = Some((
                    t,
                    Match::MessageId {
                        message_id: id.clone(),
                    },
                ));
                break;
            }
        }
    }
    if let Some((ticket, matched)) = found {
        // A merged ticket's mail lands in the ticket it was merged into.
        let (ticket, via) = crate::store::relations::follow_merges(db, ticket)?;
        f.relations.redirected_from = via;
        f.thread = Some(thread_to(db, ticket, matched, mail, &f, l)?);
    }

    f.auto_replies_to_sender = records::auto_replies_since(db, &mail.from.address, &since)?;
    f.alerts_by_sender = safeguards::agent_alerts_by_sender_since(db, &mail.from.address, &since)?;
    super::machine_facts::gather(db, mail, l, &mut f)?;
    let recipients = mail.to.iter().chain(&mail.cc).map(|m| m.address.as_str());
    f.authenticity = l.auth.check(
        &mail.from.address,
        &mail.headers,
        recipients.chain(mail.delivered_to.iter().map(String::as_str)),
        &l.reply_key,
    );
    let customer = f.thread.as_ref().map(|t| t.ticket.customer_address.clone());
    f.directory = permit::gather(db, &mail.from.address, customer.as_deref())?;
    super::relations::gather(db, mail, &mut f)?;
    f.forward = super::forward::gather(db, mail, &f, l)?;
    if let (Some(t), Some(_)) = (&f.thread, &f.directory.sender.agent) {
        f.commands = Some(super::commands::gather(db, t.ticket.id)?);
        // An agent's mail relays: a second copy must never relay again,
        // even when its bytes changed on the way (issue 11, item 3).
        if let (None, Some(mid)) = (&f.duplicate_of, &mail.message_id) {
            let same =
                crate::store::commands::same_agent_mail(db, t.ticket.id, mid, &mail.from.address)?;
            if let Some(a) = same.filter(|a| not_excepted(*a)) {
                f.duplicate_of = Some(Duplicate {
                    ticket_id: t.ticket.id,
                    article_id: a,
                    ticket: Some(t.ticket.number.clone()),
                    by: "same Message-ID from the same agent on the ticket",
                });
            }
        }
    }
    Ok(f)
}
