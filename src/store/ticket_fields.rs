//! A ticket's descriptive fields as the apply stage writes them: type,
//! service, category and language (columns of `tickets`) and its tags (a
//! set, `ticket_tags`), and the tags read back for deciding and showing.
//! Every function takes the caller's transaction (or savepoint).

use rusqlite::{params, Connection};

use super::{now_text, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// A ticket's descriptive fields as a plan leaves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Details<'a> {
    /// `incident`, `request`, `problem` or `change`.
    pub ticket_type: Option<&'a str>,
    /// A hierarchical name such as `Email::Outlook`.
    pub service: Option<&'a str>,
    pub category: Option<&'a str>,
    pub language: &'a str,
}

/// Set a ticket's type, service, category and language.
pub fn set_details(c: &Connection, ticket_id: i64, d: &Details) -> Result<()> {
    c.prepare_cached(
        "UPDATE tickets SET ticket_type = ?2, service = ?3, category = ?4, language = ?5,
             updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        ticket_id,
        d.ticket_type,
        d.service,
        d.category,
        d.language,
        now_text()
    ])?;
    Ok(())
}

/// Add `tags` to a ticket (a tag it has already stays once).
pub fn add_tags(c: &Connection, ticket_id: i64, tags: &[&str]) -> Result<()> {
    let mut st = c.prepare_cached(
        "INSERT INTO ticket_tags (ticket_id, tag) VALUES (?1, ?2)
         ON CONFLICT (ticket_id, tag) DO NOTHING",
    )?;
    for tag in tags {
        st.execute(params![ticket_id, tag])?;
    }
    Ok(())
}

/// A ticket's tags, in order.
pub fn tags(c: &Connection, ticket_id: i64) -> Result<Vec<String>> {
    let mut st =
        c.prepare_cached("SELECT tag FROM ticket_tags WHERE ticket_id = ?1 ORDER BY tag")?;
    let rows = st.query_map([ticket_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records;

    #[test]
    fn details_and_tags_are_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, id) = crate::store::tests::store_with_ticket(dir.path());
        let c = s.conn();
        set_details(
            c,
            id,
            &Details {
                ticket_type: Some("incident"),
                service: Some("Email::Outlook"),
                category: None,
                language: "pt",
            },
        )
        .unwrap();
        let t = records::ticket_by_number(c, "1").unwrap().unwrap();
        assert_eq!(
            (
                t.ticket_type.as_deref(),
                t.service.as_deref(),
                t.category,
                t.language.as_str()
            ),
            (Some("incident"), Some("Email::Outlook"), None, "pt")
        );
        add_tags(c, id, &["vip", "billing"]).unwrap();
        add_tags(c, id, &["billing"]).unwrap();
        assert_eq!(tags(c, id).unwrap(), ["billing", "vip"]);
        // The type is one of four.
        assert!(set_details(
            c,
            id,
            &Details {
                ticket_type: Some("bug"),
                service: None,
                category: None,
                language: "en",
            },
        )
        .is_err());
    }
}
