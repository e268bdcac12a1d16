//! The checking layer: a raw configuration becomes the checked [`Config`],
//! every problem collected with its key.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{
    default_after, default_batch, default_flags, default_folder, default_imap_tls, default_poll,
    RawConfig,
};
use super::secret::secret;
use super::*;

/// Keys whose checks allow less than their type does: the key (indices
/// left out), least and greatest value. Both the type error for such a key
/// (`diagnostics`) and its check below give this range.
const RANGES: [(&str, u64, u64); 8] = [
    ("storage.cache_mib", 1, 4096),
    ("system.system_id", 0, 99),
    ("system.max_message_bytes", 1024, MAX_MESSAGE_BYTES),
    ("smtp.port", 1, u16::MAX as u64),
    ("smtp.max_connections", 1, u32::MAX as u64),
    ("mailbox.port", 1, u16::MAX as u64),
    ("mailbox.batch_size", 1, 10_000),
    ("mailbox.poll_interval_secs", 1, 3600),
];

/// The range `key` (`mailbox[0].batch_size`) allows, when narrower than
/// its type's.
pub(super) fn range_of(key: &str) -> Option<(u64, u64)> {
    let mut bare = String::new();
    let mut depth = 0;
    for c in key.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if depth == 0 => bare.push(c),
            _ => {}
        }
    }
    RANGES
        .iter()
        .find(|(k, _, _)| *k == bare)
        .map(|&(_, lo, hi)| (lo, hi))
}

/// The message for a number outside its range.
pub(super) fn out_of_range(value: impl std::fmt::Display, lo: u64, hi: u64) -> String {
    format!("{value} is out of range; expected {lo} to {hi}")
}

/// A problem when `value` lies outside `key`'s range in [`RANGES`].
fn check_range(key: &str, value: u64, problems: &mut Vec<String>) {
    if let Some((lo, hi)) = range_of(key) {
        if !(lo..=hi).contains(&value) {
            problems.push(format!("{key}: {}", out_of_range(value, lo, hi)));
        }
    }
}

pub(super) fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// An address lettre can write into a mail (one address, no display name,
/// no list), without control characters or whitespace.
pub fn valid_address(a: &str) -> bool {
    !a.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ',')
        && a.parse::<lettre::Address>().is_ok()
}

/// The levels a `log.level` directive may name.
const LEVELS: &str = "trace, debug, info, warn, error, off";

/// Why `level` is not a usable log filter, if it is not. tracing's
/// `EnvFilter` takes a bare word as a target name, so `"debg"` would be a
/// valid filter that logs nothing, errors included: each directive must be
/// `LEVEL` or `TARGET=LEVEL` with a known level. Also used for `RUST_LOG`.
pub fn log_level_problem(level: &str) -> Option<String> {
    use std::str::FromStr;
    use tracing_subscriber::filter::LevelFilter;
    for directive in level.split(',').map(str::trim) {
        let named = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if directive.is_empty() || LevelFilter::from_str(named).is_err() {
            return Some(format!(
                "{directive:?} is not a log level; expected one of {LEVELS}, or TARGET=LEVEL pairs separated by commas (e.g. \"info,postdesk=debug\")"
            ));
        }
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(level) {
        return Some(format!("{level:?} is not a log filter: {e}"));
    }
    None
}

pub(super) fn check(
    raw: RawConfig,
    file: &Path,
    base: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Config, Vec<String>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let s = raw.system;
    if s.fqdn.is_empty()
        || !s
            .fqdn
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        problems.push(format!(
            "system.fqdn: {:?} is not a host name (letters, digits, '.', '-')",
            s.fqdn
        ));
    }
    if s.ticket_tag.is_empty()
        || s.ticket_tag
            .chars()
            .any(|c| c.is_control() || c == '[' || c == ']')
    {
        problems.push(format!(
            "system.ticket_tag: {:?} must be non-empty, without brackets or control characters",
            s.ticket_tag
        ));
    }
    check_range("system.system_id", s.system_id.into(), &mut problems);
    check_range(
        "storage.cache_mib",
        raw.storage.cache_mib.into(),
        &mut problems,
    );
    check_range(
        "system.max_message_bytes",
        s.max_message_bytes,
        &mut problems,
    );
    for (i, a) in s.own_addresses.iter().enumerate() {
        if !valid_address(a) {
            problems.push(format!(
                "system.own_addresses[{i}]: {a:?} is not an e-mail address"
            ));
        }
    }

    if let Some(level) = &raw.log.level {
        if let Some(why) = log_level_problem(level) {
            problems.push(format!("log.level: {why}"));
        }
    }
    let templates_dir = absolute(
        base,
        &raw.paths
            .templates
            .unwrap_or_else(|| PathBuf::from("mail-templates")),
    );
    let rules_dir = absolute(
        base,
        &raw.paths.rules.unwrap_or_else(|| PathBuf::from("rules")),
    );

    let data_dir = absolute(base, &raw.storage.data_dir);
    let ocx = super::oauth::Ctx {
        base,
        data_dir: &data_dir,
        env,
    };
    let sm = raw.smtp;
    let given = [
        sm.password.is_some(),
        sm.password_file.is_some(),
        sm.password_env.is_some(),
    ];
    let smtp_auth = super::oauth::smtp(
        sm.auth,
        sm.oauth2,
        sm.username.is_some(),
        given,
        &ocx,
        &mut problems,
    );
    let smtp_oauth_wanted = sm.auth == Some(super::oauth::AuthKind::Oauth2);
    let before = problems.len();
    let smtp_pass = secret(
        "smtp",
        sm.password,
        sm.password_file,
        sm.password_env,
        base,
        env,
        &mut problems,
    );
    let credentials = match (sm.username, smtp_pass) {
        (Some(u), Some(p)) => Some((u, p)),
        (Some(u), None) if smtp_oauth_wanted => Some((u, String::new())),
        (Some(_), None) => {
            if problems.len() == before {
                problems.push(
                    "smtp.username: set, but no password: set password_file (recommended), password_env or password".into(),
                );
            }
            None
        }
        (None, Some(_)) => {
            problems.push("smtp.username: required when a password is set".into());
            None
        }
        (None, None) => None,
    };
    if sm.host.is_empty() {
        problems.push("smtp.host: must not be empty".into());
    }
    if let Some(port) = sm.port {
        check_range("smtp.port", port.into(), &mut problems);
    }
    check_range(
        "smtp.max_connections",
        sm.max_connections.into(),
        &mut problems,
    );
    let mut smtp = Smtp {
        port: sm.port.unwrap_or(match sm.tls {
            TlsMode::Implicit => 465,
            TlsMode::Starttls => 587,
            TlsMode::None => 25,
        }),
        host: sm.host,
        tls: sm.tls,
        credentials,
        oauth2: smtp_auth.own,
        ca_file: sm.ca_file.map(|p| absolute(base, &p)),
        timeout: Duration::from_secs(sm.timeout_secs.max(1)),
        max_connections: sm.max_connections,
        retry_max: Duration::from_secs(sm.retry_max_secs.max(1)),
        give_up_after: Duration::from_secs(sm.give_up_after_hours.max(1) * 3600),
        dkim: sm
            .dkim
            .and_then(|d| super::dkim::check(d, base, &mut problems)),
    };

    let priority = match &raw.priority.matrix {
        None => crate::tickets::priority::Matrix::default(),
        Some(rows) => crate::tickets::priority::Matrix::from_rows(rows).unwrap_or_else(|why| {
            problems.push(format!("priority.matrix: {why}"));
            crate::tickets::priority::Matrix::default()
        }),
    };

    let mut queues = Vec::new();
    let mut names = HashSet::new();
    let queue_names: Vec<String> = raw.queue.iter().map(|q| q.name.clone()).collect();
    for (i, q) in raw.queue.into_iter().enumerate() {
        if q.name.trim().is_empty() {
            problems.push(format!("queue[{i}].name: must not be empty"));
        }
        if !names.insert(q.name.clone()) {
            problems.push(format!("queue[{i}].name: {:?} is defined twice", q.name));
        }
        if let Some(a) = &q.agents_address {
            if !valid_address(a) {
                problems.push(format!(
                    "queue[{i}].agents_address: {a:?} is not an e-mail address"
                ));
            }
        }
        queues.push(Queue {
            name: q.name,
            agents_address: q.agents_address,
            notify_agents_on_new: q.notify_agents_on_new,
            notify_agents_on_follow_up: q.notify_agents_on_follow_up,
            assign_on_agent_reply: q.assign_on_agent_reply,
            forward_auto_reply: q.forward_auto_reply,
        });
    }

    let mut mailboxes = Vec::new();
    let mut mnames = HashSet::new();
    let mut addresses: Vec<String> = Vec::new();
    for (i, m) in raw.mailbox.into_iter().enumerate() {
        let key = format!("mailbox[{i}]");
        if m.name.trim().is_empty() || m.name.chars().any(|c| c.is_control()) {
            problems.push(format!("{key}.name: must be a non-empty printable name"));
        }
        if !mnames.insert(m.name.clone()) {
            problems.push(format!("{key}.name: {:?} is used twice", m.name));
        }
        if !valid_address(&m.address) {
            problems.push(format!(
                "{key}.address: {:?} is not an e-mail address",
                m.address
            ));
        }
        if !names.contains(&m.queue) {
            problems.push(format!(
                "{key}.queue: no [[queue]] is named {:?} (define it or fix the name{})",
                m.queue,
                queue_names_set_by_env(env, &queue_names)
            ));
        }
        // The IMAP keys mean nothing to a pipe-only mailbox: not required
        // there, and a warning if set.
        let pipe_only = m.host.is_none() && m.username.is_none();
        if pipe_only {
            let set: Vec<&str> = [
                ("port", m.port.is_some()),
                ("tls", m.tls.is_some()),
                ("password", m.password.is_some()),
                ("password_file", m.password_file.is_some()),
                ("password_env", m.password_env.is_some()),
                ("auth", m.auth.is_some()),
                ("oauth2", m.oauth2.is_some()),
                ("ca_file", m.ca_file.is_some()),
                ("folder", m.folder.is_some()),
                ("after", m.after.is_some()),
                ("move_to", m.move_to.is_some()),
                ("flags", m.flags.is_some()),
                ("poll_interval_secs", m.poll_interval_secs.is_some()),
                ("idle", m.idle.is_some()),
                ("batch_size", m.batch_size.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, set)| set.then_some(k))
            .collect();
            if !set.is_empty() {
                warnings.push(format!(
                    "{key}: {} ignored: this mailbox has no IMAP host (pipe-only)",
                    set.join(", ")
                ));
            }
        }
        let tls = m.tls.unwrap_or_else(default_imap_tls);
        let batch_size = m.batch_size.unwrap_or_else(default_batch);
        let poll_interval_secs = m.poll_interval_secs.unwrap_or_else(default_poll);
        let after = m.after.unwrap_or_else(default_after);
        let flags = m.flags.clone().unwrap_or_else(default_flags);
        if !pipe_only
            && after == AfterAction::Move
            && m.move_to.as_deref().map(str::trim).unwrap_or("").is_empty()
        {
            problems.push(format!(
                "{key}.move_to: required when after = \"move\" (e.g. \"Processed\")"
            ));
        }
        if !pipe_only && after == AfterAction::Flag && flags.is_empty() {
            problems.push(format!("{key}.flags: required when after = \"flag\""));
        }
        for (j, f) in flags.iter().enumerate() {
            if f.is_empty()
                || f.chars()
                    .any(|c| c.is_whitespace() || "(){%*\"]".contains(c))
            {
                problems.push(format!("{key}.flags[{j}]: {f:?} is not an IMAP flag"));
            }
        }
        if let Some(port) = m.port {
            check_range(&format!("{key}.port"), port.into(), &mut problems);
        }
        check_range(
            &format!("{key}.batch_size"),
            batch_size.into(),
            &mut problems,
        );
        check_range(
            &format!("{key}.poll_interval_secs"),
            poll_interval_secs,
            &mut problems,
        );
        if let Some(j) = addresses
            .iter()
            .position(|a: &String| a.eq_ignore_ascii_case(&m.address))
        {
            problems.push(format!(
                "{key}.address: {:?} is already the address of mailbox[{j}]",
                m.address
            ));
        }
        addresses.push(m.address.clone());
        let before = problems.len();
        let oauth2 = if pipe_only {
            None
        } else {
            super::oauth::mailbox(&key, &m, &ocx, &mut problems)
        };
        let password = if pipe_only || oauth2.is_some() {
            None // ignored, as warned above
        } else {
            secret(
                &key,
                m.password,
                m.password_file,
                m.password_env,
                base,
                env,
                &mut problems,
            )
        };
        let imap = match (m.host, m.username) {
            (Some(host), Some(username)) => {
                if password.is_none() && oauth2.is_none() && problems.len() == before {
                    problems.push(format!(
                        "{key}: no password: set password_file (recommended) or password_env"
                    ));
                }
                Some(Imap {
                    port: m.port.unwrap_or(match tls {
                        TlsMode::Implicit => 993,
                        _ => 143,
                    }),
                    host,
                    tls,
                    username,
                    password: password.unwrap_or_default(),
                    oauth2,
                    ca_file: m.ca_file.map(|p| absolute(base, &p)),
                })
            }
            (Some(_), None) => {
                problems.push(format!("{key}.username: required when host is set"));
                None
            }
            (None, Some(_)) => {
                problems.push(format!(
                    "{key}.host: required when username is set (omit both for a pipe-only mailbox)"
                ));
                None
            }
            (None, None) => None,
        };
        mailboxes.push(Mailbox {
            name: m.name,
            address: m.address.to_lowercase(),
            display_name: m.display_name,
            queue: m.queue,
            language: m.language,
            list_policy: m.list_policy,
            imap,
            folder: m.folder.unwrap_or_else(default_folder),
            after,
            move_to: m.move_to,
            flags,
            poll_interval: Duration::from_secs(poll_interval_secs.max(1)),
            idle: m.idle.unwrap_or(true),
            batch_size,
        });
    }
    if queues.is_empty() {
        problems.push("queue: define at least one [[queue]]".into());
    }
    super::oauth::one_account_per_file(&smtp, &mailboxes, &mut problems);
    if let Some(name) = smtp_auth.shares {
        smtp.oauth2 =
            super::oauth::share(&name, smtp_auth.mechanism, &mut mailboxes, &mut problems);
    }

    let ops = super::ops::check(raw.http, raw.health, &mut problems, &mut warnings);
    for (key, days) in [
        (
            "retention.raw_messages_days",
            raw.retention.raw_messages_days,
        ),
        ("retention.attachments_days", raw.retention.attachments_days),
    ] {
        if days == Some(0) {
            problems.push(format!(
                "{key}: must be at least 1 (days); leave it out to keep everything"
            ));
        }
    }
    let mut authserv_id = Vec::new();
    for (i, id) in raw.auth.authserv_id.iter().enumerate() {
        let id = id.trim().to_ascii_lowercase();
        let plain = !id.is_empty()
            && id.len() <= 255
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b));
        if plain {
            authserv_id.push(id);
        } else {
            problems.push(format!(
                "auth.authserv_id[{i}]: {id:?} is not an authserv-id (a host name such as \"mx.example.com\", as your MTA writes it first in Authentication-Results)"
            ));
        }
    }
    let retention = super::Retention {
        raw_messages_days: raw.retention.raw_messages_days,
        attachments_days: raw.retention.attachments_days,
    };

    let loop_caps = super::caps::check(&s.loop_caps, &mut problems);
    let lifecycle_queues: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    let (lifecycle, scheduler_interval) =
        super::lifecycle::check(raw.lifecycle, &lifecycle_queues, &mut problems);

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Config {
        source: file.to_path_buf(),
        system: System {
            fqdn: s.fqdn,
            ticket_tag: s.ticket_tag,
            system_id: s.system_id,
            default_language: s.default_language,
            max_message_bytes: s.max_message_bytes,
            auto_reply_limit_per_hour: s.auto_reply_limit_per_hour,
            own_addresses: s.own_addresses,
            agent_alert_limit_per_ticket_per_hour: s.agent_alert_limit_per_ticket_per_hour,
            agent_alert_limit_per_sender_per_hour: s.agent_alert_limit_per_sender_per_hour,
            stranger_follow_up: s.stranger_follow_up,
            loop_caps,
        },
        storage: Storage {
            database: absolute(base, &raw.storage.database),
            data_dir,
            cache_mib: raw.storage.cache_mib,
        },
        templates_dir,
        rules_dir,
        log: Log {
            format: raw.log.format,
            level: raw.log.level.unwrap_or_else(|| "info".into()),
        },
        smtp,
        priority,
        queues,
        mailboxes,
        ops,
        lifecycle,
        scheduler_interval,
        retention,
        auth: super::Auth { authserv_id },
        warnings,
    })
}

/// For a mailbox naming no queue: the queue names that environment
/// variables set (`; queue[0].name was set to "other" by
/// POSTDESK_QUEUE__0__NAME`), since the file then shows another name.
fn queue_names_set_by_env(env: &BTreeMap<String, String>, names: &[String]) -> String {
    use super::document::Seg;
    super::env::overrides(env)
        .iter()
        .filter_map(|o| match &o.path.0[..] {
            [Seg::Key(q), Seg::Index(i), Seg::Key(n)] if q == "queue" && n == "name" => {
                Some(format!(
                    "; queue[{i}].name was set to {:?} by {}",
                    names.get(*i)?,
                    o.var
                ))
            }
            _ => None,
        })
        .collect()
}
