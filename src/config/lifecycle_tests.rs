//! `[lifecycle]` read and checked: the example's, an operator's own
//! states, and every problem with its line.

use crate::config::Config;
use crate::tickets::lifecycle::{Category, Mode, ReplyToClosed, Role};

const BASE: &str = r#"
[system]
fqdn = "desk.example.com"
[storage]
database = "/tmp/pd.db"
data_dir = "/tmp/pd"
[smtp]
host = "localhost"
port = 25
tls = "none"
[[queue]]
name = "support"
[[queue]]
name = "billing"
[[mailbox]]
name = "support"
address = "support@example.com"
queue = "support"
"#;

fn load(extra: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postdesk.toml");
    std::fs::write(&path, format!("{BASE}{extra}")).unwrap();
    Config::load_with_env(&path, &Default::default()).map_err(|e| e.to_string())
}

#[test]
fn absent_it_is_the_moodle_trackers_relaxed_and_never_validates() {
    let c = load("").unwrap();
    assert_eq!(c.lifecycle, crate::tickets::lifecycle::Lifecycle::default());
    assert_eq!(c.scheduler_interval.as_secs(), 300);
    assert_eq!(c.lifecycle.policy("support").mode, Mode::Relaxed);
    assert_eq!(
        c.lifecycle.due_validation("support", "resolved", 1000),
        None
    );
}

#[test]
fn an_operators_states_matrix_and_queue_policies() {
    let c = load(
        r#"
[lifecycle]
states = [
  { name = "new", category = "new" },
  { name = "doing", category = "open" },
  { name = "on-hold", category = "pending" },
  { name = "done", category = "closed" },
  { name = "archived", category = "closed", final = true },
]
validate_after_days = 10
scheduler_interval_secs = 1
[lifecycle.strict.agent]
new = ["doing"]
doing = ["on-hold", "done"]
[lifecycle.queue.billing]
mode = "strict"
reply_to_closed = "refuse"
validate_after_days = 0
"#,
    )
    .unwrap();
    let l = &c.lifecycle;
    assert_eq!(l.initial().name, "new");
    assert_eq!(l.resolve("pending").unwrap().name, "on-hold");
    assert_eq!(l.resolve("closed").unwrap().name, "done");
    assert_eq!(l.first(Category::Open).unwrap().name, "doing");
    assert_eq!(l.validate_from(), "done");
    assert_eq!(l.due_validation("support", "done", 9), None);
    assert_eq!(l.due_validation("support", "done", 10), Some("archived"));
    assert_eq!(l.due_validation("billing", "done", 0), Some("archived"));
    assert_eq!(l.policy("billing").reply_to_closed, ReplyToClosed::Refuse);
    assert_eq!(l.policy("support").reply_to_closed, ReplyToClosed::Reopen);
    // Strict per queue: billing refuses a move its matrix lacks, support
    // (relaxed) allows it.
    assert!(l.may_move("billing", "new", "doing", Role::Agent).is_ok());
    let why = l
        .may_move("billing", "new", "done", Role::Agent)
        .unwrap_err();
    assert!(
        why.contains("strict mode") && why.contains("only to doing"),
        "{why}"
    );
    assert!(l.may_move("support", "new", "done", Role::Agent).is_ok());
    assert_eq!(c.scheduler_interval.as_secs(), 1);
}

#[test]
fn every_problem_is_named_with_its_line() {
    let e = load(
        r#"
[lifecycle]
states = [
  { name = "Open!", category = "open" },
  { name = "done", category = "closed" },
  { name = "done", category = "closed" },
]
validate_after_days = 99999
scheduler_interval_secs = 0
[lifecycle.strict.boss]
done = ["done"]
[lifecycle.strict.agent]
done = ["gone"]
[lifecycle.queue.suport]
mode = "strict"
"#,
    )
    .unwrap_err();
    for want in [
        ":22: lifecycle.states[0]: \"Open!\" is not a state name",
        ":24: lifecycle.states[2]: \"done\" is listed twice",
        "lifecycle.states: no state of category \"new\"",
        ":26: lifecycle.validate_after_days: 99999 is out of range; expected 0 to 3650",
        ":27: lifecycle.scheduler_interval_secs: 0 is out of range",
        ":28: lifecycle.strict.boss: not a role",
        ":31: lifecycle.strict.agent.done: no state \"gone\"",
        ":32: lifecycle.queue.suport: no [[queue]] is named \"suport\"",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    let e = load("[lifecycle]\nmode = \"lax\"\n").unwrap_err();
    assert!(e.contains("lifecycle.mode"), "{e}");
    // Validating with no final closed state to default to: say which.
    let e = load(
        "[lifecycle]\nvalidate_after_days = 3\nstates = [{ name = \"new\", category = \"new\" }, \
         { name = \"open\", category = \"open\" }, { name = \"done\", category = \"closed\" }]\n",
    )
    .unwrap_err();
    assert!(
        e.contains("lifecycle.validate_to: name the state the scheduler validates to"),
        "{e}"
    );
    assert!(!e.contains("validate_from"), "{e}");
    let e = load("[lifecycle]\nvalidate_to = \"gone\"\n").unwrap_err();
    assert!(
        e.contains(":20: lifecycle.validate_to: no state \"gone\""),
        "{e}"
    );
}
