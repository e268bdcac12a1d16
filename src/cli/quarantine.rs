//! `postdesk quarantine list|show|retry|drop|release`. `list` and `show`
//! only read (the database is opened read-only); `retry` and `release`
//! process and `drop` writes, so they migrate.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use postdesk::notify::Templates;
use postdesk::process::{Outcome, Processor, Release, ReleaseError, ReleaseTarget, RetryError};
use postdesk::store::views;

use super::exit::{failure, DATAERR, FAILURE, NOINPUT};
use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List held messages, oldest first, with the time each was
    /// quarantined (with --all, retried and dropped ones too).
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
    /// Put a held message where it belongs: on a ticket, or a new one.
    ///
    /// A follow-up on a ticket (--ticket) or a new ticket (--as-new), with
    /// the notifications that calls for (unless --no-notify). The entry is
    /// kept, released, for the record (`list --all`). A message whose
    /// processing crashed or whose structure was refused is not parsed
    /// again: its article says so and carries the original as an .eml
    /// attachment. Exit codes: 66 no such entry, ticket or mailbox, 65 a
    /// malformed ticket number, 1 the entry is not held (already released,
    /// retried or dropped).
    Release {
        /// The entry to release.
        id: i64,
        /// Add it to this ticket as a follow-up (a number or a pasted tag).
        #[arg(long, value_name = "NUMBER", required_unless_present = "as_new")]
        ticket: Option<String>,
        /// Make it a new ticket.
        #[arg(long, conflicts_with = "ticket")]
        as_new: bool,
        /// Send no auto-reply and no agents' alert for it.
        #[arg(long)]
        no_notify: bool,
        /// Count it as received by this [[mailbox]] (default: the mailbox
        /// it was quarantined from, or the one its recipients name).
        #[arg(long, value_name = "NAME")]
        mailbox: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Give up on held entries: they leave the list and stay in the
    /// database for the record (`list --all` and `show` still find them).
    Drop {
        /// Entries to drop.
        #[arg(required = true)]
        ids: Vec<i64>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    pub fn json(&self) -> bool {
        match self {
            Command::List { json, .. }
            | Command::Show { json, .. }
            | Command::Retry { json, .. }
            | Command::Drop { json, .. }
            | Command::Release { json, .. } => *json,
        }
    }
}

fn no_entry(id: i64) -> anyhow::Error {
    failure(
        NOINPUT,
        format!("no quarantine entry {id} (see `postdesk quarantine list --all`)"),
    )
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let mut store = match cmd {
        Command::Retry { .. } | Command::Drop { .. } | Command::Release { .. } => {
            super::open_store(&config)?
        }
        _ => super::open_store_read_only(&config)?,
    };
    let mut out = super::output::stdout();
    match cmd {
        Command::List { all, json } => {
            let list = views::quarantine(store.conn(), *all)?;
            if *json {
                out.json(&list)?;
            } else if list.is_empty() {
                writeln!(out, "quarantine is empty")?;
            } else {
                for q in list {
                    // Its fate, for entries no longer held.
                    let fate = q
                        .ticket
                        .map(|t| format!(" → ticket {t}"))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{:>5} {:<8} {:<20} {:<12} {:<28} {}  [{}]{fate}",
                        q.id,
                        q.status,
                        q.created_at,
                        q.mailbox,
                        q.from.unwrap_or_else(|| "-".into()),
                        q.subject.unwrap_or_else(|| "-".into()),
                        q.error
                    )?;
                }
            }
        }
        Command::Show { id, raw, json } => {
            let Some(q) = views::quarantine_one(store.conn(), *id)? else {
                return Err(no_entry(*id));
            };
            if *raw {
                let Some(bytes) = views::quarantine_raw(store.conn(), *id)? else {
                    return Err(failure(
                        NOINPUT,
                        format!("quarantine entry {id} has no stored copy: it was too large to fetch and is still in mailbox {}", q.mailbox),
                    ));
                };
                out.write_all(&bytes)?;
                out.flush()?;
                return Ok(ExitCode::SUCCESS);
            }
            if *json {
                out.json(&q)?;
            } else {
                let dash = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
                writeln!(
                    out,
                    "Entry {} [{}], attempts {}",
                    q.id, q.status, q.attempts
                )?;
                writeln!(
                    out,
                    "Mailbox: {} (UIDVALIDITY {}, UID {})",
                    q.mailbox,
                    dash(q.uid_validity),
                    dash(q.uid)
                )?;
                writeln!(out, "From: {}", q.from.as_deref().unwrap_or("-"))?;
                writeln!(out, "Subject: {}", q.subject.as_deref().unwrap_or("-"))?;
                writeln!(
                    out,
                    "Message-ID: {}",
                    q.message_id.as_deref().unwrap_or("-")
                )?;
                writeln!(out, "Size: {} bytes, copy kept: {}", q.size, q.raw_kept)?;
                writeln!(out, "Quarantined: {}", q.created_at)?;
                writeln!(out, "Updated: {}", q.updated_at)?;
                writeln!(out, "Error: {}", q.error)?;
                if let Some(t) = &q.ticket {
                    writeln!(out, "Ticket: {t}")?;
                }
            }
        }
        Command::Drop { ids, json } => return drop_entries(&mut out, &mut store, ids, *json),
        Command::Release {
            id,
            ticket,
            as_new: _,
            no_notify,
            mailbox,
            json,
        } => {
            let target = match ticket {
                Some(typed) => ReleaseTarget::Ticket(super::ticket::typed_number(&config, typed)?),
                None => ReleaseTarget::AsNew,
            };
            let r = Release {
                id: *id,
                target,
                notify: !no_notify,
                mailbox: mailbox.clone(),
            };
            return release(&mut out, &config, &mut store, &r, *json);
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
            // A released mail meets the rules like any other.
            let rules = postdesk::reload::read_rules(&config.rules_dir, &templates)?;
            let mut processor = Processor::new(config.clone(), templates);
            processor.set_rules(rules);
            let mut results = Vec::new();
            // Failures, and how many of them name no entry at all.
            let (mut failed, mut unknown) = (0, 0);
            for id in ids {
                let r = processor.retry(&mut store, id);
                let (ok, text) = match &r {
                    Ok(Outcome::Quarantined { error, .. }) => {
                        (false, format!("still failing: {error}"))
                    }
                    Ok(o) => (true, format!("released: {o}")),
                    Err(e) => (false, e.to_string()),
                };
                if !ok {
                    failed += 1;
                    unknown += matches!(r, Err(RetryError::NotFound(_))) as u32;
                }
                if !*json {
                    writeln!(out, "{id}: {text}")?;
                }
                results.push(serde_json::json!({ "id": id, "ok": ok, "result": match r {
                    Ok(o) => serde_json::to_value(o)?,
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                }}));
            }
            if *json {
                out.json(&results)?;
            }
            if failed > 0 {
                // Only unknown ids: "not found"; anything else was printed.
                return Ok(ExitCode::from(if unknown == failed {
                    NOINPUT
                } else {
                    FAILURE
                }));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `quarantine drop`: each entry's result; exit 0 when all were dropped,
/// NOINPUT when only unknown entries failed, FAILURE otherwise.
fn drop_entries(
    out: &mut super::output::Stdout,
    store: &mut postdesk::store::Store,
    ids: &[i64],
    json: bool,
) -> anyhow::Result<ExitCode> {
    use postdesk::store::records::{self, Dropped};
    let mut results = Vec::new();
    let (mut failed, mut unknown) = (0, 0);
    for &id in ids {
        let r = records::drop_quarantined(store.conn(), id)?;
        let text = match &r {
            Dropped::Done => {
                "dropped (kept for the record; `quarantine list --all` shows it)".to_string()
            }
            Dropped::NotFound => {
                format!("no quarantine entry {id} (see `postdesk quarantine list --all`)")
            }
            Dropped::NotHeld(status) => format!("not held but {status}: left as it is"),
        };
        if r != Dropped::Done {
            failed += 1;
            unknown += u32::from(r == Dropped::NotFound);
        }
        if json {
            results.push(serde_json::json!({ "id": id, "ok": r == Dropped::Done, "result": text }));
        } else {
            writeln!(out, "{id}: {text}")?;
        }
    }
    if json {
        out.json(&results)?;
    }
    Ok(match failed {
        0 => ExitCode::SUCCESS,
        f if f == unknown => ExitCode::from(NOINPUT),
        _ => ExitCode::from(FAILURE),
    })
}

/// `quarantine release`: the processing that `retry` does, with the
/// disposition the operator chose. Unknown entry or ticket: NOINPUT; an
/// entry no longer held: FAILURE; an entry too large to have a copy:
/// NOINPUT (its message says to retry it).
fn release(
    out: &mut super::output::Stdout,
    config: &Arc<postdesk::config::Config>,
    store: &mut postdesk::store::Store,
    r: &Release,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (templates, broken) =
        postdesk::notify::load_or_shipped(&config.templates_dir, &config.system.default_language);
    if let Some(e) = broken {
        tracing::error!(
            "mail templates: {e}; the shipped templates are used (`postdesk check` shows it)"
        );
    }
    let rules = postdesk::reload::read_rules(&config.rules_dir, &templates)?;
    let mut processor = Processor::new(config.clone(), templates);
    processor.set_rules(rules);
    let outcome = processor.release(store, r).map_err(|e| {
        let code = match &e {
            ReleaseError::NoTicket(n) if !postdesk::threading::is_valid(n) => DATAERR,
            ReleaseError::NotFound(_)
            | ReleaseError::NoTicket(_)
            | ReleaseError::NoCopy(_)
            | ReleaseError::NoSuchMailbox(_) => NOINPUT,
            ReleaseError::NoMailbox { .. } => super::exit::USAGE,
            ReleaseError::Store(_) => return anyhow::Error::new(e),
            ReleaseError::NotHeld { .. } | ReleaseError::Failed { .. } => FAILURE,
        };
        failure(code, e.to_string())
    })?;
    if json {
        out.json(&serde_json::json!({ "id": r.id, "released": true, "result": outcome }))?;
    } else {
        writeln!(out, "{}: released: {outcome}", r.id)?;
    }
    Ok(ExitCode::SUCCESS)
}
