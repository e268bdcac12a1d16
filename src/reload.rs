//! SIGHUP: re-read the configuration file and apply what can change while
//! mail flows — the mail templates, the rules folder and the log level.
//! Everything else (database, mailboxes, SMTP, queues, system settings) is
//! compared and, when changed, logged as needing a restart. A part that
//! fails to load (a broken template, bad TOML) keeps the one in use, and
//! the error names the file and the problem. New templates reach the store
//! worker as a request on its channel, so they apply between batches.
//!
//! The rules folder is re-read and checked here (every `*.toml` must parse);
//! applying rules to mail belongs to the rules stage, not to this module.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::logging::{self, LevelChange};
use crate::notify::Templates;
use crate::worker::Worker;

/// The rule files read and checked at the last (re)load.
#[derive(Debug, Clone)]
pub struct RuleFiles {
    pub dir: PathBuf,
    /// Each `*.toml` file of the folder, sorted, with its parsed table.
    pub files: Vec<(PathBuf, toml::Table)>,
}

/// Read every `*.toml` of `dir` and check it parses. The folder may be
/// empty; it must exist. The error lists every bad file with its problem.
pub fn read_rules(dir: &Path) -> Result<RuleFiles, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "{}: {e} (create the folder, it may stay empty)",
            dir.display()
        )
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match std::fs::read_to_string(&p) {
            Ok(text) => match text.parse::<toml::Table>() {
                Ok(t) => files.push((p, t)),
                Err(e) => problems.push(format!("{}: {e}", p.display())),
            },
            Err(e) => problems.push(format!("{}: unreadable: {e}", p.display())),
        }
    }
    if problems.is_empty() {
        Ok(RuleFiles {
            dir: dir.to_path_buf(),
            files,
        })
    } else {
        Err(problems.join("; "))
    }
}

/// The parts of `new` that differ from `old` and only apply at a restart.
pub fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    for (name, differs) in [
        ("[system]", old.system != new.system),
        ("[storage]", old.storage != new.storage),
        ("[smtp]", old.smtp != new.smtp),
        ("[[queue]]", old.queues != new.queues),
        ("[[mailbox]]", old.mailboxes != new.mailboxes),
        ("log.format", old.log.format != new.log.format),
        ("[http] and [health]", old.ops != new.ops),
    ] {
        if differs {
            changed.push(name);
        }
    }
    changed
}

/// What the daemon keeps between reloads.
pub struct Reloader {
    /// The configuration in effect: as started, with the reloadable parts
    /// (templates and rules folders, log level) updated by each reload.
    running: Config,
    rules: RuleFiles,
}

impl Reloader {
    pub fn new(running: Config, rules: RuleFiles) -> Reloader {
        Reloader { running, rules }
    }

    /// The rule files in effect.
    pub fn rules(&self) -> &RuleFiles {
        &self.rules
    }

    /// Reload what can be reloaded; log what was reloaded, what was kept
    /// and why, and what needs a restart. Never fails: the daemon goes on
    /// with the old part whenever a new one does not load.
    pub async fn reload(&mut self, worker: &Worker) {
        let file = self.running.source.clone();
        tracing::info!(config = %file.display(), "SIGHUP: reloading templates, rules and log level");
        let path = file.clone();
        let new = match tokio::task::spawn_blocking(move || Config::load(&path)).await {
            Ok(Ok(c)) => Some(c),
            Ok(Err(e)) => {
                tracing::error!(
                    "reload: {e}; keeping the configuration in use (templates and rules are re-read from the folders in use)"
                );
                None
            }
            Err(e) => {
                tracing::error!("reload: reading the configuration failed: {e}");
                None
            }
        };
        let mut reloaded = Vec::new();
        let mut kept = Vec::new();
        if let Some(new) = &new {
            for part in needs_restart(&self.running, new) {
                tracing::warn!(
                    "reload: {part} changed in {}: needs a restart to take effect (the running settings stay)",
                    file.display()
                );
            }
        }
        let source = new.as_ref().unwrap_or(&self.running);
        let (templates_dir, rules_dir, level) = (
            source.templates_dir.clone(),
            source.rules_dir.clone(),
            source.log.level.clone(),
        );

        // Templates: loaded and test-rendered off the async workers, then
        // handed to the store worker, which swaps them between batches.
        let dir = templates_dir;
        let lang = self.running.system.default_language.clone();
        let d = dir.clone();
        let loaded = tokio::task::spawn_blocking(move || Templates::load(&d, &lang))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        match loaded {
            Ok(t) => match worker.set_templates(Arc::new(t)).await {
                Ok(()) => {
                    tracing::info!(dir = %dir.display(), "reload: templates reloaded");
                    self.running.templates_dir = dir;
                    reloaded.push("templates");
                }
                Err(e) => {
                    tracing::error!("reload: templates not reloaded: {e}");
                    kept.push("templates");
                }
            },
            Err(e) => {
                tracing::error!("reload: {e}; the templates in use stay");
                kept.push("templates");
            }
        }

        // Rules folder.
        let dir = rules_dir;
        let d = dir.clone();
        match tokio::task::spawn_blocking(move || read_rules(&d)).await {
            Ok(Ok(rules)) => {
                tracing::info!(dir = %dir.display(), files = rules.files.len(), "reload: rules reloaded");
                self.running.rules_dir = dir;
                self.rules = rules;
                reloaded.push("rules");
            }
            Ok(Err(e)) => {
                tracing::error!("reload: rules: {e}; the rule files in use stay");
                kept.push("rules");
            }
            Err(e) => {
                tracing::error!("reload: reading the rules failed: {e}");
                kept.push("rules");
            }
        }

        // Log level.
        match logging::set_level(&level) {
            Ok(LevelChange::Applied) | Ok(LevelChange::NotInstalled) => {
                tracing::info!(%level, "reload: log level set");
                self.running.log.level = level;
                reloaded.push("log level");
            }
            Ok(LevelChange::OverriddenByEnv) => {
                tracing::info!("reload: RUST_LOG is set and keeps deciding the log level");
            }
            Err(e) => {
                tracing::error!("reload: {e}; the log level in use stays");
                kept.push("log level");
            }
        }
        if new.is_none() {
            kept.push("configuration");
        }
        tracing::info!(reloaded = ?reloaded, kept = ?kept, "reload finished");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_folder_errors_name_every_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_rules(dir.path()).unwrap().files.is_empty());
        std::fs::write(dir.path().join("a.toml"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();
        assert_eq!(read_rules(dir.path()).unwrap().files.len(), 1);
        std::fs::write(dir.path().join("b.toml"), "x = \n").unwrap();
        std::fs::write(dir.path().join("c.toml"), "[[[").unwrap();
        let e = read_rules(dir.path()).unwrap_err();
        assert!(e.contains("b.toml") && e.contains("c.toml"), "{e}");
        let e = read_rules(&dir.path().join("missing")).unwrap_err();
        assert!(e.contains("create the folder"), "{e}");
    }

    #[test]
    fn restart_only_changes_are_named() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let env: std::collections::BTreeMap<String, String> = [
            ("POSTDESK_IMAP_PASSWORD", "x"),
            ("POSTDESK_SMTP_PASSWORD", "y"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let old = Config::load_with_env(&path, &env).unwrap_or_else(|e| panic!("{e}"));
        let mut new = old.clone();
        new.log.level = "debug".into();
        new.templates_dir = "/elsewhere".into();
        assert!(needs_restart(&old, &new).is_empty());
        new.smtp.port += 1;
        new.storage.database = "/other.db".into();
        if let Some(imap) = new.mailboxes[0].imap.as_mut() {
            imap.password = "changed".into();
        }
        assert_eq!(
            needs_restart(&old, &new),
            ["[storage]", "[smtp]", "[[mailbox]]"]
        );
    }
}
