//! `postdesk explain`: what processing would do with a mail, and why,
//! without taking it in. Runs the parse, facts and decide stages (with the
//! rules folder, each rule's trace shown) against the database opened
//! read-only; the apply stage never runs.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use postdesk::notify::Templates;
use postdesk::process::explain::Explanation;
use postdesk::process::plan::{Disposition, Plan};
use postdesk::process::Processor;
use postdesk::store::views;

use super::exit::{failure, CONFIG, DATAERR, NOINPUT};
use super::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A raw mail (.eml); "-" for standard input.
    #[arg(required_unless_present = "article", conflicts_with = "article")]
    pub file: Option<PathBuf>,
    /// An inbound article already taken in: its stored mail, explained as
    /// if it arrived now (it does not count as an earlier copy of itself).
    #[arg(long)]
    pub article: Option<i64>,
    /// The [[mailbox]] the mail comes through. Default: by its recipients
    /// (for --article, the mailbox that received it).
    #[arg(long, short)]
    pub mailbox: Option<String>,
    /// Print the facts and the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    if let Some(name) = &args.mailbox {
        super::mailbox_named(&config, name, NOINPUT)?;
    }
    let mut store = super::open_store_read_only(&config)?;
    let (raw, mailbox) = match (args.article, &args.file) {
        (Some(id), _) => {
            let src = views::article_source(store.conn(), id)?.ok_or_else(|| {
                failure(
                    NOINPUT,
                    format!("no article {id} (see `postdesk ticket show`)"),
                )
            })?;
            if src.direction != "in" {
                return Err(failure(
                    DATAERR,
                    format!(
                        "article {id} is mail postdesk sent: only inbound mail can be explained"
                    ),
                ));
            }
            let raw = src
                .raw
                .ok_or_else(|| failure(NOINPUT, format!("article {id} has no stored mail")))?;
            let received = args
                .mailbox
                .clone()
                .or(src.mailbox.filter(|m| config.mailbox(m).is_some()));
            (raw, received)
        }
        (None, file) => {
            let limit = config.system.max_message_bytes;
            let mut raw = Vec::new();
            match file.as_deref() {
                Some(p) if p.as_os_str() != "-" => std::fs::File::open(p)
                    .and_then(|f| f.take(limit + 1).read_to_end(&mut raw))
                    .map_err(|e| failure(NOINPUT, format!("reading {}: {e}", p.display())))?,
                _ => std::io::stdin()
                    .lock()
                    .take(limit + 1)
                    .read_to_end(&mut raw)
                    .context("reading the mail from standard input")?,
            };
            (raw, args.mailbox.clone())
        }
    };
    let templates = Templates::load(&config.templates_dir, &config.system.default_language)
        .context("loading mail templates")?;
    let rules = postdesk::reload::read_rules(&config.rules_dir, &templates).map_err(|e| {
        failure(
            CONFIG,
            format!("rules folder: {e} (see `postdesk rules check`)"),
        )
    })?;
    let mut processor = Processor::new(config.clone(), Arc::new(templates));
    processor.set_rules(rules);
    let e = processor.explain(store.conn(), &raw, mailbox.as_deref(), args.article)?;
    let mut out = super::output::stdout();
    if args.json {
        out.json(&e)?;
    } else {
        print(&mut out, &e)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print(out: &mut impl Write, e: &Explanation) -> std::io::Result<()> {
    let p = &e.plan;
    if let Some(m) = &e.mail {
        let to: Vec<&str> = m.to.iter().map(|a| a.address.as_str()).collect();
        writeln!(
            out,
            "Mail:     from {} to {}",
            m.from.address,
            to.join(", ")
        )?;
        writeln!(out, "Subject:  {}", m.subject)?;
        match &m.automatic {
            Some(why) => writeln!(out, "Class:    automatic ({why})")?,
            None => writeln!(out, "Class:    a person's mail")?,
        }
    }
    match &p.route.mailbox {
        Some(mb) => writeln!(out, "Route:    mailbox {mb}: {}", p.route.reason)?,
        None => writeln!(out, "Route:    none: {}", p.route.reason)?,
    }
    writeln!(out, "Outcome:  {}", outcome(p))?;
    if e.mail.is_some() {
        print_authenticity(out, &p.authenticity)?;
    }
    if let Some(t) = &p.ticket {
        let c = &t.classification;
        writeln!(
            out,
            "Ticket:   queue {}, state {}, language {}, priority {}{} (urgency {}, impact {})",
            t.queue,
            t.state,
            t.language,
            c.priority,
            if c.priority_explicit { " set" } else { "" },
            c.urgency,
            c.impact
        )?;
        let tags: Vec<&str> = t.tags.iter().map(String::as_str).collect();
        let fields = [
            ("type", t.ticket_type.map(|x| x.as_str())),
            ("service", t.service.as_deref()),
            ("category", t.category.as_deref()),
        ];
        let mut set: Vec<String> = fields
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
            .collect();
        if !tags.is_empty() {
            set.push(format!("tags {}", tags.join(", ")));
        }
        if !set.is_empty() {
            writeln!(out, "          {}", set.join("; "))?;
        }
    }
    for c in &p.changes {
        writeln!(out, "Change:   {c}")?;
    }
    if let Some(a) = &p.article {
        let trust = if a.trusted { "trusted" } else { "not trusted" };
        writeln!(
            out,
            "Article:  {} ({trust} as proof of a later reply)",
            a.kind
        )?;
        if let Some(why) = &a.unverified {
            writeln!(out, "          UNVERIFIED: {why}")?;
        }
        for n in &a.notes {
            writeln!(out, "          Note: {n}")?;
        }
    }
    if let Some(a) = &p.agent {
        let powers = if a.powers.granted {
            "powers granted"
        } else {
            "NO powers"
        };
        writeln!(out, "Agent:    {} ({powers}): {}", a.name, a.powers.reason)?;
        match &a.action {
            Some(postdesk::process::agent::AgentAction::Reply { .. }) => {
                writeln!(out, "          a reply, relayed to the customers")?
            }
            Some(postdesk::process::agent::AgentAction::Note { why, .. }) => {
                writeln!(out, "          an internal note ({why})")?
            }
            None => {}
        }
        for l in a.commands.iter().flat_map(|c| &c.lines) {
            writeln!(
                out,
                "Command:  {} ({}): {}: {}",
                l.written,
                l.source,
                l.status.as_str(),
                l.said
            )?;
        }
    }
    if let Some(f) = &p.forward {
        writeln!(
            out,
            "Forward:  forward by agent {} of {}'s mail ({}){}",
            f.agent,
            f.original_from,
            f.style,
            if f.note.is_some() {
                "; the agent's lines are an internal note"
            } else {
                ""
            }
        )?;
    }
    for x in &p.participants {
        writeln!(out, "Adds:     {} ({})", x.address, x.role)?;
    }
    for b in &p.bounces {
        writeln!(out, "Bouncing: {} ({})", b.address, b.reason)?;
    }
    if let Some(l) = &p.language {
        writeln!(out, "Language: {} ({})", l.code, l.source)?;
    }
    if let Some(a) = &p.assign.agent {
        writeln!(out, "Assigns:  agent {a}")?;
    }
    if let Some(g) = &p.assign.group {
        writeln!(out, "Assigns:  group {g}")?;
    }
    for n in &p.notifications {
        match &n.suppressed {
            None if n.held.is_some() => writeln!(
                out,
                "Queues:   {} to {}, held: {}",
                n.kind.name(),
                n.to.join(", "),
                n.held.as_deref().unwrap_or_default()
            )?,
            None => writeln!(
                out,
                "Sends:    {} to {} from mailbox {} ({})",
                n.template.as_deref().unwrap_or(n.kind.name()),
                n.to.join(", "),
                n.from_mailbox,
                n.language
            )?,
            Some(why) => writeln!(
                out,
                "Holds:    {} to {}: {why}",
                n.kind.name(),
                n.to.join(", ")
            )?,
        }
    }
    for r in &p.rules {
        let how = if r.matched { "matched" } else { "no match" };
        writeln!(out, "Rule:     {} ({}): {how}", r.rule, r.file)?;
        for (c, ok) in &r.criteria {
            writeln!(out, "          {} {c}", if *ok { "yes" } else { "no " })?;
        }
        for a in &r.actions {
            writeln!(out, "          → {a}")?;
        }
        if r.stopped {
            writeln!(out, "          (stop: no later rule evaluated)")?;
        }
    }
    writeln!(out, "Why:")?;
    for d in &p.trace {
        writeln!(out, "  {:<13} {}", d.step, d.said)?;
    }
    writeln!(
        out,
        "(nothing was written: `postdesk explain` never applies a plan)"
    )
}

/// Whether the From is proven, each Authentication-Results header's fate
/// and the reply token, if any.
fn print_authenticity(
    out: &mut impl Write,
    a: &postdesk::auth::Authenticity,
) -> std::io::Result<()> {
    writeln!(out, "Sender:   {}", a.summary)?;
    for h in &a.headers {
        writeln!(
            out,
            "          Authentication-Results #{}: {}",
            h.position, h.said
        )?;
    }
    if let Some(t) = &a.token {
        writeln!(out, "Token:    {} ({})", t.said, t.address)?;
    }
    Ok(())
}

fn outcome(p: &Plan) -> String {
    match &p.disposition {
        Disposition::Duplicate {
            ticket, article_id, ..
        } => format!(
            "duplicate of article {article_id} on ticket {}: recorded, nothing sent",
            ticket.as_deref().unwrap_or("-")
        ),
        Disposition::Ignore { reason } => format!("ignored: {reason}"),
        Disposition::Quarantine { reason } => format!("quarantined: {reason}"),
        Disposition::NewTicket { quoted: None } => {
            "a new ticket (its number is drawn when the mail is taken in)".into()
        }
        Disposition::NewTicket { quoted: Some(q) } => {
            format!("a new ticket: the sender has no right to ticket {q}, which the mail quotes")
        }
        Disposition::FollowUp { ticket, standing } => {
            format!(
                "follow-up on ticket {} (sender's standing: {standing:?})",
                ticket.number
            )
        }
        Disposition::Note { reason, .. } => reason.clone(),
        Disposition::Refuse { why, queue, quoted } => format!(
            "refused by queue {queue} ({}){}: no ticket, the sender gets the refusal \
             unless a notification below says why not",
            why.as_str(),
            quoted
                .as_ref()
                .map(|t| format!(", ticket {} untouched", t.number))
                .unwrap_or_default()
        ),
    }
}
