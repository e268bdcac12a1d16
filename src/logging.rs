//! Logging through `tracing`: with `log.format = "auto"`, straight to
//! journald when stderr is the journal (systemd sets `JOURNAL_STREAM` to
//! its device and inode), so fields such as `ticket`, `mailbox` and
//! `message_id` become journal fields (`POSTDESK_TICKET=`,
//! `POSTDESK_MAILBOX=`, `POSTDESK_MESSAGE_ID=`: the prefix keeps them apart
//! from journald's own, such as its 128-bit `MESSAGE_ID`); plain text on a
//! terminal; JSON lines otherwise, or
//! whatever `log.format` names. Plain
//! text is coloured only when stderr is a terminal and `NO_COLOR` is unset,
//! so a plain log file holds no escape codes. Optional fields are recorded
//! as their value, or left out when absent (`field = opt.as_deref()`),
//! never with `?opt`, which would log `Some("…")`. The
//! level filter sits behind a reload handle, so SIGHUP can change it.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::{fmt, prelude::*, reload, EnvFilter, Registry};

use crate::config::LogFormat;

/// Put before every field name in the journal (`POSTDESK_TICKET=`).
pub const JOURNAL_FIELD_PREFIX: &str = "POSTDESK";

/// Install the global subscriber. `RUST_LOG` overrides `level`.
pub fn init(format: LogFormat, level: &str) {
    // RUST_LOG wins over `log.level`, but only when it names levels: a
    // typo there would otherwise silence every log line, errors included.
    let from_env = match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(v) if !v.trim().is_empty() => match crate::config::log_level_problem(&v) {
            None => EnvFilter::try_new(&v).ok(),
            Some(why) => {
                eprintln!("postdesk: ignoring RUST_LOG: {why}; using log.level {level:?}");
                None
            }
        },
        _ => None,
    };
    let overridden = from_env.is_some();
    let filter = from_env
        .or_else(|| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let format = match format {
        LogFormat::Auto if stderr_is_journal() => LogFormat::Journald,
        LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Plain,
        LogFormat::Auto => LogFormat::Json,
        f => f,
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Journald => match tracing_journald::layer() {
            Ok(layer) => registry
                .with(layer.with_field_prefix(Some(JOURNAL_FIELD_PREFIX.into())))
                .try_init(),
            Err(e) => {
                eprintln!("postdesk: journald unavailable ({e}); logging JSON to stderr");
                registry
                    .with(fmt::layer().json().with_writer(std::io::stderr))
                    .try_init()
            }
        },
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
        _ => registry
            .with(
                fmt::layer()
                    .with_ansi(colour_wanted(std::io::stderr().is_terminal()))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // A second init (tests) is harmless; only the first one's level can
    // be changed.
    if result.is_ok() {
        let _ = LEVEL.set(Level { handle, overridden });
    }
}

/// The installed level filter.
struct Level {
    handle: reload::Handle<EnvFilter, Registry>,
    /// `RUST_LOG` was set: it keeps deciding, whatever the config says.
    overridden: bool,
}

static LEVEL: OnceLock<Level> = OnceLock::new();

/// What [`set_level`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum LevelChange {
    Applied,
    /// `RUST_LOG` is set and wins over `log.level`.
    OverriddenByEnv,
    /// No subscriber of ours is installed (a library user, a test).
    NotInstalled,
}

/// Switch to `level` (`log.level` syntax, e.g. `info,postdesk=debug`).
/// Errors say what is wrong with `level`; the old level then stays.
pub fn set_level(level: &str) -> Result<LevelChange, String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("log.level {level:?}: {e}"))?;
    let Some(l) = LEVEL.get() else {
        return Ok(LevelChange::NotInstalled);
    };
    if l.overridden {
        return Ok(LevelChange::OverriddenByEnv);
    }
    l.handle
        .reload(filter)
        .map_err(|e| format!("changing the log level: {e}"))?;
    Ok(LevelChange::Applied)
}

/// Colour on a terminal, unless `NO_COLOR` (https://no-color.org) is set.
fn colour_wanted(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether stderr is connected to the journal: `JOURNAL_STREAM`
/// (`DEVICE:INODE`, set by systemd) names the file stderr is (a child
/// that inherited the variable but not the stream gets `false`).
fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat(2) fills `st` for an open descriptor; on failure
    // (stderr closed) it is not read.
    if unsafe { libc::fstat(2, st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstat returned 0, so `st` is initialised.
    let st = unsafe { st.assume_init() };
    journal_stream_is(&v.to_string_lossy(), st.st_dev, st.st_ino)
}

/// `JOURNAL_STREAM`'s `DEVICE:INODE` against a file's device and inode.
fn journal_stream_is(value: &str, dev: libc::dev_t, ino: libc::ino_t) -> bool {
    value
        .split_once(':')
        .and_then(|(d, i)| {
            Some((
                d.parse::<libc::dev_t>().ok()?,
                i.parse::<libc::ino_t>().ok()?,
            ))
        })
        .is_some_and(|(d, i)| d == dev && i == ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_must_name_the_same_file() {
        assert!(journal_stream_is("64769:12345", 64769, 12345));
        assert!(!journal_stream_is("64769:12345", 64769, 12346));
        assert!(!journal_stream_is("", 0, 0));
        assert!(!journal_stream_is("garbage", 0, 0));
    }
}
