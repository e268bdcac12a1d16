//! Every action as read from a rule file, and every way to get one wrong.

use super::tests::{mail, now, set};
use super::*;

fn actions_of(table: &str) -> Result<Vec<Action>, Vec<String>> {
    let text = format!("[[rule]]\nname = \"r\"\nwhen = {{}}\nactions = {table}\n");
    match set(&[("a.toml", &text)]) {
        Ok(s) => Ok(s.rules[0].actions.clone()),
        Err(e) => Err(e
            .iter()
            .map(|e| format!("{}: {}", e.key, e.reason))
            .collect()),
    }
}

#[test]
fn every_action_parses() {
    let s = |v: &str| v.to_string();
    let cases: Vec<(&str, Action)> = vec![
        (r#"{ queue = "billing" }"#, Action::SetQueue(s("billing"))),
        (r#"{ group = "Level 2" }"#, Action::SetGroup(s("Level 2"))),
        (r#"{ agent = "ana" }"#, Action::SetAgent(s("ana"))),
        ("{ urgency = 1 }", Action::SetUrgency(1)),
        ("{ impact = 5 }", Action::SetImpact(5)),
        ("{ priority = 6 }", Action::SetPriority(6)),
        (
            r#"{ type = "incident" }"#,
            Action::SetType(TicketType::Incident),
        ),
        (
            r#"{ type = "request" }"#,
            Action::SetType(TicketType::Request),
        ),
        (
            r#"{ type = "problem" }"#,
            Action::SetType(TicketType::Problem),
        ),
        (
            r#"{ type = "change" }"#,
            Action::SetType(TicketType::Change),
        ),
        (r#"{ service = "Mail" }"#, Action::SetService(s("Mail"))),
        (
            r#"{ category = "Hardware" }"#,
            Action::SetCategory(s("Hardware")),
        ),
        (
            r#"{ tags = ["vip", "billing"] }"#,
            Action::AddTags(vec![s("vip"), s("billing")]),
        ),
        (r#"{ tags = "vip" }"#, Action::AddTags(vec![s("vip")])),
        (r#"{ state = "open" }"#, Action::SetState(s("open"))),
        (
            r#"{ state = "ABANDONNED" }"#,
            Action::SetState(s("abandonned")),
        ),
        (r#"{ language = "pt-BR" }"#, Action::SetLanguage(s("pt-BR"))),
        (
            r#"{ observers = ["boss@client.example"] }"#,
            Action::AddObservers(vec![s("boss@client.example")]),
        ),
        (
            r#"{ auto_reply = "after_hours" }"#,
            Action::AutoReplyTemplate(s("after_hours")),
        ),
        ("{ auto_reply = false }", Action::SuppressAutoReply),
        (
            r#"{ spam = "upstream filter" }"#,
            Action::QuarantineSpam {
                reason: s("upstream filter"),
            },
        ),
        ("{ ignore = true }", Action::Ignore),
    ];
    let wrong: Vec<String> = cases
        .into_iter()
        .filter_map(|(table, expected)| {
            let got = actions_of(table);
            (got != Ok(vec![expected.clone()]))
                .then(|| format!("{table}: expected {expected:?}, got {got:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn actions_are_listed_in_a_fixed_order_whatever_the_file_order() {
    let got = actions_of(r#"{ ignore = true, tags = ["a"], queue = "q", urgency = 3 }"#).unwrap();
    assert_eq!(
        got,
        [
            Action::SetQueue("q".into()),
            Action::SetUrgency(3),
            Action::AddTags(vec!["a".into()]),
            Action::Ignore,
        ]
    );
    let shown: Vec<String> = got.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        shown,
        [
            r#"queue = "q""#,
            "urgency = 3",
            r#"tags += ["a"]"#,
            "ignore = true"
        ]
    );
}

#[test]
fn bad_actions_are_refused_with_the_reason() {
    let cases: &[(&str, &str)] = &[
        (r#"{ queue = "" }"#, "actions.queue: must not be empty"),
        (
            "{ queue = 3 }",
            "actions.queue: expected a string, found integer",
        ),
        (
            "{ urgency = 0 }",
            "actions.urgency: expected a whole number from 1 to 5",
        ),
        (
            "{ impact = 6 }",
            "actions.impact: expected a whole number from 1 to 5",
        ),
        (
            "{ priority = 7 }",
            "actions.priority: expected a whole number from 1 to 6",
        ),
        (
            r#"{ urgency = "high" }"#,
            "actions.urgency: expected a whole number from 1 to 5",
        ),
        (
            r#"{ type = "bug" }"#,
            "actions.type: expected incident, request, problem or change",
        ),
        (r#"{ state = " " }"#, "actions.state: must not be empty"),
        ("{ tags = [] }", "actions.tags: the list is empty"),
        (
            r#"{ tags = ["a", ""] }"#,
            "actions.tags[1]: must not be empty",
        ),
        (
            r#"{ language = "en us" }"#,
            "actions.language: expected a language tag",
        ),
        (
            r#"{ auto_reply = "../etc/passwd" }"#,
            "actions.auto_reply: a template name is letters",
        ),
        (
            "{ auto_reply = true }",
            "actions.auto_reply: expected a template name, or false",
        ),
        ("{ ignore = false }", "actions.ignore: write ignore = true"),
        (r#"{ spam = "" }"#, "actions.spam: must not be empty"),
        (
            r#"{ queu = "billing" }"#,
            "actions.queu: unknown key; did you mean queue?",
        ),
        (
            r#"{ observer = ["a@b"] }"#,
            "actions.observer: unknown key; did you mean observers?",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(table, expected)| {
            let got = actions_of(table);
            let ok = matches!(&got, Err(e) if e.len() == 1 && e[0].starts_with(expected));
            (!ok).then(|| format!("{table}: expected {expected:?}, got {got:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let e = set(&[(
        "a.toml",
        "[[rule]]\nname = \"r\"\nwhen = {}\nactions = [\"queue\"]\n",
    )])
    .unwrap_err();
    assert_eq!(e[0].reason, "expected a table of actions");
}

#[test]
fn states_are_checked_against_the_configured_lifecycle() {
    let text = "[[rule]]\nname = \"park\"\nwhen = {}\n[rule.actions]\nstate = \"parked\"\n\n[[rule]]\nname = \"close\"\nwhen = {}\n[rule.actions]\nstate = \"Closed\"\n";
    let s = set(&[("s.toml", text)]).unwrap();
    let e = s.unknown_states(&crate::tickets::lifecycle::Lifecycle::default());
    assert_eq!(e.len(), 1, "the alias closed is a state: {e:?}");
    assert!(
        e[0].to_string()
            .starts_with("rules/s.toml:5: rule \"park\": actions.state: no state \"parked\""),
        "{}",
        e[0]
    );
}

#[test]
fn queues_are_checked_against_the_configured_ones() {
    let text = "[[rule]]\nname = \"to billing\"\nwhen = {}\n[rule.actions]\nurgency = 2\nqueue = \"biling\"\n";
    let s = set(&[("q.toml", text)]).unwrap();
    let e = s.unknown_queues(["support", "billing"]);
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].to_string(),
        "rules/q.toml:6: rule \"to billing\": actions.queue: no [[queue]] is named \"biling\"; did you mean billing?"
    );
    assert!(s.unknown_queues(["biling"]).is_empty());
    let e = s.unknown_queues(["support"]);
    assert!(
        e[0].reason.ends_with("the configured queues are support"),
        "{e:?}"
    );
}

#[test]
fn auto_reply_templates_are_checked_against_the_known_ones() {
    let text = "[[rule]]\nname = \"holidays\"\nwhen = {}\n[rule.actions]\nurgency = 2\nauto_reply = \"auto_reply_holidays\"\n";
    let s = set(&[("t.toml", text)]).unwrap();
    let e = s.unknown_templates(|n| n == "auto_reply_after_hours");
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].to_string(),
        "rules/t.toml:6: rule \"holidays\": actions.auto_reply: no template \"auto_reply_holidays\" \
         in any language: add mail-templates/<language>/auto_reply_holidays.txt (at least for the \
         default language)"
    );
    assert!(s
        .unknown_templates(|n| n == "auto_reply_holidays")
        .is_empty());
    // `auto_reply = false` names no template.
    let s = set(&[(
        "f.toml",
        "[[rule]]\nname = \"n\"\nwhen = {}\nactions = { auto_reply = false }\n",
    )])
    .unwrap();
    assert!(s.unknown_templates(|_| false).is_empty());
}

#[test]
fn services_categories_and_tags_are_checked() {
    assert_eq!(
        actions_of(
            r#"{ service = "Email::Outlook", category = "Hardware::Printer", tags = "vip" }"#
        ),
        Ok(vec![
            Action::SetService("Email::Outlook".into()),
            Action::SetCategory("Hardware::Printer".into()),
            Action::AddTags(vec!["vip".into()]),
        ])
    );
    assert_eq!(
        actions_of(r#"{ service = "Email::" }"#).unwrap_err(),
        ["actions.service: \"Email::\": an empty level: write levels joined by ::, as in Email::Outlook"]
    );
    assert_eq!(
        actions_of(r#"{ category = "Email:: Outlook" }"#).unwrap_err(),
        ["actions.category: \"Email:: Outlook\": level \" Outlook\" starts or ends with a space"]
    );
    assert_eq!(
        actions_of(r#"{ tags = ["ok", "a,b", " x"] }"#).unwrap_err(),
        ["actions.tags: \"a,b\": holds a comma or a control character; \" x\": starts or ends with a space"]
    );
}

#[test]
fn evaluation_lists_each_action_with_its_rule() {
    let text = "[[rule]]\nname = \"a\"\nwhen = {}\nactions = { urgency = 4, tags = [\"x\"] }\n\
                [[rule]]\nname = \"b\"\nwhen = {}\nactions = { urgency = 2 }\n";
    let s = set(&[("e.toml", text)]).unwrap();
    let ev = s.evaluate(&mail(), now());
    let got: Vec<(&str, &Action)> = ev.actions.clone();
    assert_eq!(
        got,
        [
            ("a", &Action::SetUrgency(4)),
            ("a", &Action::AddTags(vec!["x".into()])),
            ("b", &Action::SetUrgency(2)),
        ]
    );
    let json = serde_json::to_value(&ev).unwrap();
    assert_eq!(
        json["actions"][0],
        serde_json::json!(["a", { "set_urgency": 4 }])
    );
    assert_eq!(json["trace"][1]["rule"], "b");
}
