//! A new ticket's language (issue 7, item 7): the customer's known
//! language, else Content-Language, else detected in the new text, else
//! the mailbox's, else the default; templates only in a language that has
//! them. Through `postdesk ingest` and `explain` on a real database.

mod common;

use common::*;
use serde_json::Value;

fn ingest(desk: &Desk, mail: &[u8]) -> String {
    let out = desk.cli_stdin(&["ingest", "--json"], mail);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["ticket"].as_str().unwrap().to_string()
}

fn language(desk: &Desk, number: &str) -> String {
    desk.json(&["ticket", "show", number, "--json"])["language"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn language_comes_from_the_customer_then_content_language_then_the_text() {
    let desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    let ana = desk.customer("ana");
    // Detected in the text (no Content-Language): French, which has templates.
    let fr = desk.mail(
        &ana,
        "Imprimante",
        "fr",
        "Bonjour, l'imprimante du bureau n'imprime plus depuis hier. Pouvez-vous m'aider ?",
    );
    let first = ingest(&desk, &fr);
    assert_eq!(language(&desk, &first), "fr");

    // Ana writes in English later: her known language wins.
    let en = desk.mail(
        &ana,
        "Another thing",
        "en",
        "Hello, the office printer has not printed anything since yesterday. Can you help?",
    );
    let second = ingest(&desk, &en);
    assert_eq!(language(&desk, &second), "fr");

    // Content-Language before detection.
    let bob = desk.customer("bob");
    let tagged = String::from_utf8(desk.mail(
        &bob,
        "Printer",
        "pt",
        "Hello, it does not print at all since Monday.",
    ))
    .unwrap()
    .replacen("MIME-Version", "Content-Language: pt-BR\r\nMIME-Version", 1);
    let third = ingest(&desk, tagged.as_bytes());
    assert_eq!(language(&desk, &third), "pt");

    // Spanish has no templates: the ticket takes the default, while
    // `explain` (and the rules) still see the language detected.
    let carl = desk.customer("carl");
    let es = desk.mail(
        &carl,
        "Impresora",
        "es",
        "Buenos días, la impresora de la oficina no imprime desde ayer. ¿Pueden ayudarme?",
    );
    let file = desk.path().join("es.eml");
    std::fs::write(&file, &es).unwrap();
    let e = desk.json(&["explain", "--json", file.to_str().unwrap()]);
    assert_eq!(e["plan"]["language"]["code"], "es", "{}", e["plan"]);
    assert_eq!(e["plan"]["language"]["source"], "detected");
    assert_eq!(e["plan"]["ticket"]["language"], "en");
}
