//! `postdesk agent|group|queue|customer|customer-user|service …` and
//! `postdesk directory apply|export`: managing who is who (issue 8).
//!
//! Every entity has `add`, `list`, `show`, `update` and `remove`; agents
//! and customer users also `link`/`unlink` (groups, services). Commands
//! load the entry, change it and write it back whole through
//! `store::directory` in one transaction; `show` prints the entry as the
//! TOML `directory apply` takes, `--json` as JSON. Reads open the
//! database read-only; writes migrate it if needed, as `ingest` does.

pub mod file;
pub mod org;
pub mod people;

use std::io::Write;
use std::process::ExitCode;

use rusqlite::Connection;
use serde::Serialize;

use super::exit::{failure, DATAERR};
use super::output::Stdout;
use super::Cli;
use postdesk::directory::Access;

/// Run `f` in a write transaction, committed when it succeeds.
pub(super) fn write<T>(
    cli: &Cli,
    f: impl FnOnce(&rusqlite::Transaction) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let config = super::load_config(&cli.config)?;
    let mut store = super::open_store(&config)?;
    let tx = store.conn().transaction()?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// Run `f` on a read-only connection.
pub(super) fn read<T>(
    cli: &Cli,
    f: impl FnOnce(&Connection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let config = super::load_config(&cli.config)?;
    let mut store = super::open_store_read_only(&config)?;
    f(store.conn())
}

/// Print one entry: TOML under its table name, or JSON.
pub(super) fn show<T: Serialize>(
    out: &mut Stdout,
    json: bool,
    table: &str,
    v: &T,
) -> anyhow::Result<()> {
    if json {
        return out.json(v);
    }
    #[derive(Serialize)]
    struct One<'a, T> {
        #[serde(flatten)]
        inner: &'a T,
    }
    let text = toml::to_string(&One { inner: v })?;
    writeln!(out, "[[{table}]]\n{}", text.trim_end())?;
    Ok(())
}

/// Print what a write did: the entry, or `{"removed": …}`.
pub(super) fn done<T: Serialize>(
    json: bool,
    table: &str,
    said: &str,
    v: Option<&T>,
) -> anyhow::Result<ExitCode> {
    let mut out = super::output::stdout();
    match v {
        Some(v) if json => out.json(v)?,
        Some(v) => {
            writeln!(out, "{said}")?;
            show(&mut out, false, table, v)?;
        }
        None if json => out.json(&serde_json::json!({ "removed": table, "said": said }))?,
        None => writeln!(out, "{said}")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// An "already exists" refusal for `add`.
pub(super) fn exists(kind: &str, name: &str) -> anyhow::Error {
    failure(
        DATAERR,
        format!("{kind} {name:?} already exists (postdesk {kind} update {name:?} …)"),
    )
}

/// A not-found refusal.
pub(super) fn missing(kind: &str, name: &str) -> anyhow::Error {
    failure(
        super::exit::NOINPUT,
        format!("no {kind} {name:?} (postdesk {kind} list)"),
    )
}

/// Set `group`'s access in the two lists (None: take it out of both).
pub(super) fn set_access(
    rw: &mut Vec<String>,
    ro: &mut Vec<String>,
    group: &str,
    access: Option<Access>,
) {
    rw.retain(|g| g != group);
    ro.retain(|g| g != group);
    match access {
        Some(Access::Rw) => rw.push(group.to_string()),
        Some(Access::Ro) => ro.push(group.to_string()),
        None => {}
    }
}

/// `--access` values.
pub(super) fn parse_access(s: &str) -> Result<Access, String> {
    Access::parse(s).ok_or_else(|| "expected rw or ro".to_string())
}

/// A line per entry for `list`: columns padded to the widest value.
pub(super) fn table(out: &mut Stdout, head: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "none")?;
        return Ok(());
    }
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(head.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// clap checks a command's definition only when it is built: build
    /// them all (two options of one name, a group named like a command).
    #[test]
    fn every_command_is_well_formed() {
        use clap::CommandFactory;
        crate::cli::Cli::command().debug_assert();
    }
}
