//! Command-line interface: one file per command group. Commands parse
//! their arguments, call the library and print; no ticket logic here.

mod check;
mod ingest;
mod quarantine;
mod storage_check;
mod ticket;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use postdesk::config::{self, Config, ConfigError, LogFormat};

/// sysexits' EX_CONFIG: the configuration is wrong (`check`, `run`).
pub const EX_CONFIG: u8 = 78;

/// Email-driven ticketing daemon.
///
/// Reads support mailboxes over IMAP (or mail piped in by an MTA), turns
/// each mail into a new ticket or a follow-up, stores everything in SQLite
/// and sends templated notifications over SMTP.
#[derive(Parser, Debug)]
#[command(name = "postdesk", version, about, long_about)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, short, global = true, env = "POSTDESK_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,

    /// Log format: auto (plain on a terminal, JSON otherwise), plain, json, journald.
    #[arg(long, global = true, value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "auto" => Ok(LogFormat::Auto),
        "plain" => Ok(LogFormat::Plain),
        "json" => Ok(LogFormat::Json),
        "journald" => Ok(LogFormat::Journald),
        _ => Err("expected auto, plain, json or journald".into()),
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: IMAP intake, processing and the outbox sender.
    /// SIGTERM or SIGINT finishes the work in hand and exits 0; SIGHUP
    /// reloads templates, rules folder and log level.
    ///
    /// One daemon per database: it holds a lock on `<database>.lock`
    /// (released by the kernel however it ends). A second `run` exits 75
    /// (EX_TEMPFAIL) naming the running one; a configuration problem exits
    /// 78 (EX_CONFIG); other errors exit 1.
    Run,
    /// Take in one raw message from FILE or standard input (MTA pipe).
    ///
    /// Exit codes (sysexits): 0 accepted (ticket, follow-up, duplicate or
    /// quarantined), 65 not a mail (empty) or larger than
    /// system.max_message_bytes, 75 temporary trouble: try again later
    /// (database busy, configuration unreadable).
    Ingest(ingest::Args),
    /// Check configuration, templates and rules folder; with --connect also
    /// log in to every IMAP mailbox and the SMTP relay.
    Check(check::Args),
    /// List and show tickets.
    #[command(subcommand)]
    Ticket(ticket::Command),
    /// List, show and retry messages that could not be processed.
    #[command(subcommand)]
    Quarantine(quarantine::Command),
    /// Counts of tickets, receipts, quarantine and outbox; IMAP ledgers.
    Status(ticket::StatusArgs),
}

/// Load the configuration or explain what is wrong.
pub fn load_config(path: &std::path::Path) -> anyhow::Result<Arc<Config>> {
    Ok(Arc::new(Config::load(path)?))
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ingest(ref args) => return ingest::run(&cli, args),
        Command::Run => run_daemon(&cli),
        Command::Check(ref args) => check::run(&cli, args),
        Command::Ticket(ref c) => ticket::run(&cli, c),
        Command::Quarantine(ref c) => quarantine::run(&cli, c),
        Command::Status(ref a) => ticket::status(&cli, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("postdesk: {e:#}");
            if e.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(EX_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_logging(cli: &Cli, config: Option<&Config>) {
    let format = cli
        .log_format
        .or(config.map(|c| c.log.format))
        .unwrap_or_default();
    let level = config.map(|c| c.log.level.as_str()).unwrap_or("info");
    postdesk::logging::init(format, level);
}

fn run_daemon(cli: &Cli) -> anyhow::Result<ExitCode> {
    // A SIGHUP before the daemon installs its handler (systemd may reload
    // a Type=simple unit at once) must not end the process, as SIGHUP's
    // default action would.
    // SAFETY: setting a signal's disposition to "ignore" runs no code of
    // ours in signal context; no other thread exists yet.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    let config = load_config(&cli.config)?;
    init_logging(cli, Some(&config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match rt.block_on(postdesk::daemon::run(config)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e)
            if e.downcast_ref::<postdesk::lock::LockError>()
                .is_some_and(|l| matches!(l, postdesk::lock::LockError::Held { .. })) =>
        {
            eprintln!("postdesk: {e:#}");
            Ok(ExitCode::from(postdesk::lock::EXIT_ALREADY_RUNNING))
        }
        Err(e) => Err(e),
    }
}

/// Open the database for a CLI command.
pub fn open_store(config: &Config) -> anyhow::Result<postdesk::store::Store> {
    postdesk::process::open_store(config)
        .with_context(|| format!("opening {}", config.storage.database.display()))
}

pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
