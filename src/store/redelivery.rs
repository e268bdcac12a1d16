//! Has this mail been taken in before? The lookups that keep a
//! redelivery from making a second ticket or article: the same IMAP
//! message (its UID), the same bytes (their hash), or a copy of the same
//! mail that came another way (Message-ID, sender, subject and text).
//!
//! None of them has an index of its own keyed by a hash or a Message-ID
//! (migration 24): each goes through one the write path keeps anyway —
//! the raw message's hash, the first article a Message-ID came with — since
//! at a million messages every such index costs a random page per stored
//! mail.

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// What an earlier receipt says about a message.
#[derive(Debug, Clone)]
pub struct PriorReceipt {
    pub status: String,
    pub ticket_id: Option<i64>,
    pub article_id: Option<i64>,
    /// None when no copy could be kept (quarantined as too large).
    pub raw_id: Option<i64>,
}

fn prior(r: &rusqlite::Row) -> rusqlite::Result<PriorReceipt> {
    Ok(PriorReceipt {
        status: r.get(0)?,
        ticket_id: r.get(1)?,
        article_id: r.get(2)?,
        raw_id: r.get(3)?,
    })
}

/// The receipt for this exact IMAP message (server/user/folder, UIDVALIDITY,
/// UID), if it was handled before.
pub fn receipt_for_uid(
    c: &Connection,
    imap_source: &str,
    uid_validity: u32,
    uid: u32,
) -> Result<Option<PriorReceipt>> {
    Ok(c.prepare_cached(
        "SELECT status, ticket_id, article_id, raw_id FROM receipts
         WHERE imap_source = ?1 AND uid_validity = ?2 AND uid = ?3",
    )?
    .query_row(params![imap_source, uid_validity, uid], prior)
    .optional()?)
}

/// The first earlier receipt for the same bytes that produced an article,
/// found through the raw message those bytes are kept as, or, once `db
/// prune` forgot it, through `forgotten_raw`.
pub fn receipt_for_content(c: &Connection, sha256: &str) -> Result<Option<PriorReceipt>> {
    Ok(c.prepare_cached(
        "SELECT status, ticket_id, article_id, raw_id FROM receipts
         WHERE id = (SELECT min(id) FROM (
             SELECT c.id FROM raw_messages r JOIN receipts c ON c.raw_id = r.id
             WHERE r.sha256 = ?1 AND c.article_id IS NOT NULL
             UNION ALL
             SELECT receipt_id FROM forgotten_raw WHERE sha256 = ?1))",
    )?
    .query_row([sha256], prior)
    .optional()?)
}

/// An earlier inbound article that is the same mail: same Message-ID,
/// sender, subject and text (a copy delivered to another support address).
/// Compared with the first article that Message-ID came with (`message_ids`
/// keeps it): the first copy. Returns (article id, ticket id).
pub fn same_inbound_article(
    c: &Connection,
    message_id: &str,
    from: &str,
    subject: &str,
    text: &str,
) -> Result<Option<(i64, i64)>> {
    Ok(c.prepare_cached(
        "SELECT a.id, a.ticket_id FROM message_ids m JOIN articles a ON a.id = m.article_id
         WHERE m.message_id = ?1 AND a.direction = 'in'
           AND a.from_address = ?2 AND a.subject = ?3 AND a.body_text = ?4",
    )?
    .query_row(params![message_id, from, subject, text], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{self, NewArticle, NewReceipt};
    use crate::store::tests::store_with_ticket;

    /// An inbound customer's article on `ticket` from `from` with this
    /// Message-ID and text, and its receipt for the raw bytes `raw`.
    fn take_in(c: &Connection, ticket: i64, mid: &str, from: &str, text: &str, raw: &[u8]) -> i64 {
        take_in_as(c, "customer", ticket, mid, from, text, raw)
    }

    fn take_in_as(
        c: &Connection,
        kind: &str,
        ticket: i64,
        mid: &str,
        from: &str,
        text: &str,
        raw: &[u8],
    ) -> i64 {
        let sha = crate::process::sha256_hex(raw);
        let raw_id = records::store_raw(c, &sha, raw).unwrap();
        let article = records::insert_article(
            c,
            &NewArticle {
                ticket_id: ticket,
                trusted: false,
                direction: "in",
                kind,
                from_address: from,
                from_name: None,
                to: "s@x.test",
                cc: "",
                subject: "Printer",
                text,
                html: None,
                message_id: Some(mid),
                in_reply_to: None,
                automatic: None,
                class: None,
                raw_id: Some(raw_id),
            },
        )
        .unwrap();
        receipt(
            c,
            &sha,
            raw_id,
            Some(mid),
            "created",
            Some((ticket, article)),
        );
        article
    }

    /// A receipt for the raw message `raw_id` (bytes hashing to `sha`),
    /// with the ticket and article it made, if any.
    fn receipt(
        c: &Connection,
        sha: &str,
        raw_id: i64,
        mid: Option<&str>,
        status: &str,
        made: Option<(i64, i64)>,
    ) {
        records::insert_receipt(
            c,
            &NewReceipt {
                source: "pipe",
                mailbox: "support",
                imap_source: None,
                uid_validity: None,
                uid: None,
                message_id: mid,
                sha256: sha,
                raw_id: Some(raw_id),
                status,
                ticket_id: made.map(|m| m.0),
                article_id: made.map(|m| m.1),
                error: None,
            },
        )
        .unwrap();
    }

    #[test]
    fn the_same_bytes_are_found_through_their_raw_message() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, t) = store_with_ticket(dir.path());
        let c = s.conn();
        let a = take_in(c, t, "m1@x.test", "ana@x.test", "It jams.", b"raw one");
        let sha = crate::process::sha256_hex(b"raw one");
        let p = receipt_for_content(c, &sha).unwrap().expect("same bytes");
        assert_eq!((p.ticket_id, p.article_id), (Some(t), Some(a)));
        assert!(crate::store::imports::bytes_seen(c, &sha).unwrap());
        let other = crate::process::sha256_hex(b"raw two");
        assert!(receipt_for_content(c, &other).unwrap().is_none());
        assert!(!crate::store::imports::bytes_seen(c, &other).unwrap());
    }

    #[test]
    fn a_copy_is_compared_with_the_first_article_of_its_message_id() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, t1) = store_with_ticket(dir.path());
        let c = s.conn();
        let a = take_in(c, t1, "m1@x.test", "ana@x.test", "It jams.", b"first copy");
        let found = |from: &str, text: &str| {
            same_inbound_article(c, "m1@x.test", from, "Printer", text).unwrap()
        };
        assert_eq!(found("ana@x.test", "It jams."), Some((a, t1)));
        assert_eq!(found("eve@x.test", "It jams."), None, "another sender");
        assert_eq!(found("ana@x.test", "It works."), None, "another text");
        assert_eq!(
            same_inbound_article(c, "m2@x.test", "ana@x.test", "Printer", "It jams.").unwrap(),
            None,
            "another Message-ID"
        );

        // A copy that differed (a list footer) made an article on a second
        // ticket; the Message-ID still names the first article, which a
        // third copy like the first is found as.
        c.execute(
            "INSERT INTO tickets (number, subject, state, priority, queue_id, customer_address,
                 support_address, language, created_at, updated_at)
             VALUES ('2', 's', 'posted', 3, 1, 'ana@x.test', 's2@x.test', 'en', 'now', 'now')",
            [],
        )
        .unwrap();
        let t2 = c.last_insert_rowid();
        take_in(
            c,
            t2,
            "m1@x.test",
            "ana@x.test",
            "It jams.\n-- list",
            b"footer copy",
        );
        assert_eq!(found("ana@x.test", "It jams."), Some((a, t1)));
    }

    #[test]
    fn after_a_prune_the_same_bytes_and_a_copy_are_still_known() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, t) = store_with_ticket(dir.path());
        let a = take_in(
            s.conn(),
            t,
            "m1@x.test",
            "ana@x.test",
            "It jams.",
            b"raw one",
        );
        // Bytes taken in and ignored (no article): seen, but no article.
        let ignored = crate::process::sha256_hex(b"ignored");
        let raw_id = records::store_raw(s.conn(), &ignored, b"ignored").unwrap();
        receipt(s.conn(), &ignored, raw_id, None, "ignored", None);
        s.conn()
            .execute_batch(
                "UPDATE raw_messages SET received_at = '2000-01-01T00:00:00Z';
                 UPDATE receipts SET received_at = '2000-01-01T00:00:00Z';
                 UPDATE articles SET created_at = '2000-01-01T00:00:00Z';",
            )
            .unwrap();
        let cut = crate::store::retention::Cutoffs {
            raw_messages: Some("2001-01-01T00:00:00Z".into()),
            attachments: None,
        };
        let pruned = crate::store::retention::prune(s.conn(), &cut, false).unwrap();
        assert_eq!(pruned.raw_messages, 2);
        let c = s.conn();
        assert_eq!(crate::store::retention::raw_message_count(c).unwrap(), 0);
        let sha = crate::process::sha256_hex(b"raw one");
        let p = receipt_for_content(c, &sha)
            .unwrap()
            .expect("same bytes, forgotten");
        assert_eq!(
            (p.ticket_id, p.article_id, p.raw_id),
            (Some(t), Some(a), None)
        );
        assert!(
            receipt_for_content(c, &ignored).unwrap().is_none(),
            "no article"
        );
        assert!(crate::store::imports::bytes_seen(c, &sha).unwrap());
        assert!(crate::store::imports::bytes_seen(c, &ignored).unwrap());
        assert!(!crate::store::imports::bytes_seen(c, "0000").unwrap());
        assert_eq!(
            same_inbound_article(c, "m1@x.test", "ana@x.test", "Printer", "It jams.").unwrap(),
            Some((a, t))
        );
        // Taken in again later, the bytes are kept anew; the first receipt
        // is still the one found.
        take_in(c, t, "m1@x.test", "ana@x.test", "It jams.", b"raw one");
        assert_eq!(
            receipt_for_content(c, &sha).unwrap().unwrap().article_id,
            Some(a)
        );
    }

    #[test]
    fn an_agents_mail_is_known_on_its_ticket_by_message_id_and_sender() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, t) = store_with_ticket(dir.path());
        let c = s.conn();
        let a = take_in_as(
            c,
            "agent_reply",
            t,
            "r1@x.test",
            "bo@x.test",
            "Done.",
            b"reply",
        );
        let same = |ticket, mid: &str, from: &str| {
            crate::store::commands::same_agent_mail(c, ticket, mid, from).unwrap()
        };
        assert_eq!(same(t, "r1@x.test", "bo@x.test"), Some(a));
        assert_eq!(same(t, "r1@x.test", "eve@x.test"), None, "another sender");
        assert_eq!(
            same(t, "r2@x.test", "bo@x.test"),
            None,
            "another Message-ID"
        );
        assert_eq!(
            same(t + 1, "r1@x.test", "bo@x.test"),
            None,
            "another ticket"
        );
        take_in(c, t, "c1@x.test", "bo@x.test", "Hi.", b"customer");
        assert_eq!(
            same(t, "c1@x.test", "bo@x.test"),
            None,
            "not an agent's article"
        );
    }
}
