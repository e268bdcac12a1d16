//! The Prometheus metrics, with the `prometheus-client` crate: counters
//! and a histogram recorded as mail flows, gauges of the store's backlog
//! set at each scrape. Label values are few and fixed (outcome, class,
//! failure kind) or the configured mailbox names, so no mail content ever
//! becomes a label.
//!
//! Exposed as OpenMetrics text (what the crate writes), which Prometheus
//! scrapes as it does its own text format.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::process::{Done, Outcome};
use crate::store::views::Backlog;

type Labels1 = [(&'static str, String); 1];
type Labels2 = [(&'static str, &'static str); 2];

/// Every metric postdesk exports.
pub struct Metrics {
    registry: Registry,
    messages: Family<Labels2, Counter>,
    tickets_created: Counter,
    processing: Histogram,
    smtp_failures: Family<[(&'static str, &'static str); 1], Counter>,
    imap_failures: Family<Labels1, Counter>,
    mailbox_connected: Family<Labels1, Gauge>,
    mailbox_backlog: Family<Labels1, Gauge>,
    mailbox_last_fetch: Family<Labels1, Gauge>,
    outbox_depth: Gauge,
    outbox_oldest_age: Gauge<f64, AtomicU64>,
    quarantine_size: Gauge,
    oauth_refreshes: Family<[(&'static str, String); 2], Counter>,
    oauth_reauth_needed: Family<Labels1, Gauge>,
    oauth_refresh_token_age: Family<Labels1, Gauge>,
    oauth_refresh_token_lapsing: Family<Labels1, Gauge>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Registry::with_prefix("postdesk"),
            messages: Family::default(),
            tickets_created: Counter::default(),
            // 1 ms … ~33 s.
            processing: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            smtp_failures: Family::default(),
            imap_failures: Family::default(),
            mailbox_connected: Family::default(),
            mailbox_backlog: Family::default(),
            mailbox_last_fetch: Family::default(),
            outbox_depth: Gauge::default(),
            outbox_oldest_age: Gauge::default(),
            quarantine_size: Gauge::default(),
            oauth_refreshes: Family::default(),
            oauth_reauth_needed: Family::default(),
            oauth_refresh_token_age: Family::default(),
            oauth_refresh_token_lapsing: Family::default(),
        };
        let mut r = m.registry;
        r.register(
            "messages",
            "Messages taken in, by outcome (created, follow_up, duplicate, already_handled, quarantined, ignored, refetch_requested) and class (person, auto-reply, read-receipt, delivery-report, feedback-report, challenge-response, list, own-mail; unknown for mail not parsed)",
            m.messages.clone(),
        );
        r.register(
            "tickets_created",
            "Tickets opened from mail",
            m.tickets_created.clone(),
        );
        r.register(
            "processing_seconds",
            "Time from the store worker taking a batch to its commit, once per message of the batch",
            m.processing.clone(),
        );
        r.register(
            "smtp_failures",
            "Mails the relay deferred (kind=deferred, retried) or refused for good (kind=failed)",
            m.smtp_failures.clone(),
        );
        r.register(
            "imap_failures",
            "IMAP sessions that failed (connect, login or a command), by mailbox",
            m.imap_failures.clone(),
        );
        r.register(
            "mailbox_connected",
            "1 while the mailbox has a ready IMAP session",
            m.mailbox_connected.clone(),
        );
        r.register(
            "mailbox_backlog",
            "Messages found in the mailbox and not yet taken in",
            m.mailbox_backlog.clone(),
        );
        r.register(
            "mailbox_last_fetch_timestamp_seconds",
            "When intake last looked through the mailbox to its end (unix time)",
            m.mailbox_last_fetch.clone(),
        );
        r.register(
            "outbox_depth",
            "Outbox mails waiting to be sent",
            m.outbox_depth.clone(),
        );
        r.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest mail waiting in the outbox (0 when empty)",
            m.outbox_oldest_age.clone(),
        );
        r.register(
            "quarantine_size",
            "Quarantined messages held for an operator",
            m.quarantine_size.clone(),
        );
        r.register(
            "oauth_refreshes",
            "OAuth2 token refreshes by account and outcome (ok, rotated: a new refresh token was saved, refused: invalid_grant, a new login is needed, failed: network or server trouble, retried)",
            m.oauth_refreshes.clone(),
        );
        r.register(
            "oauth_reauth_needed",
            "1 while an OAuth2 account needs `postdesk oauth login NAME` (no tokens, or the refresh token was refused)",
            m.oauth_reauth_needed.clone(),
        );
        r.register(
            "oauth_refresh_token_age_seconds",
            "Age of the OAuth2 refresh token in hand, by account",
            m.oauth_refresh_token_age.clone(),
        );
        r.register(
            "oauth_refresh_token_lapsing",
            "1 when the OAuth2 refresh token is within refresh_token_warn_days of refresh_token_max_age_days",
            m.oauth_refresh_token_lapsing.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// A committed batch: its outcomes (with each message's class, where
    /// known) and how long it took.
    pub fn batch(&self, outcomes: &[(Outcome, &'static str)], seconds: f64) {
        for (o, class) in outcomes {
            self.messages
                .get_or_create(&[("outcome", outcome_label(o)), ("class", class)])
                .inc();
            if matches!(o, Outcome::Created { .. }) {
                self.tickets_created.inc();
            }
            self.processing.observe(seconds);
        }
    }

    pub fn smtp_failure(&self, permanent: bool) {
        let kind = if permanent { "failed" } else { "deferred" };
        self.smtp_failures.get_or_create(&[("kind", kind)]).inc();
    }

    pub fn imap_failure(&self, mailbox: &str) {
        self.imap_failures
            .get_or_create(&[("mailbox", mailbox.to_string())])
            .inc();
    }

    pub fn mailbox_connected(&self, mailbox: &str, up: bool) {
        self.mailbox_connected
            .get_or_create(&[("mailbox", mailbox.to_string())])
            .set(i64::from(up));
    }

    pub fn mailbox_backlog(&self, mailbox: &str, count: u64) {
        self.mailbox_backlog
            .get_or_create(&[("mailbox", mailbox.to_string())])
            .set(count.min(i64::MAX as u64) as i64);
    }

    pub fn mailbox_fetched(&self, mailbox: &str, unix: i64) {
        self.mailbox_last_fetch
            .get_or_create(&[("mailbox", mailbox.to_string())])
            .set(unix);
        self.mailbox_backlog(mailbox, 0);
    }

    /// An OAuth2 refresh of `account` and how it ended.
    pub fn oauth_refresh(&self, account: &str, outcome: &'static str) {
        self.oauth_refreshes
            .get_or_create(&[
                ("account", account.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
    }

    /// Whether `account` needs a new login.
    pub fn oauth_reauth_needed(&self, account: &str, needed: bool) {
        self.oauth_reauth_needed
            .get_or_create(&[("account", account.to_string())])
            .set(i64::from(needed));
    }

    /// The age of `account`'s refresh token and whether it nears its lapse.
    pub fn oauth_refresh_token_age(&self, account: &str, secs: i64, lapsing: bool) {
        let label = [("account", account.to_string())];
        self.oauth_refresh_token_age.get_or_create(&label).set(secs);
        self.oauth_refresh_token_lapsing
            .get_or_create(&label)
            .set(i64::from(lapsing));
    }

    /// The text exposition, with the store's backlog as of `now` (unix s).
    pub fn render(&self, backlog: &Backlog, now: i64) -> String {
        self.outbox_depth
            .set(backlog.outbox_pending.min(i64::MAX as u64) as i64);
        self.outbox_oldest_age.set(
            backlog
                .outbox_oldest_unix
                .map(|t| (now - t).max(0) as f64)
                .unwrap_or(0.0),
        );
        self.quarantine_size
            .set(backlog.quarantine_held.min(i64::MAX as u64) as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Count a committed batch: each outcome with its mail's class, and the
/// time the batch took.
pub fn record_batch(done: &[Done], took: std::time::Duration) {
    let labelled: Vec<(Outcome, &'static str)> =
        done.iter().map(|d| (d.outcome.clone(), d.class)).collect();
    super::ops().metrics.batch(&labelled, took.as_secs_f64());
}

/// The `outcome` label of an outcome.
pub fn outcome_label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Created { .. } => "created",
        Outcome::FollowUp { .. } => "follow_up",
        Outcome::Note { .. } => "note",
        Outcome::Duplicate { .. } => "duplicate",
        Outcome::AlreadyHandled => "already_handled",
        Outcome::Quarantined { .. } => "quarantined",
        Outcome::Ignored { .. } => "ignored",
        Outcome::Refused { .. } => "refused",
        Outcome::RefetchRequested { .. } => "refetch_requested",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_counts_outcomes_and_sets_the_backlog() {
        let m = Metrics::new();
        m.batch(
            &[
                (Outcome::Created { ticket: "1".into() }, "person"),
                (Outcome::AlreadyHandled, "unknown"),
            ],
            0.25,
        );
        let text = m.render(
            &Backlog {
                outbox_pending: 3,
                outbox_oldest_unix: Some(100),
                quarantine_held: 2,
            },
            160,
        );
        for line in [
            "postdesk_messages_total{outcome=\"created\",class=\"person\"} 1",
            "postdesk_tickets_created_total 1",
            "postdesk_processing_seconds_count 2",
            "postdesk_outbox_depth 3",
            "postdesk_outbox_oldest_age_seconds 60.0",
            "postdesk_quarantine_size 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
