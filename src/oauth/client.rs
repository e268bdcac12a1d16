//! The OAuth2 exchanges, with the `oauth2` crate over `reqwest` on our
//! own rustls (ring) configuration: the device authorisation grant (RFC
//! 8628: ask for a code, let the operator approve it in a browser, poll
//! the token endpoint), the authorization code grant with PKCE (the
//! operator opens a URL and pastes back the address the browser was sent
//! to; Google's device flow does not grant the Gmail scope) and the
//! refresh grant. The client is sent in the
//! request body (a public client has no secret; Google's device clients
//! have one), and redirects are not followed.

use std::time::Duration;

use anyhow::Context as _;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, DeviceAuthorizationUrl, RefreshToken, RequestTokenError,
    Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};

use super::file::Tokens;
use crate::config::OAuth2;

/// Longest any one HTTP exchange may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

fn http() -> anyhow::Result<reqwest::Client> {
    let tls = crate::tls::client_config(None)?;
    reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .build()
        .context("building the HTTP client for OAuth2")
}

/// What a device login shows the operator.
pub struct DeviceCode {
    details: StandardDeviceAuthorizationResponse,
}

impl DeviceCode {
    /// Where to go.
    pub fn url(&self) -> &str {
        self.details.verification_uri()
    }
    /// The same with the code in it, where the provider offers one.
    pub fn url_with_code(&self) -> Option<&str> {
        self.details
            .verification_uri_complete()
            .map(|u| u.secret().as_str())
    }
    /// What to type there.
    pub fn user_code(&self) -> &str {
        self.details.user_code().secret()
    }
    /// How long the code is good for.
    pub fn expires_in(&self) -> Duration {
        self.details.expires_in()
    }
}

/// Ask the device authorisation endpoint for a code.
pub async fn device_start(o: &OAuth2) -> anyhow::Result<DeviceCode> {
    let client = BasicClient::new(ClientId::new(o.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(o.device_authorization_url.clone())
                .context("device_authorization_url")?,
        );
    let client = match &o.client_secret {
        Some(s) => client.set_client_secret(ClientSecret::new(s.clone())),
        None => client,
    };
    let http = http()?;
    let details = client
        .exchange_device_code()
        .add_scopes(o.scopes.iter().cloned().map(Scope::new))
        .request_async(&http)
        .await
        .map_err(|e| explain(e, &o.device_authorization_url))?;
    Ok(DeviceCode { details })
}

/// Poll the token endpoint until the operator approved the code (or
/// refused it, or it expired): the tokens, issued `now`.
pub async fn device_finish(o: &OAuth2, code: &DeviceCode) -> anyhow::Result<Tokens> {
    let client = token_client(o)?;
    let http = http()?;
    let t = client
        .exchange_device_access_token(&code.details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(|e| explain(e, &o.token_url))?;
    Ok(issued(o, &t))
}

/// An authorisation-code login under way: the URL to open, and what is
/// needed to check and spend the code that comes back.
pub struct AuthCode {
    url: String,
    state: oauth2::CsrfToken,
    verifier: oauth2::PkceCodeVerifier,
}

impl AuthCode {
    /// Where the operator approves.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The authorisation URL (with PKCE, a random state, and asking for a
/// refresh token: Google's `access_type=offline`, `prompt=consent`).
pub fn authcode_start(o: &OAuth2) -> anyhow::Result<AuthCode> {
    let client = BasicClient::new(ClientId::new(o.client_id.clone()))
        .set_auth_uri(
            oauth2::AuthUrl::new(o.authorization_url.clone()).context("authorization_url")?,
        )
        .set_redirect_uri(
            oauth2::RedirectUrl::new(o.redirect_url.clone()).context("redirect_url")?,
        );
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(oauth2::CsrfToken::new_random)
        .add_scopes(o.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .add_extra_param("access_type", "offline")
        .add_extra_param("prompt", "consent")
        .url();
    Ok(AuthCode {
        url: url.to_string(),
        state,
        verifier,
    })
}

/// Spend the code in `returned`, the address the browser was sent back to
/// (or the bare code): the tokens, issued now.
pub async fn authcode_finish(
    o: &OAuth2,
    login: AuthCode,
    returned: &str,
) -> anyhow::Result<Tokens> {
    let returned = returned.trim();
    let (code, state) = match oauth2::url::Url::parse(returned) {
        Ok(u) => {
            let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
            if let Some(e) = q.get("error") {
                anyhow::bail!(
                    "the provider refused: {e} {}",
                    q.get("error_description").map(String::as_str).unwrap_or("")
                );
            }
            let code = q.get("code").cloned().with_context(|| {
                format!("no code= in {returned:?}: paste the whole address the browser was sent to")
            })?;
            (code, q.get("state").cloned())
        }
        Err(_) => (returned.to_string(), None),
    };
    if let Some(s) = state {
        anyhow::ensure!(
            s == *login.state.secret(),
            "the address is not from this login (its state differs): start `postdesk oauth login` again"
        );
    }
    let client = token_client(o)?.set_redirect_uri(
        oauth2::RedirectUrl::new(o.redirect_url.clone()).context("redirect_url")?,
    );
    let http = http()?;
    let t = client
        .exchange_code(oauth2::AuthorizationCode::new(code))
        .set_pkce_verifier(login.verifier)
        .request_async(&http)
        .await
        .map_err(|e| explain(e, &o.token_url))?;
    Ok(issued(o, &t))
}

/// The tokens of a login's answer, issued now.
fn issued(o: &OAuth2, t: &oauth2::basic::BasicTokenResponse) -> Tokens {
    let now = crate::store::now_unix();
    Tokens {
        account: o.account.clone(),
        token_url: o.token_url.clone(),
        client_id: o.client_id.clone(),
        access_token: t.access_token().secret().clone(),
        access_expires_unix: t.expires_in().map(|d| now + d.as_secs() as i64),
        refresh_token: t.refresh_token().map(|r| r.secret().clone()),
        refresh_token_since_unix: now,
        updated_unix: now,
        scopes: o.scopes.clone(),
        refused: None,
    }
}

/// Why a refresh failed.
pub enum RefreshError {
    /// `invalid_grant`: the refresh token is revoked, expired or spent;
    /// only a new login helps. The server's words.
    Refused(String),
    /// Anything else (network, server trouble): try again later.
    Failed(anyhow::Error),
}

/// Spend the refresh token for a new access token; a new refresh token in
/// the answer replaces the old one (rotation), else the old one stays.
pub async fn refresh(o: &OAuth2, old: &Tokens) -> Result<Tokens, RefreshError> {
    let Some(rt) = &old.refresh_token else {
        return Err(RefreshError::Refused(
            "the provider gave no refresh token at login (for Microsoft, include the offline_access scope)".into(),
        ));
    };
    let client = token_client(o).map_err(RefreshError::Failed)?;
    let http = http().map_err(RefreshError::Failed)?;
    let result = client
        .exchange_refresh_token(&RefreshToken::new(rt.clone()))
        .request_async(&http)
        .await;
    let t = match result {
        Ok(t) => t,
        Err(RequestTokenError::ServerResponse(r))
            if *r.error() == BasicErrorResponseType::InvalidGrant =>
        {
            return Err(RefreshError::Refused(format!(
                "invalid_grant{}",
                r.error_description()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )))
        }
        Err(e) => return Err(RefreshError::Failed(explain(e, &o.token_url))),
    };
    let now = crate::store::now_unix();
    let rotated = t.refresh_token().map(|r| r.secret().clone());
    Ok(Tokens {
        access_token: t.access_token().secret().clone(),
        access_expires_unix: t.expires_in().map(|d| now + d.as_secs() as i64),
        refresh_token_since_unix: match &rotated {
            Some(new) if Some(new) != old.refresh_token.as_ref() => now,
            _ => old.refresh_token_since_unix,
        },
        refresh_token: rotated.or_else(|| old.refresh_token.clone()),
        updated_unix: now,
        ..old.clone()
    })
}

type TokenClient = oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn token_client(o: &OAuth2) -> anyhow::Result<TokenClient> {
    let client = BasicClient::new(ClientId::new(o.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(o.token_url.clone()).context("token_url")?);
    Ok(match &o.client_secret {
        Some(s) => client.set_client_secret(ClientSecret::new(s.clone())),
        None => client,
    })
}

/// A failed exchange in words: the server's error code and description,
/// or what went wrong on the way.
fn explain<RE, T>(e: RequestTokenError<RE, T>, url: &str) -> anyhow::Error
where
    RE: std::error::Error + Send + Sync + 'static,
    T: oauth2::ErrorResponse + Send + Sync + 'static,
{
    match e {
        RequestTokenError::ServerResponse(r) => anyhow::anyhow!("{url} answered: {r}"),
        RequestTokenError::Request(e) => {
            anyhow::Error::new(e).context(format!("no answer from {url}"))
        }
        RequestTokenError::Parse(e, body) => anyhow::anyhow!(
            "{url} answered something that is not an OAuth2 response ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ),
        RequestTokenError::Other(s) => anyhow::anyhow!("{url}: {s}"),
    }
}
