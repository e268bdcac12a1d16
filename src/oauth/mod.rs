//! OAuth2 for IMAP and SMTP (`auth = "oauth2"`): the tokens of each
//! account (a mailbox, or `smtp`) in a file of their own ([`mod@file`]),
//! obtained by the device-code login `postdesk oauth login NAME` and
//! refreshed here (`client.rs`, the `oauth2` crate), and the SASL
//! mechanisms that carry them ([`sasl`]). Intake and the outbox ask
//! [`access_token`] before each login; it refreshes when less than
//! [`REFRESH_MARGIN`] is left, saves a rotated refresh token at once,
//! and says in its error what the operator must run when only a new
//! login helps. Metrics (refreshes, re-authorisation needed, refresh
//! token age) are recorded in [`crate::ops`]; whether a mailbox or the
//! relay is healthy is for their owners to report.

mod client;
pub mod file;
pub mod sasl;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;

pub use client::{
    authcode_finish, authcode_start, device_finish, device_start, AuthCode, DeviceCode,
};
pub use file::Tokens;

use crate::config::OAuth2;

/// An access token with less than this left is refreshed before use.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Why no access token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("OAuth2 account {account:?} has no tokens yet: run `postdesk oauth login {account}`")]
    NotLoggedIn { account: String },
    #[error("OAuth2 re-authorisation needed for {account:?}: the token endpoint refused the refresh token ({detail}); run `postdesk oauth login {account}`")]
    Reauthorise { account: String, detail: String },
    #[error("OAuth2 account {account:?}: {error:#}")]
    Failed {
        account: String,
        error: anyhow::Error,
    },
}

impl TokenError {
    /// Only the operator can fix it (log in); retrying changes nothing.
    pub fn needs_login(&self) -> bool {
        !matches!(self, TokenError::Failed { .. })
    }
}

/// An access token and when it expires (unix s).
pub struct Access {
    pub token: String,
    pub expires_unix: Option<i64>,
}

/// One async lock per token file: the IMAP task and the SMTP lanes of one
/// process take turns, so only one of them refreshes.
fn process_lock(path: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut m = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    m.entry(path.to_path_buf()).or_default().clone()
}

/// A usable access token for `o`, refreshed first when it expires within
/// [`REFRESH_MARGIN`].
pub async fn access_token(o: &OAuth2) -> Result<Access, TokenError> {
    let failed = |error: anyhow::Error| TokenError::Failed {
        account: o.account.clone(),
        error,
    };
    let lock = process_lock(&o.token_file);
    let _in_process = lock.lock().await;
    let fresh = |t: &Tokens| {
        t.access_expires_unix
            .is_none_or(|at| at - crate::store::now_unix() > REFRESH_MARGIN.as_secs() as i64)
    };
    let t = current(o)?;
    if fresh(&t) {
        return Ok(usable(o, t));
    }
    // Another process may be refreshing the same tokens: wait for it and
    // read the file again.
    let path = o.token_file.clone();
    let _across = tokio::task::spawn_blocking(move || file::RefreshLock::acquire(&path))
        .await
        .map_err(|e| failed(e.into()))?
        .map_err(failed)?;
    let t = current(o)?;
    if fresh(&t) {
        return Ok(usable(o, t));
    }
    let metrics = &crate::ops::ops().metrics;
    match client::refresh(o, &t).await {
        Ok(new) => {
            file::save(&o.token_file, &new).map_err(failed)?;
            let rotated = new.refresh_token != t.refresh_token;
            metrics.oauth_refresh(&o.account, if rotated { "rotated" } else { "ok" });
            tracing::info!(account = %o.account, rotated, "OAuth2 access token refreshed");
            Ok(usable(o, new))
        }
        Err(client::RefreshError::Refused(detail)) => {
            metrics.oauth_refresh(&o.account, "refused");
            let marked = Tokens {
                refused: Some(detail.clone()),
                ..t
            };
            file::save(&o.token_file, &marked).map_err(failed)?;
            Err(refused(o, detail))
        }
        Err(client::RefreshError::Failed(e)) => {
            metrics.oauth_refresh(&o.account, "failed");
            Err(failed(e))
        }
    }
}

/// The tokens on file, unless there are none or they were refused.
fn current(o: &OAuth2) -> Result<Tokens, TokenError> {
    let t = file::load(&o.token_file)
        .map_err(|error| TokenError::Failed {
            account: o.account.clone(),
            error,
        })?
        .ok_or_else(|| {
            crate::ops::ops()
                .metrics
                .oauth_reauth_needed(&o.account, true);
            TokenError::NotLoggedIn {
                account: o.account.clone(),
            }
        })?;
    match &t.refused {
        Some(detail) => Err(refused(o, detail.clone())),
        None => Ok(t),
    }
}

fn refused(o: &OAuth2, detail: String) -> TokenError {
    crate::ops::ops()
        .metrics
        .oauth_reauth_needed(&o.account, true);
    TokenError::Reauthorise {
        account: o.account.clone(),
        detail,
    }
}

/// Hand out the access token, after recording the refresh token's age
/// and warning (at most once a day per account) when it nears its lapse.
fn usable(o: &OAuth2, t: Tokens) -> Access {
    let now = crate::store::now_unix();
    let metrics = &crate::ops::ops().metrics;
    metrics.oauth_reauth_needed(&o.account, false);
    let s = status_of(o, Some(&t), now);
    metrics.oauth_refresh_token_age(&o.account, s.refresh_token_age_secs.unwrap_or(0), s.lapsing);
    if s.lapsing && warn_due(&o.account, now) {
        tracing::warn!(account = %o.account,
            "OAuth2 refresh token of {:?} is {} days old and lapses after {} days: run `postdesk oauth login {}` before then",
            o.account,
            s.refresh_token_age_secs.unwrap_or(0) / 86_400,
            o.refresh_token_max_age.as_secs() / 86_400,
            o.account);
    }
    Access {
        token: t.access_token,
        expires_unix: t.access_expires_unix,
    }
}

/// Whether the lapse warning for `account` was not given in the last day.
fn warn_due(account: &str, now: i64) -> bool {
    static LAST: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    let mut m = LAST
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    match m.get(account) {
        Some(&at) if now - at < 86_400 => false,
        _ => {
            m.insert(account.to_string(), now);
            true
        }
    }
}

/// One account's tokens as `postdesk oauth status` shows them (no secret).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    pub account: String,
    pub token_file: PathBuf,
    pub logged_in: bool,
    /// Seconds the access token has left (negative: expired).
    pub access_expires_in_secs: Option<i64>,
    pub has_refresh_token: bool,
    pub refresh_token_age_secs: Option<i64>,
    /// The refresh token is within `refresh_token_warn_days` of its lapse.
    pub lapsing: bool,
    /// Only a new login helps: why.
    pub reauthorise: Option<String>,
}

/// The status of `o` given its tokens (None: no file) at `now`.
pub fn status_of(o: &OAuth2, t: Option<&Tokens>, now: i64) -> Status {
    let age = t.map(|t| (now - t.refresh_token_since_unix).max(0));
    let lapse_at = o
        .refresh_token_max_age
        .saturating_sub(o.refresh_token_warn)
        .as_secs() as i64;
    let reauthorise = match t {
        None => Some("not logged in".to_string()),
        Some(t) if t.refused.is_some() => t.refused.clone(),
        Some(t) if t.refresh_token.is_none() => Some("no refresh token".to_string()),
        Some(_) => None,
    };
    Status {
        account: o.account.clone(),
        token_file: o.token_file.clone(),
        logged_in: t.is_some(),
        access_expires_in_secs: t.and_then(|t| t.access_expires_unix).map(|at| at - now),
        has_refresh_token: t.is_some_and(|t| t.refresh_token.is_some()),
        refresh_token_age_secs: age,
        lapsing: age.is_some_and(|a| a >= lapse_at),
        reauthorise,
    }
}

/// The status of `o` read from its file.
pub fn status(o: &OAuth2) -> anyhow::Result<Status> {
    let t = file::load(&o.token_file)?;
    Ok(status_of(o, t.as_ref(), crate::store::now_unix()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> OAuth2 {
        OAuth2 {
            account: "support".into(),
            grant: crate::config::Grant::DeviceCode,
            device_authorization_url: "http://127.0.0.1:1/d".into(),
            authorization_url: String::new(),
            redirect_url: String::new(),
            token_url: "http://127.0.0.1:1/t".into(),
            client_id: "c".into(),
            client_secret: None,
            scopes: vec!["s".into()],
            mechanism: crate::config::Mechanism::Xoauth2,
            token_file: PathBuf::from("/nonexistent/oauth/support.json"),
            refresh_token_max_age: Duration::from_secs(90 * 86_400),
            refresh_token_warn: Duration::from_secs(14 * 86_400),
        }
    }

    fn tokens(since: i64) -> Tokens {
        Tokens {
            account: "support".into(),
            token_url: "http://127.0.0.1:1/t".into(),
            client_id: "c".into(),
            access_token: "a".into(),
            access_expires_unix: Some(1_000),
            refresh_token: Some("r".into()),
            refresh_token_since_unix: since,
            updated_unix: since,
            scopes: vec![],
            refused: None,
        }
    }

    #[test]
    fn a_refresh_token_is_lapsing_from_max_age_less_the_warning() {
        const DAY: i64 = 86_400;
        let o = account();
        let now = 100 * DAY;
        let s = status_of(&o, Some(&tokens(now - 76 * DAY + 1)), now);
        assert!(!s.lapsing && s.reauthorise.is_none(), "{s:?}");
        let s = status_of(&o, Some(&tokens(now - 76 * DAY)), now);
        assert!(s.lapsing, "{s:?}");
        assert_eq!(s.access_expires_in_secs, Some(1_000 - now));
        assert_eq!(
            status_of(&o, None, now).reauthorise.as_deref(),
            Some("not logged in")
        );
        let refused = Tokens {
            refused: Some("invalid_grant".into()),
            ..tokens(now)
        };
        assert_eq!(
            status_of(&o, Some(&refused), now).reauthorise.as_deref(),
            Some("invalid_grant")
        );
    }

    #[test]
    fn the_lapse_warning_comes_at_most_once_a_day() {
        assert!(warn_due("warn-test", 1_000));
        assert!(!warn_due("warn-test", 1_000 + 86_399));
        assert!(warn_due("warn-test", 1_000 + 86_400));
        assert!(warn_due("another", 1_000));
    }
}
