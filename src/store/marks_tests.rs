//! The marks journal: marks commit while the pipeline holds the database,
//! fold into `outbox` later, once, and never let a marked row be claimed.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::*;
use crate::store::outbox::claim;
use crate::store::{now_unix, Store};

/// A database with `n` outbox rows, and the sender's connection to it
/// with the journal attached.
fn setup(n: usize) -> (tempfile::TempDir, Store, Vec<i64>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut s = Store::open(&path, Durability::Normal).unwrap();
    let c = s.conn();
    // Rows here belong to no ticket.
    c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    let ids = crate::store::outbox::tests::add(c, n);
    attach(s.conn(), &path, Durability::Normal).unwrap();
    (dir, s, ids)
}

fn status(c: &Connection, id: i64) -> (String, i64, Option<String>) {
    c.query_row(
        "SELECT status, attempts, claimed_by FROM outbox WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

#[test]
fn the_attached_journal_keeps_a_small_page_cache() {
    let (_dir, mut s, _) = setup(0);
    let kib: i64 = s
        .conn()
        .query_row("PRAGMA marks.cache_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kib, -(MARKS_CACHE_KIB as i64));
}

#[test]
fn marks_commit_while_the_pipeline_holds_the_database() {
    let (dir, mut s, ids) = setup(3);
    let now = now_unix();
    assert_eq!(claim(s.conn(), "me", now, now + 60, 10).unwrap().len(), 3);
    // The pipeline's batch holds the write lock of the database.
    let mut pipeline = Connection::open(dir.path().join("t.db")).unwrap();
    let batch = pipeline
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    s.conn().busy_timeout(Duration::ZERO).unwrap();
    let marks = [
        (ids[0], Outcome::Sent),
        (
            ids[1],
            Outcome::Retry {
                error: "451 later".into(),
                next_unix: now + 300,
            },
        ),
        (
            ids[2],
            Outcome::Failed {
                error: "550 no".into(),
            },
        ),
    ];
    record(s.conn(), "me", &marks).unwrap();
    assert_eq!(waiting(s.conn()).unwrap(), 3);
    // Folding needs the database: not now.
    let tx = s.conn().transaction().unwrap();
    assert!(fold(&tx).is_err());
    drop(tx);
    batch.commit().unwrap();
    let tx = s
        .conn()
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    assert_eq!(fold(&tx).unwrap(), []);
    tx.commit().unwrap();
    let c = s.conn();
    assert_eq!(waiting(c).unwrap(), 0);
    assert_eq!(status(c, ids[0]), ("sent".into(), 1, Some("me".into())));
    // A retry keeps its claimant, its claim lapsed: anyone may take it.
    assert_eq!(status(c, ids[1]), ("pending".into(), 1, Some("me".into())));
    assert_eq!(
        claim(c, "other", now + 300, now + 360, 10).unwrap().len(),
        1
    );
    assert_eq!(status(c, ids[2]), ("failed".into(), 1, Some("me".into())));
    let (error, next): (String, i64) = c
        .query_row(
            "SELECT last_error, next_attempt_at FROM outbox WHERE id = ?1",
            [ids[1]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((error.as_str(), next), ("451 later", now + 300));
}

#[test]
fn a_fold_cut_short_by_a_crash_applies_nothing_twice() {
    let (_dir, mut s, ids) = setup(3);
    let now = now_unix();
    claim(s.conn(), "me", now, now + 60, 10).unwrap();
    let marks = [
        (ids[0], Outcome::Sent),
        (
            ids[1],
            Outcome::Failed {
                error: "550 no".into(),
            },
        ),
        (
            ids[2],
            Outcome::Retry {
                error: "451 later".into(),
                next_unix: now + 300,
            },
        ),
    ];
    record(s.conn(), "me", &marks).unwrap();
    // The database's part of a fold committed, the journal's did not.
    let tx = s.conn().transaction().unwrap();
    fold(&tx).unwrap();
    tx.commit().unwrap();
    record(s.conn(), "me", &marks).unwrap();
    let tx = s.conn().transaction().unwrap();
    assert_eq!(
        fold(&tx).unwrap(),
        [],
        "finished rows are not lapsed claims"
    );
    tx.commit().unwrap();
    assert_eq!(status(s.conn(), ids[0]).1, 1, "counted once");
    assert_eq!(status(s.conn(), ids[1]).1, 1, "counted once");
    assert_eq!(status(s.conn(), ids[2]).1, 1, "counted once");
}

#[test]
fn a_mark_on_a_row_another_sender_took_over_is_reported() {
    let (_dir, mut s, ids) = setup(2);
    let now = now_unix();
    claim(s.conn(), "me", now, now + 60, 10).unwrap();
    // Our lease lapsed and another sender took both rows.
    let later = now + 61;
    assert_eq!(
        claim(s.conn(), "other", later, later + 60, 10)
            .unwrap()
            .len(),
        2
    );
    let marks = [
        (ids[0], Outcome::Sent),
        (
            ids[1],
            Outcome::Retry {
                error: "451".into(),
                next_unix: later,
            },
        ),
    ];
    record(s.conn(), "me", &marks).unwrap();
    let tx = s.conn().transaction().unwrap();
    let lapsed = fold(&tx).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        lapsed,
        [
            Lapsed {
                outbox_id: ids[0],
                claimant: "me".into(),
                sent: true
            },
            Lapsed {
                outbox_id: ids[1],
                claimant: "me".into(),
                sent: false
            }
        ]
    );
    // The mail did go out: it is never sent again; the retry stays the
    // other sender's.
    assert_eq!(status(s.conn(), ids[0]).0, "sent");
    assert_eq!(
        status(s.conn(), ids[1]),
        ("pending".into(), 0, Some("other".into()))
    );
}

#[test]
fn the_journal_sits_beside_the_database() {
    assert_eq!(
        path_for(Path::new("/var/lib/postdesk/postdesk.db")),
        Path::new("/var/lib/postdesk/postdesk.db-marks")
    );
}

#[test]
fn a_restore_forgets_the_marks_of_the_database_it_replaced() {
    let (dir, mut s, ids) = setup(1);
    record(s.conn(), "me", &[(ids[0], Outcome::Sent)]).unwrap();
    forget(&dir.path().join("t.db")).unwrap();
    assert_eq!(waiting(s.conn()).unwrap(), 0);
    // No journal yet: nothing to do.
    forget(&dir.path().join("other.db")).unwrap();
    assert!(!dir.path().join("other.db-marks").exists());
}

#[test]
fn a_late_mark_of_a_lapsed_claim_does_not_replace_the_new_owners() {
    let (_dir, mut s, ids) = setup(1);
    let now = now_unix();
    claim(s.conn(), "a", now, now + 60, 10).unwrap();
    let later = now + 61;
    claim(s.conn(), "b", later, later + 60, 10).unwrap();
    // b sent it; a's attempt, started before its lease ran out, failed.
    record(s.conn(), "b", &[(ids[0], Outcome::Sent)]).unwrap();
    let late = Outcome::Retry {
        error: "451".into(),
        next_unix: later,
    };
    record(s.conn(), "a", &[(ids[0], late)]).unwrap();
    assert_eq!(waiting(s.conn()).unwrap(), 2);
    let tx = s.conn().transaction().unwrap();
    let lapsed = fold(&tx).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        lapsed,
        [Lapsed {
            outbox_id: ids[0],
            claimant: "a".into(),
            sent: false
        }]
    );
    assert_eq!(status(s.conn(), ids[0]).0, "sent", "never sent again");
}

#[test]
fn a_journal_without_its_table_is_left_for_attach_to_make() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    Store::open(&db, Durability::Normal).unwrap();
    // The file exists (a crash between ATTACH and CREATE TABLE).
    Connection::open(path_for(&db))
        .unwrap()
        .execute_batch("PRAGMA user_version = 1")
        .unwrap();
    forget(&db).unwrap();
    let mut s = Store::open(&db, Durability::Normal).unwrap();
    attach(s.conn(), &db, Durability::Normal).unwrap();
    assert_eq!(waiting(s.conn()).unwrap(), 0);
}

#[test]
fn a_journal_of_another_layout_is_refused_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    Connection::open(path_for(&db))
        .unwrap()
        .execute_batch("CREATE TABLE delivery_marks (outbox_id INTEGER PRIMARY KEY)")
        .unwrap();
    let mut s = Store::open(&db, Durability::Normal).unwrap();
    let e = attach(s.conn(), &db, Durability::Normal)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t.db-marks") && e.contains("unknown layout"),
        "{e}"
    );
}
