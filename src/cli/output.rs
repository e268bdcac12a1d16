//! Standard output for every command, so that a closed pipe
//! (`postdesk ticket list | head -1`) ends the command quietly with exit 0.
//!
//! Rust ignores SIGPIPE, so writing to a pipe whose reader has gone returns
//! `EPIPE`, and `println!` panics on it. Restoring SIGPIPE's default action
//! instead would kill the process mid-command, and the shell would see a
//! death by signal (status 141), which fails `set -o pipefail` scripts. So
//! commands write through [`stdout`]: its `BrokenPipe` error carries the
//! [`Closed`] marker, `?` carries it up like any error (the command stops
//! early, having committed whatever it committed), and `cli::main` turns it
//! into a silent exit 0. Only standard output is treated so: a broken
//! network connection is still an error.

use std::io::{self, Write};

/// Standard output, locked for the command's lifetime.
pub struct Stdout(io::StdoutLock<'static>);

/// Lock standard output for a command.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

/// The reader of standard output has gone away.
#[derive(Debug)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for Closed {}

fn mark(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, Closed)
    } else {
        e
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark)
    }
}

impl Stdout {
    /// `value` as pretty JSON and a newline.
    pub fn json<T: serde::Serialize>(&mut self, value: &T) -> anyhow::Result<()> {
        // Serialised to a string first, so a closed pipe arrives as our
        // io::Error rather than wrapped in serde_json's.
        let text = serde_json::to_string_pretty(value)?;
        writeln!(self, "{text}")?;
        Ok(())
    }
}

/// Did the command stop because standard output was closed?
pub fn is_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<Closed>()
            || c.downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<Closed>())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_marked_broken_pipe_counts_as_closed() {
        let closed = anyhow::Error::from(mark(io::Error::from(io::ErrorKind::BrokenPipe)))
            .context("printing the list");
        assert!(is_closed(&closed));
        // A broken pipe elsewhere (a socket) is a real error.
        let other = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(!is_closed(&other));
        let other = anyhow::Error::from(mark(io::Error::from(io::ErrorKind::NotFound)));
        assert!(!is_closed(&other));
    }
}
