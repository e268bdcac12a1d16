//! Shell completions and man pages are generated from the clap
//! definitions: every subcommand `postdesk --help` lists (and each
//! group's subcommands) is in each completion script and has its man
//! page, and the generated files parse (bash -n, groff's warnings).

use std::path::Path;
use std::process::Command;

fn postdesk(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .args(args)
        .output()
        .unwrap()
}

/// The subcommands a `--help` text lists (without `help`).
fn listed(help: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(help);
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

/// Every command path: ["run"], ["quarantine", "release"], …
fn commands() -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for top in listed(&postdesk(&["--help"]).stdout) {
        all.push(vec![top.clone()]);
        for sub in listed(&postdesk(&[&top, "--help"]).stdout) {
            all.push(vec![top.clone(), sub]);
        }
    }
    assert!(all.len() > 20, "{all:?}");
    assert!(all.contains(&vec!["quarantine".to_string(), "release".to_string()]));
    all
}

#[test]
fn completions_name_every_subcommand_in_each_shell() {
    let commands = commands();
    for shell in ["bash", "zsh", "fish"] {
        let out = postdesk(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for c in &commands {
            let name = c.last().unwrap();
            assert!(script.contains(name.as_str()), "{shell}: no {c:?}");
        }
        match shell {
            // bash's own parser reads the script.
            "bash" => {
                let dir = tempfile::tempdir().unwrap();
                let file = dir.path().join("postdesk.bash");
                std::fs::write(&file, &script).unwrap();
                let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
                assert!(
                    check.status.success(),
                    "{}",
                    String::from_utf8_lossy(&check.stderr)
                );
                // Completions of nested commands: `quarantine release`.
                assert!(script.contains("postdesk__subcmd__quarantine__subcmd__release"));
            }
            "zsh" => assert!(script.starts_with("#compdef postdesk")),
            _ => assert!(script.contains("complete -c postdesk")),
        }
    }
    assert_eq!(postdesk(&["completions", "tcsh"]).status.code(), Some(64));
}

#[test]
fn man_pages_exist_for_every_subcommand_and_render_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = postdesk(&["manpages", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let listed: Vec<std::path::PathBuf> = serde_json::from_slice(&out.stdout).unwrap();
    let mut pages = vec![dir.path().join("postdesk.1")];
    for c in commands() {
        pages.push(dir.path().join(format!("postdesk-{}.1", c.join("-"))));
    }
    assert_eq!(listed.len(), pages.len(), "{listed:?}");
    for page in &pages {
        assert!(
            page.exists() && listed.contains(page),
            "no {}",
            page.display()
        );
        check_page(page);
    }
    let release =
        std::fs::read_to_string(dir.path().join("postdesk-quarantine-release.1")).unwrap();
    assert!(
        release.contains(".TH postdesk-quarantine-release 1"),
        "{release}"
    );
    assert!(release.contains("\\-\\-no\\-notify"));
}

/// groff reads the page with every warning on; none may come.
fn check_page(page: &Path) {
    let out = Command::new("groff")
        .args(["-k", "-z", "-ww", "-man"])
        .arg(page)
        .output();
    let Ok(out) = out else {
        // No groff here: at least the roff header must be there.
        let text = std::fs::read_to_string(page).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH "),
            "{}",
            page.display()
        );
        return;
    };
    assert!(out.status.success(), "{}", page.display());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "{}",
        page.display()
    );
}
