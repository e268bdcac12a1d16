//! `postdesk ticket history NUMBER [--json]`: what changed on a ticket,
//! oldest first — the rows the apply stage writes into `ticket_history`
//! for every change a rule, an agent, a command, the scheduler or the
//! system made — and the same lines under "History:" in `ticket show`.

use std::io::Write;

use postdesk::store::history::Entry;
use postdesk::store::views::TicketDetail;
use serde::Serialize;

use super::output::Stdout;

/// `--json`: the ticket and its changes.
#[derive(Serialize)]
struct History<'a> {
    ticket: &'a str,
    history: &'a [Entry],
}

pub fn print(out: &mut Stdout, t: &TicketDetail, json: bool) -> anyhow::Result<()> {
    if json {
        return out.json(&History {
            ticket: &t.number,
            history: &t.history,
        });
    }
    if t.history.is_empty() {
        writeln!(out, "no changes recorded on ticket {}", t.number)?;
        return Ok(());
    }
    writeln!(out, "Ticket {}: {}", t.number, t.subject)?;
    lines(out, &t.history)?;
    Ok(())
}

/// One line per change: when, who (kind and name), the field, old → new,
/// and the mail that caused it.
pub fn lines(out: &mut impl Write, history: &[Entry]) -> std::io::Result<()> {
    for h in history {
        writeln!(out, "  {}", line(h))?;
    }
    Ok(())
}

fn line(h: &Entry) -> String {
    let change = match (&h.old, &h.new) {
        (Some(o), Some(n)) => format!("{o} → {n}"),
        (None, Some(n)) => format!("→ {n}"),
        (Some(o), None) => format!("{o} → (none)"),
        (None, None) => "(none)".into(),
    };
    let by = match h.article_id {
        Some(a) => format!(" (mail #{a})"),
        None => String::new(),
    };
    format!(
        "{}  {} {}: {} {change}{by}",
        h.at, h.actor_kind, h.actor, h.field
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(old: Option<&str>, new: Option<&str>, article: Option<i64>) -> Entry {
        Entry {
            at: "2026-12-01T10:00:00Z".into(),
            article_id: article,
            actor_kind: "rule".into(),
            actor: "vip".into(),
            field: "urgency".into(),
            old: old.map(str::to_string),
            new: new.map(str::to_string),
        }
    }

    #[test]
    fn a_line_says_when_who_what_and_why() {
        assert_eq!(
            line(&entry(Some("3"), Some("4"), Some(12))),
            "2026-12-01T10:00:00Z  rule vip: urgency 3 → 4 (mail #12)"
        );
        assert_eq!(
            line(&entry(None, Some("vip"), None)),
            "2026-12-01T10:00:00Z  rule vip: urgency → vip"
        );
        assert_eq!(
            line(&entry(Some("x"), None, None)),
            "2026-12-01T10:00:00Z  rule vip: urgency x → (none)"
        );
    }
}
