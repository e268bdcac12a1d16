//! Queues in the directory: the `queues` table has a row for every queue
//! the configuration names or a ticket was filed under; the directory
//! manages those with `in_directory = 1` (their group, addresses, where
//! agents' notifications go, what Cc's and strangers do, the service a
//! new ticket gets). Removing one
//! from the directory resets those to the defaults and keeps the row,
//! which tickets refer to.

use rusqlite::{params, Connection, OptionalExtension};

use super::{group_id, DirError, Result};
use crate::directory::{Notify, Queue, Strangers, UnknownSenders};
use crate::store::{now_text, StoreError};

fn row(r: &rusqlite::Row) -> rusqlite::Result<Queue> {
    let notify: String = r.get(4)?;
    let strangers: String = r.get(6)?;
    let unknown: String = r.get(7)?;
    Ok(Queue {
        name: r.get(0)?,
        group: r.get(1)?,
        support_address: r.get(2)?,
        comment_address: r.get(3)?,
        // Written only by `put_queue` from a parsed value.
        notify: Notify::parse(&notify).unwrap_or(Notify::Config),
        cc_observers: r.get(5)?,
        strangers: Strangers::parse(&strangers).unwrap_or(Strangers::System),
        service: r.get(8)?,
        unknown_senders: UnknownSenders::parse(&unknown).unwrap_or_default(),
    })
}

/// The queues the directory manages, by name.
pub fn queues(c: &Connection) -> std::result::Result<Vec<Queue>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT q.name, g.name, q.support_address, q.comment_address, q.notify, q.cc_observers,
                q.strangers, q.unknown_senders, s.name
         FROM queues q LEFT JOIN user_groups g ON g.id = q.group_id
              LEFT JOIN services s ON s.id = q.service_id
         WHERE q.in_directory = 1 ORDER BY q.name",
    )?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The queue `name` if the directory manages it.
pub fn queue(c: &Connection, name: &str) -> std::result::Result<Option<Queue>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT q.name, g.name, q.support_address, q.comment_address, q.notify,
                    q.cc_observers, q.strangers, q.unknown_senders, s.name
             FROM queues q LEFT JOIN user_groups g ON g.id = q.group_id
                  LEFT JOIN services s ON s.id = q.service_id
             WHERE q.name = ?1 AND q.in_directory = 1",
    )?
    .query_row([name], row)
    .optional()?)
}

/// Insert or replace a queue in the directory.
pub fn put_queue(c: &Connection, q: &Queue) -> Result<()> {
    let mut q = q.clone();
    q.normalise();
    if let Some(p) = q.check().into_iter().next() {
        return Err(DirError::Invalid(p));
    }
    let group = match &q.group {
        Some(g) => Some(group_id(c, g, &format!("queue {:?}", q.name))?),
        None => None,
    };
    let service: Option<i64> = match &q.service {
        Some(s) => Some(
            c.prepare_cached("SELECT id FROM services WHERE name = ?1")?
                .query_row([s], |r| r.get(0))
                .optional()?
                .ok_or_else(|| {
                    DirError::NotFound(format!(
                        "queue {:?}: no service named {s:?} (postdesk service add {s:?})",
                        q.name
                    ))
                })?,
        ),
        None => None,
    };
    c.prepare_cached(
        "INSERT INTO queues (name, created_at, in_directory, group_id, support_address,
                             comment_address, notify, cc_observers, strangers, service_id,
                             unknown_senders)
         VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(name) DO UPDATE SET in_directory = 1, group_id = excluded.group_id,
             support_address = excluded.support_address,
             comment_address = excluded.comment_address, notify = excluded.notify,
             cc_observers = excluded.cc_observers, strangers = excluded.strangers,
             service_id = excluded.service_id, unknown_senders = excluded.unknown_senders",
    )?
    .execute(params![
        q.name,
        now_text(),
        group,
        q.support_address,
        q.comment_address,
        q.notify.as_text(),
        q.cc_observers,
        q.strangers.as_str(),
        service,
        q.unknown_senders.as_str()
    ])?;
    Ok(())
}

/// Take a queue out of the directory: it keeps its name (tickets and
/// mailboxes refer to it) and falls back to the configuration's defaults.
pub fn remove_queue(c: &Connection, name: &str) -> Result<()> {
    let n = c
        .prepare_cached(
            "UPDATE queues SET in_directory = 0, group_id = NULL, support_address = NULL,
                 comment_address = NULL, notify = 'config', cc_observers = 1, strangers = 'system',
                 service_id = NULL, unknown_senders = 'create'
             WHERE name = ?1 AND in_directory = 1",
        )?
        .execute([name])?;
    if n == 0 {
        return Err(DirError::NotFound(format!(
            "no queue named {name:?} in the directory"
        )));
    }
    Ok(())
}
