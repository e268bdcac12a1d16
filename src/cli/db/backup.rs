//! `db backup DEST` and `db restore FROM`. A backup is a folder:
//! `postdesk.db` (one self-contained SQLite file, one snapshot),
//! `attachments/xx/<sha256>`, the files that snapshot refers to, laid out
//! as under `storage.data_dir`, and `reply-token.key` (mode 0600) when
//! the data folder has one, so reply addresses in alerts sent before
//! keep verifying after a restore. It is built as `DEST.partial` and renamed
//! to DEST when complete, so a DEST that exists is a whole backup.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use postdesk::config::Config;
use postdesk::lock::{DaemonLock, LockError};
use postdesk::store::maintenance::{self, FileProblem};
use postdesk::store::{Durability, Store};

use super::super::exit;
use super::{files, Progress};

/// The database's name inside a backup folder.
const DB_FILE: &str = "postdesk.db";

pub fn backup(config: &Config, dest: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if dest.exists() {
        return Err(exit::failure(
            exit::CANTCREAT,
            format!(
                "{} exists already; give `db backup` a new folder",
                dest.display()
            ),
        ));
    }
    let mut store = super::super::open_store_read_only(config)?;
    let partial = with_suffix(dest, ".partial");
    if partial.exists() {
        // Left by a backup that was interrupted: ours to replace.
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing the unfinished {}", partial.display()))?;
    }
    std::fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let db = partial.join(DB_FILE);
    maintenance::backup_database(store.conn(), &db)
        .with_context(|| format!("copying {} to {}", store.path().display(), db.display()))?;
    drop(store);
    let wanted = maintenance::inspect_backup(&db)?.files;
    let mut progress = Progress::new("copying attachments", json);
    let (bytes, problems) =
        files::copy_all(&wanted, &config.storage.data_dir, &partial, &mut progress)?;
    copy_reply_key(&config.storage.data_dir, &partial)?;
    std::fs::rename(&partial, dest)
        .with_context(|| format!("renaming {} to {}", partial.display(), dest.display()))?;
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        files::sync_filesystem(parent).with_context(|| format!("flushing {}", parent.display()))?;
    }
    let mut out = super::super::output::stdout();
    if json {
        out.json(&serde_json::json!({
            "backup": dest.display().to_string(),
            "database": config.storage.database.display().to_string(),
            "attachments": wanted.len() - problems.len(),
            "attachment_bytes": bytes,
            "problems": problems,
        }))?;
    } else {
        writeln!(
            out,
            "backed up {} to {} with {} attachment file(s)",
            config.storage.database.display(),
            dest.display(),
            wanted.len() - problems.len()
        )?;
        print_problems(&mut out, &problems)?;
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::DATAERR)
    })
}

pub fn restore(config: &Config, from: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let db = from.join(DB_FILE);
    if !db.is_file() {
        return Err(exit::failure(
            exit::NOINPUT,
            format!(
                "{} is not a backup folder made by `postdesk db backup` (no {DB_FILE} in it)",
                from.display()
            ),
        ));
    }
    let live = &config.storage.database;
    // Held for the whole restore: no daemon may start meanwhile.
    let _lock = match DaemonLock::acquire(live, &postdesk::lock::this_process("db-restore")) {
        Ok((lock, _)) => lock,
        Err(e @ LockError::Held { .. }) => {
            return Err(exit::failure(
                exit::TEMPFAIL,
                format!("{e}; stop the daemon before restoring"),
            ))
        }
        Err(e) => return Err(super::super::storage_check::explain_denied(e.into())),
    };
    let contents =
        maintenance::inspect_backup(&db).with_context(|| format!("checking {}", db.display()))?;
    if !contents.damage.is_empty() {
        return Err(exit::failure(
            exit::DATAERR,
            format!(
                "{} is damaged, nothing was restored: {}",
                db.display(),
                contents.damage.join("; ")
            ),
        ));
    }
    let version = contents.schema_version;
    if version > Store::known_schema_version() {
        return Err(exit::failure(
            exit::UNAVAILABLE,
            format!(
                "{} has schema version {version}, newer than this postdesk knows ({}); restore it with a newer postdesk",
                db.display(),
                Store::known_schema_version()
            ),
        ));
    }
    let wanted = contents.files;
    let bad: Vec<FileProblem> = wanted
        .iter()
        .filter_map(|f| maintenance::check_attachment(from, f))
        .collect();
    if !bad.is_empty() {
        let list: Vec<String> = bad
            .iter()
            .map(|p| format!("{} ({})", p.path, p.problem))
            .collect();
        return Err(exit::failure(
            exit::DATAERR,
            format!(
                "the backup lacks {} attachment file(s) in good order, nothing was restored: {}",
                bad.len(),
                list.join(", ")
            ),
        ));
    }
    // Files first: the restored database must find every file it names.
    // Files are content-addressed, so adding them disturbs nothing.
    let mut progress = Progress::new("restoring attachments", json);
    let (bytes, problems) =
        files::copy_all(&wanted, from, &config.storage.data_dir, &mut progress)?;
    if !problems.is_empty() {
        return Err(exit::failure(
            exit::DATAERR,
            format!(
                "copying attachments from {} failed, the database was not replaced: {}",
                from.display(),
                problems[0].detail
            ),
        ));
    }
    copy_reply_key(from, &config.storage.data_dir)?;
    if let Some(dir) = live.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    maintenance::restore_database(&db, live)
        .with_context(|| format!("restoring {} from {}", live.display(), db.display()))?;
    let (store, from_version) = Store::open_and_migrate(live, Durability::Full)?;
    let version = store.schema_version()?;
    let mut out = super::super::output::stdout();
    if json {
        out.json(&serde_json::json!({
            "restored": live.display().to_string(),
            "from": from.display().to_string(),
            "attachments": wanted.len(),
            "attachment_bytes": bytes,
            "schema_from": from_version,
            "schema_to": version,
        }))?;
    } else {
        writeln!(
            out,
            "restored {} from {} with {} attachment file(s){}",
            live.display(),
            from.display(),
            wanted.len(),
            if from_version < version {
                format!(", migrated from schema version {from_version} to {version}")
            } else {
                String::new()
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_problems(out: &mut impl Write, problems: &[FileProblem]) -> anyhow::Result<()> {
    for p in problems {
        writeln!(out, "{}: {}: {}", p.path, p.problem, p.detail)?;
    }
    Ok(())
}

/// Copy the reply-token key from folder `from` to folder `to` (mode 0600,
/// through a temporary file and a rename), if `from` has one.
fn copy_reply_key(from: &Path, to: &Path) -> anyhow::Result<()> {
    use postdesk::auth::key;
    use std::os::unix::fs::OpenOptionsExt;
    let (src, dst) = (key::path(from), key::path(to));
    // Read through the key's own reader: a damaged key is not copied.
    let Some(text) = key::load(&src)?.map(|_| std::fs::read(&src)).transpose()? else {
        return Ok(());
    };
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let tmp = with_suffix(&dst, ".partial");
    let _ = std::fs::remove_file(&tmp); // a leftover keeps its old mode
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &dst)
        .with_context(|| format!("renaming {} to {}", tmp.display(), dst.display()))?;
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}
