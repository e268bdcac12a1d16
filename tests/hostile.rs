//! Hostile mail on the real mail stack and the real binary: mail whose
//! shape (not size) would take the process down is quarantined and the mail
//! behind it goes on; a message that crashes the process is quarantined
//! after its retries; peak memory stays bounded by the size limit whatever
//! the mail's shape. The hostile mails are generated here, not committed.

mod common;

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The mail that overflowed the store thread's stack: 50,000 nested
/// `message/rfc822` parts (2.7 MB).
fn nested_mail(desk: &Desk, from: &str) -> Vec<u8> {
    let mut raw = format!(
        "From: {from}\r\nTo: {}\r\nSubject: nested\r\nMessage-ID: <nested-{}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n",
        desk.support, desk.id
    );
    for i in 0..50_000 {
        raw.push_str(&format!(
            "Subject: level {i}\r\nContent-Type: message/rfc822\r\n\r\n"
        ));
    }
    raw.push_str("Subject: core\r\n\r\nhello\r\n");
    raw.into_bytes()
}

/// Write a mail of about `size` bytes: `head`, then `unit` repeated, then
/// `tail`, streamed to `path` so the test process itself stays small (its
/// own peak would count in the child's, see [`ingest_peak_rss`]).
fn write_mail(path: &Path, head: &str, unit: &[u8], tail: &str, size: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(head.as_bytes()).unwrap();
    let mut len = head.len() + tail.len();
    while len + unit.len() <= size {
        f.write_all(unit).unwrap();
        len += unit.len();
    }
    f.write_all(tail.as_bytes()).unwrap();
    f.flush().unwrap();
}

fn quarantine(desk: &Desk) -> Vec<Value> {
    desk.json(&["quarantine", "list", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn postdesk(desk: &Desk, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
    cmd.arg("--config").arg(&desk.config).args(args);
    cmd
}

/// `postdesk ingest FILE --json`, with extra environment; returns the
/// status and standard output.
fn ingest(desk: &Desk, file: &Path, env: &[(&str, &str)]) -> (ExitStatus, String) {
    let out = postdesk(desk, &["ingest", "--json"])
        .arg(file)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn nested_mail_overflowing_the_stack_is_quarantined_and_the_mail_behind_it_ingested() {
    let mut desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("nina");
    smtp_send(&customer, &[&desk.support], &nested_mail(&desk, &customer));
    let good = desk.mail(&customer, "Behind the nested one", "behind", "ok");
    smtp_send(&customer, &[&desk.support], &good);
    wait_for(30, "both mails delivered", || {
        (imap_messages(&desk.support, "INBOX").len() == 2).then_some(())
    });
    desk.start();
    let tickets = desk.wait_tickets(1, 60);
    assert_eq!(tickets[0]["subject"], "Behind the nested one");
    let q = wait_for(30, "a quarantine entry", || {
        let q = quarantine(&desk);
        (!q.is_empty()).then_some(q)
    });
    let error = q[0]["error"].as_str().unwrap();
    assert!(error.contains("levels of MIME nesting"), "{error}");
    assert_eq!(q[0]["raw_kept"], true);
    wait_for(30, "inbox emptied", || {
        imap_messages(&desk.support, "INBOX")
            .is_empty()
            .then_some(())
    });
    assert_eq!(desk.stop(), Some(0));

    // The same through the MTA pipe.
    let file = desk.path().join("nested.eml");
    let mut raw = nested_mail(&desk, &customer);
    raw.extend_from_slice(b"(piped copy)\r\n");
    std::fs::write(&file, raw).unwrap();
    let (status, out) = ingest(&desk, &file, &[]);
    assert!(status.success(), "{status}: {out}");
    assert!(
        out.contains("quarantined") && out.contains("MIME nesting"),
        "{out}"
    );
    let file = desk.path().join("good.eml");
    std::fs::write(&file, desk.mail(&customer, "Piped after", "piped", "ok")).unwrap();
    let (status, out) = ingest(&desk, &file, &[]);
    assert!(
        status.success() && out.contains("created"),
        "{status}: {out}"
    );
}

const MARKER: &str = "X-Test-Crash-Marker-7f3a";

fn crash_mail(desk: &Desk, from: &str) -> Vec<u8> {
    desk.mail(from, "Crashes the desk", "crash", MARKER)
}

/// Run the daemon with the abort hook until it stays up and has made
/// `tickets` tickets; the number of runs that crashed.
fn run_until_it_stays_up(desk: &Desk, tickets: usize) -> u32 {
    let mut crashes = 0;
    for run in 1..=6 {
        let log = std::fs::File::create(desk.path().join(format!("crash-run{run}.log"))).unwrap();
        let mut child: Child = postdesk(desk, &["run"])
            .env("POSTDESK_TEST_ABORT_ON", MARKER)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        // A crashing run dies as soon as it fetches the mail; a healthy one
        // quarantines it. Whichever comes first.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                assert!(!st.success(), "the daemon exited cleanly: {st}");
                crashes += 1;
                break;
            }
            if quarantine(desk).iter().any(|e| {
                e["error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("processing crashed")
            }) {
                // Healthy: let it take in the rest, then stop it.
                desk.wait_tickets(tickets, 60);
                sigterm_and_wait(child);
                return crashes;
            }
            assert!(
                Instant::now() < deadline,
                "run {run} neither crashed nor quarantined"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    panic!("the daemon still crashes after 6 runs");
}

fn sigterm_and_wait(mut child: Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0));
}

#[test]
fn crashing_message_is_quarantined_after_its_retries_and_intake_goes_on() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("cora");
    let before = desk.mail(&customer, "Before the crash", "before", "ok");
    smtp_send(&customer, &[&desk.support], &before);
    smtp_send(&customer, &[&desk.support], &crash_mail(&desk, &customer));
    let after = desk.mail(&customer, "After the crash", "after", "ok");
    smtp_send(&customer, &[&desk.support], &after);
    wait_for(30, "three mails delivered", || {
        (imap_messages(&desk.support, "INBOX").len() == 3).then_some(())
    });

    let crashes = run_until_it_stays_up(&desk, 2);
    assert_eq!(crashes, 3, "interrupted three times, then quarantined");
    let q = quarantine(&desk);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["subject"], "Crashes the desk");
    assert_eq!(q[0]["raw_kept"], true);
    let mut subjects: Vec<String> = desk
        .tickets()
        .iter()
        .map(|t| t["subject"].as_str().unwrap().to_string())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["After the crash", "Before the crash"]);
    // Quarantined with a copy: acknowledged like the others.
    wait_for(30, "inbox emptied", || {
        imap_messages(&desk.support, "INBOX")
            .is_empty()
            .then_some(())
    });
}

/// Parsing runs on parser threads, ahead of the store thread's writes: a
/// message that kills the process there must still be attributed to its
/// batch (attempts committed before the parse starts), isolated, and
/// quarantined, while the mail parsed around it in the same batch is
/// taken in.
#[test]
fn crash_in_a_parser_thread_still_quarantines_only_the_culprit() {
    let desk = Desk::new(DeskOptions {
        agent_alert_limit: 1000,
        ..DeskOptions::default()
    });
    let customer = desk.customer("petra");
    for n in 1..=3 {
        let mail = desk.mail(&customer, &format!("Before {n}"), "b", "ok");
        smtp_send(&customer, &[&desk.support], &mail);
    }
    smtp_send(&customer, &[&desk.support], &crash_mail(&desk, &customer));
    for n in 1..=3 {
        let mail = desk.mail(&customer, &format!("After {n}"), "a", "ok");
        smtp_send(&customer, &[&desk.support], &mail);
    }
    wait_for(30, "seven mails delivered", || {
        (imap_messages(&desk.support, "INBOX").len() == 7).then_some(())
    });

    let crashes = run_until_it_stays_up(&desk, 6);
    assert_eq!(crashes, 3, "interrupted three times, then quarantined");
    // Each crash happened in a parser thread, not on the store thread.
    for run in 1..=3 {
        let log = std::fs::read_to_string(desk.path().join(format!("crash-run{run}.log"))).unwrap();
        assert!(
            log.contains("marker found on thread postdesk-parse-"),
            "run {run}: {log}"
        );
    }
    let q = quarantine(&desk);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["subject"], "Crashes the desk");
    assert_eq!(desk.tickets().len(), 6);
    wait_for(30, "inbox emptied", || {
        imap_messages(&desk.support, "INBOX")
            .is_empty()
            .then_some(())
    });
}

#[test]
fn crashing_message_piped_is_quarantined_after_its_retries() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("pia");
    let file = desk.path().join("crash.eml");
    std::fs::write(&file, crash_mail(&desk, &customer)).unwrap();
    let env = [("POSTDESK_TEST_ABORT_ON", MARKER)];
    // The MTA retries a delivery whose command died; each try crashes...
    for attempt in 1..=3 {
        let (status, out) = ingest(&desk, &file, &env);
        assert!(status.code().is_none(), "try {attempt}: {status} {out}");
    }
    // ... until the guard quarantines it unparsed, and says so.
    let (status, out) = ingest(&desk, &file, &env);
    assert!(status.success(), "{status}: {out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "quarantined", "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("processing crashed"),
        "{v}"
    );
    // The next mail goes through as usual.
    let file = desk.path().join("next.eml");
    std::fs::write(&file, desk.mail(&customer, "Next", "next", "ok")).unwrap();
    let (status, out) = ingest(&desk, &file, &env);
    assert!(
        status.success() && out.contains("created"),
        "{status}: {out}"
    );
}

/// Peak resident memory (bytes) of `postdesk ingest FILE`, from wait4(2).
/// Linux counts in a child's peak the peak of the process it was spawned
/// from (the memory map it replaced at exec), so this is an upper bound of
/// postdesk's own peak as long as the test process stays smaller.
#[allow(clippy::zombie_processes)] // reaped by wait4, which clippy cannot see
fn ingest_peak_rss(desk: &Desk, file: &Path) -> (u64, String) {
    let out_path = desk.path().join("ingest-out.json");
    let child = postdesk(desk, &["ingest", "--json"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value; wait4 fills it for our own
    // child, which has not been waited for yet.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(
        pid,
        child.id() as libc::pid_t,
        "{}",
        std::io::Error::last_os_error()
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}"
    );
    // ru_maxrss is in kilobytes on Linux.
    (
        usage.ru_maxrss as u64 * 1024,
        std::fs::read_to_string(out_path).unwrap(),
    )
}

/// Peak memory of one mail of the worst legitimate shape we know, in
/// multiples of `system.max_message_bytes` above a small mail's: an HTML
/// body in a charset whose bytes become three in UTF-8, held decoded and
/// converted to text at once (measured 6.0; most shapes 3.0-3.5).
const PEAK_FACTOR: u64 = 8;

#[test]
fn peak_memory_is_bounded_by_the_size_limit_whatever_the_shape() {
    let limit: u64 = 26_214_400;
    let desk = Desk::new(DeskOptions {
        max_message_bytes: limit,
        ..DeskOptions::default()
    });
    let customer = desk.customer("mona");
    let mib = |b: u64| b as f64 / 1048576.0;
    let head = |subject: &str, ct: &str, extra: &str| {
        format!(
            "From: {customer}\r\nTo: {}\r\nSubject: {subject}\r\n{extra}MIME-Version: 1.0\r\nContent-Type: {ct}\r\n\r\n",
            desk.support
        )
    };

    let small = desk.path().join("small.eml");
    std::fs::write(&small, desk.mail(&customer, "Small", "small", "ok")).unwrap();
    let (base, out) = ingest_peak_rss(&desk, &small);
    assert!(out.contains("created"), "{out}");
    let check = |what: &str, file: &Path, expect: &str, factor: u64| {
        let (peak, out) = ingest_peak_rss(&desk, file);
        assert!(out.contains(expect), "{what}: {out}");
        eprintln!(
            "{what}: peak {:.1} MiB (base {:.1} MiB, limit {:.1} MiB)",
            mib(peak),
            mib(base),
            mib(limit)
        );
        assert!(
            peak < base + factor * limit,
            "{what}: peak RSS {:.1} MiB is over {:.1} MiB + {factor} x {:.1} MiB",
            mib(peak),
            mib(base),
            mib(limit)
        );
    };

    // 2.6 million parts of 10 bytes, just under the limit: took 1.5 GiB.
    let file = desk.path().join("parts.eml");
    let ct = "multipart/mixed; boundary=b";
    write_mail(
        &file,
        &head("parts", ct, ""),
        b"--b\r\n\r\nx\r\n",
        "--b--\r\n",
        limit as usize,
    );
    check("many tiny parts", &file, "MIME parts", 4);

    let file = desk.path().join("nested.eml");
    std::fs::write(&file, nested_mail(&desk, &customer)).unwrap();
    check("50,000 nested messages", &file, "MIME nesting", 4);

    // A References header of 1 MiB of `<a>`: each 3 bytes become a string.
    let file = desk.path().join("references.eml");
    write_mail(
        &file,
        &format!("From: {customer}\r\nReferences: "),
        b"<a>",
        "\r\n\r\nx\r\n",
        1 << 20,
    );
    check("1 MiB of Message-IDs", &file, "created", PEAK_FACTOR);

    // Each byte 0x80 is a euro sign: three bytes in UTF-8.
    let file = desk.path().join("cp1252.eml");
    let ct = "text/html; charset=windows-1252";
    write_mail(
        &file,
        &head("euros", ct, ""),
        b"\x80\x80\x80 ",
        "\r\n",
        limit as usize,
    );
    check(
        "an HTML body in windows-1252 at the limit",
        &file,
        "created",
        PEAK_FACTOR,
    );
}

#[test]
fn crash_guard_quarantines_only_the_culprit_of_a_crashed_batch() {
    use postdesk::crash_guard::message_key;
    use postdesk::process::{Incoming, Origin, Processor};
    use postdesk::store::attempts;
    use std::sync::Arc;

    let desk = Desk::new(DeskOptions::default());
    let config = Arc::new(postdesk::config::Config::load(&desk.config).unwrap());
    let templates =
        postdesk::notify::Templates::load(&config.templates_dir, &config.system.default_language)
            .unwrap();
    let mut store = postdesk::process::open_store(&config).unwrap();
    let processor = Processor::new(config.clone(), Arc::new(templates));
    let customer = desk.customer("gil");
    let batch: Vec<Incoming> = ["first", "culprit", "third"]
        .iter()
        .map(|tag| {
            let raw = desk.mail(&customer, &format!("Mail {tag}"), tag, "hello");
            Incoming {
                origin: Origin::Pipe { mailbox: None },
                size: raw.len() as u64,
                raw,
                fetch_error: None,
            }
        })
        .collect();
    let keys: Vec<String> = batch.iter().map(message_key).collect();
    // Run 1 died with the whole batch in hand; runs 2 and 3, trying the
    // messages one by one, died on the culprit.
    attempts::begin(store.conn(), &keys).unwrap();
    attempts::begin(store.conn(), &keys[1..2]).unwrap();
    attempts::begin(store.conn(), &keys[1..2]).unwrap();
    assert_eq!(
        attempts::interrupted(store.conn(), &keys).unwrap(),
        [1, 3, 1]
    );

    let outcomes = processor.process_batch(&mut store, &batch).unwrap();
    let json: Vec<Value> = outcomes
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    assert_eq!(json[0]["outcome"], "created", "{json:?}");
    assert_eq!(json[1]["outcome"], "quarantined", "{json:?}");
    assert!(json[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("processing crashed"));
    assert_eq!(json[1]["raw_kept"], true);
    assert_eq!(json[2]["outcome"], "created", "{json:?}");
    // Every attempt settled with its message's effects.
    assert_eq!(
        attempts::interrupted(store.conn(), &keys).unwrap(),
        [0, 0, 0]
    );
}
