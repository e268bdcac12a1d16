use super::*;

fn cmds(subject: &str, text: &str) -> Vec<Command> {
    parse(subject, text)
        .commands
        .into_iter()
        .map(|c| c.command)
        .collect()
}

fn errors(subject: &str, text: &str) -> Vec<String> {
    parse(subject, text)
        .errors
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn every_body_command() {
    let text = "#state Resolved\n#assign me\n#assign nobody\n#assign Alice@Example.com\n\
        #group Second level\n#queue Billing\n#priority 6\n#urgency 4\n#impact 1\n\
        #service Email::Outlook\n#type problem\n#tag add vip\n#tag remove old\n\
        #cc add <Bob@example.com>\n#cc remove carol@example.com\n#merge 2026112210000017\n\
        #link problem [Ticket#2026112210000017]\n#transfer helpdesk@other.example\n#note\n#new\n";
    assert_eq!(
        cmds("Re: x", text),
        vec![
            Command::State {
                state: "resolved".into()
            },
            Command::Assign { to: Assignee::Me },
            Command::Assign {
                to: Assignee::Nobody
            },
            Command::Assign {
                to: Assignee::Agent("alice@example.com".into())
            },
            Command::Group {
                name: "Second level".into()
            },
            Command::Queue {
                name: "Billing".into()
            },
            Command::Priority { value: 6 },
            Command::Urgency { value: 4 },
            Command::Impact { value: 1 },
            Command::Service {
                name: "Email::Outlook".into()
            },
            Command::Type {
                value: TicketType::Problem
            },
            Command::Tag {
                add: true,
                tag: "vip".into()
            },
            Command::Tag {
                add: false,
                tag: "old".into()
            },
            Command::Cc {
                add: true,
                address: "bob@example.com".into()
            },
            Command::Cc {
                add: false,
                address: "carol@example.com".into()
            },
            Command::Merge {
                into: "2026112210000017".into()
            },
            Command::Link {
                kind: LinkKind::Problem,
                ticket: "2026112210000017".into()
            },
            Command::Transfer {
                address: "helpdesk@other.example".into()
            },
            Command::Note,
            Command::New,
        ]
    );
    assert!(errors("Re: x", text).is_empty());
}

#[test]
fn unlink_takes_a_kind_and_a_number_like_link() {
    let p = parse(
        "Re: x",
        "#unlink child 2026112210000017\n#unlink 2026112210000017\n",
    );
    assert_eq!(
        p.commands
            .iter()
            .map(|c| c.command.clone())
            .collect::<Vec<_>>(),
        [Command::Unlink {
            kind: LinkKind::Child,
            ticket: "2026112210000017".into()
        }]
    );
    assert_eq!(
        errors("Re: x", "#unlink 2026112210000017\n"),
        [
            "line 1: \"#unlink 2026112210000017\": #unlink needs a kind and a number, \
          e.g. #unlink problem 2026112210000017"
        ]
    );
    assert_eq!(
        p.commands[0].command.to_string(),
        "#unlink child 2026112210000017"
    );
}

#[test]
fn the_block_ends_at_the_first_line_of_prose() {
    let text = "\r\n#state waiting\r\n\r\nHello Ana,\r\n#state resolved\r\nthanks\r\n";
    let p = parse("Re: x", text);
    assert_eq!(
        p.commands.iter().map(|c| &c.command).collect::<Vec<_>>(),
        [&Command::State {
            state: "waiting".into()
        }]
    );
    assert_eq!(p.commands[0].source, Source::Body { line: 2 });
    assert_eq!(p.commands[0].written, "#state waiting");
    // The rest keeps its line ends and everything after the block, a
    // later "#state" line included (it is prose by then).
    assert_eq!(p.rest, "Hello Ana,\r\n#state resolved\r\nthanks\r\n");
}

#[test]
fn prose_that_starts_with_a_hash_is_not_a_command() {
    for text in ["#1 thing to know\n", "#Hello team\n", "# heading\n", "#\n"] {
        let p = parse("x", text);
        assert!(!p.any(), "{text:?}: {p:?}");
        assert_eq!(p.rest, text);
    }
}

#[test]
fn a_mistyped_command_is_an_error_not_prose() {
    let p = parse("x", "#stat resolved\nHello\n");
    assert!(p.commands.is_empty());
    assert_eq!(
        p.errors[0].to_string(),
        "line 1: \"#stat resolved\": no command #stat; send a mail with the subject \"help\" for the list"
    );
    // The mistyped line is not relayed.
    assert_eq!(p.rest, "Hello\n");
}

#[test]
fn bad_arguments_say_what_is_expected() {
    let cases = [
        ("#state", "#state needs a state, e.g. #state resolved"),
        (
            "#state resolved now",
            "#state takes one value (a state, e.g. #state resolved), not \"resolved now\"",
        ),
        ("#priority 7", "\"7\" is not a number from 1 to 6"),
        ("#urgency 0", "\"0\" is not a number from 1 to 5"),
        ("#impact high", "\"high\" is not a number from 1 to 5"),
        (
            "#type bug",
            "no type \"bug\": incident, request, problem or change",
        ),
        (
            "#tag vip",
            "#tag needs add or remove and one value, e.g. #tag add X",
        ),
        ("#tag put vip", "#tag put: expected add or remove"),
        ("#cc add bob", "\"bob\" is not a mail address"),
        ("#merge abc", "\"abc\" is not a ticket number"),
        (
            "#link sibling 12",
            "no link \"sibling\": problem, change, parent, child or related",
        ),
        (
            "#link 12",
            "#link needs a kind and a number, e.g. #link problem 2026112210000017",
        ),
        ("#transfer", "#transfer needs the address to transfer to"),
        (
            "#note call back",
            "#note takes nothing after it; write the text on the next line",
        ),
        ("#group", "#group needs a group's name"),
    ];
    for (line, reason) in cases {
        let p = parse("x", line);
        assert!(p.commands.is_empty(), "{line}");
        assert_eq!(p.errors.len(), 1, "{line}");
        assert_eq!(p.errors[0].reason, reason, "{line}");
    }
}

#[test]
fn control_lines_use_the_same_words() {
    let p = parse(
        "x",
        "Control: state resolved\ncontrol: tag add vip\n#priority 2\nBye\n",
    );
    assert_eq!(
        p.commands
            .iter()
            .map(|c| (&c.command, c.source))
            .collect::<Vec<_>>(),
        [
            (
                &Command::State {
                    state: "resolved".into()
                },
                Source::Control { line: 1 }
            ),
            (
                &Command::Tag {
                    add: true,
                    tag: "vip".into()
                },
                Source::Control { line: 2 }
            ),
            (&Command::Priority { value: 2 }, Source::Body { line: 3 }),
        ]
    );
    assert_eq!(p.rest, "Bye\n");
    assert_eq!(
        errors("x", "Control: frobnicate 3\n"),
        ["line 1: \"Control: frobnicate 3\": no command \"frobnicate\"; send a mail with the subject \"help\" for the list"]
    );
}

#[test]
fn subject_suffix_like_roundup() {
    let p = parse(
        "Re: Printer jam [Ticket#2026112210000017] [status=resolved; priority=4;assignedto=me]",
        "",
    );
    assert_eq!(p.subject, "Re: Printer jam [Ticket#2026112210000017]");
    assert_eq!(
        p.commands.iter().map(|c| &c.command).collect::<Vec<_>>(),
        [
            &Command::State {
                state: "resolved".into()
            },
            &Command::Priority { value: 4 },
            &Command::Assign { to: Assignee::Me },
        ]
    );
    assert!(p.commands.iter().all(|c| c.source == Source::Subject));
    // A ticket tag alone is not a command suffix.
    let p = parse("Re: Printer jam [Ticket#2026112210000017]", "");
    assert!(!p.any());
    assert_eq!(p.subject, "Re: Printer jam [Ticket#2026112210000017]");
    // Only some keys are subject commands.
    assert_eq!(
        errors("x [merge=12]", ""),
        ["subject: \"merge=12\": merge= is not a subject command (state, assign, group, queue, priority, urgency, impact, service, type)"]
    );
}

#[test]
fn help_subject() {
    assert_eq!(cmds("  HELP ", ""), [Command::Help]);
    assert!(cmds("Re: help with my printer", "").is_empty());
}

#[test]
fn many_command_lines_are_bounded() {
    let text = "#tag add x\n".repeat(MAX_COMMANDS * 100) + "Hello\n";
    let p = parse("x", &text);
    assert_eq!(p.commands.len(), MAX_COMMANDS);
    assert_eq!(p.errors.len(), 1);
    assert!(p.errors[0].reason.contains(&MAX_COMMANDS.to_string()));
    assert_eq!(
        p.errors[0].source,
        Source::Body {
            line: MAX_COMMANDS + 1
        }
    );
    // None of them is relayed.
    assert_eq!(p.rest, "Hello\n");
}

#[test]
fn a_huge_line_is_refused() {
    let line = format!("#service {}\n", "a".repeat(5000));
    let p = parse("x", &line);
    assert!(p.commands.is_empty());
    assert_eq!(p.errors[0].reason, "longer than 1000 characters");
    assert_eq!(p.errors[0].written.len(), 5009);
}

#[test]
fn display_round_trips_through_parse() {
    let text =
        "#state resolved\n#assign me\n#tag remove x\n#cc add a@b.example\n#link child 42\n#note\n";
    for c in cmds("x", text) {
        assert_eq!(cmds("x", &c.to_string()), std::slice::from_ref(&c), "{c}");
    }
}

#[test]
fn hostile_text_never_panics() {
    for text in [
        "#",
        "#\u{0}",
        "Control:",
        "Control:\u{fe0f}",
        "#state \u{202e}x",
        "#cc add \u{ff20}",
        "\u{feff}#state x",
        "#link problem #",
        "#merge [",
        "Control:#state x",
    ] {
        let _ = parse(text, text);
    }
    let _ = parse("[=]", "");
    let _ = parse("[;;;=;;]", "");
    let _ = parse("]", "");
}
