//! The parse stage: raw bytes in, an [`InboundMail`] (with its automatic
//! classification), the language of its new text and the bytes' SHA-256
//! out, or the reason the message goes to quarantine (not fetched, over
//! the size limit, not a mail).
//! Pure: it touches no store, so it runs on parser threads ahead of the
//! store thread (see `parse_ahead`).

use super::{sha256_hex, Failure, Incoming};
use crate::config::Config;
use crate::mail::{self, InboundMail, MailError};

/// One parsed message.
pub(super) struct Parsed {
    pub mail: InboundMail,
    /// SHA-256 of the raw bytes, hex: what redelivery is recognised by.
    pub sha: String,
    /// The language detected in the new text (`language::detect`), here
    /// so that it runs on a parser thread, not on the store thread.
    pub language: Option<&'static str>,
}

/// Parse `item`, or say why it cannot be processed.
pub(super) fn parse(item: &Incoming, config: &Config) -> Result<Parsed, Failure> {
    crate::crash_guard::test_abort_hook(std::slice::from_ref(item));
    if let Some(e) = &item.fetch_error {
        return Err(Failure::Other(e.clone()));
    }
    let limit = config.system.max_message_bytes;
    if item.raw.is_empty() && item.size > 0 || item.size > limit || item.raw.len() as u64 > limit {
        return Err(MailError::TooLarge {
            size: item.size.max(item.raw.len() as u64),
            limit,
        }
        .into());
    }
    let mail = mail::parse(&item.raw, &config.system.fqdn)?;
    Ok(Parsed {
        language: super::language::detect(mail.new_text()),
        sha: sha256_hex(&item.raw),
        mail,
    })
}
