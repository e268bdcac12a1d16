//! Full-text search over tickets (`postdesk ticket search`): the FTS5
//! index `ticket_search` of inbound articles' subjects and text (migration
//! 11 builds it and its triggers keep it in step with `articles`).
//!
//! Ranking is FTS5's bm25, the subject weighing twice the text; a ticket
//! ranks by its best article, ties go to the ticket with the newest
//! matching article. To stay flat at millions of articles, only the
//! newest [`CANDIDATES`] matching articles are ranked: FTS5 walks its
//! index newest first and stops there, so a word found in every ticket
//! costs the same as a rare one. A rare term is ranked over all its
//! matches; a common one over its most recent ones, which is what a
//! helpdesk searching for "printer" wants first anyway.

use rusqlite::{params, Connection};
use serde::Serialize;

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
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '*' || c == '_'))
        .filter_map(|w| {
            let prefix = w.ends_with('*');
            let w: String = w.chars().filter(|c| *c != '*').collect();
            (!w.is_empty()).then(|| {
                if prefix {
                    format!("\"{w}\"*")
                } else {
                    format!("\"{w}\"")
                }
            })
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

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

/// Tickets whose inbound mail matches `text`, best first, at most `limit`
/// (0 = as many as were ranked). Empty when `text` has no word.
pub fn search(c: &Connection, text: &str, limit: u32) -> Result<Vec<Hit>, StoreError> {
    let Some(query) = fts_query(text) else {
        return Ok(Vec::new());
    };
    let limit = if limit == 0 { -1 } else { i64::from(limit) };
    let mut stmt = c.prepare_cached(SEARCH_SQL)?;
    let rows = stmt.query_map(params![query, limit, CANDIDATES], |r| {
        Ok(Hit {
            number: r.get(0)?,
            subject: r.get(1)?,
            state: r.get(2)?,
            queue: r.get(3)?,
            customer: r.get(4)?,
            updated_at: r.get(5)?,
            score: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::synthetic::{fill, Synthetic};
    use crate::store::{Durability, Store};

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
    }

    #[test]
    fn finds_tickets_ranked_newest_first_on_ties_and_follows_writes() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("db"), Durability::Normal).unwrap();
        let spec = Synthetic {
            tickets: 30,
            articles_per_ticket: 2,
            customers: 7,
            raw_size: 10,
        };
        fill(s.conn(), &spec).unwrap();
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
}
