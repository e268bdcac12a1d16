//! Fetching from IMAP: sizes, then bodies. A batch is fetched with one
//! `UID FETCH`; when the server refuses it (NO/BAD, an unparsable answer),
//! each message is fetched alone, and one the server will not hand over
//! is quarantined without a copy, so it cannot block the mailbox.
//!
//! A connection that fails (I/O error, connection lost, no answer in
//! time) is not the message's fault: the session ends and the batch is
//! fetched again after reconnecting, one message at a time, so that a
//! message that really kills the connection is found. Only a message whose
//! fetch alone failed the connection [`MAX_STRIKES`] times is quarantined.

use std::collections::{HashMap, HashSet};

use futures::TryStreamExt;

use super::ack::uid_set;
use super::mailbox::timed;
use super::Session;

/// Connection failures while fetching one message alone before it is
/// quarantined (left in the mailbox, listed for the operator).
pub const MAX_STRIKES: u32 = 3;

/// What earlier sessions of a mailbox learnt about failing fetches; kept
/// by the mailbox's task across reconnects.
#[derive(Debug, Default)]
pub(super) struct Strikes {
    /// The folder's UIDVALIDITY these UIDs belong to.
    uid_validity: u32,
    /// A batch up to this UID failed the connection: fetch one at a time.
    isolate_through: u32,
    /// Connection failures while fetching each UID alone.
    per_uid: HashMap<u32, u32>,
    /// UIDs given up on: quarantined without fetching them again.
    given_up: HashSet<u32>,
}

impl Strikes {
    /// Forget what belonged to another UIDVALIDITY.
    pub(super) fn for_folder(&mut self, uid_validity: u32) {
        if self.uid_validity != uid_validity {
            *self = Strikes {
                uid_validity,
                ..Strikes::default()
            };
        }
    }
}

/// RFC822.SIZE of each of `uids` still in the folder.
pub(super) async fn fetch_sizes(
    s: &mut Session,
    uids: &[u32],
) -> anyhow::Result<HashMap<u32, u64>> {
    timed("UID FETCH sizes", async {
        s.uid_fetch(uid_set(uids), "(UID RFC822.SIZE)")
            .await?
            .try_filter_map(|f| async move { Ok(f.uid.map(|u| (u, f.size.unwrap_or(0) as u64))) })
            .try_collect()
            .await
    })
    .await
}

/// `UID FETCH set (UID BODY.PEEK[])`: (UID, body) of every response with both.
async fn fetch_raw(s: &mut Session, set: &str) -> anyhow::Result<Vec<(u32, Vec<u8>)>> {
    timed("UID FETCH bodies", async {
        // Each body copied out as its response arrives: the responses'
        // read buffers (about the batch's size again) are freed one by one
        // instead of all held until the last has come.
        s.uid_fetch(set, "(UID BODY.PEEK[])")
            .await?
            .try_filter_map(|f| async move {
                Ok(match (f.uid, f.body()) {
                    (Some(uid), Some(body)) => Some((uid, body.to_vec())),
                    _ => None,
                })
            })
            .try_collect::<Vec<_>>()
            .await
    })
    .await
}

/// The server answered, and refused or garbled this request: the session
/// is still usable and the trouble belongs to what was asked for.
/// Anything else (I/O, a lost connection, no answer in time) is the
/// connection's.
pub(super) fn refused_by_server(e: &anyhow::Error) -> bool {
    use async_imap::error::Error;
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<Error>(),
            Some(Error::No(_) | Error::Bad(_) | Error::Parse(_))
        )
    })
}

/// Bodies of `uids`; a UID whose body the server will not give is mapped
/// to an error text, so one bad message cannot block the mailbox. An error
/// means the connection failed: the caller ends the session.
pub(super) async fn fetch_bodies(
    s: &mut Session,
    uids: &[u32],
    strikes: &mut Strikes,
) -> anyhow::Result<HashMap<u32, Result<Vec<u8>, String>>> {
    let mut out = HashMap::new();
    let mut wanted = Vec::with_capacity(uids.len());
    for &uid in uids {
        if strikes.given_up.remove(&uid) {
            out.insert(
                uid,
                Err(format!(
                    "fetching this message failed the IMAP connection {MAX_STRIKES} times"
                )),
            );
        } else {
            wanted.push(uid);
        }
    }
    if wanted.is_empty() {
        return Ok(out);
    }
    let isolate = wanted.len() > 1 && wanted[0] <= strikes.isolate_through;
    if !isolate {
        match fetch_raw(s, &uid_set(&wanted)).await {
            Ok(fetched) => {
                out.extend(fetched.into_iter().map(|(uid, body)| (uid, Ok(body))));
                return Ok(out);
            }
            Err(e) if wanted.len() > 1 && refused_by_server(&e) => {
                tracing::warn!("{e:#}; fetching one message at a time");
            }
            Err(e) if wanted.len() > 1 => {
                strikes.isolate_through = wanted[wanted.len() - 1];
                return Err(e.context(
                    "the connection failed while fetching a batch; it is fetched again one message at a time",
                ));
            }
            Err(e) => return single_failed(wanted[0], e, strikes, &mut out).map(|()| out),
        }
    }
    for &uid in &wanted {
        match fetch_raw(s, &uid.to_string()).await {
            Ok(fetched) => {
                strikes.per_uid.remove(&uid);
                if let Some((_, body)) = fetched.into_iter().find(|(u, _)| *u == uid) {
                    out.insert(uid, Ok(body));
                }
            }
            Err(e) => single_failed(uid, e, strikes, &mut out)?,
        }
    }
    Ok(out)
}

/// One message fetched alone failed: the server's refusal is the
/// message's (quarantined), a failed connection counts a strike and ends
/// the session.
fn single_failed(
    uid: u32,
    e: anyhow::Error,
    strikes: &mut Strikes,
    out: &mut HashMap<u32, Result<Vec<u8>, String>>,
) -> anyhow::Result<()> {
    if refused_by_server(&e) {
        out.insert(
            uid,
            Err(format!("the server would not hand the message over: {e:#}")),
        );
        return Ok(());
    }
    let n = strikes.per_uid.entry(uid).or_default();
    *n += 1;
    let n = *n;
    if n >= MAX_STRIKES {
        strikes.per_uid.remove(&uid);
        strikes.given_up.insert(uid);
    }
    Err(e.context(format!(
        "fetching UID {uid} alone failed the connection ({n} of {MAX_STRIKES} before it is quarantined)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_refusals_are_the_message_s_and_the_rest_the_connection_s() {
        use async_imap::error::Error;
        let no = anyhow::Error::new(Error::No("broken message".into())).context("UID FETCH");
        assert!(refused_by_server(&no));
        let lost = anyhow::Error::new(Error::ConnectionLost).context("UID FETCH");
        assert!(!refused_by_server(&lost));
        let io = anyhow::Error::new(Error::Io(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe,
        )));
        assert!(!refused_by_server(&io));
        assert!(!refused_by_server(&anyhow::anyhow!("no answer in 120s")));
    }

    #[test]
    fn a_message_that_keeps_failing_the_connection_is_given_up_after_its_strikes() {
        let mut strikes = Strikes::default();
        strikes.for_folder(7);
        let mut out = HashMap::new();
        for n in 1..=MAX_STRIKES {
            let lost = anyhow::Error::new(async_imap::error::Error::ConnectionLost);
            let e = single_failed(42, lost, &mut strikes, &mut out).unwrap_err();
            assert!(format!("{e:#}").contains(&format!("({n} of {MAX_STRIKES}")));
        }
        assert!(out.is_empty());
        assert!(strikes.given_up.contains(&42));
        // Another folder generation forgets it.
        strikes.for_folder(8);
        assert!(strikes.given_up.is_empty());
    }
}
