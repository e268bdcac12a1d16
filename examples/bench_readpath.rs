//! Read-path benchmark for BENCHMARKS.md (issue 10, item 1): fills a
//! database with synthetic history (`store::synthetic`, SQL only, one
//! transaction per 100,000 tickets), then times the store calls behind
//! `ticket show`, `ticket list`, `ticket search` and `status` on it.
//!
//!     cargo run --example bench_readpath -- DB TICKETS [ARTICLES_PER_TICKET] [--search TEXT]...
//!
//! DB is created (or extended) at the given path; TICKETS are added to it
//! (0: only measure, e.g. a database filled by `postdesk import`, as
//! `bench/scale.sh` does). Prints `key=value` lines: fill_s, then per query
//! the first (cold) call and the median and max of 21 warm calls, in ms. A
//! measurement, not a test: it never fails on time.
//!
//! Tickets shown: the newest, one from the middle of history and the
//! busiest of the customer who wrote most of the newest 100 tickets. Searches: `--search` texts if
//! given, else words of the synthetic mail.

use std::path::PathBuf;
use std::time::Instant;

use postdesk::store::search;
use postdesk::store::synthetic::{fill, Synthetic};
use postdesk::store::views::{self, TicketFilter};
use postdesk::store::{Durability, Store};

/// Cold time, then median and max of 21 warm runs, in ms.
fn time(name: &str, mut f: impl FnMut() -> usize) {
    let t = Instant::now();
    let rows = f();
    let cold = t.elapsed().as_secs_f64() * 1e3;
    let mut warm: Vec<f64> = (0..21)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    warm.sort_by(f64::total_cmp);
    println!(
        "{name}: rows={rows} cold_ms={cold:.2} median_ms={:.2} max_ms={:.2}",
        warm[10], warm[20]
    );
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut searches = Vec::new();
    while let Some(i) = args.iter().position(|a| a == "--search") {
        args.remove(i);
        anyhow::ensure!(i < args.len(), "--search needs a text");
        searches.push(args.remove(i));
    }
    let db = PathBuf::from(
        args.first()
            .expect("usage: bench_readpath DB TICKETS [PER] [--search TEXT]..."),
    );
    let tickets: u64 = args.get(1).map_or(Ok(0), |s| s.parse())?;
    let per: u64 = args.get(2).map_or(Ok(4), |s| s.parse())?;
    let mut store = Store::open(&db, Durability::Normal)?;
    let t = Instant::now();
    let mut left = tickets;
    while left > 0 {
        let n = left.min(100_000);
        let spec = Synthetic {
            tickets: n,
            articles_per_ticket: per,
            customers: 50_000,
            raw_size: 1024,
        };
        fill(store.conn(), &spec)?;
        left -= n;
        eprintln!("filled {} tickets", tickets - left);
    }
    println!("fill_s={:.1}", t.elapsed().as_secs_f64());
    drop(store);

    let mut store = Store::open_read_only(&db)?;
    let c = store.conn();
    let st = views::status(c)?;
    println!("tickets={} articles={}", st.tickets, st.articles);
    let newest = views::tickets(
        c,
        &TicketFilter {
            limit: 1,
            ..Default::default()
        },
    )?;
    let Some(newest) = newest.first() else {
        anyhow::bail!("no tickets in {}", db.display());
    };
    // The synthetic history numbers its tickets B000…; other databases
    // give one from the middle of the tickets of the customer who wrote
    // most of the newest 100 (the newest ticket's may have only one).
    let recent = views::tickets(
        c,
        &TicketFilter {
            limit: 100,
            ..Default::default()
        },
    )?;
    let mut counts = std::collections::HashMap::new();
    for t in &recent {
        *counts.entry(t.customer.as_str()).or_insert(0) += 1;
    }
    let customer = counts
        .into_iter()
        .max_by_key(|&(address, n)| (n, std::cmp::Reverse(address)))
        .map_or_else(
            || newest.customer.clone(),
            |(address, _)| address.to_string(),
        );
    let mine = views::tickets(
        c,
        &TicketFilter {
            customer: Some(customer.clone()),
            limit: 0,
            ..Default::default()
        },
    )?;
    let synthetic = format!("B{:015}", st.tickets / 2);
    let middle = if views::ticket(c, &synthetic)?.is_some() {
        synthetic
    } else {
        mine[mine.len() / 2].number.clone()
    };
    let busiest = mine
        .iter()
        .max_by_key(|t| t.articles)
        .map_or_else(|| newest.number.clone(), |t| t.number.clone());
    for (name, number) in [
        ("show_newest", newest.number.clone()),
        ("show_middle", middle),
        ("show_busiest", busiest),
    ] {
        time(name, || {
            views::ticket(c, &number)
                .expect("ticket query runs")
                .map_or(0, |t| t.articles.len())
        });
    }
    let lists = [
        (
            "list_100",
            TicketFilter {
                limit: 100,
                ..Default::default()
            },
        ),
        (
            "list_open_100",
            TicketFilter {
                state: Some("open".into()),
                limit: 100,
                ..Default::default()
            },
        ),
        (
            "list_queue_100",
            TicketFilter {
                queue: Some("bench".into()),
                limit: 100,
                ..Default::default()
            },
        ),
        (
            "list_customer_all",
            TicketFilter {
                customer: Some(customer),
                limit: 0,
                ..Default::default()
            },
        ),
    ];
    for (name, filter) in lists {
        time(name, || {
            views::tickets(c, &filter).expect("list query runs").len()
        });
    }
    // `ticket search`: a word in every synthetic mail, a ticket's own
    // number (one ticket), both, two common words, a prefix, a word in
    // none.
    let rare = (st.tickets / 2).to_string();
    let mixed = format!("ticket {rare}");
    let synthetic_searches = [
        ("search_common_20", "printer"),
        ("search_rare", rare.as_str()),
        ("search_common_and_rare", mixed.as_str()),
        ("search_two_words_20", "blank pages"),
        ("search_prefix_20", "print*"),
        ("search_none", "zzyzx"),
    ];
    let named: Vec<(String, &str)> = if searches.is_empty() {
        synthetic_searches
            .iter()
            .map(|(n, t)| (n.to_string(), *t))
            .collect()
    } else {
        searches
            .iter()
            .map(|t| (format!("search[{t}]"), t.as_str()))
            .collect()
    };
    for (name, text) in named {
        time(&name, || {
            search::search(c, text, 20)
                .expect("search query runs")
                .len()
        });
    }
    time("status", || {
        views::status(c).map_or(0, |s| s.tickets as usize)
    });
    Ok(())
}
