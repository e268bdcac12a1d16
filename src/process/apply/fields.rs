//! Writing what a plan changed beyond queue, state and priority — the
//! ticket's type, service, category, language and tags — and the ticket's
//! history: one `ticket_history` row per field a rule changed, tied to the
//! article that caused it. Runs inside the caller's savepoint, after the
//! ticket and its article are written.

use super::super::plan::Plan;
use super::super::Failure;
use crate::store::{history, records, ticket_fields, Db};

/// Bring `ticket` (as written so far) to the plan's type, service,
/// category, language and tags, and record the plan's changes as the
/// ticket's history, caused by `article_id`. `ticket` is updated to match.
pub(super) fn write(
    db: &Db,
    plan: &Plan,
    ticket: &mut records::TicketRef,
    article_id: i64,
) -> Result<(), Failure> {
    let Some(t) = &plan.ticket else {
        return Ok(());
    };
    let ticket_type = t.ticket_type.map(|x| x.as_str());
    if (
        ticket_type,
        t.service.as_deref(),
        t.category.as_deref(),
        t.language.as_str(),
    ) != (
        ticket.ticket_type.as_deref(),
        ticket.service.as_deref(),
        ticket.category.as_deref(),
        ticket.language.as_str(),
    ) {
        ticket_fields::set_details(
            db,
            ticket.id,
            &ticket_fields::Details {
                ticket_type,
                service: t.service.as_deref(),
                category: t.category.as_deref(),
                language: &t.language,
            },
        )?;
        ticket.ticket_type = ticket_type.map(str::to_string);
        ticket.service = t.service.clone();
        ticket.category = t.category.clone();
        ticket.language = t.language.clone();
    }
    let added: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.field == "tags")
        .filter_map(|c| c.new.as_deref())
        .collect();
    if !added.is_empty() {
        ticket_fields::add_tags(db, ticket.id, &added)?;
    }
    if let Some(from) = &t.followed_from {
        crate::store::lifecycle::set_followed_from(db, ticket.id, from)?;
    }
    for c in &plan.changes {
        history::record(db, ticket.id, Some(article_id), c)?;
    }
    Ok(())
}
