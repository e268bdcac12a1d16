//! Real forwards: the bodies Apple Mail, Gmail, Thunderbird and Outlook
//! (Outlook.com, Outlook 2013, the new Outlook 2019, Outlook 2019 for Mac)
//! write, in English, French and Portuguese, from the test folder of
//! crisp-oss/email-forward-parser (MIT; see `tests/data/README.md`). Each
//! is the text of an agent's mail under the subject its client gives a
//! forward, and must give the original's sender, subject and text.

use super::*;

const FROM: &str = "john.doe@acme.com";
const NAME: &str = "John Doe";
const SUBJECT: &str = "Integer consequat non purus";
const TEXT_START: &str = "Aenean quis diam urna.";
const TEXT_END: &str = "massa sagittis eget.";

fn read(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/forward")
        .join(format!("crisp-{name}.txt"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The agent's mail: `body` as its text under `subject`.
fn mail(subject: &str, body: &str) -> InboundMail {
    let raw = format!(
        "From: Alice <alice@support.example>\r\nTo: help@desk.example.com\r\nSubject: {subject}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    );
    crate::mail::parse(raw.as_bytes(), "desk.example.com").expect("the sample parses")
}

/// (file, subject prefix, the sender's display name, the forwarder's own text)
const FORWARDS: &[(&str, &str, Option<&str>, &str)] = &[
    ("gmail_en_body", "Fwd:", Some(NAME), ""),
    ("gmail_fr_body", "Fwd:", Some(NAME), ""),
    ("gmail_pt_body", "Fwd:", Some(NAME), ""),
    ("gmail_pt_br_body", "Fwd:", Some(NAME), ""),
    ("apple_mail_en_body", "Fwd:", Some(NAME), ""),
    ("apple_mail_fr_body", "Fwd:", Some(NAME), ""),
    ("apple_mail_pt_body", "Fwd:", Some(NAME), ""),
    ("apple_mail_pt_br_body", "Fwd:", Some(NAME), ""),
    ("apple_mail_en_body_alt_5", "Fwd:", None, ""),
    ("apple_mail_en_body_alt_7", "Fwd:", Some(NAME), ""),
    ("thunderbird_en_body", "Fwd:", Some(NAME), ""),
    ("thunderbird_fr_body", "Fwd:", Some(NAME), ""),
    ("thunderbird_pt_body", "Fwd:", Some(NAME), ""),
    ("thunderbird_pt_br_body", "Fwd:", Some(NAME), ""),
    ("outlook_live_body", "FW:", Some(NAME), ""),
    ("outlook_live_body", "TR:", Some(NAME), ""),
    ("outlook_live_body", "ENC:", Some(NAME), ""),
    (
        "outlook_live_en_body_alt_8",
        "FW:",
        Some(NAME),
        "Praesent suscipit egestas hendrerit.\n\nAliquam eget dui dui.",
    ),
    ("outlook_2013_en_body", "FW:", Some(NAME), ""),
    ("new_outlook_2019_en_body", "FW:", Some(NAME), ""),
    ("new_outlook_2019_fr_body", "TR:", Some(NAME), ""),
    ("new_outlook_2019_pt_body", "ENC:", Some(NAME), ""),
    ("new_outlook_2019_pt_br_body", "ENC:", Some(NAME), ""),
    ("outlook_2019_en_body", "FW:", Some(NAME), ""),
    ("outlook_2019_fr_body", "TR:", Some(NAME), ""),
    ("outlook_2019_pt_body", "ENC:", Some(NAME), ""),
];

#[test]
fn real_forwards_give_the_original_sender_subject_and_text() {
    for (file, prefix, name, own) in FORWARDS {
        let m = mail(&format!("{prefix} {SUBJECT}"), &read(file));
        let f = m
            .forward
            .unwrap_or_else(|| panic!("{file}: no forward found in {:?}", m.text));
        let o = f
            .original
            .as_ref()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(o.from.address, FROM, "{file}");
        assert_eq!(o.from.name.as_deref(), *name, "{file}");
        assert_eq!(o.subject, SUBJECT, "{file}");
        assert!(o.text.starts_with(TEXT_START), "{file}: {:?}", o.text);
        assert!(o.text.contains(TEXT_END), "{file}: {:?}", o.text);
        assert!(
            !o.text.contains("> "),
            "{file}: quote marks left: {:?}",
            o.text
        );
        assert_eq!(f.own_text.replace("\r\n", "\n"), *own, "{file}");
        assert_eq!(f.style, Style::Inline);
    }
}

#[test]
fn real_replies_are_no_forwards() {
    for file in [
        "gmail_en_body_alt_4",
        "apple_mail_en_body_alt_4",
        "thunderbird_en_body_alt_4",
    ] {
        let m = mail("Re: hello how are you?", &read(file));
        assert!(m.forward.is_none(), "{file}");
    }
    // Outlook's blocks and attributions are forwards only under a
    // forward's prefix: under "RE:" they are a reply's history.
    for file in [
        "outlook_live_body",
        "new_outlook_2019_en_body",
        "outlook_2019_en_body",
    ] {
        let m = mail(&format!("RE: {SUBJECT}"), &read(file));
        assert!(m.forward.is_none(), "{file}");
    }
}

#[test]
fn forward_prefixes_come_off() {
    assert_eq!(strip_forward_prefix("Fwd: TR : x"), "x");
    assert_eq!(strip_forward_prefix("ENC: Fw: y z"), "y z");
    assert_eq!(strip_forward_prefix("Re: x"), "Re: x");
    assert_eq!(strip_forward_prefix("Fwd:"), "");
    assert_eq!(strip_forward_prefix("Trabalho"), "Trabalho");
}

/// A real mail (Roundcube) with messages attached as `message/rfc822`,
/// from mail-parser's third-party samples (already in
/// `tests/data/real/person/`, Apache-2.0 OR MIT). Its attached messages are
/// cut short (their multipart/alternative never closes), so mail-parser
/// hands over one attachment holding the rest of the mail, and where its
/// raw bytes start is mail-parser's business: what matters is that a real
/// Roundcube forward-as-attachment gives a sender, subject and Message-ID.
#[test]
fn a_real_mail_with_attached_messages() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real/person/mail-parser-thirdparty-015.eml");
    let raw = std::fs::read(&path).expect("the sample is there");
    let m = crate::mail::parse(&raw, "desk.example.com").expect("the sample parses");
    let f = m.forward.expect("an attached forward");
    assert_eq!(f.style, Style::Attached);
    assert_eq!(f.marker, "attachment training-mail.txt (message/rfc822)");
    let o = f.original.as_ref().expect("its sender is readable");
    assert!(o.from.address.ends_with("@proxmox.com"), "{:?}", o.from);
    assert!(!o.subject.is_empty());
    assert!(o
        .message_id
        .as_deref()
        .is_some_and(|id| id.ends_with("@proxmox.com")));
    assert!(o.date.is_some());
    assert!(f.own_text.starts_with("Hallo Stoiko,"), "{:?}", f.own_text);
}
