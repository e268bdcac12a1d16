//! `postdesk ticket set|note|reply`: an operator's or a script's action
//! on a ticket, handled like an agent's mail by `process::operator` (the
//! same command checks, history and notifications). This file only reads
//! the arguments, writes them as command lines, and prints the outcome.
//! All or nothing: when a command is refused nothing is written, each
//! line says why, and the exit code is EX_DATAERR.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use postdesk::process::operator::{Operated, OperatorError, Request};
use postdesk::process::Processor;

use super::exit::{failure, DATAERR, NOINPUT, NOPERM, USAGE};
use super::Cli;

#[derive(clap::Args, Debug)]
pub struct SetArgs {
    /// Ticket number, e.g. 2026112210000017, or a pasted tag.
    pub number: String,
    /// Move the ticket to this state (a name or new, open, pending, closed).
    #[arg(long)]
    pub state: Option<String>,
    /// Assign to an agent (name or address), `me` (with --as) or `nobody`.
    #[arg(long)]
    pub assign: Option<String>,
    /// Give the ticket to a group of the directory.
    #[arg(long)]
    pub group: Option<String>,
    /// Move the ticket to another queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Set the priority (1-6); it is no longer computed.
    #[arg(long)]
    pub priority: Option<u8>,
    /// Set the urgency (1-5); the priority follows the matrix.
    #[arg(long)]
    pub urgency: Option<u8>,
    /// Set the impact (1-5); the priority follows the matrix.
    #[arg(long)]
    pub impact: Option<u8>,
    /// Set the service (one the customer user is entitled to).
    #[arg(long)]
    pub service: Option<String>,
    /// Set the type: incident, request, problem or change.
    #[arg(long = "type")]
    pub ticket_type: Option<String>,
    /// Add a tag (repeatable).
    #[arg(long)]
    pub tag_add: Vec<String>,
    /// Remove a tag (repeatable).
    #[arg(long)]
    pub tag_remove: Vec<String>,
    /// Add an observer by address (repeatable).
    #[arg(long)]
    pub cc_add: Vec<String>,
    /// Remove an observer by address (repeatable).
    #[arg(long)]
    pub cc_remove: Vec<String>,
    /// Act as this agent (name or address): their rights apply and the
    /// history names them. Without it the operator is trusted and
    /// recorded as `operator`.
    #[arg(long = "as", value_name = "AGENT")]
    pub as_agent: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct NoteArgs {
    /// Ticket number, e.g. 2026112210000017, or a pasted tag.
    pub number: String,
    /// The text.
    #[arg(long, required_unless_present = "body_file")]
    pub body: Option<String>,
    /// The text, from a file ("-" for standard input).
    #[arg(long, conflicts_with = "body")]
    pub body_file: Option<PathBuf>,
    /// Act as this agent (name or address); without it: the operator.
    #[arg(long = "as", value_name = "AGENT")]
    pub as_agent: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ReplyArgs {
    /// Ticket number, e.g. 2026112210000017, or a pasted tag.
    pub number: String,
    /// The text.
    #[arg(long, required_unless_present = "body_file")]
    pub body: Option<String>,
    /// The text, from a file ("-" for standard input).
    #[arg(long, conflicts_with = "body")]
    pub body_file: Option<PathBuf>,
    /// The agent who answers (name or address): the customer gets
    /// "Agent via Support".
    #[arg(long = "as", value_name = "AGENT")]
    pub as_agent: String,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// A value that goes on a command line: one line, not empty.
fn value(flag: &str, v: &str) -> anyhow::Result<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().any(char::is_control) {
        return Err(failure(
            USAGE,
            format!("--{flag}: give one non-empty value on one line"),
        ));
    }
    Ok(v.to_string())
}

fn set_lines(a: &SetArgs) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let one = [
        ("state", &a.state),
        ("assign", &a.assign),
        ("group", &a.group),
        ("queue", &a.queue),
        ("service", &a.service),
        ("type", &a.ticket_type),
    ];
    for (flag, v) in one {
        if let Some(v) = v {
            lines.push(format!("#{flag} {}", value(flag, v)?));
        }
    }
    for (flag, v) in [
        ("priority", a.priority),
        ("urgency", a.urgency),
        ("impact", a.impact),
    ] {
        if let Some(v) = v {
            lines.push(format!("#{flag} {v}"));
        }
    }
    let many = [
        ("tag-add", "#tag add", &a.tag_add),
        ("tag-remove", "#tag remove", &a.tag_remove),
        ("cc-add", "#cc add", &a.cc_add),
        ("cc-remove", "#cc remove", &a.cc_remove),
    ];
    for (flag, command, vs) in many {
        for v in vs {
            lines.push(format!("{command} {}", value(flag, v)?));
        }
    }
    if lines.is_empty() {
        return Err(failure(
            USAGE,
            "nothing to set: give at least one of --state, --assign, --group, --queue, \
             --priority, --urgency, --impact, --service, --type, --tag-add, --tag-remove, \
             --cc-add, --cc-remove",
        ));
    }
    Ok(lines)
}

/// The text of `--body` or `--body-file` ("-": standard input), refused
/// when empty.
pub(super) fn body(body: &Option<String>, file: &Option<PathBuf>) -> anyhow::Result<String> {
    let text = match (body, file) {
        (Some(b), _) => b.clone(),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the text from standard input")?;
            s
        }
        (None, Some(p)) => std::fs::read_to_string(p).map_err(|e| {
            failure(
                NOINPUT,
                format!("reading the text from {}: {e}", p.display()),
            )
        })?,
        (None, None) => return Err(failure(USAGE, "give --body or --body-file")),
    };
    if text.trim().is_empty() {
        return Err(failure(DATAERR, "the text must not be empty"));
    }
    Ok(text)
}

pub fn set(cli: &Cli, a: &SetArgs) -> anyhow::Result<ExitCode> {
    let lines = set_lines(a)?;
    operate(
        cli,
        &a.number,
        a.as_agent.clone(),
        lines,
        None,
        false,
        "ticket set",
        a.json,
    )
}

pub fn note(cli: &Cli, a: &NoteArgs) -> anyhow::Result<ExitCode> {
    let text = body(&a.body, &a.body_file)?;
    let who = a.as_agent.clone();
    operate(
        cli,
        &a.number,
        who,
        Vec::new(),
        Some(text),
        true,
        "ticket note",
        a.json,
    )
}

pub fn reply(cli: &Cli, a: &ReplyArgs) -> anyhow::Result<ExitCode> {
    let text = body(&a.body, &a.body_file)?;
    let who = Some(a.as_agent.clone());
    operate(
        cli,
        &a.number,
        who,
        Vec::new(),
        Some(text),
        false,
        "ticket reply",
        a.json,
    )
}

/// Carry out an operator's action through `Processor::operate` (the
/// mail pipeline's stages), mapping its errors to exit codes.
pub(super) fn perform(
    cli: &Cli,
    typed: &str,
    as_agent: Option<String>,
    lines: Vec<String>,
    text: Option<String>,
    note: bool,
    command: &'static str,
) -> anyhow::Result<Operated> {
    let config = super::load_config(&cli.config)?;
    super::init_logging(cli, Some(&config));
    let number = super::ticket::typed_number(&config, typed)?;
    let mut store = super::open_store(&config)?;
    let (templates, _) =
        postdesk::notify::load_or_shipped(&config.templates_dir, &config.system.default_language);
    let rules = postdesk::reload::read_rules(&config.rules_dir, &templates)?;
    let mut processor = Processor::new(config.clone(), templates);
    processor.set_rules(rules);
    let req = Request {
        number,
        as_agent,
        lines,
        text,
        note,
        command,
    };
    processor.operate(&mut store, &req).map_err(|e| match e {
        OperatorError::NoTicket(_) | OperatorError::NoAgent(_) => failure(NOINPUT, e.to_string()),
        OperatorError::Inactive(_) | OperatorError::NoPowers(_) => failure(NOPERM, e.to_string()),
        OperatorError::Failed(_) => failure(DATAERR, e.to_string()),
        OperatorError::Store(s) => anyhow::Error::new(s).context("writing the ticket"),
    })
}

#[allow(clippy::too_many_arguments)]
fn operate(
    cli: &Cli,
    typed: &str,
    as_agent: Option<String>,
    lines: Vec<String>,
    text: Option<String>,
    note: bool,
    command: &'static str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let done = perform(cli, typed, as_agent, lines, text, note, command)?;
    let mut out = super::output::stdout();
    if json {
        out.json(&done)?;
    } else {
        for l in &done.commands.lines {
            writeln!(out, "{}: {} ({})", l.status.as_str(), l.written, l.said)?;
        }
        if let Some(c) = &done.commands.colleague {
            writeln!(
                out,
                "note: {} <{}> replied to the customer {} minute(s) earlier",
                c.name, c.address, c.minutes
            )?;
        }
        if done.applied {
            for (kind, to) in &done.sent {
                writeln!(out, "sent: {kind} to {}", to.join(", "))?;
            }
            writeln!(out, "ticket {} updated by {}", done.ticket, done.actor)?;
        } else {
            writeln!(
                out,
                "nothing changed on ticket {}: a command was refused",
                done.ticket
            )?;
        }
    }
    Ok(if done.applied {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(DATAERR)
    })
}
