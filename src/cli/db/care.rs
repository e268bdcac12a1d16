//! `db check`, `db prune` and `db vacuum`: keeping a database in order.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use postdesk::config::Config;
use postdesk::store::maintenance;

use super::super::exit;
use super::Progress;

pub fn check(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let mut store = super::super::open_store_read_only(config)?;
    let database = maintenance::integrity_problems(store.conn())
        .with_context(|| format!("checking {}", config.storage.database.display()))?;
    // States tickets hold that [lifecycle] no longer lists: a warning,
    // not damage (the tickets stay readable).
    let unlisted: Vec<(String, i64)> = postdesk::store::lifecycle::states_in_use(store.conn())?
        .into_iter()
        .filter(|(s, _)| config.lifecycle.get(s).is_none())
        .collect();
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
            "unlisted_states": unlisted
                .iter()
                .map(|(s, n)| serde_json::json!({ "state": s, "tickets": n }))
                .collect::<Vec<_>>(),
        }))?;
    } else {
        for (state, n) in &unlisted {
            writeln!(
                out,
                "warning: {n} ticket(s) in state {state:?}, which [lifecycle] no longer lists: \
                 they stay readable and a customer's reply reopens them; list the state again \
                 in [lifecycle] states, or move them"
            )?;
        }
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

pub fn prune(config: &Config, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    let r = postdesk::retention::prune(config, dry_run)
        .map_err(|e| super::super::storage_check::explain_denied(e.into()))
        .with_context(|| format!("pruning {}", config.storage.database.display()))?;
    let mut out = super::super::output::stdout();
    if json {
        out.json(&r)?;
    } else if !postdesk::retention::configured(config) {
        writeln!(
            out,
            "nothing to prune: [retention] sets no age, so everything is kept"
        )?;
    } else {
        let p = &r.pruned;
        let (verb, files) = if dry_run {
            (
                "would forget",
                format!("{} file(s) would be removed", p.files.len()),
            )
        } else {
            ("forgot", format!("{} file(s) removed", r.files_removed))
        };
        writeln!(
            out,
            "{verb} {} raw message(s) ({} bytes), the bytes of {} sent mail(s) ({} bytes) and {} attachment row(s); {files}",
            p.raw_messages, p.raw_bytes, p.sent_mail, p.sent_bytes, p.attachment_rows
        )?;
        if !dry_run && p.raw_messages + p.sent_mail + p.attachment_rows > 0 {
            writeln!(out, "run `postdesk db vacuum` to give the space back")?;
        }
    }
    for f in &r.files_failed {
        eprintln!("postdesk: {f}; its rows are gone, remove it by hand");
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
