//! Test harness: a real mail stack (Dovecot IMAP + Postfix delivering over
//! LMTP) on loopback high ports, and the real `postdesk` binary run
//! against it with a fresh configuration, database and set of mailboxes
//! per test.
//!
//! The stack is started once per test process by
//! `tests/mailstack/mailstack.sh start DIR` (DIR = `$POSTDESK_TEST_MAILSTACK`
//! when the test script set it, else `/tmp/postdesk-test-mailstack`), and is left
//! running for the next test binary; `mailstack.sh stop DIR` stops it.
//! Every test uses its own addresses, so tests run in parallel.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::TryStreamExt;

pub const PASSWORD: &str = "secret";

pub struct Stack {
    pub dir: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub ca_cert: PathBuf,
    pub dovecot_conf: PathBuf,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// The shared mail stack, started on first use.
pub fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let dir = std::env::var_os("POSTDESK_TEST_MAILSTACK")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/postdesk-test-mailstack"));
        let out = Command::new("bash")
            .arg(repo().join("tests/mailstack/mailstack.sh"))
            .arg("start")
            .arg(&dir)
            .output()
            .expect("running tests/mailstack/mailstack.sh");
        assert!(
            out.status.success(),
            "mail stack failed to start (install it with `tests/mailstack/mailstack.sh install`):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = parse_env(&std::fs::read_to_string(dir.join("env")).expect("reading stack env"));
        let port = |k: &str| -> u16 {
            env.get(k)
                .unwrap_or_else(|| panic!("{k} missing in stack env"))
                .parse()
                .unwrap()
        };
        Stack {
            imap_port: port("IMAP_PORT"),
            imaps_port: port("IMAPS_PORT"),
            smtp_port: port("SMTP_PORT"),
            ca_cert: PathBuf::from(env.get("CA_CERT").cloned().unwrap_or_default()),
            dovecot_conf: PathBuf::from(env.get("DOVECOT_CONF").cloned().unwrap_or_default()),
            dir,
        }
    })
}

/// A name unique across tests and runs.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}{}x{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        nanos % 100_000
    )
}

/// Run `tests/mailstack/mailstack.sh ARGS`, panicking with its output on failure.
pub fn mailstack(args: &[&str]) {
    let out = Command::new("bash")
        .arg(repo().join("tests/mailstack/mailstack.sh"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mailstack.sh {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A free loopback port (nothing listens on it when this returns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Send a raw message over SMTP to the stack's Postfix.
pub fn smtp_send_port(port: u16, from: &str, to: &[&str], raw: &[u8]) {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    rt().block_on(async {
        let t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build();
        let env = lettre::address::Envelope::new(
            Some(from.parse().unwrap()),
            to.iter().map(|t| t.parse().unwrap()).collect(),
        )
        .unwrap();
        t.send_raw(&env, raw)
            .await
            .expect("SMTP send to the test stack");
    });
}

pub fn smtp_send(from: &str, to: &[&str], raw: &[u8]) {
    smtp_send_port(stack().smtp_port, from, to, raw)
}

/// Every message in `user`'s folder, read over IMAP as the user would.
pub fn imap_messages(user: &str, folder: &str) -> Vec<Vec<u8>> {
    let port = stack().imap_port;
    rt().block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(postdesk::intake::Stream::Plain(tcp));
        client.read_response().await.unwrap();
        let mut s = client
            .login(user, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        if s.select(folder).await.is_err() {
            return Vec::new();
        }
        let msgs: Vec<_> = s
            .fetch("1:*", "BODY.PEEK[]")
            .await
            .map(|st| st.try_collect::<Vec<_>>())
            .unwrap()
            .await
            .unwrap_or_default();
        let out = msgs
            .iter()
            .filter_map(|m| m.body().map(|b| b.to_vec()))
            .collect();
        s.logout().await.ok();
        out
    })
}

/// Poll `f` until it returns Some, or panic with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait until `user`'s `folder` holds at least `n` messages; return them.
pub fn wait_for_mail(user: &str, folder: &str, n: usize, secs: u64) -> Vec<Vec<u8>> {
    wait_for(secs, &format!("{n} message(s) in {user}/{folder}"), || {
        let m = imap_messages(user, folder);
        (m.len() >= n).then_some(m)
    })
}

pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let msg = mail_parser::MessageParser::default().parse(raw)?;
    msg.header_raw(name).map(|v| v.trim().to_string())
}

pub fn subject(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.subject().map(String::from))
        .unwrap_or_default()
}

mod desk;
mod staff;
#[allow(unused_imports)]
pub use desk::*;
#[allow(unused_imports)] // not every test crate uses them
pub use staff::*;

/// A pipe-only configuration needing no mail stack, in `dir` (made
/// readable by all, so another user can run against it), with an empty
/// rules folder and the shipped templates; `extra` is appended to its
/// `[[mailbox]]` (the file's first 16 lines are always the same).
pub fn standalone_config(dir: &std::path::Path, extra: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    let templates = repo().join("mail-templates");
    let text = format!(
        "[system]\nfqdn = \"desk.example.com\"\n\
         [storage]\ndatabase = \"db.sqlite\"\ndata_dir = \"data\"\n\
         [paths]\ntemplates = {templates:?}\n\
         [smtp]\nhost = \"localhost\"\ntls = \"none\"\n\
         [[queue]]\nname = \"support\"\n\
         [[mailbox]]\nname = \"support\"\naddress = \"support@example.com\"\nqueue = \"support\"\n{extra}"
    );
    let path = dir.join("postdesk.toml");
    std::fs::write(&path, text).unwrap();
    path
}
