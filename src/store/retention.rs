//! Retention: forgetting raw messages and attachments older than the
//! configured ages (`[retention]`), for `postdesk db prune`.
//!
//! Never forgotten: the raw message of a quarantine entry still held (a
//! retry needs it), a raw message that an article, receipt or quarantine
//! entry younger than the age refers to, and an attachment file that any
//! remaining attachment row (an article younger than the age) refers to —
//! files are content-addressed, so one file may serve old and new
//! articles. The mail we sent (`outbox_raw`) goes with the raw messages'
//! age: a row sent before it keeps its outbox row and its outbound
//! article's text, not its bytes. References to a forgotten raw message are set to NULL (its
//! hash is kept in `forgotten_raw`, so the same bytes stay known); the
//! attachment rows of old articles are deleted. Which files to delete is
//! returned, and the caller deletes them after the commit, so a rolled
//! back prune never loses a file.

use rusqlite::{params, Connection};

use super::StoreError;

/// Cut-offs as stored timestamps (RFC 3339 UTC text): older rows go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cutoffs {
    /// Raw messages received before this; `None`: keep all.
    pub raw_messages: Option<String>,
    /// Attachments of articles created before this; `None`: keep all.
    pub attachments: Option<String>,
}

/// What a prune removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub raw_messages: u64,
    pub raw_bytes: u64,
    /// Sent mail whose bytes were forgotten (its row and article stay).
    pub sent_mail: u64,
    pub sent_bytes: u64,
    pub attachment_rows: u64,
    /// Files (relative to `storage.data_dir`) no row refers to any more.
    pub files: Vec<String>,
}

/// Forget what `cut` allows, in one transaction; with `dry_run` the same
/// work is done and rolled back, so the counts are exact and nothing
/// changes.
pub fn prune(conn: &mut Connection, cut: &Cutoffs, dry_run: bool) -> Result<Pruned, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut out = Pruned::default();
    if let Some(before) = &cut.raw_messages {
        tx.execute_batch(
            "DROP TABLE IF EXISTS temp.prune_raw;
             CREATE TEMP TABLE prune_raw (id INTEGER PRIMARY KEY);",
        )?;
        tx.execute(
            "INSERT INTO temp.prune_raw (id)
             SELECT r.id FROM raw_messages r
             WHERE r.received_at < ?1
               AND NOT EXISTS (SELECT 1 FROM quarantine q
                               WHERE q.raw_id = r.id AND (q.status = 'held' OR q.updated_at >= ?1))
               AND NOT EXISTS (SELECT 1 FROM articles a
                               WHERE a.raw_id = r.id AND a.created_at >= ?1)
               AND NOT EXISTS (SELECT 1 FROM receipts c
                               WHERE c.raw_id = r.id AND c.received_at >= ?1)",
            params![before],
        )?;
        let (n, bytes): (i64, i64) = tx.query_row(
            "SELECT count(*), coalesce(sum(r.size), 0) FROM raw_messages r
             JOIN temp.prune_raw p ON p.id = r.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        // Their hashes stay known (`forgotten_raw`), with the first receipt
        // that made an article: the same bytes are still recognised.
        tx.execute(
            "INSERT INTO forgotten_raw (sha256, receipt_id)
             SELECT r.sha256, (SELECT min(c.id) FROM receipts c
                               WHERE c.raw_id = r.id AND c.article_id IS NOT NULL)
             FROM raw_messages r JOIN temp.prune_raw p ON p.id = r.id
             WHERE true
             ON CONFLICT (sha256) DO NOTHING",
            [],
        )?;
        for table in ["articles", "receipts", "quarantine"] {
            tx.execute(
                &format!(
                    "UPDATE {table} SET raw_id = NULL WHERE raw_id IN (SELECT id FROM temp.prune_raw)"
                ),
                [],
            )?;
        }
        tx.execute(
            "DELETE FROM raw_messages WHERE id IN (SELECT id FROM temp.prune_raw)",
            [],
        )?;
        tx.execute_batch("DROP TABLE temp.prune_raw")?;
        out.raw_messages = n as u64;
        out.raw_bytes = bytes as u64;
        // The bytes of mail sent before the age: sent, never sent again.
        let (n, bytes): (i64, i64) = tx.query_row(
            "SELECT count(*), coalesce(sum(length(m.raw)), 0)
             FROM outbox o JOIN outbox_raw m ON m.outbox_id = o.id
             WHERE o.status = 'sent' AND o.sent_at < ?1",
            [before],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        tx.execute(
            "DELETE FROM outbox_raw WHERE outbox_id IN
                 (SELECT id FROM outbox WHERE status = 'sent' AND sent_at < ?1)",
            [before],
        )?;
        out.sent_mail = n as u64;
        out.sent_bytes = bytes as u64;
    }
    if let Some(before) = &cut.attachments {
        let paths: Vec<String> = {
            let mut st = tx.prepare(
                "SELECT DISTINCT t.path FROM attachments t JOIN articles a ON a.id = t.article_id
                 WHERE a.created_at < ?1 ORDER BY t.path",
            )?;
            let rows = st.query_map([before], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        out.attachment_rows = tx.execute(
            "DELETE FROM attachments WHERE article_id IN
                 (SELECT id FROM articles WHERE created_at < ?1)",
            [before],
        )? as u64;
        let mut still = tx.prepare("SELECT 1 FROM attachments WHERE path = ?1 LIMIT 1")?;
        for path in paths {
            if !still.exists([&path])? {
                out.files.push(path);
            }
        }
    }
    if dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    Ok(out)
}

/// Test support for the daemon's prune task (`crate::retention`), which
/// may not speak SQL itself: how many raw messages are stored.
#[cfg(test)]
pub(crate) fn raw_message_count(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT count(*) FROM raw_messages", [], |r| r.get(0))
}

/// Test support: store a one-byte raw message received at `when`.
#[cfg(test)]
pub(crate) fn insert_raw_received_at(
    c: &Connection,
    sha: &str,
    when: &str,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO raw_messages (sha256, size, content, received_at) VALUES (?1, 1, x'61', ?2)",
        params![sha, when],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};

    /// A ticket with one article per (created_at, raw received_at,
    /// attachment path) and a held quarantine entry with its own raw.
    fn fixture(conn: &Connection) {
        conn.execute_batch(
            "INSERT INTO queues (id, name, created_at) VALUES (1, 'q', '2020-01-01T00:00:00Z');
             INSERT INTO tickets (id, number, subject, state, priority, queue_id,
                 customer_address, support_address, language, created_at, updated_at)
             VALUES (1, 'n1', 's', 'new', 3, 1, 'c@x', 's@x', 'en',
                     '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');
             INSERT INTO raw_messages (id, sha256, size, content, received_at) VALUES
                 (1, 'r1', 3, x'616161', '2020-01-01T00:00:00Z'),
                 (2, 'r2', 3, x'626262', '2026-01-01T00:00:00Z'),
                 (3, 'r3', 3, x'636363', '2020-01-01T00:00:00Z'),
                 (4, 'r4', 3, x'646464', '2020-01-01T00:00:00Z'),
                 (5, 'r5', 3, x'656565', '2020-01-01T00:00:00Z');
             INSERT INTO articles (id, ticket_id, direction, kind, from_address, to_addresses,
                 cc_addresses, subject, body_text, raw_id, created_at) VALUES
                 (1, 1, 'in', 'customer', 'c@x', 's@x', '', 's', 'b', 1, '2020-01-01T00:00:00Z'),
                 (2, 1, 'in', 'customer', 'c@x', 's@x', '', 's', 'b', 2, '2026-01-01T00:00:00Z'),
                 (3, 1, 'in', 'customer', 'c@x', 's@x', '', 's', 'b', 4, '2026-01-01T00:00:00Z');
             INSERT INTO attachments (article_id, filename, content_type, size, sha256, path) VALUES
                 (1, 'old.txt', 'text/plain', 1, 'aa', 'attachments/aa/aa'),
                 (1, 'shared.txt', 'text/plain', 1, 'bb', 'attachments/bb/bb'),
                 (2, 'shared.txt', 'text/plain', 1, 'bb', 'attachments/bb/bb'),
                 (2, 'new.txt', 'text/plain', 1, 'cc', 'attachments/cc/cc');
             INSERT INTO quarantine (mailbox, raw_id, size, error, status, created_at, updated_at)
             VALUES ('m', 3, 3, 'boom', 'held', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');
             INSERT INTO receipts (source, mailbox, sha256, raw_id, status, received_at) VALUES
                 ('pipe', 'm', 'r1', 1, 'created', '2020-01-01T00:00:00Z'),
                 ('pipe', 'm', 'r5', 5, 'ignored', '2020-01-01T00:00:00Z');
             INSERT INTO outbox (id, ticket_id, kind, envelope_from, recipients, message_id,
                 status, next_attempt_at, created_at, sent_at) VALUES
                 (1, 1, 'auto_reply', '', 'c@x', 'o1', 'sent', 0, '2020-01-01T00:00:00Z',
                  '2020-01-01T00:00:00Z'),
                 (2, 1, 'auto_reply', '', 'c@x', 'o2', 'sent', 0, '2026-01-01T00:00:00Z',
                  '2026-01-01T00:00:00Z'),
                 (3, 1, 'auto_reply', '', 'c@x', 'o3', 'pending', 0, '2020-01-01T00:00:00Z',
                  NULL),
                 (4, 1, 'auto_reply', '', 'c@x', 'o4', 'held', 0, '2020-01-01T00:00:00Z',
                  NULL);
             INSERT INTO outbox_raw (outbox_id, raw) VALUES
                 (1, x'6f6f6f6f'), (2, x'6f'), (3, x'6f'), (4, x'6f');",
        )
        .unwrap();
    }

    fn ids(conn: &Connection, sql: &str) -> Vec<i64> {
        let mut st = conn.prepare(sql).unwrap();
        let rows = st.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    fn cut() -> Cutoffs {
        Cutoffs {
            raw_messages: Some("2025-01-01T00:00:00Z".into()),
            attachments: Some("2025-01-01T00:00:00Z".into()),
        }
    }

    #[test]
    fn prune_keeps_what_is_still_needed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.db"), Durability::Full).unwrap();
        fixture(s.conn());
        let pruned = prune(s.conn(), &cut(), false).unwrap();
        let c = s.conn();
        // 1: old article's raw, gone; 2: young; 3: held quarantine; 4: old
        // raw of a young article; 5: old raw of an old receipt, gone.
        assert_eq!(ids(c, "SELECT id FROM raw_messages ORDER BY id"), [2, 3, 4]);
        assert_eq!(pruned.raw_messages, 2);
        assert_eq!(pruned.raw_bytes, 6);
        assert_eq!(
            ids(c, "SELECT count(*) FROM articles WHERE raw_id IS NULL"),
            [1]
        );
        // The old article's rows go; the shared file stays for article 2.
        assert_eq!(pruned.attachment_rows, 2);
        assert_eq!(pruned.files, ["attachments/aa/aa"]);
        assert_eq!(
            ids(c, "SELECT article_id FROM attachments ORDER BY id"),
            [2, 2]
        );
        // Mail sent before the age loses its bytes; what was sent since,
        // or waits to be sent, keeps them.
        assert_eq!((pruned.sent_mail, pruned.sent_bytes), (1, 4));
        assert_eq!(
            ids(c, "SELECT outbox_id FROM outbox_raw ORDER BY outbox_id"),
            [2, 3, 4]
        );
        assert_eq!(ids(c, "SELECT count(*) FROM outbox"), [4]);
        // Nothing left to do the second time.
        let again = prune(s.conn(), &cut(), false).unwrap();
        assert_eq!(again, Pruned::default());
    }

    #[test]
    fn dry_run_changes_nothing_and_counts_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.db"), Durability::Full).unwrap();
        fixture(s.conn());
        let dry = prune(s.conn(), &cut(), true).unwrap();
        assert_eq!(ids(s.conn(), "SELECT count(*) FROM raw_messages"), [5]);
        assert_eq!(ids(s.conn(), "SELECT count(*) FROM attachments"), [4]);
        assert_eq!(
            ids(
                s.conn(),
                "SELECT count(*) FROM articles WHERE raw_id IS NULL"
            ),
            [0]
        );
        let real = prune(s.conn(), &cut(), false).unwrap();
        assert_eq!(dry, real);
    }

    #[test]
    fn no_cutoffs_keep_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.db"), Durability::Full).unwrap();
        fixture(s.conn());
        assert_eq!(
            prune(s.conn(), &Cutoffs::default(), false).unwrap(),
            Pruned::default()
        );
        assert_eq!(ids(s.conn(), "SELECT count(*) FROM raw_messages"), [5]);
    }
}
