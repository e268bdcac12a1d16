//! What an import changes in a plan: an archive is history, so by default
//! nothing is sent for it. Every notification the decision wanted is held
//! back with the reason (visible in the trace and the log), and nothing is
//! counted toward the auto-reply or alert brakes. `import --notify` skips
//! this and sends as for live mail.

use super::plan::Plan;

/// Why an imported mail sends nothing.
pub const HELD_BACK: &str = "imported from an archive: nothing is sent (`import --notify` sends)";

/// Hold back every notification of `plan` (an imported mail's).
pub(super) fn hold_back_notifications(plan: &mut Plan) {
    let mut held = 0;
    for n in plan
        .notifications
        .iter_mut()
        .filter(|n| n.suppressed.is_none())
    {
        n.suppressed = Some(HELD_BACK.to_string());
        n.note_if_suppressed = false;
        held += 1;
    }
    if held > 0 {
        plan.note(
            "import",
            format!("{held} notification(s) held back: {HELD_BACK}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Kind;
    use crate::process::plan::{Disposition, Notification, Route};

    fn notification(kind: Kind, suppressed: Option<&str>) -> Notification {
        Notification {
            kind,
            to: vec!["c@example.org".into()],
            from_mailbox: "support".into(),
            language: "en".into(),
            suppressed: suppressed.map(str::to_string),
            held: None,
            note_if_suppressed: true,
            is_agents_alert: kind != Kind::AutoReply,
            template: None,
        }
    }

    #[test]
    fn every_notification_is_held_back_and_earlier_reasons_kept() {
        let mut plan = Plan {
            notifications: vec![
                notification(Kind::AutoReply, None),
                notification(Kind::AgentNewTicket, Some("alert cap reached")),
            ],
            ..Plan::new(
                Route {
                    mailbox: Some("support".into()),
                    address: None,
                    received_by: None,
                    reason: String::new(),
                },
                Disposition::NewTicket { quoted: None },
            )
        };
        hold_back_notifications(&mut plan);
        assert_eq!(plan.notifications[0].suppressed.as_deref(), Some(HELD_BACK));
        assert!(!plan.notifications[0].note_if_suppressed);
        assert_eq!(
            plan.notifications[1].suppressed.as_deref(),
            Some("alert cap reached")
        );
        assert_eq!(plan.trace.len(), 1);
        assert!(plan.trace[0]
            .said
            .starts_with("1 notification(s) held back"));
    }
}
