//! Reading a rule's `when` table into checked [`Criterion`]s: field keys
//! with their operators, `all`/`any`/`not`, and the time zone that weekday
//! and time windows are read in. Every text test is compiled to one regex
//! here, once.

use chrono_tz::Tz;
use regex::RegexBuilder;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::criteria::{Criterion, Op, SizeTest, TextField, TextTest, DAYS};
use super::message::Class;
use super::read::{in_file_order, integer, join, Reader};

/// Keys a `when` table takes besides the text fields.
const OTHER_KEYS: [&str; 9] = [
    "all",
    "any",
    "not",
    "class",
    "ticket",
    "attachments",
    "size",
    "weekday",
    "time",
];

fn known_keys() -> Vec<&'static str> {
    TextField::KEYS.iter().chain(&OTHER_KEYS).copied().collect()
}

/// The top-level criteria of `when` (all must hold), each with how it
/// reads in a trace.
pub(crate) fn parse(r: &mut Reader, t: &DeTable, at: &str, tz: Tz) -> Vec<(String, Criterion)> {
    criteria(r, t, at, tz)
        .into_iter()
        .map(|c| (c.to_string(), c))
        .collect()
}

/// Every criterion of a table, in file order.
fn criteria(r: &mut Reader, t: &DeTable, at: &str, tz: Tz) -> Vec<Criterion> {
    r.unknown_keys(t, at, &known_keys());
    in_file_order(t)
        .into_iter()
        .filter_map(|(k, v)| criterion(r, k.get_ref(), v, &join(at, k.get_ref()), tz))
        .collect()
}

/// A table's criteria as one (several are all required).
fn one_of_table(r: &mut Reader, v: &Spanned<DeValue>, at: &str, tz: Tz) -> Option<Criterion> {
    let DeValue::Table(t) = v.get_ref() else {
        r.error(v.span(), at, "expected a table of criteria");
        return None;
    };
    let mut cs = criteria(r, t, at, tz);
    match cs.len() {
        0 if t.is_empty() => {
            r.error(v.span(), at, "the table is empty");
            None
        }
        1 => cs.pop(),
        _ => Some(Criterion::All(cs)),
    }
}

fn criterion(
    r: &mut Reader,
    key: &str,
    v: &Spanned<DeValue>,
    at: &str,
    tz: Tz,
) -> Option<Criterion> {
    if let Some(field) = TextField::from_key(key) {
        return text(r, field, v, at, &["ignore_case"]);
    }
    match key {
        "header" => {
            let Some(name) = v.get_ref().as_table().and_then(|t| t.get("name")) else {
                r.error(
                    v.span(),
                    at,
                    "expected a table with the header's name, e.g. { name = \"X-Spam-Flag\", equals = \"YES\" }",
                );
                return None;
            };
            let name = r.name(name, &join(at, "name"))?;
            text(r, TextField::Header(name), v, at, &["ignore_case", "name"])
        }
        "all" | "any" => {
            let DeValue::Array(items) = v.get_ref() else {
                r.error(
                    v.span(),
                    at,
                    "expected a list of criteria tables: [ {…}, {…} ]",
                );
                return None;
            };
            if items.is_empty() {
                r.error(v.span(), at, "the list is empty");
                return None;
            }
            let cs: Vec<Option<Criterion>> = items
                .iter()
                .enumerate()
                .map(|(i, item)| one_of_table(r, item, &format!("{at}[{i}]"), tz))
                .collect();
            let cs: Vec<Criterion> = cs.into_iter().collect::<Option<_>>()?;
            Some(if key == "all" {
                Criterion::All(cs)
            } else {
                Criterion::Any(cs)
            })
        }
        "not" => one_of_table(r, v, at, tz).map(|c| Criterion::Not(Box::new(c))),
        "class" => {
            let names: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
            let picked = choices(r, v, at, &names, &[])?;
            Some(Criterion::Class(
                picked.into_iter().map(|i| Class::ALL[i]).collect(),
            ))
        }
        "ticket" => {
            let picked = choices(r, v, at, &["new", "follow_up"], &[])?;
            Some(Criterion::Ticket {
                new: picked.contains(&0),
                follow_up: picked.contains(&1),
            })
        }
        "weekday" => {
            let picked = choices(r, v, at, &DAYS, &["time_zone"])?;
            let tz = zone_of(r, v, at, tz)?;
            let days = picked.into_iter().fold(0u8, |m, d| m | 1 << d);
            Some(Criterion::Weekday { days, tz })
        }
        "time" => time(r, v, at, tz),
        "attachments" => {
            let b = match v.get_ref().as_table() {
                Some(t) => {
                    r.unknown_keys(t, at, &["equals"]);
                    let e = t.get("equals");
                    match e {
                        Some(e) => r.boolean(e, &join(at, "equals")),
                        None => {
                            r.error(v.span(), at, "expected true, false or { equals = … }");
                            None
                        }
                    }
                }
                None => r.boolean(v, at),
            }?;
            Some(Criterion::Attachments(b))
        }
        "size" => size(r, v, at),
        // Unknown keys were reported by `criteria`.
        _ => None,
    }
}

/// A text test: `"x"` (equals), `["x", "y"]` (in), or a table with one
/// operator and its options (`extra`).
fn text(
    r: &mut Reader,
    field: TextField,
    v: &Spanned<DeValue>,
    at: &str,
    extra: &[&str],
) -> Option<Criterion> {
    let (op, values, ignore_case) = match v.get_ref() {
        DeValue::String(_) => (Op::Equals, r.names(v, at)?, true),
        DeValue::Array(_) => (Op::In, r.names(v, at)?, true),
        DeValue::Table(t) => {
            let mut known: Vec<&str> = Op::ALL.iter().map(|(k, _)| *k).collect();
            known.extend(extra);
            r.unknown_keys(t, at, &known);
            let ops: Vec<_> = Op::ALL
                .iter()
                .filter_map(|(k, op)| t.get(*k).map(|val| (*k, *op, val)))
                .collect();
            let [(k, op, val)] = ops.as_slice() else {
                let ops: Vec<&str> = Op::ALL.iter().map(|(k, _)| *k).collect();
                r.error(
                    v.span(),
                    at,
                    format!("expected exactly one operator of {}", ops.join(", ")),
                );
                return None;
            };
            let path = join(at, k);
            let values = r.names(val, &path)?;
            if *op == Op::Equals && values.len() > 1 {
                r.error(
                    val.span(),
                    &path,
                    "equals takes one value; use `in` for a list",
                );
                return None;
            }
            let ignore_case = match t.get("ignore_case") {
                Some(b) => r.boolean(b, &join(at, "ignore_case"))?,
                None => true,
            };
            (*op, values, ignore_case)
        }
        other => {
            r.error(
                v.span(),
                at,
                format!(
                    "expected a string, a list, or a table such as {{ contains = \"…\" }}, found {}",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    if op == Op::Regex {
        for (i, p) in values.iter().enumerate() {
            if let Err(e) = regex::Regex::new(p) {
                let msg = e
                    .to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let span = match v.get_ref().as_table().and_then(|t| t.get("regex")) {
                    Some(val) => match val.get_ref() {
                        DeValue::Array(items) => items.get(i).map_or(val.span(), |x| x.span()),
                        _ => val.span(),
                    },
                    None => v.span(),
                };
                r.error(span, &join(at, "regex"), format!("bad regex: {msg}"));
                return None;
            }
        }
    }
    let regex = match RegexBuilder::new(&op.pattern(&values))
        .case_insensitive(ignore_case)
        .build()
    {
        Ok(re) => re,
        Err(e) => {
            r.error(v.span(), at, format!("cannot compile the test: {e}"));
            return None;
        }
    };
    Some(Criterion::Text(
        field,
        TextTest {
            op,
            values,
            ignore_case,
            regex,
        },
    ))
}

/// Indices into `allowed` named by `"a"`, `["a", "b"]`, `{ equals = "a" }`
/// or `{ in = [...] }` (tables may also hold `extra` keys).
fn choices(
    r: &mut Reader,
    v: &Spanned<DeValue>,
    at: &str,
    allowed: &[&str],
    extra: &[&str],
) -> Option<Vec<usize>> {
    let (values, path) = match v.get_ref() {
        DeValue::Table(t) => {
            let mut known = vec!["equals", "in"];
            known.extend(extra);
            r.unknown_keys(t, at, &known);
            match (t.get("equals"), t.get("in")) {
                (Some(e), None) => (
                    r.name(e, &join(at, "equals")).map(|s| vec![s])?,
                    join(at, "equals"),
                ),
                (None, Some(i)) => (r.names(i, &join(at, "in"))?, join(at, "in")),
                _ => {
                    r.error(v.span(), at, "expected exactly one of equals, in");
                    return None;
                }
            }
        }
        _ => (r.names(v, at)?, at.to_string()),
    };
    let mut picked = Vec::new();
    for value in values {
        let found = allowed
            .iter()
            .position(|a| a.eq_ignore_ascii_case(&value) || full_day(a, &value));
        match found {
            Some(i) => picked.push(i),
            None => r.error(
                v.span(),
                &path,
                format!("unknown value {value:?}; expected {}", allowed.join(", ")),
            ),
        }
    }
    (picked.len() == v_len(v)).then_some(picked)
}

/// How many values `v` names (to tell whether all were known).
fn v_len(v: &Spanned<DeValue>) -> usize {
    let v = match v.get_ref() {
        DeValue::Table(t) => match t.get("in").or_else(|| t.get("equals")) {
            Some(x) => x.get_ref(),
            None => return 0,
        },
        other => other,
    };
    match v {
        DeValue::Array(a) => a.len(),
        _ => 1,
    }
}

/// `monday` for `mon`, and so on.
fn full_day(short: &str, given: &str) -> bool {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    DAYS.iter()
        .position(|d| *d == short)
        .is_some_and(|i| FULL[i].eq_ignore_ascii_case(given))
}

/// The `time_zone` of a weekday or time table when it has one, else
/// `default`; `None` (reported) when it names no known zone.
fn zone_of(r: &mut Reader, v: &Spanned<DeValue>, at: &str, default: Tz) -> Option<Tz> {
    match v.get_ref().as_table().and_then(|t| t.get("time_zone")) {
        Some(tz) => r.time_zone(tz, &join(at, "time_zone")),
        None => Some(default),
    }
}

/// `time = { between = ["09:00", "18:00"], time_zone = "…" }`.
fn time(r: &mut Reader, v: &Spanned<DeValue>, at: &str, tz: Tz) -> Option<Criterion> {
    let Some(t) = v.get_ref().as_table() else {
        r.error(
            v.span(),
            at,
            "expected { between = [\"09:00\", \"18:00\"] }",
        );
        return None;
    };
    r.unknown_keys(t, at, &["between", "time_zone"]);
    let tz = zone_of(r, v, at, tz)?;
    let Some(between) = t.get("between") else {
        r.error(v.span(), at, "expected between = [\"09:00\", \"18:00\"]");
        return None;
    };
    let path = join(at, "between");
    let bounds = match r.names(between, &path)?.as_slice() {
        [a, b] => (minutes(a), minutes(b)),
        _ => (None, None),
    };
    match bounds {
        (Some(start), Some(end)) if start != end => Some(Criterion::Time { start, end, tz }),
        (Some(_), Some(_)) => {
            r.error(between.span(), &path, "the window is empty (start = end)");
            None
        }
        _ => {
            r.error(
                between.span(),
                &path,
                "expected two times \"HH:MM\" (00:00 to 24:00), start and end; a window may run over midnight",
            );
            None
        }
    }
}

/// "HH:MM" as minutes after midnight; "24:00" is the end of the day.
fn minutes(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0)) && s.len() == 5).then_some(h * 60 + m)
}

/// `size = 1000`, `{ equals | greater_than | less_than = bytes }`.
fn size(r: &mut Reader, v: &Spanned<DeValue>, at: &str) -> Option<Criterion> {
    let bytes = |r: &mut Reader, v: &Spanned<DeValue>, path: &str| {
        let n = integer(v.get_ref()).and_then(|n| u64::try_from(n).ok());
        if n.is_none() {
            r.error(v.span(), path, "expected a number of bytes (0 or more)");
        }
        n
    };
    let test = match v.get_ref().as_table() {
        None => SizeTest::Equals(bytes(r, v, at)?),
        Some(t) => {
            let keys = ["equals", "greater_than", "less_than"];
            r.unknown_keys(t, at, &keys);
            let given: Vec<_> = keys
                .iter()
                .filter_map(|k| t.get(*k).map(|x| (*k, x)))
                .collect();
            let [(k, x)] = given.as_slice() else {
                r.error(
                    v.span(),
                    at,
                    "expected exactly one of equals, greater_than, less_than",
                );
                return None;
            };
            let n = bytes(r, x, &join(at, k))?;
            match *k {
                "equals" => SizeTest::Equals(n),
                "greater_than" => SizeTest::GreaterThan(n),
                _ => SizeTest::LessThan(n),
            }
        }
    };
    Some(Criterion::Size(test))
}
