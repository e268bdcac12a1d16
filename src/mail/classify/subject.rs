//! Subject lines machines write, in English, Portuguese, French, German,
//! Spanish and Polish (and a few Italian and Dutch ones). The last resort:
//! only a subject that *starts* with such words counts (a person writing
//! "my out-of-office does not work" is not a machine), and never one a
//! person replied to or forwarded (`Re:`, `Fwd:`, …).

/// Prefixes people's clients put before a subject they answer or forward.
const REPLY_PREFIXES: &[&str] = &[
    "re:", "re :", "aw:", "sv:", "vs:", "ref:", "réf.", "réf :", "odp:", "res:", "rif:",
];
const FORWARD_PREFIXES: &[&str] = &[
    "fwd:", "fw:", "fwd :", "tr:", "tr :", "wg:", "rv:", "enc:", "pd:", "i:", "doorst:",
];

/// The subject answers another one (`Re:`, `AW:`, `RES:`, …).
pub(super) fn is_reply(subject: &str) -> bool {
    let s = subject.trim_start().to_lowercase();
    REPLY_PREFIXES.iter().any(|p| s.starts_with(p))
}

fn is_forward(s: &str) -> bool {
    FORWARD_PREFIXES.iter().any(|p| s.starts_with(p))
}

/// Lower-cased subject, or `None` when a person answered or forwarded it.
fn own_words(subject: &str) -> Option<String> {
    let s = subject.trim().to_lowercase();
    if is_forward(&s) || is_reply(&s) {
        return None;
    }
    Some(s)
}

/// An auto-reply subject starts with one of these.
const AUTO_REPLY: &[&str] = &[
    // English (Lotus Notes: "AUTO: Ann is out of the office (returning …)")
    "auto:",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "automated response",
    "out of office",
    "out of the office",
    "ooo:",
    "on vacation",
    "vacation reply",
    "away from my desk",
    // Portuguese
    "resposta automática",
    "resposta automatica",
    "ausente:",
    "ausência:",
    "fora do escritório",
    "férias:",
    // French
    "réponse automatique",
    "reponse automatique",
    "absence:",
    "absence :",
    "absent:",
    "absent :",
    "message d'absence",
    "message d’absence",
    "répondeur",
    // German
    "automatische antwort",
    "abwesenheitsnotiz",
    "abwesend:",
    "abwesenheit:",
    "außer haus",
    "ausser haus",
    // Spanish
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "fuera de oficina",
    "ausencia:",
    "de vacaciones",
    // Polish
    "odpowiedź automatyczna",
    "odpowiedz automatyczna",
    "automatyczna odpowiedź",
    "automatyczna odpowiedz",
    "autoodpowiedź",
    "nieobecność:",
    "nieobecnosc:",
    "poza biurem",
    // Italian, Dutch
    "risposta automatica",
    "fuori sede",
    "automatisch antwoord",
    "afwezig:",
];

/// Phrases that mark an auto-reply wherever they stand in the subject.
const AUTO_REPLY_ANYWHERE: &[&str] = &[
    "is out of the office",
    "is out of office",
    "ist außer haus",
    "ist nicht im büro",
    "est absent",
    "está ausente",
    "jest nieobecn",
    "(auto-reply)",
    "[auto-reply]",
    "(autoreply)",
    "(out of office)",
];

/// An out-of-office or other automatic answer, by subject.
pub(super) fn auto_reply(subject: &str) -> Option<String> {
    let s = own_words(subject)?;
    let hit = AUTO_REPLY
        .iter()
        .find(|p| s.starts_with(**p))
        .or_else(|| AUTO_REPLY_ANYWHERE.iter().find(|p| s.contains(**p)))?;
    Some(format!("auto-reply subject \"{hit}\""))
}

const BOUNCE: &[&str] = &[
    // English
    "undeliverable",
    "undelivered mail",
    "undeliverable mail",
    "returned mail",
    "mail delivery failed",
    "mail delivery failure",
    "delivery status notification",
    "delivery failure",
    "delivery failed",
    "permanent delivery failure",
    "delivery notification",
    "delivery report",
    "failure notice",
    "failed delivery",
    "message not delivered",
    "mail system error",
    "non-delivery",
    "nondeliverable",
    "delayed mail",
    "delivery delayed",
    "warning: could not send message",
    "warning: message",
    "delivery final failure",
    "mail could not be delivered",
    // Portuguese
    "não é possível entregar",
    "nao e possivel entregar",
    "não entregue",
    "mensagem não entregue",
    "falha na entrega",
    "falha de entrega",
    "notificação de status de entrega",
    // French
    "non remis",
    "non distribuable",
    "échec de la remise",
    "echec de la remise",
    "échec de remise",
    "message non délivré",
    "notification d'état de remise",
    // German
    "unzustellbar",
    "nicht zustellbar",
    "unzustellbare nachricht",
    "benachrichtigung zum übermittlungsstatus",
    "übermittlungsstatusbenachrichtigung",
    "zustellung fehlgeschlagen",
    "zustellungsfehler",
    // Spanish
    "no se puede entregar",
    "no se pudo entregar",
    "no entregado",
    "mensaje no entregado",
    "error de entrega",
    "notificación de estado de entrega",
    // Polish
    "niedostarczalne",
    "niedostarczona",
    "niedostarczono",
    "nie można dostarczyć",
    "nie mozna dostarczyc",
    "powiadomienie o stanie dostarczenia",
    // Italian, Dutch
    "non recapitabile",
    "onbestelbaar",
];

/// A bounce or delay warning, by subject.
pub(super) fn bounce(subject: &str) -> Option<String> {
    let s = own_words(subject)?;
    let hit = BOUNCE.iter().find(|p| s.starts_with(**p))?;
    Some(format!("bounce subject \"{hit}\""))
}

/// The subject of a delay warning rather than a failure.
pub(super) fn is_delay(subject: &str) -> bool {
    let s = subject.to_lowercase();
    [
        "delay",
        "warning: could not send",
        "still being retried",
        "verzögert",
        "retardée",
        "retrasad",
        "atrasad",
        "opóźni",
    ]
    .iter()
    .any(|p| s.contains(p))
}

const READ_RECEIPT: &[&str] = &[
    "read:",
    "read receipt",
    "return receipt",
    "not read:",
    "lido:",
    "lida:",
    "não lido:",
    "confirmação de leitura",
    "lu :",
    "lu:",
    "non lu :",
    "accusé de lecture",
    "gelesen:",
    "nicht gelesen:",
    "lesebestätigung",
    "leído:",
    "leido:",
    "no leído:",
    "confirmación de lectura",
    "przeczytane:",
    "przeczytana:",
    "przeczytano:",
    "nieprzeczytane:",
    "potwierdzenie przeczytania",
    "letto:",
    "gelezen:",
    "displayed:",
];

/// A read receipt, by subject.
pub(super) fn read_receipt(subject: &str) -> Option<String> {
    let s = own_words(subject)?;
    let hit = READ_RECEIPT.iter().find(|p| s.starts_with(**p))?;
    Some(format!("read receipt subject \"{hit}\""))
}

const CHALLENGE: &[&str] = &[
    "please confirm your message",
    "please confirm your e-mail",
    "please confirm your email",
    "please verify your message",
    "verify your email to",
    "message awaiting your verification",
    "your message awaits verification",
    "is using boxbe",
    "sender verification",
    "spam arrest",
    "antispam verification",
    "confirme sua mensagem",
    "confirmez votre message",
    "bestätigen sie ihre nachricht",
    "confirme su mensaje",
    "potwierdź swoją wiadomość",
];

/// A challenge-response filter's challenge, by subject.
pub(super) fn challenge(subject: &str) -> Option<String> {
    let s = own_words(subject)?;
    let hit = CHALLENGE.iter().find(|p| s.contains(**p))?;
    Some(format!("challenge-response subject \"{hit}\""))
}
