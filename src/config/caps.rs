//! `system.loop_caps`: how much automatic mail one address, or one ticket,
//! may receive over each window (`"10/10m"`: at most 10 in 10 minutes).
//! Read here into [`LoopCap`]s; processing counts against them.

/// The caps when the file sets none: 10 in 10 minutes, 25 in an hour, 40
/// in a day.
pub const DEFAULT: [&str; 3] = ["10/10m", "25/1h", "40/1d"];

/// At most `max` automatic mails within `window_secs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopCap {
    pub max: u32,
    pub window_secs: i64,
    /// As the file wrote it, for messages (`10/10m`).
    pub text: String,
}

/// Read every cap; each bad one adds a problem naming it.
pub(super) fn check(raw: &[String], problems: &mut Vec<String>) -> Vec<LoopCap> {
    let mut caps = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        match parse(text) {
            Ok(c) => caps.push(c),
            Err(why) => problems.push(format!(
                "system.loop_caps[{i}]: {text:?}: {why}; write COUNT/WINDOW such as \"10/10m\", \"25/1h\" or \"40/1d\""
            )),
        }
    }
    caps
}

fn parse(text: &str) -> Result<LoopCap, String> {
    let (max, window) = text
        .trim()
        .split_once('/')
        .ok_or("no '/' between count and window")?;
    let max: u32 = max
        .trim()
        .parse()
        .map_err(|_| format!("count {:?} is not a whole number", max.trim()))?;
    if max == 0 {
        return Err("a count of 0 would stop every auto-reply".into());
    }
    let window = window.trim();
    let unit = window.chars().last().ok_or("no window")?;
    let per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("window {window:?} must end in s, m, h or d")),
    };
    let n: i64 = window[..window.len() - 1]
        .parse()
        .map_err(|_| format!("window {window:?} is not a number and a unit"))?;
    if !(1..=366 * 86_400).contains(&(n * per)) {
        return Err(format!("window {window:?} must be 1 s to 366 d"));
    }
    Ok(LoopCap {
        max,
        window_secs: n * per,
        text: text.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_one(text: &str, expected: Result<(u32, i64), &str>) {
        match (parse(text), expected) {
            (Ok(c), Ok((max, secs))) => assert_eq!((c.max, c.window_secs), (max, secs), "{text}"),
            (Err(e), Err(part)) => assert!(e.contains(part), "{text}: {e}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn caps_read_count_and_window() {
        check_one("10/10m", Ok((10, 600)));
        check_one(" 25 / 1h ", Ok((25, 3600)));
        check_one("40/1d", Ok((40, 86_400)));
        check_one("5/30s", Ok((5, 30)));
        check_one("10", Err("no '/'"));
        check_one("0/1h", Err("count of 0"));
        check_one("x/1h", Err("not a whole number"));
        check_one("10/1w", Err("must end in"));
        check_one("10/h", Err("not a number"));
        check_one("10/0m", Err("1 s to 366 d"));
        let mut problems = Vec::new();
        let caps = check(&["10/10m".into(), "bad".into()], &mut problems);
        assert_eq!(caps.len(), 1);
        assert!(
            problems[0].starts_with("system.loop_caps[1]"),
            "{problems:?}"
        );
        let caps = check(
            &DEFAULT.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &mut problems,
        );
        assert_eq!(caps.len(), 3);
    }
}
