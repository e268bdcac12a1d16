//! The health report behind `/healthz`, `STATUS=` and `postdesk status`:
//! a pure function of the live state, the store's backlog, the
//! configuration and the time. Unhealthy means something has been wrong
//! longer than the operator allows (`[health]`), not merely that an error
//! happened once: a mailbox whose last successful fetch is older than
//! `max_fetch_age_secs` (plus its poll interval while it is connected, as
//! an idling session looks again only then), or outbox mail pending longer
//! than `max_outbox_age_secs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Backlog, MailboxState, SmtpState};
use crate::config::Config;

/// One mailbox in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MailboxHealth {
    pub name: String,
    pub connected: bool,
    /// RFC 3339, absent before the first successful fetch.
    pub last_fetch: Option<String>,
    /// Seconds since the last successful fetch (or since the start).
    pub fetch_age_secs: i64,
    pub backlog: u64,
    pub last_error: Option<String>,
    pub ok: bool,
}

/// The outbox in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxHealth {
    pub depth: u64,
    /// RFC 3339 of the oldest pending mail.
    pub oldest: Option<String>,
    pub oldest_age_secs: Option<i64>,
    pub last_smtp_error: Option<String>,
    pub last_smtp_error_at: Option<String>,
    pub ok: bool,
}

/// Everything `/healthz` answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// `false`: `/healthz` answers 503.
    pub ok: bool,
    /// What is wrong, one sentence each.
    pub problems: Vec<String>,
    pub mailboxes: Vec<MailboxHealth>,
    pub outbox: OutboxHealth,
    pub quarantine_held: u64,
}

/// Judge the state at `now` (unix s); `started` is the daemon's start.
pub fn report(
    config: &Config,
    mailboxes: &BTreeMap<String, MailboxState>,
    smtp: &SmtpState,
    backlog: &Backlog,
    started: i64,
    now: i64,
) -> Report {
    let max_fetch = config.ops.max_fetch_age.as_secs() as i64;
    let mut problems = Vec::new();
    let mut list = Vec::new();
    for (name, s) in mailboxes {
        let age = now - s.last_fetch_unix.unwrap_or(started);
        let idle = config
            .mailbox(name)
            .map(|m| m.poll_interval.as_secs().min(25 * 60) as i64)
            .unwrap_or(0);
        let allowed = max_fetch + if s.connected { idle } else { 0 };
        let ok = age <= allowed && s.reauthorise.is_none();
        if let Some(why) = &s.reauthorise {
            problems.push(format!("mailbox {name}: {why}"));
        } else if !ok {
            problems.push(format!(
                "mailbox {name}: no successful fetch for {age} s (allowed {allowed} s){}",
                s.last_error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            ));
        }
        list.push(MailboxHealth {
            name: name.clone(),
            connected: s.connected,
            last_fetch: s.last_fetch_unix.map(rfc3339),
            fetch_age_secs: age,
            backlog: s.backlog,
            last_error: s.last_error.clone(),
            ok,
        });
    }
    let oldest_age = backlog.outbox_oldest_unix.map(|t| (now - t).max(0));
    let max_outbox = config.ops.max_outbox_age.as_secs() as i64;
    let outbox_ok = oldest_age.is_none_or(|a| a <= max_outbox) && smtp.reauthorise.is_none();
    if let Some(why) = &smtp.reauthorise {
        problems.push(format!("smtp: {why}"));
    }
    if oldest_age.is_some_and(|a| a > max_outbox) {
        problems.push(format!(
            "outbox: {} mail(s) pending, the oldest for {} s (allowed {max_outbox} s){}",
            backlog.outbox_pending,
            oldest_age.unwrap_or(0),
            smtp.last_error
                .as_deref()
                .map(|e| format!("; last SMTP error: {e}"))
                .unwrap_or_default()
        ));
    }
    Report {
        ok: problems.is_empty(),
        problems,
        mailboxes: list,
        outbox: OutboxHealth {
            depth: backlog.outbox_pending,
            oldest: backlog.outbox_oldest_unix.map(rfc3339),
            oldest_age_secs: oldest_age,
            last_smtp_error: smtp.last_error.clone(),
            last_smtp_error_at: smtp.last_error_unix.map(rfc3339),
            ok: outbox_ok,
        },
        quarantine_held: backlog.quarantine_held,
    }
}

/// A one-line summary for systemd's `STATUS=`.
pub fn status_line(r: &Report) -> String {
    let connected = r.mailboxes.iter().filter(|m| m.connected).count();
    let backlog: u64 = r.mailboxes.iter().map(|m| m.backlog).sum();
    let mut line = format!(
        "{connected}/{} mailboxes connected, backlog {backlog}, outbox {} pending",
        r.mailboxes.len(),
        r.outbox.depth
    );
    if let Some(a) = r.outbox.oldest_age_secs {
        line.push_str(&format!(" (oldest {a} s)"));
    }
    if r.quarantine_held > 0 {
        line.push_str(&format!(", {} quarantined", r.quarantine_held));
    }
    if let Some(p) = r.problems.first() {
        line.push_str(&format!("; UNHEALTHY: {p}"));
    }
    line
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, CONFIG).unwrap();
        std::fs::write(dir.path().join("pw"), "x").unwrap();
        Config::load_with_env(&path, &Default::default()).unwrap()
    }

    const CONFIG: &str = r#"
[system]
fqdn = "desk.test"
[storage]
database = "db"
data_dir = "data"
[smtp]
host = "localhost"
[health]
max_fetch_age_secs = 100
max_outbox_age_secs = 50
[[queue]]
name = "q"
[[mailbox]]
name = "m"
address = "m@desk.test"
queue = "q"
host = "localhost"
username = "m"
password_file = "pw"
poll_interval_secs = 30
after = "flag"
"#;

    fn mailbox(connected: bool, last_fetch: Option<i64>) -> BTreeMap<String, MailboxState> {
        BTreeMap::from([(
            "m".to_string(),
            MailboxState {
                connected,
                attempted: true,
                last_fetch_unix: last_fetch,
                last_error: (!connected).then(|| "connection refused".into()),
                ..Default::default()
            },
        )])
    }

    fn check(mb: BTreeMap<String, MailboxState>, backlog: Backlog, now: i64, ok: bool) -> Report {
        let r = report(&config(), &mb, &SmtpState::default(), &backlog, 1000, now);
        assert_eq!(r.ok, ok, "{r:#?}");
        r
    }

    #[test]
    fn a_mailbox_is_judged_by_its_last_successful_fetch() {
        // Never fetched: counted from the start.
        check(mailbox(false, None), Backlog::default(), 1100, true);
        let r = check(mailbox(false, None), Backlog::default(), 1101, false);
        assert!(r.problems[0].contains("connection refused"), "{r:?}");
        // Connected and idling: its poll interval is allowed on top.
        check(mailbox(true, Some(2000)), Backlog::default(), 2130, true);
        check(mailbox(true, Some(2000)), Backlog::default(), 2131, false);
        check(mailbox(false, Some(2000)), Backlog::default(), 2101, false);
    }

    #[test]
    fn an_account_needing_a_new_login_is_unhealthy_at_once() {
        let mut mb = mailbox(false, Some(2000));
        mb.get_mut("m").unwrap().reauthorise =
            Some("OAuth2 re-authorisation needed: run `postdesk oauth login m`".into());
        let r = check(mb, Backlog::default(), 2001, false);
        assert_eq!(
            r.problems,
            ["mailbox m: OAuth2 re-authorisation needed: run `postdesk oauth login m`"]
        );
        assert!(!r.mailboxes[0].ok);
        let smtp = SmtpState {
            reauthorise: Some("run `postdesk oauth login smtp`".into()),
            ..Default::default()
        };
        let r = report(
            &config(),
            &BTreeMap::new(),
            &smtp,
            &Backlog::default(),
            1000,
            1001,
        );
        assert!(!r.ok && !r.outbox.ok, "{r:?}");
        assert_eq!(r.problems, ["smtp: run `postdesk oauth login smtp`"]);
    }

    #[test]
    fn old_outbox_mail_is_unhealthy() {
        let backlog = |oldest| Backlog {
            outbox_pending: 2,
            outbox_oldest_unix: Some(oldest),
            quarantine_held: 0,
        };
        let r = check(BTreeMap::new(), backlog(950), 1000, true);
        assert_eq!(r.outbox.oldest_age_secs, Some(50));
        let r = check(BTreeMap::new(), backlog(949), 1000, false);
        assert!(r.problems[0].starts_with("outbox: 2 mail(s) pending"));
        assert!(status_line(&r).contains("UNHEALTHY: outbox"));
    }
}
