//! Actions: what a matching rule asks for, as data. Rules only name them;
//! the decide stage maps them onto its plan (a later rule's `queue` wins
//! over an earlier one's, tags and observers add up). Parsed and checked
//! here from a rule's `actions` table.

use std::fmt;

use serde::Serialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::read::Reader;
use crate::tickets::fields::{check_hierarchical, check_tag};
use crate::tickets::TicketType;

/// One action of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    SetQueue(String),
    SetGroup(String),
    /// The agent the ticket is assigned to.
    SetAgent(String),
    /// 1 (very low) … 5 (very high).
    SetUrgency(u8),
    /// 1 (very low) … 5 (very high).
    SetImpact(u8),
    /// 1 (very low) … 6 (major); set explicitly, so not recomputed.
    SetPriority(u8),
    SetType(TicketType),
    SetService(String),
    SetCategory(String),
    AddTags(Vec<String>),
    /// A state's name as written, lower-cased (checked against the
    /// configured lifecycle when the rules load, resolved when applied).
    SetState(String),
    SetLanguage(String),
    /// Addresses (or agent names) to keep informed.
    AddObservers(Vec<String>),
    /// Answer with this auto-reply template instead of `auto_reply`.
    AutoReplyTemplate(String),
    /// Send no auto-reply.
    SuppressAutoReply,
    /// Quarantine the mail as spam, with the reason shown to operators.
    QuarantineSpam {
        reason: String,
    },
    /// Store the mail, but open no ticket and send no reply.
    Ignore,
}

/// The keys of an `actions` table, in the order their actions are listed.
pub(crate) const KEYS: [&str; 16] = [
    "queue",
    "group",
    "agent",
    "urgency",
    "impact",
    "priority",
    "type",
    "service",
    "category",
    "tags",
    "state",
    "language",
    "observers",
    "auto_reply",
    "spam",
    "ignore",
];

/// Where the actions checked against the configuration later are written.
#[derive(Debug, Default)]
pub(crate) struct KeySpans {
    /// The `queue` key (its name is checked against `[[queue]]`).
    pub queue: Option<std::ops::Range<usize>>,
    /// The `auto_reply` key (its template is checked against the templates).
    pub auto_reply: Option<std::ops::Range<usize>>,
    /// The `state` key (its name is checked against `[lifecycle]`).
    pub state: Option<std::ops::Range<usize>>,
}

/// The actions of an `actions` table, each bad value reported to `r`.
/// Also returns where the keys checked later are.
pub(crate) fn parse(r: &mut Reader, table: &DeTable) -> (Vec<Action>, KeySpans) {
    r.unknown_keys(table, "actions", &KEYS);
    let mut out = Vec::new();
    let mut spans = KeySpans::default();
    for key in KEYS {
        let Some((k, v)) = table.get_key_value(key) else {
            continue;
        };
        let path = format!("actions.{key}");
        let action = match key {
            "queue" => {
                spans.queue = Some(k.span());
                r.name(v, &path).map(Action::SetQueue)
            }
            "group" => r.name(v, &path).map(Action::SetGroup),
            "agent" => r.name(v, &path).map(Action::SetAgent),
            "urgency" => r.level(v, &path, 5).map(Action::SetUrgency),
            "impact" => r.level(v, &path, 5).map(Action::SetImpact),
            "priority" => r.level(v, &path, 6).map(Action::SetPriority),
            "type" => r.name(v, &path).and_then(|t| {
                let found = TicketType::ALL.into_iter().find(|x| x.as_str() == t);
                if found.is_none() {
                    r.error(
                        v.span(),
                        &path,
                        "expected incident, request, problem or change",
                    );
                }
                found.map(Action::SetType)
            }),
            "service" => {
                let name = r.name(v, &path);
                checked(r, v, &path, name, check_hierarchical).map(Action::SetService)
            }
            "category" => {
                let name = r.name(v, &path);
                checked(r, v, &path, name, check_hierarchical).map(Action::SetCategory)
            }
            "tags" => r.names(v, &path).and_then(|tags| {
                let bad: Vec<String> = tags
                    .iter()
                    .filter_map(|t| check_tag(t).err().map(|e| format!("{t:?}: {e}")))
                    .collect();
                if bad.is_empty() {
                    Some(Action::AddTags(tags))
                } else {
                    r.error(v.span(), &path, bad.join("; "));
                    None
                }
            }),
            "state" => {
                spans.state = Some(k.span());
                r.name(v, &path)
                    .map(|s| Action::SetState(s.trim().to_ascii_lowercase()))
            }
            "language" => r.name(v, &path).and_then(|l| {
                let ok = l.len() <= 35
                    && l.split('-')
                        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
                if !ok {
                    r.error(
                        v.span(),
                        &path,
                        "expected a language tag such as en, pt or pt-BR",
                    );
                }
                ok.then_some(Action::SetLanguage(l))
            }),
            "observers" => r.names(v, &path).map(Action::AddObservers),
            "auto_reply" => {
                spans.auto_reply = Some(k.span());
                auto_reply(r, v, &path)
            }
            "spam" => r
                .name(v, &path)
                .map(|reason| Action::QuarantineSpam { reason }),
            "ignore" => match v.get_ref() {
                DeValue::Boolean(true) => Some(Action::Ignore),
                _ => {
                    r.error(v.span(), &path, "write ignore = true, or leave the key out");
                    None
                }
            },
            // KEYS and the arms above name the same keys.
            _ => None,
        };
        out.extend(action);
    }
    (out, spans)
}

/// `value` if `check` accepts it; else the reason is reported at `v`.
fn checked(
    r: &mut Reader,
    v: &Spanned<DeValue>,
    path: &str,
    value: Option<String>,
    check: fn(&str) -> Result<(), String>,
) -> Option<String> {
    let value = value?;
    match check(&value) {
        Ok(()) => Some(value),
        Err(e) => {
            r.error(v.span(), path, format!("{value:?}: {e}"));
            None
        }
    }
}

/// `auto_reply = "template"` or `auto_reply = false`.
fn auto_reply(r: &mut Reader, v: &Spanned<DeValue>, path: &str) -> Option<Action> {
    match v.get_ref() {
        DeValue::Boolean(false) => Some(Action::SuppressAutoReply),
        DeValue::String(name) => {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                r.error(
                    v.span(),
                    path,
                    "a template name is letters, digits, _ and - (the file is mail-templates/<language>/<name>.txt)",
                );
            }
            ok.then(|| Action::AutoReplyTemplate(name.to_string()))
        }
        _ => {
            r.error(
                v.span(),
                path,
                "expected a template name, or false for no auto-reply",
            );
            None
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SetQueue(v) => write!(f, "queue = {v:?}"),
            Action::SetGroup(v) => write!(f, "group = {v:?}"),
            Action::SetAgent(v) => write!(f, "agent = {v:?}"),
            Action::SetUrgency(n) => write!(f, "urgency = {n}"),
            Action::SetImpact(n) => write!(f, "impact = {n}"),
            Action::SetPriority(n) => write!(f, "priority = {n}"),
            Action::SetType(t) => write!(f, "type = {:?}", t.as_str()),
            Action::SetService(v) => write!(f, "service = {v:?}"),
            Action::SetCategory(v) => write!(f, "category = {v:?}"),
            Action::AddTags(v) => write!(f, "tags += {v:?}"),
            Action::SetState(s) => write!(f, "state = {s:?}"),
            Action::SetLanguage(v) => write!(f, "language = {v:?}"),
            Action::AddObservers(v) => write!(f, "observers += {v:?}"),
            Action::AutoReplyTemplate(v) => write!(f, "auto_reply = {v:?}"),
            Action::SuppressAutoReply => f.write_str("auto_reply = false"),
            Action::QuarantineSpam { reason } => write!(f, "spam = {reason:?}"),
            Action::Ignore => f.write_str("ignore = true"),
        }
    }
}
