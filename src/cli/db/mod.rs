//! `postdesk db`: database maintenance. `migrate` brings the database to
//! this postdesk's schema version (the daemon, `ingest` and `quarantine
//! retry` migrate when they open the database; commands that only read
//! never do, and send the operator here instead); `backup`, `restore`,
//! `check`, `prune` and `vacuum` are the operations described in the
//! README's "Operations: backup and restore".

mod backup;
mod care;
mod files;

use std::io::{IsTerminal as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use postdesk::store::{Durability, Store};

use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Apply pending schema migrations (creating the database if needed).
    /// Stop a daemon of an older postdesk first.
    Migrate {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Copy the database and the attachments it refers to into a new
    /// folder DEST (`DEST/postdesk.db`, `DEST/attachments/…`), safe while
    /// the daemon runs: the database is copied as one snapshot. Exits 65
    /// if some attachment files were missing or damaged (the backup is
    /// written without them; see `db check`), 73 if DEST exists.
    Backup {
        /// The folder to create.
        dest: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Replace the configured database and add the attachments of a
    /// backup folder made by `db backup`. Refused (exit 75) while a daemon
    /// runs: stop it first. The backup is checked before anything changes
    /// (exit 65 if it is damaged); the database is replaced in one
    /// transaction and migrated if the backup is older.
    Restore {
        /// A folder made by `db backup`.
        from: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check the database (SQLite's integrity check) and that every
    /// attachment file is present with the content its address says.
    /// Exits 65 if anything is wrong. Also warns about tickets in a state
    /// `[lifecycle]` no longer lists (not an error).
    Check {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Forget raw messages and attachments older than `[retention]` says
    /// (nothing if it sets no age), keeping what is still needed.
    Prune {
        /// Say what would go; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite the database file without its free pages (after a prune).
    /// Needs as much free disk as the database's size; the daemon may run.
    Vacuum {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    pub fn json(&self) -> bool {
        match self {
            Command::Migrate { json }
            | Command::Backup { json, .. }
            | Command::Restore { json, .. }
            | Command::Check { json }
            | Command::Prune { json, .. }
            | Command::Vacuum { json } => *json,
        }
    }
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    match cmd {
        Command::Migrate { json } => {
            // What each migration does, as the daemon would log it (a
            // slow one is said before it starts), on standard error.
            super::init_logging(cli, Some(&config));
            migrate(&config.storage.database, *json)
        }
        Command::Backup { dest, json } => backup::backup(&config, dest, *json),
        Command::Restore { from, json } => backup::restore(&config, from, *json),
        Command::Check { json } => care::check(&config, *json),
        Command::Prune { dry_run, json } => care::prune(&config, *dry_run, *json),
        Command::Vacuum { json } => care::vacuum(&config, *json),
    }
}

fn migrate(path: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let (store, from) = Store::open_and_migrate(path, Durability::Full)?;
    let to = store.schema_version()?;
    let mut out = super::output::stdout();
    if json {
        out.json(&serde_json::json!({
            "database": path.display().to_string(),
            "from": from,
            "to": to,
        }))?;
    } else if from == to {
        writeln!(out, "{}: already at schema version {to}", path.display())?;
    } else {
        writeln!(
            out,
            "{}: migrated from schema version {from} to {to}",
            path.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// "what i/n" on standard error, rewritten in place, when it is a
/// terminal and the output is not JSON; silent otherwise.
pub struct Progress {
    what: &'static str,
    on: bool,
    shown: bool,
}

impl Progress {
    pub fn new(what: &'static str, json: bool) -> Progress {
        Progress {
            what,
            on: !json && std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    pub fn show(&mut self, i: usize, n: usize) {
        if self.on && (i % 16 == 0 || i == n) {
            eprint!("\r{} {i}/{n}", self.what);
            self.shown = true;
        }
    }

    pub fn done(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}
