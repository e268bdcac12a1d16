//! Reconnect delays after a lost server (IMAP intake, the SMTP relay):
//! exponential from 1 s, capped near 30 s, with jitter, and reset by the
//! caller after a successful session. The cap bounds how long postdesk
//! idles after a server comes back (an outage once left a mailbox waiting
//! 59 s more than needed); the jitter keeps several mailboxes or daemons
//! from reconnecting in lockstep.
//!
//! Per-mail retries after the relay's own 4xx answer are a different
//! schedule (`outbox::backoff`, up to `smtp.retry_max_secs`).

use std::time::Duration;

/// Longest reconnect delay (jitter included).
pub const CAP: Duration = Duration::from_secs(30);

/// The delay after `failures` consecutive failed attempts (0 = the first
/// failure), given a uniform draw `unit` in [0, 1): "equal jitter", half
/// of the exponential step fixed and half random, so the wait is in
/// [step/2, step) with step = min(2^failures s, 30 s).
pub fn delay(failures: u32, unit: f64) -> Duration {
    let step = Duration::from_secs(1u64 << failures.min(16)).min(CAP);
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.0
    };
    step / 2 + step.mul_f64(unit / 2.0)
}

/// A reconnect schedule: [`Backoff::next_delay`] after each failure,
/// [`Backoff::reset`] after a session that worked.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The wait before the next attempt; counts one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let d = delay(self.failures, fastrand::f64());
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// The server answered: the next failure starts from 1 s again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(failures: u32, unit: f64, expected_ms: u64) {
        assert_eq!(
            delay(failures, unit),
            Duration::from_millis(expected_ms),
            "failures {failures}, unit {unit}"
        );
    }

    #[test]
    fn schedule_doubles_then_caps_near_thirty_seconds() {
        check(0, 0.0, 500);
        check(0, 0.5, 750);
        check(1, 0.0, 1000);
        check(3, 0.5, 6000);
        check(4, 0.0, 8000);
        check(5, 0.0, 15000);
        check(5, 1.0, 30000);
        check(40, 0.0, 15000);
        check(u32::MAX, 1.0, 30000);
    }

    #[test]
    fn odd_draws_stay_in_range() {
        check(5, f64::NAN, 15000);
        check(5, -3.0, 15000);
        check(5, 7.0, 30000);
    }

    #[test]
    fn long_outage_waits_at_most_30s_and_reset_starts_over() {
        let mut b = Backoff::default();
        for _ in 0..100 {
            assert!(b.next_delay() <= CAP);
        }
        assert_eq!(b.failures(), 100);
        b.reset();
        assert!(b.next_delay() < Duration::from_secs(1));
    }
}
