//! Tests of `mail::charset`, through `mail::parse` so they show what a
//! ticket gets: subject, sender name, text.

use super::*;
use crate::mail::{parse, InboundMail};

fn mail(raw: &[u8]) -> InboundMail {
    parse(raw, "desk.example.com")
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(raw)))
}

/// `(subject, sender name, text)` of `raw` against what is expected.
fn check(raw: &[u8], subject: &str, name: Option<&str>, text: &str) {
    let m = mail(raw);
    assert_eq!(
        (
            m.subject.as_str(),
            m.from.name.as_deref(),
            m.text.trim_end()
        ),
        (subject, name, text),
        "{}",
        String::from_utf8_lossy(raw)
    );
}

fn with_body(headers: &str, body: &[u8]) -> Vec<u8> {
    [headers.as_bytes(), b"\r\n", body].concat()
}

#[test]
fn cjk_charsets_are_decoded() {
    check(
        b"From: a@b.co\r\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\n\r\nx",
        "テスト",
        None,
        "x",
    );
    for (label, bytes, expected) in [
        (
            "Shift_JIS",
            &[0x83, 0x65, 0x83, 0x58, 0x83, 0x67][..],
            "テスト",
        ),
        (
            "EUC-JP",
            &[0xa5, 0xc6, 0xa5, 0xb9, 0xa5, 0xc8][..],
            "テスト",
        ),
        ("euc-kr", &[0xc7, 0xd1, 0xb1, 0xb9][..], "한국"),
        ("gb2312", &[0xd6, 0xd0, 0xce, 0xc4][..], "中文"),
        ("GB18030", &[0xd6, 0xd0, 0xce, 0xc4][..], "中文"),
        ("big5", &[0xa4, 0xa4, 0xa4, 0xe5][..], "中文"),
    ] {
        let raw = with_body(
            &format!("From: a@b.co\r\nSubject: s\r\nContent-Type: text/plain; charset={label}\r\n"),
            bytes,
        );
        check(&raw, "s", None, expected);
    }
}

#[test]
fn encoded_words_splitting_a_character_are_joined() {
    check(
        b"From: a@b.co\r\nSubject: =?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9_cr=C3=A8me?=\r\n\r\nx",
        "café crème",
        None,
        "x",
    );
    check(
        b"From: =?UTF-8?B?5pel5pys?=\r\n =?UTF-8?B?6Kqe?= <a@b.co>\r\nSubject: =?utf-8?B?5pel5pys6A==?= =?UTF-8?B?qp4=?=\r\n\r\nx",
        "日本語",
        Some("日本語"),
        "x",
    );
}

#[test]
fn raw_8bit_headers_fall_back_to_the_message_charset_then_windows_1252() {
    check(
        "From: Zoë <z@b.co>\r\nSubject: Olá ção\r\n\r\nx".as_bytes(),
        "Olá ção",
        Some("Zoë"),
        "x",
    );
    check(
        b"From: Zo\xeb <z@b.co>\r\nSubject: Ol\xe1\r\nContent-Type: text/plain; charset=iso-8859-15\r\n\r\n\xa4",
        "Olá",
        Some("Zoë"),
        "€",
    );
    check(
        b"From: a@b.co\r\nSubject: \x93quoted\x94 \x80\r\n\r\nbody",
        "“quoted” €",
        None,
        "body",
    );
}

#[test]
fn raw_headers_in_a_multipart_take_a_part_charset_and_raw_jis_is_decoded() {
    let raw = b"From: Zo\xeb <z@b.co>\r\nSubject: Ol\xe1\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=iso-8859-7\r\n\r\n\xe1\r\n--x--\r\n";
    // iso-8859-7 (Greek): 0xe1 is alpha, 0xeb is lambda.
    check(raw, "Olα", Some("Zoλ"), "α");
    check(
        b"From: a@b.co\r\nSubject: \x1b$B%F%9%H\x1b(B\r\n\r\nx",
        "テスト",
        None,
        "x",
    );
}

#[test]
fn bodies_without_or_with_unknown_charsets_fall_back() {
    check(
        b"From: a@b.co\r\nSubject: s\r\n\r\nbody \x93q\x94",
        "s",
        None,
        "body “q”",
    );
    check(
        b"From: a@b.co\r\nSubject: s\r\nContent-Type: text/plain; charset=\"latin-1\"\r\n\r\nol\xe1",
        "s",
        None,
        "olá",
    );
    check(
        b"From: a@b.co\r\nSubject: s\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nol\xc3\xa1",
        "s",
        None,
        "olá",
    );
    check(
        b"From: a@b.co\r\nSubject: s\r\nContent-Type: text/plain; charset=utf8\r\n\r\nol\xc3\xa1",
        "s",
        None,
        "olá",
    );
    check(
        b"From: a@b.co\r\nSubject: s\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nol=E1",
        "s",
        None,
        "olá",
    );
}

#[test]
fn cr_only_line_ends_and_leading_blank_lines() {
    check(
        b"From: a@b.co\rSubject: cr\r\rline one\rline two\r",
        "cr",
        None,
        "line one\r\nline two",
    );
    check(
        b"\r\nFrom: a@b.co\r\nSubject: blank\r\n\r\nbody",
        "blank",
        None,
        "body",
    );
    check(
        b" \t \r\n\nFrom: a@b.co\r\nSubject: ws\r\n\r\nbody",
        "ws",
        None,
        "body",
    );
}

#[test]
fn file_names_in_rfc_2231_and_rfc_2047() {
    for disposition in [
        "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
        "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*0*=UTF-8''r%C3%A9; filename*1*=sum%C3%A9.pdf",
        "Content-Type: application/pdf; name=\"=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?=\"\r\nContent-Disposition: attachment",
        "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"=?ISO-8859-1?Q?r=E9sum=E9.pdf?=\"",
    ] {
        let raw = format!("From: a@b.co\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nt\r\n--x\r\n{disposition}\r\n\r\nx\r\n--x--\r\n");
        let m = mail(raw.as_bytes());
        assert_eq!(m.attachments[0].filename, "résumé.pdf", "{disposition}");
    }
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        parse(&[0x00, 0x01, 0xff, 0xfe, 0x10, 0x80], "x").unwrap_err(),
        MailError::Binary
    );
    assert!(MailError::Binary.to_string().contains("binary data"));
    let missing = parse(b"Subject: s\r\n\r\nx", "x").unwrap_err();
    assert!(missing.to_string().contains("no From address"), "{missing}");
    let bad = parse(b"From: nobody here\r\n\r\nx", "x").unwrap_err();
    assert!(bad.to_string().contains("nobody here"), "{bad}");
}

#[test]
fn valid_mail_is_not_copied() {
    let raw = b"From: a@b.co\r\nSubject: =?UTF-8?Q?a?= =?UTF-8?Q?b?=\r\n\r\nx";
    assert!(matches!(prepare(raw), Ok(Cow::Borrowed(_))));
    assert!(matches!(
        prepare(b"\r\nFrom: a@b.co\r\n\r\nx"),
        Ok(Cow::Borrowed(_))
    ));
}
