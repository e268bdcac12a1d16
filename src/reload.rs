//! SIGHUP: re-read the configuration file and apply what can change while
//! mail flows — the mail templates, the rules folder and the log level.
//! Everything else (database, mailboxes, SMTP, queues, system settings) is
//! compared and, when changed, logged as needing a restart. A part that
//! fails to load (a broken template, bad TOML) keeps the one in use, and
//! the error names the file and the problem. New templates reach the store
//! worker as a request on its channel, so they apply between batches.
//!
//! The rules folder is re-read and checked here ([`crate::rules::RuleSet`]:
//! a bad file keeps the rules in force); a good one reaches the store
//! worker the way templates do, and the decide stage acts on it from the
//! next batch on.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::logging::{self, LevelChange};
use crate::notify::Templates;
use crate::rules::{RuleSet, RulesError};
use crate::worker::Worker;

/// Load and check every rule file of `dir` (see [`RuleSet::load`]), and
/// every template an `auto_reply = "name"` action names: it must exist in
/// some language of `templates` or among the shipped ones. The folder may
/// be empty; it must exist. The error lists every problem of every file,
/// each with file, line, rule and reason.
pub fn read_rules(dir: &Path, templates: &Templates) -> Result<Arc<RuleSet>, RulesError> {
    let set = RuleSet::load(dir).map_err(RulesError)?;
    let missing = set.unknown_templates(|name| template_exists(templates, name));
    if !missing.is_empty() {
        return Err(RulesError(missing));
    }
    Ok(Arc::new(set))
}

/// Whether a rule may name the auto-reply template `name`: it is in
/// `templates` (any language), which are laid over the shipped ones, so a
/// shipped template counts too without building the shipped set (~1 MiB).
pub fn template_exists(templates: &Templates, name: &str) -> bool {
    templates.has_template(name)
}

/// Log, as warnings, rules naming a queue the configuration lacks (such a
/// rule loads: the queue may be added by the next reload or restart).
fn warn_unknown_queues(config: &Config, rules: &RuleSet) {
    for e in rules.unknown_queues(config.queues.iter().map(|q| q.name.as_str())) {
        tracing::warn!("rules: {e}");
    }
    for e in rules.unknown_states(&config.lifecycle) {
        tracing::warn!("rules: {e}");
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
        (
            "[lifecycle]",
            old.lifecycle != new.lifecycle || old.scheduler_interval != new.scheduler_interval,
        ),
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
    rules: Arc<RuleSet>,
    /// The templates in use: the rules' `auto_reply` names are checked
    /// against them.
    templates: Arc<Templates>,
}

impl Reloader {
    pub fn new(running: Config, rules: Arc<RuleSet>, templates: Arc<Templates>) -> Reloader {
        warn_unknown_queues(&running, &rules);
        Reloader {
            running,
            rules,
            templates,
        }
    }

    /// The rules in effect.
    pub fn rules(&self) -> &Arc<RuleSet> {
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
            .and_then(|r| r.map(Arc::new).map_err(|e| e.to_string()));
        match loaded {
            Ok(t) => match worker.set_templates(t.clone()).await.map(|()| t) {
                Ok(t) => {
                    tracing::info!(dir = %dir.display(), "reload: templates reloaded");
                    self.templates = t;
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
        let templates = self.templates.clone();
        match tokio::task::spawn_blocking(move || read_rules(&d, &templates)).await {
            Ok(Ok(rules)) => match worker.set_rules(rules.clone()).await {
                Ok(()) => {
                    tracing::info!(dir = %dir.display(), files = rules.files.len(), rules = rules.rules.len(), "reload: rules reloaded");
                    warn_unknown_queues(&self.running, &rules);
                    self.running.rules_dir = dir;
                    self.rules = rules;
                    reloaded.push("rules");
                }
                Err(e) => {
                    tracing::error!("reload: rules not reloaded: {e}");
                    kept.push("rules");
                }
            },
            Ok(Err(e)) => {
                tracing::error!("reload: rules: {e}; the rule files in use stay");
                kept.push("rules");
            }
            Err(e) => {
                tracing::error!("reload: reading the rules failed: {e}");
                kept.push("rules");
            }
        }

        // Log level (only when it changed).
        match logging::set_level(&level) {
            Ok(LevelChange::Applied) | Ok(LevelChange::NotInstalled)
                if level == self.running.log.level =>
            {
                tracing::debug!(%level, "reload: log level unchanged");
            }
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
        tracing::info!(
            reloaded = %reloaded.join(", "),
            kept = %kept.join(", "),
            "reload finished"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_folder_errors_name_every_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_rules(dir.path(), crate::notify::shipped())
            .unwrap()
            .files
            .is_empty());
        let rule = "[[rule]]\nname = \"vip\"\nwhen = { sender_domain = \"vip.example\" }\nactions = { urgency = 4 }\n";
        std::fs::write(dir.path().join("a.toml"), rule).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();
        assert_eq!(
            read_rules(dir.path(), crate::notify::shipped())
                .unwrap()
                .rules
                .len(),
            1
        );
        std::fs::write(dir.path().join("b.toml"), "x = \n").unwrap();
        std::fs::write(
            dir.path().join("c.toml"),
            "[[rule]]\nname = \"c\"\nwhen = {}\nactions = { urgency = 9 }\n",
        )
        .unwrap();
        let e = read_rules(dir.path(), crate::notify::shipped())
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.toml:1: not valid TOML"), "{e}");
        assert!(
            e.contains(
                "c.toml:4: rule \"c\": actions.urgency: expected a whole number from 1 to 5"
            ),
            "{e}"
        );
        // A template no language has: refused with file and line; one
        // the shipped templates have is fine whatever the folder holds.
        let d2 = tempfile::tempdir().unwrap();
        let reply = |name: &str| {
            format!(
                "[[rule]]\nname = \"r\"\nwhen = {{}}\n[rule.actions]\nauto_reply = \"{name}\"\n"
            )
        };
        std::fs::write(d2.path().join("a.toml"), reply("holidays")).unwrap();
        let e = read_rules(d2.path(), crate::notify::shipped())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.toml:5: rule \"r\": actions.auto_reply: no template \"holidays\""),
            "{e}"
        );
        std::fs::write(d2.path().join("a.toml"), reply("auto_reply_after_hours")).unwrap();
        assert_eq!(
            read_rules(d2.path(), crate::notify::shipped())
                .unwrap()
                .rules
                .len(),
            1
        );
        let e = read_rules(&dir.path().join("missing"), crate::notify::shipped())
            .unwrap_err()
            .to_string();
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
