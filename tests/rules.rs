//! The rules folder from the command line: `check` and `rules check` load
//! it as the daemon does, refuse a bad file with file, line, rule and
//! reason (exit 78), and warn about a rule naming an unknown queue. No
//! mail stack needed.

mod common;

use common::standalone_config;
use std::path::Path;
use std::process::Command;

fn postdesk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_postdesk"))
}

#[test]
fn check_refuses_a_bad_rule_file_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let bad = dir.path().join("rules/50-bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nname = \"typo\"\nwhen = { subjet = \"x\" }\nactions = { urgency = 9 }\n",
    )
    .unwrap();
    let out = postdesk()
        .arg("--config")
        .arg(&config)
        .args(["check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == "rules" && c["ok"] == false)
        .map(|c| c["detail"].as_str().unwrap())
        .collect();
    let file = bad.display();
    assert_eq!(
        failed,
        [
            format!("{file}:3: rule \"typo\": when.subjet: unknown key; did you mean subject?"),
            format!(
                "{file}:4: rule \"typo\": actions.urgency: expected a whole number from 1 to 5"
            ),
        ]
    );

    let out = postdesk()
        .arg("--config")
        .arg(&config)
        .args(["rules", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{file}:3: rule \"typo\"")), "{err}");
}

#[test]
fn rules_check_lists_the_shipped_rules_and_warns_about_unknown_queues() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for f in std::fs::read_dir(&shipped).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join("rules").join(f.file_name().unwrap())).unwrap();
    }
    let out = postdesk()
        .arg("--config")
        .arg(&config)
        .args(["rules", "check", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<(&str, bool)> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["enabled"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        rules,
        [
            ("upstream spam flag", true),
            ("vip customers", true),
            ("billing words", true),
            ("after hours auto-reply", true),
        ]
    );
    // This configuration has no billing queue: a warning, not a failure.
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{v:#}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("30-billing.toml:18: rule \"billing words\": actions.queue: no [[queue]] is named \"billing\""),
        "{v:#}"
    );
    let out = postdesk()
        .arg("--config")
        .arg(&config)
        .args(["check", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{v:#}");
    let rules: Vec<&serde_json::Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == "rules")
        .collect();
    assert_eq!(rules.len(), 2, "{v:#}");
    assert!(rules[0]["detail"]
        .as_str()
        .unwrap()
        .ends_with("4 rule(s) in 4 file(s)"));
    assert_eq!(rules[1]["warning"], true);
}

#[test]
fn run_refuses_to_start_on_a_bad_rule_file_with_exit_78() {
    let dir = tempfile::tempdir().unwrap();
    let config = standalone_config(dir.path(), "");
    let bad = dir.path().join("rules/10-vip.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nname = \"vip\"\nwhen = { sender_domain = \"vip.example\" }\n\n[rule.actions]\nurgency = \"high\"\n",
    )
    .unwrap();
    let out = postdesk()
        .arg("--config")
        .arg(&config)
        .args(["--log-format", "plain", "run"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG: {err}");
    assert!(
        err.contains(&format!(
            "{}:6: rule \"vip\": actions.urgency: expected a whole number from 1 to 5",
            bad.display()
        )),
        "{err}"
    );
}
