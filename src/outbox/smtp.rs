//! SMTP connections to the relay, built from lettre's connection API.
//!
//! Why not lettre's pooled `AsyncSmtpTransport`: it opens its sockets
//! without `TCP_NODELAY`, and lettre writes the message and the final
//! `.` in two writes, so every mail waited for the relay's delayed ACK
//! (~40 ms on Linux): about 25 mails per second per connection. Here the
//! socket is ours (plain or rustls, see [`crate::tls::Stream`]) with
//! `TCP_NODELAY`, and lettre does the SMTP dialogue (EHLO, STARTTLS, AUTH,
//! MAIL/RCPT/DATA, dot-stuffing) on it.
//!
//! A [`Lane`] is one reusable connection; the sender runs one lane per
//! `smtp.max_connections`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lettre::transport::smtp::authentication::{Credentials, Mechanism, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::config::{Smtp, TlsMode};
use crate::tls::Stream;

/// How to reach and log in to the relay.
pub struct Relay {
    host: String,
    port: u16,
    mode: TlsMode,
    hello: ClientId,
    timeout: Duration,
    credentials: Option<Credentials>,
    /// `auth = "oauth2"`: the account whose access token replaces the
    /// password (XOAUTH2; lettre has no OAUTHBEARER).
    /// With the user name (`smtp.username`).
    oauth2: Option<(crate::config::OAuth2, String)>,
    /// For STARTTLS (lettre upgrades the stream).
    starttls: Option<TlsParameters>,
    /// For implicit TLS (we wrap the socket before the greeting).
    implicit: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
}

impl Relay {
    pub fn new(smtp: &Smtp, helo: &str) -> anyhow::Result<Relay> {
        let starttls = match smtp.tls {
            TlsMode::Starttls => {
                let mut b = TlsParameters::builder(smtp.host.clone());
                if let Some(ca) = &smtp.ca_file {
                    let pem = std::fs::read(ca)
                        .with_context(|| format!("reading smtp.ca_file {}", ca.display()))?;
                    let cert = Certificate::from_pem(&pem).with_context(|| {
                        format!("parsing smtp.ca_file {} (PEM expected)", ca.display())
                    })?;
                    b = b.add_root_certificate(cert);
                }
                Some(b.build_rustls().context("building SMTP TLS parameters")?)
            }
            _ => None,
        };
        let implicit = match smtp.tls {
            TlsMode::Implicit => Some(crate::tls::client_config(smtp.ca_file.as_deref())?),
            _ => None,
        };
        Ok(Relay {
            host: smtp.host.clone(),
            port: smtp.port,
            mode: smtp.tls,
            hello: ClientId::Domain(helo.to_string()),
            timeout: smtp.timeout,
            credentials: smtp
                .credentials
                .as_ref()
                .map(|(u, p)| Credentials::new(u.clone(), p.clone())),
            oauth2: smtp
                .oauth2
                .clone()
                .zip(smtp.credentials.as_ref().map(|c| c.0.clone())),
            starttls,
            implicit,
        })
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Connect, greet, secure and log in.
    pub async fn connect(&self) -> anyhow::Result<AsyncSmtpConnection> {
        let addr = self.addr();
        let tcp = tokio::time::timeout(self.timeout, TcpStream::connect(&addr))
            .await
            .with_context(|| format!("connecting to SMTP {addr}: timed out"))?
            .with_context(|| format!("connecting to SMTP {addr}"))?;
        tcp.set_nodelay(true)
            .with_context(|| format!("TCP_NODELAY on {addr}"))?;
        let stream = match &self.implicit {
            Some(config) => {
                let name = ServerName::try_from(self.host.clone())
                    .with_context(|| format!("{:?} is not a valid TLS server name", self.host))?;
                let tls = tokio::time::timeout(
                    self.timeout,
                    tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp),
                )
                .await
                .with_context(|| format!("TLS handshake with {addr}: timed out"))?
                .with_context(|| {
                    format!("TLS handshake with {addr} failed (wrong port for tls mode, or untrusted certificate: set smtp.ca_file)")
                })?;
                Stream::Tls(Box::new(tls))
            }
            None => Stream::Plain(tcp),
        };
        let setup = async {
            let mut conn =
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                    .await
                    .with_context(|| format!("SMTP greeting from {addr}"))?;
            if self.mode == TlsMode::Starttls {
                let params = self
                    .starttls
                    .clone()
                    .context("internal: STARTTLS parameters missing")?;
                conn.starttls(params, &self.hello)
                    .await
                    .with_context(|| format!("STARTTLS with {addr}"))?;
            }
            if let Some((o, username)) = &self.oauth2 {
                let access = match crate::oauth::access_token(o).await {
                    Ok(a) => a,
                    Err(e) => {
                        if e.needs_login() {
                            crate::ops::ops().smtp_reauth(Some(&e.to_string()));
                        }
                        return Err(e.into());
                    }
                };
                let user = Credentials::new(username.clone(), access.token);
                conn.auth(&[Mechanism::Xoauth2], &user).await.with_context(|| {
                    format!("SMTP AUTH XOAUTH2 at {addr} failed: the relay refused the access token of smtp.username (is it the token's user, and the scope right?)")
                })?;
                crate::ops::ops().smtp_reauth(None);
            } else if let Some(c) = &self.credentials {
                conn.auth(DEFAULT_MECHANISMS, c).await.with_context(|| {
                    format!("SMTP login at {addr} failed: check smtp.username and the password")
                })?;
            }
            anyhow::Ok(conn)
        };
        tokio::time::timeout(self.timeout * 2, setup)
            .await
            .with_context(|| format!("setting up the SMTP session with {addr}: timed out"))?
    }

    /// Connect and say NOOP (for `postdesk check --connect`).
    pub async fn test(&self) -> anyhow::Result<()> {
        let mut conn = self.connect().await?;
        anyhow::ensure!(
            conn.test_connected().await,
            "SMTP {} did not answer NOOP",
            self.addr()
        );
        let _ = conn.quit().await;
        Ok(())
    }
}

/// One reusable connection to the relay.
#[derive(Default)]
pub struct Lane {
    conn: Option<AsyncSmtpConnection>,
}

/// Why a mail was not accepted: the text, and whether it is permanent.
pub type Refusal = (String, bool);

impl Lane {
    /// Hand one mail to the relay. A connection that failed is dropped; a
    /// reused connection the relay had closed meanwhile (idle timeout) is
    /// replaced once before giving up.
    pub async fn send(
        &mut self,
        relay: &Relay,
        envelope: &lettre::address::Envelope,
        raw: &[u8],
    ) -> Result<(), Refusal> {
        for attempt in 0..2 {
            let reused = self.conn.is_some();
            if self.conn.is_none() {
                self.conn = Some(
                    relay
                        .connect()
                        .await
                        .map_err(|e| (format!("{e:#}"), false))?,
                );
            }
            let Some(conn) = self.conn.as_mut() else {
                unreachable!("connection set just above");
            };
            let result = tokio::time::timeout(relay.timeout * 4, conn.send(envelope, raw)).await;
            let (err, lost_connection) = match result {
                Ok(Ok(_)) => return Ok(()),
                // No SMTP reply at all: the connection itself failed.
                Ok(Err(e)) => {
                    // No reply at all, or 421: the relay is closing the
                    // channel (Postfix says so to a connection idle past
                    // its smtpd_timeout). Either way this connection is gone.
                    let lost = (!e.is_response()
                        && !e.is_permanent()
                        && !e.is_transient()
                        && !e.is_timeout())
                        || e.status().map(u16::from) == Some(421);
                    ((e.to_string(), e.is_permanent()), lost)
                }
                // The relay may have taken the mail: never retry here.
                Err(_) => (
                    (
                        format!(
                            "no answer from {} within {:?}",
                            relay.addr(),
                            relay.timeout * 4
                        ),
                        false,
                    ),
                    false,
                ),
            };
            // After any error lettre's connection is in an unknown state.
            if let Some(mut c) = self.conn.take() {
                c.abort().await;
            }
            // A reused connection the relay closed while idle fails on its
            // first command: try once more on a fresh one.
            if !(reused && attempt == 0 && lost_connection) {
                return Err(err);
            }
        }
        Err(("SMTP send failed twice".into(), false))
    }

    /// Whether the lane holds an open connection.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Close politely (shutdown).
    pub async fn close(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), c.quit()).await;
        }
    }
}
