//! `postdesk ticket merge|link|transfer`: an operator's relations between
//! tickets, through the same pure functions as the agents' `#merge`,
//! `#link` and `#transfer` commands and the usual apply (history, the mail
//! they send), as the one command line an agent would write (`#merge B`), through `Processor::operate` (the mail pipeline's stages: the lifecycle's state notice too). Without `--as`
//! the operator acts (no rights asked: whoever can write the database
//! could anyway); with `--as AGENT` the agent needs rw on the queue group
//! of every ticket involved.

use std::io::Write;
use std::process::ExitCode;

use postdesk::commands::LinkKind;
use postdesk::process::operator::Operated;

use super::exit::{failure, DATAERR, NOINPUT, NOPERM};
use super::Cli;

/// Merge a ticket into another: its articles and people move there, mail
/// quoting its number or answering its mail lands there, its requesters
/// get the `merged` mail with the new number. A merged target is followed
/// to the ticket it was merged into.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The ticket merged away (number or pasted tag).
    pub number: String,
    /// The ticket it continues as.
    #[arg(long, value_name = "NUMBER")]
    pub into: String,
    /// Act as this agent (directory name or address); default: the operator.
    #[arg(long = "as", value_name = "AGENT")]
    pub agent: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Link a ticket to another (both show the link, each from its side), or
/// remove a link. Resolving a problem or change tells the requesters of
/// the incidents linked to it (`linked_resolved`).
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("kind").required(true).multiple(false)
    .args(["parent", "child", "problem", "change", "related"])))]
pub struct LinkArgs {
    /// The ticket linked (number or pasted tag).
    pub number: String,
    /// The other ticket is its parent.
    #[arg(long, value_name = "NUMBER")]
    pub parent: Option<String>,
    /// The other ticket is its child.
    #[arg(long, value_name = "NUMBER")]
    pub child: Option<String>,
    /// The other ticket is the problem it is an incident of.
    #[arg(long, value_name = "NUMBER")]
    pub problem: Option<String>,
    /// The other ticket is the change that addresses it.
    #[arg(long, value_name = "NUMBER")]
    pub change: Option<String>,
    /// The tickets are related.
    #[arg(long, value_name = "NUMBER")]
    pub related: Option<String>,
    /// Remove the link instead.
    #[arg(long)]
    pub remove: bool,
    /// Act as this agent (directory name or address); default: the operator.
    #[arg(long = "as", value_name = "AGENT")]
    pub agent: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Hand a ticket and its history (customers' mail and agents' replies,
/// never internal notes) to another address or helpdesk: one mail from
/// the queue's address with the ticket's tag; the ticket becomes
/// `transferred`, and the other side's answers come back into it.
#[derive(clap::Args, Debug)]
pub struct TransferArgs {
    /// The ticket (number or pasted tag).
    pub number: String,
    /// The address to hand it to.
    #[arg(long, value_name = "ADDRESS")]
    pub to: String,
    /// Act as this agent (directory name or address); default: the operator.
    #[arg(long = "as", value_name = "AGENT")]
    pub agent: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

impl LinkArgs {
    fn kind(&self) -> (LinkKind, &str) {
        let pairs = [
            (LinkKind::Parent, &self.parent),
            (LinkKind::Child, &self.child),
            (LinkKind::Problem, &self.problem),
            (LinkKind::Change, &self.change),
            (LinkKind::Related, &self.related),
        ];
        pairs
            .into_iter()
            .find_map(|(k, v)| v.as_deref().map(|v| (k, v)))
            // clap's required group: exactly one of them is given.
            .expect("clap requires one of --parent, --child, --problem, --change, --related")
    }
}

pub fn merge(cli: &Cli, a: &MergeArgs) -> anyhow::Result<ExitCode> {
    run(
        cli,
        &a.number,
        a.agent.clone(),
        "#merge",
        &a.into,
        "ticket merge",
        a.json,
    )
}

pub fn link(cli: &Cli, a: &LinkArgs) -> anyhow::Result<ExitCode> {
    let (kind, other) = a.kind();
    let word = if a.remove { "#unlink" } else { "#link" };
    let command = if a.remove {
        "ticket link --remove"
    } else {
        "ticket link"
    };
    run(
        cli,
        &a.number,
        a.agent.clone(),
        &format!("{word} {}", kind.as_str()),
        other,
        command,
        a.json,
    )
}

pub fn transfer(cli: &Cli, a: &TransferArgs) -> anyhow::Result<ExitCode> {
    run(
        cli,
        &a.number,
        a.agent.clone(),
        "#transfer",
        &a.to,
        "ticket transfer",
        a.json,
    )
}

/// What `ticket merge|link|transfer --json` prints.
#[derive(serde::Serialize)]
struct Done<'a> {
    ticket: &'a str,
    /// What was done (the transcript's line).
    done: &'a str,
    #[serde(flatten)]
    operated: &'a Operated,
}

/// The action as the one command line an agent would write (`#merge B`),
/// through the mail pipeline's stages (`Processor::operate`): the same
/// checks, history and mail (also the lifecycle's state notice).
fn run(
    cli: &Cli,
    typed: &str,
    agent: Option<String>,
    command_word: &str,
    other: &str,
    command: &'static str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let other = if command_word == "#transfer" {
        other.to_string()
    } else {
        let config = super::load_config(&cli.config)?;
        super::ticket::typed_number(&config, other)?
    };
    let line = format!("{command_word} {other}");
    let done = super::ticket_ops::perform(cli, typed, agent, vec![line], None, false, command)?;
    let said = (done.commands.lines.first())
        .map(|l| l.said.clone())
        .unwrap_or_default();
    if !done.applied {
        return Err(failure(refused_code(&said), said));
    }
    let mut out = super::output::stdout();
    if json {
        out.json(&Done {
            ticket: &done.ticket,
            done: &said,
            operated: &done,
        })?;
    } else {
        writeln!(out, "{said}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The exit code of a refused relation: the other ticket unknown, no
/// rights on one of the tickets, or refused as asked.
fn refused_code(why: &str) -> u8 {
    if why.starts_with("no ticket") {
        NOINPUT
    } else if why.contains(" no rw ")
        || why.contains("is not an agent")
        || why.contains("is inactive")
        || why.contains("no agent has rights")
    {
        NOPERM
    } else {
        DATAERR
    }
}
