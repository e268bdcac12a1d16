//! Operations: what the daemon tells the world about itself. It owns the
//! live state the other parts report into — per mailbox (connected, last
//! successful fetch, backlog, last error), the relay's last error — and
//! the Prometheus metrics ([`metrics`]). From that state and the store's
//! [`Backlog`] it builds the health report ([`health`]), served with the
//! metrics over HTTP ([`http`]), told to systemd as `STATUS=` lines with
//! `READY=1` and the watchdog ([`systemd`]), and written to a status file
//! that `postdesk status` reads ([`status_file`]).
//!
//! The state is one process-wide value ([`ops`]), like a metrics registry:
//! intake, worker and sender record into it with one call each and need
//! no handle threaded through them. Recording is a lock of a few
//! nanoseconds or an atomic add, so it costs nothing when nobody asks.

pub mod health;
pub mod http;
pub mod metrics;
pub mod status_file;
pub mod systemd;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use crate::store::views::Backlog;
use metrics::Metrics;

/// What one IMAP mailbox's intake last reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MailboxState {
    /// A session is logged in and has its folder selected.
    pub connected: bool,
    /// Intake has tried to connect at least once (for `READY=1`).
    pub attempted: bool,
    /// The last time intake looked through the folder to the end (unix s).
    pub last_fetch_unix: Option<i64>,
    /// Messages found in the folder and not yet taken in, at the last look.
    pub backlog: u64,
    /// The last connection or command error, and when (unix s).
    pub last_error: Option<String>,
    pub last_error_unix: Option<i64>,
    /// Its OAuth2 account needs a new login (`postdesk oauth login`): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reauthorise: Option<String>,
}

/// What the outbox sender last reported about the relay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SmtpState {
    /// The last delivery that failed or was deferred: the relay's words.
    pub last_error: Option<String>,
    pub last_error_unix: Option<i64>,
    /// The last mail the relay accepted (unix s).
    pub last_sent_unix: Option<i64>,
    /// The relay's OAuth2 account needs a new login: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reauthorise: Option<String>,
}

/// The live state of this process.
pub struct Ops {
    /// When the daemon started (unix s): the reference for a mailbox that
    /// has not fetched yet.
    started_unix: i64,
    mailboxes: Mutex<BTreeMap<String, MailboxState>>,
    smtp: Mutex<SmtpState>,
    /// Bumped on every mailbox change, so `READY=1` waits without polling.
    changed: watch::Sender<u64>,
    pub metrics: Metrics,
}

/// The process's state.
pub fn ops() -> &'static Ops {
    static OPS: OnceLock<Ops> = OnceLock::new();
    OPS.get_or_init(|| Ops {
        started_unix: crate::store::now_unix(),
        mailboxes: Mutex::new(BTreeMap::new()),
        smtp: Mutex::new(SmtpState::default()),
        changed: watch::Sender::new(0),
        metrics: Metrics::new(),
    })
}

/// A poisoned lock only means a panic elsewhere held it; the plain data
/// inside is still good.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ops {
    pub fn started_unix(&self) -> i64 {
        self.started_unix
    }

    /// The IMAP mailboxes intake will run, before their tasks start.
    pub fn expect_mailboxes<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut m = lock(&self.mailboxes);
        for n in names {
            m.entry(n.to_string()).or_default();
        }
    }

    fn update(&self, mailbox: &str, f: impl FnOnce(&mut MailboxState)) {
        {
            let mut m = lock(&self.mailboxes);
            f(m.entry(mailbox.to_string()).or_default());
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A session is ready (logged in, folder selected).
    pub fn mailbox_connected(&self, mailbox: &str) {
        self.update(mailbox, |s| {
            s.connected = true;
            s.attempted = true;
            s.reauthorise = None;
        });
        self.metrics.mailbox_connected(mailbox, true);
    }

    /// A session failed (connect, login or a command); intake reconnects.
    pub fn mailbox_failed(&self, mailbox: &str, error: &str) {
        self.update(mailbox, |s| {
            s.connected = false;
            s.attempted = true;
            s.last_error = Some(error.to_string());
            s.last_error_unix = Some(crate::store::now_unix());
        });
        self.metrics.imap_failure(mailbox);
        self.metrics.mailbox_connected(mailbox, false);
    }

    /// The mailbox's OAuth2 account needs a new login (after
    /// [`Ops::mailbox_failed`]); cleared by the next good session.
    pub fn mailbox_reauth(&self, mailbox: &str, why: &str) {
        self.update(mailbox, |s| s.reauthorise = Some(why.to_string()));
    }

    /// The relay's OAuth2 account needs a new login (`Some`), or logged in.
    pub fn smtp_reauth(&self, why: Option<&str>) {
        lock(&self.smtp).reauthorise = why.map(str::to_string);
    }

    /// Intake stopped its session (shutdown).
    pub fn mailbox_disconnected(&self, mailbox: &str) {
        self.update(mailbox, |s| s.connected = false);
        self.metrics.mailbox_connected(mailbox, false);
    }

    /// A search found `count` messages not yet taken in.
    pub fn mailbox_backlog(&self, mailbox: &str, count: u64) {
        self.update(mailbox, |s| s.backlog = count);
        self.metrics.mailbox_backlog(mailbox, count);
    }

    /// Intake looked through the folder to its end and took in all it found.
    pub fn mailbox_fetched(&self, mailbox: &str) {
        let now = crate::store::now_unix();
        self.update(mailbox, |s| {
            s.last_fetch_unix = Some(now);
            s.backlog = 0;
        });
        self.metrics.mailbox_fetched(mailbox, now);
    }

    /// The relay accepted a mail.
    pub fn smtp_sent(&self) {
        lock(&self.smtp).last_sent_unix = Some(crate::store::now_unix());
    }

    /// The relay deferred (`permanent = false`) or refused a mail.
    pub fn smtp_failed(&self, error: &str, permanent: bool) {
        {
            let mut s = lock(&self.smtp);
            s.last_error = Some(error.to_string());
            s.last_error_unix = Some(crate::store::now_unix());
        }
        self.metrics.smtp_failure(permanent);
    }

    pub fn mailboxes(&self) -> BTreeMap<String, MailboxState> {
        lock(&self.mailboxes).clone()
    }

    pub fn smtp(&self) -> SmtpState {
        lock(&self.smtp).clone()
    }

    /// Resolves once every expected mailbox has had its first connection
    /// attempt (at once when there are none).
    pub async fn all_attempted(&self) {
        let mut rx = self.changed.subscribe();
        loop {
            if lock(&self.mailboxes).values().all(|s| s.attempted) {
                return;
            }
            if rx.changed().await.is_err() {
                return; // cannot happen: the sender lives in the static
            }
        }
    }
}

/// Reads the store's [`Backlog`] for health, metrics and `STATUS=` on a
/// read-only connection of its own, off the async workers.
pub struct StoreReader {
    config: std::sync::Arc<crate::config::Config>,
    store: std::sync::Arc<Mutex<crate::store::Store>>,
}

impl StoreReader {
    /// Open after the daemon has migrated the database.
    pub fn open(
        config: std::sync::Arc<crate::config::Config>,
    ) -> Result<StoreReader, crate::store::StoreError> {
        let mut store = crate::store::Store::open_read_only(&config.storage.database)?;
        store.set_cache_kib(crate::store::SIDE_CACHE_KIB)?;
        Ok(StoreReader {
            config,
            store: std::sync::Arc::new(Mutex::new(store)),
        })
    }

    pub async fn backlog(&self) -> anyhow::Result<Backlog> {
        let store = self.store.clone();
        let b =
            tokio::task::spawn_blocking(move || crate::store::views::backlog(lock(&store).conn()))
                .await??;
        Ok(b)
    }

    /// The health report as of `now`, with `backlog` just read.
    pub fn report(&self, backlog: &Backlog, now: i64) -> health::Report {
        let o = ops();
        health::report(
            &self.config,
            &o.mailboxes(),
            &o.smtp(),
            backlog,
            o.started_unix(),
            now,
        )
    }
}
