//! The outbox sender: takes due mail from the store's outbox and hands it
//! to the SMTP relay with lettre over pooled, reused connections. Each mail
//! is marked sent right after the relay accepts it. A temporary failure
//! (relay down, 4xx) is retried with exponential backoff, so an outage
//! delays mail and loses none; a permanent refusal (5xx) or a mail older
//! than `smtp.give_up_after_hours` is marked failed with the relay's words.
//!
//! Mail queued by another process (`postdesk ingest`, `quarantine retry`)
//! is found by polling the outbox every few seconds; mail queued by this
//! daemon's own worker wakes the sender at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{watch, Notify};

use crate::config::{Config, Smtp, TlsMode};
use crate::store::{self, outbox, Store};

/// Longest sleep between outbox scans when nothing wakes the sender.
const IDLE_SCAN: Duration = Duration::from_secs(5);
/// Mails taken per round.
const CHUNK: usize = 256;

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Build the SMTP transport from configuration.
pub fn transport(smtp: &Smtp, helo: &str) -> anyhow::Result<Transport> {
    let tls_params = || -> anyhow::Result<TlsParameters> {
        let mut b = TlsParameters::builder(smtp.host.clone());
        if let Some(ca) = &smtp.ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("reading smtp.ca_file {}", ca.display()))?;
            let cert = Certificate::from_pem(&pem)
                .with_context(|| format!("parsing smtp.ca_file {} (PEM expected)", ca.display()))?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().context("building SMTP TLS parameters")
    };
    let tls = match smtp.tls {
        TlsMode::None => Tls::None,
        TlsMode::Starttls => Tls::Required(tls_params()?),
        TlsMode::Implicit => Tls::Wrapper(tls_params()?),
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(smtp.timeout))
        .hello_name(ClientId::Domain(helo.to_string()))
        .pool_config(PoolConfig::new().max_size(smtp.max_connections));
    if let Some((user, pass)) = &smtp.credentials {
        b = b.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok(b.build())
}

/// Seconds to wait before attempt number `attempts + 1`.
pub fn backoff(attempts: u32, max: Duration) -> Duration {
    let secs = 2u64.saturating_pow(attempts.min(20)).saturating_mul(1);
    Duration::from_secs(secs).min(max)
}

enum Result_ {
    Sent,
    Retry(String),
    Failed(String),
}

/// Run the sender until `shutdown`; mail in flight is finished first.
pub async fn run(
    config: Arc<Config>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let transport = transport(&config.smtp, &config.system.fqdn)?;
    let db = Arc::new(Mutex::new(
        Store::open(&config.storage.database, store::Durability::Normal)
            .context("opening the database for the outbox")?,
    ));
    let concurrency = config.smtp.max_connections.max(1) as usize;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let batch = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || {
                // The lock is only poisoned if another holder panicked; the
                // connection itself is still usable.
                let mut s = db.lock().unwrap_or_else(|p| p.into_inner());
                outbox::due(s.conn(), CHUNK, &[])
            })
            .await??
        };
        if batch.is_empty() {
            let next = {
                let db = db.clone();
                tokio::task::spawn_blocking(move || {
                    let mut s = db.lock().unwrap_or_else(|p| p.into_inner());
                    outbox::next_due_in(s.conn())
                })
                .await??
            };
            let wait = next
                .map(|s| Duration::from_secs(s.max(0) as u64).max(Duration::from_millis(200)))
                .unwrap_or(IDLE_SCAN)
                .min(IDLE_SCAN);
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let give_up = config.smtp.give_up_after;
        let retry_max = config.smtp.retry_max;
        let mut results = futures::stream::iter(batch)
            .map(|m| {
                let transport = &transport;
                async move {
                    let r = send_one(transport, &m).await;
                    let r = match r {
                        Ok(()) => Result_::Sent,
                        Err((msg, true)) => Result_::Failed(msg),
                        Err((msg, false)) => {
                            let age = store::now_unix() - m.created_unix;
                            if age > give_up.as_secs() as i64 {
                                Result_::Failed(format!("giving up after {}h: {msg}", age / 3600))
                            } else {
                                Result_::Retry(msg)
                            }
                        }
                    };
                    (m, r)
                }
            })
            .buffer_unordered(concurrency);
        let mut failures = 0usize;
        while let Some((m, r)) = results.next().await {
            let db = db.clone();
            let id = m.id;
            let attempts = m.attempts;
            match &r {
                Result_::Sent => tracing::debug!(outbox = id, "sent"),
                Result_::Retry(e) => {
                    failures += 1;
                    tracing::warn!(
                        outbox = id,
                        attempts = attempts + 1,
                        "SMTP delivery deferred: {e}"
                    );
                }
                Result_::Failed(e) => {
                    tracing::error!(outbox = id, "SMTP delivery failed for good: {e}")
                }
            }
            tokio::task::spawn_blocking(move || {
                let mut s = db.lock().unwrap_or_else(|p| p.into_inner());
                let c = s.conn();
                match r {
                    Result_::Sent => outbox::mark_sent(c, id),
                    Result_::Retry(e) => {
                        let next =
                            store::now_unix() + backoff(attempts, retry_max).as_secs() as i64;
                        outbox::mark_retry(c, id, &e, next)
                    }
                    Result_::Failed(e) => outbox::mark_failed(c, id, &e),
                }
            })
            .await??;
        }
        if failures > 0 {
            // Relay trouble: don't spin; the next due time decides.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    tracing::info!("outbox sender stopped");
    Ok(())
}

/// Send one mail: Err((message, permanent)).
async fn send_one(transport: &Transport, m: &outbox::Outgoing) -> Result<(), (String, bool)> {
    let from = if m.envelope_from.is_empty() {
        None
    } else {
        Some(m.envelope_from.parse().map_err(|e| {
            (
                format!("bad envelope sender {:?}: {e}", m.envelope_from),
                true,
            )
        })?)
    };
    let to = m
        .recipients
        .iter()
        .map(|r| {
            r.parse()
                .map_err(|e| (format!("bad recipient {r:?}: {e}"), true))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = lettre::address::Envelope::new(from, to).map_err(|e| (e.to_string(), true))?;
    match transport.send_raw(&envelope, &m.raw).await {
        Ok(_) => Ok(()),
        Err(e) => Err((e.to_string(), e.is_permanent())),
    }
}

/// Log in to the relay (for `postdesk check --connect`).
pub async fn test_connection(config: &Config) -> anyhow::Result<()> {
    let t = transport(&config.smtp, &config.system.fqdn)?;
    let ok = t
        .test_connection()
        .await
        .with_context(|| format!("SMTP {}:{}", config.smtp.host, config.smtp.port))?;
    anyhow::ensure!(
        ok,
        "SMTP {}:{} did not answer NOOP",
        config.smtp.host,
        config.smtp.port
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_grows_and_caps() {
        let max = Duration::from_secs(600);
        assert_eq!(backoff(0, max), Duration::from_secs(1));
        assert_eq!(backoff(3, max), Duration::from_secs(8));
        assert_eq!(backoff(30, max), max);
    }
}
