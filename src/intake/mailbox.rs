//! One IMAP mailbox: connect, select, fetch new UIDs in batches, hand each
//! batch to the store worker, and only after it reports the batch
//! committed, flag/move/delete the messages and advance the UID ledger.
//! Then IDLE (or sleep, where the server lacks IDLE) until something new
//! arrives or the poll interval passes. Connection trouble is retried with
//! backoff capped near 30 s ([`crate::backoff`], reset once a session has
//! taken mail in or stayed up a minute); one mailbox's trouble never
//! touches another's. A connection that fails during a fetch ends the
//! session (the mail is fetched again), see `intake/fetch.rs`.
//! Each step is reported to [`crate::ops`] (connected, backlog, fetched,
//! failed) for health, metrics and systemd's status.

use std::time::Duration;

use anyhow::Context as _;
use async_imap::extensions::idle::IdleResponse;
use std::sync::Arc;

use tokio::sync::{watch, Notify};

use super::ack::{acknowledge, store_flags};
use super::fetch::{fetch_bodies, fetch_sizes, Strikes};
use super::{login, Session};
use crate::backoff::Backoff;
use crate::config::{AfterAction, Mailbox};
use crate::process::{Incoming, Origin, Outcome};
use crate::worker::Worker;

/// Keyword set on a message we could not keep a copy of (too large): it
/// stays in the mailbox, and the operator finds it in quarantine.
pub const QUARANTINE_FLAG: &str = "$PostdeskQuarantined";
/// Upper bound of message bytes fetched into memory per batch.
const BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// Longest any single IMAP command may take before the session is
/// considered dead (half-open connections never answer).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// A session up this long has been useful: the reconnect backoff starts over.
const USEFUL_SESSION: Duration = Duration::from_secs(60);
/// The shortest session an OAuth2 login gets before logging in again.
const MIN_OAUTH_SESSION: Duration = Duration::from_secs(60);
/// IDLE is re-issued at least this often (RFC 2177 asks for < 29 min).
const MAX_IDLE: Duration = Duration::from_secs(25 * 60);

/// Run an IMAP command with [`COMMAND_TIMEOUT`].
pub(super) async fn timed<T, E>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(r) => r.with_context(|| what.to_string()),
        Err(_) => anyhow::bail!(
            "{what}: no answer from the server in {}s",
            COMMAND_TIMEOUT.as_secs()
        ),
    }
}

/// Run until `shutdown` turns true. Never returns an error: failures are
/// logged and retried. `fetch_now` (SIGUSR1, `postdesk fetch`) cuts an
/// IDLE, a poll interval or a reconnect wait short.
pub async fn run(
    cfg: Mailbox,
    max_bytes: u64,
    worker: Worker,
    mut shutdown: watch::Receiver<bool>,
    fetch_now: Arc<Notify>,
) {
    let mut backoff = Backoff::default();
    let mut strikes = Strikes::default();
    let mode = Mode::Run(fetch_now.clone());
    loop {
        if *shutdown.borrow() {
            break;
        }
        let r = session(
            &cfg,
            max_bytes,
            &worker,
            &mut shutdown,
            &mut backoff,
            &mut strikes,
            &mode,
        )
        .await;
        match r {
            Ok(()) => break,
            Err(e) if e.is::<Relogin>() => continue,
            Err(e) => {
                crate::ops::ops().mailbox_failed(&cfg.name, &format!("{e:#}"));
                // A token only a new login brings back: unhealthy until then.
                if let Some(t) = e.downcast_ref::<crate::oauth::TokenError>() {
                    if t.needs_login() {
                        crate::ops::ops().mailbox_reauth(&cfg.name, &t.to_string());
                    }
                }
                let wait = backoff.next_delay();
                tracing::error!(mailbox = %cfg.name, "IMAP: {e:#}; reconnecting in {:.1}s", wait.as_secs_f64());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = fetch_now.notified() => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
    }
    crate::ops::ops().mailbox_disconnected(&cfg.name);
    tracing::info!(mailbox = %cfg.name, "intake stopped");
}

/// A session ended itself to log in again before its OAuth2 access token
/// expires (some servers end a session whose token has expired).
#[derive(Debug)]
struct Relogin;

impl std::fmt::Display for Relogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("logging in again with a fresh OAuth2 access token")
    }
}

impl std::error::Error for Relogin {}

/// Fetch once (`postdesk fetch` with no daemon running): connect, take in
/// everything new, acknowledge it, log out.
pub async fn fetch_once(cfg: &Mailbox, max_bytes: u64, worker: &Worker) -> anyhow::Result<()> {
    let (_keep, mut shutdown) = watch::channel(false);
    session(
        cfg,
        max_bytes,
        worker,
        &mut shutdown,
        &mut Backoff::default(),
        &mut Strikes::default(),
        &Mode::Once,
    )
    .await
}

/// How long a session lasts.
enum Mode {
    /// Until shutdown; `fetch_now` ends a wait early.
    Run(Arc<Notify>),
    /// One look through the folder.
    Once,
}

pub(super) struct Caps {
    idle: bool,
    pub(super) mv: bool,
    pub(super) uidplus: bool,
}

async fn session(
    cfg: &Mailbox,
    max_bytes: u64,
    worker: &Worker,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
    strikes: &mut Strikes,
    mode: &Mode,
) -> anyhow::Result<()> {
    let fetch_now = match mode {
        Mode::Run(n) => n.clone(),
        // Never notified: the session ends before it would wait.
        Mode::Once => Arc::new(Notify::new()),
    };
    let imap = cfg
        .imap
        .as_ref()
        .context("mailbox has no IMAP server (pipe-only)")?;
    // The greeting, TLS and login have no timeout of their own: a server
    // that accepts and never answers would hold the mailbox (and READY=1).
    let (mut s, token_expires) = match tokio::time::timeout(COMMAND_TIMEOUT, login(imap)).await {
        Ok(session) => session?,
        Err(_) => anyhow::bail!(
            "connecting and logging in to IMAP {}:{}: no answer from the server in {}s",
            imap.host,
            imap.port,
            COMMAND_TIMEOUT.as_secs()
        ),
    };
    let c = timed("CAPABILITY", s.capabilities()).await?;
    let caps = Caps {
        idle: c.has_str("IDLE"),
        mv: c.has_str("MOVE"),
        uidplus: c.has_str("UIDPLUS"),
    };
    let selected = timed(
        &format!("selecting folder {:?}", cfg.folder),
        s.select(&cfg.folder),
    )
    .await?;
    let uid_validity = selected
        .uid_validity
        .context("server reported no UIDVALIDITY for the folder")?;
    if cfg.after == AfterAction::Move {
        if let Some(target) = &cfg.move_to {
            // Fails harmlessly when the folder exists already.
            if timed("CREATE", s.create(target)).await.is_ok() {
                tracing::info!(mailbox = %cfg.name, folder = %target, "created folder for processed mail");
            }
        }
    }
    // UIDs mean something only for one server, user and folder.
    let source = format!(
        "{}:{}/{}/{}",
        imap.host, imap.port, imap.username, cfg.folder
    );
    let mut last_uid = match worker.ledger(&cfg.name).await? {
        Some((src, uv, last)) if src == source && uv == uid_validity => last,
        Some((src, uv, _)) => {
            tracing::warn!(mailbox = %cfg.name, old_source = %src, new_source = %source, old = uv, new = uid_validity,
                "mailbox changed (server, user, folder or UIDVALIDITY): rescanning the folder; mail already taken in is recognised and not processed twice");
            0
        }
        None => 0,
    };
    strikes.for_folder(uid_validity);
    crate::ops::ops().mailbox_connected(&cfg.name);
    tracing::info!(mailbox = %cfg.name, folder = %cfg.folder, uid_validity, last_uid,
        idle = caps.idle && cfg.idle, "IMAP session ready");
    let cx = Ctx {
        cfg,
        max_bytes,
        caps: &caps,
        worker,
        at: Ledger {
            source: &source,
            uid_validity,
        },
    };

    // The reconnect backoff starts over only once this session has been
    // useful: it took mail in, or it stayed up a while. A server that drops
    // every session right after SELECT or at IDLE is not hammered.
    let (started, start_uid) = (std::time::Instant::now(), last_uid);
    // With OAuth2: log in again (fresh token) before this one expires;
    // a token shorter-lived than the margin still gets a session of
    // MIN_OAUTH_SESSION, not a login loop.
    let relogin_at = token_expires.map(|at| {
        let left = at - crate::store::now_unix() - crate::oauth::REFRESH_MARGIN.as_secs() as i64;
        tokio::time::Instant::now() + Duration::from_secs(left.max(0) as u64).max(MIN_OAUTH_SESSION)
    });
    loop {
        if relogin_at.is_some_and(|at| tokio::time::Instant::now() >= at) {
            timed("LOGOUT", s.logout()).await.ok();
            return Err(Relogin.into());
        }
        refetch(&mut s, &cx, strikes).await?;
        drain(&mut s, &cx, &mut last_uid, shutdown, strikes).await?;
        if last_uid > start_uid || started.elapsed() >= USEFUL_SESSION {
            backoff.reset();
        }
        if *shutdown.borrow() || matches!(mode, Mode::Once) {
            crate::ops::ops().mailbox_disconnected(&cfg.name);
            timed("LOGOUT", s.logout()).await.ok();
            return Ok(());
        }
        // Mail that arrived while we searched is announced by an EXISTS we
        // have not read yet: look again instead of idling past it.
        let mut news = false;
        while let Ok(r) = s.unsolicited_responses.try_recv() {
            news |= matches!(
                r,
                async_imap::types::UnsolicitedResponse::Exists(_)
                    | async_imap::types::UnsolicitedResponse::Recent(_)
            );
        }
        if news {
            continue;
        }
        if caps.idle && cfg.idle {
            let mut idle = s.idle();
            timed("IDLE", idle.init()).await?;
            let wait_for = cfg.poll_interval.min(MAX_IDLE).min(until(relogin_at));
            let stop_now = {
                let (wait, stop) = idle.wait_with_timeout(wait_for);
                // wait_with_timeout counts from the last server line (Dovecot
                // sends keep-alives), so bound the whole wait as well.
                let r = tokio::select! {
                    r = wait => {
                        if let IdleResponse::NewData(_) = r.context("IDLE wait")? {
                            // The benchmark times arrival → auto-reply from here.
                            tracing::debug!(mailbox = %cfg.name, "IDLE: the server announced new mail");
                        }
                        false
                    }
                    _ = tokio::time::sleep(wait_for) => false,
                    _ = fetch_now.notified() => false,
                    _ = shutdown.changed() => true,
                };
                drop(stop);
                r
            };
            if stop_now {
                // Nothing is in flight; dropping the connection is safe.
                return Ok(());
            }
            s = timed("ending IDLE", idle.done()).await?;
        } else {
            tokio::select! {
                _ = tokio::time::sleep(cfg.poll_interval.min(until(relogin_at))) => {}
                _ = fetch_now.notified() => {}
                _ = shutdown.changed() => {
                    timed("LOGOUT", s.logout()).await.ok();
                    return Ok(());
                }
            }
        }
    }
}

/// Time left until `at` (none: a long while).
fn until(at: Option<tokio::time::Instant>) -> Duration {
    at.map_or(Duration::MAX, |at| {
        at.saturating_duration_since(tokio::time::Instant::now())
    })
}

/// What every step of one IMAP session needs.
struct Ctx<'a> {
    cfg: &'a Mailbox,
    max_bytes: u64,
    caps: &'a Caps,
    worker: &'a Worker,
    at: Ledger<'a>,
}

/// Where the UIDs of this session belong.
struct Ledger<'a> {
    source: &'a str,
    uid_validity: u32,
}

/// A batch fetched from IMAP, ready for the worker.
struct Prepared {
    /// UIDs that have an item (in order), for the acknowledgement.
    covered: Vec<u32>,
    /// Highest UID looked at (also those expunged meanwhile).
    max_uid: u32,
    items: Vec<Incoming>,
}

/// Search, size and fetch the next batch after `after_uid` (None: nothing new).
async fn prepare(
    s: &mut Session,
    cx: &Ctx<'_>,
    after_uid: u32,
    strikes: &mut Strikes,
) -> anyhow::Result<Option<Prepared>> {
    let (cfg, max_bytes, at) = (cx.cfg, cx.max_bytes, &cx.at);
    let Some(first) = after_uid.checked_add(1) else {
        return Ok(None); // UID space exhausted: the server must change UIDVALIDITY.
    };
    let mut query = format!("UID {first}:*");
    if cfg.after == AfterAction::Delete {
        query.push_str(" UNDELETED");
    }
    // `n:*` always matches the highest UID, even below n: filter.
    let mut uids: Vec<u32> = timed("UID SEARCH", s.uid_search(&query))
        .await?
        .into_iter()
        .filter(|u| *u > after_uid)
        .collect();
    crate::ops::ops().mailbox_backlog(&cfg.name, uids.len() as u64);
    if uids.is_empty() {
        return Ok(None);
    }
    uids.sort_unstable();
    uids.truncate(cfg.batch_size as usize);

    let sizes = fetch_sizes(s, &uids).await?;
    // Keep the batch within BATCH_BYTES (at least one message).
    let mut total = 0u64;
    let mut keep = 0;
    for u in &uids {
        let sz = sizes.get(u).copied().unwrap_or(0).min(max_bytes + 1);
        if keep > 0 && total + sz > BATCH_BYTES {
            break;
        }
        total += sz;
        keep += 1;
    }
    uids.truncate(keep);

    let wanted: Vec<u32> = uids
        .iter()
        .copied()
        .filter(|u| sizes.get(u).is_some_and(|sz| *sz <= max_bytes))
        .collect();
    let mut bodies = fetch_bodies(s, &wanted, strikes).await?;
    let mut items = Vec::with_capacity(uids.len());
    let mut covered = Vec::with_capacity(uids.len());
    for &uid in &uids {
        let Some(&size) = sizes.get(&uid) else {
            continue; // expunged by someone else since the SEARCH
        };
        let (raw, fetch_error) = match bodies.remove(&uid) {
            Some(Ok(b)) => (b, None),
            Some(Err(e)) => (Vec::new(), Some(e)),
            None if size > max_bytes => (Vec::new(), None),
            None => (
                Vec::new(),
                Some("the server listed the message but returned no body".to_string()),
            ),
        };
        covered.push(uid);
        items.push(Incoming {
            origin: Origin::Imap {
                mailbox: cfg.name.clone(),
                source: at.source.to_string(),
                uid_validity: at.uid_validity,
                uid,
            },
            size: size.max(raw.len() as u64),
            raw,
            fetch_error,
        });
    }
    Ok(Some(Prepared {
        covered,
        max_uid: uids.iter().copied().max().unwrap_or(after_uid),
        items,
    }))
}

/// A batch's effects are committed: acknowledge it in IMAP, then advance
/// the ledger.
async fn finish(
    s: &mut Session,
    cx: &Ctx<'_>,
    covered: &[u32],
    max_uid: u32,
    outcomes: &[Outcome],
    last_uid: &mut u32,
) -> anyhow::Result<()> {
    let (cfg, caps, worker, at) = (cx.cfg, cx.caps, cx.worker, &cx.at);
    let (mut done, mut kept) = (Vec::new(), Vec::new());
    for (uid, o) in covered.iter().zip(outcomes) {
        if o.may_remove_from_server() {
            done.push(*uid);
        } else {
            kept.push(*uid);
        }
    }
    if !kept.is_empty() {
        store_flags(s, &kept, &format!("+FLAGS.SILENT ({QUARANTINE_FLAG})")).await?;
    }
    if !done.is_empty() {
        acknowledge(s, cfg, caps, &done).await?;
    }
    *last_uid = max_uid.max(*last_uid);
    worker
        .set_ledger(&cfg.name, at.source, at.uid_validity, *last_uid)
        .await?;
    tracing::debug!(mailbox = %cfg.name, count = covered.len(), last_uid = *last_uid, "batch committed and acknowledged");
    Ok(())
}

/// Take in everything new, pipelined: while the worker processes batch k,
/// batch k+1 is fetched; batch k is acknowledged once committed. Returns
/// after the last batch is acknowledged (or, on shutdown, after the batches
/// in hand are).
async fn drain(
    s: &mut Session,
    cx: &Ctx<'_>,
    last_uid: &mut u32,
    shutdown: &watch::Receiver<bool>,
    strikes: &mut Strikes,
) -> anyhow::Result<()> {
    type InFlight = (
        Vec<u32>,
        u32,
        tokio::task::JoinHandle<Result<Vec<Outcome>, crate::worker::WorkerError>>,
    );
    let mut fetched_upto = *last_uid;
    let mut inflight: Option<InFlight> = None;
    loop {
        let next = if *shutdown.borrow() {
            None
        } else {
            prepare(s, cx, fetched_upto, strikes).await?
        };
        let next: Option<InFlight> = next.map(|p| {
            fetched_upto = p.max_uid;
            let w = cx.worker.clone();
            let items = p.items;
            (
                p.covered,
                p.max_uid,
                tokio::spawn(async move { w.process(items).await }),
            )
        });
        if let Some((covered, max_uid, handle)) = inflight.take() {
            let outcomes = handle.await.context("processing task")??;
            finish(s, cx, &covered, max_uid, &outcomes, last_uid).await?;
        }
        inflight = next;
        if inflight.is_none() {
            if !*shutdown.borrow() {
                crate::ops::ops().mailbox_fetched(&cx.cfg.name);
            }
            return Ok(());
        }
    }
}

/// Fetch again the quarantined messages the operator asked for (`postdesk
/// quarantine retry` of a message that had been too large to fetch), and
/// acknowledge those that now went through.
async fn refetch(s: &mut Session, cx: &Ctx<'_>, strikes: &mut Strikes) -> anyhow::Result<()> {
    let (cfg, max_bytes, caps, worker, at) = (cx.cfg, cx.max_bytes, cx.caps, cx.worker, &cx.at);
    let wanted = worker.refetches(at.source, at.uid_validity).await?;
    if wanted.is_empty() {
        return Ok(());
    }
    let mut uids: Vec<u32> = wanted.iter().map(|(_, u)| *u).collect();
    uids.sort_unstable();
    uids.dedup();
    let sizes = fetch_sizes(s, &uids).await?;
    let fit: Vec<u32> = uids
        .iter()
        .copied()
        .filter(|u| sizes.get(u).is_some_and(|sz| *sz <= max_bytes))
        .collect();
    let mut bodies = fetch_bodies(s, &fit, strikes).await?;
    let mut items = Vec::new();
    for (id, uid) in &wanted {
        let size = sizes.get(uid).copied();
        let (raw, fetch_error) = match (size, bodies.remove(uid)) {
            (None, _) => (
                Vec::new(),
                Some(format!("UID {uid} is no longer in the mailbox")),
            ),
            (Some(_), Some(Ok(b))) => (b, None),
            (Some(_), Some(Err(e))) => (Vec::new(), Some(e)),
            (Some(sz), None) if sz > max_bytes => (Vec::new(), None),
            (Some(_), None) => (Vec::new(), Some("the server returned no body".into())),
        };
        items.push(Incoming {
            origin: Origin::Retry {
                quarantine_id: *id,
                mailbox: Some(cfg.name.clone()),
            },
            size: size.unwrap_or(0).max(raw.len() as u64),
            raw,
            fetch_error,
        });
    }
    let outcomes = worker.process(items).await?;
    let done: Vec<u32> = wanted
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| !matches!(o, Outcome::Quarantined { .. }))
        .map(|((_, uid), _)| *uid)
        .collect();
    tracing::info!(mailbox = %cfg.name, requested = wanted.len(), released = done.len(), "quarantined messages fetched again");
    if !done.is_empty() {
        store_flags(s, &done, &format!("-FLAGS.SILENT ({QUARANTINE_FLAG})")).await?;
        acknowledge(s, cfg, caps, &done).await?;
    }
    Ok(())
}
