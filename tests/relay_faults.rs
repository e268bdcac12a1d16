//! The SMTP relay as real relays behave: one that closes a connection left
//! idle past its timeout (Postfix answers the next command with
//! `421 4.4.2 … timeout exceeded`) costs no deferral — the mail goes out on
//! a fresh connection at once.

mod common;

use common::*;

#[test]
fn a_relay_closing_an_idle_connection_costs_no_deferral() {
    let name = unique("idle");
    let st = stack();
    let dir = st.dir.display().to_string();
    let out = std::process::Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/mailstack/mailstack.sh"
        ))
        .args(["postfix-start", &dir, &name])
        .env("MAILSTACK_POSTFIX_EXTRA", "smtpd_timeout = 2s")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port: u16 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("SMTP_PORT="))
        .and_then(|p| p.trim().parse().ok())
        .unwrap();
    let mut desk = Desk::new(DeskOptions {
        smtp_port: Some(port),
        ..Default::default()
    });
    desk.start();
    let first = desk.customer("first");
    let m = desk.mail(&first, "Before the pause", "one", "hello");
    smtp_send(&first, &[&desk.support], &m);
    wait_for_mail(&first, "INBOX", 1, 60);
    // Longer than the relay's smtpd_timeout: it closes our idle connection.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let second = desk.customer("second");
    let m = desk.mail(&second, "After the pause", "two", "hello");
    smtp_send(&second, &[&desk.support], &m);
    wait_for_mail(&second, "INBOX", 1, 60);
    let log = desk.log();
    assert!(!log.contains("SMTP delivery deferred"), "{log}");
    assert_eq!(desk.stop(), Some(0));
    mailstack(&["postfix-stop", &dir, &name]);
}
