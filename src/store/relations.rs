//! Relations between tickets (issue 11, items 7 and 8), in SQL: a merge
//! (articles, Message-IDs and participants moved, the merged ticket
//! marked), links both ways, and the reads the relations' facts need (a
//! ticket by id, where a merged ticket went, a ticket's requesters, the
//! incidents linked to a problem or change, the history a transfer
//! forwards). Migration 18 (`schema_v18_relations.sql`).

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::records::{ticket_row, TicketRef, TICKET_COLS};
use super::{now_text, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// The ticket with this id.
pub fn ticket_by_id(c: &Connection, id: i64) -> Result<Option<TicketRef>> {
    let sql = format!(
        "SELECT {TICKET_COLS} FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.id = ?1"
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([id], ticket_row)
        .optional()?)
}

/// The ticket `ticket_id` was merged into, if it was.
pub fn merged_into(c: &Connection, ticket_id: i64) -> Result<Option<i64>> {
    Ok(
        c.prepare_cached("SELECT merged_into FROM tickets WHERE id = ?1")?
            .query_row([ticket_id], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten(),
    )
}

/// At most this many merges are followed from one ticket to the last
/// (a longer chain is refused as damaged data rather than walked).
pub const MAX_MERGE_HOPS: usize = 16;

/// The ticket mail for `ticket` belongs to: itself, or the last ticket of
/// its chain of merges. Returns the ticket and the numbers passed through
/// (empty when it was not merged).
pub fn follow_merges(c: &Connection, ticket: TicketRef) -> Result<(TicketRef, Vec<String>)> {
    let mut at = ticket;
    let mut passed = Vec::new();
    for _ in 0..MAX_MERGE_HOPS {
        let Some(next) = merged_into(c, at.id)? else {
            return Ok((at, passed));
        };
        let Some(t) = ticket_by_id(c, next)? else {
            return Ok((at, passed));
        };
        passed.push(at.number.clone());
        at = t;
    }
    Ok((at, passed))
}

/// Merge ticket `from` into ticket `into`: its articles and Message-IDs
/// move (so replies to them thread to `into`), its participants are added
/// to `into` (an address already there keeps its role there) and leave
/// `from`, which is marked merged. The caller's transaction holds it.
pub fn merge(c: &Connection, from: i64, into: i64) -> Result<()> {
    let now = now_text();
    c.prepare_cached("UPDATE articles SET ticket_id = ?2 WHERE ticket_id = ?1")?
        .execute(params![from, into])?;
    c.prepare_cached("UPDATE message_ids SET ticket_id = ?2 WHERE ticket_id = ?1")?
        .execute(params![from, into])?;
    c.prepare_cached(
        "INSERT OR IGNORE INTO ticket_participants (ticket_id, address, name, role)
         SELECT ?2, address, name, role FROM ticket_participants WHERE ticket_id = ?1",
    )?
    .execute(params![from, into])?;
    c.prepare_cached("DELETE FROM ticket_participants WHERE ticket_id = ?1")?
        .execute([from])?;
    c.prepare_cached("UPDATE tickets SET merged_into = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![from, into, now])?;
    c.prepare_cached("UPDATE tickets SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![into, now])?;
    Ok(())
}

/// Record "`other` is `ticket`'s `kind`" (kinds as stored: `parent`,
/// `problem`, `change`, `related`; `follow_up` is the lifecycle's, see
/// [`super::lifecycle::set_followed_from`]). Returns false when it was there.
pub fn link(c: &Connection, ticket: i64, other: i64, kind: &str, by: &str) -> Result<bool> {
    let n = c
        .prepare_cached(
            "INSERT OR IGNORE INTO ticket_links (ticket_id, other_id, kind, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![ticket, other, kind, now_text(), by])?;
    Ok(n > 0)
}

/// Remove a link. Returns false when there was none.
pub fn unlink(c: &Connection, ticket: i64, other: i64, kind: &str) -> Result<bool> {
    let n = c
        .prepare_cached(
            "DELETE FROM ticket_links WHERE ticket_id = ?1 AND other_id = ?2 AND kind = ?3",
        )?
        .execute(params![ticket, other, kind])?;
    Ok(n > 0)
}

/// One link as `ticket show` lists it, seen from the ticket shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkView {
    /// What the other ticket is to this one: `parent`, `child`,
    /// `problem`, `change`, `incident` (this one is its problem or
    /// change), `related`, `follow_up` (a customer's reply to the other,
    /// closed, ticket opened this one) or `followed_up_by` (the other is
    /// such a follow-up of this one).
    pub role: String,
    pub number: String,
    pub subject: String,
    pub state: String,
    pub created_at: String,
    pub created_by: String,
}

/// At most this many links are listed or read per ticket.
pub const MAX_LINKS: i64 = 500;

/// A ticket's links both ways: the rows it holds, then those pointing at it.
pub fn links_of(c: &Connection, ticket_id: i64) -> Result<Vec<LinkView>> {
    let row = |r: &rusqlite::Row| {
        Ok(LinkView {
            role: r.get(0)?,
            number: r.get(1)?,
            subject: r.get(2)?,
            state: r.get(3)?,
            created_at: r.get(4)?,
            created_by: r.get(5)?,
        })
    };
    let mut out: Vec<LinkView> = c
        .prepare_cached(
            "SELECT l.kind, t.number, t.subject, t.state, l.created_at, l.created_by
             FROM ticket_links l JOIN tickets t ON t.id = l.other_id
             WHERE l.ticket_id = ?1 ORDER BY l.created_at, l.rowid LIMIT ?2",
        )?
        .query_map(params![ticket_id, MAX_LINKS], row)?
        .collect::<rusqlite::Result<_>>()?;
    let back: Vec<LinkView> = c
        .prepare_cached(
            "SELECT CASE l.kind WHEN 'parent' THEN 'child' WHEN 'related' THEN 'related'
                    WHEN 'follow_up' THEN 'followed_up_by' ELSE 'incident' END,
                    t.number, t.subject, t.state, l.created_at, l.created_by
             FROM ticket_links l JOIN tickets t ON t.id = l.ticket_id
             WHERE l.other_id = ?1 ORDER BY l.created_at, l.rowid LIMIT ?2",
        )?
        .query_map(params![ticket_id, MAX_LINKS], row)?
        .collect::<rusqlite::Result<_>>()?;
    out.extend(back);
    Ok(out)
}

/// The tickets linked to `ticket_id` as incidents of it (it is their
/// problem or change), with their requesters' addresses.
pub fn linked_incidents(c: &Connection, ticket_id: i64) -> Result<Vec<(TicketRef, Vec<String>)>> {
    let mut stmt = c.prepare_cached(
        "SELECT ticket_id FROM ticket_links WHERE other_id = ?1 AND kind IN ('problem', 'change')
         ORDER BY ticket_id",
    )?;
    let ids: Vec<i64> =
        super::first_rows(&mut stmt, [ticket_id], MAX_LINKS as usize, |r| r.get(0))?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(t) = ticket_by_id(c, id)? {
            let who = requesters(c, id)?;
            out.push((t, who));
        }
    }
    Ok(out)
}

/// A ticket's requesters' addresses.
pub fn requesters(c: &Connection, ticket_id: i64) -> Result<Vec<String>> {
    Ok(c.prepare_cached(
        "SELECT address FROM ticket_participants WHERE ticket_id = ?1 AND role = 'requester'
             ORDER BY rowid",
    )?
    .query_map([ticket_id], |r| r.get(0))?
    .collect::<rusqlite::Result<_>>()?)
}

/// One article of the history a transfer forwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryArticle {
    pub created_at: String,
    /// `in` or `out`.
    pub direction: String,
    pub from: String,
    pub subject: String,
    /// The new part of the text (quoted history cut).
    pub text: String,
}

/// At most this many articles (the newest) go with a transfer.
pub const MAX_TRANSFER_ARTICLES: i64 = 50;

/// The ticket's articles a transfer forwards, oldest first: customers'
/// mail and agents' replies; internal notes, machines' mail and our
/// automatic mail (auto-replies, alerts) stay here.
pub fn transfer_history(c: &Connection, ticket_id: i64) -> Result<Vec<HistoryArticle>> {
    let mut v: Vec<HistoryArticle> = c
        .prepare_cached(
            "SELECT created_at, direction, from_address, subject, body_text, new_text_end
             FROM articles WHERE ticket_id = ?1 AND internal = 0
               AND ((direction = 'in' AND kind = 'customer')
                    OR (direction = 'out' AND kind = 'agent_reply'))
             ORDER BY id DESC LIMIT ?2",
        )?
        .query_map(params![ticket_id, MAX_TRANSFER_ARTICLES], |r| {
            let text: String = r.get(4)?;
            let end: Option<i64> = r.get(5)?;
            Ok(HistoryArticle {
                created_at: r.get(0)?,
                direction: r.get(1)?,
                from: r.get(2)?,
                subject: r.get(3)?,
                text: new_part(text, end),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    v.reverse();
    Ok(v)
}

/// The part of `text` before byte `end` (where quoted history begins), or
/// all of it when `end` is not a boundary inside it.
fn new_part(mut text: String, end: Option<i64>) -> String {
    if let Some(end) = end.and_then(|e| usize::try_from(e).ok()) {
        if end < text.len() && text.is_char_boundary(end) {
            text.truncate(end);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{self, NewTicket};
    use crate::store::tests::store_with_ticket;

    fn second(c: &Connection, number: &str, customer: &str) -> i64 {
        records::insert_ticket(
            c,
            &NewTicket {
                number,
                subject: "t",
                state: "open",
                urgency: 3,
                impact: 3,
                priority: 3,
                priority_explicit: false,
                queue: "support",
                customer_address: customer,
                customer_name: None,
                support_address: "s@x.test",
                language: "en",
            },
        )
        .unwrap()
    }

    #[test]
    fn a_merge_moves_articles_ids_and_people_and_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, a) = store_with_ticket(dir.path());
        let c = s.conn();
        let b = second(c, "2", "b@x.test");
        let z = second(c, "3", "z@x.test");
        records::add_participant(c, a, "a@x.test", None, "requester").unwrap();
        records::add_participant(c, a, "b@x.test", None, "observer").unwrap();
        records::add_participant(c, b, "b@x.test", None, "requester").unwrap();
        let art = records::insert_article(
            c,
            &records::NewArticle {
                ticket_id: a,
                trusted: true,
                direction: "in",
                kind: "customer",
                from_address: "a@x.test",
                from_name: None,
                to: "s@x.test",
                cc: "",
                subject: "s",
                text: "new part\n> quoted",
                html: None,
                message_id: Some("m1@x.test"),
                in_reply_to: None,
                automatic: None,
                class: None,
                raw_id: None,
            },
        )
        .unwrap();
        records::set_new_text_end(c, art, Some(9)).unwrap();
        assert_eq!(transfer_history(c, a).unwrap()[0].text, "new part\n");

        merge(c, a, b).unwrap();
        let t = |id| ticket_by_id(c, id).unwrap().unwrap();
        assert_eq!(
            records::ticket_by_message_ids(c, &["m1@x.test".into()])
                .unwrap()
                .unwrap()
                .id,
            b
        );
        assert_eq!(requesters(c, b).unwrap(), vec!["b@x.test", "a@x.test"]);
        assert!(requesters(c, a).unwrap().is_empty());
        assert_eq!(transfer_history(c, b).unwrap().len(), 1);
        assert_eq!(merged_into(c, a).unwrap(), Some(b));
        // A chain is followed to its end.
        merge(c, b, z).unwrap();
        let (end, via) = follow_merges(c, t(a)).unwrap();
        assert_eq!((end.id, via), (z, vec!["1".to_string(), "2".to_string()]));
        let (end, via) = follow_merges(c, t(z)).unwrap();
        assert_eq!((end.id, via.len()), (z, 0));
    }

    #[test]
    fn links_read_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, a) = store_with_ticket(dir.path());
        let c = s.conn();
        let b = second(c, "2", "b@x.test");
        records::add_participant(c, a, "a@x.test", None, "requester").unwrap();
        assert!(link(c, a, b, "problem", "alice").unwrap());
        assert!(!link(c, a, b, "problem", "alice").unwrap());
        assert!(link(c, b, a, "parent", "alice").unwrap());
        let roles = |id| -> Vec<(String, String)> {
            links_of(c, id)
                .unwrap()
                .into_iter()
                .map(|l| (l.role, l.number))
                .collect()
        };
        assert_eq!(
            roles(a),
            vec![("problem".into(), "2".into()), ("child".into(), "2".into())]
        );
        assert_eq!(
            roles(b),
            vec![
                ("parent".into(), "1".into()),
                ("incident".into(), "1".into())
            ]
        );
        let incidents = linked_incidents(c, b).unwrap();
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].0.id, a);
        assert_eq!(incidents[0].1, vec!["a@x.test".to_string()]);
        assert!(unlink(c, a, b, "problem").unwrap());
        assert!(!unlink(c, a, b, "problem").unwrap());
        assert!(linked_incidents(c, b).unwrap().is_empty());
    }
}
