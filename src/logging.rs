//! Logging through `tracing`: plain text on a terminal, JSON lines when
//! stderr is not a terminal (a service), or straight to journald. Plain
//! text is coloured only when stderr is a terminal and `NO_COLOR` is unset,
//! so a plain log file holds no escape codes. Optional fields are recorded
//! as their value, or left out when absent (`field = opt.as_deref()`),
//! never with `?opt`, which would log `Some("…")`.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::config::LogFormat;

/// Install the global subscriber. `RUST_LOG` overrides `level`.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let format = match format {
        LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Plain,
        LogFormat::Auto => LogFormat::Json,
        f => f,
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Journald => match tracing_journald::layer() {
            Ok(layer) => registry.with(layer).try_init(),
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
    // A second init (tests) is harmless.
    let _ = result;
}

/// Colour on a terminal, unless `NO_COLOR` (https://no-color.org) is set.
fn colour_wanted(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
