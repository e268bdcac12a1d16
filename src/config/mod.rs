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

mod check;
mod raw;

pub use check::valid_address;
use raw::RawConfig;

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
        check::check(raw, path, &base, env)
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
