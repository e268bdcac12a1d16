//! A mail's language when nothing about the customer says it: detected in
//! the new text (quoted history left out) by the whatlang crate, among the
//! languages a helpdesk here is likely to see, and only when it is
//! confident enough. Pure; the facts stage calls it.

use whatlang::{Detector, Lang};

/// The languages detection chooses among, with their ISO 639-1 codes (the
/// names of template folders).
const LANGUAGES: [(Lang, &str); 6] = [
    (Lang::Eng, "en"),
    (Lang::Por, "pt"),
    (Lang::Fra, "fr"),
    (Lang::Spa, "es"),
    (Lang::Deu, "de"),
    (Lang::Ita, "it"),
];

/// Below this confidence the detection is a guess (whatlang's own
/// `is_reliable` refuses most one-line mails, which are what support gets).
const MIN_CONFIDENCE: f64 = 0.25;

/// Shorter texts say too little to tell languages apart.
const MIN_LETTERS: usize = 12;

/// The language of `text` (`pt`, `fr`, …), when detection is reliable.
pub fn detect(text: &str) -> Option<&'static str> {
    // A long mail's language shows in its first few kilobytes.
    let mut end = text.len().min(4096);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let sample = &text[..end];
    if sample.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
        return None;
    }
    let detector = Detector::with_allowlist(LANGUAGES.iter().map(|(l, _)| *l).collect());
    let info = detector.detect(sample)?;
    if info.confidence() < MIN_CONFIDENCE {
        return None;
    }
    LANGUAGES
        .iter()
        .find(|(l, _)| *l == info.lang())
        .map(|(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<&str>) {
        assert_eq!(detect(text), expected, "{text}");
    }

    #[test]
    fn detects_the_languages_of_support_mail() {
        check(
            "Bom dia, a impressora do escritório não imprime desde ontem. Podem ajudar?",
            Some("pt"),
        );
        check(
            "Bonjour, l'imprimante du bureau n'imprime plus depuis hier. Pouvez-vous m'aider ?",
            Some("fr"),
        );
        check(
            "Buenos días, la impresora de la oficina no imprime desde ayer. ¿Pueden ayudarme?",
            Some("es"),
        );
        check(
            "Guten Tag, der Drucker im Büro druckt seit gestern nicht mehr. Können Sie helfen?",
            Some("de"),
        );
        check(
            "Hello, the office printer has not printed anything since yesterday. Can you help?",
            Some("en"),
        );
        check("Obrigado!", None);
        check("ok", None);
        check("", None);
    }
}
