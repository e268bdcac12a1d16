//! `db check`, `db prune` and `db vacuum`: keeping a database in order.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use postdesk::config::Config;
use postdesk::store::maintenance;
use postdesk::store::retention::{self, Cutoffs};

use super::super::exit;
use super::Progress;

pub fn check(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let mut store = super::super::open_store_read_only(config)?;
    let database = maintenance::integrity_problems(store.conn())
        .with_context(|| format!("checking {}", config.storage.database.display()))?;
    let wanted = maintenance::attachment_files(store.conn())?;
    let mut progress = Progress::new("checking attachments", json);
    let mut files = Vec::new();
    for (i, f) in wanted.iter().enumerate() {
        progress.show(i + 1, wanted.len());
        files.extend(maintenance::check_attachment(&config.storage.data_dir, f));
    }
    progress.done();
    let ok = database.is_empty() && files.is_empty();
    let mut out = super::super::output::stdout();
    if json {
        out.json(&serde_json::json!({
            "database": config.storage.database.display().to_string(),
            "ok": ok,
            "database_problems": database,
            "attachments_checked": wanted.len(),
            "attachment_problems": files,
        }))?;
    } else {
        for line in &database {
            writeln!(out, "{}: {line}", config.storage.database.display())?;
        }
        super::backup::print_problems(&mut out, &files)?;
        writeln!(
            out,
            "{}: {}; {} attachment file(s) checked, {} with problems",
            config.storage.database.display(),
            if database.is_empty() {
                "database sound"
            } else {
                "DATABASE DAMAGED"
            },
            wanted.len(),
            files.len()
        )?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::DATAERR)
    })
}

/// The cut-off `days` before now, as stored timestamps are written.
fn days_ago(days: Option<u32>) -> Option<String> {
    days.map(|d| {
        (chrono::Utc::now() - chrono::Duration::days(i64::from(d)))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    })
}

pub fn prune(config: &Config, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    let cut = Cutoffs {
        raw_messages: days_ago(config.retention.raw_messages_days),
        attachments: days_ago(config.retention.attachments_days),
    };
    let mut store = super::super::open_store(config)?;
    let pruned = retention::prune(store.conn(), &cut, dry_run)?;
    drop(store);
    let mut removed = 0;
    if !dry_run {
        for rel in &pruned.files {
            let path = config.storage.data_dir.join(rel);
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "removing {} (its rows are already gone; remove it by hand): {e}",
                        path.display()
                    ))
                }
            }
        }
    }
    let mut out = super::super::output::stdout();
    if json {
        out.json(&serde_json::json!({
            "dry_run": dry_run,
            "raw_messages_before": cut.raw_messages,
            "attachments_before": cut.attachments,
            "raw_messages": pruned.raw_messages,
            "raw_bytes": pruned.raw_bytes,
            "attachment_rows": pruned.attachment_rows,
            "attachment_files": pruned.files,
        }))?;
    } else if cut == Cutoffs::default() {
        writeln!(
            out,
            "nothing to prune: [retention] sets no age, so everything is kept"
        )?;
    } else {
        let verb = if dry_run { "would forget" } else { "forgot" };
        writeln!(
            out,
            "{verb} {} raw message(s) ({} bytes) and {} attachment row(s); {} file(s) {}",
            pruned.raw_messages,
            pruned.raw_bytes,
            pruned.attachment_rows,
            if dry_run { pruned.files.len() } else { removed },
            if dry_run {
                "would be removed"
            } else {
                "removed"
            },
        )?;
        if !dry_run && pruned.raw_messages + pruned.attachment_rows > 0 {
            writeln!(out, "run `postdesk db vacuum` to give the space back")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn vacuum(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let mut store = super::super::open_store(config)?;
    let (before, after) = store
        .vacuum()
        .with_context(|| format!("vacuuming {}", config.storage.database.display()))?;
    let mut out = super::super::output::stdout();
    if json {
        out.json(&serde_json::json!({
            "database": config.storage.database.display().to_string(),
            "bytes_before": before,
            "bytes_after": after,
        }))?;
    } else {
        writeln!(
            out,
            "{}: {before} bytes before, {after} after",
            config.storage.database.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
