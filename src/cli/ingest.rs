//! `postdesk ingest`: one raw message from a file or stdin, through the
//! same pipeline as IMAP (the rules folder included), with sysexits exit
//! codes for MTA pipe delivery.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use postdesk::process::{Incoming, Origin, Processor};

use super::exit::{failure, DATAERR, TEMPFAIL};
use super::Cli;

/// How long `ingest` goes on merging the search index once the mail is
/// committed and its outcome printed. The MTA waits for the exit, so a
/// mail that completes a level of the index (one in sixteen at most)
/// takes up to this much longer to deliver; merging inside its commit
/// took longer still.
const INGEST_UPKEEP: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The [[mailbox]] the mail came through. The mailbox that serves it
    /// is that of the first support address in To, then Cc; this one (else
    /// Delivered-To, else the first) when they name none (see README,
    /// "Routing").
    #[arg(long, short)]
    pub mailbox: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Raw message file; standard input when absent or "-".
    pub file: Option<PathBuf>,
}

/// Fail with `code`. For an MTA everything but bad input is temporary
/// (75: it keeps the mail and tries again), where 78 would bounce it.
fn fail(code: u8, what: &str) -> anyhow::Result<ExitCode> {
    Err(failure(code, format!("ingest: {what}")))
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let config = match super::load_config(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            let e = format!("{e:#}");
            return fail(
                TEMPFAIL,
                &format!("{}\n(the MTA will try again later)", e.trim_end()),
            );
        }
    };
    super::init_logging(cli, Some(&config));
    if let Some(name) = &args.mailbox {
        if let Err(e) = super::mailbox_named(&config, name, TEMPFAIL) {
            return fail(TEMPFAIL, &e.to_string());
        }
    }
    let limit = config.system.max_message_bytes;
    let mut raw = Vec::new();
    let read = match args.file.as_deref() {
        None => std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut raw),
        Some(p) if p.as_os_str() == "-" => std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut raw),
        Some(p) => std::fs::File::open(p).and_then(|f| f.take(limit + 1).read_to_end(&mut raw)),
    };
    if let Err(e) = read {
        return fail(TEMPFAIL, &format!("reading the message: {e}"));
    }
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return fail(DATAERR, "empty input: not a mail");
    }
    if raw.len() as u64 > limit {
        return fail(
            DATAERR,
            &format!("message larger than system.max_message_bytes ({limit} bytes)"),
        );
    }
    let (templates, broken) =
        postdesk::notify::load_or_shipped(&config.templates_dir, &config.system.default_language);
    if let Some(e) = broken {
        tracing::error!(
            "mail templates: {e}; this mail is answered with the shipped templates (fix the file; `postdesk check` shows it)"
        );
    }
    let mut store = match super::open_store(&config) {
        Ok(s) => s,
        Err(e) => return fail(TEMPFAIL, &format!("{e:#}")),
    };
    // The daemon refuses to start on a bad rules folder; mail piped in
    // meanwhile waits at the MTA (75) rather than being handled without
    // the rules.
    let rules = match postdesk::reload::read_rules(&config.rules_dir, &templates) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                TEMPFAIL,
                &format!("rules folder: {e}\n(fix the file, see `postdesk rules check`; the MTA will try again later)"),
            )
        }
    };
    let mut processor = Processor::new(config.clone(), templates);
    processor.set_rules(rules);
    let item = Incoming {
        origin: Origin::Pipe {
            mailbox: args.mailbox.clone(),
        },
        size: raw.len() as u64,
        raw,
        fetch_error: None,
    };
    let outcome = match processor.process_batch(&mut store, std::slice::from_ref(&item)) {
        Ok(mut o) => match o.pop() {
            Some(o) => o,
            None => return fail(TEMPFAIL, "internal: no outcome"),
        },
        Err(e) => return fail(TEMPFAIL, &format!("{e} (the MTA will try again later)")),
    };
    let mut out = super::output::stdout();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&outcome)?)?;
    } else {
        writeln!(out, "{outcome}")?;
    }
    out.flush()?;
    // The index's merges (issue 10): the mail is committed; up to
    // INGEST_UPKEEP of them, the rest left to the daemon or the next mail.
    let since = std::time::Instant::now();
    if let Err(e) = store.upkeep(|| since.elapsed() < INGEST_UPKEEP) {
        tracing::warn!(error = %e, "search index merge failed; a later write tries again");
    }
    Ok(ExitCode::SUCCESS)
}
