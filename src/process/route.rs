//! Routing: which `[[mailbox]]` serves a mail, and so its queue, the
//! ticket's support address, the sender of our replies and the default
//! language. Pure; [`super::decide`] calls it first. Rules may change the
//! queue afterwards.

use super::plan::Route;
use crate::config::{Config, Mailbox as MailboxConfig, OwnAddresses};
use crate::mail::InboundMail;

/// The mailbox serving a mail. The stated rule for mail that reached
/// several support addresses: the first support address in To, then in
/// Cc, in header order, wins, whichever copy is at hand, so every copy
/// routes the same way (the later copies are then duplicates). Mail that
/// names no support address in To or Cc (Bcc, a forward, an alias) goes to
/// the mailbox it came through, else the one named in Delivered-To, else
/// the first configured.
pub fn route(config: &Config, mail: &InboundMail, received_by: Option<&str>) -> Route {
    let received = received_by.map(str::to_string);
    let done = |mb: &MailboxConfig, reason: String| Route {
        mailbox: Some(mb.name.clone()),
        address: Some(mb.address.clone()),
        received_by: received.clone(),
        reason,
    };
    if let Some(name) = received_by {
        if config.mailbox(name).is_none() {
            return Route {
                mailbox: None,
                address: None,
                received_by: received.clone(),
                reason: format!(
                    "no [[mailbox]] named {name:?} in {} (was it renamed?)",
                    config.source.display()
                ),
            };
        }
    }
    // The support address itself, or it with a `+tag` (a reply address
    // carrying a token, `support+t…-…@`: `auth::token`).
    let by_address = |a: &str| {
        config
            .mailboxes
            .iter()
            .find(|mb| mb.address == a)
            .or_else(|| {
                let k = OwnAddresses::key(a);
                config
                    .mailboxes
                    .iter()
                    .find(|mb| OwnAddresses::key(&mb.address) == k)
            })
    };
    for (header, list) in [("To", &mail.to), ("Cc", &mail.cc)] {
        if let Some((a, mb)) = list
            .iter()
            .find_map(|a| by_address(&a.address).map(|mb| (&a.address, mb)))
        {
            return done(
                mb,
                format!(
                    "{a} is the first support address in {header}: mailbox {} (queue {})",
                    mb.name, mb.queue
                ),
            );
        }
    }
    if let Some(mb) = received_by.and_then(|n| config.mailbox(n)) {
        return done(
            mb,
            format!(
                "no support address in To or Cc: the mailbox it came through, {} (queue {})",
                mb.name, mb.queue
            ),
        );
    }
    if let Some((a, mb)) = mail
        .delivered_to
        .iter()
        .find_map(|a| by_address(a).map(|mb| (a, mb)))
    {
        return done(
            mb,
            format!(
                "no support address in To or Cc: Delivered-To {a}, mailbox {} (queue {})",
                mb.name, mb.queue
            ),
        );
    }
    match config.mailboxes.first() {
        Some(mb) => done(
            mb,
            format!(
                "no support address among the recipients: the first [[mailbox]], {} (queue {})",
                mb.name, mb.queue
            ),
        ),
        None => Route {
            mailbox: None,
            address: None,
            received_by: received.clone(),
            reason: "no [[mailbox]] is configured".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::decide::tests::{config, mail, plan};
    use crate::process::facts::Facts;
    use crate::process::plan::Disposition;

    fn routed(m: &InboundMail, received: Option<&str>) -> Option<String> {
        route(&config(), m, received).mailbox
    }

    #[test]
    fn routing_first_support_address_in_to_then_cc_wins_whichever_copy() {
        let both = mail(
            "ana@customer.test",
            &[
                "someone@customer.test",
                "ventes@example.com",
                "support@example.com",
            ],
            &[],
            "Both",
        );
        // Whichever mailbox the copy came through, the same mailbox serves it.
        for received in [Some("support"), Some("ventes"), None] {
            assert_eq!(
                routed(&both, received).as_deref(),
                Some("ventes"),
                "{received:?}"
            );
        }
        let p = plan(&Facts::default(), &both, Some("support"));
        assert_eq!(p.ticket.as_ref().unwrap().queue, "ventes");
        assert_eq!(p.route.received_by.as_deref(), Some("support"));
        assert!(p.route.reason.contains("first support address in To"));

        // To before Cc.
        let cc = mail(
            "ana@customer.test",
            &["support@example.com"],
            &["ventes@example.com"],
            "x",
        );
        assert_eq!(routed(&cc, Some("ventes")).as_deref(), Some("support"));
        let only_cc = mail(
            "ana@customer.test",
            &["x@y.test"],
            &["ventes@example.com"],
            "x",
        );
        assert_eq!(routed(&only_cc, Some("support")).as_deref(), Some("ventes"));

        // No support address in To or Cc (Bcc): the mailbox it came through,
        // else Delivered-To, else the first mailbox.
        let mut bcc = mail("ana@customer.test", &["x@y.test"], &[], "x");
        assert_eq!(routed(&bcc, Some("ventes")).as_deref(), Some("ventes"));
        assert_eq!(routed(&bcc, None).as_deref(), Some("support"));
        bcc.delivered_to = vec!["ventes@example.com".into()];
        assert_eq!(routed(&bcc, None).as_deref(), Some("ventes"));

        // A mailbox since renamed: quarantined, with the reason.
        let p = plan(&Facts::default(), &bcc, Some("gone"));
        match p.disposition {
            Disposition::Quarantine { reason } => assert!(reason.contains("\"gone\""), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_plus_addressed_support_address_routes_to_its_mailbox() {
        // A reply to an agents' alert goes to support+t<ticket>-<token>@.
        let reply = mail(
            "alice@example.com",
            &["ventes+t2026112210000017-abcdefghij@Example.com"],
            &[],
            "Re: x",
        );
        assert_eq!(routed(&reply, Some("support")).as_deref(), Some("ventes"));
        assert_eq!(routed(&reply, None).as_deref(), Some("ventes"));
        let mut piped = mail("alice@example.com", &["x@y.test"], &[], "x");
        piped.delivered_to = vec!["ventes+t2026112210000017-abcdefghij@example.com".into()];
        assert_eq!(routed(&piped, None).as_deref(), Some("ventes"));
    }
}
