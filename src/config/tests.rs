//! The configuration's tests: the example file, overrides, and every kind
//! of problem with its file, line and key.

use super::*;

pub(super) fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
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

pub(super) fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, text).unwrap();
    (dir, p)
}

pub(super) const MINIMAL: &str = r#"
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

pub(super) const PIPE_ONLY: &str = r#"
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
pub(super) fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<String> {
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
pub(super) fn minimal_with(line: usize, with: &str) -> String {
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
