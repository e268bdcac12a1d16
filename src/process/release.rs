//! `postdesk quarantine release ID --ticket NUMBER | --as-new`: an
//! operator decides where a quarantined message belongs. It goes through
//! the same stages as any mail — facts (reads), decide with the
//! disposition the operator forced ([`decide::finish`]: draft, rules,
//! notifications), apply (the only writer) — in one transaction that also
//! marks the quarantine entry released (kept for the record).
//!
//! An authenticated agent's forward is released as the forward
//! ([`super::forward::released`]): the ticket is the original sender's,
//! not the agent's.
//!
//! A message that was quarantined because processing it crashed (or
//! panicked) or because its MIME shape was refused is not given to the
//! full parser again: it becomes an article whose text says so, with the
//! raw message attached as an `.eml` file and From/Subject from the
//! bounded header scan ([`mail::peek`]). Any other message is parsed as
//! usual; if that still fails, it is kept the same way.

use super::decide::{self, route};
use super::facts::{self, Match};
use super::parse::Parsed;
use super::plan::{Disposition, Plan};
use super::{sha256_hex, sync_filesystem, Failure, Incoming, Origin, Outcome, Processor};
use crate::crash_guard::CRASHED;
use crate::mail::{self, Attachment, InboundMail, Mailbox};
use crate::store::{quarantine_fate, records, views, Store, StoreError};

/// Where the operator puts the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A follow-up article on this ticket (its number, checked by the
    /// caller's parsing of what was typed).
    Ticket(String),
    /// A ticket of its own.
    AsNew,
}

/// What `quarantine release` is asked to do.
#[derive(Debug, Clone)]
pub struct Release {
    pub id: i64,
    pub target: Target,
    /// Send the notifications the disposition calls for (auto-reply,
    /// agents' alert); false holds them all back (`--no-notify`).
    pub notify: bool,
    /// The mailbox to count the mail as received by (`--mailbox`); by
    /// default the one it was quarantined from.
    pub mailbox: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("no quarantine entry {0} (see `postdesk quarantine list --all`)")]
    NotFound(i64),
    #[error("quarantine entry {id} was already {status}{}: it cannot be released (again)", .ticket.as_ref().map(|t| format!(" (ticket {t})")).unwrap_or_default())]
    NotHeld {
        id: i64,
        status: String,
        ticket: Option<String>,
    },
    #[error("quarantine entry {0} has no stored copy (it was too large to fetch): `postdesk quarantine retry {0}` fetches it again from its mailbox")]
    NoCopy(i64),
    #[error("no ticket {0} (see `postdesk ticket list`)")]
    NoTicket(String),
    #[error("no [[mailbox]] named {0:?} (see the configuration)")]
    NoSuchMailbox(String),
    #[error("quarantine entry {id}: {reason}; name the mailbox it belongs to with --mailbox NAME")]
    NoMailbox { id: i64, reason: String },
    #[error("quarantine entry {id} could not be released: {error}")]
    Failed { id: i64, error: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ReleaseError {
    fn from(e: rusqlite::Error) -> Self {
        ReleaseError::Store(StoreError::Sql(e))
    }
}

/// Errors whose message starts so were not caused by the mail's content
/// as a parser sees it, but by what parsing it does: the message must not
/// be parsed again. (`MailError::TooComplex`'s text, a crash recorded by
/// the crash guard, a panic caught by the batch.)
const NOT_REPARSED: &[&str] = &[
    CRASHED,
    "mail too complex to parse safely",
    "internal error while processing",
];

/// May a message quarantined with `error` be given to the parser again?
fn may_parse_again(error: &str) -> bool {
    !NOT_REPARSED.iter().any(|p| error.starts_with(p))
}

impl Processor {
    /// Release quarantine entry `r.id` into a ticket, in one transaction.
    pub fn release(&self, store: &mut Store, r: &Release) -> Result<Outcome, ReleaseError> {
        if let Some(m) = &r.mailbox {
            if self.config.mailbox(m).is_none() {
                return Err(ReleaseError::NoSuchMailbox(m.clone()));
            }
        }
        let tx = store
            .conn()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let entry = views::quarantine_one(&tx, r.id)?.ok_or(ReleaseError::NotFound(r.id))?;
        if entry.status != "held" {
            return Err(ReleaseError::NotHeld {
                id: r.id,
                status: entry.status,
                ticket: entry.ticket,
            });
        }
        let raw = views::quarantine_raw(&tx, r.id)?.ok_or(ReleaseError::NoCopy(r.id))?;
        let ticket = match &r.target {
            Target::Ticket(n) => Some(
                records::ticket_by_number(&tx, n)?
                    .ok_or_else(|| ReleaseError::NoTicket(n.clone()))?,
            ),
            Target::AsNew => None,
        };
        let received_by = r
            .mailbox
            .clone()
            .or_else(|| self.config.mailbox(&entry.mailbox).map(|m| m.name.clone()));
        let item = Incoming {
            size: raw.len() as u64,
            fetch_error: None,
            origin: Origin::Retry {
                quarantine_id: r.id,
                mailbox: received_by.clone(),
            },
            raw,
        };
        let mail = self.released_mail(r.id, &entry.error, &item.raw);
        let parsed = Parsed {
            language: super::language::detect(mail.new_text()),
            sha: sha256_hex(&item.raw),
            mail,
        };
        let has_language = |l: &str| self.templates.has_language(l);
        let lookup = facts::Lookup {
            detected_language: Some(parsed.language),
            ..self.lookup(&has_language, None)
        };
        let mut f = facts::gather(&tx, &parsed.mail, &parsed.sha, &lookup)?;
        f.duplicate_of = None; // the operator decides; a copy is noted below
        f.thread = match ticket {
            Some(t) => Some(facts::thread_to(
                &tx,
                t,
                Match::Released {
                    quarantine_id: r.id,
                },
                &parsed.mail,
                &f,
                &lookup,
            )?),
            None => None,
        };
        // Commands read the facts of the ticket the operator chose.
        f.commands = match (&f.thread, &f.directory.sender.agent) {
            (Some(t), Some(_)) => Some(super::commands::gather(&tx, t.ticket.id)?),
            _ => None,
        };
        let plan = self.forced_plan(r, &f, &parsed.mail, received_by.as_deref())?;
        let fail = |e: Failure| ReleaseError::Failed {
            id: r.id,
            error: e.to_string(),
        };
        let outcome = self.apply(&tx, &item, &parsed, &plan).map_err(fail)?;
        let ticket_id = match &outcome {
            Outcome::Created { ticket } | Outcome::FollowUp { ticket } => {
                records::ticket_by_number(&tx, ticket)?.map(|t| t.id)
            }
            _ => None,
        };
        let Some(ticket_id) = ticket_id else {
            return Err(ReleaseError::Failed {
                id: r.id,
                error: format!("it made no article ({outcome})"),
            });
        };
        if !quarantine_fate::mark_released(&tx, r.id, ticket_id)? {
            // Held when read inside this same write transaction.
            return Err(ReleaseError::Failed {
                id: r.id,
                error: "the entry changed while it was being released".into(),
            });
        }
        if self.files_written.replace(false) {
            sync_filesystem(&self.attachments_dir).map_err(StoreError::Sync)?;
        }
        tx.commit()?;
        tracing::info!(quarantine = r.id, "released from quarantine: {outcome}");
        Ok(outcome)
    }

    /// Decide with the disposition the operator forced.
    fn forced_plan(
        &self,
        r: &Release,
        f: &facts::Facts,
        mail: &InboundMail,
        received_by: Option<&str>,
    ) -> Result<Plan, ReleaseError> {
        let s = self.settings();
        let mut route = route(&self.config, mail, received_by);
        let disposition = match &f.thread {
            Some(t) => Disposition::FollowUp {
                ticket: t.ticket.clone(),
                standing: super::standing::decide(t.standing),
            },
            None => Disposition::NewTicket { quoted: None },
        };
        // A follow-up is answered from its ticket's own address anyway; it
        // needs a route only where none can be found.
        let fallback = match &f.thread {
            Some(t) => self
                .config
                .mailboxes
                .iter()
                .find(|m| m.address == t.ticket.support_address),
            None => None,
        };
        let mailbox = match route
            .mailbox
            .as_deref()
            .and_then(|n| self.config.mailbox(n))
        {
            Some(m) => m,
            None => match fallback {
                Some(m) => {
                    route.reason = format!(
                        "{}; the ticket's own mailbox {} serves it",
                        route.reason, m.name
                    );
                    route.mailbox = Some(m.name.clone());
                    route.address = Some(m.address.clone());
                    m
                }
                None => {
                    return Err(ReleaseError::NoMailbox {
                        id: r.id,
                        reason: route.reason,
                    })
                }
            },
        };
        let mut plan = Plan {
            language: f.language.clone(),
            authenticity: f.authenticity.clone(),
            ..Plan::new(route.clone(), disposition)
        };
        plan.note("route", route.reason);
        plan.note(
            "release",
            match &r.target {
                Target::Ticket(n) => {
                    format!(
                        "quarantine entry {}: released by an operator into ticket {n}",
                        r.id
                    )
                }
                Target::AsNew => format!(
                    "quarantine entry {}: released by an operator as a new ticket",
                    r.id
                ),
            },
        );
        // An empowered agent's forward is released as the forward it is:
        // the original sender's mail, the agent's lines a note.
        let target = f.thread.as_ref().map(|t| t.ticket.clone());
        let mut plan = match super::forward::released(&mut plan, f, mail, mailbox, &s, target) {
            Some(forwarded) => forwarded,
            None => decide::finish(plan, f, mail, mailbox, &s, true, false),
        };
        if let Disposition::Quarantine { reason } = &plan.disposition {
            return Err(ReleaseError::Failed {
                id: r.id,
                error: reason.clone(),
            });
        }
        for n in plan.notifications.iter_mut() {
            if n.suppressed.is_some() {
                continue;
            }
            if !r.notify {
                n.suppressed = Some("released from quarantine with --no-notify".into());
                n.note_if_suppressed = false;
            } else if n.to.iter().any(|a| a.ends_with(".invalid")) {
                n.suppressed = Some("the released mail has no sender address to write to".into());
            }
        }
        Ok(plan)
    }

    /// The mail a released message becomes: parsed as usual, unless its
    /// quarantine reason says parsing is what failed (or parsing fails
    /// again), in which case an article that says so and carries the raw
    /// message as an attachment.
    fn released_mail(&self, id: i64, error: &str, raw: &[u8]) -> InboundMail {
        let why = if !may_parse_again(error) {
            error.to_string()
        } else {
            match mail::parse(raw, &self.config.system.fqdn) {
                Ok(m) => return m,
                Err(e) => e.to_string(),
            }
        };
        unparsed_mail(id, &why, raw)
    }
}

/// The article of a message that is not parsed: From, Subject and
/// Message-ID from the bounded header scan, a text saying why, the raw
/// message as `quarantined-ID.eml`.
pub(super) fn unparsed_mail(id: i64, why: &str, raw: &[u8]) -> InboundMail {
    let peek = mail::peek(raw, false);
    let address = peek
        .from
        .as_deref()
        .and_then(address_in)
        .unwrap_or_else(|| UNKNOWN_SENDER.to_string());
    let text = format!(
        "This message was held in quarantine (entry {id}) and released by an operator \
         without being read again, because: {why}\n\n\
         The original message is attached as quarantined-{id}.eml; open it with care.\n\
         From (as written): {}\nSubject (as written): {}\n",
        peek.from.as_deref().unwrap_or("-"),
        peek.subject.as_deref().unwrap_or("-"),
    );
    InboundMail {
        message_id: peek.message_id,
        subject: peek
            .subject
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("(quarantined message {id})")),
        from: Mailbox {
            name: None,
            address,
        },
        reply_to: None,
        to: Vec::new(),
        cc: Vec::new(),
        delivered_to: Vec::new(),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        text,
        quote_start: None,
        html: None,
        attachments: vec![Attachment {
            filename: format!("quarantined-{id}.eml"),
            content_type: "message/rfc822".into(),
            content: raw.to_vec(),
        }],
        language: None,
        class: mail::Classification::default(),
        automatic: None,
        our_loop_marker: false,
        warnings: vec![format!("released from quarantine without parsing: {why}")],
        headers: Vec::new(),
        size: raw.len() as u64,
        forward: None,
    }
}

/// The sender of a released message whose From cannot be read (reserved
/// `.invalid` domain: never written to).
pub const UNKNOWN_SENDER: &str = "unknown-sender@unknown.invalid";

/// The address in a From value as written: the last `<…>`, or the value
/// itself, if it looks like `local@domain` (lower-cased).
fn address_in(from: &str) -> Option<String> {
    let inner = match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => &from[a + 1..b],
        _ => from,
    }
    .trim();
    let (local, domain) = inner.rsplit_once('@')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 254
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
    };
    (ok(local) && ok(domain) && domain.contains('.')).then(|| inner.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(from: &str, expected: Option<&str>) {
        assert_eq!(address_in(from).as_deref(), expected, "{from:?}");
    }

    #[test]
    fn the_address_is_taken_from_a_from_value_as_written() {
        check(
            "=?utf-8?q?Jo=C3=A3o?= <Joao@Example.pt>",
            Some("joao@example.pt"),
        );
        check("joao@example.pt", Some("joao@example.pt"));
        check("<>", None);
        check("MAILER-DAEMON", None);
        check("a b@example.com", None);
        check("x@localhost", None);
    }

    #[test]
    fn crashed_panicked_and_refused_shapes_are_not_parsed_again() {
        let crashed = format!("{CRASHED}: the process died 2 times while handling this message");
        assert!(!may_parse_again(&crashed));
        assert!(!may_parse_again(
            "internal error while processing (please report): boom"
        ));
        let too_deep = mail::MailError::TooComplex {
            what: "levels of nesting",
            count: 60,
            limit: 40,
        };
        assert!(!may_parse_again(&too_deep.to_string()));
        assert!(may_parse_again(&mail::MailError::NoSender.to_string()));
        assert!(may_parse_again("rule spam: quarantine (looks like spam)"));
    }

    #[test]
    fn an_unparsed_mail_keeps_the_raw_message_and_says_why() {
        let raw =
            b"From: Ann <ann@example.com>\r\nSubject: printer\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n";
        let m = unparsed_mail(7, "processing crashed: twice", raw);
        assert_eq!(m.from.address, "ann@example.com");
        assert_eq!(m.subject, "printer");
        assert_eq!(m.message_id.as_deref(), Some("m@x"));
        assert!(m.text.contains("entry 7") && m.text.contains("processing crashed: twice"));
        assert_eq!(m.attachments[0].filename, "quarantined-7.eml");
        assert_eq!(m.attachments[0].content, raw);
        let m = unparsed_mail(8, "x", b"\r\n\r\n");
        assert_eq!(m.from.address, UNKNOWN_SENDER);
        assert_eq!(m.subject, "(quarantined message 8)");
    }
}
