//! `postdesk directory apply FILE.toml [--dry-run] [--prune]` and
//! `postdesk directory export`: the directory as a file an operator keeps
//! in git. `apply` makes only the changes needed (so a second run makes
//! none), all in one transaction; `export` writes what `apply` takes back
//! unchanged.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use postdesk::directory::file;
use postdesk::store::directory as dir;

use crate::cli::exit::{failure, DATAERR, NOINPUT};
use crate::cli::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Bring the directory to what FILE says: add and update its entries
    /// (only what differs); with --prune also remove what it leaves out.
    /// Prints each change; exits 65 naming every problem of the file.
    Apply {
        /// A TOML file with [[group]], [[service]], [[customer]],
        /// [[agent]], [[queue]] and [[customer_user]] tables (as `export`
        /// writes).
        file: PathBuf,
        /// Print the changes, make none.
        #[arg(long)]
        dry_run: bool,
        /// Remove entries the file does not name (queues leave the
        /// directory and fall back to the configuration).
        #[arg(long)]
        prune: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print the whole directory as the TOML `apply` takes.
    Export {
        /// Machine-readable output (JSON instead of TOML).
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    pub fn json(&self) -> bool {
        match self {
            Command::Apply { json, .. } | Command::Export { json } => *json,
        }
    }
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let mut out = crate::cli::output::stdout();
    match cmd {
        Command::Export { json } => {
            let d = super::read(cli, |c| Ok(dir::load(c)?))?;
            if *json {
                out.json(&d)?;
            } else {
                write!(out, "{}", file::write(&d)?)?;
            }
        }
        Command::Apply {
            file: path,
            dry_run,
            prune,
            json,
        } => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                let code = if e.kind() == std::io::ErrorKind::NotFound {
                    NOINPUT
                } else {
                    DATAERR
                };
                failure(code, format!("reading {}: {e}", path.display()))
            })?;
            let desired = file::read(&text).map_err(|problems| {
                failure(
                    DATAERR,
                    format!(
                        "{}: nothing applied:\n  {}",
                        path.display(),
                        problems.join("\n  ")
                    ),
                )
            })?;
            let changes = if *dry_run {
                super::read(cli, |c| Ok(file::changes(&dir::load(c)?, &desired, *prune)))?
            } else {
                super::write(cli, |tx| {
                    let changes = file::changes(&dir::load(tx)?, &desired, *prune);
                    dir::apply(tx, &changes)
                        .with_context(|| format!("{}: nothing applied", path.display()))?;
                    Ok(changes)
                })?
            };
            if *json {
                out.json(&serde_json::json!({
                    "dry_run": dry_run,
                    "changes": changes,
                }))?;
            } else if changes.is_empty() {
                writeln!(
                    out,
                    "no changes: the directory is as {} says",
                    path.display()
                )?;
            } else {
                let lead = if *dry_run { "would " } else { "" };
                for c in &changes {
                    writeln!(out, "{lead}{}", c.describe())?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
