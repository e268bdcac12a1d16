//! The threading headers of a mail the apply stage sends on a ticket: reads
//! the ticket's mail from the store, keeps what the recipients may see
//! named (customers: nothing internal, none of the agents' alerts), and
//! lets [`notify::chain`] compute `References` and `Thread-Index`.

use chrono::{DateTime, Utc};

use super::super::Failure;
use crate::mail::InboundMail;
use crate::notify::{self, Kind};
use crate::store::{records, thread, Db};

/// Kinds of mail only agents receive: their Message-IDs are not named in
/// mail to customers.
fn agents_only(kind: &str) -> bool {
    Kind::ALL.iter().any(|k| k.to_agents() && k.name() == kind)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The `Thread-Index` header of `mail`, if it has one.
pub(super) fn thread_index_of(mail: &InboundMail) -> Option<&str> {
    mail.headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("Thread-Index"))
        .map(|(_, value)| value.as_str())
}

/// The `Thread-Index` of the stored mail `message_id` of the ticket, if
/// it came in with one (an agent's reply to an Outlook customer's mail
/// continues the customer's conversation).
fn stored_index(
    db: &Db,
    all: &[thread::ThreadMessage],
    message_id: Option<&str>,
) -> Result<Option<String>, Failure> {
    let Some(raw_id) = message_id
        .and_then(|id| all.iter().find(|m| m.message_id == id))
        .and_then(|m| m.raw_id)
    else {
        return Ok(None);
    };
    let Some(raw) = records::raw_message(db, raw_id)? else {
        return Ok(None);
    };
    Ok(mail_parser::MessageParser::default()
        .parse_headers(&raw)
        .and_then(|m| m.header_raw("Thread-Index").map(|v| v.trim().to_string())))
}

/// `References` and `Thread-Index` for our mail `message_id` on `ticket`,
/// to agents or to customers, answering `in_reply_to`, continuing
/// `their_index` when it is an index (for customers, else the index the
/// mail we answer came in with, when it had one). Our mail's own time is taken to the
/// second, as the store keeps it, so a later mail computes the same child
/// block for it.
pub(super) fn chain_headers(
    db: &Db,
    ticket: &records::TicketRef,
    to_agents: bool,
    in_reply_to: Option<&str>,
    their_index: Option<&str>,
    message_id: &str,
) -> Result<notify::chain::ChainHeaders, Failure> {
    let all = thread::thread_messages(db, ticket.id)?;
    let stored = match (their_index, to_agents) {
        (None, false) => stored_index(db, &all, in_reply_to)?,
        _ => None,
    };
    let their_index = their_index.or(stored.as_deref());
    let now = parse_time(&crate::store::now_text()).unwrap_or_else(Utc::now);
    let started = all
        .first()
        .and_then(|m| parse_time(&m.created_at))
        .unwrap_or(now);
    let earlier: Vec<(String, DateTime<Utc>)> = all
        .iter()
        .filter(|m| to_agents || (!m.internal && !agents_only(&m.kind)))
        .map(|m| {
            let at = parse_time(&m.created_at).unwrap_or(started);
            (m.message_id.clone(), at)
        })
        .collect();
    let t = notify::chain::TicketThread {
        number: &ticket.number,
        started,
        earlier: &earlier,
    };
    Ok(notify::chain::headers(
        &t,
        in_reply_to,
        their_index,
        message_id,
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_alerts_are_agents_only_and_replies_are_not() {
        assert!(agents_only("agent_new_ticket"));
        assert!(agents_only("agent_note"));
        assert!(!agents_only("agent_reply"));
        assert!(!agents_only("auto_reply"));
        assert!(!agents_only("customer"));
    }
}
