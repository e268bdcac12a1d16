//! Classification on real mail: every file under `tests/data/real/` against
//! its line in `tests/data/real/expected.tsv` (class, and for bounces the
//! failed recipients). A file marked as a known miss must still miss, so a
//! fix updates the list and the figures in BENCHMARKS.md. And a delivery
//! report written there and then by the test stack's Postfix.

#[allow(unused_imports)] // the test desk is not used here
mod common;

use common::*;
use postdesk::mail::{parse, DeliveryOutcome, MailClass};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

struct Row {
    file: String,
    class: String,
    recipients: Option<BTreeSet<String>>,
    known_miss: Option<String>,
}

fn real() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/real")
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(real().join("expected.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 3, "expected.tsv: bad line {l:?}");
            let recipients = match f[2] {
                "?" => None,
                "-" => Some(BTreeSet::new()),
                list => Some(list.split(',').map(str::to_string).collect()),
            };
            Row {
                file: f[0].to_string(),
                class: f[1].to_string(),
                recipients,
                known_miss: f.get(3).filter(|s| !s.is_empty()).map(|s| s.to_string()),
            }
        })
        .collect()
}

/// `(class, recipients)` as postdesk sees the file; a refused mail's class
/// is `refused: <why>`.
fn outcome(file: &str) -> (String, BTreeSet<String>) {
    let raw = std::fs::read(real().join(file)).unwrap();
    match parse(&raw, "desk.example.com") {
        Ok(m) => {
            let recipients = m
                .class
                .bounce
                .iter()
                .flat_map(|b| b.recipients.iter().map(|r| r.address.clone()))
                .collect();
            (m.class.class.as_str().to_string(), recipients)
        }
        Err(e) => (format!("refused: {e}"), BTreeSet::new()),
    }
}

#[test]
fn real_mail_is_classified_as_expected() {
    let rows = rows();
    // Every file is listed, and every listed file exists.
    let listed: BTreeSet<&str> = rows.iter().map(|r| r.file.as_str()).collect();
    for class in std::fs::read_dir(real()).unwrap() {
        let class = class.unwrap().path();
        if !class.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&class).unwrap() {
            let f = f.unwrap().path();
            let rel = f
                .strip_prefix(real())
                .unwrap()
                .to_string_lossy()
                .to_string();
            assert!(
                listed.contains(rel.as_str()),
                "{rel} is not in expected.tsv"
            );
        }
    }
    // files, class right, recipients checked, recipients right
    let mut figures: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    let mut wrong = Vec::new();
    for row in &rows {
        assert!(
            row.file.starts_with(&format!("{}/", row.class)),
            "{}: filed under another class than {}",
            row.file,
            row.class
        );
        let (class, recipients) = outcome(&row.file);
        let class_ok = class == row.class;
        let recipients_ok = row.recipients.as_ref().map(|r| *r == recipients);
        let fig = figures.entry(row.class.clone()).or_default();
        fig[0] += 1;
        fig[1] += usize::from(class_ok);
        if let Some(ok) = recipients_ok {
            fig[2] += 1;
            fig[3] += usize::from(ok && class_ok);
        }
        let right = class_ok && recipients_ok != Some(false);
        match (&row.known_miss, right) {
            (None, false) => wrong.push(format!(
                "{}: expected {} {:?}, got {class} {recipients:?}",
                row.file, row.class, row.recipients
            )),
            (Some(why), true) => wrong.push(format!(
                "{}: listed as a known miss ({why}) but now right: update expected.tsv and BENCHMARKS.md",
                row.file
            )),
            _ => {}
        }
    }
    println!("class\tfiles\tclass right\trecipients checked\trecipients right");
    for (class, f) in &figures {
        println!("{class}\t{}\t{}\t{}\t{}", f[0], f[1], f[2], f[3]);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The classes named in expected.tsv are postdesk's own.
    for class in figures.keys() {
        assert!(
            [
                MailClass::Person,
                MailClass::AutoReply,
                MailClass::ReadReceipt,
                MailClass::DeliveryReport,
                MailClass::FeedbackReport,
                MailClass::ChallengeResponse,
                MailClass::List,
                MailClass::OwnMail,
            ]
            .iter()
            .any(|c| c.as_str() == class),
            "unknown class {class} in expected.tsv"
        );
    }
}

/// One SMTP command and its (last) reply line, which must start with `code`.
fn smtp(conn: &mut BufReader<std::net::TcpStream>, line: &str, code: &str) {
    if !line.is_empty() {
        conn.get_mut().write_all(line.as_bytes()).unwrap();
    }
    loop {
        let mut reply = String::new();
        conn.read_line(&mut reply).unwrap();
        assert!(reply.starts_with(code), "{line:?} → {reply:?}");
        if reply.as_bytes().get(3) != Some(&b'-') {
            return;
        }
    }
}

#[test]
fn a_postfix_delivery_report_on_our_mail_is_read_back() {
    // Our mail, sent with RFC 3461 NOTIFY=SUCCESS and RET=HDRS: Postfix
    // answers the envelope sender with a multipart/report holding
    // message/delivery-status and the returned headers.
    let id = unique("dsn");
    let sender = format!("desk-{id}@desk.test");
    let rcpt = format!("ann-{id}@customer.test");
    let tcp = std::net::TcpStream::connect(("127.0.0.1", stack().smtp_port)).unwrap();
    let mut conn = BufReader::new(tcp);
    smtp(&mut conn, "", "220");
    smtp(&mut conn, "EHLO desk.test\r\n", "250");
    smtp(
        &mut conn,
        &format!("MAIL FROM:<{sender}> RET=HDRS\r\n"),
        "250",
    );
    smtp(
        &mut conn,
        &format!("RCPT TO:<{rcpt}> NOTIFY=SUCCESS\r\n"),
        "250",
    );
    smtp(&mut conn, "DATA\r\n", "354");
    let body = format!(
        "From: Help <{sender}>\r\nTo: <{rcpt}>\r\nSubject: [Ticket#2026112210000017] Your request\r\nMessage-ID: <{id}@desk.test>\r\nX-Postdesk-Loop: desk.example.com\r\nAuto-Submitted: auto-replied\r\n\r\nWe have your request.\r\n.\r\n"
    );
    smtp(&mut conn, &body, "250");
    smtp(&mut conn, "QUIT\r\n", "221");

    let report = wait_for_mail(&sender, "INBOX", 1, 30).remove(0);
    let m = parse(&report, "desk.example.com").unwrap();
    assert_eq!(m.class.class, MailClass::DeliveryReport, "{:?}", m.class);
    assert!(m.automatic.is_some());
    let bounce = m.class.bounce.as_ref().unwrap();
    assert_eq!(bounce.outcome, DeliveryOutcome::Delivered);
    assert_eq!(bounce.recipients[0].address, rcpt);
    let original = m.class.original.as_ref().unwrap();
    assert_eq!(
        original.message_id.as_deref(),
        Some(format!("{id}@desk.test").as_str())
    );
    assert_eq!(
        original.subject.as_deref(),
        Some("[Ticket#2026112210000017] Your request")
    );
    assert!(original.ours, "{original:?}");
}
