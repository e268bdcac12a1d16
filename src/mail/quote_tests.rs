//! Tests of `mail::quote`.

use super::*;

fn check(input: &str, expected: &str) {
    assert_eq!(new_part(input), expected, "input:\n{input}");
}

#[test]
fn plain_text_is_all_new() {
    check("Hello\n\nthanks\n", "Hello\n\nthanks");
    check("", "");
}

#[test]
fn gmail_and_apple_attributions() {
    check(
        "Yes please.\n\nOn Mon, 1 Jan 2024 at 10:00, Ana <ana@example.pt> wrote:\n> Shall I?\n",
        "Yes please.",
    );
    check(
        "Yes.\n\nOn Jan 1, 2024, at 10:00, Ana <ana@example.pt> wrote:\n\n> Shall I?\n",
        "Yes.",
    );
}

#[test]
fn attribution_wrapped_over_two_lines() {
    check(
        "Merci.\n\nLe lun. 1 janv. 2024 à 10:00, Jean Dupont <jean@example.fr>\na écrit :\n> Bonjour\n",
        "Merci.",
    );
    check(
        "Obrigado.\n\nEm seg., 1 de jan. de 2024 às 10:00, Ana <ana@example.pt>\nescreveu:\n> Olá\n",
        "Obrigado.",
    );
}

#[test]
fn attributions_in_other_languages() {
    for a in [
        "Am 01.01.2024 um 10:00 schrieb Hans Müller <h@example.de>:",
        "El lun, 1 ene 2024 a las 10:00, Ana (<ana@example.es>) escribió:",
        "Il giorno lun 1 gen 2024 alle ore 10:00 Anna <a@example.it> ha scritto:",
        "Op ma 1 jan. 2024 om 10:00 schreef Jan <jan@example.nl>:",
        "Le 01/01/2024 à 10:00, Jean a écrit :",
    ] {
        check(&format!("New text\n\n{a}\n> old\n"), "New text");
    }
}

#[test]
fn outlook_header_blocks() {
    check(
        "Done.\n\n________________________________\nFrom: Ana <ana@example.pt>\nSent: Monday, 1 January 2024 10:00\nTo: Support\nSubject: Printer\n\nIt is broken.\n",
        "Done.",
    );
    check(
        "Fait.\n\nDe : Jean <j@example.fr>\nEnvoyé : lundi 1 janvier 2024 10:00\nÀ : Support\nObjet : Imprimante\n\nCassée.\n",
        "Fait.",
    );
    check(
        "Feito.\n\nDe: Ana\nEnviado: segunda-feira\nPara: Suporte\nAssunto: x\n\nold\n",
        "Feito.",
    );
    check(
        "Erledigt.\n\nVon: Hans\nGesendet: Montag\nAn: Support\nBetreff: x\n\nalt\n",
        "Erledigt.",
    );
}

#[test]
fn separators() {
    check(
        "See below\n\n-----Original Message-----\nFrom: a@b.c\n\nold\n",
        "See below",
    );
    check(
        "Voir plus bas\n\n-----Message d'origine-----\nDe : a@b.c\n\nold\n",
        "Voir plus bas",
    );
    check("Thanks\n\n---- Ana wrote ----\n\n> old\n", "Thanks");
}

#[test]
fn forwards_are_kept_whole() {
    for fwd in [
        "FYI\n\n---------- Forwarded message ---------\nFrom: a@b.c\nDate: x\n\nthe problem",
        "Look\n\nBegin forwarded message:\n\nFrom: a\n\nthe problem",
        "Voir\n\n-------- Message transféré --------\nDe : a\n\nle problème",
    ] {
        check(fwd, fwd);
    }
}

#[test]
fn a_bare_forward_or_quote_keeps_its_text() {
    let fwd = "---------- Forwarded message ---------\nFrom: a@b.c\nDate: x\n\nthe body";
    check(fwd, fwd);
    let quote = "> only\n> quoted";
    check(quote, quote);
}

#[test]
fn bottom_posted_reply_keeps_new_text() {
    check(
        "On Mon, Ana wrote:\n> Shall I?\n\nYes, please do.\n",
        "On Mon, Ana wrote:\n> Shall I?\n\nYes, please do.",
    );
    check(
        "> question one\nanswer one\n> question two\nanswer two\n",
        "> question one\nanswer one\n> question two\nanswer two",
    );
}

#[test]
fn signatures() {
    check("Thanks\n\n-- \nAna\nACME\n", "Thanks");
    check("Thanks\n\nSent from my iPhone\n", "Thanks");
    check(
        "Thanks\n\nEnvoyé de mon iPhone\n\nLe 1 janv. Jean a écrit :\n> x\n",
        "Thanks",
    );
    check("Thanks\n\nVon meinem iPhone gesendet", "Thanks");
    // Not a signature: a sentence that starts the same way.
    check(
        "Here\n\nSent from my desk, is much easier then my mobile phone.",
        "Here\n\nSent from my desk, is much easier then my mobile phone.",
    );
}

#[test]
fn a_sentence_with_on_is_not_an_attribution() {
    check(
        "On Monday I will call.\nPlease wait.\n",
        "On Monday I will call.\nPlease wait.",
    );
    check(
        "Bob wrote: the spec\nis fine\n",
        "Bob wrote: the spec\nis fine",
    );
}

#[test]
fn many_lines_are_searched_only_at_the_top() {
    let quoted = format!("New\n\nOn Mon, Ana wrote:\n{}", "> x\n".repeat(1_000_000));
    assert_eq!(new_part(&quoted), "New");
    let late = format!("{}On Mon, Ana wrote:\n> x\n", "line\n".repeat(MAX_LINES));
    assert_eq!(new_part_end(&late), None);
}

#[test]
fn reply_and_attribution_on_one_line() {
    check("Sure. On Wed, Apr 4, 2012, Bob wrote:\n> Hi", "Sure.");
    check("a\nb-b - c--- On Wed, Bob wrote:\n> Hi", "a\nb-b - c");
    // Not an attribution: text follows "wrote:" (the `>` block under it
    // is cut as a quote all the same).
    check(
        "I met him. On Monday Bob wrote: fine\n> x",
        "I met him. On Monday Bob wrote: fine",
    );
}

#[test]
fn crlf_offsets_are_byte_offsets() {
    let t = "Yes.\r\n\r\nOn Mon, Ana wrote:\r\n> x\r\n";
    assert_eq!(new_part_end(t), Some(4));
}

#[test]
fn bounded_parts_are_counted_in_characters() {
    // Gmail's dated attribution: at most 200 characters between the date
    // and the address.
    // ("11:28 ", the spaces and "<ana" count.)
    let dated = |between: usize| {
        format!(
            "2014-10-17 11:28 {} <ana@example.pt>:",
            "é".repeat(between - 11)
        )
    };
    assert!(is_attribution(&dated(200)));
    assert!(!is_attribution(&dated(201)));
    // Android's dashed attribution: at most 200 characters before "wrote".
    // (The space before "wrote" counts, as it did in the pattern.)
    let dashed = |who: usize| format!("---- {} wrote ----", "é".repeat(who - 1));
    assert!(is_dashed_attribution(&dashed(200)));
    assert!(!is_dashed_attribution(&dashed(201)));
    // A mobile signature: at most 60 characters after the client's words.
    let mobile = |rest: usize| format!("Enviado do {}", "ç".repeat(rest - 1));
    assert!(is_mobile_signature(&mobile(60)));
    assert!(!is_mobile_signature(&mobile(61)));
    assert!(is_mobile_signature("Sent from my iPhone  ."));
}
