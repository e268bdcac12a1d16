//! Rules benchmark for BENCHMARKS.md: 200 generated rules of every kind
//! (text operators, regexes, lists, headers, combinators, weekday and time
//! windows in a time zone) evaluated against one ~2 KB mail.
//!
//!     cargo run --example bench_rules [--config …] [RULES] [ITERATIONS]
//!
//! Prints one line of `key=value` pairs: rules, files, matched (rules that
//! matched the mail), actions, load_ms (reading and compiling all rules),
//! per_message_us (median of 7 rounds of ITERATIONS evaluations, each
//! with its full trace; min and max too) and cpu_per_message_us (the same
//! in this thread's CPU time, which other jobs on a shared machine do not
//! inflate). A measurement, not a test: it never fails on time.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use postdesk::rules::{Class, Message, RuleSet};

const WORDS: [&str; 10] = [
    "invoice", "outage", "password", "delivery", "contract", "printer", "license", "refund",
    "upgrade", "backup",
];

/// Rule `i` of the generated set: eight kinds in turn; 1 rule in 16 matches.
fn rule(i: usize) -> String {
    let w = WORDS[i % WORDS.len()];
    let tag = format!("g{i}");
    let when = match i % 8 {
        0 => format!(r#"{{ subject = {{ contains = "{w}-{i}" }} }}"#),
        1 => format!(r#"{{ body_new = {{ regex = '\b({w}|{w}s)-{i}\b' }} }}"#),
        2 => format!(
            r#"{{ sender_domain = {{ in = ["a{i}.example", "b{i}.example", "c{i}.example"] }} }}"#
        ),
        3 => format!(r#"{{ header = {{ name = "X-Custom-{i}", equals = "yes" }} }}"#),
        4 => format!(r#"{{ from = {{ ends_with = "@d{i}.example" }} }}"#),
        5 => format!(
            r#"{{ all = [ {{ ticket = "new" }}, {{ subject = {{ starts_with = "p{i}" }} }} ] }}"#
        ),
        6 => format!(
            r#"{{ any = [ {{ class = "bounce" }}, {{ to = {{ contains = "x{i}@" }} }} ] }}"#
        ),
        // Matches: a weekday in office hours, with a word of the body.
        _ => format!(
            r#"{{ not = {{ weekday = ["sat", "sun"] }}, time = {{ between = ["09:00", "18:00"], time_zone = "Europe/Lisbon" }}, body = {{ contains = "{}" }} }}"#,
            if i % 16 == 7 {
                "printer"
            } else {
                "nothing-here"
            }
        ),
    };
    format!(
        "[[rule]]\nname = \"rule {i}\"\nwhen = {when}\nactions = {{ urgency = {}, tags = [\"{tag}\"] }}\n\n",
        i % 5 + 1
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: usize = args.first().map_or(200, |a| a.parse().expect("RULES"));
    let iterations: usize = args
        .get(1)
        .map_or(20_000, |a| a.parse().expect("ITERATIONS"));

    // Ten files of count/10 rules, as an operator might split them.
    let per_file = count.div_ceil(10);
    let files: Vec<(PathBuf, String)> = (0..count)
        .collect::<Vec<_>>()
        .chunks(per_file)
        .enumerate()
        .map(|(f, ids)| {
            (
                PathBuf::from(format!("rules/{f:02}.toml")),
                ids.iter().map(|&i| rule(i)).collect(),
            )
        })
        .collect();
    let t = Instant::now();
    let set = RuleSet::from_texts(Path::new("rules"), &files)
        .unwrap_or_else(|e| panic!("{}", postdesk::rules::describe(&e)));
    let load_ms = t.elapsed().as_secs_f64() * 1e3;

    let body: String = (0..30)
        .map(|n| format!("Line {n}: the printer on floor {n} shows an error after the upgrade.\n"))
        .collect();
    let headers = [
        ("Received", "from mx.client.example by mx.desk.example"),
        ("Received", "from laptop by mx.client.example"),
        ("Message-ID", "<abc@client.example>"),
        ("Date", "Tue, 01 Dec 2026 10:29:00 +0000"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("X-Spam-Status", "No, score=0.2"),
        ("User-Agent", "Mail 1.0"),
    ];
    let m = Message {
        from: "ana@client.example",
        to: &["support@desk.example"],
        cc: &["boss@client.example"],
        mailbox: "support",
        address: "support@desk.example",
        subject: "Printer on floor 2 shows an error",
        body_new: &body[..body.len() / 2],
        body: &body,
        headers: &headers,
        sender_domain: "client.example",
        customer: Some("Client Ltd"),
        is_new: true,
        class: Class::Person,
        has_attachments: false,
        size: 2600,
        language: Some("en"),
    };
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 30, 0).unwrap();
    let ev = set.evaluate(&m, now);
    let matched = ev.trace.iter().filter(|t| t.matched).count();
    let actions = ev.actions.len();

    let mut rounds = Vec::new();
    let mut cpu_rounds = Vec::new();
    for _ in 0..7 {
        let (t, cpu) = (Instant::now(), thread_cpu_secs());
        for _ in 0..iterations {
            black_box(set.evaluate(black_box(&m), now));
        }
        rounds.push(t.elapsed().as_secs_f64() * 1e6 / iterations as f64);
        cpu_rounds.push((thread_cpu_secs() - cpu) * 1e6 / iterations as f64);
    }
    rounds.sort_by(f64::total_cmp);
    cpu_rounds.sort_by(f64::total_cmp);
    println!(
        "rules={} files={} matched={matched} actions={actions} load_ms={load_ms:.1} per_message_us={:.2} min_us={:.2} max_us={:.2} cpu_per_message_us={:.2}",
        set.rules.len(),
        set.files.len(),
        rounds[3],
        rounds[0],
        rounds[6],
        cpu_rounds[3]
    );
}

/// CPU time of this thread: unlike wall time, it leaves out the time other
/// jobs on a shared machine held the CPU.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill in.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
