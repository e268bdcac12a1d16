//! `postdesk db migrate`: brings the database to this postdesk's schema
//! version. The daemon, `ingest` and `quarantine retry` migrate when they
//! open the database; commands that only read never do, and send the
//! operator here instead.

use std::io::Write;
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
}

impl Command {
    pub fn json(&self) -> bool {
        match self {
            Command::Migrate { json } => *json,
        }
    }
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let path = &config.storage.database;
    match cmd {
        Command::Migrate { json } => {
            let (store, from) = Store::open_and_migrate(path, Durability::Full)?;
            let to = store.schema_version()?;
            let mut out = super::output::stdout();
            if *json {
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
        }
    }
    Ok(ExitCode::SUCCESS)
}
