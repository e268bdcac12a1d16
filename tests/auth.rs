//! Agent authenticity on the real stack: an agents' alert carries a
//! Reply-To with a token that verifies for (ticket, agents' address); mail
//! sent to that plus-address is delivered by Postfix/Dovecot to the
//! support mailbox, routed to it, and `explain` shows the token valid (and
//! invalid from anyone else, with a warning in the log). `explain` also
//! shows which Authentication-Results header counts: ours, not a foreign
//! MTA's, not one below a foreign one.

mod common;

use common::*;
use serde_json::Value;

const OUR_MTA: &str = "mx.support.test";

/// Trust `OUR_MTA`'s Authentication-Results.
fn trust_our_mta(desk: &Desk) {
    let mut text = std::fs::read_to_string(&desk.config).unwrap();
    text.push_str(&format!("\n[auth]\nauthserv_id = [{OUR_MTA:?}]\n"));
    std::fs::write(&desk.config, text).unwrap();
}

fn explain(desk: &Desk, raw: &[u8]) -> Value {
    let out = desk.cli_stdin(&["explain", "--json", "-"], raw);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn alert_reply_to_carries_a_token_that_verifies_and_routes_mail_back_to_the_support_mailbox() {
    let mut desk = Desk::new(DeskOptions::default());
    trust_our_mta(&desk);
    let customer = desk.customer("ana");
    desk.start();
    smtp_send(
        &customer,
        &[&desk.support],
        &desk.mail(&customer, "Printer", "p1", "It does not print."),
    );
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();

    // The alert, read back over IMAP as the agents would.
    let alert = wait_for_mail(&desk.agents, "INBOX", 1, 30).remove(0);
    let reply_to = angle_address(&header(&alert, "Reply-To").expect("the alert has a Reply-To"));
    let tagged = postdesk::auth::token::parse_reply_address(&reply_to)
        .unwrap_or_else(|| panic!("{reply_to} is not a reply address"));
    assert_eq!(tagged.base, desk.support);
    assert_eq!(tagged.ticket, number);
    let key_file = postdesk::auth::key::path(&desk.path().join("state"));
    let key = postdesk::auth::key::load(&key_file)
        .unwrap()
        .expect("key made");
    assert!(postdesk::auth::token::verify(
        &key,
        &number,
        &desk.agents,
        &tagged.token
    ));
    assert!(!postdesk::auth::token::verify(
        &key,
        &number,
        &customer,
        &tagged.token
    ));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // The agents answer to the reply address: Postfix and Dovecot deliver
    // the plus-address to the support mailbox, the daemon takes it in.
    let alert_id = header(&alert, "Message-ID").unwrap();
    let answer = format!(
        "From: Agents <{agents}>\r\nTo: <{reply_to}>\r\nSubject: Re: [Ticket#{number}] Printer\r\nMessage-ID: <answer-{id}@support.test>\r\nIn-Reply-To: {alert_id}\r\n\r\nOn it.\r\n",
        agents = desk.agents,
        id = desk.id
    );
    smtp_send(&desk.agents, &[&reply_to], answer.as_bytes());
    let taken = wait_for(30, "the answer in the support mailbox's Processed", || {
        imap_messages(&desk.support, "Processed")
            .into_iter()
            .find(|m| header(m, "Message-ID").is_some_and(|i| i.contains("answer-")))
    });
    wait_for(30, "the answer on the ticket", || {
        let t = desk.json(&["ticket", "show", &number, "--json"]);
        let n = t["articles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["direction"] == "in")
            .count();
        (n == 2).then_some(())
    });

    // explain: routed to the support mailbox, the token valid for the
    // ticket and the agents' address.
    let e = explain(&desk, &taken);
    assert_eq!(e["plan"]["route"]["mailbox"], "support", "{e}");
    let token = &e["plan"]["authenticity"]["token"];
    assert_eq!(token["valid"], true, "{e}");
    assert_eq!(token["ticket"], number.as_str());
    assert_eq!(token["agent"], desk.agents.as_str());
    assert_eq!(e["facts"]["authenticity"], e["plan"]["authenticity"]);
    let plain = desk.cli_stdin(&["explain", "-"], &taken);
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(
        plain.contains("Token:    valid: issued for ticket"),
        "{plain}"
    );

    // Anyone else using that reply address: invalid, and a warning.
    let forged = answer
        .replace(
            &format!("From: Agents <{}>", desk.agents),
            &format!("From: <{customer}>"),
        )
        .replace("answer-", "forged-");
    assert_eq!(
        explain(&desk, forged.as_bytes())["plan"]["authenticity"]["token"]["valid"],
        false
    );
    smtp_send(&customer, &[&reply_to], forged.as_bytes());
    wait_for(30, "a warning about the invalid token", || {
        desk.log()
            .lines()
            .find(|l| l.contains("WARN") && l.contains("reply-address token"))
            .map(str::to_string)
    });
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn only_our_mtas_topmost_authentication_results_authenticate_a_from() {
    let desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..DeskOptions::default()
    });
    let mail = |headers: &str| {
        format!(
            "{headers}From: <{agents}>\r\nTo: {support}\r\nSubject: note\r\nMessage-ID: <n-{id}@support.test>\r\n\r\nx\r\n",
            agents = desk.agents,
            support = desk.support,
            id = desk.id
        )
        .into_bytes()
    };
    let ours = format!("Authentication-Results: {OUR_MTA};\r\n\tdkim=pass (2048-bit key) header.d=support.test header.s=mail\r\n");
    let foreign = "Authentication-Results: mx.evil.test; dkim=pass header.d=support.test\r\n";
    let auth = |e: &Value| e["plan"]["authenticity"].clone();

    // Secure default: no authserv-id configured, nothing is believed.
    let a = auth(&explain(&desk, &mail(&ours)));
    assert_eq!(a["authenticated"], Value::Null, "{a}");
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .contains("no [auth] authserv_id"),
        "{a}"
    );

    trust_our_mta(&desk);
    let a = auth(&explain(&desk, &mail(&ours)));
    assert_eq!(a["authenticated"]["method"], "dkim", "{a}");
    assert_eq!(a["authenticated"]["authserv_id"], OUR_MTA);

    // A forged header from a foreign MTA proves nothing…
    let a = auth(&explain(&desk, &mail(foreign)));
    assert_eq!(a["authenticated"], Value::Null, "{a}");
    assert_eq!(a["headers"][0]["foreign"], true);
    // …and hides ours when it sits on top.
    let a = auth(&explain(&desk, &mail(&format!("{foreign}{ours}"))));
    assert_eq!(a["authenticated"], Value::Null, "{a}");
    assert_eq!(a["headers"][1]["counted"], false);
    // Ours on top counts; a foreign one below is ignored.
    let e = explain(&desk, &mail(&format!("{ours}{foreign}")));
    assert_eq!(auth(&e)["authenticated"]["position"], 1, "{e}");
    let plain = desk.cli_stdin(&["explain", "-"], &mail(&format!("{ours}{foreign}")));
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(
        plain.contains("Sender:   authenticated: dkim=pass"),
        "{plain}"
    );
    assert!(
        plain.contains("Authentication-Results #2: authserv-id mx.evil.test is not ours"),
        "{plain}"
    );
}
