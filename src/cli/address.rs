//! `postdesk address list --bouncing` and `postdesk address clear ADDR`:
//! the addresses our mail bounced from, whose later mail is held in the
//! outbox. `list` only reads (the database is opened read-only); `clear`
//! writes, so it migrates.

use std::io::Write;
use std::process::ExitCode;

use postdesk::store::machines;

use super::exit::{failure, NOINPUT, USAGE};
use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List addresses: with --bouncing, those our mail bounced from (first
    /// and last bounce, count, last reason, the ticket of the last bounce).
    List {
        /// The addresses marked bouncing (the only list so far).
        #[arg(long)]
        bouncing: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Take an address off the bouncing list (after correcting it with the
    /// customer). Mail held for it stays held unless --send-held.
    Clear {
        address: String,
        /// Send the mail held for this address now.
        #[arg(long)]
        send_held: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    pub fn json(&self) -> bool {
        match self {
            Command::List { json, .. } | Command::Clear { json, .. } => *json,
        }
    }
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let mut out = super::output::stdout();
    match cmd {
        Command::List { bouncing, json } => {
            if !bouncing {
                return Err(failure(
                    USAGE,
                    "say which addresses: `postdesk address list --bouncing`",
                ));
            }
            let mut store = super::open_store_read_only(&config)?;
            let list = machines::list_bouncing(store.conn())?;
            if *json {
                out.json(&list)?;
            } else if list.is_empty() {
                writeln!(out, "no address is bouncing")?;
            } else {
                for b in list {
                    writeln!(
                        out,
                        "{}  bounces {}  first {}  last {}  ticket {}  [{}]",
                        b.address,
                        b.count,
                        b.first_seen,
                        b.last_seen,
                        b.ticket.as_deref().unwrap_or("-"),
                        b.last_reason
                    )?;
                }
            }
        }
        Command::Clear {
            address,
            send_held,
            json,
        } => {
            let address = address.trim().to_lowercase();
            let mut store = super::open_store(&config)?;
            let tx = store.conn().transaction()?;
            let (was, released) = machines::clear_bouncing(&tx, &address, *send_held)?;
            tx.commit()?;
            if !was && released == 0 {
                return Err(failure(
                    NOINPUT,
                    format!("{address} is not bouncing (see `postdesk address list --bouncing`)"),
                ));
            }
            if *json {
                out.json(&serde_json::json!({
                    "address": address,
                    "was_bouncing": was,
                    "released": released,
                }))?;
            } else {
                writeln!(
                    out,
                    "{address} cleared; {released} held mail released to the outbox"
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
