//! `postdesk oauth login|status|logout`: the OAuth2 accounts of mailboxes
//! and the relay (`auth = "oauth2"`). `login NAME` runs the device-code
//! flow (prints where to go and the code, waits for the approval) and
//! writes the tokens the daemon then uses and refreshes; a running daemon
//! picks them up at its next login attempt, no restart needed (run as
//! root, the files are given to the data folder's owner, the daemon's
//! user). `status`
//! shows each account's tokens without a secret; `logout` removes them.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use postdesk::config::{Config, Grant, OAuth2};
use postdesk::oauth;

use super::exit::{failure, NOINPUT, UNAVAILABLE};
use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Log an account in. Device-code grant (Microsoft's, the default):
    /// prints a URL and a code to enter there, in any browser, as the
    /// mailbox's user, and waits until it is approved. Authorization-code
    /// grant (Google's): prints a URL to open, and reads back, on standard
    /// input, the address the browser was sent to afterwards. Stores the
    /// tokens in data_dir/oauth/NAME.json (mode 0600). NAME is a mailbox's
    /// name, or `smtp` for the relay's own account. Exit 69 when the
    /// provider refused or the code expired.
    Login {
        name: String,
        /// Machine-readable output (the URL and code are printed as a
        /// first JSON line, the result as a second).
        #[arg(long)]
        json: bool,
    },
    /// Each OAuth2 account's tokens: logged in, when the access token
    /// expires, the refresh token's age, and whether a new login is needed.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Forget an account's tokens (the provider still knows the grant:
    /// revoke it there too if it should end).
    Logout {
        name: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    pub fn json(&self) -> bool {
        match self {
            Command::Login { json, .. }
            | Command::Status { json }
            | Command::Logout { json, .. } => *json,
        }
    }
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let mut out = super::output::stdout();
    match cmd {
        Command::Login { name, json } => {
            let o = account(&config, name)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let tokens = match o.grant {
                Grant::DeviceCode => device_login(&rt, o, *json, &mut out)?,
                Grant::AuthorizationCode => authcode_login(&rt, o, *json, &mut out)?,
            };
            {
                // Not in the middle of a daemon's refresh, which would
                // write its result over these tokens.
                let _lock = oauth::file::RefreshLock::acquire(&o.token_file)?;
                oauth::file::save(&o.token_file, &tokens)?;
            }
            give_to_daemon(&config, o)?;
            let s = oauth::status_of(o, Some(&tokens), tokens.updated_unix);
            if *json {
                writeln!(out, "{}", serde_json::to_string(&s)?)?;
            } else {
                writeln!(
                    out,
                    "Logged in: tokens saved in {}{}",
                    o.token_file.display(),
                    if s.has_refresh_token {
                        ""
                    } else {
                        " — but the provider gave no refresh token, so this login lasts only as long as the access token (for Microsoft, add the offline_access scope)"
                    }
                )?;
            }
        }
        Command::Status { json } => {
            let list = config
                .oauth_accounts()
                .into_iter()
                .map(oauth::status)
                .collect::<anyhow::Result<Vec<_>>>()?;
            if *json {
                out.json(&list)?;
            } else if list.is_empty() {
                writeln!(
                    out,
                    "no mailbox and no relay logs in with auth = \"oauth2\""
                )?;
            }
            for s in list.iter().filter(|_| !json) {
                writeln!(out, "{}", line(s))?;
            }
        }
        Command::Logout { name, json } => {
            let o = account(&config, name)?;
            let removed = oauth::file::remove(&o.token_file)?;
            if *json {
                out.json(&serde_json::json!({"account": o.account, "removed": removed}))?;
            } else if removed {
                writeln!(out, "removed {}", o.token_file.display())?;
            } else {
                writeln!(out, "{:?} had no tokens", o.account)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The device authorisation grant: show the URL and the code, poll.
fn device_login(
    rt: &tokio::runtime::Runtime,
    o: &OAuth2,
    json: bool,
    out: &mut super::output::Stdout,
) -> anyhow::Result<oauth::Tokens> {
    let code = rt
        .block_on(oauth::device_start(o))
        .map_err(|e| failure(UNAVAILABLE, format!("{e:#}")))?;
    if json {
        // One JSON document per line: a script reads the first while
        // the login waits.
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "account": o.account,
                "verification_uri": code.url(),
                "verification_uri_complete": code.url_with_code(),
                "user_code": code.user_code(),
                "expires_in_secs": code.expires_in().as_secs(),
            })
        )?;
    } else {
        writeln!(
            out,
            "To let postdesk use {:?}: open {} in a browser, sign in as the mailbox's user, and enter the code\n\n    {}\n",
            o.account,
            code.url(),
            code.user_code()
        )?;
        if let Some(u) = code.url_with_code() {
            writeln!(out, "(or open {u})")?;
        }
        writeln!(
            out,
            "Waiting for the approval (the code is good for {} minutes)…",
            code.expires_in().as_secs() / 60
        )?;
    }
    out.flush()?;
    rt.block_on(oauth::device_finish(o, &code)).map_err(|e| {
        failure(
            UNAVAILABLE,
            format!("login of {:?} failed: {e:#}", o.account),
        )
    })
}

/// The authorization code grant: show the URL, read back the address the
/// browser was sent to (one line on standard input), spend its code.
fn authcode_login(
    rt: &tokio::runtime::Runtime,
    o: &OAuth2,
    json: bool,
    out: &mut super::output::Stdout,
) -> anyhow::Result<oauth::Tokens> {
    let login = oauth::authcode_start(o)?;
    if json {
        // One JSON document per line: a script reads the first while
        // the login waits.
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "account": o.account,
                "authorization_url": login.url(),
                "redirect_url": o.redirect_url,
            })
        )?;
    } else {
        writeln!(
            out,
            "To let postdesk use {:?}: open this address in a browser (on any machine), sign in as the mailbox's user and allow access:\n\n    {}\n\nThe browser is then sent to {}… and may show an error page: that is expected.\nCopy the whole address from its address bar and paste it here:",
            o.account,
            login.url(),
            o.redirect_url
        )?;
    }
    out.flush()?;
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the address from standard input")?;
    if line.trim().is_empty() {
        return Err(failure(
            UNAVAILABLE,
            "no address was pasted: the login is abandoned",
        ));
    }
    rt.block_on(oauth::authcode_finish(o, login, &line))
        .map_err(|e| {
            failure(
                UNAVAILABLE,
                format!("login of {:?} failed: {e:#}", o.account),
            )
        })
}

/// Run as root, hand the token folder and file to the owner of the data
/// folder (the daemon's user), so the daemon can read and refresh them.
fn give_to_daemon(config: &Config, o: &OAuth2) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let data = &config.storage.data_dir;
    let Ok(meta) = std::fs::metadata(data) else {
        return Ok(());
    };
    if meta.uid() == 0 {
        return Ok(());
    }
    let lock = {
        let mut l = o.token_file.as_os_str().to_owned();
        l.push(".lock");
        std::path::PathBuf::from(l)
    };
    let folder = o.token_file.parent().unwrap_or(data);
    for p in [folder, o.token_file.as_path(), lock.as_path()] {
        if p.exists() {
            std::os::unix::fs::chown(p, Some(meta.uid()), Some(meta.gid())).with_context(|| {
                format!("giving {} to the owner of {}", p.display(), data.display())
            })?;
        }
    }
    Ok(())
}

/// The account `name` names, or exit 66 listing those there are.
fn account<'a>(config: &'a Config, name: &str) -> anyhow::Result<&'a OAuth2> {
    let all = config.oauth_accounts();
    if let Some(o) = all.iter().find(|o| o.account == name) {
        return Ok(o);
    }
    let names: Vec<&str> = all.iter().map(|o| o.account.as_str()).collect();
    Err(failure(
        NOINPUT,
        format!(
            "no OAuth2 account named {name:?} in {} ({}); a mailbox or [smtp] logs in with OAuth2 when it sets auth = \"oauth2\"",
            config.source.display(),
            if names.is_empty() {
                "there is none".to_string()
            } else {
                format!("there are: {}", names.join(", "))
            }
        ),
    ))
}

/// One account in a line.
fn line(s: &oauth::Status) -> String {
    let days = |secs: i64| format!("{:.1} days", secs as f64 / 86_400.0);
    let mut l = format!("{}: ", s.account);
    match &s.reauthorise {
        Some(why) => l.push_str(&format!(
            "NEEDS LOGIN ({why}): run `postdesk oauth login {}`",
            s.account
        )),
        None => l.push_str("logged in"),
    }
    if let Some(e) = s.access_expires_in_secs {
        if e > 0 {
            l.push_str(&format!("; access token expires in {} min", e / 60));
        } else {
            l.push_str("; access token expired (refreshed at the next login)");
        }
    }
    if let Some(a) = s.refresh_token_age_secs.filter(|_| s.has_refresh_token) {
        l.push_str(&format!("; refresh token {} old", days(a)));
        if s.lapsing {
            l.push_str(&format!(
                " — LAPSING SOON: run `postdesk oauth login {}`",
                s.account
            ));
        }
    }
    l.push_str(&format!(" [{}]", s.token_file.display()));
    l
}
