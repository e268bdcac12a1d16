//! Synthetic helpdesk history for benchmarks (`examples/fill_db.rs`):
//! tickets with their participant, articles alternating inbound mail (with
//! its raw message, receipt and Message-ID) and outbound auto-replies (with
//! their sent outbox row), written by SQL alone in one transaction, so a
//! database of a million tickets fills in minutes instead of the hours the
//! mail pipeline would take. Not used by the daemon; the rows are shaped
//! like the pipeline's so the read path meets realistic tables, and the
//! keys of the random-keyed indexes (raw mail SHA-256, Message-IDs) are
//! random, as real ones are, so new mail lands all over those indexes
//! as it would after years of real history (sequential keys would put
//! every new key at one end and flatter the write path).

use rusqlite::{params, Connection};

use super::StoreError;

/// What [`fill`] should add.
#[derive(Debug, Clone, Copy)]
pub struct Synthetic {
    /// Tickets to add.
    pub tickets: u64,
    /// Articles per ticket (inbound and outbound in turn, inbound first).
    pub articles_per_ticket: u64,
    /// Distinct customers the tickets are spread over.
    pub customers: u64,
    /// Bytes of each raw inbound message.
    pub raw_size: u64,
}

/// Add `s` to the database behind `c` (migrated), after what it holds,
/// in one transaction. Returns the number of the last ticket added.
pub fn fill(c: &mut Connection, s: &Synthetic) -> Result<String, StoreError> {
    let tx = c.transaction()?;
    tx.execute(
        "INSERT OR IGNORE INTO queues (name, created_at) VALUES ('bench', '2026-01-01T00:00:00Z')",
        [],
    )?;
    let max = |table: &str| -> rusqlite::Result<i64> {
        tx.query_row(
            &format!("SELECT COALESCE(MAX(id), 0) FROM {table}"),
            [],
            |r| r.get(0),
        )
    };
    let (t0, a0, r0, o0) = (
        max("tickets")?,
        max("articles")?,
        max("raw_messages")?,
        max("outbox")?,
    );
    let per = s.articles_per_ticket.max(1) as i64;
    let p = params![
        s.tickets as i64,
        per,
        t0,
        a0,
        r0,
        o0,
        s.customers.max(1) as i64,
        s.raw_size as i64
    ];
    // ?1 tickets, ?2 articles per ticket, ?3..?6 id bases (tickets,
    // articles, raw messages, outbox), ?7 customers, ?8 raw size. Article
    // k (1-based) belongs to ticket (k-1)/per+1 and is inbound when
    // (k-1)%per is even; inbound article k has raw message r0+k, the
    // outbound one outbox row o0+k. Every statement names ?8 (the
    // highest), so that all eight parameters bind.
    const ARTICLES: &str =
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1 * ?2),
         a(k, t, j, at) AS (SELECT i, ?3 + (i - 1) / ?2 + 1, (i - 1) % ?2,
                                   strftime('%Y-%m-%dT%H:%M:%SZ', 1600000000 + i * 60, 'unixepoch')
                            FROM k)";
    tx.execute(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1)
         INSERT INTO tickets (id, number, subject, state, priority, queue_id, customer_address,
                              customer_name, support_address, language, created_at, updated_at)
         SELECT ?3 + i, printf('B%015d', ?3 + i), 'Synthetic ticket ' || (?3 + i),
                CASE WHEN i % 50 = 0 THEN 'open' WHEN i % 50 = 1 THEN 'new' ELSE 'closed' END, 3,
                (SELECT id FROM queues WHERE name = 'bench'),
                'customer' || (i % ?7) || '@example.com', 'Customer ' || (i % ?7),
                'support@example.com', 'en',
                strftime('%Y-%m-%dT%H:%M:%SZ', 1600000000 + i * 60 * ?2, 'unixepoch'),
                strftime('%Y-%m-%dT%H:%M:%SZ', 1600000000 + i * 60 * ?2, 'unixepoch')
         FROM k WHERE ?8 IS NOT NULL",
        p,
    )?;
    tx.execute(
        "INSERT INTO ticket_participants (ticket_id, address, name, role)
         SELECT id, customer_address, customer_name, 'requester' FROM tickets WHERE id > ?1",
        [t0],
    )?;
    tx.execute(
        &format!(
            "{ARTICLES}
             INSERT INTO raw_messages (id, sha256, size, content, received_at)
             SELECT ?5 + k, lower(hex(randomblob(32))), ?8, zeroblob(?8), at FROM a
             WHERE j % 2 = 0"
        ),
        p,
    )?;
    tx.execute(
        &format!(
            "{ARTICLES}
             INSERT INTO articles (id, ticket_id, direction, kind, from_address, to_addresses,
                                   cc_addresses, subject, body_text, message_id, raw_id,
                                   created_at, class)
             SELECT ?4 + k, t, CASE WHEN j % 2 = 0 THEN 'in' ELSE 'out' END,
                    CASE WHEN j % 2 = 0 THEN 'customer' ELSE 'auto_reply' END,
                    CASE WHEN j % 2 = 0 THEN 'customer' || ((t - ?3) % ?7) || '@example.com'
                         ELSE 'support@example.com' END,
                    CASE WHEN j % 2 = 0 THEN 'support@example.com'
                         ELSE 'customer' || ((t - ?3) % ?7) || '@example.com' END,
                    '', 'Synthetic ticket ' || t,
                    'Hello, this is message ' || j || ' of synthetic ticket ' || t
                      || '. The printer on the third floor prints blank pages again since Monday.',
                    '<' || lower(hex(randomblob(6))) || '.a' || (?4 + k) || '@bench.example>',
                    CASE WHEN j % 2 = 0 THEN ?5 + k END, at,
                    CASE WHEN j % 2 = 0 THEN 'person' END
             FROM a WHERE ?8 IS NOT NULL"
        ),
        p,
    )?;
    tx.execute(
        &format!(
            "{ARTICLES}
             INSERT INTO receipts (source, mailbox, message_id, sha256, raw_id, status,
                                   ticket_id, article_id, received_at)
             SELECT 'imap', 'support', (SELECT message_id FROM articles WHERE id = ?4 + k),
                    (SELECT sha256 FROM raw_messages WHERE id = ?5 + k), ?5 + k,
                    CASE WHEN j = 0 THEN 'created' ELSE 'follow_up' END, t, ?4 + k, at
             FROM a WHERE j % 2 = 0 AND ?8 IS NOT NULL"
        ),
        p,
    )?;
    tx.execute(
        &format!(
            "{ARTICLES}
             INSERT INTO outbox (id, ticket_id, article_id, kind, envelope_from, recipients,
                                 message_id, status, attempts, next_attempt_at,
                                 created_at, sent_at)
             SELECT ?6 + k, t, ?4 + k, 'auto_reply', '',
                    'customer' || ((t - ?3) % ?7) || '@example.com',
                    (SELECT message_id FROM articles WHERE id = ?4 + k),
                    'sent', 1,
                    1600000000 + k * 60, at, at
             FROM a WHERE j % 2 = 1 AND ?8 IS NOT NULL"
        ),
        p,
    )?;
    tx.execute(
        &format!(
            "{ARTICLES}
             INSERT INTO outbox_raw (outbox_id, raw)
             SELECT ?6 + k, zeroblob(?8 / 2) FROM a WHERE j % 2 = 1"
        ),
        p,
    )?;
    tx.execute(
        "INSERT INTO message_ids (message_id, ticket_id, article_id, trusted)
         SELECT message_id, ticket_id, id, 1 FROM articles WHERE id > ?1",
        [a0],
    )?;
    let last: String = tx.query_row(
        "SELECT number FROM tickets ORDER BY id DESC LIMIT 1",
        [],
        |r| r.get(0),
    )?;
    tx.commit()?;
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{views, Durability, Store};

    #[test]
    fn filled_tickets_show_their_articles_and_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("db"), Durability::Normal).unwrap();
        let spec = Synthetic {
            tickets: 30,
            articles_per_ticket: 4,
            customers: 7,
            raw_size: 100,
        };
        fill(s.conn(), &spec).unwrap();
        let last = fill(s.conn(), &spec).unwrap();
        assert_eq!(last, "B000000000000060");
        let t = views::ticket(s.conn(), &last).unwrap().unwrap();
        assert_eq!(t.articles.len(), 4);
        assert_eq!(t.participants.len(), 1);
        let delivery: Vec<_> = t.articles.iter().map(|a| a.delivery.as_deref()).collect();
        assert_eq!(delivery, [None, Some("sent"), None, Some("sent")]);
        let customer = t.customer.clone();
        let f = views::TicketFilter {
            customer: Some(customer),
            limit: 100,
            ..Default::default()
        };
        let list = views::tickets(s.conn(), &f).unwrap();
        assert!(
            list.len() >= 8 && list.iter().all(|l| l.articles == 4),
            "{}",
            list.len()
        );
        let st = views::status(s.conn()).unwrap();
        assert_eq!((st.tickets, st.articles, st.receipts), (60, 240, 120));
    }
}
