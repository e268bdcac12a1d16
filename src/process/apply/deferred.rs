//! Notifications made off the store thread (issue 10, item 3). Rendering
//! the template, building the MIME mail and, with `[smtp] dkim`, signing
//! it are pure once the reads they need are done (the ticket, the
//! References chain), and cost the store thread ~0.1 ms a mail (~1 ms
//! more for an RSA-2048 signature). So during a batch with parser
//! threads the store thread writes the outbound article and the outbox
//! row at once — their ids, the Message-ID in the index and the loop
//! caps' counts are what later messages of the batch see — with the text
//! still empty and no mail, and a parser thread makes the mail while the
//! store thread goes on. Between two messages the store thread writes
//! the mail made so far into its article and (once, in `outbox_raw`) its
//! row, and waits for the rest before the commit; never more than
//! [`MAX_WAITING`] are outstanding. The row is never sendable without its
//! mail: the sender sees it only after the commit. A message rolled back
//! takes its rows with it, and the mail made for them is dropped: each is
//! known by a number never reused. A mail that cannot be made fails its
//! row with the reason, and its article says so — as when it is made on
//! the store thread (one core, an agent's reply).

use std::collections::HashMap;

use super::super::parse_ahead::{Made, Pool};
use super::Processor;
use crate::notify;
use crate::store::{outbox, records, Db, StoreError};

/// Mails made or being made that the store thread has not written yet,
/// past which it waits for them between messages: what a batch holds in
/// memory stays bounded whatever its size (each is a template's context
/// with up to 20 KB of the customer's text, then the mail).
const MAX_WAITING: usize = 64;

/// A row whose mail a parser thread is making.
#[derive(Debug, Clone)]
struct Deferred {
    outbox_id: i64,
    message_id: String,
    article_id: i64,
    /// For the log: the template and the ticket.
    what: String,
}

/// The rows of one batch whose mail the parser threads are making, by
/// the number [`Pool::make`] gave it.
#[derive(Debug, Default)]
pub(in crate::process) struct Making {
    /// The message being processed: its rows go if it is rolled back.
    current: Vec<(u64, Deferred)>,
    /// The messages kept so far.
    waiting: HashMap<u64, Deferred>,
}

impl Making {
    /// The message being processed is done: its rows are `kept` with it,
    /// or rolled back (what is made for them is dropped when it comes).
    pub(in crate::process) fn message_done(&mut self, kept: bool) {
        if kept {
            self.waiting.extend(self.current.drain(..));
        } else {
            self.current.clear();
        }
    }
}

impl Processor {
    /// Is mail made now made later, on the parser threads (see the module
    /// doc)? Then the caller writes its rows without it and hands the
    /// making to [`Processor::defer_making`].
    pub(super) fn making_deferred(&self) -> bool {
        self.deferred.borrow().is_some()
    }

    /// Have the parser threads make the mail of outbox row `outbox_id`
    /// and outbound article `article_id` (`message_id`).
    pub(super) fn defer_making(
        &self,
        outbox_id: i64,
        article_id: i64,
        message_id: &str,
        compose: notify::Compose,
    ) {
        let mut deferred = self.deferred.borrow_mut();
        if let (Some(Some(pool)), Some(making)) = (self.parsers.get(), deferred.as_mut()) {
            let what = format!(
                "{} on ticket {}",
                compose.template, compose.head.ticket_number
            );
            let seq = pool.make(compose);
            making.current.push((
                seq,
                Deferred {
                    outbox_id,
                    message_id: message_id.to_string(),
                    article_id,
                    what,
                },
            ));
        }
    }
}

/// Between two messages of a batch: write the mail made so far into the
/// rows of the messages kept, waiting for more while over [`MAX_WAITING`]
/// are outstanding.
pub(in crate::process) fn write_ready(
    db: &Db,
    pool: &Pool,
    making: &mut Making,
) -> Result<(), StoreError> {
    debug_assert!(making.current.is_empty(), "called between messages");
    loop {
        let wait = making.waiting.len() > MAX_WAITING;
        match pool.made(wait) {
            Some(m) => write_one(db, &mut making.waiting, m)?,
            // Nothing yet, or nothing for a long while (a lane may still
            // be parsing a few large mails ahead of the mail it makes):
            // the rows keep waiting, and `write_made` ends the batch.
            None => return Ok(()),
        }
    }
}

/// At the end of a batch: write the mail made for every row still
/// waiting, waiting for the parser threads; a row whose mail failed or
/// never came is failed with the reason, and its article tells it.
pub(in crate::process) fn write_made(
    db: &Db,
    pool: &Pool,
    mut making: Making,
) -> Result<(), StoreError> {
    making.message_done(true);
    while !making.waiting.is_empty() {
        match pool.made(true) {
            Some(m) => write_one(db, &mut making.waiting, m)?,
            None => return give_up(db, &mut making),
        }
    }
    Ok(())
}

/// The parser threads gave nothing for too long, or are gone: every row
/// still waiting fails.
fn give_up(db: &Db, making: &mut Making) -> Result<(), StoreError> {
    for (_, d) in making.waiting.drain() {
        not_made(
            db,
            &d,
            "no mail came from the parser threads (please report)",
        )?;
    }
    Ok(())
}

/// Write mail `m` into its row, if that is still `waiting` (not rolled
/// back with its message).
fn write_one(db: &Db, waiting: &mut HashMap<u64, Deferred>, m: Made) -> Result<(), StoreError> {
    let Some(d) = waiting.remove(&m.seq) else {
        return Ok(());
    };
    let c = match m.made {
        Ok(c) => c,
        Err(e) => return not_made(db, &d, &e),
    };
    if let Some(why) = &c.fell_back {
        tracing::warn!(message_id = %d.message_id,
            "{}: template failed, the shipped one was used instead (fix the template, then reload): {why}", d.what);
    }
    let article = records::set_outbound_text(
        db,
        d.article_id,
        &d.message_id,
        &c.subject,
        &c.body,
        c.html.as_deref(),
    )?;
    let row = outbox::set_mail(db, d.outbox_id, &d.message_id, &c.raw)?;
    if article == 0 || row == 0 {
        tracing::error!(message_id = %d.message_id, outbox_id = d.outbox_id,
            article_id = d.article_id,
            "{}: its made mail found no row to go into (article: {article}, outbox: {row}; please report)", d.what);
    }
    Ok(())
}

/// `d`'s row fails with `why`; its article says the mail was not sent.
fn not_made(db: &Db, d: &Deferred, why: &str) -> Result<(), StoreError> {
    tracing::error!(message_id = %d.message_id, "{}: notification not sent: {why}", d.what);
    outbox::fail_unmade(db, d.outbox_id, &d.message_id, why)?;
    let text = not_sent_text(why);
    records::set_outbound_text(db, d.article_id, &d.message_id, NOT_SENT, &text, None)?;
    Ok(())
}

/// The mail of row `outbox_id` could not be made on the store thread
/// (`what`, `why`): as [`not_made`] on a parser thread.
pub(super) fn fail_now(
    db: &Db,
    outbox_id: i64,
    article_id: i64,
    message_id: &str,
    what: String,
    why: &str,
) -> Result<(), StoreError> {
    let d = Deferred {
        outbox_id,
        message_id: message_id.to_string(),
        article_id,
        what,
    };
    not_made(db, &d, why)
}

/// The subject of the outbound article of a notification that could not
/// be made, wherever it was made.
const NOT_SENT: &str = "(not sent)";

/// Its text.
fn not_sent_text(why: &str) -> String {
    format!("This notification could not be made, and was not sent: {why}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::process::parse_ahead::tests::compose;
    use crate::store::Store;

    /// An outbound article and an outbox row without mail, as `send`
    /// writes them for the parser threads to fill.
    fn rows(c: &Db, message_id: &str) -> (i64, i64) {
        let article = records::insert_article(
            c,
            &records::NewArticle {
                ticket_id: 1,
                trusted: true,
                direction: "out",
                kind: "auto_reply",
                from_address: "support@example.com",
                from_name: None,
                to: "c@example.com",
                cc: "",
                subject: "",
                text: "",
                html: None,
                message_id: Some(message_id),
                in_reply_to: None,
                automatic: None,
                class: None,
                raw_id: None,
            },
        )
        .unwrap();
        let outbox = outbox::enqueue(
            c,
            &outbox::NewOutgoing {
                ticket_id: 1,
                article_id: Some(article),
                kind: "auto_reply",
                envelope_from: "",
                recipients: &["c@example.com".to_string()],
                message_id,
                raw: None,
            },
        )
        .unwrap();
        (article, outbox)
    }

    fn deferred(article_id: i64, outbox_id: i64, message_id: &str) -> Deferred {
        Deferred {
            outbox_id,
            message_id: message_id.into(),
            article_id,
            what: "auto_reply on ticket 2026120110000017".into(),
        }
    }

    /// The mail of every row, as the sender claims it.
    fn mails(c: &Db) -> HashMap<i64, String> {
        let now = crate::store::now_unix();
        outbox::claim(c, "test", now, now + 60, 1_000)
            .unwrap()
            .into_iter()
            .map(|m| (m.id, String::from_utf8(m.raw).unwrap()))
            .collect()
    }

    /// A parser thread in a batch, and a store whose rows belong to no
    /// ticket.
    fn started() -> (Pool, tempfile::TempDir, Store) {
        let config = Arc::new(crate::process::decide::tests::config());
        let pool = Pool::with_threads(&config, 1).expect("a parser thread starts");
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::outbox::tests::with_rows(&dir.path().join("t.db"), 0);
        drop(pool.batch(&[], &[]));
        (pool, dir, store)
    }

    #[test]
    fn a_rolled_back_messages_mail_never_fills_the_row_that_took_its_place() {
        let (pool, _dir, mut store) = started();
        let c = store.conn();
        let mut making = Making::default();
        // The same mail twice in a batch: the first is rolled back after
        // its auto-reply was asked for, and the second gets its row id
        // and Message-ID back.
        let first = pool.make(compose("first@example.com"));
        making.current.push((first, deferred(0, 0, "<m@t>")));
        making.message_done(false);
        let (article, row) = rows(c, "<m@t>");
        let second = pool.make(compose("second@example.com"));
        making
            .current
            .push((second, deferred(article, row, "<m@t>")));
        making.message_done(true);
        write_made(c, &pool, making).unwrap();
        let mail = &mails(c)[&row];
        assert!(mail.contains("To: second@example.com"), "{mail}");
        // The first one's, made too, was dropped: nothing waits for it.
        assert!(pool.made(false).is_none());
    }

    #[test]
    fn a_batch_never_holds_more_than_max_waiting_mails_and_every_row_gets_its_own() {
        let (pool, _dir, mut store) = started();
        let c = store.conn();
        let mut making = Making::default();
        let n = MAX_WAITING * 3;
        let mut made = Vec::new();
        for i in 0..n {
            let message_id = format!("<{i}@t>");
            let (article, row) = rows(c, &message_id);
            let seq = pool.make(compose(&format!("c{i}@example.com")));
            making
                .current
                .push((seq, deferred(article, row, &message_id)));
            making.message_done(true);
            write_ready(c, &pool, &mut making).unwrap();
            assert!(
                making.waiting.len() <= MAX_WAITING,
                "{}",
                making.waiting.len()
            );
            made.push(row);
        }
        write_made(c, &pool, making).unwrap();
        let mails = mails(c);
        for (i, row) in made.into_iter().enumerate() {
            let mail = &mails[&row];
            assert!(mail.contains(&format!("To: c{i}@example.com")), "{mail}");
        }
    }
}
