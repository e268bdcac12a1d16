//! Command-line interface: one file per command group. Commands parse
//! their arguments, call the library and print; no ticket logic here.
//! Every command prints through [`output::stdout`] (a closed pipe ends it
//! quietly) and fails with an error that [`exit::code_of`] maps to a
//! sysexits code.

mod address;
mod check;
mod db;
mod directory;
mod exit;
mod explain;
mod fetch;
mod generate;
mod import;
mod ingest;
mod oauth;
mod output;
mod quarantine;
mod rules;
mod rules_test;
mod state;
mod storage_check;
mod templates;
mod ticket;
mod ticket_create;
mod ticket_history;
mod ticket_ops;
mod ticket_relations;
mod ticket_show;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use postdesk::config::{self, Config, LogFormat};

/// `postdesk --version`: the package version, the commit it was built
/// from and the database schema version it migrates to.
fn version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (commit {}, schema {})",
            env!("CARGO_PKG_VERSION"),
            env!("POSTDESK_COMMIT"),
            postdesk::store::Store::known_schema_version()
        )
    })
}

const EXIT_CODES: &str = "\
Exit codes (sysexits):
   0  done (also when standard output was closed early)
   1  quarantine retry: some entries are still failing
  64  bad command line
  65  bad data: malformed ticket number, wrong check digit; ingest: empty or oversized mail;
      agent, group, queue, …: an entry that exists already, is invalid or still in use;
      import: not an mbox file or maildir;
      db check/backup/restore: a damaged database or attachment file
  66  not found: ticket, quarantine entry, queue, database, directory entry
  69  unavailable: database at another schema version (`postdesk db migrate`, or upgrade);
      check --connect: a server could not be reached
  70  internal error
  73  cannot create the output (db backup: the folder exists)
  74  import: the archive could not be read
  75  temporary trouble, try again later (database busy; ingest: whatever an MTA should retry);
      run, db restore: a daemon holds the lock; import: interrupted (run it again to resume)
  77  permission denied: this user may not read or write the database, its folder or the
      daemon lock (run as the daemon's user)
  78  configuration error
With --json, a failure prints {\"error\": \"…\", \"code\": N} on standard output.";

/// Email-driven ticketing daemon.
///
/// Reads support mailboxes over IMAP (or mail piped in by an MTA), turns
/// each mail into a new ticket or a follow-up, stores everything in SQLite
/// and sends templated notifications over SMTP.
#[derive(Parser, Debug)]
#[command(name = "postdesk", version = version(), about, long_about, after_long_help = EXIT_CODES)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, short, global = true, env = "POSTDESK_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,

    /// Log format: auto (journald when run by systemd, plain on a terminal, JSON otherwise), plain, json, journald.
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
    /// 78 (EX_CONFIG); a user who may not write the lock or the database
    /// exits 77 (EX_NOPERM); the database busy or the disk full exits 75;
    /// anything else 70 (EX_SOFTWARE). See `postdesk --help` for the list.
    Run,
    /// Take in one raw message from FILE or standard input (MTA pipe).
    ///
    /// Exit codes (sysexits): 0 accepted (ticket, follow-up, duplicate or
    /// quarantined), 65 not a mail (empty) or larger than
    /// system.max_message_bytes, 75 temporary trouble: try again later
    /// (database busy, configuration unreadable).
    Ingest(ingest::Args),
    /// Bring in an archive (an mbox file or a maildir) through the same
    /// pipeline as live mail: threads by Message-ID and ticket tags, rules
    /// apply, nothing is sent unless --notify.
    ///
    /// One transaction per batch; how far it got is recorded with each
    /// batch, so an interrupted import resumes where it stopped when run
    /// again, and mail taken in before (same bytes) is skipped: nothing is
    /// recorded twice. SIGINT/SIGTERM stop after the batch in hand (exit
    /// 75). Exit codes: 0 done, 64 unknown --mailbox, 65 not an mbox or
    /// maildir, 66 no such path, 74 the archive could not be read, 75
    /// interrupted or the database busy.
    Import(import::Args),
    /// Show what processing would do with a mail, and why, without taking
    /// it in: classification, routing, how it threads (or why it is new),
    /// the sender's standing, what would be sent to whom and what is held
    /// back. The database is opened read-only.
    Explain(explain::Args),
    /// Check configuration, templates and rules folder; with --connect also
    /// log in to every IMAP mailbox and the SMTP relay.
    Check(check::Args),
    /// List and show tickets; open a phone ticket; merge, link and transfer tickets.
    #[command(subcommand)]
    Ticket(ticket::Command),
    /// List, show, retry, release and drop messages that could not be processed.
    #[command(subcommand)]
    Quarantine(quarantine::Command),
    /// Counts of tickets, receipts, quarantine and outbox; IMAP ledgers.
    Status(ticket::StatusArgs),
    /// Database maintenance.
    #[command(subcommand)]
    Db(db::Command),
    /// Business rules (`rules/*.toml`).
    #[command(subcommand)]
    Rules(rules::Command),
    /// Mail templates: list which file each notification uses (operator's
    /// or shipped), render one for a real ticket.
    #[command(subcommand)]
    Templates(templates::Command),
    /// Addresses our mail bounced from: list them, clear one.
    #[command(subcommand)]
    Address(address::Command),
    /// Agents: who works the tickets (name, addresses, language, active,
    /// group access).
    #[command(subcommand)]
    Agent(directory::people::Command<directory::people::AgentSet>),
    /// Groups of agents (and customer users) that queues belong to.
    #[command(subcommand)]
    Group(directory::org::Command<directory::org::GroupSet>),
    /// Queues in the directory: group, addresses, where agents'
    /// notifications go, what Cc's and strangers do.
    #[command(subcommand)]
    Queue(directory::org::Command<directory::org::QueueSet>),
    /// Customers (organisations) and their mail domains.
    #[command(subcommand)]
    Customer(directory::org::Command<directory::org::CustomerSet>),
    /// Customer users: addresses, name, language, customer, group access,
    /// services.
    #[command(subcommand)]
    CustomerUser(directory::people::Command<directory::people::UserSet>),
    /// Services (hierarchical names such as Email::Outlook).
    #[command(subcommand)]
    Service(directory::org::Command<directory::org::ServiceSet>),
    /// The whole directory as a file: apply one, export it.
    #[command(subcommand)]
    Directory(directory::file::Command),
    /// Look into an IMAP mailbox now: the running daemon is asked to (it
    /// looks into all of its mailboxes); with none running, fetch here once.
    Fetch(fetch::Args),
    /// OAuth2 accounts of mailboxes and the relay (auth = "oauth2"): log
    /// in with the device-code flow, show the tokens' state, log out.
    #[command(subcommand)]
    Oauth(oauth::Command),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) on
    /// standard output, e.g. `postdesk completions bash >
    /// /etc/bash_completion.d/postdesk`.
    Completions(generate::CompletionsArgs),
    /// Write the man pages (postdesk.1 and one per subcommand) into DIR.
    Manpages(generate::ManpagesArgs),
}

impl Command {
    /// Was `--json` asked for (errors are then printed as JSON)?
    fn json(&self) -> bool {
        match self {
            Command::Run => false,
            Command::Ingest(a) => a.json,
            Command::Import(a) => a.json,
            Command::Explain(a) => a.json,
            Command::Check(a) => a.json,
            Command::Ticket(c) => c.json(),
            Command::Quarantine(c) => c.json(),
            Command::Status(a) => a.json,
            Command::Db(c) => c.json(),
            Command::Rules(c) => c.json(),
            Command::Templates(c) => c.json(),
            Command::Fetch(a) => a.json,
            Command::Oauth(c) => c.json(),
            Command::Address(c) => c.json(),
            // A completion script has no JSON form.
            Command::Completions(_) => false,
            Command::Manpages(a) => a.json,
            Command::Agent(c) => c.json(),
            Command::Group(c) => c.json(),
            Command::Queue(c) => c.json(),
            Command::Customer(c) => c.json(),
            Command::CustomerUser(c) => c.json(),
            Command::Service(c) => c.json(),
            Command::Directory(c) => c.json(),
        }
    }
}

/// Load the configuration or explain what is wrong.
pub fn load_config(path: &std::path::Path) -> anyhow::Result<Arc<Config>> {
    Ok(Arc::new(Config::load(path)?))
}

/// The `[[mailbox]]` called `name`, or an error exiting `code` that names
/// the configuration file and the mailboxes it has.
pub fn mailbox_named<'c>(
    config: &'c Config,
    name: &str,
    code: u8,
) -> anyhow::Result<&'c postdesk::config::Mailbox> {
    config.mailbox(name).ok_or_else(|| {
        let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
        exit::failure(
            code,
            format!(
                "no [[mailbox]] named {name:?} in {} (there are: {})",
                config.source.display(),
                names.join(", ")
            ),
        )
    })
}

pub fn main() -> ExitCode {
    postdesk::memory::cap_malloc_arenas();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(exit::usage(e)),
    };
    let result = match cli.command {
        Command::Ingest(ref args) => ingest::run(&cli, args),
        Command::Import(ref args) => import::run(&cli, args),
        Command::Explain(ref args) => explain::run(&cli, args),
        Command::Run => run_daemon(&cli),
        Command::Check(ref args) => check::run(&cli, args),
        Command::Ticket(ref c) => ticket::run(&cli, c),
        Command::Quarantine(ref c) => quarantine::run(&cli, c),
        Command::Status(ref a) => ticket::status(&cli, a),
        Command::Db(ref c) => db::run(&cli, c),
        Command::Rules(ref c) => rules::run(&cli, c),
        Command::Templates(ref c) => templates::run(&cli, c),
        Command::Fetch(ref a) => fetch::run(&cli, a),
        Command::Oauth(ref c) => oauth::run(&cli, c),
        Command::Address(ref c) => address::run(&cli, c),
        Command::Completions(ref a) => generate::completions(a),
        Command::Manpages(ref a) => generate::manpages(a),
        Command::Agent(ref c) => directory::people::agent(&cli, c),
        Command::Group(ref c) => directory::org::group(&cli, c),
        Command::Queue(ref c) => directory::org::queue(&cli, c),
        Command::Customer(ref c) => directory::org::customer(&cli, c),
        Command::CustomerUser(ref c) => directory::people::customer_user(&cli, c),
        Command::Service(ref c) => directory::org::service(&cli, c),
        Command::Directory(ref c) => directory::file::run(&cli, c),
    };
    match result {
        Ok(code) => code,
        Err(e) if output::is_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let code = exit::code_of(&e);
            exit::report(&e, code, cli.command.json());
            ExitCode::from(code)
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
        // Likewise SIGUSR1 (`postdesk fetch`), whose default also ends it.
        libc::signal(libc::SIGUSR1, libc::SIG_IGN);
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
        Err(e) => Err(storage_check::explain_denied(e)),
    }
}

/// Open the database for a command that writes (migrating it if needed).
pub fn open_store(config: &Config) -> anyhow::Result<postdesk::store::Store> {
    postdesk::process::open_store(config)
        .map_err(|e| storage_check::explain_denied(e.into()))
        .with_context(|| format!("opening {}", config.storage.database.display()))
}

/// Open the database for a command that only reads: never migrates.
pub fn open_store_read_only(config: &Config) -> anyhow::Result<postdesk::store::Store> {
    postdesk::store::Store::open_read_only(&config.storage.database)
        .map_err(|e| storage_check::explain_denied(e.into()))
}
