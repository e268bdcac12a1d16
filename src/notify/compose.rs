//! One notification from its template to its bytes, pure: render (the
//! operator's template, the shipped one standing in), tag the subject,
//! build the MIME mail, sign it. [`Compose`] owns everything that takes,
//! so the store thread can hand it to another thread (issue 10, item 3)
//! after the reads it needs (the References chain, the ticket) are done.

use std::sync::Arc;

use super::{build_alternative, mailbox, render_with_fallback, Context, NotifyError, Templates};

/// The headers of one mail, owned ([`super::Envelope`] borrows them).
#[derive(Debug, Clone, Default)]
pub struct Head {
    pub from_address: String,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub reply_to: Option<String>,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub auto_submitted: Option<&'static str>,
    pub ticket_number: String,
    pub fqdn: String,
    pub thread_topic: Option<String>,
    pub thread_index: Option<String>,
}

impl Head {
    fn envelope<'a>(&'a self, dkim: Option<&'a crate::config::Dkim>) -> super::Envelope<'a> {
        super::Envelope {
            from_address: &self.from_address,
            from_name: self.from_name.as_deref(),
            to: &self.to,
            reply_to: self.reply_to.as_deref(),
            envelope_from: None,
            message_id: &self.message_id,
            in_reply_to: self.in_reply_to.as_deref(),
            references: &self.references,
            auto_submitted: self.auto_submitted,
            ticket_number: &self.ticket_number,
            fqdn: &self.fqdn,
            dkim,
            thread_topic: self.thread_topic.as_deref(),
            thread_index: self.thread_index.as_deref(),
        }
    }

    /// The addresses as the build will read them: an address lettre cannot
    /// write is found before the mail is handed on (see
    /// [`NotifyError::Address`]).
    pub fn check_addresses(&self) -> Result<(), NotifyError> {
        mailbox(&self.from_address, None)?;
        for a in self.to.iter().chain(&self.reply_to) {
            mailbox(a, None)?;
        }
        Ok(())
    }
}

/// A notification to make: template, language, what the template sees,
/// the subject's ticket tag and the headers.
pub struct Compose {
    pub templates: Arc<Templates>,
    pub template: String,
    pub lang: String,
    pub ctx: Context,
    /// Put before the rendered subject unless it already holds it.
    pub tag: String,
    pub head: Head,
}

/// A made notification: what its outbound article records, and its bytes.
#[derive(Debug, Clone)]
pub struct Composed {
    pub subject: String,
    pub body: String,
    pub html: Option<String>,
    pub raw: Vec<u8>,
    /// Set when the shipped template stood in: why the operator's failed.
    pub fell_back: Option<String>,
}

/// Why a notification could not be made, and at which step.
#[derive(Debug, thiserror::Error)]
pub enum NotMade {
    /// Neither the template nor the shipped one rendered.
    #[error("{0}")]
    Render(NotifyError),
    /// The mail could not be built or signed.
    #[error("{0}")]
    Build(NotifyError),
}

impl Compose {
    /// Render, tag, build and (with `dkim`) sign.
    pub fn make(&self, dkim: Option<&crate::config::Dkim>) -> Result<Composed, NotMade> {
        let text = render_with_fallback(
            &self.templates,
            super::shipped,
            &self.template,
            &self.lang,
            &self.ctx,
        )
        .map_err(NotMade::Render)?;
        let mut subject = text.subject;
        if !subject.contains(&self.tag) {
            subject = format!("{} {subject}", self.tag);
        }
        let built = build_alternative(
            &self.head.envelope(dkim),
            &subject,
            &text.body,
            text.html.as_deref(),
        )
        .map_err(NotMade::Build)?;
        Ok(Composed {
            subject: built.subject,
            body: built.body,
            html: text.html,
            raw: built.raw,
            fell_back: text.fell_back,
        })
    }
}
