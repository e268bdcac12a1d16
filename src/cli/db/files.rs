//! Attachment files for `db backup` and `db restore`: copied by content
//! address, verified against it on the way, written beside and renamed
//! into place, and flushed to disk before the command reports success.

use std::io::Write as _;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use postdesk::store::maintenance::{AttachmentFile, FileProblem};

/// Copy each of `files` from under `from` to the same relative path under
/// `to` (a file already there with the right content is left alone).
/// Returns the number of bytes copied and the files that could not be.
pub fn copy_all(
    files: &[AttachmentFile],
    from: &Path,
    to: &Path,
    progress: &mut super::Progress,
) -> anyhow::Result<(u64, Vec<FileProblem>)> {
    let mut bytes = 0;
    let mut problems = Vec::new();
    for (i, f) in files.iter().enumerate() {
        progress.show(i + 1, files.len());
        let dst = to.join(&f.path);
        if dst.exists() && postdesk::store::maintenance::check_attachment(to, f).is_none() {
            continue;
        }
        let src = from.join(&f.path);
        let content = match std::fs::read(&src) {
            Ok(c) => c,
            Err(e) => {
                problems.push(FileProblem {
                    path: src.display().to_string(),
                    problem: if e.kind() == std::io::ErrorKind::NotFound {
                        "missing"
                    } else {
                        "unreadable"
                    },
                    detail: e.to_string(),
                });
                continue;
            }
        };
        let sha = hex::encode(Sha256::digest(&content));
        if !sha.eq_ignore_ascii_case(&f.sha256) {
            problems.push(FileProblem {
                path: src.display().to_string(),
                problem: "corrupt",
                detail: format!("content has SHA-256 {sha}, expected {}", f.sha256),
            });
            continue;
        }
        write_beside(&dst, &content)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", dst.display()))?;
        bytes += content.len() as u64;
    }
    progress.done();
    if !files.is_empty() {
        sync_filesystem(to).map_err(|e| anyhow::anyhow!("flushing {}: {e}", to.display()))?;
    }
    Ok((bytes, problems))
}

/// Write to a temporary name in the same folder, then rename.
fn write_beside(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-restore-{}", std::process::id()));
    std::fs::File::create(&tmp)?.write_all(content)?;
    std::fs::rename(&tmp, path)
}

/// Flush the file system holding `dir` (files and renames) in one call.
pub fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(dir)?;
    let f = std::fs::File::open(dir)?;
    // SAFETY: `f` is an open file descriptor for the whole call; syncfs
    // only reads it.
    if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
