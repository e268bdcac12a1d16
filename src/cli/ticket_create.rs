//! `postdesk ticket create`: a phone ticket (OTRS), opened by an agent on
//! a customer user's behalf. The command writes the call down as the mail
//! the customer user would have sent to the queue's support address and
//! takes it in through the same pipeline as `ingest` (rules, auto-reply
//! with the number, agents' alert), so a phone ticket is handled like any
//! other. Then, in a second transaction, the agent who took the call is
//! assigned, the service asked for is set when the customer user is
//! entitled to it (`process::services::entitled`), and the article notes
//! how the ticket was opened (and why a service was not set).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use postdesk::process::{Incoming, Origin, Outcome, Processor};
use postdesk::store::directory::{actors, lookup, people};

use super::exit::{failure, DATAERR, NOINPUT, SOFTWARE};
use super::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The queue; a [[mailbox]] must feed it (its address is the ticket's
    /// support address).
    #[arg(long)]
    pub queue: String,
    /// The customer user the ticket is for (a known one:
    /// `postdesk customer-user add`).
    #[arg(long)]
    pub customer_user: String,
    #[arg(long)]
    pub subject: String,
    /// The text, from a file ("-" for standard input).
    #[arg(long, conflicts_with = "body", required_unless_present = "body")]
    pub body_file: Option<PathBuf>,
    /// The text.
    #[arg(long)]
    pub body: Option<String>,
    /// The address of the agent who took the call: assigned to the ticket.
    #[arg(long)]
    pub agent: Option<String>,
    /// The ticket's service (instead of the queue's default): set only
    /// when the customer user is entitled to it, else the article says why.
    #[arg(long)]
    pub service: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    super::init_logging(cli, Some(&config));
    let mailbox = config
        .mailboxes
        .iter()
        .find(|m| m.queue == args.queue)
        .ok_or_else(|| {
            failure(
                NOINPUT,
                format!(
                    "no [[mailbox]] feeds queue {:?}: a phone ticket needs its support address",
                    args.queue
                ),
            )
        })?;
    if args.subject.trim().is_empty() {
        return Err(failure(DATAERR, "the subject must not be empty"));
    }
    let body = super::ticket_ops::body(&args.body, &args.body_file)?;
    let mut store = super::open_store(&config)?;
    let user = people::customer_user(store.conn(), &args.customer_user)?.ok_or_else(|| {
        failure(
            NOINPUT,
            format!(
                "no customer user with address {} (postdesk customer-user add {})",
                args.customer_user, args.customer_user
            ),
        )
    })?;
    let agent = match &args.agent {
        Some(a) => {
            let who = lookup::sender(store.conn(), a)?;
            Some(who.agent.map(|m| m.name).ok_or_else(|| {
                failure(
                    NOINPUT,
                    format!("no agent with address {a} (postdesk agent list)"),
                )
            })?)
        }
        None => None,
    };
    let raw = phone_mail(
        &config.system.fqdn,
        &user,
        &mailbox.address,
        &args.subject,
        &body,
    )?;
    let (templates, _) =
        postdesk::notify::load_or_shipped(&config.templates_dir, &config.system.default_language);
    let rules = postdesk::reload::read_rules(&config.rules_dir, &templates)?;
    let mut processor = Processor::new(config.clone(), templates);
    processor.set_rules(rules);
    let item = Incoming {
        origin: Origin::Pipe {
            mailbox: Some(mailbox.name.clone()),
        },
        size: raw.len() as u64,
        raw,
        fetch_error: None,
    };
    let outcome = processor
        .process_batch(&mut store, std::slice::from_ref(&item))?
        .pop()
        .ok_or_else(|| failure(SOFTWARE, "internal: no outcome"))?;
    let Outcome::Created { ticket } = &outcome else {
        return Err(failure(
            SOFTWARE,
            format!("the phone ticket was not created: {outcome}"),
        ));
    };
    let mut note = match &agent {
        Some(a) => format!("phone ticket: opened by agent {a} with `postdesk ticket create`"),
        None => "phone ticket: opened with `postdesk ticket create`".to_string(),
    };
    let tx = store.conn().transaction()?;
    // The service asked for, if the customer user is entitled to it (the
    // same decision as a rule's or the queue's default in processing).
    let service = match &args.service {
        Some(s) => {
            let d = postdesk::process::permit::DirectoryFacts {
                services: if lookup::has_services(&tx)? {
                    Some(vec![lookup::entitlement(&tx, user.key())?])
                } else {
                    None
                },
                ..Default::default()
            };
            match postdesk::process::services::entitled(&d, user.key(), s.trim()) {
                Ok(()) => {
                    actors::set_phone_service(&tx, ticket, s.trim(), agent.as_deref())?;
                    Some(Ok(s.trim().to_string()))
                }
                Err(why) => {
                    note.push_str(&format!("\nservice not set: {why}"));
                    Some(Err(why))
                }
            }
        }
        None => None,
    };
    actors::mark_phone_ticket(&tx, ticket, agent.as_deref(), &note)?;
    tx.commit()
        .with_context(|| format!("ticket {ticket} was created; assigning its agent failed"))?;
    let mut out = super::output::stdout();
    if args.json {
        out.json(&serde_json::json!({
            "outcome": "created",
            "ticket": ticket,
            "queue": args.queue,
            "customer_user": user.key(),
            "agent": agent,
            "service": service.as_ref().and_then(|s| s.as_ref().ok()),
            "service_refused": service.as_ref().and_then(|s| s.as_ref().err()),
        }))?;
    } else {
        writeln!(
            out,
            "created ticket {ticket} for {} in queue {}",
            user.key(),
            args.queue
        )?;
        match &service {
            Some(Ok(s)) => writeln!(out, "service {s}")?,
            Some(Err(why)) => writeln!(out, "service not set: {why}")?,
            None => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The call as the customer user's mail to the support address.
fn phone_mail(
    fqdn: &str,
    user: &postdesk::directory::CustomerUser,
    to: &str,
    subject: &str,
    body: &str,
) -> anyhow::Result<Vec<u8>> {
    let address = |a: &str| {
        a.parse::<lettre::Address>()
            .map_err(|e| failure(DATAERR, format!("{a}: {e}")))
    };
    let from = lettre::message::Mailbox::new(user.name.clone(), address(user.key())?);
    let id = format!(
        "<phone-{}-{}@{fqdn}>",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
        fastrand::u64(..)
    );
    let mut b = lettre::Message::builder()
        .from(from)
        .to(lettre::message::Mailbox::new(None, address(to)?))
        .subject(subject.trim())
        .message_id(Some(id));
    if let Some(l) = &user.language {
        use lettre::message::header::{HeaderName, HeaderValue};
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Content-Language"),
            l.clone(),
        ));
    }
    let m = b
        .body(body.to_string())
        .map_err(|e| failure(DATAERR, format!("the phone ticket's mail: {e}")))?;
    Ok(m.formatted())
}
