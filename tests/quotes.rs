//! The quote splitter over public reply-parser test sets
//! (`tests/data/quotes/`, origins in `tests/data/README.md`): each
//! `NAME.txt` is a reply body and `NAME.expected` the new part its
//! upstream project expects. Reports the exact-match rate (compared after
//! trimming surrounding whitespace, as the upstream tests do) and asserts
//! the floor we reach; BENCHMARKS.md keeps the figure.

use postdesk::mail::quote::new_part;
use std::path::Path;

/// Cases that must match exactly; raise it when the splitter improves.
const FLOOR: usize = 58;

#[test]
fn quote_splitter_exact_match_rate_on_public_test_sets() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/quotes");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data/quotes exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    names.sort();
    let (mut exact, mut misses) = (0, Vec::new());
    for input in &names {
        let text = std::fs::read_to_string(input)
            .unwrap()
            .replace("\r\n", "\n");
        let expected = std::fs::read_to_string(input.with_extension("expected"))
            .unwrap_or_else(|_| panic!("{} has no .expected beside it", input.display()))
            .replace("\r\n", "\n");
        let got = new_part(text.trim());
        if got.trim() == expected.trim() {
            exact += 1;
        } else {
            misses.push(format!(
                "{}:\n--- expected\n{}\n--- got\n{}",
                input.file_name().unwrap().to_string_lossy(),
                expected.trim(),
                got.trim()
            ));
        }
    }
    println!(
        "quote splitter: {exact} of {} exactly right ({:.0}%)",
        names.len(),
        100.0 * exact as f64 / names.len() as f64
    );
    for m in &misses {
        println!("{m}\n");
    }
    assert!(
        exact >= FLOOR,
        "{exact} of {} exact, below the floor of {FLOOR}",
        names.len()
    );
}
