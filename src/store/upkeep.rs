//! The writer's upkeep, off the commit path (issue 10): the periodic
//! writes SQLite would otherwise make inside the commit that happens to
//! cross a threshold — the full-text index's segment merges (migration 23
//! turned FTS5's own merging off) and the WAL checkpoint. A writer that
//! answers for its batches (the store worker, `import`, `ingest`) calls
//! [`Store::upkeep`] once a batch is committed and its mail on its way, so
//! the next mail's commit never pays for them; its `more` says whether to
//! go on after each step, so a batch waiting for the thread waits for at
//! most one step (a few milliseconds) and the checkpoint of what the WAL
//! holds beyond the caller's budget.
//!
//! The merges follow the levels FTS5 keeps: a level's sixteen segments
//! (`usermerge`) are merged into one of the next level, [`MERGE_PAGES`]
//! leaf pages per step, each step its own transaction. A merge left
//! halfway is resumed by the next call. Writers that never call this (the
//! CLI's single changes) leave new segments for the next upkeep; without
//! any, a level's 64th segment makes FTS5 merge it in that commit
//! (`crisismerge`), as it used to at 16.

use std::time::Duration;

use super::{Store, StoreError};

/// Leaf pages written per merge step: FTS5's own unit of merge work
/// (`FTS5_WORK_UNIT`), ~8 ms on the benchmark machine.
pub const MERGE_PAGES: u32 = 64;

/// Merge steps between two checkpoints of a long merge (~4,000 WAL frames
/// of 4 KiB pages, ~16 MiB of WAL).
pub const STEPS_PER_CHECKPOINT: u32 = 16;

/// A WAL of this many frames or more is restarted after a complete
/// checkpoint (see [`Store::upkeep`]); SQLite's own checkpoint runs at
/// 1,000.
pub const RESTART_FRAMES: i64 = 1000;

/// How long a restart waits for readers to leave the WAL.
pub const RESTART_WAIT: Duration = Duration::from_millis(20);

/// What one [`Store::upkeep`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Upkept {
    /// Merge steps that found work.
    pub merge_steps: u32,
    /// No level of the index is waiting for a merge.
    pub merged_all: bool,
    /// Frames the WAL held when checkpointed (0 when the connection
    /// checkpoints on commit itself, see [`Store::defer_checkpoints`]).
    pub wal_frames: i64,
    /// Of those, frames copied into the database file by now.
    pub checkpointed: i64,
    /// Checkpoints made (one every [`STEPS_PER_CHECKPOINT`] merge steps
    /// and one at the end, when deferred).
    pub checkpoints: u32,
    /// The WAL was restarted: the next commit writes from its beginning.
    pub restarted: bool,
}

/// What the daemon's worker gives upkeep after a batch when another
/// request is waiting: a quarter of the batch's own time, at least this.
pub const MIN_BUDGET: Duration = Duration::from_millis(10);

/// The time [`Store::upkeep`] may take after a batch that took `batch`,
/// when other work is waiting: a quarter of it, at least [`MIN_BUDGET`].
/// (With the index's merges at ~15 % of a batch's time on average, a
/// quarter keeps up; when it does not, `crisismerge` is the backstop.)
pub fn budget_after(batch: Duration) -> Duration {
    (batch / 4).max(MIN_BUDGET)
}

impl Store {
    /// Leave this connection's WAL checkpoints to [`Store::upkeep`]
    /// instead of the commit that passes SQLite's 1,000 frames. For a
    /// writer that calls upkeep after every batch.
    pub fn defer_checkpoints(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        Ok(())
    }

    /// Whether [`Store::defer_checkpoints`] is in force on this connection.
    fn checkpoints_deferred(&self) -> Result<bool, StoreError> {
        let frames: i64 = self
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?;
        Ok(frames <= 0)
    }

    /// One step of the full-text index's merges ([`MERGE_PAGES`] pages),
    /// in its own transaction. False when no level needed one. (FTS5 says
    /// whether a `merge` did anything only through the connection's
    /// change count: two or more changes mean work was done.)
    pub fn merge_step(&mut self) -> Result<bool, StoreError> {
        let before = self.conn.total_changes();
        self.conn
            .prepare_cached("INSERT INTO ticket_search (ticket_search, rank) VALUES ('merge', ?1)")?
            .execute([MERGE_PAGES])?;
        // (SQLite's count is 32 bits on some builds: it may wrap.)
        Ok(self.conn.total_changes().wrapping_sub(before) >= 2)
    }

    /// Merge steps while there is work and `more()` says go on, then —
    /// when [`Store::defer_checkpoints`] is in force — a passive WAL
    /// checkpoint (readers are never waited for; what they still need is
    /// copied by a later one). Call outside any transaction.
    pub fn upkeep(&mut self, mut more: impl FnMut() -> bool) -> Result<Upkept, StoreError> {
        let mut done = Upkept::default();
        let deferred = self.checkpoints_deferred()?;
        let mut stopped = false;
        let merged = loop {
            match self.merge_step() {
                Ok(false) => {
                    done.merged_all = true;
                    break Ok(());
                }
                Ok(true) => {}
                Err(e) => break Err(e),
            }
            done.merge_steps += 1;
            // A long merge (a level holding most of the history) is
            // checkpointed as it goes, so the WAL never holds all of it.
            if deferred && done.merge_steps % STEPS_PER_CHECKPOINT == 0 {
                self.checkpoint(&mut done)?;
            }
            if !more() {
                stopped = true;
                break Ok(());
            }
        };
        // Checkpointed even when a merge failed: nothing else checkpoints
        // this connection's WAL. The restart, which may wait for readers,
        // only when nobody waits for the caller.
        if deferred {
            self.checkpoint(&mut done)?;
            if !stopped {
                self.restart_wal(&mut done)?;
            }
        }
        merged.map(|()| done)
    }

    /// After a complete checkpoint of a WAL of [`RESTART_FRAMES`] or
    /// more, have the log start again from its beginning. SQLite restarts
    /// it only when a writer begins after a complete checkpoint with no
    /// reader still on an older snapshot; with the outbox's connection
    /// committing marks and claims in between, that seldom happens by
    /// itself, and the WAL grew to 200 MB at a million messages (each
    /// write extending the file). A RESTART checkpoint waits for the
    /// readers — here at most [`RESTART_WAIT`], then it is left for the
    /// next time.
    fn restart_wal(&mut self, done: &mut Upkept) -> Result<(), StoreError> {
        if done.wal_frames < RESTART_FRAMES || done.checkpointed < done.wal_frames {
            return Ok(());
        }
        self.conn.busy_timeout(RESTART_WAIT)?;
        let busy = self
            .conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        self.conn.busy_timeout(super::BUSY_TIMEOUT)?;
        done.restarted = busy? == 0;
        Ok(())
    }

    /// The full-text index's segments (distinct segment ids in its term
    /// index), for tests of the merges.
    #[cfg(test)]
    pub(crate) fn index_segments(&self) -> i64 {
        self.conn
            .query_row(
                "SELECT COUNT(DISTINCT segid) FROM ticket_search_idx",
                [],
                |r| r.get(0),
            )
            .expect("the index's term table reads")
    }

    /// A passive checkpoint, its figures into `done`.
    fn checkpoint(&mut self, done: &mut Upkept) -> Result<(), StoreError> {
        let (frames, copied) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })?;
        done.wal_frames = frames;
        done.checkpointed = copied;
        done.checkpoints += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Durability;

    /// A migrated store in a folder of its own (kept as long as the
    /// returned guard).
    fn fresh() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db"), Durability::Full).unwrap();
        (dir, s)
    }

    fn segments(s: &Store) -> i64 {
        s.index_segments()
    }

    /// One transaction that indexes one article: one new segment.
    fn add_segment(s: &Store, n: usize) {
        s.conn
            .execute(
                "INSERT INTO ticket_search (rowid, subject, body_text) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    n as i64 + 1,
                    format!("printer {n} jammed"),
                    format!("the toner of printer {n} in room {n} is empty again")
                ],
            )
            .unwrap();
    }

    /// Sixteen transactions of `rows` articles of 40 distinct words each:
    /// a level whose merge takes several steps.
    fn add_bulk_segments(s: &Store, rows: usize) {
        for n in 0..16 {
            let tx = s.conn.unchecked_transaction().unwrap();
            for k in 0..rows {
                let id = n * 1000 + k + 1;
                let words: String = (0..40).map(|w| format!("w{id}x{w} ")).collect();
                tx.execute(
                    "INSERT INTO ticket_search (rowid, subject, body_text) VALUES (?1, 'bulk', ?2)",
                    rusqlite::params![id as i64, words],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
    }

    #[test]
    fn commits_never_merge_and_upkeep_merges_a_level_of_sixteen() {
        let (_dir, mut s) = fresh();
        for n in 0..20 {
            add_segment(&s, n);
        }
        // FTS5 merged at 16 inside the commit before migration 23.
        assert_eq!(segments(&s), 20, "a commit merged the index");
        let done = s.upkeep(|| true).unwrap();
        assert!(done.merged_all);
        assert!(done.merge_steps >= 1, "{done:?}");
        // The level's segments (all of them: fewer than 16 are left
        // alone, more are merged together) became one.
        assert_eq!(segments(&s), 1);
        // Nothing left: the next upkeep finds no work.
        let again = s.upkeep(|| true).unwrap();
        assert_eq!((again.merge_steps, again.merged_all), (0, true));
        let found: i64 = s
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM ticket_search WHERE ticket_search MATCH 'toner'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 20);
        s.conn
            .execute(
                "INSERT INTO ticket_search (ticket_search) VALUES ('integrity-check')",
                [],
            )
            .unwrap();
    }

    #[test]
    fn fewer_than_sixteen_segments_wait_for_more() {
        let (_dir, mut s) = fresh();
        for n in 0..15 {
            add_segment(&s, n);
        }
        let done = s.upkeep(|| true).unwrap();
        assert_eq!((done.merge_steps, done.merged_all), (0, true));
        assert_eq!(segments(&s), 15);
    }

    #[test]
    fn upkeep_stops_when_told_and_the_next_call_resumes() {
        let (_dir, mut s) = fresh();
        // Enough text that merging the level takes more than one step.
        add_bulk_segments(&s, 150);
        assert_eq!(segments(&s), 16);
        let first = s.upkeep(|| false).unwrap();
        assert_eq!((first.merge_steps, first.merged_all), (1, false));
        let rest = s.upkeep(|| true).unwrap();
        assert!(rest.merged_all && rest.merge_steps >= 1, "{rest:?}");
        assert_eq!(segments(&s), 1);
    }

    #[test]
    fn a_long_merge_is_checkpointed_as_it_goes() {
        let (_dir, mut s) = fresh();
        s.defer_checkpoints().unwrap();
        add_bulk_segments(&s, 700);
        let done = s.upkeep(|| true).unwrap();
        assert!(done.merged_all, "{done:?}");
        assert!(done.merge_steps > STEPS_PER_CHECKPOINT, "{done:?}");
        assert_eq!(
            done.checkpoints,
            done.merge_steps / STEPS_PER_CHECKPOINT + 1,
            "{done:?}"
        );
        assert_eq!(segments(&s), 1);
    }

    #[test]
    fn deferred_checkpoints_wait_for_upkeep() {
        let (_dir, mut s) = fresh();
        // Without deferral upkeep leaves the WAL to SQLite.
        add_segment(&s, 0);
        assert_eq!(s.upkeep(|| true).unwrap().wal_frames, 0);
        s.defer_checkpoints().unwrap();
        for n in 1..400 {
            add_segment(&s, n);
        }
        let done = s.upkeep(|| true).unwrap();
        // Far past SQLite's 1,000 frames: no commit checkpointed them.
        assert!(done.wal_frames > 1000, "{done:?}");
        assert_eq!(done.checkpointed, done.wal_frames, "{done:?}");
        // No reader: the log starts again, and the next commit writes a
        // few frames from its beginning.
        assert!(done.restarted, "{done:?}");
        add_segment(&s, 1000);
        let next = s.upkeep(|| true).unwrap();
        assert!(next.wal_frames < 50, "{next:?}");
    }

    #[test]
    fn the_budget_is_a_quarter_of_the_batch_and_never_nothing() {
        assert_eq!(
            budget_after(Duration::from_millis(400)),
            Duration::from_millis(100)
        );
        assert_eq!(budget_after(Duration::from_millis(1)), MIN_BUDGET);
    }
}
