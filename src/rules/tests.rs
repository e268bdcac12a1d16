//! Criteria, operators, combinators, evaluation order and load errors,
//! as tables of cases.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};

use super::*;

/// Tuesday 1 December 2026, 10:30 UTC.
pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 30, 0).unwrap()
}

pub(super) fn mail() -> Message<'static> {
    Message {
        from: "Ana@Client.example",
        to: &["support@desk.example", "other@elsewhere.example"],
        cc: &["boss@client.example"],
        mailbox: "support",
        address: "support@desk.example",
        subject: "Invoice 42 overdue",
        body_new: "Please see the attached invoice.",
        body: "Please see the attached invoice.\n> Earlier: a refund was promised",
        headers: &[
            ("X-Spam-Flag", "NO"),
            ("Received", "from a"),
            ("received", "from b"),
        ],
        sender_domain: "client.example",
        customer: Some("Client Ltd"),
        is_new: true,
        class: Class::Person,
        has_attachments: true,
        size: 2048,
        language: Some("en"),
    }
}

/// A set from (file name, text) pairs, in the order given.
pub(super) fn set(files: &[(&str, &str)]) -> Result<RuleSet, Vec<RuleError>> {
    let files: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(n, t)| (Path::new("rules").join(n), t.to_string()))
        .collect();
    RuleSet::from_texts(Path::new("rules"), &files)
}

fn one_rule(when: &str) -> RuleSet {
    let text = format!("[[rule]]\nname = \"r\"\nwhen = {when}\nactions = {{ urgency = 2 }}\n");
    set(&[("t.toml", &text)]).unwrap_or_else(|e| panic!("{when}: {}", describe(&e)))
}

/// Each `when` against `m`: the cases whose outcome differs.
fn check(m: &Message, cases: &[(&str, bool)]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(when, expected)| {
            let got = one_rule(when).evaluate(m, now()).trace[0].matched;
            (got != *expected).then(|| format!("{when}: expected {expected}, got {got}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn text_fields_and_operators() {
    check(
        &mail(),
        &[
            (r#"{ from = "ana@client.example" }"#, true),
            (
                r#"{ from = { equals = "ana@client.example", ignore_case = false } }"#,
                false,
            ),
            (
                r#"{ from = { equals = "Ana@Client.example", ignore_case = false } }"#,
                true,
            ),
            (r#"{ from = "ana@client" }"#, false),
            (r#"{ to = "other@elsewhere.example" }"#, true),
            (r#"{ to = { ends_with = "@desk.example" } }"#, true),
            (r#"{ to = "boss@client.example" }"#, false),
            (r#"{ cc = { starts_with = "boss@" } }"#, true),
            (r#"{ cc = { starts_with = "client" } }"#, false),
            (r#"{ mailbox = "SUPPORT" }"#, true),
            (r#"{ mailbox = "sales" }"#, false),
            (
                r#"{ address = { in = ["sales@desk.example", "support@desk.example"] } }"#,
                true,
            ),
            (r#"{ address = ["sales@desk.example"] }"#, false),
            (r#"{ subject = { contains = "invoice" } }"#, true),
            (
                r#"{ subject = { contains = ["refund", "overdue"] } }"#,
                true,
            ),
            (r#"{ subject = { contains = "refund" } }"#, false),
            (r#"{ subject = { regex = '^invoice \d+' } }"#, true),
            (
                r#"{ subject = { regex = '^invoice \d+', ignore_case = false } }"#,
                false,
            ),
            (r#"{ subject = { regex = ['^x', 'overdue$'] } }"#, true),
            (r#"{ subject = { ends_with = "OVERDUE" } }"#, true),
            (r#"{ subject = { starts_with = "overdue" } }"#, false),
            (r#"{ body = { contains = "refund" } }"#, true),
            (r#"{ body_new = { contains = "refund" } }"#, false),
            (r#"{ body_new = { contains = "attached" } }"#, true),
            (
                r#"{ header = { name = "x-spam-flag", equals = "no" } }"#,
                true,
            ),
            (
                r#"{ header = { name = "X-Spam-Flag", equals = "YES" } }"#,
                false,
            ),
            (
                r#"{ header = { name = "RECEIVED", equals = "from b" } }"#,
                true,
            ),
            (
                r#"{ header = { name = "X-Missing", regex = ".*" } }"#,
                false,
            ),
            (
                r#"{ sender_domain = { in = ["vip.example", "client.example"] } }"#,
                true,
            ),
            (r#"{ sender_domain = "client" }"#, false),
            (r#"{ customer = { starts_with = "client" } }"#, true),
            (r#"{ customer = "Other" }"#, false),
            (r#"{ language = ["pt", "en"] }"#, true),
            (r#"{ language = "fr" }"#, false),
            // Literal operators quote regex syntax.
            (r#"{ subject = { contains = "4." } }"#, false),
        ],
    );
}

#[test]
fn absent_values_never_match() {
    let m = Message {
        customer: None,
        language: None,
        to: &[],
        ..mail()
    };
    check(
        &m,
        &[
            (r#"{ customer = { regex = ".*" } }"#, false),
            (r#"{ language = { regex = ".*" } }"#, false),
            (r#"{ to = { regex = ".*" } }"#, false),
            (r#"{ not = { customer = { regex = ".*" } } }"#, true),
        ],
    );
}

#[test]
fn other_criteria() {
    let follow_up = Message {
        is_new: false,
        class: Class::Bounce,
        has_attachments: false,
        ..mail()
    };
    let cases_new: &[(&str, bool)] = &[
        (r#"{ ticket = "new" }"#, true),
        (r#"{ ticket = "follow_up" }"#, false),
        (r#"{ ticket = { in = ["new", "follow_up"] } }"#, true),
        (r#"{ class = "person" }"#, true),
        (
            r#"{ class = ["bounce", "list", "auto_reply", "robot"] }"#,
            false,
        ),
        (r#"{ attachments = true }"#, true),
        (r#"{ attachments = { equals = false } }"#, false),
        (r#"{ size = 2048 }"#, true),
        (r#"{ size = { greater_than = 2047 } }"#, true),
        (r#"{ size = { greater_than = 2048 } }"#, false),
        (r#"{ size = { less_than = 1_000_000 } }"#, true),
        (r#"{ size = { less_than = 2048 } }"#, false),
    ];
    check(&mail(), cases_new);
    check(
        &follow_up,
        &[
            (r#"{ ticket = "new" }"#, false),
            (r#"{ ticket = { equals = "follow_up" } }"#, true),
            (r#"{ class = { equals = "bounce" } }"#, true),
            (r#"{ class = { in = ["person", "list"] } }"#, false),
            (r#"{ attachments = false }"#, true),
        ],
    );
}

#[test]
fn weekday_and_time_in_a_time_zone() {
    // now() is Tuesday 10:30 UTC: 11:30 in Paris, 19:30 in Tokyo, and
    // already Wednesday 00:30 on Kiritimati (UTC+14).
    check(
        &mail(),
        &[
            (r#"{ weekday = "tue" }"#, true),
            (r#"{ weekday = "Tuesday" }"#, true),
            (r#"{ weekday = ["sat", "sun"] }"#, false),
            (
                r#"{ weekday = { equals = "wed", time_zone = "Pacific/Kiritimati" } }"#,
                true,
            ),
            (
                r#"{ weekday = { in = ["mon", "tue"], time_zone = "Pacific/Kiritimati" } }"#,
                false,
            ),
            (r#"{ time = { between = ["09:00", "18:00"] } }"#, true),
            (r#"{ time = { between = ["10:30", "10:31"] } }"#, true),
            (r#"{ time = { between = ["09:00", "10:30"] } }"#, false),
            (
                r#"{ time = { between = ["11:00", "12:00"], time_zone = "Europe/Paris" } }"#,
                true,
            ),
            (
                r#"{ time = { between = ["09:00", "18:00"], time_zone = "Asia/Tokyo" } }"#,
                false,
            ),
            (
                r#"{ time = { between = ["18:00", "08:00"], time_zone = "Asia/Tokyo" } }"#,
                true,
            ),
            (r#"{ time = { between = ["18:00", "08:00"] } }"#, false),
            (r#"{ time = { between = ["00:00", "24:00"] } }"#, true),
        ],
    );
    // A file's time_zone applies to its rules unless a criterion names its own.
    let text = "time_zone = \"Asia/Tokyo\"\n[[rule]]\nname = \"evening\"\n\
                when = { time = { between = [\"19:00\", \"20:00\"] } }\nstop = true\n\
                [[rule]]\nname = \"morning\"\n\
                when = { time = { between = [\"10:00\", \"11:00\"], time_zone = \"UTC\" } }\nstop = true\n";
    let s = set(&[("tz.toml", text)]).unwrap();
    let ev = s.evaluate(&mail(), now());
    assert!(ev.trace[0].matched);
    let at_ten = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() - chrono::Duration::hours(1);
    let ev = s.evaluate(&mail(), at_ten);
    assert_eq!(
        ev.trace.iter().map(|t| t.matched).collect::<Vec<_>>(),
        [false, false]
    );
}

#[test]
fn combinators() {
    check(
        &mail(),
        &[
            // Several keys in one table: all must hold.
            (
                r#"{ subject = { contains = "invoice" }, class = "person" }"#,
                true,
            ),
            (
                r#"{ subject = { contains = "invoice" }, class = "bounce" }"#,
                false,
            ),
            (
                r#"{ all = [ { ticket = "new" }, { size = { less_than = 10 } } ] }"#,
                false,
            ),
            (
                r#"{ all = [ { ticket = "new" }, { size = { less_than = 10000 } } ] }"#,
                true,
            ),
            (
                r#"{ any = [ { class = "bounce" }, { language = "en" } ] }"#,
                true,
            ),
            (
                r#"{ any = [ { class = "bounce" }, { language = "fr" } ] }"#,
                false,
            ),
            (r#"{ not = { class = "bounce" } }"#, true),
            (
                r#"{ not = { class = "person", ticket = "follow_up" } }"#,
                true,
            ),
            (
                r#"{ not = { any = [ { class = "bounce" }, { language = "en" } ] } }"#,
                false,
            ),
            (
                r#"{ any = [ { all = [ { from = "x@y" }, { ticket = "new" } ] }, { not = { size = 1 } } ] }"#,
                true,
            ),
            // An empty `when` acts on every mail.
            ("{}", true),
        ],
    );
}

const ORDERED: &str = r#"
[[rule]]
name = "first"
when = { ticket = "new" }
actions = { tags = ["one"] }

[[rule]]
name = "disabled"
enabled = false
when = {}
actions = { tags = ["never"] }

[[rule]]
name = "no match"
when = { class = "list" }
actions = { tags = ["list"] }

[[rule]]
name = "stopper"
stop = true
when = { subject = { contains = "invoice" } }
actions = { queue = "billing" }

[[rule]]
name = "after the stop"
when = {}
actions = { tags = ["late"] }
"#;

#[test]
fn order_stop_and_disabled_rules() {
    let early = "[[rule]]\nname = \"from 00\"\nwhen = {}\nactions = { urgency = 2 }\n";
    // Given in name order as `load` sorts them.
    let s = set(&[("00-early.toml", early), ("10-main.toml", ORDERED)]).unwrap();
    let ev = s.evaluate(&mail(), now());
    let actions: Vec<(&str, String)> = ev
        .actions
        .iter()
        .map(|(r, a)| (*r, a.to_string()))
        .collect();
    assert_eq!(
        actions,
        [
            ("from 00", "urgency = 2".to_string()),
            ("first", r#"tags += ["one"]"#.to_string()),
            ("stopper", r#"queue = "billing""#.to_string()),
        ]
    );
    let tried: Vec<(&str, bool, bool)> = ev
        .trace
        .iter()
        .map(|t| (t.rule, t.matched, t.stopped))
        .collect();
    assert_eq!(
        tried,
        [
            ("from 00", true, false),
            ("first", true, false),
            ("no match", false, false),
            ("stopper", true, true),
        ]
    );
    assert_eq!(ev.trace[2].criteria, [(r#"class in [list]"#, false)]);
    assert_eq!(ev.trace[1].file, Path::new("rules/10-main.toml"));
    // Without a match, a stop rule does not stop.
    let m = Message {
        subject: "hello",
        ..mail()
    };
    let ev = s.evaluate(&m, now());
    assert_eq!(ev.trace.last().unwrap().rule, "after the stop");
}

#[test]
fn load_sorts_by_file_name_and_skips_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let rule =
        |n: &str| format!("[[rule]]\nname = \"{n}\"\nwhen = {{}}\nactions = {{ urgency = 2 }}\n");
    std::fs::write(dir.path().join("20-b.toml"), rule("b")).unwrap();
    std::fs::write(dir.path().join("10-a.toml"), rule("a")).unwrap();
    std::fs::write(dir.path().join("3-c.toml"), rule("c")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();
    let s = RuleSet::load(dir.path()).unwrap();
    let names: Vec<&str> = s.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(s.files.len(), 3);
    let e = RuleSet::load(&dir.path().join("missing")).unwrap_err();
    assert!(e[0].to_string().contains("create the folder"), "{e:?}");
    assert!(RuleSet::load(tempfile::tempdir().unwrap().path())
        .unwrap()
        .rules
        .is_empty());
}

/// (line, key, part of the reason) of one expected problem.
type Expected = (usize, &'static str, &'static str);

/// Each bad file: the (line, key, part of the reason) of every problem.
#[test]
fn load_errors_name_line_rule_key_and_reason() {
    let cases: &[(&str, &[Expected])] = &[
        ("name = \n", &[(1, "", "not valid TOML")]),
        ("nmae = 1\n", &[(1, "nmae", "unknown key; expected one of time_zone, rule")]),
        ("time_zone = \"Europe/Lisbn\"\n", &[(1, "time_zone", "did you mean Europe/Lisbon?")]),
        ("[[rule]]\nwhen = {}\nstop = true\n", &[(1, "name", "needs a name")]),
        ("[[rule]]\nname = \"x\"\nactions = { urgency = 2 }\n", &[(1, "when", "needs `when`")]),
        ("[[rule]]\nname = \"x\"\nwhen = {}\n", &[(1, "actions", "does nothing")]),
        ("[[rule]]\nname = \"x\"\nstopp = true\nwhen = {}\nstop = true\n", &[(3, "stopp", "did you mean stop?")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { subjet = \"a\" }\n", &[(4, "when.subjet", "did you mean subject?")]),
        ("[[rule]]\nname = \"x\"\nstop = true\n\nwhen = { subject = { contain = \"a\" } }\n", &[
            (5, "when.subject.contain", "did you mean contains?"),
            (5, "when.subject", "exactly one operator"),
        ]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { subject = { regex = \"(unclosed\" } }\n", &[(4, "when.subject.regex", "bad regex")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { subject = { equals = [\"a\", \"b\"] } }\n", &[(4, "when.subject.equals", "use `in`")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { subject = 3 }\n", &[(4, "when.subject", "found integer")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { header = { equals = \"YES\" } }\n", &[(4, "when.header", "header's name")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { class = \"human\" }\n", &[(4, "when.class", "unknown value \"human\"")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { weekday = [\"mon\", \"fryday\"] }\n", &[(4, "when.weekday", "unknown value \"fryday\"")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { ticket = \"old\" }\n", &[(4, "when.ticket", "expected new, follow_up")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { time = { between = [\"9:00\", \"18:00\"] } }\n", &[(4, "when.time.between", "HH:MM")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { time = { between = [\"09:00\", \"09:00\"] } }\n", &[(4, "when.time.between", "empty")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { time = { between = [\"09:00\", \"18:00\"], time_zone = \"Mars/Olympus\" } }\n", &[(4, "when.time.time_zone", "unknown time zone")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { size = { greater_than = -1 } }\n", &[(4, "when.size.greater_than", "number of bytes")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { attachments = \"yes\" }\n", &[(4, "when.attachments", "true or false")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { any = [] }\n", &[(4, "when.any", "empty")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { all = [ { subjet = \"a\" } ] }\n", &[(4, "when.all[0].subjet", "did you mean subject?")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = { not = { class = \"robots\" } }\n", &[(4, "when.not.class", "unknown value")]),
        ("[[rule]]\nname = \"x\"\nstop = true\nwhen = \"always\"\n", &[(4, "when", "table of criteria")]),
        ("[[rule]]\nname = \"x\"\nenabled = \"no\"\nwhen = {}\nstop = true\n", &[(3, "enabled", "true or false")]),
        ("rule = 3\n", &[(1, "rule", "[[rule]] tables")]),
    ];
    let mut wrong = Vec::new();
    for (text, expected) in cases {
        let got = match set(&[("bad.toml", text)]) {
            Ok(_) => Vec::new(),
            Err(e) => e,
        };
        let ok = got.len() == expected.len()
            && got
                .iter()
                .zip(expected.iter())
                .all(|(g, (line, key, why))| {
                    g.line == Some(*line)
                        && g.key == *key
                        && g.reason.contains(why)
                        && g.file == Path::new("rules/bad.toml")
                });
        if !ok {
            wrong.push(format!(
                "{text:?}:\n  expected {expected:?}\n  got {got:#?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn errors_carry_the_rule_name_and_every_file_is_reported() {
    let bad = "[[rule]]\nname = \"vip\"\nwhen = { sender_domain = { regex = \"[\" } }\nactions = { urgency = 9 }\n";
    let e = set(&[("a.toml", bad), ("b.toml", "x = \n"), ("c.toml", ORDERED)]).unwrap_err();
    let lines: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].starts_with("rules/a.toml:3: rule \"vip\": when.sender_domain.regex: bad regex"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "rules/a.toml:4: rule \"vip\": actions.urgency: expected a whole number from 1 to 5"
    );
    assert!(
        lines[2].starts_with("rules/b.toml:1: not valid TOML"),
        "{}",
        lines[2]
    );
}

#[test]
fn rule_names_are_unique_across_files() {
    let e = set(&[("a.toml", ORDERED), ("b.toml", ORDERED)]).unwrap_err();
    assert_eq!(e.len(), 5, "{}", describe(&e));
    assert_eq!(
        e[0].to_string(),
        "rules/b.toml:2: rule \"first\": name: a rule of this name is already in rules/a.toml:2; names must be unique"
    );
}

#[test]
fn trace_reads_like_the_file() {
    let s = one_rule(
        r#"{ subject = { contains = ["x", "due"] }, header = { name = "X-Spam", equals = "yes", ignore_case = false }, not = { weekday = ["sat", "sun"] }, any = [ { time = { between = ["18:00", "08:00"], time_zone = "Europe/Paris" } }, { size = { greater_than = 10 } } ] }"#,
    );
    let ev = s.evaluate(&mail(), now());
    let texts: Vec<&str> = ev.trace[0].criteria.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        texts,
        [
            r#"subject contains any of ["x", "due"]"#,
            r#"header X-Spam equals "yes" (case-sensitive)"#,
            "not (weekday in [sat, sun] (UTC))",
            "any of (time between 18:00 and 08:00 (Europe/Paris); size > 10 bytes)",
        ]
    );
    let held: Vec<bool> = ev.trace[0].criteria.iter().map(|(_, b)| *b).collect();
    assert_eq!(held, [true, false, true, true]);
    assert!(!ev.trace[0].matched);
}

#[test]
fn no_rule_text_panics_the_loader() {
    // Every 7th prefix of the shipped files, and each with a byte flipped:
    // whatever it reads, the loader answers with rules or problems.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut texts: Vec<String> = Vec::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            texts.push(std::fs::read_to_string(p).unwrap());
        }
    }
    let mut tried = 0;
    for text in &texts {
        let bytes = text.as_bytes();
        for cut in (0..bytes.len()).step_by(7) {
            let prefix = String::from_utf8_lossy(&bytes[..cut]).into_owned();
            let mut flipped = bytes.to_vec();
            flipped[cut] ^= 0x20;
            let flipped = String::from_utf8_lossy(&flipped).into_owned();
            for t in [prefix, flipped] {
                if let Err(errors) = set(&[("x.toml", &t)]) {
                    assert!(errors.iter().all(|e| !e.reason.is_empty()));
                }
                tried += 1;
            }
        }
    }
    assert!(tried > 200, "{tried}");
}
