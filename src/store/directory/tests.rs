//! The directory in the store: entries round-trip, links follow names,
//! refusals say why, and the per-message lookups find what they should.

use super::lookup;
use super::people::*;
use super::queues::*;
use super::*;
use crate::directory::file::{changes, read};
use crate::directory::{Access, Agent, CustomerUser, Notify, Queue, Strangers};
use crate::store::{Durability, Store};

fn db() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("db"), Durability::Normal).unwrap();
    (dir, s)
}

fn agent(name: &str, address: &str, rw: &[&str]) -> Agent {
    Agent {
        name: name.into(),
        addresses: vec![address.into()],
        language: None,
        active: true,
        rw: rw.iter().map(|s| s.to_string()).collect(),
        ro: Vec::new(),
    }
}

const FILE: &str = r#"
[[group]]
name = "support"
[[group]]
name = "sales"
[[service]]
name = "Email"
default = true
[[service]]
name = "Email::Outlook"
[[customer]]
name = "ACME"
domains = ["acme.example"]
[[agent]]
name = "alice"
addresses = ["alice@example.com", "a@example.com"]
rw = ["support"]
ro = ["sales"]
[[agent]]
name = "bob"
addresses = ["bob@example.com"]
rw = ["support"]
active = false
[[queue]]
name = "Support"
group = "support"
notify = "group"
strangers = "record"
cc_observers = false
service = "Email::Outlook"
[[customer_user]]
addresses = ["carol@acme.example", "c@acme.example"]
name = "Carol"
customer = "ACME"
rw = ["support"]
services = ["Email::Outlook"]
[[customer_user]]
addresses = ["dave@acme.example"]
customer = "ACME"
ro = ["support"]
"#;

fn applied() -> (tempfile::TempDir, Store, Directory) {
    let (d, mut s) = db();
    let want = read(FILE).unwrap();
    let tx = s.conn().transaction().unwrap();
    apply(&tx, &changes(&load(&tx).unwrap(), &want, false)).unwrap();
    tx.commit().unwrap();
    (d, s, want)
}

#[test]
fn apply_then_load_gives_the_file_back_and_a_second_apply_changes_nothing() {
    let (_d, mut s, want) = applied();
    let c = s.conn();
    assert_eq!(load(c).unwrap(), want);
    assert!(changes(&load(c).unwrap(), &want, false).is_empty());
    assert_eq!(
        customer_user(c, "C@acme.example").unwrap().unwrap().key(),
        "carol@acme.example"
    );
    assert_eq!(customer_users(c, Some("ACME")).unwrap().len(), 2);
}

#[test]
fn refusals_name_what_is_wrong() {
    let (_d, mut s, _) = applied();
    let c = s.conn();
    let e = put_agent(c, &agent("eve", "alice@example.com", &[])).unwrap_err();
    assert!(e.to_string().contains("belongs to agent \"alice\""), "{e}");
    let e = put_agent(c, &agent("eve", "eve@example.com", &["nope"])).unwrap_err();
    assert!(matches!(e, DirError::NotFound(_)), "{e}");
    assert!(e.to_string().contains("postdesk group add"), "{e}");
    let e = remove_group(c, "support").unwrap_err();
    assert!(matches!(e, DirError::InUse(_)), "{e}");
    let e = put_customer(
        c,
        &Customer {
            name: "Globex".into(),
            domains: vec!["acme.example".into()],
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("belongs to customer \"ACME\""),
        "{e}"
    );
    let e = remove_queue(c, "Nope").unwrap_err();
    assert!(matches!(e, DirError::NotFound(_)), "{e}");
    let u = CustomerUser {
        addresses: vec!["x@y.example".into(), "dave@acme.example".into()],
        ..CustomerUser::default()
    };
    let e = put_customer_user(c, &u, None).unwrap_err();
    assert!(e.to_string().contains("another customer user"), "{e}");
}

#[test]
fn removing_takes_links_along_and_queues_fall_back_to_the_config() {
    let (_d, mut s, _) = applied();
    let c = s.conn();
    remove_queue(c, "Support").unwrap();
    assert!(queue(c, "Support").unwrap().is_none());
    assert!(queues(c).unwrap().is_empty());
    remove_group(c, "support").unwrap();
    let a = people::agent(c, "alice").unwrap().unwrap();
    assert!(a.rw.is_empty());
    assert_eq!(a.ro, ["sales"]);
    remove_customer(c, "ACME").unwrap();
    assert_eq!(
        customer_user(c, "carol@acme.example")
            .unwrap()
            .unwrap()
            .customer,
        None
    );
    remove_service(c, "Email::Outlook").unwrap();
    remove_customer_user(c, "c@acme.example").unwrap();
    assert!(customer_user(c, "carol@acme.example").unwrap().is_none());
    remove_agent(c, "bob").unwrap();
    assert!(matches!(remove_agent(c, "bob"), Err(DirError::NotFound(_))));
}

#[test]
fn a_customer_users_first_address_can_change() {
    let (_d, mut s, _) = applied();
    let c = s.conn();
    let mut u = customer_user(c, "carol@acme.example").unwrap().unwrap();
    u.addresses = vec!["carol.new@acme.example".into(), "carol@acme.example".into()];
    put_customer_user(c, &u, Some("carol@acme.example")).unwrap();
    let got = customer_user(c, "carol@acme.example").unwrap().unwrap();
    assert_eq!(got.key(), "carol.new@acme.example");
    assert_eq!(customer_users(c, None).unwrap().len(), 2);
}

#[test]
fn lookups_for_processing() {
    let (_d, mut s, _) = applied();
    let c = s.conn();
    let carol = lookup::sender(c, "C@ACME.example").unwrap();
    let u = carol.customer_user.unwrap();
    assert_eq!(
        (u.name.as_str(), u.rw.as_slice()),
        ("carol@acme.example", &["support".to_string()][..])
    );
    assert_eq!(carol.customer.as_deref(), Some("ACME"));
    // An unknown sender at a customer's domain belongs to it.
    let stranger = lookup::sender(c, "x@acme.example").unwrap();
    assert!(stranger.customer_user.is_none() && stranger.agent.is_none());
    assert_eq!(stranger.customer.as_deref(), Some("ACME"));
    assert_eq!(
        lookup::sender(c, "x@other.example").unwrap(),
        Default::default()
    );
    let alice = lookup::sender(c, "a@example.com").unwrap().agent.unwrap();
    assert_eq!((alice.name.as_str(), alice.active), ("alice", true));
    assert_eq!(Access::parse("rw"), Some(Access::Rw));
    // Only active rw members are notified, at their first address.
    let q = lookup::queues(c).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].notify_to, ["alice@example.com"]);
    assert_eq!(q[0].strangers, Strangers::Record);
    assert!(!q[0].cc_observers);
    let t = lookup::ticket(c, 1, "Support", "c@acme.example").unwrap();
    assert_eq!(t.queue_group.as_deref(), Some("support"));
    assert_eq!(t.sender_role, None);
    let t = lookup::ticket(c, 1, "Unmanaged", "c@acme.example").unwrap();
    assert_eq!((t.queue_group, t.strangers), (None, Strangers::System));
    let (agents, groups) = lookup::names(c).unwrap();
    assert_eq!(agents, ["alice"]);
    assert_eq!(groups, ["sales", "support"]);
    assert_eq!(
        lookup::agent_addresses(c).unwrap(),
        [("alice".to_string(), "alice@example.com".to_string())]
    );
    // Services: the queue's default, and who is entitled to what.
    assert_eq!(q[0].service.as_deref(), Some("Email::Outlook"));
    assert!(lookup::has_services(c).unwrap());
    let carol = lookup::entitlement(c, "C@acme.example").unwrap();
    assert_eq!(
        (carol.customer_user.as_deref(), carol.services.as_slice()),
        (
            Some("carol@acme.example"),
            &["Email".to_string(), "Email::Outlook".to_string()][..]
        )
    );
    let nobody = lookup::entitlement(c, "x@other.example").unwrap();
    assert_eq!(
        (nobody.customer_user, nobody.services),
        (None, vec!["Email".to_string()])
    );
    // A queue naming a service the directory lacks is refused.
    let mut bad = Queue::named("Bad");
    bad.service = Some("Nope".into());
    assert!(put_queue(c, &bad)
        .unwrap_err()
        .to_string()
        .contains("no service named \"Nope\""));
    let mut q = Queue::named("Other");
    q.notify = Notify::Address("list@example.com".into());
    put_queue(c, &q).unwrap();
    assert_eq!(
        lookup::queues(c).unwrap()[0].notify_to,
        ["list@example.com"]
    );
}

#[test]
fn first_mail_makes_a_customer_user_once() {
    let (_d, mut s, _) = applied();
    let c = s.conn();
    add_customer_user_on_first_mail(c, "New@acme.example", Some("New"), Some("ACME")).unwrap();
    add_customer_user_on_first_mail(c, "new@acme.example", Some("Other"), None).unwrap();
    // An address a customer user has already is left alone.
    add_customer_user_on_first_mail(c, "c@acme.example", None, None).unwrap();
    let u = customer_user(c, "new@acme.example").unwrap().unwrap();
    assert_eq!(
        (u.name.as_deref(), u.customer.as_deref()),
        (Some("New"), Some("ACME"))
    );
    assert_eq!(customer_users(c, None).unwrap().len(), 3);
}
