//! Agents' commands in the decide stage (issue 11, item 5): an empowered
//! agent's `#state resolved`, `Control: priority 4` and `[state=resolved]`
//! (read by [`crate::commands::parse`]) each checked — the lifecycle, the
//! agent's rights, the directory — and turned into plan changes with a
//! history row (actor kind `command`, actor the agent), which the usual
//! apply stage writes. The agent gets one transcript saying, line by
//! line, what was applied and what was refused and why; a mail whose
//! subject is `help` gets the command reference ([`help`]). Two agents
//! answering one ticket within minutes: both replies are relayed, and
//! the second is told in the transcript ([`COLLEAGUE_WINDOW_MINUTES`]).
//!
//! [`gather`] reads the facts commands need (the facts stage calls it for
//! an agent's mail on a ticket); the rest is pure, like
//! [`super::decide`], which calls [`help`] before threading and [`run`]
//! once the agent's reply or note is drafted (`process::agent`). An agent without powers runs nothing: the article
//! says why, and nobody is mailed (a forged From must not get a reply).
//! The per-command checks are in `dispatch.rs`; the operator's CLI
//! (`process::operator`) goes through the same.

mod dispatch;
#[cfg(test)]
mod tests;

use serde::Serialize;

use super::decide::Settings;
use super::facts::Facts;
use super::plan::{Disposition, Notification, Plan};
use crate::commands::{self, Command};
use crate::mail::InboundMail;
use crate::notify::Kind;
use crate::store::commands::{AgentRights, LastReply};
use crate::store::{Db, StoreError};

/// Another agent's reply this recent (in minutes) is mentioned to an
/// agent who replies too: both go to the customer, and the second agent
/// learns that a colleague answered first (OTRS and Zammad warn in their
/// web UI; a mail client needs the warning in the mail it gets back).
pub const COLLEAGUE_WINDOW_MINUTES: i64 = 30;

/// What commands need from the store (read by the facts stage for an
/// agent's mail on a ticket, and by `process::operator`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommandFacts {
    /// The directory's active agents: whom `#assign` may name.
    pub agents: Vec<AgentRights>,
    /// The newest agent's reply on the ticket.
    pub last_reply: Option<LastReply>,
    /// Set by `postdesk ticket set/note/reply`: an operator acts, not mail.
    pub operator: Option<Operator>,
}

/// An operator acting from the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    /// The agent the operator acts as (`--as`): their rights apply. None:
    /// the operator is trusted and recorded as `operator`.
    pub as_agent: Option<String>,
    /// The CLI command, for the trace (`ticket set`).
    pub command: &'static str,
}

/// The actor of changes made by an operator without `--as`.
pub const OPERATOR: &str = "operator";

/// Read what commands on `ticket_id` need.
pub fn gather(db: &Db, ticket_id: i64) -> Result<CommandFacts, StoreError> {
    Ok(CommandFacts {
        agents: crate::store::commands::active_agents(db)?,
        last_reply: crate::store::commands::last_agent_reply(db, ticket_id)?,
        operator: None,
    })
}

/// What the commands of one mail did, for the apply stage (what it takes
/// away; what it adds is in the plan's ticket, participants, assignment
/// and changes) and the transcript.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommandsPlan {
    /// Each command line (and each line that was meant as one), in order.
    pub lines: Vec<Line>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_observers: Vec<String>,
    /// `#assign nobody`: the ticket is left without an agent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unassign: bool,
    /// A colleague replied to the customer shortly before this reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colleague: Option<Colleague>,
}

impl CommandsPlan {
    /// Whether any command line was refused or could not be read.
    pub fn any_refused(&self) -> bool {
        self.lines
            .iter()
            .any(|l| matches!(l.status, Status::Refused | Status::Invalid))
    }
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// As the agent wrote it.
    pub written: String,
    /// `line 3`, `subject`.
    pub source: String,
    pub status: Status,
    /// What was done, or why not.
    pub said: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Applied,
    /// Nothing to do (already so).
    Unchanged,
    Refused,
    /// Written as a command, but not one.
    Invalid,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Unchanged => "unchanged",
            Status::Refused => "refused",
            Status::Invalid => "invalid",
        }
    }
}

/// Another agent who replied first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Colleague {
    /// The directory name, else the display name, else the address.
    pub name: String,
    pub address: String,
    pub minutes: i64,
}

/// Who acts: the agent's directory name (or [`OPERATOR`]), their rw
/// groups, and whether rights are checked at all (an operator without
/// `--as` is trusted).
pub(super) struct Actor {
    pub name: String,
    pub rw: Vec<String>,
    pub trusted: bool,
}

/// **The commands hook.** Run the commands of an agent's mail on a
/// ticket (after `agent::draft`): checked, applied to the plan, and the
/// transcript queued to the agent. Without powers nothing runs.
pub fn run(plan: &mut Plan, f: &Facts, mail: &InboundMail, s: &Settings) {
    let Some(agent) = plan.agent.clone() else {
        return;
    };
    if !matches!(plan.disposition, Disposition::FollowUp { .. }) || plan.article.is_none() {
        return;
    }
    let parsed = commands::parse(&mail.subject, mail.new_text());
    if !agent.powers.granted {
        if parsed.any() {
            let said = format!(
                "{} command line(s) not run: no agent powers ({})",
                parsed.commands.len() + parsed.errors.len(),
                agent.powers.reason
            );
            if let Some(a) = plan.article.as_mut() {
                a.notes.push(said.clone());
            }
            plan.note("commands", said);
        }
        return;
    }
    let cf = f.commands.clone().unwrap_or_default();
    let actor = Actor {
        name: agent.name.clone(),
        rw: (f.directory.sender.agent.as_ref())
            .map(|a| a.rw.clone())
            .unwrap_or_default(),
        trusted: cf.operator.as_ref().is_some_and(|o| o.as_agent.is_none()),
    };
    let mut out = CommandsPlan::default();
    // Errors and commands in the order they were written.
    let mut located: Vec<(usize, Line)> = Vec::new();
    // A lone `#note` is the note itself, not worth a transcript.
    let mut worth_a_transcript = !parsed.errors.is_empty();
    for e in &parsed.errors {
        located.push((
            order(&e.source),
            Line {
                written: e.written.clone(),
                source: e.source.to_string(),
                status: Status::Invalid,
                said: e.reason.clone(),
            },
        ));
    }
    for c in &parsed.commands {
        let (status, said) = dispatch::one(plan, f, s, &actor, &cf, &mut out, &c.command);
        worth_a_transcript |= c.command != Command::Note || status != Status::Applied;
        plan.note(
            "commands",
            format!("{} ({}): {}: {said}", c.written, c.source, status.as_str()),
        );
        located.push((
            order(&c.source),
            Line {
                written: c.written.clone(),
                source: c.source.to_string(),
                status,
                said,
            },
        ));
    }
    located.sort_by_key(|(o, _)| *o);
    out.lines = located.into_iter().map(|(_, l)| l).collect();
    out.colleague = colleague(plan, f, mail, &cf);
    if let Some(c) = &out.colleague {
        let said = format!(
            "{} ({}) replied to the customer {} minute(s) earlier: both replies are relayed",
            c.name, c.address, c.minutes
        );
        if let Some(a) = plan.article.as_mut() {
            a.notes.push(said.clone());
        }
        plan.note("agent", said);
    }
    if (worth_a_transcript || out.colleague.is_some()) && cf.operator.is_none() {
        let language = (cf.agents.iter())
            .find(|a| a.name == actor.name)
            .and_then(|a| a.language.clone());
        transcript(plan, mail, s, language);
    }
    if let Some(a) = plan.agent.as_mut() {
        a.commands = Some(out);
    }
}

/// Sort key: the subject's commands first, then by line.
fn order(source: &commands::Source) -> usize {
    match source {
        commands::Source::Subject => 0,
        commands::Source::Body { line } | commands::Source::Control { line } => *line,
    }
}

/// Another agent's reply on the ticket within [`COLLEAGUE_WINDOW_MINUTES`]
/// before this one (only for a reply: a note reaches no customer).
fn colleague(plan: &Plan, f: &Facts, mail: &InboundMail, cf: &CommandFacts) -> Option<Colleague> {
    let replying = plan
        .agent
        .as_ref()
        .and_then(|a| a.action.as_ref())
        .is_some_and(
            |a| matches!(a, super::agent::AgentAction::Reply { text, .. } if !text.is_empty()),
        );
    let last = cf.last_reply.as_ref()?;
    if !replying || last.from_address.eq_ignore_ascii_case(&mail.from.address) {
        return None;
    }
    let at = chrono::DateTime::parse_from_rfc3339(&last.at).ok()?;
    let minutes = (f.received_at - at.with_timezone(&chrono::Utc))
        .num_minutes()
        .max(0);
    if minutes > COLLEAGUE_WINDOW_MINUTES {
        return None;
    }
    let address = last.from_address.to_lowercase();
    let name = (cf.agents.iter())
        .find(|a| a.addresses.contains(&address))
        .map(|a| a.name.clone())
        .or_else(|| last.from_name.clone().filter(|n| !n.trim().is_empty()))
        .unwrap_or_else(|| address.clone());
    Some(Colleague {
        name,
        address,
        minutes,
    })
}

/// The mailbox a ticket's mail goes out from: its support address's,
/// else the one the mail came through.
fn sending_mailbox(plan: &Plan, s: &Settings) -> Option<String> {
    let Disposition::FollowUp { ticket, .. } = &plan.disposition else {
        return None;
    };
    (s.config.mailboxes.iter())
        .find(|m| m.address == ticket.support_address)
        .map(|m| m.name.clone())
        .or_else(|| plan.route.mailbox.clone())
}

/// Queue the transcript to the agent who wrote the mail, in their
/// language if the directory knows it, else the ticket's.
fn transcript(plan: &mut Plan, mail: &InboundMail, s: &Settings, language: Option<String>) {
    let Some(from_mailbox) = sending_mailbox(plan, s) else {
        plan.note(
            "commands",
            "no mailbox sends for this ticket: no transcript",
        );
        return;
    };
    let language = language
        .or_else(|| plan.ticket.as_ref().map(|t| t.language.clone()))
        .unwrap_or_else(|| s.config.system.default_language.clone());
    plan.note("commands", format!("transcript to {}", mail.from.address));
    plan.notifications.push(Notification {
        kind: Kind::CommandTranscript,
        template: None,
        to: vec![mail.from.address.clone()],
        from_mailbox,
        language,
        suppressed: None,
        held: None,
        note_if_suppressed: true,
        is_agents_alert: false,
    });
}

/// Why the command reference is sent and no ticket made.
pub const HELP: &str =
    "an agent asked for the command reference (subject \"help\"): sent, no ticket";

/// **The help hook** (before threading): a person's mail whose subject is
/// `help` from an active agent of the directory gets the command
/// reference and makes no ticket. Returns true when it did. The reference
/// holds nothing private and goes only to an agent's own address, so the
/// From is not required to be proven; a customer's mail titled `help`
/// is an ordinary mail asking for help, and opens a ticket as usual.
pub fn help(plan: &mut Plan, f: &Facts, mail: &InboundMail, s: &Settings) -> bool {
    let asks = mail.subject.trim().eq_ignore_ascii_case("help");
    let agent = f.directory.sender.agent.as_ref().filter(|a| a.active);
    let (true, Some(agent), None) = (asks, agent, &mail.automatic) else {
        return false;
    };
    let Some(from_mailbox) = plan.route.mailbox.clone() else {
        return false;
    };
    plan.note(
        "commands",
        format!("{HELP}; to agent {} at {}", agent.name, mail.from.address),
    );
    plan.disposition = Disposition::Ignore {
        reason: HELP.to_string(),
    };
    plan.notifications.push(Notification {
        kind: Kind::CommandReference,
        template: None,
        to: vec![mail.from.address.clone()],
        from_mailbox,
        language: f
            .language_with_templates
            .clone()
            .unwrap_or_else(|| s.config.system.default_language.clone()),
        suppressed: None,
        held: None,
        note_if_suppressed: false,
        is_agents_alert: false,
    });
    true
}
