//! The command line: `ingest` (MTA pipe) exit codes and outcomes, JSON
//! shapes of `ticket list/show`, `check` on bad configuration (every
//! problem with file, line and key; exit 78), on a relative `--config`
//! and on storage the user cannot write. The
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
    let unknown = postdesk::threading::Numbering::new("Ticket#", 10).number(
        "20200101",
        postdesk::threading::Serial {
            value: 99,
            width: 5,
        },
    );
    let out = desk.cli(&["ticket", "show", &unknown]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ticket"));
}

#[test]
fn ticket_show_prints_the_class_and_its_reason() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("list");
    let mail = format!(
        "From: News <{customer}>\r\nTo: {}\r\nSubject: Weekly digest\r\nList-Id: <digest.lists.customer.test>\r\nMessage-ID: <l-{}@customer.test>\r\n\r\nThis week.\r\n",
        desk.support, desk.id
    );
    assert!(desk
        .cli_stdin(&["ingest"], mail.as_bytes())
        .status
        .success());
    let list = desk.tickets();
    let number = list[0]["number"].as_str().unwrap();
    let show = desk.json(&["ticket", "show", number, "--json"]);
    assert_eq!(show["articles"][0]["class"], "list");
    assert_eq!(show["articles"][0]["automatic"], "mailing list (List-Id)");
    let out = desk.cli(&["ticket", "show", number]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Class: list (mailing list (List-Id))"),
        "{text}"
    );
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
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
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
fn quarantine_retry_after_fixing_the_attachment_folder() {
    let desk = Desk::new(DeskOptions::default());
    let customer = desk.customer("retry");
    // The attachment folder is blocked by a file: the mail's attachment
    // cannot be saved, so the message is quarantined whole.
    let state = desk.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("attachments"), "in the way").unwrap();
    let mail = format!(
        "From: Customer <{customer}>\r\nTo: {}\r\nSubject: Retry me\r\nMessage-ID: <retry-{}@customer.test>\r\n\
         Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n\
         --b\r\nContent-Type: text/plain; name=\"notes.txt\"\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nnotes\r\n\
         --b--\r\n",
        desk.support, desk.id
    );
    let out = desk.cli_stdin(&["ingest", "--json"], mail.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "quarantined", "{v}");
    assert!(v["error"].as_str().unwrap().contains("attachment"), "{v}");
    // Nothing half-done: the failed message left no ticket behind.
    assert_eq!(desk.tickets().len(), 0);
    let id = v["id"].as_i64().unwrap().to_string();

    // Clear the way, retry: the ticket appears and the entry is released.
    std::fs::remove_file(state.join("attachments")).unwrap();
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
    // Since the safeguards issue it is never recorded on the victim's
    // ticket: it opens a ticket of its own.
    let out = desk.cli_stdin(&["ingest", "--json"], stranger.as_bytes());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "created", "{v}");
    assert_ne!(v["ticket"], number.as_str());
    // Regression (review): answering the stranger's own earlier mail is
    // not answering the ticket.
    let chained = format!(
        "From: stranger@evil.test\r\nTo: {}\r\nCc: friend@evil.test\r\nSubject: Re: [Ticket#{number}] Private matter\r\nMessage-ID: <s3@evil.test>\r\nIn-Reply-To: <s1@evil.test>\r\n\r\nagain\r\n",
        desk.support
    );
    let out = desk.cli_stdin(&["ingest", "--json"], chained.as_bytes());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "created", "{v}");
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
    // Only the forged From (a participant's address) reached the ticket;
    // the stranger's two mails did not.
    let inbound: Vec<&serde_json::Value> = t["articles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["direction"] == "in")
        .collect();
    assert_eq!(inbound.len(), 2, "the original and the forged From");
    assert!(inbound
        .iter()
        .all(|a| !a["text"].as_str().unwrap().contains("send me")));
    // The agents were told which ticket the stranger quoted.
    let stranger_tickets: Vec<serde_json::Value> = desk
        .tickets()
        .into_iter()
        .filter(|t| t["customer"] == "stranger@evil.test")
        .collect();
    assert_eq!(stranger_tickets.len(), 2);
    for st in &stranger_tickets {
        let shown = desk.json(&["ticket", "show", st["number"].as_str().unwrap(), "--json"]);
        let alert = shown["articles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "agent_new_ticket")
            .unwrap()
            .clone();
        assert!(
            alert["text"]
                .as_str()
                .unwrap()
                .contains(&format!("quoted ticket {number}")),
            "{alert}"
        );
    }

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

#[test]
fn readme_pipe_only_config_passes_check() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("### MTA pipe delivery").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let toml = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("postdesk.toml");
    std::fs::write(&config, toml).unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(&config)
        .args(["check", "--json"])
        // Only where things live differs on a test machine.
        .env(
            "POSTDESK_PATHS__TEMPLATES",
            format!("{repo}/mail-templates"),
        )
        .env("POSTDESK_PATHS__RULES", format!("{repo}/rules"))
        .env(
            "POSTDESK_STORAGE__DATABASE",
            dir.path().join("state/postdesk.db"),
        )
        .env("POSTDESK_STORAGE__DATA_DIR", dir.path().join("state"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{v:#}");
    // Nothing in it is ignored or doubtful.
    let warnings: Vec<_> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["warning"] == true)
        .collect();
    assert!(warnings.is_empty(), "{v:#}");
}

#[test]
fn check_warns_about_imap_settings_on_a_pipe_only_mailbox() {
    let desk = Desk::new(DeskOptions {
        pipe_only: true,
        ..Default::default()
    });
    let text = std::fs::read_to_string(&desk.config).unwrap();
    std::fs::write(
        &desk.config,
        format!("{text}after = \"move\"\nmove_to = \"Done\"\n"),
    )
    .unwrap();
    let out = desk.cli(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("warn") && stdout.contains("mailbox[0]: after, move_to ignored"),
        "{stdout}"
    );
}

fn postdesk() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
}

#[test]
fn check_lists_every_configuration_problem_with_line_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    // Lines 1-17 are the standalone file; the mailbox's keys go on.
    let config = standalone_config(
        dir.path(),
        "after = \"flag\"\ntls = \"ssl\"\nidle = \"yes\"\nidel = true\nport = 70000\n[log]\nlevel = \"debg\"\n",
    );
    let out = postdesk()
        .arg("--config")
        .arg(&config)
        .arg("check")
        .env("POSTDESK_SMTP__PORT", "smtp")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let text = String::from_utf8_lossy(&out.stdout);
    let file = config.display();
    for expected in [
        format!("{file}:18: mailbox[0].tls: \"ssl\" is not valid; expected one of implicit, starttls, none"),
        format!("{file}:19: mailbox[0].idle: the string \"yes\" is not allowed here; expected true or false"),
        format!("{file}:20: mailbox[0].idel: unknown key; did you mean idle?"),
        format!("{file}:21: mailbox[0].port: 70000 is out of range; expected 1 to 65535"),
        format!("{file}:23: log.level: \"debg\" is not a log level; expected one of trace, debug, info, warn, error, off"),
        "environment variable POSTDESK_SMTP__PORT: smtp.port: the string \"smtp\" is not allowed here; expected a whole number".to_string(),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    assert!(text.contains("has 6 problem(s)"), "{text}");

    // The daemon refuses to start with the same exit code.
    let out = postdesk()
        .arg("--config")
        .arg(&config)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mailbox[0].idel"));
}

#[test]
fn relative_config_name_works_like_dot_slash() {
    let dir = tempfile::tempdir().unwrap();
    standalone_config(dir.path(), "after = \"flag\"\n");
    let out = postdesk()
        .current_dir(dir.path())
        .args(["--config", "postdesk.toml", "check", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(out.status.code(), Some(0));
    let db = dir.path().join("db.sqlite");
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["detail"] == format!("{} will be created at first start", db.display())),
        "{report:#}"
    );
}

#[test]
fn check_fails_on_storage_the_user_cannot_write_and_names_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "after = \"flag\"\n");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(dir.path().join("db.sqlite"), b"").unwrap();
    let mut cmd = postdesk();
    cmd.arg("--config").arg(&config).args(["check", "--json"]);
    // SAFETY: geteuid cannot fail.
    let owner = if unsafe { libc::geteuid() } == 0 {
        // Root may write anything: check as nobody what root owns.
        cmd.uid(65534).gid(65534);
        "root".to_string()
    } else {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
        std::fs::set_permissions(
            dir.path().join("db.sqlite"),
            std::fs::Permissions::from_mode(0o444),
        )
        .unwrap();
        std::env::var("USER").unwrap_or_default()
    };
    let out = cmd.output().unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A local check failed: EX_CONFIG, like every local problem of `check`.
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let detail = |name: &str| {
        let c = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check: {report:#}"));
        assert_eq!(c["ok"], false, "{c}");
        c["detail"].as_str().unwrap().to_string()
    };
    for (name, what) in [
        ("database", "(the database)"),
        ("data_dir", "(the data folder)"),
    ] {
        let d = detail(name);
        assert!(d.contains(what) && d.contains("is not writable by"), "{d}");
        assert!(d.contains(&format!("it belongs to {owner}")), "{d}");
    }
}
