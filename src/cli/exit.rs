//! Exit codes a script can branch on (sysexits.h), and the one place that
//! maps an error to its code and prints it: plain text on standard error,
//! or with `--json` one `{"error": …, "code": …}` object on standard output
//! (so that with `--json` standard output always holds one JSON document).

use std::io::Write;

use postdesk::config::ConfigError;
use postdesk::notify::NotifyError;
use postdesk::store::directory::DirError;
use postdesk::store::StoreError;

/// `quarantine retry`: some entries are still failing (each is printed).
pub const FAILURE: u8 = 1;
/// Bad command line: unknown flag, missing argument, invalid value.
pub const USAGE: u8 = 64;
/// Bad input data: a malformed ticket number, a wrong check digit, a
/// piped message that is empty or too large.
pub const DATAERR: u8 = 65;
/// Not found: no such ticket, quarantine entry, queue or database.
pub const NOINPUT: u8 = 66;
/// Unavailable: the database is at another schema version (run
/// `postdesk db migrate`, or upgrade postdesk); `check --connect` could
/// not reach a server.
pub const UNAVAILABLE: u8 = 69;
/// An I/O error reading input: `import` could not read its archive.
pub const IOERR: u8 = 74;
/// Cannot create the output: `db backup` into a folder that exists.
pub const CANTCREAT: u8 = 73;
/// An internal error: a bug or a damaged database.
pub const SOFTWARE: u8 = 70;
/// Temporary trouble, try again later: the database is busy or locked,
/// the disk is full; for `ingest`, any trouble the MTA should retry.
pub const TEMPFAIL: u8 = 75;
/// Permission denied: this user may not read or write the database, its
/// folder or the daemon lock (run as the daemon's user).
pub const NOPERM: u8 = 77;
/// Configuration error: the file, a template or the rules folder.
pub const CONFIG: u8 = 78;

/// An error whose exit code the command decided.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An error that exits with `code`.
pub fn failure(code: u8, message: impl Into<String>) -> anyhow::Error {
    Failure {
        code,
        message: message.into(),
    }
    .into()
}

/// The exit code for `e`: the first cause in its chain that has one.
pub fn code_of(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code;
        }
        if cause.is::<ConfigError>()
            || cause.is::<NotifyError>()
            || cause.is::<postdesk::rules::RulesError>()
        {
            return CONFIG;
        }
        if let Some(d) = cause.downcast_ref::<DirError>() {
            match d {
                DirError::NotFound(_) => return NOINPUT,
                DirError::Invalid(_) | DirError::InUse(_) => return DATAERR,
                DirError::Store(s) => return store_code(s),
            }
        }
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return store_code(s);
        }
        if let Some(s) = cause.downcast_ref::<rusqlite::Error>() {
            return if postdesk::store::is_transient(s) {
                TEMPFAIL
            } else {
                SOFTWARE
            };
        }
    }
    SOFTWARE
}

fn store_code(s: &StoreError) -> u8 {
    match s {
        StoreError::Missing { .. } => NOINPUT,
        StoreError::Denied { .. } => NOPERM,
        StoreError::TooOld { .. } | StoreError::TooNew { .. } => UNAVAILABLE,
        s if s.is_transient() => TEMPFAIL,
        _ => SOFTWARE,
    }
}

/// Print `e` as the command's failure.
pub fn report(e: &anyhow::Error, code: u8, json: bool) {
    let message = format!("{e:#}");
    print_error(message.trim_end(), code, json);
}

fn print_error(message: &str, code: u8, json: bool) {
    if json {
        let v = serde_json::json!({ "error": message, "code": code });
        // Nothing more can be said if standard output is gone.
        let _ = writeln!(std::io::stdout(), "{v}");
    } else {
        eprintln!("postdesk: {message}");
    }
}

/// A command line clap refused: help and version go to standard output
/// with exit 0, mistakes to standard error (or JSON) with exit 64.
pub fn usage(e: clap::Error) -> u8 {
    if !e.use_stderr() {
        // Help or version; a closed pipe (`--help | head`) is no error.
        let _ = e.print();
        return 0;
    }
    let json = std::env::args_os().any(|a| a == "--json");
    if json {
        let text = e.render().to_string();
        print_error(text.trim_end().trim_start_matches("error: "), USAGE, true);
    } else {
        let _ = e.print();
    }
    USAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: anyhow::Error, expected: u8) {
        assert_eq!(code_of(&e), expected, "{e:#}");
    }

    #[test]
    fn errors_map_to_sysexits() {
        check(failure(NOINPUT, "no ticket").context("showing"), NOINPUT);
        check(
            ConfigError {
                file: "x.toml".into(),
                problems: vec![postdesk::config::Problem {
                    place: postdesk::config::Place::File { line: Some(3) },
                    key: "smtp.port".into(),
                    message: "bad".into(),
                }],
            }
            .into(),
            CONFIG,
        );
        check(
            StoreError::TooOld {
                path: "x.db".into(),
                found: 0,
                known: 1,
            }
            .into(),
            UNAVAILABLE,
        );
        check(
            StoreError::Missing {
                path: "x.db".into(),
            }
            .into(),
            NOINPUT,
        );
        check(
            StoreError::Denied {
                path: "x.db".into(),
                culprit: ".".into(),
                denial: postdesk::store::denied::Denial::FolderNotWritable,
                write: false,
            }
            .into(),
            NOPERM,
        );
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        check(StoreError::Sql(busy).into(), TEMPFAIL);
        check(anyhow::anyhow!("something odd"), SOFTWARE);
    }
}
