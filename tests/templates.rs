//! A broken notification template never costs a customer their ticket:
//! one that fails on a real mail falls back to the shipped template, and a
//! file that does not load at all does not stop `ingest`.

mod common;

use common::*;

#[test]
fn a_template_failing_on_real_mail_falls_back_to_the_shipped_one() {
    let mut desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("tpl");
    // A template that passes the start-up check (rendered with sample
    // values, which have an attachment) but fails on a real mail without
    // attachments (there is no first attachment to name).
    let tdir = desk.own_templates("tpl");
    std::fs::write(
        tdir.join("en/auto_reply.txt"),
        "Subject: {{ ticket.tag }}\n\nYour file: {{ article.attachments.0 }}\n",
    )
    .unwrap();

    let mail = desk.mail(&customer, "No attachment here", "tpl", "hello");
    let out = desk.cli_stdin(&["ingest", "--json"], &mail);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The customer keeps their ticket: the template problem is not the
    // mail's, so nothing is quarantined.
    assert_eq!(v["outcome"], "created", "{v}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the shipped one was used"), "{stderr}");
    assert!(stderr.contains("auto_reply"), "{stderr}");
    assert_eq!(desk.tickets().len(), 1);
    assert_eq!(desk.status()["quarantine_held"], 0);

    // The daemon delivers the shipped auto-reply.
    desk.start();
    let replies = wait_for_mail(&customer, "INBOX", 1, 60);
    let msg = mail_parser::MessageParser::default()
        .parse(&replies[0])
        .unwrap();
    let body = msg.body_text(0).unwrap().to_string();
    assert!(body.contains("Thank you for writing to us"), "{body}");
    assert!(subject(&replies[0]).contains("[Ticket#"));
    desk.wait_sent(2, 30);
    assert_eq!(desk.status()["outbox_failed"], 0);
    assert_eq!(desk.stop(), Some(0));
}

/// A rule's named auto-reply that fails on a real mail has no shipped
/// template to stand in: the customer keeps the ticket, the mail waits in
/// the outbox as failed with the error, and the ticket tells the agents
/// it was not sent (made on a parser thread or on the store thread alike).
#[test]
fn a_named_auto_reply_that_fails_with_no_stand_in_fails_its_mail_not_the_ticket() {
    // With parser threads the mail is made off the store thread; pinned
    // to one core there are none, and it is made inline.
    for one_core in [false, true] {
        named_auto_reply_fails(one_core);
    }
}

fn named_auto_reply_fails(one_core: bool) {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("vip");
    let tdir = desk.own_templates("tpl");
    std::fs::write(
        tdir.join("en/auto_reply_vip.txt"),
        "Subject: {{ ticket.tag }}\n\nYour file: {{ article.attachments.0 }}\n",
    )
    .unwrap();
    let rules = desk.path().join("my-rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("10-vip.toml"),
        "[[rule]]\nname = \"vip\"\nwhen = { ticket = \"new\" }\nactions = { auto_reply = \"auto_reply_vip\" }\n",
    )
    .unwrap();
    desk.use_rules(&rules);

    let mail = desk.mail(&customer, "No attachment here", "vip", "hello");
    let stderr = if one_core {
        ingest_on_one_core(&desk, &mail)
    } else {
        ingest_creates(&desk, &mail)
    };
    assert!(
        stderr.contains("notification not sent") && stderr.contains("auto_reply_vip"),
        "one core: {one_core}: {stderr}"
    );
    let tickets = desk.tickets();
    assert_eq!(tickets.len(), 1);
    let status = desk.status();
    // The auto-reply failed; the agents' alert is made as ever.
    assert_eq!(status["outbox_failed"], 1, "one core: {one_core}: {status}");
    assert_eq!(
        status["outbox_pending"], 1,
        "one core: {one_core}: {status}"
    );
    let number = tickets[0]["number"].as_str().unwrap().to_string();
    let show = desk.json(&["ticket", "show", "--json", &number]);
    let replies: Vec<&serde_json::Value> = show["articles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "auto_reply")
        .collect();
    assert_eq!(replies.len(), 1, "one core: {one_core}: {show:#}");
    let a = replies[0];
    assert_eq!(a["subject"], "(not sent)", "{a:#}");
    assert_eq!(a["delivery"], "failed", "{a:#}");
    let text = a["text"].as_str().unwrap_or_default();
    assert!(text.contains("auto_reply_vip"), "{a:#}");
}

/// `ingest --json` of `mail` on one core (no parser threads), as
/// [`ingest_creates`].
fn ingest_on_one_core(desk: &Desk, mail: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_postdesk"), "--config"])
        .arg(&desk.config)
        .args(["ingest", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("taskset (util-linux) runs");
    child.stdin.take().unwrap().write_all(mail).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "created", "{v}");
    stderr
}

/// Regression: a template file with a syntax error made every `ingest`
/// exit 75, so the MTA deferred every mail until someone fixed the file
/// (and bounced it after days).
#[test]
fn a_template_file_that_does_not_load_does_not_stop_ingest() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("broken");
    let tdir = desk.own_templates("tpl");
    std::fs::write(tdir.join("en/auto_reply.txt"), "Subject: x\n\n{{ broken\n").unwrap();
    let mail = desk.mail(&customer, "Broken template", "broken", "hello");
    let stderr = ingest_creates(&desk, &mail);
    assert!(
        stderr.contains("auto_reply.txt") && stderr.contains("shipped templates"),
        "{stderr}"
    );
    // `check` still fails on the file.
    assert_eq!(desk.cli(&["check"]).status.code(), Some(78));
}

/// `ingest --json` of `mail` exits 0 with a new ticket; its stderr.
fn ingest_creates(desk: &Desk, mail: &[u8]) -> String {
    let out = desk.cli_stdin(&["ingest", "--json"], mail);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "created", "{v}");
    stderr
}

/// The parts of a mail as a mail client sees them: (content type of the
/// top, text part, HTML part).
fn parts(raw: &[u8]) -> (String, String, Option<String>) {
    let msg = mail_parser::MessageParser::default().parse(raw).unwrap();
    let ct = header(raw, "Content-Type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = msg.body_text(0).unwrap().to_string();
    let html = (msg.html_body_count() > 0 && ct == "multipart/alternative")
        .then(|| msg.body_html(0).unwrap().to_string());
    (ct, text, html)
}

fn thread_index(raw: &[u8]) -> postdesk::notify::thread_index::ThreadIndex {
    let value = header(raw, "Thread-Index").expect("a Thread-Index header");
    postdesk::notify::thread_index::ThreadIndex::parse(&value)
        .unwrap_or_else(|| panic!("not a Thread-Index: {value}"))
}

#[test]
fn our_mail_carries_its_html_alternative_and_the_tickets_threading_headers() {
    let mut desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("html");
    desk.start();
    let first = format!(
        "From: Customer <{customer}>\r\nTo: {}\r\nSubject: Printer <broken> & co\r\nMessage-ID: <first-{}@customer.test>\r\nContent-Language: en\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nIt does not print.\r\n",
        desk.support, desk.id
    );
    smtp_send(&customer, &[&desk.support], first.as_bytes());
    let tickets = desk.wait_tickets(1, 30);
    let number = tickets[0]["number"].as_str().unwrap().to_string();

    // The auto-reply: text and HTML, the HTML escaping the customer's words.
    let auto = &wait_for_mail(&customer, "INBOX", 1, 30)[0];
    let (ct, text, html) = parts(auto);
    assert_eq!(ct, "multipart/alternative");
    assert!(text.starts_with("Hello Customer,"), "{text}");
    assert!(text.contains(&number), "{text}");
    let html = html.expect("an HTML part");
    assert!(html.contains(&format!("<b>{number}</b>")), "{html}");
    assert!(html.contains("Printer &lt;broken&gt; &amp; co"), "{html}");
    assert!(!html.contains("<broken>"), "{html}");
    // Threading: the customer's mail in References and In-Reply-To,
    // answers to the queue's address, Outlook's topic and index.
    let first_id = format!("<first-{}@customer.test>", desk.id);
    assert_eq!(
        header(auto, "In-Reply-To").as_deref(),
        Some(first_id.as_str())
    );
    assert_eq!(
        header(auto, "References").as_deref(),
        Some(first_id.as_str())
    );
    assert!(header(auto, "Reply-To").unwrap().contains(&desk.support));
    assert_eq!(
        header(auto, "Thread-Topic").as_deref(),
        Some("Printer <broken> & co")
    );
    let auto_index = thread_index(auto);
    assert_eq!(auto_index.depth(), 1);

    // The agents' alert: plain text, the same conversation header.
    let alert = &wait_for_mail(&desk.agents, "INBOX", 1, 30)[0];
    assert_eq!(parts(alert).0, "text/plain");
    let alert_index = thread_index(alert);
    assert_eq!(alert_index.guid(), auto_index.guid());
    assert_eq!(alert_index.header_time(), auto_index.header_time());

    // The customer answers the auto-reply: the agents' alert names the
    // ticket's mail in order, the answer last, one level deeper.
    let auto_id = header(auto, "Message-ID").unwrap();
    let reply = format!(
        "From: Customer <{customer}>\r\nTo: {}\r\nSubject: RE: [Ticket#{number}] Printer <broken> & co\r\nMessage-ID: <second-{}@customer.test>\r\nIn-Reply-To: {auto_id}\r\nReferences: {first_id} {auto_id}\r\n\r\nStill broken.\r\n",
        desk.support, desk.id
    );
    smtp_send(&customer, &[&desk.support], reply.as_bytes());
    let alerts = wait_for_mail(&desk.agents, "INBOX", 2, 30);
    let follow = alerts
        .iter()
        .find(|m| subject(m).contains("Follow-up"))
        .expect("a follow-up alert");
    let refs = header(follow, "References").unwrap();
    let refs: Vec<&str> = refs.split_whitespace().collect();
    assert_eq!(refs.first(), Some(&first_id.as_str()), "{refs:?}");
    assert!(refs.contains(&auto_id.as_str()), "{refs:?}");
    assert_eq!(
        refs.last().copied(),
        Some(format!("<second-{}@customer.test>", desk.id).as_str())
    );
    assert_eq!(
        header(follow, "Thread-Topic").as_deref(),
        Some("Printer <broken> & co")
    );
    let follow_index = thread_index(follow);
    assert_eq!(follow_index.guid(), auto_index.guid());
    assert!(follow_index.depth() > auto_index.depth());

    // An Outlook customer's own conversation index is continued.
    let outlook = format!(
        "From: Customer <{customer}>\r\nTo: {}\r\nSubject: Scanner\r\nMessage-ID: <outlook-{}@customer.test>\r\nThread-Topic: Scanner\r\nThread-Index: AcmK80zS8L6DgfKxTMON80Obs/ge4Q==\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nThe scanner too.\r\n",
        desk.support, desk.id
    );
    smtp_send(&customer, &[&desk.support], outlook.as_bytes());
    let inbox = wait_for_mail(&customer, "INBOX", 2, 30);
    let second_auto = inbox
        .iter()
        .find(|m| subject(m).contains("Scanner"))
        .expect("the second auto-reply");
    let value = header(second_auto, "Thread-Index").unwrap();
    assert!(
        value.starts_with("AcmK80zS8L6DgfKxTMON80Obs/ge4"),
        "{value}"
    );
    assert_eq!(thread_index(second_auto).depth(), 1);
    desk.wait_sent(5, 30);
    assert_eq!(desk.stop(), Some(0));
}

#[test]
fn an_operator_template_wins_for_its_own_file_only() {
    let mut desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("own");
    let dir = desk.path().join("own-templates");
    std::fs::create_dir_all(dir.join("en")).unwrap();
    std::fs::write(
        dir.join("en/auto_reply.txt"),
        "Subject: We got it {{ ticket.tag }}\n\nACME received your mail as {{ ticket.number }}.\n",
    )
    .unwrap();
    desk.use_templates(&dir);

    // `templates list` says which file wins.
    let listed = desk.json(&["templates", "list", "--json"]);
    let find = |name: &str, part: &str| {
        listed["templates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["lang"] == "en" && t["name"] == name && t["part"] == part)
            .map(|t| t["origin"].as_str().unwrap().to_string())
    };
    assert_eq!(find("auto_reply", "txt").as_deref(), Some("operator"));
    assert_eq!(find("auto_reply", "html"), None);
    assert_eq!(find("agent_new_ticket", "txt").as_deref(), Some("shipped"));
    assert_eq!(find("agent_reply", "html").as_deref(), Some("shipped"));
    assert_eq!(find("layout", "txt").as_deref(), Some("shipped"));

    desk.start();
    let mail = desk.mail(&customer, "Own templates", "own", "hello");
    smtp_send(&customer, &[&desk.support], &mail);
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    // The customer gets the operator's auto-reply, plain text only.
    let auto = &wait_for_mail(&customer, "INBOX", 1, 30)[0];
    assert_eq!(subject(auto), format!("We got it [Ticket#{number}]"));
    let (ct, text, _) = parts(auto);
    assert_eq!(ct, "text/plain");
    assert_eq!(text.trim(), format!("ACME received your mail as {number}."));
    // The agents get the shipped alert.
    let alert = &wait_for_mail(&desk.agents, "INBOX", 1, 30)[0];
    let (_, text, _) = parts(alert);
    assert!(
        text.starts_with(&format!("New ticket {number} in queue")),
        "{text}"
    );
    desk.wait_sent(2, 30);
    assert_eq!(desk.stop(), Some(0));

    // `templates render` for this ticket: the operator's text, the shipped
    // HTML of another event, clear errors.
    let r = desk.json(&[
        "templates",
        "render",
        "auto_reply",
        "--ticket",
        &number,
        "--json",
    ]);
    assert_eq!(r["subject"], format!("We got it [Ticket#{number}]"));
    assert_eq!(r["has_html"], false);
    assert!(r["text_file"]
        .as_str()
        .unwrap()
        .ends_with("own-templates/en/auto_reply.txt"));
    let r = desk.json(&[
        "templates",
        "render",
        "agent_reply",
        "--ticket",
        &number,
        "--lang",
        "pt",
        "--html",
        "--json",
    ]);
    assert_eq!(r["lang"], "pt");
    assert!(r["body"].as_str().unwrap().starts_with("hello"), "{r}");
    assert!(r["html"].as_str().unwrap().contains("<div>hello"), "{r}");
    assert!(
        r["html_file"]
            .as_str()
            .unwrap()
            .ends_with("pt/agent_reply.html"),
        "{r}"
    );
    let out = desk.cli(&["templates", "render", "auto_reply", "--ticket", &number]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("Subject: We got it [Ticket#{number}]\n\nACME")),
        "{text}"
    );
    let out = desk.cli(&["templates", "render", "nope", "--ticket", &number]);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown event \"nope\"") && err.contains("agent_reply"),
        "{err}"
    );
    let out = desk.cli(&[
        "templates",
        "render",
        "auto_reply",
        "--ticket",
        "2026010110000017",
    ]);
    assert!(matches!(out.status.code(), Some(65 | 66)), "{out:?}");
}

#[test]
fn an_agents_reply_continues_the_outlook_customers_conversation() {
    let mut desk = Desk::new(DeskOptions::default());
    let ana = desk.customer("outlook");
    let alice = format!("alice-{}@support.test", desk.id);
    for args in [
        vec!["group", "add", "staff"],
        vec!["agent", "add", "alice", "--address", &alice],
        vec!["agent", "link", "alice", "--group", "staff"],
        vec![
            "queue", "add", "support", "--group", "staff", "--notify", "group",
        ],
    ] {
        let out = desk.cli(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    desk.start();
    let index = "AcmK80zS8L6DgfKxTMON80Obs/ge4Q==";
    let first = format!(
        "From: Ana <{ana}>\r\nTo: {}\r\nSubject: Printer\r\nMessage-ID: <o1-{}@customer.test>\r\nThread-Topic: Printer\r\nThread-Index: {index}\r\nContent-Language: en\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nIt does not print.\r\n",
        desk.support, desk.id
    );
    smtp_send(&ana, &[&desk.support], first.as_bytes());
    let number = desk.wait_tickets(1, 30)[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for_mail(&ana, "INBOX", 1, 30);
    let alert = wait_for_mail(&alice, "INBOX", 1, 30).remove(0);
    // The agents' alert is in the ticket's own conversation, not Ana's.
    let ours = thread_index(&alert);
    assert_ne!(header(&alert, "Thread-Index").unwrap()[..28], index[..28]);
    let reply_to = angle_address(&header(&alert, "Reply-To").unwrap());
    let reply = format!(
        "From: Alice <{alice}>\r\nTo: <{reply_to}>\r\nSubject: Re: [Ticket#{number}] Printer\r\nMessage-ID: <a1-{}@support.test>\r\nIn-Reply-To: {}\r\nThread-Index: {}\r\n\r\nPlease try again.\r\n",
        desk.id,
        header(&alert, "Message-ID").unwrap(),
        header(&alert, "Thread-Index").unwrap()
    );
    smtp_send(&alice, &[&reply_to], reply.as_bytes());
    let inbox = wait_for_mail(&ana, "INBOX", 2, 30);
    let relayed = inbox
        .iter()
        .find(|m| parts(m).1.contains("Please try again"))
        .expect("the agent's reply");
    // Ana's Outlook sees it in her conversation: her index, one level on.
    let value = header(relayed, "Thread-Index").unwrap();
    assert!(value.starts_with(&index[..28]), "{value}");
    assert_eq!(thread_index(relayed).depth(), 1);
    assert_ne!(thread_index(relayed).guid(), ours.guid());
    assert_eq!(header(relayed, "Thread-Topic").as_deref(), Some("Printer"));
    assert!(header(relayed, "Reply-To").unwrap().contains(&desk.support));
    assert!(header(relayed, "From").unwrap().contains("Alice via"));
    let (ct, _, html) = parts(relayed);
    assert_eq!(ct, "multipart/alternative");
    assert!(html.unwrap().contains("Please try again"));
    desk.wait_sent(3, 30);
    assert_eq!(desk.stop(), Some(0));
}
