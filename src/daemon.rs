//! The daemon: the one place that knows every part and wires them.
//!
//! Tasks: one intake task per IMAP mailbox, the store worker thread (all
//! processing and its transactions), the outbox sender, and the
//! lifecycle's scheduler ([`crate::scheduler`], rounds on the worker). Intake hands
//! batches to the worker over a bounded channel; the worker wakes the
//! sender when it queued mail. One `watch` channel carries shutdown to all:
//! on SIGTERM/SIGINT intake finishes the batch in hand (commit, then
//! acknowledge) and stops, the sender finishes the mail in flight, and the
//! worker thread ends when the last handle is gone. SIGUSR1 (`postdesk
//! fetch`) makes every intake task look into its mailbox now. SIGHUP reloads
//! templates, rules and log level ([`crate::reload`]) and never stops the
//! daemon. With only pipe mailboxes there is no intake task: the daemon
//! then runs the outbox sender (draining what `postdesk ingest` queues)
//! until a signal.
//!
//! Before it opens the database `run` takes the daemon lock
//! ([`crate::lock`]): a second daemon on the same database is refused.
//!
//! Alongside run the operations tasks ([`crate::ops`]): systemd's
//! `READY=1` (once every mailbox has been tried) and `STATUS=` lines, the
//! watchdog fed by the store worker's answers, and the optional HTTP
//! listener for `/healthz` and `/metrics`.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::lock::{self, DaemonLock};
use crate::notify::Templates;
use crate::ops::systemd;
use crate::process::{self, Processor};
use crate::reload::{self, Reloader};
use crate::worker::Worker;
use crate::{intake, outbox};

/// Run until SIGTERM or SIGINT.
pub async fn run(config: Arc<Config>) -> anyhow::Result<()> {
    // First thing: SIGHUP's default action would end the process.
    let mut signals = Signals::install()?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let templates = Arc::new(
        Templates::load(&config.templates_dir, &config.system.default_language)
            .context("loading mail templates")?,
    );
    let rules = reload::read_rules(&config.rules_dir, &templates).context("rules folder")?;
    let mut reloader = Reloader::new((*config).clone(), rules, templates.clone());
    // Validate SMTP settings now rather than in the sender's first round.
    outbox::check_settings(&config).context("SMTP settings")?;
    // One daemon per database, held until we return (or die).
    let claimant = outbox::Claimant::new(None);
    let (_lock, previous) =
        DaemonLock::acquire(&config.storage.database, &lock::this_process(&claimant.id))?;
    let claimant = outbox::Claimant {
        predecessor: previous.map(|h| h.claimant),
        ..claimant
    };
    let store = systemd::while_starting("opening and migrating the database", || {
        process::open_store(&config)
    })
    .context("opening the database")?;
    std::fs::create_dir_all(config.storage.data_dir.join("attachments")).with_context(|| {
        format!(
            "creating {} (storage.data_dir)",
            config.storage.data_dir.join("attachments").display()
        )
    })?;
    let reader = Arc::new(
        crate::ops::StoreReader::open(config.clone())
            .context("opening the database for health and metrics")?,
    );
    let http = match config.ops.listen {
        Some(addr) => Some(crate::ops::http::bind(addr).await?),
        None => None,
    };
    let mut processor = Processor::new(config.clone(), templates);
    processor.set_rules(reloader.rules().clone());
    let wake = Arc::new(Notify::new());
    let (worker, worker_thread) =
        Worker::spawn(store, processor, wake.clone()).context("starting the store worker")?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let mut sender = tokio::spawn(outbox::run(
        config.clone(),
        wake,
        shutdown_rx.clone(),
        claimant,
    ));
    let imap_names = config.mailboxes.iter().filter(|m| m.imap.is_some());
    crate::ops::ops().expect_mailboxes(imap_names.map(|m| m.name.as_str()));
    let mut ops_tasks = tokio::task::JoinSet::new();
    ops_tasks.spawn(systemd::report_status(reader.clone(), shutdown_rx.clone()));
    ops_tasks.spawn(crate::retention::daily(config.clone(), shutdown_rx.clone()));
    ops_tasks.spawn(crate::scheduler::run(
        config.scheduler_interval,
        worker.clone(),
        shutdown_rx.clone(),
    ));
    warn_unlisted_states(&config);
    if let Some(listener) = http {
        ops_tasks.spawn(crate::ops::http::serve(
            listener,
            reader,
            shutdown_rx.clone(),
        ));
    }
    if let Some(interval) = systemd::watchdog_interval() {
        let w = worker.clone();
        tracing::info!(
            "systemd watchdog every {:.1}s, fed by the store worker",
            interval.as_secs_f64()
        );
        ops_tasks.spawn(systemd::feed_watchdog(
            interval,
            move || {
                let w = w.clone();
                async move { w.ping().await }
            },
            systemd::watchdog_ping,
            shutdown_rx.clone(),
        ));
    }
    let mut intakes = tokio::task::JoinSet::new();
    // One per intake task: `notify_one` keeps a permit for a task that is
    // busy when SIGUSR1 comes, so its next wait ends at once.
    let mut fetch_now = Vec::new();
    for mb in config.mailboxes.iter().filter(|m| m.imap.is_some()) {
        let wake = Arc::new(Notify::new());
        fetch_now.push(wake.clone());
        intakes.spawn(intake::mailbox::run(
            mb.clone(),
            config.system.max_message_bytes,
            worker.clone(),
            shutdown_rx.clone(),
            wake,
        ));
    }
    tracing::info!(
        imap_mailboxes = intakes.len(),
        pipe_mailboxes = config.mailboxes.iter().filter(|m| m.imap.is_none()).count(),
        rule_files = reloader.rules().files.len(),
        database = %config.storage.database.display(),
        "postdesk running"
    );

    // Run until a signal, or until a part stops that should not: then stop
    // the rest and exit non-zero, so systemd restarts us whole. (With no
    // intake task, `join_next` yields None and that branch stays idle.)
    let failure = loop {
        tokio::select! {
            _ = signals.term.recv() => break None,
            _ = signals.int.recv() => break None,
            _ = signals.usr1.recv() => {
                tracing::info!("SIGUSR1: looking into every mailbox now");
                fetch_now.iter().for_each(|n| n.notify_one());
            }
            _ = signals.hup.recv() => {
                systemd::reloading();
                reloader.reload(&worker).await;
                systemd::reloaded();
            }
            r = &mut sender => break Some(format!("the outbox sender stopped: {}", match r {
                Ok(Ok(())) => "without error".to_string(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(e) => e.to_string(),
            })),
            Some(r) = intakes.join_next() => break Some(format!("an intake task stopped: {}", match r {
                Ok(()) => "without error".to_string(),
                Err(e) => e.to_string(),
            })),
            _ = thread_finished(&worker_thread) => break Some("the store worker stopped".to_string()),
        }
    };
    match &failure {
        None => tracing::info!("shutting down: finishing the work in hand"),
        Some(f) => tracing::error!("{f}; shutting down"),
    }
    systemd::stopping();
    let _ = shutdown_tx.send(true);
    // The watchdog holds a worker handle: it must end before the worker.
    while ops_tasks.join_next().await.is_some() {}
    while let Some(r) = intakes.join_next().await {
        if let Err(e) = r {
            tracing::error!("intake task failed: {e}");
        }
    }
    // The worker thread ends once the last handle is gone.
    drop(worker);
    if !sender.is_finished() || failure.is_none() {
        match sender.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("outbox sender stopped with an error: {e:#}"),
            Err(e) => tracing::error!("outbox sender task failed: {e}"),
        }
    }
    tokio::task::spawn_blocking(move || worker_thread.join())
        .await
        .ok();
    if let Some(f) = failure {
        anyhow::bail!("{f}");
    }
    tracing::info!("postdesk stopped");
    Ok(())
}

/// Warn about states tickets hold that `[lifecycle]` no longer lists
/// (those tickets stay readable; a customer's reply reopens them).
fn warn_unlisted_states(config: &Config) {
    let found = crate::store::Store::open_read_only(&config.storage.database)
        .and_then(|mut s| crate::store::lifecycle::states_in_use(s.conn()));
    match found {
        Ok(held) => {
            for (state, n) in held {
                if config.lifecycle.get(&state).is_none() {
                    tracing::warn!(
                        "{n} ticket(s) are in state {state:?}, which [lifecycle] no longer lists: \
                         they stay readable, and a customer's reply reopens them; \
                         add the state back, or move them (see `postdesk db check`)"
                    );
                }
            }
        }
        Err(e) => tracing::warn!("could not read the states tickets are in: {e}"),
    }
}

/// Resolves when `t` has finished.
async fn thread_finished(t: &std::thread::JoinHandle<()>) {
    while !t.is_finished() {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// The signals the daemon answers. Installing them replaces the default
/// actions (for SIGHUP: ending the process) for the process's lifetime.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    /// `postdesk fetch`: look into the mailboxes now.
    usr1: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
            usr1: signal(SignalKind::user_defined1()).context("installing the SIGUSR1 handler")?,
        })
    }
}
