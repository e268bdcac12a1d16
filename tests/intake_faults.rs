//! IMAP trouble that is not the mail's fault: a connection that fails in
//! the middle of a fetch ends the session and the mail is fetched again;
//! only a message whose own fetch keeps killing the connection is
//! quarantined (left in the mailbox), and the mail beside it goes on.
//! The faults come from a TCP proxy in front of the stack's Dovecot.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::*;

/// Which body fetches the proxy cuts (by the UID set the client asked for).
type Cut = fn(&str) -> bool;

/// A proxy to the stack's IMAP port that cuts a connection 200 bytes into
/// the answer to a `UID FETCH … BODY.PEEK[]` whose UID set `cut` selects,
/// at most `budget` times.
struct Proxy {
    port: u16,
    cuts: Arc<AtomicU32>,
}

fn proxy(cut: Cut, budget: u32) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cuts = Arc::new(AtomicU32::new(0));
    let done = cuts.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server = TcpStream::connect(("127.0.0.1", stack().imap_port)).unwrap();
            let done = done.clone();
            relay(client, server, move |set| {
                cut(set)
                    && done
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                            (n < budget).then_some(n + 1)
                        })
                        .is_ok()
            });
        }
    });
    Proxy { port, cuts }
}

/// Copy both ways; once the client asks for bodies of a set `cut_now`
/// accepts, forward 200 bytes of the answer and drop both sockets.
fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    cut_now: impl Fn(&str) -> bool + Send + 'static,
) {
    let armed = Arc::new(AtomicU32::new(0));
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let arm = armed.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        // Commands arrive in pieces: look at whole lines.
        let mut line = Vec::new();
        while let Ok(n) = c2.read(&mut buf) {
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                if b != b'\n' {
                    line.push(b);
                    continue;
                }
                // "a12 UID FETCH 1:3 (UID BODY.PEEK[])"
                let text = String::from_utf8_lossy(&line).to_string();
                line.clear();
                let words: Vec<&str> = text.split_whitespace().collect();
                if words.len() >= 4
                    && words[1].eq_ignore_ascii_case("UID")
                    && words[2].eq_ignore_ascii_case("FETCH")
                    && text.contains("BODY.PEEK[]")
                    && cut_now(words[3])
                {
                    arm.store(1, Ordering::SeqCst);
                }
            }
            if s2.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = s2.shutdown(Shutdown::Both);
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut after_arm = 0usize;
        while let Ok(n) = server.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut n = n;
            if armed.load(Ordering::SeqCst) == 1 {
                n = n.min(200 - after_arm);
                after_arm += n;
            }
            if client.write_all(&buf[..n]).is_err() {
                break;
            }
            if after_arm >= 200 {
                break;
            }
        }
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    });
}

fn send_three(desk: &Desk) {
    for i in 0..3 {
        let customer = desk.customer(&format!("c{i}"));
        let m = desk.mail(
            &customer,
            &format!("Question {i}"),
            &format!("q{i}"),
            "hello",
        );
        smtp_send(&customer, &[&desk.support], &m);
    }
    wait_for_mail(&desk.support, "INBOX", 3, 60);
}

#[test]
fn a_connection_cut_during_a_batch_fetch_quarantines_nothing() {
    // The first body fetch, whatever it asks for, loses its connection.
    let proxy = proxy(|_| true, 1);
    let mut desk = Desk::new(DeskOptions {
        imap_port: Some(proxy.port),
        ..Default::default()
    });
    send_three(&desk);
    desk.start();
    desk.wait_tickets(3, 90);
    let status = desk.status();
    assert_eq!(status["quarantine_held"], 0, "{status}");
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 1);
    let log = desk.log();
    assert!(
        log.contains("the connection failed while fetching a batch"),
        "{log}"
    );
    wait_for(30, "the inbox to empty", || {
        imap_messages(&desk.support, "INBOX")
            .is_empty()
            .then_some(())
    });
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn a_message_whose_fetch_always_kills_the_connection_is_quarantined_and_the_rest_goes_on() {
    // Every body fetch that includes UID 1 ("1", "1:3", "1,3", …) is cut.
    let proxy = proxy(
        |set| set == "1" || set.starts_with("1:") || set.starts_with("1,"),
        u32::MAX,
    );
    let mut desk = Desk::new(DeskOptions {
        imap_port: Some(proxy.port),
        ..Default::default()
    });
    send_three(&desk);
    desk.start();
    desk.wait_tickets(2, 120);
    wait_for(60, "the poisonous message to be quarantined", || {
        (desk.status()["quarantine_held"] == 1).then_some(())
    });
    let log = desk.log();
    assert!(log.contains("(3 of 3 before it is quarantined)"), "{log}");
    // Left in the mailbox for the operator; the other two were moved.
    assert_eq!(imap_messages(&desk.support, "INBOX").len(), 1);
    assert_eq!(desk.tickets().len(), 2);
    assert_eq!(desk.stop(), Some(0));
}
