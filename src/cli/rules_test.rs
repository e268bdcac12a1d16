//! `postdesk rules test FILE.eml [--mailbox NAME] [--rules DIR] [--json]`:
//! `explain` focused on the rules. Every stage but apply runs (against the
//! database read-only, or an empty one in memory when there is none yet,
//! so the mail counts as new); what is printed is each rule in evaluation
//! order, matched or not, each criterion's result, its actions, the edits
//! they made to the plan, the fields they changed and the result. Nothing
//! is written.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;

use postdesk::notify::Templates;
use postdesk::process::explain::Explanation;
use postdesk::process::plan::{Disposition, RuleCheck, TicketPlan};
use postdesk::process::Processor;
use postdesk::store::{Durability, Store, StoreError};
use postdesk::tickets::history::Change;

use super::exit::{failure, CONFIG, NOINPUT};
use super::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A raw mail (.eml); "-" for standard input.
    pub file: PathBuf,
    /// The [[mailbox]] the mail comes through. Default: by its recipients.
    #[arg(long, short)]
    pub mailbox: Option<String>,
    /// The rules folder to test instead of the configuration's
    /// `[paths] rules`.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// What `rules test` prints (its `--json` shape).
#[derive(Serialize)]
struct Report<'a> {
    rules_dir: String,
    /// False when there was no database: the mail was taken as new.
    database: bool,
    from: Option<&'a str>,
    subject: Option<&'a str>,
    /// `new_ticket`, `follow_up`, `duplicate`, `ignore` or `quarantine`,
    /// after the rules.
    outcome: &'a Disposition,
    /// Each rule evaluated, in order.
    rules: &'a [RuleCheck],
    /// What each action did to the plan (or why it did not), in order.
    edits: Vec<&'a str>,
    /// Each field a rule changed, with its old and new value.
    changes: &'a [Change],
    /// The ticket as the rules leave it (none when the mail makes none).
    ticket: Option<&'a TicketPlan>,
    /// The auto-reply template a rule chose, if any.
    auto_reply_template: Option<&'a str>,
    /// Why a rule suppressed the auto-reply, if one did.
    auto_reply_suppressed: Option<&'a str>,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    if let Some(name) = &args.mailbox {
        super::mailbox_named(&config, name, NOINPUT)?;
    }
    let raw = read_mail(&args.file, config.system.max_message_bytes)?;
    let templates = Templates::load(&config.templates_dir, &config.system.default_language)
        .context("loading mail templates")?;
    let dir = args
        .rules
        .clone()
        .unwrap_or_else(|| config.rules_dir.clone());
    let rules = postdesk::reload::read_rules(&dir, &templates)
        .map_err(|e| failure(CONFIG, format!("rules folder: {e}")))?;
    let (mut store, database) = match super::open_store_read_only(&config) {
        Ok(s) => (s, true),
        Err(e) if is_missing(&e) => (
            Store::open(Path::new(":memory:"), Durability::Normal)
                .context("an empty database in memory")?,
            false,
        ),
        Err(e) => return Err(e),
    };
    let mut processor = Processor::new(config.clone(), Arc::new(templates));
    processor.set_rules(rules);
    let e = processor.explain(store.conn(), &raw, args.mailbox.as_deref(), None)?;
    let report = report(&e, &dir, database);
    let mut out = super::output::stdout();
    if args.json {
        out.json(&report)?;
    } else {
        print(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn is_missing(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<StoreError>()
            .is_some_and(|s| matches!(s, StoreError::Missing { .. }))
    })
}

fn read_mail(file: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    let mut raw = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut raw)
            .context("reading the mail from standard input")?;
    } else {
        std::fs::File::open(file)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut raw))
            .map_err(|e| failure(NOINPUT, format!("reading {}: {e}", file.display())))?;
    }
    Ok(raw)
}

fn report<'a>(e: &'a Explanation, dir: &Path, database: bool) -> Report<'a> {
    let p = &e.plan;
    Report {
        rules_dir: dir.display().to_string(),
        database,
        from: e.mail.as_ref().map(|m| m.from.address.as_str()),
        subject: e.mail.as_ref().map(|m| m.subject.as_str()),
        outcome: &p.disposition,
        rules: &p.rules,
        edits: p
            .trace
            .iter()
            .filter(|d| d.step == "rules")
            .map(|d| d.said.as_str())
            .collect(),
        changes: &p.changes,
        ticket: p.ticket.as_ref(),
        auto_reply_template: p.auto_reply_template.as_deref(),
        auto_reply_suppressed: p.auto_reply_suppressed.as_deref(),
    }
}

fn print(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    if let (Some(from), Some(subject)) = (r.from, r.subject) {
        writeln!(out, "Mail:     from {from}: {subject}")?;
    }
    let outcome = match r.outcome {
        Disposition::NewTicket { .. } => "a new ticket".to_string(),
        Disposition::FollowUp { ticket, .. } => format!("a follow-up on ticket {}", ticket.number),
        Disposition::Note { ticket, reason } => {
            format!("an internal note on ticket {}: {reason}", ticket.number)
        }
        Disposition::Duplicate { .. } => "a duplicate: no rule applies".to_string(),
        Disposition::Ignore { reason } => format!("ignored: {reason}"),
        Disposition::Quarantine { reason } => format!("quarantined: {reason}"),
        Disposition::Refuse { why, queue, .. } => {
            format!(
                "refused by queue {queue} ({}): no rule applies",
                why.as_str()
            )
        }
    };
    writeln!(out, "Outcome:  {outcome}")?;
    if !r.database {
        writeln!(out, "          (no database yet: the mail is taken as new)")?;
    }
    writeln!(
        out,
        "Rules:    {} ({} evaluated)",
        r.rules_dir,
        r.rules.len()
    )?;
    for c in r.rules {
        let how = if c.matched { "matched" } else { "no match" };
        writeln!(out, "Rule:     {} ({}): {how}", c.rule, c.file)?;
        for (text, ok) in &c.criteria {
            writeln!(out, "          {} {text}", if *ok { "yes" } else { "no " })?;
        }
        for a in &c.actions {
            writeln!(out, "          → {a}")?;
        }
        if c.stopped {
            writeln!(out, "          (stop: no later rule evaluated)")?;
        }
    }
    for e in &r.edits {
        writeln!(out, "Edit:     {e}")?;
    }
    for c in r.changes {
        writeln!(out, "Change:   {c}")?;
    }
    if let Some(t) = r.ticket {
        let c = &t.classification;
        writeln!(
            out,
            "Ticket:   queue {}, state {}, language {}, priority {} (urgency {}, impact {})",
            t.queue, t.state, t.language, c.priority, c.urgency, c.impact
        )?;
        let opt = |v: Option<&str>| v.unwrap_or("-").to_string();
        let tags: Vec<&str> = t.tags.iter().map(String::as_str).collect();
        writeln!(
            out,
            "          type {}, service {}, category {}, tags {}",
            opt(t.ticket_type.map(|x| x.as_str())),
            opt(t.service.as_deref()),
            opt(t.category.as_deref()),
            if tags.is_empty() {
                "-".to_string()
            } else {
                tags.join(", ")
            }
        )?;
    }
    match (r.auto_reply_suppressed, r.auto_reply_template) {
        (Some(why), _) => writeln!(out, "Reply:    no auto-reply ({why})")?,
        (None, Some(name)) => writeln!(out, "Reply:    auto-reply with template {name}")?,
        (None, None) => {}
    }
    writeln!(out, "(nothing was written)")
}
