//! Conventions every command follows: sysexits exit codes (one test per
//! family), a closed standard output ends quietly with exit 0, `--json`
//! errors are JSON, read-only commands never migrate the database
//! (`db migrate` does), values print as values in text and logs,
//! `--version` names the commit and schema version, and the README's two-minute path works
//! as written.

mod common;

use common::*;

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run postdesk with standard output a pipe whose reader is already gone.
fn run_into_closed_pipe(desk: &Desk, args: &[&str]) -> std::process::Output {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2(2) fills `fds` with two new descriptors, which we own
    // from here on (close-on-exec: only the child's stdout copy survives).
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(&desk.config)
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn closed_pipe_ends_quietly_with_exit_0() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("pipe");
    for i in 0..3 {
        let out = desk.cli_stdin(
            &["ingest"],
            &desk.mail(&customer, &format!("Mail {i}"), &format!("m{i}"), "x"),
        );
        assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    }
    // A ticket whose text alone is more than a pipe holds (64 KiB).
    let long = "a line of a long mail that fills the pipe\r\n".repeat(8000);
    let out = desk.cli_stdin(
        &["ingest", "--json"],
        &desk.mail(&customer, "Long", "long", &long),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let number = v["ticket"].as_str().unwrap().to_string();

    // The reader is gone before the first write: every write fails (EPIPE).
    for args in [
        &["ticket", "list"][..],
        &["ticket", "list", "--json"],
        &["ticket", "show", &number],
        &["ticket", "show", &number, "--json"],
        &["status"],
        &["quarantine", "list"],
        &["check"],
    ] {
        let out = run_into_closed_pipe(&desk, args);
        assert_eq!(code(&out), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("Broken pipe"),
            "{args:?}: {}",
            stderr(&out)
        );
    }

    // `postdesk ticket show N | head -1`: the reader takes one line and
    // leaves while postdesk is still writing (the pipe is full).
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(&desk.config)
        .args(["ticket", "show", &number])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with(&format!("Ticket {number}")), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn exit_codes_usage_data_not_found_config() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("codes");
    let out = desk.cli_stdin(
        &["ingest", "--json"],
        &desk.mail(&customer, "Codes", "c", "x"),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let number = v["ticket"].as_str().unwrap().to_string();

    // 64: the command line is wrong (clap's own errors too, not its 2).
    let out = desk.cli(&["ticket", "list", "--bogus"]);
    assert_eq!(code(&out), Some(64), "{}", stderr(&out));
    assert_eq!(code(&desk.cli(&["tikcet", "list"])), Some(64));
    let out = desk.cli(&["ticket", "list", "--state", "nope"]);
    assert_eq!(code(&out), Some(64));
    for state in ["posted", "open", "waiting", "resolved", "transferred"] {
        assert!(stderr(&out).contains(state), "{}", stderr(&out));
    }
    assert_eq!(
        code(&desk.cli(&["ticket", "list", "--state", "POSTED"])),
        Some(0)
    );
    // With --json the error is JSON on standard output.
    let out = desk.cli(&["ticket", "list", "--json", "--bogus"]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["code"], 64);
    assert!(e["error"].as_str().unwrap().contains("--bogus"), "{e}");
    // Help and version are no error.
    assert_eq!(code(&desk.cli(&["--help"])), Some(0));
    assert!(stdout(&desk.cli(&["--help"])).contains("Exit codes"));

    // 65: a malformed number, a wrong check digit.
    let out = desk.cli(&["ticket", "show", "12345"]);
    assert_eq!(code(&out), Some(65));
    assert!(
        stderr(&out).contains("not a ticket number"),
        "{}",
        stderr(&out)
    );
    let last = number.chars().last().unwrap().to_digit(10).unwrap();
    let typo = format!("{}{}", &number[..number.len() - 1], (last + 1) % 10);
    let out = desk.cli(&["ticket", "show", &typo]);
    assert_eq!(code(&out), Some(65));
    assert!(stderr(&out).contains("check digit"), "{}", stderr(&out));
    let out = desk.cli(&["ticket", "show", &typo, "--json"]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["code"], 65);
    assert!(e["error"].as_str().unwrap().contains("check digit"), "{e}");

    // 66: a valid number no ticket has, an unknown queue or entry.
    let unknown = postdesk::threading::Numbering::new("Ticket#", 10).number(
        "20200101",
        postdesk::threading::Serial {
            value: 4242,
            width: 5,
        },
    );
    let out = desk.cli(&["ticket", "show", &unknown]);
    assert_eq!(code(&out), Some(66));
    assert!(stderr(&out).contains("no ticket"), "{}", stderr(&out));
    let out = desk.cli(&["ticket", "list", "--queue", "nope"]);
    assert_eq!(code(&out), Some(66));
    let text = stderr(&out);
    assert!(
        text.contains("no queue named \"nope\"") && text.contains("sales, support"),
        "{text}"
    );
    assert_eq!(
        code(&desk.cli(&["ticket", "list", "--queue", "sales"])),
        Some(0)
    );
    assert_eq!(code(&desk.cli(&["quarantine", "show", "999"])), Some(66));
    assert_eq!(code(&desk.cli(&["quarantine", "retry", "999"])), Some(66));

    // A pasted tag (as in a mail subject) finds the ticket.
    let show = desk.json(&[
        "ticket",
        "show",
        &format!("Re: [Ticket#{number}] Codes"),
        "--json",
    ]);
    assert_eq!(show["number"], number.as_str());
    let show = desk.json(&["ticket", "show", &format!("[Ticket#{number}]"), "--json"]);
    assert_eq!(show["number"], number.as_str());

    // Values print as values: a pipe entry has no UID.
    let out = desk.cli_stdin(&["ingest", "--json"], b"Subject: no sender\r\n\r\nx\r\n");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["id"].to_string();
    let text = stdout(&desk.cli(&["quarantine", "show", &id]));
    assert!(text.contains("UIDVALIDITY -, UID -"), "{text}");
    assert!(!text.contains("None") && !text.contains("Some("), "{text}");

    // 78: the configuration is wrong, for every command.
    let good = std::fs::read_to_string(&desk.config).unwrap();
    std::fs::write(&desk.config, good.replace("[smtp]", "[smtp]\nhots = 1")).unwrap();
    for args in [
        &["ticket", "list"][..],
        &["status"],
        &["check"],
        &["db", "migrate"],
    ] {
        let out = desk.cli(args);
        assert_eq!(code(&out), Some(78), "{args:?}: {}", stderr(&out));
    }
    let out = desk.cli(&["status", "--json"]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["code"], 78);
    assert!(e["error"].as_str().unwrap().contains("hots"), "{e}");
    // ingest keeps 75 (the MTA retries rather than bouncing).
    let out = desk.cli_stdin(&["ingest"], &desk.mail(&customer, "Later", "l", "x"));
    assert_eq!(code(&out), Some(75));
}

#[test]
fn read_commands_never_migrate_and_db_migrate_does() {
    let desk = Desk::new(DeskOptions::default());
    let db = desk.path().join("state/postdesk.db");
    std::fs::remove_dir_all(desk.path().join("state")).unwrap();
    // No database yet: 66, and nothing is created.
    let out = desk.cli(&["ticket", "list"]);
    assert_eq!(code(&out), Some(66), "{}", stderr(&out));
    assert!(stderr(&out).contains("db migrate"), "{}", stderr(&out));
    assert!(!db.exists());

    // An older database (an empty one, schema version 0): read commands
    // refuse with the hint, and leave it as it was.
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA journal_mode = WAL")
        .unwrap();
    let version = || -> i64 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    for args in [
        &["ticket", "list"][..],
        &["ticket", "show", "2026112210000017"],
        &["status"],
        &["quarantine", "list"],
    ] {
        let out = desk.cli(args);
        assert_eq!(code(&out), Some(69), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("run `postdesk db migrate`"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // `check` (run before the daemon starts) accepts it: the daemon migrates.
    let out = desk.cli(&["check"]);
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("the daemon migrates it"),
        "{}",
        stdout(&out)
    );
    assert_eq!(version(), 0, "a read command migrated");

    let out = desk.cli(&["db", "migrate"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("migrated from schema version 0"),
        "{}",
        stdout(&out)
    );
    let latest = version();
    assert!(latest >= 1);
    let out = desk.cli(&["ticket", "list"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("no tickets"));
    let again = desk.json(&["db", "migrate", "--json"]);
    assert_eq!(again["from"], latest);
    assert_eq!(again["to"], latest);

    // A newer database: refused by read and write commands alike.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", latest + 1))
        .unwrap();
    let out = desk.cli(&["status", "--json"]);
    assert_eq!(code(&out), Some(69));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("upgrade postdesk"),
        "{e}"
    );
    assert_eq!(code(&desk.cli(&["db", "migrate"])), Some(69));
    let out = desk.cli(&["check"]);
    assert_eq!(code(&out), Some(78));
    assert!(
        stdout(&out).contains("upgrade postdesk"),
        "{}",
        stdout(&out)
    );
    let customer = desk.customer("new");
    let out = desk.cli_stdin(&["ingest"], &desk.mail(&customer, "x", "x", "x"));
    assert_eq!(
        code(&out),
        Some(75),
        "the MTA keeps the mail: {}",
        stderr(&out)
    );
    assert_eq!(version(), latest + 1);
}

#[test]
fn version_names_the_commit_and_the_schema_version() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(0));
    let text = stdout(&out);
    assert!(
        text.starts_with(concat!("postdesk ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let expected = std::env::var("POSTDESK_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or(head)
        .unwrap_or_else(|| "unknown".into());
    let schema = postdesk::store::Store::known_schema_version();
    assert!(
        text.contains(&format!("(commit {expected}, schema {schema})")),
        "{text}"
    );
}

#[test]
fn logs_carry_values_and_no_colour_off_a_terminal() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("vals");
    let mail = desk.mail(&customer, "Twice", "twice", "x");
    let out = desk.cli_stdin(&["--log-format", "json", "ingest", "--json"], &mail);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let number = v["ticket"].as_str().unwrap().to_string();
    let out = desk.cli_stdin(&["--log-format", "json", "ingest"], &mail);
    let log = stderr(&out);
    let dup: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|l: &serde_json::Value| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("duplicate"))
        })
        .unwrap_or_else(|| panic!("no duplicate line: {log}"));
    assert_eq!(dup["fields"]["ticket"], number.as_str(), "{dup}");
    assert!(!log.contains("Some("), "{log}");

    // Plain logs to a file or pipe: no escape codes, no Some(…).
    let out = desk.cli_stdin(
        &["--log-format", "plain", "ingest"],
        b"Subject: quarantine me\r\n\r\nx\r\n",
    );
    let log = stderr(&out);
    assert!(log.contains("message quarantined"), "{log}");
    assert!(!log.contains('\x1b'), "{log:?}");
    assert!(!log.contains("Some(") && !log.contains("None"), "{log}");
}

#[test]
fn a_mistyped_rust_log_is_ignored_with_a_warning_not_obeyed_into_silence() {
    let desk = Desk::new(DeskOptions::default());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(&desk.config)
        .args(["--log-format", "plain", "ingest"])
        .env("RUST_LOG", "debg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"Subject: quarantine me\r\n\r\nx\r\n")?;
            child.wait_with_output()
        })
        .unwrap();
    let log = stderr(&out);
    assert!(
        log.contains("ignoring RUST_LOG") && log.contains("\"debg\" is not a log level"),
        "{log}"
    );
    // log.level (info) decides instead: the warning still reaches the log.
    assert!(log.contains("message quarantined"), "{log}");
}

/// The README's "Try it in two minutes": its pipe-only configuration, as
/// printed there, takes a Portuguese mail in and answers in Portuguese.
#[test]
fn readme_two_minute_path_works_as_written() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{repo}/README.md")).unwrap();
    let section = readme
        .split("## Try it in two minutes")
        .nth(1)
        .expect("README has a two-minute section");
    let config = section
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a toml block in the two-minute section");
    let mail = section
        .split("```eml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a sample mail in the two-minute section");
    let dir = tempfile::tempdir().unwrap();
    // The README's folder `try/` sits in the repository.
    let try_dir = dir.path().join("try");
    std::fs::create_dir_all(&try_dir).unwrap();
    let config = config.replace("\"../", &format!("\"{repo}/"));
    std::fs::write(try_dir.join("postdesk.toml"), &config).unwrap();
    let run = |args: &[&str], input: Option<&str>| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(try_dir.join("postdesk.toml"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.unwrap_or("").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(&["check"], None);
    assert_eq!(code(&out), Some(0), "{}{}", stdout(&out), stderr(&out));
    let out = run(&["ingest"], Some(mail));
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("created ticket"),
        "{}",
        stdout(&out)
    );
    let out = run(&["ticket", "list"], None);
    let list = stdout(&out);
    let number = list
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{list}"));
    let t: serde_json::Value =
        serde_json::from_slice(&run(&["ticket", "show", number, "--json"], None).stdout).unwrap();
    assert_eq!(t["language"], "pt", "{t}");
    assert!(
        t["articles"][1]["text"]
            .as_str()
            .unwrap()
            .contains("Obrigado"),
        "{t}"
    );
}
