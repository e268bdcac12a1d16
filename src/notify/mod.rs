//! Events → rendered mail. Templates are Tera files in
//! `mail-templates/<language>/<name>.txt`; each starts with a
//! `Subject: …` line, a blank line, then the body. A language without a
//! given template falls back to `system.default_language`, then to `en`.
//! Besides one template per [`Kind`], a folder may hold others (every
//! `*.txt` is loaded): auto-replies a rule chooses by name
//! (`auto_reply = "auto_reply_after_hours"`), rendered with the same
//! variables as `auto_reply`.
//!
//! Rendering returns finished RFC 5322 bytes (built by lettre, which
//! encodes and folds headers) plus the envelope, ready for the outbox.
//! Every value taken from an inbound mail is flattened to one line before
//! it reaches a header, so a hostile subject cannot inject headers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::Message;
use serde::Serialize;

use crate::mail::{sanitize_line, LOOP_HEADER};

mod context;
mod shipped;
pub mod thread_index;
pub use context::{clip, ArticleCtx, Context, TicketCtx, MAX_COPIED_CHARS};
pub use shipped::{load_or_shipped, render_with_fallback, shipped, Text};

/// The notifications postdesk sends (serialised as [`Kind::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// To the customer: we got your mail, here is your ticket number.
    AutoReply,
    /// To the queue's agents: a new ticket arrived.
    AgentNewTicket,
    /// To the queue's agents: a customer wrote again.
    AgentFollowUp,
    /// To the queue's agents: mail to an address of a ticket bounced; later
    /// mail to it is held (sent once, when the address starts bouncing).
    AgentBouncing,
    /// To the ticket's requesters and observers: an authenticated agent's
    /// reply, relayed "Agent via Support".
    AgentReply,
    /// To the queue's other agents: an agent's internal note.
    AgentNote,
    /// To a sender turned away (issue 8): not a known customer, or no right
    /// to the ticket the mail names. Says why in plain words, never what a
    /// ticket holds nor whether it exists; sent without a ticket.
    Refusal,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::AutoReply,
        Kind::AgentNewTicket,
        Kind::AgentFollowUp,
        Kind::AgentBouncing,
        Kind::AgentReply,
        Kind::AgentNote,
        Kind::Refusal,
    ];

    /// The kinds every templates folder must have in its default language
    /// (or `en`). Kinds added later fall back to the shipped template, so
    /// an operator's older folder still loads.
    const REQUIRED: [Kind; 3] = [Kind::AutoReply, Kind::AgentNewTicket, Kind::AgentFollowUp];

    /// Template file stem, also the outbox `kind`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::AutoReply => "auto_reply",
            Kind::AgentNewTicket => "agent_new_ticket",
            Kind::AgentFollowUp => "agent_follow_up",
            Kind::AgentBouncing => "agent_bouncing",
            Kind::AgentReply => "agent_reply",
            Kind::AgentNote => "agent_note",
            Kind::Refusal => "refusal",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("templates folder {0}: {1}")]
    Folder(PathBuf, std::io::Error),
    #[error("template {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("template {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("template {0}: must start with a 'Subject: …' line followed by a blank line")]
    NoSubject(PathBuf),
    #[error("no template {name} for language {lang:?} nor the fallbacks (looked in {dir})")]
    Missing {
        name: String,
        lang: String,
        dir: PathBuf,
    },
    #[error("rendering {name} ({lang}): {message}")]
    Render {
        name: String,
        lang: String,
        message: String,
    },
    #[error("{primary}; the shipped template failed too: {shipped}")]
    FallbackFailed { primary: String, shipped: String },
    #[error("building mail: {0}")]
    Build(String),
    #[error("address {0}")]
    Address(String),
}

/// Full error chain of a tera error on one line (tera hides the cause).
fn tera_message(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// One template file's text, before compiling.
struct Source {
    lang: String,
    /// The file stem: a [`Kind::name`] or a named auto-reply.
    name: String,
    /// For messages: the file, or its place among the shipped templates.
    path: PathBuf,
    text: String,
}

/// Loaded templates for every language found.
pub struct Templates {
    tera: tera::Tera,
    /// language → template names available
    available: BTreeMap<String, Vec<String>>,
    default_language: String,
    dir: PathBuf,
}

impl Templates {
    /// Load every `<lang>/<name>.txt` under `dir`. Fails when a file is
    /// unreadable or malformed, or when the default language (or `en`)
    /// lacks one of the templates of a [`Kind`].
    pub fn load(dir: &Path, default_language: &str) -> Result<Templates, NotifyError> {
        let entries = std::fs::read_dir(dir).map_err(|e| NotifyError::Folder(dir.into(), e))?;
        let mut langs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        langs.sort();
        let mut sources = Vec::new();
        for lang_dir in langs {
            let Some(lang) = lang_dir
                .file_name()
                .and_then(|n| n.to_str())
                .map(String::from)
            else {
                continue;
            };
            let files = std::fs::read_dir(&lang_dir)
                .map_err(|e| NotifyError::Folder(lang_dir.clone(), e))?;
            let mut files: Vec<PathBuf> = files
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "txt"))
                .collect();
            files.sort();
            for path in files {
                let Some(name) = path.file_stem().and_then(|n| n.to_str()).map(String::from) else {
                    continue;
                };
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| NotifyError::Read(path.clone(), e))?;
                sources.push(Source {
                    lang: lang.clone(),
                    name,
                    path,
                    text,
                });
            }
        }
        Templates::from_sources(sources, default_language, dir)
    }

    /// Compile and check templates already read; `dir` names where they
    /// came from in messages.
    fn from_sources(
        sources: Vec<Source>,
        default_language: &str,
        dir: &Path,
    ) -> Result<Templates, NotifyError> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![]);
        let mut available: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for Source {
            lang,
            name,
            path,
            text,
        } in sources
        {
            let text = text.replace("\r\n", "\n");
            if !text.starts_with("Subject:") || !text.contains("\n\n") {
                return Err(NotifyError::NoSubject(path));
            }
            tera.add_raw_template(&format!("{lang}/{name}"), &text)
                .map_err(|e| NotifyError::Syntax {
                    path: path.clone(),
                    message: tera_message(&e),
                })?;
            available.entry(lang).or_default().push(name);
        }
        let t = Templates {
            tera,
            available,
            default_language: default_language.to_string(),
            dir: dir.to_path_buf(),
        };
        for kind in Kind::REQUIRED {
            t.pick(kind.name(), default_language)?;
        }
        // Render every template once with sample values, so a mistake
        // (an unknown variable, a bad filter) shows at start or in
        // `postdesk check`, not on the first customer's mail.
        let sample = Context::sample();
        for (lang, names) in &t.available {
            for name in names {
                let ctx =
                    tera::Context::from_serialize(&sample).map_err(|e| NotifyError::Render {
                        name: name.clone(),
                        lang: lang.clone(),
                        message: tera_message(&e),
                    })?;
                t.tera
                    .render(&format!("{lang}/{name}"), &ctx)
                    .map_err(|e| NotifyError::Syntax {
                        path: dir.join(lang).join(format!("{name}.txt")),
                        message: tera_message(&e),
                    })?;
            }
        }
        Ok(t)
    }

    /// Languages with at least one template.
    pub fn languages(&self) -> Vec<String> {
        self.available.keys().cloned().collect()
    }

    /// The language whose template `name` is used for `lang`.
    fn pick(&self, name: &str, lang: &str) -> Result<String, NotifyError> {
        for l in [lang, self.default_language.as_str(), "en"] {
            if self
                .available
                .get(l)
                .is_some_and(|names| names.iter().any(|n| n == name))
            {
                return Ok(l.to_string());
            }
        }
        Err(NotifyError::Missing {
            name: name.to_string(),
            lang: lang.to_string(),
            dir: self.dir.clone(),
        })
    }

    /// Whether there is any template in `lang` (to pick a ticket language).
    pub fn has_language(&self, lang: &str) -> bool {
        self.available.contains_key(lang)
    }

    /// Whether a template `name` exists in any language (a rule's
    /// `auto_reply = "name"` is checked against this and the shipped ones).
    pub fn has_template(&self, name: &str) -> bool {
        self.available
            .values()
            .any(|names| names.iter().any(|n| n == name))
    }

    /// Render `kind` in `lang` (with fallbacks) → (subject, body).
    pub fn render(
        &self,
        kind: Kind,
        lang: &str,
        ctx: &Context,
    ) -> Result<(String, String), NotifyError> {
        self.render_named(kind.name(), lang, ctx)
    }

    /// Render the template `name` in `lang` (with fallbacks) → (subject,
    /// body).
    pub fn render_named(
        &self,
        name: &str,
        lang: &str,
        ctx: &Context,
    ) -> Result<(String, String), NotifyError> {
        let l = self.pick(name, lang)?;
        let err = |message: String| NotifyError::Render {
            name: name.to_string(),
            lang: l.clone(),
            message,
        };
        let tctx = tera::Context::from_serialize(ctx).map_err(|e| err(tera_message(&e)))?;
        let out = self
            .tera
            .render(&format!("{l}/{name}"), &tctx)
            .map_err(|e| err(tera_message(&e)))?;
        let (head, body) = out
            .split_once("\n\n")
            .ok_or_else(|| err("rendered text lost its blank line after Subject".into()))?;
        let subject = sanitize_line(head.trim_start_matches("Subject:"));
        Ok((subject, body.trim_start_matches('\n').to_string()))
    }
}

/// A rendered mail ready for the outbox.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Without angle brackets.
    pub message_id: String,
    pub subject: String,
    pub body: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
}

/// Headers of one outgoing mail.
pub struct Envelope<'a> {
    pub from_address: &'a str,
    pub from_name: Option<&'a str>,
    pub to: &'a [String],
    /// Where answers go (an agents' alert: the reply address with the
    /// recipient's token); None: to `from_address`.
    pub reply_to: Option<&'a str>,
    /// `None` sends with the null reverse-path (auto-replies, RFC 3834).
    pub envelope_from: Option<&'a str>,
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    /// `Some("auto-replied")` / `Some("auto-generated")`.
    pub auto_submitted: Option<&'a str>,
    /// `X-Postdesk-Ticket`; empty: no such header (a refusal has no ticket).
    pub ticket_number: &'a str,
    pub fqdn: &'a str,
    /// Sign the mail with this key (`[smtp] dkim`).
    pub dkim: Option<&'a crate::config::Dkim>,
}

fn mailbox(address: &str, name: Option<&str>) -> Result<Mailbox, NotifyError> {
    let addr = address
        .parse()
        .map_err(|e| NotifyError::Address(format!("{address:?}: {e}")))?;
    Ok(Mailbox::new(
        name.map(sanitize_line).filter(|n| !n.is_empty()),
        addr,
    ))
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), sanitize_line(&value))
}

/// Build the RFC 5322 bytes of a mail.
pub fn build(env: &Envelope, subject: &str, body: &str) -> Result<Rendered, NotifyError> {
    let mut b = Message::builder()
        .from(mailbox(env.from_address, env.from_name)?)
        .subject(sanitize_line(subject))
        .message_id(Some(format!("<{}>", env.message_id)))
        .date_now()
        .raw_header(header(LOOP_HEADER, env.fqdn.to_string()));
    // A refusal belongs to no ticket: no ticket header then.
    if !env.ticket_number.is_empty() {
        b = b.raw_header(header("X-Postdesk-Ticket", env.ticket_number.to_string()));
    }
    for to in env.to {
        b = b.to(mailbox(to, None)?);
    }
    if let Some(r) = env.reply_to {
        b = b.reply_to(mailbox(r, env.from_name)?);
    }
    if let Some(irt) = env.in_reply_to {
        b = b.in_reply_to(format!("<{irt}>"));
    }
    if !env.references.is_empty() {
        let refs: Vec<String> = env.references.iter().map(|r| format!("<{r}>")).collect();
        b = b.references(refs.join(" "));
    }
    if let Some(a) = env.auto_submitted {
        b = b
            .raw_header(header("Auto-Submitted", a.to_string()))
            .raw_header(header("X-Auto-Response-Suppress", "All".into()));
    }
    let envelope_from = env.envelope_from.unwrap_or("").to_string();
    let lettre_env = lettre::address::Envelope::new(
        match env.envelope_from {
            Some(f) => Some(
                f.parse()
                    .map_err(|e| NotifyError::Build(format!("address {f:?}: {e}")))?,
            ),
            None => None,
        },
        env.to
            .iter()
            .map(|t| {
                t.parse()
                    .map_err(|e| NotifyError::Address(format!("{t:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?,
    )
    .map_err(|e| NotifyError::Build(e.to_string()))?;
    let mut msg = b
        .envelope(lettre_env)
        .header(lettre::message::header::MIME_VERSION_1_0)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| NotifyError::Build(e.to_string()))?;
    if let Some(d) = env.dkim {
        msg.sign(d.signing());
    }
    Ok(Rendered {
        message_id: env.message_id.to_string(),
        subject: sanitize_line(subject),
        body: body.to_string(),
        envelope_from,
        recipients: env.to.to_vec(),
        raw: msg.formatted(),
    })
}

#[cfg(test)]
mod tests;
