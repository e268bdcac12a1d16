//! DKIM signatures made off the store thread (issue 10, item 3). Signing
//! is the costliest step of an auto-replied message when `[smtp] dkim` is
//! set (~1 ms for RSA-2048 with ring, against ~0.6 ms for everything else
//! the store thread does), so during a batch with parser threads the mail
//! is built unsigned, its outbox row written, and the parser threads sign
//! it while the store thread goes on; before the commit the store thread
//! writes each signed mail into its row. The row is never sendable
//! unsigned: the sender sees it only after the commit. A signature that
//! cannot be made fails its row with the reason, as a notification that
//! cannot be built does.

use std::collections::HashSet;

use super::super::parse_ahead::Pool;
use super::Processor;
use crate::store::{outbox, Db, StoreError};

impl Processor {
    /// Is mail built now signed later (see the module doc)? Then the
    /// caller builds it without the key and hands its row to
    /// [`Processor::defer_signature`].
    pub(super) fn signing_deferred(&self) -> bool {
        self.unsigned.borrow().is_some()
    }

    /// Have outbox row `id` (`message_id`, the unsigned `raw`) signed by
    /// the parser threads.
    pub(super) fn defer_signature(&self, id: i64, message_id: &str, raw: Vec<u8>) {
        let mut unsigned = self.unsigned.borrow_mut();
        if let (Some(Some(pool)), Some(rows)) = (self.parsers.get(), unsigned.as_mut()) {
            pool.sign(id, message_id.to_string(), raw);
            rows.push((id, message_id.to_string()));
        }
    }
}

/// Write the signatures of the `unsigned` rows into them, waiting for the
/// parser threads; a row whose signature failed or never came is failed
/// with the reason. The Message-ID guards each write: a message rolled
/// back after its row was written may leave its row id to a later one.
pub(in crate::process) fn write_signatures(
    db: &Db,
    pool: &Pool,
    unsigned: &[(i64, String)],
) -> Result<(), StoreError> {
    let mut waiting: HashSet<(i64, String)> = unsigned.iter().cloned().collect();
    for signed in pool.signatures(unsigned.len()) {
        waiting.remove(&(signed.id, signed.message_id.clone()));
        match signed.raw {
            Ok(raw) => outbox::set_signed(db, signed.id, &signed.message_id, &raw)?,
            Err(e) => outbox::fail_unsigned(db, signed.id, &signed.message_id, &e)?,
        };
    }
    for (id, message_id) in waiting {
        let why = "DKIM signing: no signature came from the parser threads (please report)";
        outbox::fail_unsigned(db, id, &message_id, why)?;
    }
    Ok(())
}
