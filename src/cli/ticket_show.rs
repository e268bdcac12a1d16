//! `postdesk ticket show` in plain text: the ticket's fields, actors,
//! links, articles, history and refused mail, as a person reads them.

use std::io::Write;

use postdesk::store::relations::LinkView;
use postdesk::store::views;

pub(super) fn print_ticket(out: &mut impl Write, t: &views::TicketDetail) -> std::io::Result<()> {
    writeln!(
        out,
        "Ticket {}  [{}]  queue {}  priority {}{}  (urgency {}, impact {})",
        t.number,
        t.state,
        t.queue,
        t.priority,
        if t.priority_explicit { " (set)" } else { "" },
        t.urgency,
        t.impact
    )?;
    writeln!(out, "Subject:  {}", t.subject)?;
    if let Some(m) = &t.merged_into {
        writeln!(out, "Merged:   into ticket {m} (its mail lands there)")?;
    }
    match &t.customer_name {
        Some(name) => writeln!(out, "Customer: {} ({name})", t.customer)?,
        None => writeln!(out, "Customer: {}", t.customer)?,
    }
    writeln!(
        out,
        "Created:  {}   Updated: {}",
        t.created_at, t.updated_at
    )?;
    print_actors(out, t)?;
    if let Some(old) = &t.followed_from {
        writeln!(
            out,
            "Follows:  ticket {old} (closed; a reply to it opened this one)"
        )?;
    }
    let fields = [
        ("type", t.ticket_type.clone()),
        ("service", t.service.clone()),
        ("category", t.category.clone()),
        ("tags", (!t.tags.is_empty()).then(|| t.tags.join(", "))),
    ];
    let set: Vec<String> = fields
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
        .collect();
    if !set.is_empty() {
        writeln!(out, "Fields:   {}", set.join("; "))?;
    }
    let links = link_lines(&t.links, t.followed_from.as_deref());
    if !links.is_empty() {
        writeln!(out, "Links:")?;
        for l in links {
            writeln!(out, "{l}")?;
        }
    }
    if !t.history.is_empty() {
        writeln!(out, "History:")?;
        super::ticket_history::lines(out, &t.history)?;
    }
    if !t.refused.is_empty() {
        writeln!(out, "Refused:")?;
        for r in &t.refused {
            let why = match r.reason.as_str() {
                "follow_up_refused" => "a reply while it was closed",
                _ => "quoted it without a right to it",
            };
            let answer = match &r.held {
                None if r.answered => "refusal sent".to_string(),
                None => "no refusal".to_string(),
                Some(why) => format!("no refusal: {why}"),
            };
            writeln!(
                out,
                "  {}  {}: {} ({why}; {answer})",
                r.created_at, r.address, r.subject
            )?;
        }
    }
    for a in &t.articles {
        writeln!(out)?;
        write!(
            out,
            "--- #{} {} {} from {} at {}",
            a.id,
            if a.direction == "in" { "<-" } else { "->" },
            a.kind,
            a.from,
            a.created_at,
        )?;
        if a.internal {
            write!(out, " [internal]")?;
        }
        match &a.delivery {
            Some(d) => writeln!(out, " [{d}]")?,
            None => writeln!(out)?,
        }
        match (&a.class, &a.automatic) {
            (Some(class), Some(why)) => writeln!(out, "Class: {class} ({why})")?,
            (Some(class), None) => writeln!(out, "Class: {class}")?,
            (None, Some(why)) => writeln!(out, "Automatic: {why}")?,
            (None, None) => {}
        }
        if let Some(why) = &a.unverified {
            writeln!(out, "UNVERIFIED: {why}")?;
        }
        for note in a.note.iter().flat_map(|n| n.lines()) {
            writeln!(out, "Note: {note}")?;
        }
        writeln!(out, "To: {}", a.to.join(", "))?;
        writeln!(out, "Subject: {}", a.subject)?;
        for att in &a.attachments {
            writeln!(
                out,
                "Attachment: {} ({}, {} bytes)",
                att.filename, att.content_type, att.size
            )?;
        }
        writeln!(out)?;
        // Agents read the new part; the quoted rest is counted, and
        // `--json` carries the full text.
        match a.new_text_end.filter(|&e| a.text.is_char_boundary(e)) {
            Some(end) => {
                writeln!(out, "{}", a.text[..end].trim_end())?;
                let hidden = a.text[end..].trim().lines().count();
                writeln!(
                    out,
                    "[{hidden} more lines of quoted text or signature not shown; --json has them]"
                )?;
            }
            None => writeln!(out, "{}", a.text.trim_end())?,
        }
    }
    Ok(())
}

/// The ticket's actors (GLPI): requesters, observers, assigned agent and
/// group.
fn print_actors(out: &mut impl Write, t: &views::TicketDetail) -> std::io::Result<()> {
    let who = |roles: &[&str]| {
        t.participants
            .iter()
            .filter(|p| roles.contains(&p.role.as_str()))
            .map(|p| match &p.name {
                Some(n) => format!("{n} <{}>", p.address),
                None => p.address.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let requesters = who(&["requester"]);
    if !requesters.is_empty() {
        writeln!(out, "Requesters: {requesters}")?;
    }
    let observers = who(&["observer", "cc"]);
    if !observers.is_empty() {
        writeln!(out, "Observers:  {observers}")?;
    }
    let dash = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "Assigned:   agent {}, group {}",
        dash(&t.assigned_agent),
        dash(&t.assigned_group)
    )
}

/// The lines under "Links:", roles in one column as wide as the longest;
/// the `follow_up` link to `follows` is left out (the "Follows:" line
/// says it, and why).
fn link_lines(links: &[LinkView], follows: Option<&str>) -> Vec<String> {
    let shown: Vec<&LinkView> = links
        .iter()
        .filter(|l| !(l.role == "follow_up" && Some(l.number.as_str()) == follows))
        .collect();
    let width = shown.iter().map(|l| l.role.len()).max().unwrap_or(0);
    shown
        .iter()
        .map(|l| {
            format!(
                "  {:<width$}  {}  [{}]  {}",
                l.role, l.number, l.state, l.subject
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(role: &str, number: &str) -> LinkView {
        LinkView {
            role: role.into(),
            number: number.into(),
            subject: "Printer".into(),
            state: "open".into(),
            created_at: "2026-12-01T10:00:00Z".into(),
            created_by: "operator".into(),
        }
    }

    #[test]
    fn links_line_up_and_the_follow_up_is_said_once() {
        let links = [
            link("follow_up", "2026120110000011"),
            link("parent", "2026120110000012"),
            link("followed_up_by", "2026120110000013"),
        ];
        assert_eq!(
            link_lines(&links, Some("2026120110000011")),
            [
                "  parent          2026120110000012  [open]  Printer",
                "  followed_up_by  2026120110000013  [open]  Printer",
            ]
        );
        assert_eq!(link_lines(&links, None).len(), 3);
        assert!(link_lines(&[], None).is_empty());
    }
}
