//! Helpers of the tests of agents' and operators' work: a CLI call that
//! must succeed, the address in a header, and a desk with a staffed queue.

use super::{smtp_send, Desk, DeskOptions};

/// Run `postdesk ARGS` on `desk`; it must exit 0. Returns its stdout.
pub fn ok(desk: &Desk, args: &[&str]) -> String {
    let out = desk.cli(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The address inside `Name <address>`.
pub fn angle_address(v: &str) -> String {
    match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => v[a + 1..b].to_string(),
        _ => v.trim().to_string(),
    }
}

/// A desk whose queue `support` belongs to group `staff`, worked by alice
/// and bert (alerts to the group), with `config` appended to its
/// configuration, the daemon started, and customer ana's first mail
/// (subject "Printer", `text`) sent. Returns the desk and the addresses of
/// ana, alice and bert.
pub fn staffed_desk(opts: DeskOptions, config: &str, text: &str) -> (Desk, String, String, String) {
    let mut desk = Desk::new(opts);
    let mut toml = std::fs::read_to_string(&desk.config).unwrap();
    toml.push_str(config);
    std::fs::write(&desk.config, toml).unwrap();
    let ana = desk.customer("ana");
    let alice = format!("alice-{}@support.test", desk.id);
    let bert = format!("bert-{}@support.test", desk.id);
    ok(&desk, &["group", "add", "staff"]);
    for (name, address) in [("alice", &alice), ("bert", &bert)] {
        ok(&desk, &["agent", "add", name, "--address", address]);
        ok(&desk, &["agent", "link", name, "--group", "staff"]);
    }
    ok(
        &desk,
        &[
            "queue", "add", "support", "--group", "staff", "--notify", "group",
        ],
    );
    desk.start();
    smtp_send(
        &ana,
        &[&desk.support],
        &desk.mail(&ana, "Printer", "p1", text),
    );
    (desk, ana, alice, bert)
}
