//! The directory's shapes: normalising, checking, the file round trip and
//! the changes `apply` makes.

use super::file::{changes, read, write, Change};
use super::*;

const FILE: &str = r#"
[[group]]
name = "support"

[[service]]
name = "Email::Outlook"
default = true

[[customer]]
name = "ACME"
domains = ["ACME.example."]

[[agent]]
name = "alice"
addresses = ["Alice@Example.com", "a@example.com"]
rw = ["support"]

[[queue]]
name = "Support"
group = "support"
notify = "group"

[[customer_user]]
addresses = ["Bob@acme.example"]
customer = "ACME"
rw = ["support"]
services = ["Email::Outlook"]
"#;

#[test]
fn a_file_is_normalised_and_written_back_unchanged() {
    let d = read(FILE).unwrap();
    assert_eq!(d.customer[0].domains, ["acme.example"]);
    assert_eq!(d.agent[0].addresses, ["alice@example.com", "a@example.com"]);
    assert_eq!(d.customer_user[0].key(), "bob@acme.example");
    assert_eq!(d.queue[0].notify, Notify::Group);
    let text = write(&d).unwrap();
    assert_eq!(read(&text).unwrap(), d);
    assert!(changes(&d, &read(&text).unwrap(), true).is_empty());
}

#[test]
fn an_empty_directory_exports_as_an_empty_file() {
    let text = write(&Directory::default()).unwrap();
    assert_eq!(text.trim(), "");
    assert_eq!(read(&text).unwrap(), Directory::default());
}

#[test]
fn every_problem_is_listed() {
    let bad = r#"
[[agent]]
name = "x"
addresses = ["not an address"]
rw = ["nope"]

[[queue]]
name = "Q"
notify = "group"

[[customer_user]]
addresses = ["c@d.example"]
customer = "Nobody"
services = ["Bad::"]
"#;
    let p = read(bad).unwrap_err();
    let all = p.join("\n");
    for want in [
        "not a mail address",
        "no group named \"nope\"",
        "needs a group",
        "no customer named \"Nobody\"",
        "no service named \"Bad::\"",
    ] {
        assert!(all.contains(want), "{want}: {all}");
    }
    let p = read("[[agent]]\nname = \"x\"\naddresses = []\ncolour = 1\n").unwrap_err();
    assert!(p[0].contains("colour"), "{p:?}");
    assert!(check_service_name("Email::Outlook").is_none());
    assert!(check_service_name("Email:: Outlook").is_some());
    assert!(Notify::parse("someone").is_err());
}

#[test]
fn changes_add_update_and_prune_in_order() {
    let want = read(FILE).unwrap();
    let none = Directory::default();
    let c = changes(&none, &want, false);
    let said: Vec<String> = c.iter().map(Change::describe).collect();
    assert_eq!(
        said,
        [
            "add group support",
            "add service Email::Outlook",
            "add customer ACME",
            "add agent alice",
            "add queue Support",
            "add customer-user bob@acme.example",
        ]
    );
    let mut moved = want.clone();
    moved.agent[0].active = false;
    moved.customer_user[0].addresses =
        vec!["robert@acme.example".into(), "bob@acme.example".into()];
    let said: Vec<String> = changes(&want, &moved, false)
        .iter()
        .map(Change::describe)
        .collect();
    assert_eq!(
        said,
        [
            "update agent alice: active",
            "update customer-user robert@acme.example: addresses",
        ]
    );
    // Pruning removes what the file leaves out, dependants first.
    let said: Vec<String> = changes(&want, &none, true)
        .iter()
        .map(Change::describe)
        .collect();
    assert_eq!(
        said.first().map(String::as_str),
        Some("remove customer-user bob@acme.example")
    );
    assert_eq!(
        said.last().map(String::as_str),
        Some("remove group support")
    );
    assert!(changes(&want, &none, false).is_empty());
}
