//! `postdesk ticket list|show` and `postdesk status`.

use std::process::ExitCode;

use postdesk::store::views;

use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List tickets, newest first.
    List {
        /// Only tickets in this state (posted, open, waiting, resolved, …).
        #[arg(long)]
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
        /// Ticket number, e.g. 2026112210000017.
        number: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let mut store = super::open_store(&config)?;
    match cmd {
        Command::List {
            state,
            queue,
            customer,
            limit,
            json,
        } => {
            if let Some(s) = state {
                s.parse::<postdesk::tickets::State>()
                    .map_err(anyhow::Error::msg)?;
            }
            let filter = views::TicketFilter {
                state: state.as_ref().map(|s| s.to_lowercase()),
                queue: queue.clone(),
                customer: customer.clone(),
                limit: *limit,
            };
            let list = views::tickets(store.conn(), &filter)?;
            if *json {
                super::print_json(&list)?;
            } else if list.is_empty() {
                println!("no tickets");
            } else {
                println!(
                    "{:<18} {:<10} {:<12} {:<28} {:>4}  SUBJECT",
                    "NUMBER", "STATE", "QUEUE", "CUSTOMER", "ARTS"
                );
                for t in list {
                    println!(
                        "{:<18} {:<10} {:<12} {:<28} {:>4}  {}",
                        t.number, t.state, t.queue, t.customer, t.articles, t.subject
                    );
                }
            }
        }
        Command::Show { number, json } => {
            let Some(t) = views::ticket(store.conn(), number)? else {
                anyhow::bail!("no ticket {number} (see `postdesk ticket list`)");
            };
            if *json {
                super::print_json(&t)?;
            } else {
                println!(
                    "Ticket {}  [{}]  queue {}  priority {}",
                    t.number, t.state, t.queue, t.priority
                );
                println!("Subject:  {}", t.subject);
                println!(
                    "Customer: {}{}",
                    t.customer,
                    t.customer_name
                        .as_ref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                );
                println!("Created:  {}   Updated: {}", t.created_at, t.updated_at);
                for a in &t.articles {
                    println!();
                    println!(
                        "--- #{} {} {} from {} at {}{}",
                        a.id,
                        if a.direction == "in" { "<-" } else { "->" },
                        a.kind,
                        a.from,
                        a.created_at,
                        a.delivery
                            .as_ref()
                            .map(|d| format!(" [{d}]"))
                            .unwrap_or_default()
                    );
                    if let Some(why) = &a.unverified {
                        println!("UNVERIFIED: {why}");
                    }
                    for note in a.note.iter().flat_map(|n| n.lines()) {
                        println!("Note: {note}");
                    }
                    println!("To: {}", a.to.join(", "));
                    println!("Subject: {}", a.subject);
                    for att in &a.attachments {
                        println!(
                            "Attachment: {} ({}, {} bytes)",
                            att.filename, att.content_type, att.size
                        );
                    }
                    println!();
                    println!("{}", a.text.trim_end());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(cli: &Cli, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let mut store = super::open_store(&config)?;
    let s = views::status(store.conn())?;
    let claimed = postdesk::store::outbox::claimed_count(store.conn())?;
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
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            status: &'a views::Status,
            /// Pending mail a sender has claimed and not yet finished.
            outbox_claimed: u64,
            /// The running daemon, if any.
            daemon: Option<postdesk::lock::Holder>,
        }
        super::print_json(&Out {
            status: &s,
            outbox_claimed: claimed,
            daemon,
        })?;
    } else {
        match (&daemon, &lock_error) {
            (Some(h), _) => println!("daemon running: {h}"),
            (None, Some(_)) => println!("daemon unknown"),
            (None, None) => println!("daemon not running"),
        }
        println!(
            "tickets {}  articles {}  receipts {}",
            s.tickets, s.articles, s.receipts
        );
        for (k, v) in &s.receipts_by_status {
            println!("  {k:<12} {v}");
        }
        println!("quarantine held {}", s.quarantine_held);
        println!(
            "outbox pending {} (claimed {claimed})  sent {}  failed {}",
            s.outbox_pending, s.outbox_sent, s.outbox_failed
        );
        for f in &s.outbox_failed_latest {
            println!(
                "  failed {} {} to {} (ticket {}, {}): {}",
                f.id,
                f.kind,
                f.recipients,
                f.ticket.as_deref().unwrap_or("-"),
                f.created_at,
                f.error
            );
        }
        for m in &s.mailboxes {
            println!(
                "mailbox {} uidvalidity {} last uid {} ({})",
                m.mailbox, m.uid_validity, m.last_uid, m.updated_at
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
