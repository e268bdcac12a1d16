//! `postdesk check [--connect]`: configuration, templates, rules folder,
//! storage (writable by this user: `storage_check`); with --connect, logs
//! in to every IMAP mailbox and the relay. Exit 78 (EX_CONFIG) when the
//! configuration itself is wrong, 1 when something else is.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use postdesk::config::{Config, TlsMode};
use postdesk::notify::Templates;
use postdesk::rules::RuleSet;
use postdesk::store::{Store, StoreError};

use super::exit::{CONFIG, UNAVAILABLE};
use super::{storage_check, Cli};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Also log in to each IMAP mailbox and to the SMTP relay.
    #[arg(long)]
    pub connect: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Item {
    check: String,
    ok: bool,
    /// Worth the operator's attention, but no reason to refuse to start
    /// (`check` runs before the daemon in the systemd unit).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    warning: bool,
    detail: String,
}

impl Item {
    fn warn(check: &str, detail: String) -> Item {
        Item {
            check: check.into(),
            ok: true,
            warning: true,
            detail,
        }
    }
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Item>,
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "::1"
}

/// Every rule file must load (each problem is its own line, with file,
/// line, rule and reason), and every auto-reply template a rule names must
/// exist; the folder may be empty. A rule naming a queue the configuration
/// lacks is a warning.
fn check_rules(config: &Config, items: &mut Vec<Item>) {
    let dir = &config.rules_dir;
    let item = |ok: bool, detail: String| Item {
        warning: false,
        check: "rules".into(),
        ok,
        detail,
    };
    match RuleSet::load(dir) {
        Ok(set) => {
            items.push(item(
                true,
                format!(
                    "{}: {} rule(s) in {} file(s)",
                    dir.display(),
                    set.rules.len(),
                    set.files.len()
                ),
            ));
            for e in set.unknown_queues(config.queues.iter().map(|q| q.name.as_str())) {
                items.push(Item::warn("rules", e.to_string()));
            }
            for e in set.unknown_states(&config.lifecycle) {
                items.push(Item::warn("rules", e.to_string()));
            }
            // An auto-reply template no language has is an error (when the
            // templates themselves do not load, that is reported above and
            // the names are checked against the shipped ones).
            let loaded = Templates::load(&config.templates_dir, &config.system.default_language);
            let templates = loaded.as_ref().unwrap_or(postdesk::notify::shipped());
            for e in set.unknown_templates(|n| postdesk::reload::template_exists(templates, n)) {
                items.push(item(false, e.to_string()));
            }
        }
        Err(errors) => items.extend(errors.iter().map(|e| item(false, e.to_string()))),
    }
}

/// States tickets hold that `[lifecycle]` no longer lists: a warning (the
/// tickets stay readable; a customer's reply reopens them).
fn check_states(config: &Config, items: &mut Vec<Item>) {
    let held = super::open_store_read_only(config)
        .and_then(|mut s| Ok(postdesk::store::lifecycle::states_in_use(s.conn())?));
    match held {
        Ok(held) => {
            for (state, n) in held
                .iter()
                .filter(|(s, _)| config.lifecycle.get(s).is_none())
            {
                items.push(Item::warn(
                    "lifecycle",
                    format!(
                        "{n} ticket(s) are in state {state:?}, which [lifecycle] no longer lists: \
                         they stay readable and a customer's reply reopens them"
                    ),
                ));
            }
        }
        Err(e) => items.push(Item::warn("lifecycle", format!("{e:#}"))),
    }
}

/// Notifications that will not be sent (refused by the relay, too old, or
/// their template failed): a warning naming the latest, not a failure.
fn check_outbox(config: &Config, items: &mut Vec<Item>) {
    let failed = super::open_store_read_only(config)
        .and_then(|mut s| Ok(postdesk::store::views::failed_mail(s.conn(), 3)?));
    match failed {
        Ok(rows) if rows.is_empty() => {}
        Ok(rows) => {
            for f in rows {
                items.push(Item::warn(
                    "outbox",
                    format!(
                        "mail {} ({} to {}, ticket {}) failed: {} (see `postdesk status`)",
                        f.id,
                        f.kind,
                        f.recipients,
                        f.ticket.as_deref().unwrap_or("-"),
                        f.error
                    ),
                ));
            }
        }
        Err(e) => items.push(Item::warn("outbox", format!("{e:#}"))),
    }
}

/// OAuth2 accounts without usable tokens, or whose refresh token nears its
/// lapse: a warning saying what to run (the daemon starts, and retries).
fn check_oauth(config: &Config, items: &mut Vec<Item>) {
    for o in config.oauth_accounts() {
        match postdesk::oauth::status(o) {
            Ok(s) if s.reauthorise.is_some() => items.push(Item::warn(
                "oauth",
                format!(
                    "{}: {}: run `postdesk oauth login {}`",
                    o.account,
                    s.reauthorise.unwrap_or_default(),
                    o.account
                ),
            )),
            Ok(s) if s.lapsing => items.push(Item::warn(
                "oauth",
                format!(
                    "{}: the refresh token is {} days old and lapses after {} days: run `postdesk oauth login {}`",
                    o.account,
                    s.refresh_token_age_secs.unwrap_or(0) / 86_400,
                    o.refresh_token_max_age.as_secs() / 86_400,
                    o.account
                ),
            )),
            Ok(_) => {}
            Err(e) => items.push(Item::warn("oauth", format!("{}: {e:#}", o.account))),
        }
    }
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let mut items = Vec::new();
    let config = match super::load_config(&cli.config) {
        Ok(c) => {
            items.push(Item {
                warning: false,
                check: "config".into(),
                ok: true,
                detail: format!(
                    "{}: {} mailbox(es), {} queue(s)",
                    cli.config.display(),
                    c.mailboxes.len(),
                    c.queues.len()
                ),
            });
            Some(c)
        }
        Err(e) => {
            items.push(Item {
                warning: false,
                check: "config".into(),
                ok: false,
                detail: format!("{e:#}").trim_end().to_string(),
            });
            None
        }
    };
    if let Some(config) = &config {
        match Templates::load(&config.templates_dir, &config.system.default_language) {
            Ok(t) => {
                items.push(Item {
                    warning: false,
                    check: "templates".into(),
                    ok: true,
                    detail: format!(
                        "{}: languages {}",
                        config.templates_dir.display(),
                        t.languages().join(", ")
                    ),
                });
                for w in t.warnings() {
                    items.push(Item::warn("templates", w.clone()));
                }
            }
            Err(e) => items.push(Item {
                warning: false,
                check: "templates".into(),
                ok: false,
                detail: e.to_string(),
            }),
        }
        check_rules(config, &mut items);
        for v in [
            storage_check::database(&config.storage.database),
            storage_check::data_dir(&config.storage.data_dir),
        ] {
            items.push(Item {
                warning: false,
                check: v.check.into(),
                ok: v.ok,
                detail: v.detail,
            });
        }
        for w in &config.warnings {
            items.push(Item::warn("config", w.clone()));
        }
        let db = &config.storage.database;
        if db.exists() {
            // Read-only: `check` runs before the daemon starts and must not
            // migrate; an older schema is fine, the daemon migrates it.
            // The outbox is read only from a database at this version: an
            // older one is told to the operator once, by the schema line.
            let opened = Store::open_read_only(db);
            let current = opened.is_ok();
            let (ok, detail) = match opened {
                Ok(s) => (
                    true,
                    format!(
                        "{} schema version {}",
                        db.display(),
                        s.schema_version().unwrap_or_default()
                    ),
                ),
                Err(StoreError::TooOld { found, known, .. }) => (
                    true,
                    format!(
                        "{} has schema version {found}; the daemon migrates it to {known} when it starts (or run `postdesk db migrate`)",
                        db.display()
                    ),
                ),
                Err(e) => (false, format!("{:#}", storage_check::explain_denied(e.into()))),
            };
            items.push(Item {
                warning: false,
                check: "schema".into(),
                ok,
                detail,
            });
            if current {
                check_outbox(config, &mut items);
                check_states(config, &mut items);
            }
        }
        check_oauth(config, &mut items);
        for m in &config.mailboxes {
            if let Some(imap) = &m.imap {
                if imap.tls == TlsMode::None && !loopback(&imap.host) {
                    items.push(Item {
                        warning: false,
                        check: format!("mailbox {}", m.name),
                        ok: false,
                        detail: format!("tls = \"none\" to {}: the password would travel in clear; use implicit or starttls", imap.host),
                    });
                }
            }
        }
        if config.smtp.tls == TlsMode::None
            && !loopback(&config.smtp.host)
            && config.smtp.credentials.is_some()
        {
            items.push(Item {
                warning: false,
                check: "smtp".into(),
                ok: false,
                detail:
                    "tls = \"none\" with credentials to a remote relay: use starttls or implicit"
                        .into(),
            });
        }
    }
    // Everything before this point is configuration; the rest is reaching servers.
    let local = items.len();
    if let Some(config) = &config {
        if args.connect {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                for m in &config.mailboxes {
                    let Some(imap) = &m.imap else { continue };
                    let r = async {
                        let mut s = postdesk::intake::connect(imap).await?;
                        let mb = s
                            .select(&m.folder)
                            .await
                            .map_err(|e| anyhow::anyhow!("selecting {:?}: {e}", m.folder))?;
                        // Keywords we set must be storable for good.
                        use async_imap::types::Flag;
                        let any_keyword = mb.permanent_flags.iter().any(|f| matches!(f, Flag::MayCreate));
                        let mut wanted: Vec<String> =
                            vec![postdesk::intake::mailbox::QUARANTINE_FLAG.to_string()];
                        if m.after == postdesk::config::AfterAction::Flag {
                            wanted.extend(m.flags.iter().filter(|f| !f.starts_with('\\')).cloned());
                        }
                        for k in &wanted {
                            let listed = mb
                                .permanent_flags
                                .iter()
                                .any(|f| matches!(f, Flag::Custom(c) if c.as_ref() == k.as_str()));
                            if !any_keyword && !listed {
                                anyhow::bail!(
                                    "the server does not keep the keyword {k} in {:?} (PERMANENTFLAGS): choose another after action or flags",
                                    m.folder
                                );
                            }
                        }
                        s.logout().await.ok();
                        anyhow::Ok(mb.exists)
                    }
                    .await;
                    items.push(match r {
                        Ok(n) => Item {
                            warning: false,
                            check: format!("imap {}", m.name),
                            ok: true,
                            detail: format!(
                                "logged in to {}:{}, {} holds {n} message(s)",
                                imap.host, imap.port, m.folder
                            ),
                        },
                        Err(e) => Item {
                            warning: false,
                            check: format!("imap {}", m.name),
                            ok: false,
                            detail: format!("{e:#}"),
                        },
                    });
                }
                let r = postdesk::outbox::test_connection(config).await;
                items.push(Item {
                    warning: false,
                    check: "smtp".into(),
                    ok: r.is_ok(),
                    detail: match r {
                        Ok(()) => format!("{}:{} answers", config.smtp.host, config.smtp.port),
                        Err(e) => format!("{e:#}"),
                    },
                });
            });
        }
    }
    let local_ok = items[..local].iter().all(|i| i.ok);
    let ok = local_ok && items[local..].iter().all(|i| i.ok);
    let mut out = super::output::stdout();
    if args.json {
        out.json(&Report { ok, checks: items })?;
    } else {
        for i in &items {
            writeln!(
                out,
                "{} {:<16} {}",
                match (i.ok, i.warning) {
                    (false, _) => "FAIL",
                    (true, true) => "warn",
                    (true, false) => "ok  ",
                },
                i.check,
                i.detail
            )?;
        }
    }
    Ok(if !local_ok {
        ExitCode::from(CONFIG)
    } else if !ok {
        ExitCode::from(UNAVAILABLE)
    } else {
        ExitCode::SUCCESS
    })
}
