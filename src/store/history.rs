//! A ticket's history (`ticket_history`): every change of its fields, who
//! made it (a rule, an agent, a command, the scheduler, postdesk itself)
//! and the mail that caused it. Written by whoever changes a ticket — the
//! apply stage for rules — and read for `ticket show`.

use rusqlite::{params, Connection};
use serde::Serialize;

use super::{now_text, StoreError};
use crate::tickets::history::Change;

type Result<T> = std::result::Result<T, StoreError>;

/// Record `change` on a ticket; `article_id` is the mail that caused it.
pub fn record(
    c: &Connection,
    ticket_id: i64,
    article_id: Option<i64>,
    change: &Change,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO ticket_history (ticket_id, article_id, at, actor_kind, actor, field,
             old_value, new_value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        ticket_id,
        article_id,
        now_text(),
        change.actor_kind.as_str(),
        change.actor,
        change.field,
        change.old,
        change.new
    ])?;
    Ok(())
}

/// One recorded change, as `ticket show` lists it (its `--json` shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub at: String,
    /// The mail that caused the change, if one did.
    pub article_id: Option<i64>,
    /// `rule`, `agent`, `command`, `scheduler` or `system`.
    pub actor_kind: String,
    pub actor: String,
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// A ticket's history, oldest first.
pub fn for_ticket(c: &Connection, ticket_id: i64) -> Result<Vec<Entry>> {
    let mut st = c.prepare_cached(
        "SELECT at, article_id, actor_kind, actor, field, old_value, new_value
         FROM ticket_history WHERE ticket_id = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([ticket_id], |r| {
        Ok(Entry {
            at: r.get(0)?,
            article_id: r.get(1)?,
            actor_kind: r.get(2)?,
            actor: r.get(3)?,
            field: r.get(4)?,
            old: r.get(5)?,
            new: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::history::ActorKind;

    #[test]
    fn changes_are_recorded_in_order_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, id) = crate::store::tests::store_with_ticket(dir.path());
        let c = s.conn();
        let some = |v: &str| Some(v.to_string());
        record(
            c,
            id,
            None,
            &Change::by_rule("vip", "urgency", some("3"), some("4")),
        )
        .unwrap();
        let by_agent = Change {
            actor_kind: ActorKind::Agent,
            actor: "ana".into(),
            field: "tags",
            old: None,
            new: some("billing"),
        };
        record(c, id, None, &by_agent).unwrap();
        let got: Vec<String> = for_ticket(c, id)
            .unwrap()
            .into_iter()
            .map(|e| {
                format!(
                    "{} {} {} {:?} {:?}",
                    e.actor_kind, e.actor, e.field, e.old, e.new
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "rule vip urgency Some(\"3\") Some(\"4\")",
                "agent ana tags None Some(\"billing\")",
            ]
        );
        assert!(for_ticket(c, id + 1).unwrap().is_empty());
    }
}
