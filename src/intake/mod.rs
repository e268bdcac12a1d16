//! Intake: IMAP sessions (this module and [`mailbox`]) and the pipe entry
//! (`postdesk ingest`, in the binary). Intake yields raw messages and
//! acknowledges them in IMAP once the worker reports them committed; it
//! knows no tickets.

mod ack;
mod fetch;
pub mod mailbox;

pub use ack::uid_set;

use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::config::{Imap, TlsMode};

pub use crate::tls::Stream;

pub type Session = async_imap::Session<Stream>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

async fn tls_wrap(imap: &Imap, tcp: TcpStream) -> anyhow::Result<Stream> {
    let config = crate::tls::client_config(imap.ca_file.as_deref())?;
    let name = ServerName::try_from(imap.host.clone())
        .with_context(|| format!("{:?} is not a valid TLS server name", imap.host))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .with_context(|| {
            format!(
                "TLS handshake with {}:{} failed (wrong port for tls mode, or untrusted certificate: set ca_file)",
                imap.host, imap.port
            )
        })?;
    Ok(Stream::Tls(Box::new(tls)))
}

async fn greeting(client: &mut async_imap::Client<Stream>) -> anyhow::Result<()> {
    let g = client
        .read_response()
        .await
        .context("reading the server greeting")?
        .context("server closed the connection before greeting")?;
    if let async_imap::imap_proto::Response::Data {
        status: async_imap::imap_proto::Status::Bye,
        ..
    } = g.parsed()
    {
        bail!("server said BYE in its greeting");
    }
    Ok(())
}

/// Connect, secure as configured, and log in.
pub async fn connect(imap: &Imap) -> anyhow::Result<Session> {
    Ok(login(imap).await?.0)
}

/// Connect, secure as configured, and log in; with OAuth2, also when the
/// access token logged in with expires (unix s), for a session that should
/// log in again before then. A missing or refused token is an
/// [`crate::oauth::TokenError`] in the chain.
pub async fn login(imap: &Imap) -> anyhow::Result<(Session, Option<i64>)> {
    let addr = format!("{}:{}", imap.host, imap.port);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr))
        .await
        .with_context(|| format!("connecting to IMAP {addr}: timed out"))?
        .with_context(|| format!("connecting to IMAP {addr}"))?;
    tcp.set_nodelay(true).ok();
    let client = match imap.tls {
        TlsMode::None => {
            let mut c = async_imap::Client::new(Stream::Plain(tcp));
            greeting(&mut c).await?;
            c
        }
        TlsMode::Implicit => {
            let mut c = async_imap::Client::new(tls_wrap(imap, tcp).await?);
            greeting(&mut c).await?;
            c
        }
        TlsMode::Starttls => {
            let mut c = async_imap::Client::new(Stream::Plain(tcp));
            greeting(&mut c).await?;
            c.run_command_and_check_ok("STARTTLS", None)
                .await
                .with_context(|| format!("STARTTLS refused by {addr}"))?;
            let Stream::Plain(tcp) = c.into_inner() else {
                bail!("internal: STARTTLS on a TLS stream");
            };
            // No greeting after STARTTLS.
            async_imap::Client::new(tls_wrap(imap, tcp).await?)
        }
    };
    if let Some(o) = &imap.oauth2 {
        // The token is asked for only once the server answered, so a
        // server that is down costs no refresh.
        let access = crate::oauth::access_token(o).await?;
        let auth = crate::oauth::sasl::Bearer::new(
            o.mechanism,
            &imap.username,
            &access.token,
            &imap.host,
            imap.port,
        );
        let session = client
            .authenticate(o.mechanism.as_str(), auth)
            .await
            .map_err(|(e, _)| e)
            .with_context(|| {
                format!(
                    "IMAP AUTHENTICATE {} as {:?} at {addr} failed: the server refused the access token (is the account {:?} the token's user, and the scope right?)",
                    o.mechanism.as_str(),
                    imap.username,
                    imap.username
                )
            })?;
        return Ok((session, access.expires_unix));
    }
    let session = client
        .login(&imap.username, &imap.password)
        .await
        .map_err(|(e, _)| e)
        .with_context(|| {
            format!(
                "IMAP login as {:?} at {addr} failed: check the mailbox's username and password",
                imap.username
            )
        })?;
    Ok((session, None))
}
