//! The running daemon's health report as a file beside the database
//! (`<database>.status.json`), rewritten every few seconds (write to a
//! temporary file, then rename), so `postdesk status` — another process,
//! perhaps another user — can show per-mailbox fetch times, backlogs and
//! the last errors without the HTTP listener. It is only believed while
//! the daemon lock names a running daemon.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::health::Report;
use super::StoreReader;

/// The file and what it holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusFile {
    /// The daemon that wrote it.
    pub pid: u32,
    /// When (RFC 3339).
    pub written_at: String,
    #[serde(flatten)]
    pub report: Report,
}

/// `<database>.status.json`.
pub fn path(database: &Path) -> PathBuf {
    let mut p = database.as_os_str().to_owned();
    p.push(".status.json");
    PathBuf::from(p)
}

/// The file, if there is one that parses. Errors say which file.
pub fn read(database: &Path) -> Result<Option<StatusFile>, String> {
    let p = path(database);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

fn write(database: &Path, report: &Report) -> std::io::Result<()> {
    let file = StatusFile {
        pid: std::process::id(),
        written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        report: report.clone(),
    };
    let target = path(database);
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, serde_json::to_vec_pretty(&file)?)?;
    std::fs::rename(&tmp, &target)
}

impl StoreReader {
    /// Rewrite the status file; a failure is logged (debug), never fatal.
    pub async fn write_status_file(&self, report: &Report) {
        let db = self.config.storage.database.clone();
        let report = report.clone();
        match tokio::task::spawn_blocking(move || write(&db, &report)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(
                file = %path(&self.config.storage.database).display(),
                "writing the status file: {e}"
            ),
            Err(e) => tracing::debug!("writing the status file: {e}"),
        }
    }
}
