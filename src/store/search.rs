//! Full-text search over tickets (`postdesk ticket search`): the FTS5
//! index `ticket_search` of inbound articles' subjects and text (migration
//! 15 built it and its triggers keep it in step with `articles`; migration
//! 22 rebuilt it with a list per prefix of up to 8 characters, and without
//! word positions).
//!
//! Ranking: when every word of the query occurs in at most
//! [`CANDIDATES`] mails, by FTS5's bm25 (the subject weighing twice the
//! text; a field counts once however often it holds the word). bm25 needs
//! each word's document frequency, which FTS5 counts by walking the
//! word's whole list — 25 ms for a word in a million mails — so a query
//! with a word more common than that (or a prefix longer than 8
//! characters) ranks the newest [`CANDIDATES`] matching mails by where the
//! words are (all in the subject first, then in the text) instead; a word
//! that common carries little weight in bm25 anyway. Either way a ticket
//! ranks by its best mail, and ties go to the ticket with the newest
//! matching mail. FTS5 walks its index newest first and stops after
//! [`CANDIDATES`], so a word or prefix found in every ticket costs about
//! what a rare one does.

use rusqlite::{params, Connection};
use serde::Serialize;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::StoreError;

/// Matching articles ranked at most (the newest ones).
pub const CANDIDATES: i64 = 2000;

/// One ticket found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    pub number: String,
    pub subject: String,
    pub state: String,
    pub queue: String,
    pub customer: String,
    pub updated_at: String,
    /// bm25 of its best article (lower is better; negative).
    pub score: f64,
}

/// The FTS5 query for what a person typed: every word must occur (in any
/// order, diacritics ignored); a word ending in `*` matches as a prefix.
/// Words are quoted, so FTS5's operators and punctuation are never
/// syntax. None when `text` has no word at all.
pub fn fts_query(text: &str) -> Option<String> {
    let words = fts_terms(text);
    (!words.is_empty()).then(|| words.join(" "))
}

/// Each word of `text` as an FTS5 term (see [`fts_query`]), cut where the
/// index's tokenizer (unicode61) cuts: a quoted term that it would cut
/// in two is a phrase, which an index without positions refuses. The text
/// is composed first (NFC), so that a decomposed "ação" is the one word
/// it looks like. A word is a run of word characters ([`is_word_char`]);
/// a diacritic unicode61 folds away ([`is_folded_diacritic`]) stays in
/// the word it follows, as in the index; `*` anywhere in a run is dropped,
/// and makes the word a prefix when it ends the run.
fn fts_terms(text: &str) -> Vec<String> {
    let text: String = text.nfc().collect();
    let mut terms = Vec::new();
    let (mut word, mut star) = (String::new(), false);
    // A space at the end ends the last word.
    for c in text.chars().chain([' ']) {
        if is_word_char(c) || (is_folded_diacritic(c) && !word.is_empty()) {
            word.push(c);
            star = false;
        } else if c == '*' {
            star = true;
        } else {
            if !word.is_empty() {
                let w = std::mem::take(&mut word);
                terms.push(if star {
                    format!("\"{w}\"*")
                } else {
                    format!("\"{w}\"")
                });
            }
            star = false;
        }
    }
    terms
}

/// Is `c` a token character for unicode61 (categories L*, N* and Co)?
/// Rust's alphanumeric is close but adds what Unicode counts as
/// alphabetic among marks (combining marks, and 21 spacing marks that
/// SQLite's tables, of Unicode 6.1, still class as marks while Rust's say
/// letters) and symbols (circled letters), and leaves out private use.
fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric()
        && !is_combining_mark(c)
        && !matches!(c,
            '\u{24B6}'..='\u{24E9}' | '\u{1F130}'..='\u{1F189}'
            | '\u{19B0}'..='\u{19C0}' | '\u{19C8}'..='\u{19C9}' | '\u{1CF2}'..='\u{1CF3}'))
        || matches!(c,
            '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
}

/// The combining diacritics (of U+0300–U+0331) that unicode61 keeps inside
/// a word and folds away with `remove_diacritics`; at a word's start they
/// are separators.
fn is_folded_diacritic(c: char) -> bool {
    const LOW: u32 = 0x0802_9FDF; // U+0300–U+031F
    const HIGH: u32 = 0x0003_61F8; // U+0320–U+0331
    match u32::from(c) {
        n @ 0x300..=0x31F => LOW & (1 << (n - 0x300)) != 0,
        n @ 0x320..=0x331 => HIGH & (1 << (n - 0x320)) != 0,
        _ => false,
    }
}

/// Prefixes of at most this many characters have their own lists in the
/// index (migration 22); a longer one merges the lists of its words.
const PREFIX_INDEXED: usize = 8;

const SEARCH_SQL: &str = "WITH m AS (
         SELECT rowid AS aid, bm25(ticket_search, 2.0, 1.0) AS score
         FROM ticket_search WHERE ticket_search MATCH ?1
         ORDER BY rowid DESC LIMIT ?3),
     b AS (
         SELECT a.ticket_id AS tid, MIN(m.score) AS score, MAX(m.aid) AS newest
         FROM m JOIN articles a ON a.id = m.aid GROUP BY a.ticket_id)
     SELECT t.number, t.subject, t.state, q.name, t.customer_address, t.updated_at, b.score
     FROM b JOIN tickets t ON t.id = b.tid JOIN queues q ON q.id = t.queue_id
     ORDER BY b.score, b.newest DESC LIMIT ?2";

/// For a query with a common word: the newest matching mails, those with
/// every word in the subject first. ?4 is the query limited to subjects.
const SEARCH_COMMON_SQL: &str = "WITH m AS (
         SELECT rowid AS aid FROM ticket_search WHERE ticket_search MATCH ?1
         ORDER BY rowid DESC LIMIT ?3),
     s AS (
         SELECT rowid AS aid FROM ticket_search WHERE ticket_search MATCH ?4
         AND rowid >= (SELECT MIN(aid) FROM m)),
     b AS (
         SELECT a.ticket_id AS tid, MAX(m.aid IN (SELECT aid FROM s)) AS in_subject,
                MAX(m.aid) AS newest
         FROM m JOIN articles a ON a.id = m.aid GROUP BY a.ticket_id)
     SELECT t.number, t.subject, t.state, q.name, t.customer_address, t.updated_at,
            -1.0 - b.in_subject
     FROM b JOIN tickets t ON t.id = b.tid JOIN queues q ON q.id = t.queue_id
     ORDER BY b.in_subject DESC, b.newest DESC LIMIT ?2";

/// Does `term` occur in more than [`CANDIDATES`] mails? Counted newest
/// first and stopped there, which costs little for a word or a prefix
/// with its own list; a longer prefix is taken as common without asking
/// (counting would merge its words' lists, and the search merges them
/// again).
fn is_common(c: &Connection, term: &str, candidates: i64) -> Result<bool, StoreError> {
    let chars = term.chars().filter(|c| *c != '"' && *c != '*').count();
    if term.ends_with('*') && chars > PREFIX_INDEXED {
        return Ok(true);
    }
    let n: i64 = c
        .prepare_cached(
            "SELECT COUNT(*) FROM (SELECT rowid FROM ticket_search
             WHERE ticket_search MATCH ?1 LIMIT ?2)",
        )?
        .query_row(params![term, candidates + 1], |r| r.get(0))?;
    Ok(n > candidates)
}

/// Tickets whose inbound mail matches `text`, best first, at most `limit`
/// (0 = as many as were ranked). Empty when `text` has no word.
pub fn search(c: &Connection, text: &str, limit: u32) -> Result<Vec<Hit>, StoreError> {
    search_among(c, text, limit, CANDIDATES)
}

/// [`search`] with `candidates` in place of [`CANDIDATES`].
fn search_among(
    c: &Connection,
    text: &str,
    limit: u32,
    candidates: i64,
) -> Result<Vec<Hit>, StoreError> {
    let terms = fts_terms(text);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let query = terms.join(" ");
    let limit = if limit == 0 { -1 } else { i64::from(limit) };
    let mut common = false;
    for t in &terms {
        if is_common(c, t, candidates)? {
            common = true;
            break;
        }
    }
    let mut stmt;
    let mut rows = if common {
        stmt = c.prepare_cached(SEARCH_COMMON_SQL)?;
        let subject = format!("{{subject}} : ({query})");
        stmt.query(params![query, limit, candidates, subject])?
    } else {
        stmt = c.prepare_cached(SEARCH_SQL)?;
        stmt.query(params![query, limit, candidates])?
    };
    let mut hits = Vec::new();
    while let Some(r) = rows.next()? {
        hits.push(Hit {
            number: r.get(0)?,
            subject: r.get(1)?,
            state: r.get(2)?,
            queue: r.get(3)?,
            customer: r.get(4)?,
            updated_at: r.get(5)?,
            score: r.get(6)?,
        });
    }
    Ok(hits)
}

/// Leave the indexing of inbound articles stored from now on in this
/// transaction to [`index_deferred`] (migration 21 says why). The caller
/// must call it before committing; the mark is part of the transaction,
/// so a transaction given up takes it along.
pub fn defer_indexing(c: &Connection) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO search_deferral (after) SELECT COALESCE(MAX(id), 0) FROM articles",
    )?
    .execute([])?;
    Ok(())
}

/// Index the inbound articles stored since [`defer_indexing`], in one
/// statement (one new segment), and lift the mark.
pub fn index_deferred(c: &Connection) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO ticket_search (rowid, subject, body_text)
         SELECT id, subject, body_text FROM articles
         WHERE id > (SELECT MIN(after) FROM search_deferral) AND direction = 'in'",
    )?
    .execute([])?;
    c.prepare_cached("DELETE FROM search_deferral")?
        .execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::synthetic::{fill, Synthetic};
    use crate::store::{Durability, Store};

    /// A database of synthetic history: `tickets` tickets of two
    /// inbound mails each (every one naming the printer).
    fn history(tickets: u64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("db"), Durability::Normal).unwrap();
        let spec = Synthetic {
            tickets,
            articles_per_ticket: 2,
            customers: 7,
            raw_size: 10,
        };
        fill(s.conn(), &spec).unwrap();
        (dir, s)
    }

    #[test]
    fn words_become_quoted_terms_and_operators_stay_text() {
        let check = |text: &str, expected: Option<&str>| {
            assert_eq!(fts_query(text).as_deref(), expected, "{text}")
        };
        check("printer", Some("\"printer\""));
        check("Não consigo", Some("\"Não\" \"consigo\""));
        check("print* OR \"x", Some("\"print\"* \"OR\" \"x\""));
        check("NEAR(a b)", Some("\"NEAR\" \"a\" \"b\""));
        check("  -- ", None);
        // Cut where the index cuts: underscores, combining marks that do
        // not compose, circled letters; a decomposed word is composed.
        check("foo_bar", Some("\"foo\" \"bar\""));
        check("na\u{0303}o", Some("\"não\""));
        check("a\u{20DD}b ⓐc", Some("\"a\" \"b\" \"c\""));
        // A diacritic that does not compose stays in its word, but starts
        // none; stars inside a word vanish, one at its end makes a prefix.
        check("x\u{0304}yz \u{0304}q", Some("\"x\u{0304}yz\" \"q\""));
        check("pr*nt* *x", Some("\"prnt\"* \"x\""));
    }

    #[test]
    fn every_word_character_is_one_token_of_the_index() {
        // Each character the query builder counts as part of a word, in a
        // quoted term between two letters: a term the tokenizer cut in two
        // would be a phrase, which the index refuses. Checked in queries of
        // 2,000 terms at a time.
        let (_dir, mut s) = history(1);
        let c = s.conn();
        let chars: Vec<char> = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|c| is_word_char(*c) || is_folded_diacritic(*c))
            .collect();
        assert!(chars.len() > 100_000, "{}", chars.len());
        let matching = |query: &str| {
            c.query_row(
                "SELECT COUNT(*) FROM ticket_search WHERE ticket_search MATCH ?1",
                [query],
                |r| r.get::<_, i64>(0),
            )
        };
        for chunk in chars.chunks(2000) {
            let query: Vec<String> = chunk.iter().map(|c| format!("\"a{c}b\"")).collect();
            if let Err(e) = matching(&query.join(" OR ")) {
                let first = (chunk.iter()).find(|ch| matching(&format!("\"a{ch}b\"")).is_err());
                panic!("{e}: first refused U+{:04X}", u32::from(*first.unwrap()));
            }
        }
    }

    #[test]
    fn no_typed_text_is_refused_by_the_index() {
        let (_dir, mut s) = history(3);
        let c = s.conn();
        for text in [
            "foo_bar",
            "na\u{0308}ive",
            "हिन्दी",
            "ภาษาไทย",
            "Ⓐbc 🅐x",
            "thanks🙏",
            "e-mail*",
            "日本語*",
            "\u{E000}x",
            "l\u{0301}*",
            "ᦂᦱᦂ*",
            "aᳲb",
            "x\u{0304}yz*",
        ] {
            search(c, text, 0).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        }
    }

    #[test]
    fn prefixes_of_every_length_find_what_the_word_does() {
        let (_dir, mut s) = history(30);
        let c = s.conn();
        c.execute(
            "UPDATE articles SET body_text = body_text || ' Decomposed: ac\u{0327}a\u{0303}o, de\u{0301}ja\u{0300} vu.' WHERE id = 5",
            [],
        )
        .unwrap();
        let found = |text: &str| search(c, text, 0).unwrap().len();
        // Every synthetic mail names the printer; from one character to
        // beyond the indexed lengths.
        for n in 1..="printer".len() {
            assert_eq!(found(&format!("{}*", &"printer"[..n])), 30, "{n}");
        }
        assert_eq!(found("printers*"), 0);
        assert_eq!(found("PRINT* blank"), 30);
        // Diacritics and composition do not matter, whole word or prefix.
        assert_eq!(found("acao"), 1);
        assert_eq!(found("ac\u{0327}a\u{0303}o"), 1);
        assert_eq!(found("deja*"), 1);
        assert_eq!(found("déj*"), 1);
        c.execute(
            "INSERT INTO ticket_search (ticket_search) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
    }

    #[test]
    fn finds_tickets_ranked_newest_first_on_ties_and_follows_writes() {
        let (_dir, mut s) = history(30);
        let c = s.conn();
        // Every synthetic mail names the printer: all tie, newest first.
        let all = search(c, "PRINTER blank", 5).unwrap();
        let numbers: Vec<&str> = all.iter().map(|h| h.number.as_str()).collect();
        assert_eq!(
            numbers,
            [
                "B000000000000030",
                "B000000000000029",
                "B000000000000028",
                "B000000000000027",
                "B000000000000026"
            ]
        );
        // A word of one ticket's subject finds that ticket first.
        let one = search(c, "ticket 17", 0).unwrap();
        assert_eq!(one.len(), 1, "{one:?}");
        assert_eq!(one[0].number, "B000000000000017");
        // Outbound articles (auto-replies) are not searched.
        assert!(search(c, "nothing-in-inbound-mail", 0).unwrap().is_empty());
        // The index follows updates and deletes of articles.
        c.execute_batch(
            "UPDATE articles SET body_text = 'the scanner jams' WHERE id = 1;
             DELETE FROM message_ids WHERE article_id = 3;
             DELETE FROM receipts WHERE article_id = 3;
             DELETE FROM articles WHERE id = 3;",
        )
        .unwrap();
        let jams = search(c, "scanner", 0).unwrap();
        assert_eq!(jams.len(), 1);
        assert_eq!(jams[0].number, "B000000000000001");
        assert!(
            search(c, "ticket 2", 0).unwrap().is_empty(),
            "deleted article still found"
        );
        assert!(search(c, "", 0).unwrap().is_empty());
    }

    #[test]
    fn a_common_word_ranks_the_newest_matches_subject_first() {
        let (_dir, mut s) = history(30);
        let c = s.conn();
        // Ticket 27's mail (article 53) has the word in its subject too.
        c.execute(
            "UPDATE articles SET subject = 'Printer jam' WHERE id = 53",
            [],
        )
        .unwrap();
        let numbers = |text: &str, candidates| -> Vec<String> {
            search_among(c, text, 0, candidates)
                .unwrap()
                .into_iter()
                .map(|h| h.number)
                .collect()
        };
        // Every mail names the printer: more than 5 candidates, so the
        // newest 5 are ranked, the subject match first.
        assert_eq!(
            numbers("printer", 5),
            [
                "B000000000000027",
                "B000000000000030",
                "B000000000000029",
                "B000000000000028",
                "B000000000000026"
            ]
        );
        // A prefix takes the same road.
        assert_eq!(numbers("print*", 5)[0], "B000000000000027");
        // With room for all, bm25 ranks the subject match first as well.
        assert_eq!(numbers("printer", 2000)[0], "B000000000000027");
        assert_eq!(numbers("printer", 2000).len(), 30);
    }

    #[test]
    fn deferred_indexing_waits_for_the_end_of_the_batch_and_keeps_the_index_whole() {
        let (_dir, mut s) = history(4);
        let tx = s.conn().transaction().unwrap();
        defer_indexing(&tx).unwrap();
        let article = |subject: &str, text: &str| {
            let a = crate::store::records::NewArticle {
                ticket_id: 1,
                trusted: false,
                direction: "in",
                kind: "mail",
                from_address: "c@example.com",
                from_name: None,
                to: "support@example.com",
                cc: "",
                subject,
                text,
                html: None,
                message_id: None,
                in_reply_to: None,
                automatic: None,
                class: None,
                raw_id: None,
            };
            crate::store::records::insert_article(&tx, &a).unwrap()
        };
        article("Toner", "the toner is empty");
        let changed = article("Paper", "out of paper");
        let gone = article("Fax", "the fax hums");
        tx.execute_batch(&format!(
            "UPDATE articles SET body_text = 'out of staples' WHERE id = {changed};
             DELETE FROM articles WHERE id = {gone};
             UPDATE articles SET body_text = 'the scanner jams' WHERE id = 1;"
        ))
        .unwrap();
        // Not indexed yet; an article from before the mark is, at once.
        assert!(search(&tx, "toner", 0).unwrap().is_empty());
        assert_eq!(search(&tx, "scanner", 0).unwrap().len(), 1);
        index_deferred(&tx).unwrap();
        let found = |w: &str| search(&tx, w, 0).unwrap().len();
        assert_eq!(found("toner"), 1);
        assert_eq!(found("staples"), 1);
        assert_eq!(found("paper"), 1, "the subject stays");
        assert_eq!(found("fax"), 0);
        // The triggers index at once again, and the index matches the
        // articles exactly.
        article("Stapler", "the stapler is stuck");
        assert_eq!(found("stapler"), 1);
        tx.execute(
            "INSERT INTO ticket_search (ticket_search) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
        let marks: i64 = tx
            .query_row("SELECT COUNT(*) FROM search_deferral", [], |r| r.get(0))
            .unwrap();
        assert_eq!(marks, 0, "the mark outlived the batch");
    }
}
