//! The index invariant of the store (issue 10): every SQL statement the
//! store runs finds its rows through an index, so its cost does not grow
//! with the helpdesk's history. The statements are not listed by hand: the
//! test reads the store's own sources, takes every string literal that is
//! an SQL statement (outside `#[cfg(test)]` code), and runs `EXPLAIN QUERY
//! PLAN` over each on a freshly migrated database. A new query that scans a
//! growing table fails the test until it gets an index, or a justified
//! entry in [`EXCEPTIONS`].

use rusqlite::Connection;

use super::{records, views, Durability, Store};

/// The store's sources whose statements are checked (test code excluded).
const SOURCES: &[(&str, &str)] = &[
    ("mod.rs", include_str!("mod.rs")),
    ("agent_reply.rs", include_str!("agent_reply.rs")),
    ("attempts.rs", include_str!("attempts.rs")),
    ("commands.rs", include_str!("commands.rs")),
    ("denied.rs", include_str!("denied.rs")),
    ("machines.rs", include_str!("machines.rs")),
    ("marks.rs", include_str!("marks.rs")),
    ("directory/mod.rs", include_str!("directory/mod.rs")),
    ("directory/actors.rs", include_str!("directory/actors.rs")),
    ("directory/people.rs", include_str!("directory/people.rs")),
    ("directory/queues.rs", include_str!("directory/queues.rs")),
    ("directory/lookup.rs", include_str!("directory/lookup.rs")),
    ("history.rs", include_str!("history.rs")),
    ("imports.rs", include_str!("imports.rs")),
    ("lifecycle.rs", include_str!("lifecycle.rs")),
    ("outbox.rs", include_str!("outbox.rs")),
    ("quarantine_fate.rs", include_str!("quarantine_fate.rs")),
    ("records.rs", include_str!("records.rs")),
    ("redelivery.rs", include_str!("redelivery.rs")),
    ("refusals.rs", include_str!("refusals.rs")),
    ("relations.rs", include_str!("relations.rs")),
    ("safeguards.rs", include_str!("safeguards.rs")),
    ("ticket_fields.rs", include_str!("ticket_fields.rs")),
    ("search.rs", include_str!("search.rs")),
    ("thread.rs", include_str!("thread.rs")),
    ("upkeep.rs", include_str!("upkeep.rs")),
    ("views.rs", include_str!("views.rs")),
];

/// Tables that grow with the helpdesk's history. (`queues`,
/// `ticket_counters`, `ticket_number_key`, `mailbox_state` hold a row per
/// queue, day, database or mailbox; agents, groups, customers and
/// services are staff and organisations, not history. Customer users
/// grow with the senders a helpdesk hears from.)
const GROWING: &[&str] = &[
    "tickets",
    "articles",
    "ticket_participants",
    "message_ids",
    "receipts",
    "raw_messages",
    "forgotten_raw",
    "outbox",
    "outbox_raw",
    "attachments",
    "quarantine",
    "agent_alerts",
    "processing_attempts",
    "bouncing_addresses",
    "automatic_mail",
    "customer_users",
    "customer_user_addresses",
    "customer_user_group_access",
    "customer_user_services",
    "ticket_tags",
    "ticket_history",
    "refusals",
    "ticket_links",
];

/// Statements allowed to scan, each with the reason. Match: the statement
/// text (whitespace collapsed) starts with the first field.
const EXCEPTIONS: &[(&str, &str)] = &[
    // `postdesk address list --bouncing`: the operator's whole list by
    // definition; one row per address that bounced, never per message.
    (
        "SELECT b.address, b.first_seen, b.last_seen, b.count, b.last_reason, t.number FROM bouncing_addresses b LEFT JOIN tickets t ON t.id = b.ticket_id ORDER BY",
        "address list",
    ),
    // `customer-user list` without a customer and `directory export`: an
    // operator asks for every customer user (`--customer` uses its index).
    (
        "SELECT id FROM customer_users ORDER BY login",
        "customer-user list, directory export",
    ),
    // The states tickets hold, read at the daemon's start and by `db
    // check` (not per message): one pass over the state index, to warn
    // about states [lifecycle] no longer lists.
    (
        "SELECT state, COUNT(*) FROM tickets GROUP BY state ORDER BY state",
        "daemon start, db check",
    ),
];

/// Rust string literals of `src` (plain and raw), unescaped, in order.
fn string_literals(src: &str) -> Vec<String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'\'' => {
                // A char literal ('x', '\n', '"'); otherwise a lifetime.
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 2;
                }
                i += 1;
            }
            b'r' if matches!(b.get(i + 1), Some(b'"') | Some(b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                let start = i + 1 + hashes + 1;
                let end_pat = format!("\"{}", "#".repeat(hashes));
                let len = src[start..].find(&end_pat).expect("raw string closes");
                out.push(src[start..start + len].to_string());
                i = start + len + end_pat.len();
            }
            b'"' => {
                let mut s = String::new();
                i += 1;
                while b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                        match b[i] {
                            b'n' => s.push('\n'),
                            b't' => s.push('\t'),
                            b'\n' => {
                                while b[i + 1].is_ascii_whitespace() {
                                    i += 1;
                                }
                            }
                            c => s.push(c as char),
                        }
                        i += 1;
                    } else {
                        let ch = src[i..].chars().next().expect("in bounds");
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
                out.push(s);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// Every SQL statement in the store's non-test sources, whitespace
/// collapsed, with the `{TICKET_COLS}` column list filled in.
fn statements() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (file, src) in SOURCES {
        let code = src
            .split("#[cfg(test)]\nmod tests")
            .next()
            .expect("split yields one");
        for lit in string_literals(code) {
            let sql = lit.split_whitespace().collect::<Vec<_>>().join(" ");
            let head = sql.split(' ').next().unwrap_or("").to_uppercase();
            if !["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE"].contains(&head.as_str())
            {
                continue;
            }
            // Completed per filter combination in `listings_use_indexes`.
            if lit == views::TICKETS_SELECT || lit == views::QUARANTINE_SELECT {
                continue;
            }
            out.push((*file, sql.replace("{TICKET_COLS}", records::TICKET_COLS)));
        }
    }
    out
}

fn plan(c: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = c
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    // Parameters stay unbound (NULL): the plan does not depend on them.
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push(r.get::<_, String>(3).unwrap());
    }
    out
}

/// The names (table or alias) under which `sql` reads growing tables.
fn growing_names(sql: &str) -> Vec<String> {
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    let mut names: Vec<String> = GROWING.iter().map(|t| t.to_string()).collect();
    for pair in words.windows(2) {
        let keyword = [
            "ON", "WHERE", "JOIN", "LEFT", "SET", "ORDER", "GROUP", "LIMIT", "AS",
        ]
        .contains(&pair[1].to_uppercase().as_str());
        if GROWING.contains(&pair[0]) && !keyword {
            names.push(pair[1].to_string());
        }
    }
    names
}

/// The lines of `plan` that read a growing table of `sql` row by row.
fn scans(sql: &str, plan: &[String]) -> Vec<String> {
    let names = growing_names(sql);
    plan.iter()
        .filter(|l| {
            let mut w = l.split(' ');
            w.next() == Some("SCAN") && w.next().is_some_and(|t| names.iter().any(|n| n == t))
        })
        .cloned()
        .collect()
}

/// The tables whose foreign keys reference `parent`.
fn children_of(c: &Connection, parent: &str) -> Vec<String> {
    GROWING
        .iter()
        .filter(|t| {
            let mut stmt = c.prepare(&format!("PRAGMA foreign_key_list({t})")).unwrap();
            let parents: Vec<String> = stmt
                .query_map([], |r| r.get::<_, String>(2))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            parents.iter().any(|p| p == parent)
        })
        .map(|t| t.to_string())
        .collect()
}

/// `scans`, less the parent-side foreign-key checks of an INSERT: once a
/// table has triggers (the counters, the search index), SQLite plans an
/// insert into it as able to write several rows and codes a scan of each
/// child table, which it runs only while a foreign-key violation of the
/// same statement is pending (`OP_FkIfZero` skips it otherwise). Our
/// foreign keys are immediate and our inserts violate none, so those scans
/// never run; `bench/writepath.sh` shows the insert cost flat at a million
/// rows.
fn scans_that_run(c: &Connection, sql: &str, plan: &[String]) -> Vec<String> {
    let inserted = sql
        .strip_prefix("INSERT INTO ")
        .and_then(|r| r.split([' ', '(']).next());
    let children = inserted.map(|t| children_of(c, t)).unwrap_or_default();
    scans(sql, plan)
        .into_iter()
        .filter(|l| !children.iter().any(|ch| l == &format!("SCAN {ch}")))
        .collect()
}

fn db() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("db"), Durability::Normal).unwrap();
    // The outbox's marks journal, as the sender has it.
    super::marks::attach(s.conn(), &dir.path().join("db"), Durability::Normal).unwrap();
    (dir, s)
}

#[test]
fn string_literals_are_read_like_rust() {
    let src = r###"let a = "x \"q\" \
        y"; // "not this"
    let c = '"'; let l: &'a str = r#"SELECT "id""#; 'b'; '\''; "é""###;
    assert_eq!(
        string_literals(src),
        ["x \"q\" y", "SELECT \"id\"", "é"].map(String::from)
    );
}

#[test]
fn the_store_queries_are_found() {
    let all = statements();
    let has = |s: &str| all.iter().any(|(_, q)| q.contains(s));
    // One from each file, including format!-built and const statements.
    assert!(has(
        "SELECT o.status FROM outbox o WHERE o.article_id = a.id"
    ));
    assert!(has(
        "FROM message_ids m JOIN tickets t ON t.id = m.ticket_id"
    ));
    assert!(has("UPDATE outbox SET claimed_by = ?1, claim_expires = ?2"));
    assert!(has(
        "DELETE FROM processing_attempts WHERE message_key = ?1"
    ));
    assert!(has("INSERT INTO agent_alerts"));
    assert!(has(
        "SELECT source, uid_validity, last_uid FROM mailbox_state"
    ));
    assert!(!has("{TICKET_COLS}"));
    assert!(all.len() > 60, "{}", all.len());
}

#[test]
fn no_store_query_scans_a_growing_table() {
    let (_d, mut s) = db();
    let c = s.conn();
    let mut bad = Vec::new();
    for (file, sql) in statements() {
        if EXCEPTIONS.iter().any(|(p, _)| sql.starts_with(p)) {
            continue;
        }
        let p = plan(c, &sql);
        let scans = scans_that_run(c, &sql, &p);
        if !scans.is_empty() {
            bad.push(format!("{file}: {sql}\n  plan: {}", p.join("; ")));
        }
    }
    assert!(bad.is_empty(), "full scans:\n{}", bad.join("\n"));
}

/// `ticket show` reads each article's delivery state from the index
/// alone: the outbox row, with its rendered mail, is never read.
#[test]
fn delivery_state_is_read_from_the_index_alone() {
    let (_d, mut s) = db();
    let c = s.conn();
    let sql = statements()
        .into_iter()
        .map(|(_, q)| q)
        .find(|q| q.contains("(SELECT o.status FROM outbox o WHERE o.article_id = a.id)"))
        .expect("the ticket show query");
    let p = plan(c, &sql);
    assert!(
        p.iter()
            .any(|l| l == "SEARCH o USING COVERING INDEX outbox_article (article_id=?)"),
        "{p:?}"
    );
}

#[test]
fn every_exception_still_names_a_store_query() {
    let all = statements();
    for (prefix, _) in EXCEPTIONS {
        assert!(all.iter().any(|(_, q)| q.starts_with(prefix)), "{prefix}");
    }
}

#[test]
fn listings_use_indexes_for_every_filter() {
    let (_d, mut s) = db();
    let c = s.conn();
    let some = || "x".to_string();
    for bits in 0..16u8 {
        let f = views::TicketFilter {
            state: (bits & 1 != 0).then(some),
            queue: (bits & 2 != 0).then(some),
            customer: (bits & 4 != 0).then(some),
            tag: (bits & 8 != 0).then(some),
            limit: 50,
        };
        let sql = views::tickets_sql(&f);
        let p = plan(c, &sql);
        let scans = scans(&sql, &p);
        if bits == 0 {
            // No filter: tickets in rowid order, newest first; LIMIT stops
            // the scan after `limit` rows, since nothing sorts them.
            assert_eq!(scans, ["SCAN t"], "{p:?}");
            assert!(!p.iter().any(|l| l.contains("TEMP B-TREE")), "{p:?}");
        } else {
            assert!(scans.is_empty(), "{f:?}: {p:?}");
            assert!(!p.iter().any(|l| l.contains("TEMP B-TREE")), "{f:?}: {p:?}");
        }
    }
    for (status, id) in [(false, false), (true, false), (false, true)] {
        let sql = views::quarantine_sql(status, id);
        let p = plan(c, &sql);
        let scans = scans(&sql, &p);
        if !status && !id {
            // `quarantine list --all` asks for every row.
            assert_eq!(scans, ["SCAN q"], "{p:?}");
        } else {
            assert!(scans.is_empty(), "{status} {id}: {p:?}");
        }
    }
}

/// Raw mail (`raw_messages.content`) is read only through its id, one row
/// at a time; the content-hash lookup reads the index alone. The blobs sit
/// in their own table, so no listing or scan ever touches their pages.
#[test]
fn raw_mail_is_read_only_by_id() {
    let (_d, mut s) = db();
    let c = s.conn();
    let mut checked = 0;
    for (file, sql) in statements() {
        if !sql.contains("raw_messages") || sql.starts_with("INSERT") {
            continue;
        }
        let words: Vec<&str> = sql.split(' ').collect();
        let mut names = vec!["raw_messages"];
        for pair in words.windows(2) {
            if pair[0] == "raw_messages" && pair[1] != "WHERE" && pair[1] != "ON" {
                names.push(pair[1]);
            }
        }
        let p = plan(c, &sql);
        for line in &p {
            let mut w = line.split(' ');
            let (op, table) = (w.next(), w.next());
            if !table.is_some_and(|t| names.contains(&t)) {
                continue;
            }
            let by_id = line.contains("USING INTEGER PRIMARY KEY (rowid=?)");
            let by_hash = line.contains("USING COVERING INDEX sqlite_autoindex_raw_messages");
            assert!(
                op == Some("SEARCH") && (by_id || by_hash),
                "{file}: {sql}: {p:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "{checked}");
}
