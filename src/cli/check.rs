//! `postdesk check [--connect]`: configuration, templates, rules folder,
//! storage; with --connect, logs in to every IMAP mailbox and the relay.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use postdesk::config::{Config, TlsMode};
use postdesk::notify::Templates;
use postdesk::store::{Store, StoreError};

use super::exit::{CONFIG, UNAVAILABLE};
use super::Cli;

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
    detail: String,
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Item>,
}

fn writable(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path; access() only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "::1"
}

/// Every rule file must be readable TOML; the folder may be empty.
fn check_rules(config: &Config, items: &mut Vec<Item>) {
    let dir = &config.rules_dir;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            items.push(Item {
                check: "rules".into(),
                ok: false,
                detail: format!(
                    "{}: {e} (create the folder, it may stay empty)",
                    dir.display()
                ),
            });
            return;
        }
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut ok = true;
    let mut detail = Vec::new();
    for f in &files {
        match std::fs::read_to_string(f) {
            Ok(text) => {
                if let Err(e) = text.parse::<toml::Table>() {
                    ok = false;
                    detail.push(format!("{}: {e}", f.display()));
                }
            }
            Err(e) => {
                ok = false;
                detail.push(format!("{}: unreadable: {e}", f.display()));
            }
        }
    }
    items.push(Item {
        check: "rules".into(),
        ok,
        detail: if detail.is_empty() {
            format!("{}: {} rule file(s) readable", dir.display(), files.len())
        } else {
            detail.join("; ")
        },
    });
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<ExitCode> {
    let mut items = Vec::new();
    let config = match super::load_config(&cli.config) {
        Ok(c) => {
            items.push(Item {
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
                check: "config".into(),
                ok: false,
                detail: format!("{e:#}"),
            });
            None
        }
    };
    if let Some(config) = &config {
        match Templates::load(&config.templates_dir, &config.system.default_language) {
            Ok(t) => items.push(Item {
                check: "templates".into(),
                ok: true,
                detail: format!(
                    "{}: languages {}",
                    config.templates_dir.display(),
                    t.languages().join(", ")
                ),
            }),
            Err(e) => items.push(Item {
                check: "templates".into(),
                ok: false,
                detail: e.to_string(),
            }),
        }
        check_rules(config, &mut items);
        let db = &config.storage.database;
        let (ok, detail) = if db.exists() {
            // Read-only: `check` runs before the daemon starts and must not
            // migrate; an older schema is fine, the daemon migrates it.
            match Store::open_read_only(db) {
                Ok(s) => (
                    true,
                    format!(
                        "{} exists, schema version {}",
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
                Err(e) => (false, e.to_string()),
            }
        } else {
            // Created at first start, with any missing folders.
            let mut anc = db.parent();
            while let Some(a) = anc {
                if a.exists() {
                    break;
                }
                anc = a.parent();
            }
            match anc {
                Some(a) if writable(a) => (
                    true,
                    format!("{} will be created at first start", db.display()),
                ),
                Some(a) => (
                    false,
                    format!(
                        "{} cannot be created: {} is not writable by this user",
                        db.display(),
                        a.display()
                    ),
                ),
                None => (
                    false,
                    format!("{}: no existing parent folder", db.display()),
                ),
            }
        };
        items.push(Item {
            check: "database".into(),
            ok,
            detail,
        });
        for m in &config.mailboxes {
            if let Some(imap) = &m.imap {
                if imap.tls == TlsMode::None && !loopback(&imap.host) {
                    items.push(Item {
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
                            check: format!("imap {}", m.name),
                            ok: true,
                            detail: format!(
                                "logged in to {}:{}, {} holds {n} message(s)",
                                imap.host, imap.port, m.folder
                            ),
                        },
                        Err(e) => Item {
                            check: format!("imap {}", m.name),
                            ok: false,
                            detail: format!("{e:#}"),
                        },
                    });
                }
                let r = postdesk::outbox::test_connection(config).await;
                items.push(Item {
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
                if i.ok { "ok  " } else { "FAIL" },
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
