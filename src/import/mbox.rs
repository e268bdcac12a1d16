//! Reading an mbox archive from a byte offset, one message at a time, with
//! the offset where the next message begins (what an interrupted import
//! resumes from).
//!
//! The splitting itself is mail-parser's `mailbox::mbox::MessageIterator`
//! (already our parser; it splits on "From " lines and undoes the
//! `>From ` quoting of mboxrd, so a body line that began "From " comes
//! back as it was written). It reports no offsets, so it reads through
//! `Counting`, a `BufRead` adapter that remembers where the last two
//! lines began: when the iterator hands back message k it has just read
//! the "From " line of message k+1, whose start is where k+1 begins.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

use mail_parser::mailbox::mbox::MessageIterator;

/// Reads messages from an mbox file.
pub struct Mbox {
    messages: MessageIterator<Counting<BufReader<File>>>,
    /// Where the reader stands (shared with the [`Counting`] inside
    /// `messages`, which the iterator does not let us reach).
    at: Rc<Position>,
    /// Total length of the file when opened, for progress.
    len: u64,
}

/// One message and where the next one begins.
pub struct Entry {
    pub raw: Vec<u8>,
    /// Byte offset of the next message's "From " line (the file's length
    /// after the last message).
    pub next: u64,
}

/// Why an mbox cannot be read from the offset asked for.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The bytes at the offset are not a "From " line.
    #[error("no mbox \"From \" line at byte {offset}")]
    NotAMessage { offset: u64 },
}

impl Mbox {
    /// Open `path` at `offset` (0 for the start, or an offset an earlier
    /// [`Entry::next`] gave). An offset at the end of the file reads
    /// nothing; anything else must be the start of a "From " line.
    pub fn open(path: &Path, offset: u64) -> Result<Mbox, OpenError> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        if offset < len {
            file.seek(SeekFrom::Start(offset))?;
            let mut head = [0u8; 5];
            let got = read_up_to(&mut file, &mut head)?;
            if &head[..got] != b"From " {
                return Err(OpenError::NotAMessage { offset });
            }
        } else if offset > len {
            return Err(OpenError::NotAMessage { offset });
        }
        file.seek(SeekFrom::Start(offset))?;
        let at = Rc::new(Position {
            pos: Cell::new(offset),
            line_start: Cell::new(offset),
            prev_line_start: Cell::new(offset),
            eof: Cell::new(false),
        });
        let reader = Counting {
            inner: BufReader::with_capacity(64 * 1024, file),
            at: at.clone(),
        };
        Ok(Mbox {
            messages: MessageIterator::new(reader),
            at,
            len,
        })
    }

    /// The file's length when it was opened.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// The next message, or None at the end of the file.
    pub fn next_entry(&mut self) -> Option<io::Result<Entry>> {
        let message = match self.messages.next()? {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        };
        let mut raw = message.contents().to_vec();
        // The blank line before the next "From " line belongs to the
        // separator (RFC 4155), not to the message.
        if raw.ends_with(b"\r\n\r\n") {
            raw.truncate(raw.len() - 2);
        } else if raw.ends_with(b"\n\n") {
            raw.truncate(raw.len() - 1);
        }
        let next = if self.at.eof.get() {
            self.at.pos.get()
        } else {
            self.at.prev_line_start.get()
        };
        Some(Ok(Entry { raw, next }))
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Where a [`Counting`] reader stands.
struct Position {
    /// Absolute offset of the next byte to be consumed.
    pos: Cell<u64>,
    /// Where the line being read (after the last newline consumed) begins.
    line_start: Cell<u64>,
    /// Where the line before it began.
    prev_line_start: Cell<u64>,
    /// The reader reached the end of the file.
    eof: Cell<bool>,
}

/// A `BufRead` that counts the bytes consumed and remembers where the last
/// two lines began.
struct Counting<R> {
    inner: R,
    at: Rc<Position>,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            self.at.eof.set(true);
        }
        Ok(buf)
    }

    fn consume(&mut self, amt: usize) {
        let at = &self.at;
        // The buffer is the one the caller just filled: no I/O here.
        if let Ok(buf) = self.inner.fill_buf() {
            let taken = &buf[..amt.min(buf.len())];
            for (i, _) in taken.iter().enumerate().filter(|(_, &b)| b == b'\n') {
                at.prev_line_start.set(at.line_start.get());
                at.line_start.set(at.pos.get() + i as u64 + 1);
            }
        }
        at.pos.set(at.pos.get() + amt as u64);
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCHIVE: &[u8] = b"From alice@example.org Mon Jan  1 10:00:00 2024\n\
Subject: one\n\
\n\
>From the start it was clear.\n\
>>From two levels.\n\
\n\
From bob@example.org Tue Jan  2 10:00:00 2024\n\
Subject: two\n\
\n\
body two\n\
\n\
From carol@example.org Wed Jan  3 10:00:00 2024\n\
Subject: three\n\
\n\
no newline at the end";

    fn all(path: &Path, offset: u64) -> Vec<(String, u64)> {
        let mut m = Mbox::open(path, offset).unwrap();
        let mut out = vec![];
        while let Some(e) = m.next_entry() {
            let e = e.unwrap();
            out.push((String::from_utf8(e.raw).unwrap(), e.next));
        }
        out
    }

    fn check(expected: &[&str], got: &[(String, u64)]) {
        let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(texts, expected);
    }

    #[test]
    fn splits_unquotes_and_reports_where_the_next_message_begins() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mbox");
        std::fs::write(&p, ARCHIVE).unwrap();
        let got = all(&p, 0);
        check(
            &[
                "Subject: one\n\nFrom the start it was clear.\n>From two levels.\n",
                "Subject: two\n\nbody two\n",
                "Subject: three\n\nno newline at the end",
            ],
            &got,
        );
        let starts: Vec<u64> = got.iter().map(|(_, n)| *n).collect();
        let text = std::str::from_utf8(ARCHIVE).unwrap();
        let second = text.find("From bob").unwrap() as u64;
        let third = text.find("From carol").unwrap() as u64;
        assert_eq!(starts, [second, third, ARCHIVE.len() as u64]);
        // Resuming at each offset reads exactly what follows it.
        check(
            &["Subject: three\n\nno newline at the end"],
            &all(&p, third),
        );
        assert!(all(&p, ARCHIVE.len() as u64).is_empty());
    }

    #[test]
    fn an_offset_that_is_no_message_start_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mbox");
        std::fs::write(&p, ARCHIVE).unwrap();
        for offset in [3, ARCHIVE.len() as u64 + 10] {
            let e = Mbox::open(&p, offset).err().unwrap();
            assert!(matches!(e, OpenError::NotAMessage { .. }), "{e}");
        }
        let q = dir.path().join("not.mbox");
        std::fs::write(&q, b"Subject: a lone mail\n\nhello\n").unwrap();
        assert!(matches!(
            Mbox::open(&q, 0).err().unwrap(),
            OpenError::NotAMessage { offset: 0 }
        ));
    }

    #[test]
    fn crlf_archives_and_long_lines_across_buffer_refills_keep_their_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crlf.mbox");
        let long = "x".repeat(200_000);
        let text = format!(
            "From a@b Mon Jan  1 10:00:00 2024\r\nSubject: a\r\n\r\n{long}\r\n\r\nFrom c@d Mon Jan  1 10:00:00 2024\r\nSubject: b\r\n\r\nb\r\n"
        );
        std::fs::write(&p, &text).unwrap();
        let got = all(&p, 0);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, format!("Subject: a\r\n\r\n{long}\r\n"));
        assert_eq!(got[0].1, text.find("From c@d").unwrap() as u64);
        assert_eq!(got[1].1, text.len() as u64);
    }
}
