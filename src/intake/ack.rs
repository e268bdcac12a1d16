//! Acknowledging committed mail in IMAP: flag it, move it (UID MOVE, or
//! COPY + delete where MOVE is missing) or delete it, as the mailbox's
//! `after` says, with UID sets kept compact.

use futures::TryStreamExt;

use super::mailbox::{timed, Caps};
use super::Session;
use crate::config::{AfterAction, Mailbox};

pub(super) async fn store_flags(s: &mut Session, uids: &[u32], what: &str) -> anyhow::Result<()> {
    let _: Vec<_> = timed(&format!("UID STORE {what}"), async {
        s.uid_store(uid_set(uids), what).await?.try_collect().await
    })
    .await?;
    Ok(())
}

async fn expunge(s: &mut Session, caps: &Caps, uids: &[u32]) -> anyhow::Result<()> {
    if caps.uidplus {
        let _: Vec<_> = timed("UID EXPUNGE", async {
            s.uid_expunge(uid_set(uids)).await?.try_collect().await
        })
        .await?;
    } else {
        let _: Vec<_> = timed("EXPUNGE", async { s.expunge().await?.try_collect().await }).await?;
    }
    Ok(())
}

pub(super) async fn acknowledge(
    s: &mut Session,
    cfg: &Mailbox,
    caps: &Caps,
    uids: &[u32],
) -> anyhow::Result<()> {
    match cfg.after {
        AfterAction::Flag => {
            let flags = cfg.flags.join(" ");
            store_flags(s, uids, &format!("+FLAGS.SILENT ({flags})")).await
        }
        AfterAction::Delete => {
            store_flags(s, uids, "+FLAGS.SILENT (\\Deleted)").await?;
            expunge(s, caps, uids).await
        }
        AfterAction::Move => {
            // Checked at config load: move_to is set for "move".
            let target = cfg.move_to.as_deref().unwrap_or("Processed");
            if caps.mv {
                timed(
                    &format!("UID MOVE to {target:?}"),
                    s.uid_mv(uid_set(uids), target),
                )
                .await
            } else {
                timed(
                    &format!("UID COPY to {target:?}"),
                    s.uid_copy(uid_set(uids), target),
                )
                .await?;
                store_flags(s, uids, "+FLAGS.SILENT (\\Deleted)").await?;
                expunge(s, caps, uids).await
            }
        }
    }
}

/// `[1,2,3,5,7,8]` → `1:3,5,7:8` (input sorted).
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn sets() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }
}
