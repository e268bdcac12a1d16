//! One daemon per database, and outbox rows claimed before they are sent:
//! a second `postdesk run` is refused and names the first; a SIGKILLed
//! daemon leaves no stuck lock; two senders sharing one database never
//! send one row twice (two daemons once sent 584 mails for 328 rows).

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// Run `postdesk run` in the foreground; it must end within `secs`.
fn run_to_end(desk: &Desk, secs: u64) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(&desk.config)
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the second `postdesk run` did not stop within {secs}s:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// The running daemon's pid, as `postdesk status` reports it.
fn daemon_pid(desk: &Desk) -> Option<u64> {
    desk.status()["daemon"]["pid"].as_u64()
}

#[test]
fn second_daemon_is_refused_naming_the_first_and_sigkill_leaves_no_stuck_lock() {
    let mut desk = Desk::new(DeskOptions::default());
    assert_eq!(desk.status()["daemon"], serde_json::Value::Null);
    desk.start();
    let first = wait_for(30, "the daemon to hold its lock", || daemon_pid(&desk));

    let out = run_to_end(&desk, 30);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains("already running on this database")
            && stderr.contains(&format!("pid {first} on host"))
            && stderr.contains("stop it first"),
        "{stderr}"
    );
    // The refused one changed nothing: the first still holds the lock.
    assert_eq!(daemon_pid(&desk), Some(first));

    // A crash cannot leave the lock stuck: after SIGKILL a new one starts.
    desk.kill9();
    assert_eq!(desk.status()["daemon"], serde_json::Value::Null);
    desk.start();
    let second = wait_for(30, "the restarted daemon to hold its lock", || {
        daemon_pid(&desk).filter(|p| *p != first)
    });
    assert_ne!(second, first);
    let customer = desk.customer("after-restart");
    let m = desk.mail(&customer, "After the restart", "restart", "hello");
    smtp_send(&customer, &[&desk.support], &m);
    desk.wait_tickets(1, 30);
    assert_eq!(desk.stop(), Some(0));
    assert_eq!(desk.status()["daemon"], serde_json::Value::Null);
}

/// Message-ID without angle brackets.
fn bare_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

#[test]
fn two_senders_sharing_a_database_never_send_one_row_twice() {
    const INGESTED: usize = 25;
    const SYNTHETIC: usize = 550;
    let desk = Desk::new(DeskOptions {
        auto_reply_limit: 1000,
        agent_alert_limit: 1000,
        ..Default::default()
    });
    // Real rows: each piped mail queues an auto-reply and an agents' alert.
    let customer = desk.customer("claims");
    for i in 0..INGESTED {
        let m = desk.mail(&customer, &format!("Question {i}"), &format!("q{i}"), "x");
        let out = desk.cli_stdin(&["ingest"], &m);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Many more, queued through the store as the worker would.
    let config = postdesk::config::Config::load(&desk.config).unwrap();
    let bulk = desk.customer("bulk");
    enqueue_bulk(&desk, &config, &bulk, SYNTHETIC);
    let total = (2 * INGESTED + SYNTHETIC) as u64;
    assert_eq!(desk.status()["outbox_pending"], total);

    // Two senders, each with its own connections and claimant id, race
    // for the same rows, as two daemons on one database would.
    let config = Arc::new(config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let senders: Vec<_> = (0..2)
        .map(|_| {
            rt.spawn(postdesk::outbox::run(
                config.clone(),
                Arc::new(tokio::sync::Notify::new()),
                stopped.clone(),
                postdesk::outbox::Claimant::new(None),
            ))
        })
        .collect();
    desk.wait_sent(total, 180);
    stop.send(true).unwrap();
    for s in senders {
        rt.block_on(s).unwrap().unwrap();
    }

    // Both senders took part: the claims record who sent what.
    let db = rusqlite::Connection::open(&config.storage.database).unwrap();
    let by_sender: HashMap<String, i64> = db
        .prepare(
            "SELECT claimed_by, COUNT(*) FROM outbox WHERE status = 'sent' GROUP BY claimed_by",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(by_sender.len(), 2, "{by_sender:?}");
    let expected: Vec<String> = db
        .prepare("SELECT message_id FROM outbox")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| bare_id(&r.unwrap()))
        .collect();
    assert_eq!(expected.len() as u64, total);

    // Every row's Message-ID arrived exactly once.
    wait_for_mail(&bulk, "INBOX", SYNTHETIC, 120);
    wait_for_mail(&customer, "INBOX", INGESTED, 120);
    // Give a duplicate time to arrive, if one had been sent.
    std::thread::sleep(Duration::from_secs(3));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for user in [&bulk, &customer, &desk.agents] {
        for raw in imap_messages(user, "INBOX") {
            if let Some(id) = header(&raw, "Message-ID") {
                *seen.entry(bare_id(&id)).or_default() += 1;
            }
        }
    }
    for id in &expected {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "Message-ID {id} arrived {:?} times",
            seen.get(id)
        );
    }
    assert_eq!(seen.len(), expected.len(), "mail arrived that no row sent");
}

#[test]
fn a_restarted_daemon_takes_back_the_claims_of_the_killed_one_at_once() {
    // A relay that takes the connection and never says a word: mail hangs
    // in flight, and the daemon holds claims on the rest meanwhile.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut desk = Desk::new(DeskOptions {
        auto_reply_limit: 1000,
        smtp_port: Some(silent.local_addr().unwrap().port()),
        ..Default::default()
    });
    let customer = desk.customer("held");
    for i in 0..10 {
        let m = desk.mail(&customer, &format!("Held {i}"), &format!("h{i}"), "x");
        assert_eq!(desk.cli_stdin(&["ingest"], &m).status.code(), Some(0));
    }
    desk.start();
    wait_for(30, "the daemon to claim the queued mail", || {
        (desk.status()["outbox_claimed"] == 20).then_some(())
    });
    desk.kill9();
    // The dead daemon's claims would hold for their lease (5 min) … (a
    // lane whose greeting timed out first gave its mail back)
    let held = desk.status()["outbox_claimed"].as_u64().unwrap();
    assert!(held > 0, "nothing claimed after the kill");
    desk.start();
    // … but the next holder of the lock knows they are dead.
    wait_for(30, "the claims taken back", || {
        desk.log()
            .contains("took back the claims of the previous daemon run")
            .then_some(())
    });
    // And a clean stop gives back what was not sent.
    assert_eq!(desk.stop(), Some(0));
    assert_eq!(desk.status()["outbox_claimed"], 0);
    assert_eq!(desk.status()["outbox_pending"], 20);
    drop(silent);
}

/// Queue `n` mails to `to` straight into the outbox, as the worker would.
fn enqueue_bulk(desk: &Desk, config: &postdesk::config::Config, to: &str, n: usize) {
    let mut store =
        postdesk::store::Store::open(&config.storage.database, postdesk::store::Durability::Full)
            .unwrap();
    let tx = store.conn().transaction().unwrap();
    for i in 0..n {
        let id = format!("bulk-{i}-{}@desk.test", desk.id);
        let raw = format!(
            "From: desk@support.test\r\nTo: {to}\r\nSubject: bulk {i}\r\nMessage-ID: <{id}>\r\n\r\nbulk {i}\r\n"
        );
        postdesk::store::outbox::enqueue(
            &tx,
            &postdesk::store::outbox::NewOutgoing {
                ticket_id: 1,
                article_id: None,
                kind: "test",
                envelope_from: "",
                recipients: &[to.to_string()],
                message_id: &format!("<{id}>"),
                raw: Some(raw.as_bytes()),
            },
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// Start one sender in-process (as `postdesk run` does); returns what
/// stops it.
fn start_sender(
    rt: &tokio::runtime::Runtime,
    config: &Arc<postdesk::config::Config>,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = rt.spawn(postdesk::outbox::run(
        config.clone(),
        Arc::new(tokio::sync::Notify::new()),
        stopped,
        postdesk::outbox::Claimant::new(None),
    ));
    (stop, task)
}

#[test]
fn sending_goes_on_while_an_intake_batch_holds_the_database() {
    const N: usize = 400;
    let desk = Desk::new(DeskOptions::default());
    let config = Arc::new(postdesk::config::Config::load(&desk.config).unwrap());
    // A real ticket for the queued mail to belong to.
    let customer = desk.customer("asks");
    let m = desk.mail(&customer, "Question", "q", "x");
    assert_eq!(desk.cli_stdin(&["ingest"], &m).status.code(), Some(0));
    let bulk = desk.customer("locked");
    enqueue_bulk(&desk, &config, &bulk, N);
    let total = desk.status()["outbox_pending"].as_u64().unwrap();
    let db = &config.storage.database;
    let mut intake = rusqlite::Connection::open(db).unwrap();
    intake.busy_timeout(Duration::from_secs(10)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, sender) = start_sender(&rt, &config);
    // As soon as the sender has claimed its first round, an intake batch
    // takes the database's write lock and keeps it.
    wait_for(30, "the sender's first claim", || {
        let claimed: i64 = intake
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (claimed > 0).then_some(())
    });
    let batch = intake
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let marks = rusqlite::Connection::open(postdesk::store::marks::path_for(db)).unwrap();
    let journal = || -> i64 {
        marks
            .query_row("SELECT COUNT(*) FROM delivery_marks", [], |r| r.get(0))
            .unwrap_or(0)
    };
    let before = journal();
    // Each lane waits for its last mail's mark: if marks needed the
    // database, no lane could get past its next mail (4 lanes).
    wait_for(30, "marks committed while the database is held", || {
        (journal() >= before + 40).then_some(())
    });
    batch.commit().unwrap();
    // Once the database is free, everything is folded into the outbox and
    // each mail arrives once.
    desk.wait_sent(total, 120);
    wait_for(30, "the journal folded", || (journal() == 0).then_some(()));
    stop.send(true).unwrap();
    rt.block_on(sender).unwrap().unwrap();
    wait_for_mail(&bulk, "INBOX", N, 120);
    // Give a duplicate time to arrive, if one had been sent.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(imap_messages(&bulk, "INBOX").len(), N);
}
