//! `postdesk import mbox|maildir PATH`: an archive through the pipeline
//! (see `postdesk::import`), with a progress bar on a terminal (indicatif)
//! and a plain progress line at most once a second otherwise, both on
//! standard error; the summary (or `--json`) on standard output. SIGINT
//! and SIGTERM stop it after the batch in hand is committed (exit 75: run
//! the same command again to resume); a second signal ends it at once,
//! which is safe too (the batch in hand is rolled back).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use postdesk::import::{self, ImportError, Kind, Options, Summary, Tick};
use postdesk::process::Processor;

use super::exit::{failure, DATAERR, IOERR, NOINPUT, TEMPFAIL, USAGE};
use super::Cli;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// One file of messages, each after a "From " line (mboxo/mboxrd).
    Mbox,
    /// A folder with cur/ and new/ (one file per message).
    Maildir,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Archive format.
    #[arg(value_enum)]
    pub format: Format,
    /// The mbox file or the maildir folder.
    pub path: PathBuf,
    /// The [[mailbox]] the mail counts as received by when its recipients
    /// name no support address (as for `ingest --mailbox`).
    #[arg(long, short)]
    pub mailbox: Option<String>,
    /// Send auto-replies and agents' alerts as for live mail (by default
    /// imported mail sends nothing).
    #[arg(long, conflicts_with = "no_notify")]
    pub notify: bool,
    /// Send nothing for imported mail (the default).
    #[arg(long)]
    pub no_notify: bool,
    /// Messages per transaction.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch: u64,
    /// Read the archive from its start even if an earlier import of it
    /// got further (what was taken in before is recognised and skipped).
    #[arg(long)]
    pub from_start: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Set by SIGINT/SIGTERM: stop after the batch in hand.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
    // SAFETY: signal() is async-signal-safe; a second signal then ends the
    // process at once, as the user asked twice.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    // One line per imported message would bury the progress: warnings and
    // errors only.
    postdesk::logging::init(cli.log_format.unwrap_or(config.log.format), "warn");
    if let Some(name) = &args.mailbox {
        super::mailbox_named(&config, name, USAGE)?;
    }
    let (templates, broken) =
        postdesk::notify::load_or_shipped(&config.templates_dir, &config.system.default_language);
    if let (Some(e), true) = (broken, args.notify) {
        tracing::error!(
            "mail templates: {e}; the shipped templates are used (`postdesk check` shows it)"
        );
    }
    let rules = postdesk::reload::read_rules(&config.rules_dir, &templates).map_err(|e| {
        failure(
            super::exit::CONFIG,
            format!("rules folder: {e}\n(fix the file, see `postdesk rules check`)"),
        )
    })?;
    let mut store = super::open_store(&config)?;
    let mut processor = Processor::new(config.clone(), templates);
    processor.set_rules(rules);
    let options = Options {
        kind: match args.format {
            Format::Mbox => Kind::Mbox,
            Format::Maildir => Kind::Maildir,
        },
        path: args.path.clone(),
        mailbox: args.mailbox.clone(),
        notify: args.notify,
        batch_size: args.batch as usize,
        batch_bytes: 16 << 20,
        from_start: args.from_start,
        max_message_bytes: config.system.max_message_bytes,
    };
    // SAFETY: the handler only stores to an atomic and resets its own
    // disposition, both async-signal-safe.
    let handler: extern "C" fn(libc::c_int) = on_signal;
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
    let mut progress = Progress::new(options.kind, std::io::stderr().is_terminal());
    let result = import::run(&processor, &mut store, &options, &STOP, &mut |s, t| {
        progress.tick(s, t)
    });
    progress.finish();
    let summary = result.map_err(|e| {
        let code = match &e {
            ImportError::NotFound(_) => NOINPUT,
            ImportError::NotAnArchive { .. } => DATAERR,
            ImportError::Io { .. } => IOERR,
            ImportError::Store(_) => return anyhow::Error::new(e).context("import"),
        };
        failure(code, format!("import: {e}"))
    })?;
    let mut out = super::output::stdout();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&summary)?)?;
    } else {
        writeln!(out, "{}", plain(&summary))?;
    }
    Ok(if summary.interrupted {
        ExitCode::from(TEMPFAIL)
    } else {
        ExitCode::SUCCESS
    })
}

/// The summary as a sentence or two.
fn plain(s: &Summary) -> String {
    let mut text = format!(
        "{}: {} messages read (from the {}): {} new tickets, {} follow-ups, {} internal notes, {} duplicates, {} taken in before, {} ignored, {} quarantined",
        s.source, s.read, s.resumed_from, s.created, s.follow_up, s.notes, s.duplicate, s.already_imported, s.ignored, s.quarantined
    );
    if s.vanished > 0 {
        text += &format!(", {} files vanished", s.vanished);
    }
    text += &format!(
        "; {:.1} s ({} messages from this archive in all)",
        s.seconds, s.total_messages
    );
    if s.quarantined > 0 {
        text += "\nsee `postdesk quarantine list`";
    }
    if s.interrupted {
        text += "\ninterrupted: run the same command again to resume";
    }
    text
}

/// Progress on standard error: a bar on a terminal, else a line at most
/// once a second.
struct Progress {
    bar: Option<ProgressBar>,
    unit: &'static str,
    last_line: Option<Instant>,
}

impl Progress {
    fn new(kind: Kind, terminal: bool) -> Progress {
        let unit = match kind {
            Kind::Mbox => "bytes",
            Kind::Maildir => "files",
        };
        let bar = terminal.then(|| {
            let template = match kind {
                Kind::Mbox => "{bar:30} {percent:>3}% {binary_bytes}/{binary_total_bytes} {msg} [{elapsed}, {eta} left]",
                Kind::Maildir => "{bar:30} {percent:>3}% {pos}/{len} files {msg} [{elapsed}, {eta} left]",
            };
            let bar = ProgressBar::new(0);
            // The templates are constants that parse; a bad one would only
            // leave the default style.
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            unit,
            last_line: None,
        }
    }

    fn tick(&mut self, s: &Summary, t: Tick) {
        if let Some(bar) = &self.bar {
            bar.set_length(t.total);
            bar.set_position(t.done);
            bar.set_message(format!("{} messages", t.messages));
            return;
        }
        let due = self
            .last_line
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        if due || t.done == t.total {
            self.last_line = Some(Instant::now());
            let percent = (t.done * 100).checked_div(t.total).unwrap_or(100);
            eprintln!(
                "import: {} messages, {percent} % ({} of {} {}); {} new tickets, {} follow-ups, {} taken in before",
                t.messages, t.done, t.total, self.unit, s.created, s.follow_up, s.already_imported + s.duplicate
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
