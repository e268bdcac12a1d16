//! The serde layer: what is read from the TOML file (and the environment)
//! before any checking. Defaults live here; shapes mirror the file.
//!
//! Every struct keeps `#[serde(deny_unknown_fields)]`: the reader (`read`)
//! takes the known keys for "did you mean …?" from serde's unknown-field
//! message, and the expected type of a value from its type error, so a new
//! key needs nothing beyond its field here (with a serde default unless it
//! is required), its checked form and its line in `config.example.toml`.
//! Two things serde cannot tell are listed apart: a new one-table section
//! goes into `read::ONE_TABLE`, a key allowing less than its type into
//! `check::RANGES`.

use std::path::PathBuf;

use serde::Deserialize;

use super::{AfterAction, LogFormat, StrangerFollowUp, TlsMode};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) system: RawSystem,
    pub(super) storage: RawStorage,
    #[serde(default)]
    pub(super) paths: RawPaths,
    #[serde(default)]
    pub(super) log: RawLog,
    pub(super) smtp: RawSmtp,
    #[serde(default)]
    pub(super) priority: RawPriority,
    #[serde(default)]
    pub(super) queue: Vec<RawQueue>,
    #[serde(default)]
    pub(super) mailbox: Vec<RawMailbox>,
    #[serde(default)]
    pub(super) http: RawHttp,
    #[serde(default)]
    pub(super) health: RawHealth,
    #[serde(default)]
    pub(super) retention: RawRetention,
    #[serde(default)]
    pub(super) auth: RawAuth,
    #[serde(default)]
    pub(super) lifecycle: super::lifecycle::RawLifecycle,
}

/// Agent authenticity: whose `Authentication-Results` headers to believe.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    /// The authserv-ids of our own MTA; empty: no header is believed.
    #[serde(default)]
    pub(super) authserv_id: Vec<String>,
}

/// How long raw messages and attachments are kept (`postdesk db prune`);
/// absent: forever.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetention {
    pub(super) raw_messages_days: Option<u32>,
    pub(super) attachments_days: Option<u32>,
}

/// The optional HTTP listener for `/healthz` and `/metrics`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    /// `host:port` or a bare port (then on 127.0.0.1); absent: no listener.
    pub(super) listen: Option<String>,
}

/// When `/healthz` turns 503.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    #[serde(default = "default_max_fetch_age")]
    pub(super) max_fetch_age_secs: u64,
    #[serde(default = "default_max_outbox_age")]
    pub(super) max_outbox_age_secs: u64,
}

impl Default for RawHealth {
    fn default() -> Self {
        RawHealth {
            max_fetch_age_secs: default_max_fetch_age(),
            max_outbox_age_secs: default_max_outbox_age(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSystem {
    pub(super) fqdn: String,
    #[serde(default = "default_tag")]
    pub(super) ticket_tag: String,
    #[serde(default = "default_system_id")]
    pub(super) system_id: u32,
    #[serde(default = "default_language")]
    pub(super) default_language: String,
    #[serde(default = "default_max_message_bytes")]
    pub(super) max_message_bytes: u64,
    #[serde(default = "default_auto_reply_limit")]
    pub(super) auto_reply_limit_per_hour: u32,
    #[serde(default)]
    pub(super) own_addresses: Vec<String>,
    #[serde(default = "default_agent_alert_limit")]
    pub(super) agent_alert_limit_per_ticket_per_hour: u32,
    #[serde(default = "default_agent_alert_limit")]
    pub(super) agent_alert_limit_per_sender_per_hour: u32,
    #[serde(default)]
    pub(super) stranger_follow_up: StrangerFollowUp,
    /// Caps on automatic mail per address and per ticket: `"10/10m"`, …
    #[serde(default = "default_loop_caps")]
    pub(super) loop_caps: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    pub(super) database: PathBuf,
    pub(super) data_dir: PathBuf,
    #[serde(default = "default_cache_mib")]
    pub(super) cache_mib: u32,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPaths {
    pub(super) templates: Option<PathBuf>,
    pub(super) rules: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    #[serde(default)]
    pub(super) format: LogFormat,
    pub(super) level: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    #[serde(default = "default_smtp_tls")]
    pub(super) tls: TlsMode,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_env: Option<String>,
    /// `password` (default) or `oauth2` (then the `oauth2` table).
    pub(super) auth: Option<super::oauth::AuthKind>,
    pub(super) oauth2: Option<super::oauth::RawOAuth2>,
    pub(super) ca_file: Option<PathBuf>,
    #[serde(default = "default_smtp_timeout")]
    pub(super) timeout_secs: u64,
    #[serde(default = "default_smtp_connections")]
    pub(super) max_connections: u32,
    #[serde(default = "default_retry_max")]
    pub(super) retry_max_secs: u64,
    #[serde(default = "default_give_up")]
    pub(super) give_up_after_hours: u64,
    /// Sign outgoing mail: `{ domain, selector, key_file }`.
    #[serde(default)]
    pub(super) dkim: Option<super::dkim::RawDkim>,
}

/// `[priority]`: the matrix; absent = GLPI's.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPriority {
    pub(super) matrix: Option<Vec<Vec<u8>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    pub(super) name: String,
    pub(super) agents_address: Option<String>,
    #[serde(default = "default_true")]
    pub(super) notify_agents_on_new: bool,
    #[serde(default = "default_true")]
    pub(super) notify_agents_on_follow_up: bool,
    /// An unassigned ticket is assigned to the agent who answers it.
    #[serde(default = "default_true")]
    pub(super) assign_on_agent_reply: bool,
    /// The customer of a ticket opened by an agent's forward gets the
    /// new ticket's auto-reply.
    #[serde(default = "default_true")]
    pub(super) forward_auto_reply: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMailbox {
    pub(super) name: String,
    pub(super) address: String,
    pub(super) display_name: Option<String>,
    pub(super) queue: String,
    pub(super) language: Option<String>,
    /// What list and bulk mail does here.
    #[serde(default)]
    pub(super) list_policy: super::ListPolicy,
    /// Absent for a pipe-only mailbox (mail arrives through `postdesk ingest`).
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    /// The IMAP-only keys are options (defaults in `check`), so a
    /// pipe-only mailbox can be told which of them it sets in vain.
    pub(super) tls: Option<TlsMode>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_env: Option<String>,
    /// `password` (default) or `oauth2` (then the `oauth2` table).
    pub(super) auth: Option<super::oauth::AuthKind>,
    pub(super) oauth2: Option<super::oauth::RawOAuth2>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) folder: Option<String>,
    /// Only meaningful with IMAP; defaults to `move` there.
    pub(super) after: Option<AfterAction>,
    pub(super) move_to: Option<String>,
    pub(super) flags: Option<Vec<String>>,
    pub(super) poll_interval_secs: Option<u64>,
    pub(super) idle: Option<bool>,
    pub(super) batch_size: Option<u32>,
}

fn default_max_fetch_age() -> u64 {
    600
}
fn default_max_outbox_age() -> u64 {
    3600
}
fn default_tag() -> String {
    "Ticket#".into()
}
/// 2 MiB: the daemon's peak RSS ~30–33 MiB in the benchmarks, against
/// ~37 with 8, which stores a mail ~10 % cheaper at a million messages
/// (BENCHMARKS.md, "Memory, a third time").
fn default_cache_mib() -> u32 {
    2
}
fn default_system_id() -> u32 {
    10
}
fn default_language() -> String {
    "en".into()
}
fn default_max_message_bytes() -> u64 {
    25 * 1024 * 1024
}
fn default_loop_caps() -> Vec<String> {
    super::caps::DEFAULT.iter().map(|c| c.to_string()).collect()
}
fn default_auto_reply_limit() -> u32 {
    10
}
fn default_agent_alert_limit() -> u32 {
    10
}
fn default_smtp_tls() -> TlsMode {
    TlsMode::Starttls
}
pub(super) fn default_imap_tls() -> TlsMode {
    TlsMode::Implicit
}
fn default_smtp_timeout() -> u64 {
    30
}
fn default_smtp_connections() -> u32 {
    4
}
fn default_retry_max() -> u64 {
    600
}
fn default_give_up() -> u64 {
    72
}
fn default_true() -> bool {
    true
}
pub(super) fn default_folder() -> String {
    "INBOX".into()
}
pub(super) fn default_after() -> AfterAction {
    AfterAction::Move
}
pub(super) fn default_flags() -> Vec<String> {
    vec!["\\Seen".into(), "$Postdesk".into()]
}
pub(super) fn default_poll() -> u64 {
    60
}
pub(super) fn default_batch() -> u32 {
    500
}
