//! Quarantine: recording a message that could not be processed (with its
//! raw bytes when we have them and whatever headers can be read), and
//! `postdesk quarantine retry`.

use super::{sha256_hex, Incoming, Origin, Outcome, Processor};
use crate::crash_guard::CRASHED;
use crate::mail;
use crate::store::{records, Db, Store, StoreError};

impl Processor {
    /// Record a message that could not be processed.
    pub(crate) fn quarantine(
        &self,
        db: &Db,
        item: &Incoming,
        error: &str,
    ) -> Result<Outcome, StoreError> {
        let mailbox = self.mailbox_name(&item.origin);
        if let Origin::Retry { quarantine_id, .. } = &item.origin {
            records::quarantine_retried(db, *quarantine_id, None, Some(error))?;
            tracing::warn!(quarantine = quarantine_id, "retry failed again: {error}");
            return Ok(Outcome::Quarantined {
                id: *quarantine_id,
                error: error.to_string(),
                raw_kept: !item.raw.is_empty(),
            });
        }
        let (imap_source, uid_validity, uid) = match &item.origin {
            Origin::Imap {
                source,
                uid_validity,
                uid,
                ..
            } => (Some(source.as_str()), Some(*uid_validity), Some(*uid)),
            _ => (None, None, None),
        };
        let raw_kept = !item.raw.is_empty();
        let sha = sha256_hex(&item.raw);
        let raw_id = if raw_kept {
            Some(records::store_raw(db, &sha, &item.raw)?)
        } else {
            None
        };
        // Whatever headers a plain scan can read, for the operator: the
        // message is not parsed again (it may be what killed the process).
        let mail::Peek {
            from,
            subject,
            message_id,
        } = mail::peek(&item.raw, !error.starts_with(CRASHED));
        let receipt_id = records::insert_receipt(
            db,
            &records::NewReceipt {
                source: item.origin.source(),
                mailbox: &mailbox,
                imap_source,
                uid_validity,
                uid,
                message_id: message_id.as_deref(),
                sha256: &sha,
                raw_id,
                status: "quarantined",
                ticket_id: None,
                article_id: None,
                error: Some(error),
            },
        )?;
        let id = records::insert_quarantine(
            db,
            &records::NewQuarantine {
                receipt_id,
                mailbox: &mailbox,
                uid_validity,
                uid,
                raw_id,
                size: item.size.max(item.raw.len() as u64),
                message_id: message_id.as_deref(),
                from_address: from.as_deref(),
                subject: subject.as_deref(),
                error,
            },
        )?;
        tracing::warn!(%mailbox, uid, message_id = message_id.as_deref(), quarantine = id, "message quarantined: {error}");
        Ok(Outcome::Quarantined {
            id,
            error: error.to_string(),
            raw_kept,
        })
    }

    /// Process a quarantined message again (`postdesk quarantine retry`).
    pub fn retry(&self, store: &mut Store, id: i64) -> Result<Outcome, RetryError> {
        let entry = records::quarantine_entry(store.conn(), id)?.ok_or(RetryError::NotFound(id))?;
        if entry.status != "held" {
            return Err(RetryError::NotHeld(id, entry.status));
        }
        let Some(raw_id) = entry.raw_id else {
            // Too large to fetch before: the daemon fetches it again from
            // its mailbox (with the limit in force then).
            if !records::request_refetch(store.conn(), id)? {
                return Err(RetryError::NoRaw(id));
            }
            return Ok(Outcome::RefetchRequested {
                id,
                mailbox: entry.mailbox,
            });
        };
        let raw = records::raw_message(store.conn(), raw_id)?.ok_or(RetryError::NoRaw(id))?;
        let item = Incoming {
            size: raw.len() as u64,
            fetch_error: None,
            raw,
            origin: Origin::Retry {
                quarantine_id: id,
                mailbox: self.config.mailbox(&entry.mailbox).map(|m| m.name.clone()),
            },
        };
        self.process_batch(store, std::slice::from_ref(&item))?
            .pop()
            .ok_or_else(|| RetryError::Store(StoreError::Sql(rusqlite::Error::QueryReturnedNoRows)))
    }
}

/// A retried message went through: the quarantine entry is released and
/// points at its ticket.
pub(super) fn release(db: &Db, quarantine_id: i64, outcome: &Outcome) -> Result<(), StoreError> {
    let ticket = match outcome {
        Outcome::Created { ticket } | Outcome::FollowUp { ticket } | Outcome::Note { ticket } => {
            Some(ticket.as_str())
        }
        Outcome::Duplicate { ticket } => ticket.as_deref(),
        _ => None,
    };
    let ticket_id = match ticket {
        Some(n) => records::ticket_by_number(db, n)?.map(|t| t.id),
        None => None,
    };
    records::quarantine_retried(db, quarantine_id, ticket_id, None)
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no quarantine entry {0} (see `postdesk quarantine list --all`)")]
    NotFound(i64),
    #[error("quarantine entry {0} is {1}, not held: nothing to retry")]
    NotHeld(i64, String),
    #[error("quarantine entry {0} has no stored copy and no IMAP location to fetch it from again")]
    NoRaw(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}
