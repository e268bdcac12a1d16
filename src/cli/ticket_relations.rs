//! `postdesk ticket merge|link|transfer`: an operator's relations between
//! tickets, through the same pure functions as the agents' `#merge`,
//! `#link` and `#transfer` commands and the usual apply (history, the mail
//! they send), in one transaction (`Processor::relate`). Without `--as`
//! the operator acts (no rights asked: whoever can write the database
//! could anyway); with `--as AGENT` the agent needs rw on the queue group
//! of every ticket involved.

use std::io::Write;
use std::process::ExitCode;

use postdesk::commands::LinkKind;
use postdesk::process::relations::{Action, OperatorError};
use postdesk::process::Processor;
use postdesk::store::directory::lookup;

use super::exit::{failure, DATAERR, NOINPUT, NOPERM, SOFTWARE};
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
    let action = Action::Merge {
        into: a.into.clone(),
    };
    run(cli, &a.number, a.agent.as_deref(), action, a.json)
}

pub fn link(cli: &Cli, a: &LinkArgs) -> anyhow::Result<ExitCode> {
    let (kind, other) = a.kind();
    let action = Action::Link {
        kind,
        other: other.to_string(),
        remove: a.remove,
    };
    run(cli, &a.number, a.agent.as_deref(), action, a.json)
}

pub fn transfer(cli: &Cli, a: &TransferArgs) -> anyhow::Result<ExitCode> {
    let action = Action::Transfer { to: a.to.clone() };
    run(cli, &a.number, a.agent.as_deref(), action, a.json)
}

fn run(
    cli: &Cli,
    typed: &str,
    agent: Option<&str>,
    mut action: Action,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    super::init_logging(cli, Some(&config));
    let number = super::ticket::typed_number(&config, typed)?;
    match &mut action {
        Action::Merge { into: other } | Action::Link { other, .. } => {
            *other = super::ticket::typed_number(&config, other)?;
        }
        Action::Transfer { .. } => {}
    }
    let mut store = super::open_store(&config)?;
    let agent = match agent {
        Some(a) if a.contains('@') => Some(
            lookup::sender(store.conn(), a)?
                .agent
                .map(|m| m.name)
                .ok_or_else(|| {
                    failure(
                        NOINPUT,
                        format!("no agent with address {a} (postdesk agent list)"),
                    )
                })?,
        ),
        other => other.map(str::to_string),
    };
    let (templates, _) =
        postdesk::notify::load_or_shipped(&config.templates_dir, &config.system.default_language);
    let processor = Processor::new(config.clone(), templates);
    let done = processor
        .relate(&mut store, &number, agent.as_deref(), &action)
        .map_err(|e| {
            let code = match &e {
                OperatorError::NoTicket(_)
                | OperatorError::NoAgent(_)
                | OperatorError::NoOther(_) => NOINPUT,
                OperatorError::Forbidden(_) => NOPERM,
                OperatorError::Refused(_) => DATAERR,
                OperatorError::Failed(_) | OperatorError::Store(_) => SOFTWARE,
            };
            failure(code, e.to_string())
        })?;
    let mut out = super::output::stdout();
    if json {
        out.json(&done)?;
    } else {
        writeln!(out, "{}", done.done)?;
    }
    Ok(ExitCode::SUCCESS)
}
