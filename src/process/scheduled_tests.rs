//! The scheduler's decision as data: due or not by the stored times, and
//! what a validation writes and sends.

use super::*;
use crate::config::Config;
use crate::notify::Kind;
use crate::process::decide::tests::{config, ticket};
use crate::process::plan::NoRules;
use crate::threading::Numbering;
use crate::tickets::lifecycle::{Lifecycle, QueuePolicy};

fn validating(days: u32) -> Config {
    let mut c = config();
    let d = Lifecycle::default();
    c.lifecycle = Lifecycle::new(
        d.states().to_vec(),
        crate::tickets::lifecycle::strict_matrix(),
        QueuePolicy {
            validate_after_days: Some(days),
            ..QueuePolicy::default()
        },
        Default::default(),
        ("resolved".into(), "validated".into()),
    )
    .unwrap();
    c
}

fn decide(c: &Config, state: &str, idle_days: i64) -> Option<Scheduled> {
    let own = c.own_addresses();
    let numbering = Numbering::new(&c.system.ticket_tag, c.system.system_id);
    let s = Settings {
        config: c,
        own: &own,
        numbering: &numbering,
        rules: &NoRules,
    };
    let now = Utc::now();
    let people = vec![
        ("ana@customer.test".to_string(), "requester".to_string()),
        ("agents@example.com".to_string(), "observer".to_string()),
    ];
    plan(
        &ticket(state),
        now - chrono::Duration::days(idle_days),
        now,
        &people,
        &[],
        &s,
    )
}

#[test]
fn a_resolved_ticket_is_validated_once_its_days_have_passed() {
    let c = validating(7);
    assert_eq!(decide(&c, "resolved", 6), None);
    assert_eq!(decide(&c, "open", 30), None, "only resolved tickets");
    let p = decide(&c, "resolved", 7).unwrap();
    assert_eq!(p.to, "validated");
    assert_eq!(
        p.change,
        Change {
            actor_kind: ActorKind::Scheduler,
            actor: ACTOR.into(),
            field: "state",
            old: Some("resolved".into()),
            new: Some("validated".into()),
        }
    );
    let n = p.notification.unwrap();
    assert_eq!(n.kind, Kind::StateChanged);
    assert_eq!(n.to, ["ana@customer.test"], "never our own addresses");
    assert_eq!(n.suppressed, None);
    assert!(p.said[0].contains("7 day(s) without a customer's reply"));
}

#[test]
fn no_days_configured_never_validates_and_zero_validates_at_once() {
    assert_eq!(decide(&config(), "resolved", 10_000), None);
    assert!(decide(&validating(0), "resolved", 0).is_some());
}
