//! `postdesk fetch --mailbox NAME`: look into an IMAP mailbox now instead
//! of at its next poll. With a daemon running (the daemon lock names it),
//! the daemon is asked with SIGUSR1 and its intake tasks look into every
//! mailbox at once; two processes never fetch one mailbox together. With
//! none running, this command takes the daemon lock itself (so none starts
//! meanwhile) and fetches the mailbox once, like the daemon would: mail it
//! queues waits in the outbox for the daemon, as with `ingest`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use postdesk::lock::{self, DaemonLock};
use postdesk::notify::Templates;
use postdesk::process::Processor;
use postdesk::worker::Worker;

use super::exit::{failure, NOINPUT, TEMPFAIL, UNAVAILABLE};
use super::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The `[[mailbox]]` to look into.
    #[arg(long)]
    pub mailbox: String,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    super::init_logging(cli, Some(&config));
    let mailbox = super::mailbox_named(&config, &args.mailbox, NOINPUT)?;
    if mailbox.imap.is_none() {
        return Err(failure(
            NOINPUT,
            format!(
                "mailbox {:?} has no IMAP server (pipe-only): its mail comes through `postdesk ingest`",
                mailbox.name
            ),
        ));
    }
    let db = &config.storage.database;
    let holder = DaemonLock::holder(db).with_context(|| {
        format!(
            "reading the daemon lock {} (run as the daemon's user or root)",
            lock::lock_path(db).display()
        )
    })?;
    let how = match holder {
        Some(h) => ask_daemon(&h)?,
        None => {
            fetch_here(&config, mailbox)?;
            "fetched".to_string()
        }
    };
    let mut out = super::output::stdout();
    if args.json {
        out.json(&serde_json::json!({ "mailbox": mailbox.name, "result": how }))?;
    } else {
        writeln!(out, "mailbox {}: {how}", mailbox.name)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// SIGUSR1 to the running daemon.
fn ask_daemon(h: &lock::Holder) -> anyhow::Result<String> {
    if h.pid == 0 {
        return Err(failure(
            TEMPFAIL,
            "the daemon is starting and has not written its details yet: try again in a moment",
        ));
    }
    if h.host != lock::hostname() {
        return Err(failure(
            UNAVAILABLE,
            format!(
                "the daemon runs on host {} (pid {}): run `postdesk fetch` there",
                h.host, h.pid
            ),
        ));
    }
    // SAFETY: kill(2) with a pid read from the lock file; the daemon
    // installs its SIGUSR1 handler before it takes the lock.
    let rc = unsafe { libc::kill(h.pid as libc::pid_t, libc::SIGUSR1) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(failure(
            UNAVAILABLE,
            format!(
                "cannot signal the daemon (pid {}): {e} (run as the daemon's user or root)",
                h.pid
            ),
        ));
    }
    Ok(format!(
        "asked the running daemon (pid {}) to look into its mailboxes now",
        h.pid
    ))
}

/// No daemon: take its lock and fetch once, here.
fn fetch_here(
    config: &Arc<postdesk::config::Config>,
    mailbox: &postdesk::config::Mailbox,
) -> anyhow::Result<()> {
    let claimant = postdesk::outbox::Claimant::new(None);
    let (_lock, _) =
        DaemonLock::acquire(&config.storage.database, &lock::this_process(&claimant.id))
            .map_err(|e| failure(TEMPFAIL, format!("{e}")))?;
    let store = super::open_store(config)?;
    let attachments = config.storage.data_dir.join("attachments");
    std::fs::create_dir_all(&attachments)
        .with_context(|| format!("creating {} (storage.data_dir)", attachments.display()))?;
    let templates = Arc::new(Templates::load(
        &config.templates_dir,
        &config.system.default_language,
    )?);
    // Fetched mail meets the rules as in the daemon.
    let rules = postdesk::reload::read_rules(&config.rules_dir, &templates)?;
    let mut processor = Processor::new(config.clone(), templates);
    processor.set_rules(rules);
    let (worker, thread) = Worker::spawn(store, processor, Arc::new(tokio::sync::Notify::new()))
        .context("starting the store worker")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(postdesk::intake::mailbox::fetch_once(
        mailbox,
        config.system.max_message_bytes,
        &worker,
    ));
    // The worker thread ends once its last handle is gone.
    drop(worker);
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("the store worker failed"))?;
    result.map_err(|e| failure(TEMPFAIL, format!("mailbox {}: {e:#}", mailbox.name)))
}
