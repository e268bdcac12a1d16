use super::*;

fn strict(queue: &str) -> Lifecycle {
    let mut queues = BTreeMap::new();
    queues.insert(
        queue.to_string(),
        QueuePolicy {
            mode: Mode::Strict,
            reply_to_closed: ReplyToClosed::Reopen,
            validate_after_days: Some(7),
        },
    );
    Lifecycle::new(
        moodle_states(),
        strict_matrix(),
        QueuePolicy::default(),
        queues,
        ("resolved".into(), "validated".into()),
    )
    .unwrap()
}

#[test]
fn the_shipped_lifecycle_is_the_moodle_trackers() {
    let l = Lifecycle::default();
    let names: Vec<&str> = l.states().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "posted",
            "open",
            "resolving",
            "waiting",
            "resolved",
            "abandoned",
            "testing",
            "published",
            "validated",
            "transferred"
        ]
    );
    assert_eq!(l.initial().name, "posted");
    // Every state of the strict matrix can be left (no dead end but by
    // design), and every final state only reopens.
    for s in l.states() {
        let row = &strict_matrix()[&Role::Agent][&s.name];
        assert!(!row.is_empty(), "{}", s.name);
        if s.is_final {
            assert_eq!(row, &["open"], "{}", s.name);
        }
    }
}

#[test]
fn typed_states_names_spellings_and_aliases() {
    let l = Lifecycle::default();
    let r = |t: &str| l.resolve(t).map(|s| s.name.clone());
    assert_eq!(r("Resolved").unwrap(), "resolved");
    assert_eq!(r(" ABANDONNED ").unwrap(), "abandoned");
    assert_eq!(r("TRANSFERED").unwrap(), "transferred");
    assert_eq!(r("new").unwrap(), "posted");
    assert_eq!(r("pending").unwrap(), "waiting");
    assert_eq!(r("closed").unwrap(), "resolved");
    assert_eq!(r("open").unwrap(), "open");
    assert_eq!(
        r("done").unwrap_err(),
        "no state \"done\"; the states are posted, open, resolving, waiting, resolved, abandoned, testing, published, validated, transferred (or new, open, pending, closed)"
    );
}

#[test]
fn a_state_named_like_an_alias_wins_over_the_alias() {
    let mut states = moodle_states();
    states.push(StateDef {
        name: "pending".into(),
        category: Category::Pending,
        is_final: false,
    });
    let l = Lifecycle::new(
        states,
        Matrix::new(),
        QueuePolicy::default(),
        BTreeMap::new(),
        ("resolved".into(), "validated".into()),
    )
    .unwrap();
    assert_eq!(l.resolve("pending").unwrap().name, "pending");
}

#[test]
fn relaxed_allows_every_move_to_every_agent() {
    let l = Lifecycle::default();
    for from in l.states() {
        for to in l.states() {
            let r = l.may_move("Support", &from.name, &to.name, Role::Agent);
            assert_eq!(
                r.is_ok(),
                from.name != to.name,
                "{} → {}",
                from.name,
                to.name
            );
        }
    }
    assert_eq!(
        l.may_move("Support", "open", "nowhere", Role::Agent),
        Err("no state \"nowhere\"".into())
    );
    assert_eq!(
        l.may_move("Support", "open", "open", Role::Agent),
        Err("the ticket is already open".into())
    );
}

#[test]
fn strict_follows_the_matrix_per_queue() {
    let l = strict("Billing");
    assert_eq!(
        l.may_move("Billing", "open", "resolved", Role::Agent),
        Ok(())
    );
    assert_eq!(
        l.may_move("Billing", "validated", "resolved", Role::Agent),
        Err(
            "queue Billing is in strict mode: an agent may move a ticket in state validated only to open"
                .into()
        )
    );
    assert_eq!(
        l.may_move("Billing", "posted", "validated", Role::Assigned),
        Err("queue Billing is in strict mode: the assigned agent may move a ticket in state posted only to open, resolving, waiting, abandoned, transferred".into())
    );
    // Another queue keeps the relaxed default.
    assert_eq!(
        l.may_move("Support", "validated", "resolved", Role::Agent),
        Ok(())
    );
}

#[test]
fn the_assigned_agent_has_a_row_of_its_own_when_given() {
    let mut m = strict_matrix();
    m.insert(
        Role::Assigned,
        BTreeMap::from([("resolved".to_string(), vec!["validated".to_string()])]),
    );
    m.get_mut(&Role::Agent)
        .unwrap()
        .insert("resolved".into(), vec!["open".into()]);
    let mut queues = BTreeMap::new();
    queues.insert(
        "Q".to_string(),
        QueuePolicy {
            mode: Mode::Strict,
            ..QueuePolicy::default()
        },
    );
    let l = Lifecycle::new(
        moodle_states(),
        m,
        QueuePolicy::default(),
        queues,
        ("resolved".into(), "validated".into()),
    )
    .unwrap();
    assert_eq!(
        l.may_move("Q", "resolved", "validated", Role::Assigned),
        Ok(())
    );
    assert!(l
        .may_move("Q", "resolved", "validated", Role::Agent)
        .is_err());
    // Rows the assigned agent lacks fall back to the agents' row.
    assert_eq!(l.may_move("Q", "open", "waiting", Role::Assigned), Ok(()));
    // A state with no row at all cannot be left in strict mode.
    let mut m = Matrix::new();
    m.insert(Role::Agent, BTreeMap::new());
    let l = Lifecycle::new(
        moodle_states(),
        m,
        QueuePolicy {
            mode: Mode::Strict,
            ..QueuePolicy::default()
        },
        BTreeMap::new(),
        ("resolved".into(), "validated".into()),
    )
    .unwrap();
    assert_eq!(
        l.may_move("Q", "open", "waiting", Role::Agent),
        Err("queue Q is in strict mode: an agent may not move a ticket in state open".into())
    );
}

#[test]
fn automatic_moves() {
    let l = Lifecycle::default();
    assert_eq!(l.on_agent_action("posted").unwrap().name, "open");
    assert_eq!(l.on_agent_action("waiting"), None);
    assert_eq!(l.on_customer_reply("Q", "open"), CustomerReply::Stay);
    assert_eq!(l.on_customer_reply("Q", "posted"), CustomerReply::Stay);
    assert_eq!(
        l.on_customer_reply("Q", "waiting"),
        CustomerReply::Move {
            to: "open".into(),
            reason: "the customer answered a waiting ticket".into()
        }
    );
    assert_eq!(
        l.on_customer_reply("Q", "resolved"),
        CustomerReply::Move {
            to: "open".into(),
            reason: "the customer answered a resolved ticket (queue policy: reopen)".into()
        }
    );
    // A state dropped from the configuration reopens rather than sticks.
    assert!(matches!(
        l.on_customer_reply("Q", "frozen"),
        CustomerReply::Move { ref to, .. } if to == "open"
    ));
}

#[test]
fn closed_reply_policies() {
    for (policy, expect) in [
        (
            ReplyToClosed::NewTicket,
            CustomerReply::NewTicket {
                reason: "the ticket is validated (queue policy: a new ticket, linked)".into(),
            },
        ),
        (
            ReplyToClosed::Refuse,
            CustomerReply::Refuse {
                reason: "the ticket is validated (queue policy: refuse)".into(),
            },
        ),
    ] {
        let queues = BTreeMap::from([(
            "Q".to_string(),
            QueuePolicy {
                reply_to_closed: policy,
                ..QueuePolicy::default()
            },
        )]);
        let l = Lifecycle::new(
            moodle_states(),
            strict_matrix(),
            QueuePolicy::default(),
            queues,
            ("resolved".into(), "validated".into()),
        )
        .unwrap();
        assert_eq!(l.on_customer_reply("Q", "validated"), expect);
        assert!(matches!(
            l.on_customer_reply("Other", "validated"),
            CustomerReply::Move { .. }
        ));
    }
}

#[test]
fn validation_is_due_after_the_queues_days() {
    let l = strict("Billing");
    assert_eq!(l.due_validation("Billing", "resolved", 6), None);
    assert_eq!(
        l.due_validation("Billing", "resolved", 7),
        Some("validated")
    );
    assert_eq!(l.due_validation("Billing", "waiting", 70), None);
    // The default policy never validates.
    assert_eq!(l.due_validation("Support", "resolved", 700), None);
    assert_eq!(l.validate_from(), "resolved");
}

#[test]
fn a_bad_lifecycle_lists_every_problem() {
    let states = vec![
        StateDef {
            name: "Open Now".into(),
            category: Category::Open,
            is_final: false,
        },
        StateDef {
            name: "done".into(),
            category: Category::Closed,
            is_final: true,
        },
        StateDef {
            name: "done".into(),
            category: Category::Closed,
            is_final: true,
        },
    ];
    let problems = Lifecycle::new(
        states,
        strict_matrix(),
        QueuePolicy::default(),
        BTreeMap::new(),
        ("resolved".into(), "done".into()),
    )
    .unwrap_err();
    assert!(problems.contains(&"states[0]: \"Open Now\" is not a state name (lower-case letters, digits, - and _, at most 32)".to_string()), "{problems:#?}");
    assert!(problems.contains(&"states[2]: \"done\" is listed twice".to_string()));
    assert!(problems.contains(
        &"states: no state of category \"new\": a new ticket and a reopened one need one"
            .to_string()
    ));
    assert!(problems.contains(&"strict.agent.posted: no state \"posted\" in states".to_string()));
    assert!(problems.contains(&"validate.from: no state \"resolved\" in states".to_string()));
    assert!(!problems.iter().any(|p| p.starts_with("validate.to")));
}
