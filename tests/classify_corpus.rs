//! Classification on real mail: every file under `tests/data/real/` against
//! its line in `tests/data/real/expected.tsv` (class, and for bounces the
//! failed recipients). A file marked as a known miss must still miss, so a
//! fix updates the list and the figures in BENCHMARKS.md.

use postdesk::mail::{parse, MailClass};
use std::collections::{BTreeMap, BTreeSet};
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
