//! `postdesk quarantine list|show|retry`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use postdesk::notify::Templates;
use postdesk::process::{Outcome, Processor};
use postdesk::store::views;

use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List held messages (with --all, retried ones too).
    List {
        #[arg(long)]
        all: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show one entry; --raw writes the original message to stdout.
    Show {
        id: i64,
        #[arg(long)]
        raw: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Process held messages again (after fixing config or templates).
    Retry {
        /// Entries to retry.
        #[arg(required_unless_present = "all")]
        ids: Vec<i64>,
        /// Retry every held entry.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let mut store = super::open_store(&config)?;
    match cmd {
        Command::List { all, json } => {
            let list = views::quarantine(store.conn(), *all)?;
            if *json {
                super::print_json(&list)?;
            } else if list.is_empty() {
                println!("quarantine is empty");
            } else {
                for q in list {
                    println!(
                        "{:>5} {:<8} {:<12} {:<28} {}  [{}]",
                        q.id,
                        q.status,
                        q.mailbox,
                        q.from.unwrap_or_else(|| "-".into()),
                        q.subject.unwrap_or_else(|| "-".into()),
                        q.error
                    );
                }
            }
        }
        Command::Show { id, raw, json } => {
            if *raw {
                let Some(bytes) = views::quarantine_raw(store.conn(), *id)? else {
                    anyhow::bail!("quarantine entry {id} has no stored copy (or does not exist)");
                };
                std::io::stdout().write_all(&bytes)?;
                return Ok(ExitCode::SUCCESS);
            }
            let Some(q) = views::quarantine_one(store.conn(), *id)? else {
                anyhow::bail!("no quarantine entry {id} (see `postdesk quarantine list --all`)");
            };
            if *json {
                super::print_json(&q)?;
            } else {
                println!("Entry {} [{}], attempts {}", q.id, q.status, q.attempts);
                println!(
                    "Mailbox: {} (UIDVALIDITY {:?}, UID {:?})",
                    q.mailbox, q.uid_validity, q.uid
                );
                println!("From: {}", q.from.as_deref().unwrap_or("-"));
                println!("Subject: {}", q.subject.as_deref().unwrap_or("-"));
                println!("Message-ID: {}", q.message_id.as_deref().unwrap_or("-"));
                println!("Size: {} bytes, copy kept: {}", q.size, q.raw_kept);
                println!("Error: {}", q.error);
                if let Some(t) = &q.ticket {
                    println!("Ticket: {t}");
                }
            }
        }
        Command::Retry { ids, all, json } => {
            let ids: Vec<i64> = if *all {
                views::quarantine(store.conn(), false)?
                    .into_iter()
                    .map(|q| q.id)
                    .collect()
            } else {
                ids.clone()
            };
            let templates = Arc::new(Templates::load(
                &config.templates_dir,
                &config.system.default_language,
            )?);
            let processor = Processor::new(config.clone(), templates);
            let mut results = Vec::new();
            let mut failed = false;
            for id in ids {
                let r = processor.retry(&mut store, id);
                let (ok, text) = match &r {
                    Ok(Outcome::Quarantined { error, .. }) => {
                        (false, format!("still failing: {error}"))
                    }
                    Ok(o) => (true, serde_json::to_string(o)?),
                    Err(e) => (false, e.to_string()),
                };
                failed |= !ok;
                if !*json {
                    println!(
                        "{id}: {}",
                        if ok {
                            format!("released {text}")
                        } else {
                            text.clone()
                        }
                    );
                }
                results.push(serde_json::json!({ "id": id, "ok": ok, "result": match r {
                    Ok(o) => serde_json::to_value(o)?,
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                }}));
            }
            if *json {
                super::print_json(&results)?;
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
