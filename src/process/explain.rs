//! `postdesk explain`: parse, gather the facts and decide, for a mail
//! that is not taken in: nothing is written (the store may be opened
//! read-only). What comes out is the plan processing would carry out now,
//! with the facts it rests on.

use serde::Serialize;

use super::facts::{self, Facts};
use super::plan::{Disposition, Plan, Route};
use super::{decide, parse, Incoming, Origin, Processor};
use crate::mail::Mailbox;
use crate::store::{Db, StoreError};

/// What processing would do with a mail, and why.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// The mail as parsed; None when it could not be.
    pub mail: Option<MailSummary>,
    /// What the store knows about it; None when it could not be parsed.
    pub facts: Option<Facts>,
    pub plan: Plan,
}

/// The parsed mail, as far as the decision looks at it.
#[derive(Debug, Serialize)]
pub struct MailSummary {
    pub message_id: Option<String>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    /// Why it counts as machine-made; None for a person's mail.
    pub automatic: Option<String>,
    pub language: Option<String>,
    pub attachments: usize,
    pub warnings: Vec<String>,
}

impl Processor {
    /// Explain `raw` as if it arrived now through `mailbox` (None: by its
    /// recipients). `except_article`: the article this mail already is,
    /// which then does not count as an earlier copy of it.
    pub fn explain(
        &self,
        db: &Db,
        raw: &[u8],
        mailbox: Option<&str>,
        except_article: Option<i64>,
    ) -> Result<Explanation, StoreError> {
        let item = Incoming {
            origin: Origin::Pipe {
                mailbox: mailbox.map(str::to_string),
            },
            raw: raw.to_vec(),
            size: raw.len() as u64,
            fetch_error: None,
        };
        let parsed = match parse::parse(&item, &self.config) {
            Ok(p) => p,
            Err(e) => {
                let reason = e.to_string();
                return Ok(Explanation {
                    mail: None,
                    facts: None,
                    plan: Plan {
                        trace: vec![super::plan::Decision {
                            step: "parse",
                            said: reason.clone(),
                        }],
                        ..Plan::new(
                            Route {
                                mailbox: None,
                                address: None,
                                received_by: mailbox.map(str::to_string),
                                reason: "not routed: the mail could not be parsed".into(),
                            },
                            Disposition::Quarantine { reason },
                        )
                    },
                });
            }
        };
        let has_language = |l: &str| self.templates.has_language(l);
        let facts = facts::gather(
            db,
            &parsed.mail,
            &parsed.sha,
            &self.lookup(&has_language, except_article),
        )?;
        let plan = decide::decide(&facts, &parsed.mail, mailbox, &self.settings());
        let m = parsed.mail;
        Ok(Explanation {
            mail: Some(MailSummary {
                message_id: m.message_id,
                from: m.from,
                to: m.to,
                cc: m.cc,
                subject: m.subject,
                automatic: m.automatic.map(|a| a.0),
                language: m.language,
                attachments: m.attachments.len(),
                warnings: m.warnings,
            }),
            facts: Some(facts),
            plan,
        })
    }
}
