//! `postdesk rules check [--dir DIR] [--templates DIR] [--json]`: load the
//! rules folder as the daemon would and list its rules in evaluation order
//! (name, file, line, enabled, stop); a bad file, or an `auto_reply`
//! naming a template no language has, exits 78 (EX_CONFIG) with every
//! problem. `postdesk rules test` is in `rules_test.rs`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use postdesk::notify::Templates;
use postdesk::rules;

use super::exit::{failure, CONFIG};
use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Load and check every rule file; list the rules in evaluation order.
    Check {
        /// The folder to check instead of the configuration's
        /// `[paths] rules` (no configuration is read then, so queue names
        /// are not checked).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The templates folder that `auto_reply = "name"` actions are
        /// checked against (with the shipped templates). Default: the
        /// configuration's; with --dir and no --templates, the shipped
        /// templates only.
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show what the rules do to one mail: each rule in order, matched or
    /// not, each criterion's result, the actions and their edits to the
    /// plan. Nothing is written.
    Test(super::rules_test::Args),
}

impl Command {
    pub fn json(&self) -> bool {
        match self {
            Command::Check { json, .. } => *json,
            Command::Test(a) => a.json,
        }
    }
}

#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    file: String,
    line: usize,
    enabled: bool,
    stop: bool,
    description: &'a str,
    actions: Vec<String>,
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let (dir, templates, json) = match cmd {
        Command::Test(args) => return super::rules_test::run(cli, args),
        Command::Check {
            dir,
            templates,
            json,
        } => (dir, templates, json),
    };
    let (dir, config) = match dir {
        Some(d) => (d.clone(), None),
        None => {
            let c = super::load_config(&cli.config)?;
            (c.rules_dir.clone(), Some(c))
        }
    };
    let templates = match (templates, &config) {
        (Some(t), _) => Some(Templates::load(t, "en")?),
        (None, Some(c)) => Some(Templates::load(
            &c.templates_dir,
            &c.system.default_language,
        )?),
        (None, None) => None,
    };
    let templates = templates.as_ref().unwrap_or(postdesk::notify::shipped());
    let set = postdesk::reload::read_rules(&dir, templates)
        .map_err(|e| failure(CONFIG, rules::describe(&e.0)))?;
    let warnings: Vec<String> = match &config {
        Some(c) => set
            .unknown_queues(c.queues.iter().map(|q| q.name.as_str()))
            .iter()
            .map(|e| e.to_string())
            .collect(),
        None => Vec::new(),
    };
    let listed: Vec<Listed> = set
        .rules
        .iter()
        .map(|r| Listed {
            name: &r.name,
            file: r.file.display().to_string(),
            line: r.line,
            enabled: r.enabled,
            stop: r.stop,
            description: &r.description,
            actions: r.actions.iter().map(|a| a.to_string()).collect(),
        })
        .collect();
    let mut out = super::output::stdout();
    if *json {
        out.json(&serde_json::json!({
            "dir": dir.display().to_string(),
            "files": set.files.len(),
            "rules": listed,
            "warnings": warnings,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    for r in &listed {
        let flags = match (r.enabled, r.stop) {
            (true, true) => "  (stop)",
            (true, false) => "",
            (false, _) => "  (disabled)",
        };
        writeln!(out, "{}:{}  {}{flags}", r.file, r.line, r.name)?;
        if !r.description.is_empty() {
            writeln!(out, "    {}", r.description)?;
        }
        writeln!(out, "    {}", r.actions.join(", "))?;
    }
    writeln!(
        out,
        "{}: {} rule(s) in {} file(s)",
        dir.display(),
        listed.len(),
        set.files.len()
    )?;
    for w in &warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(ExitCode::SUCCESS)
}
