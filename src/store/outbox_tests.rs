//! Claims on the outbox: one owner per row, leases, marks that respect them.

use super::*;
use crate::store::{Durability, Store};

fn db() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    // Rows here belong to no ticket.
    s.conn().execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    (dir, s)
}

/// A database at `path` with `n` outbox rows of no ticket (for the
/// sender's tests outside the store).
pub(crate) fn with_rows(path: &std::path::Path, n: usize) -> Store {
    let mut s = Store::open(path, Durability::Normal).unwrap();
    s.conn().execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    add(s.conn(), n);
    s
}

/// The earliest claim expiry of the outbox's rows.
pub(crate) fn first_expiry(c: &Connection) -> i64 {
    c.query_row("SELECT MIN(claim_expires) FROM outbox", [], |r| r.get(0))
        .unwrap()
}

/// `n` outbox rows of no ticket (foreign keys off).
pub(crate) fn add(c: &Connection, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            enqueue(
                c,
                &NewOutgoing {
                    ticket_id: 1,
                    article_id: None,
                    kind: "test",
                    envelope_from: "",
                    recipients: &["a@example.test".to_string()],
                    message_id: &format!("<{i}@t>"),
                    raw: Some(b"Subject: x\r\n\r\nx\r\n"),
                },
            )
            .unwrap()
        })
        .collect()
}

fn ids(v: &[Outgoing]) -> Vec<i64> {
    v.iter().map(|m| m.id).collect()
}

#[test]
fn a_claimed_row_is_not_claimed_by_another_until_it_expires() {
    let (_d, mut s) = db();
    let c = s.conn();
    let all = add(c, 5);
    let now = now_unix();
    let a = claim(c, "a", now, now + 60, 3).unwrap();
    assert_eq!(ids(&a), all[..3]);
    let b = claim(c, "b", now, now + 60, 10).unwrap();
    assert_eq!(ids(&b), all[3..]);
    assert!(claim(c, "c", now, now + 60, 10).unwrap().is_empty());
    // A claimant takes back its own leftovers (mail not sent last round).
    assert_eq!(ids(&claim(c, "a", now, now + 60, 10).unwrap()), all[..3]);
    // After the lease, a crashed claimant's rows are taken over.
    let later = now + 61;
    assert_eq!(claim(c, "c", later, later + 60, 10).unwrap().len(), 5);
}

#[test]
fn marks_apply_only_to_the_claimant() {
    let (_d, mut s) = db();
    let c = s.conn();
    let all = add(c, 3);
    let now = now_unix();
    claim(c, "a", now, now + 60, 3).unwrap();
    assert_eq!(mark_retry(c, all[0], "b", "4xx", now).unwrap(), Claim::Lost);
    assert_eq!(mark_failed(c, all[0], "b", "5xx").unwrap(), Claim::Lost);
    assert_eq!(mark_sent(c, all[0], "a", &now_text()).unwrap(), Claim::Ours);
    // Sent stays sent, whoever marks it again.
    assert_eq!(mark_sent(c, all[0], "a", &now_text()).unwrap(), Claim::Lost);
    assert_eq!(mark_failed(c, all[1], "a", "5xx").unwrap(), Claim::Ours);
    assert_eq!(mark_retry(c, all[2], "a", "4xx", now).unwrap(), Claim::Ours);
    // A retry gives the claim up: anyone may take it.
    assert_eq!(ids(&claim(c, "b", now, now + 60, 10).unwrap()), [all[2]]);
    // A lapsed claim taken over: the old claimant's sent mark still
    // records the hand-off, but says the claim was lost.
    let later = now + 61;
    assert_eq!(
        ids(&claim(c, "c", later, later + 60, 10).unwrap()),
        [all[2]]
    );
    assert_eq!(mark_sent(c, all[2], "b", &now_text()).unwrap(), Claim::Lost);
    assert!(claim(c, "d", later + 100, later + 160, 10)
        .unwrap()
        .is_empty());
}

#[test]
fn renew_release_and_next_due() {
    let (_d, mut s) = db();
    let c = s.conn();
    add(c, 2);
    let now = now_unix();
    assert_eq!(next_due_in(c, "b").unwrap(), Some(0));
    claim(c, "a", now, now + 60, 1).unwrap();
    assert_eq!(claimed_count(c).unwrap(), 1);
    assert_eq!(renew(c, "a", now, now + 600).unwrap(), 1);
    // A lapsed claim is not revived.
    assert_eq!(renew(c, "a", now + 601, now + 1200).unwrap(), 0);
    assert_eq!(renew(c, "a", now, now + 600).unwrap(), 1);
    claim(c, "b", now, now + 60, 1).unwrap();
    // Both rows are claimed: "c" must wait for the first expiry.
    let wait = next_due_in(c, "c").unwrap().unwrap();
    assert!((55..=60).contains(&wait), "{wait}");
    assert_eq!(next_due_in(c, "a").unwrap(), Some(0));
    assert_eq!(release(c, "a").unwrap(), 1);
    assert_eq!(next_due_in(c, "c").unwrap(), Some(0));
    assert_eq!(claimed_count(c).unwrap(), 1);
}

#[test]
fn the_claim_query_uses_an_index() {
    let (_d, mut s) = db();
    let c = s.conn();
    add(c, 3);
    for (sql, args) in [
        (CLAIM_SQL, params!["a", 1, 2, 3]),
        (
            "UPDATE outbox SET claim_expires = ?3
             WHERE claimed_by = ?1 AND status = 'pending' AND claim_expires >= ?2",
            params!["a", 1, 2],
        ),
    ] {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map(args, |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(
            plan.iter().all(|l| !l.starts_with("SCAN outbox")),
            "full scan in {plan:?}"
        );
        assert!(plan.iter().any(|l| l.contains("USING")), "{plan:?}");
    }
}

#[test]
fn concurrent_claimants_never_share_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let mut s = Store::open(&path, Durability::Normal).unwrap();
        s.conn().execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        add(s.conn(), 400);
    }
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut s = Store::open(&path, Durability::Normal).unwrap();
                let me = format!("sender-{t}");
                let mut mine = Vec::new();
                loop {
                    let now = now_unix();
                    let got = claim(s.conn(), &me, now, now + 60, 7).unwrap();
                    if got.is_empty() {
                        break;
                    }
                    for m in got {
                        assert_eq!(
                            mark_sent(s.conn(), m.id, &me, &now_text()).unwrap(),
                            Claim::Ours
                        );
                        mine.push(m.id);
                    }
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<i64> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(all.len(), 400);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 400, "a row was claimed twice");
}

#[test]
fn unrendered_notification_is_failed_with_its_error_and_never_due() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    s.sync_queues(&[crate::config::Queue {
        name: "support".into(),
        agents_address: None,
        notify_agents_on_new: true,
        notify_agents_on_follow_up: true,
        assign_on_agent_reply: true,
        forward_auto_reply: true,
    }])
    .unwrap();
    let c = s.conn();
    let ticket = crate::store::records::insert_ticket(
        c,
        &crate::store::records::NewTicket {
            number: "2026112210000017",
            subject: "Printer",
            state: "posted",
            urgency: 3,
            impact: 3,
            priority: 3,
            priority_explicit: false,
            queue: "support",
            customer_address: "ana@example.com",
            customer_name: None,
            support_address: "support@example.com",
            language: "en",
        },
    )
    .unwrap();
    record_unrendered(
        c,
        ticket,
        "auto_reply",
        &["ana@example.com".to_string()],
        "x.1@desk.example.com",
        "rendering auto_reply (en): boom",
    )
    .unwrap();
    assert!(claim(c, "me", now_unix() + 10, now_unix() + 100, 10)
        .unwrap()
        .is_empty());
    let st = crate::store::views::status(c).unwrap();
    assert_eq!((st.outbox_failed, st.outbox_pending), (1, 0));
    let f = &st.outbox_failed_latest[0];
    assert_eq!(f.ticket.as_deref(), Some("2026112210000017"));
    assert_eq!(f.kind, "auto_reply");
    assert_eq!(f.recipients, "ana@example.com");
    assert!(f.error.contains("boom"), "{}", f.error);
}

#[test]
fn migration_26_moves_each_mail_into_outbox_raw_and_the_sender_still_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.db");
    let c = Connection::open(&p).unwrap();
    for sql in &crate::store::MIGRATIONS[..25] {
        c.execute_batch(sql).unwrap();
    }
    c.execute_batch(
        "PRAGMA user_version = 25;
         INSERT INTO outbox (kind, envelope_from, recipients, message_id, raw, status,
             next_attempt_at, created_at)
         VALUES ('auto_reply', '', 'a@x', 'm1', CAST('Subject: one' AS BLOB), 'pending', 0,
                 '2026-12-01T00:00:00Z'),
                ('auto_reply', '', 'b@x', 'm2', x'', 'failed', 0, '2026-12-01T00:00:00Z');",
    )
    .unwrap();
    drop(c);
    let mut s = Store::open(&p, Durability::Normal).unwrap();
    let c = s.conn();
    let moved: Vec<(i64, Vec<u8>)> = c
        .prepare("SELECT outbox_id, raw FROM outbox_raw ORDER BY outbox_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    // The unrendered row had no mail: it gets no bytes.
    assert_eq!(moved, vec![(1, b"Subject: one".to_vec())]);
    let columns: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('outbox')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(!columns.iter().any(|n| n == "raw"), "{columns:?}");
    let now = now_unix();
    let got = claim(c, "s", now, now + 60, 10).unwrap();
    assert_eq!(ids(&got), vec![1]);
    assert_eq!(got[0].raw, b"Subject: one");
}

/// A row enqueued without its mail (made later on another thread).
fn without_mail(c: &Connection, message_id: &str) -> i64 {
    enqueue(
        c,
        &NewOutgoing {
            ticket_id: 1,
            article_id: None,
            kind: "auto_reply",
            envelope_from: "",
            recipients: &["a@example.test".to_string()],
            message_id,
            raw: None,
        },
    )
    .unwrap()
}

#[test]
fn a_mail_signed_later_is_written_once_for_its_own_row_only() {
    let (_d, mut s) = db();
    let c = s.conn();
    let id = without_mail(c, "<signed@t>");
    // Held back (its address bounces) before its signature came.
    crate::store::machines::hold_outbox(c, id, "a@example.test is bouncing").unwrap();
    // Another message's signature for the same row id writes nothing.
    assert_eq!(set_mail(c, id, "<other@t>", b"other").unwrap(), 0);
    assert_eq!(set_mail(c, id, "<signed@t>", b"signed").unwrap(), 1);
    c.execute("UPDATE outbox SET status = 'pending' WHERE id = ?1", [id])
        .unwrap();
    let now = now_unix();
    let got = claim(c, "s", now, now + 60, 10).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].raw, b"signed");
}

/// Row `id`'s status and last error.
fn status_and_error(c: &Connection, id: i64) -> (String, String) {
    c.query_row(
        "SELECT status, last_error FROM outbox WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn a_pending_row_without_its_mail_is_failed_and_never_sent_empty() {
    let (_d, mut s) = db();
    let c = s.conn();
    let kept = add(c, 1)[0];
    let lost = without_mail(c, "<lost@t>");
    let now = now_unix();
    assert_eq!(ids(&claim(c, "s", now, now + 60, 10).unwrap()), vec![kept]);
    let (status, error) = status_and_error(c, lost);
    assert_eq!(status, "failed");
    assert!(error.contains("missing"), "{error}");
}

#[test]
fn a_row_whose_mail_could_not_be_made_stays_failed_when_held_back() {
    let (_d, mut s) = db();
    let c = s.conn();
    let id = without_mail(c, "<unmade@t>");
    assert_eq!(
        fail_unmade(c, id, "<unmade@t>", "template failed").unwrap(),
        1
    );
    crate::store::machines::hold_outbox(c, id, "a@example.test is bouncing").unwrap();
    let (status, error) = status_and_error(c, id);
    assert_eq!(
        (status.as_str(), error.as_str()),
        ("failed", "template failed")
    );
}
