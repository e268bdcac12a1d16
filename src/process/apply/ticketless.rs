//! Mail sent without a ticket — a refusal, the command reference — as an
//! answer to the inbound mail: from the mailbox, In-Reply-To and
//! References the mail it answers, a Message-ID that is the same on a
//! re-run of that mail, and no ticket conversation to continue.

use super::super::{sha256_hex, Failure, Processor};
use crate::config::Mailbox;
use crate::mail::InboundMail;
use crate::notify;

impl Processor {
    /// `text` (the rendered template `kind`) as a mail answering `mail`,
    /// from `mailbox` to `to`; its Message-ID starts with `id_prefix`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ticketless_answer(
        &self,
        kind: &str,
        id_prefix: &str,
        mailbox: &Mailbox,
        to: &[String],
        mail: &InboundMail,
        sha: &str,
        text: &notify::Text,
    ) -> Result<notify::Rendered, Failure> {
        if let Some(why) = &text.fell_back {
            tracing::warn!(
                kind,
                "template failed, the shipped one was used instead: {why}"
            );
        }
        // Deterministic per inbound message: the same on a re-run.
        let message_id = format!(
            "{id_prefix}.{}@{}",
            &sha256_hex(format!("{sha}/{kind}").as_bytes())[..16],
            self.config.system.fqdn
        );
        let references: Vec<String> = mail.message_id.iter().cloned().collect();
        let topic = notify::thread_index::thread_topic(&mail.subject);
        let env = notify::Envelope {
            from_address: &mailbox.address,
            from_name: mailbox.display_name.as_deref(),
            to,
            reply_to: None,
            envelope_from: None,
            message_id: &message_id,
            in_reply_to: mail.message_id.as_deref(),
            references: &references,
            auto_submitted: Some("auto-replied"),
            // No ticket: no X-Postdesk-Ticket header.
            ticket_number: "",
            fqdn: &self.config.system.fqdn,
            dkim: self.config.smtp.dkim.as_ref(),
            thread_topic: Some(&topic),
            // No ticket, no conversation of ours to index.
            thread_index: None,
        };
        Ok(notify::build_alternative(
            &env,
            &text.subject,
            &text.body,
            text.html.as_deref(),
        )?)
    }
}
