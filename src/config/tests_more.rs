//! Config tests, continued: our own addresses, `[auth]`, warnings and
//! what environment overrides are blamed for (helpers in `tests.rs`).

use super::tests::{env, minimal_with, problems, write, MINIMAL, PIPE_ONLY};
use super::*;

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
        ["environment variable POSTDESK_NOSUCH__X: nosuch: unknown key; expected one of system, storage, paths, log, smtp, priority, queue, mailbox, http, health, retention, auth, lifecycle"]
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
