//! `postdesk ticket list|show` and `postdesk status`. They only read: the
//! database is opened read-only and never migrated.

use std::io::Write;
use std::process::ExitCode;

use postdesk::store::views;
use postdesk::threading::{Numbering, TypedNumberError};

use super::exit::{failure, DATAERR, NOINPUT, USAGE};
use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Open a phone ticket on a customer user's behalf: taken in like
    /// their mail to the queue's support address (rules, the auto-reply
    /// with the number, the agents' alert), assigned to --agent.
    Create(super::ticket_create::Args),
    Merge(super::ticket_relations::MergeArgs),
    Link(super::ticket_relations::LinkArgs),
    Transfer(super::ticket_relations::TransferArgs),
    /// Change a ticket as an agent's commands by mail would (#state,
    /// #assign, …): the same checks (the lifecycle; the agent's rights
    /// with --as), history and notifications. All or nothing: a refused
    /// change leaves the ticket as it was and exits 65.
    Set(super::ticket_ops::SetArgs),
    /// Write an internal note on a ticket (to its agents, never the
    /// customer), as an agent's `#note` mail would.
    Note(super::ticket_ops::NoteArgs),
    /// Answer a ticket's customers as an agent (relayed "Agent via
    /// Support", as the agent's reply by mail would be).
    Reply(super::ticket_ops::ReplyArgs),
    /// List tickets, newest first.
    List {
        /// Only tickets in this state: a name of `[lifecycle]`'s states (any
        /// case), or an alias: new, open, pending, closed (the first state
        /// of that category).
        #[arg(long)]
        state: Option<String>,
        /// Only tickets of this queue.
        #[arg(long)]
        queue: Option<String>,
        /// Only tickets of this customer address.
        #[arg(long)]
        customer: Option<String>,
        /// Only tickets with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// At most this many (0 = all).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Find tickets by the words of their customers' mail (subjects and
    /// text of inbound articles; diacritics ignored; every word must
    /// occur; `word*` matches a prefix). Best match first (bm25, the
    /// subject weighing twice the text), newest first on ties; a query
    /// with a word found in more than 2,000 mails ranks the newest 2,000
    /// matches, those with every word in the subject first.
    Search {
        /// The words to find.
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
        /// At most this many (0 = all ranked).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// What changed on a ticket, oldest first: each field, from what to
    /// what, who or what changed it (rule, agent, command, scheduler,
    /// system) and the mail that caused it.
    History {
        /// Ticket number, e.g. 2026112210000017, or a pasted tag such as
        /// [Ticket#2026112210000017].
        number: String,
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
            Command::List { json, .. }
            | Command::Search { json, .. }
            | Command::History { json, .. }
            | Command::Show { json, .. } => *json,
            Command::Create(a) => a.json,
            Command::Merge(a) => a.json,
            Command::Link(a) => a.json,
            Command::Transfer(a) => a.json,
            Command::Set(a) => a.json,
            Command::Note(a) => a.json,
            Command::Reply(a) => a.json,
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
    match cmd {
        Command::Create(args) => return super::ticket_create::run(cli, args),
        Command::Merge(a) => return super::ticket_relations::merge(cli, a),
        Command::Link(a) => return super::ticket_relations::link(cli, a),
        Command::Transfer(a) => return super::ticket_relations::transfer(cli, a),
        Command::Set(args) => return super::ticket_ops::set(cli, args),
        Command::Note(args) => return super::ticket_ops::note(cli, args),
        Command::Reply(args) => return super::ticket_ops::reply(cli, args),
        _ => {}
    }
    let config = super::load_config(&cli.config)?;
    let mut store = super::open_store_read_only(&config)?;
    let mut out = super::output::stdout();
    match cmd {
        Command::List {
            state,
            queue,
            customer,
            tag,
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
            let state = match state {
                Some(typed) => Some(super::state::resolve(&config, store.conn(), typed)?),
                None => None,
            };
            let filter = views::TicketFilter {
                state,
                queue: queue.clone(),
                customer: customer.clone(),
                tag: tag.clone(),
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
        Command::Search { text, limit, json } => {
            let text = text.join(" ");
            if postdesk::store::search::fts_query(&text).is_none() {
                return Err(failure(
                    USAGE,
                    format!("{text:?} has no word to search for"),
                ));
            }
            let hits = postdesk::store::search::search(store.conn(), &text, *limit)?;
            if *json {
                out.json(&hits)?;
            } else if hits.is_empty() {
                writeln!(out, "no tickets match {text:?}")?;
            } else {
                writeln!(
                    out,
                    "{:<18} {:<10} {:<12} {:<28} SUBJECT",
                    "NUMBER", "STATE", "QUEUE", "CUSTOMER"
                )?;
                for h in hits {
                    writeln!(
                        out,
                        "{:<18} {:<10} {:<12} {:<28} {}",
                        h.number, h.state, h.queue, h.customer, h.subject
                    )?;
                }
            }
        }
        Command::Show {
            number: typed,
            json,
        } => {
            let t = detail(&config, &mut store, typed)?;
            if *json {
                out.json(&t)?;
            } else {
                super::ticket_show::print_ticket(&mut out, &t)?;
            }
        }
        Command::History {
            number: typed,
            json,
        } => {
            let t = detail(&config, &mut store, typed)?;
            super::ticket_history::print(&mut out, &t, *json)?;
        }
        // Dispatched above: they write, this match only reads.
        Command::Create(_)
        | Command::Merge(_)
        | Command::Link(_)
        | Command::Transfer(_)
        | Command::Set(_)
        | Command::Note(_)
        | Command::Reply(_) => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The ticket a user typed the number of, or the error that tells a
/// malformed number, a wrong check digit and an unknown ticket apart.
pub(super) fn detail(
    config: &postdesk::config::Config,
    store: &mut postdesk::store::Store,
    typed: &str,
) -> anyhow::Result<views::TicketDetail> {
    let number = typed_number(config, typed)?;
    match views::ticket(store.conn(), &number)? {
        Some(t) => Ok(t),
        // Only the old check digit fits: no ticket was issued with it, so
        // it is a typo of a current number.
        None if !postdesk::threading::is_valid(&number) => Err(failure(
            DATAERR,
            format!("{number} is not a valid ticket number: its check digit is wrong (a typo?)"),
        )),
        None => Err(failure(
            NOINPUT,
            format!("no ticket {number} (see `postdesk ticket list`)"),
        )),
    }
}

pub fn status(cli: &Cli, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let mut store = super::open_store_read_only(&config)?;
    let s = views::status(store.conn())?;
    let claimed = postdesk::store::outbox::claimed_count(store.conn())?;
    let backlog = views::backlog(store.conn())?;
    // A lock file we may not read (another user's) leaves the rest useful.
    let (daemon, lock_error) = match postdesk::lock::DaemonLock::holder(&config.storage.database) {
        Ok(h) => (h, None),
        Err(e) => {
            let path = postdesk::lock::lock_path(&config.storage.database);
            let msg = format!("cannot read the daemon lock {}: {e}", path.display());
            eprintln!("postdesk status: {msg}");
            (None, Some(msg))
        }
    };
    // The running daemon's live view: fetches, backlogs, last errors.
    let live = match &daemon {
        Some(_) => postdesk::ops::status_file::read(&config.storage.database).unwrap_or_else(|e| {
            eprintln!("postdesk status: cannot read the daemon's status file {e}");
            None
        }),
        None => None,
    };
    let oldest_pending = backlog.outbox_oldest_unix.and_then(|t| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    });
    let mut out = super::output::stdout();
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            status: &'a views::Status,
            /// Pending mail a sender has claimed and not yet finished.
            outbox_claimed: u64,
            /// The running daemon, if any.
            daemon: Option<postdesk::lock::Holder>,
            /// When the oldest pending outbox mail was queued.
            outbox_oldest_pending: Option<String>,
            /// The running daemon's health report (per mailbox: connected,
            /// last fetch, backlog, last error; the last SMTP error).
            live: Option<postdesk::ops::status_file::StatusFile>,
        }
        out.json(&Out {
            status: &s,
            outbox_claimed: claimed,
            daemon,
            outbox_oldest_pending: oldest_pending,
            live,
        })?;
    } else {
        match (&daemon, &lock_error) {
            (Some(h), _) => writeln!(out, "daemon running: {h}")?,
            (None, Some(_)) => writeln!(out, "daemon unknown")?,
            (None, None) => writeln!(out, "daemon not running")?,
        }
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
            "outbox pending {} (claimed {claimed}, oldest {})  sent {}  failed {}",
            s.outbox_pending,
            oldest_pending.as_deref().unwrap_or("-"),
            s.outbox_sent,
            s.outbox_failed
        )?;
        for f in &s.outbox_failed_latest {
            writeln!(
                out,
                "  failed {} {} to {} (ticket {}, {}): {}",
                f.id,
                f.kind,
                f.recipients,
                f.ticket.as_deref().unwrap_or("-"),
                f.created_at,
                f.error
            )?;
        }
        if s.outbox_held > 0 {
            writeln!(
                out,
                "outbox held {} (addresses bouncing: `postdesk address list --bouncing`)",
                s.outbox_held
            )?;
        }
        for h in &s.outbox_held_latest {
            writeln!(
                out,
                "  held {} {} to {} (ticket {}, {}): {}",
                h.id,
                h.kind,
                h.recipients,
                h.ticket.as_deref().unwrap_or("-"),
                h.created_at,
                h.reason
            )?;
        }
        for m in &s.mailboxes {
            writeln!(
                out,
                "mailbox {} uidvalidity {} last uid {} ({})",
                m.mailbox, m.uid_validity, m.last_uid, m.updated_at
            )?;
        }
        if let Some(live) = &live {
            live_status(&mut out, live)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The running daemon's view, from its status file.
fn live_status(
    out: &mut impl Write,
    live: &postdesk::ops::status_file::StatusFile,
) -> std::io::Result<()> {
    let r = &live.report;
    writeln!(
        out,
        "health {} (as of {})",
        if r.ok { "ok" } else { "UNHEALTHY" },
        live.written_at
    )?;
    for p in &r.problems {
        writeln!(out, "  problem: {p}")?;
    }
    for m in &r.mailboxes {
        writeln!(
            out,
            "mailbox {} {}  last fetch {}  backlog {}{}",
            m.name,
            if m.connected {
                "connected"
            } else {
                "not connected"
            },
            m.last_fetch.as_deref().unwrap_or("never"),
            m.backlog,
            m.last_error
                .as_deref()
                .map(|e| format!("  last error: {e}"))
                .unwrap_or_default()
        )?;
    }
    if let Some(e) = &r.outbox.last_smtp_error {
        writeln!(
            out,
            "last SMTP error ({}): {e}",
            r.outbox.last_smtp_error_at.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

/// The ticket number an operator typed (digits or a pasted tag), checked:
/// malformed or a wrong check digit is DATAERR with an example.
pub(super) fn typed_number(
    config: &postdesk::config::Config,
    typed: &str,
) -> anyhow::Result<String> {
    let numbering = Numbering::new(&config.system.ticket_tag, config.system.system_id);
    // An example in the current scheme, for the message below.
    let example = numbering.number(
        "20261122",
        postdesk::threading::Serial {
            value: 17,
            width: 5,
        },
    );
    numbering.typed_number(typed).map_err(|e| match e {
        TypedNumberError::Malformed => failure(
            DATAERR,
            format!(
                "{typed:?} is not a ticket number: expected digits such as {} or a tag such as {}",
                example,
                numbering.subject_tag(&example)
            ),
        ),
        TypedNumberError::WrongCheckDigit => failure(
            DATAERR,
            format!("{typed} is not a valid ticket number: its check digit is wrong (a typo?)"),
        ),
    })
}
