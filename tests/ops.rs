//! Operations against the real mail stack: systemd's notify protocol
//! heard on a real notify socket (a Unix datagram socket the test binds
//! and names in `NOTIFY_SOCKET`), the watchdog, and the HTTP listener's
//! `/healthz` and `/metrics`, the latter parsed by a Prometheus text
//! parser (`prometheus-parse`).

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// The test's end of `NOTIFY_SOCKET`: every datagram's lines, in order.
struct NotifySocket {
    socket: UnixDatagram,
    path: std::path::PathBuf,
    heard: Vec<String>,
}

impl NotifySocket {
    fn bind(desk: &Desk) -> NotifySocket {
        let path = desk.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        NotifySocket {
            socket,
            path,
            heard: Vec::new(),
        }
    }

    /// Read datagrams until one holds `line` (exactly, or as a prefix when
    /// it ends in `=`); returns that datagram's lines.
    fn wait_for(&mut self, line: &str, secs: u64) -> Vec<String> {
        let mut buf = [0u8; 4096];
        wait_for(secs, &format!("{line:?} on the notify socket"), || {
            let n = self.socket.recv(&mut buf).ok()?;
            let lines: Vec<String> = String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_string)
                .collect();
            self.heard.extend(lines.iter().cloned());
            let hit = lines.iter().any(|l| {
                if line.ends_with('=') {
                    l.starts_with(line)
                } else {
                    l == line
                }
            });
            hit.then_some(lines)
        })
    }
}

/// `GET path` over HTTP/1.1: (status code, body).
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    (code, body.to_string())
}

/// Add `[http]` on a free port (and `extra`) to the desk's config.
fn listen(desk: &Desk, extra: &str) -> u16 {
    let port = free_port();
    let mut text = std::fs::read_to_string(&desk.config).unwrap();
    text.push_str(&format!(
        "\n[http]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n"
    ));
    std::fs::write(&desk.config, text).unwrap();
    port
}

#[test]
fn notify_socket_hears_ready_status_watchdog_reload_and_stopping() {
    let mut desk = Desk::new(DeskOptions::default());
    let port = listen(&desk, "");
    let mut notify = NotifySocket::bind(&desk);
    let socket = notify.path.display().to_string();
    // A 2 s watchdog: the worker's answers ping it every second.
    desk.start_with_env(&[("NOTIFY_SOCKET", &socket), ("WATCHDOG_USEC", "2000000")]);

    // READY=1 only after the mailbox's first connection attempt, with a
    // status line saying what the daemon does.
    let ready = notify.wait_for("READY=1", 60);
    let status = ready
        .iter()
        .find(|l| l.starts_with("STATUS="))
        .expect("a STATUS= line with READY=1");
    assert!(
        status.contains("1/1 mailboxes connected") && status.contains("outbox 0 pending"),
        "{status}"
    );
    assert!(
        desk.log().contains("IMAP session ready"),
        "READY=1 came before the mailbox was tried:\n{}",
        desk.log()
    );
    notify.wait_for("WATCHDOG=1", 30);
    notify.wait_for("WATCHDOG=1", 30);

    // Healthy: 200 with the mailbox connected.
    let (code, body) = get(port, "/healthz");
    assert_eq!(code, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["ok"], true);
    assert_eq!(health["mailboxes"][0]["name"], "support");
    assert_eq!(health["mailboxes"][0]["connected"], true);
    assert_eq!(health["outbox"]["depth"], 0);

    // Mail flows; the status line follows.
    let customer = desk.customer("notify");
    let m = desk.mail(&customer, "Printer on fire", "n1", "Help");
    smtp_send(&customer, &[&desk.support], &m);
    desk.wait_tickets(1, 60);
    desk.wait_sent(2, 60);

    // A reload is framed by RELOADING=1 and READY=1.
    desk.signal(libc::SIGHUP);
    let reloading = notify.wait_for("RELOADING=1", 30);
    assert!(
        reloading.iter().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading:?}"
    );
    notify.wait_for("READY=1", 30);
    // The watchdog goes on after the reload.
    notify.wait_for("WATCHDOG=1", 30);

    // `postdesk status` shows the running daemon's view (refreshed every
    // few seconds).
    wait_for(
        60,
        "postdesk status to show the mailbox's last fetch",
        || {
            let out = desk.cli(&["status"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (text.contains("health ok")
                && text.contains("mailbox support connected  last fetch 20"))
            .then_some(())
        },
    );
    let st = desk.status();
    assert_eq!(st["live"]["mailboxes"][0]["name"], "support", "{st}");

    assert_eq!(desk.stop(), Some(0));
    notify.wait_for("STOPPING=1", 30);
}

#[test]
fn a_stalled_store_worker_stops_the_watchdog_pings() {
    let mut desk = Desk::new(DeskOptions::default());
    let mut notify = NotifySocket::bind(&desk);
    let socket = notify.path.display().to_string();
    let marker = format!("stall-here-{}", desk.id);
    desk.start_with_env(&[
        ("NOTIFY_SOCKET", &socket),
        ("WATCHDOG_USEC", "1000000"),
        ("POSTDESK_TEST_STALL_ON", &marker),
    ]);
    notify.wait_for("READY=1", 60);
    notify.wait_for("WATCHDOG=1", 30);
    let customer = desk.customer("stall");
    let m = desk.mail(&customer, "Stall", "s1", &marker);
    smtp_send(&customer, &[&desk.support], &m);
    wait_for(60, "the worker to stall", || {
        desk.log()
            .contains("marker found: the store worker stalls")
            .then_some(())
    });
    // Drop what was sent before the stall (read until the socket is
    // quiet for one read timeout), then listen for ten watchdog intervals:
    // at most the one ping already on its way when the worker stopped.
    let mut buf = [0u8; 4096];
    while notify.socket.recv(&mut buf).is_ok() {}
    let mut pings = 0;
    for _ in 0..50 {
        if let Ok(n) = notify.socket.recv(&mut buf) {
            pings += String::from_utf8_lossy(&buf[..n])
                .lines()
                .filter(|l| *l == "WATCHDOG=1")
                .count();
        }
    }
    assert!(
        pings <= 1,
        "WATCHDOG=1 sent {pings} times while the worker stalled"
    );
    desk.kill9();
}

#[test]
fn healthz_turns_503_for_a_mailbox_that_cannot_fetch_and_metrics_parse() {
    let mut desk = Desk::new(DeskOptions {
        second_mailbox_broken: true,
        ..Default::default()
    });
    let port = listen(&desk, "[health]\nmax_fetch_age_secs = 5");
    let customer = desk.customer("metrics");
    for i in 0..3 {
        let m = desk.mail(&customer, &format!("Question {i}"), &format!("m{i}"), "Hi");
        smtp_send(&customer, &[&desk.support], &m);
    }
    wait_for_mail(&desk.support, "INBOX", 3, 60);
    desk.start();
    desk.wait_tickets(3, 60);
    desk.wait_sent(6, 60);

    // The broken mailbox (wrong password) has never fetched: once that is
    // older than max_fetch_age_secs, /healthz answers 503 naming it.
    let health: Value = wait_for(60, "/healthz to answer 503", || {
        let (code, body) = get(port, "/healthz");
        (code == 503).then(|| serde_json::from_str(&body).unwrap())
    });
    assert_eq!(health["ok"], false);
    let sales = health["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "sales")
        .expect("the sales mailbox in /healthz");
    assert_eq!(sales["connected"], false);
    assert_eq!(sales["ok"], false);
    assert!(sales["last_fetch"].is_null());
    assert!(
        sales["last_error"].as_str().unwrap().contains("login"),
        "{sales}"
    );
    assert!(
        health["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("mailbox sales: no successful fetch"),
        "{health}"
    );
    let support = health["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "support")
        .unwrap();
    assert_eq!(support["connected"], true);
    assert!(support["last_fetch"].is_string(), "{support}");

    // /metrics, parsed by a Prometheus text parser.
    let (code, body) = get(port, "/metrics");
    assert_eq!(code, 200, "{body}");
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                other => panic!("{name}: unexpected {other:?}"),
            })
    };
    assert_eq!(
        value(
            "postdesk_messages_total",
            &[("outcome", "created"), ("class", "person")]
        ),
        Some(3.0),
        "{body}"
    );
    assert_eq!(value("postdesk_tickets_created_total", &[]), Some(3.0));
    assert_eq!(value("postdesk_outbox_depth", &[]), Some(0.0));
    assert_eq!(value("postdesk_outbox_oldest_age_seconds", &[]), Some(0.0));
    assert_eq!(value("postdesk_quarantine_size", &[]), Some(0.0));
    assert!(value("postdesk_imap_failures_total", &[("mailbox", "sales")]) >= Some(1.0));
    assert_eq!(
        value("postdesk_mailbox_connected", &[("mailbox", "support")]),
        Some(1.0)
    );
    assert_eq!(
        value("postdesk_mailbox_connected", &[("mailbox", "sales")]),
        Some(0.0)
    );
    let latency = scrape
        .samples
        .iter()
        .find(|s| s.metric == "postdesk_processing_seconds")
        .expect("the processing latency histogram");
    match &latency.value {
        prometheus_parse::Value::Histogram(buckets) => {
            let all = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
            assert!(all >= 3.0, "{buckets:?}");
        }
        other => panic!("processing_seconds is not a histogram: {other:?}"),
    }

    // Unknown paths and methods.
    assert_eq!(get(port, "/").0, 404);
    assert_eq!(desk.stop(), Some(0));
}
