//! The configuration's tests: the example file, overrides, and every kind
//! of problem with its file, line and key.

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn example_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let c = Config::load_with_env(
        &path,
        &env(&[
            ("POSTDESK_IMAP_PASSWORD", "x"),
            ("POSTDESK_SMTP_PASSWORD", "y"),
        ]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.mailboxes.len(), 2);
    assert_eq!(c.system.ticket_tag, "Ticket#");
    assert!(c.templates_dir.ends_with("mail-templates"));
}

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, text).unwrap();
    (dir, p)
}

const MINIMAL: &str = r#"
[system]
fqdn = "desk.example.com"
[storage]
database = "db.sqlite"
data_dir = "data"
[smtp]
host = "localhost"
tls = "none"
[[queue]]
name = "support"
[[mailbox]]
name = "support"
address = "support@example.com"
queue = "support"
host = "imap.example.com"
username = "support"
password_env = "PW"
after = "flag"
"#;

const PIPE_ONLY: &str = r#"
[system]
fqdn = "desk.example.com"
[storage]
database = "db.sqlite"
data_dir = "data"
[smtp]
host = "localhost"
tls = "none"
[[queue]]
name = "support"
[[mailbox]]
name = "support"
address = "support@example.com"
queue = "support"
"#;

#[test]
fn pipe_only_mailbox_needs_no_after_or_move_to() {
    let (_d, p) = write(PIPE_ONLY);
    let c = Config::load_with_env(&p, &env(&[])).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.mailboxes[0].imap.is_none());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // Set anyway: accepted, with a warning naming the keys.
    let (_d, p) = write(&format!("{PIPE_ONLY}after = \"move\"\nflags = []\n"));
    let c = Config::load_with_env(&p, &env(&[])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains(":12: mailbox[0]: after, flags ignored"),
        "{:?}",
        c.warnings
    );
    // With IMAP, after = "move" (the default) still needs move_to.
    let imap =
        PIPE_ONLY.to_string() + "host = \"imap.example.com\"\nusername = \"u\"\npassword = \"p\"\n";
    let (_d, p) = write(&imap);
    let e = Config::load_with_env(&p, &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("mailbox[0].move_to: required"), "{e}");
}

#[test]
fn minimal_config_and_env_override() {
    let (_d, p) = write(MINIMAL);
    let c = Config::load_with_env(
        &p,
        &env(&[
            ("PW", "s3cret"),
            ("POSTDESK_SMTP__PORT", "2525"),
            ("POSTDESK_SMTP__USERNAME", "007"),
            ("POSTDESK_SMTP__PASSWORD", "007"),
            ("POSTDESK_CONFIG", "/ignored"),
        ]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.smtp.port, 2525);
    assert_eq!(c.smtp.credentials, Some(("007".into(), "007".into())));
    let imap = c.mailboxes[0].imap.as_ref().unwrap();
    assert_eq!(imap.password, "s3cret");
    assert_eq!(imap.port, 993);
    assert!(c.storage.database.is_absolute());
}

#[test]
fn problems_name_their_keys_all_at_once() {
    let bad = MINIMAL
        .replace("address = \"support@example.com\"", "address = \"nope\"")
        .replace("queue = \"support\"\nhost", "queue = \"sales\"\nhost");
    let (_d, p) = write(&bad);
    let e = Config::load_with_env(&p, &env(&[])).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("mailbox[0].address"), "{text}");
    assert!(text.contains("mailbox[0].queue"), "{text}");
    assert!(text.contains("mailbox[0].password_env"), "{text}");
    assert!(text.contains(&p.display().to_string()), "{text}");
}

#[test]
fn unknown_key_is_an_error() {
    let (_d, p) = write(&MINIMAL.replace("[smtp]", "[smtp]\nhots = \"x\""));
    let e = Config::load_with_env(&p, &env(&[("PW", "x")])).unwrap_err();
    assert!(e.to_string().contains("hots"), "{e}");
}

#[test]
fn missing_file_says_what_to_do() {
    let e = Config::load_with_env(Path::new("/nonexistent/p.toml"), &env(&[])).unwrap_err();
    assert!(e.to_string().contains("--config"), "{e}");
}

#[test]
fn addresses() {
    assert!(valid_address("a@b.c"));
    assert!(valid_address("a@localhost"));
    assert!(!valid_address("a b@c.d"));
    assert!(!valid_address("@c.d"));
    assert!(!valid_address("a@b\r\n.c"));
    assert!(!valid_address("a@b.c,d@e.f"));
    assert!(!valid_address("a@b@c.d"));
}

/// The problems `text` has, one line each, the file shown as `c.toml`.
fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let (_d, p) = write(text);
    let mut all = vec![("PW", "x")];
    all.extend_from_slice(vars);
    let e = Config::load_with_env(&p, &env(&all)).unwrap_err();
    let file = p.display().to_string();
    e.problems
        .iter()
        .map(|pr| e.line(pr).replace(&file, "c.toml"))
        .collect()
}

/// `MINIMAL` with `line` (1-based) replaced by `with`.
fn minimal_with(line: usize, with: &str) -> String {
    let mut lines: Vec<&str> = MINIMAL.split('\n').collect();
    lines[line - 1] = with;
    lines.join("\n")
}

#[test]
fn minimal_lines_are_where_the_tests_think() {
    assert_eq!(MINIMAL.split('\n').nth(8), Some("tls = \"none\""));
    assert_eq!(MINIMAL.split('\n').nth(18), Some("after = \"flag\""));
}

#[test]
fn unknown_key_names_line_and_nearest_key() {
    assert_eq!(
        problems(&minimal_with(8, "hots = \"localhost\""), &[]),
        [
            "c.toml:7: smtp.host: is required but missing (see config.example.toml)",
            "c.toml:8: smtp.hots: unknown key; did you mean host?",
        ]
    );
    assert_eq!(
        problems(&minimal_with(19, "after = \"flag\"\nidel = false"), &[]),
        ["c.toml:20: mailbox[0].idel: unknown key; did you mean idle?"]
    );
    assert_eq!(
        problems(&minimal_with(7, "[smpt]"), &[]),
        [
            "c.toml: smtp: is required but missing (see config.example.toml)",
            "c.toml:7: smpt: unknown key; did you mean smtp?",
        ]
    );
}

#[test]
fn wrong_type_names_line_key_and_what_is_allowed() {
    assert_eq!(
        problems(&minimal_with(19, "after = \"flag\"\nidle = \"yes\""), &[]),
        ["c.toml:20: mailbox[0].idle: the string \"yes\" is not allowed here; expected true or false"]
    );
    // A required key of the wrong type is reported once, not also as missing
    // or as an invalid host name.
    assert_eq!(
        problems(&minimal_with(3, "fqdn = 3"), &[]),
        ["c.toml:3: system.fqdn: the number 3 is not allowed here; expected a string in quotes"]
    );
}

#[test]
fn out_of_range_number_names_the_range() {
    assert_eq!(
        problems(&minimal_with(9, "tls = \"none\"\nport = 70000"), &[]),
        ["c.toml:10: smtp.port: 70000 is out of range; expected 1 to 65535"]
    );
    assert_eq!(
        problems(&minimal_with(9, "tls = \"none\"\nport = 0"), &[]),
        ["c.toml:10: smtp.port: 0 is out of range; expected 1 to 65535"]
    );
}

#[test]
fn enum_value_lists_the_valid_ones() {
    assert_eq!(
        problems(&minimal_with(17, "username = \"support\"\ntls = \"ssl\""), &[]),
        ["c.toml:18: mailbox[0].tls: \"ssl\" is not valid; expected one of implicit, starttls, none"]
    );
    // A bad `after` does not also bring "move_to required when after = move"
    // from the default standing in for it.
    assert_eq!(
        problems(&minimal_with(19, "after = \"mv\""), &[]),
        ["c.toml:19: mailbox[0].after: \"mv\" is not valid; expected one of move, flag, delete"]
    );
}

#[test]
fn unknown_log_level_is_an_error() {
    // EnvFilter alone takes "debg" as a target name and logs nothing.
    let text = format!("{MINIMAL}[log]\nlevel = \"debg\"\n");
    let found = problems(&text, &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "c.toml:21: log.level: \"debg\" is not a log level; expected one of trace, debug, info, warn, error, off"
        ),
        "{found:?}"
    );
    let found = problems(
        &format!("{MINIMAL}[log]\nlevel = \"info,postdesk=verbose\"\n"),
        &[],
    );
    assert!(
        found[0].contains("\"postdesk=verbose\" is not a log level"),
        "{found:?}"
    );
    for good in ["info", "warn,postdesk=debug", "postdesk::intake=trace,off"] {
        let (_d, p) = write(&format!("{MINIMAL}[log]\nlevel = \"{good}\"\n"));
        Config::load_with_env(&p, &env(&[("PW", "x")])).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

#[test]
fn environment_problems_name_the_variable_not_the_file() {
    assert_eq!(
        problems(MINIMAL, &[("POSTDESK_SMTP__PORT", "70000")]),
        ["environment variable POSTDESK_SMTP__PORT: smtp.port: 70000 is out of range; expected 1 to 65535"]
    );
    assert_eq!(
        problems(MINIMAL, &[("POSTDESK_MAILBOX__0__TLS", "ssl")]),
        ["environment variable POSTDESK_MAILBOX__0__TLS: mailbox[0].tls: \"ssl\" is not valid; expected one of implicit, starttls, none"]
    );
    assert_eq!(
        problems(MINIMAL, &[("POSTDESK_SMTP__HOTS", "x")]),
        ["environment variable POSTDESK_SMTP__HOTS: smtp.hots: unknown key; did you mean host?"]
    );
    assert_eq!(
        problems(MINIMAL, &[("POSTDESK_MAILBOX__3__IDLE", "false")]),
        ["environment variable POSTDESK_MAILBOX__3__IDLE: mailbox[3].idle: cannot be set: there is no mailbox[3] in the file"]
    );
    assert_eq!(
        problems(MINIMAL, &[("POSTDESK_SYSTEM__FQDN", "not a host")]),
        ["environment variable POSTDESK_SYSTEM__FQDN: system.fqdn: \"not a host\" is not a host name (letters, digits, '.', '-')"]
    );
}

#[test]
fn environment_values_take_the_type_the_key_wants() {
    let (_d, p) = write(MINIMAL);
    let c = Config::load_with_env(
        &p,
        &env(&[
            ("PW", "x"),
            ("POSTDESK_MAILBOX__0__IDLE", "false"),
            ("POSTDESK_MAILBOX__0__PASSWORD_ENV", "PW"),
            ("POSTDESK_SYSTEM__OWN_ADDRESSES", "[\"a@example.com\"]"),
            ("POSTDESK_LOG__LEVEL", "debug"),
        ]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.mailboxes[0].idle);
    assert_eq!(c.system.own_addresses, ["a@example.com"]);
    assert_eq!(c.log.level, "debug");
}

#[test]
fn every_problem_at_once_in_line_order() {
    let text = MINIMAL
        .replace("tls = \"none\"", "tls = \"none\"\nport = 70000")
        .replace(
            "after = \"flag\"",
            "after = \"flag\"\ntls = \"ssl\"\nidle = \"yes\"\nidel = true",
        )
        .replace("address = \"support@example.com\"", "address = \"nope\"")
        + "[log]\nlevel = \"debg\"\n";
    let found = problems(&text, &[("POSTDESK_SMTP__TIMEOUT_SECS", "soon")]);
    let keys: Vec<&str> = found
        .iter()
        .map(|l| l.split(": ").nth(1).unwrap_or_default())
        .collect();
    assert_eq!(
        keys,
        [
            "smtp.port",
            "mailbox[0].address",
            "mailbox[0].tls",
            "mailbox[0].idle",
            "mailbox[0].idel",
            "log.level",
            "smtp.timeout_secs",
        ],
        "{found:#?}"
    );
    assert!(found[0].starts_with("c.toml:10: "), "{found:#?}");
    assert!(found[1].starts_with("c.toml:15: "), "{found:#?}");
    assert!(found[6].starts_with("environment variable POSTDESK_SMTP__TIMEOUT_SECS: "));
}

#[test]
fn missing_key_points_at_its_table() {
    assert_eq!(
        problems(&minimal_with(3, ""), &[]),
        ["c.toml:2: system.fqdn: is required but missing (see config.example.toml)"]
    );
    assert_eq!(
        problems(&minimal_with(19, "after = \"move\""), &[]),
        ["c.toml:12: mailbox[0].move_to: required when after = \"move\" (e.g. \"Processed\")"]
    );
}

#[test]
fn single_table_where_a_list_is_wanted_says_double_brackets() {
    assert_eq!(
        problems(&minimal_with(10, "[queue]"), &[]),
        ["c.toml:10: queue: a single table is not allowed here; expected a list (write [[queue]] for each entry)"]
    );
}

#[test]
fn syntax_errors_name_their_line() {
    let found = problems(&minimal_with(5, "database = \"db.sqlite"), &[]);
    assert!(
        found[0].starts_with("c.toml:5: not valid TOML: "),
        "{found:?}"
    );
}

#[test]
fn a_section_of_the_wrong_type_is_one_problem() {
    let text = format!(
        "system = 3\n{}",
        MINIMAL.replace("[system]\nfqdn = \"desk.example.com\"\n", "")
    );
    assert_eq!(
        problems(&text, &[]),
        ["c.toml:1: system: the number 3 is not allowed here; expected a table"]
    );
}

#[test]
fn second_entry_missing_its_name_is_named_by_index() {
    let text =
        format!("{MINIMAL}[[mailbox]]\naddress = \"sales@example.com\"\nqueue = \"support\"\nafter = \"flag\"\n");
    assert_eq!(
        problems(&text, &[]),
        ["c.toml:20: mailbox[1].name: is required but missing (see config.example.toml)"]
    );
}

#[test]
fn own_addresses_match_with_tags_case_and_trailing_dots() {
    let (_d, p) = write(MINIMAL);
    let c = Config::load_with_env(&p, &env(&[("PW", "x")])).unwrap_or_else(|e| panic!("{e}"));
    let own = c.own_addresses();
    for ours in [
        "support@example.com",
        "Support@Example.COM",
        "support+x@example.com",
        "support@example.com.",
        "SUPPORT+billing@example.com.",
        // A reply address with a token (auth::token) is the support address.
        "support+t2026112210000017-k7f3qx2m9a@example.com",
    ] {
        assert!(own.contains(ours), "{ours}");
    }
    for theirs in [
        "supports@example.com",
        "support@example.co",
        "x+support@example.com",
    ] {
        assert!(!own.contains(theirs), "{theirs}");
    }
}

#[test]
fn auth_trusts_no_authserv_id_unless_told_and_checks_each() {
    let (_d, p) = write(MINIMAL);
    let c = Config::load_with_env(&p, &env(&[("PW", "x")])).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.auth.authserv_id.is_empty(), "secure default: none");
    let (_d, p) = write(&format!(
        "{MINIMAL}\n[auth]\nauthserv_id = [\"MX.Example.com\", \"mx2.example.com\"]\n"
    ));
    let c = Config::load_with_env(&p, &env(&[("PW", "x")])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.auth.authserv_id, ["mx.example.com", "mx2.example.com"]);
    let p = problems(
        &format!("{MINIMAL}\n[auth]\nauthserv_id = [\"mx.example.com\", \"\", \"a b;\"]\n"),
        &[],
    );
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains("auth.authserv_id[1]") && p[1].contains("auth.authserv_id[2]"),
        "{p:?}"
    );
}

/// The warnings of `text`, one line each, the file shown as `c.toml`.
fn warnings(text: &str) -> Vec<String> {
    let (_d, p) = write(text);
    let c = Config::load_with_env(&p, &env(&[])).unwrap_or_else(|e| panic!("{e}"));
    let file = p.display().to_string();
    c.warnings
        .iter()
        .map(|w| w.replace(&file, "c.toml"))
        .collect()
}

#[test]
fn pipe_only_warning_names_every_imap_key_set_and_the_mailbox_line() {
    let text = format!(
        "{PIPE_ONLY}port = 993\ntls = \"starttls\"\npassword_env = \"NOT_SET\"\nfolder = \"Support\"\n\
         poll_interval_secs = 30\nidle = false\nbatch_size = 10\nafter = \"flag\"\n"
    );
    assert_eq!(
        warnings(&text),
        ["c.toml:12: mailbox[0]: port, tls, password_env, folder, after, poll_interval_secs, idle, batch_size ignored: this mailbox has no IMAP host (pipe-only)"]
    );
}

#[test]
fn env_override_making_a_new_table_is_blamed_on_the_variable() {
    assert_eq!(
        problems(MINIMAL, &[("POSTDESK_NOSUCH__X", "1")]),
        ["environment variable POSTDESK_NOSUCH__X: nosuch: unknown key; expected one of system, storage, paths, log, smtp, priority, queue, mailbox, http, health, retention, auth"]
    );
    assert_eq!(
        problems(MINIMAL, &[("POSTDESK_SYSTEM__FQDM__X", "1")]),
        ["environment variable POSTDESK_SYSTEM__FQDM__X: system.fqdm: unknown key; did you mean fqdn?"]
    );
    // A table that is in the file stays the file's, whatever is set in it.
    assert_eq!(
        problems(
            &minimal_with(19, "after = \"move\""),
            &[("POSTDESK_MAILBOX__0__IDLE", "false")]
        ),
        ["c.toml:12: mailbox[0].move_to: required when after = \"move\" (e.g. \"Processed\")"]
    );
}

#[test]
fn queue_renamed_by_env_is_named_in_the_mailbox_problem() {
    assert_eq!(
        problems(MINIMAL, &[("POSTDESK_QUEUE__0__NAME", "other")]),
        ["c.toml:15: mailbox[0].queue: no [[queue]] is named \"support\" (define it or fix the name; queue[0].name was set to \"other\" by POSTDESK_QUEUE__0__NAME)"]
    );
}

#[test]
fn one_table_section_written_as_a_list_says_single_brackets() {
    assert_eq!(
        problems(&MINIMAL.replace("[smtp]", "[[smtp]]"), &[]),
        ["c.toml:7: smtp: write [smtp] (one table), not [[smtp]]"]
    );
    assert_eq!(
        problems(&MINIMAL.replace("[system]", "[[system]]"), &[]),
        ["c.toml:2: system: write [system] (one table), not [[system]]"]
    );
    // Its keys are still read, and their problems told.
    assert_eq!(
        problems(
            &MINIMAL.replace("[storage]\ndatabase", "[[storage]]\ndatabse"),
            &[]
        ),
        [
            "c.toml:4: storage: write [storage] (one table), not [[storage]]",
            "c.toml:4: storage.database: is required but missing (see config.example.toml)",
            "c.toml:5: storage.databse: unknown key; did you mean database?",
        ]
    );
    assert_eq!(
        problems(&format!("{MINIMAL}[[log]]\nlevel = \"info\"\n"), &[]),
        ["c.toml:20: log: write [log] (one table), not [[log]]"]
    );
}

#[test]
fn duplicate_key_names_the_key_and_its_first_line() {
    assert_eq!(
        problems(
            &minimal_with(6, "data_dir = \"data\"\ndatabase = \"x\""),
            &[]
        ),
        ["c.toml:7: storage.database: defined twice (first on line 5)"]
    );
    // A table defined twice is one problem, not one more per key in it.
    assert_eq!(
        problems(&format!("{MINIMAL}[smtp]\nhost = \"x\"\n"), &[]),
        ["c.toml:20: smtp: defined twice (first on line 7)"]
    );
    assert_eq!(
        problems(
            &format!("{MINIMAL}[[mailbox]]\nname = \"a\"\nname = \"b\"\n"),
            &[]
        ),
        ["c.toml:22: mailbox[1].name: defined twice (first on line 21)"]
    );
    assert_eq!(
        problems(&format!("{MINIMAL}[log]\nx.y = 1\nx.y = 2\n"), &[]),
        ["c.toml:22: log.x.y: defined twice (first on line 21)"]
    );
}

#[test]
fn out_of_range_messages_give_the_range_the_check_allows() {
    let mailbox =
        |with: &str| problems(&minimal_with(19, &format!("after = \"flag\"\n{with}")), &[]);
    assert_eq!(
        mailbox("batch_size = -1"),
        ["c.toml:20: mailbox[0].batch_size: -1 is out of range; expected 1 to 10000"]
    );
    assert_eq!(
        mailbox("batch_size = 0"),
        ["c.toml:20: mailbox[0].batch_size: 0 is out of range; expected 1 to 10000"]
    );
    assert_eq!(
        mailbox("poll_interval_secs = 3601"),
        ["c.toml:20: mailbox[0].poll_interval_secs: 3601 is out of range; expected 1 to 3600"]
    );
    let system = |with: &str| {
        problems(
            &minimal_with(3, &format!("fqdn = \"desk.example.com\"\n{with}")),
            &[],
        )
    };
    assert_eq!(
        system("system_id = 99999999999999999999"),
        ["c.toml:4: system.system_id: 99999999999999999999 is out of range; expected 0 to 99"]
    );
    assert_eq!(
        system("system_id = 100"),
        ["c.toml:4: system.system_id: 100 is out of range; expected 0 to 99"]
    );
    assert_eq!(
        system("max_message_bytes = -5"),
        ["c.toml:4: system.max_message_bytes: -5 is out of range; expected 1024 to 268435456"]
    );
}

#[test]
fn priority_matrix_is_checked_with_its_line() {
    let found = problems(
        &format!("{MINIMAL}\n[priority]\nmatrix = [[1, 2, 3, 4, 6]]\n"),
        &[],
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .starts_with("c.toml:22: priority.matrix: expected 5 rows (urgency 1 to 5), found 1"),
        "{found:?}"
    );
    let rows = "[[1,1,1,1,1],[2,2,2,2,2],[3,3,3,3,3],[4,4,4,4,4],[5,5,5,5,6]]";
    let (_d, p) = write(&format!("{MINIMAL}\n[priority]\nmatrix = {rows}\n"));
    let c = Config::load_with_env(&p, &env(&[("PW", "x")])).unwrap();
    assert_eq!(c.priority.priority(5, 5), 6);
    assert_eq!(c.priority.priority(2, 5), 2);
    let (_d, p) = write(MINIMAL);
    let c = Config::load_with_env(&p, &env(&[("PW", "x")])).unwrap();
    assert_eq!(c.priority, crate::tickets::priority::Matrix::default());
}
