//! Agents' commands by mail and from the command line, on the real stack
//! (issue 11, items 3, 5, 11 and 12): commands apply and the transcript
//! arrives in the agent's mailbox; a mail of commands only sends nothing
//! to the customer; `help` gets the reference; an unauthenticated "agent"
//! changes nothing and is never answered; two agents answering at once
//! are both relayed exactly once (also in one batch, and on redelivery)
//! and the second is told; `postdesk ticket set/note/reply`.
//!
//! Strict mode is tested on plans (`process::commands::tests`): the
//! `[lifecycle]` configuration that would set it for a queue is the
//! lifecycle branch's.

mod common;

use common::*;
use serde_json::Value;

struct Setup {
    desk: Desk,
    ana: String,
    alice: String,
    bert: String,
    number: String,
}

/// Queue `support` of group `staff`, worked by alice and bert (alerts to
/// both); a ticket opened by ana, whose auto-reply and alerts arrived.
fn setup(opts: DeskOptions) -> Setup {
    setup_with(opts, "")
}

/// [`setup`] with `config` appended to the desk's configuration.
fn setup_with(opts: DeskOptions, config: &str) -> Setup {
    let (desk, ana, alice, bert) = staffed_desk(
        opts,
        config,
        "My printer does not print anything since this morning. Could you please help me?",
    );
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for_mail(&ana, "INBOX", 1, 30);
    wait_for_mail(&alice, "INBOX", 1, 30);
    wait_for_mail(&bert, "INBOX", 1, 30);
    Setup {
        desk,
        ana,
        alice,
        bert,
        number,
    }
}

/// The Reply-To (with the agent's token) and Message-ID of the alert in
/// `agent`'s mailbox: what an answer from their mail client carries.
fn alert_of(agent: &str) -> (String, String) {
    let alert = imap_messages(agent, "INBOX").remove(0);
    (
        angle_address(&header(&alert, "Reply-To").expect("the alert has a Reply-To")),
        header(&alert, "Message-ID").unwrap(),
    )
}

/// `agent`'s (named `name`) answer to their alert, with `text` as body.
fn answer(s: &Setup, agent: &str, name: &str, id: &str, text: &str) -> Vec<u8> {
    let (reply_to, alert_id) = alert_of(agent);
    format!(
        "From: {name} <{agent}>\r\nTo: <{reply_to}>\r\nSubject: Re: [Ticket#{number}] Printer\r\n\
         Message-ID: <{id}-{n}@support.test>\r\nIn-Reply-To: {alert_id}\r\n\r\n{text}",
        number = s.number,
        n = s.desk.id
    )
    .into_bytes()
}

fn to_of(raw: &[u8]) -> String {
    angle_address(&header(raw, "To").unwrap_or_default())
}

/// The decoded text of a mail.
fn body(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_text(0).map(|t| t.replace("\r\n", "\n")))
        .unwrap_or_default()
}

fn show(desk: &Desk, number: &str) -> Value {
    desk.json(&["ticket", "show", number, "--json"])
}

fn out_kinds(desk: &Desk, number: &str) -> Vec<String> {
    show(desk, number)["articles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["direction"] == "out")
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect()
}

fn history(desk: &Desk, number: &str) -> Vec<Value> {
    let h = desk.json(&["ticket", "history", number, "--json"]);
    h.as_array()
        .cloned()
        .or_else(|| h["history"].as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn commands_apply_the_transcript_arrives_and_the_customer_gets_nothing() {
    let mut s = setup(DeskOptions::default());
    let mail = answer(
        &s,
        &s.alice,
        "Alice Martin",
        "cmds",
        "#state waiting\r\n#priority 5\r\n#tag add printer\r\n#assign bert\r\n\
         #stat resolved\r\n#merge 2026010110000011\r\n\r\n> It does not print.\r\n",
    );
    smtp_send(&s.alice, &[&s.desk.support], &mail);
    let transcript = wait_for(60, "the transcript in alice's mailbox", || {
        imap_messages(&s.alice, "INBOX")
            .into_iter()
            .find(|m| subject(m).contains("Commands"))
    });
    let text = body(&transcript);
    assert!(subject(&transcript).contains(&format!("[Ticket#{}]", s.number)));
    assert!(
        subject(&transcript).contains("some refused"),
        "{}",
        subject(&transcript)
    );
    for line in [
        "#state waiting",
        "applied: state open → waiting",
        "applied: urgency 3, impact 3, priority 5",
        "#assign bert",
        "applied: assigned to bert",
        "NOT A COMMAND: no command #stat",
        "REFUSED: no ticket 2026010110000011",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert_eq!(to_of(&transcript), s.alice);
    // The ticket changed, each change in the history as alice's command.
    let t = show(&s.desk, &s.number);
    assert_eq!(t["state"], "waiting", "{t}");
    assert_eq!(t["priority"], 5, "{t}");
    assert_eq!(t["assigned_agent"], "bert", "{t}");
    assert!(t["tags"].to_string().contains("printer"), "{t}");
    let h = history(&s.desk, &s.number);
    let by_command: Vec<&str> = h
        .iter()
        .filter(|e| e["actor_kind"] == "command" && e["actor"] == "alice")
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["state", "priority", "tags", "agent"] {
        assert!(by_command.contains(&f), "{f} in {h:?}");
    }
    // Commands only: nothing to the customer (the relay would have gone
    // in the same commit as the transcript).
    let kinds = out_kinds(&s.desk, &s.number);
    assert!(!kinds.contains(&"agent_reply".to_string()), "{kinds:?}");
    // The customer hears of the move alone (`state_changed`, from the
    // lifecycle), never of the commands themselves.
    assert!(kinds.contains(&"state_changed".to_string()), "{kinds:?}");
    let notice = wait_for(60, "the state notice in ana's mailbox", || {
        imap_messages(&s.ana, "INBOX")
            .into_iter()
            .find(|m| subject(m).contains("Now waiting"))
    });
    for secret in ["#priority", "#assign", "printer", "It does not print"] {
        assert!(
            !body(&notice).contains(secret),
            "{secret:?} reached the customer"
        );
    }
    assert_eq!(imap_messages(&s.ana, "INBOX").len(), 2);
    // The transcript is internal.
    let out = show(&s.desk, &s.number)["articles"].clone();
    let tr = out
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "command_transcript")
        .unwrap()
        .clone();
    assert_eq!(tr["internal"], true, "{tr}");
    // explain shows each command's fate (the same mail under a new
    // Message-ID: what it would do now).
    let again = String::from_utf8(mail)
        .unwrap()
        .replace("<cmds-", "<cmds2-");
    let e = s.desk.cli_stdin(&["explain", "-"], again.as_bytes());
    let e = String::from_utf8_lossy(&e.stdout);
    assert!(
        e.contains("Command:  #priority 5 (line 2): unchanged"),
        "{e}"
    );
    assert!(
        e.contains("Command:  #stat resolved (line 5): invalid"),
        "{e}"
    );
    assert_eq!(s.desk.stop(), Some(0));
}

#[test]
fn strict_mode_refuses_a_forbidden_move_and_says_why() {
    let s = setup_with(
        DeskOptions::default(),
        "\n[lifecycle.queue.support]\nmode = \"strict\"\n",
    );
    // Her first action opens the posted ticket; strict mode's matrix then
    // has no open → validated, but has open → resolved.
    let mail = answer(
        &s,
        &s.alice,
        "Alice Martin",
        "strict",
        "#state validated\r\n#state resolved\r\n",
    );
    smtp_send(&s.alice, &[&s.desk.support], &mail);
    let transcript = wait_for(60, "the transcript in alice's mailbox", || {
        imap_messages(&s.alice, "INBOX")
            .into_iter()
            .find(|m| subject(m).contains("Commands"))
    });
    let text = body(&transcript);
    for line in [
        "#state validated",
        "REFUSED: queue support is in strict mode: the assigned agent may move a ticket in state open \
         only to resolving, waiting, testing, resolved, abandoned, transferred",
        "applied: state open → resolved",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let t = show(&s.desk, &s.number);
    assert_eq!(t["state"], "resolved", "{t}");
    let h = history(&s.desk, &s.number);
    assert!(
        !h.iter().any(|e| e["new"] == "validated"),
        "the refused move left no history: {h:?}"
    );
}

#[test]
fn help_gets_the_command_reference_and_makes_no_ticket() {
    let mut s = setup(DeskOptions::default());
    let help = format!(
        "From: Alice Martin <{alice}>\r\nTo: <{support}>\r\nSubject: Help\r\n\
         Message-ID: <help-{n}@support.test>\r\n\r\nPlease send me the list of the commands I can use.\r\n",
        alice = s.alice,
        support = s.desk.support,
        n = s.desk.id
    );
    smtp_send(&s.alice, &[&s.desk.support], help.as_bytes());
    let reference = wait_for(60, "the reference in alice's mailbox", || {
        imap_messages(&s.alice, "INBOX")
            .into_iter()
            .find(|m| subject(m).contains("postdesk commands"))
    });
    let text = body(&reference);
    for c in [
        "#state",
        "#assign",
        "#group",
        "#queue",
        "#priority",
        "#urgency",
        "#impact",
        "#service",
        "#type",
        "#tag",
        "#cc",
        "#merge",
        "#link",
        "#transfer",
        "#note",
        "#new",
        "Control: state resolved",
        "[state=resolved;priority=4]",
        "posted, open",
        "pending",
    ] {
        assert!(text.contains(c), "{c:?} in\n{text}");
    }
    assert_eq!(s.desk.tickets().len(), 1);
    assert_eq!(s.desk.stop(), Some(0));
}

#[test]
fn an_unauthenticated_agents_commands_change_nothing_and_get_no_transcript() {
    let mut s = setup(DeskOptions::default());
    // Alice's From, forged: the plain support address, no token, no
    // Authentication-Results of our MTA.
    let forged = format!(
        "From: Alice Martin <{alice}>\r\nTo: <{support}>\r\nSubject: Re: [Ticket#{number}] Printer\r\n\
         Message-ID: <forged-{n}@evil.test>\r\n\r\n#state resolved\r\n#assign me\r\n#cc add mallory@evil.test\r\n",
        alice = s.alice,
        support = s.desk.support,
        number = s.number,
        n = s.desk.id
    );
    smtp_send(&s.ana, &[&s.desk.support], forged.as_bytes());
    let article = wait_for(60, "the forged mail on the ticket", || {
        show(&s.desk, &s.number)["articles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["direction"] == "in")
            .nth(1)
            .cloned()
    });
    assert_eq!(article["kind"], "agent", "{article}");
    assert!(
        article.to_string().contains("command line(s) not run"),
        "{article}"
    );
    let t = show(&s.desk, &s.number);
    assert_eq!(t["state"], "posted", "{t}");
    assert_eq!(t["assigned_agent"], Value::Null, "{t}");
    assert!(!t["participants"].to_string().contains("mallory"), "{t}");
    assert!(history(&s.desk, &s.number)
        .iter()
        .all(|e| e["actor_kind"] != "command"));
    let kinds = out_kinds(&s.desk, &s.number);
    assert!(
        !kinds.contains(&"command_transcript".to_string()),
        "{kinds:?}"
    );
    assert_eq!(s.desk.stop(), Some(0));
}

#[test]
fn two_agents_answering_at_once_are_both_relayed_once_and_the_second_is_told() {
    let mut s = setup(DeskOptions {
        agent_alert_limit: 1000,
        ..DeskOptions::default()
    });
    // Both answer while postdesk is down: the two replies come in one batch.
    assert_eq!(s.desk.stop(), Some(0));
    let from_alice = answer(
        &s,
        &s.alice,
        "Alice Martin",
        "a1",
        "Restart the spooler.\r\n",
    );
    let from_bert = answer(&s, &s.bert, "Bert Berg", "b1", "Try the other tray.\r\n");
    smtp_send(&s.alice, &[&alert_of(&s.alice).0], &from_alice);
    wait_for(30, "alice's reply delivered", || {
        (!imap_messages(&s.desk.support, "INBOX").is_empty()).then_some(())
    });
    smtp_send(&s.bert, &[&alert_of(&s.bert).0], &from_bert);
    wait_for(30, "both replies delivered", || {
        (imap_messages(&s.desk.support, "INBOX").len() == 2).then_some(())
    });
    s.desk.start();
    let mails = wait_for_mail(&s.ana, "INBOX", 3, 60);
    let relayed = |what: &str| mails.iter().filter(|m| body(m).contains(what)).count();
    assert_eq!(relayed("Restart the spooler."), 1);
    assert_eq!(relayed("Try the other tray."), 1);
    // Bert, second, is told that alice answered first; alice is not.
    let told = wait_for(60, "bert's note", || {
        imap_messages(&s.bert, "INBOX")
            .into_iter()
            .find(|m| subject(m).contains("colleague replied first"))
    });
    let text = body(&told);
    assert!(text.contains("alice"), "{text}");
    assert!(text.contains("Both replies were sent"), "{text}");
    assert!(imap_messages(&s.alice, "INBOX")
        .iter()
        .all(|m| !subject(m).contains("colleague")));
    // Redelivered (a second copy reaching the desk): nothing again.
    let out = s
        .desk
        .cli_stdin(&["ingest", "--mailbox", "support", "--json"], &from_bert);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("duplicate"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        show(&s.desk, &s.number)["articles"]
    );
    let replies = out_kinds(&s.desk, &s.number)
        .iter()
        .filter(|k| *k == "agent_reply")
        .count();
    assert_eq!(replies, 2);
    assert_eq!(imap_messages(&s.ana, "INBOX").len(), 3);
    assert_eq!(s.desk.stop(), Some(0));
}

#[test]
fn ticket_set_note_and_reply_go_through_the_same_checks_and_mail() {
    let mut s = setup(DeskOptions::default());
    let n = s.number.clone();
    // As alice: applied, in the history as hers.
    let out = ok(
        &s.desk,
        &[
            "ticket",
            "set",
            &n,
            "--state",
            "waiting",
            "--urgency",
            "5",
            "--tag-add",
            "vip",
            "--as",
            "alice",
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["applied"], true, "{v}");
    assert_eq!(v["actor"], "alice");
    let t = show(&s.desk, &n);
    assert_eq!(t["state"], "waiting", "{t}");
    assert_eq!(t["urgency"], 5, "{t}");
    assert!(history(&s.desk, &n)
        .iter()
        .any(|e| e["actor_kind"] == "command" && e["actor"] == "alice" && e["field"] == "state"));
    // All or nothing: one refused change, nothing written, exit 65.
    let refused = s.desk.cli(&[
        "ticket", "set", &n, "--state", "open", "--assign", "zoe", "--as", "alice",
    ]);
    assert_eq!(refused.status.code(), Some(65));
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(said.contains("refused: #assign zoe"), "{said}");
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(show(&s.desk, &n)["state"], "waiting");
    // The operator without --as is trusted and recorded as operator.
    ok(&s.desk, &["ticket", "set", &n, "--priority", "2"]);
    assert!(history(&s.desk, &n)
        .iter()
        .any(|e| e["actor"] == "operator" && e["field"] == "priority"));
    // A reply reaches ana as alice's, "via" the support address.
    ok(
        &s.desk,
        &[
            "ticket",
            "reply",
            &n,
            "--body",
            "Fixed on our side.",
            "--as",
            "alice",
        ],
    );
    // Ana may already hold the state notice of `ticket set --state`: wait
    // for the reply itself, not for a count of mails.
    let relayed = wait_for(60, "the reply in ana's mailbox", || {
        imap_messages(&s.ana, "INBOX")
            .into_iter()
            .find(|m| body(m).contains("Fixed on our side."))
    });
    assert!(header(&relayed, "From").unwrap().contains("via"));
    // A note reaches the agents, never ana.
    ok(
        &s.desk,
        &[
            "ticket",
            "note",
            &n,
            "--body",
            "Keep an eye on it.",
            "--as",
            "bert",
        ],
    );
    wait_for(60, "the note in alice's mailbox", || {
        imap_messages(&s.alice, "INBOX")
            .into_iter()
            .find(|m| body(m).contains("Keep an eye on it."))
    });
    assert!(imap_messages(&s.ana, "INBOX")
        .iter()
        .all(|m| !body(m).contains("Keep an eye on it.")));
    // Errors: an unknown ticket, an unknown agent, nothing to set, help.
    let unknown = s
        .desk
        .cli(&["ticket", "set", "2026010110000011", "--priority", "2"]);
    assert!(
        matches!(unknown.status.code(), Some(65) | Some(66)),
        "{unknown:?}"
    );
    let nobody = s
        .desk
        .cli(&["ticket", "set", &n, "--priority", "2", "--as", "zoe"]);
    assert_eq!(nobody.status.code(), Some(66));
    assert_eq!(s.desk.cli(&["ticket", "set", &n]).status.code(), Some(64));
    assert_eq!(
        s.desk
            .cli(&["ticket", "reply", &n, "--body", "x"])
            .status
            .code(),
        Some(64)
    );
    assert!(s.desk.cli(&["ticket", "set", "--help"]).status.success());
    let _ = &s.bert;
    assert_eq!(s.desk.stop(), Some(0));
}
