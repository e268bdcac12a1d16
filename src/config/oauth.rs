//! `auth = "oauth2"` with an `oauth2` table, for a `[[mailbox]]` (IMAP)
//! and for `[smtp]`: where the OAuth2 tokens come from (a provider preset,
//! `microsoft` or `google`, or the endpoints written out), the client,
//! the scopes, the SASL mechanism, and how old a refresh token may grow
//! before the operator is warned. Checked with the rest of the
//! configuration; the tokens themselves are `crate::oauth`'s business
//! (obtained by `postdesk oauth login NAME`, kept in
//! `data_dir/oauth/NAME.json`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// How a mailbox or the relay logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// A user name and a password (LOGIN / AUTH PLAIN).
    #[default]
    Password,
    /// A user name and an OAuth2 access token (`oauth2` table).
    Oauth2,
}

/// The SASL mechanism that carries the access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// Google's and Microsoft's `XOAUTH2`.
    #[default]
    Xoauth2,
    /// RFC 7628 `OAUTHBEARER`.
    Oauthbearer,
}

impl Mechanism {
    /// The SASL name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }
}

/// How `postdesk oauth login` obtains the first tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// RFC 8628: a URL and a code to enter there, on any device.
    DeviceCode,
    /// RFC 6749 authorization code with PKCE: a URL to open, and the
    /// address the browser was sent back to pasted into the terminal (for
    /// Google, whose device flow does not grant the Gmail scope).
    AuthorizationCode,
}

/// A provider whose endpoints and scopes are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Microsoft 365 / Exchange Online (Entra ID, v2.0 endpoints).
    Microsoft,
    /// Google Workspace and Gmail.
    Google,
}

/// The `oauth2` table as written.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    pub(super) provider: Option<Provider>,
    /// Microsoft only: the directory (tenant id or domain); default
    /// `organizations` (any work or school account).
    pub(super) tenant: Option<String>,
    pub(super) grant: Option<Grant>,
    pub(super) device_authorization_url: Option<String>,
    pub(super) authorization_url: Option<String>,
    pub(super) redirect_url: Option<String>,
    pub(super) token_url: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<String>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) client_secret_env: Option<String>,
    pub(super) scopes: Option<Vec<String>>,
    #[serde(default)]
    pub(super) mechanism: Mechanism,
    /// `[smtp.oauth2]` only: use this mailbox's tokens (one account for
    /// reading and sending).
    pub(super) mailbox: Option<String>,
    #[serde(default = "default_max_age_days")]
    pub(super) refresh_token_max_age_days: u64,
    #[serde(default = "default_warn_days")]
    pub(super) refresh_token_warn_days: u64,
}

fn default_max_age_days() -> u64 {
    90
}
fn default_warn_days() -> u64 {
    14
}

/// Microsoft's scopes for IMAP and for SMTP submission (v2.0 endpoint).
pub const MICROSOFT_IMAP_SCOPE: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";
pub const MICROSOFT_SMTP_SCOPE: &str = "https://outlook.office.com/SMTP.Send";
/// Google's one scope for IMAP and SMTP.
pub const GOOGLE_MAIL_SCOPE: &str = "https://mail.google.com/";

/// A checked OAuth2 account: everything needed to log in, refresh, and
/// find its tokens.
#[derive(Clone, PartialEq)]
pub struct OAuth2 {
    /// What `postdesk oauth login` is given: the mailbox's name, or
    /// `smtp` for the relay's own account.
    pub account: String,
    pub grant: Grant,
    /// For [`Grant::DeviceCode`] (else empty).
    pub device_authorization_url: String,
    /// For [`Grant::AuthorizationCode`] (else empty): where the operator
    /// approves, and where the provider sends the browser back (nothing
    /// needs to listen there: the operator pastes the address).
    pub authorization_url: String,
    pub redirect_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    pub mechanism: Mechanism,
    /// `data_dir/oauth/<account>.json` (0600).
    pub token_file: PathBuf,
    /// A refresh token older than this is expected to have lapsed
    /// (Microsoft: 90 days).
    pub refresh_token_max_age: Duration,
    /// Warn this long before `refresh_token_max_age`.
    pub refresh_token_warn: Duration,
}

impl fmt::Debug for OAuth2 {
    // Hand-written so the client secret never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2")
            .field("account", &self.account)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

/// The token file of `account` under `data_dir`: `oauth/<account>.json`,
/// the name with anything but letters, digits, `.`, `_` and `-` written
/// as `%XX`, so every mailbox name makes one file inside the folder.
pub fn token_file(data_dir: &Path, account: &str) -> PathBuf {
    let mut name = String::new();
    for b in account.bytes() {
        if b.is_ascii_alphanumeric() || b"_-".contains(&b) || (b == b'.' && !name.is_empty()) {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    data_dir.join("oauth").join(format!("{name}.json"))
}

/// Where the check reads from.
pub(super) struct Ctx<'a> {
    pub(super) base: &'a Path,
    pub(super) data_dir: &'a Path,
    pub(super) env: &'a BTreeMap<String, String>,
}

/// Check `auth` and `oauth2` of the table at `key` (`mailbox[0]`,
/// `smtp`); `for_smtp` picks the preset's scopes. `Ok(None)`: password
/// login. The `mailbox` key of `[smtp.oauth2]` is resolved by the caller.
pub(super) fn check(
    key: &str,
    account: &str,
    auth: Option<AuthKind>,
    raw: Option<RawOAuth2>,
    for_smtp: bool,
    cx: &Ctx<'_>,
    problems: &mut Vec<String>,
) -> Option<OAuth2> {
    let raw = match (auth.unwrap_or_default(), raw) {
        (AuthKind::Password, None) => return None,
        (AuthKind::Password, Some(_)) => {
            problems.push(format!(
                "{key}.oauth2: set, but auth is \"password\": add auth = \"oauth2\" to use it, or remove the table"
            ));
            return None;
        }
        (AuthKind::Oauth2, None) => {
            problems.push(format!(
                "{key}.auth: \"oauth2\" needs an oauth2 table (e.g. oauth2 = {{ provider = \"microsoft\", client_id = \"…\" }})"
            ));
            return None;
        }
        (AuthKind::Oauth2, Some(r)) => r,
    };
    let k = format!("{key}.oauth2");
    let before = problems.len();
    if raw.tenant.is_some() && raw.provider != Some(Provider::Microsoft) {
        problems.push(format!("{k}.tenant: only for provider = \"microsoft\""));
    }
    let tenant = raw.tenant.unwrap_or_else(|| "organizations".into());
    if tenant.is_empty()
        || !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        problems.push(format!(
            "{k}.tenant: {tenant:?} is not a tenant id or domain (e.g. \"contoso.onmicrosoft.com\")"
        ));
    }
    let (grant, device, auth, token, scopes) = match raw.provider {
        Some(Provider::Microsoft) => {
            let at = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
            let scope = if for_smtp {
                MICROSOFT_SMTP_SCOPE
            } else {
                MICROSOFT_IMAP_SCOPE
            };
            (
                Grant::DeviceCode,
                Some(format!("{at}/devicecode")),
                Some(format!("{at}/authorize")),
                Some(format!("{at}/token")),
                vec![scope.to_string(), "offline_access".to_string()],
            )
        }
        // Google's device flow grants only a few scopes, not Gmail's.
        Some(Provider::Google) => (
            Grant::AuthorizationCode,
            Some("https://oauth2.googleapis.com/device/code".into()),
            Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
            Some("https://oauth2.googleapis.com/token".into()),
            vec![GOOGLE_MAIL_SCOPE.to_string()],
        ),
        None => (Grant::DeviceCode, None, None, None, Vec::new()),
    };
    let grant = raw.grant.unwrap_or(grant);
    let mut url = |name: &str, given: Option<String>, preset: Option<String>, needed: bool| {
        match given.or(preset) {
            Some(u) if is_http_url(&u) => u,
            Some(u) => {
                problems.push(format!("{k}.{name}: {u:?} is not an http(s) URL"));
                String::new()
            }
            None if needed => {
                problems.push(format!(
                    "{k}.{name}: required without a provider (or set provider = \"microsoft\" or \"google\")"
                ));
                String::new()
            }
            None => String::new(),
        }
    };
    let device_authorization_url = url(
        "device_authorization_url",
        raw.device_authorization_url,
        device,
        grant == Grant::DeviceCode,
    );
    let authcode = grant == Grant::AuthorizationCode;
    let authorization_url = url("authorization_url", raw.authorization_url, auth, authcode);
    let redirect_url = url(
        "redirect_url",
        raw.redirect_url,
        Some("http://127.0.0.1:1/".into()),
        authcode,
    );
    let token_url = url("token_url", raw.token_url, token, true);
    let client_id = match raw.client_id {
        Some(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => {
            problems.push(format!(
                "{k}.client_id: required: the application (client) id of your app registration"
            ));
            String::new()
        }
    };
    let client_secret = client_secret(
        &k,
        raw.client_secret,
        raw.client_secret_file,
        raw.client_secret_env,
        cx,
        problems,
    );
    if raw.provider == Some(Provider::Google) && client_secret.is_none() && problems.len() == before
    {
        problems.push(format!(
            "{k}.client_secret_file: Google requires the client secret of your OAuth client (type \"Desktop app\"); set client_secret_file (or client_secret_env)"
        ));
    }
    let scopes = raw.scopes.unwrap_or(scopes);
    if scopes.is_empty() {
        problems.push(format!(
            "{k}.scopes: required without a provider (e.g. [\"{MICROSOFT_IMAP_SCOPE}\", \"offline_access\"])"
        ));
    }
    for (i, s) in scopes.iter().enumerate() {
        if s.is_empty()
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
        {
            problems.push(format!(
                "{k}.scopes[{i}]: {s:?} is not a scope (no spaces or quotes)"
            ));
        }
    }
    if for_smtp && raw.mechanism == Mechanism::Oauthbearer {
        problems.push(format!(
            "{k}.mechanism: SMTP supports only \"xoauth2\" here (lettre has no OAUTHBEARER)"
        ));
    }
    if raw.mailbox.is_some() && !for_smtp {
        problems.push(format!("{k}.mailbox: only in [smtp.oauth2]"));
    }
    if raw.refresh_token_max_age_days == 0 {
        problems.push(format!(
            "{k}.refresh_token_max_age_days: must be at least 1 (days)"
        ));
    }
    if raw.refresh_token_warn_days >= raw.refresh_token_max_age_days {
        problems.push(format!(
            "{k}.refresh_token_warn_days: {} must be less than refresh_token_max_age_days ({})",
            raw.refresh_token_warn_days, raw.refresh_token_max_age_days
        ));
    }
    const DAY: u64 = 86_400;
    Some(OAuth2 {
        account: account.to_string(),
        grant,
        device_authorization_url,
        authorization_url,
        redirect_url,
        token_url,
        client_id,
        client_secret,
        scopes,
        mechanism: raw.mechanism,
        token_file: token_file(cx.data_dir, account),
        refresh_token_max_age: Duration::from_secs(
            raw.refresh_token_max_age_days.min(36_500) * DAY,
        ),
        refresh_token_warn: Duration::from_secs(raw.refresh_token_warn_days.min(36_500) * DAY),
    })
}

/// `auth` and `oauth2` of a mailbox with an IMAP host: the account, or
/// None for a password login (then a password is required elsewhere).
pub(super) fn mailbox(
    key: &str,
    m: &super::raw::RawMailbox,
    cx: &Ctx<'_>,
    problems: &mut Vec<String>,
) -> Option<OAuth2> {
    let raw = m.oauth2.clone();
    let o = check(key, &m.name, m.auth, raw, false, cx, problems);
    if o.is_some()
        && (m.password.is_some() || m.password_file.is_some() || m.password_env.is_some())
    {
        problems.push(format!(
            "{key}.password: not used with auth = \"oauth2\"; remove it"
        ));
    }
    o
}

/// The relay's own account is `smtp`: a mailbox of that name logging in
/// with OAuth2 would share its token file.
pub(super) fn one_account_per_file(
    smtp: &super::Smtp,
    mailboxes: &[super::Mailbox],
    problems: &mut Vec<String>,
) {
    if smtp.oauth2.is_none() {
        return;
    }
    for (i, m) in mailboxes.iter().enumerate() {
        if m.name == "smtp" && m.imap.as_ref().is_some_and(|i| i.oauth2.is_some()) {
            problems.push(format!(
                "mailbox[{i}].name: \"smtp\" is the name of [smtp]'s own OAuth2 account; rename the mailbox, or let [smtp] share it (oauth2 = {{ mailbox = \"smtp\" }})"
            ));
        }
    }
}

/// How `[smtp]` logs in with OAuth2, as far as it can be told before the
/// mailboxes are checked.
pub(super) struct SmtpAuth {
    /// Its own account (`smtp`).
    pub(super) own: Option<OAuth2>,
    /// `mailbox = NAME`: the mailbox whose account it shares.
    pub(super) shares: Option<String>,
    pub(super) mechanism: Mechanism,
}

pub(super) fn smtp(
    auth: Option<AuthKind>,
    raw: Option<RawOAuth2>,
    has_username: bool,
    password_given: [bool; 3],
    cx: &Ctx<'_>,
    problems: &mut Vec<String>,
) -> SmtpAuth {
    if auth == Some(AuthKind::Oauth2) && password_given.contains(&true) {
        problems.push("smtp.password: not used with auth = \"oauth2\"; remove it".into());
    }
    let shares = raw.as_ref().and_then(|r| r.mailbox.clone());
    let mechanism = raw.as_ref().map(|r| r.mechanism).unwrap_or_default();
    let own = match (&shares, raw) {
        (Some(_), Some(o)) if sets_own_account(&o) => {
            problems.push("smtp.oauth2.mailbox: a shared account takes everything from the mailbox; leave out provider, client_id, endpoints, secret and scopes".into());
            None
        }
        (Some(_), _) => {
            if auth != Some(AuthKind::Oauth2) {
                problems.push("smtp.oauth2: set, but auth is \"password\": add auth = \"oauth2\" to use it, or remove the table".into());
            }
            None
        }
        (None, o) => check("smtp", "smtp", auth, o, true, cx, problems),
    };
    if auth == Some(AuthKind::Oauth2) && !has_username {
        problems
            .push("smtp.username: required with auth = \"oauth2\" (the account's address)".into());
    }
    SmtpAuth {
        own,
        shares: shares.filter(|_| auth == Some(AuthKind::Oauth2)),
        mechanism,
    }
}

/// `[smtp.oauth2] mailbox = NAME`: the relay logs in with that mailbox's
/// account (with the relay's own mechanism). A Microsoft mailbox's scopes
/// gain `SMTP.Send`, so its one token serves both.
pub(super) fn share(
    name: &str,
    mechanism: Mechanism,
    mailboxes: &mut [super::Mailbox],
    problems: &mut Vec<String>,
) -> Option<OAuth2> {
    if mechanism == Mechanism::Oauthbearer {
        problems.push("smtp.oauth2.mechanism: SMTP supports only \"xoauth2\" here (lettre has no OAUTHBEARER)".into());
    }
    let Some(o) = mailboxes
        .iter_mut()
        .find(|m| m.name == name)
        .and_then(|m| m.imap.as_mut()?.oauth2.as_mut())
    else {
        problems.push(format!(
            "smtp.oauth2.mailbox: no [[mailbox]] named {name:?} logs in with auth = \"oauth2\""
        ));
        return None;
    };
    if o.scopes.iter().any(|s| s == MICROSOFT_IMAP_SCOPE)
        && !o.scopes.iter().any(|s| s == MICROSOFT_SMTP_SCOPE)
    {
        o.scopes.push(MICROSOFT_SMTP_SCOPE.to_string());
    }
    Some(OAuth2 {
        mechanism,
        ..o.clone()
    })
}

/// Whether the table sets anything but `mailbox` (and the mechanism),
/// which a shared account takes from the mailbox.
fn sets_own_account(raw: &RawOAuth2) -> bool {
    raw.provider.is_some()
        || raw.tenant.is_some()
        || raw.device_authorization_url.is_some()
        || raw.authorization_url.is_some()
        || raw.redirect_url.is_some()
        || raw.grant.is_some()
        || raw.token_url.is_some()
        || raw.client_id.is_some()
        || raw.client_secret.is_some()
        || raw.client_secret_file.is_some()
        || raw.client_secret_env.is_some()
        || raw.scopes.is_some()
}

fn is_http_url(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() > "https://".len()
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn client_secret(
    k: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
    var: Option<String>,
    cx: &Ctx<'_>,
    problems: &mut Vec<String>,
) -> Option<String> {
    let given = inline.is_some() as u8 + file.is_some() as u8 + var.is_some() as u8;
    if given > 1 {
        problems.push(format!(
            "{k}: set only one of client_secret, client_secret_file, client_secret_env"
        ));
        return None;
    }
    if let Some(f) = file {
        let f = super::check::absolute(cx.base, &f);
        return match std::fs::read_to_string(&f) {
            Ok(s) => Some(s.trim_end_matches(['\r', '\n']).to_string()),
            Err(e) => {
                problems.push(format!(
                    "{k}.client_secret_file: cannot read {}: {e}",
                    f.display()
                ));
                None
            }
        };
    }
    if let Some(v) = var {
        return match cx.env.get(&v) {
            Some(s) => Some(s.clone()),
            None => {
                problems.push(format!(
                    "{k}.client_secret_env: environment variable {v} is not set"
                ));
                None
            }
        };
    }
    inline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_stay_inside_the_folder() {
        let d = Path::new("/var/lib/postdesk");
        assert_eq!(
            token_file(d, "support"),
            Path::new("/var/lib/postdesk/oauth/support.json")
        );
        assert_eq!(
            token_file(d, "../x/y z"),
            Path::new("/var/lib/postdesk/oauth/%2E.%2Fx%2Fy%20z.json")
        );
    }
}
