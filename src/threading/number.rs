//! Ticket-number arithmetic: the check digit and the unguessable serial.
//!
//! **Check digit: Damm's algorithm.** Its table is a totally
//! anti-symmetric quasigroup of order 10, so the digit catches every
//! single-digit substitution and every transposition of two adjacent
//! digits (the test below tries all of them over many numbers). Numbers
//! issued before the switch carry the old digit (weights 1, 2, 1, 2, …
//! modulo 10, which misses about one single-digit typo in twenty); they
//! are recognised by [`is_legacy_valid`], and the store accepts that digit
//! only for tickets it marked as issued under the old scheme
//! (`tickets.legacy_number`), so it can never lead to a new ticket.
//!
//! **Serial: a keyed permutation of the daily counter.** The store hands
//! out a plain counter per day; [`serial`] maps it through a small Feistel
//! network keyed by a secret kept in the database (made once, at
//! migration) and by the day, walking the cycle until the value fits the
//! decimal width. It is a bijection on `0..10^width`, so numbers stay
//! unique, but a number tells a stranger nothing about how many tickets
//! were opened that day.

use sha2::{Digest, Sha256};

/// Damm's table (the quasigroup from Damm's 2004 thesis, as on Wikipedia).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm check digit of `digits` (non-digits are skipped).
pub fn check_digit(digits: &str) -> u32 {
    let mut interim = 0u8;
    for d in digits.bytes().filter(u8::is_ascii_digit) {
        interim = DAMM[interim as usize][(d - b'0') as usize];
    }
    u32::from(interim)
}

/// The check digit of numbers issued before the switch to Damm: digits
/// weighted 1, 2, 1, 2, … from the left, sum modulo 10.
pub fn legacy_check_digit(digits: &str) -> u32 {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| d * if i % 2 == 0 { 1 } else { 2 })
        .sum::<u32>()
        % 10
}

fn well_formed(number: &str) -> Option<(&str, u32)> {
    if number.len() < 16 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (body, last) = number.split_at(number.len() - 1);
    Some((body, last.parse().ok()?))
}

/// A number of the current scheme: all digits, Damm check digit last.
pub fn is_valid(number: &str) -> bool {
    well_formed(number).is_some_and(|(body, last)| check_digit(body) == last)
}

/// A number whose last digit is the old weighted check digit. Only good
/// for tickets the store marked as issued under the old scheme.
pub fn is_legacy_valid(number: &str) -> bool {
    well_formed(number).is_some_and(|(body, last)| legacy_check_digit(body) == last)
}

/// The serial part of a number: `value` written with `width` digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serial {
    pub value: u64,
    pub width: usize,
}

/// Rounds of the Feistel network (more than enough to hide a counter).
const ROUNDS: u8 = 6;

/// The serial for the `counter`-th ticket (from 1) of `day`, under `key`.
/// Five digits for the first 100 000 tickets of a day, then wider; a
/// bijection within each width, so two counters of a day never share a
/// serial.
pub fn serial(key: &[u8], day: &str, counter: u64) -> Serial {
    let index = counter.saturating_sub(1);
    let mut width = 5usize;
    while index >= 10u64.pow(width as u32) && width < 18 {
        width += 1;
    }
    let domain = 10u64.pow(width as u32);
    // The smallest even bit count whose range covers the domain, so the
    // two halves are equal.
    let mut bits = 2u32;
    while (1u64 << bits) < domain {
        bits += 2;
    }
    // Cycle-walking: a permutation of 0..2^bits restricted to 0..domain is
    // a permutation of 0..domain.
    let mut x = index;
    loop {
        x = feistel(key, day, width, bits, x);
        if x < domain {
            return Serial { value: x, width };
        }
    }
}

fn feistel(key: &[u8], day: &str, width: usize, bits: u32, x: u64) -> u64 {
    let half = bits / 2;
    let mask = (1u64 << half) - 1;
    let (mut left, mut right) = (x >> half, x & mask);
    for round in 0..ROUNDS {
        let mut h = Sha256::new();
        h.update(key);
        h.update(day.as_bytes());
        h.update([width as u8, round]);
        h.update(right.to_be_bytes());
        let digest = h.finalize();
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&digest[..8]);
        let f = u64::from_be_bytes(eight) & mask;
        (left, right) = (right, left ^ f);
    }
    (left << half) | right
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many well-spread bodies of the current format: date, system id,
    /// five-digit serial.
    fn bodies() -> Vec<String> {
        let mut out = Vec::new();
        for (i, day) in ["20261201", "20270115", "20291231", "20300709"]
            .iter()
            .enumerate()
        {
            for sys in [0u32, 10, 47, 99] {
                for k in 0..200u64 {
                    let serial = serial(b"test key", day, k * 37 + i as u64 + 1);
                    out.push(format!("{day}{sys:02}{:05}", serial.value));
                }
            }
        }
        out
    }

    #[test]
    fn damm_catches_every_single_substitution_and_adjacent_transposition() {
        let mut tried = 0u64;
        for body in bodies() {
            let number = format!("{body}{}", check_digit(&body));
            assert!(is_valid(&number), "{number}");
            let digits = number.as_bytes();
            for pos in 0..digits.len() {
                for d in b'0'..=b'9' {
                    if d == digits[pos] {
                        continue;
                    }
                    let mut typo = digits.to_vec();
                    typo[pos] = d;
                    let typo = String::from_utf8(typo).unwrap();
                    assert!(!is_valid(&typo), "substitution {number} -> {typo}");
                    tried += 1;
                }
            }
            for pos in 0..digits.len() - 1 {
                if digits[pos] == digits[pos + 1] {
                    continue;
                }
                let mut typo = digits.to_vec();
                typo.swap(pos, pos + 1);
                let typo = String::from_utf8(typo).unwrap();
                assert!(!is_valid(&typo), "transposition {number} -> {typo}");
                tried += 1;
            }
        }
        assert!(tried > 500_000, "{tried}");
    }

    #[test]
    fn the_old_digit_missed_typos_that_damm_catches() {
        // The kind of example: a 5 turned into a 0 at an even
        // weight keeps the old sum.
        let body = "202611221000052";
        let old = format!("{body}{}", legacy_check_digit(body));
        let typo = format!("202611221000002{}", legacy_check_digit(body));
        assert_eq!(
            is_legacy_valid(&old),
            is_legacy_valid(&typo),
            "the old scheme cannot tell {old} from {typo}"
        );
        let new = format!("{body}{}", check_digit(body));
        let new_typo = format!("202611221000002{}", check_digit(body));
        assert!(is_valid(&new) && !is_valid(&new_typo));
    }

    #[test]
    fn known_damm_values() {
        // Wikipedia's worked example: 572 → check digit 4.
        assert_eq!(check_digit("572"), 4);
        assert!(!is_valid("5724"), "too short to be a ticket number");
        assert_eq!(legacy_check_digit("202611221000001"), 7);
    }

    #[test]
    fn serial_is_a_bijection_and_not_the_counter() {
        let key = b"0123456789abcdef";
        let mut seen = vec![false; 100_000];
        let mut in_place = 0;
        for counter in 1..=100_000u64 {
            let s = serial(key, "20261201", counter);
            assert_eq!(s.width, 5);
            assert!(!seen[s.value as usize], "serial {} twice", s.value);
            seen[s.value as usize] = true;
            if s.value == counter - 1 {
                in_place += 1;
            }
        }
        assert!(in_place < 10, "{in_place} counters map to themselves");
        // Consecutive tickets do not get consecutive serials.
        let a = serial(key, "20261201", 1).value;
        let b = serial(key, "20261201", 2).value;
        assert_ne!(a.abs_diff(b), 1);
        // Another day, another order; another key, another order.
        assert_ne!(serial(key, "20261202", 1), serial(key, "20261201", 1));
        assert_ne!(serial(b"other", "20261201", 1), serial(key, "20261201", 1));
        // The 100 001st ticket of a day widens.
        assert_eq!(serial(key, "20261201", 100_001).width, 6);
    }
}
