//! Configuration: one TOML file (plus `POSTDESK_SECTION__KEY` environment
//! overrides) read in two steps. Serde reads a raw, permissive-free struct
//! (`deny_unknown_fields`, defaults); [`Config::load`] then checks it and
//! builds the [`Config`] the rest of the program uses: secrets resolved,
//! addresses validated, relative paths made absolute against the config
//! file's folder, and *every* problem listed at once with its key.
//!
//! This module knows nothing of tickets or mail; it only describes them.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Plain text on a terminal, JSON otherwise.
    #[default]
    Auto,
    Plain,
    Json,
    Journald,
}

// ---------------------------------------------------------------------------
// Raw layer: what serde reads.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    system: RawSystem,
    storage: RawStorage,
    #[serde(default)]
    paths: RawPaths,
    #[serde(default)]
    log: RawLog,
    smtp: RawSmtp,
    #[serde(default)]
    queue: Vec<RawQueue>,
    #[serde(default)]
    mailbox: Vec<RawMailbox>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    fqdn: String,
    #[serde(default = "default_tag")]
    ticket_tag: String,
    #[serde(default = "default_system_id")]
    system_id: u32,
    #[serde(default = "default_language")]
    default_language: String,
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: u64,
    #[serde(default = "default_auto_reply_limit")]
    auto_reply_limit_per_hour: u32,
    #[serde(default)]
    own_addresses: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    database: PathBuf,
    data_dir: PathBuf,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPaths {
    templates: Option<PathBuf>,
    rules: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    #[serde(default)]
    format: LogFormat,
    level: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    #[serde(default = "default_smtp_tls")]
    tls: TlsMode,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(default = "default_smtp_timeout")]
    timeout_secs: u64,
    #[serde(default = "default_smtp_connections")]
    max_connections: u32,
    #[serde(default = "default_retry_max")]
    retry_max_secs: u64,
    #[serde(default = "default_give_up")]
    give_up_after_hours: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    name: String,
    agents_address: Option<String>,
    #[serde(default = "default_true")]
    notify_agents_on_new: bool,
    #[serde(default = "default_true")]
    notify_agents_on_follow_up: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    name: String,
    address: String,
    display_name: Option<String>,
    queue: String,
    language: Option<String>,
    /// Absent for a pipe-only mailbox (mail arrives through `postdesk ingest`).
    host: Option<String>,
    port: Option<u16>,
    #[serde(default = "default_imap_tls")]
    tls: TlsMode,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(default = "default_folder")]
    folder: String,
    #[serde(default = "default_after")]
    after: AfterAction,
    move_to: Option<String>,
    #[serde(default = "default_flags")]
    flags: Vec<String>,
    #[serde(default = "default_poll")]
    poll_interval_secs: u64,
    #[serde(default = "default_true")]
    idle: bool,
    #[serde(default = "default_batch")]
    batch_size: u32,
}

fn default_tag() -> String {
    "Ticket#".into()
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
fn default_auto_reply_limit() -> u32 {
    10
}
fn default_smtp_tls() -> TlsMode {
    TlsMode::Starttls
}
fn default_imap_tls() -> TlsMode {
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
fn default_folder() -> String {
    "INBOX".into()
}
fn default_after() -> AfterAction {
    AfterAction::Move
}
fn default_flags() -> Vec<String> {
    vec!["\\Seen".into(), "$Postdesk".into()]
}
fn default_poll() -> u64 {
    60
}
fn default_batch() -> u32 {
    500
}

// ---------------------------------------------------------------------------
// Checked layer: what the program uses.

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
    pub queues: Vec<Queue>,
    pub mailboxes: Vec<Mailbox>,
}

#[derive(Debug, Clone)]
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
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub database: PathBuf,
    /// Attachments live under `data_dir/attachments`.
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Log {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub credentials: Option<(String, String)>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub max_connections: u32,
    pub retry_max: Duration,
    /// A message still undelivered after this long is marked failed.
    pub give_up_after: Duration,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    pub agents_address: Option<String>,
    pub notify_agents_on_new: bool,
    pub notify_agents_on_follow_up: bool,
}

#[derive(Clone)]
pub struct Mailbox {
    pub name: String,
    /// The support address this mailbox serves; auto-replies come from it.
    pub address: String,
    pub display_name: Option<String>,
    pub queue: String,
    pub language: Option<String>,
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

/// How to reach and log in to an IMAP mailbox.
#[derive(Clone)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: String,
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

/// Every problem found in a configuration file, each naming its key.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "configuration {} has {} problem(s):",
            self.file.display(),
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
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
        let fail = |p: String| ConfigError {
            file: path.to_path_buf(),
            problems: vec![p],
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(format!(
                "cannot read the file: {e} (pass --config PATH or set POSTDESK_CONFIG)"
            ))
        })?;
        // Only POSTDESK_<SECTION>__<KEY> variables are overrides; other
        // POSTDESK_* variables (POSTDESK_CONFIG, test settings) are not keys.
        let overrides: config::Map<String, String> = env
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix("POSTDESK_")?;
                rest.contains("__").then(|| (k.clone(), v.clone()))
            })
            .collect();
        let raw: RawConfig = config::Config::builder()
            .add_source(config::File::from_str(&text, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("POSTDESK")
                    .prefix_separator("_")
                    .separator("__")
                    // Values stay strings until serde asks for a number:
                    // a password "007" must not become 7.
                    .try_parsing(false)
                    .source(Some(overrides)),
            )
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| fail(e.to_string()))?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        check(raw, path, &base, env)
    }

    /// Every address that is ours: mailboxes, queues' agent addresses and
    /// `own_addresses`. Lower-case.
    pub fn own_addresses(&self) -> HashSet<String> {
        let mut set: HashSet<String> = self
            .mailboxes
            .iter()
            .map(|m| m.address.to_lowercase())
            .collect();
        set.extend(self.system.own_addresses.iter().map(|a| a.to_lowercase()));
        set.extend(
            self.queues
                .iter()
                .filter_map(|q| q.agents_address.as_ref())
                .map(|a| a.to_lowercase()),
        );
        set
    }

    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.name == name)
    }

    pub fn mailbox(&self, name: &str) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| m.name == name)
    }
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// An address lettre can write into a mail (one address, no display name,
/// no list), without control characters or whitespace.
pub fn valid_address(a: &str) -> bool {
    !a.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ',')
        && a.parse::<lettre::Address>().is_ok()
}

fn secret(
    key: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
    var: Option<String>,
    base: &Path,
    env: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Option<String> {
    let given = inline.is_some() as u8 + file.is_some() as u8 + var.is_some() as u8;
    if given > 1 {
        problems.push(format!(
            "{key}: set only one of password, password_file, password_env"
        ));
        return None;
    }
    if let Some(p) = inline {
        return Some(p);
    }
    if let Some(f) = file {
        let f = absolute(base, &f);
        return match std::fs::read_to_string(&f) {
            Ok(s) => Some(s.trim_end_matches(['\r', '\n']).to_string()),
            Err(e) => {
                problems.push(format!(
                    "{key}.password_file: cannot read {}: {e}",
                    f.display()
                ));
                None
            }
        };
    }
    if let Some(v) = var {
        return match env.get(&v) {
            Some(s) => Some(s.clone()),
            None => {
                problems.push(format!(
                    "{key}.password_env: environment variable {v} is not set"
                ));
                None
            }
        };
    }
    None
}

fn check(
    raw: RawConfig,
    file: &Path,
    base: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();

    let s = raw.system;
    if s.fqdn.is_empty()
        || !s
            .fqdn
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        problems.push(format!(
            "system.fqdn: {:?} is not a host name (letters, digits, '.', '-')",
            s.fqdn
        ));
    }
    if s.ticket_tag.is_empty()
        || s.ticket_tag
            .chars()
            .any(|c| c.is_control() || c == '[' || c == ']')
    {
        problems.push(format!(
            "system.ticket_tag: {:?} must be non-empty, without brackets or control characters",
            s.ticket_tag
        ));
    }
    if s.system_id > 99 {
        problems.push(format!(
            "system.system_id: {} must be between 0 and 99",
            s.system_id
        ));
    }
    if !(1024..=MAX_MESSAGE_BYTES).contains(&s.max_message_bytes) {
        problems.push(format!(
            "system.max_message_bytes: {} must be between 1024 and {MAX_MESSAGE_BYTES}",
            s.max_message_bytes
        ));
    }
    for (i, a) in s.own_addresses.iter().enumerate() {
        if !valid_address(a) {
            problems.push(format!(
                "system.own_addresses[{i}]: {a:?} is not an e-mail address"
            ));
        }
    }

    if let Some(level) = &raw.log.level {
        if tracing_subscriber::EnvFilter::try_new(level).is_err() {
            problems.push(format!(
                "log.level: {level:?} is not a tracing filter (e.g. \"info\" or \"info,postdesk=debug\")"
            ));
        }
    }
    let templates_dir = absolute(
        base,
        &raw.paths
            .templates
            .unwrap_or_else(|| PathBuf::from("mail-templates")),
    );
    let rules_dir = absolute(
        base,
        &raw.paths.rules.unwrap_or_else(|| PathBuf::from("rules")),
    );

    let sm = raw.smtp;
    let before = problems.len();
    let smtp_pass = secret(
        "smtp",
        sm.password,
        sm.password_file,
        sm.password_env,
        base,
        env,
        &mut problems,
    );
    let credentials = match (sm.username, smtp_pass) {
        (Some(u), Some(p)) => Some((u, p)),
        (Some(_), None) => {
            if problems.len() == before {
                problems.push(
                    "smtp.username is set but no password (password_file or password_env)".into(),
                );
            }
            None
        }
        (None, Some(_)) => {
            problems.push("smtp: a password is set but no username".into());
            None
        }
        (None, None) => None,
    };
    if sm.host.is_empty() {
        problems.push("smtp.host: must not be empty".into());
    }
    if sm.max_connections == 0 {
        problems.push("smtp.max_connections: must be at least 1".into());
    }
    let smtp = Smtp {
        port: sm.port.unwrap_or(match sm.tls {
            TlsMode::Implicit => 465,
            TlsMode::Starttls => 587,
            TlsMode::None => 25,
        }),
        host: sm.host,
        tls: sm.tls,
        credentials,
        ca_file: sm.ca_file.map(|p| absolute(base, &p)),
        timeout: Duration::from_secs(sm.timeout_secs.max(1)),
        max_connections: sm.max_connections,
        retry_max: Duration::from_secs(sm.retry_max_secs.max(1)),
        give_up_after: Duration::from_secs(sm.give_up_after_hours.max(1) * 3600),
    };

    let mut queues = Vec::new();
    let mut names = HashSet::new();
    for (i, q) in raw.queue.into_iter().enumerate() {
        if q.name.trim().is_empty() {
            problems.push(format!("queue[{i}].name: must not be empty"));
        }
        if !names.insert(q.name.clone()) {
            problems.push(format!("queue[{i}].name: {:?} is defined twice", q.name));
        }
        if let Some(a) = &q.agents_address {
            if !valid_address(a) {
                problems.push(format!(
                    "queue[{i}].agents_address: {a:?} is not an e-mail address"
                ));
            }
        }
        queues.push(Queue {
            name: q.name,
            agents_address: q.agents_address,
            notify_agents_on_new: q.notify_agents_on_new,
            notify_agents_on_follow_up: q.notify_agents_on_follow_up,
        });
    }

    let mut mailboxes = Vec::new();
    let mut mnames = HashSet::new();
    let mut addresses: Vec<String> = Vec::new();
    for (i, m) in raw.mailbox.into_iter().enumerate() {
        let key = format!("mailbox[{i}]");
        if m.name.trim().is_empty() || m.name.chars().any(|c| c.is_control()) {
            problems.push(format!("{key}.name: must be a non-empty printable name"));
        }
        if !mnames.insert(m.name.clone()) {
            problems.push(format!("{key}.name: {:?} is used twice", m.name));
        }
        if !valid_address(&m.address) {
            problems.push(format!(
                "{key}.address: {:?} is not an e-mail address",
                m.address
            ));
        }
        if !names.contains(&m.queue) {
            problems.push(format!(
                "{key}.queue: no [[queue]] is named {:?} (define it or fix the name)",
                m.queue
            ));
        }
        // after/move_to/flags act on IMAP; a pipe-only mailbox (no host)
        // needs none of them.
        let has_imap = m.host.is_some();
        if has_imap
            && m.after == AfterAction::Move
            && m.move_to.as_deref().map(str::trim).unwrap_or("").is_empty()
        {
            problems.push(format!(
                "{key}.move_to: required when after = \"move\" (e.g. \"Processed\")"
            ));
        }
        if has_imap && m.after == AfterAction::Flag && m.flags.is_empty() {
            problems.push(format!("{key}.flags: required when after = \"flag\""));
        }
        for (j, f) in m.flags.iter().enumerate() {
            if f.is_empty()
                || f.chars()
                    .any(|c| c.is_whitespace() || "(){%*\"]".contains(c))
            {
                problems.push(format!("{key}.flags[{j}]: {f:?} is not an IMAP flag"));
            }
        }
        if m.batch_size == 0 || m.batch_size > 10_000 {
            problems.push(format!("{key}.batch_size: must be between 1 and 10000"));
        }
        if m.poll_interval_secs == 0 || m.poll_interval_secs > 3600 {
            problems.push(format!(
                "{key}.poll_interval_secs: must be between 1 and 3600"
            ));
        }
        if let Some(j) = addresses
            .iter()
            .position(|a: &String| a.eq_ignore_ascii_case(&m.address))
        {
            problems.push(format!(
                "{key}.address: {:?} is already the address of mailbox[{j}]",
                m.address
            ));
        }
        addresses.push(m.address.clone());
        let before = problems.len();
        let password = secret(
            &key,
            m.password,
            m.password_file,
            m.password_env,
            base,
            env,
            &mut problems,
        );
        let imap = match (m.host, m.username) {
            (Some(host), Some(username)) => {
                if password.is_none() && problems.len() == before {
                    problems.push(format!(
                        "{key}: no password: set password_file (recommended) or password_env"
                    ));
                }
                Some(Imap {
                    port: m.port.unwrap_or(match m.tls {
                        TlsMode::Implicit => 993,
                        _ => 143,
                    }),
                    host,
                    tls: m.tls,
                    username,
                    password: password.unwrap_or_default(),
                    ca_file: m.ca_file.map(|p| absolute(base, &p)),
                })
            }
            (Some(_), None) => {
                problems.push(format!("{key}.username: required when host is set"));
                None
            }
            (None, Some(_)) => {
                problems.push(format!(
                    "{key}.host: required when username is set (omit both for a pipe-only mailbox)"
                ));
                None
            }
            (None, None) => None,
        };
        mailboxes.push(Mailbox {
            name: m.name,
            address: m.address.to_lowercase(),
            display_name: m.display_name,
            queue: m.queue,
            language: m.language,
            imap,
            folder: m.folder,
            after: m.after,
            move_to: m.move_to,
            flags: m.flags,
            poll_interval: Duration::from_secs(m.poll_interval_secs.max(1)),
            idle: m.idle,
            batch_size: m.batch_size,
        });
    }
    if queues.is_empty() {
        problems.push("queue: define at least one [[queue]]".into());
    }

    if !problems.is_empty() {
        return Err(ConfigError {
            file: file.to_path_buf(),
            problems,
        });
    }
    Ok(Config {
        source: file.to_path_buf(),
        system: System {
            fqdn: s.fqdn,
            ticket_tag: s.ticket_tag,
            system_id: s.system_id,
            default_language: s.default_language,
            max_message_bytes: s.max_message_bytes,
            auto_reply_limit_per_hour: s.auto_reply_limit_per_hour,
            own_addresses: s.own_addresses,
        },
        storage: Storage {
            database: absolute(base, &raw.storage.database),
            data_dir: absolute(base, &raw.storage.data_dir),
        },
        templates_dir,
        rules_dir,
        log: Log {
            format: raw.log.format,
            level: raw.log.level.unwrap_or_else(|| "info".into()),
        },
        smtp,
        queues,
        mailboxes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let c = Config::load_with_env(
            &path,
            &env(&[
                ("POSTDESK_IMAP_PASSWORD", "x"),
                ("POSTDESK_SMTP_PASSWORD", "y"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.mailboxes.len(), 2);
        assert_eq!(c.system.ticket_tag, "Ticket#");
        assert!(c.templates_dir.ends_with("mail-templates"));
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    const MINIMAL: &str = r#"
[system]
fqdn = "desk.example.com"
[storage]
database = "db.sqlite"
data_dir = "data"
[smtp]
host = "localhost"
tls = "none"
[[queue]]
name = "support"
[[mailbox]]
name = "support"
address = "support@example.com"
queue = "support"
host = "imap.example.com"
username = "support"
password_env = "PW"
after = "flag"
"#;

    #[test]
    fn minimal_config_and_env_override() {
        let (_d, p) = write(MINIMAL);
        let c = Config::load_with_env(
            &p,
            &env(&[
                ("PW", "s3cret"),
                ("POSTDESK_SMTP__PORT", "2525"),
                ("POSTDESK_SMTP__USERNAME", "007"),
                ("POSTDESK_SMTP__PASSWORD", "007"),
                ("POSTDESK_CONFIG", "/ignored"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.smtp.port, 2525);
        assert_eq!(c.smtp.credentials, Some(("007".into(), "007".into())));
        let imap = c.mailboxes[0].imap.as_ref().unwrap();
        assert_eq!(imap.password, "s3cret");
        assert_eq!(imap.port, 993);
        assert!(c.storage.database.is_absolute());
    }

    #[test]
    fn problems_name_their_keys_all_at_once() {
        let bad = MINIMAL
            .replace("address = \"support@example.com\"", "address = \"nope\"")
            .replace("queue = \"support\"\nhost", "queue = \"sales\"\nhost");
        let (_d, p) = write(&bad);
        let e = Config::load_with_env(&p, &env(&[])).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("mailbox[0].address"), "{text}");
        assert!(text.contains("mailbox[0].queue"), "{text}");
        assert!(text.contains("mailbox[0].password_env"), "{text}");
        assert!(text.contains(&p.display().to_string()), "{text}");
    }

    #[test]
    fn unknown_key_is_an_error() {
        let (_d, p) = write(&MINIMAL.replace("[smtp]", "[smtp]\nhots = \"x\""));
        let e = Config::load_with_env(&p, &env(&[("PW", "x")])).unwrap_err();
        assert!(e.to_string().contains("hots"), "{e}");
    }

    #[test]
    fn missing_file_says_what_to_do() {
        let e = Config::load_with_env(Path::new("/nonexistent/p.toml"), &env(&[])).unwrap_err();
        assert!(e.to_string().contains("--config"), "{e}");
    }

    #[test]
    fn addresses() {
        assert!(valid_address("a@b.c"));
        assert!(valid_address("a@localhost"));
        assert!(!valid_address("a b@c.d"));
        assert!(!valid_address("@c.d"));
        assert!(!valid_address("a@b\r\n.c"));
        assert!(!valid_address("a@b.c,d@e.f"));
        assert!(!valid_address("a@b@c.d"));
    }
}
