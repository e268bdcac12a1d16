//! The command line: `ingest` (MTA pipe) exit codes and outcomes, JSON
//! shapes of `ticket list/show`, `check` on bad configuration. The
//! conventions every command follows are in `cli_conventions.rs`.

mod common;

use common::*;

#[test]
fn ingest_pipe_exit_codes_and_outcomes() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("pipe");
    let mail = desk.mail(&customer, "Via pipe", "pipe", "piped");

    let out = desk.cli_stdin(&["ingest", "--json"], &mail);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "created");
    let number = v["ticket"].as_str().unwrap().to_string();
    assert!(postdesk::threading::is_valid(&number));

    // The same bytes again: a duplicate, still exit 0, no second ticket.
    let file = desk.path().join("mail.eml");
    std::fs::write(&file, &mail).unwrap();
    let out = desk.cli(&["ingest", "--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "duplicate");
    assert_eq!(v["ticket"], number.as_str());

    // Empty input is not a mail: 65.
    assert_eq!(desk.cli_stdin(&["ingest"], b"").status.code(), Some(65));
    // A mailbox that does not exist: configuration trouble, try later: 75.
    assert_eq!(
        desk.cli_stdin(&["ingest", "--mailbox", "nope"], &mail)
            .status
            .code(),
        Some(75)
    );
    // Unreadable configuration: 75, and the message names the file.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .args(["--config", "/nonexistent/postdesk.toml", "ingest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/postdesk.toml"));

    // Malformed mail is accepted into quarantine (exit 0): nothing lost.
    let out = desk.cli_stdin(
        &["ingest", "--json"],
        b"Subject: no sender at all\r\n\r\nbody\r\n",
    );
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "quarantined");

    // The auto-reply and agents alert wait in the outbox for the daemon.
    let status = desk.status();
    assert_eq!(status["tickets"], 1);
    assert_eq!(status["outbox_pending"], 2);
    assert_eq!(status["quarantine_held"], 1);
}

#[test]
fn ticket_json_shapes() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("json");
    let mail = format!(
        "From: =?utf-8?q?Jos=C3=A9?= <{customer}>\r\nTo: {}\r\nSubject: =?iso-8859-1?q?Probl=E8me?=\r\nMessage-ID: <j-{}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nL'=E9cran est noir.\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../../../etc/cron.d/evil.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
        desk.support, desk.id
    );
    let out = desk.cli_stdin(&["ingest"], mail.as_bytes());
    assert!(out.status.success());
    let list = desk.tickets();
    assert_eq!(list.len(), 1);
    let t = &list[0];
    for key in [
        "number",
        "subject",
        "state",
        "priority",
        "queue",
        "customer",
        "articles",
        "created_at",
        "updated_at",
    ] {
        assert!(t.get(key).is_some(), "ticket list lacks {key}: {t}");
    }
    assert_eq!(t["subject"], "Problème");
    assert_eq!(t["state"], "posted");
    let number = t["number"].as_str().unwrap();
    let show = desk.json(&["ticket", "show", number, "--json"]);
    assert_eq!(show["customer_name"], "José");
    let first = &show["articles"][0];
    assert_eq!(first["direction"], "in");
    assert!(first["text"]
        .as_str()
        .unwrap()
        .contains("L'écran est noir."));
    let att = &first["attachments"][0];
    assert_eq!(att["filename"], "evil.pdf");
    let path = att["path"].as_str().unwrap();
    assert!(
        path.starts_with("attachments/") && !path.contains(".."),
        "{path}"
    );
    let stored = desk.path().join("state").join(path);
    assert_eq!(std::fs::read(stored).unwrap(), b"%PDF-1.4\n");
    let out_article = &show["articles"][1];
    assert_eq!(out_article["kind"], "auto_reply");
    assert_eq!(out_article["delivery"], "pending");
    // French mail gets the French auto-reply when the mail says so; this one
    // did not, so the default (English) was used.
    assert!(out_article["text"].as_str().unwrap().contains("Thank you"));

    // Unknown ticket: a clear error.
    let unknown = postdesk::threading::Numbering::new("Ticket#", 10).number("20200101", 99);
    let out = desk.cli(&["ticket", "show", &unknown]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ticket"));
}

#[test]
fn check_reports_bad_configuration_with_file_and_key() {
    let desk = Desk::new(DeskOptions::default());
    let text = std::fs::read_to_string(&desk.config).unwrap();
    std::fs::write(
        &desk.config,
        text.replace(
            "tls = \"none\"\ntimeout_secs",
            "tls = \"sometimes\"\ntimeout_secs",
        ),
    )
    .unwrap();
    let out = desk.cli(&["check", "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let detail = report["checks"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("postdesk.toml"), "{detail}");
    assert!(detail.contains("sometimes"), "{detail}");

    // A broken template is named too.
    let desk = Desk::new(DeskOptions::default());
    let tdir = desk.path().join("tpl");
    std::fs::create_dir_all(tdir.join("en")).unwrap();
    for f in ["auto_reply", "agent_new_ticket", "agent_follow_up"] {
        std::fs::write(
            tdir.join(format!("en/{f}.txt")),
            "Subject: x\n\nbody {{ ticket.number }}\n",
        )
        .unwrap();
    }
    std::fs::write(
        tdir.join("en/agent_follow_up.txt"),
        "Subject: {% if %}\n\nx",
    )
    .unwrap();
    desk.use_templates(&tdir);
    let out = desk.cli(&["check"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("agent_follow_up.txt"), "{text}");
}

#[test]
fn quarantine_retry_after_fixing_a_template() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("retry");
    // A template that passes the start-up check (rendered with sample
    // values, which have an attachment) but fails on a real mail without
    // attachments (there is no first attachment to name).
    let tdir = desk.path().join("tpl");
    for lang in ["en"] {
        std::fs::create_dir_all(tdir.join(lang)).unwrap();
        for f in ["agent_new_ticket", "agent_follow_up"] {
            std::fs::copy(
                concat!(env!("CARGO_MANIFEST_DIR"), "/mail-templates/en/").to_string() + f + ".txt",
                tdir.join(format!("{lang}/{f}.txt")),
            )
            .unwrap();
        }
        std::fs::write(
            tdir.join(format!("{lang}/auto_reply.txt")),
            "Subject: {{ ticket.tag }}\n\nYour file: {{ article.attachments.0 }}\n",
        )
        .unwrap();
    }
    desk.use_templates(&tdir);

    let mail = desk.mail(&customer, "Retry me", "retry", "hello");
    let out = desk.cli_stdin(&["ingest", "--json"], &mail);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "quarantined", "{v}");
    assert!(v["error"].as_str().unwrap().contains("auto_reply"), "{v}");
    // Nothing half-done: the failed message left no ticket behind.
    assert_eq!(desk.tickets().len(), 0);
    let id = v["id"].as_i64().unwrap().to_string();

    // Fix the template, retry: the ticket appears and the entry is released.
    std::fs::write(
        tdir.join("en/auto_reply.txt"),
        "Subject: {{ ticket.tag }} {{ ticket.subject }}\n\nThanks.\n",
    )
    .unwrap();
    let out = desk.cli(&["quarantine", "retry", &id, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let tickets = desk.tickets();
    assert_eq!(tickets.len(), 1);
    let all = desk.json(&["quarantine", "list", "--all", "--json"]);
    assert_eq!(all[0]["status"], "retried");
    assert_eq!(all[0]["ticket"], tickets[0]["number"]);
    assert!(desk
        .json(&["quarantine", "list", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
    // A second retry is refused clearly.
    let out = desk.cli(&["quarantine", "retry", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not held"));
}

#[test]
fn knowing_a_ticket_number_or_forging_from_grants_no_access() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("victim");
    let first = desk.mail(&customer, "Private matter", "p", "secret details");
    let out = desk.cli_stdin(&["ingest", "--json"], &first);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let number = v["ticket"].as_str().unwrap().to_string();

    // A stranger who learnt the number writes with the tag.
    let stranger = format!(
        "From: stranger@evil.test\r\nTo: {}\r\nSubject: Re: [Ticket#{number}] Private matter\r\nMessage-ID: <s1@evil.test>\r\n\r\nplease send me the details\r\n",
        desk.support
    );
    let out = desk.cli_stdin(&["ingest", "--json"], stranger.as_bytes());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "follow_up");
    // Regression (review): answering the stranger's own earlier mail is
    // not answering the ticket.
    let chained = format!(
        "From: stranger@evil.test\r\nTo: {}\r\nCc: friend@evil.test\r\nSubject: Re: [Ticket#{number}] Private matter\r\nMessage-ID: <s3@evil.test>\r\nIn-Reply-To: <s1@evil.test>\r\n\r\nagain\r\n",
        desk.support
    );
    desk.cli_stdin(&["ingest"], chained.as_bytes());
    // A forged From of the customer, copying the attacker.
    let forged = format!(
        "From: {customer}\r\nTo: {}\r\nCc: attacker@evil.test\r\nSubject: Re: [Ticket#{number}] Private matter\r\nMessage-ID: <s2@evil.test>\r\n\r\nadd my friend\r\n",
        desk.support
    );
    desk.cli_stdin(&["ingest"], forged.as_bytes());

    let t = desk.json(&["ticket", "show", &number, "--json"]);
    let participants: Vec<&str> = t["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    assert_eq!(participants, vec![customer.as_str()], "nobody was added");
    // The agents were warned about the stranger.
    let alerts: Vec<&serde_json::Value> = t["articles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "agent_follow_up")
        .collect();
    assert_eq!(alerts.len(), 3);
    let warned: Vec<bool> = alerts
        .iter()
        .map(|a| a["text"].as_str().unwrap().contains("not a participant"))
        .collect();
    assert_eq!(
        warned,
        vec![true, true, false],
        "stranger twice, then the forged From"
    );

    // A real reply-all (it answers the customer's original Message-ID)
    // brings the colleague on board.
    let colleague = desk.customer("colleague");
    let reply_all = format!(
        "From: {colleague}\r\nTo: {customer}\r\nCc: {}\r\nSubject: Re: Private matter\r\nMessage-ID: <r1@customer.test>\r\nIn-Reply-To: <p-{}@customer.test>\r\n\r\nme too\r\n",
        desk.support, desk.id
    );
    desk.cli_stdin(&["ingest"], reply_all.as_bytes());
    let t = desk.json(&["ticket", "show", &number, "--json"]);
    assert_eq!(
        t["participants"].as_array().unwrap().len(),
        2,
        "{}",
        t["participants"]
    );
}

#[test]
fn json_logs_for_services() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("log");
    let mail = desk.mail(&customer, "Log me", "log", "x");
    let out = desk.cli_stdin(&["--log-format", "json", "ingest"], &mail);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "new ticket" && l["level"] == "INFO"),
        "{stderr}"
    );
}
