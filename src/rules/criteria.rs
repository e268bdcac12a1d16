//! Criteria: what a rule tests, already checked and compiled (every text
//! test is one [`Regex`] built at load, whatever its operator), how it is
//! evaluated against a [`Message`], and how it reads in a trace.

use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use regex::Regex;

use super::message::{Class, Message};

/// A checked criterion. `All`/`Any`/`Not` combine others.
#[derive(Debug, Clone)]
pub(crate) enum Criterion {
    All(Vec<Criterion>),
    Any(Vec<Criterion>),
    Not(Box<Criterion>),
    Text(TextField, TextTest),
    Class(Vec<Class>),
    /// Which kinds of mail match: a new ticket, a follow-up, or both.
    Ticket {
        new: bool,
        follow_up: bool,
    },
    Attachments(bool),
    Size(SizeTest),
    /// Days as a bit mask, Monday = bit 0.
    Weekday {
        days: u8,
        tz: Tz,
    },
    /// Minutes after midnight, `start` included, `end` excluded; a window
    /// with `start > end` runs over midnight.
    Time {
        start: u32,
        end: u32,
        tz: Tz,
    },
}

/// A text field of [`Message`]; a field with several values (To, Cc, a
/// repeated header) matches when any value does, and an absent one never.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextField {
    From,
    To,
    Cc,
    Mailbox,
    Address,
    Subject,
    Body,
    BodyNew,
    Header(String),
    SenderDomain,
    Customer,
    Language,
}

impl TextField {
    /// The key naming each field in a rule file (`header` takes `name`).
    pub(crate) const KEYS: [&'static str; 12] = [
        "from",
        "to",
        "cc",
        "mailbox",
        "address",
        "subject",
        "body",
        "body_new",
        "header",
        "sender_domain",
        "customer",
        "language",
    ];

    /// The field for a key of [`Self::KEYS`] other than `header`.
    pub(crate) fn from_key(key: &str) -> Option<TextField> {
        Some(match key {
            "from" => TextField::From,
            "to" => TextField::To,
            "cc" => TextField::Cc,
            "mailbox" => TextField::Mailbox,
            "address" => TextField::Address,
            "subject" => TextField::Subject,
            "body" => TextField::Body,
            "body_new" => TextField::BodyNew,
            "sender_domain" => TextField::SenderDomain,
            "customer" => TextField::Customer,
            "language" => TextField::Language,
            _ => return None,
        })
    }

    fn any(&self, m: &Message, mut test: impl FnMut(&str) -> bool) -> bool {
        match self {
            TextField::From => test(m.from),
            TextField::To => m.to.iter().any(|v| test(v)),
            TextField::Cc => m.cc.iter().any(|v| test(v)),
            TextField::Mailbox => test(m.mailbox),
            TextField::Address => test(m.address),
            TextField::Subject => test(m.subject),
            TextField::Body => test(m.body),
            TextField::BodyNew => test(m.body_new),
            TextField::Header(name) => m.header_values(name).any(test),
            TextField::SenderDomain => test(m.sender_domain),
            TextField::Customer => m.customer.is_some_and(test),
            TextField::Language => m.language.is_some_and(test),
        }
    }
}

impl fmt::Display for TextField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match self {
            TextField::Header(name) => return write!(f, "header {name}"),
            TextField::From => "from",
            TextField::To => "to",
            TextField::Cc => "cc",
            TextField::Mailbox => "mailbox",
            TextField::Address => "address",
            TextField::Subject => "subject",
            TextField::Body => "body",
            TextField::BodyNew => "body_new",
            TextField::SenderDomain => "sender_domain",
            TextField::Customer => "customer",
            TextField::Language => "language",
        };
        f.write_str(key)
    }
}

/// A text operator as written in a rule file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    Regex,
    In,
}

impl Op {
    pub(crate) const ALL: [(&'static str, Op); 6] = [
        ("equals", Op::Equals),
        ("contains", Op::Contains),
        ("starts_with", Op::StartsWith),
        ("ends_with", Op::EndsWith),
        ("regex", Op::Regex),
        ("in", Op::In),
    ];

    /// The pattern testing for `values` with this operator (`values` has
    /// one element except for `In`).
    pub(crate) fn pattern(self, values: &[String]) -> String {
        let lit = || values.iter().map(|v| regex::escape(v)).collect::<Vec<_>>();
        match self {
            Op::Equals | Op::In => format!(r"\A(?:{})\z", lit().join("|")),
            Op::Contains => lit().join("|"),
            Op::StartsWith => format!(r"\A(?:{})", lit().join("|")),
            Op::EndsWith => format!(r"(?:{})\z", lit().join("|")),
            Op::Regex => values
                .iter()
                .map(|v| format!("(?:{v})"))
                .collect::<Vec<_>>()
                .join("|"),
        }
    }
}

/// A compiled text test: the operator and values as written (for the
/// trace) and the one regex that decides.
#[derive(Debug, Clone)]
pub(crate) struct TextTest {
    pub(crate) op: Op,
    pub(crate) values: Vec<String>,
    pub(crate) ignore_case: bool,
    pub(crate) regex: Regex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeTest {
    Equals(u64),
    GreaterThan(u64),
    LessThan(u64),
}

impl Criterion {
    /// Whether `m`, handled at `now`, meets the criterion.
    pub(crate) fn matches(&self, m: &Message, now: DateTime<Utc>) -> bool {
        match self {
            Criterion::All(cs) => cs.iter().all(|c| c.matches(m, now)),
            Criterion::Any(cs) => cs.iter().any(|c| c.matches(m, now)),
            Criterion::Not(c) => !c.matches(m, now),
            Criterion::Text(field, test) => field.any(m, |v| test.regex.is_match(v)),
            Criterion::Class(classes) => classes.contains(&m.class),
            Criterion::Ticket { new, follow_up } => {
                if m.is_new {
                    *new
                } else {
                    *follow_up
                }
            }
            Criterion::Attachments(has) => m.has_attachments == *has,
            Criterion::Size(SizeTest::Equals(n)) => m.size == *n,
            Criterion::Size(SizeTest::GreaterThan(n)) => m.size > *n,
            Criterion::Size(SizeTest::LessThan(n)) => m.size < *n,
            Criterion::Weekday { days, tz } => {
                let day = now.with_timezone(tz).weekday().num_days_from_monday();
                days & (1 << day) != 0
            }
            Criterion::Time { start, end, tz } => {
                let local = now.with_timezone(tz);
                let minute = local.hour() * 60 + local.minute();
                if start <= end {
                    (*start..*end).contains(&minute)
                } else {
                    minute >= *start || minute < *end
                }
            }
        }
    }
}

/// Day names, Monday first (bit 0 of a weekday mask).
pub(crate) const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn list(f: &mut fmt::Formatter<'_>, items: impl Iterator<Item = String>) -> fmt::Result {
    write!(f, "[{}]", items.collect::<Vec<_>>().join(", "))
}

fn joined(f: &mut fmt::Formatter<'_>, head: &str, cs: &[Criterion]) -> fmt::Result {
    let parts: Vec<String> = cs.iter().map(|c| c.to_string()).collect();
    write!(f, "{head} ({})", parts.join("; "))
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Criterion::All(cs) => joined(f, "all of", cs),
            Criterion::Any(cs) => joined(f, "any of", cs),
            Criterion::Not(c) => write!(f, "not ({c})"),
            Criterion::Text(field, t) => {
                let op = match t.op {
                    Op::Equals => "equals",
                    Op::Contains => "contains",
                    Op::StartsWith => "starts with",
                    Op::EndsWith => "ends with",
                    Op::Regex => "matches",
                    Op::In => "in",
                };
                write!(f, "{field} {op} ")?;
                match t.values.as_slice() {
                    [one] if t.op != Op::In => write!(f, "{one:?}")?,
                    many => {
                        if t.op != Op::In {
                            f.write_str("any of ")?;
                        }
                        list(f, many.iter().map(|v| format!("{v:?}")))?;
                    }
                }
                if !t.ignore_case {
                    f.write_str(" (case-sensitive)")?;
                }
                Ok(())
            }
            Criterion::Class(cs) => {
                f.write_str("class in ")?;
                list(f, cs.iter().map(|c| c.to_string()))
            }
            Criterion::Ticket { new, follow_up } => f.write_str(match (new, follow_up) {
                (true, false) => "ticket is new",
                (false, true) => "ticket is a follow-up",
                (true, true) => "ticket is new or a follow-up",
                (false, false) => "ticket is neither new nor a follow-up",
            }),
            Criterion::Attachments(true) => f.write_str("has attachments"),
            Criterion::Attachments(false) => f.write_str("has no attachments"),
            Criterion::Size(SizeTest::Equals(n)) => write!(f, "size = {n} bytes"),
            Criterion::Size(SizeTest::GreaterThan(n)) => write!(f, "size > {n} bytes"),
            Criterion::Size(SizeTest::LessThan(n)) => write!(f, "size < {n} bytes"),
            Criterion::Weekday { days, tz } => {
                f.write_str("weekday in ")?;
                let names = (0..7).filter(|d| days & (1 << d) != 0);
                list(f, names.map(|d| DAYS[d].to_string()))?;
                write!(f, " ({tz})")
            }
            Criterion::Time { start, end, tz } => write!(
                f,
                "time between {:02}:{:02} and {:02}:{:02} ({tz})",
                start / 60,
                start % 60,
                end / 60,
                end % 60
            ),
        }
    }
}
