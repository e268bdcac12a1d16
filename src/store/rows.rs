//! Reading a capped number of rows without a bound `LIMIT`.

/// The first `limit` rows of `stmt` run with `params`, mapped by `f`.
///
/// Queries of the hot path cap their rows here rather than with a bound
/// `LIMIT ?`: SQLite plans with a bound LIMIT's value and so re-prepares
/// the statement at every new binding, which cost ~5 % of the pipeline's
/// CPU (issue 10). Stepping stops at the cap (a query that must sort
/// still reads its rows first; one that follows an index reads no more).
pub fn first_rows<T, P, F>(
    stmt: &mut rusqlite::Statement<'_>,
    params: P,
    limit: usize,
    f: F,
) -> rusqlite::Result<Vec<T>>
where
    P: rusqlite::Params,
    F: FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
{
    stmt.query_map(params, f)?.take(limit).collect()
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, StatementStatus};

    #[test]
    fn capped_reads_are_not_prepared_again_at_each_binding() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t (k INTEGER, v INTEGER);
             CREATE INDEX t_k ON t (k, v);
             INSERT INTO t VALUES (1, 1), (1, 2), (1, 3), (2, 4);",
        )
        .unwrap();
        let sql = "SELECT v FROM t WHERE k = ?1 ORDER BY v DESC";
        for (k, want) in [(1, vec![3, 2]), (2, vec![4]), (1, vec![3, 2])] {
            let mut stmt = c.prepare_cached(sql).unwrap();
            let got: Vec<i64> = super::first_rows(&mut stmt, [k], 2, |r| r.get(0)).unwrap();
            assert_eq!(got, want);
        }
        let stmt = c.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
        // What this avoids: a bound LIMIT makes SQLite prepare the
        // statement again whenever it is bound anew.
        let limited = "SELECT v FROM t WHERE k = ?1 ORDER BY v DESC LIMIT ?2";
        for k in [1, 2, 1] {
            let mut stmt = c.prepare_cached(limited).unwrap();
            let _: Vec<i64> = stmt
                .query_map([k, 2], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
        }
        let stmt = c.prepare_cached(limited).unwrap();
        assert!(stmt.get_status(StatementStatus::RePrepare) > 0);
    }
}
