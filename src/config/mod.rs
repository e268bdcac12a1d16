//! Configuration: one TOML file (plus `POSTDESK_SECTION__KEY` environment
//! overrides) read in two steps. Serde reads a raw struct
//! (`deny_unknown_fields`, defaults: `raw`), run by a reader that steps
//! over each problem so all are found (`read`, on the spanned document of
//! `document`, with the overrides of `env`); [`Config::load`] then checks
//! it (`check`) and builds the [`Config`] the rest of the program uses:
//! secrets resolved, addresses validated, relative paths made absolute
//! against the config file's folder. *Every* problem is listed at once
//! with its file and line (or environment variable), key and what is
//! allowed (`diagnostics`).
//!
//! This module knows nothing of tickets or mail; it only describes them.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod caps;
mod check;
mod diagnostics;
mod dkim;
mod document;
mod env;
mod lifecycle;
mod oauth;
mod ops;
mod raw;
mod read;
mod secret;

pub use check::{log_level_problem, valid_address};
pub use diagnostics::{ConfigError, Place, Problem};
pub use dkim::Dkim;
use document::KeyPath;
pub use oauth::{token_file, AuthKind, Grant, Mechanism, OAuth2, Provider};

/// Upper bound for `system.max_message_bytes` (SQLite keeps each message
/// as one value; its limit is 1 GB).
pub const MAX_MESSAGE_BYTES: u64 = 256 * 1024 * 1024;

/// Default location of the configuration file.
pub const DEFAULT_PATH: &str = "/etc/postdesk/postdesk.toml";

/// How a connection to a mail server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    Starttls,
    /// No encryption. Only sensible on loopback; `check` warns otherwise.
    None,
}

/// What intake does with a message in IMAP once its effects are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterAction {
    /// Move to `move_to` (UID MOVE, or COPY + delete where MOVE is missing).
    Move,
    /// Set `flags` and leave the message where it is.
    Flag,
    /// Flag \Deleted and expunge.
    Delete,
}

/// Our own addresses (support, agents', `system.own_addresses`), matched
/// the way mail systems deliver them: case-insensitively, with or without a
/// `+tag` on the local part and a trailing dot on the domain, so
/// `Support+x@Example.com.` is still ours.
#[derive(Debug, Clone, Default)]
pub struct OwnAddresses(HashSet<String>);

impl OwnAddresses {
    /// Is `address` one of ours?
    pub fn contains(&self, address: &str) -> bool {
        self.0.contains(&Self::key(address))
    }

    /// `address` as ours are compared: lower-case, without a `+tag` or a
    /// trailing dot on the domain.
    pub fn key(address: &str) -> String {
        let a = address.trim().to_lowercase();
        match a.rsplit_once('@') {
            Some((local, domain)) => {
                let local = local.split_once('+').map_or(local, |(l, _)| l);
                format!("{local}@{}", domain.trim_end_matches('.'))
            }
            None => a,
        }
    }
}

/// What becomes of mail that threads to a ticket (by its tagged number or
/// a Message-ID) from a sender with no right to it: neither a participant
/// nor answering the ticket's own mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrangerFollowUp {
    /// A new ticket of its own; the agents' alert names the number quoted.
    #[default]
    NewTicket,
    /// Recorded on the ticket, unverified, changing nothing (the old way).
    Record,
}

/// What list and bulk mail does in a mailbox (`list_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListPolicy {
    /// A ticket, without an auto-reply or an agents' alert.
    #[default]
    Ticket,
    /// Stored as received and ignored: no ticket.
    Ignore,
}

pub use caps::LoopCap;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// journald when stderr is the journal (run by systemd), plain text
    /// on a terminal, JSON otherwise.
    #[default]
    Auto,
    Plain,
    Json,
    Journald,
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub source: PathBuf,
    pub system: System,
    pub storage: Storage,
    pub templates_dir: PathBuf,
    pub rules_dir: PathBuf,
    pub log: Log,
    pub smtp: Smtp,
    /// Urgency × impact → priority (`[priority] matrix`).
    pub priority: crate::tickets::priority::Matrix,
    pub queues: Vec<Queue>,
    pub mailboxes: Vec<Mailbox>,
    /// `/healthz` and `/metrics` (item of `[http]` and `[health]`).
    pub ops: Ops,
    /// How long raw messages and attachments are kept (`[retention]`).
    pub retention: Retention,
    /// Agent authenticity (`[auth]`).
    pub auth: Auth,
    /// States, transitions per role and per-queue policies (`[lifecycle]`;
    /// the Moodle tracker's states, relaxed, until configured).
    pub lifecycle: crate::tickets::lifecycle::Lifecycle,
    /// How often the daemon's scheduler looks for tickets due for
    /// validation (`lifecycle.scheduler_interval_secs`).
    pub scheduler_interval: std::time::Duration,
    /// Settings that are accepted but have no effect, for `check` and the
    /// daemon's start to show; each a line like a problem's
    /// (`postdesk.toml:12: mailbox[0]: …`).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct System {
    /// Right-hand side of our Message-IDs and the SMTP HELO name.
    pub fqdn: String,
    /// The text in front of the number inside the brackets, e.g. `Ticket#`.
    pub ticket_tag: String,
    /// Two digits inside every ticket number, so numbers from two
    /// installations never collide.
    pub system_id: u32,
    pub default_language: String,
    /// Larger messages are not fetched; they are quarantined and left in IMAP.
    pub max_message_bytes: u64,
    /// At most this many auto-replies to one address per hour (loop brake).
    pub auto_reply_limit_per_hour: u32,
    /// Addresses that are ours besides the mailboxes' and queues' addresses.
    pub own_addresses: Vec<String>,
    /// At most this many agents' alerts per ticket per hour (a robot on
    /// the agents' list answering every alert is stopped here).
    pub agent_alert_limit_per_ticket_per_hour: u32,
    /// At most this many agents' alerts per hour caused by one sender.
    pub agent_alert_limit_per_sender_per_hour: u32,
    /// Mail that threads to a ticket its sender has no right to.
    pub stranger_follow_up: StrangerFollowUp,
    /// Caps on automatic mail to one address and on one ticket, each over
    /// its window (`system.loop_caps`).
    pub loop_caps: Vec<LoopCap>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    pub database: PathBuf,
    /// Attachments live under `data_dir/attachments`.
    pub data_dir: PathBuf,
    /// SQLite's page cache of the processing connection, at most (MiB):
    /// SQLite takes pages as it needs them, so a small database never
    /// fills it; a large one keeps its indexes' upper levels in it.
    pub cache_mib: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// The user name and password; with `oauth2`, the password is empty
    /// and the access token is sent instead.
    pub credentials: Option<(String, String)>,
    /// `auth = "oauth2"`: the account whose access token logs in (its own,
    /// or a mailbox's with `[smtp.oauth2] mailbox = NAME`).
    pub oauth2: Option<OAuth2>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub max_connections: u32,
    pub retry_max: Duration,
    /// A message still undelivered after this long is marked failed.
    pub give_up_after: Duration,
    /// Sign everything sent with this key (`[smtp] dkim`); None: unsigned.
    pub dkim: Option<Dkim>,
}

/// Ages after which `postdesk db prune` forgets raw messages and
/// attachments; `None`: kept forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    pub raw_messages_days: Option<u32>,
    pub attachments_days: Option<u32>,
}

/// Whose `Authentication-Results` headers prove an agent's From.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// The authserv-ids our own MTA writes, lower-case; empty (the
    /// default): no `Authentication-Results` header is believed.
    pub authserv_id: Vec<String>,
}

/// The health and metrics listener and when health turns bad.
#[derive(Debug, Clone, PartialEq)]
pub struct Ops {
    /// Where `/healthz` and `/metrics` are served; `None`: not at all.
    pub listen: Option<std::net::SocketAddr>,
    /// A mailbox whose last successful fetch is older than this (plus its
    /// poll interval while it is connected) makes `/healthz` answer 503.
    pub max_fetch_age: Duration,
    /// Pending outbox mail older than this makes `/healthz` answer 503.
    pub max_outbox_age: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub name: String,
    pub agents_address: Option<String>,
    pub notify_agents_on_new: bool,
    pub notify_agents_on_follow_up: bool,
    /// An unassigned ticket is assigned to the agent whose authenticated
    /// reply answers it (issue 11).
    pub assign_on_agent_reply: bool,
    /// The customer of a ticket an authenticated agent opened by
    /// forwarding their mail gets the usual auto-reply (issue 11, item 6).
    pub forward_auto_reply: bool,
}

#[derive(Clone, PartialEq)]
pub struct Mailbox {
    pub name: String,
    /// The support address this mailbox serves; auto-replies come from it.
    pub address: String,
    pub display_name: Option<String>,
    pub queue: String,
    pub language: Option<String>,
    /// What list and bulk mail does here.
    pub list_policy: ListPolicy,
    /// IMAP server; `None` for a pipe-only mailbox that is never polled.
    pub imap: Option<Imap>,
    pub folder: String,
    pub after: AfterAction,
    pub move_to: Option<String>,
    pub flags: Vec<String>,
    pub poll_interval: Duration,
    pub idle: bool,
    pub batch_size: u32,
}

impl Mailbox {
    /// The name our mail from this mailbox shows: its display name, else
    /// its address.
    pub fn display(&self) -> String {
        self.display_name
            .clone()
            .unwrap_or_else(|| self.address.clone())
    }
}

/// How to reach and log in to an IMAP mailbox.
#[derive(Clone, PartialEq)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    /// Empty with `oauth2`.
    pub password: String,
    /// `auth = "oauth2"`: log in with this account's access token.
    pub oauth2: Option<OAuth2>,
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for Mailbox {
    // Hand-written so the password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("imap", &self.imap)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Imap {
    // Hand-written so the password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Read, merge with `POSTDESK_SECTION__KEY` variables, and check.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_with_env(path, &env)
    }

    /// As [`Config::load`] with an explicit environment (tests).
    pub fn load_with_env(
        path: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::whole_file(
                path.to_path_buf(),
                format!("cannot read the file: {e} (pass --config PATH or set POSTDESK_CONFIG)"),
            )
        })?;
        // A bare `postdesk.toml` is `./postdesk.toml`: relative paths in it
        // are taken against the current folder, not against "".
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base = absolute
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let overrides = env::overrides(env);
        let mut read = read::read(&text, &overrides);
        let mut problems = std::mem::take(&mut read.problems);
        if let Some(raw) = read.raw.take() {
            match check::check(raw, path, &base, env) {
                Ok(mut config) if problems.is_empty() => {
                    // Warnings get their place as problems do.
                    for w in &mut config.warnings {
                        *w = diagnostics::line(path, &check_problem(&read, w));
                    }
                    return Ok(config);
                }
                Ok(_) => {}
                Err(found) => problems.extend(
                    found
                        .into_iter()
                        .map(|text| check_problem(&read, &text))
                        .filter(|p| !stands_in(&read, p)),
                ),
            }
        }
        problems.sort_by_key(|p| match p.place {
            Place::File { line } => (0, line.unwrap_or(0)),
            Place::Env(_) => (1, 0),
        });
        Err(ConfigError {
            file: path.to_path_buf(),
            problems,
        })
    }

    /// Every address that is ours: mailboxes, queues' agent addresses and
    /// `own_addresses`. Lower-case.
    pub fn own_addresses(&self) -> OwnAddresses {
        let all = self
            .mailboxes
            .iter()
            .map(|m| m.address.as_str())
            .chain(self.system.own_addresses.iter().map(String::as_str))
            .chain(
                self.queues
                    .iter()
                    .filter_map(|q| q.agents_address.as_deref()),
            );
        OwnAddresses(all.map(OwnAddresses::key).collect())
    }

    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.name == name)
    }

    pub fn mailbox(&self, name: &str) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| m.name == name)
    }

    /// Every OAuth2 account once, by the name `postdesk oauth login`
    /// takes: the IMAP mailboxes', then the relay's own (`smtp`) unless
    /// it shares a mailbox's.
    pub fn oauth_accounts(&self) -> Vec<&OAuth2> {
        let mut all: Vec<&OAuth2> = self
            .mailboxes
            .iter()
            .filter_map(|m| m.imap.as_ref()?.oauth2.as_ref())
            .collect();
        if let Some(o) = &self.smtp.oauth2 {
            if !all.iter().any(|a| a.account == o.account) {
                all.push(o);
            }
        }
        all
    }
}

/// A problem from the checks (`"key: message"`) with its place.
fn check_problem(read: &read::Read, text: &str) -> Problem {
    let (key, message) = match text.split_once(": ") {
        Some((k, m)) if !k.contains(' ') => (k, m),
        _ => ("", text),
    };
    let path = KeyPath::parse(key);
    Problem {
        place: read.place(&path, None),
        key: key.to_string(),
        message: message.to_string(),
    }
}

/// Whether a check's problem is about a value the reader already reported
/// and replaced: its key, a key of the same table whose message names the
/// replaced one (`move_to: required when after = "move"`), or a message
/// naming a replaced section (`no [[queue]] is named …`).
fn stands_in(read: &read::Read, p: &Problem) -> bool {
    let path = KeyPath::parse(&p.key);
    read.touched.iter().any(|t| {
        let section = match (&t.0[..], t.last_key()) {
            ([_], Some(k)) => p.message.contains(&format!("[{k}]")),
            _ => false,
        };
        section
            || path.within(t)
            || (path.parent() == t.parent()
                && t.last_key().is_some_and(|k| {
                    p.message
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .any(|w| w == k)
                }))
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_more;
#[cfg(test)]
mod tests_oauth;
