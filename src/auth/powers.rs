//! The one question the decide stage asks once agents exist: does this
//! mail carry an agent's powers (relaying replies to customers, commands,
//! internal notes)? Only when its From is an agent's address AND that
//! From is proven: by our MTA's aligned dkim/spf pass, or by a valid
//! reply token for this agent and this very ticket. Otherwise the mail is
//! an ordinary sender's, and the reason says why. Pure.

use serde::Serialize;

use super::Authenticity;

/// Whether agent powers are granted, and why (for the trace and `explain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PowerDecision {
    pub granted: bool,
    pub reason: String,
}

fn no(reason: String) -> PowerDecision {
    PowerDecision {
        granted: false,
        reason,
    }
}

/// Agent powers for a mail from `from` about `ticket` (None: it opens a
/// new ticket, where a reply token proves nothing), given the mail's
/// `evidence` and the addresses of active agents.
pub fn agent_powers(
    evidence: &Authenticity,
    from: &str,
    ticket: Option<&str>,
    agent_addresses: &[String],
) -> PowerDecision {
    let from = from.trim().to_lowercase();
    if !agent_addresses
        .iter()
        .any(|a| a.trim().eq_ignore_ascii_case(&from))
    {
        return no(format!("{from} is not an agent's address"));
    }
    if evidence.from != from {
        // Evidence about another address proves nothing about this one.
        return no(format!(
            "the authenticity evidence is about {:?}, not {from}",
            evidence.from
        ));
    }
    if let Some(p) = &evidence.authenticated {
        return PowerDecision {
            granted: true,
            reason: format!(
                "agent {from}: {}=pass for {} in the Authentication-Results of {}",
                p.method, p.domain, p.authserv_id
            ),
        };
    }
    match (&evidence.token, ticket) {
        (Some(t), Some(ticket)) if t.valid && t.agent == from && t.ticket == ticket => {
            PowerDecision {
                granted: true,
                reason: format!("agent {from}: valid reply-address token for ticket {ticket}"),
            }
        }
        (Some(t), Some(ticket)) if t.valid && t.ticket != ticket => no(format!(
            "agent address {from} not proven: the reply token is for ticket {}, the mail is about ticket {ticket}; {}",
            t.ticket, evidence.summary
        )),
        (Some(t), None) if t.valid => no(format!(
            "agent address {from} not proven: a reply token (for ticket {}) proves nothing for a new ticket; {}",
            t.ticket, evidence.summary
        )),
        (Some(t), _) => no(format!(
            "agent address {from} not proven: reply token {}; {}",
            t.said, evidence.summary
        )),
        (None, _) => no(format!(
            "agent address {from} not proven: {}",
            evidence.summary
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Pass, TokenCheck};

    const T: &str = "2026112210000017";

    fn agents() -> Vec<String> {
        vec!["alice@example.com".into(), "Bob@Example.com".into()]
    }

    fn evidence(from: &str) -> Authenticity {
        Authenticity {
            from: from.into(),
            summary: "not authenticated: no Authentication-Results header".into(),
            ..Authenticity::default()
        }
    }

    fn pass(from: &str) -> Authenticity {
        Authenticity {
            authenticated: Some(Pass {
                position: 1,
                authserv_id: "mx.example.com".into(),
                method: "dkim".into(),
                domain: "example.com".into(),
                from_domain: "example.com".into(),
            }),
            ..evidence(from)
        }
    }

    fn token(from: &str, ticket: &str, valid: bool) -> Authenticity {
        Authenticity {
            token: Some(TokenCheck {
                address: format!("support+t{ticket}-abcdefghij@example.com"),
                ticket: ticket.into(),
                agent: from.into(),
                valid,
                said: if valid { "valid" } else { "invalid: made up" }.into(),
            }),
            ..evidence(from)
        }
    }

    fn check(e: &Authenticity, from: &str, ticket: Option<&str>, granted: bool, says: &str) {
        let d = agent_powers(e, from, ticket, &agents());
        assert_eq!(d.granted, granted, "{d:?}");
        assert!(d.reason.contains(says), "{:?} lacks {says:?}", d.reason);
    }

    #[test]
    fn a_stranger_never_gets_powers_however_authenticated() {
        check(
            &pass("eve@example.com"),
            "eve@example.com",
            Some(T),
            false,
            "is not an agent's address",
        );
        check(
            &token("eve@example.com", T, true),
            "eve@example.com",
            Some(T),
            false,
            "not an agent",
        );
    }

    #[test]
    fn an_agent_authenticated_by_our_mta_gets_powers() {
        check(
            &pass("alice@example.com"),
            "alice@example.com",
            Some(T),
            true,
            "dkim=pass for example.com",
        );
        check(
            &pass("alice@example.com"),
            "Alice@Example.com",
            None,
            true,
            "mx.example.com",
        );
        check(
            &pass("bob@example.com"),
            "bob@example.com",
            None,
            true,
            "agent bob@example.com",
        );
    }

    #[test]
    fn an_agents_from_without_proof_gets_no_powers() {
        check(
            &evidence("alice@example.com"),
            "alice@example.com",
            Some(T),
            false,
            "no Authentication-Results header",
        );
    }

    #[test]
    fn evidence_about_another_address_proves_nothing() {
        check(
            &pass("eve@example.com"),
            "alice@example.com",
            Some(T),
            false,
            "evidence is about",
        );
    }

    #[test]
    fn a_valid_token_grants_powers_on_its_own_ticket_only() {
        let e = token("alice@example.com", T, true);
        check(
            &e,
            "alice@example.com",
            Some(T),
            true,
            "valid reply-address token for ticket",
        );
        check(
            &e,
            "alice@example.com",
            Some("2026112210000025"),
            false,
            "the mail is about ticket 2026112210000025",
        );
        check(
            &e,
            "alice@example.com",
            None,
            false,
            "proves nothing for a new ticket",
        );
    }

    #[test]
    fn an_invalid_token_or_one_for_another_agent_grants_nothing() {
        check(
            &token("alice@example.com", T, false),
            "alice@example.com",
            Some(T),
            false,
            "invalid: made up",
        );
        // Valid for bob, but the mail is alice's: the evidence is about bob.
        check(
            &token("bob@example.com", T, true),
            "alice@example.com",
            Some(T),
            false,
            "evidence is about",
        );
    }
}
