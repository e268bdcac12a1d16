//! The rules engine seen from the decide stage: [`RuleSet`] implements
//! [`Rules`]. It shows the rules a [`Message`] built from the draft plan
//! and the parsed mail, evaluates them at the time the facts give, and
//! turns their actions into plan [`Edit`]s (names of the directory —
//! groups, agents, observers given by agent name — are resolved when the
//! plan applies the edit, against the directory's facts). The rules module
//! knows nothing of this one; this is the only place the two meet.

use chrono::{DateTime, Utc};

use super::plan::{Disposition, Edit, Plan, RuleCheck, RuleEdit, Rules, RulesOutcome};
use crate::mail::{plausible_address, InboundMail, MailClass};
use crate::rules::{Action, Class, Message, RuleSet};

impl Rules for RuleSet {
    fn evaluate(
        &self,
        draft: &Plan,
        mail: &InboundMail,
        customer: Option<&str>,
        now: DateTime<Utc>,
    ) -> RulesOutcome {
        if self.rules.is_empty() {
            return RulesOutcome::default();
        }
        let to: Vec<&str> = mail.to.iter().map(|a| a.address.as_str()).collect();
        let cc: Vec<&str> = mail.cc.iter().map(|a| a.address.as_str()).collect();
        let headers: Vec<(&str, &str)> = mail
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let m = message(draft, mail, customer, &to, &cc, &headers);
        let ev = RuleSet::evaluate(self, &m, now);
        let checks = ev
            .trace
            .iter()
            .map(|t| RuleCheck {
                rule: t.rule.to_string(),
                file: t.file.display().to_string(),
                matched: t.matched,
                criteria: t
                    .criteria
                    .iter()
                    .map(|(c, ok)| (c.to_string(), *ok))
                    .collect(),
                actions: ev
                    .actions
                    .iter()
                    .filter(|(r, _)| *r == t.rule)
                    .map(|(_, a)| a.to_string())
                    .collect(),
                stopped: t.stopped,
            })
            .collect();
        let edits = ev
            .actions
            .iter()
            .flat_map(|(rule, a)| {
                edits(a).into_iter().map(|edit| RuleEdit {
                    rule: rule.to_string(),
                    edit,
                })
            })
            .collect();
        RulesOutcome { edits, checks }
    }
}

/// What the rules see of `mail`, given the draft plan and the sender's
/// customer (the address lists and headers are borrowed views the caller
/// keeps).
fn message<'a>(
    draft: &'a Plan,
    mail: &'a InboundMail,
    customer: Option<&'a str>,
    to: &'a [&'a str],
    cc: &'a [&'a str],
    headers: &'a [(&'a str, &'a str)],
) -> Message<'a> {
    let from = mail.from.address.as_str();
    Message {
        from,
        to,
        cc,
        mailbox: draft.route.mailbox.as_deref().unwrap_or(""),
        address: draft.route.address.as_deref().unwrap_or(""),
        subject: &mail.subject,
        // The reply's own text, without the quoted history.
        body_new: mail.new_text(),
        body: &mail.text,
        headers,
        sender_domain: from.rsplit_once('@').map(|(_, d)| d).unwrap_or(""),
        // The sender's customer user's customer, else the customer whose
        // mail domain the address is at (`store::directory::lookup`).
        customer,
        is_new: matches!(draft.disposition, Disposition::NewTicket { .. }),
        class: class(mail.class.class),
        has_attachments: !mail.attachments.is_empty(),
        size: mail.size,
        // The customer's known language, Content-Language or detected.
        language: draft
            .language
            .as_ref()
            .map(|l| l.code.as_str())
            .or(mail.language.as_deref()),
    }
}

/// The classification's eight classes as the five rules test.
fn class(c: MailClass) -> Class {
    match c {
        MailClass::Person => Class::Person,
        MailClass::AutoReply | MailClass::ChallengeResponse => Class::AutoReply,
        MailClass::DeliveryReport | MailClass::ReadReceipt => Class::Bounce,
        MailClass::List => Class::List,
        MailClass::FeedbackReport | MailClass::OwnMail => Class::Robot,
    }
}

/// The plan edits one action asks for.
fn edits(a: &Action) -> Vec<Edit> {
    let one = match a {
        Action::SetQueue(q) => Edit::Queue(q.clone()),
        Action::SetUrgency(u) => Edit::Urgency(*u),
        Action::SetImpact(i) => Edit::Impact(*i),
        Action::SetPriority(p) => Edit::Priority(*p),
        Action::SetState(s) => Edit::State(s.clone()),
        Action::SuppressAutoReply => Edit::SuppressAutoReply,
        Action::QuarantineSpam { reason } => Edit::Quarantine(reason.clone()),
        Action::Ignore => Edit::Ignore("ignore = true".into()),
        Action::AddObservers(list) => {
            return list
                .iter()
                .map(|o| {
                    if plausible_address(o) {
                        Edit::Observer(o.clone())
                    } else {
                        Edit::ObserverAgent(o.clone())
                    }
                })
                .collect()
        }
        Action::SetType(t) => Edit::Type(*t),
        Action::SetService(v) => Edit::Service(v.clone()),
        Action::SetCategory(v) => Edit::Category(v.clone()),
        Action::AddTags(v) => Edit::Tags(v.clone()),
        Action::SetLanguage(l) => Edit::Language(l.clone()),
        Action::AutoReplyTemplate(name) => Edit::AutoReplyTemplate(name.clone()),
        Action::SetGroup(g) => Edit::Group(g.clone()),
        Action::SetAgent(a) => Edit::Agent(a.clone()),
    };
    vec![one]
}

#[cfg(test)]
#[path = "rules_bridge_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "rules_fields_tests.rs"]
mod fields_tests;
