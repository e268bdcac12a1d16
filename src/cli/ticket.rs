//! `postdesk ticket list|show` and `postdesk status`. They only read: the
//! database is opened read-only and never migrated.

use std::io::Write;
use std::process::ExitCode;

use postdesk::store::views;
use postdesk::threading::{Numbering, TypedNumberError};
use postdesk::tickets::State;

use super::exit::{failure, DATAERR, NOINPUT};
use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List tickets, newest first.
    List {
        /// Only tickets in this state.
        #[arg(long, ignore_case = true, value_parser = clap::builder::PossibleValuesParser::new(State::ALL.map(State::as_str)))]
        state: Option<String>,
        /// Only tickets of this queue.
        #[arg(long)]
        queue: Option<String>,
        /// Only tickets of this customer address.
        #[arg(long)]
        customer: Option<String>,
        /// At most this many (0 = all).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket with its articles.
    Show {
        /// Ticket number, e.g. 2026112210000017, or a pasted tag such as
        /// [Ticket#2026112210000017].
        number: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    pub fn json(&self) -> bool {
        match self {
            Command::List { json, .. } | Command::Show { json, .. } => *json,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let mut store = super::open_store_read_only(&config)?;
    let mut out = super::output::stdout();
    match cmd {
        Command::List {
            state,
            queue,
            customer,
            limit,
            json,
        } => {
            if let Some(q) = queue {
                // Configured queues, and those the database still knows.
                let mut known: Vec<String> = config.queues.iter().map(|q| q.name.clone()).collect();
                known.extend(views::queue_names(store.conn())?);
                known.sort();
                known.dedup();
                if !known.contains(q) {
                    return Err(failure(
                        NOINPUT,
                        format!("no queue named {q:?}; the queues are: {}", known.join(", ")),
                    ));
                }
            }
            let filter = views::TicketFilter {
                state: state.as_ref().map(|s| s.to_lowercase()),
                queue: queue.clone(),
                customer: customer.clone(),
                limit: *limit,
            };
            let list = views::tickets(store.conn(), &filter)?;
            if *json {
                out.json(&list)?;
            } else if list.is_empty() {
                writeln!(out, "no tickets")?;
            } else {
                writeln!(
                    out,
                    "{:<18} {:<10} {:<12} {:<28} {:>4}  SUBJECT",
                    "NUMBER", "STATE", "QUEUE", "CUSTOMER", "ARTS"
                )?;
                for t in list {
                    writeln!(
                        out,
                        "{:<18} {:<10} {:<12} {:<28} {:>4}  {}",
                        t.number, t.state, t.queue, t.customer, t.articles, t.subject
                    )?;
                }
            }
        }
        Command::Show {
            number: typed,
            json,
        } => {
            let numbering = Numbering::new(&config.system.ticket_tag, config.system.system_id);
            let number = numbering.typed_number(typed).map_err(|e| match e {
                TypedNumberError::Malformed => failure(
                    DATAERR,
                    format!(
                        "{typed:?} is not a ticket number: expected digits such as {} or a tag such as {}",
                        numbering.number("20261122", 1),
                        numbering.subject_tag(&numbering.number("20261122", 1))
                    ),
                ),
                TypedNumberError::WrongCheckDigit => failure(
                    DATAERR,
                    format!("{typed} is not a valid ticket number: its check digit is wrong (a typo?)"),
                ),
            })?;
            let Some(t) = views::ticket(store.conn(), &number)? else {
                return Err(failure(
                    NOINPUT,
                    format!("no ticket {number} (see `postdesk ticket list`)"),
                ));
            };
            if *json {
                out.json(&t)?;
            } else {
                print_ticket(&mut out, &t)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_ticket(out: &mut impl Write, t: &views::TicketDetail) -> std::io::Result<()> {
    writeln!(
        out,
        "Ticket {}  [{}]  queue {}  priority {}",
        t.number, t.state, t.queue, t.priority
    )?;
    writeln!(out, "Subject:  {}", t.subject)?;
    match &t.customer_name {
        Some(name) => writeln!(out, "Customer: {} ({name})", t.customer)?,
        None => writeln!(out, "Customer: {}", t.customer)?,
    }
    writeln!(
        out,
        "Created:  {}   Updated: {}",
        t.created_at, t.updated_at
    )?;
    for a in &t.articles {
        writeln!(out)?;
        write!(
            out,
            "--- #{} {} {} from {} at {}",
            a.id,
            if a.direction == "in" { "<-" } else { "->" },
            a.kind,
            a.from,
            a.created_at,
        )?;
        match &a.delivery {
            Some(d) => writeln!(out, " [{d}]")?,
            None => writeln!(out)?,
        }
        writeln!(out, "To: {}", a.to.join(", "))?;
        writeln!(out, "Subject: {}", a.subject)?;
        for att in &a.attachments {
            writeln!(
                out,
                "Attachment: {} ({}, {} bytes)",
                att.filename, att.content_type, att.size
            )?;
        }
        writeln!(out)?;
        writeln!(out, "{}", a.text.trim_end())?;
    }
    Ok(())
}

pub fn status(cli: &Cli, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let mut store = super::open_store_read_only(&config)?;
    let s = views::status(store.conn())?;
    let mut out = super::output::stdout();
    if args.json {
        out.json(&s)?;
    } else {
        writeln!(
            out,
            "tickets {}  articles {}  receipts {}",
            s.tickets, s.articles, s.receipts
        )?;
        for (k, v) in &s.receipts_by_status {
            writeln!(out, "  {k:<12} {v}")?;
        }
        writeln!(out, "quarantine held {}", s.quarantine_held)?;
        writeln!(
            out,
            "outbox pending {}  sent {}  failed {}",
            s.outbox_pending, s.outbox_sent, s.outbox_failed
        )?;
        for m in &s.mailboxes {
            writeln!(
                out,
                "mailbox {} uidvalidity {} last uid {} ({})",
                m.mailbox, m.uid_validity, m.last_uid, m.updated_at
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
