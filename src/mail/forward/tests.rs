use super::inline::{header_line, parse_from, Field};
use super::*;

fn parse(raw: &str) -> InboundMail {
    crate::mail::parse(raw.as_bytes(), "desk.example.com").expect("test mail parses")
}

fn fwd(subject: &str, body: &str) -> Forward {
    let raw = format!(
        "From: Alice <alice@support.example>\r\nTo: help@desk.example.com\r\nSubject: {subject}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    );
    *parse(&raw).forward.expect("a forward is found")
}

/// The forward's original: (address, name, subject, start of the text),
/// and the forwarder's own lines.
fn check(subject: &str, body: &str, expected: (&str, Option<&str>, &str, &str), own: &str) {
    let f = fwd(subject, body);
    let o = f.original.as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.from.address, expected.0, "{body}");
    assert_eq!(o.from.name.as_deref(), expected.1, "{body}");
    assert_eq!(o.subject, expected.2, "{body}");
    assert!(
        o.text.starts_with(expected.3),
        "text {:?} should start with {:?}",
        o.text,
        expected.3
    );
    assert_eq!(f.own_text, own);
    assert_eq!(f.style, Style::Inline);
}

#[test]
fn gmail_thunderbird_apple_outlook_in_three_languages() {
    let ana = (
        "ana@client.example",
        Some("Ana Souza"),
        "Printer",
        "It does not print.",
    );
    for body in [
        "Please look.\n\n---------- Forwarded message ---------\nFrom: Ana Souza <ana@client.example>\nDate: Mon, 30 Nov 2026 at 10:00\nSubject: Printer\nTo: <alice@support.example>\n\nIt does not print.\n",
        "Please look.\n\n-------- Forwarded Message --------\nSubject: \tPrinter\nDate: \tMon, 30 Nov 2026 10:00:00 +0000\nFrom: \tAna Souza <ana@client.example>\nTo: \talice@support.example\n\nIt does not print.\n",
        "Please look.\n\n-------- Original Message --------\nSubject: Printer\nDate: Mon, 30 Nov 2026 10:00:00 +0000\nFrom: Ana Souza <ana@client.example>\n\nIt does not print.\n",
        "Please look.\n\nBegin forwarded message:\n\nFrom: Ana Souza <ana@client.example>\nSubject: Printer\nDate: 30 November 2026 at 10:00:00 GMT\nTo: Alice <alice@support.example>\n\nIt does not print.\n",
        "Please look.\n\n-----Original Message-----\nFrom: Ana Souza [mailto:ana@client.example]\nSent: Monday, November 30, 2026 10:00 AM\nTo: Alice\nSubject: Printer\n\nIt does not print.\n",
        "Please look.\n\n---------- Message transféré ---------\nDe : Ana Souza <ana@client.example>\nDate : lun. 30 nov. 2026 à 10:00\nObjet : Printer\nÀ : <alice@support.example>\n\nIt does not print.\n",
        "Please look.\n\n-------- Message transféré --------\nSujet : \tPrinter\nDate : \tMon, 30 Nov 2026 10:00:00 +0000\nDe : \tAna Souza <ana@client.example>\nPour : \talice@support.example\n\nIt does not print.\n",
        "Please look.\n\nDébut du message réexpédié :\n\nDe: Ana Souza <ana@client.example>\nObjet: Printer\nDate: 30 novembre 2026 à 10:00:00 UTC\nÀ: Alice <alice@support.example>\n\nIt does not print.\n",
        "Please look.\n\n---------- Mensagem encaminhada ---------\nDe: Ana Souza <ana@client.example>\nData: seg., 30 de nov. de 2026 às 10:00\nAssunto: Printer\nPara: <alice@support.example>\n\nIt does not print.\n",
        "Please look.\n\nInício da mensagem reencaminhada:\n\nDe: Ana Souza <ana@client.example>\nAssunto: Printer\nData: 30 de novembro de 2026 10:00:00 WET\nPara: Alice <alice@support.example>\n\nIt does not print.\n",
    ] {
        check("Fwd: Printer", body, ana, "Please look.");
    }
}

#[test]
fn outlook_blocks_under_a_forward_prefix() {
    let ana = (
        "ana@client.example",
        Some("Ana Souza"),
        "Printer",
        "It does not print.",
    );
    for (subject, body) in [
        ("FW: Printer", "Please look.\n\n________________________________\nFrom: Ana Souza <ana@client.example>\nSent: Monday, November 30, 2026 10:00\nTo: Alice <alice@support.example>\nSubject: Printer\n\nIt does not print.\n"),
        ("TR: Printer", "Please look.\n\nDe : Ana Souza <ana@client.example>\nEnvoyé : lundi 30 novembre 2026 10:00\nÀ : Alice <alice@support.example>\nObjet : Printer\n\nIt does not print.\n"),
        ("ENC: Printer", "Please look.\n\nDe: Ana Souza <ana@client.example>\nEnviado: segunda-feira, 30 de novembro de 2026 10:00\nPara: Alice <alice@support.example>\nAssunto: Printer\n\nIt does not print.\n"),
        ("Fw: Printer", "Please look.\n\n*From:* Ana Souza <ana@client.example>\n*Sent:* Monday, November 30, 2026 10:00\n*To:* Alice\n*Subject:* Printer\n\nIt does not print.\n"),
    ] {
        check(subject, body, ana, "Please look.");
    }
    // The same block under "RE:" is a reply's quoted history.
    let raw = "From: alice@support.example\r\nSubject: RE: Printer\r\n\r\nDone.\n\nFrom: Ana Souza <ana@client.example>\nSent: Monday\nSubject: Printer\n\nIt does not print.\n";
    assert!(parse(raw).forward.is_none());
}

#[test]
fn quoted_forwards_lose_their_quote_marks() {
    let body = "FYI\n\n> ---------- Forwarded message ---------\n> From: ana@client.example\n> Subject: Printer\n>\n> It does not print.\n> Still.\n";
    let f = fwd("Fwd: Printer", body);
    let o = f.original.unwrap();
    assert_eq!(o.from.address, "ana@client.example");
    assert_eq!(o.from.name, None);
    assert_eq!(o.text, "It does not print.\nStill.");
}

#[test]
fn a_forward_without_a_readable_sender_says_why() {
    for (body, why) in [
        (
            "---------- Forwarded message ---------\n",
            "nothing follows",
        ),
        (
            "---------- Forwarded message ---------\nsome quoted text\n",
            "no From line",
        ),
        (
            "---------- Forwarded message ---------\nFrom: Ana Souza\nSubject: x\n\ntext\n",
            "holds no address",
        ),
    ] {
        let f = fwd("Fwd: x", body);
        let e = f.original.unwrap_err();
        assert!(e.contains(why), "{e}");
    }
}

#[test]
fn ordinary_mail_is_no_forward() {
    for body in [
        "Hello, my printer is broken.\n",
        "Thanks.\n\nOn Mon, 30 Nov 2026, Ana <ana@client.example> wrote:\n> It does not print.\n",
        "From: the desk of the CEO\nDate: today\n\nNot a forward.\n",
    ] {
        let raw = format!("From: a@b.example\r\nSubject: Printer\r\n\r\n{body}");
        assert!(parse(&raw).forward.is_none(), "{body}");
    }
}

#[test]
fn attached_message_is_the_original_with_its_message_id_and_attachments() {
    let inner = "From: Ana Souza <ana@client.example>\r\nTo: alice@support.example\r\nSubject: Printer\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <p1@client.example>\r\nContent-Type: multipart/mixed; boundary=I\r\n\r\n--I\r\nContent-Type: text/plain\r\n\r\nIt does not print.\r\n--I\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=shot.png\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--I--\r\n";
    let raw = format!("From: Alice <alice@support.example>\r\nTo: help@desk.example.com\r\nSubject: Fwd: Printer\r\nContent-Type: multipart/mixed; boundary=O\r\n\r\n--O\r\nContent-Type: text/plain\r\n\r\nVIP customer.\r\n--O\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=printer.eml\r\n\r\n{inner}\r\n--O--\r\n");
    let f = parse(&raw).forward.expect("found");
    assert_eq!(f.style, Style::Attached);
    assert_eq!(f.own_text, "VIP customer.");
    assert!(f.own_attachments.is_empty());
    let o = f.original.unwrap();
    assert_eq!(o.from.address, "ana@client.example");
    assert_eq!(o.subject, "Printer");
    assert_eq!(o.message_id.as_deref(), Some("p1@client.example"));
    assert_eq!(o.date.as_deref(), Some("Mon, 30 Nov 2026 10:00:00 +0000"));
    assert_eq!(o.text.trim(), "It does not print.");
    assert_eq!(o.attachments.len(), 1);
    assert_eq!(o.attachments[0].content, b"hello");
}

#[test]
fn an_attached_message_is_not_searched_for_forwards_itself() {
    let inner = "From: bob@x.example\r\nSubject: Fwd: y\r\n\r\n---------- Forwarded message ---------\r\nFrom: eve@y.example\r\n\r\nz\r\n";
    let raw = format!("From: alice@support.example\r\nSubject: Fwd: y\r\nContent-Type: multipart/mixed; boundary=O\r\n\r\n--O\r\nContent-Type: text/plain\r\n\r\nhi\r\n--O\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--O--\r\n");
    let f = parse(&raw).forward.expect("found");
    let o = f.original.unwrap();
    assert_eq!(o.from.address, "bob@x.example");
    assert!(o.text.contains("eve@y.example"));
}

#[test]
fn from_lines() {
    let p = |v: &str| parse_from(v).map(|m| (m.address, m.name));
    assert_eq!(
        p("\"Souza, Ana\" <Ana@Client.example>"),
        Some(("ana@client.example".into(), Some("Souza, Ana".into())))
    );
    assert_eq!(
        p("Ana [mailto:ana@client.example]"),
        Some(("ana@client.example".into(), Some("Ana".into())))
    );
    assert_eq!(
        p("ana@client.example"),
        Some(("ana@client.example".into(), None))
    );
    assert_eq!(
        p("*Ana* <ana@client.example <mailto:ana@client.example>>"),
        Some(("ana@client.example".into(), Some("Ana".into())))
    );
    assert_eq!(p("Ana Souza"), None);
    assert_eq!(p(""), None);
    assert_eq!(header_line("De : x"), Some((Field::From, "x")));
    assert_eq!(
        header_line("  > **Assunto:** y"),
        Some((Field::Subject, "y"))
    );
    assert_eq!(header_line("Hello: there"), None);
}

#[test]
fn hostile_input_never_panics_and_stays_bounded() {
    let mut long = String::from("x\n");
    for _ in 0..(MAX_SCAN_LINES + 10) {
        long.push_str("line\n");
    }
    long.push_str("---------- Forwarded message ---------\nFrom: a@b.example\n\nlate\n");
    let raw = format!("From: a@b.example\r\nSubject: Fwd: x\r\n\r\n{long}");
    assert!(parse(&raw).forward.is_none(), "past the scanned lines");
    for body in [
        "---------- Forwarded message ---------\nFrom: é<>[]()@@@\n".to_string(),
        format!("---------- Forwarded message ---------\n{}", "From: ".repeat(10_000)),
        format!("---------- Forwarded message ---------\nFrom: a@b.example\n{}\n", "To: x\n".repeat(1000)),
        "Fwd\n---------- Forwarded message ---------\nFrom: \u{130}\u{130}\u{130} <a@b.example>\n\nx".to_string(),
        "\u{FEFF}---------- Forwarded message ---------\r\n\r\n\r\n".to_string(),
    ] {
        let raw = format!("From: a@b.example\r\nSubject: Fwd: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}");
        let _ = parse(&raw).forward;
    }
    // A forward prefix alone is nothing.
    assert!(
        has_forward_prefix("Fwd: x")
            && has_forward_prefix("TR : x")
            && !has_forward_prefix("Re: x")
    );
}

#[test]
fn html_only_forwards_from_gmail_and_outlook() {
    for (subject, html) in [
        (
            "Fwd: Printer",
            r#"<div dir="ltr">Please look.<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: <strong class="gmail_sendername" dir="auto">Ana Souza</strong> <span dir="auto">&lt;<a href="mailto:ana@client.example">ana@client.example</a>&gt;</span><br>Date: Mon, 30 Nov 2026 at 10:00<br>Subject: Printer<br>To: &lt;<a href="mailto:alice@support.example">alice@support.example</a>&gt;<br></div><br><br><div dir="ltr">It does not print.</div></div></div>"#,
        ),
        (
            "TR: Printer",
            r#"<div>Please look.</div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="black"><b>De :</b> Ana Souza &lt;ana@client.example&gt;<br><b>Envoyé :</b> lundi 30 novembre 2026 10:00<br><b>À :</b> Alice &lt;alice@support.example&gt;<br><b>Objet :</b> Printer</font><div>&nbsp;</div></div><div>It does not print.</div>"#,
        ),
    ] {
        let raw = format!(
            "From: alice@support.example\r\nSubject: {subject}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
        );
        let m = parse(&raw);
        let f = m
            .forward
            .unwrap_or_else(|| panic!("no forward in {:?}", m.text));
        let o = f.original.unwrap_or_else(|e| panic!("{e}: {:?}", m.text));
        assert_eq!(o.from.address, "ana@client.example", "{:?}", m.text);
        assert_eq!(o.from.name.as_deref(), Some("Ana Souza"), "{:?}", m.text);
        assert_eq!(o.subject, "Printer", "{:?}", m.text);
        assert!(o.text.contains("It does not print."), "{:?}", m.text);
        assert_eq!(f.own_text, "Please look.", "{:?}", m.text);
    }
}

#[test]
fn outlooks_original_message_is_a_forward_only_under_a_forward_prefix() {
    let body = "Done.\n\n-----Original Message-----\nFrom: Ana Souza [mailto:ana@client.example]\nSent: Monday\nSubject: Printer\n\nIt does not print.\n";
    let raw =
        |subject: &str| format!("From: alice@support.example\r\nSubject: {subject}\r\n\r\n{body}");
    assert!(parse(&raw("RE: Printer")).forward.is_none());
    assert!(parse(&raw("FW: Printer")).forward.is_some());
    assert!(parse(&raw("[Ticket#2026112210000017] Fwd: Printer"))
        .forward
        .is_some());
}
