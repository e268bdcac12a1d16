//! A test desk: a fresh configuration, database and set of mailboxes on
//! the shared mail stack, and the real `postdesk` binary run against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;

/// Options for a test desk.
pub struct DeskOptions {
    pub batch_size: u32,
    pub smtp_port: Option<u16>,
    /// Auto-replies to one address: per hour, and the loop cap per 10
    /// minutes (`system.loop_caps`).
    pub auto_reply_limit: u32,
    /// Both agents' alert caps (per ticket and per sender, per hour).
    pub agent_alert_limit: u32,
    pub second_mailbox: bool,
    /// Second mailbox logs in with a wrong password.
    pub second_mailbox_broken: bool,
    /// "none", "implicit" (IMAPS port) or "starttls" (IMAP port).
    pub imap_tls: &'static str,
    pub after: &'static str,
    pub max_message_bytes: u64,
    /// The support mailbox has no IMAP settings: mail comes through
    /// `postdesk ingest` only.
    pub pipe_only: bool,
    /// Reach IMAP (plain) through this port instead of the stack's, e.g. a
    /// test's fault-injecting proxy.
    pub imap_port: Option<u16>,
}

impl Default for DeskOptions {
    fn default() -> Self {
        DeskOptions {
            batch_size: 50,
            smtp_port: None,
            auto_reply_limit: 10,
            agent_alert_limit: 10,
            second_mailbox: false,
            second_mailbox_broken: false,
            imap_tls: "none",
            after: "move",
            max_message_bytes: 26214400,
            pipe_only: false,
            imap_port: None,
        }
    }
}

/// One postdesk installation: config, database, mailboxes, process.
pub struct Desk {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub id: String,
    /// Support address (also its IMAP login).
    pub support: String,
    pub support2: String,
    pub agents: String,
    child: Option<Child>,
    runs: u32,
}

impl Desk {
    pub fn new(opts: DeskOptions) -> Desk {
        let st = stack();
        let id = unique("d");
        let dir = tempfile::tempdir().unwrap();
        let support = format!("support-{id}@support.test");
        let support2 = format!("sales-{id}@support.test");
        let agents = format!("agents-{id}@support.test");
        let ca = format!("ca_file = {:?}\n", st.ca_cert.display().to_string());
        let (imap_port, tls, ca) = match opts.imap_tls {
            "implicit" => (st.imaps_port, "implicit", ca),
            "starttls" => (st.imap_port, "starttls", ca),
            _ => (
                opts.imap_port.unwrap_or(st.imap_port),
                "none",
                String::new(),
            ),
        };
        let mailbox = |name: &str, address: &str, queue: &str, password_file: &str| {
            format!(
                r#"
[[mailbox]]
name = "{name}"
address = "{address}"
display_name = "Test Support"
queue = "{queue}"
host = "localhost"
port = {imap_port}
tls = "{tls}"
{ca}username = "{address}"
password_file = "{password_file}"
after = "{after}"
move_to = "Processed"
poll_interval_secs = 2
batch_size = {batch}
"#,
                after = opts.after,
                batch = opts.batch_size
            )
        };
        let mut text = format!(
            r#"
[system]
fqdn = "desk-{id}.support.test"
auto_reply_limit_per_hour = {limit}
loop_caps = ["{limit}/10m"]
agent_alert_limit_per_ticket_per_hour = {alert_limit}
agent_alert_limit_per_sender_per_hour = {alert_limit}
max_message_bytes = {max_bytes}

[storage]
database = "state/postdesk.db"
data_dir = "state"

[paths]
templates = {templates:?}
rules = {rules:?}

[log]
format = "plain"
level = "info,postdesk=debug"

[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
timeout_secs = 5
retry_max_secs = 2

[[queue]]
name = "support"
agents_address = "{agents}"

[[queue]]
name = "sales"
agents_address = "{agents}"
"#,
            limit = opts.auto_reply_limit,
            alert_limit = opts.agent_alert_limit,
            max_bytes = opts.max_message_bytes,
            templates = repo().join("mail-templates").display().to_string(),
            // No rules by default: the shipped ones read the clock (after
            // hours) and the words of a mail, and a test's outcome must
            // not depend on when it runs. A test that wants rules calls
            // `use_rules`.
            rules = {
                let rules = dir.path().join("rules");
                std::fs::create_dir_all(&rules).unwrap();
                rules.display().to_string()
            },
            smtp = opts.smtp_port.unwrap_or(st.smtp_port),
        );
        if opts.pipe_only {
            text.push_str(&format!(
                "\n[[mailbox]]\nname = \"support\"\naddress = \"{support}\"\ndisplay_name = \"Test Support\"\nqueue = \"support\"\n"
            ));
        } else {
            text.push_str(&mailbox("support", &support, "support", "imap-password"));
        }
        if opts.second_mailbox || opts.second_mailbox_broken {
            let pw = if opts.second_mailbox_broken {
                "wrong-password"
            } else {
                "imap-password"
            };
            text.push_str(&mailbox("sales", &support2, "sales", pw));
        }
        let config = dir.path().join("postdesk.toml");
        std::fs::write(&config, text).unwrap();
        std::fs::write(dir.path().join("imap-password"), format!("{PASSWORD}\n")).unwrap();
        std::fs::write(dir.path().join("wrong-password"), "not-the-password\n").unwrap();
        let desk = Desk {
            dir,
            config,
            id,
            support,
            support2,
            agents,
            child: None,
            runs: 0,
        };
        // As an installation would: read commands never create or migrate
        // the database, so a test may read before the daemon has started.
        let out = desk.cli(&["db", "migrate"]);
        assert!(
            out.status.success(),
            "postdesk db migrate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        desk
    }

    /// Point `[paths] templates` at `dir`.
    pub fn use_templates(&self, dir: &Path) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let re = regex::Regex::new(r#"templates = "[^"]*""#).unwrap();
        let line = format!("templates = {:?}", dir.display().to_string());
        std::fs::write(&self.config, re.replace(&text, line.as_str()).as_ref()).unwrap();
    }

    /// Point `[paths] rules` at `dir`.
    pub fn use_rules(&self, dir: &Path) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let re = regex::Regex::new(r#"rules = "[^"]*""#).unwrap();
        let line = format!("rules = {:?}", dir.display().to_string());
        std::fs::write(&self.config, re.replace(&text, line.as_str()).as_ref()).unwrap();
    }

    /// A copy of the shipped English templates in `name` under the desk's
    /// folder, used from now on; returns the folder.
    pub fn own_templates(&self, name: &str) -> PathBuf {
        let dir = self.path().join(name);
        std::fs::create_dir_all(dir.join("en")).unwrap();
        for f in ["auto_reply", "agent_new_ticket", "agent_follow_up"] {
            std::fs::copy(
                repo().join(format!("mail-templates/en/{f}.txt")),
                dir.join(format!("en/{f}.txt")),
            )
            .unwrap();
        }
        self.use_templates(&dir);
        dir
    }

    /// Send `signal` to the running daemon.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().expect("postdesk is not running").id();
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
        assert_eq!(
            rc,
            0,
            "kill {signal} {pid}: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Whether the daemon started by [`Desk::start`] is still running.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A plain mail from `from` to the support address, with a Message-ID
    /// made unique to this desk from `tag`.
    pub fn mail(&self, from: &str, subject: &str, tag: &str, body: &str) -> Vec<u8> {
        customer_mail(
            from,
            &self.support,
            subject,
            &format!("{tag}-{}@customer.test", self.id),
            body,
        )
    }

    /// A customer address unique to this desk.
    pub fn customer(&self, name: &str) -> String {
        format!("{name}-{}@customer.test", self.id)
    }

    pub fn start(&mut self) {
        self.start_with_env(&[]);
    }

    /// Start the daemon with these environment variables added.
    pub fn start_with_env(&mut self, env: &[(&str, &str)]) {
        assert!(self.child.is_none(), "already running");
        self.runs += 1;
        let log = std::fs::File::create(self.path().join(format!("run{}.log", self.runs))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn log(&self) -> String {
        (1..=self.runs)
            .map(|i| {
                std::fs::read_to_string(self.path().join(format!("run{i}.log"))).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SIGTERM and wait; returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        sigterm(child.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                child.kill().ok();
                panic!(
                    "postdesk did not stop within 30 s of SIGTERM\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        }
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn cli_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "postdesk {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "postdesk {args:?}: bad JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn tickets(&self) -> Vec<Value> {
        self.json(&["ticket", "list", "--json", "--limit", "0"])
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn status(&self) -> Value {
        self.json(&["status", "--json"])
    }

    pub fn wait_tickets(&self, n: usize, secs: u64) -> Vec<Value> {
        wait_for(secs, &format!("{n} ticket(s)"), || {
            let t = self.tickets();
            (t.len() >= n).then_some(t)
        })
    }

    /// Wait until nothing is pending in the outbox and `sent` mails went out.
    pub fn wait_sent(&self, sent: u64, secs: u64) {
        wait_for(secs, &format!("{sent} mail(s) sent"), || {
            let s = self.status();
            (s["outbox_sent"].as_u64() >= Some(sent) && s["outbox_pending"] == 0).then_some(())
        });
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
        if std::thread::panicking() {
            eprintln!("---- postdesk log ({}) ----\n{}", self.id, self.log());
            // Keep the folder for a post-mortem.
            let path = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap()).keep();
            eprintln!("---- kept {} ----", path.display());
        }
    }
}

fn sigterm(pid: u32) {
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    assert_eq!(
        rc,
        0,
        "kill -TERM {pid}: {}",
        std::io::Error::last_os_error()
    );
}

/// A plain customer mail.
pub fn customer_mail(from: &str, to: &str, subject: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Customer <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The ticket number in `[Ticket#…]` of a subject.
pub fn number_in(subject: &str) -> Option<String> {
    let start = subject.find("[Ticket#")? + "[Ticket#".len();
    let end = subject[start..].find(']')? + start;
    Some(subject[start..end].to_string())
}
