//! One IMAP mailbox: connect, select, fetch new UIDs in batches, hand each
//! batch to the store worker, and only after it reports the batch
//! committed, flag/move/delete the messages and advance the UID ledger.
//! Then IDLE (or sleep, where the server lacks IDLE) until something new
//! arrives or the poll interval passes. Connection trouble is retried with
//! exponential backoff; one mailbox's trouble never touches another's.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use futures::TryStreamExt;
use tokio::sync::watch;

use super::{connect, Session};
use crate::config::{AfterAction, Mailbox};
use crate::process::{Incoming, Origin};
use crate::worker::Worker;

/// Keyword set on a message we could not keep a copy of (too large): it
/// stays in the mailbox, and the operator finds it in quarantine.
pub const QUARANTINE_FLAG: &str = "$PostdeskQuarantined";
/// Upper bound of message bytes fetched into memory per batch.
const BATCH_BYTES: u64 = 16 * 1024 * 1024;
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Run until `shutdown` turns true. Never returns an error: failures are
/// logged and retried.
pub async fn run(
    cfg: Mailbox,
    max_bytes: u64,
    worker: Worker,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        if *shutdown.borrow() {
            break;
        }
        match session(&cfg, max_bytes, &worker, &mut shutdown, &mut backoff).await {
            Ok(()) => break,
            Err(e) => {
                tracing::error!(mailbox = %cfg.name, "IMAP: {e:#}; reconnecting in {}s", backoff.as_secs());
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    tracing::info!(mailbox = %cfg.name, "intake stopped");
}

struct Caps {
    idle: bool,
    mv: bool,
    uidplus: bool,
}

async fn session(
    cfg: &Mailbox,
    max_bytes: u64,
    worker: &Worker,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Duration,
) -> anyhow::Result<()> {
    let imap = cfg
        .imap
        .as_ref()
        .context("mailbox has no IMAP server (pipe-only)")?;
    let mut s = connect(imap).await?;
    let c = s.capabilities().await.context("CAPABILITY")?;
    let caps = Caps {
        idle: c.has_str("IDLE"),
        mv: c.has_str("MOVE"),
        uidplus: c.has_str("UIDPLUS"),
    };
    let selected = s
        .select(&cfg.folder)
        .await
        .with_context(|| format!("selecting folder {:?}", cfg.folder))?;
    let uid_validity = selected
        .uid_validity
        .context("server reported no UIDVALIDITY for the folder")?;
    if cfg.after == AfterAction::Move {
        if let Some(target) = &cfg.move_to {
            // Fails harmlessly when the folder exists already.
            if s.create(target).await.is_ok() {
                tracing::info!(mailbox = %cfg.name, folder = %target, "created folder for processed mail");
            }
        }
    }
    let mut last_uid = match worker.ledger(&cfg.name).await? {
        Some((uv, last)) if uv == uid_validity => last,
        Some((uv, _)) => {
            tracing::warn!(mailbox = %cfg.name, old = uv, new = uid_validity,
                "UIDVALIDITY changed: rescanning the folder; mail already taken in is recognised and not processed twice");
            0
        }
        None => 0,
    };
    *backoff = Duration::from_secs(1);
    tracing::info!(mailbox = %cfg.name, folder = %cfg.folder, uid_validity, last_uid,
        idle = caps.idle && cfg.idle, "IMAP session ready");

    loop {
        loop {
            let n = fetch_batch(
                &mut s,
                cfg,
                max_bytes,
                &caps,
                worker,
                uid_validity,
                &mut last_uid,
            )
            .await?;
            if *shutdown.borrow() {
                s.logout().await.ok();
                return Ok(());
            }
            if n == 0 {
                break;
            }
        }
        if caps.idle && cfg.idle {
            let mut idle = s.idle();
            idle.init().await.context("IDLE")?;
            let stop_now = {
                let (wait, stop) = idle.wait_with_timeout(cfg.poll_interval);
                let r = tokio::select! {
                    r = wait => { r.context("IDLE wait")?; false }
                    _ = shutdown.changed() => true,
                };
                drop(stop);
                r
            };
            if stop_now {
                // Nothing is in flight; dropping the connection is safe.
                return Ok(());
            }
            s = idle.done().await.context("ending IDLE")?;
        } else {
            tokio::select! {
                _ = tokio::time::sleep(cfg.poll_interval) => {}
                _ = shutdown.changed() => {
                    s.logout().await.ok();
                    return Ok(());
                }
            }
        }
    }
}

/// Fetch, process and acknowledge one batch. Returns how many UIDs it
/// covered (0 = nothing new).
#[allow(clippy::too_many_arguments)]
async fn fetch_batch(
    s: &mut Session,
    cfg: &Mailbox,
    max_bytes: u64,
    caps: &Caps,
    worker: &Worker,
    uid_validity: u32,
    last_uid: &mut u32,
) -> anyhow::Result<usize> {
    let mut query = format!("UID {}:*", *last_uid + 1);
    if cfg.after == AfterAction::Delete {
        query.push_str(" UNDELETED");
    }
    // `n:*` always matches the highest UID, even below n: filter.
    let mut uids: Vec<u32> = s
        .uid_search(&query)
        .await
        .context("UID SEARCH")?
        .into_iter()
        .filter(|u| *u > *last_uid)
        .collect();
    if uids.is_empty() {
        return Ok(0);
    }
    uids.sort_unstable();
    uids.truncate(cfg.batch_size as usize);

    let sizes: HashMap<u32, u64> = s
        .uid_fetch(uid_set(&uids), "(UID RFC822.SIZE)")
        .await
        .context("UID FETCH sizes")?
        .try_filter_map(|f| async move { Ok(f.uid.map(|u| (u, f.size.unwrap_or(0) as u64))) })
        .try_collect()
        .await
        .context("UID FETCH sizes")?;
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
        .filter(|u| sizes.get(u).copied().unwrap_or(0) <= max_bytes)
        .collect();
    let mut bodies: HashMap<u32, Vec<u8>> = HashMap::new();
    if !wanted.is_empty() {
        let fetched: Vec<_> = s
            .uid_fetch(uid_set(&wanted), "(UID BODY.PEEK[])")
            .await
            .context("UID FETCH bodies")?
            .try_collect()
            .await
            .context("UID FETCH bodies")?;
        for f in fetched {
            if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                bodies.insert(uid, body.to_vec());
            }
        }
    }
    let mut items = Vec::with_capacity(uids.len());
    let mut covered = Vec::with_capacity(uids.len());
    for &uid in &uids {
        let size = sizes.get(&uid).copied().unwrap_or(0);
        let raw = match bodies.remove(&uid) {
            Some(b) => b,
            None if size > max_bytes => Vec::new(),
            // Expunged by someone else between SEARCH and FETCH.
            None => continue,
        };
        covered.push(uid);
        items.push(Incoming {
            origin: Origin::Imap {
                mailbox: cfg.name.clone(),
                uid_validity,
                uid,
            },
            size: size.max(raw.len() as u64),
            raw,
        });
    }
    let outcomes = worker.process(items).await?;

    // Committed: now acknowledge in IMAP.
    let (mut done, mut kept) = (Vec::new(), Vec::new());
    for (uid, o) in covered.iter().zip(&outcomes) {
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
    let max = *uids.iter().max().unwrap_or(last_uid);
    *last_uid = max.max(*last_uid);
    worker
        .set_ledger(&cfg.name, uid_validity, *last_uid)
        .await?;
    tracing::debug!(mailbox = %cfg.name, count = uids.len(), last_uid = *last_uid, "batch committed and acknowledged");
    Ok(uids.len())
}

async fn store_flags(s: &mut Session, uids: &[u32], what: &str) -> anyhow::Result<()> {
    let _: Vec<_> = s
        .uid_store(uid_set(uids), what)
        .await
        .with_context(|| format!("UID STORE {what}"))?
        .try_collect()
        .await
        .with_context(|| format!("UID STORE {what}"))?;
    Ok(())
}

async fn expunge(s: &mut Session, caps: &Caps, uids: &[u32]) -> anyhow::Result<()> {
    if caps.uidplus {
        let _: Vec<_> = s
            .uid_expunge(uid_set(uids))
            .await
            .context("UID EXPUNGE")?
            .try_collect()
            .await
            .context("UID EXPUNGE")?;
    } else {
        let _: Vec<_> = s
            .expunge()
            .await
            .context("EXPUNGE")?
            .try_collect()
            .await
            .context("EXPUNGE")?;
    }
    Ok(())
}

async fn acknowledge(
    s: &mut Session,
    cfg: &Mailbox,
    caps: &Caps,
    uids: &[u32],
) -> anyhow::Result<()> {
    match cfg.after {
        AfterAction::Flag => {
            let flags = cfg.flags.join(" ");
            store_flags(s, uids, &format!("+FLAGS.SILENT ({flags})")).await
        }
        AfterAction::Delete => {
            store_flags(s, uids, "+FLAGS.SILENT (\\Deleted)").await?;
            expunge(s, caps, uids).await
        }
        AfterAction::Move => {
            // Checked at config load: move_to is set for "move".
            let target = cfg.move_to.as_deref().unwrap_or("Processed");
            if caps.mv {
                s.uid_mv(uid_set(uids), target)
                    .await
                    .with_context(|| format!("UID MOVE to {target:?}"))
            } else {
                s.uid_copy(uid_set(uids), target)
                    .await
                    .with_context(|| format!("UID COPY to {target:?}"))?;
                store_flags(s, uids, "+FLAGS.SILENT (\\Deleted)").await?;
                expunge(s, caps, uids).await
            }
        }
    }
}

/// `[1,2,3,5,7,8]` → `1:3,5,7:8` (input sorted).
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn sets() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }
}
