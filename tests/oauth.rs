//! OAuth2 logins (issue 9, items 5 and 8) against a local provider
//! (`oauth/server.rs`: device authorisation, token endpoint with refresh
//! rotation and revocation, introspection) and a real Dovecot whose
//! oauth2 passdb asks that provider about every XOAUTH2 / OAUTHBEARER
//! token (`mailstack.sh dovecot-oauth-start`): the device-code login,
//! the daemon refreshing before expiry and saving the rotated refresh
//! token, a fresh token used as it is, a refused access token, and a
//! revoked refresh token making the mailbox unhealthy until the operator
//! logs in again.

mod common;
#[path = "oauth/server.rs"]
mod server;

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;
use server::Server;

/// An extra Dovecot that logs in with tokens the test server vouches for.
struct OAuthDovecot {
    name: String,
    port: u16,
}

impl OAuthDovecot {
    fn start(server: &Server) -> OAuthDovecot {
        let name = unique("o").replace('x', "");
        let name = name[name.len().saturating_sub(12)..].to_string();
        let out = Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/mailstack/mailstack.sh"
            ))
            .args(["dovecot-oauth-start"])
            .arg(&stack().dir)
            .args([&name, &server.url("/introspect")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "dovecot-oauth-start: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = text
            .lines()
            .find_map(|l| l.strip_prefix("IMAP_PORT="))
            .and_then(|p| p.trim().parse().ok())
            .expect("IMAP_PORT=");
        OAuthDovecot { name, port }
    }
}

impl Drop for OAuthDovecot {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/mailstack/mailstack.sh"
            ))
            .arg("dovecot-oauth-stop")
            .arg(&stack().dir)
            .arg(&self.name)
            .output();
    }
}

/// A desk whose support mailbox logs in with OAuth2 (`mechanism`) at the
/// test server, over the OAuth2 Dovecot when `dovecot`; the server's
/// logins approved after `pending` polls, its access tokens good for `ttl`.
fn setup(
    pending: u32,
    ttl: u64,
    mechanism: &str,
    dovecot: bool,
) -> (Desk, Server, Option<OAuthDovecot>) {
    let server = Server::start("", pending, ttl);
    let dc = dovecot.then(|| OAuthDovecot::start(&server));
    let desk = Desk::new(DeskOptions {
        imap_port: dc.as_ref().map(|d| d.port),
        ..Default::default()
    });
    server.state.lock().unwrap().user = desk.support.clone();
    let text = std::fs::read_to_string(&desk.config).unwrap().replacen(
        "password_file = \"imap-password\"",
        &server.table(mechanism),
        1,
    );
    std::fs::write(&desk.config, text).unwrap();
    (desk, server, dc)
}

fn token_file(desk: &Desk) -> PathBuf {
    desk.path().join("state/oauth/support.json")
}

fn tokens(desk: &Desk) -> Value {
    serde_json::from_str(&std::fs::read_to_string(token_file(desk)).unwrap()).unwrap()
}

fn login(desk: &Desk) -> String {
    let out = desk.cli(&["oauth", "login", "support"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "oauth login: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn oauth_login_polls_until_approved_and_keeps_the_tokens_0600() {
    let (desk, server, _) = setup(2, 3600, "xoauth2", false);
    // Before the login, `check` says what to run (a warning: the daemon
    // may start, and waits for the tokens).
    let out = desk.cli(&["check"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("support: not logged in: run `postdesk oauth login support`"),
        "{said}"
    );
    let text = login(&desk);
    assert!(
        text.contains(&server.url("/verify")) && text.contains("WDJB-MJHT"),
        "the URL and the code are shown:\n{text}"
    );
    // Two polls told to wait, the third approved.
    let s = server.state.lock().unwrap();
    assert_eq!(s.count("/token", "device_code"), 3, "{:?}", s.log);
    assert_eq!(s.count("/device", ""), 1);
    drop(s);
    let file = token_file(&desk);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let t = tokens(&desk);
    assert!(server
        .state
        .lock()
        .unwrap()
        .refresh
        .contains_key(t["refresh_token"].as_str().unwrap()));

    let status = desk.json(&["oauth", "status", "--json"]);
    assert_eq!(status[0]["account"], "support");
    assert_eq!(status[0]["logged_in"], true);
    assert_eq!(status[0]["has_refresh_token"], true);
    assert!(status[0]["reauthorise"].is_null(), "{status}");
    assert!(status[0]["access_expires_in_secs"].as_i64().unwrap() > 3500);
    let out = desk.cli(&["oauth", "status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("support: logged in; access token expires in"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = desk.cli(&["oauth", "logout", "support"]);
    assert!(out.status.success());
    assert!(!file.exists());
    let status = desk.json(&["oauth", "status", "--json"]);
    assert_eq!(status[0]["reauthorise"], "not logged in");
    // An account that does not exist: 66, naming those that do.
    let out = desk.cli(&["oauth", "login", "nope"]);
    assert_eq!(out.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&out.stderr).contains("there are: support"));
}

#[test]
fn authorization_code_login_reads_back_the_pasted_address_and_checks_its_state() {
    use std::io::BufRead as _;
    let (desk, server, _) = setup(0, 3600, "xoauth2", false);
    let text = std::fs::read_to_string(&desk.config).unwrap().replacen(
        "client_id = \"postdesk-test\"",
        &format!(
            "client_id = \"postdesk-test\", grant = \"authorization_code\", authorization_url = \"{}\"",
            server.url("/authorize")
        ),
        1,
    );
    std::fs::write(&desk.config, text).unwrap();
    let login = |paste: &dyn Fn(&str) -> String| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(&desk.config)
            .args(["oauth", "login", "support", "--json"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        let url = first["authorization_url"].as_str().unwrap().to_string();
        for want in [
            "code_challenge_method=S256",
            "access_type=offline",
            "response_type=code",
        ] {
            assert!(url.contains(want), "{want} in {url}");
        }
        assert!(url.starts_with(&server.url("/authorize?")), "{url}");
        let state = url
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("state="))
            .unwrap()
            .to_string();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{}", paste(&state)).unwrap();
        drop(stdin);
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            rest.join("\n"),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // An address from another login (its state differs) is refused.
    let (code, out, err) = login(&|_| "http://127.0.0.1:1/?code=auth-code-1&state=forged".into());
    assert_eq!(code, Some(69), "{out}{err}");
    // With --json the error is a JSON document on standard output.
    let e: Value = serde_json::from_str(&out).unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("not from this login"),
        "{e}"
    );
    assert!(!token_file(&desk).exists());
    let (code, out, err) =
        login(&|state| format!("http://127.0.0.1:1/?state={state}&code=auth-code-1&scope=mail"));
    assert_eq!(code, Some(0), "{out}{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["has_refresh_token"], true, "{status}");
    assert_eq!(mode(&token_file(&desk)), 0o600);
    assert_eq!(
        server
            .state
            .lock()
            .unwrap()
            .count("/token", "authorization_code"),
        1
    );
}

#[test]
fn daemon_refreshes_before_expiry_saves_the_rotated_token_and_fetches_with_xoauth2() {
    // Access tokens good for 2 minutes: less than the 5 minutes the daemon
    // wants left, so it refreshes before its first login.
    let (mut desk, server, _dc) = setup(1, 120, "xoauth2", true);
    login(&desk);
    let first = tokens(&desk)["refresh_token"].as_str().unwrap().to_string();
    let customer = desk.customer("oauth");
    smtp_send(
        &customer,
        &[&desk.support],
        &desk.mail(&customer, "Token time", "t1", "Hello"),
    );
    wait_for_mail(&desk.support, "INBOX", 1, 60);
    desk.start();
    desk.wait_tickets(1, 60);

    let t = tokens(&desk);
    let now = t["refresh_token"].as_str().unwrap();
    assert_ne!(now, first, "the rotated refresh token is saved");
    let s = server.state.lock().unwrap();
    assert!(s.refresh.contains_key(now) && !s.refresh.contains_key(&first));
    assert!(s.count("/token", "refresh_token") >= 1, "{:?}", s.log);
    assert!(s.access.contains_key(t["access_token"].as_str().unwrap()));
    assert!(
        s.count("/introspect", "") >= 1,
        "Dovecot asked about the token"
    );
    drop(s);
    assert_eq!(mode(&token_file(&desk)), 0o600);
    assert!(
        desk.log().contains("OAuth2 access token refreshed"),
        "{}",
        desk.log()
    );
    desk.stop();
}

#[test]
fn oauthbearer_login_uses_a_fresh_token_as_it_is_warns_of_a_lapsing_refresh_token_and_a_refused_token_says_so(
) {
    let (desk, server, _dc) = setup(0, 3600, "oauthbearer", true);
    login(&desk);
    let out = desk.cli(&["check", "--connect"]);
    assert!(
        out.status.success(),
        "check --connect: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server
            .state
            .lock()
            .unwrap()
            .count("/token", "refresh_token"),
        0,
        "a token with an hour left is not refreshed"
    );
    // A refresh token 80 days old nears Microsoft's 90 (warned 14 days
    // ahead): said at the next login, and by `oauth status`.
    let mut t = tokens(&desk);
    t["refresh_token_since_unix"] =
        (t["refresh_token_since_unix"].as_i64().unwrap() - 80 * 86_400).into();
    std::fs::write(token_file(&desk), t.to_string()).unwrap();
    let out = desk.cli(&["fetch", "--mailbox", "support"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("is 80 days old and lapses after 90 days: run `postdesk oauth login support` before then"),
        "{err}"
    );
    let out = desk.cli(&["oauth", "status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(
            "refresh token 80.0 days old — LAPSING SOON: run `postdesk oauth login support`"
        ),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        desk.json(&["oauth", "status", "--json"])[0]["lapsing"],
        true
    );
    // The server forgets the access token: Dovecot refuses it, and the
    // exchange ends with a NO instead of hanging.
    server.state.lock().unwrap().access.clear();
    let out = desk.cli(&["check", "--connect"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("AUTHENTICATE OAUTHBEARER") && text.contains("refused the access token"),
        "{text}"
    );
}

/// `GET path` over HTTP/1.1: (status code, body).
fn get(port: u16, path: &str) -> (u16, String) {
    try_get(port, path).expect("the daemon's HTTP listener")
}

/// As [`get`]; None while nothing listens yet.
fn try_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    Some((code, body.to_string()))
}

#[test]
fn revoked_refresh_token_marks_the_mailbox_unhealthy_until_a_new_login() {
    let (mut desk, server, _dc) = setup(0, 120, "xoauth2", true);
    let port = free_port();
    let mut text = std::fs::read_to_string(&desk.config).unwrap();
    text.push_str(&format!("\n[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&desk.config, text).unwrap();
    login(&desk);
    server.revoke_refresh_tokens();
    desk.start();

    let health: Value = wait_for(60, "/healthz to answer 503", || {
        let (code, body) = try_get(port, "/healthz")?;
        (code == 503).then(|| serde_json::from_str(&body).unwrap())
    });
    let problem = health["problems"][0].as_str().unwrap();
    assert!(
        problem.starts_with("mailbox support: OAuth2 re-authorisation needed")
            && problem.contains("invalid_grant")
            && problem.contains("run `postdesk oauth login support`"),
        "{health}"
    );
    assert_eq!(health["mailboxes"][0]["ok"], false);
    let log = desk.log();
    assert!(
        log.contains("re-authorisation needed")
            && log.contains("run `postdesk oauth login support`"),
        "{log}"
    );
    let (_, metrics) = get(port, "/metrics");
    for line in [
        "postdesk_oauth_reauth_needed{account=\"support\"} 1",
        "postdesk_oauth_refreshes_total{account=\"support\",outcome=\"refused\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    // The refused token is not offered again at every reconnect.
    wait_for(30, "a second login attempt", || {
        (desk.log().matches("re-authorisation needed").count() >= 2).then_some(())
    });
    assert_eq!(
        server
            .state
            .lock()
            .unwrap()
            .count("/token", "refresh_token"),
        1
    );
    let status = desk.json(&["oauth", "status", "--json"]);
    assert!(
        status[0]["reauthorise"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{status}"
    );
    let out = desk.cli(&["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("postdesk oauth login support"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The operator logs in again; the running daemon takes the new tokens.
    login(&desk);
    wait_for(90, "/healthz to answer 200 again", || {
        let (code, body) = get(port, "/healthz");
        (code == 200).then_some(body)
    });
    let (_, metrics) = get(port, "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == "postdesk_oauth_reauth_needed{account=\"support\"} 0"),
        "{metrics}"
    );
    desk.stop();
}

/// An extra Postfix that takes mail only from clients that authenticated
/// through the OAuth2 Dovecot's SASL socket; stopped on drop.
struct SaslPostfix {
    name: String,
    port: u16,
}

impl SaslPostfix {
    fn start(dc: &OAuthDovecot) -> SaslPostfix {
        let name = unique("sasl");
        let port = free_port();
        let extra = format!(
            "smtpd_sasl_auth_enable = yes\n\
             smtpd_sasl_type = dovecot\n\
             smtpd_sasl_path = {}/o-{}/run/auth-postfix\n\
             mynetworks =\n\
             smtpd_relay_restrictions = permit_sasl_authenticated, reject\n\
             smtpd_recipient_restrictions = permit_sasl_authenticated, reject\n",
            stack().dir.display(),
            dc.name
        );
        let out = Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/mailstack/mailstack.sh"
            ))
            .arg("postfix-start")
            .arg(&stack().dir)
            .args([&name, &port.to_string()])
            .env("MAILSTACK_POSTFIX_EXTRA", extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postfix-start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        SaslPostfix { name, port }
    }

    fn maillog(&self) -> String {
        std::fs::read_to_string(stack().dir.join(format!("postfix-{}/maillog", self.name)))
            .unwrap_or_default()
    }
}

impl Drop for SaslPostfix {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/mailstack/mailstack.sh"
            ))
            .arg("postfix-stop")
            .arg(&stack().dir)
            .arg(&self.name)
            .output();
    }
}

#[test]
fn smtp_sends_with_xoauth2_through_postfix_asking_dovecot_sharing_the_mailbox_token() {
    let (mut desk, server, dc) = setup(0, 3600, "xoauth2", true);
    let relay = SaslPostfix::start(dc.as_ref().unwrap());
    let text = std::fs::read_to_string(&desk.config).unwrap().replacen(
        &format!("port = {}\ntls = \"none\"", stack().smtp_port),
        &format!(
            "port = {}\ntls = \"none\"\nusername = \"{}\"\nauth = \"oauth2\"\noauth2 = {{ mailbox = \"support\" }}",
            relay.port, desk.support
        ),
        1,
    );
    std::fs::write(&desk.config, text).unwrap();
    login(&desk);
    let customer = desk.customer("relay");
    smtp_send(
        &customer,
        &[&desk.support],
        &desk.mail(&customer, "Send me a reply", "r1", "Hi"),
    );
    wait_for_mail(&desk.support, "INBOX", 1, 60);
    desk.start();
    desk.wait_tickets(1, 60);
    // The auto-reply and the agents' alert, through the relay that takes
    // nothing without a login.
    desk.wait_sent(2, 60);
    wait_for_mail(&customer, "INBOX", 1, 60);
    let log = relay.maillog();
    assert!(
        log.contains(&format!(
            "sasl_method=XOAUTH2, sasl_username={}",
            desk.support
        )),
        "{log}"
    );
    assert!(server.state.lock().unwrap().count("/introspect", "") >= 2);
    desk.stop();
}
