//! Checks for `[http]` (the health and metrics listener) and `[health]`
//! (when `/healthz` turns 503). The listener is off unless `listen` is
//! set; a bare port means loopback, and any other address gets a warning,
//! since the pages name mailboxes and errors.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::raw::{RawHealth, RawHttp};
use super::Ops;

pub(super) fn check(
    http: RawHttp,
    health: RawHealth,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Ops {
    let listen = http.listen.and_then(|l| match parse_listen(&l) {
        Ok(addr) => {
            if !addr.ip().is_loopback() {
                warnings.push(format!(
                    "http.listen: {addr} is reachable from other hosts; /healthz and /metrics name mailboxes and errors, keep them behind a firewall or use 127.0.0.1"
                ));
            }
            Some(addr)
        }
        Err(why) => {
            problems.push(format!("http.listen: {why}"));
            None
        }
    });
    for (key, v) in [
        ("health.max_fetch_age_secs", health.max_fetch_age_secs),
        ("health.max_outbox_age_secs", health.max_outbox_age_secs),
    ] {
        if v == 0 {
            problems.push(format!("{key}: must be at least 1 (seconds)"));
        }
    }
    Ops {
        listen,
        max_fetch_age: Duration::from_secs(health.max_fetch_age_secs),
        max_outbox_age: Duration::from_secs(health.max_outbox_age_secs),
    }
}

/// `host:port` (IP address, `[v6]:port`) or a bare port on 127.0.0.1.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    text.parse::<SocketAddr>().map_err(|_| {
        format!("{text:?} is not an address to listen on; expected IP:PORT such as \"127.0.0.1:9187\" or \"[::1]:9187\", or a bare port for 127.0.0.1")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_listen(text: &str, expected: Option<&str>) {
        assert_eq!(
            parse_listen(text).ok(),
            expected.map(|e| e.parse().unwrap()),
            "{text}"
        );
    }

    #[test]
    fn listen_addresses() {
        check_listen("9187", Some("127.0.0.1:9187"));
        check_listen("127.0.0.1:9187", Some("127.0.0.1:9187"));
        check_listen("[::1]:9187", Some("[::1]:9187"));
        check_listen("0.0.0.0:80", Some("0.0.0.0:80"));
        check_listen("localhost:9187", None);
        check_listen("99999", None);
        check_listen("", None);
    }

    #[test]
    fn a_listener_open_to_other_hosts_is_warned_about() {
        let (mut problems, mut warnings) = (Vec::new(), Vec::new());
        let ops = check(
            RawHttp {
                listen: Some("0.0.0.0:9187".into()),
            },
            RawHealth::default(),
            &mut problems,
            &mut warnings,
        );
        assert!(problems.is_empty());
        assert_eq!(ops.listen, Some("0.0.0.0:9187".parse().unwrap()));
        assert!(warnings[0].starts_with("http.listen:"), "{warnings:?}");
    }
}
