//! Notifications made off the store thread (issue 10, item 3). Rendering
//! the template, building the MIME mail and, with `[smtp] dkim`, signing
//! it are pure once the reads they need are done (the ticket, the
//! References chain), and cost the store thread ~0.1 ms a mail (~1 ms
//! more for an RSA-2048 signature). So during a batch with parser
//! threads the store thread writes the outbound article and the outbox
//! row at once — their ids, the Message-ID in the index and the loop
//! caps' counts are what later messages of the batch see — with the text
//! still empty and no mail, and a parser thread makes the mail while the
//! store thread goes on; before the commit the store thread writes each
//! made mail into its article and (once, in `outbox_raw`) its row. The
//! row is never sendable without its mail: the sender sees it only after
//! the commit. A mail that cannot be made fails its row with the reason,
//! and its article says so.

use std::collections::HashMap;

use super::super::parse_ahead::Pool;
use super::Processor;
use crate::notify;
use crate::store::{outbox, records, Db, StoreError};

/// A row whose mail a parser thread is making.
#[derive(Debug, Clone)]
pub(in crate::process) struct Deferred {
    outbox_id: i64,
    message_id: String,
    article_id: i64,
    /// For the log: the template and the ticket.
    what: String,
}

impl Processor {
    /// Is mail made now made later, on the parser threads (see the module
    /// doc)? Then the caller writes its rows without it and hands the
    /// making to [`Processor::defer_making`].
    pub(super) fn making_deferred(&self) -> bool {
        self.deferred.borrow().is_some()
    }

    /// Have the parser threads make the mail of outbox row `outbox_id`
    /// and outbound article `article_id` (`message_id`).
    pub(super) fn defer_making(
        &self,
        outbox_id: i64,
        article_id: i64,
        message_id: &str,
        compose: notify::Compose,
    ) {
        let mut deferred = self.deferred.borrow_mut();
        if let (Some(Some(pool)), Some(rows)) = (self.parsers.get(), deferred.as_mut()) {
            let what = format!(
                "{} on ticket {}",
                compose.template, compose.head.ticket_number
            );
            pool.make(outbox_id, message_id.to_string(), compose);
            rows.push(Deferred {
                outbox_id,
                message_id: message_id.to_string(),
                article_id,
                what,
            });
        }
    }
}

/// Write the mail made for the `deferred` rows into them, waiting for the
/// parser threads; a row whose mail failed or never came is failed with
/// the reason, and its article tells it. The Message-ID guards each write:
/// a message rolled back after its rows were written may leave their ids
/// to a later one.
pub(in crate::process) fn write_made(
    db: &Db,
    pool: &Pool,
    deferred: &[Deferred],
) -> Result<(), StoreError> {
    let mut waiting: HashMap<(i64, String), &Deferred> = deferred
        .iter()
        .map(|d| ((d.outbox_id, d.message_id.clone()), d))
        .collect();
    for m in pool.made(deferred.len()) {
        let Some(d) = waiting.remove(&(m.id, m.message_id.clone())) else {
            continue;
        };
        let article_id = d.article_id;
        match m.made {
            Ok(c) => {
                if let Some(why) = &c.fell_back {
                    tracing::warn!(message_id = %m.message_id,
                        "{}: template failed, the shipped one was used instead (fix the template, then reload): {why}", d.what);
                }
                records::set_outbound_text(
                    db,
                    article_id,
                    &m.message_id,
                    &c.subject,
                    &c.body,
                    c.html.as_deref(),
                )?;
                outbox::set_mail(db, m.id, &m.message_id, &c.raw)?;
            }
            Err(e) => not_made(db, d, &e)?,
        }
    }
    for d in waiting.into_values() {
        not_made(
            db,
            d,
            "no mail came from the parser threads (please report)",
        )?;
    }
    Ok(())
}

/// `d`'s row fails with `why`; its article says the mail was not sent.
fn not_made(db: &Db, d: &Deferred, why: &str) -> Result<(), StoreError> {
    tracing::error!(message_id = %d.message_id, "{}: notification not sent: {why}", d.what);
    outbox::fail_unmade(db, d.outbox_id, &d.message_id, why)?;
    let text = format!("This notification could not be made, and was not sent: {why}");
    records::set_outbound_text(db, d.article_id, &d.message_id, "(not sent)", &text, None)?;
    Ok(())
}
