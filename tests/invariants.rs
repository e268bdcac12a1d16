//! Invariants a grep can check, checked on every test run: only `store/`
//! holds SQL; within message processing only the apply stage (and the
//! quarantine, its failure path) calls the store's writes; the parse and
//! decide stages touch no store at all.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `src/FILE:LINE: text` of every line of code (not a comment) holding
/// one of `needles`, in the files `keep` selects (paths relative to src/).
fn find(needles: &[&str], keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut hits = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src()).unwrap().to_string_lossy().to_string();
        if !keep(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = !line.trim_start().starts_with("//");
            if code && needles.iter().any(|n| line.contains(n)) {
                hits.push(format!("src/{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    hits
}

const SQL: &[&str] = &[
    ".prepare(",
    "prepare_cached(",
    ".execute(",
    "execute_batch(",
    "query_row(",
    "query_map(",
    "\"SELECT ",
    "\"INSERT ",
    "\"UPDATE ",
    "\"DELETE ",
    "\"CREATE ",
    "\"PRAGMA ",
];

#[test]
fn only_the_store_speaks_sql() {
    let outside = find(SQL, |f| !f.starts_with("store/"));
    assert!(
        outside.is_empty(),
        "SQL outside src/store/:\n{}",
        outside.join("\n")
    );
    assert!(
        !find(SQL, |f| f.starts_with("store/")).is_empty(),
        "the check finds nothing at all"
    );
}

/// The store's writes that processing a message may cause.
const WRITES: &[&str] = &[
    "records::insert_",
    "records::store_raw",
    "records::add_participant",
    "records::add_message_id",
    "records::touch_ticket",
    "records::set_ticket_fields",
    "records::next_ticket_counter",
    "records::quarantine_retried",
    "records::request_refetch",
    "safeguards::record_agent_alert",
    "safeguards::mark_unverified",
    "safeguards::add_note",
    "outbox::enqueue",
    "outbox::record_unrendered",
    "outbox::set_mail",
    "outbox::fail_unmade",
    "records::set_outbound_text",
    "machines::mark_internal",
    "machines::mark_bouncing",
    "machines::clear_bouncing",
    "machines::hold_outbox",
    "machines::record_automatic_mail",
    "refusals::record_refusal",
    "refusals::enqueue",
    "refusals::mark_unsent",
    "actors::assign(",
    "people::add_customer_user_on_first_mail",
    "history::record(",
    // The store's relations writes take the connection first; the pure
    // process::relations functions of the same names take the plan.
    "relations::merge(db",
    "relations::link(db",
    "relations::unlink(db",
];

#[test]
fn only_the_apply_stage_writes() {
    let writer = |f: &str| f.starts_with("process/apply/") || f == "process/quarantine.rs";
    let others = find(WRITES, |f| f.starts_with("process/") && !writer(f));
    assert!(
        others.is_empty(),
        "store writes outside the apply stage:\n{}",
        others.join("\n")
    );
    // Imported by name, a write would slip past the check.
    let bare: Vec<&str> = WRITES
        .iter()
        .map(|w| w.split("::").nth(1).unwrap())
        .collect();
    let imports: Vec<_> = find(&bare, |f| f.starts_with("process/") && !writer(f))
        .into_iter()
        .filter(|h| h.split(": ").nth(1).is_some_and(|l| l.starts_with("use ")))
        .collect();
    assert!(
        imports.is_empty(),
        "store writes imported by name:\n{}",
        imports.join("\n")
    );
    assert!(
        !find(WRITES, |f| writer(f)).is_empty(),
        "the check finds nothing at all"
    );
}

#[test]
fn parse_and_decide_touch_no_store() {
    let pure = [
        "process/parse.rs",
        "process/decide.rs",
        "process/decide_tests.rs",
        "process/plan.rs",
        "process/route.rs",
        "process/standing.rs",
        "process/machines.rs",
        "process/machines_tests.rs",
        "process/language.rs",
        "process/permit_tests.rs",
        "directory/mod.rs",
        "directory/check.rs",
        "directory/file.rs",
        "directory/permission.rs",
    ];
    let hits = find(
        &["Db", "Store", "safeguards::", "outbox::", "records::"],
        |f| pure.contains(&f),
    );
    let hits: Vec<_> = hits
        .into_iter()
        .filter(|h| !h.contains("records::TicketRef") && !h.contains("store::records::TicketRef"))
        .collect();
    assert!(
        hits.is_empty(),
        "store use in a pure stage:\n{}",
        hits.join("\n")
    );
}
